"""The Dagster code location: `dagster dev` in the repo root loads `defs` from here."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from nhl_assets.bronze.assets import bronze_nhl_api
from nhl_assets.gold.upcoming import upcoming_schedule
from nhl_assets.partitions import game_date_partitions
from nhl_assets.resources import NHLApiResource, WarehouseResource

BRONZE_JOB = "bronze_daily"


def build_definitions() -> Definitions:
    """Build the code location (a function so tests can build it after setting the environment)."""
    partitions = game_date_partitions()
    bronze_job = define_asset_job(
        BRONZE_JOB,
        selection=AssetSelection.assets(bronze_nhl_api),
        partitions_def=partitions,
        description="Fetch and store the raw NHL API responses of game-date partitions.",
    )
    return Definitions(
        assets=[bronze_nhl_api, upcoming_schedule],
        jobs=[bronze_job],
        resources={"nhl_api": NHLApiResource(), "warehouse": WarehouseResource()},
    )


defs = build_definitions()
