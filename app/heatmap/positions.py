"""Where active instances wait for something other than a person: no table says it, so the stored
workflow is restored (app.workflow.inspect.positions). Each answer is remembered by the instance's
`lock_version`, which every save raises: an instance is restored again only after it has moved, and
an order awaiting payment for a month costs one restore, not one per page view."""

import threading
from collections import OrderedDict
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.workflow import inspect
from app.workflow.models import ProcessInstance

MEMO_SIZE = 50_000  # instances remembered per web process (a few element ids each)
CHUNK = 200  # instances restored per query, so the serialized states of thousands never sit in memory at once


class Memo:
    """(instance id, lock_version) → the element ids where a token stands; least recently used out first."""

    def __init__(self, size: int = MEMO_SIZE):
        self.size = size
        self._items: OrderedDict[tuple[int, int], frozenset[str]] = OrderedDict()
        self._lock = threading.Lock()
        self.restored = 0  # answers put in so far, each one a workflow restored (what the memo keeps low)

    def get(self, key: tuple[int, int]) -> frozenset[str] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[int, int], value: frozenset[str]) -> None:
        with self._lock:
            self.restored += 1
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _memo() -> Memo:
    # One per application: a test's fresh database (ids and versions start again) gets a fresh memo.
    return current_app.extensions.setdefault("orderly.heatmap_positions", Memo())


def current_elements(instances: Iterable[tuple[int, int]]) -> dict[int, frozenset[str]]:
    """Instance id → the BPMN ids of its own process where a token stands now (open or waiting tasks,
    events and joins), for the (id, lock_version) pairs given."""
    memo = _memo()
    found: dict[int, frozenset[str]] = {}
    missing = []
    for instance_id, version in instances:
        known = memo.get((instance_id, version))
        if known is None:
            missing.append(instance_id)
        else:
            found[instance_id] = known
    already_loaded = {id(item) for item in db.session.identity_map.values()}
    for start in range(0, len(missing), CHUNK):
        chunk = db.session.scalars(select(ProcessInstance).where(ProcessInstance.id.in_(missing[start:start + CHUNK]))
                                   .options(selectinload(ProcessInstance.definition))
                                   .execution_options(populate_existing=True)).all()
        for instance in chunk:
            current = frozenset(inspect.positions(instance)["current"])
            memo.put((instance.id, instance.lock_version), current)
            found[instance.id] = current
            if id(instance) not in already_loaded:
                db.session.expunge(instance)  # let its serialized state go
    return found
