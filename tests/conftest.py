"""Shared fixtures: the loopback NHL API (recorded payloads or simulator) and an isolated warehouse; the
guard that keeps tests marked `unit` pure.

Plain helpers and constants are in helpers.py."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import free_port, pg_bin, point_api_at, samples_dir

#: Markers a `unit` test cannot carry (the unit selection must stay fast).
NOT_UNIT = ("slow", "spark")


def pytest_collection_modifyitems(config, items) -> None:
    both = [f"{item.nodeid} ({m})" for item in items if item.get_closest_marker("unit")
            for m in NOT_UNIT if item.get_closest_marker(m)]
    if both:
        raise pytest.UsageError("tests marked both unit and slow/spark: " + ", ".join(both))


@pytest.fixture(autouse=True)
def _unit_tests_stay_pure(request, monkeypatch) -> None:
    """A test marked `unit` fails, naming what it did, as soon as it opens or binds a socket, starts a
    subprocess, creates a Dagster instance (every run and sensor evaluation needs one) or opens or writes a
    Delta table. Other tests are untouched."""
    if request.node.get_closest_marker("unit") is None:
        return
    import dagster
    import deltalake

    import nhl_assets.storage.delta as storage

    def refuse(what: str):
        def refused(*_args, **_kwargs):
            pytest.fail(f"a test marked unit must not {what}: drop the marker or keep the test pure",
                        pytrace=False)
        return refused

    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, refuse("open or bind a socket"))
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("start a subprocess"))
    monkeypatch.setattr(dagster.DagsterInstance, "__init__", refuse("create a Dagster instance (a run or sensor)"))
    monkeypatch.setattr(deltalake.DeltaTable, "__init__", refuse("open a Delta table"))
    monkeypatch.setattr(deltalake.DeltaTable, "create", refuse("create a Delta table"))
    monkeypatch.setattr(storage, "write_deltalake", refuse("write a Delta table"))


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


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server on loopback (Debian's postgresql, started here): the env of the shipped
    dagster.yaml (`DAGSTER_PG_*`); skipped, saying why, where the server binaries are missing."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (Debian package postgresql) not found")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="nhl-pg-"))  # outside pytest's root-only tmp: the server user reads it
    data = base / "data"
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use its own system user
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run the server as")
        base.chmod(0o777)
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", "dagster", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(data.parent / "pg.log"), "-w", "-o",
                    f"-p {port} -k {data.parent} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True)
    try:
        yield {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(port), "DAGSTER_PG_USER": "dagster",
               "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": "postgres"}
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
