"""The compute logs of the command line's instance (`nhl_assets.deploy.compute_logs`): a run's stdout and
stderr captured to Dagster's files and shown on the console, mirrored by a thread instead of `tail`
processes."""

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from nhl_assets.deploy import compute_logs as cl

#: A run of an asset writing every way a step's output is written (print, the file descriptors, a child
#: process), on an instance with this project's dagster.yaml, recording every process Dagster starts.
_RUN = textwrap.dedent("""
    import os, subprocess, sys
    from pathlib import Path
    import dagster as dg
    from nhl_assets.ops.instance import write_instance_config

    started = []
    popen_init = subprocess.Popen.__init__
    def recording(self, args, *a, **k):
        started.append(args)
        popen_init(self, args, *a, **k)
    subprocess.Popen.__init__ = recording

    @dg.asset
    def noisy() -> None:
        print("out: print")
        os.write(1, b"out: fd 1\\n")
        os.write(2, b"err: fd 2\\n")
        print("err: print", file=sys.stderr)
        subprocess.run([sys.executable, "-c", "print('out: a child process')"], check=True)

    home = Path(sys.argv[1])
    write_instance_config(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.compute_log_manager).__name__ == "MirroringComputeLogManager"
        assert dg.materialize([noisy], instance=instance).success
    print("started: " + repr([a for a in started if "python" not in str(a[0])]))
""")


def test_a_runs_output_is_captured_to_dagsters_files_and_shown_on_the_console(tmp_path):
    done = subprocess.run([sys.executable, "-c", _RUN, str(tmp_path / "home")], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    captured = tmp_path / "home" / "storage"  # Dagster's default folder of a local instance's compute logs
    outs, errs = list(captured.rglob("*.out")), list(captured.rglob("*.err"))
    assert len(outs) == len(errs) == 1 and list(captured.rglob("*.complete"))
    out, err = outs[0].read_text(), errs[0].read_text()
    for line in ("out: print", "out: fd 1", "out: a child process"):
        assert line in out and line in done.stdout  # captured, and mirrored to the console
    for line in ("err: fd 2", "err: print"):
        assert line in err and line in done.stderr
    assert "started: []" in done.stdout  # no `tail` (the only processes started: the asset's own Python)


def test_a_console_that_cannot_be_written_ends_the_mirroring_not_the_capture(tmp_path):
    path = tmp_path / "stdout.out"
    path.write_text("before\n")
    read, write = os.pipe()
    os.close(read)  # nobody reads the console any more: writing to it fails (EPIPE)
    try:
        mirror = cl._Mirror(str(path), write)
        with path.open("a") as f:
            f.write("after\n")
        mirror.stop()  # no error
    finally:
        os.close(write)
    assert path.read_text() == "before\nafter\n"


def test_the_mirror_copies_every_byte_once_in_order(tmp_path):
    path = tmp_path / "stdout.out"
    path.write_text("")
    read, write = os.pipe()
    try:
        mirror = cl._Mirror(str(path), write)
        with path.open("a") as f:
            for i in range(2000):
                f.write(f"line {i}\n")
                if i % 500 == 0:
                    f.flush()
        mirror.stop()  # the last copy after the thread stopped
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as console:
        assert console.read().decode() == "".join(f"line {i}\n" for i in range(2000))


def test_a_stream_without_a_file_descriptor_is_left_alone(tmp_path):
    """As Dagster's redirect does: nothing to redirect or mirror, the capture file still made."""
    stream = io.StringIO()
    with cl._captured(stream, str(tmp_path / "x.out")):
        stream.write("kept in the stream")
    assert stream.getvalue() == "kept in the stream" and (tmp_path / "x.out").read_text() == ""
