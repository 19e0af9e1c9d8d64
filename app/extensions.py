"""Flask extensions, created unbound here and bound to the app in create_app()."""

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app import ratelimit_storage  # noqa: F401  registers the orderly-memory:// store before any limiter is bound

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Limits are declared where they apply (app/api/limits.py, the login view); storage and on/off come from
# the config (RATELIMIT_STORAGE_URI, RATELIMIT_ENABLED). Fixed windows: one counter per key and window.
limiter = Limiter(get_remote_address, strategy="fixed-window", key_prefix="orderly")


@limiter.request_filter
def _limits_off() -> bool:
    # Flask-Limiter keeps on/off on its one Limiter object; asking the app keeps it per app (tests run several).
    return not current_app.config["RATELIMIT_ENABLED"]
