"""Helpers shared by the tests: database back-ends, BPMN snippets, logging in."""

import os
import re
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
BPMN_DIR = Path(__file__).resolve().parent / "bpmn"
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("ORDERLY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def unavailable(reason: str):
    """Skip with a visible reason; under CI a missing service is a failure, never a skip."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


_postgres_checked: dict[str, str | None] = {}


def postgres_problem() -> str | None:
    if POSTGRES_URL not in _postgres_checked:
        try:
            engine = create_engine(POSTGRES_URL)
            with engine.connect() as connection:
                connection.execute(text("select 1"))
            engine.dispose()
            _postgres_checked[POSTGRES_URL] = None
        except Exception as error:  # any failure to connect means: no server here
            reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {error.__class__.__name__}"
            _postgres_checked[POSTGRES_URL] = reason
    return _postgres_checked[POSTGRES_URL]


class PostgresSchema:
    """A fresh schema per test: every connection of the URL it gives searches only that schema."""

    def __init__(self):
        self.name = f"t_{uuid.uuid4().hex[:16]}"
        self.admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> str:
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.name}"'))
        separator = "&" if "?" in POSTGRES_URL else "?"
        return f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={self.name}')}"

    def __exit__(self, *exc):
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


def bpmn(name: str) -> bytes:
    return (BPMN_DIR / name).read_bytes()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = "secret-pass") -> None:
    page = client.get("/login")
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 302, f"login as {username} failed"
