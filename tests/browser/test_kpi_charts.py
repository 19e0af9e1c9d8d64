"""In real Chromium: a manager opens the key figures and Chart.js, served from app/static/vendor, draws
every chart from the figures the page carries; a clerk is refused."""

import pytest

from app import clock
from tests.kpis import dataset
from tests.support import unavailable

pytestmark = pytest.mark.browser


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_a_manager_sees_the_charts_drawn(live_server, page, make_user):
    clock.freeze(dataset.NOW)
    dataset.build()
    make_user("mia", "manager")
    _log_in(page, live_server, "mia")
    problems = []  # on the KPI page itself: a script error, a file not found
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(f"{live_server}/manager/kpis?period=custom&from=2026-03-01&to=2026-03-31")
    if not page.evaluate("typeof Chart !== 'undefined'"):
        unavailable("Chart.js is not in app/static/vendor (run `make setup`)")
    page.wait_for_function("document.querySelectorAll('.kpi-chart.drawn').length === 8")
    cycle = page.evaluate("Chart.getChart(document.querySelector('canvas[data-chart=cycle_times]')).data")
    assert cycle["labels"] == ["Arrange shipment", "Review order", "Pick"]
    assert [dataset["data"] for dataset in cycle["datasets"]] == [[6, 4, 2], [6, 9, 3]]
    ages = page.evaluate("Chart.getChart(document.querySelector('canvas[data-chart=receivables_by_age]')).data")
    assert ages["datasets"][0]["data"] == [350, 450, 600, 700, 1000]
    assert "25.0 % 1 of 4" in page.locator(".kpi-figure[data-kpi=perfect]").inner_text()
    assert problems == []


def test_a_clerk_is_refused(live_server, page, make_user):
    make_user("pia", "warehouse")
    _log_in(page, live_server, "pia")
    response = page.goto(f"{live_server}/manager/kpis")
    assert response.status == 403
