"""`nhl-assets maintain`: run the `nhl_maintenance` job now, from the command line, and print what changed.

Why through Dagster rather than calling the storage layer directly: the run is recorded in the instance
like a scheduled or launchpad run (visible in the UI, with the per-table observations on the assets), and
the command cannot drift from what the schedule does: both execute the same op with the same config.
"""

import argparse
import os
import re

from dagster import DagsterInstance
from rich.console import Console
from rich.table import Table

from nhl_assets.automation.maintenance import MAINTENANCE_JOB, MAINTENANCE_OP
from nhl_assets.cliargs import check_window, iso_date, non_negative_int, on_parsed
from nhl_assets.ops.instance import ensure_dagster_home
from nhl_assets.storage.delta import DEFAULT_RETENTION_HOURS
from nhl_assets.storage.maintenance import DEFAULT_TARGET_SIZE_MB, MIB, TableMaintenance

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_UNIT = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": MIB, "gb": 1000**3, "gib": 1024**3}


def target_size_mb(text: str) -> int:
    """'64' (MiB), '64MiB', '100MB', '1GiB' -> whole MiB (at least 1); argparse type for --target-size.
    A size of zero is refused: compaction would have nothing to aim at."""
    m = _SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 64, 64MiB, 1GiB)")
    if float(m.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    size = float(m.group(1)) * (_UNIT[m.group(2).lower()] if m.group(2) else MIB)
    return max(1, round(size / MIB))


def run_config(args: argparse.Namespace) -> dict:
    """The job's run config from the command's options (the same fields as the launchpad's)."""
    config = {"tables": args.tables or [], "start": args.start.isoformat() if args.start else None,
              "end": args.end.isoformat() if args.end else None, "target_size_mb": args.target_size,
              "retention_hours": args.retention_hours, "vacuum": not args.no_vacuum, "dry_run": args.dry_run}
    # Dagster's console logger stays quiet: the command prints the outcome (and any error) itself
    return {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            "ops": {MAINTENANCE_OP: {"config": config}}}


def _mib(n: int) -> str:
    return f"{n / MIB:,.2f}"


def print_results(console: Console, results: list[TableMaintenance], dry_run: bool) -> None:
    table = Table(title="nhl-assets maintain" + (" (dry run: nothing changed)" if dry_run else ""))
    for col in ("table", "scope", "files", "MiB", "rows", "version", "log entries", "log tail",
                "compacted" if not dry_run else "would compact", "vacuumed" if not dry_run else "would vacuum", "s"):
        table.add_column(col, justify="left" if col in ("table", "scope") else "right")
    for r in results:
        b, a = r.before, r.after
        table.add_row(r.table, r.scope, f"{b.files:,} → {a.files:,}", f"{_mib(b.bytes)} → {_mib(a.bytes)}",
                      "?" if a.rows is None else f"{a.rows:,}", f"{b.version} → {a.version}",
                      f"{b.log_entries:,} → {a.log_entries:,}", f"{b.log_tail:,} → {a.log_tail:,}",
                      f"{r.files_compacted:,} → {r.files_written:,}" if not dry_run else f"{r.files_compacted:,}",
                      f"{r.files_vacuumed:,}", f"{r.duration_s:.2f}")
    console.print(table)
    before, after = sum(r.before.files for r in results), sum(r.after.files for r in results)
    console.print(f"{len(results)} table(s): {before:,} → {after:,} data files")


def cmd_maintain(args: argparse.Namespace) -> int:
    from nhl_assets.definitions import build_definitions  # deferred: every asset loads only when maintenance runs

    console = Console(soft_wrap=True)
    if not console.is_terminal:  # piped or logged: keep each table row on one line
        console = Console(soft_wrap=True, width=200)
    if args.warehouse:
        os.environ["NHL_WAREHOUSE"] = args.warehouse
    ensure_dagster_home()
    job = build_definitions().resolve_job_def(MAINTENANCE_JOB)
    result = job.execute_in_process(run_config=run_config(args), instance=DagsterInstance.get(),
                                    tags={"nhl/maintenance": "cli"}, raise_on_error=False)
    failure = next((e for e in result.all_events if e.event_type_value == "STEP_FAILURE"), None)
    if failure is not None and failure.step_failure_data and failure.step_failure_data.error:
        error = failure.step_failure_data.error
        console.print(f"[red]{(error.cause or error).message.strip()}[/red]")
    try:
        results = result.output_for_node(MAINTENANCE_OP)
    except Exception:  # noqa: BLE001 - no output: refused before touching any table (message printed above)
        results = None
    if results is not None:
        print_results(console, results, args.dry_run)
    console.print(f"Dagster run {result.run_id} ({'succeeded' if result.success else 'failed'})")
    return 0 if result.success else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "maintain", help="Compact small files, checkpoint and vacuum tables (the nhl_maintenance job, run now).",
        description="Runs the nhl_maintenance Dagster job now: per table, compacts small files (within the "
                    "partitions of --start..--end when given), writes a checkpoint, deletes expired log files and "
                    "vacuums files unused for longer than --retention-hours; prints files, bytes, versions and log "
                    "length before and after. Table contents never change.")
    p.add_argument("--tables", nargs="+", metavar="TABLE", help="tables to maintain (default: every table)")
    p.add_argument("--start", type=iso_date, help="first game date whose partitions are compacted, YYYY-MM-DD")
    p.add_argument("--end", type=iso_date, help="last game date whose partitions are compacted, YYYY-MM-DD")
    p.add_argument("--target-size", type=target_size_mb, default=DEFAULT_TARGET_SIZE_MB, metavar="SIZE",
                   help=f"compacted file size to aim at: MiB, or with a unit (64MiB, 1GiB); default "
                        f"{DEFAULT_TARGET_SIZE_MB}")
    p.add_argument("--retention-hours", type=non_negative_int, default=DEFAULT_RETENTION_HOURS,
                   help="vacuum only files unused for longer than this (refused below the floor and the tables' "
                        f"own retention); default {DEFAULT_RETENTION_HOURS}")
    p.add_argument("--dry-run", action="store_true", help="report what would be compacted and vacuumed; change nothing")
    p.add_argument("--no-vacuum", action="store_true", help="compact and checkpoint only")
    p.add_argument("--warehouse", help="warehouse root (default $NHL_WAREHOUSE or ./warehouse)")
    p.set_defaults(func=cmd_maintain)
    on_parsed(p, _check_args)


def _check_args(args: argparse.Namespace) -> None:
    """The compaction range runs forward (either bound may be left open)."""
    if args.start and args.end:
        check_window(args.start, args.end)
