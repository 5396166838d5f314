"""Dagster's event logs (SQLite, in-memory, PostgreSQL) writing a batch of asset events in one transaction.

Why this exists: a run over a range of daily partitions records one ASSET_MATERIALIZATION_PLANNED and one
ASSET_MATERIALIZATION event per partition and asset (273 dates x 5 silver assets = 2,730 events of each),
and Dagster 1.13's SQLite event log writes every event on its own: a new SQLAlchemy engine per write, one
transaction in the run's database and another in the index database, a table reflection per asset event.
Measured on this project's 2-core machine, that is about 9 ms per event, so the bookkeeping of a season's
silver replay took longer than the parse itself. Upstream: dagster-io/dagster#18789 (a 12k-partition
backfill spent 28 minutes logging events for 8 s of compute) and #19829 (batch-write materializations),
both open.

Dagster already hands events to the storage in batches when `DAGSTER_EVENT_BATCH_SIZE` is set (the planned
events of a run, the materializations of a partitioned output: `BATCH_WRITABLE_EVENTS`), but only
dagster-postgres implements `store_event_batch`; the base class, which SQLite and the in-memory storage use,
loops event by event (and dagster-postgres's batch path drops failure events). The storages here cut a batch
into consecutive groups of one run's asset events and write each group the way `store_event` writes one
event, but in one transaction per database (the run's and the index database on SQLite): the same rows in
the same order, the same tags, and the asset's row left as event-by-event updates would leave it. Any other
event is written one by one, as the stock code does; a planned asset check over a range writes its row per
partition with the event serialized once instead of once per row (on SQLite, a run's planned checks are
written together, one transaction per database). Within a group, the events of one asset
differ only in their partition and timestamp, so each kind is serialized once and the others are written
from its text (`_EventRows`; the rows are byte for byte `_event_to_row`'s, which the tests check). What is
recorded, and so every partition's status in the UI (materialized, failed, missing), is unchanged;
`tests/test_event_log.py` compares the records with the stock storage's. The SQLite storage also keeps
one engine per database file, copies a new run's database from a template made by Dagster's own `_initdb`
instead of running it per run, commits with `synchronous=NORMAL`, and checkpoints the write-ahead logs
in a thread of its own instead of in the committing one (each measured and documented below); its
watcher of a run's database, behind the UI's live run logs, also wakes on the write-ahead log, which is
where the pooled connections' commits go.

A range run's planned events: the storages say they take a planned event holding a range of partitions
(`supports_partition_subset_in_asset_materialization_planned_events`), so Dagster builds one per asset
instead of one per partition and asset, and they store it as the per-partition events Dagster would have
built (`_per_partition`): the run's creation no longer sends 1,638 events through the instance one by one
(0.17-0.21 s of a season's silver run, 0.13-0.16 s with this). Not used, on purpose:
`DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS`, which asks every storage for the same, but Dagster's own
storages then store that one event with no partition, and the failed-partition query
(`get_latest_asset_partition_materialization_attempts_without_materializations`, behind the UI's partition
status) only reads events with one, so a failed range run would no longer show its partitions failed (nor
in progress).

This module imports private Dagster modules (nothing public offers an event log to extend), as only
`nhl_assets.deploy.compute_logs` does besides. It is pinned: `PINNED_DAGSTER` must equal the installed Dagster,
which the test checks, so an upgrade fails loudly until the overridden methods (of both modules) have been
re-read. `nhl_assets.ops.instance` configures it
for the instance of `make dev`, `make demo` and the command line (`event_log_storage:` in dagster.yaml).
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

from dagster import AssetKey, AssetMaterialization, DagsterEvent, DagsterEventType, serialize_value
from dagster import __version__ as DAGSTER_VERSION
from dagster._core.events import ASSET_EVENTS, AssetMaterializationPlannedData, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.instance import DagsterInstance, InstanceType
from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
from dagster._core.run_coordinator import DefaultRunCoordinator
from dagster._core.storage.event_log import InMemoryEventLogStorage
from dagster._core.storage.event_log.base import EventLogCursor
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetEventTagsTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
from dagster._core.storage.root import TemporaryLocalArtifactStorage
from dagster._core.storage.runs import InMemoryRunStorage
from dagster_postgres import PostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config
from sqlalchemy import create_engine
from sqlalchemy.event import listen
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool, QueuePool, StaticPool
from watchdog.observers import Observer

#: The Dagster release whose event-log code the overrides below were checked against.
PINNED_DAGSTER = "1.13.27"
#: Events per batch (Dagster's default, 0, disables batching): a range run's planned events come as one
#: batch per asset, its materializations as one batch per output.
EVENT_BATCH_SIZE = "10000"


def enable_event_batches() -> None:
    """Make Dagster hand events to the storage in batches in this process and its children (the run
    workers): `DAGSTER_EVENT_BATCH_SIZE` is read at every event. A value already set is kept."""
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)


def _foreign_keys_on(dbapi_connection: Any, _record: Any) -> None:
    """SQLite's foreign-key enforcement on a new connection, as Dagster's in-memory storage turns it on."""
    dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _wal_settings(dbapi_connection: Any, _record: Any) -> None:
    """SQLite's `synchronous=NORMAL`, and no automatic checkpoint, on a connection to a database in WAL mode
    (Dagster's `_initdb` puts every event-log database in WAL mode; a connection to one not yet in it, such
    as a run database Dagster is about to create, keeps SQLite's defaults).

    Why NORMAL: SQLite's default, FULL, fsyncs the log at every commit (about 70 in a season's silver run, 1
    ms each here); NORMAL syncs it only when it is checkpointed into the database. What it gives up: SQLite
    documents WAL with NORMAL as never corrupting a database, but a power loss or an operating-system crash
    (not a crash of the process) may take back the commits since the last checkpoint that the kernel had not
    yet written back (Linux writes dirty pages back within about 30 s by default). Those are event records:
    the Delta tables they describe are written and committed apart, so such a loss can make the UI show a
    materialized partition as missing, never lose data; re-materializing it is idempotent.

    Why no automatic checkpoint: the storage's `_Checkpointer` checkpoints in a thread of its own instead."""
    cursor = dbapi_connection.cursor()
    try:
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA wal_autocheckpoint=0")
    finally:
        cursor.close()


#: Seconds from one checkpoint of a database by `_Checkpointer` to its next, at least.
CHECKPOINT_INTERVAL_S = 1.0


class _Checkpointer:
    """Checkpoints the write-ahead logs of the databases this process writes, in a thread of its own.

    Why: in WAL mode SQLite copies the log into the database (a checkpoint) on the commit that takes the log
    past 1,000 pages (`wal_autocheckpoint`), in the committing thread, and with `synchronous=NORMAL` the
    checkpoint is where the log and the database are fsynced. A season's silver run (1,638 materializations
    of about 4 KB, in its run's database and in the index) crossed it three times per database: those
    commits took 14-24 ms here against under 5 ms for each of the other 350, and the run waited for them.
    The storage's own connections therefore never checkpoint (`_wal_settings`); a commit that changed
    rows wakes this thread, which runs a PASSIVE checkpoint (one that never waits for a reader or a writer,
    and never blocks them) of that database, at most once per `CHECKPOINT_INTERVAL_S`, so the log stays
    as short as SQLite's own rule would keep it while the run goes on.

    What it does not change: other processes' connections (Dagster's own storages) keep SQLite's automatic
    checkpoints; the last connection to a database to close checkpoints it whatever the setting (SQLite
    does); and a checkpoint cut short, by a failure or the end of the process, is one SQLite recovers from
    as from any crash, since the log keeps every commit until a checkpoint has completed. A database that
    cannot be checkpointed now (busy, gone) is left to the next write's.
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._written: set[str] = set()  # databases written since their last checkpoint
        self._next: dict[str, float] = {}  # database -> the earliest its next checkpoint runs (monotonic)
        self._thread: threading.Thread | None = None
        self._generation = 0  # the running thread's; `stop` moves it on, which ends that thread

    def written(self, path: str) -> None:
        """Note a commit to the database at `path` (the thread starts with the first)."""
        with self._wake:
            self._written.add(path)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, args=(self._generation,),
                                                name="event-log-checkpointer", daemon=True)
                self._thread.start()
            self._wake.notify()

    def stop(self) -> None:
        """End the thread, after the checkpoint it may be running; a later write starts a new one."""
        with self._wake:
            thread, self._thread = self._thread, None
            self._generation += 1
            self._wake.notify_all()
        if thread is not None:
            thread.join()

    def _due(self, generation: int) -> list[str] | None:
        """The databases to checkpoint now, once one is due; None once `generation` has been stopped. Called
        holding `_wake`."""
        while generation == self._generation:
            now = time.monotonic()
            self._next = {path: at for path, at in self._next.items() if at > now}
            due = [path for path in self._written if path not in self._next]
            if due:
                self._written.difference_update(due)
                self._next.update((path, now + CHECKPOINT_INTERVAL_S) for path in due)
                return due
            self._wake.wait(min((self._next[p] for p in self._written), default=now + 3600.0) - now)
        return None

    def _run(self, generation: int) -> None:
        while True:
            with self._wake:
                due = self._due(generation)
            if due is None:
                return
            for path in due:
                _checkpoint(path)


def _checkpoint(path: str) -> None:
    """A PASSIVE checkpoint of the SQLite database at `path`, on a connection of its own; nothing where the
    database is busy or gone (`mode=rw`: a database removed meanwhile is not created again). Never raises:
    the thread that calls it has to outlive any one database's trouble."""
    try:
        connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True)
    except (sqlite3.Error, OSError):
        return
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error:
        pass
    except Exception:  # noqa: BLE001 - reported, never fatal to the thread
        logging.getLogger(__name__).exception("checkpointing %s failed", path)
    finally:
        connection.close()


#: `ASSET_EVENTS` as the strings a `DagsterEvent` holds (`event_type_value`): its `event_type` property builds
#: the enum member anew at every read, and `asset_key` and `partition` check the type again (with an error
#: message formatted each time), about 5 us an event, on the path of every event of a batch.
_ASSET_EVENT_VALUES = frozenset(t.value for t in ASSET_EVENTS)


def _is_asset_event(event: EventLogEntry) -> bool:
    """An asset event with an asset key: what `store_event` writes to the run's and the index database."""
    dagster_event = event.dagster_event
    return bool(dagster_event is not None and dagster_event.event_type_value in _ASSET_EVENT_VALUES
                and _asset_key(dagster_event))


def _materialization(dagster_event: DagsterEvent) -> AssetMaterialization | None:
    """The asset materialization a materialization event carries (`step_materialization_data.materialization`
    without its type checks), None for any other event."""
    data = dagster_event.event_specific_data
    if isinstance(data, StepMaterializationData) and isinstance(data.materialization, AssetMaterialization):
        return data.materialization
    return None


def _asset_key(dagster_event: DagsterEvent) -> AssetKey | None:
    """`dagster_event.asset_key`, read straight from the data of the two events a range run has thousands of
    (a materialization, a planned materialization); Dagster's property for any other."""
    materialization = _materialization(dagster_event)
    if materialization is not None:
        return materialization.asset_key
    data = dagster_event.event_specific_data
    if isinstance(data, AssetMaterializationPlannedData):
        return data.asset_key
    return dagster_event.asset_key


def _last_of_each_kind(events: Sequence[EventLogEntry], ids: Sequence[int]) -> list[tuple[EventLogEntry, int]]:
    """The last event of each (asset key, event type), in batch order: what `_store_asset_event` needs.

    It sets "last ..." columns of the asset's row (last materialization, last run id, last event time), each
    column from the event being stored; applied event by event, a column ends with the value of the last
    event that sets it, which is the last event of its type. So applying only those, in order, leaves the
    row exactly as applying them all would, with one statement pair per asset and type instead of per event.
    """
    last: dict[tuple[AssetKey | None, str], int] = {}
    for i, event in enumerate(events):
        dagster_event = event.dagster_event
        last[(_asset_key(dagster_event), dagster_event.event_type_value)] = i  # type: ignore[arg-type,union-attr]
    return [(events[i], ids[i]) for i in sorted(last.values())]


def _insert_returning_ids(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert event rows (`_event_to_row`'s, as `prepare_insert_event` would one by one) with one statement
    and return their ids in row order.

    Why: an INSERT built per event (`insert().values(**row)`) is compiled per event, where one INSERT with
    many rows and `RETURNING id` (SQLite >= 3.35, PostgreSQL; SQLAlchemy's "insertmanyvalues") is compiled
    once: 0.45 s against 0.05 s for the 1,100 asset events of a 92-day silver replay, measured under
    cProfile. Neither database promises the order of a multi-row INSERT's RETURNING rows, and the ids are
    paired with events by position:
    - On PostgreSQL, `sort_by_parameter_order` has SQLAlchemy return them in row order.
    - On SQLite, SQLAlchemy 2.0 meets `sort_by_parameter_order` by inserting row by row (one statement per
      row: 3,276 for a season's silver run, 80 ms against 50 ms). There the ids are sorted instead: SQLite
      gives a new row of a table with an INTEGER PRIMARY KEY the largest id in the table plus one (until
      the largest possible id), and SQLAlchemy inserts the rows in order, so ascending ids are row order.
    """
    table = SqlEventLogStorageTable
    if conn.dialect.name == "sqlite":
        return sorted(row[0] for row in conn.execute(table.insert().returning(table.c.id), rows))
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return [row[0] for row in conn.execute(statement, rows)]


#: Stand-ins for the two fields in which one range run's events of an asset differ (see `_EventRows`): a
#: partition key no partitions definition makes, and a timestamp no event has (its repr is unique too).
_PARTITION_STANDIN = "nhl-assets:partition-key-stand-in:4f0c2d"
_TIMESTAMP_STANDIN = 1.2345678901234567e-300


def _same(a: Any, b: Any) -> bool:
    """`a` and `b` equal with the same types all the way down, so that they serialize to the same JSON.

    `==` alone is not enough: Dagster's events are named tuples and its metadata values tuple-based
    records, and tuple equality ignores the class, so `IntMetadataValue(1) == FloatMetadataValue(1.0)`;
    and `1 == True`, `0.0 == -0.0`. Anything it is unsure of (sets, Dagster's `@record` classes, which
    refuse iteration, any other object) counts as different unless it is the very same object: the events
    of one output share those objects, and a false "different" only costs a serialization.
    """
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) is str:  # the most common leaf, first
        return a == b
    # only items that are not the very same object are compared further: a range run's events share most
    # of their objects (a copied metadata dict keeps its keys and values)
    if isinstance(a, list) or (isinstance(a, tuple) and type(a).__iter__ is tuple.__iter__):  # not a `@record`
        return len(a) == len(b) and all(x is y or _same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):  # keys too: {1: x} == {True: x}, but they serialize as "1" and "true"
        return len(a) == len(b) and all((ka is kb or _same(ka, kb)) and (va is vb or _same(va, vb))
                                        for (ka, va), (kb, vb) in zip(a.items(), b.items()))
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, (str, int, bytes)) or a is None:  # bool is an int subclass; its type was compared
        return a == b
    return False


def _with_standins(event: EventLogEntry) -> tuple[EventLogEntry, str] | None:
    """`event` with its partition and timestamp replaced by the stand-ins, and the partition, for a
    partitioned planned event or materialization whose two fields serdes writes as `json.dumps` would: a
    float timestamp, and a str partition (or a str subclass such as `MultiPartitionKey`, but not an Enum,
    which serdes refuses). None for any other event, which the stock path serializes (and refuses what it
    refuses). `_replace` of these named tuples copies the other fields as they are, without re-running their
    constructors' checks."""
    dagster_event = event.dagster_event
    if dagster_event is None or type(event.timestamp) is not float:
        return None
    data = dagster_event.event_specific_data
    materialization = _materialization(dagster_event)
    if materialization is not None:
        partition = materialization.partition
        data = data._replace(materialization=materialization._replace(partition=_PARTITION_STANDIN))
    elif isinstance(data, AssetMaterializationPlannedData) and data.partitions_subset is None:
        partition = data.partition
        data = data._replace(partition=_PARTITION_STANDIN)
    else:
        return None
    if not partition or not isinstance(partition, str) or isinstance(partition, Enum):
        return None
    return event._replace(timestamp=_TIMESTAMP_STANDIN,
                          dagster_event=dagster_event._replace(event_specific_data=data)), partition


class _EventRows:
    """The event-log rows of a batch (`_event_to_row` of each event), byte for byte, serializing each kind
    of event once instead of once per partition.

    Why: a range run's events of one asset differ only in their partition and timestamp (273 planned events
    and 273 materializations an asset for a season, each materialization carrying a copy of the run's
    metadata), and serializing them was the largest part of storing them: 0.31 s for a season's 3,313
    events, about as much as all their SQL. So the first event of a kind is serialized with stand-ins for
    those two fields, giving a template; an event that equals the template's event but for them (`_same`,
    checked for every event) gets the template with its own partition and timestamp written in, as serdes's
    `json.dumps` writes them. A template in which a stand-in does not occur exactly once, partition first, is
    not used; every other event is serialized whole.
    """

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self._standard: EventLogEntry | None = None  # the event (with stand-ins) of the current template
        self._template: tuple[dict[str, Any], str, str, str] | None = None  # its row; JSON around the stand-ins

    def row(self, event: EventLogEntry) -> dict[str, Any]:
        with_standins = _with_standins(event)
        if with_standins is None:
            return self._storage._event_to_row(event)
        standard, partition = with_standins
        if self._standard is None or not _same(standard, self._standard):
            self._standard, self._template = standard, self._new_template(standard)
        if self._template is None:
            return self._storage._event_to_row(event)
        row, head, mid, tail = self._template
        return {**row, "event": f"{head}{json.dumps(partition)}{mid}{json.dumps(event.timestamp)}{tail}",
                "timestamp": self._storage._event_insert_timestamp(event), "partition": partition}

    def _new_template(self, standard: EventLogEntry) -> tuple[dict[str, Any], str, str, str] | None:
        row = self._storage._event_to_row(standard)
        text, partition, timestamp = row["event"], json.dumps(_PARTITION_STANDIN), json.dumps(_TIMESTAMP_STANDIN)
        if (text.count(partition) != 1 or text.count(timestamp) != 1
                or text.index(partition) > text.index(timestamp)):
            return None
        head, rest = text.split(partition)
        mid, tail = rest.split(timestamp)
        return row, head, mid, tail


def _per_partition(event: EventLogEntry) -> list[EventLogEntry] | None:
    """A planned event of a range of partitions as the planned events of each partition, or None for any
    other event.

    Why: Dagster 1.13 builds a range run's planned events at the run's creation, one per partition and asset
    (`RunDomain.get_materialization_planned_events_for_asset`), and each goes through the instance
    (`report_dagster_event`, `handle_new_event`) before reaching the storage: 1,638 for a season's silver
    run. For a storage whose `supports_partition_subset_in_asset_materialization_planned_events` is true it
    builds one per asset instead, holding the range; Dagster's own storages then store that one event with
    no partition, which the failed-partition query (behind the UI's partition status) does not read, so a
    failed range run would no longer show its partitions failed (why `DAGSTER_EMIT_PARTITION_SUBSET_IN_
    PLANNED_EVENTS` is not used). Here it is stored as the per-partition events Dagster would have built (in
    `get_partition_keys` order, the same event with `partition` set and no subset; the one difference is
    that they share one timestamp), so every record, and every partition's status, is what it was.
    """
    dagster_event = event.dagster_event
    data = dagster_event.event_specific_data if dagster_event is not None else None
    if not isinstance(data, AssetMaterializationPlannedData) or data.partitions_subset is None:
        return None
    return [event._replace(dagster_event=dagster_event._replace(
        event_specific_data=data._replace(partition=key, partitions_subset=None)))
        for key in data.partitions_subset.get_partition_keys()]


#: The kinds of group a batch is cut into (`_groups`): asset events, planned asset checks, anything else.
_ASSETS, _PLANNED_CHECKS, _OTHERS = "asset events", "planned checks", "other events"
_CHECK_PLANNED = DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value


def _kind(event: EventLogEntry) -> str:
    """Which group `event` belongs to: written with its run's asset events, with its planned checks, or
    alone."""
    if _is_asset_event(event):
        return _ASSETS
    dagster_event = event.dagster_event
    if dagster_event is not None and dagster_event.event_type_value == _CHECK_PLANNED:
        return _PLANNED_CHECKS
    return _OTHERS


def _groups(events: Sequence[EventLogEntry]) -> Iterator[tuple[list[EventLogEntry], str]]:
    """The batch cut into consecutive groups of one run's events of one kind (`_kind`), in order: a run's
    planned events mix asset events with asset-check ones."""
    group: list[EventLogEntry] = []
    kind = _OTHERS
    for event in events:
        this = _kind(event)
        if group and (this != kind or event.run_id != group[0].run_id):
            yield group, kind
            group = []
        group.append(event)
        kind = this
    if group:
        yield group, kind


class _KnownTables:
    """`has_table` remembered once true, for the SQLite and in-memory storages: Dagster's asks the database
    (a new connection each time) for every batch of tagged asset events, and their tables are made with the
    database and never dropped (`wipe` makes them again)."""

    _tables_seen: set[str]

    def has_table(self, table_name: str) -> bool:
        if table_name in self._tables_seen:
            return True
        if present := super().has_table(table_name):  # type: ignore[misc]
            self._tables_seen.add(table_name)
        return present


class _BatchWrites:
    """What the three batching storages share: a batch cut into groups of asset events, each group written
    by the storage's `_store_asset_events`, anything else one event at a time; and the asset-key table's
    columns looked up once (a column reflection per asset event otherwise; columns are only ever added, by
    `dagster instance migrate`, never while runs write)."""

    _index_cols_known = False

    @property
    def supports_partition_subset_in_asset_materialization_planned_events(self) -> bool:
        """True: a range run's planned events come as one event per asset with the run's partitions
        (`RunDomain.get_materialization_planned_events_for_asset`), and are stored one per partition
        (`_per_partition`), as Dagster would have built them. See `_per_partition` for why."""
        return True

    def store_event(self, event: EventLogEntry) -> None:
        expanded = _per_partition(event)
        if expanded is None:
            super().store_event(event)  # type: ignore[misc]
        else:
            self._store_groups(expanded)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        self._store_groups([one for event in events for one in (_per_partition(event) or (event,))])

    def _store_groups(self, events: Sequence[EventLogEntry]) -> None:
        """The batch's asset events and planned checks written group by group, anything else one event at
        a time."""
        for group, kind in _groups(events):
            if kind == _ASSETS:
                self._store_asset_events(group)
            elif kind == _PLANNED_CHECKS:
                self._store_planned_checks(group)
            else:
                for event in group:  # what the stock loop does (dagster-postgres's batch path would drop
                    self.store_event(event)  # failure events, see BatchingPostgresEventLogStorage)

    def _store_asset_events(self, events: Sequence[EventLogEntry]) -> None:
        raise NotImplementedError

    def _store_planned_checks(self, events: Sequence[EventLogEntry]) -> None:
        """A run's planned asset checks, one by one as the stock loop writes them (the SQLite storage
        writes them together)."""
        for event in events:
            self.store_event(event)

    def _rows(self, events: Sequence[EventLogEntry]) -> list[dict[str, Any]]:
        """`_event_to_row` of each event, each kind of event serialized once (`_EventRows`)."""
        rows = _EventRows(self)
        return [rows.row(event) for event in events]

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """One planned row per partition of the check's range, as the stock method writes them, but the
        event serialized once (the stock method serializes the same event again for every partition: 1,911
        times for a season's silver run, whose 7 checks cover 273 dates) and the rows inserted with one
        executemany instead of a multi-row VALUES statement compiled for every call."""
        with self.index_connection() as conn:  # type: ignore[attr-defined]
            self._insert_planned_check_rows(conn, event, event_id, serialize_value(event))

    def _insert_planned_check_rows(self, conn: Connection, event: EventLogEntry, event_id: int | None,
                                   serialized: str) -> None:
        """The planned check `event`'s row per partition (`serialized` is its `serialize_value`)."""
        planned = event.dagster_event.event_specific_data  # type: ignore[union-attr]
        keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        row = {"asset_key": planned.asset_key.to_string(), "check_name": planned.check_name, "run_id": event.run_id,
               "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
               "evaluation_event": serialized,
               "evaluation_event_timestamp": self._event_insert_timestamp(event),  # type: ignore[attr-defined]
               "evaluation_event_storage_id": event_id}
        conn.execute(AssetCheckExecutionsTable.insert(), [{**row, "partition": key} for key in keys])

    def _store_asset_event_tags(self, conn: Connection, events: Sequence[EventLogEntry],
                                event_ids: Sequence[int]) -> None:
        """Dagster's (`SqlEventLogStorage._store_asset_event_tags`: the tags Dagster indexes, a data version
        and multi-partition dimensions, one row each), with a materialization's tags read straight from it
        and a planned event skipped (it has none): Dagster's `_tags_for_asset_event` reads them through
        type-checking properties, 5 us an event."""
        values = []
        for event_id, event in zip(event_ids, events):
            dagster_event = event.dagster_event
            data = dagster_event.event_specific_data if dagster_event is not None else None
            if isinstance(data, AssetMaterializationPlannedData):
                continue  # Dagster's reads the tags of a materialization or an observation only
            materialization = _materialization(dagster_event) if dagster_event is not None else None
            tags = (materialization.tags or {}) if materialization is not None else self._tags_for_asset_event(event)
            indexed = self.get_asset_tags_to_index(set(tags)) if tags else set()  # type: ignore[attr-defined]
            if not indexed:
                continue
            asset_key = _asset_key(dagster_event)  # type: ignore[arg-type]
            if asset_key is None:  # Dagster's `check.not_none`: only asset events come here
                raise ValueError(f"an asset event without an asset key: {dagster_event}")
            row = {"event_id": event_id, "asset_key": asset_key.to_string(),
                   "event_timestamp": self._event_insert_timestamp(event)}  # type: ignore[attr-defined]
            values.extend({**row, "key": key, "value": value} for key, value in tags.items() if key in indexed)
        # as Dagster's: only where the table exists (a database not yet migrated to it)
        if values and self.has_table(AssetEventTagsTable.name):  # type: ignore[attr-defined]
            conn.execute(AssetEventTagsTable.insert(), values)

    def _has_asset_key_index_cols_on_connection(self, conn: Connection) -> bool:
        if not self._index_cols_known:
            self._index_cols_known = super()._has_asset_key_index_cols_on_connection(conn)  # type: ignore[misc]
        return self._index_cols_known


#: The file name of a run-database template, before the Dagster version (see `_new_run_shard`).
_TEMPLATE_PREFIX = ".run-database-template-"
#: The end of a scratch file's name: `<database>.<pid>-<thread>.tmp`, and SQLite's `-wal`/`-shm` beside one.
_SCRATCH = re.compile(r"\.\d+-\d+\.tmp(-wal|-shm)?$")
#: Age from which a scratch file is a leftover: one lives for a copy or a template's making (milliseconds).
_SCRATCH_MAX_AGE_S = 3600.0


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _sweep_scratch(directory: str) -> None:
    """Remove the scratch files of `directory` older than `_SCRATCH_MAX_AGE_S`.

    Why: each is removed by the process that made it, but a process killed between the copy and the removal
    (SIGKILL, a power loss) leaves one behind, 112 KiB for a run database, and nothing else ever would.
    Housekeeping only: a file it cannot read or remove (gone meanwhile, no permission) is left as it is."""
    now = time.time()
    try:
        entries = [entry for entry in os.scandir(directory) if _SCRATCH.search(entry.name)]
    except OSError:
        return
    for entry in entries:
        try:
            if now - entry.stat().st_mtime > _SCRATCH_MAX_AGE_S:
                os.remove(entry.path)
        except OSError:
            continue


def _is_run_database(path: str) -> bool:
    """`path` holds what `_initdb` makes, read without writing: the event-log table and an alembic stamp (the
    template's name holds the Dagster version whose `_initdb` made it, so the stamp is that version's head)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return ({SqlEventLogStorageTable.name, "alembic_version"} <= tables
                and len(conn.execute("SELECT version_num FROM alembic_version").fetchall()) == 1)
    finally:
        conn.close()


#: Pauses between the reads that follow a change of a run's write-ahead log (at 0.1, 0.5 and 2 s after it;
#: see `_RunLogWatchdog`).
_RECHECK_PAUSES = (0.1, 0.4, 1.5)


class _RunLogWatchdog(SqliteEventLogStorageWatchdog):
    """Dagster's watcher of a run's database (the UI's live run logs), woken by a change of the database or of
    its write-ahead log, and reading again shortly after each change of the log.

    Why: Dagster's watcher reacts only to a change of `<run>.db`. In WAL mode a commit goes to `<run>.db-wal`,
    and the database file changes only when the log is checkpointed; Dagster's own storage closes its
    connection after every write, and the last close checkpoints, but the pooled connections here stay open,
    so a run's database could go without a change until the run ended, and the UI's live logs with it.
    A change of the log is seen when a commit's pages are written, just before SQLite publishes the commit in
    the log's index (the memory-mapped `-shm`, which raises no file event): a read at that moment can miss
    the commit. So the log's changes also start reads 0.1, 0.5 and 2 s later, in one thread per watcher at
    most (a commit of a batch changes the log many times), the series starting over at each newer change;
    reads are serialized, so no event is reported twice."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading = threading.Lock()
        self._state = threading.Lock()  # guards the two fields below
        self._changes = 0
        self._rechecking = False

    @property
    def patterns(self) -> list[str]:
        return [self._log_path, f"{self._log_path}-wal"]

    def on_modified(self, event: Any) -> None:  # Dagster's checks that the path is the database's own
        self._read()
        with self._state:
            self._changes += 1
            if self._rechecking:
                return
            self._rechecking = True
        threading.Thread(target=self._recheck, name=f"run-log-recheck-{self._run_id}", daemon=True).start()

    def _recheck(self) -> None:
        seen, step = -1, 0
        while True:
            with self._state:
                if self._changes != seen:  # a newer change: the series starts over
                    seen, step = self._changes, 0
                elif step == len(_RECHECK_PAUSES):
                    self._rechecking = False
                    return
            time.sleep(_RECHECK_PAUSES[step])
            step += 1
            self._read()

    def _read(self) -> None:
        with self._reading:
            self._process_log()


class BatchingSqliteEventLogStorage(_KnownTables, _BatchWrites, SqliteEventLogStorage):
    """`SqliteEventLogStorage` that writes a batch of asset events in one transaction per database and keeps
    one engine per database file instead of creating one per write. Configured in dagster.yaml as

        event_log_storage:
          module: nhl_assets.deploy.event_log
          class: BatchingSqliteEventLogStorage
          config: {base_dir: <DAGSTER_HOME>/history/runs}
    """

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        self._engines: dict[str, Engine] = {}
        self._checkpointer = _Checkpointer()
        self._tables_seen: set[str] = set()
        self._template_checked = False
        super().__init__(base_dir, inst_data=inst_data)
        enable_event_batches()

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> BatchingSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    # -- one engine per database file, its connections pooled --------------------------------------------
    # Dagster's own storage opens (NullPool) and commits a new SQLite connection for every read and write, 2-3
    # ms each: a run of a two-week silver window makes 266 of them (0.83 s; 0.28 s pooled). SQLAlchemy's
    # QueuePool is its default for SQLite files: thread-safe, and an idle pooled connection holds no lock,
    # so the daemon, the UI and the run processes share the files as before. Processes start by spawn, so
    # no connection crosses a fork.
    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = self._engine(shard)
                if shard not in self._initialized_dbs:
                    if shard == INDEX_SHARD_NAME or not self._new_run_shard(shard):
                        self._initdb(engine)
                    self._initialized_dbs.add(shard)
                self._engines[shard] = engine
            with engine.connect() as conn:
                changes = conn.connection.dbapi_connection.total_changes  # type: ignore[union-attr]
                with conn.begin():
                    yield conn
                if conn.connection.dbapi_connection.total_changes != changes:  # type: ignore[union-attr]
                    self._checkpointer.written(self.path_for_shard(shard))

    def _engine(self, shard: str) -> Engine:
        engine = create_engine(self.conn_string_for_shard(shard), poolclass=QueuePool,
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        listen(engine, "connect", _wal_settings)
        return engine

    # -- a new run's database copied from a template ----------------------------------------------------
    # Dagster creates each run's database on its first write with `_initdb`: the tables, WAL mode and an
    # alembic stamp, after reading Dagster's migration scripts twice (45-47 ms a run here, for a file of
    # 112 KiB). Every run's database starts out identical, so the first run of a Dagster release in this
    # folder keeps one made by `_initdb` itself as a template, and later runs copy it (0.2 ms). The template's
    # name holds the installed Dagster's version, not `PINNED_DAGSTER`: an upgrade makes a new one from its
    # own migrations even before the pin is bumped. It does not end in ".db", which `upgrade` and `wipe`
    # glob for as run databases.
    def _template_path(self) -> str:
        return os.path.join(self._base_dir, f"{_TEMPLATE_PREFIX}{DAGSTER_VERSION}.sqlite")

    def _new_run_shard(self, shard: str) -> bool:
        """Create the database of run `shard` as a copy of the template. False, and the caller creates it as
        Dagster does, when it exists already (made by another process, which may be writing to it), when
        there is no sound template, or when the file system cannot copy or hard-link it here."""
        path = self.path_for_shard(shard)
        if os.path.exists(path):
            return False
        template = self._template()
        if template is None:
            return False
        scratch = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
        try:
            shutil.copyfile(template, scratch)
            os.link(scratch, path)  # never replaces a file another process has just created
        except OSError:  # FileExistsError among them
            return False
        finally:
            _remove(scratch)
        return True

    def _template(self) -> str | None:
        """The template's path, made first where missing and checked once per process: None when it cannot
        be made or read, or is not a run database (then removed, so that it is made again). The first check
        also sweeps the scratch files killed processes left (`_sweep_scratch`)."""
        template = self._template_path()
        if self._template_checked:
            return template
        _sweep_scratch(self._base_dir)
        try:
            if not os.path.exists(template):
                self._write_template(template)
            sound = _is_run_database(template)
        except sqlite3.DatabaseError:  # "file is not a database", a torn one
            sound = False
        except (OSError, sqlite3.Error, SQLAlchemyError):
            return None
        if not sound:
            _remove(template)
            return None
        self._template_checked = True
        return template

    def _write_template(self, template: str) -> None:
        """A run database made by Dagster's own `_initdb`, written to disk (fsync) and renamed into place in
        one step, so that no process copies a half-made template, not even after a power loss. Templates of
        other Dagster releases are removed."""
        scratch = f"{template}.{os.getpid()}-{threading.get_ident()}.tmp"
        engine = create_engine(f"sqlite:///{scratch}", poolclass=NullPool,
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        try:
            self._initdb(engine)  # its last connection's close folds the write-ahead log into the file
            with open(scratch, "rb") as f:
                os.fsync(f.fileno())
            os.replace(scratch, template)
        finally:
            engine.dispose()
            for leftover in (scratch, f"{scratch}-wal", f"{scratch}-shm"):
                _remove(leftover)
        directory = os.open(self._base_dir, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        for old in glob.glob(os.path.join(glob.escape(self._base_dir), f"{_TEMPLATE_PREFIX}*.sqlite")):
            if old != template:
                _remove(old)

    # -- the UI's live run logs -----------------------------------------------------------------------------
    def watch(self, run_id: str, cursor: str | None, callback: Any) -> None:
        """Dagster's `watch`, with a watcher that also wakes when the run's write-ahead log changes (see
        `_RunLogWatchdog`)."""
        if not self._obs:
            self._obs = Observer()
            self._obs.start()
        watchdog = _RunLogWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (watchdog, self._obs.schedule(watchdog, self._base_dir, recursive=True))

    def dispose(self) -> None:
        super().dispose()
        self._checkpointer.stop()
        for engine in self._engines.values():
            engine.dispose()

    def wipe(self) -> None:
        self._checkpointer.stop()
        super().wipe()
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    # -- a batch in one transaction per database -------------------------------------------------------
    def _store_asset_events(self, events: Sequence[EventLogEntry]) -> None:
        rows = self._rows(events)
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)  # one executemany
        # mirrored in the cross-run index database, as `store_event` does for every asset event
        with self.index_transaction() as conn:
            ids = _insert_returning_ids(conn, rows)
            self._store_asset_event_tags(conn, list(events), ids)
            for event, event_id in _last_of_each_kind(events, ids):
                self._store_asset_event(conn, event, event_id)

    def _store_planned_checks(self, events: Sequence[EventLogEntry]) -> None:
        """A run's planned asset checks as `store_event` writes each (its row in the run's database, the same
        row in the index database, and there its planned row per partition: `store_asset_check_event`), but
        in one transaction per database, each event serialized once.

        Why: the stock path takes three transactions per check and serializes it twice. A season's silver
        run plans 7 checks at its creation, before any work starts: their index rows alone took 0.026 s one
        check at a time (3.0-4.7 ms each); all of it now takes 0.023 s, the run's database included."""
        if not self.supports_asset_checks:  # a database not migrated to them: the stock error, event by event
            super()._store_planned_checks(events)
            return
        rows = self._rows(events)
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as conn:
            for event, event_id, row in zip(events, _insert_returning_ids(conn, rows), rows):
                self._insert_planned_check_rows(conn, event, event_id, row["event"])


class BatchingInMemoryEventLogStorage(_KnownTables, _BatchWrites, InMemoryEventLogStorage):
    """Dagster's in-memory event log (ephemeral instances: tests, benchmarks) writing a batch of asset events
    in one transaction; run and index tables share its one in-memory database. Every read and write reuses
    one connection to it (`_connect`)."""

    def __init__(self, inst_data: Any = None, preload: Any = None) -> None:
        super().__init__(inst_data)
        # the same database (its name is in the URL), through one connection that every `_connect` reuses
        self._reused = create_engine(self._engine.url, poolclass=StaticPool,
                                     connect_args={"check_same_thread": False})
        listen(self._reused, "connect", _foreign_keys_on)
        self._tables_seen: set[str] = set()
        enable_event_batches()
        for payload in preload or ():  # as Dagster's `__init__` stores them, once `_connect` works
            for event in payload.event_list:
                self.store_event(event)

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """Dagster's `_connect` (a transaction under the storage's lock) on the one reused connection.

        Why: Dagster's opens a connection per call (`NullPool`) and sets two pragmas on it, about 0.2 ms
        each time, 98 times in a season's silver run. Sharing one sqlite3 connection between threads is
        safe here because every use holds `_db_lock`, as every use of Dagster's does; the pragmas it sets
        are a no-op on an in-memory database (`journal_mode`) or per connection (`foreign_keys`, set once when
        it is opened)."""
        with self._db_lock:
            with self._reused.connect() as conn:
                with conn.begin():
                    yield conn

    def dispose(self) -> None:
        super().dispose()
        self._reused.dispose()

    def _store_asset_events(self, events: Sequence[EventLogEntry]) -> None:
        with self.index_transaction() as conn:
            ids = _insert_returning_ids(conn, self._rows(events))
            self._store_asset_event_tags(conn, list(events), ids)
            for event, event_id in _last_of_each_kind(events, ids):
                self._store_asset_event(conn, event, event_id)
        for event in events:  # what `InMemoryEventLogStorage.store_event` does after each write
            self._storage_id += 1
            for handler in list(self._handlers[event.run_id]):
                try:
                    handler(event, str(EventLogCursor.from_storage_id(self._storage_id)))
                except Exception:
                    logging.exception("Exception in callback for event watch on run %s.", event.run_id)


class BatchingPostgresEventLogStorage(_BatchWrites, PostgresEventLogStorage):
    """dagster-postgres's event log with batches on (`nhl_assets/deploy/dagster.yaml`), writing every batch of
    one run's asset events as one multi-row insert plus one index transaction.

    dagster-postgres batches only a batch made entirely of materializations or of observations; planned
    events (one per partition and asset) still go one by one. And its batch path drops
    ASSET_FAILED_TO_MATERIALIZE events, so with batches on a failed range run would no longer mark its
    partitions failed: here such a batch is written whole, failures included, like `store_event` would.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        enable_event_batches()

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> BatchingPostgresEventLogStorage:
        return cls(inst_data=inst_data, postgres_url=pg_url_from_config(config_value),
                   should_autocreate_tables=config_value.get("should_autocreate_tables", True),
                   token_provider=get_token_provider_from_config(config_value))

    def _store_asset_events(self, events: Sequence[EventLogEntry]) -> None:
        with self._connect() as conn:
            ids = _insert_returning_ids(conn, self._rows(events))
        with self.index_transaction() as conn:
            self._store_asset_event_tags(conn, list(events), ids)
            for event, event_id in _last_of_each_kind(events, ids):
                self._store_asset_event(conn, event, event_id)


def ephemeral_instance() -> DagsterInstance:
    """`DagsterInstance.ephemeral()` with the batching in-memory event log (built as Dagster's
    `create_ephemeral_instance` builds it; nothing public lets an ephemeral instance take another storage)."""
    return DagsterInstance(
        instance_type=InstanceType.EPHEMERAL,
        local_artifact_storage=TemporaryLocalArtifactStorage(),
        run_storage=InMemoryRunStorage(),
        event_storage=BatchingInMemoryEventLogStorage(),
        compute_log_manager=NoOpComputeLogManager(),
        run_coordinator=DefaultRunCoordinator(),
        run_launcher=SyncInMemoryRunLauncher(),
    )
