"""How fast are the inbox queries (app.workflow.inbox) on a big human_task table?

Fills a fresh database with 100,000 open tasks (about a tenth claimed) and 1,000,000 completed ones
spread over the eight lanes (warehouse holds 40 % of the open ones, the worst team queue), then times
each page the inbox serves: the count of every tab, the task-type filter's options and one page of
50 rows, for the team, mine and all queues, with and without filters, and a deep page.

    .venv/bin/python bench/inbox.py [--postgres URL] [--open 100000] [--done 1000000] [--runs 20]

SQLite runs in a temporary directory; with --postgres a fresh schema is created and dropped at the
end. With --explain the PostgreSQL plans are printed too.
"""

import argparse
import random
import statistics
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/inbox.py` puts bench/, not the root, on the path

from sqlalchemy import insert, select, text  # noqa: E402

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
    users = {role: create_user(f"{role}-1", role, "bench-pass", [role]) for role, *_ in LANES}
    users["admin"] = create_user("admin-1", "admin", "bench-pass", ["admin"])
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


def timed(runs: int, fn) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        db.session.remove()  # a new request: nothing cached in the session
        started = perf_counter()
        fn()
        samples.append((perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


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
    yield "counts (warehouse: mine, team)", lambda: inbox.counts(as_user("warehouse"))
    yield "counts (admin: mine, all)", lambda: inbox.counts(as_user("admin"))
    yield "task types (team)", lambda: inbox.task_types(as_user("warehouse"), "team")
    yield "task types (all)", lambda: inbox.task_types(as_user("admin"), "all")


def explain(users: dict[str, int]) -> None:
    warehouse = db.session.get(User, users["warehouse"])
    conditions = inbox._scope(warehouse, "team")
    query = (select(HumanTask).where(*conditions).order_by(*inbox.QUEUE_ORDER).limit(inbox.PAGE_SIZE))
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    for line in db.session.execute(text(f"EXPLAIN ANALYZE {compiled}")).scalars():
        print("   ", line)


def run(name: str, url: str, args) -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url,
                      "SCHEDULER_ENABLED": False})
    with app.app_context():
        db.create_all()
        started = perf_counter()
        users = fill(args.open, args.done, random.Random(7))
        loaded = perf_counter() - started
        print(f"\n{name}: {args.open:,} open + {args.done:,} completed tasks, loaded in {loaded:.0f} s")
        print(f"{'query':<34} {'median ms':>10} {'p95 ms':>8}")
        for label, fn in cases(users):
            median, p95 = timed(args.runs, fn)
            print(f"{label:<34} {median:>10.1f} {p95:>8.1f}")
        if args.explain and db.engine.dialect.name == "postgresql":
            print("plan of the team page:")
            explain(users)
        db.session.remove()
        db.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL, in a fresh schema")
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--done", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
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
