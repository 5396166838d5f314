"""`nhl-assets tables | migrate | history | restore | verify | cdf | vacuum`: the registry and operations on
the warehouse.

Every command that changes something is a dry run unless told otherwise (`--yes`, or `migrate apply`
without `--dry-run`), goes through the same storage guards as the assets, and prints what it did.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from nhl_assets import settings
from nhl_assets.catalog import TABLES
from nhl_assets.cliargs import iso_datetime, non_negative_int, on_parsed, positive_int
from nhl_assets.ops.verify import ERROR, WARN, failed, verify
from nhl_assets.storage import migrations as mg
from nhl_assets.storage.delta import DEFAULT_RETENTION_HOURS, StorageError, Warehouse
from nhl_assets.storage.operations import record_operation

def _console() -> Console:
    """Long lines (plans, errors) are not wrapped, so they can be grepped and copied whole."""
    return Console(soft_wrap=True)


def _warehouse(args: argparse.Namespace) -> Warehouse:
    return Warehouse(args.warehouse or settings.warehouse_root())


# ----------------------------------------------------------------------------------------------------
# tables (the registry; no warehouse needed)
# ----------------------------------------------------------------------------------------------------


def cmd_tables(args: argparse.Namespace) -> int:
    """Every table of the registry, or one table's columns (types, nullability, descriptions)."""
    console = _console()
    if args.table is None:
        table = Table(title="Tables (nhl_assets/catalog)")
        for col in ("table", "key", "Dagster partitions", "Delta partitions", "columns", "description"):
            table.add_column(col)
        for t in TABLES.values():
            table.add_row(t.name, ", ".join(t.key or ()) or "-", "game date" if t.partitioned else "none (refresh)",
                          ", ".join(t.partition_by) or "-", str(len(t.columns)), t.description)
        console.print(table)
        return 0
    t = TABLES[args.table]
    table = Table(title=f"{t.name}: {t.description}")
    for col in ("column", "type", "null", "description"):
        table.add_column(col)
    for c in t.columns:
        table.add_row(c.name, c.type, "yes" if c.nullable else "no", c.description)
    console.print(table)
    return 0


# ----------------------------------------------------------------------------------------------------
# migrate
# ----------------------------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    console = _console()
    wh = _warehouse(args)
    log = console.print
    try:
        if args.action == "status":
            table = Table(title=f"Migrations ({mg.migrations_dir()}) on {wh.root}")
            for col in ("migration", "status", "tables", "auto", "reversible", "last ledger entry"):
                table.add_column(col)
            for s in mg.states(wh):
                last = s.last
                table.add_row(f"{s.migration.id}_{s.migration.name}", s.status, ", ".join(s.migration.tables),
                              "yes" if s.migration.auto else "no", "yes" if s.migration.reversible else "no",
                              f"{last['status']} {last['at']:%Y-%m-%d %H:%M:%S}" if last else "-")
            console.print(table)
            return 0
        if args.action in ("plan", "apply"):
            dry = args.action == "plan" or args.dry_run
            done = mg.apply(wh, dry_run=dry, log=log)
            console.print(f"{'planned' if dry else 'applied'} {len(done)} migration(s)")
            return 0
        if args.action == "rollback":
            res = mg.rollback(wh, force=args.force, dry_run=args.dry_run, log=log)
            console.print(f"{'would roll back' if args.dry_run else 'rolled back'} {res['migration']}")
            return 0
    except (mg.MigrationError, StorageError) as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    return 2


# ----------------------------------------------------------------------------------------------------
# history / restore / cdf / vacuum / verify
# ----------------------------------------------------------------------------------------------------


def cmd_history(args: argparse.Namespace) -> int:
    console = _console()
    wh = _warehouse(args)
    try:
        rows = wh.history(args.table, args.limit)
    except StorageError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    table = Table(title=f"{args.table}: {len(rows)} version(s), newest first")
    for col in ("version", "time (UTC)", "operation", "by", "run id", "window", "rows +", "rows -", "rows now"):
        table.add_column(col, justify="right" if col in ("version", "rows +", "rows -", "rows now") else "left")
    for i, h in enumerate(rows):
        rows_now = wh.row_count(args.table, h["version"]) if i < args.count_rows else None
        table.add_row(str(h["version"]), f"{h['timestamp']:%Y-%m-%d %H:%M:%S}", h["operation"] or "",
                      h["nhl_operation"] or "", h["run_id"] or "", h["window"] or "",
                      "" if h["rows_added"] is None else f"{h['rows_added']:,}",
                      "" if h["rows_removed"] is None else f"{h['rows_removed']:,}",
                      "" if rows_now is None else f"{rows_now:,}")
    console.print(table)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    console = _console()
    wh = _warehouse(args)
    try:
        if args.version is not None:
            target = args.version
        else:  # an aware datetime (`iso_datetime`: UTC when the argument gave no offset)
            target = wh.version_at(args.table, args.timestamp)
        current = wh.version(args.table)
        if current is None:
            raise StorageError(f"{args.table} does not exist")
        if not 0 <= target <= current:
            raise StorageError(f"{args.table} has versions 0..{current}; {target} is not one of them")
        rows_now, rows_then = wh.row_count(args.table), wh.row_count(args.table, target)
        console.print(f"{args.table}: version {current} ({rows_now:,} rows) -> content of version {target} "
                      f"({rows_then:,} rows), as a new version; version {current} stays in the history")
        if not args.yes:
            console.print("[yellow]dry run: nothing changed; add --yes to restore[/yellow]")
            return 0
        res = wh.restore(args.table, target, reason=args.reason or "nhl-assets restore")
        record_operation(wh, "restore", args.table,
                          f"restored version {target} over version {current} ({rows_now} rows replaced by "
                          f"{res['rows']}); new version {res['new_version']}; reason: {args.reason or '-'}")
        console.print(f"restored: {args.table} is now version {res['new_version']} with {res['rows']:,} rows "
                      f"(replaced version {current}, {rows_now:,} rows)")
        return 0
    except (StorageError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        return 1


def cmd_cdf(args: argparse.Namespace) -> int:
    import polars as pl

    console = _console()
    wh = _warehouse(args)
    try:
        changes = pl.from_arrow(wh.changes(args.table, args.since_version, args.until_version))
    except Exception as exc:  # noqa: BLE001 - delta-rs reports bad version ranges with several types
        console.print(f"[red]{args.table}: {exc}[/red]")
        return 1
    summary = changes.group_by("_commit_version", "_change_type").len().sort("_commit_version", "_change_type")
    table = Table(title=f"{args.table}: changes since version {args.since_version}")
    for col in ("version", "change", "rows"):
        table.add_column(col)
    for v, kind, n in summary.iter_rows():
        table.add_row(str(v), kind, f"{n:,}")
    console.print(table)
    if args.show:
        keep = [c for c in changes.columns if c not in ("body",)]
        console.print(changes.select(keep).head(args.show))
    return 0


def cmd_vacuum(args: argparse.Namespace) -> int:
    console = _console()
    wh = _warehouse(args)
    tables = args.tables or [t for t in TABLES if wh.exists(t)]
    try:
        for t in tables:
            files = wh.vacuum(t, args.retention_hours, dry_run=not args.yes)
            console.print(f"{t}: {len(files)} file(s) older than {args.retention_hours} h and unused "
                          f"{'removed' if args.yes else 'would be removed (dry run; --yes to remove)'}")
            if args.yes and files:
                record_operation(wh, "vacuum", t, f"{len(files)} files, retention {args.retention_hours} h")
    except StorageError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    return 0


def cmd_writer(args: argparse.Namespace) -> int:
    """Show or hand over which Delta writer owns a table (delta-rs, or Spark's native Delta writer)."""
    console = _console()
    wh = _warehouse(args)
    try:
        owner = wh.writer(args.table)
        if args.to is None or args.to == owner:
            console.print(f"{args.table}: written by {owner}")
            return 0
        if not args.yes:
            console.print(f"{args.table}: written by {owner}; would hand it to {args.to} (dry run; --yes to do it, "
                          f"with every {owner} job stopped)")
            return 0
        version = wh.set_writer(args.table, args.to, reason=args.reason or "")
        record_operation(wh, "writer", args.table, f"{owner} -> {args.to} at version {version}: {args.reason or ''}")
        console.print(f"{args.table}: now written by {args.to} (version {version})")
    except (StorageError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    console = _console()
    checks = verify(_warehouse(args))
    table = Table(title="nhl-assets verify")
    for col in ("table", "check", "status", "detail"):
        table.add_column(col)
    colour = {ERROR: "red", WARN: "yellow"}
    for c in checks:
        table.add_row(c.table, c.name, f"[{colour.get(c.status, 'green')}]{c.status}[/]", c.detail)
    console.print(table)
    bad = failed(checks)
    console.print(f"[red]{len(bad)} check(s) failed[/red]" if bad else "[green]all checks passed[/green]")
    return 1 if bad else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    def add(name: str, func, help_: str) -> argparse.ArgumentParser:
        p = subparsers.add_parser(name, help=help_, description=help_)
        p.add_argument("--warehouse", help="warehouse root (default $NHL_WAREHOUSE or ./warehouse)")
        p.set_defaults(func=func)
        return p

    p = subparsers.add_parser("tables", help="The table registry: every table, or one table's columns.",
                              description="The table registry: every table, or one table's columns.")
    p.add_argument("table", nargs="?", choices=list(TABLES), metavar="TABLE", help=f"one of: {', '.join(TABLES)}")
    p.set_defaults(func=cmd_tables)

    p = add("migrate", cmd_migrate, "Versioned migrations: status, plan, apply [--dry-run], rollback.")
    p.add_argument("action", choices=("status", "plan", "apply", "rollback"))
    p.add_argument("--dry-run", action="store_true", help="print what would change without writing")
    p.add_argument("--force", action="store_true", help="rollback even if tables changed after the migration")

    p = add("history", cmd_history, "A table's versions: operation, run id, window, rows added/removed.")
    p.add_argument("table")
    p.add_argument("--limit", type=positive_int, default=None, help="newest N versions only")
    p.add_argument("--count-rows", type=non_negative_int, default=20, help="count the rows of the newest N versions")

    p = add("restore", cmd_restore,
            "Restore a table to an earlier version or time (dry run unless --yes; history is kept).")
    p.add_argument("table")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--version", type=non_negative_int)
    g.add_argument("--timestamp", type=iso_datetime, help="ISO time, e.g. 2026-11-20T08:00:00Z (UTC when no offset)")
    p.add_argument("--yes", action="store_true", help="really restore")
    p.add_argument("--reason", help="recorded with the restore")

    add("verify", cmd_verify, "Check every table: rows, max date, keys, ledger vs schedule, silver vs bronze.")

    p = add("cdf", cmd_cdf, "A table's change data feed: rows inserted/deleted per version.")
    p.add_argument("table")
    p.add_argument("--since-version", type=non_negative_int, required=True)
    p.add_argument("--until-version", type=non_negative_int)
    p.add_argument("--show", type=non_negative_int, default=0, help="print the first N changed rows")
    on_parsed(p, _check_cdf_args)

    p = add("writer", cmd_writer, "Show or hand over the one Delta writer allowed on a table: delta-rs (default) "
                                  "or spark (delta-spark's native writer); dry run unless --yes.")
    p.add_argument("table")
    p.add_argument("to", nargs="?", choices=("delta-rs", "spark"))
    p.add_argument("--yes", action="store_true", help="really hand the table over")
    p.add_argument("--reason", help="recorded with the change")

    p = add("vacuum", cmd_vacuum, "Remove unused files older than the retention window (dry run unless --yes).")
    p.add_argument("tables", nargs="*")
    p.add_argument("--retention-hours", type=non_negative_int, default=DEFAULT_RETENTION_HOURS,
                   help="the storage guard refuses values under its floor and the tables' own retention")
    p.add_argument("--yes", action="store_true")


def _check_cdf_args(args: argparse.Namespace) -> None:
    """A change range runs forward."""
    if args.until_version is not None and args.until_version < args.since_version:
        raise ValueError(f"--until-version {args.until_version} is before --since-version {args.since_version}")
