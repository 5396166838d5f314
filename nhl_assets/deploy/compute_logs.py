"""Dagster's local compute-log manager, with the captured output shown on the console by a thread of the
run's own process instead of by two processes per stream.

Dagster's `LocalComputeLogManager` captures a run's stdout and stderr at the file descriptors (so what its
child processes write too) into one file per stream, and mirrors each file to the console it took over by
starting a `tail -F` process and a Python process watching that `tail` for orphaning
(`execute_posix_tail`): four processes a run, each stopped at the end with `terminate` and a polled wait.
Measured here on a one-day silver-sized run with no work (6 assets, 7 checks, SQLite instance, medians of
5): 0.133-0.143 s a run with it, 0.094-0.097 s without the mirroring, so 0.04 s of every run on the
instance of `make dev`, the demo and the command line, a season's replay included.

`MirroringComputeLogManager` captures the same way (the same files, keys and completion marker, so the UI
and `dagster` commands read them as before; the descriptors redirected as Dagster redirects them) and
mirrors each file from a thread that copies what was appended every `MIRROR_POLL_S` seconds and once more
when the capture ends, so every byte is on the console before the step's capture is marked complete.
What differs: output reaches the console up to `MIRROR_POLL_S` later than `tail -F`'s, and nothing of the
mirroring outlives the process (Dagster needs its watcher process to stop a `tail` orphaned by a killed
run). A console that cannot be written (closed, a broken pipe) ends the mirroring, never the run: `tail`
dies on it too. Where Dagster would not redirect a stream (no file descriptor, Windows), it does what
Dagster does.

It reaches Dagster's internals (nothing public offers a compute-log manager to extend), so it is pinned
with the event log: `PINNED_DAGSTER` (tests/test_event_log.py). `nhl_assets.ops.instance` configures it
(`compute_logs:` in dagster.yaml) with Dagster's default folder, `<DAGSTER_HOME>/storage`.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from dagster._core.execution.compute_logs import redirect_to_file
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._utils import ensure_file, touch_file

#: Seconds between two copies of a capture file to the console (GNU `tail -F` checks every second, or at
#: once where inotify tells it of a change).
MIRROR_POLL_S = 0.1


def _fileno(stream: Any) -> int | None:
    """The stream's file descriptor, None where it has none (a test's in-memory capture)."""
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Mirror:
    """Copies what `path` holds, from its first byte (as `tail -c +0`), to the file descriptor `fd`: in a
    thread every `MIRROR_POLL_S` seconds until `stop`, which copies the rest."""

    def __init__(self, path: str, fd: int) -> None:
        self._source = open(path, "rb")  # noqa: SIM115 - closed by `stop`
        self._fd = fd
        self._broken = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="compute-log-mirror", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        while not self._broken and (chunk := self._source.read(1 << 16)):
            try:
                _write_all(self._fd, chunk)
            except OSError:  # the console is gone: stop mirroring, keep capturing
                self._broken = True

    def _follow(self) -> None:
        while not self._stopping.wait(MIRROR_POLL_S):
            self._copy()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        try:
            self._copy()
        finally:
            self._source.close()


@contextmanager
def _captured(stream: TextIO, path: str) -> Iterator[None]:
    """`stream`'s file descriptor redirected to `path` by Dagster's own `redirect_to_file`, and what reaches
    `path` copied to where the descriptor pointed before: Dagster's `mirror_stream_to_file`, the copy made in
    this process instead of by `tail`."""
    ensure_file(path)
    fd = _fileno(stream)
    if fd is None:  # Dagster's `redirect_stream` leaves such a stream alone, and its `tail` has nothing to copy
        yield
        return
    console = os.dup(fd)
    try:
        mirror = _Mirror(path, console)
        try:
            with redirect_to_file(stream, path):
                yield
        finally:
            mirror.stop()
    finally:
        os.close(console)


class MirroringComputeLogManager(LocalComputeLogManager):
    """Dagster's `LocalComputeLogManager`, mirroring to the console from a thread (see the module). Configured
    in dagster.yaml as

        compute_logs:
          module: nhl_assets.deploy.compute_logs
          class: MirroringComputeLogManager
          config: {base_dir: <DAGSTER_HOME>/storage}
    """

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> MirroringComputeLogManager:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def capture_logs(self, log_key: Sequence[str]) -> Iterator[CapturedLogContext]:
        if os.name == "nt":  # Dagster's own capture (its Windows mirroring, or none)
            with super().capture_logs(log_key) as context:
                yield context
            return
        out = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDOUT])
        err = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDERR])
        with _captured(sys.stdout, out), _captured(sys.stderr, err):
            yield CapturedLogContext(log_key)
        touch_file(self.complete_artifact_path(log_key))  # as Dagster's: readers know the capture is complete
