"""Environment defaults for the test suite, loaded before Django (``-p tests.env``).

The suite runs on PostgreSQL and Redis (as CI does) unless DATABASE_URL / REDIS_URL say
otherwise; ``DATABASE_URL=sqlite:///test.sqlite3`` runs it on SQLite, where the PostgreSQL-only
tests skip (and fail instead when CI=true).
"""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "mFNuh-W29Tzx4rKrhwBDUa-odTVUCVxc44XFW1E1BHo=")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("STATIC_MANIFEST", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/municipal_cms")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CACHE_KEY_PREFIX", f"test{os.getpid()}")
os.environ.setdefault("LINE_BACKEND", "simulator")
os.environ.setdefault("MEDIA_ROOT", f"/tmp/cms-test-media-{os.getpid()}")
# Playwright's sync API runs an event loop in the test thread; the ORM calls made from the
# same test (setting up data, asserting) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
