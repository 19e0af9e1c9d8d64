"""app.orders.csv_import check and import: create_order's own rules per row, each order with its process in
its own unit of work, and an order imported once however often its file comes back. Runs on SQLite and on
PostgreSQL."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.orders import csv_import, intake
from app.orders.models import Order
from app.workflow.models import HumanTask, ProcessInstance
from tests.intake.conftest import NOTHING, csv_file, line, written


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


def checked(*rows, channel="phone"):
    return csv_import.check(csv_import.read(csv_file(*rows), default_channel=channel, max_bytes=100_000,
                                            max_rows=1000))


def imported(*rows, channel="phone"):
    upload = csv_import.read(csv_file(*rows), default_channel=channel, max_bytes=100_000, max_rows=1000)
    assert [order.ref for order in csv_import.import_orders(upload, entered_by="dana")] == [
        order.ref for order in upload.orders]  # each order is reported as it is done
    return upload


def report(upload) -> list[tuple[int, str, str, list]]:
    return [(row.number, order.ref, order.outcome, order.reasons(row)) for row, order in upload.rows]


# Check ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"customer": "NOBODY"}, "customer_code", "unknown customer 'NOBODY'"),
    ({"sku": "NOPE-1"}, "sku", "unknown SKU 'NOPE-1'"),
    ({"quantity": "two"}, "quantity", "'two' is not a whole number"),
    ({"quantity": "0"}, "quantity", "must be between 1 and 1,000,000"),
    ({"quantity": "2.5"}, "quantity", "'2.5' is not a whole number"),
    ({"unit_price": "1.00"}, "unit_price", "1.00 is outside the price policy for BOLT-M8 (2.00 to 2.50)"),
    ({"unit_price": "cheap"}, "unit_price", "'cheap' is not an amount"),
    ({"requested_date": "01/04/2026"}, "requested_date", "'01/04/2026' is not a date (YYYY-MM-DD)"),
    ({"requested_date": "2026-02-30"}, "requested_date", "'2026-02-30' is not a date (YYYY-MM-DD)"),
    ({"requested_date": "2026-03-01"}, "requested_date", "lies in the past"),
    ({"payment_method": "barter"}, "payment_method", "one of credit, prepayment, cash_on_delivery"),
    ({"remarks": "r" * 2001}, "remarks", "at most 2000 characters"),
])
def test_check_gives_create_orders_reason_by_column_and_writes_nothing(shop, changes, field, reason):
    upload = checked(line(), line("PO-2", **changes))
    assert report(upload) == [(2, "PO-1", "valid", []), (3, "PO-2", "refused", [(field, reason)])]
    assert written() == NOTHING


def test_check_lists_every_reason_of_every_row(shop):
    upload = checked(line(requested_date="2026-13-01", quantity="-1"),
                     line(sku="NOPE", requested_date=""), line(sku="VALVE-2", channel="web", requested_date=""),
                     line(requested_date="2026-05-01", payment_method="barter"))
    assert report(upload) == [
        (2, "PO-1", "refused", [("quantity", "must be between 1 and 1,000,000"),
                                ("requested_date", "'2026-13-01' is not a date (YYYY-MM-DD)")]),
        (3, "PO-1", "refused", [("sku", "unknown SKU 'NOPE'")]),
        (4, "PO-1", "refused", [("channel", "'web' is not one of phone, fax, email, sales_rep")]),
        (5, "PO-1", "refused", [("requested_date", "differs from row 2 of order PO-1 ('2026-13-01')"),
                                ("payment_method", "one of credit, prepayment, cash_on_delivery")]),
    ]
    assert written() == NOTHING


def test_the_other_rows_of_a_refused_order_say_where_to_look(shop):
    upload = checked(line(customer="NOBODY"), line(customer="NOBODY", sku="VALVE-2"), line("PO-2"))
    assert report(upload) == [
        (2, "PO-1", "refused", [("customer_code", "unknown customer 'NOBODY'")]),
        (3, "PO-1", "refused", [("order_ref", "order PO-1 is refused as a whole; see row 2")]),
        (4, "PO-2", "valid", []),
    ]


def test_an_order_over_create_orders_line_limit_is_refused_as_a_whole(shop):
    upload = checked(*(line() for _ in range(201)))
    assert report(upload)[0] == (2, "PO-1", "refused", [("order", "at most 200 lines")])
    assert report(upload)[200][3] == [("order_ref", "order PO-1 is refused as a whole; see row 2")]


def test_check_of_a_valid_file_keeps_no_order_number(shop, deployed):
    upload = checked(line(), line("PO-2"))
    assert [order.outcome for order in upload.orders] == ["valid", "valid"]
    assert written() == NOTHING
    imported(line())
    assert db_order("PO-1").number == "SO-2026-000001"  # the check used up no number


# Import -----------------------------------------------------------------------------------------------------


def select_all(model) -> list:
    return db.session.scalars(select(model).order_by(model.id)).all()


def db_order(ref: str, customer: str = "GOOD") -> Order:
    customer_id = intake.customer_by_code(customer).id
    return csv_import.imported_before(customer_id, ref)


def test_import_creates_each_order_with_its_process_started(shop, deployed):
    upload = imported(line(channel="fax", remarks="Fax from +49 221 555 0100", unit_price="2.40"),
                      line(sku="valve-2", quantity="3"),
                      line("PO-2", customer="ACME", channel="sales_rep", payment_method="prepayment",
                           shipping_address="Gate 4, Köln", requested_date=""))
    assert [(order.ref, order.outcome, order.number) for order in upload.orders] == [
        ("PO-1", "created", "SO-2026-000001"), ("PO-2", "created", "SO-2026-000002")]
    first, second = db_order("PO-1"), db_order("PO-2", "ACME")
    assert (first.number, first.channel, first.entered_by, first.remarks) == (
        "SO-2026-000001", "fax", "dana", "[import ref PO-1]\nFax from +49 221 555 0100")
    assert [(x.position, x.sku, x.quantity, x.unit_price) for x in first.lines] == [
        (1, "BOLT-M8", 10, Decimal("2.40")), (2, "VALVE-2", 3, Decimal("50.00"))]
    assert (str(first.requested_date), first.shipping_address, first.payment_method) == (
        "2026-04-01", "1 Harbour Road", "credit")
    assert (second.channel, second.payment_method, second.shipping_address, second.requested_date,
            second.remarks) == ("sales_rep", "prepayment", "Gate 4, Köln", None, "[import ref PO-2]")
    instances = {i.business_key: i for i in select_all(ProcessInstance)}
    assert set(instances) == {first.number, second.number}
    assert {(i.process_key, i.status, i.started_by) for i in instances.values()} == {
        ("order_process", "running", "dana")}
    # The second order names no delivery date: its process asks for it, as it does for any channel.
    assert [(t.element_id, t.state) for t in select_all(HumanTask)] == [("review_order", "open"),
                                                                        ("clarify_order", "open")]
    assert written() == {"Order": 2, "OrderLine": 3, "ProcessInstance": 2, "HumanTask": 2, "NumberSequence": 1}


def test_a_file_with_bad_orders_imports_the_good_ones(shop, deployed):
    upload = imported(line(), line("PO-2", sku="NOPE"), line("PO-2"), line("PO-3"), line("PO-4", quantity="x"))
    assert report(upload) == [
        (2, "PO-1", "created", []),
        (3, "PO-2", "refused", [("sku", "unknown SKU 'NOPE'")]),
        (4, "PO-2", "refused", [("order_ref", "order PO-2 is refused as a whole; see row 3")]),
        (5, "PO-3", "created", []),
        (6, "PO-4", "refused", [("quantity", "'x' is not a whole number")]),
    ]
    assert [o.number for o in upload.orders if o.number] == ["SO-2026-000001", "SO-2026-000002"]
    assert written()["Order"] == written()["ProcessInstance"] == 2
    assert [row.number for row, _ in upload.rows_of("refused")] == [3, 4, 6]


def test_importing_the_same_file_again_creates_nothing_twice(shop, deployed):
    rows = [line(), line(sku="VALVE-2"), line("PO-2", customer="ACME"), line("PO-3", sku="NOPE")]
    imported(*rows)
    before = written()
    again = imported(*rows)
    assert [(o.ref, o.outcome, o.number) for o in again.orders] == [
        ("PO-1", "duplicate", "SO-2026-000001"), ("PO-2", "duplicate", "SO-2026-000002"), ("PO-3", "refused", None)]
    assert written() == before
    # The check says the same before anything is tried.
    assert [(o.outcome, o.number) for o in checked(*rows).orders][:2] == [
        ("duplicate", "SO-2026-000001"), ("duplicate", "SO-2026-000002")]
    # Corrected, the refused order is imported, and only it.
    fixed = imported(*rows[:3], line("PO-3"))
    assert [o.outcome for o in fixed.orders] == ["duplicate", "duplicate", "created"]
    assert written()["Order"] == 3


def test_the_idempotency_key_is_the_customer_and_the_exact_ref(shop, deployed):
    imported(line("PO-1"))
    upload = imported(line("PO-1", customer="ACME"), line("PO-10"), line("po-1"), line("PO-"))
    assert [o.outcome for o in upload.orders] == ["created"] * 4
    assert written()["Order"] == 5


def test_an_order_entered_by_hand_with_a_similar_remark_is_no_duplicate(shop, deployed):
    intake.place_order("GOOD", "phone", [csv_import.LineInput("BOLT-M8", 1)], requested_date="2026-04-01",
                       remarks="see [import ref PO-1]", entered_by="dana")
    assert [o.outcome for o in imported(line()).orders] == ["created"]


def test_without_a_deployed_process_no_order_is_written(shop, backend):
    upload = imported(line())
    assert report(upload) == [(2, "PO-1", "failed", [
        ("order", "the order process could not start: no deployed process 'order_process'")])]
    # PostgreSQL draws order numbers in their own transaction: the failed order's number stays drawn
    assert written() == {**NOTHING, "NumberSequence": 0 if backend == "sqlite" else 1}


def test_an_order_whose_process_fails_to_start_leaves_nothing_and_the_next_goes_on(shop, deployed, monkeypatch,
                                                                                     backend):
    real = intake.runtime.start
    calls = []

    def start(*args, **kwargs):
        calls.append(args[1])
        instance = real(*args, **kwargs)
        if len(calls) == 1:
            raise intake.NotFound("the engine refused")
        return instance

    monkeypatch.setattr(intake.runtime, "start", start)
    upload = imported(line(), line("PO-2"))
    number = "SO-2026-000001" if backend == "sqlite" else "SO-2026-000002"  # a gap, never a repeat
    assert [(o.outcome, o.number) for o in upload.orders] == [("failed", None), ("created", number)]
    assert written() == {"Order": 1, "OrderLine": 1, "ProcessInstance": 1, "HumanTask": 1, "NumberSequence": 1}


def test_the_same_file_imported_by_several_people_at_once_creates_each_order_once(app, shop, deployed):
    content, people = csv_file(line(), line("PO-2"), line("PO-2", customer="ACME")), 6
    barrier, outcomes, failures = threading.Barrier(people), [], []

    def import_file():
        with app.app_context():
            try:
                upload = csv_import.read(content, default_channel="phone", max_bytes=10_000, max_rows=10)
                barrier.wait()
                outcomes.extend(order.outcome for order in csv_import.import_orders(upload, entered_by="dana"))
            except Exception as error:  # the assertion below names it
                failures.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=import_file) for _ in range(people)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(outcomes) == ["created"] * 3 + ["duplicate"] * (3 * people - 3)
    assert written() == {"Order": 3, "OrderLine": 3, "ProcessInstance": 3, "HumanTask": 3, "NumberSequence": 1}
