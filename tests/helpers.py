"""Plain helpers and constants shared by the test modules (fixtures live in conftest.py).

Test modules import from here, never from one another or from conftest.py.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import polars as pl

from nhl_assets.source.types import SourceSettings
from nhl_assets.storage.delta import Warehouse

REPO = Path(__file__).resolve().parents[1]

#: Run config for runs against a loopback API: short backoff, few attempts, no rate limit.
FAST_API = {"resources": {"nhl_api": {"config": {"backoff_initial_s": 0.01, "backoff_max_s": 0.05,
                                                  "max_attempts": 3, "rate_per_second": 0}}}}


def samples_dir() -> Path:
    """The recorded real NHL payloads: $NHL_SAMPLES_DIR, else ../shared/nhl_samples beside the repository."""
    return Path(os.environ.get("NHL_SAMPLES_DIR") or REPO.parent / "shared" / "nhl_samples")


def point_api_at(monkeypatch, server) -> None:
    """Route the live source to a loopback server, through the public environment variables."""
    monkeypatch.setenv("NHL_API_WEB_URL", server.web_url)
    monkeypatch.setenv("NHL_API_STATS_URL", server.stats_url)


def fast_settings(server, **overrides) -> SourceSettings:
    """Source settings for tests: the loopback server, short backoff, no rate limit."""
    values = dict(web_url=server.web_url, stats_url=server.stats_url, timeout_s=2.0, max_attempts=4,
                  backoff_initial_s=0.01, backoff_max_s=0.05, rate_per_second=0.0, concurrency=4)
    values.update(overrides)
    return SourceSettings(**values)


def read(table: str) -> pl.DataFrame:
    """A table of the test's warehouse ($NHL_WAREHOUSE) as a polars frame; empty when it does not exist."""
    t = Warehouse(os.environ["NHL_WAREHOUSE"]).read_arrow(table)
    return pl.DataFrame() if t is None else pl.from_arrow(t)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name: str) -> str | None:
    """A PostgreSQL program (initdb, pg_ctl, psql) on PATH or in Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None
