"""Settings of the municipal LINE CMS.

This module is the only reader of the environment (django-environ). Everything else reads
``django.conf.settings``. Capabilities are derived here once as named booleans and the code
branches on those. Every variable is listed, with a comment, in ``.env.example``.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

# --- Core -----------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable "
            "(a long random string) or run with DEBUG=true for local development."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Public base URL (scheme + host) used in links sent to residents through LINE, where no
# request is at hand (Celery tasks). Empty: links are built from the incoming request.
SITE_URL = env("SITE_URL", default="").rstrip("/")

# Outgoing mail (staff notices such as a resident asking for a person). The console backend
# writes mails to the log; production sets the SMTP backend and its host.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="webmaster@localhost")

INSTALLED_APPS = [
    "municipalities.apps.CmsAdminConfig",  # replaces django.contrib.admin
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "municipalities.apps.AxesConfig",  # django-axes, named in Japanese
    "import_export",
    # Project apps. `municipalities` is the core; feature apps import it, never each other.
    "municipalities",
    "broadcasts",
    "reservations",
    "applications",
    "chatbot",
    "richmenus",
    "facilities",
    "reports",  # after the feature apps: its rollups read the providers they register
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Two-factor for every staff-only URL (admin, simulator): needs OTPMiddleware's is_verified.
    "municipalities.two_factor.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout response.
    "axes.middleware.AxesMiddleware",
]
# Resident pages (/liff/, /r/: config.stacks) run the same stack less what only staff use: staff
# sign-in and its two-factor and lockout, and the static files (served under /static/ only).
STAFF_ONLY_MIDDLEWARE = {
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "municipalities.two_factor.middleware.TwoFactorMiddleware",
    "axes.middleware.AxesMiddleware",
}
RESIDENT_MIDDLEWARE = [name for name in MIDDLEWARE if name not in STAFF_ONLY_MIDDLEWARE]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database, cache, Celery ----------------------------------------------------------------

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo serves several threads; wait for the write lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
USES_POSTGRESQL = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
HAS_REDIS = bool(REDIS_URL)

if HAS_REDIS:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="cms"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not HAS_REDIS)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
if CELERY_BROKER_URL.startswith("redis://"):  # kombu's, with one client for its publishes
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# A task is acknowledged after it ran; a worker killed half way gets it redelivered.
# Every task is idempotent (see STYLE R10), so running twice is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "Asia/Tokyo"
# Work a worker has claimed (a reminder being sent, a slot import being checked …) whose worker
# has not heartbeaten for this long lost its worker and is offered again (municipalities/claims.py).
# Keep it longer than one LINE call (LINE_API_TIMEOUT_SECONDS plus the rate limiter's 10 s wait):
# a re-offer of work still running costs a 409 from LINE (same retry key), never a duplicate.
CLAIM_STALE_AFTER_SECONDS = env.float("CLAIM_STALE_AFTER_SECONDS", default=60.0)

# --- Payments (municipalities/payments) ----------------------------------------------------------

# Stripe's API host (no trailing slash); tests point it at a fake Stripe server on 127.0.0.1. Each
# town enters its own Stripe keys on its page; the sandbox gateway and the counter need nothing.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com").rstrip("/")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=20.0)

# --- LINE -----------------------------------------------------------------------------------

LINE_BACKEND = env("LINE_BACKEND", default="simulator")
if LINE_BACKEND not in {"simulator", "api"}:
    raise ImproperlyConfigured(f"LINE_BACKEND must be 'simulator' or 'api', not {LINE_BACKEND!r}.")
LINE_USES_SIMULATOR = LINE_BACKEND == "simulator"
LINE_API_BASE_URL = env("LINE_API_BASE_URL", default="https://api.line.me").rstrip("/")
LINE_API_TIMEOUT_SECONDS = env.float("LINE_API_TIMEOUT_SECONDS", default=10.0)
# How long a sign-in link the bot sends (towns without a LIFF app) can be opened, once.
RESIDENT_LINK_MAX_AGE_SECONDS = env.int("RESIDENT_LINK_MAX_AGE_SECONDS", default=30 * 60)
LINE_WEBHOOK_MAX_BODY_BYTES = 1024 * 1024
# On PostgreSQL the webhook may commit stored events without waiting for the WAL flush
# (synchronous_commit off for that one transaction): faster only where the flush is slow, and a
# crash of the database server itself can lose the last fraction of a second of acknowledged events.
LINE_WEBHOOK_ASYNC_COMMIT = env.bool("LINE_WEBHOOK_ASYNC_COMMIT", default=False)
# How many Celery workers may process one town's webhook events at once. Each resident's events
# keep to one lane (by their LINE user id), so a resident is still answered in order.
LINE_WEBHOOK_LANES = env.int("LINE_WEBHOOK_LANES", default=4)
# Requests per second per channel and endpoint (LINE's published limits); override for tests.
LINE_RATE_LIMITS = env.dict("LINE_RATE_LIMITS", cast={"value": int}, default={})

# --- Secrets at rest ------------------------------------------------------------------------

# Channel secrets and access tokens are encrypted with Fernet. Several comma-separated keys
# allow rotation: the first encrypts, all decrypt. In DEBUG a key is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set. Generate one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
        )
    FIELD_ENCRYPTION_KEYS = [base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()]

# --- Authentication -------------------------------------------------------------------------

AUTH_USER_MODEL = "municipalities.StaffUser"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "municipalities.auth.RoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)  # hours
# Lock a username per client address: staff of one town share one office address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
AXES_VERBOSE = False

OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="自治体LINE CMS")

# --- Internationalisation -------------------------------------------------------------------

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("日本語"))]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

# --- Static and uploaded files --------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
# Files residents upload with applications: never under MEDIA_URL, served only through
# permission-checked views (applications.storage).
PRIVATE_MEDIA_ROOT = Path(
    env("PRIVATE_MEDIA_ROOT", default=str(MEDIA_ROOT.with_name(MEDIA_ROOT.name + "-private")))
)
# Hashed, compressed static files (after `collectstatic`) in production; plain in DEBUG/tests.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- django-import-export -------------------------------------------------------------------

IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = True
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
# The project's admins export through municipalities.resources' formats (municipalities.files
# escapes =, +, -, @, tab, CR); this library switch only strips "=" and is the fallback.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
# The upload kept between preview and confirmation: random names bound to the session
# (municipalities.resources.ProjectImportExportMixin); in Redis in production.
IMPORT_EXPORT_TMP_STORAGE_CLASS = (
    "municipalities.resources.CacheImportStorage"
    if HAS_REDIS
    else "municipalities.resources.FolderImportStorage"
)

# --- Security -------------------------------------------------------------------------------

# Sessions are read from the cache (Redis) and written through to the database, so a busy
# resident page costs no session query and a Redis restart signs nobody out.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db" if HAS_REDIS else "django.contrib.sessions.backends.db"
)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content Security Policy. Everything is served from this site (vendored JS/CSS, no CDN);
# LIFF pages additionally load LINE's LIFF SDK.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "https://static.line-scdn.net"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "https:"],
        "connect-src": ["'self'", "https://api.line.me", "https://liffsdk.line-scdn.net"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- Logging --------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "not_a_conflict": {
            "()": "django.utils.log.CallbackFilter",
            "callback": "ext://config.log_filters.not_a_conflict",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}, "django.request": {"filters": ["not_a_conflict"]}},
}
