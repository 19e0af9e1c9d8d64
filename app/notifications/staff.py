"""Messages to members of staff, kept in the same outbox as customer messages: today the notices
of an escalation, to the people its level reaches."""

from sqlalchemy import select

from app.accounts.models import User, UserRole
from app.accounts.roles import MANAGER
from app.extensions import db
from app.notifications.models import OutboxMessage
from app.sla.models import Escalation

# Who hears of an escalation, by level: the person whose task it is first, then their team lead,
# then the managers.
AUDIENCE = {
    "at_risk": ("assignee",),
    "breached": ("assignee", "lead"),
    "breached_long": ("assignee", "lead", "manager"),
}

TEMPLATES = {
    "at_risk": {
        "en": ("At risk: {what} on {key}", "{what} on {key} ({role}) is due at {due}. It is at risk of missing "
                                          "its target.\n\n{link}"),
        "zh": ("有超时风险：{key} 的 {what}", "{key} 的 {what}（{role}）将于 {due} 到期，有错过时限的风险。\n\n{link}"),
    },
    "breached": {
        "en": ("Overdue: {what} on {key}", "{what} on {key} ({role}, {assignee}) was due at {due} and is not "
                                          "done.\n\n{link}"),
        "zh": ("已超时：{key} 的 {what}",
               "{key} 的 {what}（{role}，{assignee}）应于 {due} 完成，至今未完成。\n\n{link}"),
    },
    "breached_long": {
        "en": ("Long overdue: {what} on {key}", "{what} on {key} ({role}, {assignee}) was due at {due} and has "
                                               "been overdue for longer than its whole target.\n\n{link}"),
        "zh": ("严重超时：{key} 的 {what}",
               "{key} 的 {what}（{role}，{assignee}）应于 {due} 完成，超时已超过一个完整时限。\n\n{link}"),
    },
}


def recipients(escalation: Escalation) -> list[User]:
    """The active users this escalation's level reaches, each once. Work nobody has taken yet goes
    to the team lead even when only the assignee would be told."""
    audience = AUDIENCE[escalation.level]
    found: dict[int, User] = {}
    assignee = db.session.scalar(select(User).where(User.username == escalation.assignee)) \
        if escalation.assignee else None
    if "assignee" in audience and assignee is not None:
        found[assignee.id] = assignee
    if "lead" in audience or assignee is None:
        for user in db.session.scalars(select(User).join(UserRole).where(
                UserRole.role == escalation.role, UserRole.lead.is_(True))):
            found.setdefault(user.id, user)
    if "manager" in audience:
        for user in db.session.scalars(select(User).join(UserRole).where(UserRole.role == MANAGER)):
            found.setdefault(user.id, user)
    return [user for user in found.values() if user.active]


def notify_escalation(escalation: Escalation, link: str) -> list[OutboxMessage]:
    """Queue one notice per recipient; the same escalation never notifies a person twice."""
    messages = []
    for user in recipients(escalation):
        key = f"escalation:{escalation.id}:{user.id}"
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        if message is None:
            locale = user.locale if user.locale in TEMPLATES[escalation.level] else "en"
            subject, body = TEMPLATES[escalation.level][locale]
            values = {"what": escalation.what, "key": escalation.business_key, "role": escalation.role or "-",
                      "assignee": escalation.assignee or "-", "link": link,
                      "due": escalation.due_at.strftime("%Y-%m-%d %H:%M UTC") if escalation.due_at else "-"}
            message = OutboxMessage(idempotency_key=key, user_id=user.id, kind=f"escalation_{escalation.level}",
                                    locale=locale, to_address=user.email, subject=subject.format(**values),
                                    body=body.format(**values))
            db.session.add(message)
        messages.append(message)
    db.session.flush()
    return messages
