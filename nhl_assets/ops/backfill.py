"""`nhl-assets backfill`: load a date range in chunks, as Dagster runs recorded in the instance.

Why chunks: a multi-season load is hours of API calls; a chunk (30 days by default) is one Dagster run
that replaces exactly its dates, so an interruption loses at most one chunk and re-running the same
command skips every chunk that already succeeded (the runs carry `nhl/backfill` and `nhl/chunk` tags in
the Dagster instance, which is also what makes them visible, grouped, in the UI). The gold layer is
computed once at the end over the whole range (features, model, predictions) because every game date's
features depend on all earlier dates.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nhl_assets.partitions import DateWindow

LAYERS = ("bronze", "silver", "gold")


def job_for(layers: set[str]) -> str | None:
    """The per-chunk job of the chosen layers (gold runs after the chunks)."""
    if {"bronze", "silver"} <= layers:
        return "nhl_partitions"
    if "bronze" in layers:
        return "nhl_bronze"
    if "silver" in layers:
        return "nhl_silver_replay"
    return None


@dataclass
class BackfillReport:
    backfill_id: str
    chunks: list[DateWindow]
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    gold_steps: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0


def backfill_id(window: DateWindow, layers: set[str]) -> str:
    return f"{window.start}_{window.end}_{'+'.join(sorted(layers))}"


def succeeded_chunks(instance: DagsterInstance, bid: str) -> set[str]:
    runs = instance.get_runs(filters=RunsFilter(tags={"nhl/backfill": bid}, statuses=[DagsterRunStatus.SUCCESS]))
    return {r.tags.get("nhl/chunk") for r in runs}


def run_backfill(window: DateWindow, layers: set[str], *, chunk_days: int, instance: DagsterInstance, defs=None,
                 run_config: dict | None = None, console: Console | None = None,
                 force: bool = False) -> BackfillReport:
    from nhl_assets.definitions import build_definitions
    from nhl_assets.runs import QUIET, run_gold

    defs = defs or build_definitions()
    console = console or Console()
    bid = backfill_id(window, layers)
    report = BackfillReport(bid, window.chunks(chunk_days))
    started = time.monotonic()
    job_name = job_for(layers)
    done_before = set() if force else succeeded_chunks(instance, bid)
    if job_name:
        job = defs.resolve_job_def(job_name)
        config = {**QUIET, **(run_config or {})} if job_name != "nhl_silver_replay" else QUIET
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=False) as progress:
            task = progress.add_task(f"{job_name} {window}", total=len(report.chunks))
            for chunk in report.chunks:
                key = str(chunk)
                if key in done_before:
                    report.skipped.append(key)
                    progress.advance(task)
                    continue
                progress.update(task, description=f"{job_name} {chunk}")
                result = job.execute_in_process(
                    instance=instance, run_config=config, raise_on_error=False,
                    tags={"dagster/asset_partition_range_start": chunk.start.isoformat(),
                          "dagster/asset_partition_range_end": chunk.end.isoformat(),
                          "nhl/backfill": bid, "nhl/chunk": key})
                (report.done if result.success else report.failed).append(key)
                progress.advance(task)
                if not result.success:
                    console.print(f"[red]chunk {key} failed (run {result.run_id}); re-run the same command to "
                                  "resume from it[/red]")
                    break
    if "gold" in layers and not report.failed:
        report.gold_steps = run_gold(defs, window, instance, run_config=run_config,
                                     log=lambda m: console.print(f"  {m}"))
    report.wall_s = time.monotonic() - started
    return report


def print_report(console: Console, report: BackfillReport, wh) -> None:
    table = Table(title=f"backfill {report.backfill_id}")
    for col in ("chunks", "done now", "skipped (done before)", "failed", "wall s"):
        table.add_column(col, justify="right")
    table.add_row(str(len(report.chunks)), str(len(report.done)), str(len(report.skipped)),
                  str(len(report.failed)), f"{report.wall_s:.1f}")
    console.print(table)
    from nhl_assets.demo import print_summary, summarize
    from nhl_assets.catalog import TABLES

    print_summary(console, summarize(wh, list(TABLES)), "Tables after the backfill")


def cmd_backfill(args: argparse.Namespace) -> int:
    from nhl_assets import settings
    from nhl_assets.demo import ensure_dagster_home
    from nhl_assets.storage.delta import Warehouse

    console = Console(soft_wrap=True)
    layers = {x.strip() for x in args.layers.split(",") if x.strip()}
    if not layers or not layers <= set(LAYERS):
        console.print(f"[red]--layers takes a comma-separated subset of {', '.join(LAYERS)}[/red]")
        return 2
    if args.warehouse:
        import os

        os.environ["NHL_WAREHOUSE"] = args.warehouse
    ensure_dagster_home()
    window = DateWindow.of(args.start, args.end)
    instance = DagsterInstance.get()
    report = run_backfill(window, layers, chunk_days=args.chunk_days, instance=instance, console=console,
                          force=args.force,
                          run_config={"resources": {"nhl_api": {"config": {"rate_per_second": args.rate}}}}
                          if args.rate is not None else None)
    print_report(console, report, Warehouse(settings.warehouse_root()))
    return 1 if report.failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "backfill", help="Load a date range in chunks as Dagster runs (resumable; progress and summary).",
        description=__doc__.split("\n\n")[1])
    p.add_argument("--start", required=True, help="first game date, YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last game date, YYYY-MM-DD")
    p.add_argument("--layers", default="bronze,silver,gold", help="subset of bronze,silver,gold")
    p.add_argument("--chunk-days", type=int, default=30, help="game dates per run (one run = one chunk)")
    p.add_argument("--rate", type=float, default=None, help="client-side requests/s (default: the resource's)")
    p.add_argument("--force", action="store_true",
                   help="run every chunk again, even those an earlier run of this backfill completed (for example "
                        "after a restore replaced their data)")
    p.add_argument("--warehouse", help="warehouse root (default $NHL_WAREHOUSE or ./warehouse)")
    p.set_defaults(func=cmd_backfill)
