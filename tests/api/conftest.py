import threading

import pytest
from werkzeug.serving import make_server

from tests.api.shop import api, shop  # noqa: F401 - fixtures for every test of this package


@pytest.fixture
def live_server(app):
    """The app served over real HTTP by a threaded werkzeug server on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
