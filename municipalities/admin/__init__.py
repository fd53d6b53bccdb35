"""Admin of the core app, one module per topic; importing the package registers them all."""

from django.contrib import admin
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice

from municipalities.admin import households, logs, payments, residents, staff, tenants
from municipalities.scoping import DepartmentScopedAdmin, ReadOnlyAdminMixin

__all__ = [
    "DepartmentScopedAdmin",
    "ReadOnlyAdminMixin",
    "households",
    "logs",
    "payments",
    "residents",
    "staff",
    "tenants",
]

# Role groups are kept in sync with the rules in permissions.py; nobody edits them by hand.
admin.site.unregister(Group)
# TOTP devices are enrolled by each staff member (two_factor) and reset with an action on the
# staff list; django-otp's own admin would show every device's secret key.
admin.site.unregister(TOTPDevice)
