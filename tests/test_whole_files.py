"""The whole-file window replace (`storage.whole_files`): the same table, the same change data feed and the
same history as delta-rs's own replace, without rewriting the replaced rows; delta-rs's replace wherever a
file holds rows of the window beside others; no duplicate, no stray file when another writer commits first."""

import json
import os
import time
from datetime import date, timedelta

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from nhl_assets.dates import DateWindow
from nhl_assets.storage import whole_files
from nhl_assets.storage.delta import RowsOutsideWindow, Warehouse

SCHEMA = pa.schema([("gameDate", pa.date32()), ("gameId", pa.int64()), ("season", pa.int32()),
                    ("value", pa.string())])
TABLE = "silver/t"  # partitioned by season and replaced by game date, as silver and gold are


def rows(start: str, days: int, tag: str, per_day: int = 3) -> pa.Table:
    first = date.fromisoformat(start)
    out = []
    for d in range(days):
        day = first + timedelta(days=d)
        season = day.year * 10000 + day.year + 1 if day.month >= 9 else (day.year - 1) * 10000 + day.year
        out += [{"gameDate": day, "gameId": int(day.strftime("%Y%m%d")) * 10 + i, "season": season,
                 "value": f"{tag}{i}"} for i in range(per_day)]
    return pa.Table.from_pylist(out, schema=SCHEMA)


def window(start: str, days: int) -> DateWindow:
    first = date.fromisoformat(start)
    return DateWindow(first, first + timedelta(days=days - 1))


def write(wh: Warehouse, start: str, days: int, tag: str, **kwargs):
    return wh.replace_window(TABLE, rows(start, days, tag, **kwargs), window(start, days), partition_by=["season"])


def content(wh: Warehouse) -> list[tuple]:
    return sorted(tuple(r.values()) for r in wh.read_arrow(TABLE).to_pylist())


def feed(wh: Warehouse, version: int) -> list[tuple]:
    """The change data feed of one version, without its commit time."""
    t = wh.changes(TABLE, version, version).drop_columns(["_commit_timestamp"])
    return sorted(tuple(r.values()) for r in t.to_pylist())


def last_commit(wh: Warehouse) -> list[dict]:
    log = os.path.join(wh.uri(TABLE), "_delta_log", f"{wh.version(TABLE):020d}.json")
    with open(log) as f:
        return [json.loads(line) for line in f if line.strip()]


def referenced(wh: Warehouse) -> set[str]:
    """Every data file any version of the table added."""
    log = os.path.join(wh.uri(TABLE), "_delta_log")
    out = set()
    for v in range(wh.version(TABLE) + 1):
        with open(os.path.join(log, f"{v:020d}.json")) as f:
            out |= {a["add"]["path"] for a in map(json.loads, filter(str.strip, f)) if "add" in a}
    return out


def data_files(wh: Warehouse) -> set[str]:
    root = wh.uri(TABLE)
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
            if f.endswith(".parquet") and "_change_data" not in d and whole_files.STAGING_DIR not in d}


@pytest.fixture
def twins(tmp_path, monkeypatch):
    """(delta-rs's replace only, the whole-file replace where it applies): two warehouses written alike."""
    rewrite, whole = Warehouse(str(tmp_path / "rewrite"), create_missing=True), \
        Warehouse(str(tmp_path / "whole"), create_missing=True)
    real_plan, real_split = whole_files.plan, whole_files.split

    def plan(dt, uri, *args):
        return None if uri.startswith(rewrite.root) else real_plan(dt, uri, *args)

    def split(dt, uri, *args):
        return False if uri.startswith(rewrite.root) else real_split(dt, uri, *args)

    monkeypatch.setattr(whole_files, "plan", plan)
    monkeypatch.setattr(whole_files, "split", split)
    return rewrite, whole


def test_whole_files_give_delta_rs_s_table_feed_and_history_without_change_data_files(twins):
    rewrite, whole = twins
    steps = [("2023-10-10", 6, "a"), ("2023-10-10", 6, "b"), ("2023-10-16", 4, "c"), ("2023-10-10", 10, "d"),
             ("2024-08-28", 8, "e"), ("2024-08-28", 8, "f")]  # 2024-09-01 starts a season: two partitions
    for step, (start, days, tag) in enumerate(steps):
        if step == 3:  # the plan then reads the files' statistics from a checkpoint
            for wh in twins:
                wh.open(TABLE).create_checkpoint()
        for wh in twins:
            before = wh.version(TABLE)
            write(wh, start, days, tag)
        assert content(whole) == content(rewrite)
        version = whole.version(TABLE)
        assert feed(whole, version) == feed(rewrite, version)
        got, want = whole.history(TABLE, 1)[0], rewrite.history(TABLE, 1)[0]
        assert got["rows_added"] == want["rows_added"] == len(rows(start, days, tag))
        deleted = sum(1 for r in feed(whole, version) if r[-2] == "delete")
        assert got["nhl_operation"] == "replace_window" and got["window"] == want["window"]
        if deleted:  # delta-rs records no deleted-row count for a write; the whole-file commit does
            assert before is not None and got["rows_removed"] == deleted and want["rows_removed"] is None
            actions = last_commit(whole)
            assert not any("cdc" in a for a in actions)  # nothing rewritten, no _change_data
            assert any("cdc" in a for a in last_commit(rewrite))  # delta-rs wrote the rows again
            assert {"add", "remove"} <= {k for a in actions for k in a}
    last = feed(whole, whole.version(TABLE))
    assert len(last) == 2 * 8 * 3 and {r[3] for r in last} == {20232024, 20242025}  # 24 out, 24 in, 2 seasons
    assert not os.listdir(os.path.join(whole.uri(TABLE), whole_files.STAGING_DIR))  # staging removed


def commits(wh: Warehouse, version: int) -> list[dict]:
    with open(os.path.join(wh.uri(TABLE), "_delta_log", f"{version:020d}.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_a_file_straddling_the_window_is_split_without_a_data_change_then_replaced_whole(twins):
    rewrite, whole = twins
    for wh in twins:
        write(wh, "2023-10-10", 10, "a")  # one file: 10-10..10-19
    before = content(whole)
    for wh in twins:
        write(wh, "2023-10-12", 6, "b")  # most of it: the file holds rows before and after the window too
    assert content(whole) == content(rewrite)
    assert {r[3][0] for r in content(whole) if date(2023, 10, 12) <= r[0] <= date(2023, 10, 17)} == {"b"}
    assert {r[3][0] for r in content(whole) if not date(2023, 10, 12) <= r[0] <= date(2023, 10, 17)} == {"a"}
    split = whole.version(TABLE) - 1
    assert whole.version(TABLE) == rewrite.version(TABLE) + 1  # one more commit: the split
    actions = commits(whole, split)
    assert [a["add"]["dataChange"] for a in actions if "add" in a] == [False] * 3  # before, in, after the window
    assert [a["remove"]["dataChange"] for a in actions if "remove" in a] == [False]
    assert not any("cdc" in a for a in actions) and feed(whole, split) == []  # no change of content
    assert sorted(tuple(r.values()) for r in whole.read_arrow(TABLE, version=split).to_pylist()) == before
    assert whole.history(TABLE, 2)[1]["nhl_operation"] == "split_window"
    assert not any("cdc" in a for a in last_commit(whole))  # then the window's own file, replaced whole
    assert [r[:-1] for r in feed(whole, whole.version(TABLE))] == [r[:-1] for r in feed(rewrite, rewrite.version(TABLE))]
    assert any("cdc" in a for a in last_commit(rewrite))  # where delta-rs wrote the rows again
    again = whole.version(TABLE)
    write(whole, "2023-10-12", 6, "c")  # the same window again: its file replaced whole, no split
    assert whole.version(TABLE) == again + 1 and not any("cdc" in a for a in last_commit(whole))
    write(whole, "2023-10-10", 10, "d")  # a window holding it and the rows left beside it: no split either
    assert whole.version(TABLE) == again + 2 and not any("cdc" in a for a in last_commit(whole))
    assert {r[3][0] for r in content(whole)} == {"d"} and len(content(whole)) == 30
    assert data_files(whole) <= referenced(whole)
    assert not os.listdir(os.path.join(whole.uri(TABLE), whole_files.STAGING_DIR))


def test_a_split_reads_a_file_older_than_a_column_as_every_reader_does(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 10, "a")
    later = rows("2023-11-10", 2, "n").append_column("note", pa.array(["x"] * 6))
    wh.replace_window(TABLE, later, window("2023-11-10", 2), partition_by=["season"])  # adds the column
    before = content(wh)
    version = wh.version(TABLE)
    wh.replace_window(TABLE, rows("2023-10-12", 6, "b").append_column("note", pa.array(["y"] * 18)),
                      window("2023-10-12", 6), partition_by=["season"])
    assert wh.version(TABLE) == version + 2  # split, then replaced whole
    assert sorted(tuple(r.values()) for r in wh.read_arrow(TABLE, version=version + 1).to_pylist()) == before
    assert {r["note"] for r in wh.read_arrow(TABLE).to_pylist() if r["value"][0] == "a"} == {None}


def test_a_window_of_less_than_half_a_file_leaves_it_to_delta_rs_and_half_of_it_splits_it(tmp_path):
    """`SPLIT_MIN_SHARE`: a day's window in a longer file (the daily runs) is not worth a split."""
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 10, "a")  # one file: 10-10..10-19
    version = wh.version(TABLE)
    write(wh, "2023-10-12", 4, "b")  # 4 of its 10 dates
    assert wh.version(TABLE) == version + 1 and any("cdc" in a for a in last_commit(wh))  # delta-rs, no split
    write(wh, "2023-10-20", 10, "c")  # a file of its own: 10-20..10-29
    version = wh.version(TABLE)
    write(wh, "2023-10-22", 5, "d")  # 5 of its 10 dates: split, then replaced whole
    assert wh.version(TABLE) == version + 2 and wh.history(TABLE, 2)[1]["nhl_operation"] == "split_window"
    assert not any("cdc" in a for a in last_commit(wh))
    assert content(wh) == sorted(
        tuple(r.values()) for r in [*rows("2023-10-10", 2, "a").to_pylist(), *rows("2023-10-12", 4, "b").to_pylist(),
                                    *rows("2023-10-16", 4, "a").to_pylist(), *rows("2023-10-20", 2, "c").to_pylist(),
                                    *rows("2023-10-22", 5, "d").to_pylist(), *rows("2023-10-27", 3, "c").to_pylist()])


def test_a_file_the_split_cannot_read_leaves_the_replace_to_delta_rs(tmp_path, monkeypatch):
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 10, "a")

    def unreadable(*_args):
        raise pa.ArrowInvalid("a partition value this module does not convert")

    monkeypatch.setattr(whole_files, "_read_file", unreadable)
    version = wh.version(TABLE)
    assert write(wh, "2023-10-12", 6, "b").version == version + 1  # no split commit
    assert any("cdc" in a for a in last_commit(wh))
    assert {r["value"][0] for r in wh.read_arrow(TABLE).to_pylist()
            if date(2023, 10, 12) <= r["gameDate"] <= date(2023, 10, 17)} == {"b"}
    assert not os.path.exists(os.path.join(wh.uri(TABLE), whole_files.STAGING_DIR))  # nothing staged


def test_a_split_losing_the_race_leaves_the_replace_to_delta_rs(tmp_path, monkeypatch):
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 10, "a")
    real, calls = whole_files._staged_adds, []

    def racing(stage):
        calls.append(stage)
        if len(calls) == 1:  # another run commits a window of its own while the split is staged
            write(wh, "2023-10-25", 2, "other")
        return real(stage)

    monkeypatch.setattr(whole_files, "_staged_adds", racing)
    version = wh.version(TABLE)
    res = write(wh, "2023-10-12", 6, "b")
    assert len(calls) == 1  # a split was staged
    assert res.version == version + 2  # the other run's commit, then delta-rs's replace; no split
    assert any("cdc" in a for a in last_commit(wh))
    assert all(a["add"]["dataChange"] for v in range(res.version + 1) for a in commits(wh, v) if "add" in a)
    assert content(wh) == sorted(tuple(r.values()) for r in rows("2023-10-10", 2, "a").to_pylist()
                                 + rows("2023-10-12", 6, "b").to_pylist() + rows("2023-10-18", 2, "a").to_pylist()
                                 + rows("2023-10-25", 2, "other").to_pylist())
    assert data_files(wh) <= referenced(wh)  # the losing split's files were deleted


def test_the_plan_needs_statistics_a_change_data_feed_and_files_of_the_window(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 5, "a")
    dt = wh.open(TABLE)
    assert whole_files.plan(dt, wh.uri(TABLE), window("2023-10-10", 5), "gameDate") is not None
    assert whole_files.plan(dt, wh.uri(TABLE), window("2023-11-10", 5), "gameDate") is None  # no file to remove
    assert whole_files.plan(dt, wh.uri(TABLE), window("2023-10-10", 2), "gameDate") is None  # straddles
    assert whole_files.split(dt, wh.uri(TABLE), window("2023-11-10", 5), "gameDate", {}) is False  # nothing to
    assert whole_files.split(dt, "s3://bucket/silver/t", window("2023-10-10", 2), "gameDate", {}) is False
    assert whole_files.plan(dt, "s3://bucket/silver/t", window("2023-10-10", 5), "gameDate") is None
    dt.alter.set_table_properties({"delta.enableChangeDataFeed": "false"})
    dt = wh.open(TABLE)
    assert whole_files.plan(dt, wh.uri(TABLE), window("2023-10-10", 5), "gameDate") is None
    by_date = Warehouse(str(tmp_path / "by_date"), create_missing=True)
    by_date.replace_window(TABLE, rows("2023-10-10", 2, "a"), window("2023-10-10", 2), partition_by=["gameDate"])
    assert whole_files.plan(by_date.open(TABLE), by_date.uri(TABLE), window("2023-10-10", 2), "gameDate") is None


def test_rows_outside_the_window_are_refused_and_nothing_is_left_behind(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 5, "a")
    version, files = wh.version(TABLE), data_files(wh)
    with pytest.raises(RowsOutsideWindow):
        wh.replace_window(TABLE, rows("2023-10-10", 6, "b"), window("2023-10-10", 5), partition_by=["season"])
    assert wh.version(TABLE) == version and data_files(wh) == files
    assert not os.listdir(os.path.join(wh.uri(TABLE), whole_files.STAGING_DIR))


def test_a_writer_committing_first_sends_the_replace_to_delta_rs_without_a_duplicate_or_a_stray_file(
        tmp_path, monkeypatch):
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 3, "a")  # 10-10..10-12
    write(wh, "2023-10-20", 5, "x")
    real, calls = whole_files._staged_adds, []

    def racing(stage):
        calls.append(stage)
        if len(calls) == 1:  # another run writes days of the window, in a file of its own, before the commit
            write(wh, "2023-10-13", 2, "other")
        return real(stage)

    monkeypatch.setattr(whole_files, "_staged_adds", racing)
    version = wh.version(TABLE)
    res = write(wh, "2023-10-10", 5, "b")  # planned to remove only the 10-10..10-12 file
    assert len(calls) == 1 and res.version == version + 2  # the other run's commit, then this one's
    assert any("cdc" in a for a in last_commit(wh))  # the retry was delta-rs's replace
    assert content(wh) == sorted(tuple(r.values()) for r in
                                 rows("2023-10-10", 5, "b").to_pylist() + rows("2023-10-20", 5, "x").to_pylist())
    assert data_files(wh) <= referenced(wh)  # the losing attempt's files were deleted


def test_a_staging_directory_left_by_a_dead_process_is_swept_once_stale(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 5, "a")
    staging = os.path.join(wh.uri(TABLE), whole_files.STAGING_DIR)
    old, young, writing = (os.path.join(staging, n) for n in ("dead", "in-flight", "long-write"))
    for d in (old, young, writing):
        os.makedirs(os.path.join(d, "season=20232024"))
    with open(os.path.join(writing, "season=20232024", "part-0.parquet"), "wb") as f:
        f.write(b"PAR1")  # a file still being written, in a directory made long ago
    stale = time.time() - whole_files.STALE_STAGING_S - 60
    for d in (old, writing):
        os.utime(d, (stale, stale))
    write(wh, "2023-10-10", 5, "b")
    assert sorted(os.listdir(staging)) == ["in-flight", "long-write"]
    assert {r[3][0] for r in content(wh)} == {"b"} and data_files(wh) <= referenced(wh)  # the sweep's replace landed


def test_staged_files_that_do_not_hold_the_rows_written_commit_nothing(tmp_path, monkeypatch):
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 5, "a")
    version, files = wh.version(TABLE), data_files(wh)
    real = whole_files._staged_adds
    monkeypatch.setattr(whole_files, "_staged_adds", lambda stage: real(stage)[1:])  # a file lost
    with pytest.raises(whole_files.StagingMismatch, match="hold 0 rows where 15 were written"):
        write(wh, "2023-10-10", 5, "b")
    assert wh.version(TABLE) == version and data_files(wh) == files
    assert {r[3] for r in content(wh)} == {"a0", "a1", "a2"}


def test_constraints_and_streams_are_left_to_delta_rs(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 5, "a")
    stream = rows("2023-10-10", 5, "b").to_reader()  # read once: a lost race could not be planned again
    wh.replace_window(TABLE, stream, window("2023-10-10", 5), partition_by=["season"])
    assert any("cdc" in a for a in last_commit(wh))
    wh.open(TABLE).alter.add_constraint({"known_id": "gameId > 0"})
    assert whole_files.plan(wh.open(TABLE), wh.uri(TABLE), window("2023-10-10", 5), "gameDate") is None
    append_only = Warehouse(str(tmp_path / "append_only"), create_missing=True)
    write(append_only, "2023-10-10", 5, "a")
    append_only.open(TABLE).alter.set_table_properties({"delta.appendOnly": "true"})
    assert whole_files.plan(append_only.open(TABLE), append_only.uri(TABLE), window("2023-10-10", 5),
                            "gameDate") is None


def _make_stale(stage: str) -> None:
    stale = time.time() - whole_files.STALE_STAGING_S - 60
    for folder, dirs, files in os.walk(stage):
        for name in dirs + files:
            os.utime(os.path.join(folder, name), (stale, stale))
    os.utime(stage, (stale, stale))


def _failing_commit(monkeypatch, *, after_committing: bool) -> None:
    """The next whole-file commit raises a DeltaError (not a lost race) before or after it commits."""
    from deltalake.exceptions import DeltaError

    real = DeltaTable.create_write_transaction

    def failing(self, *args, **kwargs):
        monkeypatch.setattr(DeltaTable, "create_write_transaction", real)
        if after_committing:
            real(self, *args, **kwargs)
        raise DeltaError("the connection dropped")

    monkeypatch.setattr(DeltaTable, "create_write_transaction", failing)


@pytest.mark.parametrize("committed", [False, True], ids=["failed-before-committing", "failed-after-committing"])
def test_a_commit_of_unknown_outcome_keeps_its_files_until_the_next_version_decides(tmp_path, monkeypatch,
                                                                                     committed):
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 5, "a")
    planned_on = wh.version(TABLE)
    _failing_commit(monkeypatch, after_committing=committed)
    with pytest.raises(Exception, match="the connection dropped"):
        write(wh, "2023-10-10", 5, "b")
    staging = os.path.join(wh.uri(TABLE), whole_files.STAGING_DIR)
    (stage,) = [os.path.join(staging, d) for d in os.listdir(staging)]  # kept: the outcome is unknown
    with open(os.path.join(stage, whole_files.MANIFEST)) as f:
        moved = json.load(f)
    assert moved["version"] == planned_on and moved["paths"]
    assert wh.version(TABLE) == planned_on + committed
    assert {r["value"][0] for r in wh.read_arrow(TABLE).to_pylist()} == {"b" if committed else "a"}
    _make_stale(stage)
    write(wh, "2023-10-10", 5, "c")  # its sweep: decided if version planned_on + 1 exists
    on_disk = {p: os.path.exists(os.path.join(wh.uri(TABLE), p)) for p in moved["paths"]}
    if committed:  # version planned_on + 1 took the files: kept for time travel, the directory swept
        assert all(on_disk.values()) and not os.path.exists(stage)
        assert {r["value"][0] for r in wh.read_arrow(TABLE, version=planned_on + 1).to_pylist()} == {"b"}
    else:  # no version could take them yet when "c" swept; "c" itself became that version
        assert all(on_disk.values()) and os.path.exists(stage)
        write(wh, "2023-10-10", 5, "d")
        assert not any(os.path.exists(os.path.join(wh.uri(TABLE), p)) for p in moved["paths"])
        assert not os.path.exists(stage)
    assert data_files(wh) <= referenced(wh)
    assert {r["value"][0] for r in wh.read_arrow(TABLE).to_pylist()} == {"c" if committed else "d"}


def test_planning_a_replace_imports_no_pandas(tmp_path):
    """The plan reads the log's add actions through the Arrow stream interface: `pa.table(...)` would
    import pandas first (0.17-0.27 s a process) to ask whether its argument is a pandas frame."""
    import subprocess
    import sys

    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    write(wh, "2023-10-10", 10, "a")
    code = ("import sys\nfrom datetime import date\nfrom nhl_assets.dates import DateWindow\n"
            "from nhl_assets.storage import whole_files\nfrom nhl_assets.storage.delta import Warehouse\n"
            f"wh = Warehouse({wh.root!r})\ndt = wh.open({TABLE!r})\n"
            f"window = DateWindow(date(2023, 10, 10), date(2023, 10, 19))\n"
            f"assert whole_files.plan(dt, wh.uri({TABLE!r}), window, 'gameDate') is not None\n"
            "assert len(whole_files.add_actions(dt)) == 1\n"
            "print('pandas' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
