"""Schemathesis against the API's own OpenAPI document, in-process through the Flask app: every answer
to generated requests (ones that fit the schema and ones that break it) is no server error and has a
documented status code, content type and body.

Deterministic and bounded: Hypothesis is derandomized, keeps no example database, and tries a few
examples per operation and kind of data. The shop holds customer GOOD and two orders: SO-2026-000001,
shipped, with a complaint waiting to be resolved (EX-2026-000001), and SO-2026-000002 in review.
Besides identifiers made up from the path's pattern, each operation is tried on those, with generated
bodies that name the shop's products and the complaint's remedies, so that requests can succeed too.

(Schemathesis's own pytest plugin is not used: its lazy loader does not run on pytest 9.)
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api import openapi
from app.exceptions import taxonomy
from tests.api.shop import Api, new_token, place, ship, triage

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Each operation with data that fits its schema, and, where it takes any input, data that does not.
OPERATIONS = [(method.upper(), path, mode) for path, methods in openapi.paths().items()
              for method, operation in methods.items() for mode in GenerationMode
              if mode.is_positive or "parameters" in operation or "requestBody" in operation]
# The shop's rows, as path parameters: each set is tried on every path it fills.
REAL = [{"number": "SO-2026-000001", "case_number": "EX-2026-000001", "code": "GOOD"}, {"number": "SO-2026-000002"}]
SKUS = ("BOLT-M8", "VALVE-2")
REMEDIES = tuple(taxonomy.TYPES["complaint"].actions)
EXAMPLES = 15


@pytest.fixture
def token(shop, app, client):
    app.config["RATELIMIT_ENABLED"] = False  # hundreds of calls from one client within seconds
    token = new_token("fuzzer")
    api = Api(client, token)
    shipped, in_review = place(api), place(api)
    ship(shipped)
    complaint = api.event(shipped, "complaint", {"text": "The valves arrived scratched."})
    assert [shipped, in_review] == [rows["number"] for rows in REAL]
    assert complaint.json["exception"]["number"] == REAL[0]["case_number"]
    triage(REAL[0]["case_number"])
    return token


def _with_real_rows(case):
    """A generated body that names the shop's customer, its products and a complaint's remedy."""
    body = case.body
    if isinstance(body, dict):
        if "customer_code" in body:
            body["customer_code"] = "GOOD"
        for n, line in enumerate(body.get("lines") if isinstance(body.get("lines"), list) else []):
            if isinstance(line, dict) and "sku" in line:
                line["sku"] = SKUS[n % len(SKUS)]
        if "action" in body:
            body["action"] = REMEDIES[len(str(body.get("resolution"))) % len(REMEDIES)]
    return case


def _fuzz(strategy, headers: dict) -> None:
    # No deadline: a request runs the order process in the database. Generating the large bodies may be
    # slow on a busy machine, which says nothing about the API.
    @given(case=strategy)
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def _real_parameters(path: str) -> list[dict]:
    """The shop's rows for the path's parameters, each set once; for a path without any, the body alone."""
    found: list[dict] = []
    for rows in REAL:
        real = {name: value for name, value in rows.items() if "{" + name + "}" in path}
        if real not in found:
            found.append(real)
    return found


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS)
def test_every_answer_fits_the_document(app, token, method, path, mode):
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method]
    headers = {"Authorization": f"Bearer {token}"}
    _fuzz(operation.as_strategy(mode), headers)
    if "{" not in path and method != "POST":
        return  # nothing more to point at the shop's rows
    for real in _real_parameters(path):
        strategy = operation.as_strategy(mode, path_parameters=real)
        _fuzz(strategy.map(_with_real_rows) if mode.is_positive else strategy, headers)
