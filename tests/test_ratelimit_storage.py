"""The default store of the rate limits' counts (orderly-memory://) counts like Flask-Limiter's memory
store but starts no thread on a hit, and still forgets expired counts, inline, at most once a second."""

import pickle
import threading

import pytest
from limits.storage import storage_from_string

from app.extensions import limiter
from app.ratelimit_storage import SWEEP_EVERY_SECONDS, SweptMemoryStorage


class FrozenMonotonic:
    """Stands in for the `time` module of app/ratelimit_storage.py, which times the sweeps."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True}


@pytest.fixture
def clock(monkeypatch):
    frozen = FrozenMonotonic()
    monkeypatch.setattr("app.ratelimit_storage.time", frozen)
    return frozen


@pytest.fixture
def storage(clock):
    made = storage_from_string("orderly-memory://")
    made.timer.join()  # the one MemoryStorage starts when it is made
    return made


def test_the_app_keeps_its_counts_in_the_swept_store_by_default(app):
    with app.app_context():
        assert isinstance(limiter.storage, SweptMemoryStorage)


def test_hits_are_counted_without_starting_a_thread(storage):
    first_timer = storage.timer
    threads = threading.active_count()

    for _ in range(50):
        storage.incr("client:1", 60)

    assert storage.get("client:1") == 50
    assert storage.timer is first_timer  # MemoryStorage would have started a new one on the first hit
    assert threading.active_count() == threads


def test_expired_counts_are_swept_on_a_hit_at_most_once_a_second(storage, clock):
    storage.incr("ended", 0)  # its window ends at once
    storage.incr("other", 60)
    assert "ended" in storage.storage  # the first hit swept, before "ended" was counted; none since

    clock.now += SWEEP_EVERY_SECONDS
    storage.incr("other", 60)

    assert "ended" not in storage.storage and "ended" not in storage.expirations
    assert storage.get("other") == 2


class RemovedMidSweep(dict):
    """Expiry times from which another request's read drops a key just after the sweep listed the keys."""

    def keys(self):
        listed = list(super().keys())
        self.pop(listed[0])
        return listed


def test_a_key_dropped_by_another_request_during_a_sweep_does_not_fail_the_hit(storage):
    storage.incr("ended", 0)
    storage.expirations = RemovedMidSweep(storage.expirations)
    storage.next_sweep = 0.0

    assert storage.incr("client:1", 60) == 1
    assert storage.get("client:1") == 1


def test_a_pickled_store_sweeps_again_where_it_is_loaded(storage, clock):
    storage.incr("client:1", 60)
    clock.now = 0.0  # another process: its monotonic clock started elsewhere

    loaded = pickle.loads(pickle.dumps(storage))  # noqa: S301 - bytes made on this very line
    loaded.incr("ended", 0)
    clock.now += SWEEP_EVERY_SECONDS
    loaded.incr("client:1", 60)

    assert loaded.get("client:1") == 2 and "ended" not in loaded.storage
