"""Gold assets: season aggregates (refresh), per-game features and predictions (by game date, including the
upcoming week), and the shots-on-goal model (refresh).

Wiring only: the transforms are `nhl_assets.transform` (pure polars / scikit-learn); every write goes
through the storage layer (window replace for partitioned tables, a new whole version for refreshes).
"""

import json
import time
import warnings
from datetime import date, datetime, timezone
from functools import partial

import polars as pl
import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetSelection,
    AssetSpec,
    BackfillPolicy,
    BetaWarning,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
    multi_asset,
)

from nhl_assets import catalog, settings, specs
from nhl_assets.automation.conditions import (
    FEATURE_HISTORY_DAYS,
    features_condition,
    model_condition,
    predictions_condition,
    season_stats_condition,
)
from nhl_assets.catalog import gold as cg, silver as cs
from nhl_assets.dates import DateWindow
from nhl_assets.engine.write import replace_window
from nhl_assets.gold.engines import game_features
from nhl_assets.gold.models import RetrainConfig, latest_model
from nhl_assets.parse.validate import duplicate_rows
from nhl_assets.partitions import gold_game_date_partitions
from nhl_assets.resources import EngineResource, WarehouseResource
from nhl_assets.storage.delta import Warehouse, write_concurrently
from nhl_assets.transform import features as tf
from nhl_assets.transform import model as tm
from nhl_assets.transform.retrain import RETRAIN_AFTER_DAYS, retrain_reason
from nhl_assets.transform.season_stats import SEASON_KEY, skater_season_stats

PLAYER_FEATURES = cg.PLAYER_GAME_FEATURES.name
TEAM_FEATURES = cg.TEAM_GAME_FEATURES.name
SEASON_STATS = cg.SKATER_SEASON_STATS.name
MODEL = cg.SOG_MODEL.name
PREDICTIONS = cg.SOG_PREDICTIONS.name
UPCOMING = cg.UPCOMING_SCHEDULE.name
PLAYER_XGOALS = cg.PLAYER_GAME_XGOALS.name
SILVER_PLAYERS, SILVER_TEAMS = cs.PLAYER_GAME_STATS.name, cs.TEAM_GAME_STATS.name
GOLD_TABLES = (SEASON_STATS, PLAYER_FEATURES, TEAM_FEATURES, MODEL, PREDICTIONS)

GOLD_CODE_VERSION = "1"
MODEL_SCHEMA = cg.SOG_MODEL.arrow_schema
key = specs.asset_key


def _history_dep(table: str) -> AssetDep:
    """A features date D reads every silver date up to D (earlier games for the features, D's own games for
    the label), so its lineage is the window of the `FEATURE_HISTORY_DAYS` days ending at D. Dagster maps
    a silver date S back to every features date from S on: that is how a changed silver date makes the
    features from it through the upcoming week due (see `automation.conditions`). Dates before the first
    partition and the upcoming days have no silver partition, which is expected."""
    with warnings.catch_warnings():  # the parameter is marked beta in Dagster 1.13; it is what this needs
        warnings.simplefilter("ignore", BetaWarning)
        mapping = TimeWindowPartitionMapping(start_offset=-FEATURE_HISTORY_DAYS, end_offset=0,
                                             allow_nonexistent_upstream_partitions=True)
    return AssetDep(key(table), partition_mapping=mapping)


def _history(wh: Warehouse, table: str, until: date, columns: list[str]) -> pl.DataFrame | None:
    """Every row of `table` dated up to `until` (the features' whole past), only the needed columns; None
    when the table does not exist."""
    return wh.read_frame(table, DateWindow(settings.start_date(), until) if until >= settings.start_date() else None,
                         columns=columns)


def _empty_of(wh: Warehouse, table: str, fallback: dict[str, pl.DataType]) -> pl.DataFrame:
    """No rows, with `table`'s stored schema (what its migrations declared and writes evolved), so an empty
    refresh writes the columns the table already has; `fallback` where the table does not exist."""
    dt = wh.open(table)
    if dt is None:
        return pl.DataFrame(schema=fallback)
    return pl.from_arrow(pa.schema(dt.schema().to_arrow()).empty_table())


def _missing_input(table: str, frame: pl.DataFrame | None, span: DateWindow | None = None) -> str | None:
    """Why a gold step has nothing to compute from `table` (`frame`, read over the dates `span`), or None:
    the message the step logs and records instead of failing on an empty or missing upstream."""
    if frame is None:
        return f"{table} does not exist (`nhl-assets migrate status` shows the tables' migrations)"
    if frame.is_empty():
        return f"{table} holds no games" + (f" in {span}" if span is not None else "")
    return None


# ----------------------------------------------------------------------------------------------------
# per-game features (partitioned, upcoming week included)
# ----------------------------------------------------------------------------------------------------

#: both features tables are written by one run (not subsettable), so they share one condition
_FEATURES_CONDITION = features_condition(AssetSelection.assets(key(SILVER_PLAYERS), key(SILVER_TEAMS)),
                                         AssetSelection.assets(key(UPCOMING)))


@multi_asset(
    name="gold_game_features",
    specs=[
        AssetSpec(key(PLAYER_FEATURES),
                  deps=[_history_dep(SILVER_PLAYERS), _history_dep(SILVER_TEAMS), key(UPCOMING)],
                  group_name="gold", kinds={"delta", settings.engine()}, owners=specs.OWNERS,
                  code_version=GOLD_CODE_VERSION, tags=specs.tags(PLAYER_FEATURES),
                  automation_condition=_FEATURES_CONDITION,
                  description=specs.description(PLAYER_FEATURES, "The upcoming week included."),
                  metadata=specs.metadata(PLAYER_FEATURES)),
        AssetSpec(key(TEAM_FEATURES), deps=[_history_dep(SILVER_TEAMS), key(UPCOMING)], group_name="gold",
                  kinds={"delta", settings.engine()}, owners=specs.OWNERS, code_version=GOLD_CODE_VERSION,
                  tags=specs.tags(TEAM_FEATURES), automation_condition=_FEATURES_CONDITION,
                  description=specs.description(TEAM_FEATURES, "The upcoming week included."),
                  metadata=specs.metadata(TEAM_FEATURES)),
    ],
    check_specs=[
        AssetCheckSpec("unique_key", asset=key(PLAYER_FEATURES), description="(gameId, playerId) is unique."),
        AssetCheckSpec("expected_rows", asset=key(PLAYER_FEATURES),
                       description="Rows = skaters who played the window's games + expected lineups of its "
                                   "upcoming games (no join explosion, nobody dropped)."),
        AssetCheckSpec("unique_key", asset=key(TEAM_FEATURES), description="(gameId, team) is unique."),
        AssetCheckSpec("expected_rows", asset=key(TEAM_FEATURES), description="Two rows per game of the window."),
    ],
    partitions_def=gold_game_date_partitions(),
    backfill_policy=BackfillPolicy.single_run(),
    can_subset=False,
)
def gold_game_features(context: AssetExecutionContext, warehouse: WarehouseResource, engine: EngineResource):
    started = time.monotonic()
    window = DateWindow.from_key_range(context.partition_key_range)
    wh = warehouse.get()
    # the polars engine computes from these; the row-count check always counts from them, independently
    # of the engine (Spark reads silver on its own)
    spark = engine.name == "spark"
    players = _history(wh, SILVER_PLAYERS, window.end, _COUNT_PLAYER_COLUMNS if spark else tf.PLAYER_COLUMNS)
    teams = _history(wh, SILVER_TEAMS, window.end, _COUNT_TEAM_COLUMNS if spark else tf.TEAM_COLUMNS)
    upcoming = wh.read_frame(UPCOMING)
    past = DateWindow(settings.start_date(), max(window.end, settings.start_date()))
    gap = _missing_input(SILVER_PLAYERS, players, past) or _missing_input(SILVER_TEAMS, teams, past)
    if gap is not None:
        # no game played up to the window's end: nothing to featurize, and no lineup to expect for upcoming
        # games; the window is written empty (either engine), so the tables say so too
        note = f"{gap}: wrote 0 rows to {PLAYER_FEATURES} and {TEAM_FEATURES} for {window}"
        context.log.warning(note)
        pf, tfe = cg.PLAYER_GAME_FEATURES.empty(), cg.TEAM_GAME_FEATURES.empty()
        players = teams = pl.DataFrame()
        expected_players = expected_teams = 0
    else:
        context.log.info(f"gold features: {window} on the {engine.name} engine")
        pf, tfe = game_features(engine, wh, window.start, window.end, players, teams, upcoming)
        expected_players, expected_teams = _expected_rows(players, teams, upcoming, window)
        note = None if pf.height else (f"no game of {window} in {SILVER_PLAYERS} or {UPCOMING}: wrote 0 rows to "
                                       f"{PLAYER_FEATURES} and {TEAM_FEATURES}")
        if note:
            context.log.info(note)
    run_id = context.run.run_id
    writes = write_concurrently({t: partial(replace_window, engine, wh, t, f, window, run_id=run_id,
                                            partition_by=catalog.partition_by(t))
                                 for t, f in ((PLAYER_FEATURES, pf), (TEAM_FEATURES, tfe))})
    for table, frame, expected in ((PLAYER_FEATURES, pf, expected_players), (TEAM_FEATURES, tfe, expected_teams)):
        dups = duplicate_rows(frame, catalog.info(table).key)
        yield AssetCheckResult(asset_key=key(table), check_name="unique_key", passed=dups == 0,
                               metadata={"duplicate_keys": dups, "rows": frame.height})
        yield AssetCheckResult(asset_key=key(table), check_name="expected_rows", passed=frame.height == expected,
                               metadata={"rows": frame.height, "expected": expected})
    wall = round(time.monotonic() - started, 3)
    upcoming_rows = int(pf.get_column("isUpcoming").sum()) if pf.height else 0
    for table, frame in ((PLAYER_FEATURES, pf), (TEAM_FEATURES, tfe)):
        w = writes[table]
        yield MaterializeResult(asset_key=key(table), metadata={
            **w.metadata(), "dagster/row_count": frame.height, "dagster/uri": MetadataValue.path(w.uri),
            "games": frame.get_column("gameId").n_unique() if frame.height else 0,
            "upcoming_player_rows": upcoming_rows, "history_rows_read": players.height, "wall_time_s": wall,
            "engine": engine.name, **({"note": note} if note else {})})


#: what `_expected_rows` needs of silver (a narrow read when the features themselves run on Spark)
_COUNT_PLAYER_COLUMNS = ["gameId", "gameDate", "situation", "playerTeam"]
_COUNT_TEAM_COLUMNS = ["gameId", "gameDate", "situation"]


def _expected_rows(players: pl.DataFrame, teams: pl.DataFrame, upcoming: pl.DataFrame | None,
                   window: DateWindow) -> tuple[int, int]:
    """Counted independently of the feature code: skater-games played in the window, plus for each upcoming
    game of the window the size of each team's latest lineup; two team rows per game."""
    in_w = pl.col("gameDate").is_between(window.start, window.end)
    played = players.filter((pl.col("situation") == "all") & in_w) if players.height else players
    n_players = played.height
    played_games = set(played.get_column("gameId").to_list()) if played.height else set()
    n_teams = teams.filter((pl.col("situation") == "all") & in_w).height if teams.height else 0
    if upcoming is not None and upcoming.height and players.height:
        before = players.filter((pl.col("situation") == "all") & (pl.col("gameDate") < window.end))
        sizes: dict[str, int] = {}
        for team, g in before.group_by("playerTeam"):
            last_game = g.sort("gameDate").get_column("gameId")[-1]
            sizes[team[0]] = g.filter(pl.col("gameId") == last_game).height
        todo = upcoming.filter(in_w & ~pl.col("gameId").is_in(list(played_games)))
        for home, away in todo.select("homeTeam", "awayTeam").iter_rows():
            n_players += sizes.get(home, 0) + sizes.get(away, 0)
        n_teams += 2 * todo.height
    return n_players, n_teams


# ----------------------------------------------------------------------------------------------------
# season aggregates (refresh)
# ----------------------------------------------------------------------------------------------------


@asset(
    key=key(SEASON_STATS), deps=[key(SILVER_PLAYERS), key(PLAYER_XGOALS)], group_name="gold",
    kinds={"delta", "polars"},
    owners=specs.OWNERS, code_version=GOLD_CODE_VERSION, tags=specs.tags(SEASON_STATS),
    automation_condition=season_stats_condition(), description=specs.description(SEASON_STATS),
    metadata=specs.metadata(SEASON_STATS),
    check_specs=[AssetCheckSpec("unique_key", asset=key(SEASON_STATS),
                                description=f"({', '.join(SEASON_KEY)}) is unique."),
                 AssetCheckSpec("totals_match_silver", asset=key(SEASON_STATS),
                                description="Season shots, goals and games equal the sums of silver's game rows.")],
)
def skater_season_stats_asset(context: AssetExecutionContext, warehouse: WarehouseResource):
    wh = warehouse.get()
    players = wh.read_frame(SILVER_PLAYERS)
    gap = _missing_input(SILVER_PLAYERS, players)
    if players is None:  # no silver to take the columns from: the season table keeps its own
        players = pl.DataFrame()
        out = _empty_of(wh, SEASON_STATS, cg.SKATER_SEASON_STATS.polars_schema)
    else:
        out = skater_season_stats(players, wh.read_frame(PLAYER_XGOALS))
    note = f"{gap}: wrote 0 rows to {SEASON_STATS}" if gap else None
    if note:
        context.log.warning(note)
    write = wh.replace_all(SEASON_STATS, out.to_arrow(), run_id=context.run.run_id)
    dups = duplicate_rows(out, SEASON_KEY)
    yield AssetCheckResult(check_name="unique_key", passed=dups == 0, metadata={"duplicate_keys": dups})
    alls = players.filter(pl.col("situation") == "all") if players.height else players
    sums = {"I_F_shotsOnGoal": (int(alls.get_column("I_F_shotsOnGoal").sum()) if alls.height else 0,
                                int(out.filter(pl.col("situation") == "all").get_column("I_F_shotsOnGoal").sum())
                                if out.height else 0),
            "player_games": (alls.height, int(out.filter(pl.col("situation") == "all").get_column("gamesPlayed").sum())
                             if out.height else 0)}
    yield AssetCheckResult(check_name="totals_match_silver", passed=all(a == b for a, b in sums.values()),
                           metadata={k: f"silver {a}, season table {b}" for k, (a, b) in sums.items()})
    yield MaterializeResult(metadata={**write.metadata(), "dagster/row_count": out.height,
                                      "seasons": out.get_column("season").n_unique() if out.height else 0,
                                      "players": out.get_column("playerId").n_unique() if out.height else 0,
                                      **({"note": note} if note else {})})


# ----------------------------------------------------------------------------------------------------
# the model (refresh)
# ----------------------------------------------------------------------------------------------------


@asset(
    key=key(MODEL), deps=[key(PLAYER_FEATURES)], group_name="gold", kinds={"delta", "scikitlearn"},
    owners=specs.OWNERS, code_version=GOLD_CODE_VERSION, tags=specs.tags(MODEL),
    automation_condition=model_condition(), description=specs.description(MODEL), metadata=specs.metadata(MODEL),
    check_specs=[AssetCheckSpec("beats_last7_baseline", asset=key(MODEL),
                                description="On the held-back period the model has a lower Poisson deviance and "
                                            "RMSE than the last-7-games average.")],
)
def sog_model(context: AssetExecutionContext, config: RetrainConfig, warehouse: WarehouseResource):
    """Retrain only when `transform.retrain` says so (no model yet, other features or parameters, played
    games of a week of game dates past the model's last training, or the run's config); otherwise keep the
    model in use, so a day in season costs a read of three columns instead of a fit on the whole history."""
    started = time.monotonic()
    wh = warehouse.get()
    previous = latest_model(wh, MODEL)
    labels = wh.read_arrow(PLAYER_FEATURES, columns=["gameDate", tm.LABEL, "isUpcoming"])
    newest = tm.newest_played_date(pl.from_arrow(labels)) if labels is not None else None
    why = retrain_reason(previous, newest, tm.PLAYER_FEATURES, tm.PARAMS, force=config.retrain)
    if why is None:
        yield from _model_kept(context, previous, newest)
        return
    features = wh.read_frame(PLAYER_FEATURES)
    reason = _missing_input(PLAYER_FEATURES, features) or tm.untrainable_reason(features)
    if reason is not None:
        yield from _model_not_trained(context, wh, previous, reason)
        return
    context.log.info(f"training the shots-on-goal model: {why}")
    trained = tm.train(features)
    now = datetime.now(timezone.utc)
    metrics = {k: v.as_dict() for k, v in trained.evaluations.items()}
    row = {"trainedAt": now, "runId": context.run.run_id, "modelName": tm.MODEL_NAME,
           "library": f"scikit-learn {__import__('sklearn').__version__}", "features": json.dumps(trained.features),
           "params": json.dumps(tm.PARAMS), "trainedThrough": trained.trained_through,
           "holdoutFrom": trained.holdout_from, "trainRows": trained.train_rows, "holdoutRows": trained.holdout_rows,
           "metrics": json.dumps(metrics), "importances": json.dumps(trained.importances),
           "calibration": json.dumps(trained.calibration), "model": trained.dumps()}
    ok, gain = trained.beats("last7")
    if ok or previous is None:
        # the first model is kept even when it loses (there is nothing better), and its check says so
        write = wh.replace_all(MODEL, pa.Table.from_pylist([row], schema=MODEL_SCHEMA), run_id=context.run.run_id)
    else:
        context.log.warning("the retrained model does not beat the last-7 baseline: the previous model stays in use")
        write = None
    yield _last7_check(vars(trained.evaluations["model"]), vars(trained.evaluations["last7"]))
    table = "| predictor | MAE | RMSE | Poisson deviance | mean predicted | mean actual |\n|---|---|---|---|---|---|\n" + \
        "\n".join(f"| {k} | {v.mae:.4f} | {v.rmse:.4f} | {v.poisson_deviance:.4f} | {v.mean_predicted:.3f} | "
                  f"{v.mean_actual:.3f} |" for k, v in trained.evaluations.items())
    yield MaterializeResult(metadata={
        **(write.metadata() if write is not None else {"kept_previous_model": True}), "dagster/row_count": 1,
        "metrics": MetadataValue.md(table), "metrics_json": MetadataValue.json(metrics),
        "feature_importances": MetadataValue.json(trained.importances),
        "calibration": MetadataValue.json(trained.calibration),
        "calibration_plot": MetadataValue.md(tm.png_markdown(trained.plot_png, "calibration and deviance")),
        "trained_through": trained.trained_through.isoformat(), "holdout_from": trained.holdout_from.isoformat(),
        "train_rows": trained.train_rows, "holdout_rows": trained.holdout_rows,
        "wall_time_s": round(time.monotonic() - started, 3)})


def _last7_check(m: dict[str, float], b: dict[str, float], kept: bool = False) -> AssetCheckResult:
    """`beats_last7_baseline` from the held-back scores of the model (`m`) and the last-7 average (`b`)."""
    gain = (b["poisson_deviance"] - m["poisson_deviance"]) / b["poisson_deviance"]
    ok = m["poisson_deviance"] < b["poisson_deviance"] and m["rmse"] < b["rmse"]
    which = "the model in use (not retrained): " if kept else ""
    return AssetCheckResult(
        check_name="beats_last7_baseline", passed=ok, severity=AssetCheckSeverity.ERROR,
        description=(f"{which}model deviance {m['poisson_deviance']:.4f} vs last-7 {b['poisson_deviance']:.4f} "
                     f"({gain:+.1%}); RMSE {m['rmse']:.4f} vs {b['rmse']:.4f}"),
        metadata={"deviance_improvement": round(gain, 4), "model_deviance": m["poisson_deviance"],
                  "last7_deviance": b["poisson_deviance"], "model_rmse": m["rmse"], "last7_rmse": b["rmse"]})


def _model_kept(context: AssetExecutionContext, previous: dict, newest: date):
    """The model in use stays (see `transform.retrain`): its stored held-back scores make the check."""
    note = (f"kept the model trained at {previous['trainedAt']} (through {previous['trainedThrough']}): the "
            f"newest played games ({newest}) are less than {RETRAIN_AFTER_DAYS} days past it")
    context.log.info(note)
    metrics = json.loads(previous["metrics"])
    yield _last7_check(metrics["model"], metrics["last7"], kept=True)
    yield MaterializeResult(metadata={"kept_previous_model": True, "note": note, "dagster/row_count": 1})


def _model_not_trained(context: AssetExecutionContext, wh: Warehouse, previous: dict | None, reason: str):
    """The model step over too little history (silver empty or missing upstream, or a few dates only): no
    training; the model in use (`previous`) stays, or with none yet the table holds no row. Says why in the
    log, the check's description and the materialization's metadata, instead of failing the run."""
    if previous is not None:
        note = f"not retrained: {reason}; the model trained at {previous['trainedAt']} stays in use"
        metadata = {"kept_previous_model": True, "dagster/row_count": 1}  # the table holds the model in use
    else:
        write = wh.replace_all(MODEL, MODEL_SCHEMA.empty_table(), run_id=context.run.run_id)
        note = f"no model trained: {reason}; wrote 0 rows to {MODEL}"
        metadata = {**write.metadata(), "dagster/row_count": 0}
    context.log.warning(note)
    yield AssetCheckResult(check_name="beats_last7_baseline", passed=False, severity=AssetCheckSeverity.WARN,
                           description=note, metadata={"trained": False})
    yield MaterializeResult(metadata={**metadata, "note": note})


# ----------------------------------------------------------------------------------------------------
# predictions (partitioned, upcoming week included)
# ----------------------------------------------------------------------------------------------------


@multi_asset(
    name="gold_sog_predictions",
    specs=[AssetSpec(
        key(PREDICTIONS), deps=[AssetDep(key(PLAYER_FEATURES)), key(MODEL)], group_name="gold",
        kinds={"delta", "polars"}, owners=specs.OWNERS, code_version=GOLD_CODE_VERSION,
        tags=specs.tags(PREDICTIONS), description=specs.description(PREDICTIONS, "The upcoming week included."),
        metadata=specs.metadata(PREDICTIONS),
        automation_condition=predictions_condition(AssetSelection.assets(key(PLAYER_FEATURES)),
                                                   AssetSelection.assets(key(MODEL))))],
    partitions_def=gold_game_date_partitions(), backfill_policy=BackfillPolicy.single_run(),
    check_specs=[AssetCheckSpec("unique_key", asset=key(PREDICTIONS), description="(gameId, playerId) is unique."),
                 AssetCheckSpec("one_per_feature_row", asset=key(PREDICTIONS),
                                description="Exactly one prediction per feature row of the window (plus the kept "
                                            "pre-game predictions of players who then did not play).")],
)
def gold_sog_predictions(context: AssetExecutionContext, warehouse: WarehouseResource):
    window = DateWindow.from_key_range(context.partition_key_range)
    wh = warehouse.get()
    features = wh.read_frame(PLAYER_FEATURES, window)
    latest = latest_model(wh, MODEL)
    gap = _missing_input(PLAYER_FEATURES, features, window)
    features = features if features is not None else cg.PLAYER_GAME_FEATURES.empty()
    if latest is None:
        # nothing to predict with (gold/sog_model says why): no new prediction; pre-game ones stay on record
        new = cg.SOG_PREDICTIONS.empty()
    else:
        new = tm.predict(features, tm.load(latest["model"]), latest["trainedAt"], latest["trainedThrough"],
                         datetime.now(timezone.utc))
    out = tm.carry_over(new, wh.read_frame(PREDICTIONS, window))
    note = None
    if latest is None:
        note = (f"{MODEL} holds no model (see its materialization): wrote {out.height} rows to {PREDICTIONS} "
                f"for {window}")
    elif gap is not None:
        note = f"{gap}: wrote {out.height} rows to {PREDICTIONS}"
    if note:
        context.log.warning(note)
    write = wh.replace_window(PREDICTIONS, out.to_arrow(), window, run_id=context.run.run_id,
                              partition_by=catalog.partition_by(PREDICTIONS))
    dups = duplicate_rows(out, cg.SOG_PREDICTIONS.key)
    yield AssetCheckResult(asset_key=key(PREDICTIONS), check_name="unique_key", passed=dups == 0,
                           metadata={"duplicate_keys": dups})
    matched = out.join(features.select("gameId", "playerId"), on=["gameId", "playerId"], how="semi").height
    yield AssetCheckResult(asset_key=key(PREDICTIONS), check_name="one_per_feature_row",
                           passed=matched == features.height, description=note,
                           metadata={"predictions": out.height, "feature_rows": features.height,
                                     "kept_pregame_predictions_without_feature_row": out.height - matched})
    played = out.filter(pl.col("actualShots").is_not_null())
    yield MaterializeResult(asset_key=key(PREDICTIONS), metadata={
        **write.metadata(), "dagster/row_count": out.height,
        "upcoming_rows": out.height - played.height, "played_rows": played.height,
        "out_of_sample_played": played.filter(~pl.col("inSample")).height,
        "model_trained_at": str(latest["trainedAt"]) if latest else None, **({"note": note} if note else {}),
        "mae_played": round(float((played.get_column("expectedShots") - played.get_column("actualShots")).abs().mean()), 4)
        if played.height else None})
