"""The heat map's figures on the fixed floor of tests/heatmap/dataset.py, worked out by hand there:
who stands where now (people's tasks from the inbox, receive tasks from the stored workflow), how long
finished visits took over the last 7 or 30 days, per version or all versions together."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock, heatmap
from app.extensions import db
from app.heatmap.elements import layout
from app.heatmap.report import Step, level, scale
from app.kpis.measures import Spread
from app.kpis.period import Period
from app.workflow import runtime
from app.workflow.models import HumanTask
from tests.engine import bpmn_factory as bf
from tests.heatmap import dataset

H = timedelta(hours=1)
NO_VISITS = Spread(0, None, None)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    """The counts come from SQL (distinct instances per open task, joins on the instance): both databases."""
    return request.param


def by_id(found: heatmap.HeatMap) -> dict[str, heatmap.Place]:
    return {place.element.id: place for place in found.places}


def restored(ctx) -> int:
    return ctx.extensions["orderly.heatmap_positions"].restored


def test_all_versions_over_the_last_30_days(floor):
    found = heatmap.heat_map("order_process", Period.preset("last_30_days"))
    places = by_id(found)

    assert (places["review_order"].count, places["review_order"].time) == (2, Spread(4, 4 * H, 6 * H))  # D, G
    assert (places["pick_goods"].count, places["pick_goods"].time) == (3, Spread(1, 6 * H, 6 * H))  # B, C, F
    for element_id in ("pack_goods", "check_goods", "arrange_shipment"):
        assert (places[element_id].count, places[element_id].time) == (0, Spread(1, H, H))
    # A waits for the customer's message: counted from its stored workflow, its time not measured
    assert (places["goods_received"].count, places["goods_received"].time) == (1, None)
    assert places["goods_received"].element.kind == "receiveTask"
    assert (places["await_payment"].count, places["await_payment"].time) == (0, None)
    assert places["collections"].count == 0 and places["collections"].time == NO_VISITS
    assert sum(place.count for place in found.places) == 6 == found.instances  # E was cancelled
    assert all(place.in_diagram for place in found.places)

    # the colour scale: Pick is the most crowded (3)
    assert found.top == 3
    assert [(id_, places[id_].level) for id_ in ("pick_goods", "review_order", "goods_received", "pack_goods")] == [
        ("pick_goods", 5), ("review_order", 4), ("goods_received", 2), ("pack_goods", 0)]
    assert found.scale == [Step(2, 1, 1), Step(4, 2, 2), Step(5, 3, 3)]
    # the most crowded first, then the slowest
    assert [place.element.id for place in found.places][:6] == [
        "pick_goods", "review_order", "goods_received", "arrange_shipment", "check_goods", "pack_goods"]

    # drawn on the newest version; every version listed
    assert (found.shown.version, found.name, found.versions, found.version) == (2, dataset.REVISED_NAME, [2, 1], None)


def test_the_period_chooses_the_visits(floor):
    places = by_id(heatmap.heat_map("order_process", Period.preset("last_7_days")))
    # F's review (5 h, twenty days ago) falls out
    assert places["review_order"].time == Spread(3, 3 * H, 6 * H)
    assert places["pick_goods"].time == Spread(1, 6 * H, 6 * H)
    # who stands where does not depend on the period
    assert (places["review_order"].count, places["pick_goods"].count) == (2, 3)


def test_one_version(floor):
    first = heatmap.heat_map("order_process", Period.preset("last_30_days"), version=1)
    places = by_id(first)
    assert (places["review_order"].count, places["pick_goods"].count, places["goods_received"].count) == (1, 3, 1)
    assert places["review_order"].time == Spread(4, 4 * H, 6 * H)
    assert (first.instances, first.shown.version, first.version, first.name) == (5, 1, 1, "Customer order")

    second = heatmap.heat_map("order_process", Period.preset("last_30_days"), version=2)
    places = by_id(second)
    assert (places["review_order"].count, places["review_order"].time) == (1, NO_VISITS)  # G
    assert all(place.count == 0 for place in second.places if place.element.id != "review_order")
    assert second.instances == 1 and second.top == 1 and places["review_order"].level == 5


def test_unknown_process_or_version(floor):
    with pytest.raises(heatmap.UnknownProcess):
        heatmap.heat_map("no_such_process", Period.preset("last_7_days"))
    with pytest.raises(heatmap.UnknownProcess):
        heatmap.heat_map("order_process", Period.preset("last_7_days"), version=3)


def test_as_json(floor):
    data = json.loads(json.dumps(heatmap.heat_map("order_process", Period.preset("last_30_days")).as_json()))
    review = next(place for place in data["places"] if place["id"] == "review_order")
    assert review == {"id": "review_order", "name": "Review order", "kind": "userTask", "trigger": "",
                      "in_diagram": True, "count": 2, "level": 4, "timed": True, "visits": 4,
                      "median_seconds": 4 * 3600, "p90_seconds": 6 * 3600}
    receipt = next(place for place in data["places"] if place["id"] == "goods_received")
    assert (receipt["count"], receipt["timed"], receipt["median_seconds"]) == (1, False, None)
    assert data["diagram"]["version"] == 2 and data["diagram"]["xml"].startswith("<?xml")
    assert data["period"] == {"start": "2026-02-01T00:00:00+00:00", "end": "2026-03-03T00:00:00+00:00"}
    assert (data["instances"], data["top"], data["versions"]) == (6, 3, [2, 1])
    assert data["scale"] == [{"level": 2, "low": 1, "high": 1}, {"level": 4, "low": 2, "high": 2},
                             {"level": 5, "low": 3, "high": 3}]


def test_a_waiting_instance_is_restored_once_per_change(floor, ctx):
    period = Period.preset("last_7_days")
    heatmap.heat_map("order_process", period)
    assert restored(ctx) == 1  # A, the one instance waiting; the others stand at people's tasks
    heatmap.heat_map("order_process", period)
    assert restored(ctx) == 1  # A has not moved: remembered

    clock.advance(2 * H)
    runtime.send_message(floor["A"], "goods_received", {"signed_by": "Dock 4"})
    places = by_id(heatmap.heat_map("order_process", period))
    assert restored(ctx) == 2
    assert (places["goods_received"].count, places["await_payment"].count) == (0, 1)


def _fork() -> str:
    """start → fork → (Sign, a person's task ‖ cool-off, a one-day timer) → join → end."""
    nodes = [bf.start(), bf.parallel("fork"), bf.user("sign", name="Sign"), bf.timer("cool_off", "'P1D'"),
             bf.parallel("join"), bf.end()]
    flows = [bf.flow("start", "fork"), bf.flow("fork", "sign"), bf.flow("fork", "cool_off"), bf.flow("sign", "join"),
             bf.flow("cool_off", "join"), bf.flow("join", "end")]
    return bf.document(bf.process("sb_fork", nodes, flows), doc_id="sb_fork")


def test_a_wait_beside_a_persons_task_is_found(ctx):
    bf.deploy(_fork())
    instance = runtime.start("sb_fork", "FORK-1", {})
    assert instance.status == "running"
    places = by_id(heatmap.heat_map("sb_fork", Period.preset("last_7_days")))
    assert (places["sign"].count, places["cool_off"].count, places["join"].count) == (1, 1, 0)
    assert places["cool_off"].element.trigger == "timer"

    sign = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).one()
    runtime.complete_task(instance.id, sign.spiff_task_id, {})
    places = by_id(heatmap.heat_map("sb_fork", Period.preset("last_7_days")))
    # the token of Sign now waits at the join for the timer's
    assert (places["sign"].count, places["cool_off"].count, places["join"].count) == (0, 1, 1)
    assert places["sign"].time.count == 1


def _with_side_path(then: list[bf.Node]) -> str:
    """A person's task with a non-interrupting one-hour timer on its boundary, leading to `then` → end."""
    chain = [bf.start(), bf.user("work", name="Work"), bf.end()]
    side = [bf.boundary_timer("nudge", "work", "'PT1H'"), *then, bf.end("side_end")]
    flows = [bf.flow("start", "work"), bf.flow("work", "end")]
    flows += [bf.flow(a.id, b.id) for a, b in zip(side, side[1:], strict=False)]
    return bf.document(bf.process("sb_side", chain + side, flows), doc_id="sb_side")


def test_which_diagrams_let_a_token_wait_beside_a_persons_task():
    assert layout(_fork(), "sb_fork").waits_beside_people
    assert layout(_with_side_path([bf.timer("wait_a_day", "'P1D'")]), "sb_side").waits_beside_people
    # a side path that only runs a script ends at once: running instances need no restoring
    assert not layout(_with_side_path([bf.script("note", "noted = True")]), "sb_side").waits_beside_people
    shipped = layout((dataset.ROOT / "workflows" / "order_process.bpmn").read_text(), "order_process")
    assert {"goods_received", "await_payment", "stockout_decided", "repick_decided"} <= {
        element.id for element in shipped.places.values() if not element.human}
    assert "do_review_checks" not in shipped.places  # a service task never waits


def test_the_colour_scale():
    assert [level(count, 10) for count in (0, 1, 2, 3, 9, 10)] == [0, 1, 1, 2, 5, 5]
    assert scale(10) == [Step(1, 1, 2), Step(2, 3, 4), Step(3, 5, 6), Step(4, 7, 8), Step(5, 9, 10)]
    assert scale(1) == [Step(5, 1, 1)] and scale(0) == []
    # every count from 1 to the top falls in exactly the step its level names
    for top in range(1, 30):
        for count in range(1, top + 1):
            assert [step.level for step in scale(top) if step.low <= count <= step.high] == [level(count, top)]
