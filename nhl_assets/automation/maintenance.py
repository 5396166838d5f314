"""Table maintenance as a Dagster job: `nhl_maintenance` (UI launchpad, `nhl-assets maintain`) and its
weekly schedule.

Why an op job and not assets: maintenance never changes a table's content (the storage layer's
`maintain_table` compacts, checkpoints and vacuums; every version reads the same rows), so it must not
pose as a materialization that would make downstream assets look stale. Each table's figures after the
run are logged as an `AssetObservation` on its asset, so the UI shows files and log length over time
beside the materializations; the op's output metadata holds the before/after table of the whole run.
"""

from collections.abc import Mapping
from datetime import date
from typing import Optional

from dagster import (
    AssetObservation,
    Config,
    DefaultScheduleStatus,
    Failure,
    JobDefinition,
    MetadataValue,
    OpExecutionContext,
    Output,
    ScheduleDefinition,
    graph,
    op,
)
from pydantic import Field

from nhl_assets import settings, specs
from nhl_assets.catalog import META_MIGRATIONS, META_OPERATIONS, TABLES
from nhl_assets.resources import WarehouseResource
from nhl_assets.storage.delta import DEFAULT_RETENTION_HOURS, Warehouse
from nhl_assets.storage.maintenance import DEFAULT_TARGET_SIZE_MB, MIB, TableMaintenance, maintain_table
from nhl_assets.storage.operations import record_operation

MAINTENANCE_JOB = "nhl_maintenance"
MAINTENANCE_OP = "maintain_tables"
#: The tooling's own append-only ledgers: one small file per recorded operation, so they are compacted too.
META_TABLES = (META_MIGRATIONS, META_OPERATIONS)


class MaintenanceConfig(Config):
    """What to maintain and how (the launchpad's run config; `nhl-assets maintain` fills the same fields)."""

    tables: list[str] = Field(default=[], description="Tables to maintain, e.g. silver/player_game_stats; empty = "
                                                      "every table of the warehouse (and the _meta ledgers).")
    start: Optional[str] = Field(default=None, description="First game date (YYYY-MM-DD) whose partitions are "
                                                           "compacted; empty = from the first.")
    end: Optional[str] = Field(default=None, description="Last game date (YYYY-MM-DD) whose partitions are "
                                                         "compacted; empty = through the last.")
    target_size_mb: int = Field(default=DEFAULT_TARGET_SIZE_MB, gt=0, description="Compacted file size to aim at, "
                                                                                  "MiB.")
    retention_hours: int = Field(default=DEFAULT_RETENTION_HOURS, description="Vacuum deletes only files unused "
                                 "for longer than this; below the floor or the table's own retention is refused.")
    vacuum: bool = Field(default=True, description="Vacuum after compacting (false: compact and checkpoint only).")
    dry_run: bool = Field(default=False, description="Report what would be compacted and vacuumed; change nothing.")

    def dates(self) -> tuple[date | None, date | None]:
        """The game-date range, checked: ISO dates, start not after end."""
        start = date.fromisoformat(self.start) if self.start else None
        end = date.fromisoformat(self.end) if self.end else None
        if start and end and start > end:
            raise ValueError(f"start {start} is after end {end}")
        return start, end

    def resolve_tables(self, wh: Warehouse) -> list[str]:
        """The named tables (unknown names refused, a typo must not pass as 'nothing to do'), or every
        existing table of the catalog and the ledgers."""
        known = (*TABLES, *META_TABLES)
        unknown = [t for t in self.tables if t not in known]
        if unknown:
            raise ValueError(f"unknown table(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return list(self.tables) or [t for t in known if wh.exists(t)]


def summary_markdown(results: list[TableMaintenance]) -> str:
    """The before/after table of a run (op output metadata)."""
    lines = ["| table | files | MiB | version | log entries | compacted | vacuumed | s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        b, a = r.before, r.after
        lines.append(f"| {r.table} | {b.files} → {a.files} | {b.bytes / MIB:.2f} → {a.bytes / MIB:.2f} | "
                     f"{b.version} → {a.version} | {b.log_entries} → {a.log_entries} | "
                     f"{r.files_compacted} → {r.files_written} | {r.files_vacuumed} | {r.duration_s:.2f} |")
    return "\n".join(lines)


@op(name=MAINTENANCE_OP, description="Per table: compact small files, checkpoint, clean expired log files, vacuum "
                                     "outside the retention window; content never changes.")
def maintain_tables(context: OpExecutionContext, config: MaintenanceConfig, warehouse: WarehouseResource):
    wh = warehouse.get()
    start, end = config.dates()
    tables = config.resolve_tables(wh)
    if config.vacuum:  # refuse a too-short retention before any table is touched
        for table in tables:
            wh.check_vacuum_retention(table, config.retention_hours)
    results: list[TableMaintenance] = []
    failed: dict[str, str] = {}
    for table in tables:
        try:
            r = maintain_table(wh, table, start=start, end=end, target_size=config.target_size_mb * MIB,
                               retention_hours=config.retention_hours, vacuum=config.vacuum,
                               dry_run=config.dry_run, run_id=context.run.run_id)
        except Exception as exc:  # noqa: BLE001 - one table's failure must not leave the others unmaintained
            context.log.error(f"{table}: maintenance failed: {exc}")
            failed[table] = str(exc)
            continue
        context.log.info(f"{table}: {r.detail()}")
        results.append(r)
        if table in TABLES:
            context.log_event(AssetObservation(asset_key=specs.asset_key(table), metadata=r.metadata()))
        if not config.dry_run:
            record_operation(wh, "maintain", table, r.detail())
    yield Output(results, metadata={
        "tables": MetadataValue.md(summary_markdown(results)), "dry_run": config.dry_run,
        "files_before": sum(r.before.files for r in results), "files_after": sum(r.after.files for r in results),
        "duration_s": round(sum(r.duration_s for r in results), 3), "failed": ", ".join(failed) or "none"})
    if failed:
        raise Failure(description=f"maintenance failed for {', '.join(failed)} (the other tables were maintained)",
                      metadata={t: MetadataValue.text(e) for t, e in failed.items()})


@graph(name=MAINTENANCE_JOB)
def maintenance_graph() -> None:
    maintain_tables()


def maintenance_job(tags: Mapping[str, str]) -> JobDefinition:
    """The job, tagged as a writer of every layer so the production queue never runs it beside a writer
    of the same tables (it would only lose commit races and retry)."""
    return maintenance_graph.to_job(
        name=MAINTENANCE_JOB, tags=dict(tags),
        description="Table maintenance: compaction (by partition range, target file size), checkpoints, log "
                    "clean-up, vacuum outside the retention window; before/after figures per table.")


#: Weekly, early Monday in New York: after the weekend's games are loaded and before the week's runs.
nhl_weekly_maintenance = ScheduleDefinition(
    name="nhl_weekly_maintenance", cron_schedule="0 4 * * 1", execution_timezone=settings.NHL_TIMEZONE,
    job_name=MAINTENANCE_JOB, default_status=DefaultScheduleStatus.STOPPED,
    description="Every Monday at 04:00 New York time: maintain every table (default run config).")
