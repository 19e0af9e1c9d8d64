"""Creating and finding users."""

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.models import User, UserRole
from app.accounts.roles import ALL
from app.extensions import db


def create_user(username: str, name: str, password: str, roles: list[str]) -> User:
    unknown = set(roles) - set(ALL)
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    user = User(username=username, name=name)
    user.set_password(password)
    user.role_rows = [UserRole(role=role) for role in roles]
    db.session.add(user)
    db.session.flush()
    return user


# Checked when the username is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def authenticate(username: str, password: str) -> User | None:
    user = find_by_username(username)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


def find_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def set_locale(user: User, locale: str) -> None:
    """The language the user reads the interface in (a code of app.i18n.LANGUAGES, checked by the caller)."""
    user.locale = locale


class AccountError(ValueError):
    pass


def set_team_lead(user: User, role: str, lead: bool = True) -> None:
    """Make the user the lead of one of their teams (or no longer): leads hear of that team's breaches."""
    row = next((r for r in user.role_rows if r.role == role), None)
    if row is None:
        raise AccountError(f"{user.username} is not in the {role} team")
    row.lead = lead


def set_email(user: User, address: str) -> None:
    """Where escalation notices reach the user ("" for none)."""
    address = address.strip()
    if address and ("@" not in address or len(address) > 200 or any(c.isspace() for c in address)):
        raise AccountError(f"'{address}' is not an e-mail address")
    user.email = address
