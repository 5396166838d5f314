"""The Spark engine (dagster-pyspark, local mode) against the polars engine: same bronze in, the same
silver and gold feature tables out, compared exactly after sorting.

Each test builds bronze, silver and the gold features with the default (polars) engine, copies the
warehouse, re-materializes silver and the features in the copy through Dagster with the `engine`
resource set to Spark, and compares every table row for row. Spark reads the snapshot's Parquet files
listed by delta-rs (no delta-spark jars here) and commits through the same storage module.
"""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from nhl_assets.dates import DateWindow
from nhl_assets.definitions import GOLD_FEATURES_JOB, SILVER_REPLAY_JOB, build_definitions
from nhl_assets.demo import RECORDED_WINDOW
from nhl_assets.runs import materialize_window, run_pipeline, upcoming_until
from nhl_assets.simulator.faults import FaultConfig, ScriptedFault
from nhl_assets.storage.delta import Warehouse

from .helpers import FAST_API, point_api_at

pytestmark = [pytest.mark.spark, pytest.mark.slow,
              pytest.mark.skipif(not (shutil.which("java") or os.environ.get("JAVA_HOME")),
                                 reason="no Java runtime for Spark (Debian package openjdk-17-jre-headless; "
                                        ".ci/run installs it)")]

SPARK = {"resources": {"engine": {"config": {"engine": "spark",
                                             "spark_config": {"spark.master": "local[2]",
                                                              "spark.driver.memory": "2g"}}}}}
SILVER = ["silver/player_game_stats", "silver/team_game_stats", "silver/goalie_game_stats", "silver/schedule",
          "silver/quarantine"]
GOLD = ["gold/player_game_features", "gold/team_game_features"]
#: when a row was written, not what it says
VOLATILE = {"quarantinedAt"}


def _sorted(root: Path, table: str) -> pl.DataFrame:
    t = Warehouse(str(root)).read_arrow(table)
    frame = pl.from_arrow(t)
    frame = frame.drop([c for c in VOLATILE if c in frame.columns])
    frame = frame.select(sorted(frame.columns))
    return frame.sort(frame.columns, nulls_last=True)


def _engine_of_last_run(instance: DagsterInstance, job: str) -> str:
    run = instance.get_runs(limit=1, filters=None)[0]
    assert run.job_name == job
    return run.run_config["resources"]["engine"]["config"]["engine"]


def _polars_then_spark(tmp_path: Path, monkeypatch, server, window: DateWindow) -> tuple[Path, Path, dict]:
    """Build with polars in one warehouse; re-derive silver and features with Spark in a copy of it."""
    polars_root, spark_root = tmp_path / "polars", tmp_path / "spark"
    monkeypatch.setenv("NHL_WAREHOUSE", str(polars_root))
    point_api_at(monkeypatch, server)
    defs = build_definitions()
    run_pipeline(defs, window, DagsterInstance.ephemeral(), run_config=FAST_API, model=False)
    gold_window = DateWindow(window.start, upcoming_until(window))
    shutil.copytree(polars_root, spark_root)
    monkeypatch.setenv("NHL_WAREHOUSE", str(spark_root))
    before = {t: Warehouse(str(spark_root)).version(t) for t in SILVER + GOLD}
    instance = DagsterInstance.ephemeral()
    server.reset_stats()
    silver = materialize_window(defs, window, instance, SILVER_REPLAY_JOB, run_config=SPARK)
    assert _engine_of_last_run(instance, SILVER_REPLAY_JOB) == "spark"
    features = materialize_window(defs, gold_window, instance, GOLD_FEATURES_JOB, run_config=SPARK)
    assert server.stats()["total"] == 0  # Spark re-derived everything from bronze: no API call
    after = {t: Warehouse(str(spark_root)).version(t) for t in SILVER + GOLD}
    assert all(after[t] == before[t] + 1 for t in after), (before, after)  # each table really rewritten
    metadata = {}
    for result in (silver, features):
        for mat in result.get_asset_materialization_events():
            m = mat.materialization.metadata
            metadata[mat.asset_key.to_user_string()] = m["engine"].value
    return polars_root, spark_root, metadata


def _assert_identical(polars_root: Path, spark_root: Path) -> dict[str, int]:
    rows = {}
    for table in SILVER + GOLD:
        a, b = _sorted(polars_root, table), _sorted(spark_root, table)
        assert a.schema == b.schema, table
        assert a.height == b.height, (table, a.height, b.height)
        assert a.equals(b), f"{table}: the engines disagree"
        rows[table] = a.height
    return rows


def test_spark_equals_polars_on_a_simulated_week(sim_server, tmp_path, monkeypatch, league):
    window = DateWindow.of("2023-11-04", "2023-11-10")
    day_games = [g.id for g in league.games_on(date(2023, 11, 4)) if g.game_type in (2, 3)]
    # the hard cases travel too: a truncated play-by-play (quarantined), a missing shift chart (published
    # without ice time), and upcoming games after the window (expected lineups)
    sim_server.set_clock(datetime(2023, 11, 11, 15, 0, tzinfo=timezone.utc))
    sim_server.set_faults(FaultConfig(
        script=[ScriptedFault(rf"/v1/gamecenter/{day_games[0]}/play-by-play", statuses=[200] * 3, truncate="short")],
        shift_missing_games=[day_games[1]]))
    polars_root, spark_root, engines = _polars_then_spark(tmp_path, monkeypatch, sim_server, window)
    assert set(engines.values()) == {"spark"} and set(engines) >= set(SILVER[:4] + GOLD)
    rows = _assert_identical(polars_root, spark_root)
    assert rows["silver/player_game_stats"] > 5000 and rows["silver/quarantine"] >= 1
    feats = _sorted(spark_root, "gold/player_game_features")
    assert feats.filter(pl.col("isUpcoming")).height > 100  # upcoming games were featurized by both
    players = _sorted(spark_root, "silver/player_game_stats")
    assert not players.filter(pl.col("gameId") == day_games[1]).get_column("hasShiftData").any()


def test_spark_equals_polars_on_the_recorded_games(recorded_server, tmp_path, monkeypatch):
    polars_root, spark_root, _ = _polars_then_spark(tmp_path, monkeypatch, recorded_server, RECORDED_WINDOW)
    rows = _assert_identical(polars_root, spark_root)
    assert rows["silver/player_game_stats"] > 0 and rows["silver/schedule"] > 0


def test_native_delta_needs_the_jars_and_says_so(tmp_path, monkeypatch):
    from nhl_assets.engine.spark_io import SparkEngineError, read_delta, spark_session
    from nhl_assets.storage.spark_native import has_delta_jars

    spark = spark_session({"spark.master": "local[2]", "spark.driver.memory": "2g"})
    if has_delta_jars(spark):
        pytest.skip("delta-spark jars are on this classpath: the refusal cannot be shown")
    monkeypatch.setenv("NHL_WAREHOUSE", str(tmp_path / "wh"))
    from nhl_assets.resources import WarehouseResource

    wh = WarehouseResource().get()  # bootstraps every table
    with pytest.raises(SparkEngineError, match="delta-spark jars"):
        read_delta(spark, wh, "bronze/games", DateWindow.of("2023-10-10"), native=True)
    from nhl_assets.storage.spark_native import replace_window_spark

    with pytest.raises(SparkEngineError, match="delta-spark jars"):  # refused before anything is written
        replace_window_spark(wh, "bronze/games", spark.createDataFrame([], "gameDate date"), DateWindow.of("2023-10-10"))
    # the default path reads the same (empty) table without them
    assert read_delta(spark, wh, "bronze/games", DateWindow.of("2023-10-10")).count() == 0
