import threading

import pytest
from werkzeug.serving import make_server

from app import clock, create_app
from app.extensions import db
from tests.support import PostgresSchema, postgres_problem, simple_order, unavailable


def _url_for(backend: str, tmp_path):
    if backend == "sqlite":
        return None, f"sqlite:///{tmp_path / 'orderly.sqlite'}"
    problem = postgres_problem()
    if problem:
        unavailable(problem)
    schema = PostgresSchema()
    return schema, schema.__enter__()


@pytest.fixture
def backend() -> str:
    """The database the test runs on. tests/engine/ runs every test on both."""
    return "sqlite"


@pytest.fixture
def database_url(backend, tmp_path):
    schema, url = _url_for(backend, tmp_path)
    yield url
    if schema is not None:
        schema.__exit__(None, None, None)


@pytest.fixture
def app_config() -> dict:
    """What a test module changes in the test app's configuration (override this fixture)."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, app_config):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SCHEDULER_ENABLED": False,
        # Tests replay requests faster than any client would; tests/test_rate_limits.py turns limits on.
        "RATELIMIT_ENABLED": False,
    } | app_config)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An application context for calling services directly."""
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(autouse=True)
def _real_clock():
    yield
    clock.unfreeze()


@pytest.fixture
def deployed(ctx):
    """The shipped workflows/ deployed."""
    from app.workflow.deployment import deploy_directory

    return {d.key: d for d in deploy_directory(ctx.config["WORKFLOWS_DIR"])}


@pytest.fixture
def make_user(ctx):
    from app.accounts.service import create_user

    def make(username: str, *roles: str, password: str = "secret-pass"):
        user = create_user(username, username.title(), password, list(roles))
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_order(ctx):
    def make(customer: str = "ACME Ltd", channel: str = "web", total: str = "100.00"):
        order = simple_order(customer, channel, total)
        db.session.commit()
        return order

    return make


@pytest.fixture
def live_server(app):
    """The app served over real HTTP by a threaded werkzeug server on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
