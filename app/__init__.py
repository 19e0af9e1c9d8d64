"""Orderly: customer orders and order exceptions run as BPMN processes."""

import os

from flask import Flask

from config import Config


def _sqlite_pragmas(dbapi_connection, _record):
    # WAL lets readers go on while one writer works; the busy timeout makes writers queue, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        from config import stored_secret_key

        app.config["SECRET_KEY"] = stored_secret_key()

    from sqlalchemy import event

    from app import models  # noqa: F401 - every model registered before the engine is used
    from app.extensions import csrf, db, limiter, login, migrate
    from app.operations import OPERATIONS

    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(uri.removeprefix("sqlite:///")) or ".", exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"))
    login.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    from app import i18n

    i18n.init_app(app)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)

    from app import workflow

    workflow.init_app(app, OPERATIONS)

    from app.web import register

    register(app)

    from app import api

    api.init_app(app)

    from app.cli import register_commands

    register_commands(app)

    if app.config["SCHEDULER_ENABLED"]:
        from app.scheduler import start_background

        start_background(app)
    return app
