"""FLASK_APP for `flask scheduler --drain` processes that must start draining together.

It is wsgi.py's app, handed to the command only when the test says go: the module reports "ready"
on the pipe in ORDERLY_TEST_READY_FD once the app is built, then waits for a byte on ORDERLY_TEST_GO_FD.
"""

import os

from wsgi import app

os.write(int(os.environ["ORDERLY_TEST_READY_FD"]), b"ready\n")
if os.read(int(os.environ["ORDERLY_TEST_GO_FD"]), 1) != b"g":
    raise SystemExit("the test never said go")

__all__ = ["app"]
