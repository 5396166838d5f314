"""Shared fixtures: the loopback NHL API (recorded payloads or simulator) and an isolated warehouse.

Plain helpers and constants are in helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import point_api_at, samples_dir


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


@pytest.fixture
def warehouse_env(tmp_path, monkeypatch) -> Path:
    """An empty warehouse for the test, via NHL_WAREHOUSE (the public interface)."""
    root = tmp_path / "warehouse"
    monkeypatch.setenv("NHL_WAREHOUSE", str(root))
    return root


@pytest.fixture
def sim_env(sim_server, warehouse_env, monkeypatch):
    """The simulator as the live API (via NHL_API_*_URL) and an empty warehouse."""
    point_api_at(monkeypatch, sim_server)
    return sim_server
