"""/orders/import: the order desk checks a CSV file row by row, then imports its valid orders."""

import csv
import io
import re

import pytest
from sqlalchemy import select

from app.accounts.roles import ALL
from app.extensions import db
from app.orders import intake
from app.orders.models import Order
from tests.intake.conftest import NOTHING, csv_file, line, written
from tests.support import csrf_token, login


def post(client, file: bytes | None, action="check", channel="phone", filename="orders.csv", **more):
    data = {"csrf_token": csrf_token(client.get("/orders/import").text), "channel": channel, "action": action, **more}
    if file is not None:
        data["file"] = (io.BytesIO(file), filename)
    else:
        data["filename"] = filename  # the check page's form carries it with the packed file
    return client.post("/orders/import", data=data, content_type="multipart/form-data")


def packed(page: str) -> str:
    match = re.search(r'name="content" value="([^"]+)"', page)
    assert match, "the check page offers no import"
    return match.group(1)


def refusal(page: str) -> str:
    box = page.split('class="card error-box"', 1)[1].split("</div>", 1)[0]
    assert "The file was not taken; nothing was changed." in box
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", box)).replace("&#34;", '"').replace("&#39;", "'")


# Access -----------------------------------------------------------------------------------------------------


def test_the_pages_need_login(client, shop):
    for url in ("/orders/import", "/orders/import/template.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ALL)
def test_the_import_is_for_the_order_desk_and_admins(client, shop, deployed, make_user, role):
    make_user("someone", role)
    login(client, "someone")
    allowed = role in ("order_desk", "admin")
    assert client.get("/orders/import").status_code == (200 if allowed else 403)
    assert client.get("/orders/import/template.csv").status_code == (200 if allowed else 403)
    token = csrf_token(client.get("/account").text)
    for action in ("check", "import"):
        response = client.post("/orders/import", content_type="multipart/form-data", data={
            "csrf_token": token, "channel": "phone", "action": action,
            "file": (io.BytesIO(csv_file(line())), "orders.csv")})
        assert response.status_code == (200 if allowed else 403)
        response.get_data()  # the import page is streamed: reading it is what imports
    assert written()["Order"] == (1 if allowed else 0)


def test_warehouse_staff_get_403_and_nothing_is_written(client, shop, deployed, make_user):
    make_user("wes", "warehouse")
    login(client, "wes")
    response = client.post("/orders/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client.get("/account").text), "channel": "phone", "action": "import",
        "file": (io.BytesIO(csv_file(line())), "orders.csv")})
    assert response.status_code == 403
    assert written() == NOTHING


def test_post_without_or_with_a_forged_csrf_token_is_refused(desk):
    for token in (None, "forged"):
        data = {"channel": "phone", "action": "import", "file": (io.BytesIO(csv_file(line())), "orders.csv")}
        if token:
            data["csrf_token"] = token
        assert desk.post("/orders/import", data=data, content_type="multipart/form-data").status_code == 400
    assert written() == NOTHING


# The pages --------------------------------------------------------------------------------------------------


def test_the_upload_page_explains_the_columns_and_links_the_template(desk):
    page = desk.get("/orders/import").text
    assert 'enctype="multipart/form-data"' in page and 'name="csrf_token"' in page
    for column in ("order_ref", "customer_code", "channel", "sku", "quantity", "unit_price", "requested_date",
                   "payment_method", "shipping_address", "remarks"):
        assert f"<code>{column}</code>" in page
    assert "2,097,152 bytes and 5,000 rows" in page
    assert 'href="/orders/import/template.csv"' in page
    channels = re.findall(r'<option value="([a-z_]+)"', page.split('name="channel"')[1].split("</select>")[0])
    assert channels == ["phone", "fax", "email", "sales_rep"]
    assert 'href="/orders/import"' in desk.get("/orders/new").text  # reached from the order form


def test_the_template_is_a_header_and_an_example_row_that_passes_the_check(desk):
    response = desk.get("/orders/import/template.csv")
    assert response.mimetype == "text/csv"
    assert 'filename="orders-import-template.csv"' in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    header, example = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert header[:2] == ["order_ref", "customer_code"] and len(example) == len(header)
    assert dict(zip(header, example, strict=True))["requested_date"] == "2026-04-01"  # 30 days from today
    page = post(desk, response.data, filename="orders-import-template.csv")
    assert "1 order can be imported" in page.text


def test_check_shows_every_row_and_its_reasons_and_writes_nothing(desk):
    content = csv_file(line(), line(sku="VALVE-2", quantity="2"), line("PO-2", customer="NOPE"),
                       line("PO-3", quantity="x", requested_date="2026-13-01"), line("PO-4", channel="web"))
    response = post(desk, content)
    assert response.status_code == 200
    page = response.text
    assert "Check of orders.csv" in page and "Nothing has been saved yet." in page
    for count in ("5 rows", "4 orders", "1 order can be imported", "0 orders were imported before",
                  "3 orders refused"):
        assert f'<span class="count">{count}</span>' in page
    rows = {int(number): re.sub(r"<[^>]+>|\s+", " ", cells).split() for number, cells in
            re.findall(r'<tr id="row-(\d+)">(.*?)</tr>', page, re.S)}
    assert rows[2] == ["2", "PO-1", "GOOD", "accepted"] and rows[3] == ["3", "PO-1", "GOOD", "accepted"]
    assert " ".join(rows[4]) == "4 PO-2 NOPE refused customer_code : unknown customer &#39;NOPE&#39;"
    assert " ".join(rows[5]) == ("5 PO-3 GOOD refused quantity : &#39;x&#39; is not a whole number "
                                 "requested_date : &#39;2026-13-01&#39; is not a date (YYYY-MM-DD)")
    assert "channel : &#39;web&#39; is not one of phone, fax, email, sales_rep" in " ".join(rows[6])
    assert "Import 1 order" in page
    assert written() == NOTHING


def test_check_then_import_takes_the_checked_file_without_uploading_it_again(desk):
    check = post(desk, csv_file(line(channel=""), line("PO-2", sku="NOPE")), channel="email")
    assert written() == NOTHING
    response = post(desk, None, action="import", channel="email", content=packed(check.text))
    assert response.status_code == 200
    page = response.text
    assert "Import of orders.csv" in page
    assert re.search(r'PO-1 \(GOOD\): <span class="status completed">imported as '
                     r'<a href="/orders/SO-2026-000001">SO-2026-000001</a>', page)
    for count in ("1 order imported", "0 orders were imported before", "1 order refused", "1 row refused"):
        assert f'<span class="count">{count}</span>' in page
    assert "unknown SKU &#39;NOPE&#39;" in page.split("Refused rows")[1]
    order = db.session.scalars(select(Order)).one()
    assert (order.channel, order.entered_by, order.remarks) == ("email", "dana", "[import ref PO-1]")
    assert written()["ProcessInstance"] == 1


def test_importing_the_same_file_twice_creates_each_order_once(desk):
    content = csv_file(line(), line("PO-2"), line("PO-2", sku="VALVE-2", quantity="1"))
    first = post(desk, content, action="import")
    assert '<span class="count">2 orders imported</span>' in first.text
    again = post(desk, content, action="import")
    assert '<span class="count">0 orders imported</span>' in again.text
    assert '<span class="count">2 orders were imported before</span>' in again.text
    assert 'already imported as <a href="/orders/SO-2026-000002">SO-2026-000002</a>' in again.text
    assert written() == {"Order": 2, "OrderLine": 3, "ProcessInstance": 2, "HumanTask": 2, "NumberSequence": 1}
    check = post(desk, content)
    assert '<span class="count">2 orders were imported before</span>' in check.text and "Import 0" not in check.text
    assert 'name="content"' not in check.text and "No order in this file can be imported." in check.text


def test_unknown_columns_are_named_on_the_report(desk):
    content = csv_file(["PO-1", "GOOD", "BOLT-M8", "3", "red"],
                       header=["order_ref", "customer_code", "sku", "quantity", "Colour"])
    assert "These columns are not used and were ignored: colour." in post(desk, content).text


def test_an_unexpected_failure_stops_the_import_and_says_so(desk, monkeypatch):
    real, calls = intake.place_order, []

    def place_order(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        return real(*args, **kwargs)

    monkeypatch.setattr(intake, "place_order", place_order)
    response = post(desk, csv_file(line(), line("PO-2"), line("PO-3")), action="import")
    assert response.status_code == 200
    assert "The import stopped at an unexpected error." in response.text
    assert '<span class="count">1 order imported</span>' in response.text
    assert '<span class="count">2 orders not reached</span>' in response.text
    assert written()["Order"] == written()["ProcessInstance"] == 1


# Files that are refused -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "message"), [
    (b"", "The file is empty."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is not a CSV file: it holds binary data."),
    ("order_ref,customer_code,sku,quantity\r\nPO-1,Köln,BOLT-M8,1\r\n".encode("latin-1"),
     "The file is not UTF-8 text (line 2)."),
    (b"order_ref,customer_code,sku,quantity\r\n", "The file has a header but no rows."),
    (b'order_ref,customer_code,sku,quantity\r\nPO-1,GOOD,"BOLT-M8,3\r\n',
     "The file cannot be read as CSV (line 2: unexpected end of data)."),
    (b"customer_code;sku\r\nGOOD;BOLT-M8\r\n",
     "Required columns are missing: order_ref, quantity. The header has: customer_code, sku."),
    (b"hello", "Required columns are missing: order_ref, customer_code, sku, quantity. The header has: hello."),
    (b"order_ref,sku,sku,quantity,customer_code\r\n", "These columns appear more than once: sku."),
])
def test_a_bad_file_is_refused_with_a_clear_message(desk, content, message):
    response = post(desk, content, action="import")
    assert response.status_code == 400
    assert message in refusal(response.text)
    assert written() == NOTHING


def test_no_file_is_a_400(desk):
    response = post(desk, None)
    assert response.status_code == 400 and "Choose a CSV file." in refusal(response.text)


def test_a_missing_channel_or_action_is_a_400(desk):
    for changes in ({"channel": "web"}, {"action": "delete"}):
        response = post(desk, csv_file(line()), **{"channel": "phone", "action": "import", **changes})
        assert response.status_code == 400 and "Choose how the orders were received" in refusal(response.text)
    assert written() == NOTHING


def test_a_tampered_checked_file_is_a_400(desk):
    for content in ("not base64 at all!", "aGVsbG8="):  # the second is base64, but not a packed file
        response = post(desk, None, action="import", content=content)
        assert response.status_code == 400
        assert "The checked file could not be read back. Choose it again." in refusal(response.text)
    assert written() == NOTHING


def test_a_file_too_large_is_a_413(desk, app):
    content = csv_file(line(), line("PO-2"))
    app.config["ORDER_IMPORT_MAX_BYTES"] = len(content) - 1
    response = post(desk, content, action="import")
    assert response.status_code == 413
    assert f"The file is larger than {len(content) - 1:,} bytes." in refusal(response.text)
    assert written() == NOTHING


def test_a_request_far_too_large_is_refused_before_it_is_read(desk, app):
    app.config["ORDER_IMPORT_MAX_BYTES"] = 1000
    response = post(desk, csv_file(line(remarks="x" * 5000)), action="import")
    assert response.status_code == 413 and "The file is larger than 1,000 bytes." in refusal(response.text)
    assert written() == NOTHING


def test_a_packed_file_that_unpacks_too_large_is_a_413(desk, app):
    check = post(desk, csv_file(*(line(f"PO-{n}") for n in range(40))))
    app.config["ORDER_IMPORT_MAX_BYTES"] = 500
    response = post(desk, None, action="import", content=packed(check.text))
    assert response.status_code == 413
    assert written() == NOTHING


def test_too_many_rows_is_a_413(desk, app):
    app.config["ORDER_IMPORT_MAX_ROWS"] = 2
    response = post(desk, csv_file(line(), line("PO-2"), line("PO-3")), action="import")
    assert response.status_code == 413
    assert "The file has more than 2 rows. Split it into smaller files." in refusal(response.text)
    assert written() == NOTHING
