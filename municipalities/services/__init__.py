"""Writes of the core app, by topic (STYLE R15), re-exported here: municipalities and departments,
staff accounts and roles, residents, payments, and the generic admin writes.

Callers import from ``municipalities.services``; ``municipalities.scoping`` calls the admin writes
through this package (``services.admin_object_save``), so a test patches them here.
"""

from municipalities.services.admin_objects import admin_object_delete, admin_object_save, require_formset_rows
from municipalities.services.households import (
    HouseholdMemberError,
    household_member_remove,
    household_member_save,
    household_members_for_resident,
)
from municipalities.services.municipality import (
    MUNICIPALITY_UPDATABLE_FIELDS,
    department_create,
    municipality_create_or_update,
    municipality_update,
)
from municipalities.services.payments import (
    PaymentError,
    payment_checkout_url,
    payment_open,
    payment_record_at_counter,
    payment_record_callback,
    payment_refund,
    payments_cancel_pending,
)
from municipalities.services.residents import (
    resident_follow,
    resident_simulated_create,
    resident_unfollow,
    resident_update_preferences,
)
from municipalities.services.staff import (
    refuse_operator_target,
    staff_role_grant,
    staff_role_revoke,
    staff_user_assign_municipality,
    staff_user_save,
    staff_user_set_password,
    staff_user_unlock,
)

__all__ = [
    "MUNICIPALITY_UPDATABLE_FIELDS",
    "HouseholdMemberError",
    "PaymentError",
    "admin_object_delete",
    "admin_object_save",
    "department_create",
    "household_member_remove",
    "household_member_save",
    "household_members_for_resident",
    "municipality_create_or_update",
    "municipality_update",
    "payment_checkout_url",
    "payment_open",
    "payment_record_at_counter",
    "payment_record_callback",
    "payment_refund",
    "payments_cancel_pending",
    "refuse_operator_target",
    "require_formset_rows",
    "resident_follow",
    "resident_simulated_create",
    "resident_unfollow",
    "resident_update_preferences",
    "staff_role_grant",
    "staff_role_revoke",
    "staff_user_assign_municipality",
    "staff_user_save",
    "staff_user_set_password",
    "staff_user_unlock",
]
