"""Creating and finding users."""

from sqlalchemy import select

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


def find_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))
