"""POST /api/v1/orders with `Prefer: respond-async`: the order is recorded and numbered and the answer
is 202 at once; its process is recorded with it, queued, and starts at the scheduler's next poll (or
when something reaches it first). On SQLite and on PostgreSQL."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.workflow import runtime, timers
from app.workflow.models import InstanceEvent, ProcessInstance, Wakeup
from tests.api.shop import Api, counts, open_task, order_row

ORDER = {"customer_code": "GOOD", "lines": [{"sku": "BOLT-M8", "quantity": 40}, {"sku": "VALVE-2", "quantity": 2}],
         "requested_date": "2026-04-01", "shipping_address": "Dock 4, 1 Harbour Road"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


def place_async(api: Api, key: str | None = None, prefer: str = "respond-async"):
    headers = {"Prefer": prefer, **({"Idempotency-Key": key} if key else {})}
    return api.post("/api/v1/orders", ORDER, headers=headers)


def instance_of(number: str) -> ProcessInstance:
    db.session.expire_all()
    return db.session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == number)).one()


def next_poll() -> int:
    """The scheduler's next poll, a second later."""
    clock.freeze(clock.now() + timedelta(seconds=1))
    return timers.fire_due("test-scheduler")


def test_respond_async_answers_202_with_the_order_recorded_and_its_process_queued(api):
    response = place_async(api)
    assert response.status_code == 202, response.json
    assert response.headers["Preference-Applied"] == "respond-async"
    number = response.json["number"]
    assert response.headers["Location"] == f"/api/v1/orders/{number}"
    assert response.json["status"] == "entered" and order_row(number).status == "entered"
    instance = instance_of(number)
    assert instance.status == "queued" and instance.started_by == "api:webshop"
    assert db.session.get(Wakeup, instance.id) is not None  # owed its start: the scheduler will find it
    started = db.session.scalars(select(InstanceEvent).where(InstanceEvent.instance_id == instance.id)).one()
    assert started.kind == "started" and started.detail["queued"] is True
    assert api.get(f"/api/v1/orders/{number}").json["statuses"]["order"] == "entered"


def test_the_scheduler_starts_a_queued_order_as_if_it_had_been_placed_at_once(api):
    number = place_async(api).json["number"]
    next_poll()
    instance = instance_of(number)
    assert instance.status == "running"
    assert open_task(number).element_id == "review_order"  # intake and review checks ran
    assert order_row(number).status == "in_review"
    assert api.get(f"/api/v1/orders/{number}").json["statuses"]["order"] == "in_review"
    # the review's SLA timers now keep the wake-up; it is not due before them
    assert db.session.get(Wakeup, instance.id).due_at > clock.now()
    assert next_poll() == 0 and open_task(number).element_id == "review_order"  # nothing starts twice


def test_without_the_preference_the_order_is_started_before_the_answer(api):
    response = place_async(api, prefer="return=minimal")
    assert response.status_code == 201 and "Preference-Applied" not in response.headers
    assert instance_of(response.json["number"]).status == "running"


def test_an_event_that_reaches_a_queued_order_starts_its_process_first(api):
    number = place_async(api).json["number"]
    response = api.event(number, "cancellation", {"reason": "ordered twice"})
    assert response.status_code == 201, response.json  # the case is raised against a started order
    assert instance_of(number).status in runtime.ACTIVE
    assert next_poll() == 0  # the scheduler finds nothing left to start
    kinds = [e.kind for e in db.session.scalars(select(InstanceEvent).where(
        InstanceEvent.instance_id == instance_of(number).id).order_by(InstanceEvent.id))]
    assert kinds.count("started") == 1


@pytest.mark.parametrize("prefer", ["respond-async", "return=minimal"])
def test_a_blocking_case_holds_a_queued_order_as_it_holds_one_placed_at_once(api, prefer):
    number = place_async(api, prefer=prefer).json["number"]
    response = api.event(number, "cancellation", {"reason": "ordered twice"})
    assert response.status_code == 201, response.json
    order = order_row(number)
    assert (order.status, order.held_from) == ("on_hold", "in_review")  # the review checks ran first
    raised = response.json["exception"]["number"]
    case = db.session.scalars(select(ExceptionCase).where(ExceptionCase.number == raised)).one()
    assert case.stage == "in_review" and instance_of(number).held_by == case.number


def test_a_queued_instance_cancelled_before_its_start_never_runs(api):
    number = place_async(api).json["number"]
    instance = runtime.cancel(instance_of(number).id, actor="admin", reason="test order")
    assert instance.status == "cancelled"
    assert order_row(number).status == "entered"  # no service task ran: the intake check never saw it
    assert db.session.get(Wakeup, instance.id) is None and next_poll() == 0


def test_a_retry_with_the_same_key_replays_the_202(api):
    first = place_async(api, key="shop-order-77")
    again = place_async(api, key="shop-order-77")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.data == first.data and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Preference-Applied"] == "respond-async"
    assert counts(ProcessInstance) == {"ProcessInstance": 1}


def test_two_schedulers_start_each_queued_order_once(api, app, backend):
    numbers = [place_async(api).json["number"] for _ in range(12)]
    clock.freeze(clock.now() + timedelta(seconds=1))
    failures: list[BaseException] = []
    barrier = threading.Barrier(2)

    def scheduler(name: str):
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                timers.fire_due(name, limit=3)
            except BaseException as error:  # reported below
                failures.append(error)
            finally:
                db.session.remove()

    workers = [threading.Thread(target=scheduler, args=(f"scheduler-{n}",)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not failures, failures
    for number in numbers:
        instance = instance_of(number)
        assert instance.status == "running", (number, instance.status)
        started = db.session.scalars(select(InstanceEvent).where(
            InstanceEvent.instance_id == instance.id, InstanceEvent.kind == "started")).all()
        assert len(started) == 1
        assert open_task(number).element_id == "review_order"
