"""app.orders.intake.place_order: the order and the process that runs it are one unit of work — a
failure anywhere leaves neither an order without a process nor a process without its order.
Runs on SQLite and on PostgreSQL. Order numbers are unique; on PostgreSQL they are drawn in a
transaction of their own, so a failed order may leave a gap and never holds up another order."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from app.catalog.models import Product
from app.customers.models import Customer
from app.extensions import db
from app.numbering import NumberSequence
from app.orders import intake
from app.orders.models import Order, OrderLine
from app.orders.service import LineInput, OrderError
from app.workflow import NotFound, register_operation, runtime
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance, Wakeup


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


@pytest.fixture
def catalogue(ctx):
    db.session.add_all([
        Customer(code="GOOD", name="Good Customer Ltd", email="buy@good.example", shipping_address="1 Harbour Road",
                 credit_limit=Decimal("100000")),
        Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=100),
    ])
    db.session.commit()


def committed() -> dict:
    """Row counts as a fresh connection sees them: only what was committed."""
    db.session.rollback()
    with db.engine.connect() as connection:
        return {model.__tablename__: connection.scalar(select(func.count()).select_from(model))
                for model in (Order, OrderLine, ProcessInstance, HumanTask, InstanceEvent, NumberSequence)}


def place(**kwargs) -> Order:
    return intake.place_order("GOOD", kwargs.pop("channel", "phone"), [LineInput("BOLT-M8", 4)],
                              requested_date=kwargs.pop("requested_date", "2099-01-01"), entered_by="dana", **kwargs)


NOTHING = {"customer_order": 0, "order_line": 0, "process_instance": 0, "human_task": 0, "instance_event": 0}


def nothing_but_a_drawn_number(counts: dict, backend: str) -> bool:
    """Nothing was written; on PostgreSQL an order number may have been drawn (and stays drawn)."""
    drawn = counts.pop("number_sequence")
    return counts == NOTHING and drawn == (0 if backend == "sqlite" else drawn) and drawn <= 1


def test_order_and_its_process_are_committed_together(catalogue, deployed):
    order = place()
    counts = committed()
    assert counts["customer_order"] == counts["process_instance"] == counts["human_task"] == 1
    instance = db.session.scalars(select(ProcessInstance)).one()
    assert (instance.business_key, instance.status, instance.started_by) == (order.number, "running", "dana")
    started = db.session.scalars(select(InstanceEvent).where(InstanceEvent.kind == "started")).one()
    assert started.detail["data"] == {"order_number": order.number, "entered_by": "dana"}
    assert db.session.get(Order, order.id).channel == "phone"


def test_no_deployed_process_means_no_order(catalogue, backend):
    with pytest.raises(NotFound, match="no deployed process 'order_process'"):
        place()
    assert nothing_but_a_drawn_number(committed(), backend)


def test_a_failure_after_the_process_started_takes_the_order_back_too(catalogue, deployed, monkeypatch, backend):
    real_start = runtime.start

    def start_then_fail(*args, **kwargs):
        instance = real_start(*args, **kwargs)
        assert db.session.get(ProcessInstance, instance.id) is not None  # started, not yet committed
        raise RuntimeError("the database went away")

    monkeypatch.setattr(runtime, "start", start_then_fail)
    with pytest.raises(RuntimeError):
        place()
    assert nothing_but_a_drawn_number(committed(), backend)
    monkeypatch.setattr(runtime, "start", real_start)
    # SQLite draws numbers in the order's transaction; PostgreSQL in one of their own (a gap, never a repeat)
    assert place().number.endswith("-000001" if backend == "sqlite" else "-000002")


def test_refused_order_starts_nothing(catalogue, deployed):
    with pytest.raises(OrderError) as refused:
        intake.place_order("NOBODY", "fax", [LineInput("NOPE", 0)], entered_by="dana")
    assert refused.value.errors == {"customer_code": "unknown customer 'NOBODY'", "lines.1.sku": "unknown SKU 'NOPE'"}
    assert committed() == {**NOTHING, "number_sequence": 0}  # refused before a number is drawn


def test_an_engine_error_keeps_order_and_process_together_for_an_admin(ctx, catalogue, deployed):
    def broken(order_number: str) -> dict:
        raise ValueError("intake rules unavailable")

    register_operation(ctx, "check_intake", broken)
    order = place()
    counts = committed()
    assert counts["customer_order"] == counts["process_instance"] == 1
    instance = db.session.scalars(select(ProcessInstance)).one()
    assert (instance.business_key, instance.status) == (order.number, "error")
    assert "intake rules unavailable" in instance.error["message"]


def test_place_order_joins_an_outer_unit_of_work(catalogue, deployed, backend):
    with pytest.raises(RuntimeError), runtime.unit_of_work():
        place()
        raise RuntimeError("the caller changed its mind")
    assert nothing_but_a_drawn_number(committed(), backend)
    with runtime.unit_of_work():
        first, second = place(), place(channel="email")
    expected = ("1", "2") if backend == "sqlite" else ("2", "3")
    assert (first.number[-1], second.number[-1]) == expected and committed()["process_instance"] == 2
    assert db.session.execute(text("select count(*) from customer_order")).scalar() == 2


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_an_order_in_progress_never_holds_up_another_ones_number(app, catalogue, deployed):
    """While one order's unit of work is still open, a second order on another connection draws its
    number and commits (the number's row lock is not held to the first one's commit)."""
    drawn: dict[str, object] = {}

    def second_order():
        with app.app_context():
            try:
                db.session.execute(text("SET lock_timeout = '5s'"))  # waiting would fail, not hang
                drawn["number"] = place(channel="email").number
            except Exception as error:  # reported below
                drawn["error"] = error
            finally:
                db.session.remove()

    with runtime.unit_of_work():
        first = place()
        other = threading.Thread(target=second_order)
        other.start()
        other.join(timeout=30)
        assert not other.is_alive() and "error" not in drawn, drawn.get("error")
        assert first.number != drawn["number"]
    assert {first.number[-1], drawn["number"][-1]} == {"1", "2"} and committed()["customer_order"] == 2


def rows(table, **where) -> list[dict]:
    """A table's committed rows matching `where`, as dicts, read on a fresh connection."""
    query = select(table).where(*(table.c[name] == value for name, value in where.items()))
    with db.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def test_a_queued_order_is_written_as_a_started_one_is(catalogue, deployed):
    # A queued order is written with plain INSERTs instead of through the session: the same rows.
    queued, started = place(queued=True), place()
    assert (queued.status, queued.id) == ("entered", rows(Order.__table__, number=queued.number)[0]["id"])
    [queued_row], [started_row] = rows(Order.__table__, id=queued.id), rows(Order.__table__, id=started.id)
    differ = {"id", "number", "created_at", "status"}  # the started one's process moved it on
    assert {k: v for k, v in queued_row.items() if k not in differ} == \
        {k: v for k, v in started_row.items() if k not in differ}
    assert queued_row["created_at"] == queued.created_at and queued_row["status"] == "entered"
    [queued_line], [started_line] = rows(OrderLine.__table__, order_id=queued.id), \
        rows(OrderLine.__table__, order_id=started.id)
    differ = {"id", "order_id", "reserved_qty"}  # the started one's review reserved stock
    assert {k: v for k, v in queued_line.items() if k not in differ} == \
        {k: v for k, v in started_line.items() if k not in differ}
    assert queued_line["product_id"] == db.session.scalar(select(Product.id)) and queued_line["quantity"] == 4
    [instance] = rows(ProcessInstance.__table__, business_key=queued.number)
    assert (instance["status"], instance["started_by"]) == (runtime.QUEUED, "dana")
    [wakeup] = rows(Wakeup.__table__, instance_id=instance["id"])  # what the scheduler claims to start it
    assert wakeup["due_at"] == instance["next_timer_at"] and wakeup["claimed_by"] is None
    [started] = rows(InstanceEvent.__table__, instance_id=instance["id"])
    assert (started["kind"], started["actor"], started["detail"]["queued"]) == ("started", "dana", True)
    assert started["detail"]["data"] == {"order_number": queued.number, "entered_by": "dana"}


def test_a_queued_order_rolls_back_with_its_unit_of_work(catalogue, deployed, backend):
    with pytest.raises(RuntimeError), runtime.unit_of_work():
        place(queued=True)
        raise RuntimeError("the caller changed its mind")
    assert nothing_but_a_drawn_number(committed(), backend)
