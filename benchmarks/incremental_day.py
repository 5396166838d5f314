"""One incremental day driven by the sensors, bronze → silver → gold, against the simulator with latency.

    .venv/bin/python benchmarks/incremental_day.py --latency-ms 150 --repeat 3

Setup (not timed): a warehouse with three weeks of history (2023-10-20..2023-11-09) and a trained model,
loaded as one range backfill without latency. Timed, per repetition on a copy of that warehouse, two
consecutive days: the clock moves to the next morning (the games of the day before final), the API
answers with the given latency, and the daemon's loop runs in this process (`runs.drive_sensor`): the
NHL-schedule sensor requests the new day's bronze and the lookback re-fetches, then the assets' automation
conditions are evaluated (Dagster's clock at the simulated morning) and their runs executed until they
request nothing — silver for changed dates, the refresh, features through the upcoming week, the model and
the predictions — until the schedule sensor has nothing left. The first day (2023-11-10) is the first
after a range backfill on a new Dagster instance (each re-fetched date gets its first data version there,
so silver runs for it too); the second (2023-11-11) is the steady state of every later day. Reports the
wall time of each day, the ticks of both sensors and the API calls.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timezone

from nhl_assets.cliargs import non_negative_float, positive_int


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=non_negative_float, default=150.0, help="simulated latency per call")
    parser.add_argument("--repeat", type=positive_int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    return parser


def main() -> None:
    args = build_parser().parse_args()

    from dagster import DagsterInstance

    from nhl_assets.dates import DateWindow
    from nhl_assets.resources import AutomationConfig
    from nhl_assets.definitions import build_definitions
    from nhl_assets.resources import NHLApiResource, WarehouseResource
    from nhl_assets.runs import drive_sensor, run_pipeline
    from nhl_assets.simulator.cli import start_loopback
    from nhl_assets.simulator.faults import FaultConfig

    server = start_loopback("sim", seed=args.seed)
    os.environ["NHL_API_WEB_URL"], os.environ["NHL_API_STATS_URL"] = server.web_url, server.stats_url
    api = {"resources": {"nhl_api": {"config": {"rate_per_second": 0, "concurrency": 4}}}}
    tmp = tempfile.mkdtemp()
    try:
        base = os.path.join(tmp, "base")
        os.environ["NHL_WAREHOUSE"] = base
        server.set_clock(datetime(2023, 11, 10, 9, 0, tzinfo=timezone.utc))
        t0 = time.monotonic()
        run_pipeline(build_definitions(), DateWindow.of("2023-10-20", "2023-11-09"), DagsterInstance.ephemeral(),
                     run_config=api)
        print(f"setup: 21 days of history and a model in {time.monotonic() - t0:.1f} s")
        days = {"2023-11-10": datetime(2023, 11, 11, 9, 0, tzinfo=timezone.utc),
                "2023-11-11": datetime(2023, 11, 12, 9, 0, tzinfo=timezone.utc)}
        walls: dict[str, list[float]] = {d: [] for d in days}
        calls: dict[str, list[int]] = {d: [] for d in days}
        ticks_all: list[float] = []
        auto_all: list[float] = []
        for i in range(args.repeat):
            wh = os.path.join(tmp, f"run{i}")
            shutil.copytree(base, wh)
            os.environ["NHL_WAREHOUSE"] = wh
            defs, instance = build_definitions(), DagsterInstance.ephemeral()
            resources = {"nhl_api": NHLApiResource(rate_per_second=0), "warehouse": WarehouseResource(),
                         "automation": AutomationConfig()}
            cursor = automation_cursor = None
            for day, morning in days.items():
                server.set_clock(morning)
                server.set_faults(FaultConfig(latency_ms=args.latency_ms))
                server.reset_stats()
                started = time.monotonic()
                drive = drive_sensor(defs, instance, resources, cursor=cursor, automation_cursor=automation_cursor,
                                     api_config=api, evaluation_time=morning)
                wall = time.monotonic() - started
                cursor, automation_cursor = drive.cursor, drive.automation_cursor
                ticks, auto, runs = drive.tick_seconds, drive.automation_seconds, len(drive.jobs)
                n = server.stats(include_log=False)["total"]
                walls[day].append(wall)
                calls[day].append(n)
                ticks_all += ticks
                auto_all += auto
                print(f"run {i + 1}: day {day} bronze→gold {wall:.2f} s, {runs} runs, {len(ticks)} schedule-sensor "
                      f"ticks (median {statistics.median(ticks):.3f} s), {len(auto)} automation ticks (median "
                      f"{statistics.median(auto):.3f} s), {n} API calls at {args.latency_ms:.0f} ms")
                in_ticks = sum(ticks) + sum(auto)
                print("  runs: " + ", ".join(f"{job} {s:.2f} s" for job, s in zip(drive.jobs, drive.run_seconds))
                      + f"; sensor ticks {in_ticks:.2f} s; other {wall - sum(drive.run_seconds) - in_ticks:.2f} s")
        for (day, w), label in zip(walls.items(), ("first day after the range backfill", "steady state")):
            print(f"median of {args.repeat}, day {day} ({label}): {statistics.median(w):.2f} s (goal <= 10 s), "
                  f"{statistics.median(calls[day]):.0f} API calls")
        print(f"schedule-sensor tick median {statistics.median(ticks_all):.3f} s, max {max(ticks_all):.3f} s; "
              f"automation tick median {statistics.median(auto_all):.3f} s, max {max(auto_all):.3f} s")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
