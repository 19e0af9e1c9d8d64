"""The one configuration of Orderly, read from environment variables with working defaults."""

import contextlib
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def stored_secret_key() -> str:
    """A key generated once and kept in instance/secret_key, for when SECRET_KEY is not set: sessions
    survive restarts and every worker process on this machine signs with the same key."""
    path = BASE_DIR / "instance" / "secret_key"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        with contextlib.suppress(FileExistsError), os.fdopen(
            os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w"
        ) as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")  # None: create_app uses stored_secret_key()
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'orderly.sqlite'}"
    )
    WORKFLOWS_DIR = os.environ.get("ORDERLY_WORKFLOWS_DIR", str(BASE_DIR / "workflows"))
    FORMS_DIR = os.environ.get("ORDERLY_FORMS_DIR", str(BASE_DIR / "forms"))
    # The embedded default runs the timer scheduler inside the web process; deployments with
    # several web nodes turn it off and run `flask scheduler` instead.
    SCHEDULER_ENABLED = _flag("ORDERLY_SCHEDULER", False)
    SCHEDULER_INTERVAL_SECONDS = float(os.environ.get("ORDERLY_SCHEDULER_INTERVAL", "0.5"))
    # How long a claimed wake-up stays with one scheduler before another may take it over.
    WAKEUP_CLAIM_SECONDS = int(os.environ.get("ORDERLY_WAKEUP_CLAIM_SECONDS", "60"))
    # Where staff reach this installation: links in escalation notices start with it.
    PUBLIC_URL = os.environ.get("ORDERLY_PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")
    MAX_BPMN_BYTES = int(os.environ.get("ORDERLY_MAX_BPMN_BYTES", str(2 * 1024 * 1024)))
    # A draft test runs in a child process killed after this long (a script may loop for ever).
    DRAFT_TEST_SECONDS = float(os.environ.get("ORDERLY_DRAFT_TEST_SECONDS", "10"))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
