"""The silver replay as a user runs it, against the physical floor of the work.

    .venv/bin/python benchmarks/cli_replay.py --warehouse /tmp/nhl-full --start 2024-10-01 --end 2025-04-30

A parse change is repaired by replaying silver from bronze; a user does it with Dagster's own command on
the instance `make dev` uses:

    dagster asset materialize -m nhl_assets.definitions --select 'key:silver/*' --partition-range A...B

This times that command (a fresh process, the project's dagster.yaml in a temporary DAGSTER_HOME, with the
batching event log or, `--event-log stock`, Dagster's own) and the floor it is compared with: decoding every
play-by-play, boxscore and shift-chart body of the window with orjson on one core, and that time divided
over the cores. The instance is one in use, as a user's is: the same command has materialized the window's
first day in it before (not timed). A new DAGSTER_HOME's first command creates the instance's databases
(0.23 s here, against 0.05 s to open existing ones) and its first run the event log's run-database
template: startup and run creation took 1.70 s and 0.19 s on a new DAGSTER_HOME, 1.51 s and 0.16 s on
one in use (medians of 3), a cost a user who has run anything before never pays again. The warehouse must
hold the window's bronze (`full_history.py --phases backfill` builds one).

The repetitions are preceded by one replay of the window that is not counted (its time is printed): where
the warehouse's silver files were written for another window (the suite's earlier phases replay a longer
one), the first replay of this window first splits the files that straddle it (`whole_files.split`, a
commit of its own per table), 1.1-1.3 s more than the next ones here; the repetitions then measure the
replay a user repeats, all alike, instead of a median taken over two of them and that one.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nhl_assets.cliargs import check_window, iso_date, on_parsed, parse_args, positive_int

BODIES = ("bronze/play_by_play", "bronze/boxscore", "bronze/shift_charts")


def _bodies(warehouse: str, start, end) -> list[list[bytes]]:
    from nhl_assets.dates import DateWindow
    from nhl_assets.storage.delta import Warehouse

    wh, window = Warehouse(warehouse), DateWindow(start, end)
    out = []
    for table in BODIES:
        t = wh.read_arrow(table, window, columns=["body"])
        out.append([] if t is None else t.column("body").to_pylist())
    return out


def _decode(bodies: list[bytes]) -> int:
    import orjson

    for body in bodies:
        orjson.loads(body)
    return len(bodies)


def decode_floor(bodies: list[list[bytes]], workers: int) -> tuple[float, float]:
    """(seconds on one core, that divided over `workers` cores) to decode every body. Decoding is
    embarrassingly parallel, so the spread floor is the ideal split; timing it in a process pool would time
    the shipping of the bodies to the workers instead (more than the decoding itself here)."""
    flat = [b for table in bodies for b in table]
    started = time.perf_counter()
    _decode(flat)
    one = time.perf_counter() - started
    return one, one / workers


def where_time_went(home: str, launched: float, exited: float) -> dict[str, float]:
    """Wall seconds of the command's phases, from the timestamps of its run's events in the instance it
    wrote: startup (Python, Dagster's and the definitions' imports, the instance) up to the run's first
    event (its planned events, written at creation); run creation and start up to the step's start; the
    step, and of it the silver work (the asset's own wall time to its last table's commit: parse, validate
    and write, with the events of the tables committed before it); and the step's end to the exit."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(home) as instance:
        run = instance.get_runs(limit=1)[0]
        events = instance.all_logs(run.run_id)
    first = {}
    for event in events:
        first.setdefault(event.dagster_event_type, event.timestamp)
    work = max(e.dagster_event.event_specific_data.materialization.metadata["wall_time_s"].value  # type: ignore
               for e in events if e.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION)
    step_start, step_end = first[DagsterEventType.STEP_START], first[DagsterEventType.STEP_SUCCESS]
    return {"startup_s": events[0].timestamp - launched, "run_creation_s": step_start - events[0].timestamp,
            "step_s": step_end - step_start, "silver_work_s": work, "exit_s": exited - step_end}


def cli_replay(args: argparse.Namespace) -> tuple[float, dict[str, float]]:
    """Wall seconds of `dagster asset materialize` of the silver assets over the window, and its phases."""
    from nhl_assets.ops.instance import write_instance_config

    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as home:
        write_instance_config(Path(home), batching=args.event_log == "batching")
        env = {**os.environ, "DAGSTER_HOME": home, "NHL_WAREHOUSE": args.warehouse}
        env.pop("DAGSTER_EVENT_BATCH_SIZE", None)  # the storage decides (the batching one turns it on)
        cmd = [str(bin_dir / "dagster"), "asset", "materialize", "-m", "nhl_assets.definitions",
               "--select", "key:silver/*", "--partition-range"]
        _run(cmd + [f"{args.start}...{args.start}"], env)  # the instance in use before the replay (untimed)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        launched, started = time.time(), time.monotonic()
        _run(cmd + [f"{args.start}...{args.end}"], env)
        wall, exited = time.monotonic() - started, time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command and its parse workers (reaped)
        return wall, {**where_time_went(home, launched, exited), "cpu_user_s": after.ru_utime - before.ru_utime,
                      "cpu_sys_s": after.ru_stime - before.ru_stime}


def _run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"dagster asset materialize failed:\n{done.stderr[-3000:]}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=iso_date, default=iso_date("2024-10-01"))
    parser.add_argument("--end", type=iso_date, default=iso_date("2025-04-30"))
    parser.add_argument("--warehouse", default=os.path.join(tempfile.gettempdir(), "nhl-full-history"),
                        help="a warehouse holding the window's bronze")
    parser.add_argument("--repeat", type=positive_int, default=1)
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                        help="cores the decode floor is spread over (default: every core)")
    parser.add_argument("--event-log", choices=("batching", "stock"), default="batching")
    on_parsed(parser, lambda a: check_window(a.start, a.end))
    return parser


def main() -> None:
    args = parse_args(build_parser())
    if not Path(args.warehouse).exists():
        raise SystemExit(f"{args.warehouse} does not exist: build it with full_history.py --phases backfill")
    bodies = _bodies(args.warehouse, args.start, args.end)
    games = len(bodies[0])
    settling, _ = cli_replay(args)  # not counted: the files brought to the window's layout (see above)
    print(f"the window's replay before the repetitions (not counted; it splits files written for another "
          f"window): {settling:.2f} s")
    walls, floors, phases = [], [], []
    for _ in range(args.repeat):
        wall, split = cli_replay(args)
        walls.append(wall)
        phases.append(split)
        floors.append(decode_floor(bodies, args.workers))
    wall = statistics.median(walls)
    one, spread = statistics.median(f[0] for f in floors), statistics.median(f[1] for f in floors)
    split = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
    print(f"silver replay {args.start}..{args.end} with dagster asset materialize ({args.event_log} event log): "
          f"{games} games, wall {wall:.2f} s ({wall / max(games, 1) * 1000:.1f} ms per game); decode floor "
          f"{one:.3f} s on one core, {spread:.3f} s spread over {args.workers} cores -> {wall / spread:.2f}x the "
          f"floor (goal <= 8x: {'met' if wall <= 8 * spread else 'missed'}, 8x = {8 * spread:.2f} s); "
          f"runs {[round(w, 2) for w in walls]}")
    print(f"where the time went (medians): startup (imports, definitions, instance) {split['startup_s']:.2f} s; "
          f"run creation and start {split['run_creation_s']:.2f} s; the step {split['step_s']:.2f} s, of which "
          f"the silver work (parse, validate, write) {split['silver_work_s']:.2f} s; step end to exit (the "
          f"run's last events, Python's teardown of the process) {split['exit_s']:.2f} s")
    cpu = split["cpu_user_s"] + split["cpu_sys_s"]
    print(f"CPU of the command and its parse workers (medians): {split['cpu_user_s']:.2f} s user + "
          f"{split['cpu_sys_s']:.2f} s system = {cpu:.2f} s in {wall:.2f} s of wall, "
          f"{cpu / wall:.2f} of the machine's {os.cpu_count()} cores on average")


if __name__ == "__main__":
    main()
