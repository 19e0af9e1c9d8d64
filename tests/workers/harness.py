"""How the multi-process tests launch the worker scripts beside this file and hear from them.

Every wait here is bounded: a worker that hangs or dies fails the test instead of blocking CI.
"""

import json
import os
import select
import subprocess
import sys
from pathlib import Path
from time import monotonic

import pytest

from tests.support import ROOT

WORKERS = Path(__file__).resolve().parent
TIMEOUT = 60  # seconds any one wait on a worker may take


def env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker process: this checkout, the test's database, no background scheduler."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "ORDERLY_SCHEDULER": "0",
        **extra,
    }


def run(script: str, *args: str, database_url: str) -> dict:
    """Run a worker to its end and return the JSON object it printed last."""
    done = subprocess.run(
        [sys.executable, str(WORKERS / script), *args],
        cwd=ROOT, env=env(database_url), capture_output=True, text=True, timeout=TIMEOUT,
    )
    if done.returncode != 0:
        pytest.fail(f"{script} {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def read_line(fd: int, process: subprocess.Popen, what: str, timeout: float = TIMEOUT) -> bytes:
    """One line from a pipe a worker writes to, waiting at most `timeout` seconds for it."""
    line = b""
    deadline = monotonic() + timeout
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(deadline - monotonic(), 0))
        if not ready:
            pytest.fail(f"no {what} within {timeout}s (worker running: {process.poll() is None})")
        chunk = os.read(fd, 4096)
        if not chunk:
            pytest.fail(f"the worker closed its pipe before {what} (exit code {process.wait(TIMEOUT)})")
        line += chunk
    return line
