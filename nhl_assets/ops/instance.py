"""The Dagster instance the command line, `make dev` and `make demo` record runs in: `$DAGSTER_HOME`, else
`./.dagster_home`.

Its dagster.yaml turns telemetry off and stores the event log with `BatchingSqliteEventLogStorage`
(`nhl_assets.deploy.event_log`): Dagster's SQLite event log, writing a range run's per-partition events in
one transaction per batch instead of one engine and two transactions per event. Run and schedule storage
stay Dagster's SQLite defaults under the same home.

    python -m nhl_assets.ops.instance    # what `make dev` runs before `dg dev`
"""

from __future__ import annotations

import os
from pathlib import Path

#: What this module wrote before the event log was configured: such a file is brought up to date.
_LEGACY = "telemetry:\n  enabled: false\n"


def instance_yaml(home: Path, *, batching: bool = True) -> str:
    """dagster.yaml for an instance in `home` (absolute paths: Dagster reads them from any directory)."""
    text = _LEGACY
    if batching:
        text += ("event_log_storage:\n"
                 "  module: nhl_assets.deploy.event_log\n"
                 "  class: BatchingSqliteEventLogStorage\n"
                 "  config:\n"
                 f"    base_dir: {(home / 'history' / 'runs').resolve()}\n")
    return text


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
    if not config.exists() or config.read_text() == _LEGACY:
        write_instance_config(home)
    os.environ["DAGSTER_HOME"] = str(home)
    return str(home)


if __name__ == "__main__":
    print(f"DAGSTER_HOME={ensure_dagster_home()}")
