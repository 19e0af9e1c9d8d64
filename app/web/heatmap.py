"""The heat map of a process for managers and process owners: the diagram with, on each activity, how
many instances stand there now and how long people's tasks took; the same figures as a table below
(readable without JavaScript) and as JSON, which app/static/js/heatmap.js draws on the bpmn-js viewer."""

import re

from flask import Blueprint, jsonify, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l

from app import heatmap
from app.accounts.roles import MANAGER, PROCESS_OWNER
from app.i18n import translate
from app.kpis.period import Period
from app.web.access import roles_required
from app.web.kpis import duration_text

bp = Blueprint("heatmap", __name__)

PERIODS = {"last_7_days": _l("Last 7 days"), "last_30_days": _l("Last 30 days")}
DEFAULT_PERIOD = "last_30_days"
VERSION = re.compile(r"[0-9]{1,9}")
PROCESS_KEY = re.compile(r"[A-Za-z_][\w.-]{0,119}")  # a BPMN process id (an XML name) as deployed


class Refused(Exception):
    """A request the heat map cannot answer: its HTTP status and what the reader is told."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _asked(key: str) -> tuple[heatmap.HeatMap, str]:
    """The heat map the query string asks for (period, version) and the period's name."""
    if not PROCESS_KEY.fullmatch(key):  # a BPMN id never has such characters; the database never sees them
        raise Refused(404, gettext("There is no process by that name."))
    period_name = request.args.get("period") or DEFAULT_PERIOD
    if period_name not in PERIODS:
        raise Refused(400, gettext("Choose one of the periods offered: the last 7 or the last 30 days."))
    version_text = (request.args.get("version") or "").strip()
    if version_text and not VERSION.fullmatch(version_text):
        raise Refused(400, gettext("“%(text)s” is not a version number.", text=version_text[:40]))
    version = int(version_text) if version_text else None
    try:
        found = heatmap.heat_map(key, Period.preset(period_name), version)
    except heatmap.UnknownProcess:
        if version is not None and heatmap.versions_of(key):
            raise Refused(404, gettext("The process “%(key)s” has no version %(version)s.", key=key,
                                       version=version)) from None
        raise Refused(404, gettext("No process “%(key)s” has been deployed.", key=key)) from None
    return found, period_name


def _refusal(refused: Refused, as_json: bool):
    if as_json:
        title = "Not found" if refused.status == 404 else "Bad request"
        return jsonify(error=title, message=refused.message), refused.status
    title = gettext("Not found") if refused.status == 404 else gettext("Check the address")
    return render_template("errors/error.html", status=refused.status, title=title, message=refused.message,
                           details=[]), refused.status


def kind_text(place: dict) -> str:
    kind, trigger = place["kind"], place.get("trigger")
    if kind in ("userTask", "manualTask"):
        return gettext("a person's task")
    if kind == "receiveTask" or (kind == "intermediateCatchEvent" and trigger == "message"):
        return gettext("waits for a message")
    if kind == "intermediateCatchEvent" and trigger == "timer":
        return gettext("waits for a date or time")
    if kind == "intermediateCatchEvent":
        return gettext("waits for an event")
    if kind == "eventBasedGateway":
        return gettext("waits for the first of several events")
    if kind.endswith("Gateway"):
        return gettext("waits for the other branches")
    return gettext("a sub-process")


def _summary(place: dict) -> str:
    here = ngettext("%(num)d instance here now", "%(num)d instances here now", place["count"])
    if not place["timed"]:
        return here
    if not place["visits"]:
        return gettext("%(here)s; none completed in the period", here=here)
    return ngettext("%(here)s; median %(median)s, 90th percentile %(p90)s over %(num)d completed",
                    "%(here)s; median %(median)s, 90th percentile %(p90)s over %(num)d completed",
                    place["visits"], here=here, median=place["median_text"], p90=place["p90_text"])


def _figures(found: heatmap.HeatMap) -> dict:
    """The heat map as JSON, with each place's texts in the reader's language."""
    data = found.as_json()
    data["process"]["label"] = translate(found.name)
    for place, source in zip(data["places"], found.places, strict=True):
        place["label"] = translate(place["name"])
        place["kind_text"] = kind_text(place)
        place["median_text"] = duration_text(source.time.median) if source.time else "—"
        place["p90_text"] = duration_text(source.time.p90) if source.time else "—"
        place["summary"] = _summary(place)
        place["title"] = gettext("%(name)s: %(figures)s", name=place["label"], figures=place["summary"])
    return data


@bp.route("/processes/<key>/heatmap")
@roles_required(MANAGER, PROCESS_OWNER)
def page(key: str):
    try:
        found, period_name = _asked(key)
    except Refused as refused:
        return _refusal(refused, as_json=False)
    return render_template(
        "processes/heatmap.html", heatmap=found, figures=_figures(found), period_name=period_name,
        periods=PERIODS, data_url=url_for("heatmap.data", key=key, version=found.version, period=period_name))


@bp.route("/processes/<key>/heatmap.json")
@roles_required(MANAGER, PROCESS_OWNER)
def data(key: str):
    try:
        found, _ = _asked(key)
    except Refused as refused:
        return _refusal(refused, as_json=True)
    return jsonify(_figures(found))
