"""Gold expected goals: the xG model (refresh) and, per game date, every shot scored plus MoneyPuck's xGoals
columns per player and team game.

Wiring only: the model, the scoring and the sums are `nhl_assets.transform.xg` (pure polars /
scikit-learn); every write goes through the storage layer.
"""

import json
import time
from datetime import datetime, timezone
from functools import partial

import polars as pl
import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSelection,
    AssetSpec,
    BackfillPolicy,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from nhl_assets import catalog, specs
from nhl_assets.automation.conditions import shot_xg_condition, xg_model_condition
from nhl_assets.catalog import gold as cg, silver as cs
from nhl_assets.dates import DateWindow
from nhl_assets.gold.models import RetrainConfig, latest_model
from nhl_assets.partitions import game_date_partitions
from nhl_assets.resources import WarehouseResource
from nhl_assets.storage.delta import Warehouse, write_concurrently
from nhl_assets.transform import model as tm
from nhl_assets.transform import xg as tx
from nhl_assets.transform.retrain import RETRAIN_AFTER_DAYS, retrain_reason

XG_MODEL, SHOT_XG = cg.XG_MODEL.name, cg.SHOT_XG.name
PLAYER_XGOALS, TEAM_XGOALS = cg.PLAYER_GAME_XGOALS.name, cg.TEAM_GAME_XGOALS.name
SHOTS, SILVER_PLAYERS, SILVER_TEAMS = cs.SHOTS.name, cs.PLAYER_GAME_STATS.name, cs.TEAM_GAME_STATS.name
XG_TABLES = (XG_MODEL, SHOT_XG, PLAYER_XGOALS, TEAM_XGOALS)
XG_CODE_VERSION = "1"
MODEL_SCHEMA = cg.XG_MODEL.arrow_schema
CALIBRATION_TOLERANCE = 0.05  # the held-back xG sum within 5% of the goals
key = specs.asset_key


# ----------------------------------------------------------------------------------------------------
# the model (refresh)
# ----------------------------------------------------------------------------------------------------


@asset(
    key=key(XG_MODEL), deps=[key(SHOTS)], group_name="gold", kinds={"delta", "scikitlearn"},
    owners=specs.OWNERS, code_version=XG_CODE_VERSION, tags=specs.tags(XG_MODEL),
    automation_condition=xg_model_condition(), description=specs.description(XG_MODEL),
    metadata=specs.metadata(XG_MODEL),
    check_specs=[
        AssetCheckSpec("beats_distance_baseline", asset=key(XG_MODEL),
                       description="On the held-back dates the model's log loss is lower than a logistic "
                                   "regression on shot distance alone."),
        AssetCheckSpec("calibrated", asset=key(XG_MODEL),
                       description="On the held-back dates the sum of xG is within 5% of the goals scored."),
    ],
)
def xg_model(context: AssetExecutionContext, config: RetrainConfig, warehouse: WarehouseResource):
    """Retrain only when `transform.retrain` says so (no model yet, other features or parameters, shots of a
    week of game dates past the model's last training); otherwise keep the model in use. The data version is
    the version of the model in use, so the shots are re-scored only when it changes (see
    `shot_xg_condition`)."""
    started = time.monotonic()
    wh = warehouse.get()
    previous = latest_model(wh, XG_MODEL)
    dates = wh.read_frame(SHOTS, columns=["gameDate"])
    newest = dates.get_column("gameDate").max() if dates is not None and dates.height else None
    why = retrain_reason(previous, newest, tx.FEATURES, tx.PARAMS, force=config.retrain)
    if why is None:
        note = (f"kept the model trained at {previous['trainedAt']} (through {previous['trainedThrough']}): the "
                f"newest shots ({newest}) are less than {RETRAIN_AFTER_DAYS} days past it")
        context.log.info(note)
        yield from _checks(json.loads(previous["metrics"]), kept=True)
        yield MaterializeResult(data_version=DataVersion(str(previous["trainedAt"])),
                                metadata={"kept_previous_model": True, "note": note})
        return
    shots = wh.read_frame(SHOTS, columns=list(tx.SHOT_COLUMNS))
    reason = (f"{SHOTS} does not exist (`nhl-assets migrate status`)" if shots is None
              else tx.untrainable_reason(shots))
    if reason is not None:
        yield from _not_trained(context, wh, previous, reason)
        return
    context.log.info(f"training the xG model: {why}")
    trained = tx.train(shots)
    now = datetime.now(timezone.utc)
    metrics = {k: v.as_dict() for k, v in trained.evaluations.items()}
    row = {"trainedAt": now, "runId": context.run.run_id, "modelName": tx.MODEL_NAME,
           "library": f"scikit-learn {__import__('sklearn').__version__}", "features": json.dumps(tx.FEATURES),
           "params": json.dumps(tx.PARAMS), "trainedThrough": trained.trained_through,
           "holdoutFrom": trained.holdout_from, "trainRows": trained.train_rows, "holdoutRows": trained.holdout_rows,
           "metrics": json.dumps(metrics), "importances": json.dumps(trained.importances),
           "calibration": json.dumps(trained.calibration), "model": trained.dumps()}
    write = wh.replace_all(XG_MODEL, pa.Table.from_pylist([row], schema=MODEL_SCHEMA), run_id=context.run.run_id)
    yield from _checks(metrics, kept=False)
    table = "| predictor | log loss | ROC AUC | Brier | xG / goals |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {k} | {v.log_loss:.5f} | {v.roc_auc:.4f} | {v.brier:.5f} | {v.xg_over_goals:.3f} |"
        for k, v in trained.evaluations.items())
    yield MaterializeResult(data_version=DataVersion(str(now)),
                            metadata={
        **write.metadata(), "dagster/row_count": 1, "metrics": MetadataValue.md(table),
        "metrics_json": MetadataValue.json(metrics), "feature_importances": MetadataValue.json(trained.importances),
        "calibration": MetadataValue.json(trained.calibration),
        "calibration_plot": MetadataValue.md(tm.png_markdown(trained.plot_png, "xG calibration and log loss")),
        "trained_through": trained.trained_through.isoformat(), "holdout_from": trained.holdout_from.isoformat(),
        "train_rows": trained.train_rows, "holdout_rows": trained.holdout_rows,
        "wall_time_s": round(time.monotonic() - started, 3)})


def _checks(metrics: dict[str, dict], kept: bool):
    """The two checks from a model's held-back metrics (those of the model kept in use, when not retrained)."""
    m, d = metrics["model"], metrics["distance"]
    gain = (d["log_loss"] - m["log_loss"]) / d["log_loss"]
    ok = m["log_loss"] < d["log_loss"]
    which = "the model in use (not retrained): " if kept else ""
    yield AssetCheckResult(
        check_name="beats_distance_baseline", passed=ok, severity=AssetCheckSeverity.ERROR,
        description=(f"{which}log loss {m['log_loss']:.5f} vs distance only {d['log_loss']:.5f} ({gain:+.2%}"
                     f"{'' if ok else ': the model is worse than distance alone'}); ROC AUC {m['roc_auc']:.4f} vs "
                     f"{d['roc_auc']:.4f}"),
        metadata={"log_loss_improvement": round(gain, 5), "model_log_loss": m["log_loss"],
                  "distance_log_loss": d["log_loss"], "model_auc": m["roc_auc"], "distance_auc": d["roc_auc"]})
    ratio = m["xg_over_goals"]
    yield AssetCheckResult(
        check_name="calibrated", passed=abs(ratio - 1) <= CALIBRATION_TOLERANCE, severity=AssetCheckSeverity.WARN,
        description=f"{which}held-back xG {m['xg_sum']:.1f} for {m['goals']} goals ({ratio - 1:+.1%}; tolerance "
                    f"{CALIBRATION_TOLERANCE:.0%})",
        metadata={"xg_sum": m["xg_sum"], "goals": m["goals"], "xg_over_goals": ratio})


def _not_trained(context: AssetExecutionContext, wh: Warehouse, previous: dict | None, reason: str):
    """Too little history (or no shot table): no training; the model in use stays, or the table stays empty."""
    if previous is not None:
        note = f"not retrained: {reason}; the model trained at {previous['trainedAt']} stays in use"
        metadata = {"kept_previous_model": True}
    else:
        write = wh.replace_all(XG_MODEL, MODEL_SCHEMA.empty_table(), run_id=context.run.run_id)
        note = f"no xG model trained: {reason}; wrote 0 rows to {XG_MODEL}"
        metadata = {**write.metadata(), "dagster/row_count": 0}
    context.log.warning(note)
    for check in ("beats_distance_baseline", "calibrated"):
        yield AssetCheckResult(check_name=check, passed=False, severity=AssetCheckSeverity.WARN, description=note,
                               metadata={"trained": False})
    version = str(previous["trainedAt"]) if previous is not None else "no model"
    yield MaterializeResult(data_version=DataVersion(version), metadata={**metadata, "note": note})


# ----------------------------------------------------------------------------------------------------
# shots scored and the xGoals columns (by game date)
# ----------------------------------------------------------------------------------------------------

_SCORED_SHOT_COLUMNS = sorted({*tx.SHOT_COLUMNS, *cg.SHOT_XG.column_names, "onIceForIds", "onIceAgainstIds"}
                              - {"xGoal", "modelTrainedAt", "scoredAt"})


def _xg_spec(table: str, deps: list) -> AssetSpec:
    return AssetSpec(key(table), deps=deps, group_name="gold", kinds={"delta", "polars"}, owners=specs.OWNERS,
                     code_version=XG_CODE_VERSION, tags=specs.tags(table), metadata=specs.metadata(table),
                     description=specs.description(table, "Re-scored whole when the xG model changes."),
                     automation_condition=shot_xg_condition(
                         AssetSelection.assets(key(SHOTS), key(SILVER_PLAYERS), key(SILVER_TEAMS)),
                         AssetSelection.assets(key(XG_MODEL))))


@multi_asset(
    name="gold_shot_xg",
    specs=[_xg_spec(SHOT_XG, [key(SHOTS), key(XG_MODEL)]),
           _xg_spec(PLAYER_XGOALS, [key(SHOT_XG), key(SHOTS), key(SILVER_PLAYERS)]),
           _xg_spec(TEAM_XGOALS, [key(SHOT_XG), key(SILVER_TEAMS)])],
    check_specs=[
        AssetCheckSpec("scored_by_current_model", asset=key(SHOT_XG),
                       description="Every attempt of the window carries the version of the xG model in use."),
        AssetCheckSpec("xgoals_add_up", asset=key(TEAM_XGOALS),
                       description="Per team game, xGoalsFor equals the xG of its attempts and the `all` row the "
                                   "sum of the situations; players' own xGoals never exceed their team's."),
    ],
    partitions_def=game_date_partitions(),
    backfill_policy=BackfillPolicy.single_run(),
    can_subset=False,
)
def gold_shot_xg(context: AssetExecutionContext, warehouse: WarehouseResource):
    started = time.monotonic()
    window = DateWindow.from_key_range(context.partition_key_range)
    wh = warehouse.get()
    shots = wh.read_frame(SHOTS, window, columns=_SCORED_SHOT_COLUMNS)
    players = wh.read_frame(SILVER_PLAYERS, window, columns=["gameId", "playerId", "situation", "gameDate", "season",
                                                          "playerTeam", "hasShiftData"])
    teams = wh.read_frame(SILVER_TEAMS, window, columns=["gameId", "team", "situation", "gameDate", "season",
                                                      "opposingTeam"])
    model = latest_model(wh, XG_MODEL)
    now = datetime.now(timezone.utc)
    if model is None or shots is None:
        note = (f"{XG_MODEL} holds no model (see its materialization)" if shots is not None
                else f"{SHOTS} does not exist") + f": wrote 0 rows for {window}"
        context.log.warning(note)
        scored = cg.SHOT_XG.empty()
        pxg, txg = cg.PLAYER_GAME_XGOALS.empty(), cg.TEAM_GAME_XGOALS.empty()
        version = None
    else:
        note = None
        version = model["trainedAt"]
        scored = tx.score(shots, tx.load(model["model"]), version, now)  # row for row, in the shots' order
        with_ice = scored.with_columns(shots.get_column("onIceForIds"), shots.get_column("onIceAgainstIds"))
        pxg = tx.player_xgoals(players if players is not None else pl.DataFrame(), with_ice, version)
        txg = tx.team_xgoals(teams if teams is not None else pl.DataFrame(), with_ice, version)
    run_id = context.run.run_id
    writes = write_concurrently({t: partial(wh.replace_window, t, f.to_arrow(), window, run_id=run_id,
                                            partition_by=catalog.partition_by(t))
                                 for t, f in ((SHOT_XG, scored), (PLAYER_XGOALS, pxg), (TEAM_XGOALS, txg))})
    stale = scored.filter(pl.col("modelTrainedAt") != version).height if version is not None else scored.height
    yield AssetCheckResult(asset_key=key(SHOT_XG), check_name="scored_by_current_model",
                           passed=model is not None and stale == 0, severity=AssetCheckSeverity.WARN,
                           description=note, metadata={"rows": scored.height, "other_version_rows": stale,
                                                       "model_trained_at": str(version)})
    problems = _sum_problems(scored, pxg, txg)
    yield AssetCheckResult(asset_key=key(TEAM_XGOALS), check_name="xgoals_add_up", passed=not problems,
                           metadata={"problems": MetadataValue.json(problems[:20]), "team_rows": txg.height})
    wall = round(time.monotonic() - started, 3)
    unblocked = scored.filter(pl.col("event") != "blocked-shot")
    for table, frame in ((SHOT_XG, scored), (PLAYER_XGOALS, pxg), (TEAM_XGOALS, txg)):
        w = writes[table]
        yield MaterializeResult(asset_key=key(table), metadata={
            **w.metadata(), "dagster/row_count": frame.height, "dagster/uri": MetadataValue.path(w.uri),
            "model_trained_at": str(version), "wall_time_s": wall,
            "xg_sum": round(float(unblocked.get_column("xGoal").sum()), 2) if unblocked.height else 0.0,
            "goals": int(unblocked.get_column("goal").sum()) if unblocked.height else 0,
            **({"note": note} if note else {})})


def _sum_problems(scored: pl.DataFrame, pxg: pl.DataFrame, txg: pl.DataFrame, tol: float = 1e-6) -> list[str]:
    """Where the team and player sums disagree with the shots they were summed from (independent recount)."""
    if txg.is_empty():
        return []
    problems = []
    shot_sum = scored.group_by("gameId", "team").agg(pl.col("xGoal").sum().alias("shots"))
    alls = txg.filter(pl.col("situation") == "all").join(shot_sum, on=["gameId", "team"], how="left")
    for r in alls.filter((pl.col("xGoalsFor") - pl.col("shots").fill_null(0.0)).abs() > tol).iter_rows(named=True):
        problems.append(f"{r['gameId']} {r['team']}: xGoalsFor {r['xGoalsFor']:.4f} != shots {r['shots']}")
    parts = txg.filter(pl.col("situation") != "all").group_by("gameId", "team").agg(
        pl.col("xGoalsFor").sum().alias("parts"))
    for r in alls.join(parts, on=["gameId", "team"]).filter(
            (pl.col("xGoalsFor") - pl.col("parts")).abs() > tol).iter_rows(named=True):
        problems.append(f"{r['gameId']} {r['team']}: all {r['xGoalsFor']:.4f} != situations {r['parts']:.4f}")
    if pxg.height:
        own = pxg.filter(pl.col("situation") == "all").group_by("gameId", "playerTeam").agg(
            pl.col("I_F_xGoals").sum().alias("players"))
        over = own.join(alls, left_on=["gameId", "playerTeam"], right_on=["gameId", "team"]).filter(
            pl.col("players") > pl.col("xGoalsFor") + tol)
        problems += [f"{r['gameId']} {r['playerTeam']}: players {r['players']:.4f} > team {r['xGoalsFor']:.4f}"
                     for r in over.iter_rows(named=True)]
    return problems
