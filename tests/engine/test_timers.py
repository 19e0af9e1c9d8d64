"""Timers: fired by the embedded scheduler on time, caught up on start-up, and under the injected
clock neither early nor late; the wake-up row always holds the next due time."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.scheduler import start_background
from app.workflow import runtime
from app.workflow.definitions import restore
from app.workflow.models import HumanTask, Wakeup
from app.workflow.timers import fire_due, timers_fired
from tests.engine import bpmn_factory as bf

WAIT_SECONDS = 15  # generous: a failure to fire is reported after this, success comes much sooner


def _reminder(key: str, duration: str) -> str:
    """A user task with a non-interrupting reminder on its boundary that sets `reminded`."""
    return bf.linear(key, bf.user("work"), extra=(
        bf.boundary_timer("remind", "work", f'"{duration}"'),
        bf.script("note_reminder", "reminded = True"),
        bf.end("reminder_sent"),
    ), extra_flows=(bf.flow("remind", "note_reminder"), bf.flow("note_reminder", "reminder_sent")))


class _Fired:
    """Collects timers_fired signals (sent from the scheduler's thread) until all expected arrived."""

    def __init__(self, expected: set[int]):
        self.expected = set(expected)
        self.seen: set[int] = set()
        self.done = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, sender, **_kwargs):
        with self._lock:
            self.seen.add(sender)
            if self.expected <= self.seen:
                self.done.set()


def _run_scheduler_until(app, fired: _Fired) -> None:
    db.session.commit()  # hold no transaction the scheduler's writes would wait for
    scheduler = None
    with timers_fired.connected_to(fired):
        try:
            scheduler = start_background(app)
            assert fired.done.wait(timeout=WAIT_SECONDS), f"fired {fired.seen}, expected {fired.expected}"
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=True)
    db.session.rollback()  # read what the scheduler committed, not an older snapshot


def _open_tasks(instance_id: int) -> list[HumanTask]:
    return list(db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
    ))


def _fired_event(instance_id: int):
    [event] = bf.events(instance_id, "timer_fired")
    return event, datetime.fromisoformat(event.detail["due"])


def test_boundary_timer_fires_on_time_under_the_embedded_scheduler(ctx):
    bf.deploy(_reminder("sb_reminder", "PT2S"))
    instance = runtime.start("sb_reminder", "SB-T1")
    due = db.session.get(Wakeup, instance.id).due_at
    fired = _Fired({instance.id})

    _run_scheduler_until(ctx, fired)

    event, recorded_due = _fired_event(instance.id)
    assert recorded_due == due
    lateness = (event.at - recorded_due).total_seconds()
    assert 0 <= lateness <= 2, f"fired {lateness:.3f} s after its due time"
    assert event.element_id == "remind" and event.actor == "scheduler"
    # Non-interrupting: the reminder path ran and the task is still there to do.
    instance = bf.reload(instance)
    assert instance.status == "running"
    assert [t.element_id for t in _open_tasks(instance.id)] == ["work"]
    assert restore(instance, None).get_tasks(spec_name="note_reminder")[0].data["reminded"] is True
    assert db.session.get(Wakeup, instance.id) is None  # nothing left to wake for


def test_timers_that_fell_due_while_down_fire_at_the_first_run(ctx):
    # Started an hour ago with nothing running since: every reminder is 59 minutes overdue.
    clock.freeze(datetime.now(UTC) - timedelta(hours=1))
    bf.deploy(_reminder("sb_overdue", "PT1M"))
    instances = [runtime.start("sb_overdue", f"SB-DOWN-{n}") for n in range(3)]
    clock.unfreeze()
    # The next run after the first would be an hour away: what fires within the wait fired at the first.
    ctx.config["SCHEDULER_INTERVAL_SECONDS"] = 3600
    fired = _Fired({i.id for i in instances})

    _run_scheduler_until(ctx, fired)

    for instance in instances:
        event, due = _fired_event(instance.id)
        assert timedelta(minutes=58) < event.at - due < timedelta(minutes=60)
        assert db.session.get(Wakeup, instance.id) is None


def _two_waits() -> str:
    return bf.linear("sb_waits", bf.timer("first_wait", '"PT1H"'), bf.script("between", "halfway = True"),
                     bf.timer("second_wait", '"PT30M"'), bf.script("after", "done = True"))


def test_duration_timer_fires_not_before_its_time_and_after_it(ctx):
    start = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    clock.freeze(start)
    bf.deploy(_two_waits())
    instance = runtime.start("sb_waits", "SB-CLOCK")
    assert bf.reload(instance).status == "waiting"
    wakeup = db.session.get(Wakeup, instance.id)
    assert wakeup.due_at == start + timedelta(hours=1)

    clock.advance(timedelta(minutes=59, seconds=59))
    assert fire_due() == 0
    clock.advance(timedelta(seconds=1))  # exactly due: the engine fires strictly after
    assert fire_due() == 0
    wakeup = db.session.get(Wakeup, bf.reload(instance).id)
    assert (wakeup.due_at, wakeup.claimed_by, wakeup.claimed_until) == (start + timedelta(hours=1), None, None)
    assert bf.events(instance.id, "timer_fired") == []

    clock.advance(timedelta(seconds=1))
    fired_at = clock.now()
    assert fire_due() == 1
    event, due = _fired_event(instance.id)
    assert (event.element_id, due, event.at) == ("first_wait", start + timedelta(hours=1), fired_at)
    # The row now holds the second timer, counted from when the first fired.
    db.session.expire_all()
    assert db.session.get(Wakeup, instance.id).due_at == fired_at + timedelta(minutes=30)
    assert bf.reload(instance).status == "waiting"

    clock.advance(timedelta(minutes=29))
    assert fire_due() == 0
    clock.advance(timedelta(minutes=2))
    assert fire_due() == 1
    assert bf.reload(instance).status == "completed"
    assert db.session.get(Wakeup, instance.id) is None  # nothing pending: no row
    data = bf.final_data(instance)
    assert data["halfway"] is True and data["done"] is True


def test_wakeup_row_follows_the_earliest_pending_timer(ctx):
    """A reminder that fires leaves the deadline pending on the same task: the row moves on to it,
    and goes when the task is done."""
    start = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    clock.freeze(start)
    bf.deploy(bf.linear("sb_two_deadlines", bf.user("work"), extra=(
        bf.boundary_timer("remind", "work", '"PT1H"'),
        bf.boundary_timer("deadline", "work", '"P1D"'),
        bf.end("reminded"), bf.end("overdue"),
    ), extra_flows=(bf.flow("remind", "reminded"), bf.flow("deadline", "overdue"))))
    instance = runtime.start("sb_two_deadlines", "SB-2D")
    assert db.session.get(Wakeup, instance.id).due_at == start + timedelta(hours=1)
    clock.advance(timedelta(hours=2))
    assert fire_due() == 1
    db.session.expire_all()
    assert db.session.get(Wakeup, instance.id).due_at == start + timedelta(days=1)

    [work] = _open_tasks(instance.id)
    runtime.complete_task(instance.id, work.spiff_task_id, {})
    db.session.expire_all()
    assert db.session.get(Wakeup, instance.id) is None
    assert bf.reload(instance).status == "completed"


@pytest.fixture(autouse=True)
def _no_scheduler_left(ctx):
    yield
    scheduler = ctx.extensions.pop("orderly.scheduler", None)
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=True)
