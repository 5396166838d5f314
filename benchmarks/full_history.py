"""Full-history benchmarks against the loopback simulator (2023-10-01 .. 2026-04-16 by default).

    .venv/bin/python benchmarks/full_history.py                       # every phase, in order
    .venv/bin/python benchmarks/full_history.py --phases replay,overhead,spark --warehouse /tmp/nhl-full

Phases (each in its own child process, so peak RSS is the phase's own; figures printed per phase):

* backfill  full backfill bronze -> gold with `nhl-assets backfill` (30-day chunk runs, then gold),
            simulator in its own process with `--latency-ms` per call and `--concurrency` connections:
            wall time, API calls, calls/s, ratio to the API-bound minimum (calls x latency / connections).
* replay    silver + gold re-derived from bronze for the whole history as Dagster runs (the silver replay
            job, then gold as `nhl-assets backfill` runs it: xG model, shots scored, season stats, features,
            model, predictions), with the API pointed at a closed port so any call would fail: wall time
            and peak RSS (VmHWM).
* overhead  the silver replay as one Dagster run (on an in-memory instance and on a SQLite-file instance,
            each with Dagster's own event log and with the project's batching one) versus the same
            transforms called directly (`build_window` + the storage module's writes): medians of
            `--repeat`, overhead in percent; each measurement in a fresh process of its own, after an
            untimed replay of the window's first week.

Every phase also prints the seconds the instance's event log spent storing events (Dagster's partition
bookkeeping) beside the rest of the wall time (the work).
* spark     the silver replay plus the gold features on the polars engine versus the Spark engine
            (local mode on every core): medians of `--repeat`, ratio.

Phases after `backfill` reuse its warehouse (`--warehouse`, kept); run `backfill` once, the others as often
as wanted, also on a shorter window (`--start/--end` within the loaded range).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from nhl_assets.cliargs import check_window, iso_date, non_negative_float, on_parsed, parse_args, positive_int
from nhl_assets.simulator.cli import DEFAULT_FIRST_DATE, DEFAULT_LAST_DATE

sys.path.insert(0, str(Path(__file__).resolve().parent))

PHASES = ("backfill", "replay", "overhead", "spark")
SPARK_CONFIG = {"spark.master": "local[*]", "spark.driver.memory": "6g"}


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _closed_port_url() -> str:
    """A loopback URL nothing listens on: any API call during a replay fails loudly."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _instance(tmp: str, batching: bool = True):
    """A persistent (SQLite files) instance in `tmp`, as `nhl-assets backfill` uses `$DAGSTER_HOME` (runs of
    two threads, silver of a chunk overlapping bronze of the next, need one): the project's dagster.yaml,
    whose event log writes a batch of events in one transaction, or (`batching=False`) Dagster's own."""
    from dagster import DagsterInstance

    from nhl_assets.ops.instance import write_instance_config

    home = os.path.join(tmp, "batching" if batching else "stock")
    write_instance_config(Path(home), batching=batching)
    return DagsterInstance.from_config(home)


def _memory_instance(batching: bool = True):
    """An ephemeral instance (what tests and `materialize` use), with the batching in-memory event log or
    Dagster's own."""
    from dagster import DagsterInstance

    from nhl_assets.deploy.event_log import ephemeral_instance

    return ephemeral_instance() if batching else DagsterInstance.ephemeral()


class Bookkeeping:
    """Wall seconds an instance's event log spends storing events: Dagster's partition bookkeeping, as
    against the work (everything else a run does). Wraps the storage's two write methods, counting only
    outermost calls (a batch may store some of its events one by one). Runs of this process only.

    `by_kind` splits the seconds by what was stored: the planned events a run's creation writes (one per
    partition and asset), the materializations (one per partition and asset), and every other event (the
    run's and step's own, outputs, check results, logs), each a write of its own."""

    KINDS = ("planned", "materializations", "other events")

    def __init__(self, instance) -> None:
        self.seconds = 0.0
        self.by_kind = dict.fromkeys(self.KINDS, 0.0)
        self._depth = 0
        storage = instance.event_log_storage
        for name in ("store_event", "store_event_batch"):
            setattr(storage, name, self._timed(getattr(storage, name)))

    @staticmethod
    def _kind(stored) -> str:
        event = stored if hasattr(stored, "dagster_event") else (stored[0] if stored else None)  # one, or a batch
        kind = event.dagster_event.event_type_value if event is not None and event.dagster_event else None
        return {"ASSET_MATERIALIZATION_PLANNED": "planned",
                "ASSET_MATERIALIZATION": "materializations"}.get(kind, "other events")

    def _timed(self, method):
        def timed(stored, *args, **kwargs):
            self._depth += 1
            started = time.perf_counter()
            try:
                return method(stored, *args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    spent = time.perf_counter() - started
                    self.seconds += spent
                    self.by_kind[self._kind(stored)] += spent
        return timed


def _event_batches(on: bool) -> None:
    """Dagster reads DAGSTER_EVENT_BATCH_SIZE at every event: on for a batching storage, off for the stock one
    (which would only loop over a batch), so each lever is measured alone."""
    from nhl_assets.deploy.event_log import EVENT_BATCH_SIZE

    if on:
        os.environ["DAGSTER_EVENT_BATCH_SIZE"] = EVENT_BATCH_SIZE
    else:
        os.environ.pop("DAGSTER_EVENT_BATCH_SIZE", None)


# ----------------------------------------------------------------------------------------------------
# phases (run in a child process each)
# ----------------------------------------------------------------------------------------------------


def phase_backfill(args: argparse.Namespace) -> dict:
    from bronze_backfill import api_bound_s, loopback, ratio_to_bound
    from rich.console import Console

    from nhl_assets.dates import DateWindow
    from nhl_assets.ops.backfill import run_backfill
    from nhl_assets.simulator.cli import clock_after

    window = DateWindow.of(args.start, args.end)
    as_of = clock_after(window.end)
    run_config = {"resources": {"nhl_api": {"config": {"concurrency": args.concurrency, "rate_per_second": 0.0}}}}
    with loopback("subprocess", args.seed, as_of, args.latency_ms) as server, \
            tempfile.TemporaryDirectory() as tmp:
        os.environ["NHL_API_WEB_URL"], os.environ["NHL_API_STATS_URL"] = server.web_url, server.stats_url
        instance = _instance(tmp)
        books = Bookkeeping(instance)
        started = time.monotonic()
        report = run_backfill(window, {"bronze", "silver", "gold"}, chunk_days=30, instance=instance,
                              run_config=run_config, console=Console(stderr=True))
        wall = time.monotonic() - started
        calls = server.stats()["total"]
    if report.failed:
        raise SystemExit(f"backfill failed at chunk(s) {report.failed}")
    bound = api_bound_s(calls, args.latency_ms, args.concurrency)
    return {"wall_s": wall, "api_calls": calls, "calls_per_s": calls / wall, "api_bound_s": bound,
            "ratio_to_api_bound": ratio_to_bound(wall, bound), "gold_steps_s": report.gold_steps,
            "bookkeeping_s": books.seconds, "peak_rss_mb": peak_rss_mb()}


def _replay_runs(defs, window, instance, books: "Bookkeeping | None" = None, retrain: bool = False
                 ) -> dict[str, float]:
    """Silver and gold from bronze as Dagster runs, gold as `nhl-assets backfill` runs it (`run_gold`, with
    the upcoming schedule left alone: it asks the API); each step's wall seconds (and, with `books`, each
    step's event-log seconds under `<step> bookkeeping`). The models retrain by their rule (a replay brings
    no new game dates: both are kept), or with `retrain` as `nhl-assets backfill --retrain` asks."""
    from nhl_assets.definitions import SILVER_REPLAY_JOB
    from nhl_assets.ops.launch import run_gold
    from nhl_assets.runs import materialize_window
    from nhl_assets.transform.threads import preload

    preload()  # as `nhl-assets backfill` does when gold is asked for: scikit-learn imported beside the runs
    steps: dict[str, float] = {}

    def step(name, fn):
        t, b = time.monotonic(), books.seconds if books else 0.0
        fn()
        steps[name] = time.monotonic() - t
        if books:
            steps[f"{name} bookkeeping"] = books.seconds - b

    step("silver", lambda: materialize_window(defs, window, instance, SILVER_REPLAY_JOB))
    run_gold(defs, window, instance, retrain=retrain, upcoming=False, step=step)
    return steps


def phase_replay(args: argparse.Namespace) -> dict:
    from nhl_assets.dates import DateWindow
    from nhl_assets.definitions import build_definitions

    os.environ["NHL_API_WEB_URL"] = os.environ["NHL_API_STATS_URL"] = _closed_port_url()
    window = DateWindow.of(args.start, args.end)
    with tempfile.TemporaryDirectory() as tmp:
        batching = args.event_log == "batching"
        instance = _memory_instance(batching) if args.instance == "memory" else _instance(tmp, batching)
        _event_batches(batching)
        books = Bookkeeping(instance)
        started = time.monotonic()
        steps = _replay_runs(build_definitions(), window, instance, books, retrain=args.retrain)
        wall = time.monotonic() - started
    return {"wall_s": wall, "steps_s": steps, "bookkeeping_s": books.seconds, "peak_rss_mb": peak_rss_mb(),
            "api_calls": 0}


def _silver_direct(window) -> None:
    """What the silver asset does, without Dagster: parse, validate, write every silver table."""
    from nhl_assets import settings
    from nhl_assets.silver import build as sb
    from nhl_assets.storage.delta import Warehouse

    wh = Warehouse(settings.warehouse_root())
    sb.write_window(wh, window, sb.build_window(wh, window, workers=os.cpu_count() or 1))  # the engine's default


#: The overhead phase's variants: the transforms called directly, then a Dagster run on each instance.
OVERHEAD_VARIANTS = ("direct", "in-memory, stock event log", "in-memory, batching event log",
                     "SQLite, stock event log", "SQLite, batching event log")
#: Days at the start of the window each overhead measurement first runs untimed (its process's warm-up).
OVERHEAD_WARMUP_DAYS = 7


def phase_overhead(args: argparse.Namespace) -> dict:
    """The silver replay as one Dagster run, on an in-memory instance (what `materialize` and tests use) and
    on a SQLite-file instance (`dagster dev`'s), each with Dagster's own event log and with the project's
    batching one, against the same transforms called directly.

    Each measurement runs in a fresh process of its own (`_overhead_measurement`), interleaved so that drift
    of the machine affects all alike. In one shared process a run was slower after a run of another variant:
    the SQLite batching run measured +13.5-15.1% over direct right after a stock SQLite run, +10.1% in a
    process that ran no stock run, +11.1% in a process of its own (medians of 3-4; stop 26).
    """
    from nhl_assets.dates import DateWindow
    from nhl_assets.silver import build as sb

    if args.variant:
        return _overhead_measurement(args)
    times: dict[str, list[float]] = {v: [] for v in OVERHEAD_VARIANTS}
    booked: dict[str, list[float]] = {v: [] for v in OVERHEAD_VARIANTS[1:]}
    for _ in range(args.repeat):
        for variant in OVERHEAD_VARIANTS:
            cmd = [sys.executable, __file__, *sys.argv[1:], "--variant", variant]
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
            measured = json.loads(out.strip().splitlines()[-1])
            times[variant].append(measured["seconds"])
            if variant in booked:
                booked[variant].append(measured["bookkeeping_s"])
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {"runs_s": times, "medians_s": medians,
            "bookkeeping_s": {k: statistics.median(b["total"] for b in v) for k, v in booked.items()},
            "bookkeeping_by_kind_s": {k: {kind: statistics.median(b[kind] for b in v) for kind in Bookkeeping.KINDS}
                                      for k, v in booked.items()},
            "overhead": {k: medians[k] / medians["direct"] - 1 for k in booked},
            "partition_events": len(DateWindow.of(args.start, args.end)) * len(sb.SILVER_TABLES)}


def _overhead_measurement(args: argparse.Namespace) -> dict:
    """One variant's silver replay of the window, timed, in this process, after an untimed replay of the
    window's first `OVERHEAD_WARMUP_DAYS` days (imports, the instance's databases, first-call costs)."""
    from nhl_assets.dates import DateWindow
    from nhl_assets.definitions import SILVER_REPLAY_JOB, build_definitions
    from nhl_assets.runs import materialize_window

    window = DateWindow.of(args.start, args.end)
    warmup = DateWindow(window.start, min(window.end, window.start + timedelta(days=OVERHEAD_WARMUP_DAYS - 1)))
    with tempfile.TemporaryDirectory() as tmp:
        if args.variant == "direct":
            run, booked = _silver_direct, lambda: {}  # no instance, no event log
        else:
            batching = args.variant.endswith("batching event log")
            instance = (_instance(tmp, batching) if args.variant.startswith("SQLite")
                        else _memory_instance(batching))
            _event_batches(batching)
            book, defs = Bookkeeping(instance), build_definitions()
            booked = lambda: {"total": book.seconds, **book.by_kind}  # noqa: E731

            def run(w):
                materialize_window(defs, w, instance, SILVER_REPLAY_JOB)
        run(warmup)
        before, started = booked(), time.monotonic()
        run(window)
        spent, after = time.monotonic() - started, booked()
        return {"seconds": spent, "bookkeeping_s": {k: after[k] - before[k] for k in after}}


def phase_spark(args: argparse.Namespace) -> dict:
    from nhl_assets.dates import DateWindow
    from nhl_assets.definitions import GOLD_FEATURES_JOB, SILVER_REPLAY_JOB, build_definitions
    from nhl_assets.runs import materialize_window, upcoming_until

    window = DateWindow.of(args.start, args.end)
    gold = DateWindow(window.start, upcoming_until(window))
    defs = build_definitions()
    engines = {"polars": {"engine": "polars"}, "spark": {"engine": "spark", "spark_config": SPARK_CONFIG}}
    times: dict[str, list[float]] = {e: [] for e in engines}
    with tempfile.TemporaryDirectory() as tmp:
        instance = _instance(tmp)
        warmup = 1 if args.repeat > 1 else 0  # the first Spark round starts the JVM: a warm-up, not counted
        for rep in range(args.repeat + warmup):
            for engine, config in engines.items():
                run_config = {"resources": {"engine": {"config": config}}}
                t = time.monotonic()
                materialize_window(defs, window, instance, SILVER_REPLAY_JOB, run_config=run_config)
                materialize_window(defs, gold, instance, GOLD_FEATURES_JOB, run_config=run_config)
                if rep >= warmup:
                    times[engine].append(time.monotonic() - t)
    p, s = statistics.median(times["polars"]), statistics.median(times["spark"])
    return {"polars_s": times["polars"], "spark_s": times["spark"], "polars_median_s": p, "spark_median_s": s,
            "spark_over_polars": s / p}


# ----------------------------------------------------------------------------------------------------
# driver
# ----------------------------------------------------------------------------------------------------


def _print(phase: str, r: dict, args: argparse.Namespace) -> None:
    if phase == "backfill":
        from bronze_backfill import ratio_text

        print(f"backfill {args.start}..{args.end} bronze->gold: wall {r['wall_s']:.1f} s, API calls "
              f"{r['api_calls']}, {r['calls_per_s']:.1f} calls/s, API-bound minimum {r['api_bound_s']:.1f} s "
              f"({args.latency_ms:g} ms x calls / {args.concurrency}), ratio {ratio_text(r['ratio_to_api_bound'])} "
              f"(goal <= 1.25x); gold steps {json.dumps({k: round(v, 1) for k, v in r['gold_steps_s'].items()})}, "
              f"Dagster's event log {r['bookkeeping_s']:.1f} s in this process (bronze and gold runs; the silver "
              f"runs' own, in their child process, not counted), "
              f"peak RSS {r['peak_rss_mb']:.0f} MB")
    elif phase == "replay":
        print(f"replay silver+gold from bronze, {args.start}..{args.end}, 0 API calls, {args.instance} instance, "
              f"{args.event_log} event log, models {'retrained' if args.retrain else 'by their rule'}: "
              f"wall {r['wall_s']:.1f} s "
              f"(goal <= 60 s) of which Dagster's event log {r['bookkeeping_s']:.1f} s and the work "
              f"{r['wall_s'] - r['bookkeeping_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB (goal <= 2048 MB); steps "
              f"{json.dumps({k: round(v, 1) for k, v in r['steps_s'].items()})}")
    elif phase == "overhead":
        m = r["medians_s"]
        print(f"Dagster overhead, silver replay of {args.start}..{args.end} as one run ({r['partition_events']} "
              f"partition materializations) vs the same transforms called directly (median of {args.repeat}): direct "
              f"{m['direct']:.2f} s; " + "; ".join(
                  f"{k} {m[k]:.2f} s ({r['overhead'][k] * 100:+.1f}%; event log {r['bookkeeping_s'][k]:.2f} s: "
                  + ", ".join(f"{kind} {s:.2f}" for kind, s in r['bookkeeping_by_kind_s'][k].items()) + ")"
                  for k in r["overhead"])
              + " (goal <= 10%); runs "
              + json.dumps({k: [round(x, 2) for x in v] for k, v in r["runs_s"].items()}))
    else:
        print(f"polars vs Spark (local mode), silver replay + gold features of {args.start}..{args.end}: polars "
              f"median {r['polars_median_s']:.1f} s, Spark median {r['spark_median_s']:.1f} s -> Spark/polars "
              f"{r['spark_over_polars']:.2f}x; runs polars {[round(x, 1) for x in r['polars_s']]}, Spark "
              f"{[round(x, 1) for x in r['spark_s']]}")
    sys.stdout.flush()


def phase_list(text: str) -> list[str]:
    """argparse type of --phases: a comma-separated subset of PHASES, in the order given."""
    phases = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in phases if p not in PHASES]
    if unknown or not phases:
        raise argparse.ArgumentTypeError(f"must be a comma-separated list of {', '.join(PHASES)}, got {text!r}")
    return phases


def check_args(args: argparse.Namespace) -> None:
    """The window must lie in the simulated history (NHL_START_DATE is set to --start for the runs)."""
    check_window(args.start, args.end, first=DEFAULT_FIRST_DATE, last=DEFAULT_LAST_DATE,
                 first_what="the simulated history's first day", last_what="the simulated history's last day")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=iso_date, default=DEFAULT_FIRST_DATE)
    parser.add_argument("--end", type=iso_date, default=DEFAULT_LAST_DATE)
    parser.add_argument("--phases", type=phase_list, default=list(PHASES), help=f"comma-separated: {','.join(PHASES)}")
    parser.add_argument("--warehouse", default=os.path.join(tempfile.gettempdir(), "nhl-full-history"))
    parser.add_argument("--latency-ms", type=non_negative_float, default=150.0,
                        help="simulated latency per call (0: none; the ratio to the API-bound minimum is then n/a)")
    parser.add_argument("--concurrency", type=positive_int, default=4)
    parser.add_argument("--repeat", type=positive_int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--event-log", choices=("batching", "stock"), default="batching",
                        help="replay: the project's batching event log or Dagster's own")
    parser.add_argument("--instance", choices=("sqlite", "memory"), default="sqlite",
                        help="replay: the Dagster instance (SQLite files as `dagster dev`, or in-memory)")
    parser.add_argument("--retrain", action="store_true",
                        help="replay: retrain both models (by their rule a replay keeps them: no new game dates)")
    parser.add_argument("--child", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=OVERHEAD_VARIANTS, help=argparse.SUPPRESS)  # one overhead measurement
    on_parsed(parser, check_args)
    return parser


def main() -> None:
    args = parse_args(build_parser())
    os.environ["NHL_WAREHOUSE"] = args.warehouse
    os.environ["NHL_START_DATE"] = args.start.isoformat()
    if args.child:  # one phase, in this (child) process: print its figures as JSON on the last line
        result = globals()[f"phase_{args.child}"](args)
        print(json.dumps(result))
        return
    phases = args.phases
    if "backfill" in phases and Path(args.warehouse).exists():
        raise SystemExit(f"{args.warehouse} exists: remove it (or choose --warehouse) to measure a fresh backfill")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; window {args.start}..{args.end}; "
          f"warehouse {args.warehouse}")
    for phase in phases:
        cmd = [sys.executable, __file__, "--child", phase, *sys.argv[1:]]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        _print(phase, json.loads(out.strip().splitlines()[-1]), args)


if __name__ == "__main__":
    main()
