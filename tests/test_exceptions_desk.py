"""The exception desk: the list with its filters, counts per family, order and pages; one exception's
page (order, resolution, money back, messages, open task, timeline); reporting an exception from an
order, with every refusal; the exception panels on the order and task pages; who may do what."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from app import clock
from app.accounts.models import User, UserRole
from app.accounts.roles import ALL, LANE_ROLES
from app.accounts.service import find_by_username
from app.catalog.models import Product
from app.customers.models import Customer
from app.exceptions import service as cases
from app.exceptions import taxonomy
from app.exceptions.models import ExceptionCase
from app.extensions import db
from app.orders.models import Order
from app.orders.service import LineInput, create_order
from app.web import exceptions as desk
from app.workflow import runtime
from app.workflow.models import HumanTask, ProcessInstance
from tests.support import HAPPY_PATH, csrf_token, login

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
DESK_USERS = [role for role in ALL if role in LANE_ROLES or role == "admin"]


# --- people and orders ----------------------------------------------------------------------------------


def user(username: str, role: str | None = None) -> User:
    """A person, made on first use with a cheap password hash; by default named after their role."""
    found = find_by_username(username)
    if found is None:
        found = User(username=username, name=username.title(), role_rows=[UserRole(role=role or username)],
                     password_hash=generate_password_hash("secret-pass", method="pbkdf2:sha256:1"))
        db.session.add(found)
        db.session.commit()
    return found


def sign_in(client, username: str) -> None:
    user(username)
    if client.get("/login").status_code == 302:  # someone is logged in: log them out first
        assert client.post("/logout", data={"csrf_token": token(client)}).status_code == 302
    login(client, username)


def token(client) -> str:
    # The processes overview is open to every role and carries the log-out form's token.
    return csrf_token(client.get("/processes").text)


def open_task(business_key: str) -> HumanTask:
    db.session.expire_all()
    return db.session.scalars(select(HumanTask).where(
        HumanTask.business_key == business_key, HumanTask.state.in_(("open", "claimed")))).one()


def do(business_key: str, element_id: str, data: dict, by: str) -> None:
    task = open_task(business_key)
    assert task.element_id == element_id, f"expected {element_id}, the open task is {task.element_id}"
    done = runtime.complete_task(task.instance_id, task.spiff_task_id, data, actor=by)
    assert done.status != "error", done.error


def place(*lines: tuple[str, int]) -> Order:
    customer = db.session.scalar(select(Customer).where(Customer.code == "HARBOUR"))
    order = create_order(customer, "email", [LineInput(sku, qty) for sku, qty in lines or [("BOLT-M8", 10)]],
                         requested_date=(clock.now() + timedelta(days=30)).date(), entered_by="desk")
    db.session.commit()
    runtime.start("order_process", order.number, {"order_number": order.number, "entered_by": "desk"})
    return order


def advance(order: Order, steps: int) -> None:
    """Along the happy path: 5 steps ship it; 6 has it received and invoiced."""
    for element_id, data in HAPPY_PATH[:steps]:
        do(order.number, element_id, data, by="tester")
    if steps > len(HAPPY_PATH):
        runtime.send_message(order.number, "goods_received", {"signed_by": "Dock"})


def report(order: Order, type_key: str, **kwargs) -> ExceptionCase:
    with runtime.unit_of_work():
        return cases.raise_case(order, type_key, source=kwargs.pop("source", "staff"),
                                reported_by=kwargs.pop("reported_by", "customer_service"), **kwargs)


def triage(case: ExceptionCase) -> None:
    do(case.number, "triage", {"summary": "We are looking into it."}, by="customer_service")


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-exception="(EX-\d{4}-\d{6})"', html)


@pytest.fixture
def shop(ctx, deployed):
    clock.freeze(NOW)
    db.session.add_all([
        Customer(code="HARBOUR", name="Harbour Tools Ltd", contact_name="Pat Buyer", email="ap@harbour.example",
                 phone="+1 555 0100", shipping_address="1 Harbour Road", credit_limit=Decimal("100000"),
                 payment_terms_days=30),
        Product(sku="BOLT-M8", name="Bolt M8", list_price=Decimal("2.50"), on_hand=100),
        Product(sku="NUT-M8", name="Nut M8", list_price=Decimal("1.00"), on_hand=500),
    ])
    db.session.commit()


@pytest.fixture
def staff(client, shop):
    sign_in(client, "order_desk")
    return client


@pytest.fixture
def desk_cases(shop) -> dict[str, ExceptionCase]:
    """Six cases raised over ten days, in every family, at each status a desk sees."""
    made = {}
    plan = [  # name, days ago, type, keyword arguments
        ("complaint", 10, "complaint", {"description": "rusty bolts"}),
        ("stockout", 6, "stockout", {"description": "shelf empty"}),
        ("count", 5, "count_mismatch", {"description": "bin count is off",
                                        "details": {"sku": "NUT-M8", "counted": 480}}),
        ("delay", 4, "delivery_delay", {"description": "carrier late", "severity": "critical"}),
        ("entry", 2, "entry_error", {"description": "typo in the reference"}),
        ("invoice", 0, "invoice_error", {"description": "wrong price on the invoice"}),
    ]
    for name, days, type_key, kwargs in plan:
        clock.freeze(NOW - timedelta(days=days, hours=-1 if days == 0 else 0))
        made[name] = report(place(), type_key, **kwargs)
    clock.freeze(NOW + timedelta(hours=2))
    triage(made["complaint"])
    do(made["complaint"].number, "resolve_customer_service",
       {"action": "no_compensation", "resolution": "Checked: stored dry, no fault found."}, by="customer_service")
    triage(made["delay"])
    db.session.expire_all()
    assert [c.status for c in made.values()] == ["closed", "open", "open", "in_progress", "open", "open"]
    return made


# --- who may do what ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/exceptions", "/exceptions/EX-2026-000001", "/orders/SO-2026-000001/exceptions/new"])
def test_the_desk_needs_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _report_form(order: Order, client, **fields) -> dict:
    page = client.get(f"/orders/{order.number}/exceptions/new")
    form = {"family": "customer", "type": "complaint", "severity": "", "description": "The customer is unhappy."}
    return {**form, "csrf_token": csrf_token(page.text) if page.status_code == 200 else token(client), **fields}


@pytest.mark.parametrize("role", ALL)
def test_access_per_role(client, shop, role):
    """Staff with an inbox (managers among them) and admins see the desk and report; a process owner
    does neither, and a refused report writes nothing."""
    order = place()
    case = report(order, "complaint", description="seen by all")
    sign_in(client, role)
    allowed = role in DESK_USERS
    expected = 200 if allowed else 403
    assert client.get("/exceptions").status_code == expected
    assert client.get(f"/exceptions/{case.number}").status_code == expected
    assert client.get(f"/orders/{order.number}/exceptions/new").status_code == expected
    before = (count(ExceptionCase), count(ProcessInstance))
    response = client.post(f"/orders/{order.number}/exceptions/new", data=_report_form(order, client))
    if allowed:
        assert response.status_code == 302
        assert count(ExceptionCase) == before[0] + 1
        newest = db.session.scalars(select(ExceptionCase).order_by(ExceptionCase.id.desc())).first()
        assert (newest.reported_by, newest.source) == (role, "staff")
    else:
        assert response.status_code == 403
        assert (count(ExceptionCase), count(ProcessInstance)) == before


@pytest.mark.parametrize("role", ALL)
def test_nav_link_with_the_open_count(client, shop, role):
    report(place(), "complaint", description="open")
    closed = report(place(), "entry_error", description="to be closed")
    triage(closed)
    do(closed.number, "resolve_customer_service", {"action": "correct_and_record", "resolution": "fixed",
                                                   "corrective_action": "re-keyed", "preventive_action": "check"},
       by="customer_service")
    sign_in(client, role)
    nav = client.get("/orders").text.split('aria-label="Main"')[1].split("</nav>")[0]
    shown = re.search(r'<a href="/exceptions"[^>]*>\s*Exceptions <span class="badge"[^>]*>(\d+)</span>', nav)
    if role in DESK_USERS:
        assert shown is not None and shown.group(1) == "1"
    else:
        assert shown is None and "/exceptions" not in nav


def test_every_report_needs_the_csrf_token(staff):
    order = place()
    form = _report_form(order, staff)
    before = (count(ExceptionCase), count(ProcessInstance))
    assert staff.post(f"/orders/{order.number}/exceptions/new",
                      data={k: v for k, v in form.items() if k != "csrf_token"}).status_code == 400
    forged = staff.post(f"/orders/{order.number}/exceptions/new", data={**form, "csrf_token": "forged"})
    assert forged.status_code == 400
    assert (count(ExceptionCase), count(ProcessInstance)) == before


def test_unknown_order_or_exception_is_404(staff):
    assert staff.get("/exceptions/EX-1999-000001").status_code == 404
    assert staff.get("/orders/SO-1999-000001/exceptions/new").status_code == 404
    assert staff.post("/orders/SO-1999-000001/exceptions/new", data={"csrf_token": token(staff)}).status_code == 404


# --- the list ------------------------------------------------------------------------------------------------


def test_empty_desk_says_so(staff):
    page = staff.get("/exceptions")
    assert page.status_code == 200 and "No exception has been reported yet." in page.text
    assert rows(page.text) == []


def test_list_shows_each_case_newest_first(staff, desk_cases):
    page = staff.get("/exceptions").text
    order = ["invoice", "entry", "delay", "count", "stockout", "complaint"]
    assert rows(page) == [desk_cases[name].number for name in order]
    row = page[page.index(f'data-exception="{desk_cases["delay"].number}"'):].split("</tr>")[0]
    for shown in ("Late delivery", "Logistics", "critical", "in progress", "logistics",
                  f'href="/orders/{desk_cases["delay"].order.number}"', "Harbour Tools Ltd", "4 d ago"):
        assert shown in row, shown
    stockout = page[page.index(f'data-exception="{desk_cases["stockout"].number}"'):].split("</tr>")[0]
    assert "holds the order" in stockout and "holds the order" not in row
    oldest = staff.get("/exceptions?sort=oldest").text
    assert rows(oldest) == [desk_cases[name].number for name in reversed(order)]


@pytest.mark.parametrize(("query", "expected"), [
    ("family=customer", ["complaint"]),
    ("family=inventory", ["stockout", "count"]),
    ("type=count_mismatch", ["count"]),
    ("severity=critical", ["delay"]),
    ("severity=high", ["stockout"]),
    ("status=open", ["stockout", "count", "entry", "invoice"]),
    ("status=in_progress", ["delay"]),
    ("status=closed", ["complaint"]),
    ("status=active", ["stockout", "count", "delay", "entry", "invoice"]),
    ("owner=warehouse", ["stockout", "count"]),
    ("owner=finance", ["invoice"]),
    ("age=1d", ["complaint", "stockout", "count", "delay", "entry"]),
    ("age=3d", ["complaint", "stockout", "count", "delay"]),
    ("age=7d", ["complaint"]),
    ("family=inventory&status=open&owner=warehouse&age=3d", ["stockout", "count"]),
    ("family=customer&status=open", []),
    ("family=nonsense&severity=extreme&age=forever", ["complaint", "stockout", "count", "delay", "entry", "invoice"]),
])
def test_list_filters(staff, desk_cases, query, expected):
    page = staff.get(f"/exceptions?{query}&sort=oldest")
    assert page.status_code == 200
    assert rows(page.text) == [desk_cases[name].number for name in expected]
    if not expected:
        assert "No exception matches these filters." in page.text


def _tabs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<span class="badge" data-family="(\w*)">(\d+)</span>', html))


def test_counts_per_family_follow_the_other_filters(staff, desk_cases):
    everything = staff.get("/exceptions").text
    assert _tabs(everything) == {"": "6", "customer": "1", "inventory": "2", "logistics": "1", "payment": "1",
                                 "internal": "1"}
    # The family tab itself does not narrow the counts; the other filters do.
    open_inventory = staff.get("/exceptions?family=inventory&status=open").text
    assert _tabs(open_inventory) == {"": "4", "customer": "0", "inventory": "2", "logistics": "0", "payment": "1",
                                     "internal": "1"}
    tabs = open_inventory.split('aria-label="Categories"')[1].split("</nav>")[0]
    assert '<a href="/exceptions?status=open">' in tabs  # every tab keeps the other filters
    assert re.search(r'<a href="/exceptions\?family=customer&amp;status=open"', tabs)
    assert re.search(r'<a href="/exceptions\?family=inventory&amp;status=open" aria-current="page"', tabs)


def test_filters_stay_selected_and_can_be_cleared(staff, desk_cases):
    page = staff.get("/exceptions?severity=critical&owner=logistics&age=3d&sort=oldest").text
    for selected in ('<option value="critical" selected>', '<option value="logistics" selected>',
                     '<option value="3d" selected>', '<option value="oldest" selected>'):
        assert selected in page
    assert '<a href="/exceptions">Clear</a>' in page
    assert '<a href="/exceptions">Clear</a>' not in staff.get("/exceptions").text


def test_list_is_paginated_and_pages_keep_the_filters(staff, desk_cases, monkeypatch):
    monkeypatch.setattr(desk, "PER_PAGE", 2)
    first = staff.get("/exceptions?status=active").text
    assert rows(first) == [desk_cases["invoice"].number, desk_cases["entry"].number]
    assert "Page 1 of 3" in first and "5 exceptions" in first
    assert 'href="/exceptions?page=2&amp;status=active"' in first
    third = staff.get("/exceptions?status=active&page=3").text
    assert rows(third) == [desk_cases["stockout"].number]
    assert 'rel="prev" href="/exceptions?page=2&amp;status=active"' in third and 'rel="next"' not in third
    beyond = staff.get("/exceptions?status=active&page=9").text
    assert rows(beyond) == [] and "There is no page 9." in beyond


def test_text_is_escaped(staff):
    report(place(), "complaint", description="<script>alert(1)</script>")
    page = staff.get("/exceptions/EX-2026-000001").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- one exception -------------------------------------------------------------------------------------------


def test_an_open_case_shows_its_order_details_and_open_task(staff, shop):
    order = place(("BOLT-M8", 10), ("NUT-M8", 5))
    case = report(order, "data_change", description="The customer wants 20 bolts.",
                  details={"line": 1, "quantity": 20}, reported_by="order_desk")
    task = open_task(case.number)
    page = staff.get(f"/exceptions/{case.number}")
    assert page.status_code == 200
    html = page.text
    for shown in (case.number, "Order data change", "Customer", "medium", "customer service", "order_desk",
                  "staff", "in review", "The customer wants 20 bolts.", "Quantity", "20",
                  f'<a href="/orders/{order.number}">{order.number}</a>', "Harbour Tools Ltd", "Pat Buyer",
                  "ap@harbour.example", "held by this case", "on hold",
                  f'<a href="/tasks/{task.id}">Triage exception</a>', "Not resolved yet.",
                  "Apply the change and review the order again", "started", "exception_handling v1"):
        assert shown in html, shown
    assert "The customer has not been told anything about this exception yet." in html


def test_a_closed_case_shows_its_resolution_money_back_messages_and_timeline(staff, shop):
    order = place()
    advance(order, 6)  # delivered and invoiced: 25.00
    runtime.send_message(order.number, "payment_received", {"amount": "5.00", "method": "bank_transfer"})
    case = report(order, "refused", description="The customer sends everything back.")
    triage(case)
    do(case.number, "resolve_logistics", {"action": "return_and_refund", "resolution": "Taken back and refunded.",
                                          "root_cause": "Ordered the wrong size.",
                                          "corrective_action": "Confirm sizes by phone.",
                                          "preventive_action": "Size chart on the web shop."}, by="logistics")
    do(case.number, "approve_refund_finance", {"approved": True}, by="finance")
    db.session.expire_all()
    assert case.status == "closed"
    html = staff.get(f"/exceptions/{case.number}").text
    for shown in ("Customer refused the delivery", "Logistics", "closed", "not held",
                  "Take the goods back, restock, credit or refund", "Fixed", "Taken back and refunded.",
                  "Ordered the wrong size.", "Confirm sizes by phone.", "Size chart on the web shop.",
                  "Credit note CN-2026-000001", "20.00", "Refund", "5.00", "paid out", "asked by logistics",
                  "decided by finance", "Nothing is left to do: the exception is closed.",
                  "returned", "Triage exception", "Resolve exception", "Approve refund", "by customer_service"):
        assert shown in html, shown
    messages = html.split("Messages to the customer about it")[1].split("<h2>")[0]
    assert len(re.findall(r'<li class="card">', messages)) == 4  # received, credit note, refund, resolved
    assert "order confirmed" not in messages.lower() and "shipped" not in messages.lower()


def test_a_non_conformance_is_shown_with_its_case(staff, shop):
    case = report(place(), "entry_error", description="Reference typed wrong.")
    triage(case)
    do(case.number, "resolve_customer_service", {"action": "correct_and_record", "resolution": "Re-keyed it.",
                                                 "corrective_action": "Corrected the reference.",
                                                 "preventive_action": "Second check on references."},
       by="customer_service")
    html = staff.get(f"/exceptions/{case.number}").text
    for shown in ("Non-conformance", "NC-2026-000001", "Corrected the reference.", "Second check on references."):
        assert shown in html, shown
    if not getattr(taxonomy.TYPES["entry_error"], "tells_customer", True):
        assert "The customer is not told about this kind of exception" in html


# --- reporting -------------------------------------------------------------------------------------------------


def test_report_form_shows_the_taxonomy(staff):
    order = place()
    page = staff.get(f"/orders/{order.number}/exceptions/new")
    assert page.status_code == 200
    assert f"Report exception <span class=\"key\">{order.number}" in page.text
    assert '<optgroup label="Payment &amp; settlement" data-family="payment">' in page.text
    assert page.text.count('<option value="data_change" data-family="customer" data-severity="medium"') == 1
    assert 'name="csrf_token"' in page.text


def test_report_a_complaint(staff):
    order = place()
    response = staff.post(f"/orders/{order.number}/exceptions/new",
                          data=_report_form(order, staff, description="  Bolts arrived rusty.  "))
    case = db.session.scalars(select(ExceptionCase)).one()
    assert response.status_code == 302 and response.headers["Location"] == f"/exceptions/{case.number}"
    assert (case.type, case.family, case.severity, case.source, case.reported_by, case.description, case.details) == (
        "complaint", "customer", "medium", "staff", "order_desk", "Bolts arrived rusty.", {})
    assert open_task(case.number).element_id == "triage"
    page = staff.get(response.headers["Location"]).text
    assert f"Exception {case.number} was reported on {order.number}." in page


def test_report_a_data_change_holds_the_order(staff):
    order = place(("BOLT-M8", 10), ("NUT-M8", 5))
    response = staff.post(f"/orders/{order.number}/exceptions/new", data=_report_form(
        order, staff, type="data_change", severity="high", description="More bolts, new dock.", line="1",
        quantity="25", shipping_address="Dock 9\nHarbour City"))
    assert response.status_code == 302
    case = db.session.scalars(select(ExceptionCase)).one()
    assert (case.type, case.severity, case.blocking) == ("data_change", "high", True)
    assert case.details == {"line": 1, "quantity": 25, "shipping_address": "Dock 9\nHarbour City"}
    db.session.expire_all()
    assert order.status == "on_hold"
    order_page = staff.get(f"/orders/{order.number}").text
    assert f'<a href="/exceptions/{case.number}">{case.number}</a>' in order_page


def test_report_a_count_mismatch(staff):
    order = place()
    response = staff.post(f"/orders/{order.number}/exceptions/new", data=_report_form(
        order, staff, family="inventory", type="count_mismatch", description="Bin count", sku=" nut-m8 ",
        counted="480", quantity="999"))
    assert response.status_code == 302
    case = db.session.scalars(select(ExceptionCase)).one()
    assert (case.type, case.owner_role) == ("count_mismatch", "warehouse")
    assert case.details == {"sku": "NUT-M8", "counted": 480}  # the data-change quantity is not for this type


def _refused(client, order: Order, fields: dict) -> str:
    """Post the report form; it must come back with 422 and nothing written."""
    before = (count(ExceptionCase), count(ProcessInstance))
    db.session.expire_all()
    status = db.session.get(Order, order.id).status
    response = client.post(f"/orders/{order.number}/exceptions/new", data=_report_form(order, client, **fields))
    assert response.status_code == 422, response.status_code
    assert "Nothing was reported." in response.text
    assert (count(ExceptionCase), count(ProcessInstance)) == before
    assert db.session.get(Order, order.id).status == status
    return response.text


def _field_error(html: str, name: str) -> str:
    found = re.search(rf'<span class="error" id="err-{name}">([^<]*)</span>', html)
    return unescape(found.group(1)) if found else ""


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"family": ""}, "family", "Choose the category."),
    ({"family": "weather"}, "family", "Choose the category."),
    ({"type": ""}, "type", "Choose the type of exception."),
    ({"type": "alien_invasion"}, "type", "Choose the type of exception."),
    ({"family": "inventory"}, "type", "Complaint is not in the Inventory category."),
    ({"severity": "apocalyptic"}, "severity", "Choose a severity, or leave it to the type."),
    ({"description": "   "}, "description", "Say what happened."),
    ({"description": "x" * 4001}, "description", "Field cannot be longer than 4000 characters."),
    ({"type": "data_change", "line": "1", "quantity": "many"}, "quantity",
     "Enter a whole number from 1 to 1,000,000."),
    ({"type": "data_change", "line": "1", "quantity": "0"}, "quantity", "Enter a whole number from 1 to 1,000,000."),
    ({"type": "data_change", "line": "1", "quantity": "-3"}, "quantity", "Enter a whole number from 1 to 1,000,000."),
    ({"type": "data_change", "line": "1", "quantity": "1000001"}, "quantity",
     "Enter a whole number from 1 to 1,000,000."),
    ({"type": "data_change", "line": "7", "quantity": "3"}, "line", "has no line 7."),
    ({"type": "data_change", "line": "first", "quantity": "3"}, "line", "Enter a whole number from 1 to 1,000,000."),
    ({"type": "data_change", "quantity": "3"}, "line", "Say which line the new quantity is for."),
    ({"type": "data_change", "shipping_address": "x" * 2001}, "shipping_address",
     "Field cannot be longer than 2000 characters."),
    ({"family": "inventory", "type": "count_mismatch", "counted": "4"}, "sku", "Enter the SKU that was counted."),
    ({"family": "inventory", "type": "count_mismatch", "sku": "NOPE-1", "counted": "4"}, "sku",
     "There is no product 'NOPE-1'."),
    ({"family": "inventory", "type": "count_mismatch", "sku": "NUT-M8"}, "counted", "Enter the counted quantity."),
    ({"family": "inventory", "type": "count_mismatch", "sku": "NUT-M8", "counted": "-1"}, "counted",
     "Enter a whole number from 0 to 1,000,000."),
])
def test_report_refuses_bad_input_by_field(staff, fields, field, message):
    order = place(("BOLT-M8", 10), ("NUT-M8", 5))
    html = _refused(staff, order, fields)
    assert message in _field_error(html, field), _field_error(html, field)
    assert 'aria-invalid="true" aria-describedby="err-' + field + '"' in html


def test_report_keeps_what_was_typed(staff):
    order = place(("BOLT-M8", 10), ("NUT-M8", 5))
    html = _refused(staff, order, {"type": "data_change", "description": "Wants <more>", "quantity": "12",
                                   "shipping_address": "Dock 9", "severity": "low"})
    for kept in ('<option value="customer" selected>', '<option value="data_change" data-family="customer" '
                 'data-severity="medium" selected>', '<option value="low" selected>', "Wants &lt;more&gt;</textarea>",
                 'value="12"', "Dock 9</textarea>"):
        assert kept in html, kept


def test_quantity_cannot_go_below_what_was_delivered(staff):
    order = place()
    advance(order, 5)  # shipped: 10 out
    html = _refused(staff, order, {"type": "data_change", "quantity": "4"})
    assert _field_error(html, "quantity") == "Line 1 cannot go below the 10 already delivered."


def test_an_order_that_cannot_take_it_says_so(staff):
    order = place()
    order.status = "cancelled"
    db.session.commit()
    html = _refused(staff, order, {"type": "cancellation", "description": "Cancel please."})
    assert f"{order.number} is already cancelled; it can no longer be cancelled." in html
    html = _refused(staff, order, {"type": "data_change", "description": "More please.", "quantity": "12"})
    assert f"{order.number} is already cancelled; it can no longer be changed." in html


def test_cancelling_twice_is_refused_clearly(staff):
    order = place()
    form = {"type": "cancellation", "description": "Cancel please."}
    first_post = staff.post(f"/orders/{order.number}/exceptions/new", data=_report_form(order, staff, **form))
    assert first_post.status_code == 302
    first = db.session.scalars(select(ExceptionCase)).one()
    html = _refused(staff, order, form)
    assert f"{order.number} already has a cancellation being handled ({first.number})." in html
    assert f'<a href="/exceptions/{first.number}">{first.number}</a> (Cancellation)' in html


# --- the order page and the task pages ---------------------------------------------------------------------------


def test_order_page_lists_its_exceptions_and_offers_to_report(staff):
    order = place()
    empty = staff.get(f"/orders/{order.number}").text
    assert "No exception has been reported on this order." in empty
    assert f'<a class="button" href="/orders/{order.number}/exceptions/new">Report exception</a>' in empty
    case = report(order, "complaint", description="rusty")
    page = staff.get(f"/orders/{order.number}").text
    row = page[page.index(f'data-exception="{case.number}"'):].split("</tr>")[0]
    assert f'<a href="/exceptions/{case.number}">{case.number}</a>' in row
    assert "Complaint" in row and "open" in row


def test_process_owner_sees_the_order_exceptions_but_no_report_button(client, shop):
    order = place()
    case = report(order, "complaint", description="rusty")
    sign_in(client, "process_owner")
    page = client.get(f"/orders/{order.number}").text
    assert case.number in page and f'href="/exceptions/{case.number}"' not in page
    assert "/exceptions/new" not in page


def test_exception_task_page_shows_the_case(client, shop):
    order = place()
    case = report(order, "complaint", description="Bolts arrived rusty.")
    task = open_task(case.number)
    sign_in(client, "customer_service")
    html = client.get(f"/tasks/{task.id}").text
    panel = html.split('class="card exception-summary"')[1].split("</section>")[0]
    for shown in (f'<a href="/exceptions/{case.number}">{case.number}</a>', "Complaint", "medium",
                  "customer service", f'<a href="/orders/{order.number}">{order.number}</a>', "Bolts arrived rusty."):
        assert shown in panel, shown
    assert html.index("exception-summary") < html.index('name="lock_version"')  # above the form
    assert "/exceptions/new" not in html


def test_order_task_page_offers_to_report(client, shop):
    order = place()
    task = open_task(order.number)
    sign_in(client, "order_desk")
    html = client.get(f"/tasks/{task.id}").text
    assert f'href="/orders/{order.number}/exceptions/new">Report exception</a>' in html
    assert "exception-summary" not in html
