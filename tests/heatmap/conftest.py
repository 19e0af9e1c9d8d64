import pytest

from tests.heatmap import dataset


@pytest.fixture
def floor(ctx, deployed):
    """The orders of tests/heatmap/dataset.py, by letter; the clock frozen at dataset.NOW."""
    return dataset.build()
