"""Shared fixtures: the loopback NHL API (recorded payloads or simulator) and an isolated warehouse."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nhl_assets.source.client import SourceSettings

REPO = Path(__file__).resolve().parents[1]


def samples_dir() -> Path:
    return Path(os.environ.get("NHL_SAMPLES_DIR") or REPO.parent / "shared" / "nhl_samples")


@pytest.fixture(scope="session")
def nhl_samples() -> Path:
    folder = samples_dir()
    if not (folder / "games").is_dir():
        pytest.skip(f"recorded NHL payloads not found at {folder} (set NHL_SAMPLES_DIR to run this test)")
    return folder


@pytest.fixture
def recorded_server(nhl_samples: Path) -> Iterator:
    from nhl_assets.simulator.cli import start_loopback

    server = start_loopback("recorded", samples_dir=str(nhl_samples))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def league():
    """One simulated league for the whole session (building the calendar is the slow part)."""
    from nhl_assets.simulator.cli import build_league

    return build_league(seed=7)


@pytest.fixture
def sim_server(league) -> Iterator:
    """The simulator at the end of time (every game final); tests change clock/faults as they need."""
    from nhl_assets.simulator.cli import start_loopback

    server = start_loopback("sim", league=league)
    try:
        yield server
    finally:
        server.stop()


def fast_settings(server, **overrides) -> SourceSettings:
    """Source settings for tests: the loopback server, short backoff, no rate limit."""
    values = dict(web_url=server.web_url, stats_url=server.stats_url, timeout_s=2.0, max_attempts=4,
                  backoff_initial_s=0.01, backoff_max_s=0.05, rate_per_second=0.0, concurrency=4)
    values.update(overrides)
    return SourceSettings(**values)


@pytest.fixture
def warehouse_env(tmp_path, monkeypatch) -> Path:
    """An empty warehouse for the test, via NHL_WAREHOUSE (the public interface)."""
    root = tmp_path / "warehouse"
    monkeypatch.setenv("NHL_WAREHOUSE", str(root))
    return root


def point_api_at(monkeypatch, server) -> None:
    monkeypatch.setenv("NHL_API_WEB_URL", server.web_url)
    monkeypatch.setenv("NHL_API_STATS_URL", server.stats_url)
