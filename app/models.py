"""Imports every model so that Alembic and create_all() see the whole schema."""

from app.accounts.models import User, UserRole  # noqa: F401
from app.api.models import ApiCall, ApiClient, IdempotencyRecord  # noqa: F401
from app.billing.models import CreditNote, DunningNotice, Invoice, Payment, Refund  # noqa: F401
from app.catalog.models import Product, StockMove  # noqa: F401
from app.customers.models import Customer  # noqa: F401
from app.exceptions.models import ExceptionCase, NonConformance  # noqa: F401
from app.fulfilment.models import CarrierEvent, Shipment, ShipmentLine  # noqa: F401
from app.modeler.models import ProcessDraft  # noqa: F401
from app.notifications.models import OutboxMessage  # noqa: F401
from app.numbering import NumberSequence  # noqa: F401
from app.orders.models import Order, OrderLine  # noqa: F401
from app.sla.models import Escalation, SlaCalendar, SlaPolicy  # noqa: F401
from app.workflow.models import HumanTask, InstanceEvent, ProcessDefinition, ProcessInstance, Wakeup  # noqa: F401
