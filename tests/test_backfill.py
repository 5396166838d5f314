"""`nhl-assets backfill`: chunked Dagster runs with progress, a summary, and resumption after a failure."""

from __future__ import annotations

import os

import polars as pl
import pytest
from dagster import DagsterInstance, RunsFilter
from rich.console import Console

from nhl_assets.ops import migrate as mg
from nhl_assets.ops.backfill import backfill_id, job_for, run_backfill
from nhl_assets.partitions import DateWindow
from nhl_assets.simulator.faults import FaultConfig, ScriptedFault
from nhl_assets.storage.delta import Warehouse

from .conftest import point_api_at
from .test_bronze_assets import FAST_API


def test_layers_choose_the_chunk_job():
    assert job_for({"bronze", "silver", "gold"}) == "nhl_partitions"
    assert job_for({"bronze"}) == "nhl_bronze" and job_for({"silver"}) == "nhl_silver_replay"
    assert job_for({"gold"}) is None


@pytest.mark.parametrize("instance_kind", ["persistent", "ephemeral"])
def test_backfill_runs_chunks_stops_on_failure_and_resumes(sim_server, warehouse_env, monkeypatch, tmp_path,
                                                            instance_kind):
    """On a persistent instance (SQLite files, PostgreSQL) silver of a chunk overlaps bronze of the next;
    an in-memory instance runs them one after another. The outcome is the same."""
    point_api_at(monkeypatch, sim_server)
    mg._CHECKED.clear()
    window = DateWindow.of("2023-11-01", "2023-11-06")
    (tmp_path / "dagster").mkdir()
    instance = DagsterInstance.local_temp(str(tmp_path / "dagster")) if instance_kind == "persistent" \
        else DagsterInstance.ephemeral()
    console = Console(file=open(os.devnull, "w"))
    # the schedule of 2023-11-04 keeps failing: the second chunk fails, nothing of it is written
    sim_server.set_faults(FaultConfig(script=[ScriptedFault(r"/v1/schedule/2023-11-04", statuses=[503] * 50)]))
    first = run_backfill(window, {"bronze", "silver"}, chunk_days=3, instance=instance, run_config=FAST_API,
                         console=console)
    assert first.done == ["2023-11-01...2023-11-03"] and first.failed == ["2023-11-04...2023-11-06"]
    wh = Warehouse(os.environ["NHL_WAREHOUSE"])
    dates = set(pl.from_arrow(wh.read_arrow("bronze/schedule")).get_column("gameDate").cast(pl.String))
    assert dates == {"2023-11-01", "2023-11-02", "2023-11-03"}
    sim_server.set_faults(FaultConfig())
    sim_server.reset_stats()
    second = run_backfill(window, {"bronze", "silver"}, chunk_days=3, instance=instance, run_config=FAST_API,
                          console=console)
    assert second.skipped == ["2023-11-01...2023-11-03"] and second.done == ["2023-11-04...2023-11-06"]
    requested = [target for target, _status in sim_server.stats()["log"]]
    assert any("/v1/schedule/2023-11-04" in t for t in requested)
    assert not any(f"/v1/schedule/2023-11-0{d}" in t for t in requested for d in "123")  # done chunk not refetched
    runs = instance.get_runs(filters=RunsFilter(tags={"nhl/backfill": backfill_id(window, {"bronze", "silver"})}))
    # recorded in the instance, tagged (what the UI groups): per chunk a bronze run, then its silver run
    # (overlapping the next chunk's bronze); the failed chunk's bronze run is there too
    steps = sorted((r.tags["nhl/chunk"], r.tags["nhl/step"], r.job_name, r.status.value) for r in runs)
    assert steps == [("2023-11-01...2023-11-03", "bronze", "nhl_bronze", "SUCCESS"),
                     ("2023-11-01...2023-11-03", "silver", "nhl_silver_replay", "SUCCESS"),
                     ("2023-11-04...2023-11-06", "bronze", "nhl_bronze", "FAILURE"),
                     ("2023-11-04...2023-11-06", "bronze", "nhl_bronze", "SUCCESS"),
                     ("2023-11-04...2023-11-06", "silver", "nhl_silver_replay", "SUCCESS")]
    players = pl.from_arrow(wh.read_arrow("silver/player_game_stats"))
    assert players.get_column("gameDate").n_unique() == 6
    assert players.select("gameId", "playerId", "situation").is_unique().all()
