"""`make demo`: the whole graph, offline, on the project's own loopback NHL API.

The loopback server answers the real API's paths; the live source (nhl-api-py, routed by
`NHL_API_WEB_URL` / `NHL_API_STATS_URL`) is the code path exercised, exactly as against api-web.nhle.com.
Runs are recorded in the Dagster instance at `$DAGSTER_HOME` (default `./.dagster_home`), so
`make dev` (`dagster dev`) afterwards shows the materializations and the tables under `./warehouse`.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from dagster import DagsterInstance
from rich.console import Console
from rich.table import Table

from nhl_assets import settings
from nhl_assets.catalog import gold as cg, silver as cs
from nhl_assets.cliargs import check_window
from nhl_assets.dates import DateWindow
from nhl_assets.partitions import UPCOMING_DAYS, game_date_partitions
from nhl_assets.simulator.cli import DEFAULT_FIRST_DATE as SIM_FIRST_DATE
from nhl_assets.simulator.cli import DEFAULT_LAST_DATE as SIM_LAST_DATE
from nhl_assets.simulator.cli import clock_after
from nhl_assets.ops.instance import ensure_dagster_home
from nhl_assets.ops.summary import print_summary, summarize
from nhl_assets.storage.delta import Warehouse

DEFAULT_SEED = 7
#: A few weeks of the 2023-24 regular season, seen from the morning after the last day.
SIM_WINDOW = DateWindow.of("2023-10-10", "2023-11-05")
#: The recorded week whose games are all final (schedules/schedule_2024-10-09_week_final.json).
RECORDED_WINDOW = DateWindow.of("2024-10-09", "2024-10-15")


def demo_window(start: date | None, end: date | None, recorded: bool) -> DateWindow:
    """The window the demo materializes: `--start`..`--end`; `--start` alone is one day, and a missing
    bound is the default window's (a few weeks of 2023-24, or the recorded week).

    Raises ValueError (naming the argument) when the end is before the start.
    """
    default = RECORDED_WINDOW if recorded else SIM_WINDOW
    first = start or default.start
    last = end or start or default.end
    check_window(first, last, start_name="--start" if start else "the default start",
                 end_name="--end" if end else "the default end")
    return DateWindow(first, last)


def sim_clock(window: DateWindow) -> datetime:
    """The simulator's clock for a demo of `window`: the morning after its last day, so every game of the
    window is final and the upcoming games are those of the days right after it (the default window's
    clock is 2023-11-06 15:00 UTC)."""
    return clock_after(window.end)


def _last_partition() -> date:
    """The last game-date partition that exists now (tomorrow in New York): later dates cannot run."""
    return date.fromisoformat(game_date_partitions().get_last_partition_key())


def check_args(args: argparse.Namespace) -> None:
    """Reject a window the demo cannot materialize, before starting anything, with a message naming the
    bound: before `NHL_START_DATE` (no partition), after the simulated history (2026-04-16: the simulator
    has no games to make final) or, for the recorded payloads, after the last partition."""
    window = demo_window(args.start, args.end, args.recorded)
    first, first_what = settings.start_date(), "NHL_START_DATE, the first game-date partition"
    last, last_what = _last_partition(), "the last game-date partition (tomorrow in New York)"
    if not args.recorded:
        if SIM_FIRST_DATE > first:
            first, first_what = SIM_FIRST_DATE, "the simulated history's first day"
        if SIM_LAST_DATE < last:
            last, last_what = SIM_LAST_DATE, "the simulated history's last day"
    check_window(window.start, window.end, first=first, last=last, first_what=first_what, last_what=last_what,
                 start_name="--start" if args.start else "the default start",
                 end_name="--end" if args.end else "the default end")


def samples_dir() -> Path:
    """NHL_SAMPLES_DIR, default `../shared/nhl_samples` beside the repository."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "nhl_samples"
    return Path(os.environ.get("NHL_SAMPLES_DIR") or default)


def window_games(wh: Warehouse, window: DateWindow) -> int:
    """Played games of `window` in silver (`silver/schedule`)."""
    t = wh.read_arrow(cs.SCHEDULE.name, window, columns=["gameId"])
    return 0 if t is None else len(set(t.column("gameId").to_pylist()))


def print_xg_model(console: Console, wh: Warehouse) -> bool:
    """The expected-goals model's held-back scores against its baselines, or a line saying why there is none."""
    import json

    import polars as pl

    models = wh.read_arrow(cg.XG_MODEL.name)
    if models is None or models.num_rows == 0:
        console.print("[yellow]No expected-goals model: too few shots and goals in the window to train and judge "
                      "one (see gold/xg_model's materialization).[/yellow]")
        return False
    m = pl.from_arrow(models).sort("trainedAt").row(-1, named=True)
    table = Table(title=f"Expected-goals model, held back from {m['holdoutFrom']} ({m['holdoutRows']:,} unblocked "
                        "attempts)")
    for col in ("predictor", "log loss", "ROC AUC", "xG / goals"):
        table.add_column(col, justify="left" if col == "predictor" else "right")
    for name, v in json.loads(m["metrics"]).items():
        table.add_row(name, f"{v['log_loss']:.4f}", f"{v['roc_auc']:.3f}", f"{v['xg_over_goals']:.3f}")
    console.print(table)
    return True


def print_predictions(console: Console, wh: Warehouse, window: DateWindow, top: int = 12) -> int:
    """The model's held-back scores and the upcoming games' most likely shooters; where there is no model
    or no upcoming game, a line saying why. Returns the number of upcoming player-games predicted."""
    import json

    import polars as pl

    from nhl_assets.transform.model import untrainable_reason  # deferred: scikit-learn, for the model table only

    models = wh.read_arrow(cg.SOG_MODEL.name)
    preds = wh.read_arrow(cg.SOG_PREDICTIONS.name)
    if models is None or models.num_rows == 0 or preds is None:
        features = wh.read_arrow(cg.PLAYER_GAME_FEATURES.name)
        reason = untrainable_reason(pl.DataFrame() if features is None else pl.from_arrow(features))
        console.print(f"[yellow]No shots-on-goal model, so no predictions: {reason or 'the model step did not run'}. "
                      "Choose a window with more game dates (e.g. two weeks of a season).[/yellow]")
        return 0
    m = pl.from_arrow(models).sort("trainedAt").row(-1, named=True)
    metrics = json.loads(m["metrics"])
    table = Table(title=f"Shots-on-goal model, held back from {m['holdoutFrom']} ({m['holdoutRows']:,} player-games)")
    for col in ("predictor", "MAE", "RMSE", "Poisson deviance"):
        table.add_column(col, justify="left" if col == "predictor" else "right")
    for name, v in metrics.items():
        table.add_row(name, f"{v['mae']:.3f}", f"{v['rmse']:.3f}", f"{v['poisson_deviance']:.3f}")
    console.print(table)
    week = (window.end + timedelta(days=1), window.end + timedelta(days=UPCOMING_DAYS + 1))  # as runs.upcoming_until
    upcoming = pl.from_arrow(preds).filter(pl.col("actualShots").is_null() & pl.col("gameDate").is_between(*week))
    if upcoming.is_empty():
        console.print(f"[yellow]No upcoming game in the week after {window.end} on the API's schedule: nothing to "
                      "predict (the season is over, or the window ends on the simulated history's last day).[/yellow]")
        return 0
    first = upcoming.get_column("gameDate").min()
    day = upcoming.filter(pl.col("gameDate") == first).sort("expectedShots", descending=True).head(top)
    table = Table(title=f"Predictions for {first} ({upcoming.height:,} player-games predicted in the upcoming week)")
    for col in ("player", "team", "vs", "expected SOG", "P(>=2)", "P(>=3)", "P(>=4)"):
        table.add_column(col, justify="left" if col in ("player", "team", "vs") else "right")
    for r in day.iter_rows(named=True):
        table.add_row(r["name"], r["team"], r["opponent"], f"{r['expectedShots']:.2f}", f"{r['p2Plus']:.0%}",
                      f"{r['p3Plus']:.0%}", f"{r['p4Plus']:.0%}")
    console.print(table)
    return upcoming.height


def run_from_args(args: argparse.Namespace) -> int:
    # deferred: the Definitions (every asset) and the simulator load when the demo runs, not for `--help`
    from nhl_assets.bronze.tables import BRONZE_TABLES
    from nhl_assets.definitions import build_definitions
    from nhl_assets.gold.upcoming import TABLE as UPCOMING
    from nhl_assets.gold.assets import GOLD_TABLES
    from nhl_assets.gold.xg import XG_TABLES
    from nhl_assets.runs import run_pipeline
    from nhl_assets.silver.build import SILVER_TABLES
    from nhl_assets.simulator.cli import start_loopback

    console = Console()
    if args.warehouse:
        os.environ["NHL_WAREHOUSE"] = args.warehouse
    window = demo_window(args.start, args.end, args.recorded)
    home = ensure_dagster_home()
    if args.recorded:
        folder = samples_dir()
        if not folder.is_dir():
            console.print(f"[red]--recorded needs the recorded payloads: {folder} not found "
                          "(set NHL_SAMPLES_DIR)[/red]")
            return 2
        server = start_loopback("recorded", samples_dir=str(folder), latency_ms=args.latency_ms)
        label = f"recorded real payloads from {folder}"
    else:
        clock = sim_clock(window)
        server = start_loopback("sim", seed=args.seed, as_of=clock, latency_ms=args.latency_ms)
        label = (f"simulated seasons {SIM_FIRST_DATE}..{SIM_LAST_DATE} (seed {args.seed}, clock "
                 f"{clock:%Y-%m-%d %H:%M} UTC: the morning after the window)")
    try:
        os.environ["NHL_API_WEB_URL"] = server.web_url
        os.environ["NHL_API_STATS_URL"] = server.stats_url
        console.print(f"[bold]nhl_assets demo[/bold]: loopback NHL API at {server.web_url} serving {label}")
        console.print(f"warehouse {settings.warehouse_root()}  ·  Dagster instance {home}  ·  window {window}")
        defs = build_definitions()
        instance = DagsterInstance.get()
        # The loopback API needs no politeness: the client-side rate limit is for the live API.
        run_config = {"resources": {"nhl_api": {"config": {"rate_per_second": args.rate}}}}
        started = time.monotonic()
        # the model needs a few weeks of games; the recorded payloads hold only a handful
        steps = run_pipeline(defs, window, instance, run_config=run_config, model=not args.recorded,
                             log=lambda m: console.print(f"  {m}"))
        total_s = time.monotonic() - started
        if args.recorded:
            console.print("  models and predictions skipped: the recorded payloads hold a handful of games; the "
                          "models need weeks of them (run the default simulated demo)")
        served = server.stats()
    finally:
        server.stop()
    wh = Warehouse(settings.warehouse_root())
    print_summary(console, summarize(wh, [*BRONZE_TABLES, *SILVER_TABLES, UPCOMING, *XG_TABLES, *GOLD_TABLES]),
                  f"Tables after the demo ({window})")
    if window_games(wh, window) == 0:
        where = "the recorded payloads" if args.recorded else \
            f"the simulator (its seasons run from October to June within {SIM_FIRST_DATE}..{SIM_LAST_DATE})"
        console.print(f"[yellow]No final game in {window} on {where}: silver holds no game of the window, so the "
                      "gold tables built from it are empty.[/yellow]")
    if not args.recorded:
        print_xg_model(console, wh)
        print_predictions(console, wh, window)
    console.print(f"bronze+silver {steps['bronze+silver']:.1f} s, total {total_s:.1f} s, "
                  f"API requests served {served.get('total', served)}")
    console.print("Open the Dagster UI on these runs with [bold]make dev[/bold] (http://127.0.0.1:3000).")
    return 0
