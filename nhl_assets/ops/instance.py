"""The Dagster instance the command line, `make dev` and `make demo` record runs in: `$DAGSTER_HOME`, else
`./.dagster_home`.

Its dagster.yaml turns telemetry off and stores the event log with `BatchingSqliteEventLogStorage`
(`nhl_assets.deploy.event_log`): Dagster's SQLite event log, writing a range run's per-partition events in
one transaction per batch instead of one engine and two transactions per event. Run and schedule storage
stay Dagster's SQLite defaults under the same home.

It also sets `python_logs.python_log_level: INFO`, the level of the console logger of a run started
without logger config (`dagster asset materialize`, runs the daemon and the UI launch:
`dagster._loggers.default_system_loggers`). Dagster logs its events at DEBUG, and a range run has one
materialization per partition per asset: at DEBUG a season's silver replay printed a line for each of its
1,638, formatted and written on the run's main thread while the tables were being written (0.2 s of the
process's py-spy samples). Every event is still stored (`DagsterLogManager.log_dagster_event` logs events
whatever its level), so the UI shows them all; the console keeps what the assets log at INFO and every
failure (ERROR). What the setting also drops: `context.log.debug` messages (the run's log manager takes the
level too), which no asset here writes. The project's own runs set the same console level in their run
config (`nhl_assets.runs.QUIET`).

And it captures a run's stdout and stderr with `MirroringComputeLogManager` (`nhl_assets.deploy.compute_logs`):
Dagster's local compute logs, in Dagster's default folder (`<DAGSTER_HOME>/storage`), shown on the console
by a thread of the run's process instead of a `tail` and a watcher process per stream (0.04 s a run).

    python -m nhl_assets.ops.instance    # what `make dev` runs before `dg dev`
"""

from __future__ import annotations

import os
from pathlib import Path

_TELEMETRY = "telemetry:\n  enabled: false\n"
_CONSOLE = "python_logs:\n  python_log_level: INFO\n"


def _event_log(home: Path) -> str:
    return ("event_log_storage:\n"
            "  module: nhl_assets.deploy.event_log\n"
            "  class: BatchingSqliteEventLogStorage\n"
            "  config:\n"
            f"    base_dir: {(home / 'history' / 'runs').resolve()}\n")


def _compute_logs(home: Path) -> str:
    return ("compute_logs:\n"
            "  module: nhl_assets.deploy.compute_logs\n"
            "  class: MirroringComputeLogManager\n"
            "  config:\n"
            f"    base_dir: {(home / 'storage').resolve()}\n")


def instance_yaml(home: Path, *, batching: bool = True) -> str:
    """dagster.yaml for an instance in `home` (absolute paths: Dagster reads them from any directory);
    `batching=False` keeps Dagster's own event log (the benchmarks' comparison), everything else the same."""
    return _TELEMETRY + (_event_log(home) if batching else "") + _CONSOLE + _compute_logs(home)


def _written_before(home: Path) -> set[str]:
    """What earlier versions of this module wrote for `home`: such a file is brought up to date."""
    return {_TELEMETRY, _TELEMETRY + _event_log(home), _TELEMETRY + _event_log(home) + _CONSOLE}


def write_instance_config(home: Path, *, batching: bool = True) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    config.write_text(instance_yaml(home, batching=batching))
    return config


def ensure_dagster_home() -> str:
    """`$DAGSTER_HOME` (else ./.dagster_home), created with this project's dagster.yaml when it has none.

    A dagster.yaml someone wrote is never touched (only the one this module wrote before is updated)."""
    home = Path(os.environ.get("DAGSTER_HOME") or os.path.abspath(".dagster_home"))
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() in _written_before(home):
        write_instance_config(home)
    os.environ["DAGSTER_HOME"] = str(home)
    return str(home)


if __name__ == "__main__":
    print(f"DAGSTER_HOME={ensure_dagster_home()}")
