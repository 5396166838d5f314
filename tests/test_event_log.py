"""The batching SQLite event log records exactly what Dagster's own records, and partition status holds.

`nhl_assets.deploy.event_log` overrides private methods of Dagster's SQLite event log, so it is pinned to
one Dagster release (an upgrade fails here until the overrides are re-read), and the same runs recorded
by the stock storage and by the batching one must give the same records: the run's events, the
materializations per asset and partition, and the partition status the UI shows (materialized, failed,
missing) after a range run that fails halfway.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy.event import listen

from nhl_assets.deploy import event_log
from nhl_assets.ops.instance import write_instance_config

from .helpers import REPO

DEPLOY_YAML = REPO / "nhl_assets" / "deploy" / "dagster.yaml"

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-21")  # 20 dates
SPECS = [dg.AssetSpec(f"t{i}") for i in range(3)]


CHECKS = [dg.AssetCheckSpec("rows_counted", asset=spec.key) for spec in SPECS[::2]]  # on t0 and t2


@dg.multi_asset(specs=SPECS, check_specs=CHECKS, partitions_def=PARTITIONS,
                backfill_policy=dg.BackfillPolicy.single_run(), can_subset=False)
def three(context):
    """Materializes t0 and t1 for the run's range, with t0's check; fails before t2 (and its check) for a
    range reaching 2024-01-15."""
    for spec in SPECS:
        if spec.key.path[0] == "t2" and context.partition_key_range.end >= "2024-01-15":
            raise RuntimeError("the API went away halfway")
        # a data version per asset: Dagster indexes it as an event tag of every partition's materialization
        yield dg.MaterializeResult(asset_key=spec.key, metadata={"rows": 7},
                                   data_version=dg.DataVersion(f"{spec.key.path[0]}-{context.partition_key_range.end}"))
        if spec.key.path[0] in ("t0", "t2"):
            yield dg.AssetCheckResult(asset_key=spec.key, check_name="rows_counted", passed=True)


def _postgres_home(tmp: Path, batching: bool, server: dict[str, str], monkeypatch) -> Path:
    """A fresh database on the test server; the shipped dagster.yaml (batching) or dagster-postgres's own."""
    import sqlalchemy as sa

    name = "batching" if batching else "stock"
    admin = sa.create_engine(f"postgresql+psycopg2://dagster@127.0.0.1:{server['DAGSTER_PG_PORT']}/postgres",
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    for k, v in {**server, "DAGSTER_PG_DB": name}.items():
        monkeypatch.setenv(k, v)
    home = tmp / f"pg-{name}"
    home.mkdir()
    if batching:
        (home / "dagster.yaml").write_text(DEPLOY_YAML.read_text())
    else:
        (home / "dagster.yaml").write_text(
            "storage:\n  postgres:\n    postgres_db:\n      hostname: 127.0.0.1\n"
            f"      port: {server['DAGSTER_PG_PORT']}\n      username: dagster\n      password: ''\n"
            f"      db_name: {name}\n      scheme: postgresql+psycopg2\n")
    return home


def _instance(tmp: Path, batching: bool, kind: str = "sqlite", server=None, monkeypatch=None) -> dg.DagsterInstance:
    if kind == "memory":
        return event_log.ephemeral_instance() if batching else dg.DagsterInstance.ephemeral()
    if kind == "postgres":
        return dg.DagsterInstance.from_config(str(_postgres_home(tmp, batching, server, monkeypatch)))
    home = tmp / ("batching" if batching else "stock")
    write_instance_config(home, batching=batching)
    return dg.DagsterInstance.from_config(str(home))


def _run(instance: dg.DagsterInstance, first: str, last: str) -> dg.ExecuteInProcessResult:
    return dg.materialize([three], instance=instance, raise_on_error=False,
                          tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last})


def _history(instance: dg.DagsterInstance) -> dict[str, object]:
    """Everything the UI reads about the assets, in a comparable form."""
    keys = PARTITIONS.get_partition_keys()
    out: dict[str, object] = {}
    for spec in SPECS:
        status = instance.get_status_by_partition(spec.key, keys, PARTITIONS)
        out[f"{spec.key.to_user_string()} status"] = {k: (v.value if v else None) for k, v in (status or {}).items()}
        mats = instance.fetch_materializations(spec.key, limit=1000).records
        out[f"{spec.key.to_user_string()} materializations"] = sorted(
            (r.partition_key, r.asset_materialization.metadata["rows"].value,
             # the tags indexed for the event stored under this record's id
             instance.event_log_storage.get_event_tags_for_asset(spec.key, filter_event_id=r.storage_id))
            for r in mats)
    runs = instance.get_runs()
    names = {r.run_id: n for n, r in enumerate(sorted(runs, key=lambda r: r.tags["dagster/asset_partition_range_start"]))}
    for spec in CHECKS:
        history = instance.event_log_storage.get_asset_check_execution_history(spec.key, limit=1000)
        out[f"{spec.key.to_user_string()} executions"] = sorted(
            (names[r.run_id], r.partition or "-", r.status.value, r.event.dagster_event_type.value if r.event else None)
            for r in history)
    out["runs"] = sorted(r.status.value for r in runs)
    out["events"] = sorted(
        [(e.dagster_event_type.value if e.dagster_event_type else "log",
          e.dagster_event.asset_key.to_user_string() if e.dagster_event and e.dagster_event.asset_key else None,
          e.dagster_event.partition if e.dagster_event else None)
         for r in runs for e in instance.all_logs(r.run_id)], key=str)
    return out


@pytest.fixture
def batching_env(monkeypatch):
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)


def test_pinned_to_the_installed_dagster():
    assert dg.__version__ == event_log.PINNED_DAGSTER, (
        "Dagster was upgraded: re-read SqliteEventLogStorage._connect/_initdb/store_event/watch/dispose, "
        "SqliteEventLogStorageWatchdog and "
        "SqlEventLogStorage._store_asset_event(_tags)/_store_asset_check_evaluation_planned/_event_to_row "
        "and serdes's serialize_value (json.dumps with sort_keys), and RunDomain's use of "
        "supports_partition_subset_in_asset_materialization_planned_events (get_materialization_planned_events_"
        "for_asset) against "
        "nhl_assets/deploy/event_log.py, and LocalComputeLogManager.capture_logs/from_config_value and "
        "mirror_stream_to_file/redirect_to_file against nhl_assets/deploy/compute_logs.py, then bump PINNED_DAGSTER")


@pytest.mark.parametrize("kind", ["sqlite", "memory", pytest.param("postgres", marks=pytest.mark.slow)])
def test_batching_storage_records_what_the_stock_storage_records(tmp_path, batching_env, kind, request,
                                                                 monkeypatch):
    """A range run that succeeds, then a range run that fails halfway (t0 and t1 materialized, t2 failed),
    then dates no run reached: the same records and partition status on both storages."""
    histories = {}
    batching_class = {"sqlite": event_log.BatchingSqliteEventLogStorage,
                      "memory": event_log.BatchingInMemoryEventLogStorage,
                      "postgres": event_log.BatchingPostgresEventLogStorage}[kind]
    server = request.getfixturevalue("postgres") if kind == "postgres" else None
    for batching in (False, True):
        instance = _instance(tmp_path, batching, kind, server, monkeypatch)
        assert isinstance(instance.event_log_storage, batching_class) == batching
        assert _run(instance, "2024-01-01", "2024-01-07").success
        assert not _run(instance, "2024-01-08", "2024-01-15").success
        histories[batching] = _history(instance)
        if batching:  # the batches really were batches: the planned events of a range came in one call
            assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == event_log.EVENT_BATCH_SIZE
        instance.dispose()
        os.environ.pop("DAGSTER_EVENT_BATCH_SIZE", None)
    assert histories[True] == histories[False]

    status = histories[True]
    keys = PARTITIONS.get_partition_keys()
    done, failed, missing = keys[:7], keys[7:15], keys[15:]
    for asset in ("t0", "t1"):
        assert {k for k, v in status[f"{asset} status"].items() if v == "MATERIALIZED"} == set(done + failed)
    t2 = status["t2 status"]
    assert {k for k, v in t2.items() if v == "MATERIALIZED"} == set(done)
    assert {k for k, v in t2.items() if v == "FAILED"} == set(failed), "a failed range shows its partitions failed"
    assert all(t2.get(k) is None for k in missing)


def test_a_batch_is_one_transaction_per_database(tmp_path, batching_env, monkeypatch):
    """The planned events of a 14-date range reach the storage as batches, each written with one run-database
    and one index-database transaction (the stock storage opens two per event; the few check events, not
    batched, open theirs)."""
    instance = _instance(tmp_path, True)
    storage = instance.event_log_storage
    calls = {"batches": 0, "connections": 0}
    real_batch, real_connect = storage.store_event_batch, storage._connect

    def counting_batch(events):
        calls["batches"] += 1
        return real_batch(events)

    def counting_connect(shard):
        calls["connections"] += 1
        return real_connect(shard)

    monkeypatch.setattr(storage, "store_event_batch", counting_batch)
    monkeypatch.setattr(storage, "_connect", counting_connect)
    assert _run(instance, "2024-01-01", "2024-01-14").success
    events = len(instance.all_logs(instance.get_runs()[0].run_id))
    assert calls["batches"] >= 2  # planned events, materializations
    assert calls["connections"] < events, (calls, events)  # the stock storage: two per event
    instance.dispose()


def test_a_runs_planned_checks_are_one_transaction_per_database(tmp_path, batching_env, monkeypatch):
    """The checks a range run plans (two here, each for every date of the range) are written with one
    run-database and one index-database connection together, where the stock storage opens three per
    check; what is recorded is the stock storage's (`test_batching_storage_records_what_the_stock_...`)."""
    instance = _instance(tmp_path, True)
    storage = instance.event_log_storage
    groups: list[tuple[int, list[str]]] = []
    real_group, real_connect = storage._store_planned_checks, storage._connect
    opened: list[str] = []

    def counting_group(events):
        before = len(opened)
        real_group(events)
        groups.append((len(events), opened[before:]))

    def counting_connect(shard):
        opened.append("index" if shard == event_log.INDEX_SHARD_NAME else "run")
        return real_connect(shard)

    monkeypatch.setattr(storage, "_store_planned_checks", counting_group)
    monkeypatch.setattr(storage, "_connect", counting_connect)
    assert _run(instance, "2024-01-01", "2024-01-14").success
    assert groups == [(2, ["run", "index"])]
    history = storage.get_asset_check_execution_history(CHECKS[0].key, limit=100)
    planned = sorted(r.partition for r in history if r.partition is not None)  # the range run's result: None
    assert planned == [f"2024-01-{d:02d}" for d in range(1, 15)]
    instance.dispose()


@pytest.mark.parametrize("batch_size", [None, "0"])
def test_a_range_runs_planned_events_arrive_one_per_asset_and_are_stored_one_per_partition(
        tmp_path, batching_env, monkeypatch, batch_size):
    """Dagster hands the storage one planned event per asset holding the run's range (the storage says it
    supports them), batched or, with batching off, one at a time; the storage records one per partition,
    as Dagster builds them for its own storages. Fails if Dagster stops asking the storage (an upgrade)."""
    if batch_size is not None:
        monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch_size)  # kept by the storage: batching off
    instance = _instance(tmp_path, True)
    storage = instance.event_log_storage
    assert storage.supports_partition_subset_in_asset_materialization_planned_events
    arrived = []
    real_batch, real_single = storage.store_event_batch, storage.store_event
    monkeypatch.setattr(storage, "store_event_batch", lambda events: (arrived.extend(events), real_batch(events)))
    monkeypatch.setattr(storage, "store_event", lambda event: (arrived.append(event), real_single(event)))
    assert _run(instance, "2024-01-01", "2024-01-14").success

    planned = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ranges = [e.dagster_event.event_specific_data for e in arrived if e.dagster_event_type == planned
              and e.dagster_event.event_specific_data.partitions_subset is not None]
    assert sorted(d.asset_key.to_user_string() for d in ranges) == ["t0", "t1", "t2"]
    keys = PARTITIONS.get_partition_keys()[:14]
    assert all(list(d.partitions_subset.get_partition_keys()) == keys for d in ranges)

    stored = [e for e in instance.all_logs(instance.get_runs()[0].run_id) if e.dagster_event_type == planned]
    assert sorted((e.dagster_event.asset_key.to_user_string(), e.dagster_event.partition) for e in stored) == \
        sorted((a, k) for a in ("t0", "t1", "t2") for k in keys)
    assert all(e.dagster_event.event_specific_data.partitions_subset is None for e in stored)
    job = instance.get_runs()[0].job_name
    assert {e.dagster_event.message for e in stored} == {
        f"{job} intends to materialize asset {dg.AssetKey(a).to_string()}" for a in ("t0", "t1", "t2")}
    instance.dispose()


def _materialization(partition: str, metadata: dict, timestamp: float, key: dg.AssetKey,
                     pid: int | None = None) -> dg.EventLogEntry:
    data = event_log.StepMaterializationData(dg.AssetMaterialization(asset_key=key, partition=partition,
                                                                     metadata=metadata))
    event = dg.DagsterEvent(dg.DagsterEventType.ASSET_MATERIALIZATION.value, "job", event_specific_data=data,
                            step_key="step", pid=pid)
    return dg.EventLogEntry(error_info=None, level=10, user_message="", run_id="run", timestamp=timestamp,
                            step_key="step", job_name="job", dagster_event=event)


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_a_batchs_ids_are_paired_with_its_rows(tmp_path, batching_env, kind):
    """`_insert_returning_ids` gives each row's id in row order (the events' tags and asset rows are written
    against them), also after a delete left gaps below and at the top of the ids."""
    from sqlalchemy import select

    table = event_log.SqlEventLogStorageTable
    storage = _instance(tmp_path, True, kind).event_log_storage
    rows = [storage._event_to_row(_materialization(f"2024-01-{d:02d}", {}, 1704067200.0 + d, dg.AssetKey("t0")))
            for d in range(1, 31)]
    with storage.index_transaction() as conn:
        first = event_log._insert_returning_ids(conn, rows[:12])
        conn.execute(table.delete().where(table.c.id.in_(first[3:6] + first[-2:])))
        then = event_log._insert_returning_ids(conn, rows[12:])
        stored = dict(conn.execute(select(table.c.id, table.c.partition)).all())
    ids = first[:3] + first[6:-2] + then
    assert len(set(ids)) == len(ids) == len(stored)
    assert [stored[i] for i in ids] == [r["partition"] for r in rows[:3] + rows[6:10] + rows[12:]]


def test_the_in_memory_storage_reuses_one_connection_from_every_thread(batching_env):
    """Dagster's opens a connection per read or write; this storage one for its life, shared by threads
    under the storage's lock, and what one thread writes the others read. Its tables are looked up once."""
    instance = event_log.ephemeral_instance()
    storage = instance.event_log_storage
    opened: list[int] = []
    stock: list[int] = []
    listen(storage._engine, "connect", lambda *_: stock.append(threading.get_ident()))
    listen(storage._reused, "connect", lambda *_: opened.append(threading.get_ident()))
    worker = threading.Thread(target=_run, args=(instance, "2024-01-01", "2024-01-03"))
    worker.start()
    worker.join()
    result = _run(instance, "2024-01-04", "2024-01-05")
    assert result.success
    assert len(instance.fetch_materializations(SPECS[0].key, limit=100).records) == 5
    assert len(opened) == 1  # the reused connection, opened at first use and kept
    assert len(stock) <= len(storage._tables_seen)  # Dagster's `has_table`, once per table


def test_same_is_equality_of_types_too():
    """`_same` decides whether an event may reuse another's serialization: equal under `==` is not enough."""
    same = event_log._same
    assert same((1, "a", None, [2.5]), (1, "a", None, [2.5])) and same({"k": ("v",)}, {"k": ("v",)})
    for a, b in (((1,), (True,)), ((1,), (1.0,)), ((0.0,), (-0.0,)), ({"k": 1}, {"k": True}),
                 ({1: "x"}, {True: "x"}), ({"a": 1, "b": 2}, {"b": 2, "a": 1})):
        assert a == b and not same(a, b), (a, b)
    one = dg.IntMetadataValue(1)  # a `@record`: the same object only
    assert same(one, one) and not same(one, dg.IntMetadataValue(1))


def test_event_rows_are_the_stock_rows_byte_for_byte(tmp_path, batching_env, monkeypatch):
    """A batch's rows serialize each kind of event once (`_EventRows`), and every row equals the stock
    `_event_to_row`'s, JSON text included: for the events of a real range run, and for events built to trip
    a reused template."""
    instance = _instance(tmp_path, True)
    storage = instance.event_log_storage
    batches: list[list] = []
    store = storage._store_asset_events
    monkeypatch.setattr(storage, "_store_asset_events", lambda events: (batches.append(list(events)), store(events)))
    assert _run(instance, "2024-01-01", "2024-01-14").success
    stock_row = storage._event_to_row
    serialized: list = []
    monkeypatch.setattr(storage, "_event_to_row", lambda event: (serialized.append(event), stock_row(event))[1])

    def rows(events: list) -> list[dict]:
        serialized.clear()
        got = storage._rows(events)
        assert got == [stock_row(e) for e in events]
        return got

    assert [e.dagster_event_type.value for b in batches for e in b].count("ASSET_MATERIALIZATION_PLANNED") == 3 * 14
    for batch in batches:
        rows(batch)
        kinds = {(e.dagster_event.asset_key, e.dagster_event_type) for e in batch}
        assert len(serialized) == len(kinds), "one serialization per asset and event type, not per partition"

    # one asset's events sharing their objects, as Dagster's events of one output do, with traps for a reused
    # template: a pid of True where 1 was (equal under ==), partition keys JSON must escape, a timestamp
    # with every digit, and a stand-in inside the metadata (the template is declined)
    key, rows_md = dg.AssetKey("t0"), {"rows": dg.IntMetadataValue(1)}
    tricky = [_materialization("2024-01-01", rows_md, 1704067200.5, key, pid=1),
              _materialization('2024-01-02 "quoted" \\ \u00e9', rows_md, 1704153600.0000002, key, pid=1),
              _materialization("2024-01-03", rows_md, 1704240000.25, key, pid=True),
              _materialization("2024-01-04", {"note": dg.MetadataValue.text(event_log._PARTITION_STANDIN)},
                               1704326400.0, key)]
    rows(tricky)
    # a template for the first, reused by the second; a new one for pid True; for the last, a template tried
    # and declined (the stand-in occurs twice), then the event serialized whole
    assert len(serialized) == 1 + 1 + 2

    # what serdes refuses (a numpy timestamp) is refused the same way, not written from a template
    import numpy as np

    odd = _materialization("2024-01-05", rows_md, np.float64(1704412800.0), key, pid=1)
    with pytest.raises(Exception) as refused:
        stock_row(odd)
    with pytest.raises(type(refused.value)):
        storage._rows([tricky[0], odd])


def _schema(path: str) -> dict:
    """What `_initdb` puts in a database: its tables and indexes, alembic stamp and journal mode."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        out = {"schema": sorted(conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall(), key=str),
               "stamp": conn.execute("SELECT version_num FROM alembic_version").fetchall(),
               "journal": conn.execute("PRAGMA journal_mode").fetchone()[0]}
    conn.close()
    return out


def _initdb_calls(storage, monkeypatch) -> list[str]:
    """The database URLs `storage._initdb` is called on from now on (it still runs)."""
    calls: list[str] = []
    real_initdb = storage._initdb

    def counting(engine, **kwargs):
        calls.append(str(engine.url))
        return real_initdb(engine, **kwargs)

    monkeypatch.setattr(storage, "_initdb", counting)
    return calls


def test_a_new_run_database_is_a_copy_of_what_initdb_makes(tmp_path, monkeypatch):
    """Run databases are copied from one made by Dagster's own `_initdb` (made once per folder and
    release): the same tables, indexes, alembic stamp and WAL mode as `_initdb` gives a run's database, and
    `_initdb` is not run again for the next runs. The template is not a "*.db" file, which Dagster's
    `upgrade` and `wipe` take for run databases."""
    stock = event_log.SqliteEventLogStorage(str(tmp_path / "stock"))  # Dagster's own, as the module imports it
    with stock.run_connection("made-by-dagster"):
        pass
    storage = event_log.BatchingSqliteEventLogStorage(str(tmp_path / "batching"))
    initdbs = _initdb_calls(storage, monkeypatch)
    for run in ("run-1", "run-2", "run-3"):
        with storage.run_connection(run):
            pass
    assert len(initdbs) == 1 and initdbs[0].endswith(".tmp"), initdbs  # the template's, once
    expected = _schema(stock.path_for_shard("made-by-dagster"))
    assert expected["journal"] == "wal" and expected["stamp"]
    for run in ("run-1", "run-2", "run-3"):
        assert _schema(storage.path_for_shard(run)) == expected
    leftovers = sorted(p.name for p in (tmp_path / "batching").iterdir() if not p.name.endswith(("-wal", "-shm")))
    assert leftovers == sorted([f".run-database-template-{dg.__version__}.sqlite", "index.db",
                                "run-1.db", "run-2.db", "run-3.db"]), leftovers
    storage.dispose()
    stock.dispose()


def test_a_run_database_another_process_made_is_opened_as_dagster_opens_it(tmp_path, monkeypatch):
    """A run's database that exists already (another process's, perhaps half made) is never replaced by the
    template: `_initdb` runs on it as in Dagster's own storage, and what it holds stays."""
    import sqlite3

    storage = event_log.BatchingSqliteEventLogStorage(str(tmp_path))
    path = storage.path_for_shard("theirs")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE theirs (x INTEGER)")
        conn.execute("INSERT INTO theirs VALUES (42)")
    conn.close()
    initdbs = _initdb_calls(storage, monkeypatch)
    with storage.run_connection("theirs") as conn:
        assert conn.exec_driver_sql("SELECT x FROM theirs").scalar() == 42
        assert conn.exec_driver_sql("SELECT count(*) FROM event_logs").scalar() == 0
    assert initdbs == [f"sqlite:///{path}"]
    storage.dispose()


def test_event_log_connections_commit_without_an_fsync_each(tmp_path):
    """Every connection of the batching SQLite storage runs with synchronous=NORMAL (1) in WAL mode, the
    pairing SQLite documents as never corrupting a database (Dagster's default, FULL (2), fsyncs every
    commit)."""
    storage = event_log.BatchingSqliteEventLogStorage(str(tmp_path))
    for shard in ("run-1", "index"):
        with storage._connect(shard) as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0  # see the next test
    storage.dispose()


def _until(condition, seconds: float = 20.0) -> bool:
    """Whether `condition()` comes true within `seconds` (polled every 20 ms)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_write_ahead_logs_are_checkpointed_by_a_thread_of_their_own(tmp_path, monkeypatch):
    """A commit that takes the log past SQLite's 1,000 pages does not checkpoint it (the database file stays
    as it was); the storage's checkpointer thread does. A transaction that changed nothing does not wake it,
    and `dispose` ends it."""
    monkeypatch.setattr(event_log, "CHECKPOINT_INTERVAL_S", 0.2)
    ran: list[tuple[str, str]] = []
    gate = threading.Event()  # holds the second checkpoint back while the test looks at the file
    checkpoint = event_log._checkpoint

    storage = event_log.BatchingSqliteEventLogStorage(str(tmp_path))
    path = storage.path_for_shard("index")

    def held(at: str) -> None:
        if at != path:  # another test's storage, its thread still running
            return checkpoint(at)
        if ran:
            assert gate.wait(60)
        checkpoint(at)
        ran.append((at, threading.current_thread().name))

    monkeypatch.setattr(event_log, "_checkpoint", held)
    with storage._connect("index") as conn:
        conn.exec_driver_sql("CREATE TABLE blobs (x BLOB)")
    assert _until(lambda: len(ran) == 1), "the first commit woke no checkpoint"
    assert ran == [(path, "event-log-checkpointer")]
    size = os.path.getsize(path)

    with storage._connect("index") as conn:
        conn.exec_driver_sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
                             "INSERT INTO blobs SELECT randomblob(4096) FROM n")  # 6 MB: 1,500+ pages
    assert os.path.getsize(path) == size, "the commit checkpointed the log itself"
    gate.set()
    assert _until(lambda: len(ran) == 2), "the log was never checkpointed"
    assert os.path.getsize(path) > size + 6_000_000

    with storage._connect("index") as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM blobs").scalar() == 1500
    time.sleep(1.0)  # five intervals
    assert len(ran) == 2, "a read woke a checkpoint"
    thread = storage._checkpointer._thread
    storage.dispose()
    assert thread is not None and not thread.is_alive()


def test_a_checkpoint_of_a_database_removed_meanwhile_does_not_create_it(tmp_path):
    gone = tmp_path / "gone.db"
    event_log._checkpoint(str(gone))
    assert not gone.exists()


def test_a_file_system_without_hard_links_gets_run_databases_as_dagster_makes_them(tmp_path, monkeypatch):
    """Where the template cannot be linked into place (some network and FUSE file systems refuse hard
    links), each run's database is made by `_initdb` as in Dagster's own storage, and no scratch copy is
    left behind."""
    def refuse(src, dst):
        raise PermissionError(1, "Operation not permitted")

    storage = event_log.BatchingSqliteEventLogStorage(str(tmp_path))
    monkeypatch.setattr(event_log.os, "link", refuse)
    with storage.run_connection("run-1") as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM event_logs").scalar() == 0
    assert _schema(storage.path_for_shard("run-1"))["stamp"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    storage.dispose()


def test_a_run_database_made_meanwhile_by_another_process_is_kept(tmp_path, monkeypatch):
    """Another process creates the run's database between the existence check and the link: the link fails
    (it never replaces a file), and the other process's database is opened as Dagster opens one."""
    import sqlite3

    storage = event_log.BatchingSqliteEventLogStorage(str(tmp_path))
    path = storage.path_for_shard("raced")
    real_link = os.link

    def other_process_first(src, dst):
        with sqlite3.connect(dst) as conn:
            conn.execute("CREATE TABLE theirs (x INTEGER)")
        conn.close()
        return real_link(src, dst)  # FileExistsError

    monkeypatch.setattr(event_log.os, "link", other_process_first)
    try:
        with storage.run_connection("raced") as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM theirs").scalar() == 0
            assert conn.exec_driver_sql("SELECT count(*) FROM event_logs").scalar() == 0
        assert _schema(path)["stamp"]
        assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    finally:
        storage.dispose()


def test_a_broken_template_is_never_copied(tmp_path):
    """A template that is not a run database (a torn write, a stray file) is not copied: the run's database
    is made by `_initdb`, the bad template removed, and the next process makes a sound one again. A
    template of another Dagster release is removed when this release's is made."""
    first = event_log.BatchingSqliteEventLogStorage(str(tmp_path))
    with first.run_connection("run-1"):
        pass
    template = Path(first._template_path())
    first.dispose()
    older = tmp_path / ".run-database-template-0.0.1.sqlite"
    older.write_bytes(template.read_bytes())
    template.write_bytes(b"SQLite format 3\x00 torn")

    second = event_log.BatchingSqliteEventLogStorage(str(tmp_path))
    with second.run_connection("run-2") as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM event_logs").scalar() == 0
    second.dispose()
    assert not template.exists() and older.exists()

    third = event_log.BatchingSqliteEventLogStorage(str(tmp_path))
    with third.run_connection("run-3"):
        pass
    third.dispose()
    assert _schema(str(template)) == _schema(str(tmp_path / "run-3.db")) == _schema(str(tmp_path / "run-2.db"))
    assert not older.exists()


def test_the_ui_sees_a_runs_events_as_they_are_written(tmp_path):
    """The UI's live run logs (`watch`, in the webserver's process) are told of each event a run's process
    writes, although the writer's pooled connection keeps the run's database open (its commits then only
    reach the write-ahead log, which Dagster's own watcher does not look at)."""
    import time

    writer = event_log.BatchingSqliteEventLogStorage(str(tmp_path))
    ui = event_log.BatchingSqliteEventLogStorage(str(tmp_path))
    seen: list = []
    try:
        with writer.run_connection("run"):
            pass
        ui.watch("run", None, lambda event, cursor: seen.append(event.dagster_event.partition))
        for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
            writer.store_event(_materialization(day, {"rows": 7}, time.time(), dg.AssetKey("t0")))
            assert _until(lambda: day in seen, 10), f"the UI was not told of {day}: {seen}"  # noqa: B023
        assert seen == ["2024-01-01", "2024-01-02", "2024-01-03"]
    finally:
        ui.dispose()
        writer.dispose()


def test_scratch_files_left_by_killed_processes_are_swept(tmp_path):
    """A process killed between a copy and its cleanup leaves `<db>.<pid>-<thread>.tmp` (and SQLite's -wal/-shm
    beside a template's): the next process's first run sweeps those older than an hour, and leaves young ones
    (another process's copy in flight) and every other file alone."""
    two_hours_ago = time.time() - 2 * 3600
    old = ["run-a.db.4242-139.tmp", f"{event_log._TEMPLATE_PREFIX}1.13.27.sqlite.77-1.tmp-wal",
           f"{event_log._TEMPLATE_PREFIX}1.13.27.sqlite.77-1.tmp-shm"]
    young = ["run-b.db.4343-140.tmp"]
    kept = ["run-c.db", "notes.tmp", "run-d.db.tmp"]
    for name in old + young + kept:
        (tmp_path / name).write_bytes(b"x")
    for name in old + kept:
        os.utime(tmp_path / name, (two_hours_ago, two_hours_ago))
    storage = event_log.BatchingSqliteEventLogStorage(str(tmp_path))
    with storage.run_connection("run-e"):
        pass
    storage.dispose()
    left = {p.name for p in tmp_path.iterdir()}
    assert not left & set(old)
    assert set(young + kept) <= left and "run-e.db" in left
