"""The Dagster code location: `dagster dev` in the repo root loads `defs` from here."""

from __future__ import annotations

from nhl_assets.parse.alloc import gc_paused

# What the code location's import and build make (the libraries, these modules, the definitions: about
# 360,000 tracked objects) lives as long as the process, so it is made without the cyclic garbage
# collector and frozen at once (`gc_paused(freeze=True)`): no collection walks it again. Made with the
# collector running, it set off full collections that found next to nothing to free: in `dagster asset
# materialize` of a season's silver, two during this module's import (0.117-0.126 and 0.145-0.159 s; they
# freed 10 objects and none), with 234 more gen-0 and 21 more gen-1 collections. The process's collections
# took 0.55-0.60 s in all with them, 0.24-0.27 s without (three runs each, alternated), and the definitions
# were loaded 0.16-0.28 s sooner. Frozen, the objects are not walked by the runs' collections either, nor
# by the full collection of Python's finalization, which took 0.31 s of every exit of a process holding
# these definitions (a run worker, a code server) and takes 0.03-0.04 s frozen. Only cyclic garbage made
# meanwhile is kept for good; reference counting frees everything else as before. Dagster reloads a code
# location by starting a new process, so no earlier import's objects are frozen with it.

with gc_paused(freeze=True):
    from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

    from nhl_assets.automation.maintenance import maintenance_job, nhl_weekly_maintenance
    from nhl_assets.automation.sensors import build_automation_sensor, build_sensor, nhl_daily_fallback
    from nhl_assets.bronze.assets import IMPORT_JOB, bronze_nhl_api
    from nhl_assets.catalog import TABLES, gold as cg, writes_tags
    from nhl_assets.gold.assets import gold_game_features, gold_sog_predictions, skater_season_stats_asset, sog_model
    from nhl_assets.gold.upcoming import upcoming_schedule
    from nhl_assets.gold.xg import gold_shot_xg, xg_model
    from nhl_assets.resources import AutomationConfig, EngineResource, NHLApiResource, WarehouseResource
    from nhl_assets.silver.assets import silver_game_stats

#: The main job: every date-partitioned asset (bronze, silver; per-game gold joins it).
PARTITIONED_JOB = "nhl_partitions"
#: Bronze only: what the sensor requests per date (silver follows only when bronze's data changed).
BRONZE_JOB = "nhl_bronze"
#: Silver only, from bronze: repairs history after a parser change with zero API calls.
SILVER_REPLAY_JOB = "nhl_silver_replay"
#: The unpartitioned tables that only read bronze/silver or the API (upcoming schedule, season stats).
REFRESH_JOB = "nhl_refresh"
#: Per-game gold features for game dates, the upcoming week included.
GOLD_FEATURES_JOB = "nhl_gold_features"
#: The shots-on-goal model, retrained whole from the features.
MODEL_JOB = "nhl_model"
#: Shots-on-goal predictions for game dates, the upcoming week included.
PREDICTIONS_JOB = "nhl_predictions"
#: The expected-goals model, retrained whole from silver/shots.
XG_MODEL_JOB = "nhl_xg_model"
#: Shots scored by the xG model and the xGoals columns per player and team game, for game dates.
SHOT_XG_JOB = "nhl_shot_xg"

PARTITIONED_ASSETS = [bronze_nhl_api, silver_game_stats]
REFRESH_ASSETS = [upcoming_schedule, skater_season_stats_asset]
GOLD_ASSETS = [xg_model, gold_shot_xg, gold_game_features, sog_model, gold_sog_predictions]

#: The job that materializes each asset below bronze the automation may request: the in-process driver
#: (`runs.py`) runs a request through it, for its tags and so a run's job says which step it was.
AUTOMATION_JOBS = {SILVER_REPLAY_JOB: [silver_game_stats], REFRESH_JOB: REFRESH_ASSETS,
                   GOLD_FEATURES_JOB: [gold_game_features], MODEL_JOB: [sog_model],
                   PREDICTIONS_JOB: [gold_sog_predictions], XG_MODEL_JOB: [xg_model], SHOT_XG_JOB: [gold_shot_xg]}
#: Everything the automation sensor evaluates: all of it below bronze (bronze follows the NHL schedule).
AUTOMATED = AssetSelection.assets(*(a for assets in AUTOMATION_JOBS.values() for a in assets))


#: Which tables each job writes (see `catalog.writes_tags`): the production run queue allows one running
#: writer per table, so two runs never race for the same table.
_B = writes_tags(*(t for t in TABLES if t.startswith("bronze/")))
_S = writes_tags(*(t for t in TABLES if t.startswith("silver/")))
_REFRESH = writes_tags(cg.UPCOMING_SCHEDULE.name, cg.SKATER_SEASON_STATS.name)
_FEATURES = writes_tags(cg.PLAYER_GAME_FEATURES.name, cg.TEAM_GAME_FEATURES.name)
_MODEL, _PREDICTIONS = writes_tags(cg.SOG_MODEL.name), writes_tags(cg.SOG_PREDICTIONS.name)
_XG_MODEL = writes_tags(cg.XG_MODEL.name)
_SHOT_XG = writes_tags(cg.SHOT_XG.name, cg.PLAYER_GAME_XGOALS.name, cg.TEAM_GAME_XGOALS.name)
#: The automation sensor's runs may write any table below bronze (see `build_automation_sensor`).
AUTOMATION_RUN_TAGS = {**_S, **_REFRESH, **_FEATURES, **_MODEL, **_PREDICTIONS, **_XG_MODEL, **_SHOT_XG}


def build_definitions() -> Definitions:
    """Build the code location (a function so tests can build it after setting the environment)."""
    partitioned_job = define_asset_job(
        PARTITIONED_JOB,
        selection=AssetSelection.assets(*PARTITIONED_ASSETS),
        description="Materialize game-date partitions of every date-partitioned table (bronze and below).",
        tags={**_B, **_S},
    )
    bronze_job = define_asset_job(
        BRONZE_JOB, selection=AssetSelection.assets(bronze_nhl_api),
        description="Fetch game dates into bronze (the sensor's first step).", tags=_B)
    import_job = define_asset_job(
        IMPORT_JOB, selection=AssetSelection.assets(bronze_nhl_api),
        description="Import saved NHL API responses from a folder into bronze for the selected game dates, no "
                    "API calls (launchpad: ops.bronze_nhl_api.config.import_dir; or `nhl-assets import-raw DIR`, "
                    "which picks the dates).", tags=_B)
    silver_replay_job = define_asset_job(
        SILVER_REPLAY_JOB,
        selection=AssetSelection.assets(silver_game_stats),
        description="Re-parse silver from bronze for game-date partitions (no API calls, bronze untouched).",
        tags=_S,
    )
    refresh_job = define_asset_job(
        REFRESH_JOB,
        selection=AssetSelection.assets(*REFRESH_ASSETS),
        description="Recompute the unpartitioned tables (upcoming schedule, season aggregates) whole.",
        tags=_REFRESH,
    )
    gold_jobs = [
        define_asset_job(GOLD_FEATURES_JOB, selection=AssetSelection.assets(gold_game_features),
                         description="Player and team game features for game dates (upcoming week included).",
                         tags=_FEATURES),
        define_asset_job(MODEL_JOB, selection=AssetSelection.assets(sog_model),
                         description="Retrain the shots-on-goal model on every featurized played game.",
                         tags=_MODEL),
        define_asset_job(PREDICTIONS_JOB, selection=AssetSelection.assets(gold_sog_predictions),
                         description="Shots-on-goal predictions for game dates (upcoming week included).",
                         tags=_PREDICTIONS),
        define_asset_job(XG_MODEL_JOB, selection=AssetSelection.assets(xg_model),
                         description="Retrain the expected-goals model on every unblocked shot attempt.",
                         tags=_XG_MODEL),
        define_asset_job(SHOT_XG_JOB, selection=AssetSelection.assets(gold_shot_xg),
                         description="Score the shots of game dates with the xG model; xGoals per player and "
                                     "team game.", tags=_SHOT_XG),
    ]
    jobs = [partitioned_job, bronze_job, import_job, silver_replay_job, refresh_job, *gold_jobs]
    return Definitions(
        assets=[*PARTITIONED_ASSETS, *REFRESH_ASSETS, *GOLD_ASSETS],
        jobs=[*jobs, maintenance_job(writes_tags(*TABLES))],  # maintenance rewrites files of every layer
        sensors=[build_sensor([bronze_job]),
                 build_automation_sensor(AUTOMATED, AUTOMATION_RUN_TAGS)],
        schedules=[nhl_daily_fallback, nhl_weekly_maintenance],
        resources={"nhl_api": NHLApiResource(), "warehouse": WarehouseResource(), "automation": AutomationConfig(),
                   "engine": EngineResource()},
        # Every step in the run's own process. Dagster's default multiprocess executor starts a fresh
        # interpreter per step, which imports Dagster, polars, deltalake and scikit-learn again (3.5 s here)
        # and passes every event back through a queue; no job here has independent steps worth running side
        # by side (silver spreads its parse over the cores itself). `dagster asset materialize` of a season's
        # silver: 27.1-29.9 s with it, 19.9-26.5 s without (benchmarks/cli_replay.py).
        executor=in_process_executor,
    )


with gc_paused(freeze=True):
    defs = build_definitions()
