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
    # Customer messages go out through this SMTP server; without one they stay queued on the outbox page.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _flag("MAIL_USE_TLS", False)  # STARTTLS
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")  # credentials come from the environment only
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_FROM = os.environ.get("MAIL_FROM", "Orderly <orderly@localhost>")
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "10"))
    MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", "10"))
    # Retries wait 1, 2, 4 … minutes, at most an hour.
    MAIL_RETRY_SECONDS = int(os.environ.get("MAIL_RETRY_SECONDS", "60"))
    MAIL_RETRY_MAX_SECONDS = int(os.environ.get("MAIL_RETRY_MAX_SECONDS", "3600"))
    MAIL_SEND_INTERVAL = float(os.environ.get("MAIL_SEND_INTERVAL", "15"))
    MAX_BPMN_BYTES = int(os.environ.get("ORDERLY_MAX_BPMN_BYTES", str(2 * 1024 * 1024)))
    # A draft test runs in a child process killed after this long (a script may loop for ever).
    DRAFT_TEST_SECONDS = float(os.environ.get("ORDERLY_DRAFT_TEST_SECONDS", "10"))
    # The order desk's CSV import: one file at most this large, with at most this many rows.
    ORDER_IMPORT_MAX_BYTES = int(os.environ.get("ORDERLY_ORDER_IMPORT_MAX_BYTES", str(2 * 1024 * 1024)))
    ORDER_IMPORT_MAX_ROWS = int(os.environ.get("ORDERLY_ORDER_IMPORT_MAX_ROWS", "5000"))
    # Rate limits (Flask-Limiter). orderly-memory:// (app/ratelimit_storage.py) counts per process: with
    # several workers or hosts, point them all at one shared store (redis://host:6379) or each counts alone.
    RATELIMIT_ENABLED = _flag("ORDERLY_RATELIMIT", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "orderly-memory://")
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600 per minute")  # per API client, every call
    # Per address, answers 401 (unknown or revoked tokens): guessing tokens or a client left misconfigured.
    API_AUTH_FAILURE_RATE_LIMIT = os.environ.get("API_AUTH_FAILURE_RATE_LIMIT", "30 per minute")
    # How long the API keeps the answer to a POST sent with an Idempotency-Key, for its retries.
    API_IDEMPOTENCY_HOURS = int(os.environ.get("API_IDEMPOTENCY_HOURS", "24"))
    # A key whose first request has had no answer for this long belongs to a request that died (a
    # killed worker): a retry runs afresh. Far above any request's life (gunicorn's timeout: 30 s).
    API_IDEMPOTENCY_ABANDONED_MINUTES = int(os.environ.get("API_IDEMPOTENCY_ABANDONED_MINUTES", "10"))
    # Login attempts per username and per address; a successful login clears its username's count.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
    LOGIN_ADDRESS_RATE_LIMIT = os.environ.get("LOGIN_ADDRESS_RATE_LIMIT", "50 per minute")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
