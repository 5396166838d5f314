"""The Dagster instance the command line records its runs in: `$DAGSTER_HOME`, else `./.dagster_home`."""

from __future__ import annotations

import os
from pathlib import Path


def ensure_dagster_home() -> str:
    home = os.environ.get("DAGSTER_HOME") or os.path.abspath(".dagster_home")
    os.makedirs(home, exist_ok=True)
    config = Path(home) / "dagster.yaml"
    if not config.exists():  # a local demo instance: no telemetry banner, nothing sent anywhere
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = home
    return home
