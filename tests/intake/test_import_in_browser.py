"""In real Chromium: the order desk picks a CSV file, checks it, reads the report and imports the valid
orders from the check page without choosing the file again."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.orders.models import Order
from tests.browser.conftest import browser, page  # noqa: F401 - fixtures
from tests.intake.conftest import csv_file, line, written

pytestmark = pytest.mark.browser


def test_check_then_import_in_the_browser(desk, live_server, page, tmp_path):  # noqa: F811
    source = tmp_path / "spring orders.csv"
    source.write_bytes(csv_file(line(remarks="Fax of 2 March,\nsee page 2"), line(sku="VALVE-2", quantity="2"),
                                line("PO-2", sku="NOPE"), delimiter=";", bom=True))
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("secret-pass")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server}/orders/new")
    page.get_by_role("link", name="Import them from a CSV file").click()

    page.get_by_label("CSV file").set_input_files(str(source))
    page.get_by_label("Received by (rows without a channel)").select_option("fax")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_role("heading", name="Check of spring orders.csv")).to_be_visible()
    expect(page.locator("#row-4")).to_contain_text("unknown SKU 'NOPE'")
    expect(page.locator("#row-2")).to_contain_text("accepted")
    assert written()["Order"] == 0

    page.get_by_role("button", name="Import 1 order").click()
    expect(page.get_by_role("heading", name="Import of spring orders.csv")).to_be_visible()
    expect(page.locator("#summary")).to_contain_text("1 order imported")
    page.get_by_role("link", name="SO-2026-000001").click()
    expect(page.get_by_text("[import ref PO-1]")).to_be_visible()
    order = db.session.scalars(select(Order)).one()
    assert (order.channel, len(order.lines)) == ("fax", 2)
    assert order.remarks == "[import ref PO-1]\nFax of 2 March,\nsee page 2"
