"""Scenarios for testing the shipped order process as a draft: what staff answer, what operations give."""

import copy

from tests.support import HAPPY_PATH

# Results the order process reads on its happy path, per service task.
HAPPY_RESULTS = {
    "do_check_intake": {"complete": True, "missing": []},
    "do_review_checks": {"credit": {"ok": True}},
    "do_reserve_stock": {"all_reserved": True, "allow_partial": False, "ready_qty": 1, "stockout": False},
    "do_ship_order": {"everything_shipped": True, "deliver_by": "2030-01-31T00:00:00+00:00"},
}
HAPPY_TASKS = [element for element, _answer in HAPPY_PATH]


def happy(order_number: str = "SO-TEST-1") -> dict:
    """Approve the review and go through fulfilment; nothing confirms receipt, so the run waits there."""
    return copy.deepcopy({
        "data": {"order_number": order_number, "entered_by": "desk"},
        "answers": dict(HAPPY_PATH),
        "results": HAPPY_RESULTS,
    })
