"""The storage layer's guarantees: window replace in one commit, neighbours untouched, idempotence,
additive evolution in place, refusal of everything else."""

import json
import os
import threading
import time
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from deltalake.transaction import AddAction

from nhl_assets.dates import DateWindow
from nhl_assets.storage import delta, whole_files
from nhl_assets.storage.delta import (
    CHECKPOINT_EVERY,
    RowsOutsideWindow,
    SchemaChangeRefused,
    Warehouse,
    write_as_completed,
    write_concurrently,
)

SCHEMA = pa.schema([("gameDate", pa.date32()), ("gameId", pa.int64()), ("value", pa.string())])


def rows(*items: tuple[str, int, str], schema: pa.Schema = SCHEMA) -> pa.Table:
    return pa.Table.from_pylist(
        [{"gameDate": date.fromisoformat(d), "gameId": g, "value": v} for d, g, v in items], schema=schema)


def content(wh: Warehouse, table: str = "bronze/t") -> list[tuple]:
    t = wh.read_arrow(table)
    return sorted(tuple(r.values()) for r in t.to_pylist())


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    # these tests exercise the write path on ad-hoc tables: let writes create them (migrations do elsewhere)
    return Warehouse(str(tmp_path / "warehouse"), create_missing=True)


def test_replace_window_is_one_commit_and_leaves_neighbours(wh):
    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a"), ("2023-10-02", 2, "b"), ("2023-10-03", 3, "c")),
                      DateWindow.of("2023-10-01", "2023-10-03"), partition_by=["gameDate"])
    v_before = wh.version("bronze/t")
    res = wh.replace_window("bronze/t", rows(("2023-10-02", 20, "B"), ("2023-10-02", 21, "B2")),
                            DateWindow.of("2023-10-02"), partition_by=["gameDate"])
    assert res.version == v_before + 1  # exactly one commit
    assert res.rows_written == 2
    assert content(wh) == [(date(2023, 10, 1), 1, "a"), (date(2023, 10, 2), 20, "B"),
                           (date(2023, 10, 2), 21, "B2"), (date(2023, 10, 3), 3, "c")]


def _checkpoints(wh: Warehouse, table: str) -> list[int]:
    log = os.path.join(wh.uri(table), "_delta_log")
    return sorted(int(name.split(".")[0]) for name in os.listdir(log) if name.endswith(".checkpoint.parquet"))


def test_every_tenth_commit_writes_a_checkpoint_and_a_failed_one_fails_no_write(wh, monkeypatch, caplog):
    """Opening a table replays at most about CHECKPOINT_EVERY commits: the write whose commit passes a
    multiple of it writes a checkpoint (delta-rs alone would wait for version 100), after delta-rs's replace
    and the whole-file replace alike, and the rows read through it are the rows written. A checkpoint that
    cannot be written is logged, and the write it follows still succeeds: its commit has landed."""
    whole = []
    replace = whole_files.replace

    def counted(*args, **kwargs):
        whole.append(1)
        return replace(*args, **kwargs)

    monkeypatch.setattr(whole_files, "replace", counted)
    window = DateWindow.of("2023-10-01", "2023-10-02")
    for i in range(2 * CHECKPOINT_EVERY):  # version 0 is the create (unpartitioned: whole files apply)
        wh.replace_window("bronze/t", rows(("2023-10-01", i, "a"), ("2023-10-02", i, "b")), window)
    assert wh.version("bronze/t") == 2 * CHECKPOINT_EVERY
    assert 0 < len(whole) < 2 * CHECKPOINT_EVERY  # the first replace is delta-rs's, the later whole-file ones
    assert _checkpoints(wh, "bronze/t") == [CHECKPOINT_EVERY, 2 * CHECKPOINT_EVERY]
    last = 2 * CHECKPOINT_EVERY - 1
    assert content(wh) == [(date(2023, 10, 1), last, "a"), (date(2023, 10, 2), last, "b")]

    def refuse(self):
        raise OSError("disk full")

    monkeypatch.setattr(DeltaTable, "create_checkpoint", refuse)
    for i in range(CHECKPOINT_EVERY):
        res = wh.replace_window("bronze/t", rows(("2023-10-01", 100 + i, "c")), window)
    assert res.version == 3 * CHECKPOINT_EVERY and content(wh) == [(date(2023, 10, 1), 109, "c")]
    assert _checkpoints(wh, "bronze/t") == [CHECKPOINT_EVERY, 2 * CHECKPOINT_EVERY]
    assert [r.getMessage() for r in caplog.records if r.name == delta.__name__] == [
        f"bronze/t: no checkpoint at version {3 * CHECKPOINT_EVERY} (disk full); the next is written when its "
        f"commits pass version {4 * CHECKPOINT_EVERY}"]


class _Opened:
    """A table as `_checkpoint_due` sees it: its version, and the checkpoints asked of it."""

    def __init__(self, version: int) -> None:
        self._version, self.checkpoints = version, []

    def version(self) -> int:
        return self._version

    def create_checkpoint(self) -> None:
        self.checkpoints.append(self._version)


@pytest.mark.parametrize(("opened_at", "version", "checkpointed"), [
    (9, 10, True),    # the write's one commit lands on a multiple
    (9, 11, True),    # a split's commit took 10, the replace 11
    (8, 10, True),    # another writer's commit and this one's
    (10, 11, False),  # past 10 already when opened: its checkpoint was the writer's of 10
    (11, 19, False),  # still short of 20
])
def test_a_checkpoint_is_due_when_the_commits_since_the_open_pass_a_multiple(opened_at, version, checkpointed):
    dt = _Opened(version)
    delta._checkpoint_due("bronze/t", dt, opened_at)
    assert dt.checkpoints == ([version] if checkpointed else [])


def test_rerunning_a_range_is_idempotent(wh):
    data = rows(("2023-10-01", 1, "a"), ("2023-10-02", 2, "b"))
    window = DateWindow.of("2023-10-01", "2023-10-02")
    for _ in range(3):
        wh.replace_window("bronze/t", data, window, partition_by=["gameDate"])
    assert content(wh) == [(date(2023, 10, 1), 1, "a"), (date(2023, 10, 2), 2, "b")]


def test_empty_data_empties_only_the_window(wh):
    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a"), ("2023-10-02", 2, "b")),
                      DateWindow.of("2023-10-01", "2023-10-02"), partition_by=["gameDate"])
    wh.replace_window("bronze/t", rows(), DateWindow.of("2023-10-02"), partition_by=["gameDate"])
    assert content(wh) == [(date(2023, 10, 1), 1, "a")]


def test_rows_outside_the_window_are_refused_and_nothing_changes(wh):
    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a")), DateWindow.of("2023-10-01"),
                      partition_by=["gameDate"])
    version = wh.version("bronze/t")
    with pytest.raises(RowsOutsideWindow, match="outside the window"):
        wh.replace_window("bronze/t", rows(("2023-10-02", 2, "b"), ("2023-10-05", 5, "x")),
                          DateWindow.of("2023-10-02"), partition_by=["gameDate"])
    assert wh.version("bronze/t") == version
    assert content(wh) == [(date(2023, 10, 1), 1, "a")]


def test_additive_column_evolves_in_place_keeping_rows(wh):
    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a"), ("2023-10-02", 2, "b")),
                      DateWindow.of("2023-10-01", "2023-10-02"), partition_by=["gameDate"])
    wider = SCHEMA.append(pa.field("extra", pa.int32()))
    data = pa.Table.from_pylist([{"gameDate": date(2023, 10, 2), "gameId": 2, "value": "b", "extra": 7}],
                                schema=wider)
    res = wh.replace_window("bronze/t", data, DateWindow.of("2023-10-02"), partition_by=["gameDate"])
    assert res.schema_evolved == ["extra"]
    got = sorted(wh.read_arrow("bronze/t").to_pylist(), key=lambda r: r["gameId"])
    assert got == [{"gameDate": date(2023, 10, 1), "gameId": 1, "value": "a", "extra": None},
                   {"gameDate": date(2023, 10, 2), "gameId": 2, "value": "b", "extra": 7}]
    ops = [h["operation"] for h in DeltaTable(wh.uri("bronze/t")).history()]
    assert "CREATE OR REPLACE TABLE" not in ops and "DELETE" not in ops


@pytest.mark.parametrize("change", ["drop_column", "retype_column", "repartition"])
def test_non_additive_changes_are_refused_naming_the_migration(wh, change):
    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a")), DateWindow.of("2023-10-01"),
                      partition_by=["gameDate"])
    partition_by = ["gameDate"]
    if change == "drop_column":
        data = pa.Table.from_pylist([{"gameDate": date(2023, 10, 1), "gameId": 1}],
                                    schema=pa.schema([("gameDate", pa.date32()), ("gameId", pa.int64())]))
    elif change == "retype_column":
        data = pa.Table.from_pylist([{"gameDate": date(2023, 10, 1), "gameId": "1", "value": "a"}],
                                    schema=pa.schema([("gameDate", pa.date32()), ("gameId", pa.string()),
                                                      ("value", pa.string())]))
    else:
        data = rows(("2023-10-01", 1, "a"))
        partition_by = []
    with pytest.raises(SchemaChangeRefused, match="nhl-assets migrate"):
        wh.replace_window("bronze/t", data, DateWindow.of("2023-10-01"), partition_by=partition_by)
    assert content(wh) == [(date(2023, 10, 1), 1, "a")]


def test_replace_all_keeps_history_for_time_travel(wh):
    wh.replace_all("gold/u", pa.table({"gameId": [1, 2]}))
    wh.replace_all("gold/u", pa.table({"gameId": [3]}))
    assert wh.read_arrow("gold/u").column("gameId").to_pylist() == [3]
    assert sorted(wh.open("gold/u", version=1).to_pyarrow_table().column("gameId").to_pylist()) == [1, 2]


def test_streamed_reader_input_counts_rows(wh):
    data = rows(*[("2023-10-01", i, "x") for i in range(1000)])
    reader = pa.RecordBatchReader.from_batches(SCHEMA, data.to_batches(max_chunksize=100))
    res = wh.replace_window("bronze/t", reader, DateWindow.of("2023-10-01"), partition_by=["gameDate"])
    assert res.rows_written == 1000
    assert wh.read_arrow("bronze/t").num_rows == 1000


def test_commit_records_run_id_and_window(wh):
    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a")), DateWindow.of("2023-10-01"),
                      partition_by=["gameDate"], run_id="run-123")
    last = DeltaTable(wh.uri("bronze/t")).history(1)[0]
    assert last["dagster.run_id"] == "run-123"
    assert last["nhl_assets.window"] == "2023-10-01"


def test_writes_to_a_missing_table_fail_unless_a_migration_creates_it(tmp_path):
    from nhl_assets.storage.delta import TableMissing

    strict = Warehouse(str(tmp_path / "strict"))
    with pytest.raises(TableMissing, match="migrate apply"):
        strict.replace_window("bronze/t", rows(("2023-10-01", 1, "a")), DateWindow.of("2023-10-01"))
    dt, created = strict.create_table("bronze/t", SCHEMA, ["gameDate"])
    assert created and dt.version() == 0
    _, created = strict.create_table("bronze/t", SCHEMA, ["gameDate"])  # never re-created
    assert not created and strict.version("bronze/t") == 0
    with pytest.raises(SchemaChangeRefused, match="partitioned by"):
        strict.create_table("bronze/t", SCHEMA, [])
    strict.replace_window("bronze/t", rows(("2023-10-01", 1, "a")), DateWindow.of("2023-10-01"))
    assert content(strict) == [(date(2023, 10, 1), 1, "a")]


def test_a_commit_lost_to_a_concurrent_writer_is_retried_with_the_same_rows(wh, monkeypatch):
    from deltalake.exceptions import CommitFailedError

    from nhl_assets.storage import delta

    real, calls = delta.write_deltalake, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            list(args[1])  # the losing attempt consumed its rows
            raise CommitFailedError("Transaction failed: version already exists")
        return real(*args, **kwargs)

    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a")), DateWindow.of("2023-10-01"), partition_by=["gameDate"])
    monkeypatch.setattr(delta, "write_deltalake", flaky)
    res = wh.replace_window("bronze/t", lambda: rows(("2023-10-02", 2, "b")), DateWindow.of("2023-10-02"),
                            partition_by=["gameDate"])
    assert len(calls) == 2 and res.rows_written == 1
    assert content(wh) == [(date(2023, 10, 1), 1, "a"), (date(2023, 10, 2), 2, "b")]


def test_restore_is_a_new_version_that_records_what_it_replaced(wh):
    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a")), DateWindow.of("2023-10-01"), partition_by=["gameDate"])
    good = wh.version("bronze/t")
    DeltaTable(wh.uri("bronze/t")).delete()
    res = wh.restore("bronze/t", good, reason="test")
    assert res["replaced_rows"] == 0 and res["rows"] == 1 and res["new_version"] == good + 2
    last = wh.history("bronze/t", 1)[0]
    assert last["operation"] == "RESTORE" and last["metadata"]["nhl_assets.replaced_version"] == str(good + 1)
    assert content(wh) == [(date(2023, 10, 1), 1, "a")]


def test_rewrite_table_may_change_partitioning_and_keeps_history(wh):
    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a")), DateWindow.of("2023-10-01"), partition_by=["gameDate"])
    v = wh.version("bronze/t")
    wh.rewrite_table("bronze/t", wh.read_arrow("bronze/t"), partition_by=[])
    assert DeltaTable(wh.uri("bronze/t")).metadata().partition_columns == []
    assert DeltaTable(wh.uri("bronze/t"), version=v).metadata().partition_columns == ["gameDate"]
    assert content(wh) == [(date(2023, 10, 1), 1, "a")]


def test_a_table_handed_to_spark_refuses_delta_rs_writes_until_handed_back(wh, capsys):
    from nhl_assets.cli import main
    from nhl_assets.storage.delta import WriterConflict

    window = DateWindow.of("2023-10-01")
    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a")), window, partition_by=["gameDate"])
    assert wh.writer("bronze/t") == "delta-rs"
    with pytest.raises(SystemExit) as dry:  # dry run by default: nothing changes
        main(["writer", "bronze/t", "spark", "--warehouse", wh.root])
    assert dry.value.code == 0 and wh.writer("bronze/t") == "delta-rs"
    with pytest.raises(SystemExit):
        main(["writer", "bronze/t", "spark", "--yes", "--reason", "native Delta on the cluster", "--warehouse", wh.root])
    assert wh.writer("bronze/t") == "spark"
    before = wh.version("bronze/t")
    with pytest.raises(WriterConflict, match="owned by spark"):
        wh.replace_window("bronze/t", rows(("2023-10-01", 2, "b")), window, partition_by=["gameDate"])
    with pytest.raises(WriterConflict):
        wh.replace_all("bronze/t", rows(("2023-10-01", 2, "b")))
    assert wh.version("bronze/t") == before and content(wh) == [(date(2023, 10, 1), 1, "a")]
    wh.set_writer("bronze/t", "delta-rs", reason="back to delta-rs")
    wh.replace_window("bronze/t", rows(("2023-10-01", 2, "b")), window, partition_by=["gameDate"])
    assert content(wh) == [(date(2023, 10, 1), 2, "b")]
    assert [h["nhl_operation"] for h in wh.history("bronze/t")[:3]] == ["replace_window", "set_writer", "set_writer"]
    with pytest.raises(ValueError, match="unknown writer"):
        wh.set_writer("bronze/t", "duckdb", reason="")


def test_a_pinned_snapshot_reads_as_of_its_versions(wh, monkeypatch):
    """`pin` records the versions of the tables that exist (a missing one is left out); reads at those
    versions see the snapshot whatever is written afterwards, and open each table once per version."""
    import nhl_assets.storage.delta as delta

    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a")), DateWindow.of("2023-10-01"),
                      partition_by=["gameDate"])
    versions = wh.pin(["bronze/t", "bronze/missing"])
    assert versions == {"bronze/t": wh.version("bronze/t")}
    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "changed"), ("2023-10-02", 2, "new")),
                      DateWindow.of("2023-10-01", "2023-10-02"), partition_by=["gameDate"])
    opened = []
    monkeypatch.setattr(delta, "DeltaTable", lambda *a, **k: opened.append(a) or DeltaTable(*a, **k))
    for _ in range(3):
        t = wh.read_arrow("bronze/t", DateWindow.of("2023-10-01", "2023-10-02"), version=versions["bronze/t"])
        assert t.to_pylist() == [{"gameDate": date(2023, 10, 1), "gameId": 1, "value": "a"}]
    assert opened == []  # pinned by `pin`: opened there, reused here
    assert sorted(r["value"] for r in wh.read_arrow("bronze/t").to_pylist()) == ["changed", "new"]  # latest
    opened.clear()
    older = delta._Snapshots(size=1)
    older.get(wh.uri("bronze/t"), 0, None)
    older.get(wh.uri("bronze/t"), 1, None)
    assert len(opened) == 2 and list(older._tables) == [(wh.uri("bronze/t"), 1)]  # least recently used dropped


def test_read_rows_and_read_frame_equal_the_arrow_rows_of_every_type(wh):
    """`read_rows` (polars' dicts, what silver reads bronze with) gives the same Python values as
    `read_arrow(...).to_pylist()` for each column type bronze holds, in a window, at a version, and
    `read_frame` the same frame as polars makes of `read_arrow`; both None for a missing table."""
    from datetime import datetime, timezone

    import polars as pl

    schema = pa.schema([("gameDate", pa.date32()), ("gameId", pa.int64()), ("request", pa.string()),
                        ("httpStatus", pa.int32()), ("isFinal", pa.bool_()),
                        ("fetchedAt", pa.timestamp("us", tz="UTC")), ("body", pa.binary())])
    data = [{"gameDate": date(2023, 10, d), "gameId": d, "request": f"/v1/{d}", "httpStatus": 200 if d % 2 else None,
             "isFinal": d % 3 == 0, "fetchedAt": datetime(2023, 10, d, 1, 2, 3, 456789, tzinfo=timezone.utc),
             "body": b'{"a": "\\u00e9\x00"}' * d} for d in range(1, 6)]
    wh.replace_window("bronze/typed", pa.Table.from_pylist(data, schema=schema),
                      DateWindow.of("2023-10-01", "2023-10-05"), partition_by=["gameDate"])
    version = wh.version("bronze/typed")
    wh.replace_window("bronze/typed", pa.Table.from_pylist(data[3:], schema=schema),
                      DateWindow.of("2023-10-01", "2023-10-05"), partition_by=["gameDate"])  # leaves 2 rows
    window, cols = DateWindow.of("2023-10-02", "2023-10-04"), ["gameDate", "body", "fetchedAt", "httpStatus", "isFinal"]
    for i, kwargs in enumerate(({}, {"window": window}, {"window": window, "columns": cols}, {"version": version})):
        expected = sorted(wh.read_arrow("bronze/typed", **kwargs).to_pylist(), key=lambda r: r["gameDate"])
        got = sorted(wh.read_rows("bronze/typed", **kwargs), key=lambda r: r["gameDate"])
        assert got == expected and len(got) == {0: 2, 1: 1, 2: 1, 3: 5}[i], kwargs
        assert [list(r) for r in got] == [list(r) for r in expected]  # the same columns, in the same order
        assert all(r["fetchedAt"].utcoffset().total_seconds() == 0 and type(r["body"]) is bytes for r in got)
        if "version" not in kwargs:  # `read_frame`, the scanned frame itself: what polars makes of the Arrow rows
            frame = wh.read_frame("bronze/typed", **kwargs)
            arrow = pl.from_arrow(wh.read_arrow("bronze/typed", **kwargs))
            assert frame.schema == arrow.schema and frame.equals(arrow), kwargs
    assert wh.read_rows("bronze/absent") is None and wh.read_frame("bronze/absent") is None


def test_a_window_read_prunes_files_and_gives_what_scan_delta_gives(wh, monkeypatch):
    """A window is read from the files delta-rs's pruning keeps (by partition value, or by statistics when
    the date is not the partition column), with the rows, columns and types `pl.scan_delta` gives: across
    an added column (older files read it as null), at a pinned version, for a window no file holds, for a
    file whose types differ from the table's; a table whose files are not plain Parquet (reader protocol
    above 1) is read by `scan_delta` itself."""
    import polars as pl

    import nhl_assets.storage.delta as delta

    def by_scan_delta(table, window, columns=None, version=None):
        scan = pl.scan_delta(wh.open(table, version)).filter(pl.col("gameDate").is_between(window.start, window.end))
        return (scan.select(columns) if columns else scan).collect()

    def data(items, schema=SCHEMA):
        t = rows(*items, schema=schema)
        return t.append_column("season", pa.array([2023 if d.as_py().month > 8 else 2022
                                                     for d in t.column("gameDate")], pa.int64()))

    wide = pa.schema([*SCHEMA, ("extra", pa.float64())])
    for table, partition_by in (("bronze/daily", ["gameDate"]), ("silver/seasonal", ["season"])):
        wh.replace_window(table, data([("2023-01-10", 1, "a"), ("2023-01-11", 2, "b")]),
                          DateWindow.of("2023-01-10", "2023-01-11"), partition_by=partition_by)
        pinned = wh.version(table)
        wide_rows = data([("2023-10-01", 3, "c"), ("2023-10-02", 4, "d")], wide)
        wide_rows = wide_rows.set_column(3, "extra", pa.array([1.5, None], pa.float64()))
        wh.replace_window(table, wide_rows, DateWindow.of("2023-10-01", "2023-10-02"), partition_by=partition_by)
        read_files: list[int] = []
        real_scan_parquet = pl.scan_parquet
        monkeypatch.setattr(pl, "scan_parquet", lambda files, **kw: read_files.append(len(files)) or
                            real_scan_parquet(files, **kw))
        for window, columns, version, expected in (
                (DateWindow.of("2023-01-01", "2023-12-31"), None, None, 4),
                (DateWindow.of("2023-01-11", "2023-10-01"), ["gameId", "extra", "gameDate"], None, 2),
                (DateWindow.of("2023-01-10", "2023-01-10"), None, pinned, 1),
                (DateWindow.of("2023-05-01", "2023-05-31"), ["value", "gameDate"], None, 0)):
            got = wh.read_frame(table, window, columns) if version is None else \
                pl.from_arrow(wh.read_arrow(table, window, columns, version=version))
            want = by_scan_delta(table, window, columns, version)
            assert got.height == expected and got.schema == want.schema and got.equals(want), (table, window)
        # the files read: a day's own files, or a season's files whose date statistics meet the window
        assert read_files == {"bronze/daily": [4, 2, 1], "silver/seasonal": [2, 2, 1]}[table], table
        monkeypatch.undo()
    # a file another writer made (Spark writes INT96 timestamps): its types are cast to the table's, as
    # scan_delta casts them
    typed = pa.schema([("gameDate", pa.date32()), ("gameId", pa.int64()), ("fetchedAt", pa.timestamp("us", "UTC"))])
    spark = wh.uri("bronze/spark_written")
    DeltaTable.create(spark, schema=typed, partition_by=["gameDate"])
    os.makedirs(os.path.join(spark, "gameDate=2023-01-10"))
    path = os.path.join(spark, "gameDate=2023-01-10", "part-0.parquet")
    pq.write_table(pa.table({"gameId": pa.array([7], pa.int32()),
                             "fetchedAt": pa.array([1673312523000000123], pa.timestamp("ns"))}),
                   path, use_deprecated_int96_timestamps=True)
    DeltaTable(spark).create_write_transaction(
        [AddAction("gameDate=2023-01-10/part-0.parquet", os.path.getsize(path), {"gameDate": "2023-01-10"},
                   0, True, json.dumps({"numRecords": 1}))], "append", typed, partition_by=["gameDate"])
    got, want = wh.read_frame("bronze/spark_written", DateWindow.of("2023-01-10")), \
        by_scan_delta("bronze/spark_written", DateWindow.of("2023-01-10"))
    assert got.height == 1 and got.schema == want.schema and got.equals(want)
    dv = wh.uri("bronze/deletion_vectors")
    DeltaTable.create(dv, schema=SCHEMA, partition_by=["gameDate"],
                      configuration={"delta.enableDeletionVectors": "true"})
    assert DeltaTable(dv).protocol().min_reader_version > 1
    assert delta._window_scan(DeltaTable(dv), DateWindow.of("2023-01-10"), "gameDate", None) is None


def test_writes_are_yielded_as_they_commit_and_a_failure_after_every_success():
    """`write_as_completed` yields each table when its write ends (the caller's events for it overlap the
    others' writes); every write runs to its end, and the first failure is raised after the successes."""
    slow_may_end = threading.Event()
    ended: list[str] = []

    def write(name: str, wait: threading.Event | None = None, error: Exception | None = None, then: float = 0):
        def run() -> str:
            if wait is not None:
                assert wait.wait(10), "the fast write was not yielded before the slow one ended"
            time.sleep(then)
            ended.append(name)
            if error is not None:
                raise error
            return f"{name} committed"
        return run

    got = []
    writes = {"slow": write("slow", wait=slow_may_end), "fails": write("fails", error=ValueError("disk full")),
              "fast": write("fast")}
    with pytest.raises(ValueError, match="disk full"):
        for table, result in write_as_completed(writes):
            got.append((table, result))
            slow_may_end.set()  # the slow write ends only once a committed table has been handed over
    assert got[0] == ("fast", "fast committed") and sorted(got) == [("fast", "fast committed"),
                                                                  ("slow", "slow committed")]
    assert sorted(ended) == ["fails", "fast", "slow"]

    # a caller that stops early still leaves every write ended; the dict form keeps the order given
    stop_now = threading.Event()
    ended.clear()
    for _ in write_as_completed({"a": write("a"), "b": write("b", wait=stop_now, then=0.3)}):
        stop_now.set()
        break
    assert sorted(ended) == ["a", "b"]
    assert list(write_concurrently({"z": write("z"), "y": write("y")})) == ["z", "y"]
    assert write_concurrently({"one": write("one")}) == {"one": "one committed"}


def test_vacuum_deletes_a_file_no_version_referenced_once_past_the_retention_and_nothing_else(wh):
    wh.replace_window("bronze/t", rows(("2023-10-01", 1, "a")), DateWindow.of("2023-10-01"), partition_by=["gameDate"])
    first = wh.version("bronze/t")
    wh.replace_window("bronze/t", rows(("2023-10-01", 2, "b")), DateWindow.of("2023-10-01"), partition_by=["gameDate"])
    root = wh.uri("bronze/t")
    folder = os.path.join(root, "gameDate=2023-10-01")
    old_orphan, young_orphan = os.path.join(folder, "dead-write.parquet"), os.path.join(folder, "in-flight.parquet")
    for path in (old_orphan, young_orphan):
        with open(path, "wb") as f:
            f.write(b"PAR1")
    long_ago = time.time() - 8 * 24 * 3600  # past the 7-day retention
    os.utime(old_orphan, (long_ago, long_ago))
    assert [os.path.basename(f) for f in wh.vacuum("bronze/t")] == ["dead-write.parquet"]  # the replaced file: young
    assert os.path.exists(old_orphan)  # a dry run by default
    wh.vacuum("bronze/t", dry_run=False)
    assert not os.path.exists(old_orphan) and os.path.exists(young_orphan)
    assert content(wh) == [(date(2023, 10, 1), 2, "b")]
    assert wh.read_arrow("bronze/t", version=first).to_pylist()[0]["value"] == "a"  # time travel intact
