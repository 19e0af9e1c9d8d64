"""How many orders per second does the API accept, and how fast does it answer: gunicorn with two
workers on PostgreSQL, a load generator on loopback POSTing valid orders to /api/v1/orders.

A fresh PostgreSQL schema (dropped at the end) gets the migrations (`flask db upgrade`), the shipped
workflows, --customers customers and --products products, and one API client. Then gunicorn serves
wsgi.py's app on that schema (rate limits set far above the load; the scheduler off) and the load
generator, in this process, sends orders: each a new order of two random lines for a random customer,
with its own Idempotency-Key. Each POST records the order and starts its order process, which runs
its service tasks (intake check, review checks) up to the first person's task, all in one transaction.

Two kinds of run, each after --warmup seconds whose requests are not counted:
  closed   --connections N: N keep-alive connections, each sending its next order as soon as the last is
           answered, for --duration seconds. What the server accepts at most; latency grows with N.
  open     --rate R: orders sent at R per second on a fixed schedule, whatever the answers (up to 256 in
           flight). Latency runs from the scheduled moment, so time spent waiting for a free connection
           counts. This is the target's question: at 200 orders/s, what is the p95?
Accepted = 201 answers. Afterwards the orders and their processes in the database are counted and
must equal the accepted answers. Each run also prints the CPU that gunicorn, PostgreSQL and the load
generator used (from /proc) and what the server's PostgreSQL connections were doing (pg_stat_activity,
sampled every 50 ms): running a statement, idle in a transaction while the app works, waiting for a lock.

--respond-async sends `Prefer: respond-async`: the API answers 202 once the order and its queued
process are recorded, and --schedulers `flask scheduler` processes (default 1), running beside gunicorn
on the same machine for the whole benchmark (--scheduler-nice N: with nice -n N), start the processes.
Accepted = 202 answers. Each run
then reports how many processes were still queued at its end, and after the last run the benchmark
waits until every queued process has started and reports how long that took (the drain).

    .venv/bin/python bench/api.py [--postgres URL] [--workers 2] [--worker-class sync|gthread] [--threads 4]
                                  [--connections 1 2 4 8 16] [--rate 20 200] [--duration 30] [--warmup 5]
                                  [--respond-async] [--schedulers 1] [--scheduler-nice 0]
                                  [--app MODULE:APP] [--profile DIR]

The default run takes about 5 minutes; a quick one: --connections 4 --rate --duration 10.

--app serves another WSGI app, a variant to compare (its module on PYTHONPATH). --profile DIR runs each
gunicorn worker under cProfile (sync workers) and writes DIR/worker-<pid>.prof;
read them with `python -m pstats`. Not part of `make test`. Figures and findings: docs/performance.md,
"API: orders accepted per second".
"""

import argparse
import atexit
import contextlib
import cProfile
import http.client
import json
import os
import platform
import queue
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/api.py` puts bench/, not the root, on the path

from sqlalchemy import func, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.api import auth  # noqa: E402
from app.catalog.models import Product  # noqa: E402
from app.clock import now  # noqa: E402
from app.customers.models import Customer  # noqa: E402
from app.extensions import db  # noqa: E402
from app.orders.models import Order  # noqa: E402
from app.workflow import runtime  # noqa: E402
from app.workflow.deployment import deploy_directory  # noqa: E402
from app.workflow.models import ProcessInstance  # noqa: E402
from tests.support import PostgresSchema  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_RATE = 200  # orders/s
TARGET_P95_MS = 100
MAX_IN_FLIGHT = 256  # open runs: connections ready to send a scheduled order
PATH = "/api/v1/orders"
ACCEPTED = (201, 202)  # started before the answer, or (Prefer: respond-async) recorded with its process queued
APP_NAME = "orderly-bench-api"  # the server's connections say so in pg_stat_activity


# --- the server -------------------------------------------------------------------------------------------


def profiled_app():
    """wsgi.py's app with every request run under cProfile; the stats are written to
    $ORDERLY_BENCH_PROFILE/worker-<pid>.prof every 100 requests and when the worker exits
    (gunicorn 'api:profiled_app()'). Times are CPU time (time.process_time)."""
    app = create_app()
    target = Path(os.environ["ORDERLY_BENCH_PROFILE"]) / f"worker-{os.getpid()}.prof"
    profile = cProfile.Profile(time.process_time)  # CPU, not waiting on PostgreSQL
    inner = app.wsgi_app
    served = [0]

    def wsgi_app(environ, start_response):
        profile.enable()
        try:
            return inner(environ, start_response)
        finally:
            profile.disable()
            served[0] += 1
            if served[0] % 100 == 0:
                profile.dump_stats(target)

    app.wsgi_app = wsgi_app
    atexit.register(lambda: profile.dump_stats(target))
    return app


def _server_env(url: str, args) -> dict:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "DATABASE_URL": f"{url}&application_name={APP_NAME}",
           "SECRET_KEY": "bench", "ORDERLY_SCHEDULER": "0", "FLASK_APP": "wsgi.py",
           # the limits stay on (their cost is part of every call) but far above the load
           "API_RATE_LIMIT": "10000000 per minute", "API_AUTH_FAILURE_RATE_LIMIT": "10000000 per minute"}
    if args.profile:
        env["ORDERLY_BENCH_PROFILE"] = str(Path(args.profile).resolve())
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(url: str, args, port: int) -> subprocess.Popen:
    command = [str(Path(sys.executable).with_name("gunicorn")), "--workers", str(args.workers),
               "--worker-class", args.worker_class, "--bind", f"127.0.0.1:{port}", "--backlog", "2048",
               "--log-level", "warning", "--chdir", str(ROOT)]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        command += ["--pythonpath", str(ROOT / "bench"), "api:profiled_app()"]
    else:
        command.append(args.app)
    server = subprocess.Popen(command, cwd=ROOT, env=_server_env(url, args), stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/v1/orders/SO-0")
            connection.getresponse().read()
            connection.close()
            return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {server.returncode}") from None
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not answer within 60 s")


def start_scheduler(url: str, args) -> subprocess.Popen:
    """A `flask scheduler` process on the benchmark's schema: it starts the queued processes."""
    env = {**_server_env(url, args), "ORDERLY_SCHEDULER_INTERVAL": "0.2"}
    command = [sys.executable, "-m", "flask", "scheduler"]
    if args.scheduler_nice:
        command = ["nice", "-n", str(args.scheduler_nice), *command]
    return subprocess.Popen(command, cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)  # graceful: the workers finish their request and exit
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


# --- setup ------------------------------------------------------------------------------------------------


def set_up(url: str, customers: int, products: int) -> str:
    """Migrate the schema, deploy the workflows, add customers, products and an API client; the token."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "SECRET_KEY": "bench",
           "ORDERLY_SCHEDULER": "0", "FLASK_APP": "wsgi.py"}
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SCHEDULER_ENABLED": False})
    with app.app_context():
        deploy_directory(app.config["WORKFLOWS_DIR"])
        db.session.add_all([Customer(code=f"C{n:04d}", name=f"Customer {n}", email=f"buyer{n}@example.com",
                                     shipping_address=f"{n} Harbour Road", credit_limit=Decimal("100000000"))
                            for n in range(customers)])
        db.session.add_all([Product(sku=f"P-{n:03d}", name=f"Product {n}", list_price=Decimal("12.50"),
                                    on_hand=1_000_000) for n in range(products)])
        _client, token = auth.create_client("bench", "web")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return token


# --- the load ---------------------------------------------------------------------------------------------


class Sample:
    __slots__ = ("sent", "done", "status")

    def __init__(self, sent: float, done: float, status: int):
        self.sent, self.done, self.status = sent, done, status


class Orders:
    """Makes order bodies; the requested date is a month ahead so it never lies in the past."""

    def __init__(self, customers: int, products: int):
        self.customers, self.products = customers, products
        self.requested = (now() + timedelta(days=30)).date().isoformat()

    def body(self, chooser: random.Random) -> bytes:
        skus = chooser.sample(range(self.products), 2)
        return json.dumps({
            "customer_code": f"C{chooser.randrange(self.customers):04d}",
            "lines": [{"sku": f"P-{sku:03d}", "quantity": chooser.randint(1, 20)} for sku in skus],
            "requested_date": self.requested, "payment_method": "credit",
        }).encode()


class Connection:
    """One keep-alive connection that reconnects when the server closes it (sync workers always do)."""

    def __init__(self, port: int, token: str, respond_async: bool = False):
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                        **({"Prefer": "respond-async"} if respond_async else {})}
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post_order(self, orders: "Orders", chooser: random.Random) -> int:
        """A new order's answer status; 0 when the connection failed."""
        try:
            return self.post(orders.body(chooser))
        except OSError:
            return 0

    def post(self, body: bytes) -> int:
        headers = {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        for attempt in range(2):
            try:
                self.http.request("POST", PATH, body=body, headers=headers)
                response = self.http.getresponse()
                response.read()
                return response.status
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # a kept-alive connection the server had just closed: once more on a new one
                self.http.close()
                self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def run_closed(port: int, token: str, orders: Orders, connections: int, warmup: float,
               duration: float, respond_async: bool) -> tuple[list[Sample], float, float]:
    began = perf_counter()
    measured_from, measured_to = began + warmup, began + warmup + duration
    samples: list[Sample] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        chooser = random.Random(number)
        connection = Connection(port, token, respond_async)
        mine = []
        while True:
            sent = perf_counter()
            if sent >= measured_to:
                break
            status = connection.post_order(orders, chooser)
            mine.append(Sample(sent, perf_counter(), status))
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, measured_from, measured_to


def run_open(port: int, token: str, orders: Orders, rate: float, warmup: float,
             duration: float, respond_async: bool) -> tuple[list[Sample], float, float, int]:
    """Orders on a fixed schedule; `sent` is the scheduled moment. Returns the samples, the measured
    stretch and how many scheduled orders were never sent (all connections busy until the end)."""
    schedule: queue.Queue = queue.Queue()
    samples: list[Sample] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        chooser = random.Random(number)
        connection = Connection(port, token, respond_async)
        mine = []
        while True:
            due = schedule.get()
            if due is None:
                break
            status = connection.post_order(orders, chooser)
            mine.append(Sample(due, perf_counter(), status))
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(MAX_IN_FLIGHT)]
    for thread in threads:
        thread.start()
    began = perf_counter()
    measured_from, measured_to = began + warmup, began + warmup + duration
    sent = 0
    while True:
        due = began + sent / rate
        if due >= measured_to:
            break
        pause = due - perf_counter()
        if pause > 0:
            time.sleep(pause)
        schedule.put(due)
        sent += 1
    # Whatever is still queued 30 s after the end was never sent: count it as missing, not as answered.
    give_up = perf_counter() + 30
    while not schedule.empty() and perf_counter() < give_up:
        time.sleep(0.1)
    unsent = 0
    while True:
        try:
            if schedule.get_nowait() is not None:
                unsent += 1
        except queue.Empty:
            break
    for _ in threads:
        schedule.put(None)
    for thread in threads:
        thread.join()
    return samples, measured_from, measured_to, unsent


# --- CPU accounting ---------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _processes() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {"gunicorn": [], "postgres": [], "scheduler": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")[:4]
        except OSError:
            continue
        if b"gunicorn" in b" ".join(command):
            found["gunicorn"].append(int(entry.name))
        elif command[-1:] == [b"scheduler"] and b"flask" in b" ".join(command):
            found["scheduler"].append(int(entry.name))
        elif command and command[0].startswith(b"postgres"):
            found["postgres"].append(int(entry.name))
    return found


def cpu_snapshot() -> dict[str, float]:
    """CPU seconds used so far by gunicorn (master and workers), PostgreSQL (every backend) and this
    process, and by the whole machine (from /proc/stat: busy = not idle and not iowait)."""
    totals = {"bench": time.process_time()}
    for name, pids in _processes().items():
        seconds = 0.0
        for pid in pids:
            with contextlib.suppress(OSError, IndexError):  # a backend that just ended
                seconds += _cpu_seconds(pid)
        totals[name] = seconds
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    totals["machine_busy"] = (sum(values) - values[3] - values[4]) / ticks
    totals["machine_all"] = sum(values) / ticks
    return totals


# --- what PostgreSQL's backends are doing -------------------------------------------------------------


class BackendSampler:
    """Samples pg_stat_activity for the server's connections (application_name APP_NAME) every 50 ms
    while a run is measured: how much of the time they run a statement, wait for a lock (and in which
    statement), wait for the WAL to reach the disk, or sit idle in a transaction while the app works."""

    def __init__(self, admin_url: str):
        from sqlalchemy import create_engine

        self.engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.counts: dict[str, int] = {}
        self.locked: dict[str, int] = {}
        self.samples = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        query = text("SELECT state, wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity "
                     "WHERE application_name = :name AND backend_type = 'client backend'")
        with self.engine.connect() as connection:
            while not self.stop.wait(0.05):
                self.samples += 1
                for state, wait_type, wait_event, statement in connection.execute(query, {"name": APP_NAME}):
                    if state == "active":
                        what = "running a statement" if wait_type is None else f"waiting: {wait_type}/{wait_event}"
                        if wait_type == "Lock":
                            key = " ".join(statement.split())
                            self.locked[key] = self.locked.get(key, 0) + 1
                    else:
                        what = state or "unknown"
                    self.counts[what] = self.counts.get(what, 0) + 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.engine.dispose()

    def report(self) -> None:
        if not self.samples:
            return
        busy = {k: v for k, v in self.counts.items() if k != "idle"}
        print("  PostgreSQL backends of the server, on average: " + "; ".join(
            f"{count / self.samples:.2f} {what}" for what, count in sorted(busy.items(), key=lambda kv: -kv[1]))
            + f"; {self.counts.get('idle', 0) / self.samples:.2f} idle")
        for statement, count in sorted(self.locked.items(), key=lambda kv: -kv[1])[:3]:
            print(f"    waiting for a lock in: {statement} ({count / self.samples:.2f})")


# --- report -----------------------------------------------------------------------------------------------


def machine(url: str) -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SCHEDULER_ENABLED": False})
    with app.app_context():
        server = db.session.execute(text("show server_version")).scalar()
        db.session.remove()
        db.engine.dispose()
    return [
        f"CPU            {cpu}, nproc {os.cpu_count()}",
        f"OS             {platform.platform()}",
        f"Python         {platform.python_version()}   Flask {version('Flask')}   gunicorn {version('gunicorn')}   "
        f"SQLAlchemy {version('SQLAlchemy')}   psycopg {version('psycopg')}   SpiffWorkflow {version('SpiffWorkflow')}",
        f"PostgreSQL     {server}, same machine, over TCP on 127.0.0.1",
    ]


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(name: str, samples: list[Sample], measured_from: float, measured_to: float, cpu: dict | None,
           unsent: int = 0) -> dict:
    counted = [s for s in samples if measured_from <= s.sent < measured_to]
    accepted = [s for s in counted if s.status in ACCEPTED]
    statuses: dict[int, int] = {}
    for s in counted:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    # Until the last counted answer: an open run that fell behind took longer than its schedule.
    duration = max([measured_to, *(s.done for s in counted)]) - measured_from
    latencies = [(s.done - s.sent) * 1000 for s in accepted]
    figures = {"name": name, "rate": len(accepted) / duration, "sent": len(counted), "accepted": len(accepted),
               "errors": len(counted) - len(accepted) + unsent,
               "p50": percentile(latencies, 50) if latencies else float("nan"),
               "p95": percentile(latencies, 95) if latencies else float("nan"),
               "p99": percentile(latencies, 99) if latencies else float("nan"),
               "max": max(latencies) if latencies else float("nan")}
    others = ", ".join(f"{status or 'no answer'}: {count}" for status, count in sorted(statuses.items())
                       if status not in ACCEPTED)
    print(f"  {figures['accepted']} accepted in {duration:.0f} s = {figures['rate']:.1f} orders/s; "
          f"latency p50 {figures['p50']:.1f} ms, p95 {figures['p95']:.1f} ms, p99 {figures['p99']:.1f} ms, "
          f"max {figures['max']:.1f} ms")
    print(f"  errors: {figures['errors']}" + (f" ({others})" if others else "") +
          (f", {unsent} scheduled but never sent" if unsent else ""))
    if cpu:
        wall = cpu["wall"]
        print(f"  CPU over the whole run ({wall:.0f} s): gunicorn {cpu['gunicorn'] / wall * 100:.0f} %, "
              f"PostgreSQL {cpu['postgres'] / wall * 100:.0f} %, load generator {cpu['bench'] / wall * 100:.0f} %, "
              + (f"scheduler {cpu['scheduler'] / wall * 100:.0f} %, " if cpu["scheduler"] else "")
              + f"machine busy {cpu['machine_busy'] / cpu['machine_all'] * 100:.0f} % of {os.cpu_count()} cores; "
              f"per accepted order gunicorn {cpu['gunicorn'] / cpu['orders'] * 1000:.1f} ms, "
              f"PostgreSQL {cpu['postgres'] / cpu['orders'] * 1000:.1f} ms")
    return figures


def verdict(r: dict) -> str:
    """A closed run meets the rate target when it accepted as many orders per second. An open run cannot
    accept more than it is offered, and its last answers stretch its window a little: it meets the target
    when it was offered the target rate and kept up (every order accepted, at 99 % of the rate or more)."""
    if r["offered"] is None:
        rate_ok = r["rate"] >= TARGET_RATE
        rate = f"{r['rate']:.0f} orders/s = {r['rate'] / TARGET_RATE:.2f} x the target of {TARGET_RATE}/s"
    else:
        kept_up = r["errors"] == 0 and r["rate"] >= 0.99 * r["offered"]
        rate_ok = kept_up and r["offered"] >= TARGET_RATE
        rate = (f"{r['accepted']} of {r['sent']} offered accepted, {r['rate']:.1f} orders/s, "
                + ("kept up" if kept_up else "fell behind"))
    p95_ok = r["p95"] <= TARGET_P95_MS
    return (f"{rate} ({'meets' if rate_ok else 'misses'}); p95 {r['p95']:.0f} ms = {r['p95'] / TARGET_P95_MS:.2f} x "
            f"the target of {TARGET_P95_MS} ms ({'meets' if p95_ok else 'misses'})")


def _cpu_delta(before: dict, after: dict, wall: float, orders: int) -> dict:
    return {**{key: after[key] - before[key] for key in before}, "wall": wall, "orders": max(orders, 1)}


def count_written(url: str) -> tuple[int, int, int]:
    """Orders, order processes, and order processes started (not still queued)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SCHEDULER_ENABLED": False})
    with app.app_context():
        orders = db.session.scalar(select(func.count()).select_from(Order))
        processes = db.session.scalar(select(func.count()).select_from(ProcessInstance)
                                      .where(ProcessInstance.process_key == "order_process"))
        started = db.session.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.process_key == "order_process", ProcessInstance.status != runtime.QUEUED))
        db.session.remove()
        db.engine.dispose()
    return orders, processes, started


def queued_now(url: str) -> int:
    with db_engine(url) as engine, engine.connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM process_instance WHERE status = :queued"),
                                 {"queued": runtime.QUEUED})


@contextlib.contextmanager
def db_engine(url: str):
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def drain(url: str, limit: float = 1800) -> tuple[int, float]:
    """Wait until the schedulers have started every queued process; how many were left and how long it took."""
    began, left = perf_counter(), queued_now(url)
    print(f"\nDrain: {left} processes queued after the last run", flush=True)
    remaining = left
    while remaining and perf_counter() - began < limit:
        time.sleep(0.5)
        remaining = queued_now(url)
    if remaining:
        raise RuntimeError(f"{remaining} processes still queued after {limit:.0f} s")
    return left, perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", default=DEFAULT_URL,
                        help=f"PostgreSQL to run on, in a fresh schema (default {DEFAULT_URL})")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync",
                        help="gunicorn worker class (default sync)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--connections", type=int, nargs="*", default=[1, 2, 4, 8, 16],
                        help="closed runs, one per number of connections (default 1 2 4 8 16)")
    parser.add_argument("--rate", type=float, nargs="*", default=[20, TARGET_RATE],
                        help=f"open runs, one per rate in orders/s (default 20 {TARGET_RATE})")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per run (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds sent before measuring (default 5)")
    parser.add_argument("--customers", type=int, default=200, help="customers to spread orders over (default 200)")
    parser.add_argument("--products", type=int, default=50, help="products (default 50)")
    parser.add_argument("--respond-async", action="store_true",
                        help="send Prefer: respond-async (202, the process queued) and run --schedulers beside")
    parser.add_argument("--schedulers", type=int, default=1,
                        help="flask scheduler processes starting queued processes (default 1, with --respond-async)")
    parser.add_argument("--scheduler-nice", type=int, default=0, metavar="N",
                        help="run the schedulers with nice -n N, below the web workers (default 0: beside them)")
    parser.add_argument("--profile", metavar="DIR", help="run the workers under cProfile, stats to DIR")
    parser.add_argument("--app", default="wsgi:app",
                        help="the WSGI app gunicorn serves (default wsgi:app; a variant to compare, on PYTHONPATH)")
    args = parser.parse_args(argv)
    if args.profile and args.worker_class != "sync":
        parser.error("--profile needs --worker-class sync (cProfile follows one thread)")

    try:
        print("Orderly API benchmark: POST /api/v1/orders " + (
            "with Prefer: respond-async (record the order and its queued process; schedulers start it)"
            if args.respond_async else "(record the order, start its order process)"))
        print("\n".join(machine(args.postgres)))
    except Exception as error:  # no server, wrong URL: say so and stop
        parser.exit(2, f"cannot use {args.postgres}: {error.__class__.__name__}: {error}\n")
    threads = f", {args.threads} threads each" if args.worker_class == "gthread" else ""
    print(f"Server         gunicorn, {args.workers} {args.worker_class} workers{threads}, "
          + ("api:profiled_app() under cProfile" if args.profile else args.app))
    if args.respond_async:
        print(f"Schedulers     {args.schedulers} `flask scheduler`" + (
            f", nice -n {args.scheduler_nice}" if args.scheduler_nice else ", same priority as the workers"))
    print(f"Run            {args.warmup:g} s warm-up + {args.duration:g} s measured per run; "
          f"{args.customers} customers, {args.products} products; started {now():%Y-%m-%d %H:%M} UTC")
    if hasattr(os, "getloadavg"):
        print("Load average   {:.2f} {:.2f} {:.2f} (1, 5, 15 min) before".format(*os.getloadavg()))

    schema = PostgresSchema(args.postgres, prefix="bench")
    url = schema.__enter__()
    server = None
    schedulers: list[subprocess.Popen] = []
    results = []
    results_drain = None
    accepted_total = 0
    try:
        token = set_up(url, args.customers, args.products)
        port = _free_port()
        server = start_gunicorn(url, args, port)
        if args.respond_async:
            schedulers = [start_scheduler(url, args) for _ in range(args.schedulers)]
        orders = Orders(args.customers, args.products)
        runs = [("closed", n) for n in args.connections] + [("open", r) for r in args.rate]
        for kind, size in runs:
            name = f"{size} connections" if kind == "closed" else f"{size:g} orders/s offered"
            print(f"\n{name}", flush=True)
            before, began = cpu_snapshot(), perf_counter()
            with BackendSampler(args.postgres) as backends:
                if kind == "closed":
                    samples, start, end = run_closed(port, token, orders, size, args.warmup, args.duration,
                                                         args.respond_async)
                    unsent = 0
                else:
                    samples, start, end, unsent = run_open(port, token, orders, size, args.warmup, args.duration,
                                                               args.respond_async)
            accepted_total += sum(1 for s in samples if s.status in ACCEPTED)
            cpu = _cpu_delta(before, cpu_snapshot(), perf_counter() - began,
                             sum(1 for s in samples if s.status in ACCEPTED))
            figures = report(name, samples, start, end, cpu, unsent)
            results.append(figures | {"offered": size if kind == "open" else None})
            backends.report()
            if args.respond_async:
                print(f"  still queued at the end of the run: {queued_now(url)} processes", flush=True)
        if args.respond_async and args.schedulers:
            results_drain = drain(url)
        stop_gunicorn(server)
        server = None
        written, processes, started = count_written(url)
        # without schedulers (--schedulers 0) the queued processes stay queued: none may have started
        expected_started = accepted_total if not args.respond_async or args.schedulers else 0
        check = ("as many as accepted" if written == processes == accepted_total and started == expected_started
                 else "NOT as many as accepted")
        print(f"\nWritten: {written} orders and {processes} order processes ({started} of them started) for "
              f"{accepted_total} accepted answers ({check})")
    finally:
        if server is not None:
            stop_gunicorn(server)
        for scheduler in schedulers:
            stop_gunicorn(scheduler)
        schema.__exit__(None, None, None)

    print()
    header = f"{'run':<28}{'orders/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['name']:<28}{r['rate']:>10.1f}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}{r['errors']:>8}")
    print()
    for r in results:
        print(f"{r['name']}: {verdict(r)}")
    if results_drain is not None:
        queued, seconds = results_drain
        print(f"Drain: the last {queued} queued processes started {seconds:.1f} s after the last run "
              f"({queued / seconds if seconds else 0:.0f}/s)")
    if hasattr(os, "getloadavg"):
        print("\nLoad average {:.2f} {:.2f} {:.2f} (1, 5, 15 min) at the end".format(*os.getloadavg()))
    return 0  # the verdict is printed; a slow run is not an error


if __name__ == "__main__":
    sys.exit(main())
