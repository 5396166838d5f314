"""The per-table writer lock (`storage.writer_lock`): exclusive across threads and processes, re-entrant in
its thread, held by every storage write that plans on a snapshot (window replaces and their splits,
compactions, migrations' rewrites, restores), absent for object stores."""

import os
import subprocess
import sys
import threading
from datetime import date, timedelta

import pyarrow as pa
import pytest

from nhl_assets.dates import DateWindow
from nhl_assets.storage import maintenance as mt
from nhl_assets.storage.delta import Warehouse
from nhl_assets.storage.writer_lock import LOCK_FILE, local_dir, table_writer

SCHEMA = pa.schema([("gameDate", pa.date32()), ("gameId", pa.int64()), ("season", pa.int32()),
                    ("value", pa.string())])
START = date(2023, 10, 10)
WAIT_S = 0.6  # how long a blocked writer is given to (wrongly) get through


def _day(i: int, tag: str) -> pa.Table:
    day = START + timedelta(days=i)
    return pa.Table.from_pylist([{"gameDate": day, "gameId": i * 10 + k, "season": 20232024, "value": f"{tag}{k}"}
                                 for k in range(3)], schema=SCHEMA)


def _replace(wh: Warehouse, i: int, tag: str) -> None:
    day = START + timedelta(days=i)
    wh.replace_window("silver/t", _day(i, tag), DateWindow(day, day), partition_by=["season"])


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    wh = Warehouse(str(tmp_path / "warehouse"), create_missing=True)
    wh.create_table("silver/t", SCHEMA, ["season"])
    for i in range(4):
        _replace(wh, i, "v1-")
    return wh


def _blocked_while_held(wh: Warehouse, write) -> None:
    """`write` (another thread) does not commit while this thread holds the table's lock, then does."""
    before = wh.version("silver/t")
    finished = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            write()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            finished.set()

    with table_writer(wh.uri("silver/t")):
        thread = threading.Thread(target=run)
        thread.start()
        assert not finished.wait(WAIT_S), "the write went through while another writer held the table"
        assert wh.version("silver/t") == before
    thread.join(timeout=60)
    assert finished.is_set() and not errors, errors
    assert wh.version("silver/t") > before


def test_a_window_replace_waits_for_the_table_s_writer(wh):
    _blocked_while_held(wh, lambda: _replace(Warehouse(wh.root), 1, "v2-"))


def test_a_compaction_waits_for_the_table_s_writer(wh):
    _blocked_while_held(wh, lambda: mt.compact(Warehouse(wh.root), "silver/t", None, 32 * mt.MIB))


def test_a_rewrite_and_a_restore_wait_for_the_table_s_writer(wh):
    other = Warehouse(wh.root)
    _blocked_while_held(wh, lambda: other.rewrite_table("silver/t", _day(0, "v3-")))
    _blocked_while_held(wh, lambda: other.restore("silver/t", 2, reason="test"))


def test_the_lock_is_exclusive_across_processes(wh):
    path = os.path.join(os.path.realpath(local_dir(wh.uri("silver/t"))), LOCK_FILE)
    probe = ("import fcntl, os, sys\n"
             "fd = os.open(sys.argv[1], os.O_RDWR)\n"
             "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n"
             "sys.exit(0)\n")
    with table_writer(wh.uri("silver/t")):
        assert subprocess.run([sys.executable, "-c", probe, path]).returncode == 3  # held: refused
    assert subprocess.run([sys.executable, "-c", probe, path]).returncode == 0  # released


def test_the_lock_is_re_entrant_in_its_thread_and_released_once_left(wh):
    uri = wh.uri("silver/t")

    def nested() -> None:
        with table_writer(uri):
            with table_writer(uri):  # a write inside a write of the same table (the storage tests' races)
                _replace(wh, 2, "v2-")
            _replace(wh, 3, "v2-")

    thread = threading.Thread(target=nested, daemon=True)  # a lock that is not re-entrant hangs, not this test
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the lock is not re-entrant: the nested write waits for its own thread"
    assert {r["value"][:3] for r in wh.read_arrow("silver/t").to_pylist()
            if r["gameDate"] in (START + timedelta(days=2), START + timedelta(days=3))} == {"v2-"}
    _blocked_while_held(wh, lambda: _replace(Warehouse(wh.root), 1, "v2-"))  # free again, then held again


def test_object_stores_and_missing_tables_take_no_lock(tmp_path):
    assert local_dir("s3://bucket/warehouse/silver/t") is None
    assert local_dir("file:///tmp/a%20b") == "/tmp/a b"
    missing = tmp_path / "not-yet"
    with table_writer(str(missing)), table_writer("s3://bucket/warehouse/silver/t"):
        pass
    assert not missing.exists()  # nothing created for a table that does not exist
