"""One writer at a time per local Delta table: an exclusive lock that every storage write planned on a
snapshot of a table holds from its plan to its commit.

Why: two commits that only rearrange rows (`dataChange = false`: a compaction, and the split of a file that
straddles a replaced window, `whole_files.split`) do not see each other. delta-rs's conflict check lets a
compaction planned before a split commit after it (reproduced with a stale `DeltaTable`, and with
`max_commit_retries=0` too), so the split's files and the compaction's merged file would both hold the
rows; `tests/test_maintenance.py`'s concurrency test found such duplicates in 4 of 6 runs (stop 33) and 5
of 6 (stop 34) when the split had no lock. A whole-table overwrite planned before either one leaves their
new files beside its own rows as well (a stale `DeltaTable` overwriting a split table: 33 rows where it
wrote 3). A write whose plan and commit happen under this lock cannot interleave with another such write
of the same table, whatever delta-rs's checker lets through; writes that delta-rs checks properly (a window
replace planned before a split: "a concurrent transaction added new data") lose nothing by waiting.

How: an advisory `flock` on `_nhl_writer.lock` in the table's directory (`_`: readers, the log and vacuum
ignore it), released by the operating system if the process dies. The lock is re-entrant within a thread
(a write that runs another write of the same table while it holds the lock, as the storage tests do to
force a race, is not deadlocked) and exclusive across threads and processes. Tables that are not on the
local file system are not locked: `whole_files` neither splits nor replaces their files, and their writes
are delta-rs's alone, as before.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote

#: The lock file in a table's directory.
LOCK_FILE = "_nhl_writer.lock"

_GUARD = threading.Lock()
_THREAD_LOCKS: dict[str, threading.RLock] = {}
#: Lock file -> (its descriptor, depth), set and read only by the thread holding that file's `RLock`.
_HELD: dict[str, tuple[int, int]] = {}


def local_dir(uri: str) -> str | None:
    """The directory of a table at `uri` on the local file system, or None for an object store."""
    if uri.startswith("file://"):
        return unquote(uri[len("file://"):])
    return None if "://" in uri else uri


@contextmanager
def table_writer(uri: str) -> Iterator[None]:
    """Hold the writer lock of the table at `uri` (a no-op for an object store or a table not yet created)."""
    table_dir = local_dir(uri)
    if table_dir is None or not os.path.isdir(table_dir):
        yield
        return
    path = os.path.join(os.path.realpath(table_dir), LOCK_FILE)
    with _GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(path, threading.RLock())
    with thread_lock:
        fd, depth = _HELD.get(path, (-1, 0))
        if depth == 0:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
        _HELD[path] = (fd, depth + 1)
        try:
            yield
        finally:
            if depth == 0:
                del _HELD[path]
                try:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)
            else:
                _HELD[path] = (fd, depth)
