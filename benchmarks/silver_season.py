"""Silver from bronze for one simulated season: wall seconds, games/s and peak RSS.

    .venv/bin/python benchmarks/silver_season.py --season 2023 --repeat 3

Phase 1 writes the season's bronze tables from the simulator's payloads (the same row layout the
bronze asset writes; HTTP is not what is measured here). Phase 2, in a fresh child process per
repetition so its peak RSS is its own, does exactly what the silver asset does for the whole season in
one run: read bronze, parse, reconcile, validate, and replace the window in every silver table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

from nhl_assets.cliargs import positive_int

SEASONS = {2023: ("2023-10-10", "2024-06-30"), 2024: ("2024-10-04", "2025-06-30"), 2025: ("2025-10-07", "2026-04-16")}


def write_bronze(root: str, start: str, end: str, seed: int) -> int:
    from nhl_assets import catalog
    from nhl_assets.bronze import tables as bt
    from nhl_assets.dates import DateWindow
    from nhl_assets.storage.migrations import ensure_current
    from nhl_assets.simulator.history import simulated_day
    from nhl_assets.simulator.league import LeagueConfig, SimulatedLeague
    from nhl_assets.storage.delta import Warehouse

    league = SimulatedLeague(LeagueConfig(seed=seed))
    window = DateWindow.of(start, end)
    now = datetime.now(timezone.utc)
    games = 0
    with bt.StagedTables() as staged:
        for day in window.days():
            fetched = simulated_day(league, day, now)
            games += len(fetched.games)
            staged.append(bt.day_rows(fetched, run_id="benchmark"))
        wh = Warehouse(root)
        ensure_current(wh)  # a new warehouse: every migration (the tables are created by migrations)
        for table in bt.BRONZE_TABLES:
            wh.replace_window(table, staged.reader(table), window, partition_by=catalog.partition_by(table))
    return games


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM).

    Why not `getrusage(RUSAGE_SELF).ru_maxrss`: Linux carries it over fork + exec, so a child started by
    a parent that had written the season's bronze would report the parent's peak, not its own.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def silver_phase(root: str, start: str, end: str, workers: int) -> None:
    from nhl_assets.dates import DateWindow
    from nhl_assets.silver import build as sb
    from nhl_assets.storage.delta import Warehouse

    wh = Warehouse(root)
    window = DateWindow.of(start, end)
    started = time.monotonic()
    built = sb.build_window(wh, window, workers=workers)
    writing = time.monotonic()
    sb.write_window(wh, window, built)
    wall = time.monotonic() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest worker, if any
    print(json.dumps({"wall_s": wall, "games": built.games, "peak_rss_mb": peak_rss_mb(), "worker_rss_mb": children,
                      "seconds": {**built.seconds, "write": wall - (writing - started)},
                      "mismatches": built.mismatches.height,
                      "values_checked": built.reconciliation["values_checked"],
                      "quarantined": built.quarantine.height, "player_rows": built.frames[sb.PLAYERS].height}))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--season", type=int, default=2023, choices=sorted(SEASONS))
    parser.add_argument("--repeat", type=positive_int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                        help="parse processes (the silver asset's default: one per core)")
    parser.add_argument("--phase", choices=("all", "silver"), default="all", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    start, end = SEASONS[args.season]
    if args.phase == "silver":
        silver_phase(args.root, start, end, args.workers)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "warehouse")
        t0 = time.monotonic()
        games = write_bronze(root, start, end, args.seed)
        print(f"bronze for season {args.season} ({start}..{end}): {games} games written in "
              f"{time.monotonic() - t0:.1f} s")
        runs = []
        for i in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--phase", "silver", "--root", root,
                                  "--season", str(args.season), "--workers", str(args.workers)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            runs.append(r)
            print(f"run {i + 1}: silver {r['games']} games in {r['wall_s']:.2f} s "
                  f"({r['games'] / r['wall_s']:.1f} games/s), peak RSS {r['peak_rss_mb']:.0f} MB "
                  f"(largest worker {r['worker_rss_mb']:.0f} MB; {args.workers} worker(s)), "
                  f"{r['player_rows']} player rows, reconciliation {r['values_checked']} values / "
                  f"{r['mismatches']} mismatches, {r['quarantined']} quarantined")
            print("  where the time went, CPU ms per game (write: wall): " + ", ".join(
                f"{k} {1000 * v / r['games']:.2f}" for k, v in r["seconds"].items())
                + f"; parse = decode + parse {1000 * (r['seconds']['decode'] + r['seconds']['parse']) / r['games']:.2f}")
        wall = statistics.median(r["wall_s"] for r in runs)
        rss = statistics.median(r["peak_rss_mb"] for r in runs)
        games = runs[0]["games"]
        per_core = statistics.median(1000 * (r["seconds"]["decode"] + r["seconds"]["parse"]) / r["games"] for r in runs)
        print(f"median of {args.repeat}: {wall:.2f} s per season ({games / wall:.1f} games/s; "
              f"{games / wall / args.workers:.1f} games/s per core, {1000 * wall * args.workers / games:.2f} ms "
              f"per game per core end to end), peak RSS {rss:.0f} MB (goals: <= 20 s, <= 2048 MB); "
              f"the parse (JSON decode + build_silver) {per_core:.2f} CPU ms per game (goal <= 6 ms per game per core)")


if __name__ == "__main__":
    main()
