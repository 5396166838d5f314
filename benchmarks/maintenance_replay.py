"""Replay of silver from bronze with the files a day-by-day build leaves, versus after maintenance.

    .venv/bin/python benchmarks/maintenance_replay.py --season 2023 --repeat 3

1. Builds a simulated season one game date at a time, the way the daily sensor does (a bronze run per
   date, re-fetches of the previous `--lookback-days` dates, a silver run per date; see
   `nhl_assets.simulator.history`), leaving a file and a commit per table per run.
2. Copies the warehouse and runs the `nhl_maintenance` job on the copy (compaction, checkpoint, vacuum
   outside the retention window).
3. Times, on each layout, in a fresh process per repetition (alternating the two layouts so a busy
   machine weighs on both alike): reading silver's full history (what gold's features and season stats
   read), then the silver replay from bronze over the whole season (read bronze, parse, reconcile,
   validate, replace the window in every silver table; zero API calls). Silver is reset to its state as
   built (or as compacted) before each repetition, so every replay starts from the same files.

Prints the data files per table before and after maintenance, the files each workload reads, every
repetition and the medians with their ratio, and whether both layouts replay to identical silver rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date

from nhl_assets.cliargs import check_window, iso_date, non_negative_int, on_parsed, parse_args, positive_int

SEASONS = {2023: ("2023-10-10", "2024-06-30"), 2024: ("2024-10-04", "2025-06-30"), 2025: ("2025-10-07", "2026-04-16")}
LAYOUTS = ("as built", "maintained")
BRONZE = ("bronze/schedule", "bronze/boxscore", "bronze/play_by_play", "bronze/shift_charts", "bronze/games")
SILVER = ("silver/player_game_stats", "silver/team_game_stats", "silver/goalie_game_stats", "silver/schedule",
          "silver/quarantine")
SILVER_STATS = SILVER[:4]  # the quarantine holds rows stamped with the time they were rejected


def build(root: str, start: str, end: str, seed: int, lookback_days: int) -> dict:
    from nhl_assets.dates import DateWindow
    from nhl_assets.storage.migrations import ensure_current
    from nhl_assets.simulator.history import build_day_by_day
    from nhl_assets.simulator.league import LeagueConfig, SimulatedLeague
    from nhl_assets.storage.delta import Warehouse

    wh = Warehouse(root)
    ensure_current(wh)
    started = time.monotonic()

    def progress(day) -> None:
        if day.day == 1:
            print(f"  built through {day} ({time.monotonic() - started:.0f} s)", flush=True)

    stats = build_day_by_day(wh, SimulatedLeague(LeagueConfig(seed=seed)), DateWindow.of(start, end),
                             lookback_days=lookback_days, after_day=progress)
    return {"days": stats.days, "games": stats.games, "commits": stats.bronze_commits + stats.silver_commits,
            "wall_s": time.monotonic() - started}


def maintain(root: str) -> dict:
    """Run the nhl_maintenance job (default config) on `root`; per-table results."""
    from dagster import DagsterInstance

    from nhl_assets.automation.maintenance import MAINTENANCE_JOB, MAINTENANCE_OP
    from nhl_assets.definitions import build_definitions

    os.environ["NHL_WAREHOUSE"] = root
    job = build_definitions().resolve_job_def(MAINTENANCE_JOB)
    started = time.monotonic()
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, run_config={
            "loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    return {"wall_s": time.monotonic() - started,
            "tables": {r.table: r for r in result.output_for_node(MAINTENANCE_OP)}}


def figures(root: str, tables) -> dict:
    from nhl_assets.storage.delta import Warehouse
    from nhl_assets.storage.maintenance import measure

    wh = Warehouse(root)
    return {t: measure(wh, t) for t in tables}


def reset_silver(root: str, pristine: str) -> None:
    """Put silver back as it was before any replay (the replay rewrites it)."""
    shutil.rmtree(os.path.join(root, "silver"))
    shutil.copytree(pristine, os.path.join(root, "silver"))


def replay_phase(root: str, start: str, end: str) -> None:
    """One repetition, in its own process: full-history silver read, then the silver replay."""
    from nhl_assets.dates import DateWindow
    from nhl_assets.simulator.history import write_silver
    from nhl_assets.storage.delta import Warehouse
    from nhl_assets.storage.maintenance import content_digest

    wh = Warehouse(root)
    started = time.monotonic()
    rows_read = sum(wh.read_arrow(t).num_rows for t in SILVER_STATS)
    read_s = time.monotonic() - started
    started = time.monotonic()
    games = write_silver(wh, DateWindow.of(start, end))
    replay_s = time.monotonic() - started
    print(json.dumps({"read_s": read_s, "rows_read": rows_read, "replay_s": replay_s, "games": games,
                      "digests": {t: content_digest(wh, t) for t in SILVER_STATS}}))


def run_replay(root: str, start: str, end: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", "replay", "--root", root, "--start", start,
                          "--end", end], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_layout(before: dict, after: dict) -> None:
    print(f"{'table':28} {'files':>15} {'MiB':>17} {'versions':>11} {'log entries':>13} {'log tail':>10}")
    for t in before:
        b, a = before[t], after[t]
        print(f"{t:28} {b.files:>7,} -> {a.files:<5,} {b.bytes / 2**20:>8.1f} -> {a.bytes / 2**20:<6.1f} "
              f"{b.version:>4} -> {a.version:<4} {b.log_entries:>5} -> {a.log_entries:<5} {b.log_tail:>3} -> {a.log_tail:<3}")
    print(f"{'all':28} {sum(f.files for f in before.values()):>7,} -> {sum(f.files for f in after.values()):<5,}")


def season_window(args: argparse.Namespace) -> tuple[str, str]:
    """(first, last) game date of the run: the season's, or up to --end (ISO strings, for the child
    processes' command lines)."""
    first, last = SEASONS[args.season]
    return first, (args.end.isoformat() if args.end else last)


def check_args(args: argparse.Namespace) -> None:
    """--end must stop the chosen season early: inside it, not before its first day nor after its last."""
    if args.phase == "all" and args.end is not None:
        first, last = (date.fromisoformat(d) for d in SEASONS[args.season])
        check_window(first, args.end, first=first, last=last, start_name="the season's first day",
                     last_what=f"season {args.season}'s last day")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--season", type=int, default=2023, choices=sorted(SEASONS))
    parser.add_argument("--end", type=iso_date, help="stop the season early (YYYY-MM-DD), for a quick run")
    parser.add_argument("--lookback-days", type=non_negative_int, default=3,
                        help="dates re-fetched after each day (sensor: 3; 0: none)")
    parser.add_argument("--repeat", type=positive_int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--phase", choices=("all", "replay"), default="all", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=iso_date, help=argparse.SUPPRESS)
    on_parsed(parser, check_args)
    return parser


def main() -> None:
    args = parse_args(build_parser())
    if args.phase == "replay":
        replay_phase(args.root, args.start.isoformat(), args.end.isoformat())
        return
    start, end = season_window(args)
    with tempfile.TemporaryDirectory() as tmp:
        roots = {layout: os.path.join(tmp, layout.replace(" ", "_"), "warehouse") for layout in LAYOUTS}
        print(f"building {start}..{end} day by day (lookback {args.lookback_days} days, seed {args.seed})", flush=True)
        built = build(roots["as built"], start, end, args.seed, args.lookback_days)
        print(f"built {built['days']} days, {built['games']} games, {built['commits']:,} commits in "
              f"{built['wall_s']:.0f} s")
        shutil.copytree(roots["as built"], roots["maintained"])
        tables = [*BRONZE, *SILVER]
        before = figures(roots["as built"], tables)
        done = maintain(roots["maintained"])
        after = figures(roots["maintained"], tables)
        print(f"\nnhl_maintenance job on a copy: {done['wall_s']:.1f} s "
              f"({sum(r.files_compacted for r in done['tables'].values()):,} files compacted into "
              f"{sum(r.files_written for r in done['tables'].values()):,}); per table, as built -> maintained:")
        print_layout(before, after)
        pristine = {layout: os.path.join(tmp, f"{layout.replace(' ', '_')}_silver") for layout in LAYOUTS}
        for layout in LAYOUTS:
            shutil.copytree(os.path.join(roots[layout], "silver"), pristine[layout])
        runs: dict[str, list[dict]] = {layout: [] for layout in LAYOUTS}
        print()
        for i in range(args.repeat):
            for layout in LAYOUTS:
                reset_silver(roots[layout], pristine[layout])
                r = run_replay(roots[layout], start, end)
                runs[layout].append(r)
                print(f"run {i + 1} {layout:10}: silver full-history read {r['read_s']:.3f} s "
                      f"({r['rows_read']:,} rows), silver replay from bronze {r['replay_s']:.2f} s ({r['games']} games)",
                      flush=True)
        files = {layout: f for layout, f in (("as built", before), ("maintained", after))}
        med = {layout: {k: statistics.median(r[k] for r in runs[layout]) for k in ("read_s", "replay_s")}
               for layout in LAYOUTS}
        print(f"\nmedians of {args.repeat} (as built -> maintained):")
        for key, label, read in (("replay_s", "silver replay from bronze", BRONZE),
                                 ("read_s", "silver full-history read", SILVER_STATS)):
            a, b = med["as built"][key], med["maintained"][key]
            print(f"  {label}: {a:.3f} s -> {b:.3f} s, ratio {a / b:.2f}x; data files read "
                  f"{sum(files['as built'][t].files for t in read):,} -> {sum(files['maintained'][t].files for t in read):,}"
                  f" ({', '.join(t.split('/')[1] for t in read)})")
        same = all(r["digests"] == runs["as built"][0]["digests"] for rs in runs.values() for r in rs)
        print(f"  replayed silver identical on both layouts, every run: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
