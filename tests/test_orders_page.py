"""The orders list and the order page: filters, search, pages, what an order shows after it has gone
part of the way through the order process, its diagram data, and who may see it."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import clock
from app.accounts.roles import ALL
from app.catalog.models import Product
from app.customers.models import Customer
from app.extensions import db
from app.orders.service import LineInput, create_order
from app.web.orders import PER_PAGE, summarize
from app.workflow import runtime
from app.workflow.models import HumanTask, ProcessInstance
from tests.support import HAPPY_PATH, login

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def staff(client, make_user):
    make_user("dana", "order_desk")
    login(client, "dana")
    return client


def _set(order, **fields):
    for name, value in fields.items():
        setattr(order, name, value)
    db.session.commit()
    return order


def _numbers(html: str) -> list[str]:
    return re.findall(r">(SO-\d{4}-\d{6})</a>", html)


def _open_task(instance: ProcessInstance) -> HumanTask:
    db.session.expire_all()
    return db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state == "open")
    ).one()


def _complete(instance: ProcessInstance, element_id: str, data: dict, actor: str = "desk") -> None:
    task = _open_task(instance)
    assert task.element_id == element_id
    done = runtime.complete_task(instance.id, task.spiff_task_id, data, actor=actor)
    assert done.status != "error", done.error


@pytest.fixture
def shop(ctx, deployed):
    """A customer with two products and one order of theirs, started in the order process."""
    clock.freeze(START)
    customer = Customer(code="FJORD", name="Fjord Tools AS", contact_name="Ingrid Berg", email="ap@fjord.example",
                        phone="+47 555 0101", shipping_address="Kaiveien 4\n5003 Bergen",
                        billing_address="Postboks 12\n5804 Bergen", credit_limit=Decimal("100000"))
    db.session.add_all([customer,
                        Product(sku="SAW-12", name="Saw", list_price=Decimal("24.50"), on_hand=50),
                        Product(sku="FILE-3", name="File", list_price=Decimal("3.20"), on_hand=500)])
    db.session.commit()
    order = create_order(customer, "email", [LineInput("SAW-12", 4, spec="Hardened teeth"), LineInput("FILE-3", 10)],
                         requested_date=datetime(2026, 4, 1).date(), entered_by="desk")
    db.session.commit()
    instance = runtime.start("order_process", order.number, {"order_number": order.number, "entered_by": "desk"})
    return order, instance


# --- access --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/orders", "/orders/SO-2026-000001", "/orders/SO-2026-000001/diagram"])
def test_orders_need_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ALL)
def test_every_member_of_staff_may_see_orders(client, make_user, shop, role):
    order, _instance = shop
    make_user("someone", role)
    login(client, "someone")
    assert client.get("/orders").status_code == 200
    assert client.get(f"/orders/{order.number}").status_code == 200
    assert client.get(f"/orders/{order.number}/diagram").status_code == 200


def test_header_links_to_the_orders(staff):
    assert 'href="/orders"' in staff.get("/", follow_redirects=True).text


def test_unknown_order_is_404(staff):
    assert staff.get("/orders/SO-1999-000001").status_code == 404
    assert staff.get("/orders/SO-1999-000001/diagram", headers={"Accept": "application/json"}).status_code == 404


def test_order_without_a_process_has_no_diagram(staff, make_order):
    order = make_order()
    page = staff.get(f"/orders/{order.number}")
    assert page.status_code == 200 and "No process has been started for this order" in page.text
    assert "data-diagram-url" not in page.text
    assert staff.get(f"/orders/{order.number}/diagram").status_code == 404


# --- the list ------------------------------------------------------------------------------------

def test_empty_list_says_so(staff):
    page = staff.get("/orders")
    assert page.status_code == 200 and "There are no orders yet." in page.text


def test_list_shows_each_order_with_its_three_statuses(staff, make_order):
    order = _set(make_order("Harbour Supplies", channel="phone", total="1234.50"),
                 status="in_fulfilment", shipment_status="partial", payment_status="invoiced")
    page = staff.get("/orders").text
    row = page[page.index(order.number):].split("</tr>")[0]
    for shown in ("Harbour Supplies", "phone", "in fulfilment", "partial", "invoiced", "1,234.50",
                  order.created_at.strftime("%Y-%m-%d %H:%M")):
        assert shown in row
    assert f'href="/orders/{order.number}"' in page


@pytest.mark.parametrize(("query", "expected"), [
    ("status=cancelled", ["b"]),
    ("shipment_status=shipped", ["c"]),
    ("payment_status=overdue", ["c"]),
    ("status=in_fulfilment&payment_status=overdue", ["c"]),
    ("status=in_fulfilment&payment_status=paid", []),
    ("status=no_such_status", ["a", "b", "c"]),  # an unknown value filters nothing
])
def test_list_filters_by_status(staff, make_order, query, expected):
    orders = {
        "a": make_order("Alpha GmbH"),
        "b": _set(make_order("Beta SA"), status="cancelled"),
        "c": _set(make_order("Gamma Ltd"), status="in_fulfilment", shipment_status="shipped", payment_status="overdue"),
    }
    shown = _numbers(staff.get(f"/orders?{query}").text)
    assert sorted(shown) == sorted(orders[key].number for key in expected)


def test_filters_stay_selected(staff, make_order):
    make_order()
    page = staff.get("/orders?status=cancelled&q=acme").text
    assert '<option value="cancelled" selected>' in page and 'value="acme"' in page


def test_search_finds_by_number_or_customer(staff, make_order):
    acme, nordic = make_order("ACME Ltd"), make_order("Nordic Outdoor AB")
    assert _numbers(staff.get("/orders?q=nordic").text) == [nordic.number]
    assert _numbers(staff.get(f"/orders?q={acme.number[-4:]}").text) == [acme.number]
    assert sorted(_numbers(staff.get("/orders?q=SO-").text)) == sorted([acme.number, nordic.number])
    assert _numbers(staff.get("/orders?q=%25").text) == []  # a LIKE wildcard is searched for, not expanded


def test_no_match_has_its_own_empty_state(staff, make_order):
    make_order()
    page = staff.get("/orders?q=nobody-at-all").text
    assert "No order matches these filters." in page and "There are no orders yet." not in page


def test_list_is_paginated_newest_first_and_pages_keep_the_filters(staff, make_order):
    orders = [make_order() for _ in range(PER_PAGE + 3)]
    newest_first = [o.number for o in reversed(orders)]
    first = staff.get("/orders?q=SO-").text
    assert _numbers(first) == newest_first[:PER_PAGE]
    assert f"Page 1 of 2 · {PER_PAGE + 3} orders" in first
    assert 'href="/orders?page=2&amp;q=SO-"' in first and 'rel="prev"' not in first
    second = staff.get("/orders?page=2&q=SO-").text
    assert _numbers(second) == newest_first[PER_PAGE:]
    assert 'href="/orders?page=1&amp;q=SO-"' in second and 'rel="next"' not in second
    beyond = staff.get("/orders?page=9").text
    assert _numbers(beyond) == [] and "There is no page 9." in beyond


def test_customer_text_is_escaped(staff, make_order):
    order = make_order("<script>alert(1)</script> & Co")
    for path in ("/orders", f"/orders/{order.number}"):
        page = staff.get(path).text
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page


# --- one order -----------------------------------------------------------------------------------

def test_order_in_review_shows_lines_customer_open_task_and_timeline(staff, shop):
    order, instance = shop
    page = staff.get(f"/orders/{order.number}").text
    assert order.number in page and "Fjord Tools AS" in page
    for shown in ("in review", "pending", "not invoiced"):  # order, shipment, payment
        assert f">{shown}</span>" in page
    assert "Ingrid Berg" in page and "Kaiveien 4\n5003 Bergen" in page and "Postboks 12\n5804 Bergen" in page
    lines = page[page.index("<h2>Lines</h2>"):page.index("<h2>Open tasks</h2>")]
    for shown in ("SAW-12", "Hardened teeth", ">4<", "24.50", "98.00", "FILE-3", ">10<", "3.20", "32.00", "130.00"):
        assert shown in lines
    task = _open_task(instance)
    assert f'<a href="/tasks/{task.id}">Review order</a>' in page
    timeline = page[page.index("<h2>Timeline</h2>"):]
    assert "started" in timeline and "version 1" in timeline
    assert "Nothing has been shipped yet." in page and "No invoice has been issued yet." in page
    assert 'data-diagram-url="/orders/' + order.number + '/diagram"' in page
    assert "/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in page
    assert "/static/js/diagram.js" in page and "<script>" not in page  # no inline script


def test_order_after_shipping_invoicing_and_a_part_payment(staff, shop):
    order, instance = shop
    for element_id, data in HAPPY_PATH:
        _complete(instance, element_id, data, actor="wes")
    runtime.send_message(order.number, "goods_received", {"signed_by": "Dock 4"})
    runtime.send_message(order.number, "payment_received", {"amount": "50.00", "method": "card",
                                                            "reference": "TX-991"})
    page = staff.get(f"/orders/{order.number}").text

    for shown in ("delivered", "partly paid"):
        assert f">{shown}</span>" in page
    lines = page[page.index("<h2>Lines</h2>"):page.index("<h2>Open tasks</h2>")]
    # reserved, then shipped: nothing is reserved any more, 4 saws and 10 files left
    assert '<td class="num">0</td><td class="num">4</td></tr>' in lines
    assert '<td class="num">0</td><td class="num">10</td></tr>' in lines

    shipments = page[page.index("<h2>Shipments</h2>"):page.index("<h2>Invoices and payments</h2>")]
    assert "SH-2026-000001" in shipments and "DHL" in shipments and "JD0042" in shipments
    assert ">delivered</span>" in shipments

    invoices = page[page.index("<h2>Invoices and payments</h2>"):page.index("<h2>Messages to the customer</h2>")]
    assert "INV-2026-000001" in invoices and "130.00" in invoices and "50.00" in invoices
    assert "2026-04-01" in invoices and ">open</span>" in invoices  # due after 30 days' terms
    assert "TX-991" in invoices and "Payment card" in invoices

    messages = page[page.index("<h2>Messages to the customer</h2>"):page.index("<h2>Timeline</h2>")]
    assert f"Order {order.number} confirmed" in messages and "JD0042" in messages
    assert "Invoice INV-2026-000001" in messages

    timeline = " ".join(page[page.index("<h2>Timeline</h2>"):].split())
    assert "<strong>task completed</strong> at Review order by wes" in timeline
    assert "approved: yes" in timeline and "carrier: DHL, tracking number: JD0042" in timeline
    assert "message received" in timeline and "goods_received — signed by: Dock 4" in timeline
    assert "Nobody has a task on this order right now." in page


def test_diagram_endpoint_gives_the_versions_xml_and_where_the_order_stands(staff, shop):
    order, instance = shop
    data = staff.get(f"/orders/{order.number}/diagram").get_json()
    assert data["xml"] == db.session.get(ProcessInstance, instance.id).definition.bpmn_xml
    assert "<bpmndi:BPMNDiagram" in data["xml"]
    assert data["instance"] == {"id": instance.id, "process": "order_process", "version": 1, "status": "running"}
    assert data["current"] == ["review_order", "review_order_at_risk", "review_order_breached",
                               "review_order_breached_long", "review_order_changed"]
    assert "do_review_checks" in data["completed"] and "review_order" not in data["completed"]
    assert "f_credit_ok" in data["flows"] and "f_credit_gw_to_credit_review" not in data["flows"]

    _complete(instance, "review_order", {"approved": True})
    data = staff.get(f"/orders/{order.number}/diagram").get_json()
    assert data["current"] == ["pick_goods", "pick_goods_at_risk", "pick_goods_breached", "pick_goods_breached_long",
                               "pick_goods_changed", "pick_goods_ship_date"]
    assert {"review_order", "do_confirm_order", "do_reserve_stock", "do_create_pick_list"} <= set(data["completed"])
    assert "review_order_at_risk" not in data["completed"] + data["current"]


@pytest.mark.parametrize(("kind", "detail", "expected"), [
    ("started", {"version": 3, "data": {"order_number": "SO-1"}}, "version 3"),
    ("task_completed", {"data": {"approved": False, "review_note": "", "packages": 2}},
     "approved: no, review note: —, packages: 2"),
    ("message_received", {"message": "payment_received", "payload": {}}, "payment_received"),
    ("message_refused", {"message": "goods_received", "status": "running"},
     "goods_received refused while the process was running"),
    ("timer_fired", {"due": "2026-03-02T12:00:00+00:00"}, "due 2026-03-02T12:00:00+00:00"),
    ("error", {"message": "division by zero"}, "division by zero"),
    ("retried", {"tasks": ["split"], "data": {"parts": 2}}, "tasks: split; fixed: parts: 2"),
    ("cancelled", {"reason": "ordered twice"}, "ordered twice"),
    ("completed", {}, ""),
    ("admin_note", {"note": "checked"}, "note: checked"),
])
def test_timeline_summaries(kind, detail, expected):
    assert summarize(kind, detail) == expected


def test_long_timeline_summaries_are_cut():
    text = summarize("cancelled", {"reason": "x" * 500})
    assert len(text) == 160 and text.endswith("…")
