"""`nhl-assets backfill`: load a date range in chunks, as Dagster runs recorded in the instance.

Why chunks: a multi-season load is hours of API calls; a chunk (30 days by default) is one Dagster run
that replaces exactly its dates, so an interruption loses at most one chunk and re-running the same
command skips every chunk that already succeeded into the same warehouse and that the warehouse still
holds (the runs carry `nhl/backfill`, `nhl/chunk` and `nhl/warehouse` tags in the Dagster instance, which
is also what makes them visible, grouped, in the UI). After the chunks, the games still incomplete in the
range (an endpoint that failed every attempt, a shift chart not published) are re-fetched in bounded
passes, each a recorded run that asks only for what is missing; whatever is still incomplete then is
listed, and the command exits non-zero. The gold layer is computed once at the end over the whole range
(features, model, predictions) because every game date's features depend on all earlier dates.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date, timedelta

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nhl_assets import settings
from nhl_assets.bronze import tables as bt
from nhl_assets.catalog import TABLES, silver as cs
from nhl_assets.cliargs import check_window, iso_date, non_negative_float, non_negative_int, on_parsed, positive_int
from nhl_assets.ops.backfill_runs import (
    PIPELINED_STEPS,
    WAREHOUSE_TAG,
    BackfillReport,
    incomplete_games,
    retry_incomplete,
    run_chunks,
)
from nhl_assets.dates import DateWindow, eastern_today
from nhl_assets.ops.instance import ensure_dagster_home
from nhl_assets.ops.summary import print_summary, summarize
from nhl_assets.storage.delta import Warehouse

LAYERS = ("bronze", "silver", "gold")
#: Silver tables whose dates show that silver holds a chunk (a parsed game, or a quarantined one).
_SILVER_DATES = (cs.SCHEDULE.name, cs.QUARANTINE.name)


def job_for(layers: set[str]) -> str | None:
    """The per-chunk job of the chosen layers (gold runs after the chunks)."""
    if {"bronze", "silver"} <= layers:
        return "nhl_partitions"
    if "bronze" in layers:
        return "nhl_bronze"
    if "silver" in layers:
        return "nhl_silver_replay"
    return None


def backfill_id(window: DateWindow, layers: set[str]) -> str:
    return f"{window.start}_{window.end}_{'+'.join(sorted(layers))}"


# ----------------------------------------------------------------------------------------------------
# what is done: the instance says which run did a chunk, the warehouse says whether it still holds it
# ----------------------------------------------------------------------------------------------------


def succeeded_chunks(instance: DagsterInstance, bid: str, warehouse: str | None = None) -> dict[str, str]:
    """chunk -> run id of its last successful final step (a chunk whose silver run failed is run again,
    bronze included), for runs into `warehouse` (every warehouse when None)."""
    tags = {"nhl/backfill": bid, **({WAREHOUSE_TAG: warehouse} if warehouse else {})}
    runs = instance.get_runs(filters=RunsFilter(tags=tags, statuses=[DagsterRunStatus.SUCCESS]))
    out: dict[str, str] = {}
    for r in reversed(runs):  # oldest first: the newest run of a chunk wins
        if r.tags.get("nhl/step", "last") in ("last", "silver"):
            out[r.tags["nhl/chunk"]] = r.run_id
    return out


def _final_dates(wh: Warehouse, chunk: DateWindow) -> set[date]:
    t = wh.read_arrow(bt.GAMES, chunk, columns=["gameDate", "isFinal"])
    return {r["gameDate"] for r in (t.to_pylist() if t is not None else []) if r["isFinal"]}


def _dates(wh: Warehouse, table: str, chunk: DateWindow) -> set[date]:
    t = wh.read_arrow(table, chunk, columns=["gameDate"])
    return set(t.column("gameDate").to_pylist()) if t is not None else set()


def missing_from_warehouse(wh: Warehouse, chunk: DateWindow, layers: set[str]) -> str | None:
    """What the warehouse lacks of a chunk the chosen layers wrote; None when it holds it.

    Why not trust the instance alone: a restore, a deleted table or a new warehouse (with the same Dagster
    instance) leaves the run's success in the instance but not its rows in the tables. Bronze holds a chunk
    when every date has its schedule row and every scheduled game its ledger row; silver holds it when every
    date with a final game in the ledger has a silver schedule or quarantine row.
    """
    if "bronze" in layers:
        sched = wh.read_arrow(bt.SCHEDULE, chunk, columns=["gameDate", "numberOfGames"])
        fetched = {r["gameDate"]: r["numberOfGames"] or 0 for r in (sched.to_pylist() if sched is not None else [])}
        lacking = len(chunk) - len(fetched)
        if lacking:
            return f"bronze/schedule lacks {lacking} of its {len(chunk)} dates"
        ledger = wh.read_arrow(bt.GAMES, chunk, columns=["gameId"])
        if (ledger.num_rows if ledger is not None else 0) < sum(fetched.values()):
            return "bronze/games lacks games its schedules list"
    if "silver" in layers:
        final = _final_dates(wh, chunk)
        held = set().union(*(_dates(wh, t, chunk) for t in _SILVER_DATES))
        if final - held:
            return f"silver lacks {len(final - held)} game date(s) with final games in bronze"
    return None


def plan_chunks(report: BackfillReport, instance: DagsterInstance, wh: Warehouse, layers: set[str],
                force: bool) -> list[DateWindow]:
    """The chunks to run; fills `report.skipped` and `report.why` (why a chunk is skipped or runs again)."""
    here = succeeded_chunks(instance, report.backfill_id, report.warehouse)
    anywhere = succeeded_chunks(instance, report.backfill_id)
    todo = []
    for chunk in report.chunks:
        key = str(chunk)
        if key in here and force:
            report.why[key] = f"ran again: --force (run {here[key][:8]} had done it)"
        elif key in here:
            lacking = missing_from_warehouse(wh, chunk, layers)
            if lacking is None:
                report.skipped.append(key)
                report.why[key] = f"skipped: done by run {here[key][:8]}, and the warehouse still holds it"
                continue
            report.why[key] = f"ran again: run {here[key][:8]} had done it, but {lacking} (restored or deleted?)"
        elif key in anywhere:
            report.why[key] = f"ran again: run {anywhere[key][:8]} had done it into another warehouse"
        todo.append(chunk)
    return todo


# ----------------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------------


def run_backfill(window: DateWindow, layers: set[str], *, chunk_days: int, instance: DagsterInstance, defs=None,
                 run_config: dict | None = None, console: Console | None = None, force: bool = False,
                 incomplete_only: bool = False, retry_passes: int = 3, retry_backoff_s: float = 10.0,
                 retrain: bool = False) -> BackfillReport:
    """Load `window` chunk by chunk as Dagster runs, retry its incomplete games, then gold once over the range."""
    # deferred: the Definitions (every asset) load only when a backfill runs, not for `nhl-assets --help`
    from nhl_assets.definitions import build_definitions
    from nhl_assets.ops.launch import QUIET, run_gold
    from nhl_assets.transform.threads import preload

    if "gold" in layers:
        preload()  # scikit-learn, for the models at the end, while the chunks run
    defs = defs or build_definitions()
    console = console or Console()
    report = BackfillReport(backfill_id(window, layers), window.chunks(chunk_days), settings.warehouse_root())
    wh = Warehouse(report.warehouse)
    started = time.monotonic()
    config = {**QUIET, **(run_config or {})}
    job_name = job_for(layers)
    if job_name and not incomplete_only:
        steps = PIPELINED_STEPS if job_name == "nhl_partitions" else (job_name,)
        todo = plan_chunks(report, instance, wh, layers, force)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=False) as progress:
            task = progress.add_task(f"{'+'.join(steps)} {window}", total=len(report.chunks))
            progress.advance(task, len(report.skipped))
            run_chunks(defs, report, todo, steps, config, instance, console, progress, task)
    if "bronze" in layers and not report.failed:
        report.incomplete_after_chunks = len(incomplete_games(wh, window))
        retry_incomplete(defs, report, window, layers, instance, config, console, passes=retry_passes,
                         backoff_s=retry_backoff_s)
    elif layers & {"bronze", "silver"}:
        report.incomplete = incomplete_games(wh, window)
    if "gold" in layers and not report.failed:
        report.gold_steps = run_gold(defs, window, instance, run_config=run_config, retrain=retrain,
                                     log=lambda m: console.print(f"  {m}"))
    report.wall_s = time.monotonic() - started
    return report


def _give_up_horizon() -> date:
    """The oldest date the sensor still re-requests (its default give_up_days, the Eastern wall clock)."""
    from nhl_assets.resources import AutomationConfig  # deferred: pyspark (dagster-pyspark), for the summary only

    return eastern_today() - timedelta(days=AutomationConfig().give_up_days)


def resume_command(window: DateWindow, layers: set[str]) -> str:
    return (f"nhl-assets backfill --start {window.start} --end {window.end} --layers {','.join(sorted(layers))} "
            "--incomplete-only")


def print_report(console: Console, report: BackfillReport, window: DateWindow, layers: set[str]) -> None:
    table = Table(title=f"backfill {report.backfill_id} into {report.warehouse}")
    for col in ("chunks", "done now", "skipped (done before)", "failed", "incomplete after chunks", "retry passes",
                "incomplete now", "wall s"):
        table.add_column(col, justify="right")
    after = "-" if report.incomplete_after_chunks is None else str(report.incomplete_after_chunks)
    table.add_row(str(len(report.chunks)), str(len(report.done)), str(len(report.skipped)), str(len(report.failed)),
                  after, str(len(report.passes)), str(len(report.incomplete)), f"{report.wall_s:.1f}")
    console.print(table)
    if report.why:
        why = Table(title="chunks done before")
        why.add_column("chunk")
        why.add_column("what happened")
        for chunk, reason in report.why.items():
            why.add_row(chunk, reason)
        console.print(why)
    for p in report.passes:
        console.print(f"retry pass {p.number}: {p.games_before} -> {p.games_after} incomplete game(s), "
                      f"{p.runs} run(s), {p.wall_s:.1f} s")
    if report.incomplete:
        horizon = _give_up_horizon()
        games = Table(title=f"{len(report.incomplete)} game(s) still incomplete")
        for col in ("date", "game", "teams", "missing (why)", "sensor"):
            games.add_column(col)
        for g in report.incomplete:
            games.add_row(g.game_date.isoformat(), str(g.game_id), g.matchup, "; ".join(g.missing),
                          "re-requests it" if g.game_date >= horizon else "beyond its reach")
        console.print(games)
        fetches = "bronze" in layers
        console.print(f"[yellow]{'Re-fetch' if fetches else 'Fetch'} just these games with: "
                      f"{resume_command(window, layers | {'bronze'} if not fetches else layers)}[/yellow]")
    print_summary(console, summarize(Warehouse(report.warehouse), list(TABLES)), "Tables after the backfill")


def exit_code(report: BackfillReport, layers: set[str]) -> int:
    """Non-zero while a chunk failed or, for a backfill that fetches, any game of the range is incomplete."""
    return 1 if report.failed or ("bronze" in layers and report.incomplete) else 0


def cmd_backfill(args: argparse.Namespace) -> int:
    console = Console(soft_wrap=True)
    layers = set(args.layers)
    if args.warehouse:
        os.environ["NHL_WAREHOUSE"] = args.warehouse
    ensure_dagster_home()
    window = DateWindow(args.start, args.end)
    instance = DagsterInstance.get()
    report = run_backfill(window, layers, chunk_days=args.chunk_days, instance=instance, console=console,
                          force=args.force, incomplete_only=args.incomplete_only, retry_passes=args.retry_passes,
                          retry_backoff_s=args.retry_backoff, retrain=args.retrain,
                          run_config={"resources": {"nhl_api": {"config": {"rate_per_second": args.rate}}}}
                          if args.rate is not None else None)
    print_report(console, report, window, layers)
    return exit_code(report, layers)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "backfill", help="Load a date range in chunks as Dagster runs (resumable; progress and summary).",
        description=__doc__.split("\n\n")[1])
    p.add_argument("--start", required=True, type=iso_date, help="first game date, YYYY-MM-DD")
    p.add_argument("--end", required=True, type=iso_date, help="last game date, YYYY-MM-DD")
    p.add_argument("--layers", type=layers_arg, default=frozenset(LAYERS), help="subset of bronze,silver,gold")
    p.add_argument("--chunk-days", type=positive_int, default=30, help="game dates per run (one run = one chunk)")
    p.add_argument("--rate", type=non_negative_float, default=None,
                   help="client-side requests/s (default: the resource's; 0 = no limit)")
    p.add_argument("--force", action="store_true",
                   help="run every chunk again, even those an earlier run of this backfill completed (for example "
                        "after a restore replaced their data)")
    p.add_argument("--incomplete-only", action="store_true",
                   help="run no chunk: only re-fetch what the range's incomplete games lack (bronze/games.missing), "
                        "then silver (and gold) for their dates")
    p.add_argument("--retry-passes", type=non_negative_int, default=3,
                   help="passes over the incomplete games after the chunks (0 = none; default 3)")
    p.add_argument("--retry-backoff", type=non_negative_float, default=10.0,
                   help="seconds before the first retry pass, doubling before each next one (default 10)")
    p.add_argument("--retrain", action="store_true",
                   help="with gold: retrain the xG and shots-on-goal models even when their rule keeps the models "
                        "in use (a week of new game dates), e.g. after a replay from bronze changed the history")
    p.add_argument("--warehouse", help="warehouse root (default $NHL_WAREHOUSE or ./warehouse)")
    p.set_defaults(func=cmd_backfill)
    on_parsed(p, _check_args)


def layers_arg(text: str) -> frozenset[str]:
    """`--layers`: a comma-separated, non-empty subset of `LAYERS`."""
    layers = frozenset(x.strip() for x in text.split(",") if x.strip())
    if not layers or not layers <= set(LAYERS):
        raise argparse.ArgumentTypeError(f"must be a comma-separated subset of {','.join(LAYERS)}, got {text!r}")
    return layers


def _check_args(args: argparse.Namespace) -> None:
    check_window(args.start, args.end, first=settings.start_date(),
                 first_what="NHL_START_DATE, the first game-date partition")
    if args.incomplete_only and "bronze" not in args.layers:
        raise ValueError("--incomplete-only re-fetches from the API: --layers must include bronze")
    if args.retrain and "gold" not in args.layers:
        raise ValueError("--retrain retrains the gold models: --layers must include gold")

