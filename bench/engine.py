"""How much does app.workflow.runtime add to the bare SpiffWorkflow loop?

One process, one run, on bench/ten_tasks.bpmn (ten user tasks in a row, four script tasks):

  raw          restore from our gzip'd JSON (app.workflow.engine.load), complete the next ready user
               task, do_engine_steps(), serialize (app.workflow.engine.dump); sandboxed script engine
  raw, no gzip the same with plain JSON, to show what compression costs
  runtime      app.workflow.runtime.complete_task on SQLite (a file in a temporary directory), and on
               PostgreSQL too when --postgres URL is given (a fresh schema, dropped at the end)

Each step is one completed user task; an instance is ten steps. Variants are interleaved instance by
instance so that drift in the machine's speed hits all of them alike. Run from the repository root:

    .venv/bin/python bench/engine.py [--instances 200] [--warmup 20] [--postgres URL]
"""

import argparse
import gc
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/engine.py` puts bench/, not the root, on the path

from SpiffWorkflow import TaskState  # noqa: E402
from sqlalchemy import event, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.workflow import definitions, deployment, engine, runtime  # noqa: E402
from app.workflow.models import HumanTask, ProcessInstance  # noqa: E402
from app.workflow.sandbox import SandboxScriptEngine  # noqa: E402
from tests.support import PostgresSchema  # noqa: E402

BPMN = Path(__file__).resolve().parent / "ten_tasks.bpmn"
PROCESS_KEY = "bench_ten_tasks"
USER_TASKS = 10
TARGET_RATIO = 3.0
START_DATA = {"order_number": "BENCH", "customer": "ACME Ltd", "channel": "web", "total": "100.00"}


# --- the raw library loop ---------------------------------------------------------------------------------


class RawLoop:
    """Restore, complete the next ready user task, run the engine, serialize: the library and our glue only."""

    def __init__(self, name: str, specs, operations, gzipped: bool):
        self.name = name
        self.spec, self.subprocess_specs = specs
        self.operations = operations
        self.gzipped = gzipped
        self.phases: dict[str, list[float]] = {"restore": [], "run": [], "serialize": []}
        self.state_bytes = 0

    def _dump(self, workflow):
        if self.gzipped:
            return engine.dump(workflow)
        return engine._serializer().serialize_json(workflow)

    def _load(self, state, script_engine):
        # as the app: the state names its definition, whose parsed specs are attached again
        specs = lambda: (self.spec, self.subprocess_specs)  # noqa: E731
        if self.gzipped:
            return engine.load(state, script_engine, specs)
        return engine.load_json(state, script_engine, specs)

    def new_instance(self, number: int):
        workflow = engine.OrderlyWorkflow(
            self.spec, self.subprocess_specs, script_engine=SandboxScriptEngine(self.operations)
        )
        workflow.spec_from_definition = True
        workflow.task_tree.data.update(START_DATA, order_number=f"BENCH-{number:06d}")
        workflow.do_engine_steps()
        return self._dump(workflow)

    def run_instance(self, number: int, record: bool) -> list[float]:
        state = self.new_instance(number)
        times = []
        for _ in range(USER_TASKS):
            t0 = perf_counter()
            workflow = self._load(state, SandboxScriptEngine(self.operations))
            t1 = perf_counter()
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update({})
            task.run()
            workflow.do_engine_steps()
            t2 = perf_counter()
            state = self._dump(workflow)
            t3 = perf_counter()
            times.append(t3 - t0)
            if record:
                self.phases["restore"].append(t1 - t0)
                self.phases["run"].append(t2 - t1)
                self.phases["serialize"].append(t3 - t2)
        if not workflow.is_completed():
            raise AssertionError(f"{self.name}: instance {number} did not complete")
        self.state_bytes = len(state)
        return times


# --- the same steps through the runtime ----------------------------------------------------------------



class RuntimeLoop:
    """runtime.start() untimed, then runtime.complete_task() for each open task, timed. Before each timed
    call the session is thrown away and the task id read from the inbox, as a web request would."""

    def __init__(self, name: str, url: str):
        self.name = name
        self.app = create_app({
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "SCHEDULER_ENABLED": False,
        })
        with self.app.app_context():
            db.create_all()
            deployment.deploy(BPMN.read_bytes(), BPMN.name, by="bench", comment="bench/engine.py")
            self.specs = definitions.specs_for(definitions.latest(PROCESS_KEY))
            self.db_version = db.session.execute(
                text("select sqlite_version()" if db.engine.dialect.name == "sqlite" else "show server_version")
            ).scalar()
            db.session.rollback()
        self.statements: list[int] = []
        self.statement_kinds: Counter = Counter()

    @property
    def operations(self):
        return self.app.extensions["orderly.operations"]

    def _open_task(self, instance_id: int) -> str:
        db.session.remove()
        task_id = db.session.scalar(
            select(HumanTask.spiff_task_id).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
        )
        db.session.rollback()  # no transaction left open: complete_task starts its own
        return task_id

    def run_instance(self, number: int, record: bool, count_sql: bool = False) -> list[float]:
        with self.app.app_context():
            instance_id = runtime.start(
                PROCESS_KEY, f"BENCH-{number:06d}", dict(START_DATA, order_number=f"BENCH-{number:06d}"),
                actor="bench",
            ).id
            times = []
            for _ in range(USER_TASKS):
                task_id = self._open_task(instance_id)
                if count_sql:
                    with _StatementCounter(db.engine) as counter:
                        runtime.complete_task(instance_id, task_id, {}, actor="bench")
                    self.statements.append(counter.total)
                    self.statement_kinds.update(counter.kinds)
                    continue
                t0 = perf_counter()
                runtime.complete_task(instance_id, task_id, {}, actor="bench")
                times.append(perf_counter() - t0)
            db.session.remove()
            status = db.session.get(ProcessInstance, instance_id).status
            db.session.remove()
        if status != "completed":
            raise AssertionError(f"{self.name}: instance {number} is {status}, not completed")
        return times

    def dispose(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


class _StatementCounter:
    """Counts the SQL statements sent through an engine, by their first word (used outside the timing)."""

    def __init__(self, bind):
        self.bind = bind
        self.kinds: Counter = Counter()

    def _count(self, _conn, _cursor, statement, *_args):
        self.kinds[statement.lstrip().split(None, 1)[0].upper()] += 1

    def _commit(self, _conn):
        self.kinds["COMMIT"] += 1

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def __enter__(self):
        event.listen(self.bind, "before_cursor_execute", self._count)
        event.listen(self.bind, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.bind, "before_cursor_execute", self._count)
        event.remove(self.bind, "commit", self._commit)


# --- figures and report ---------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f}"


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def _machine(runtimes: list[RuntimeLoop]) -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"CPU            {cpu}, {os.cpu_count()} logical cores ({usable} usable by this process)",
        f"OS             {platform.platform()}",
        f"Python         {platform.python_version()} ({platform.python_implementation()})",
        f"SpiffWorkflow  {version('SpiffWorkflow')}   SQLAlchemy {version('SQLAlchemy')}   "
        f"RestrictedPython {version('RestrictedPython')}",
        f"SQLite         {sqlite3.sqlite_version} (library linked into Python)",
    ]
    if hasattr(os, "getloadavg"):
        lines.append("Load average   {:.2f} {:.2f} {:.2f} (1, 5, 15 min) at the end of the run; other work on the "
                     "machine shows up as noise".format(*os.getloadavg()))
    lines += [f"{loop.name:<14} server {loop.db_version}" for loop in runtimes if "PostgreSQL" in loop.name]
    return lines


def _report(args, raws: list[RawLoop], runtimes: list[RuntimeLoop], times: dict[str, list[float]]) -> None:
    steps = args.instances * USER_TASKS
    print("Orderly engine benchmark: bench/ten_tasks.bpmn (10 user tasks, 4 script tasks)")
    print("\n".join(_machine(runtimes)))
    print(f"Run            {args.instances} instances x {USER_TASKS} steps = {steps} timed steps per variant, "
          f"after {args.warmup} warm-up instances; one step = complete one user task")
    print()
    base = statistics.median(times[raws[0].name])
    header = f"{'variant':<22}{'median ms':>10}{'p95 ms':>10}{'mean ms':>10}{'x raw median':>14}{'x raw p95':>11}"
    print(header)
    print("-" * len(header))
    base_p95 = _p95(times[raws[0].name])
    for name, values in times.items():
        median, p95 = statistics.median(values), _p95(values)
        print(f"{name:<22}{_ms(median):>10}{_ms(p95):>10}{_ms(statistics.fmean(values)):>10}"
              f"{median / base:>13.2f}x{p95 / base_p95:>10.2f}x")
    print()
    print("Raw loop by phase, median ms per step:")
    print(f"{'variant':<22}{'restore':>10}{'run':>10}{'serialize':>11}{'final state':>13}")
    for raw in raws:
        restore, run, serialize = (statistics.median(raw.phases[p]) for p in ("restore", "run", "serialize"))
        size = f"{raw.state_bytes / 1024:.1f} KB"
        print(f"{raw.name:<22}{_ms(restore):>10}{_ms(run):>10}{_ms(serialize):>11}{size:>13}")
    print()
    print("Median ms by step number (the task tree grows with every step):")
    names = list(times)
    print(f"{'step':<6}" + "".join(f"{name:>22}" for name in names))
    for step in range(USER_TASKS):
        row = [statistics.median(times[name][step::USER_TASKS]) for name in names]
        print(f"{step + 1:<6}" + "".join(f"{_ms(value):>22}" for value in row))
    print()
    for loop in runtimes:
        if loop.statements:
            kinds = ", ".join(f"{kind} {count / len(loop.statements):.0f}"
                              for kind, count in loop.statement_kinds.most_common())
            print(f"SQL per complete_task on {loop.name.removeprefix('runtime, ')}: "
                  f"{statistics.median(loop.statements):.0f} statements ({kinds})")
    sqlite_name = next(loop.name for loop in runtimes if "SQLite" in loop.name)
    ratio = statistics.median(times[sqlite_name]) / base
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(f"\nRuntime overhead on SQLite: {ratio:.2f}x the raw loop's median "
          f"({verdict} the target of <= {TARGET_RATIO:.0f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=200, help="timed instances per variant (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed instances per variant first (default 20)")
    parser.add_argument("--postgres", metavar="URL",
                        help="also run the runtime on PostgreSQL, in a fresh schema dropped at the end, "
                             "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    if args.instances < 2:
        parser.error("--instances must be at least 2")

    schema = None
    if args.postgres:
        schema = PostgresSchema(args.postgres, prefix="bench")
        try:
            postgres_url = schema.__enter__()
        except Exception as error:  # no server, wrong URL, no rights: say so and stop
            schema.admin.dispose()
            parser.exit(2, f"cannot create a schema at {args.postgres}: {error.__class__.__name__}: {error}\n")

    with tempfile.TemporaryDirectory(prefix="orderly-bench-") as tmp:
        runtimes = []
        try:
            runtimes.append(RuntimeLoop("runtime, SQLite", f"sqlite:///{Path(tmp) / 'bench.sqlite'}"))
            if schema is not None:
                runtimes.append(RuntimeLoop("runtime, PostgreSQL", postgres_url))
            specs, operations = runtimes[0].specs, runtimes[0].operations
            raws = [RawLoop("raw (gzip)", specs, operations, gzipped=True),
                    RawLoop("raw, no gzip", specs, operations, gzipped=False)]
            loops = [*raws, *runtimes]
            times: dict[str, list[float]] = {loop.name: [] for loop in loops}

            number = 0
            for _ in range(args.warmup):
                for loop in loops:
                    number += 1
                    loop.run_instance(number, record=False)
            for loop in runtimes:  # SQL statement counts, untimed
                for _ in range(3):
                    number += 1
                    loop.run_instance(number, record=False, count_sql=True)
            gc.collect()
            for index in range(args.instances):
                shift = index % len(loops)  # rotate the order so no variant always runs first
                for loop in loops[shift:] + loops[:shift]:
                    number += 1
                    times[loop.name].extend(loop.run_instance(number, record=True))
            _report(args, raws, runtimes, times)
        finally:
            for loop in runtimes:
                loop.dispose()
            if schema is not None:
                schema.__exit__(None, None, None)
    return 0  # the verdict is printed; a slow run is not an error


if __name__ == "__main__":
    sys.exit(main())
