"""Table maintenance: compaction, checkpoints, log clean-up and vacuum, never a change of content.

Why: the daily routine writes one game date per run, lookbacks re-write recent dates and re-runs
replace windows, so a season-partitioned table gains a small file per day and every table a commit per
run. Readers of full history (replays, features) then open hundreds of files and replay long logs.
Maintenance rewrites small files into few large ones (delta-rs `optimize.compact`: a commit with
`dataChange = false`, so readers, the change data feed and time travel see the same rows), writes a
checkpoint so opening a table reads one Parquet file instead of the commits since the last one, removes
log files older than the table's `delta.logRetentionDuration`, and vacuums files no version inside the
retention window needs, through the same guard as `nhl-assets vacuum` (`Warehouse.check_vacuum_retention`).

Compaction keeps each partition's insertion order (consecutive game dates end up in the same file), so a
later re-run of a date rewrites only the compacted file that holds it; `target_size` bounds that file.
Conflicts with a concurrent writer are detected by delta-rs (CommitFailedError) and the compaction is
planned again on the new version, like the storage writes (`commit_retrying`).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import polars as pl
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable
from deltalake.fs import DeltaStorageHandler

from nhl_assets.dates import season_of
from nhl_assets.storage import whole_files
from nhl_assets.storage.delta import (
    DEFAULT_RETENTION_HOURS,
    TableMissing,
    Warehouse,
    WriterConflict,
    commit_retrying,
    writer_of,
)
from nhl_assets.storage.writer_lock import table_writer

MIB = 1024 * 1024
#: Compacted files aim at this size: large enough that a season of silver is one or two files, small
#: enough that re-running a date inside a compacted partition rewrites little.
DEFAULT_TARGET_SIZE_MB = 32
_COMMIT_FILE = re.compile(r"^\d{20}\.json$")


@dataclass(frozen=True)
class TableFigures:
    """The layout of a table's current version: what maintenance is meant to shrink (not its content)."""

    files: int  # data files of the current version
    bytes: int  # their total size
    rows: int | None  # from the files' statistics (None when a file has none); must not change
    version: int  # Delta version
    log_entries: int  # commit files kept in `_delta_log`
    log_tail: int  # commits after the last checkpoint: what opening the table replays one file at a time

    def as_dict(self) -> dict[str, int | None]:
        return asdict(self)


def log_entries(wh: Warehouse, table: str) -> tuple[int, int | None]:
    """(commit files in `_delta_log`, version of the last checkpoint or None), read through delta-rs's
    object store so it works wherever the table lives (local, S3, GCS, Azure)."""
    handler = DeltaStorageHandler(wh.uri(table), wh.storage_options)
    names = [i.path.rsplit("/", 1)[-1] for i in handler.get_file_info_selector(pafs.FileSelector("_delta_log"))]
    checkpoint_version = None
    if "_last_checkpoint" in names:
        with handler.open_input_file("_delta_log/_last_checkpoint") as f:
            checkpoint_version = int(json.loads(f.read())["version"])
    return sum(1 for n in names if _COMMIT_FILE.match(n)), checkpoint_version


def measure(wh: Warehouse, table: str) -> TableFigures:
    """Files, bytes, rows (from statistics), version and log length of `table` now."""
    dt = wh.open(table)
    if dt is None:
        raise TableMissing(table)
    actions = whole_files.add_actions(dt)
    rows = actions.column("num_records").to_pylist() if actions.num_rows else []
    commits, checkpointed = log_entries(wh, table)
    return TableFigures(files=actions.num_rows,
                        bytes=int(sum(actions.column("size_bytes").to_pylist())) if actions.num_rows else 0,
                        rows=None if any(r is None for r in rows) else int(sum(rows)),
                        version=dt.version(), log_entries=commits,
                        log_tail=dt.version() - (-1 if checkpointed is None else checkpointed))


# ----------------------------------------------------------------------------------------------------
# which partitions to compact
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionRange:
    """The partitions of one table that a game-date range covers (either end may be open)."""

    column: str
    low: date | int | None
    high: date | int | None

    def filters(self) -> list[tuple[str, str, str]]:
        """delta-rs partition filters (values as the strings of the partition path)."""
        out = []
        if self.low is not None:
            out.append((self.column, ">=", str(self.low)))
        if self.high is not None:
            out.append((self.column, "<=", str(self.high)))
        return out

    def __contains__(self, value: object) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)  # type: ignore[operator]

    def __str__(self) -> str:
        return f"{self.column} {self.low or ''}..{self.high or ''}"


def partition_range(partition_columns: list[str], start: date | None, end: date | None) -> PartitionRange | None:
    """The range of `start..end` game dates in the table's own partitioning, or None for the whole table.

    Bronze is partitioned by `gameDate`, silver and per-game gold by `season` (migration 0003): a date
    range maps to the seasons holding those dates. A table partitioned otherwise, or not at all, has no
    date partitions to restrict by and is compacted whole.
    """
    if start is None and end is None:
        return None
    if partition_columns == ["gameDate"]:
        return PartitionRange("gameDate", start, end)
    if partition_columns == ["season"]:
        return PartitionRange("season", season_of(start) if start else None, season_of(end) if end else None)
    return None


def compaction_candidates(dt: DeltaTable, scope: PartitionRange | None, target_size: int) -> tuple[int, int]:
    """(files, partitions) a compaction would rewrite: partitions with two or more files under the target.

    An estimate for dry runs (delta-rs plans compaction the same way: bins of small files per partition;
    a partition with a single small file is left alone).
    """
    actions = whole_files.add_actions(dt)
    if not actions.num_rows:
        return 0, 0
    parts = [c for c in actions.column_names if c.startswith("partition.")]
    frame = pl.from_arrow(actions.select(["size_bytes", *parts]))
    frame = frame.filter(pl.col("size_bytes") < target_size)
    if scope is not None:
        values = frame.get_column(f"partition.{scope.column}").to_list()
        frame = frame.filter(pl.Series([v in scope for v in values], dtype=pl.Boolean))
    groups = frame.group_by(parts).len() if parts else pl.DataFrame({"len": [frame.height]})
    groups = groups.filter(pl.col("len") > 1)
    return int(groups.get_column("len").sum()), groups.height


def compact(wh: Warehouse, table: str, scope: PartitionRange | None, target_size: int,
            run_id: str | None = None) -> dict[str, Any]:
    """Compact small files of `table` (within `scope`) into files of about `target_size` bytes.

    Each attempt plans on the newest version: a compaction that lost the race to a writer (CommitFailedError:
    the writer removed files it was merging) is planned again, never committed over the writer's rows.
    """
    metadata = {"nhl_assets.operation": "maintenance_compact", **({"dagster.run_id": run_id} if run_id else {})}
    for attempt in commit_retrying():
        with attempt, table_writer(wh.uri(table)):  # see `writer_lock`: never beside a split of the table
            dt = wh.open(table)
            if dt is None:
                raise TableMissing(table)
            if writer_of(dt) != "delta-rs":  # a table handed to Spark is compacted by Spark (OPTIMIZE)
                raise WriterConflict(table, writer_of(dt), "delta-rs")
            metrics = dt.optimize.compact(partition_filters=scope.filters() if scope else None,
                                          target_size=target_size,
                                          commit_properties=CommitProperties(custom_metadata=metadata))
    return metrics


def checkpoint(wh: Warehouse, table: str) -> int:
    """Write a checkpoint of the current version and delete log files the table no longer keeps.

    delta-rs only deletes commits older than `delta.logRetentionDuration` (30 days here) that precede a
    checkpoint, so time travel keeps covering the retention window. Returns the checkpointed version.
    """
    dt = wh.open(table)
    if dt is None:
        raise TableMissing(table)
    dt.create_checkpoint()
    dt.cleanup_metadata()
    return dt.version()


# ----------------------------------------------------------------------------------------------------
# one table
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableMaintenance:
    """What maintenance did to one table (or, in a dry run, would do), for metadata and the CLI."""

    table: str
    scope: str
    before: TableFigures
    after: TableFigures
    files_compacted: int  # small files rewritten (dry run: candidates)
    files_written: int  # files they became (dry run: 0)
    partitions_compacted: int
    checkpoint_version: int | None
    files_vacuumed: int  # deleted (dry run: would be deleted); 0 when vacuum is off
    duration_s: float
    dry_run: bool

    def metadata(self) -> dict[str, Any]:
        """Dagster metadata: the figures before and after, flat so the UI plots them per observation."""
        md: dict[str, Any] = {"table": self.table, "scope": self.scope, "dry_run": self.dry_run,
                              "duration_s": round(self.duration_s, 3), "files_compacted": self.files_compacted,
                              "files_written": self.files_written, "files_vacuumed": self.files_vacuumed}
        for when, figures in (("before", self.before), ("after", self.after)):
            for name, value in figures.as_dict().items():
                md[f"{name}_{when}"] = -1 if value is None else value
        if self.checkpoint_version is not None:
            md["checkpoint_version"] = self.checkpoint_version
        return md

    def detail(self) -> str:
        """One line for `_meta/operations`."""
        b, a = self.before, self.after
        return (f"{'dry run: ' if self.dry_run else ''}{self.scope}; files {b.files} -> {a.files}, bytes {b.bytes} -> "
                f"{a.bytes}, version {b.version} -> {a.version}, log entries {b.log_entries} -> {a.log_entries}; "
                f"compacted {self.files_compacted} into {self.files_written}, vacuumed {self.files_vacuumed}, "
                f"{self.duration_s:.2f} s")


def maintain_table(wh: Warehouse, table: str, *, start: date | None = None, end: date | None = None,
                   target_size: int = DEFAULT_TARGET_SIZE_MB * MIB,
                   retention_hours: int = DEFAULT_RETENTION_HOURS, vacuum: bool = True, dry_run: bool = False,
                   run_id: str | None = None) -> TableMaintenance:
    """Compact, checkpoint, clean the log and vacuum one table; the rows stay exactly what they were.

    The vacuum retention is checked first (`RetentionTooShort` before anything changes). A dry run changes
    nothing: it reports the compaction candidates and the files a vacuum would delete.
    """
    started = time.monotonic()
    if vacuum:
        wh.check_vacuum_retention(table, retention_hours)
    before = measure(wh, table)
    dt = wh.open(table)
    assert dt is not None  # measured just above
    scope = partition_range(list(dt.metadata().partition_columns), start, end)
    if dry_run:
        files, partitions = compaction_candidates(dt, scope, target_size)
        vacuumed = len(wh.vacuum(table, retention_hours, dry_run=True)) if vacuum else 0
        return TableMaintenance(table=table, scope=str(scope or "whole table"), before=before, after=before,
                                files_compacted=files, files_written=0, partitions_compacted=partitions,
                                checkpoint_version=None, files_vacuumed=vacuumed,
                                duration_s=time.monotonic() - started, dry_run=True)
    metrics = compact(wh, table, scope, target_size, run_id)
    version = checkpoint(wh, table)
    vacuumed = 0
    if vacuum:
        for attempt in commit_retrying():
            with attempt:
                vacuumed = len(wh.vacuum(table, retention_hours, dry_run=False))
    return TableMaintenance(table=table, scope=str(scope or "whole table"), before=before, after=measure(wh, table),
                            files_compacted=int(metrics.get("numFilesRemoved", 0)),
                            files_written=int(metrics.get("numFilesAdded", 0)),
                            partitions_compacted=int(metrics.get("partitionsOptimized", 0)),
                            checkpoint_version=version, files_vacuumed=vacuumed,
                            duration_s=time.monotonic() - started, dry_run=False)


def content_digest(wh: Warehouse, table: str, version: int | None = None) -> tuple[int, str]:
    """(rows, sha256 of the sorted row hashes) of a table version: equal digests mean equal content.

    Order-insensitive (compaction may reorder files) and column-order-insensitive; what proves that
    maintenance changed no row.
    """
    dt = wh.open(table, version=version)
    if dt is None:
        raise TableMissing(table)
    frame = pl.from_arrow(dt.to_pyarrow_table())
    assert isinstance(frame, pl.DataFrame)
    frame = frame.select(sorted(frame.columns))
    hashes = frame.hash_rows().sort().to_numpy().tobytes() if frame.height else b""
    return frame.height, hashlib.sha256(hashes).hexdigest()
