from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CmsAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "municipalities.admin_site.CmsAdminSite"


class AxesConfig(AxesAppConfig):
    """django-axes with a Japanese name in the admin menu (its models are named in locale/ja)."""

    default = False
    verbose_name = _("ログイン制限（システム運用者）")


def _sync_role_groups(sender: AppConfig, **kwargs: object) -> None:
    # permissions imports the models, which are not loaded yet when Django imports apps.py
    from municipalities.permissions import PROJECT_APPS, sync_role_groups

    # Permissions of app X are created by auth's handler for sender X (connected earlier), so
    # syncing after each project app leaves every model's permissions in the right groups.
    if sender.label in PROJECT_APPS:
        sync_role_groups()


class MunicipalitiesConfig(AppConfig):
    default = True
    name = "municipalities"
    verbose_name = _("自治体・職員・住民")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from municipalities import checks  # noqa: F401 - registers the system checks

        post_migrate.connect(_sync_role_groups, dispatch_uid="municipalities.sync_role_groups")
