"""The Dagster code location: `dagster dev` in the repo root loads `defs` from here."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from nhl_assets.bronze.assets import bronze_nhl_api
from nhl_assets.gold.upcoming import upcoming_schedule
from nhl_assets.resources import NHLApiResource, WarehouseResource
from nhl_assets.silver.assets import silver_game_stats

#: The main job: every date-partitioned asset (bronze, silver; per-game gold joins it).
PARTITIONED_JOB = "nhl_partitions"
#: Silver only, from bronze: repairs history after a parser change with zero API calls.
SILVER_REPLAY_JOB = "nhl_silver_replay"
#: Every unpartitioned asset, recomputed whole from its upstream.
REFRESH_JOB = "nhl_refresh"

PARTITIONED_ASSETS = [bronze_nhl_api, silver_game_stats]
REFRESH_ASSETS = [upcoming_schedule]


def build_definitions() -> Definitions:
    """Build the code location (a function so tests can build it after setting the environment)."""
    partitioned_job = define_asset_job(
        PARTITIONED_JOB,
        selection=AssetSelection.assets(*PARTITIONED_ASSETS),
        description="Materialize game-date partitions of every date-partitioned table (bronze and below).",
    )
    silver_replay_job = define_asset_job(
        SILVER_REPLAY_JOB,
        selection=AssetSelection.assets(silver_game_stats),
        description="Re-parse silver from bronze for game-date partitions (no API calls, bronze untouched).",
    )
    refresh_job = define_asset_job(
        REFRESH_JOB,
        selection=AssetSelection.assets(*REFRESH_ASSETS),
        description="Recompute the unpartitioned tables (upcoming schedule, aggregates) whole.",
    )
    return Definitions(
        assets=[*PARTITIONED_ASSETS, *REFRESH_ASSETS],
        jobs=[partitioned_job, silver_replay_job, refresh_job],
        resources={"nhl_api": NHLApiResource(), "warehouse": WarehouseResource()},
    )


defs = build_definitions()
