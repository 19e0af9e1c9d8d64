"""Testing a process's draft against a scenario before deploying it: the form, and the path the run took.
Process owners only; nothing is stored (the browser keeps the scenario in the form)."""

import base64
import json

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from app.accounts.roles import PROCESS_OWNER
from app.modeler import drafts, simulate
from app.web.access import roles_required
from app.workflow.errors import DeploymentRefused

bp = Blueprint("draft_test", __name__)


def _diagram_url(xml: str, result: dict | None) -> str:
    """The drawing and its marks as a data: URL, so diagram.js draws a run that exists only in this page."""
    marks = {name: (result or {}).get(name, []) for name in ("completed", "flows", "current", "errored")}
    payload = json.dumps({"xml": xml, **marks}).encode()
    return "data:application/json;base64," + base64.b64encode(payload).decode("ascii")


@bp.route("/processes/<key>/test", methods=["GET", "POST"])
@roles_required(PROCESS_OWNER)
def page(key: str):
    draft, latest = drafts.get(key), drafts.latest(key)
    if draft is None and latest is None:
        abort(404)
    tested = draft or latest
    context = {"key": key, "draft": draft, "latest": latest, "tested": tested, "diagram": None, "error": None,
               "problems": [], "result": None, "scenario_text": request.form.get("scenario", "")}
    try:
        process_key, documents = simulate.prepare(tested.bpmn_xml, tested.filename)
    except DeploymentRefused as refused:
        context["problems"] = refused.problems
        return render_template("modeler/test.html", **context), 422 if request.method == "POST" else 200
    diagram = simulate.outline(documents)
    context["diagram"] = diagram
    context["diagram_url"] = _diagram_url(documents[0], None)
    if request.method == "GET":
        context["scenario_text"] = json.dumps(simulate.skeleton(diagram), indent=2, ensure_ascii=False)
        return render_template("modeler/test.html", **context)
    try:
        scenario = simulate.fit(simulate.read(context["scenario_text"]), diagram)
    except simulate.ScenarioError as error:
        context["error"] = error
        return render_template("modeler/test.html", **context), 400
    result = simulate.run(documents, process_key, scenario, actor=current_user.username)
    context["result"] = result
    context["diagram_url"] = _diagram_url(documents[0], result)
    return render_template("modeler/test.html", **context)
