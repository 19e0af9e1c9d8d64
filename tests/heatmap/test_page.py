"""/processes/<key>/heatmap and its JSON: managers, process owners and admins only; the figures of the
fixed floor in the table (readable without JavaScript) and in the JSON the diagram is drawn from; clear
answers to an unknown process or version and to a period or version that cannot be read."""

import re
from html import unescape

import pytest

from app.accounts.roles import ADMIN, ALL, MANAGER, PROCESS_OWNER
from tests.support import login

PAGE = "/processes/order_process/heatmap"
JSON = "/processes/order_process/heatmap.json"
ALLOWED = (MANAGER, PROCESS_OWNER, ADMIN)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def row(response, element_id: str) -> dict[str, str]:
    """The table row of one element: its figures by name, and its heading (the activity)."""
    found = re.search(rf'<tr data-element-id="{element_id}" class="heat-row">(.*?)</tr>', response.text, re.S)
    assert found, f"no row for {element_id}"
    cells = dict(re.findall(r'<td class="num" data-figure="(\w+)">(.*?)</td>', found.group(1), re.S))
    figures = {name: text(value) for name, value in cells.items()}
    figures["activity"] = text(re.search(r'<th scope="row">(.*?)</th>', found.group(1), re.S).group(1))
    return figures


@pytest.fixture
def manager(client, make_user):
    make_user("mia", MANAGER)
    login(client, "mia")
    return client


@pytest.mark.parametrize("role", ALL)
def test_only_managers_process_owners_and_admins(client, make_user, deployed, role):
    make_user("someone", role)
    login(client, "someone")
    expected = 200 if role in ALLOWED else 403
    assert client.get(PAGE).status_code == expected
    assert client.get(JSON).status_code == expected


def test_nobody_logged_in_is_sent_to_log_in(client, deployed):
    for url in (PAGE, JSON):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_table_holds_the_figures(floor, manager):
    response = manager.get(PAGE)
    assert response.status_code == 200
    page = text(response.text)
    assert "Heat map: Customer order, revised" in page
    assert "6 instances running or waiting now." in page
    assert "from 2026-02-01 to 2026-03-02 (UTC)" in page  # the last 30 days unless asked otherwise
    assert "All versions together, drawn on version 2." in page

    assert row(response, "review_order") == {"activity": "Review order review_order", "count": "2", "visits": "4",
                                             "median": "4.0 h", "p90": "6.0 h"}
    assert row(response, "pick_goods") == {"activity": "Pick pick_goods", "count": "3", "visits": "1",
                                           "median": "6.0 h", "p90": "6.0 h"}
    assert row(response, "goods_received") == {"activity": "Customer confirms receipt goods_received", "count": "1",
                                               "visits": "—", "median": "—", "p90": "—"}
    assert row(response, "pack_goods")["median"] == "1.0 h" and row(response, "pack_goods")["count"] == "0"
    # the swatch of each row is its step on the scale, the legend lists the steps
    swatch = r'data-element-id="pick_goods" class="heat-row">\s*<th scope="row"><span class="heat-swatch heat-5">'
    assert re.search(swatch, response.text)
    assert "nobody there" in page and "3 instances" in page
    # the diagram's script reads the same figures as JSON
    assert 'data-heatmap-url="/processes/order_process/heatmap.json?period=last_30_days"' in response.text
    assert "<script>" not in response.text  # no inline script


def test_the_period_and_the_version_are_chosen(floor, manager):
    week = manager.get(f"{PAGE}?period=last_7_days")
    assert row(week, "review_order") | {"activity": ""} == {"activity": "", "count": "2", "visits": "3",
                                                            "median": "3.0 h", "p90": "6.0 h"}
    assert "from 2026-02-24 to 2026-03-02 (UTC)" in text(week.text)
    assert '<option value="last_7_days" selected>' in week.text

    first = manager.get(f"{PAGE}?version=1&period=last_7_days")
    assert row(first, "review_order")["count"] == "1" and row(first, "pick_goods")["count"] == "3"
    assert "Heat map: Customer order " in text(first.text) and '<option value="1" selected>v1</option>' in first.text
    assert 'data-heatmap-url="/processes/order_process/heatmap.json?version=1&amp;period=last_7_days"' in first.text


def test_the_json(floor, manager):
    data = manager.get(JSON).get_json()
    review = next(place for place in data["places"] if place["id"] == "review_order")
    assert {key: review[key] for key in ("label", "count", "level", "visits", "median_text", "p90_text")} == {
        "label": "Review order", "count": 2, "level": 4, "visits": 4, "median_text": "4.0 h", "p90_text": "6.0 h"}
    assert review["summary"] == "2 instances here now; median 4.0 h, 90th percentile 6.0 h over 4 completed"
    receipt = next(place for place in data["places"] if place["id"] == "goods_received")
    assert (receipt["count"], receipt["timed"], receipt["kind_text"]) == (1, False, "waits for a message")
    assert receipt["summary"] == "1 instance here now"
    assert data["diagram"]["version"] == 2 and "<bpmn:definitions" in data["diagram"]["xml"]
    assert data["process"] == {"key": "order_process", "name": "Customer order, revised",
                               "label": "Customer order, revised"}

    second = manager.get(f"{JSON}?version=2&period=last_7_days").get_json()
    assert [(place["id"], place["count"]) for place in second["places"] if place["count"]] == [("review_order", 1)]
    assert second["instances"] == 1 and second["version"] == 2


def test_an_unknown_process_or_version_is_not_found(floor, manager):
    response = manager.get("/processes/no_such_process/heatmap")
    assert response.status_code == 404
    assert "No process “no_such_process” has been deployed." in text(response.text)
    response = manager.get("/processes/no_such_process/heatmap.json")
    assert response.status_code == 404 and response.get_json()["message"] == (
        "No process “no_such_process” has been deployed.")
    # what no BPMN id holds (a NUL byte PostgreSQL would refuse) never reaches the database
    response = manager.get("/processes/order%00process/heatmap")
    assert response.status_code == 404 and "There is no process by that name." in text(response.text)
    response = manager.get(f"{PAGE}?version=7")
    assert response.status_code == 404
    assert "The process “order_process” has no version 7." in text(response.text)


@pytest.mark.parametrize("query, message", [
    ("period=yesterday", "Choose one of the periods offered: the last 7 or the last 30 days."),
    ("version=two", "“two” is not a version number."),
    ("version=-1", "“-1” is not a version number."),
    ("version=%C2%B2", "“²” is not a version number."),  # a digit to str.isdigit, not to int()
])
def test_what_cannot_be_read_is_refused_clearly(floor, manager, query, message):
    page = manager.get(f"{PAGE}?{query}")
    assert page.status_code == 400 and message in text(page.text)
    data = manager.get(f"{JSON}?{query}")
    assert data.status_code == 400 and data.get_json()["message"] == message


def test_the_processes_page_links_to_the_heat_maps(floor, manager):
    html = manager.get("/processes").text
    assert 'href="/processes/order_process/heatmap"' in html
    assert 'href="/processes/order_process/heatmap?version=1"' in html
    assert 'href="/processes/order_process/heatmap?version=2"' in html
    assert 'href="/processes/exception_handling/heatmap"' in html


def test_others_see_no_link_to_the_heat_maps(floor, client, make_user):
    make_user("wes", "warehouse")
    login(client, "wes")
    html = client.get("/processes").text
    assert "Deployed definitions" in html and "/heatmap" not in html
