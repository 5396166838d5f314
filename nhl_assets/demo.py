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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dagster import DagsterInstance
from rich.console import Console
from rich.table import Table

from nhl_assets import settings
from nhl_assets.partitions import DateWindow
from nhl_assets.storage.delta import Warehouse

DEFAULT_SEED = 7
#: A few weeks of the 2023-24 regular season, seen from the morning after the last day.
SIM_WINDOW = DateWindow.of("2023-10-10", "2023-11-05")
SIM_AS_OF = datetime(2023, 11, 6, 15, 0, tzinfo=timezone.utc)
#: The recorded week whose games are all final (schedules/schedule_2024-10-09_week_final.json).
RECORDED_WINDOW = DateWindow.of("2024-10-09", "2024-10-15")


def samples_dir() -> Path:
    """NHL_SAMPLES_DIR, default `../shared/nhl_samples` beside the repository."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "nhl_samples"
    return Path(os.environ.get("NHL_SAMPLES_DIR") or default)


def ensure_dagster_home() -> str:
    home = os.environ.get("DAGSTER_HOME") or os.path.abspath(".dagster_home")
    os.makedirs(home, exist_ok=True)
    config = Path(home) / "dagster.yaml"
    if not config.exists():  # a local demo instance: no telemetry banner, nothing sent anywhere
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = home
    return home


@dataclass(frozen=True)
class TableSummary:
    table: str
    rows: int
    partitions: int | None
    version: int


def summarize(wh: Warehouse, tables: list[str]) -> list[TableSummary]:
    """Rows, distinct game-date partitions and Delta version of each existing table."""
    out = []
    for table in tables:
        dt = wh.open(table)
        if dt is None:
            continue
        dataset = dt.to_pyarrow_dataset()
        partitions = None  # game-date (Dagster) partitions, whatever the Delta layout
        if "gameDate" in dataset.schema.names:
            partitions = len(set(dataset.to_table(columns=["gameDate"]).column("gameDate").to_pylist()))
        out.append(TableSummary(table, dataset.count_rows(), partitions, dt.version()))
    return out


def print_summary(console: Console, summaries: list[TableSummary], title: str) -> None:
    table = Table(title=title)
    for col in ("table", "rows", "partitions", "Delta version"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for s in summaries:
        table.add_row(s.table, f"{s.rows:,}", "-" if s.partitions is None else str(s.partitions), str(s.version))
    console.print(table)


def print_predictions(console: Console, wh: Warehouse, top: int = 12) -> None:
    """The model's held-back scores and the upcoming games' most likely shooters."""
    import json

    import polars as pl

    models = wh.read_arrow("gold/sog_model")
    preds = wh.read_arrow("gold/sog_predictions")
    if models is None or models.num_rows == 0 or preds is None:
        return
    m = pl.from_arrow(models).sort("trainedAt").row(-1, named=True)
    metrics = json.loads(m["metrics"])
    table = Table(title=f"Shots-on-goal model, held back from {m['holdoutFrom']} ({m['holdoutRows']:,} player-games)")
    for col in ("predictor", "MAE", "RMSE", "Poisson deviance"):
        table.add_column(col, justify="left" if col == "predictor" else "right")
    for name, v in metrics.items():
        table.add_row(name, f"{v['mae']:.3f}", f"{v['rmse']:.3f}", f"{v['poisson_deviance']:.3f}")
    console.print(table)
    upcoming = pl.from_arrow(preds).filter(pl.col("actualShots").is_null())
    if upcoming.is_empty():
        return
    first = upcoming.get_column("gameDate").min()
    day = upcoming.filter(pl.col("gameDate") == first).sort("expectedShots", descending=True).head(top)
    table = Table(title=f"Predictions for {first} ({upcoming.height:,} player-games predicted in the upcoming week)")
    for col in ("player", "team", "vs", "expected SOG", "P(>=2)", "P(>=3)", "P(>=4)"):
        table.add_column(col, justify="left" if col in ("player", "team", "vs") else "right")
    for r in day.iter_rows(named=True):
        table.add_row(r["name"], r["team"], r["opponent"], f"{r['expectedShots']:.2f}", f"{r['p2Plus']:.0%}",
                      f"{r['p3Plus']:.0%}", f"{r['p4Plus']:.0%}")
    console.print(table)


def run_from_args(args: argparse.Namespace) -> int:
    from nhl_assets.bronze.tables import BRONZE_TABLES
    from nhl_assets.definitions import build_definitions
    from nhl_assets.gold.upcoming import TABLE as UPCOMING
    from nhl_assets.gold.assets import GOLD_TABLES
    from nhl_assets.runs import run_pipeline
    from nhl_assets.silver.build import SILVER_TABLES
    from nhl_assets.simulator.cli import start_loopback

    console = Console()
    if args.warehouse:
        os.environ["NHL_WAREHOUSE"] = args.warehouse
    home = ensure_dagster_home()
    if args.recorded:
        folder = samples_dir()
        if not folder.is_dir():
            console.print(f"[red]--recorded needs the recorded payloads: {folder} not found "
                          "(set NHL_SAMPLES_DIR)[/red]")
            return 2
        default_window = RECORDED_WINDOW
        server = start_loopback("recorded", samples_dir=str(folder), latency_ms=args.latency_ms)
        label = f"recorded real payloads from {folder}"
    else:
        default_window = SIM_WINDOW
        server = start_loopback("sim", seed=args.seed, as_of=SIM_AS_OF, latency_ms=args.latency_ms)
        label = f"simulated season (seed {args.seed}, clock {SIM_AS_OF:%Y-%m-%d %H:%M} UTC)"
    window = DateWindow.of(args.start or default_window.start, args.end or args.start or default_window.end)
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
            console.print("  model and predictions skipped: the recorded payloads hold a handful of games; the "
                          "model needs weeks of them (run the default simulated demo)")
        served = server.stats()
    finally:
        server.stop()
    wh = Warehouse(settings.warehouse_root())
    print_summary(console, summarize(wh, [*BRONZE_TABLES, *SILVER_TABLES, UPCOMING, *GOLD_TABLES]),
                  f"Tables after the demo ({window})")
    print_predictions(console, wh)
    console.print(f"bronze+silver {steps['bronze+silver']:.1f} s, total {total_s:.1f} s, "
                  f"API requests served {served.get('total', served)}")
    console.print("Open the Dagster UI on these runs with [bold]make dev[/bold] (http://127.0.0.1:3000).")
    return 0
