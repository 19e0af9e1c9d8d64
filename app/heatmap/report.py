"""The heat map of one process: per BPMN element, how many running or waiting instances stand there
now, and how long finished visits took over a period.

Who stands where:
- at a person's task (user or manual task): the open rows of `human_task` (one query, no workflow
  restored), counted once per instance;
- at a receive task, a catch event (message, timer), an event-based gateway, a join or a called
  process: the stored workflow of each instance that can wait there — every `waiting` instance, and
  `running` ones only of versions whose diagram lets a token wait beside a person's task (see
  app.heatmap.elements) — restored once per change of the instance (app.heatmap.positions).
Instances stopped by an error, completed or cancelled stand nowhere.

How long a visit took: only people's tasks are measured, from the moment the task reached the inbox
(`human_task.created_at`) to its completion (`completed_at`), over the tasks completed in the period;
tasks withdrawn by the engine (an interrupting event, a cancelled order) did not complete and are left
out. The engine records no arrival at a receive task or catch event (`instance_event` has the timer
that fired and the message that arrived, not the element it reached), so those places show how many
stand there now and no time."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import undefer

from app.clock import now
from app.extensions import db
from app.heatmap import positions
from app.heatmap.elements import Element, Layout, layout
from app.kpis.measures import Spread
from app.kpis.period import Period
from app.workflow.inbox import OPEN
from app.workflow.models import HumanTask, ProcessDefinition, ProcessInstance
from app.workflow.runtime import ACTIVE

LEVELS = 5  # steps of the colour scale, from a few instances (1) to the most crowded place (LEVELS)


class UnknownProcess(LookupError):
    """No deployed version of that key, or not the version asked for."""


def level(count: int, top: int) -> int:
    """0 for an empty place; otherwise 1…LEVELS by the share of the most crowded place (rounded up)."""
    return 0 if count <= 0 or top <= 0 else -(-LEVELS * count // top)


@dataclass(frozen=True)
class Step:
    """One step of the colour scale and the counts it stands for (`low` to `high`, both included)."""

    level: int
    low: int
    high: int


def scale(top: int) -> list[Step]:
    """The steps that some whole number of instances reaches, for a most crowded place of `top`."""
    steps = []
    for step in range(1, LEVELS + 1):
        low, high = (step - 1) * top // LEVELS + 1, step * top // LEVELS
        if low <= high:
            steps.append(Step(step, low, high))
    return steps


@dataclass(frozen=True)
class Place:
    element: Element
    in_diagram: bool  # drawn in the version shown (an older version's element is only in the table)
    count: int  # instances standing there now
    time: Spread | None  # finished visits in the period; None where the time spent is not measured
    level: int


@dataclass(frozen=True)
class HeatMap:
    key: str
    name: str
    shown: ProcessDefinition  # the version whose diagram is drawn
    version: int | None  # the version asked for; None for all versions together
    versions: list[int]  # every deployed version, newest first
    period: Period
    as_of: datetime
    instances: int  # running or waiting instances counted
    places: list[Place]

    @property
    def top(self) -> int:
        return max((place.count for place in self.places), default=0)

    @property
    def scale(self) -> list[Step]:
        return scale(self.top)

    def as_json(self) -> dict:
        def seconds(value):
            return None if value is None else value.total_seconds()

        return {
            "process": {"key": self.key, "name": self.name},
            "version": self.version,
            "versions": self.versions,
            "diagram": {"version": self.shown.version, "xml": self.shown.bpmn_xml},
            "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()},
            "as_of": self.as_of.isoformat(),
            "instances": self.instances,
            "top": self.top,
            "scale": [{"level": step.level, "low": step.low, "high": step.high} for step in self.scale],
            "places": [{
                "id": place.element.id,
                "name": place.element.name,
                "kind": place.element.kind,
                "trigger": place.element.trigger,
                "in_diagram": place.in_diagram,
                "count": place.count,
                "level": place.level,
                "timed": place.time is not None,
                "visits": place.time.count if place.time else 0,
                "median_seconds": seconds(place.time.median) if place.time else None,
                "p90_seconds": seconds(place.time.p90) if place.time else None,
            } for place in self.places],
        }


def versions_of(key: str) -> list[ProcessDefinition]:
    """The versions of a process that were ever deployed (a draft never ran), newest first."""
    return list(db.session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key, ProcessDefinition.status != "draft")
        .order_by(ProcessDefinition.version.desc())
        .options(undefer(ProcessDefinition.bpmn_xml))  # the map draws them: one query, not one per version
    ))


def _people_now(scope) -> dict[str, tuple[int, str]]:
    """Element id → (instances with the task open, its title)."""
    rows = db.session.execute(
        select(HumanTask.element_id, func.count(func.distinct(HumanTask.instance_id)), func.max(HumanTask.title))
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(OPEN, ProcessInstance.status.in_(ACTIVE), scope)
        .group_by(HumanTask.element_id)
    ).all()
    return {element_id: (count, title) for element_id, count, title in rows}


def _waiting_now(scope, layouts: dict[int, Layout]) -> dict[str, int]:
    """Element id → instances waiting there for something other than a person."""
    beside_people = [definition_id for definition_id, found in layouts.items() if found.waits_beside_people]
    may_wait = ProcessInstance.status == "waiting"
    if beside_people:
        may_wait = or_(may_wait, and_(ProcessInstance.status == "running",
                                      ProcessInstance.definition_id.in_(beside_people)))
    rows = db.session.execute(
        select(ProcessInstance.id, ProcessInstance.lock_version, ProcessInstance.definition_id)
        .where(scope, may_wait).order_by(ProcessInstance.id)
    ).all()
    current = positions.current_elements((instance_id, version) for instance_id, version, _ in rows)
    counts: dict[str, int] = defaultdict(int)
    for instance_id, _, definition_id in rows:
        places = layouts[definition_id].places if definition_id in layouts else {}
        for element_id in current.get(instance_id, ()):
            if element_id in places and not places[element_id].human:
                counts[element_id] += 1
    return counts


def _visits(scope, period: Period) -> tuple[dict[str, Spread], dict[str, str]]:
    """Element id → the spread of the people's tasks completed in the period; and their titles."""
    rows = db.session.execute(
        select(HumanTask.element_id, HumanTask.title, HumanTask.created_at, HumanTask.completed_at)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(HumanTask.state == "completed", HumanTask.completed_at >= period.start,
               HumanTask.completed_at < period.end, scope)
    ).all()
    durations = defaultdict(list)
    titles = {}
    for element_id, title, created_at, completed_at in rows:
        durations[element_id].append(completed_at - created_at)
        titles.setdefault(element_id, title)
    return {element_id: Spread.of(values) for element_id, values in durations.items()}, titles


def _most_crowded_first(place: Place) -> tuple:
    """The most instances first; among equals the slowest (by median), places without a time last."""
    median = place.time.median if place.time else None
    return (-place.count, median is None, -(median.total_seconds() if median else 0), place.element.name,
            place.element.id)


def heat_map(key: str, period: Period, version: int | None = None) -> HeatMap:
    """The heat map of every deployed version of `key` together (drawn on the newest deployed one), or
    of one version. Raises UnknownProcess for a key never deployed or a version it does not have."""
    deployed = versions_of(key)
    if not deployed:
        raise UnknownProcess(f"no deployed process '{key}'")
    if version is None:
        chosen = deployed
        shown = next((d for d in deployed if d.status == "deployed"), deployed[0])
        scope = ProcessInstance.process_key == key
    else:
        chosen = [d for d in deployed if d.version == version]
        if not chosen:
            raise UnknownProcess(f"'{key}' has no version {version}")
        shown = chosen[0]
        scope = ProcessInstance.definition_id == shown.id
    layouts = {definition.id: layout(definition.bpmn_xml, key) for definition in chosen}
    drawn = layouts[shown.id].places

    people = _people_now(scope)
    waiting = _waiting_now(scope, layouts)
    spreads, titles = _visits(scope, period)

    known: dict[str, Element] = {}
    for definition in chosen:  # newest first: an element keeps its newest name
        for element_id, element in layouts[definition.id].places.items():
            known.setdefault(element_id, element)
    for element_id, (_, title) in people.items():
        known.setdefault(element_id, Element(element_id, title or element_id, "userTask"))
    for element_id, title in titles.items():
        known.setdefault(element_id, Element(element_id, title or element_id, "userTask"))

    counts = {element_id: people.get(element_id, (0, ""))[0] + waiting.get(element_id, 0) for element_id in known}
    top = max(counts.values(), default=0)
    places = [
        Place(element, element.id in drawn, counts[element.id],
              spreads.get(element.id, Spread.of(())) if element.human else None, level(counts[element.id], top))
        for element in known.values()
        # an older version's element nobody stands at or visited in the period is of no interest
        if element.id in drawn or counts[element.id] or element.id in spreads
    ]
    places.sort(key=_most_crowded_first)
    instances = db.session.scalar(select(func.count(ProcessInstance.id))
                                  .where(scope, ProcessInstance.status.in_(ACTIVE))) or 0
    return HeatMap(key=key, name=shown.name or key, shown=shown, version=version,
                   versions=[definition.version for definition in deployed], period=period, as_of=now(),
                   instances=instances, places=places)
