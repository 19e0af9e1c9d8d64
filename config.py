"""The one configuration of Orderly, read from environment variables with working defaults."""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    # A random key per process is safe but logs everyone out on restart; deployments set SECRET_KEY.
    SECRET_KEY = os.environ.get("SECRET_KEY") or secrets.token_hex(32)
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
    MAX_BPMN_BYTES = int(os.environ.get("ORDERLY_MAX_BPMN_BYTES", str(2 * 1024 * 1024)))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
