"""The SLA helpers diagrams call in timer expressions: `sla_warn('review_order')` gives the ISO time
the work is at risk, `sla_due('review_order')` when it is due and `sla_late('review_order')` when it
has been overdue for one more target, all counted in business time from now by the policy in force
now — so a policy changed later touches new work only. For exceptions:
`sla_due(exception_type, severity, 'exception')`, and `…, 'response')` for the first answer."""

from app.clock import now
from app.operations import operation
from app.sla import escalations, service


@operation
def sla_warn(key: str, severity: str = "", scope: str = "task", target: str = "resolution") -> str:
    return service.targets(scope, key, now(), severity, target).warn_at.isoformat()


@operation
def sla_due(key: str, severity: str = "", scope: str = "task", target: str = "resolution") -> str:
    return service.targets(scope, key, now(), severity, target).due_at.isoformat()


@operation
def sla_late(key: str, severity: str = "", scope: str = "task", target: str = "resolution") -> str:
    return service.targets(scope, key, now(), severity, target).late_at.isoformat()


@operation
def escalate(business_key: str, element_id: str, level: str, order_number: str = "") -> dict:
    """A boundary timer of a user task fired: record the escalation and raise the task's priority."""
    escalation = escalations.raise_escalation(business_key, element_id, level, order_number=order_number)
    return {"escalation": escalation.id, "level": escalation.level}
