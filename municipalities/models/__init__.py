"""The tenant, its channel, its staff and its residents.

Everything else in the project hangs off these: feature apps import this package, it never
imports them. One module per topic; every model is re-exported here, so callers (and migrations)
write ``from municipalities.models import Resident``. Each module imports the models it
refers to itself.
"""

from municipalities.models.audit import AuditEntry
from municipalities.models.base import DepartmentOwned, MunicipalityOwned, TimeStampedModel
from municipalities.models.channel import SimulatedDelivery, TalkMessage, WebhookEvent
from municipalities.models.households import HouseholdMember, Relationship
from municipalities.models.metrics import MetricEvent
from municipalities.models.payments import PAID_AFTER_CANCEL, Payment, PaymentMethod, PaymentStatus
from municipalities.models.residents import AgeBand, Area, Interest, Resident, ResidentLinkUse
from municipalities.models.simulated_richmenus import SimulatedRichMenu, SimulatedRichMenuLink
from municipalities.models.staff import Role, StaffRole, StaffUser, StaffUserManager
from municipalities.models.tenants import Department, Municipality

__all__ = [
    "AgeBand",
    "Area",
    "AuditEntry",
    "Department",
    "DepartmentOwned",
    "HouseholdMember",
    "Interest",
    "MetricEvent",
    "Municipality",
    "MunicipalityOwned",
    "Payment",
    "PaymentMethod",
    "PAID_AFTER_CANCEL",
    "PaymentStatus",
    "Relationship",
    "Resident",
    "ResidentLinkUse",
    "Role",
    "SimulatedDelivery",
    "SimulatedRichMenu",
    "SimulatedRichMenuLink",
    "StaffRole",
    "StaffUser",
    "StaffUserManager",
    "TalkMessage",
    "TimeStampedModel",
    "WebhookEvent",
]
