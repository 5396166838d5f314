"""The only code in the project that writes Delta tables.

Every write goes through `Warehouse`, which enforces the data-protection rules of DESIGN.md:

* A partitioned asset replaces exactly the rows of its game-date window, in one Delta commit
  (`write_deltalake(mode="overwrite", predicate=<window>)`), so re-running a range is idempotent and
  neighbouring partitions are never touched. delta-rs itself refuses rows outside the predicate; we check
  first so the error names the table and the offending dates.
* No code path drops, truncates or re-creates a table. Tables are created once (if missing) with their
  declared partitioning; afterwards an additive schema change (new columns) evolves the table in place,
  while a removed column, a changed type or a different partitioning is refused with
  `SchemaChangeRefused`, which names the migration command to use instead.
* Every commit carries custom metadata (run id, window, writer) so `history` can tie versions to runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import TableNotFoundError

from nhl_assets.partitions import DateWindow

MIGRATE_HINT = (
    "write a migration in migrations/ (see README, 'Changing a table') and run `nhl-assets migrate apply`"
)

#: Table properties every table is created with. Change data feed lets `nhl-assets cdf` show exactly
#: which rows a run replaced; the retention settings keep time travel covering the vacuum window.
DEFAULT_TABLE_CONFIGURATION: dict[str, str] = {
    "delta.enableChangeDataFeed": "true",
    "delta.logRetentionDuration": "interval 30 days",
    "delta.deletedFileRetentionDuration": "interval 7 days",
}


class StorageError(RuntimeError):
    """A write the storage layer refuses to perform."""


class SchemaChangeRefused(StorageError):
    """The data's schema or partitioning is not an additive change of the stored table."""

    def __init__(self, table: str, problems: list[str]) -> None:
        self.table = table
        self.problems = problems
        super().__init__(
            f"refusing to write {table}: {'; '.join(problems)}. Asset code may only add columns; "
            f"to change or remove columns or partitioning, {MIGRATE_HINT}."
        )


class RowsOutsideWindow(StorageError):
    """Rows whose date falls outside the window being replaced (would touch other partitions)."""


@dataclass(frozen=True)
class WriteResult:
    """What one commit did, for materialization metadata."""

    table: str
    uri: str
    version: int
    rows_written: int
    window: DateWindow | None
    schema_evolved: list[str] = field(default_factory=list)
    created: bool = False

    def metadata(self) -> dict[str, Any]:
        md: dict[str, Any] = {
            "table": self.table,
            "table_uri": self.uri,
            "delta_version": self.version,
            "rows_written": self.rows_written,
        }
        if self.window is not None:
            md["window"] = str(self.window)
        if self.schema_evolved:
            md["columns_added"] = ", ".join(self.schema_evolved)
        return md


def _delta_fields(schema: Any) -> dict[str, str]:
    """Field name -> Delta type string; compares Arrow and Delta schemas on Delta's type system."""
    delta_schema = schema if isinstance(schema, DeltaSchema) else DeltaSchema.from_arrow(schema)
    return {f.name: str(f.type) for f in delta_schema.fields}


def _as_reader(data: pa.Table | pa.RecordBatchReader) -> pa.RecordBatchReader:
    if isinstance(data, pa.Table):
        return data.to_reader()
    return data


class _CountingReader:
    """Wraps a RecordBatchReader to count rows and check dates as delta-rs consumes it.

    Streaming keeps long backfills in bounded memory: delta-rs pulls batches and writes Parquet as it
    goes, and commits once at the end.
    """

    def __init__(self, reader: pa.RecordBatchReader, date_column: str | None, window: DateWindow | None,
                 table: str) -> None:
        self.schema = reader.schema
        self._reader = reader
        self._date_column = date_column
        self._window = window
        self._table = table
        self.rows = 0
        self.error: StorageError | None = None

    def _batches(self) -> Iterable[pa.RecordBatch]:
        for batch in self._reader:
            if self._window is not None and self._date_column is not None and batch.num_rows:
                col = batch.column(self._date_column)
                lo, hi = pc.min(col).as_py(), pc.max(col).as_py()
                if lo is None or hi is None or lo < self._window.start or hi > self._window.end:
                    # Raised inside delta-rs's consumer, which wraps it; kept so the caller re-raises it.
                    self.error = RowsOutsideWindow(
                        f"{self._table}: rows dated {lo}..{hi} (or null) fall outside the window "
                        f"{self._window} being replaced; refusing to touch other partitions"
                    )
                    raise self.error
            self.rows += batch.num_rows
            yield batch

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self._batches())


class Warehouse:
    """The Delta warehouse rooted at `root` (`$NHL_WAREHOUSE`): one table per asset key path."""

    def __init__(self, root: str, storage_options: Mapping[str, str] | None = None) -> None:
        self.root = root.rstrip("/")
        self.storage_options = dict(storage_options) if storage_options else None

    # ------------------------------------------------------------------ reading
    def uri(self, table: str) -> str:
        """`bronze/boxscore` -> `<root>/bronze/boxscore` (asset keys mirror table paths)."""
        if "://" in self.root:
            return f"{self.root}/{table}"
        return os.path.join(self.root, *table.split("/"))

    def open(self, table: str, version: int | None = None) -> DeltaTable | None:
        """The table, or None when it does not exist yet."""
        try:
            return DeltaTable(self.uri(table), version=version, storage_options=self.storage_options)
        except TableNotFoundError:
            return None

    def exists(self, table: str) -> bool:
        return self.open(table) is not None

    def version(self, table: str) -> int | None:
        dt = self.open(table)
        return None if dt is None else dt.version()

    def read_arrow(self, table: str, window: DateWindow | None = None, columns: list[str] | None = None,
                   date_column: str = "gameDate") -> pa.Table | None:
        """Rows of `table` (optionally only `window`), or None when the table does not exist."""
        dt = self.open(table)
        if dt is None:
            return None
        filters = None
        if window is not None:
            filters = [(date_column, ">=", window.start), (date_column, "<=", window.end)]
        return dt.to_pyarrow_table(columns=columns, filters=filters)

    # ------------------------------------------------------------------ writing
    def ensure_table(self, table: str, schema: pa.Schema, partition_by: list[str] | None,
                     description: str | None = None) -> tuple[DeltaTable, bool]:
        """Open `table`, creating it (once, empty) with its declared partitioning when missing."""
        dt = self.open(table)
        if dt is not None:
            return dt, False
        dt = DeltaTable.create(
            self.uri(table),
            schema,
            mode="error",
            partition_by=partition_by or None,
            name=table.replace("/", "."),
            description=description,
            configuration=DEFAULT_TABLE_CONFIGURATION,
            storage_options=self.storage_options,
            commit_properties=CommitProperties(custom_metadata={"nhl_assets.operation": "create"}),
        )
        return dt, True

    def _check_compatible(self, table: str, dt: DeltaTable, schema: pa.Schema,
                          partition_by: list[str] | None) -> list[str]:
        """Return the added column names, or raise if the change is not purely additive."""
        stored = _delta_fields(dt.schema())
        incoming = _delta_fields(schema)
        problems: list[str] = []
        for name, dtype in stored.items():
            if name not in incoming:
                problems.append(f"column {name!r} ({dtype}) is in the table but not in the data")
            elif incoming[name] != dtype:
                problems.append(f"column {name!r} would change type {dtype} -> {incoming[name]}")
        stored_parts = list(dt.metadata().partition_columns)
        if list(partition_by or []) != stored_parts:
            problems.append(f"partitioning would change {stored_parts} -> {list(partition_by or [])}")
        if problems:
            raise SchemaChangeRefused(table, problems)
        return [name for name in incoming if name not in stored]

    def _commit(self, table: str, data: pa.Table | pa.RecordBatchReader, *, predicate: str | None,
                window: DateWindow | None, date_column: str | None, partition_by: list[str] | None,
                run_id: str | None, description: str | None, extra_metadata: Mapping[str, Any] | None,
                operation: str) -> WriteResult:
        reader = _as_reader(data)
        dt, created = self.ensure_table(table, reader.schema, partition_by, description)
        added = self._check_compatible(table, dt, reader.schema, partition_by)
        counting = _CountingReader(reader, date_column, window, table)
        metadata: dict[str, Any] = {"nhl_assets.operation": operation}
        if run_id:
            metadata["dagster.run_id"] = run_id
        if window is not None:
            metadata["nhl_assets.window"] = str(window)
        if extra_metadata:
            metadata.update({k: str(v) for k, v in extra_metadata.items()})
        try:
            write_deltalake(
                dt,
                counting.reader(),
                mode="overwrite",
                predicate=predicate,
                partition_by=partition_by or None,
                schema_mode="merge" if added else None,
                storage_options=self.storage_options,
                commit_properties=CommitProperties(custom_metadata=metadata),
            )
        except Exception:
            if counting.error is not None:
                raise counting.error from None
            raise
        dt.update_incremental()
        return WriteResult(table=table, uri=self.uri(table), version=dt.version(), rows_written=counting.rows,
                           window=window, schema_evolved=added, created=created)

    def replace_window(self, table: str, data: pa.Table | pa.RecordBatchReader, window: DateWindow, *,
                       date_column: str = "gameDate", partition_by: list[str] | None = None,
                       run_id: str | None = None, description: str | None = None,
                       extra_metadata: Mapping[str, Any] | None = None) -> WriteResult:
        """Replace every row of `table` whose `date_column` lies in `window` with `data`, in one commit.

        Rows outside the window are refused (they would belong to partitions this write does not own).
        An empty `data` leaves the window empty: a day without games is an empty partition.
        """
        predicate = (f"{date_column} >= '{window.start.isoformat()}' AND "
                     f"{date_column} <= '{window.end.isoformat()}'")
        return self._commit(table, data, predicate=predicate, window=window, date_column=date_column,
                            partition_by=partition_by, run_id=run_id, description=description,
                            extra_metadata=extra_metadata, operation="replace_window")

    def replace_all(self, table: str, data: pa.Table | pa.RecordBatchReader, *, run_id: str | None = None,
                    description: str | None = None,
                    extra_metadata: Mapping[str, Any] | None = None) -> WriteResult:
        """Replace the whole content of an unpartitioned (refresh) table, as a new version.

        The previous content stays reachable by time travel: this is an overwrite commit, not a drop.
        """
        return self._commit(table, data, predicate=None, window=None, date_column=None, partition_by=None,
                            run_id=run_id, description=description, extra_metadata=extra_metadata,
                            operation="replace_all")

