"""How fast is the staff inbox on a big human_task table, through the real HTTP stack?

Fills a fresh database with 100,000 open tasks (about a tenth claimed) and 1,000,000 completed ones
spread over the eight lanes (warehouse holds 40 % of the open ones, the worst team queue), then serves
the real app (create_app on that database) with werkzeug's server in a separate process on a loopback
port, logs in a member of the warehouse team over HTTP (POST /login with the CSRF token) and times,
with http.client and the session cookie:

- GET /inbox?queue=team, the first page of the team's queue, unfiltered and with each kind of filter;
- POST /tasks/<id>/claim (with the CSRF token) on a different open task each time, and the release
  that gives it back, so every round sees the same data.

Each sample is one request, from sending it to having read the whole answer; the variants take turns,
so a slow patch of the machine hits all of them alike. The headline is median and p95 per variant.

A second table (--queries) times the inbox functions (app.workflow.inbox) directly, without HTTP.

    .venv/bin/python bench/inbox.py [--postgres URL] [--open 100000] [--done 1000000] [--requests 200]
                                    [--queries] [--explain]

SQLite runs in a temporary directory; with --postgres a fresh schema is created and dropped at the
end. With --explain the PostgreSQL plans are printed too.
"""

import argparse
import http.client
import math
import multiprocessing
import random
import re
import statistics
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from time import perf_counter
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/inbox.py` puts bench/, not the root, on the path

from sqlalchemy import func, insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.accounts.models import User  # noqa: E402
from app.accounts.service import create_user  # noqa: E402
from app.clock import now  # noqa: E402
from app.extensions import db  # noqa: E402
from app.workflow import inbox  # noqa: E402
from app.workflow.models import HumanTask, ProcessDefinition, ProcessInstance  # noqa: E402
from tests.support import PostgresSchema  # noqa: E402

LANES = [  # (role, element id, title, share of the open tasks)
    ("warehouse", "pick_and_pack", "Pick and pack", 0.40),
    ("order_desk", "review_order", "Review order", 0.15),
    ("logistics", "ship_goods", "Ship goods", 0.15),
    ("credit", "check_credit", "Check credit", 0.08),
    ("production", "produce", "Produce", 0.08),
    ("finance", "collect_payment", "Collect payment", 0.06),
    ("customer_service", "call_customer", "Call customer", 0.05),
    ("manager", "approve_exception", "Approve exception", 0.03),
]
INSTANCES = 100_000
BATCH = 10_000
PASSWORD = "bench-pass"
TARGET_P95_MS = 50.0


COLUMNS = ("instance_id", "spiff_task_id", "element_id", "business_key", "title", "form_key", "role", "instructions",
           "state", "assignee_id", "priority", "due_at", "at_risk_at", "created_at", "completed_at", "completed_by")


def _rows(open_count: int, done_count: int, warehouse: int, rng: random.Random):
    at = now()
    weights = [share for *_, share in LANES]
    for n in range(open_count + done_count):
        done = n >= open_count
        role, element_id, title, _share = rng.choice(LANES) if done else rng.choices(LANES, weights)[0]
        instance = rng.randrange(1, INSTANCES + 1)
        created = at - timedelta(minutes=rng.randrange(0, 60 * 24 * 10))
        due = created + timedelta(hours=rng.randrange(4, 96)) if rng.random() < 0.7 else None
        at_risk = due - timedelta(hours=1) if due is not None and rng.random() < 0.5 else None
        state, assignee = ("completed", None) if done else ("open", None)
        if not done and rng.random() < 0.1:
            state = "claimed"
            assignee = warehouse if role == "warehouse" and rng.random() < 0.02 else None
        yield (instance, str(uuid.UUID(int=n)), element_id, f"SO-{instance:07d}", title, element_id, role, "",
               state, assignee, 3, due, at_risk, created, at if done else None, "bench" if done else None)


def _sqlite_time(value):
    return None if value is None else value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _copy_in(rows) -> None:
    """The fastest path each database offers: COPY on PostgreSQL, executemany on SQLite."""
    raw = db.session.connection().connection.driver_connection
    if db.engine.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY human_task ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    times = [COLUMNS.index(c) for c in ("due_at", "at_risk_at", "created_at", "completed_at")]

    def stored(row):
        row = list(row)
        for i in times:
            row[i] = _sqlite_time(row[i])
        return row

    statement = f"INSERT INTO human_task ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
    raw.executemany(statement, (stored(row) for row in rows))


def fill(open_count: int, done_count: int, rng: random.Random) -> dict[str, int]:
    users = {role: create_user(f"{role}-1", role, PASSWORD, [role]) for role, *_ in LANES}
    users["admin"] = create_user("admin-1", "admin", PASSWORD, ["admin"])
    definition = ProcessDefinition(key="order_process", version=1, bpmn_xml="", sha256="0" * 64)
    db.session.add(definition)
    db.session.flush()
    for start in range(0, INSTANCES, BATCH):
        db.session.execute(insert(ProcessInstance), [
            {"definition_id": definition.id, "process_key": "order_process", "business_key": f"SO-{n:07d}",
             "status": "running", "state": b"", "serializer_version": "1"}
            for n in range(start + 1, start + BATCH + 1)
        ])
    _copy_in(_rows(open_count, done_count, users["warehouse"].id, rng))
    db.session.commit()
    # As autovacuum leaves a table in steady state: statistics, and the visibility map that lets
    # PostgreSQL count from an index alone.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"))
    return {role: user.id for role, user in users.items()}


def p95(samples: list[float]) -> float:
    """The 95th percentile, nearest rank: the smallest sample at least 95 % of them do not exceed."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


def timed(runs: int, fn) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        db.session.remove()  # a new request: nothing cached in the session
        started = perf_counter()
        fn()
        samples.append((perf_counter() - started) * 1000)
    return statistics.median(samples), p95(samples)


def cases(users: dict[str, int]):
    def as_user(role):
        return db.session.get(User, users[role])

    f = inbox.Filters
    yield "team (warehouse): page 1", lambda: inbox.list_tasks(as_user("warehouse"), "team")
    yield "team: page 200 (deep offset)", lambda: inbox.list_tasks(as_user("warehouse"), "team", page=200)
    yield "team: overdue", lambda: inbox.list_tasks(as_user("warehouse"), "team", f(due="overdue"))
    yield "team: at risk", lambda: inbox.list_tasks(as_user("warehouse"), "team", f(due="at_risk"))
    yield "team: no deadline", lambda: inbox.list_tasks(as_user("warehouse"), "team", f(due="no_deadline"))
    yield "team: search a key (rare)", lambda: inbox.list_tasks(as_user("warehouse"), "team", f(search="0012345"))
    yield "team: search '12' (common)", lambda: inbox.list_tasks(as_user("warehouse"), "team", f(search="12"))
    yield "team: task type", lambda: inbox.list_tasks(as_user("warehouse"), "team", f(task_type="pick_and_pack"))
    yield "mine: page 1", lambda: inbox.list_tasks(as_user("warehouse"), "mine")
    yield "all (admin): page 1", lambda: inbox.list_tasks(as_user("admin"), "all")
    yield "all: overdue", lambda: inbox.list_tasks(as_user("admin"), "all", f(due="overdue"))
    yield "all: task type (small lane)", lambda: inbox.list_tasks(as_user("admin"), "all",
                                                                   f(task_type="approve_exception"))
    yield "all: at risk", lambda: inbox.list_tasks(as_user("admin"), "all", f(due="at_risk"))
    yield "all: search '12' (common)", lambda: inbox.list_tasks(as_user("admin"), "all", f(search="12"))
    yield "counts (warehouse: mine, team)", lambda: inbox.counts(as_user("warehouse"))
    yield "counts (admin: mine, all)", lambda: inbox.counts(as_user("admin"))
    yield "task types (team)", lambda: inbox.task_types(as_user("warehouse"), "team")
    yield "task types (all)", lambda: inbox.task_types(as_user("admin"), "all")


def explain(users: dict[str, int]) -> None:
    """The PostgreSQL plans of what the team page runs: the page's rows, and a search's count and rows."""
    warehouse = db.session.get(User, users["warehouse"])
    team = inbox._scope(warehouse, "team")
    search = inbox._filtered(team, inbox.Filters(search="12"), now())
    statements = [
        ("the team page", inbox.page_query(team, 0)),
        ("the count of a search", select(func.count()).select_from(HumanTask).where(*search)),
        ("the page of a search", inbox.page_query(search, 0)),
    ]
    for label, query in statements:
        print(f"plan of {label}:")
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        for line in db.session.execute(text(f"EXPLAIN ANALYZE {compiled}")).scalars():
            print("   ", line)


# --- through HTTP ---------------------------------------------------------------------------------------

ORDER = "*"  # an order number with an open warehouse task: set by run() from the data

PAGES = [  # (label, query string of /inbox): the first page of the team's queue, as the filter form sends it
    ("team, page 1, no filter", {"queue": "team"}),
    ("team, one task type", {"queue": "team", "type": "pick_and_pack"}),
    ("team, overdue", {"queue": "team", "due": "overdue"}),
    ("team, at risk", {"queue": "team", "due": "at_risk"}),
    ("team, no deadline", {"queue": "team", "due": "no_deadline"}),
    ("team, search an order number", {"queue": "team", "q": ORDER}),
    ("team, search '12' (common)", {"queue": "team", "q": "12"}),
    ("team, type + overdue + search", {"queue": "team", "type": "pick_and_pack", "due": "overdue", "q": "12"}),
]
CLAIM, RELEASE = "claim (POST)", "release (POST)"


def _app_config(url: str) -> dict:
    # Not TESTING: CSRF, error handling and sessions as in production. No scheduler: nothing else writes.
    return {"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "SCHEDULER_ENABLED": False}


def serve(url: str, port_out) -> None:
    """The server process: the real app on a loopback port, one request at a time, no access log."""
    import logging

    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, create_app(_app_config(url)), request_handler=Quiet)
    port_out.send(server.server_port)
    port_out.close()
    server.serve_forever()


class Browser:
    """A person's browser, reduced: one cookie jar (the session), a new loopback connection per request."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, str]:
        """(status, Location, body). The body is read to its end: the time includes sending the page."""
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value
            return response.status, response.getheader("Location") or "", text
        finally:
            connection.close()

    def get(self, path: str) -> str:
        status, _, text = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}")
        return text

    def post(self, path: str, form: dict) -> str:
        """POST a form that answers with a redirect; gives the path redirected to. The caller follows
        it as a browser does (untimed), which shows the flashed message, so the session cookie does not
        keep growing."""
        status, location, _ = self.request("POST", path, form)
        if status != 302:
            raise RuntimeError(f"POST {path}: HTTP {status}")
        target = urlsplit(location)
        return f"{target.path}?{target.query}" if target.query else target.path


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    if not match:
        raise RuntimeError("the page has no CSRF token")
    return match.group(1)


def claimable(count: int, rng: random.Random) -> list[int]:
    """Open, unassigned tasks of the warehouse lane, picked at random: one per claim."""
    ids = db.session.scalars(
        select(HumanTask.id).where(inbox.OPEN, HumanTask.role == "warehouse", HumanTask.state == "open",
                                   HumanTask.assignee_id.is_(None)).order_by(HumanTask.id)
    ).all()
    return rng.sample(list(ids), count)


def http_bench(url: str, order: str, task_ids: list[int], requests: int, warmup: int) -> dict[str, list[float]]:
    """Time the pages and the claim through HTTP against a server process on the database at url."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    server = context.Process(target=serve, args=(url, send), daemon=True)
    server.start()
    try:
        if not receive.poll(120):
            raise RuntimeError("the server did not start")
        browser = Browser(receive.recv())
        token = csrf_token(browser.get("/login"))
        browser.post("/login", {"username": "warehouse-1", "password": PASSWORD, "csrf_token": token})
        team_page = "/inbox?queue=team"
        token = csrf_token(browser.get(team_page))
        samples: dict[str, list[float]] = {label: [] for label, _ in PAGES} | {CLAIM: [], RELEASE: []}
        tasks = iter(task_ids)
        for round_number in range(warmup + requests):
            keep = round_number >= warmup
            for label, _ in PAGES:
                path = f"/inbox?{urlencode(query_of(label, order))}"
                started = perf_counter()
                page = browser.get(path)
                elapsed = (perf_counter() - started) * 1000
                if keep:
                    samples[label].append(elapsed)
                if 'action="/tasks/' not in page:
                    raise RuntimeError(f"{path} listed no task to claim or release")
            task_id = next(tasks)
            form = {"csrf_token": token, "next": team_page}
            for label, action in ((CLAIM, "claim"), (RELEASE, "release")):
                started = perf_counter()
                target = browser.post(f"/tasks/{task_id}/{action}", form)
                elapsed = (perf_counter() - started) * 1000
                if keep:
                    samples[label].append(elapsed)
                if "flash success" not in browser.get(target):
                    raise RuntimeError(f"{action} of task {task_id} did not succeed")
        return samples
    finally:
        server.terminate()
        server.join(10)


def query_of(label: str, order: str) -> dict[str, str]:
    query = dict(PAGES)[label]
    return {key: order if value == ORDER else value for key, value in query.items()}


def matches(user_id: int, order: str) -> dict[str, int]:
    """How many tasks each page variant finds (what the page says above its table)."""
    user = db.session.get(User, user_id)
    found = {}
    for label, _ in PAGES:
        query = query_of(label, order)
        filters = inbox.Filters.parse(query.get("type"), query.get("q"), query.get("due"))
        found[label] = inbox.list_tasks(user, "team", filters).total
    return found


def print_http(name: str, samples: dict[str, list[float]], found: dict[str, int]) -> None:
    count = len(next(iter(samples.values())))
    print(f"{name}, through HTTP ({count} requests each): median and p95 ms, target p95 <= {TARGET_P95_MS:.0f}")
    print(f"{'request':<34} {'tasks':>7} {'median ms':>10} {'p95 ms':>8}")
    for label, values in samples.items():
        flag = "" if p95(values) <= TARGET_P95_MS else "  over"
        tasks = f"{found[label]:,}" if label in found else ""
        print(f"{label:<34} {tasks:>7} {statistics.median(values):>10.1f} {p95(values):>8.1f}{flag}")


def run(name: str, url: str, args) -> None:
    app = create_app(_app_config(url) | {"TESTING": True})
    with app.app_context():
        db.create_all()
        started = perf_counter()
        rng = random.Random(7)
        users = fill(args.open, args.done, rng)
        loaded = perf_counter() - started
        print(f"\n{name}: {args.open:,} open + {args.done:,} completed tasks, loaded in {loaded:.0f} s")
        task_ids = claimable(args.requests + args.warmup, rng)
        # An order with an open warehouse task: the last one claimed, so it stays open through the run.
        order = db.session.get(HumanTask, task_ids[-1]).business_key
        found = matches(users["warehouse"], order)
        print(f"searched order: {order}")
        db.session.remove()
        db.engine.dispose()  # the server process opens its own connections
    print_http(name, http_bench(url, order, task_ids, args.requests, args.warmup), found)
    if args.queries or args.explain:
        with app.app_context():
            if args.queries:
                print(f"\n{name}, the inbox functions called directly ({args.runs} runs each)")
                print(f"{'query':<34} {'median ms':>10} {'p95 ms':>8}")
                for label, fn in cases(users):
                    median, high = timed(args.runs, fn)
                    print(f"{label:<34} {median:>10.1f} {high:>8.1f}")
            if args.explain and db.engine.dialect.name == "postgresql":
                explain(users)
            db.session.remove()
            db.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL, in a fresh schema")
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--done", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per variant")
    parser.add_argument("--warmup", type=int, default=10, help="untimed rounds first")
    parser.add_argument("--queries", action="store_true", help="also time the inbox functions without HTTP")
    parser.add_argument("--runs", type=int, default=20, help="runs per query with --queries")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{tmp}/bench.sqlite", args)
    if args.postgres:
        schema = PostgresSchema(args.postgres, prefix="bench")
        url = schema.__enter__()
        try:
            run("PostgreSQL", url, args)
        finally:
            schema.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
