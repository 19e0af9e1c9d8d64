"""Imports every model so that Alembic and create_all() see the whole schema."""

from app.accounts.models import User, UserRole  # noqa: F401
from app.orders.models import Order  # noqa: F401
from app.workflow.models import HumanTask, InstanceEvent, ProcessDefinition, ProcessInstance, Wakeup  # noqa: F401
