"""Many workers on one instance or one timer table at once: each change happens exactly once."""

import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from time import perf_counter

import pytest
from sqlalchemy import func, select

from app import clock, create_app
from app.extensions import db
from app.orders.models import Order
from app.workflow import Conflict, runtime
from app.workflow.deployment import deploy
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance, Wakeup
from tests.support import ROOT, bpmn
from tests.workers import harness

CLERKS = 20
TIMERS = 2_000
SCHEDULERS = ("scheduler-a", "scheduler-b")


def events_of(instance_id: int) -> list[InstanceEvent]:
    return list(db.session.scalars(
        select(InstanceEvent).where(InstanceEvent.instance_id == instance_id).order_by(InstanceEvent.id)
    ))


def test_twenty_clerks_complete_one_task_once(backend, deployed, make_order, database_url):
    order = make_order()
    instance = runtime.start("order_process", order.number, {"order_number": order.number})
    review = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).one()
    assert (instance.lock_version, review.element_id) == (1, "review_order")
    # A second app with a connection for every clerk, so none of them queues for the pool.
    race_app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SCHEDULER_ENABLED": False,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": CLERKS, "max_overflow": 0},
    })
    barrier = threading.Barrier(CLERKS, timeout=30)
    outcomes: dict[str, object] = {}

    def clerk(name: str) -> None:
        with race_app.app_context():  # its own session
            try:
                db.session.connection()  # connect before the start line
                barrier.wait()
                runtime.complete_task(instance.id, review.spiff_task_id, {"approved": True},
                                      actor=name, expected_version=1)
                outcomes[name] = "completed"
            except Exception as error:  # any outcome is recorded and judged below
                outcomes[name] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=clerk, args=(f"clerk-{n:02d}",)) for n in range(CLERKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with race_app.app_context():
        db.engine.dispose()
    assert not any(thread.is_alive() for thread in threads), "a clerk never finished"

    winners = [name for name, outcome in outcomes.items() if outcome == "completed"]
    losers = {name: outcome for name, outcome in outcomes.items() if outcome != "completed"}
    assert len(winners) == 1, outcomes
    assert len(losers) == CLERKS - 1
    for outcome in losers.values():
        assert isinstance(outcome, Conflict), repr(outcome)
        assert "changed by someone else" in str(outcome)

    db.session.expire_all()
    instance = db.session.get(ProcessInstance, instance.id)
    assert (instance.status, instance.lock_version) == ("running", 2)
    assert [e.kind for e in events_of(instance.id)] == ["started", "task_completed"]
    assert events_of(instance.id)[1].actor == winners[0]
    tasks = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).all()
    assert sorted((t.element_id, t.state, t.completed_by) for t in tasks) == [
        ("pick_goods", "open", None),
        ("review_order", "completed", winners[0]),
    ]
    assert db.session.get(Order, order.id).status == "in_fulfilment"
    pick = next(t for t in tasks if t.element_id == "pick_goods")
    assert db.session.get(Wakeup, instance.id).due_at == pick.at_risk_at  # the picking's SLA clock, set once


def _start_gated_scheduler(database_url: str, tmp_path, name: str) -> tuple[subprocess.Popen, int, int]:
    """`flask scheduler --drain` on wsgi.py's app, held back until a byte arrives on its go pipe."""
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    with open(tmp_path / f"{name}.stderr", "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "scheduler", "--drain"],
            cwd=ROOT,
            env=harness.env(database_url, FLASK_APP=str(harness.WORKERS / "gated_wsgi.py"),
                            ORDERLY_TEST_READY_FD=str(ready_write), ORDERLY_TEST_GO_FD=str(go_read)),
            pass_fds=(ready_write, go_read), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
        )
    os.close(ready_write)
    os.close(go_read)
    return process, ready_read, go_write


# Several scheduler processes are the PostgreSQL deployment (SKIP LOCKED claims); the embedded SQLite
# default runs one scheduler inside the web process, so this test runs on PostgreSQL only.
@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
@pytest.mark.slow
def test_two_scheduler_processes_fire_each_of_2000_timers_once(backend, ctx, database_url, tmp_path):
    deploy(bpmn("conc_due_timer.bpmn"), "conc_due_timer.bpmn")
    # Start every instance on a clock an hour back, so their timers are not yet due when they start
    # but have been due for a while on the schedulers' (real) clock.
    moment = clock.now()
    clock.freeze(moment - timedelta(hours=1))
    due_at = (moment - timedelta(minutes=5)).isoformat()
    began = perf_counter()
    ids = {runtime.start("conc_due_timer", f"DUE-{n:04d}", {"due_at": due_at}).id for n in range(TIMERS)}
    print(f"started {TIMERS} instances in {perf_counter() - began:.1f}s")
    clock.unfreeze()
    assert db.session.scalar(select(func.count()).select_from(Wakeup)) == TIMERS
    assert set(db.session.scalars(select(Wakeup.due_at).distinct())) == {moment - timedelta(minutes=5)}
    assert db.session.scalar(select(func.count()).select_from(ProcessInstance).where(
        ProcessInstance.status == "waiting")) == TIMERS
    db.session.commit()

    schedulers = []
    try:
        for name in SCHEDULERS:
            schedulers.append(_start_gated_scheduler(database_url, tmp_path, name))
        for process, ready, _go in schedulers:  # both apps built and waiting
            assert harness.read_line(ready, process, "ready from the scheduler") == b"ready\n"
        began = perf_counter()
        for _process, _ready, go in schedulers:
            os.write(go, b"g")
        outputs = [process.communicate(timeout=120)[0].decode() for process, _ready, _go in schedulers]
        print(f"drained in {perf_counter() - began:.1f}s")
    finally:
        for process, ready, go in schedulers:
            os.close(ready)
            os.close(go)
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=30)

    for (process, _ready, _go), name in zip(schedulers, SCHEDULERS, strict=True):
        errors = (tmp_path / f"{name}.stderr").read_text()
        assert process.returncode == 0 and "Traceback" not in errors, errors
    counts = [int(re.search(r"fired (\d+) timers", output).group(1)) for output in outputs]
    print(f"timers fired per scheduler process: {counts}")
    assert sum(counts) == TIMERS
    assert all(count > 0 for count in counts), "one scheduler did all the work: they did not run together"

    db.session.expire_all()
    fired = select(InstanceEvent.instance_id, InstanceEvent.spiff_task_id).where(InstanceEvent.kind == "timer_fired")
    assert db.session.scalar(select(func.count()).select_from(fired.subquery())) == TIMERS
    twice = db.session.execute(
        fired.group_by(InstanceEvent.instance_id, InstanceEvent.spiff_task_id).having(func.count() > 1)
    ).all()
    assert twice == []
    assert set(db.session.scalars(select(InstanceEvent.instance_id).where(InstanceEvent.kind == "timer_fired"))) == ids
    # Started (version 1), woken once (version 2): no instance was saved a second time.
    assert db.session.execute(
        select(ProcessInstance.status, ProcessInstance.lock_version, func.count()).group_by(
            ProcessInstance.status, ProcessInstance.lock_version)
    ).all() == [("completed", 2, TIMERS)]
    assert db.session.scalar(select(func.count()).select_from(Wakeup)) == 0
