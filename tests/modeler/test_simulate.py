"""Testing a draft against a scenario: the path it takes, what operations would have been asked (never
run), and where it stops — for an answer, a message, an error, too many steps or too much time."""

import json
import multiprocessing
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.catalog.models import StockMove
from app.extensions import db
from app.fulfilment.models import Shipment
from app.modeler import simulate
from app.notifications.models import OutboxMessage
from app.orders.models import Order
from app.workflow import simulation
from tests.engine import bpmn_factory as bf
from tests.modeler.scenarios import HAPPY_TASKS, happy

ORDER_BPMN = Path(__file__).resolve().parents[2] / "workflows" / "order_process.bpmn"


@pytest.fixture
def order_xml() -> str:
    return ORDER_BPMN.read_text(encoding="utf-8")


def _fitted(xml: str, scenario: dict) -> tuple[str, list[str], dict]:
    key, documents = simulate.prepare(xml, "draft.bpmn")
    return key, documents, simulate.fit(simulate.read(json.dumps(scenario)), simulate.outline(documents))


def in_memory(xml: str, scenario: dict) -> dict:
    """The run itself, in this process (the child process adds only the time limit)."""
    key, documents, fitted = _fitted(xml, scenario)
    operations = simulation.describe(current_app.extensions["orderly.operations"])
    return simulation.simulate(documents, key, fitted, operations, actor="olga")


def in_child(xml: str, scenario: dict, seconds: float | None = None) -> dict:
    key, documents, fitted = _fitted(xml, scenario)
    return simulate.run(documents, key, fitted, actor="olga", seconds=seconds)


def _user_tasks(result: dict) -> list[str]:
    return [step["element_id"] for step in result["steps"] if step["type"] == "userTask"]


def _replace(xml: str, old: str, new: str) -> str:
    assert xml.count(old) == 1, f"the order process no longer holds exactly one {old!r}"
    return xml.replace(old, new)


def test_the_order_process_approved_goes_through_fulfilment_and_waits_for_receipt(ctx, order_xml):
    result = in_child(order_xml, happy())

    assert result["status"] == "waiting"
    assert _user_tasks(result) == HAPPY_TASKS
    assert result["waiting"] == [{"element_id": "goods_received", "name": "Customer confirms receipt",
                                  "for": "message", "message": "goods_received"}]
    assert "goods_received" in result["current"]
    assert {"review_order", "do_confirm_order", "do_ship_order"} <= set(result["completed"])
    assert "do_reject_order" not in result["completed"]
    assert {"f_approved_gw_to_confirm_order", "f_shipped_gw_to_goods_received"} <= set(result["flows"])
    assert "f_rejected" not in result["flows"]
    review = next(step for step in result["steps"] if step["element_id"] == "review_order")
    assert review["lane"] == "order_desk"
    assert review["data_after"]["approved"] is True
    assert review["data_after"]["review_note"] == ""  # the form's default, as staff would send it
    assert result["data"]["carrier"] == "DHL"


def test_a_changed_gateway_condition_takes_the_other_path(ctx, order_xml):
    changed = _replace(order_xml, "<bpmn:conditionExpression>approved</bpmn:conditionExpression>",
                       "<bpmn:conditionExpression>approved and review_note == 'ok'</bpmn:conditionExpression>")

    result = in_memory(changed, happy())

    assert _user_tasks(result) == ["review_order"]
    assert "f_rejected" in result["flows"] and "f_approved_gw_to_confirm_order" not in result["flows"]
    assert "do_reject_order" in result["completed"] and "do_confirm_order" not in result["completed"]
    assert result["waiting"][0]["element_id"] == "negotiate_order"
    assert result["waiting"][0]["for"] == "answer"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_service_tasks_are_recorded_with_their_parameters_and_never_run(ctx, order_xml, make_order):
    order = make_order()
    scenario = happy(order.number)
    scenario["results"]["do_confirm_order"] = {"expected_ship_date": "2030-01-15"}
    moves = _count(StockMove)

    result = in_memory(order_xml, scenario)

    confirm = next(step for step in result["steps"] if step["element_id"] == "do_confirm_order")
    assert confirm["service"] == {"operation": "confirm_order", "params": {"order_number": order.number},
                                  "result": {"expected_ship_date": "2030-01-15"}}
    assert result["data"]["confirmation"] == {"expected_ship_date": "2030-01-15"}
    ship = next(step for step in result["steps"] if step["element_id"] == "do_ship_order")
    assert ship["service"]["params"] == {"order_number": order.number, "carrier": "DHL", "tracking_number": "JD0042"}
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == order.status
    assert _count(OutboxMessage) == 0
    assert _count(Shipment) == 0
    assert _count(StockMove) == moves


def test_an_operation_without_a_result_answers_none(ctx):
    xml = bf.linear("sim_none", bf.service("ask", "order_summary", result="summary", order_number="'SO-9'"))

    result = in_memory(xml, {})

    assert result["status"] == "completed"
    assert result["steps"][1]["service"] == {"operation": "order_summary", "params": {"order_number": "SO-9"},
                                            "result": None}
    assert result["data"]["summary"] is None


def test_a_script_error_stops_the_run_at_its_element(ctx):
    xml = bf.linear("sim_broken", bf.script("fine", "x = 1"), bf.script("divide", "y = x / 0", name="Divide"))

    result = in_memory(xml, {})

    assert result["status"] == "error"
    assert result["error"]["element_id"] == "divide"
    assert result["error"]["element_name"] == "Divide"
    assert "ZeroDivisionError" in result["error"]["message"]
    assert result["errored"] == ["divide"]
    assert result["completed"] == ["fine", "start"]


def test_a_script_that_never_ends_is_stopped_by_the_time_limit(ctx):
    xml = bf.linear("sim_endless", bf.script("spin", "while True:\n    pass"))

    result = in_child(xml, {}, seconds=1)

    assert result["status"] == "timeout"
    assert result["error"]["message"] == "the run took longer than 1 s"
    assert multiprocessing.active_children() == []  # the child was killed, not left running


def test_the_time_limit_comes_from_the_configuration(app):
    app.config["DRAFT_TEST_SECONDS"] = 1
    with app.app_context():
        result = in_child(bf.linear("sim_endless", bf.script("spin", "while True:\n    pass")), {})

    assert result["status"] == "timeout" and result["seconds"] == 1


def test_what_the_engine_does_not_expect_is_reported_not_lost():
    sent = []
    sender = type("Sender", (), {"send": lambda self, value: sent.append(value), "close": lambda self: None})()

    simulate._child(sender, ["<not bpmn/>"], "nothing", {}, {}, "olga")

    assert sent[0] == "ready"
    assert sent[1]["status"] == "failed" and sent[1]["error"]["message"]
    assert sent[1]["steps"] == [] and sent[1]["unused"] == {"answers": [], "messages": [], "timers": []}


def test_an_endless_loop_of_engine_steps_stops_after_too_many(ctx):
    result = in_memory(bf.loop("sim_loop"), {"data": {"rounds": 10**9}})

    assert result["status"] == "too_many_steps"
    assert len(result["steps"]) == simulation.MAX_STEPS


def test_a_user_task_without_an_answer_is_where_it_stops(ctx, order_xml):
    scenario = happy()
    del scenario["answers"]["review_order"]

    result = in_memory(order_xml, scenario)

    assert result["status"] == "waiting"
    assert result["waiting"] == [{"element_id": "review_order", "name": "Review order", "for": "answer",
                                  "message": None}]
    assert result["current"][0] == "review_order"
    assert _user_tasks(result) == []


def test_answers_in_a_list_are_used_one_per_visit(ctx, order_xml):
    scenario = happy()
    scenario["answers"]["review_order"] = [{"approved": False, "review_note": "price"}, {"approved": True}]
    scenario["answers"]["negotiate_order"] = {"outcome": "new_date", "new_date": "2030-02-01"}
    scenario["results"]["do_apply_negotiation"] = {"cancelled": False}

    result = in_memory(order_xml, scenario)

    assert _user_tasks(result) == ["review_order", "negotiate_order", "review_order", *HAPPY_TASKS[1:]]
    assert result["unused"]["answers"] == []
    rejection = next(step for step in result["steps"] if step["element_id"] == "do_reject_order")
    assert rejection["service"]["params"]["reason"] == "price"


def test_messages_and_timers_carry_the_process_to_its_end(ctx, order_xml):
    scenario = happy()
    scenario["timers"] = ["review_order_at_risk"]
    scenario["messages"] = [{"name": "goods_received", "payload": {"received_on": "2030-01-20"}},
                            {"name": "payment_received",
                             "payload": {"amount": "100.00", "method": "card", "reference": "T-1"}},
                            {"name": "order_changed"}]
    scenario["results"]["do_issue_invoice"] = {"next_dunning_at": "2030-03-01T00:00:00+00:00"}
    scenario["results"]["do_record_payment"] = {"paid": True}
    scenario["answers"]["follow_up"] = {"satisfaction": 5}

    result = in_memory(order_xml, scenario)

    assert result["status"] == "completed"
    assert result["current"] == []
    escalation = next(step for step in result["steps"] if step["element_id"] == "escalate_review_order_at_risk")
    assert escalation["service"]["operation"] == "escalate"
    received = next(step for step in result["steps"] if step["element_id"] == "goods_received")
    assert received["message"] == {"name": "goods_received", "payload": {"received_on": "2030-01-20"}}
    assert result["data"]["receipt"] == {"received_on": "2030-01-20"}
    assert result["unused"] == {"answers": [], "messages": ["order_changed"], "timers": []}
    assert "order_completed" in result["completed"]


def test_a_timer_whose_time_comes_from_an_operation_waits_until_the_scenario_fires_it(ctx, order_xml):
    """Review order's SLA timers ask sla_warn/sla_due/sla_late, which answer nothing in a test: the timers
    wait (for ever) instead of failing, and fire only when the scenario names them."""
    result = in_memory(order_xml, {**happy(), "answers": {}})

    assert result["status"] == "waiting"
    assert {"review_order", "review_order_at_risk", "review_order_breached"} <= set(result["current"])
    assert "escalate_review_order_at_risk" not in result["completed"]


# --- the scenario itself ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "does not have the expected shape"),
    ('{"answer": {}}', "does not have the expected shape"),
    ('{"messages": [{"payload": {}}]}', "does not have the expected shape"),
    ("[" * 100_000, "nested too deeply"),
])
def test_a_scenario_that_is_not_one_is_refused(text, expected):
    with pytest.raises(simulate.ScenarioError) as refused:
        simulate.read(text)
    assert expected in str(refused.value)


def test_a_scenario_too_large_is_refused():
    with pytest.raises(simulate.ScenarioError, match="limit"):
        simulate.read(" " * (simulate.MAX_SCENARIO_CHARS + 1))


def test_a_scenario_must_fit_the_diagram_and_its_forms(ctx, order_xml):
    scenario = {
        "answers": {"review_order": {"approved": "yes"}, "credit_review": {"mood": "good"}, "no_such_task": {},
                    "pick_goods": [{"picked": True}, {"picked": False}]},
        "results": {"nowhere": 1},
        "messages": [{"name": "goods_received"}, {"name": "unheard_of"}],
        "timers": ["review_order", "review_order_at_risk"],
    }
    with pytest.raises(simulate.ScenarioError) as refused:
        _fitted(order_xml, scenario)

    assert refused.value.errors == [
        "answers/review_order: approved: 'yes' is not of type 'boolean'",
        "answers/credit_review: 'mood' is not a field of form 'credit_review'",
        "answers/no_such_task: the diagram has no user task 'no_such_task'",
        "answers/pick_goods/1: picked: True was expected",
        "results/nowhere: the diagram has no element 'nowhere'",
        "messages/1: nothing in the diagram waits for the message 'unheard_of'",
        "timers/0: the diagram has no timer event 'review_order'",
    ]


def test_the_skeleton_names_every_user_and_service_task_and_runs_as_it_is(ctx, order_xml):
    _key, documents = simulate.prepare(order_xml, "order_process.bpmn")
    diagram = simulate.outline(documents)

    skeleton = simulate.skeleton(diagram)

    assert skeleton["answers"]["review_order"] == {"approved": True, "review_note": ""}
    assert skeleton["answers"]["arrange_shipment"] == {"carrier": "x", "tracking_number": "x"}
    assert set(skeleton["answers"]) == set(diagram.user_tasks) and "follow_up" in diagram.user_tasks
    assert set(skeleton["results"]) == set(diagram.service_tasks) and skeleton["results"]["do_check_intake"] is None
    assert [m["name"] for m in skeleton["messages"]] == ["goods_received", "payment_received", "exception_resolved"]
    assert "order_cancelled" in diagram.messages and "review_order_at_risk" in diagram.timers
    simulate.fit(simulate.read(json.dumps(skeleton)), diagram)  # every answer fits its form
