"""`nhl-assets import-raw DIR`: load saved NHL API responses into bronze as a Dagster run, then silver.

The folder is scanned here first (content-identified, see `nhl_assets.bronze.importer`) to know its game
dates; the import itself is one run of job `nhl_import_raw` over those dates, recorded in `$DAGSTER_HOME`
like any materialization (the bronze asset re-reads the folder, merges the files into the stored rows
and writes each table once). Silver is then rebuilt from bronze for the same dates (`nhl_silver_replay`,
zero API calls). The summary lists what was imported and every file skipped, with its reason.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from dagster import DagsterInstance
from rich.console import Console
from rich.table import Table

from nhl_assets import settings, specs
from nhl_assets.bronze import importer
from nhl_assets.catalog import bronze as cb
from nhl_assets.cliargs import non_negative_int
from nhl_assets.dates import DateWindow
from nhl_assets.ops.instance import ensure_dagster_home
from nhl_assets.partitions import game_date_partitions
from nhl_assets.storage.delta import Warehouse

LAYERS = ("bronze", "silver")


def plan_folder(folder: Path, wh) -> importer.ImportPlan:
    """The import plan of `folder` against the warehouse's ledger and the current partitions."""
    return importer.scan(folder, known_dates=importer.known_game_dates(wh), first=settings.start_date(),
                         last=date.fromisoformat(game_date_partitions().get_last_partition_key()))


def import_windows(plan: importer.ImportPlan) -> list[DateWindow]:
    """One run per cluster of imported dates (seasons; the empty summers between are not materialized)."""
    return [DateWindow(a, b) for a, b in importer.date_ranges(plan.dates)]


def run_import(folder: Path, windows: list[DateWindow], instance: DagsterInstance, *, layers: set[str],
               defs=None, console: Console | None = None) -> list:
    """Per window, the bronze import run and (when asked) the silver replay: their results, in order.
    Stops at the first failed run (re-running the command is safe: the import is idempotent)."""
    # deferred: the Definitions (every asset) load only when an import runs, not for `nhl-assets --help`
    from nhl_assets.bronze.assets import IMPORT_JOB
    from nhl_assets.definitions import SILVER_REPLAY_JOB, build_definitions
    from nhl_assets.ops.launch import QUIET

    defs = defs or build_definitions()
    results = []
    for window in windows:
        if console is not None:
            console.print(f"importing {window}")
        tags = {"dagster/asset_partition_range_start": window.start.isoformat(),
                "dagster/asset_partition_range_end": window.end.isoformat(), "nhl/import": str(folder)}
        results.append(defs.resolve_job_def(IMPORT_JOB).execute_in_process(
            instance=instance, raise_on_error=False, tags=tags,
            run_config={**QUIET, "ops": {"bronze_nhl_api": {"config": {"import_dir": str(folder)}}}}))
        if results[-1].success and "silver" in layers:
            results.append(defs.resolve_job_def(SILVER_REPLAY_JOB).execute_in_process(
                instance=instance, raise_on_error=False, tags=tags, run_config=QUIET))
        if not results[-1].success:
            break
    return results


def _kinds(files) -> str:
    counts = Counter(importer.KIND_LABELS[f.kind] for f in files)
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "-"


def print_plan(console: Console, plan: importer.ImportPlan, show: int) -> None:
    files = plan.imported_files()
    dates = plan.dates
    table = Table(title=f"import-raw {plan.root}")
    table.add_column("", style="bold")
    table.add_column("count", justify="right")
    table.add_column("detail")
    table.add_row("files found", str(plan.files_found), "")
    table.add_row("to import", str(len(files)), _kinds(files.values()))
    table.add_row("superseded", str(len(plan.superseded)), "same game and endpoint in another file")
    table.add_row("skipped", str(len(plan.skipped)), "; ".join(
        f"{n} {r}" for r, n in Counter(s.reason.split(":")[0] for s in plan.skipped).most_common(4)))
    table.add_row("games", str(len(plan.games())), "")
    table.add_row("game dates", str(len(dates)), f"{dates[0]}...{dates[-1]}" if dates else "-")
    console.print(table)
    listed = plan.skipped + plan.superseded
    if listed and show:
        detail = Table(title="skipped and superseded files")
        detail.add_column("file")
        detail.add_column("reason")
        for s in listed[:show]:
            detail.add_row(s.path, s.reason)
        if len(listed) > show:
            detail.add_row(f"... and {len(listed) - show} more", "(--show N lists more)")
        console.print(detail)


def _ledger_metadata(result) -> dict:
    """The import's own counters, from the run's `bronze/games` materialization (every partition has them)."""
    if not result.success or result.job_def.name != "nhl_import_raw":
        return {}
    for m in result.asset_materializations_for_node("bronze_nhl_api"):
        if m.asset_key == specs.asset_key(cb.GAMES):
            return {k: v.value for k, v in m.metadata.items()}
    return {}


def print_result(console: Console, results) -> None:
    table = Table(title="import runs")
    for col in ("run", "job", "dates", "status", "imported games", "complete", "incomplete", "API calls"):
        table.add_column(col, justify="left" if col in ("run", "job", "dates", "status") else "right")
    incomplete = 0
    for r in results:
        md = _ledger_metadata(r)
        incomplete += md.get("imported_games_incomplete", 0)
        tags = r.dagster_run.tags
        dates = f"{tags.get('dagster/asset_partition_range_start')}...{tags.get('dagster/asset_partition_range_end')}"
        table.add_row(r.run_id[:8], r.job_def.name, dates,
                      "[green]success[/green]" if r.success else "[red]failed[/red]",
                      *(str(md.get(k, "")) for k in ("imported_games", "imported_games_complete",
                                                      "imported_games_incomplete", "api_calls")))
    console.print(table)
    if incomplete:
        console.print(f"{incomplete} imported game(s) are incomplete (a boxscore or shift chart not in the folder, "
                      "a game not final): bronze/games records what is missing; the sensor re-requests recent "
                      "ones from the API, `nhl-assets backfill` older ones.")


def cmd_import_raw(args: argparse.Namespace) -> int:
    console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 140)  # piped: no 80-column cut
    layers = {x.strip() for x in args.layers.split(",") if x.strip()}
    if "bronze" not in layers or not layers <= set(LAYERS):
        console.print("[red]--layers takes bronze or bronze,silver[/red]")
        return 2
    folder = Path(args.dir).expanduser().resolve()
    if not folder.is_dir():
        console.print(f"[red]{folder} is not a folder[/red]")
        return 2
    if args.warehouse:
        os.environ["NHL_WAREHOUSE"] = args.warehouse
    plan = plan_folder(folder, Warehouse(settings.warehouse_root()))
    print_plan(console, plan, args.show)
    if not plan.dates:
        console.print("[red]nothing to import[/red]: no NHL API response in the folder could be used")
        return 1
    if args.dry_run:
        return 0
    ensure_dagster_home()
    windows = import_windows(plan)
    console.print(f"{len(windows)} import run(s) into {settings.warehouse_root()} (Dagster instance "
                  f"{os.environ['DAGSTER_HOME']})")
    results = run_import(folder, windows, DagsterInstance.get(), layers=layers, console=console)
    print_result(console, results)
    return 0 if all(r.success for r in results) else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import-raw", help="Import saved NHL API responses (JSON files) into bronze, then silver; no API calls.",
        description=__doc__.split("\n\n")[1])
    p.add_argument("dir", help="folder of saved responses (searched recursively; .json or .json.gz, any names)")
    p.add_argument("--layers", default="bronze,silver", help="bronze, or bronze,silver (default)")
    p.add_argument("--dry-run", action="store_true", help="scan and report only; write nothing")
    p.add_argument("--show", type=non_negative_int, default=50, help="skipped/superseded files listed in the summary")
    p.add_argument("--warehouse", help="warehouse root (default $NHL_WAREHOUSE or ./warehouse)")
    p.set_defaults(func=cmd_import_raw)
