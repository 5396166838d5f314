"""The only code in the project that writes Delta tables.

Every write goes through `Warehouse`, which enforces the data-protection rules of DESIGN.md:

* A partitioned asset replaces exactly the rows of its game-date window, in one Delta commit
  (`write_deltalake(mode="overwrite", predicate=<window>)`, or, where the window's rows fill whole files of
  a table with a change data feed, the same commit without delta-rs's rewrite: `whole_files`, which first
  splits a file holding the window's rows beside others in a commit that changes no row), so
  re-running a range is idempotent and neighbouring partitions are never touched. delta-rs itself refuses
  rows outside the predicate; we check first so the error names the table and the offending dates.
* No code path drops, truncates or re-creates a table. Tables are created once (if missing) with their
  declared partitioning; afterwards an additive schema change (new columns) evolves the table in place,
  while a removed column, a changed type or a different partitioning is refused with
  `SchemaChangeRefused`, which names the migration command to use instead.
* Every commit carries custom metadata (run id, window, writer) so `history` can tie versions to runs.
* A write planned on a snapshot of a local table (a window replace, a rewrite, a restore) holds the table's
  writer lock (`writer_lock`) from its plan to its commit.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from nhl_assets.dates import DateWindow
from nhl_assets.storage import whole_files
from nhl_assets.storage.writer_lock import table_writer

T = TypeVar("T")
_LOG = logging.getLogger(__name__)

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

#: A write whose commits pass a multiple of this version also writes a checkpoint (`_checkpoint_due`).
CHECKPOINT_EVERY = 10


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


class TableMissing(StorageError):
    """A write to a table that does not exist: tables are created by migrations, never by a write."""

    def __init__(self, table: str) -> None:
        self.table = table
        super().__init__(f"table {table} does not exist; tables are created by migrations: run "
                         "`nhl-assets migrate apply` (a new warehouse is bootstrapped automatically)")


class WriterConflict(StorageError):
    """A commit by an engine that does not own the table (Spark's Delta writer versus delta-rs)."""

    def __init__(self, table: str, owner: str, writer: str) -> None:
        self.table, self.owner, self.writer = table, owner, writer
        super().__init__(
            f"refusing to write {table} with {writer}: the table is owned by {owner} (table property "
            f"{WRITER_PROPERTY}). Two different Delta writers on one table can lose each other's commits "
            f"on object stores; stop the {owner} jobs and run `nhl-assets writer {table} {writer} --yes` "
            "to hand the table over")


#: Table property naming the one writer allowed to commit to a table: `delta-rs` (the default, this
#: module) or `spark` (delta-spark's native writer, see `storage.spark_native`). Different Delta
#: implementations do not share a commit protocol for object stores (delta-rs's locking provider or
#: conditional puts versus Spark's LogStore), so one table never has both at once.
WRITER_PROPERTY = "nhl_assets.writer"
WRITERS = ("delta-rs", "spark")


def writer_of(dt: DeltaTable) -> str:
    """The engine that owns `dt` (absent property: delta-rs)."""
    return dt.metadata().configuration.get(WRITER_PROPERTY, "delta-rs")


class RetentionTooShort(StorageError):
    """A vacuum that would remove files younger than the protected retention window."""


#: Vacuum keeps files younger than this by default (time travel covers at least this window)...
DEFAULT_RETENTION_HOURS = 7 * 24
#: ...and refuses any retention below this floor, whatever it is asked.
MIN_RETENTION_HOURS = 24
#: Attempts of one commit when a concurrent writer wins the race (delta-rs raises CommitFailedError).
COMMIT_ATTEMPTS = 6


def commit_retrying(attempts: int = COMMIT_ATTEMPTS) -> Retrying:
    """Retry policy of a commit that may lose the race for the next log version to another writer."""
    return Retrying(retry=retry_if_exception_type(CommitFailedError), stop=stop_after_attempt(attempts),
                    wait=wait_random_exponential(multiplier=0.2, max=5), reraise=True)


Data = pa.Table | pa.RecordBatchReader | Callable[[], pa.Table | pa.RecordBatchReader]


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


def _checkpoint_due(table: str, dt: DeltaTable, opened_at: int) -> None:
    """Write a checkpoint of `dt`'s version when the commits since it was opened at `opened_at` (the write's
    own, a split's before its replace, another writer's) passed a multiple of `CHECKPOINT_EVERY`, so that
    opening the table replays about that many JSON commits at most after the newest checkpoint.

    Why: every write, read and sensor tick opens its tables, and an open replays each commit since the last
    checkpoint. delta-rs checkpoints every 100 commits (`delta.checkpointInterval`'s default there; Delta's
    reference implementation, Spark, uses 10), so between the weekly maintenance runs a silver table written
    daily, or a replayed one, was opened through up to 99 commits: 22-44 ms an open at 91-98 commits here,
    against 6 ms after a checkpoint. Setting the property instead would change the definition of every
    existing table, which this project does only by a migration that stops each deployment until applied;
    a checkpoint is no part of a table's definition or content (the maintenance job writes them too). Its
    cost falls on the write that makes it, every tenth commit: 6-10 ms for a silver table here, 23-24 ms for
    a bronze one of 608-929 files. The commit has landed by then, so a failed checkpoint is logged, not
    raised: the table only stays slower to open until the next one.
    """
    if dt.version() // CHECKPOINT_EVERY == opened_at // CHECKPOINT_EVERY:
        return
    try:
        dt.create_checkpoint()
    except Exception as error:  # noqa: BLE001 - the write succeeded; a checkpoint only speeds up opening
        _LOG.warning("%s: no checkpoint at version %d (%s); the next is written when its commits pass version %d",
                     table, dt.version(), error, (dt.version() // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY)


def _delta_fields(schema: Any) -> dict[str, str]:
    """Field name -> Delta type string; compares Arrow and Delta schemas on Delta's type system."""
    delta_schema = schema if isinstance(schema, DeltaSchema) else DeltaSchema.from_arrow(schema)
    return {f.name: str(f.type) for f in delta_schema.fields}


def _as_reader(data: pa.Table | pa.RecordBatchReader) -> pa.RecordBatchReader:
    if isinstance(data, pa.Table):
        return data.to_reader()
    return data


def _replayable(data: Data) -> tuple[Callable[[], pa.RecordBatchReader], bool]:
    """A function giving a fresh reader of `data` for each commit attempt, and whether a retry can replay it.

    A Table or a factory can be read again after a lost commit race; a bare reader is consumed by the
    first attempt, so a conflict on it is not retried (the caller sees the CommitFailedError).
    """
    if isinstance(data, pa.Table):
        return data.to_reader, True
    if isinstance(data, pa.RecordBatchReader):
        return (lambda: data), False
    return (lambda: _as_reader(data())), True


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
                if col.null_count or lo is None or hi is None or lo < self._window.start or hi > self._window.end:
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


def write_as_completed(writes: Mapping[str, Callable[[], T]]) -> Iterator[tuple[str, T]]:
    """Run independent table writes (one callable per table, each its own commit) in threads, and yield each
    table with its result as soon as its commit lands.

    Why threads: delta-rs encodes Parquet and commits outside the GIL, so one window's tables are written at
    once instead of one after another (silver's six tables for a season: 2.0-2.2 s in turn, 1.1-1.5 s
    together on 2 cores). The tables are distinct, so their commits never conflict. Why as completed: the
    caller's own work on a committed table (an asset's materialization events) then runs while the larger
    tables are still being written. Every write runs to its end, even if the caller stops iterating; the
    first failure (in the order given) is raised after every successful write has been yielded, so each
    table whose write succeeded is reported (a failed one is not, whatever it did: a re-run replaces the
    same windows). A caller that stops iterating early is not told of a write that fails afterwards (the
    silver asset stops early only when it is failing already).
    """
    if len(writes) <= 1:
        for table, write in writes.items():
            yield table, write()
        return
    pool = ThreadPoolExecutor(max_workers=len(writes), thread_name_prefix="delta-write")
    futures = {pool.submit(write): table for table, write in writes.items()}  # in the order given
    try:
        for future in as_completed(futures):
            if future.exception() is None:
                yield futures[future], future.result()
    finally:
        pool.shutdown(wait=True)
    for future in futures:
        if (error := future.exception()) is not None:
            raise error


def write_concurrently(writes: Mapping[str, Callable[[], T]]) -> dict[str, T]:
    """`write_as_completed`, its results by table in the order given (after every write has ended)."""
    done = dict(write_as_completed(writes))
    return {table: done[table] for table in writes}


class _Snapshots:
    """Tables opened at a pinned version, kept per process (least recently used dropped past `size`).

    Why: opening a table replays its log up to the newest checkpoint and lists every data file, 30-50 ms
    for a bronze table of the whole simulated history (900+ daily files), and silver's readers open the
    same five bronze tables for every two-week chunk. A table at a given version never changes, so the
    opened object is reused for every read of that version; it is only ever scanned, never written through.
    """

    def __init__(self, size: int = 32) -> None:
        self._tables: OrderedDict[tuple[str, int], DeltaTable] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, uri: str, version: int, storage_options: dict[str, str] | None) -> DeltaTable:
        with self._lock:
            dt = self._tables.get((uri, version))
            if dt is not None:
                self._tables.move_to_end((uri, version))
                return dt
        dt = DeltaTable(uri, version=version, storage_options=storage_options)
        self.put(uri, version, dt)
        return dt

    def put(self, uri: str, version: int, dt: DeltaTable) -> None:
        with self._lock:
            self._tables[(uri, version)] = dt
            while len(self._tables) > self._size:
                self._tables.popitem(last=False)


_SNAPSHOTS = _Snapshots()


def _window_scan(dt: DeltaTable, window: DateWindow, date_column: str,
                 storage_options: dict[str, str] | None) -> pl.LazyFrame | None:
    """A scan of only the files of `dt` that may hold rows of `window`, or None where `pl.scan_delta` reads it.

    Why: `pl.scan_delta` derives the table's whole file list, file sizes and statistics again for every scan
    (`polars/io/delta/_dataset.py`, `to_dataset_scan`) before it prunes, a cost that grows with the table's
    history: silver reads five bronze tables for each two-week chunk of a window. delta-rs's
    `file_uris(file_pruning_predicate=...)` prunes the snapshot's files by partition value and statistics
    in Rust (1 ms for the chunk's 14 of 608 daily files), and Parquet is read from those alone: silver's
    80 reads of pinned snapshots for the simulated 2024-25 regular season took 1.31-1.52 CPU s against
    1.67-1.82 through `scan_delta`, alternated four times. The caller still filters the rows by `window`
    (the pruning keeps every file that may hold one). Only tables whose files are plain Parquet are read
    so (reader protocol 1: no deletion vectors, no column mapping, which `scan_delta` handles). The rest is
    read as `scan_delta` reads it: partition columns from the hive-style paths, a column added to the table
    after a file was written as null from it, a file's own types cast to the table's (`_DELTA_CASTS`: a
    Spark-written file's INT96 timestamps, say), credentials from `storage_options` alone.
    """
    if dt.protocol().min_reader_version != 1:
        return None
    schema = pl.Schema(dt.schema())
    partitions = set(dt.metadata().partition_columns)
    files = dt.file_uris(file_pruning_predicate=[(date_column, ">=", window.start), (date_column, "<=", window.end)])
    if not files:
        return pl.LazyFrame(schema=schema)
    return pl.scan_parquet(
        files, schema=pl.Schema({c: t for c, t in schema.items() if c not in partitions}),
        hive_partitioning=bool(partitions), hive_schema={c: schema[c] for c in partitions} or None,
        missing_columns="insert", extra_columns="ignore", cast_options=_DELTA_CASTS,
        storage_options=storage_options, credential_provider=None,
    ).select(list(schema))


def _delta_casts() -> pl.ScanCastOptions:
    """The casts `pl.scan_delta` allows from a file's types to the table's (polars' `_default_iceberg`
    options, in `polars/io/scan_options/cast_options.py`): wider integers and floats, nanosecond and
    millisecond timestamps to the table's microseconds and its time zone, struct fields added or dropped.
    Polars calls the class unstable and warns when it is built; these are the options of its own reader."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pl.ScanCastOptions(
            integer_cast="upcast", float_cast=["upcast", "downcast"],
            datetime_cast=["nanosecond-downcast", "millisecond-upcast", "convert-timezone"],
            missing_struct_fields="insert", extra_struct_fields="ignore", categorical_to_string="allow")


#: Built once, as the module loads: `warnings.catch_warnings` changes process-wide state, which a read in
#: another thread must not meet.
_DELTA_CASTS = _delta_casts()


class Warehouse:
    """The Delta warehouse rooted at `root` (`$NHL_WAREHOUSE`): one table per asset key path."""

    def __init__(self, root: str, storage_options: Mapping[str, str] | None = None, *,
                 create_missing: bool = False) -> None:
        self.root = root.rstrip("/")
        self.storage_options = dict(storage_options) if storage_options else None
        #: Only migrations (and storage unit tests) create tables; asset writes to a missing table fail.
        self.create_missing = create_missing

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

    def pin(self, tables: Iterable[str]) -> dict[str, int]:
        """The current version of each existing table of `tables`: one consistent snapshot to read with
        `read_arrow(..., version=)` (a table missing now is left out, and read as missing). The opened
        tables are kept for those reads (`_Snapshots`)."""
        versions = {}
        for table in tables:
            dt = self.open(table)
            if dt is not None:
                versions[table] = dt.version()
                _SNAPSHOTS.put(self.uri(table), versions[table], dt)
        return versions

    def read_arrow(self, table: str, window: DateWindow | None = None, columns: list[str] | None = None,
                   date_column: str = "gameDate", version: int | None = None) -> pa.Table | None:
        """Rows of `table` (optionally only `window`), or None when the table does not exist; with `version`,
        as of that version (a table pinned by `pin`: opened once per process and version).

        Read by polars' native Parquet scan of the table's current files, not by
        `DeltaTable.to_pyarrow_table`: the latter builds a pyarrow dataset with one fragment and one
        partition expression per data file before it filters, a fixed ~0.15 s per call on a season's
        219 daily partitions (and growing with history) even for 14 rows, where the scan prunes the files
        by their partition values and statistics first (~16 ms for the same read; see
        `benchmarks/silver_season.py`); a window is scanned from delta-rs's pruned file list
        (`_window_scan`). The result is cast back to the table's own Arrow schema, so callers see the
        same types (`string`, not polars' `large_string`) and nullability as before.
        """
        scanned = self._scan(table, window, columns, date_column, version)
        if scanned is None:
            return None
        frame, dt = scanned
        schema = pa.schema(dt.schema().to_arrow())
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        return frame.to_arrow().cast(schema)

    def read_rows(self, table: str, window: DateWindow | None = None, columns: list[str] | None = None,
                  date_column: str = "gameDate", version: int | None = None) -> list[dict[str, Any]] | None:
        """`read_arrow`'s rows as Python dicts (dates, aware UTC datetimes, bytes), or None when the table
        does not exist.

        Made by polars from the scanned frame, not through Arrow's `to_pylist`: on bronze's response bodies
        (silver's read, 100 games of play-by-plays, shift charts and boxscores per two-week chunk) the
        conversion through Arrow took 0.065 s of CPU a chunk against 0.015 s from polars, more than the
        scan itself (0.06 s)."""
        scanned = self._scan(table, window, columns, date_column, version)
        return None if scanned is None else scanned[0].to_dicts()

    def _scan(self, table: str, window: DateWindow | None, columns: list[str] | None, date_column: str,
              version: int | None) -> tuple[pl.DataFrame, DeltaTable] | None:
        dt = self.open(table) if version is None else _SNAPSHOTS.get(self.uri(table), version, self.storage_options)
        if dt is None:
            return None
        scan = None if window is None else _window_scan(dt, window, date_column, self.storage_options)
        if scan is None:
            scan = pl.scan_delta(dt)
        if window is not None:
            scan = scan.filter(pl.col(date_column).is_between(window.start, window.end))
        if columns is not None:
            scan = scan.select(columns)
        return scan.collect(), dt

    def read_frame(self, table: str, window: DateWindow | None = None, columns: list[str] | None = None
                   ) -> pl.DataFrame | None:
        """`read_arrow`'s rows as a polars frame, or None when the table does not exist: the scanned frame
        itself (a round trip through Arrow and the table's Arrow schema gives polars the same frame)."""
        scanned = self._scan(table, window, columns, "gameDate", None)
        return None if scanned is None else scanned[0]

    # ------------------------------------------------------------------ writing
    def create_table(self, table: str, schema: pa.Schema, partition_by: list[str] | None,
                     description: str | None = None, configuration: Mapping[str, str] | None = None,
                     run_id: str | None = None) -> tuple[DeltaTable, bool]:
        """Create `table` empty with its declared partitioning and properties; (table, created).

        An existing table is left as it is (never re-created): it must already be compatible, else
        `SchemaChangeRefused`. Two processes creating the same table at once: the loser opens the winner's.
        """
        dt = self.open(table)
        if dt is None:
            metadata = {"nhl_assets.operation": "create"}
            if run_id:
                metadata["dagster.run_id"] = run_id
            try:
                dt = DeltaTable.create(
                    self.uri(table), schema, mode="error", partition_by=partition_by or None,
                    name=table.replace("/", "."), description=description,
                    configuration={**DEFAULT_TABLE_CONFIGURATION, **(configuration or {})},
                    storage_options=self.storage_options,
                    commit_properties=CommitProperties(custom_metadata=metadata),
                )
                return dt, True
            except Exception:
                dt = self.open(table)
                if dt is None:
                    raise
        # an existing table must hold every declared column with its type (it may have gained more since)
        stored = _delta_fields(dt.schema())
        problems = [f"declared column {n!r} ({t}) is missing or has type {stored.get(n)}"
                    for n, t in _delta_fields(schema).items() if stored.get(n) != t]
        if partition_by is not None and list(partition_by) != list(dt.metadata().partition_columns):
            problems.append(f"partitioned by {list(dt.metadata().partition_columns)}, declared {list(partition_by)}")
        if problems:
            raise SchemaChangeRefused(table, problems)
        return dt, False

    def add_columns(self, table: str, schema: pa.Schema, run_id: str | None = None) -> list[str]:
        """Add `schema`'s columns to `table` in one metadata-only commit (no data file is rewritten).

        Existing rows read the new columns as null, so a new column must be nullable; a column the table
        already has is refused (use a migration that rewrites the table to change one). Returns the names.
        """
        dt = self.open(table)
        if dt is None:
            raise TableMissing(table)
        stored = _delta_fields(dt.schema())
        problems = [f"column {f.name!r} exists already" for f in schema if f.name in stored]
        problems += [f"column {f.name!r} is not nullable: the rows already written cannot hold it"
                     for f in schema if not f.nullable]
        if problems:
            raise SchemaChangeRefused(table, problems)
        metadata = {"nhl_assets.operation": "add_columns"} | ({"dagster.run_id": run_id} if run_id else {})
        dt.alter.add_columns(list(DeltaSchema.from_arrow(schema).fields),
                             commit_properties=CommitProperties(custom_metadata=metadata))
        return list(schema.names)

    def _open_for_write(self, table: str, schema: pa.Schema, partition_by: list[str] | None,
                        description: str | None) -> tuple[DeltaTable, bool]:
        dt = self.open(table)
        if dt is not None:
            return dt, False
        if not self.create_missing:
            raise TableMissing(table)
        return self.create_table(table, schema, partition_by, description)

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
        if partition_by is not None and list(partition_by) != stored_parts:
            problems.append(f"partitioning would change {stored_parts} -> {list(partition_by or [])}")
        if problems:
            raise SchemaChangeRefused(table, problems)
        return [name for name in incoming if name not in stored]

    def _commit(self, table: str, data: Data, *, predicate: str | None,
                window: DateWindow | None, date_column: str | None, partition_by: list[str] | None,
                run_id: str | None, description: str | None, extra_metadata: Mapping[str, Any] | None,
                operation: str) -> WriteResult:
        make_reader, replayable = _replayable(data)
        metadata: dict[str, Any] = {"nhl_assets.operation": operation}
        if run_id:
            metadata["dagster.run_id"] = run_id
        if window is not None:
            metadata["nhl_assets.window"] = str(window)
        if extra_metadata:
            metadata.update({k: str(v) for k, v in extra_metadata.items()})
        retrying = Retrying(
            retry=retry_if_exception_type(CommitFailedError),
            stop=stop_after_attempt(COMMIT_ATTEMPTS if replayable else 1),
            wait=wait_random_exponential(multiplier=0.2, max=5),
            reraise=True,
        )
        for attempt in retrying:
            with attempt, table_writer(self.uri(table)):  # plan and commit as the table's one writer
                reader = make_reader()
                dt, created = self._open_for_write(table, reader.schema, partition_by, description)
                opened_at = dt.version()
                if writer_of(dt) != "delta-rs":
                    raise WriterConflict(table, writer_of(dt), "delta-rs")
                added = self._check_compatible(table, dt, reader.schema, partition_by)
                counting = _CountingReader(reader, date_column, window, table)
                # see `whole_files`: the same commit without the rewrite (after a split of the files that
                # straddle the window, where any does). It is refused, not rebased, when another writer
                # commits first, so a retry goes to delta-rs (which rebases where it may), and only data
                # that can be read again for that retry goes this way
                whole = None
                if not (created or added or not replayable or attempt.retry_state.attempt_number > 1
                        or window is None or date_column is None or predicate is None):
                    whole = whole_files.plan(dt, self.uri(table), window, date_column)
                    if whole is None and whole_files.split(dt, self.uri(table), window, date_column, metadata,
                                                           self.storage_options):
                        whole = whole_files.plan(dt, self.uri(table), window, date_column)
                try:
                    if whole is not None:
                        whole_files.replace(dt, whole, counting.reader(), metadata, lambda: counting.rows,
                                            self.storage_options)
                    else:
                        write_deltalake(
                            dt,
                            counting.reader(),
                            mode="overwrite",
                            predicate=predicate,
                            partition_by=list(dt.metadata().partition_columns) or None,
                            schema_mode="merge" if added else None,
                            storage_options=self.storage_options,
                            commit_properties=CommitProperties(custom_metadata=metadata),
                        )
                except Exception:
                    if counting.error is not None:
                        raise counting.error from None
                    raise
        dt.update_incremental()
        _checkpoint_due(table, dt, opened_at)
        return WriteResult(table=table, uri=self.uri(table), version=dt.version(), rows_written=counting.rows,
                           window=window, schema_evolved=added, created=created)

    def replace_window(self, table: str, data: Data, window: DateWindow, *,
                       date_column: str = "gameDate", partition_by: list[str] | None = None,
                       run_id: str | None = None, description: str | None = None,
                       extra_metadata: Mapping[str, Any] | None = None) -> WriteResult:
        """Replace every row of `table` whose `date_column` lies in `window` with `data`, in one commit.

        Rows outside the window are refused (they would belong to partitions this write does not own).
        An empty `data` leaves the window empty: a day without games is an empty partition. `data` may be
        a zero-argument function returning the rows, so that a commit lost to a concurrent writer (another
        backfill committing first) is retried with the same rows; disjoint windows never conflict in
        content, only in the race for the next log version. A whole-file replace (`whole_files`) that
        loses that race is not rebased: its staged files are deleted and the retry is delta-rs's replace,
        which costs the rows written once more (concurrent writers of one table are rare: the deployment
        runs one writer per table, `deploy/dagster.yaml`).
        """
        predicate = (f"{date_column} >= '{window.start.isoformat()}' AND "
                     f"{date_column} <= '{window.end.isoformat()}'")
        return self._commit(table, data, predicate=predicate, window=window, date_column=date_column,
                            partition_by=partition_by, run_id=run_id, description=description,
                            extra_metadata=extra_metadata, operation="replace_window")

    def replace_all(self, table: str, data: Data, *, run_id: str | None = None,
                    description: str | None = None,
                    extra_metadata: Mapping[str, Any] | None = None) -> WriteResult:
        """Replace the whole content of an unpartitioned (refresh) table, as a new version.

        The previous content stays reachable by time travel: this is an overwrite commit, not a drop.
        """
        return self._commit(table, data, predicate=None, window=None, date_column=None, partition_by=None,
                            run_id=run_id, description=description, extra_metadata=extra_metadata,
                            operation="replace_all")


    # ------------------------------------------------------------------ migrations and operations
    def rewrite_table(self, table: str, data: Data, *, partition_by: list[str] | None = None,
                      run_id: str | None = None, operation: str = "migration_rewrite",
                      extra_metadata: Mapping[str, Any] | None = None) -> WriteResult:
        """Replace a whole table's content *and* schema/partitioning in one commit (migrations only).

        This is the one write that may change columns or partitioning, which is why only the migration
        runner calls it (after recording every table's version, so the previous version is restorable by
        time travel: nothing is dropped or re-created, the table's history goes on).
        """
        with table_writer(self.uri(table)):  # an overwrite planned before a split would keep its files
            dt = self.open(table)
            if dt is None:
                raise TableMissing(table)
            if writer_of(dt) != "delta-rs":
                raise WriterConflict(table, writer_of(dt), "delta-rs")
            make_reader, _ = _replayable(data)
            reader = make_reader()
            counting = _CountingReader(reader, None, None, table)
            metadata = {"nhl_assets.operation": operation, **({"dagster.run_id": run_id} if run_id else {}),
                        **{k: str(v) for k, v in (extra_metadata or {}).items()}}
            parts = list(dt.metadata().partition_columns) if partition_by is None else partition_by
            write_deltalake(dt, counting.reader(), mode="overwrite", schema_mode="overwrite",
                            partition_by=parts, storage_options=self.storage_options,  # [] = unpartitioned
                            commit_properties=CommitProperties(custom_metadata=metadata))
            dt.update_incremental()
        return WriteResult(table=table, uri=self.uri(table), version=dt.version(), rows_written=counting.rows,
                           window=None)

    def append(self, table: str, data: pa.Table, *, operation: str = "append") -> WriteResult:
        """Append rows (the `_meta` ledgers only: append-only logs; concurrent appends never conflict)."""
        for attempt in Retrying(retry=retry_if_exception_type(CommitFailedError),
                                stop=stop_after_attempt(COMMIT_ATTEMPTS),
                                wait=wait_random_exponential(multiplier=0.2, max=5), reraise=True):
            with attempt:
                dt, created = self._open_for_write(table, data.schema, None, None)
                write_deltalake(dt, data, mode="append", schema_mode="merge", storage_options=self.storage_options,
                                commit_properties=CommitProperties(custom_metadata={"nhl_assets.operation": operation}))
        dt.update_incremental()
        return WriteResult(table=table, uri=self.uri(table), version=dt.version(), rows_written=data.num_rows,
                           window=None, created=created)

    def writer(self, table: str) -> str:
        """Which engine may commit to `table` (see `WRITER_PROPERTY`)."""
        dt = self.open(table)
        if dt is None:
            raise TableMissing(table)
        return writer_of(dt)

    def set_writer(self, table: str, writer: str, *, reason: str) -> int:
        """Hand `table` to `writer` (one metadata commit, recorded with `reason`); the new version.

        Call it only while no job of the previous owner runs: the property is what every later commit
        of either writer checks, not a lock on commits already in flight.
        """
        if writer not in WRITERS:
            raise ValueError(f"unknown writer {writer!r}: one of {', '.join(WRITERS)}")
        dt = self.open(table)
        if dt is None:
            raise TableMissing(table)
        dt.alter.set_table_properties({WRITER_PROPERTY: writer}, raise_if_not_exists=False,
                                      commit_properties=CommitProperties(custom_metadata={
                                          "nhl_assets.operation": "set_writer", "nhl_assets.reason": reason}))
        dt.update_incremental()
        return dt.version()

    def history(self, table: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Versions newest first: version, time, operation, run id, rows written/removed, our metadata."""
        dt = self.open(table)
        if dt is None:
            raise TableMissing(table)
        out = []
        for h in dt.history(limit):
            # delta-rs's operation metrics, else the counts a whole-file replace records (`whole_files`)
            m = {**h, **(h.get("operationMetrics") or {})}
            out.append({
                "version": h.get("version"),
                "timestamp": datetime.fromtimestamp(h["timestamp"] / 1000, tz=timezone.utc),
                "operation": h.get("operation"),
                "nhl_operation": h.get("nhl_assets.operation"),
                "run_id": h.get("dagster.run_id"),
                "window": h.get("nhl_assets.window"),
                "rows_added": _int_metric(m, "num_added_rows", "numOutputRows", "nhl_assets.rows_added"),
                "rows_removed": _int_metric(m, "num_deleted_rows", "numDeletedRows", "nhl_assets.rows_removed"),
                "parameters": h.get("operationParameters") or {},
                "metadata": {k: v for k, v in h.items() if k.startswith("nhl_assets.") or k.startswith("dagster.")},
            })
        return out

    def row_count(self, table: str, version: int | None = None) -> int:
        dt = self.open(table, version=version)
        if dt is None:
            raise TableMissing(table)
        return dt.to_pyarrow_dataset().count_rows()

    def version_at(self, table: str, when: datetime) -> int:
        """The table's version as of `when` (the newest commit at or before it)."""
        for h in self.history(table):
            if h["timestamp"] <= when:
                return h["version"]
        raise StorageError(f"{table} has no version at or before {when.isoformat()}")

    def restore(self, table: str, version: int, *, reason: str, run_id: str | None = None) -> dict[str, Any]:
        """Make `version`'s content the table's newest version (a RESTORE commit; history kept).

        The commit records what it replaced (the version that was current, its row count) and why, so a
        restore can itself be undone by restoring the version it replaced.
        """
        with table_writer(self.uri(table)):  # a restore's plan is the current version's files
            dt = self.open(table)
            if dt is None:
                raise TableMissing(table)
            current = dt.version()
            replaced_rows = self.row_count(table)
            metadata = {"nhl_assets.operation": "restore", "nhl_assets.restored_version": str(version),
                        "nhl_assets.replaced_version": str(current), "nhl_assets.replaced_rows": str(replaced_rows),
                        "nhl_assets.reason": reason, **({"dagster.run_id": run_id} if run_id else {})}
            dt.restore(version, commit_properties=CommitProperties(custom_metadata=metadata))
            dt.update_incremental()
        return {"table": table, "restored_version": version, "replaced_version": current,
                "replaced_rows": replaced_rows, "new_version": dt.version(), "rows": self.row_count(table)}

    def vacuum(self, table: str, retention_hours: int = DEFAULT_RETENTION_HOURS, *, dry_run: bool = True
               ) -> list[str]:
        """Files no version inside the retention window needs; deleted only when `dry_run` is False.

        Refuses a retention below `MIN_RETENTION_HOURS`, and never shortens the table's own
        `delta.deletedFileRetentionDuration` check: time travel always covers the window. Delta-rs's full
        mode: besides the files removed by a commit, the data files no version ever referenced (a write
        that died before its commit) once as old as the retention; delta-rs's default mode lists only the
        removed ones, so such files stayed forever. Younger files (a write in flight) and the `_`
        directories (the log, the change data, a whole-file replace's staging) are never touched.
        """
        dt = self.check_vacuum_retention(table, retention_hours)
        return dt.vacuum(retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=True,
                         full=True,
                         commit_properties=CommitProperties(custom_metadata={"nhl_assets.operation": "vacuum"}))

    def check_vacuum_retention(self, table: str, retention_hours: int) -> DeltaTable:
        """The table, if a vacuum of it with `retention_hours` is allowed; else `RetentionTooShort`.

        Separate from `vacuum` so a multi-table operation (maintenance) can refuse before changing anything.
        """
        if retention_hours < MIN_RETENTION_HOURS:
            raise RetentionTooShort(
                f"refusing to vacuum {table} with a retention of {retention_hours} h: the floor is "
                f"{MIN_RETENTION_HOURS} h (time travel and restore must keep covering recent versions)")
        dt = self.open(table)
        if dt is None:
            raise TableMissing(table)
        protected = _interval_hours(dt.metadata().configuration.get("delta.deletedFileRetentionDuration"))
        if protected is not None and retention_hours < protected:
            raise RetentionTooShort(
                f"refusing to vacuum {table} with a retention of {retention_hours} h: the table protects "
                f"{protected:g} h of deleted files (delta.deletedFileRetentionDuration); change that property "
                "with a migration to vacuum more")
        return dt

    def changes(self, table: str, since_version: int, until_version: int | None = None) -> pa.Table:
        """The change data feed: rows inserted/deleted/updated per version (`_change_type`, `_commit_version`)."""
        dt = self.open(table)
        if dt is None:
            raise TableMissing(table)
        reader = dt.load_cdf(starting_version=since_version, ending_version=until_version)
        return pa.RecordBatchReader.from_stream(reader).read_all()  # delta-rs hands out an arro3 reader


def _interval_hours(value: str | None) -> float | None:
    """'interval 7 days' -> 168.0 (Delta's interval table properties)."""
    if not value:
        return None
    parts = value.replace("interval", "").split()
    if len(parts) != 2:
        return None
    n, unit = float(parts[0]), parts[1].rstrip("s").lower()
    return n * {"week": 168, "day": 24, "hour": 1, "minute": 1 / 60, "second": 1 / 3600}.get(unit, float("nan"))


def _int_metric(metrics: Mapping[str, Any], *names: str) -> int | None:
    for n in names:
        if n in metrics and metrics[n] is not None:
            try:
                return int(metrics[n])
            except (TypeError, ValueError):
                return None
    return None

