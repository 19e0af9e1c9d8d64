"""Do 10,000 timers due in the same minute fire on time, and each exactly once, with one and with two
scheduler processes on PostgreSQL?

Each variant gets a fresh PostgreSQL schema (dropped at the end) holding bench/timer_breach.bpmn, a user
task with a non-interrupting boundary timer on the date in `due_at`, like an SLA deadline. Untimed setup
starts --instances instances through app.workflow.runtime.start (in parallel worker processes, a commit
per batch), their due times evenly spread over --spread seconds a little in the future. Then the real
scheduler runs: `flask scheduler` (APScheduler, polling every ORDERLY_SCHEDULER_INTERVAL seconds) in one
or two separate OS processes on that schema, on the real clock, until every timer has fired.

Figures come from the engine's own record of firing, the instance_event `timer_fired` rows: lateness is
their `at` (the scheduler's clock when the timer ran, just before the commit) minus the due time they
carry; "all fired" is the last `at` minus the first due time; throughput is timers fired per second
between the first due time and the last firing. Duplicates are instances with more than one
`timer_fired` event, or whose saved state ran the breach path other than exactly once, or that were saved
more than once after the start (lock_version); a missed timer is an instance with no event. Each
scheduler process counts what it claimed and fired and the time it spent claiming and waking, and prints
it when the bench stops it with Ctrl+C (SIGINT).

    .venv/bin/python bench/timers.py [--postgres URL] [--instances 10000] [--spread 60] [--schedulers 1 2]
                                     [--burst] [--setup-workers 2] [--lead SECONDS]

--burst adds variants with every timer due at the same instant (what the schedulers can drain; the same
as --spread 0). The default run takes about 5 minutes; a quick one: --instances 1000 --spread 10.
Not part of `make test`. Figures and findings: docs/performance.md, "Timers: 10,000 due in one minute".
"""

import argparse
import atexit
import json
import multiprocessing
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/timers.py` puts bench/, not the root, on the path

from SpiffWorkflow import TaskState  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.clock import now  # noqa: E402
from app.extensions import db  # noqa: E402
from app.workflow import definitions, deployment, runtime, timers  # noqa: E402
from app.workflow.models import InstanceEvent, ProcessInstance, Wakeup  # noqa: E402
from tests.support import PostgresSchema  # noqa: E402

BPMN = Path(__file__).resolve().parent / "timer_breach.bpmn"
PROCESS_KEY = "bench_timer_breach"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KEY_PREFIX = "TIMER-"
SETUP_BATCH = 200  # instances started per commit during setup
CALIBRATION = 100  # instances started (and cancelled) first to estimate how long setup takes
TARGET_P99 = 2.0
TARGET_RATE = 100


def _config(url: str) -> dict:
    return {"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "SCHEDULER_ENABLED": False}


# --- the scheduler processes ------------------------------------------------------------------------------

_fired_here = {"timers": 0, "wakes": 0, "claims": 0, "claimed": 0, "claim_s": 0.0, "wake_s": 0.0,
               "first_claimed": None, "last_woken": None}


def _count_fired(_instance_id, fired: int = 0, **_kwargs) -> None:
    _fired_here["timers"] += fired


def _timed(function, total: str, after=None):
    """Wrap a module function to add up the time spent in it (a perf_counter call either side)."""

    def timed(*args, **kwargs):
        began = perf_counter()
        result = function(*args, **kwargs)
        _fired_here[total] += perf_counter() - began
        if after is not None:
            after(result)
        return result

    return timed


def _claimed(ids: list[int]) -> None:
    _fired_here["claims"] += 1
    _fired_here["claimed"] += len(ids)
    if ids and _fired_here["first_claimed"] is None:
        _fired_here["first_claimed"] = time.time()


def _woken(_count) -> None:
    _fired_here["wakes"] += 1
    _fired_here["last_woken"] = time.time()


def _print_count() -> None:
    print(json.dumps({"pid": os.getpid(), "cpu_s": time.process_time(), **_fired_here}), flush=True)


def counting_app():
    """The app `flask scheduler` runs in each scheduler process (FLASK_APP=bench/timers.py:counting_app()):
    wsgi.py's app, plus counts of what this process claimed and fired and the time it spent claiming and
    waking (app.workflow.timers calls both through module attributes, so they can be wrapped here),
    printed when it stops."""
    # A shell without job control starts background jobs with SIGINT ignored, and children inherit that:
    # restore Python's handler so that Ctrl+C (how the bench stops the command) always works.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    app = create_app({"SECRET_KEY": "bench"})
    timers.timers_fired.connect(_count_fired)
    timers.claim_due = _timed(timers.claim_due, "claim_s", _claimed)
    runtime.wake = _timed(runtime.wake, "wake_s", _woken)
    atexit.register(_print_count)
    return app


def _start_schedulers(url: str, count: int, log_dir: Path) -> list[tuple[subprocess.Popen, Path]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "ORDERLY_SCHEDULER": "0",
           "FLASK_APP": f"{Path(__file__).resolve()}:counting_app()"}
    started = []
    for number in range(count):
        log = log_dir / f"scheduler-{number + 1}.stderr"
        with open(log, "wb") as stderr:
            process = subprocess.Popen([sys.executable, "-m", "flask", "scheduler"], cwd=ROOT, env=env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
        started.append((process, log))
    for process, log in started:  # "scheduler running" once the app is built and the job added
        line = process.stdout.readline()
        if b"scheduler running" not in line:
            raise RuntimeError(f"scheduler {process.pid} did not start: {line!r}\n{log.read_text()}")
    return started


def _stop_schedulers(started: list[tuple[subprocess.Popen, Path]]) -> list[dict]:
    counts = []
    for process, _log in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # the command stops cleanly on Ctrl+C
    for process, log in started:
        try:
            output = process.communicate(timeout=60)[0].decode()
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate(timeout=30)[0].decode()
        errors = log.read_text()
        if "Traceback" in errors:
            print(f"scheduler {process.pid} logged errors:\n{errors}", file=sys.stderr)
        lines = [line for line in output.splitlines() if line.startswith("{")]
        counts.append(json.loads(lines[-1]) if lines else {"pid": process.pid, "timers": None, "wakes": None})
    return counts


# --- setup ------------------------------------------------------------------------------------------------


def _start_instances(url: str, jobs: list[tuple[str, str]]) -> float:
    """Start one instance per (business key, due time), a commit per batch; runs in a worker process."""
    app = create_app(_config(url))
    began = perf_counter()
    with app.app_context():
        for first in range(0, len(jobs), SETUP_BATCH):
            with runtime.unit_of_work():
                for key, due in jobs[first:first + SETUP_BATCH]:
                    runtime.start(PROCESS_KEY, key, {"due_at": due, "breaches": 0}, actor="bench")
        db.session.remove()
        db.engine.dispose()
    return perf_counter() - began


def _calibrate(app) -> float:
    """Seconds per started instance in this process; the instances (due tomorrow) are cancelled again."""
    due = (now() + timedelta(days=1)).isoformat()
    with app.app_context():
        began = perf_counter()
        with runtime.unit_of_work():
            ids = [runtime.start(PROCESS_KEY, f"CALIBRATE-{n}", {"due_at": due, "breaches": 0}, actor="bench").id
                   for n in range(CALIBRATION)]
        seconds = (perf_counter() - began) / CALIBRATION
        with runtime.unit_of_work():
            for instance_id in ids:
                runtime.cancel(instance_id, actor="bench")
    return seconds


# --- one variant ------------------------------------------------------------------------------------------


class Variant:
    def __init__(self, name: str, schedulers: int, spread: float):
        self.name, self.schedulers, self.spread = name, schedulers, spread
        self.setup_seconds = 0.0
        self.lateness: list[float] = []
        self.dues: list[datetime] = []
        self.fired_at: list[datetime] = []
        self.counts: list[dict] = []
        self.duplicates = self.missed = self.path_wrong = self.saved_twice = 0
        self.left_wakeups = 0
        self.first_due = self.last_due = None
        self.load: float | None = None  # 1-minute load average once all fired: other work shows up here

    # figures
    @property
    def all_fired_seconds(self) -> float:
        return (max(self.fired_at) - self.first_due).total_seconds()

    @property
    def tail_seconds(self) -> float:
        return (max(self.fired_at) - self.last_due).total_seconds()

    @property
    def throughput(self) -> float:
        return len(self.fired_at) / max(self.all_fired_seconds, 1e-9)

    def quantile(self, q: int) -> float:
        return statistics.quantiles(self.lateness, n=100, method="inclusive")[q - 1]


class SetupOverran(Exception):
    """Setup took longer than planned: the first timers fell due before every instance was started."""

    def __init__(self, setup_seconds: float):
        super().__init__(f"setup took {setup_seconds:.0f} s, past the first due time")
        self.setup_seconds = setup_seconds


def run_variant(variant: Variant, args, log_dir: Path, lead: float | None = None) -> Variant:
    schema = PostgresSchema(args.postgres, prefix="bench")
    url = schema.__enter__()
    started: list = []
    app = create_app(_config(url))
    try:
        with app.app_context():
            db.create_all()
            deployment.deploy(BPMN.read_bytes(), BPMN.name, by="bench", comment="bench/timers.py")
        per_start = _calibrate(app)
        # The schedulers start first, so their start-up is not on the way; until the first due time they
        # find nothing to do. Setup in parallel workers is far from perfectly parallel on a small machine
        # shared with other work: allow twice the estimate, plus the workers' start-up.
        started = _start_schedulers(url, variant.schedulers, log_dir)
        estimate = per_start * args.instances / args.setup_workers * 2 + 20
        first_due = now() + timedelta(seconds=lead or estimate)
        step = variant.spread / max(args.instances - 1, 1)
        jobs = [(f"{KEY_PREFIX}{n:06d}", (first_due + timedelta(seconds=n * step)).isoformat())
                for n in range(args.instances)]
        variant.first_due, variant.last_due = first_due, first_due + timedelta(seconds=variant.spread)
        print(f"  setup: {args.instances} instances by {args.setup_workers} workers (calibration "
              f"{per_start * 1000:.1f} ms/instance); first due in {(first_due - now()).total_seconds():.0f} s",
              flush=True)

        began = perf_counter()
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.setup_workers) as pool:
            shares = [jobs[w::args.setup_workers] for w in range(args.setup_workers)]
            pool.starmap(_start_instances, [(url, share) for share in shares])
        variant.setup_seconds = perf_counter() - began
        spare = (first_due - now()).total_seconds()
        if spare < 1:
            raise SetupOverran(variant.setup_seconds)
        with app.app_context():
            waiting = db.session.scalar(select(func.count()).select_from(Wakeup).where(Wakeup.due_at >= first_due))
            db.session.remove()
        if waiting != args.instances:
            raise RuntimeError(f"setup left {waiting} wake-ups, expected {args.instances}")
        print(f"  setup took {variant.setup_seconds:.1f} s; {variant.schedulers} scheduler(s) running, "
              f"{spare:.1f} s before the first due time", flush=True)

        deadline = variant.last_due + timedelta(seconds=args.timeout)
        with app.app_context():
            fired = 0
            while fired < args.instances and now() < deadline:
                time.sleep(1)
                fired = db.session.scalar(
                    select(func.count()).select_from(InstanceEvent).where(InstanceEvent.kind == "timer_fired"))
                db.session.rollback()
            time.sleep(2)  # a timer fired twice would show up now
        variant.load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        variant.counts = _stop_schedulers(started)
        started = []
        _collect(app, variant, args.instances)
        return variant
    finally:
        if started:
            _stop_schedulers(started)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        schema.__exit__(None, None, None)


def _collect(app, variant: Variant, expected: int) -> None:
    with app.app_context():
        keyed = select(ProcessInstance.id).where(ProcessInstance.business_key.startswith(KEY_PREFIX))
        events = db.session.execute(
            select(InstanceEvent.instance_id, InstanceEvent.detail, InstanceEvent.at)
            .where(InstanceEvent.kind == "timer_fired", InstanceEvent.instance_id.in_(keyed))
        ).all()
        per_instance: dict[int, int] = {}
        for instance_id, detail, at in events:
            per_instance[instance_id] = per_instance.get(instance_id, 0) + 1
            due = datetime.fromisoformat(detail["due"])
            variant.dues.append(due)
            variant.fired_at.append(at)
            variant.lateness.append((at - due).total_seconds())
        variant.duplicates = sum(1 for count in per_instance.values() if count > 1)
        variant.missed = expected - len(per_instance)
        # The breach path ran once in each saved state, and each instance was saved once after its start.
        for instance in db.session.scalars(
            select(ProcessInstance).where(ProcessInstance.business_key.startswith(KEY_PREFIX))
        ):
            workflow, lock_version = definitions.restore(instance, None), instance.lock_version
            noted = [t for t in workflow.get_tasks(spec_name="note_breach") if t.has_state(TaskState.COMPLETED)]
            if len(noted) != 1 or noted[0].data.get("breaches") != 1:
                variant.path_wrong += 1
            if lock_version != 2:
                variant.saved_twice += 1
        variant.left_wakeups = db.session.scalar(select(func.count()).select_from(Wakeup).where(
            Wakeup.instance_id.in_(keyed)))
        db.session.remove()


# --- report -----------------------------------------------------------------------------------------------


def _machine(url: str) -> list[str]:
    cpu = "unknown"
    memory = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    app = create_app(_config(url))
    with app.app_context():
        server = db.session.execute(text("show server_version")).scalar()
        interval, claim = app.config["SCHEDULER_INTERVAL_SECONDS"], app.config["WAKEUP_CLAIM_SECONDS"]
        db.session.remove()
        db.engine.dispose()
    lines = [
        f"CPU            {cpu}, nproc {os.cpu_count()}, RAM {memory}",
        f"OS             {platform.platform()}",
        f"Python         {platform.python_version()}   SpiffWorkflow {version('SpiffWorkflow')}   "
        f"SQLAlchemy {version('SQLAlchemy')}   APScheduler {version('APScheduler')}   psycopg {version('psycopg')}",
        f"PostgreSQL     {server}, same machine, over TCP",
        f"Scheduler      poll every {interval} s (ORDERLY_SCHEDULER_INTERVAL), claims of up to 100 held "
        f"{claim} s (ORDERLY_WAKEUP_CLAIM_SECONDS)",
    ]
    return lines


def _print_variant(variant: Variant) -> None:
    rate = len(variant.dues) / variant.spread if variant.spread > 0 else float("inf")
    print(f"  due over {variant.spread:g} s ({rate:.0f} timers/s); all fired {variant.all_fired_seconds:.1f} s "
          f"after the first due time, {variant.tail_seconds:.1f} s after the last")
    print(f"  lateness p50 {variant.quantile(50):.3f} s, p90 {variant.quantile(90):.3f} s, "
          f"p99 {variant.quantile(99):.3f} s, max {max(variant.lateness):.3f} s, min {min(variant.lateness):.3f} s")
    load = f"; load average {variant.load:.2f} when all had fired" if variant.load is not None else ""
    print(f"  throughput {variant.throughput:.0f} timers/s{load}")
    for c in variant.counts:
        if c.get("wakes") is None:
            print(f"  scheduler {c['pid']}: printed no counts")
            continue
        busy = (c["last_woken"] or 0) - (c["first_claimed"] or 0)
        per_wake = c["wake_s"] / max(c["wakes"], 1) * 1000
        print(f"  scheduler {c['pid']}: fired {c['timers']} in {c['wakes']} wake-ups; {c['claims']} claims, "
              f"{c['claim_s']:.1f} s claiming; waking {c['wake_s']:.1f} s, {per_wake:.1f} ms a wake-up; "
              f"first claim to last wake-up {busy:.1f} s; CPU {c['cpu_s']:.1f} s (with start-up)")
    # Firings per stretch of wall time: shows whether the schedulers kept pace or stalled.
    start = variant.first_due
    per_stretch: dict[int, int] = {}
    for at in variant.fired_at:
        stretch = int((at - start).total_seconds() // 10)
        per_stretch[stretch] = per_stretch.get(stretch, 0) + 1
    print("  fired per second, by 10 s from the first due time: " + " ".join(
        f"{per_stretch.get(index, 0) / 10:.0f}" for index in range(min(per_stretch), max(per_stretch) + 1)))
    print(f"  duplicates {variant.duplicates}, breach path not run exactly once {variant.path_wrong}, "
          f"saved more than once {variant.saved_twice}, missed {variant.missed}, wake-ups left {variant.left_wakeups}")
    # How lateness moves through the window: a growing backlog shows here first.
    buckets: dict[int, list[float]] = {}
    width = max(variant.spread / 6, 1.0)
    for due, late in zip(variant.dues, variant.lateness, strict=True):
        buckets.setdefault(int((due - variant.first_due).total_seconds() // width), []).append(late)
    print("  lateness by due time: " + "; ".join(
        f"+{index * width:.0f}s p50 {statistics.median(values):.2f} max {max(values):.2f}"
        for index, values in sorted(buckets.items())))


def _print_summary(variants: list[Variant]) -> None:
    print()
    header = (f"{'variant':<34}{'timers/s due':>13}{'all fired s':>12}{'p50 s':>8}{'p99 s':>8}{'max s':>8}"
              f"{'fired/s':>9}{'dupl.':>7}{'missed':>7}")
    print(header)
    print("-" * len(header))
    for v in variants:
        rate = f"{len(v.dues) / v.spread:.0f}" if v.spread > 0 else "burst"
        print(f"{v.name:<34}{rate:>13}{v.all_fired_seconds:>12.1f}{v.quantile(50):>8.2f}{v.quantile(99):>8.2f}"
              f"{max(v.lateness):>8.2f}{v.throughput:>9.0f}{v.duplicates + v.path_wrong + v.saved_twice:>7}"
              f"{v.missed:>7}")
    print()
    for v in variants:
        if v.spread <= 0:
            continue
        late = "meets" if v.quantile(99) <= TARGET_P99 else "misses"
        once = "every timer exactly once" if not (v.duplicates or v.path_wrong or v.saved_twice or v.missed) \
            else "NOT every timer exactly once"
        print(f"{v.name}: p99 lateness {v.quantile(99):.2f} s at {len(v.dues) / v.spread:.0f} timers/s "
              f"({late} the target of <= {TARGET_P99:g} s at {TARGET_RATE} timers/s); {once}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", default=DEFAULT_URL,
                        help=f"PostgreSQL to run on, a fresh schema per variant (default {DEFAULT_URL})")
    parser.add_argument("--instances", type=int, default=10_000, help="instances, one timer each (default 10000)")
    parser.add_argument("--spread", type=float, default=60.0,
                        help="seconds over which the due times are spread evenly (default 60)")
    parser.add_argument("--schedulers", type=int, nargs="+", default=[1, 2],
                        help="scheduler process counts to run, one variant each (default 1 2)")
    parser.add_argument("--burst", action="store_true",
                        help="also run each scheduler count with every timer due at the same instant (as --spread 0)")
    parser.add_argument("--setup-workers", type=int, default=2, help="processes starting instances (default 2)")
    parser.add_argument("--lead", type=float, default=None,
                        help="seconds from the start of setup to the first due time (default: estimated)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds after the last due time to give up waiting (default 300)")
    args = parser.parse_args(argv)
    if args.instances < 2 or args.spread < 0 or min(args.schedulers) < 1:
        parser.error("--instances must be at least 2, --spread not negative, --schedulers at least 1")

    variants = [Variant(f"{n} scheduler process{'es' if n > 1 else ''}, {args.spread:g} s", n, args.spread)
                for n in args.schedulers]
    if args.burst:
        variants += [Variant(f"{n} scheduler process{'es' if n > 1 else ''}, same instant", n, 0.0)
                     for n in args.schedulers]
    try:
        print("Orderly timer benchmark: bench/timer_breach.bpmn (a user task with a non-interrupting boundary timer)")
        print("\n".join(_machine(args.postgres)))
    except Exception as error:  # no server, wrong URL: say so and stop
        parser.exit(2, f"cannot use {args.postgres}: {error.__class__.__name__}: {error}\n")
    print(f"Run            {args.instances} instances per variant, started {now():%Y-%m-%d %H:%M} UTC")
    with tempfile.TemporaryDirectory(prefix="orderly-bench-timers-") as tmp:  # the schedulers' stderr
        log_dir = Path(tmp)
        for number, variant in enumerate(variants):
            print(f"\n{variant.name}", flush=True)
            lead = args.lead
            for _attempt in range(3):
                try:
                    run_variant(variant, args, log_dir, lead)
                    break
                except SetupOverran as overran:  # other work on the machine slowed the setup: again, with more lead
                    lead = overran.setup_seconds * 2 + 30
                    print(f"  {overran}; starting this variant again with {lead:.0f} s lead", flush=True)
                    variant = variants[number] = Variant(variant.name, variant.schedulers, variant.spread)
            else:
                parser.exit(1, f"{variant.name}: setup overran three times; try --lead or --setup-workers\n")
            _print_variant(variant)
    _print_summary(variants)
    if hasattr(os, "getloadavg"):
        print("\nLoad average {:.2f} {:.2f} {:.2f} (1, 5, 15 min) at the end".format(*os.getloadavg()))
    return 0  # the verdict is printed; a late run is not an error


if __name__ == "__main__":
    sys.exit(main())
