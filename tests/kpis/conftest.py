import pytest

from app import clock
from tests.kpis import dataset


@pytest.fixture
def march(ctx):
    """The fixed data set of tests/kpis/dataset.py, with the clock at 10 April 2026."""
    clock.freeze(dataset.NOW)
    dataset.build()
    return ctx
