"""The `dg` workflow: the `[tool.dg]` project of pyproject.toml loads the same code location as
`dagster dev` / `-m nhl_assets.definitions`, with the venv's own `dg` (no uv, no network).

`dg check defs` and `dg list defs` must load the definitions and fail when they do not load; `dg launch`
materializes a partition range from the loopback simulator; `make dev` serves `dg dev` on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from importlib.metadata import version
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance

from .helpers import REPO

BIN = Path(sys.executable).parent
DG = BIN / "dg"
BRONZE = ("schedule", "boxscore", "play_by_play", "shift_charts", "games")


#: dg's warning when the venv it runs in is not the project's .venv (it would then load the code with
#: another environment's packages).
MISMATCH = "does not match the virtual environment found in the project"


def _runs_in_the_project_venv() -> bool:
    """True under `make test` (.venv) or where the repo has no .venv of its own."""
    project_venv = REPO / ".venv"
    return not project_venv.exists() or project_venv.resolve() == Path(sys.prefix).resolve()


def dg_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `dg` command run from the activated project venv, with its own warehouse and
    Dagster instance (nothing of the caller's NHL_* settings leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NHL_")}
    env.update(NHL_WAREHOUSE=str(tmp_path / "warehouse"), DAGSTER_HOME=str(tmp_path / "dagster_home"),
               VIRTUAL_ENV=sys.prefix, PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", **extra)
    return env


def dg(tmp_path: Path, *args: str, timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess:
    assert DG.exists(), f"{DG} missing: dagster-dg-cli is a pinned dependency (pip install -r requirements.lock)"
    return subprocess.run([str(DG), *args], cwd=str(REPO), env=dg_env(tmp_path, **extra_env),
                          capture_output=True, text=True, timeout=timeout)


def expected_definitions(tmp_path: Path, monkeypatch) -> dict[str, set[str]]:
    """What `dagster ... -m nhl_assets.definitions` loads, built in this process."""
    monkeypatch.setenv("NHL_WAREHOUSE", str(tmp_path / "warehouse"))
    from nhl_assets.definitions import build_definitions

    repo = build_definitions().get_repository_def()
    return {
        "assets": {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()},
        "asset_checks": {k.to_user_string() for k in repo.asset_graph.asset_check_keys},
        "jobs": {j.name for j in repo.get_all_jobs() if not j.name.startswith("__")},
        "schedules": {s.name for s in repo.schedule_defs},
        "sensors": {s.name for s in repo.sensor_defs},
        "resources": set(repo.get_top_level_resources()),
    }


def test_dg_cli_is_pinned_at_dagsters_version():
    import dagster

    assert version("dagster-dg-cli") == version("dagster-dg-core") == dagster.__version__


def test_dg_check_defs_loads_the_code_location(tmp_path):
    out = dg(tmp_path, "check", "defs")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "All definitions loaded successfully." in out.stdout
    if _runs_in_the_project_venv():
        assert MISMATCH not in out.stdout + out.stderr


def test_dg_check_defs_fails_when_the_definitions_do_not_load(tmp_path):
    """A malformed NHL_START_DATE makes nhl_assets.definitions raise on import: dg must say so and exit 1."""
    out = dg(tmp_path, "check", "defs", NHL_START_DATE="10/01/2024")
    assert out.returncode != 0
    assert "All definitions loaded successfully." not in out.stdout
    assert "NHL_START_DATE must be YYYY-MM-DD" in out.stdout + out.stderr


def test_dg_list_defs_lists_exactly_the_module_definitions(tmp_path, monkeypatch):
    out = dg(tmp_path, "list", "defs", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    listed = json.loads(out.stdout)
    got = {
        "assets": {a["asset_key"] for a in listed["assets"]},
        "asset_checks": {c["key"] for c in listed["asset_checks"]},
        "jobs": {j["name"] for j in listed["jobs"]},
        "schedules": {s["name"] for s in listed["schedules"]},
        "sensors": {s["name"] for s in listed["sensors"]},
        "resources": {r["name"] for r in listed["resources"]},
    }
    assert {"bronze/games", "bronze/play_by_play", "silver/player_game_stats", "gold/sog_predictions"} <= \
        got["assets"]
    assert {"nhl_partitions", "nhl_bronze", "nhl_silver_replay"} <= got["jobs"]
    assert "nhl_pipeline_sensor" in got["sensors"]
    assert got == expected_definitions(tmp_path, monkeypatch)


@pytest.mark.slow
def test_dg_launch_materializes_a_partition_range_from_the_simulator(tmp_path, sim_server, league):
    """`dg launch --assets … --partition-range A...B`: one run writes bronze for exactly those dates."""
    days = [date(2023, 11, 1), date(2023, 11, 2)]
    started = time.monotonic()
    out = dg(tmp_path, "launch", "--assets", "key:bronze/*", "--partition-range", "2023-11-01...2023-11-02",
             timeout=180, NHL_API_WEB_URL=sim_server.web_url, NHL_API_STATS_URL=sim_server.stats_url)
    seconds = time.monotonic() - started
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert "RUN_SUCCESS" in out.stdout + out.stderr

    from nhl_assets.storage.delta import Warehouse

    wh = Warehouse(str(tmp_path / "warehouse"))

    def read(table: str) -> pl.DataFrame:
        t = wh.read_arrow(table)
        assert t is not None, f"{table} was not written"
        return pl.from_arrow(t)

    expected_games = sorted(g.id for d in days for g in league.games_on(d) if g.game_type in (2, 3))
    assert len(expected_games) >= 4
    games = read("bronze/games")
    assert sorted(games["gameId"].to_list()) == expected_games
    assert set(games["gameDate"].to_list()) == set(days) and games["isComplete"].all()
    assert sorted(read("bronze/schedule")["gameDate"].to_list()) == days
    for table in ("bronze/boxscore", "bronze/play_by_play", "bronze/shift_charts"):
        assert sorted(read(table)["gameId"].to_list()) == expected_games, table

    with DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].is_success  # the range is one run (single-run backfill policy)
        for name in BRONZE:
            assert instance.get_materialized_partitions(AssetKey(["bronze", name])) == {"2023-11-01",
                                                                                         "2023-11-02"}, name
        assert not instance.get_materialized_partitions(AssetKey(["silver", "player_game_stats"]))
    assert seconds < 120, f"dg launch took {seconds:.0f} s"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(base: str, query: str) -> dict:
    req = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - loopback only
        out = json.loads(r.read())
    assert "errors" not in out, out
    return out["data"]


WORKSPACE = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message }
    ... on RepositoryLocation { repositories { assetNodes { assetKey { path } } jobs { name } } } } } } } }"""


@pytest.mark.slow
def test_make_dev_serves_dg_dev_on_loopback_only(tmp_path, monkeypatch):
    """`make dev` (this venv as the project's, its install stamp taken as current) runs `dg dev`: the UI
    answers on 127.0.0.1 with the code location nhl_assets loaded, nothing answers on another address of
    the host, and Ctrl-C (SIGINT to the process group, as a terminal sends it) stops every process."""
    if shutil.which("make") is None:
        pytest.skip("GNU make not found (the README's commands and .ci/run need it)")
    expected = expected_definitions(tmp_path, monkeypatch)
    port = _free_port()
    log_path = tmp_path / "make_dev.log"
    env = dg_env(tmp_path)
    env.pop("MAKEFLAGS", None)
    env.pop("MAKELEVEL", None)
    stamp = Path(sys.prefix) / ".installed"
    with open(log_path, "w") as log:
        # A shell that started us in the background may have left SIGINT ignored; a terminal's dg would not.
        proc = subprocess.Popen(["make", "-o", str(stamp), "dev", f"VENV={sys.prefix}", f"DEV_PORT={port}"],
                                cwd=str(REPO), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=5):  # noqa: S310 - loopback only
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("make dev did not start:\n" + log_path.read_text()[-4000:])
                time.sleep(1)
        text = log_path.read_text()
        assert f"dg dev --host 127.0.0.1 --port {port}" in text  # make echoes the command it runs
        assert f"Serving dagster-webserver on http://127.0.0.1:{port}" in text
        if _runs_in_the_project_venv():
            assert MISMATCH not in text  # make activates the venv for dg
        with pytest.raises(OSError):  # bound to 127.0.0.1, not to every address (0.0.0.0 would answer here)
            socket.create_connection(("127.0.0.2", port), timeout=3).close()
        entries = _graphql(base, WORKSPACE)["workspaceOrError"]["locationEntries"]
        assert [(e["name"], e["loadStatus"]) for e in entries] == [("nhl_assets", "LOADED")], entries
        location = entries[0]["locationOrLoadError"]
        assert location["__typename"] == "RepositoryLocation", location
        (repo,) = location["repositories"]
        assert {"/".join(a["assetKey"]["path"]) for a in repo["assetNodes"]} == expected["assets"]
        assert {j["name"] for j in repo["jobs"] if not j["name"].startswith("__")} == expected["jobs"]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        stopped = _group_gone(proc, STOP_WITHIN_S)
        if not stopped:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert stopped, f"Ctrl-C did not stop make dev within {STOP_WITHIN_S} s:\n" + log_path.read_text()[-3000:]
    assert "Dagster services shut down." in log_path.read_text()


#: How long every process of `make dev` may take to exit after one Ctrl-C. Usually a few seconds; but dg's
#: code-server monitor (dagster/_cli/proxy_server_manager.py, `_process_monitoring_thread`, polling every
#: 5 s) restarts a code server it finds exited, and when it polls between the code server's exit on the
#: group's SIGINT and dg setting its shutdown event, the restarted server (started after the signal, so it
#: never receives it) stops itself only once no heartbeat came for WEBSERVER_GRPC_SERVER_HEARTBEAT_TTL
#: (45 s in dagster 1.13; the log then says "Restarting the code server process"). Dagster's race, seen
#: once in this test; no process outlives that timeout.
STOP_WITHIN_S = 45 + 20


def _group_gone(proc: subprocess.Popen, seconds: float) -> bool:
    """Whether make and every process it started (its session's process group) exit within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        proc.poll()  # reap make itself, or its zombie keeps the group alive
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.5)
    return False
