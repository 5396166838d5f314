"""A window replace that removes whole files, for tables whose change data feed delta-rs would rewrite.

Why: on a table with the change data feed on, delta-rs's `write_deltalake(mode="overwrite",
predicate=<window>)` plans a "data rescue" unless the predicate names partition columns only
(`operations/write/plan.rs`, `plan_overwrite_rewrite`): it scans every file the predicate may touch,
writes back the rows that stay, and writes every deleted row and every inserted row once more under
`_change_data` (`write/execution.rs`, `write_cdc_plan`). Silver and gold are partitioned by season and
replaced by game date, so a season's silver replay wrote each large table three times: 0.62 s against
0.23 s for `silver/player_game_stats` (243,540 rows) replaced this way.

When every file holding a row of the window holds nothing else (what earlier replaces of the same
window, or of windows inside it, wrote), the replace is only "remove those files, add the new ones". The
Delta protocol defines the change data of a commit without `cdc` files from its data files (every row of
an added file inserted, every row of a removed file deleted; delta-rs's `load_cdf` reads it so, as does
Spark), so the feed shows exactly the rows delta-rs's own `_change_data` would have held. A file that also
holds rows outside the window is first split in two or three (its rows before, in and after the window:
`split`) in a commit of `dataChange = false` actions, which the feed ignores as a change, as it ignores
a compaction. delta-rs does not set two such commits against each other, so a split relies on its caller
holding the table's writer lock (`writer_lock`), as every compaction does. A file without statistics of
the date column, or a table whose layout this module does not handle (an object store, deletion vectors,
column mapping, an append-only table, CHECK constraints: a new staging table has no writer feature to
enforce them) gives no plan: the caller then writes through delta-rs as before.

How, with delta-rs doing every Parquet write: the new rows are appended to a staging table created inside
the table's own directory (`_nhl_staging/<id>`, which readers and vacuum ignore, as every directory
whose name starts with `_`) with the table's schema (so its nullability is enforced) and statistics
settings; the staged files must hold as many rows as were written. They are renamed into the table's
partition directories (one file system: a rename, no copy) and committed together with the removes, as
their add actions from the staging log verbatim (`create_write_transaction`, the public API for
committing files written elsewhere). The commit is refused, instead of rebased, when another writer
committed since the files were chosen (`max_commit_retries=0`): rebasing would keep another writer's rows
of the same window beside these. The caller then retries through delta-rs's own replace. A process
that dies between the move and the commit leaves its staging directory with a manifest of the moved
files; a later replace deletes those that the one version it could have committed did not take, once
nothing in the directory changed for an hour (`_sweep_stale`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction

from nhl_assets.dates import DateWindow
from nhl_assets.storage.writer_lock import local_dir

#: Where a replace stages its new files, inside the table's directory (`_`: ignored by readers and vacuum).
STAGING_DIR = "_nhl_staging"
#: A staging directory this old was left by a process that died mid-replace; the next replace removes it.
STALE_STAGING_S = 3600.0
#: The file in a staging directory naming the files moved into the table, and the version they were
#: planned on: what a later sweep needs to delete them if the commit never happened.
MANIFEST = "moved.json"
#: Table properties the staging table copies: which columns get statistics.
_COPIED_PROPERTIES = ("delta.dataSkippingNumIndexedCols", "delta.dataSkippingStatsColumns")
#: Writer features this module does not handle (it would have to carry their per-file metadata).
_UNHANDLED_FEATURES = {"deletionVectors", "columnMapping", "rowTracking", "icebergCompatV1", "icebergCompatV2"}


class StagingMismatch(RuntimeError):
    """The staged files do not hold the rows that were written (nothing is committed)."""


#: The least share of a straddling file's dates the window must cover for `split` to split it. A split
#: rewrites the file once and adds a commit: a replay of most of a file (the regular season in a season's
#: file) then replaces whole files from its second run on, but a day's window in a month's file (the daily
#: runs, each one day further) would pay a split every day. Measured on the silver player and shot tables:
#: one day of a 30-day file replaced in 0.091-0.094 s split against 0.061-0.064 s through delta-rs; the
#: regular season of a season's file in 0.25-0.30 CPU s once split against 0.78-0.86 s through delta-rs.
SPLIT_MIN_SHARE = 0.5


@dataclass(frozen=True)
class _Removed:
    path: str
    size: int
    partition_values: dict[str, str | None]
    rows: int
    dates: tuple[date, date]  # the first and last date in the file (its statistics)


@dataclass(frozen=True)
class WholeFilePlan:
    """The files holding the window's rows, each holding nothing else; removed by `replace`."""

    table_dir: str
    partition_by: list[str]
    files: list[_Removed]


def _partition_string(value: Any) -> str | None:
    """A partition value as the log spells it; ValueError for a type this module does not spell."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    raise ValueError(f"partition value {value!r} of type {type(value).__name__}")


def add_actions(dt: DeltaTable) -> pa.Table:
    """The add actions of `dt`'s current version, one row per data file with its flattened statistics.

    Read through the Arrow stream interface, not `pa.table(...)`: that call first asks whether its
    argument is a pandas frame and so imports pandas (0.17-0.27 s, once per process), which nothing
    else a writer or a parse worker runs needs."""
    return pa.RecordBatchReader.from_stream(dt.get_add_actions(flatten=True)).read_all()


def _classify(dt: DeltaTable, uri: str, window: DateWindow, date_column: str
              ) -> tuple[str, list[str], list[_Removed], list[_Removed]] | None:
    """(table directory, partition columns, files holding only window rows, files holding window rows
    beside others), or None where this module does not handle the table or a file's date statistics are
    missing (see `plan`)."""
    table_dir = local_dir(uri)
    config = dt.metadata().configuration
    parts = list(dt.metadata().partition_columns)
    features = set(dt.protocol().writer_features or ())
    if (table_dir is None or config.get("delta.enableChangeDataFeed", "").lower() != "true"
            or date_column in parts or features & _UNHANDLED_FEATURES
            or config.get("delta.columnMapping.mode", "none") != "none"
            or any(k.startswith("delta.constraints.") for k in config)
            or config.get("delta.appendOnly", "false").lower() == "true"):
        return None
    actions = add_actions(dt)
    lo_col, hi_col, nulls_col = f"min.{date_column}", f"max.{date_column}", f"null_count.{date_column}"
    wanted = ["path", "size_bytes", "num_records", lo_col, hi_col, nulls_col, *(f"partition.{p}" for p in parts)]
    if actions.num_rows == 0 or not set(wanted) <= set(actions.column_names):
        return None
    inside: list[_Removed] = []
    straddling: list[_Removed] = []
    for row in actions.select(wanted).to_pylist():
        lo, hi, nulls = row[lo_col], row[hi_col], row[nulls_col]
        if lo is not None and hi is not None and (hi < window.start or lo > window.end):
            continue  # no row of the window
        if lo is None or hi is None or nulls is None or nulls > 0 or row["num_records"] is None:
            return None  # unknown: delta-rs reads the file to find out
        try:
            values = {p: _partition_string(row[f"partition.{p}"]) for p in parts}
        except ValueError:
            return None
        file = _Removed(row["path"], row["size_bytes"], values, row["num_records"], (lo, hi))
        (inside if window.start <= lo and hi <= window.end else straddling).append(file)
    return table_dir, parts, inside, straddling


def plan(dt: DeltaTable, uri: str, window: DateWindow, date_column: str) -> WholeFilePlan | None:
    """The whole-file replace of `window` on `dt`, or None where delta-rs's own replace is needed or as cheap.

    None unless: the table is on the local file system, its change data feed is on (without it delta-rs
    writes no `_change_data`), it is not partitioned by `date_column` (then delta-rs removes whole
    partitions itself), it uses none of `_UNHANDLED_FEATURES`, has no CHECK constraint and is not
    append-only, and at least one file holds window rows, every such file with statistics of
    `date_column` showing no row outside the window and no null (`split` makes a table so).
    """
    classified = _classify(dt, uri, window, date_column)
    if classified is None:
        return None
    table_dir, parts, inside, straddling = classified
    return WholeFilePlan(table_dir, parts, inside) if inside and not straddling else None


def _newest_mtime(directory: str) -> float:
    """The latest modification time in `directory`'s tree: a write in progress keeps it recent."""
    newest = os.stat(directory).st_mtime
    for folder, _dirs, files in os.walk(directory):
        for name in files:
            try:
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
            except FileNotFoundError:
                continue
    return newest


def _adds(table_dir: str, version: int) -> list[dict[str, Any]] | None:
    """The add actions of commit `version` of the table at `table_dir`, or None if that commit is not in
    the log (not made yet, or cleaned up past `delta.logRetentionDuration`)."""
    try:
        with open(os.path.join(table_dir, "_delta_log", f"{version:020d}.json"), encoding="utf-8") as f:
            return [action["add"] for action in map(json.loads, filter(str.strip, f)) if "add" in action]
    except FileNotFoundError:
        return None


def _added_by(table_dir: str, version: int) -> set[str] | None:
    """Paths commit `version` added (`_adds`)."""
    adds = _adds(table_dir, version)
    return None if adds is None else {a["path"] for a in adds}


def _sweep_stale(table_dir: str, staging_root: str) -> None:
    """Staging directories of replaces that died midway: nothing in them changed for `STALE_STAGING_S`.

    Such a replace planned on version v and commits with `max_commit_retries=0`, so its commit could only
    be version v + 1. Once v + 1 is in the log, its fate is decided: the files of its manifest that
    v + 1 did not add were never committed and are deleted (a file v + 1 added is kept). While v + 1
    does not exist (the replace might still commit: a paused process, a skewed clock), or when the log no
    longer holds it, everything is kept. A directory without a manifest never moved anything. Whatever
    goes wrong with one directory leaves it as it is: a sweep never fails the replace that runs it.
    """
    try:
        entries = [e.path for e in os.scandir(staging_root) if e.is_dir()]
    except FileNotFoundError:
        return
    for stage in entries:
        try:
            if time.time() - _newest_mtime(stage) <= STALE_STAGING_S:
                continue
            manifest = os.path.join(stage, MANIFEST)
            if os.path.exists(manifest):
                with open(manifest, encoding="utf-8") as f:
                    moved = json.load(f)
                committed = _added_by(table_dir, int(moved["version"]) + 1)
                if committed is None:
                    continue
                _remove([os.path.join(table_dir, unquote(p)) for p in moved["paths"] if p not in committed])
            shutil.rmtree(stage, ignore_errors=True)
        except Exception:  # noqa: BLE001 - a sweep is housekeeping; its directory is left for a later one
            continue


def _remove(paths: list[str]) -> None:
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def _staged_adds(stage: str) -> list[dict[str, Any]]:
    """The add actions of the staging table's appends, versions 1, 2, ... (none when it committed nothing)."""
    out: list[dict[str, Any]] = []
    version = 1
    while (adds := _adds(stage, version)) is not None:
        out += adds
        version += 1
    return out


def _move_into(table_dir: str, stage: str, adds: list[dict[str, Any]]) -> list[str]:
    """Rename the staged files of `adds` into the table's directory (the same paths below it); the moved
    paths. A failure midway moves back nothing but deletes what it moved (no version references them)."""
    moved: list[str] = []
    try:
        for add in adds:
            target = os.path.join(table_dir, unquote(add["path"]))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.rename(os.path.join(stage, unquote(add["path"])), target)
            moved.append(target)
    except BaseException:
        _remove(moved)
        raise
    return moved


def replace(dt: DeltaTable, planned: WholeFilePlan, reader: pa.RecordBatchReader, metadata: dict[str, Any],
            rows_read: Callable[[], int], storage_options: dict[str, str] | None = None) -> None:
    """Commit `reader`'s rows in place of `planned`'s files, in one commit on `dt`.

    `rows_read()` is how many rows the reader gave (counted as they were read): the staged files must hold
    exactly as many, else `StagingMismatch` and nothing is committed. `metadata` is the commit's custom
    metadata; the row counts are added to it (`nhl_assets.rows_added`, `nhl_assets.rows_removed`:
    delta-rs records its `operationMetrics` only for its own operations). Raises CommitFailedError when
    another writer committed to the table since `dt` was read; the moved files are then deleted (no
    version references them). If the commit fails otherwise, whether it happened is unknown: the staging
    directory and its manifest stay for a later sweep to decide.
    """
    removed = sum(f.rows for f in planned.files)
    _commit_staged(dt, planned, [reader], rows_read, metadata, storage_options, data_change=True,
                   counts=lambda added: {"nhl_assets.rows_added": str(added),
                                         "nhl_assets.rows_removed": str(removed)})


def split(dt: DeltaTable, uri: str, window: DateWindow, date_column: str, metadata: dict[str, Any],
          storage_options: dict[str, str] | None = None) -> bool:
    """Rewrite each file holding rows of `window` beside others as up to three: its rows before, in and
    after the window, in one commit with `dataChange = false` (same rows, same change data feed, same
    content at every version); whether it committed. `plan` then finds the window in whole files. The
    caller holds the table's writer lock (`writer_lock`): delta-rs would let a compaction planned before
    this commit commit after it, both holding the rows.

    Why: a file that straddles the window is otherwise delta-rs's to rewrite, which writes the rows it
    keeps back beside the new ones (one file again: the next replay of the same window straddles it as
    well) and every deleted and inserted row once more as change data. Compaction makes such files
    (a season's daily files into one), so every replay of a part of a season met one: the regular
    season's replay of the player and shot tables took 0.82-1.16 and 0.77-0.83 CPU s that way. Split,
    the window's rows leave with their own file, and a replay of the same window (or of a window
    holding it) is a whole-file replace from then on.

    False, with nothing committed, where `_classify` does not handle the table, no file straddles the
    window, the window covers less than `SPLIT_MIN_SHARE` of a straddling file's dates, a file cannot be
    read with the table's schema (a partition value or a type this module does not convert), or another
    writer committed first (one that does not take the lock): the caller then writes through delta-rs as
    before. The rows are read with the table's schema (a column added after a file was written reads as
    null, as every reader of the table reads it) and their partition values from the log.
    """
    classified = _classify(dt, uri, window, date_column)
    if (classified is None or not classified[3]
            or any(_share(f, window) < SPLIT_MIN_SHARE for f in classified[3])):
        return False
    table_dir, parts, _inside, straddling = classified
    schema = pa.schema(dt.schema().to_arrow())
    try:
        whole = pa.concat_tables([_read_file(table_dir, f, schema) for f in straddling])
    except (OSError, pa.ArrowException):  # a file this module cannot read as the table's: delta-rs's to rewrite
        return False
    if whole.num_rows != sum(f.rows for f in straddling):
        raise StagingMismatch(f"the files of {table_dir} to split hold {whole.num_rows} rows where their log "
                              f"entries count {sum(f.rows for f in straddling)}; nothing committed")
    dates = whole.column(date_column)
    before = pc.less(dates, pa.scalar(window.start, dates.type))
    after = pc.greater(dates, pa.scalar(window.end, dates.type))
    # three appends, so that no file holds rows of two of them: the statistics of the rows left before
    # and after the window then show each file outside it
    parts_written = [whole.filter(before), whole.filter(pc.invert(pc.or_(before, after))), whole.filter(after)]
    planned = WholeFilePlan(table_dir, parts, straddling)
    try:
        _commit_staged(dt, planned, [p.to_reader() for p in parts_written], lambda: whole.num_rows,
                       {**metadata, "nhl_assets.operation": "split_window"}, storage_options,
                       data_change=False, counts=lambda _added: {})
    except CommitFailedError:
        return False
    dt.update_incremental()
    return True


def _share(file: _Removed, window: DateWindow) -> float:
    """The share of `file`'s dates (first to last, inclusive) that `window` covers."""
    first, last = file.dates
    covered = (min(last, window.end) - max(first, window.start)).days + 1
    return max(covered, 0) / ((last - first).days + 1)


def _read_file(table_dir: str, file: _Removed, schema: pa.Schema) -> pa.Table:
    """One data file's rows with the table's `schema`: its partition values from the log, a column it
    lacks (added to the table after it was written) as nulls."""
    data = pq.read_table(os.path.join(table_dir, unquote(file.path)))
    n = data.num_rows
    columns = []
    for field in schema:
        if field.name in file.partition_values:
            columns.append(pa.array([file.partition_values[field.name]] * n, pa.string()).cast(field.type))
        elif field.name in data.column_names:
            columns.append(data.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _commit_staged(dt: DeltaTable, planned: WholeFilePlan, readers: list[pa.RecordBatchReader],
                   rows_read: Callable[[], int], metadata: dict[str, Any], storage_options: dict[str, str] | None,
                   *, data_change: bool, counts: Callable[[int], dict[str, str]]) -> None:
    """Stage `readers` (one append each: their rows never share a file), then commit the staged files in
    place of `planned`'s, every action with `data_change`; see `replace`."""
    staging_root = os.path.join(planned.table_dir, STAGING_DIR)
    _sweep_stale(planned.table_dir, staging_root)
    stage = os.path.join(staging_root, uuid.uuid4().hex)
    config = dt.metadata().configuration
    outcome_unknown = False
    try:
        DeltaTable.create(stage, schema=dt.schema(), partition_by=planned.partition_by or None,
                          configuration={k: v for k, v in config.items() if k.startswith(_COPIED_PROPERTIES)},
                          storage_options=storage_options)
        for reader in readers:
            write_deltalake(stage, reader, mode="append", storage_options=storage_options)
        adds = _staged_adds(stage)
        if any(not a.get("stats") for a in adds):
            raise StagingMismatch(f"a staged file of {planned.table_dir} has no statistics; nothing committed")
        added = sum(json.loads(a["stats"])["numRecords"] for a in adds)
        if added != rows_read():
            raise StagingMismatch(f"the staged files of {planned.table_dir} hold {added} rows where "
                                  f"{rows_read()} were written; nothing committed")
        read_version = dt.version()
        with open(os.path.join(stage, MANIFEST), "w", encoding="utf-8") as f:
            json.dump({"version": read_version, "paths": [a["path"] for a in adds]}, f)
        moved = _move_into(planned.table_dir, stage, adds)
        now_ms = int(time.time() * 1000)
        actions: list[AddAction | RemoveAction] = [
            AddAction(a["path"], a["size"], a["partitionValues"], a["modificationTime"], data_change, a["stats"])
            for a in adds]
        actions += [RemoveAction(f.path, data_change, now_ms, f.size, f.partition_values) for f in planned.files]
        custom = {**metadata, **counts(added)}
        try:
            outcome_unknown = True
            dt.create_write_transaction(actions, mode="append", schema=dt.schema(),
                                        partition_by=planned.partition_by or None,
                                        commit_properties=CommitProperties(custom_metadata=custom,
                                                                           max_commit_retries=0))
            outcome_unknown = False
        except CommitFailedError:
            # another writer took version v + 1, the only one this commit could be: the moved files are
            # referenced by no version (checked, rather than trusted, before they are deleted)
            taken = _added_by(planned.table_dir, read_version + 1)
            if taken is not None:
                outcome_unknown = False
                _remove([path for path, add in zip(moved, adds) if add["path"] not in taken])
            raise
    finally:
        if not outcome_unknown:
            shutil.rmtree(stage, ignore_errors=True)
