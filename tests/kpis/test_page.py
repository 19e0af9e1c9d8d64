"""/manager/kpis: managers and admins only; the figures of the fixed data set in tables and in the JSON
the charts are drawn from; every period a manager can ask for, and a clear answer to one that cannot be read."""

import json
import re
from html import unescape

import pytest

from app import clock
from app.accounts.roles import ADMIN, ALL, MANAGER
from app.extensions import db
from tests.kpis import dataset
from tests.support import login

MARCH = "/manager/kpis?period=custom&from=2026-03-01&to=2026-03-31"


@pytest.fixture
def manager(client, make_user):
    make_user("mia", MANAGER)
    login(client, "mia")
    return client


def text(response) -> str:
    """The page's words, tags taken out and spaces made single."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.text)))


def charts(response) -> dict:
    found = re.search(r'<script type="application/json" id="kpi-charts">(.*?)</script>', response.text, re.S)
    assert found, "the page carries no chart figures"
    return json.loads(found.group(1))


def table(response, name: str) -> list[list[str]]:
    """The rows of the table marked data-table=name, each as its cells' text."""
    found = re.search(rf'<table class="kpi-table" data-table="{name}">(.*?)</table>', response.text, re.S)
    assert found, f"no table {name}"
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    return [[re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", cell))).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows]


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/manager/kpis")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", [role for role in ALL if role not in (MANAGER, ADMIN)])
def test_only_managers_and_admins_see_the_figures(client, make_user, role):
    make_user("someone", role)
    login(client, "someone")
    response = client.get(MARCH)
    assert response.status_code == 403
    assert "kpi-charts" not in response.text


@pytest.mark.parametrize("role", [MANAGER, ADMIN])
def test_managers_and_admins_open_the_page(client, make_user, role):
    make_user("boss", role)
    login(client, "boss")
    assert client.get("/manager/kpis").status_code == 200


def test_the_figures_of_march(march, manager):
    response = manager.get(MARCH)
    assert response.status_code == 200
    words = text(response)
    assert "From 2026-03-01 to 2026-03-31: 31 days (UTC)." in words
    # the headline figures, each with what it rests on (worked out in test_figures.py)
    assert "On-time delivery 75.0 % 3 of 4" in words
    assert "1 delivered without a promised date, left out" in words
    assert "Perfect orders 25.0 % 1 of 4" in words
    assert "Exceptions per 100 orders 50.0 4 exceptions, 8 orders entered" in words
    assert "Days sales outstanding 68.6 days" in words
    assert "receivables 3,100.00 ÷ net credit sales 1,400.00 × 31 days" in words

    assert ["Review order", "order desk", "3", "4.0 h", "9.0 h"] in table(response, "cycle_times")
    assert ["Order entered → delivered", "5", "8.1 d", "10.0 d"] in table(response, "cycle_times")  # 194h, 240h
    assert table(response, "open_tasks")[1:] == [["Pick", "warehouse", "2"], ["Review order", "order desk", "1"],
                                                 ["Triage exception", "customer service", "1"]]
    assert ["Logistics", "2", "25.0"] in table(response, "exception_rate")
    assert ["Inventory", "0", "0.0"] in table(response, "exception_rate")
    teams = table(response, "teams")
    assert ["order desk", "66.7 % 2 of 3", "0", "1", "1", "0"] in teams
    assert ["finance", "no data", "0", "0", "1", "0"] in teams  # escalated, but no task completed: not 0 %
    assert ["31–60 days past due", "1", "600.00"] in table(response, "receivables_by_age")
    assert ["Total", "7", "3,100.00"] in table(response, "receivables_by_age")
    assert ["Reminder 3 (collections)", "2", "1,700.00"] in table(response, "receivables_by_level")
    assert ["Perfect orders: all four", "25.0 % 1 of 4"] in table(response, "perfect")

    figures = charts(response)
    assert figures["cycle_times"]["labels"] == ["Arrange shipment", "Review order", "Pick"]
    assert [series["data"] for series in figures["cycle_times"]["series"]] == [[6.0, 4.0, 2.0], [6.0, 9.0, 3.0]]
    assert figures["exception_rate"]["series"][0]["data"] == [12.5, 0.0, 25.0, 12.5, 0.0]
    assert figures["sla_compliance"]["series"][0]["data"] == [66.7, 100.0, 0.0, None, None]
    assert figures["receivables_by_age"]["series"][0]["data"] == [350.0, 450.0, 600.0, 700.0, 1000.0]
    assert figures["receivables_by_level"]["series"][0]["data"] == [650.0, 150.0, 600.0, 1700.0]
    assert figures["escalations"]["series"][2]["data"] == [0, 0, 1, 0, 0]  # long overdue: logistics


def test_charts_come_from_the_vendored_chartjs_and_no_inline_code(march, manager):
    response = manager.get(MARCH)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.text, re.S)
    assert all('src="' in attributes or 'type="application/json"' in attributes for attributes, _ in scripts)
    sources = [re.search(r'src="([^"]+)"', attributes).group(1) for attributes, _ in scripts if "src=" in attributes]
    assert sources == ["/static/vendor/chartjs/chart.umd.min.js", "/static/js/kpi_charts.js"]
    with manager.get("/static/js/kpi_charts.js") as script:
        assert script.status_code == 200
    assert len(re.findall(r'<canvas data-chart="', response.text)) == 8


@pytest.mark.parametrize(("query", "first", "last"), [
    ("", "2026-03-12", "2026-04-10"),  # the last 30 days by default
    ("?period=last_7_days", "2026-04-04", "2026-04-10"),
    ("?period=this_month", "2026-04-01", "2026-04-10"),
])
def test_presets(march, manager, query, first, last):
    response = manager.get(f"/manager/kpis{query}")
    assert response.status_code == 200
    assert f"From {first} to {last}:" in text(response)


def test_a_period_without_data_says_so(march, manager):
    response = manager.get("/manager/kpis?period=custom&from=2025-06-01&to=2025-06-30")
    assert response.status_code == 200
    words = text(response)
    assert "On-time delivery no data" in words and "Perfect orders no data" in words
    assert "Days sales outstanding no data no credit sales in the period" in words
    assert "No data: no task was completed in the period." in words
    assert "0.0 %" not in words


@pytest.mark.parametrize(("query", "message"), [
    ("period=custom&from=2026-02-30&to=2026-03-31", "“2026-02-30” is not a date"),
    ("period=custom&from=1%2F3%2F2026&to=2026-03-31", "“1/3/2026” is not a date"),
    ("period=custom&from=2026-03-31&to=2026-03-01", "The last day (2026-03-01) comes before the first day"),
    ("period=custom&from=2026-03-01&to=2026-05-01", "The period cannot end after today (2026-04-10)."),
    ("period=custom&from=2026-03-01&to=9999-12-31", "The period cannot end after today (2026-04-10)."),
    ("period=custom&from=2026-03-01", "Enter the last day of the period."),
    ("from=&to=2026-03-01&period=custom", "Enter the first day of the period."),
    ("period=yesterday", "Choose one of the periods offered."),
])
def test_a_period_that_cannot_be_read_is_answered_clearly(march, manager, query, message):
    response = manager.get(f"/manager/kpis?{query}")
    assert response.status_code == 400
    words = text(response)
    assert message in words
    assert "First day" in words and "kpi-charts" not in response.text  # the form again, no figures


def test_what_was_typed_comes_back_escaped(march, manager):
    response = manager.get("/manager/kpis?period=custom&from=<b>x</b>&to=2026-03-01")
    assert response.status_code == 400
    assert "<b>x</b>" not in response.text and "&lt;b&gt;x&lt;/b&gt;" in response.text


def test_the_clock_decides_what_today_is(march, manager):
    clock.freeze(dataset.at("03-31 12:00"))
    assert manager.get("/manager/kpis?period=custom&from=2026-03-01&to=2026-04-01").status_code == 400
    assert manager.get(MARCH).status_code == 200


def test_the_page_reads_in_chinese(march, client, make_user):
    user = make_user("wei", "manager")
    user.locale = "zh"
    db.session.commit()
    login(client, "wei")
    response = client.get(MARCH)
    assert response.status_code == 200
    assert "2026-03-01" in response.text and "31" in response.text
