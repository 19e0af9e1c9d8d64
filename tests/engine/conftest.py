import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    """Every engine test runs on the embedded SQLite and on PostgreSQL."""
    return request.param
