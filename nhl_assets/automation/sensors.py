"""The pipeline's daily life: one sensor drives bronze → silver → gold, a schedule is the fallback.

`nhl_pipeline_sensor` looks at the NHL schedule and the warehouse on each tick and requests the next
step that has work, one step per tick (a step's runs finish before the next step is decided, so nothing
races and nothing is requested twice):

1. bronze for the dates `plan.plan_bronze` picks (new final games, incomplete dates re-requested until
   complete or given up, a once-a-day lookback for stat corrections);
2. silver for every date whose bronze data version changed since silver was computed from it (Dagster's
   data versions: an identical re-fetch leaves silver fresh, so nothing below re-runs);
3. the refresh (upcoming schedule, season stats) when silver changed since the last refresh;
4. gold features from the earliest changed date through the upcoming week (features of later dates use
   earlier games, so the whole suffix is recomputed);
5. the model when the features changed; 6. predictions from the earliest changed date through the week.

Every request has a stable `run_key`; the cursor remembers the tick count, when each date was last
requested and which were given up, so re-enabling the sensor does not flood the queue. An API outage
makes the tick skip (nothing requested, nothing lost) and the next tick carries on.
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import orjson
import polars as pl
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    schedule,
    sensor,
)

from nhl_assets import settings
from nhl_assets.automation.plan import Cursor, DayState, plan_bronze
from nhl_assets.bronze import tables as bt
from nhl_assets.parse.schedule import week_games
from nhl_assets.partitions import UPCOMING_DAYS, DateWindow
from nhl_assets.resources import AutomationConfig, NHLApiResource, WarehouseResource
from nhl_assets.source.client import NHLSourceError

BRONZE_JOB = "nhl_bronze"
JOBS = ("nhl_bronze", "nhl_partitions", "nhl_import_raw", "nhl_silver_replay", "nhl_refresh", "nhl_gold_features",
        "nhl_model", "nhl_predictions")
IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
SILVER_KEY = AssetKey(["silver", "player_game_stats"])
FEATURES_KEY = AssetKey(["gold", "player_game_features"])
SEASON_KEY = AssetKey(["gold", "skater_season_stats"])
MODEL_KEY = AssetKey(["gold", "sog_model"])
PREDICTIONS_KEY = AssetKey(["gold", "sog_predictions"])
LOADED_TYPES = (2, 3)


# ----------------------------------------------------------------------------------------------------
# reading the world
# ----------------------------------------------------------------------------------------------------


def schedule_days(source, today: date, first: date) -> dict[date, tuple[int, int]]:
    """date -> (scheduled, final) regular-season/playoff games, from the week payloads covering the range."""
    out: dict[date, tuple[int, int]] = {}
    d = first
    while d <= today:
        payload = orjson.loads(source.schedule(d).raw.body)
        for day, g in week_games(payload):
            if day > today or day < first or g.get("gameType") not in LOADED_TYPES:
                continue
            n, f = out.get(day, (0, 0))
            out[day] = (n + 1, f + (g.get("gameState") in ("OFF", "FINAL")))
        for day in (date.fromisoformat(x["date"]) for x in payload.get("gameWeek") or []):
            out.setdefault(day, (0, 0)) if first <= day <= today else None
        d += timedelta(days=7)
    return out


def day_states(wh, sched: dict[date, tuple[int, int]], first: date, today: date) -> dict[date, DayState]:
    window = DateWindow(first, today)
    fetched_t = wh.read_arrow(bt.SCHEDULE, window, columns=["gameDate"])
    fetched = set(fetched_t.column("gameDate").to_pylist()) if fetched_t is not None else set()
    ledger_t = wh.read_arrow(bt.GAMES, window, columns=["gameDate", "isFinal", "isComplete"])
    ledger = pl.from_arrow(ledger_t) if ledger_t is not None and ledger_t.num_rows else None
    counts: dict[date, tuple[int, int, int]] = {}
    if ledger is not None:
        for d, n, f, inc in ledger.group_by("gameDate").agg(
                pl.len(), pl.col("isFinal").sum(), (~pl.col("isComplete")).sum()).iter_rows():
            counts[d] = (n, f, inc)
    out = {}
    for d, (scheduled, final) in sched.items():
        n, f, inc = counts.get(d, (0, 0, 0))
        out[d] = DayState(d, scheduled, final, d in fetched, n, f, inc)
    return out


def _latest(instance, key: AssetKey):
    recs = instance.fetch_materializations(key, limit=1).records
    return recs[0] if recs else None


def _sid(record) -> int:
    return record.storage_id if record is not None else -1


def _partitions_since(instance, key: AssetKey, after: int) -> list[str]:
    recs = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=5000).records
    return sorted({r.partition_key for r in recs if r.partition_key})


def _data_version(record) -> str | None:
    mat = record.asset_materialization
    return (mat.tags or {}).get("dagster/data_version") if mat is not None else None


def _changed_partitions(instance, key: AssetKey, after: int) -> list[str]:
    """Partitions materialized after storage id `after` whose data version differs from the one they had
    then: a re-run that produced the same rows is not a change (so nothing below re-runs for it)."""
    changed = []
    for pk in _partitions_since(instance, key, after):
        latest = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[pk]),
                                                 limit=1).records
        before = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[pk],
                                                                    before_storage_id=after + 1), limit=1).records
        if not before or not latest or _data_version(latest[0]) != _data_version(before[0]):
            changed.append(pk)
    return changed


def _failed(context, instance, run_key: str) -> bool:
    """Whether this sensor's run for `run_key` already ran and failed (Dagster would skip the same key again:
    re-requesting it every tick would block every step after it)."""
    runs = instance.get_runs(filters=RunsFilter(tags={"dagster/run_key": run_key},
                                                statuses=[DagsterRunStatus.FAILURE]), limit=1)
    if runs:
        context.log.warning(f"{run_key}: its run {runs[0].run_id} failed; skipping it until its inputs change")
    return bool(runs)


def _range_request(job: str, start: date, end: date, run_key: str, reason: str) -> RunRequest:
    return RunRequest(job_name=job, run_key=run_key, tags={
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(), "nhl/reason": reason})


def _stale_silver(instance, graph, dates: list[date]) -> list[date]:
    """Dates whose silver is missing or computed from an older bronze data version."""
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
    from dagster._time import get_current_datetime

    view = AssetGraphView(temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
                          instance=instance, asset_graph=graph)
    resolver = CachingStaleStatusResolver(instance=instance, asset_graph=graph, loading_context=view)
    return [d for d in dates if resolver.get_status(SILVER_KEY, d.isoformat()) in (StaleStatus.STALE,
                                                                                    StaleStatus.MISSING)]


# ----------------------------------------------------------------------------------------------------
# the sensor
# ----------------------------------------------------------------------------------------------------


def evaluate(context: SensorEvaluationContext, nhl_api: NHLApiResource, warehouse: WarehouseResource,
             automation: AutomationConfig) -> SensorResult | SkipReason:
    instance = context.instance
    busy = instance.get_runs(filters=RunsFilter(job_name=None, statuses=IN_FLIGHT), limit=50)
    if any(r.job_name in JOBS for r in busy):
        return SkipReason("pipeline runs in progress: waiting for them before deciding the next step")
    cursor = Cursor.from_json(json.loads(context.cursor) if context.cursor else None)
    cursor.tick += 1
    start = settings.start_date()
    try:
        with nhl_api.open() as source:
            now = orjson.loads(source.schedule_now().raw.body)
            week = now.get("gameWeek") or []
            today = date.fromisoformat(week[0]["date"]) if week else date.today()
            first = max(start, today - timedelta(days=automation.give_up_days + 7))
            sched = schedule_days(source, today, first)
    except (NHLSourceError, KeyError, ValueError, orjson.JSONDecodeError) as exc:
        return SkipReason(f"NHL API unavailable this tick ({type(exc).__name__}: {str(exc)[:200]}); "
                          "nothing requested, the next tick retries")
    wh = warehouse.get()
    states = day_states(wh, sched, first, today)
    decisions, given_up = plan_bronze(today, states, cursor, lookback_days=automation.lookback_days,
                                      give_up_days=automation.give_up_days, now=time.time(),
                                      retry_every_minutes=automation.retry_every_minutes, start=start)
    for d in given_up:
        context.log.warning(f"{d}: still incomplete after {automation.give_up_days} days; no longer re-requested "
                            "(see bronze/games.missing; `nhl-assets backfill` re-fetches it by hand)")
    requests: list[RunRequest] = []
    urgent = [d for d in decisions if d.reason != "incomplete"]
    retries = [d for d in decisions if d.reason == "incomplete"]
    if urgent:
        for d in retries:  # not requested this tick: keep them due
            cursor.last_request.pop(d.day.isoformat(), None)
        for dec in urgent:
            requests.append(RunRequest(job_name=BRONZE_JOB, partition_key=dec.day.isoformat(),
                                       run_key=f"bronze:{dec.day}:{dec.reason}:{cursor.tick}",
                                       tags={"nhl/reason": dec.reason}))
        return SensorResult(run_requests=requests, cursor=json.dumps(cursor.to_json()))
    fetched = sorted(d for d, st in states.items() if st.fetched and d >= today - timedelta(days=automation.give_up_days))
    stale = _stale_silver(instance, context.repository_def.asset_graph, fetched)
    games_sid = _sid(_latest(instance, AssetKey(["bronze", "games"])))
    silver_requests = [RunRequest(job_name="nhl_silver_replay", partition_key=d.isoformat(),
                                  run_key=f"silver:{d}:{games_sid}", tags={"nhl/reason": "bronze changed"})
                       for d in stale]
    silver_requests = [r for r in silver_requests if not _failed(context, instance, r.run_key)]
    if silver_requests:
        return SensorResult(run_requests=silver_requests, cursor=json.dumps(cursor.to_json()))
    season = _latest(instance, SEASON_KEY)
    features, model = _latest(instance, FEATURES_KEY), _latest(instance, MODEL_KEY)
    predictions = _latest(instance, PREDICTIONS_KEY)
    last_gold_day = today + timedelta(days=UPCOMING_DAYS)
    silver_changed = _changed_partitions(instance, SILVER_KEY, _sid(season))
    candidates: list[RunRequest] = []  # the steps below silver, in dependency order: the first that has work
    if silver_changed or cursor.refreshed_on != today.isoformat():
        candidates.append(RunRequest(job_name="nhl_refresh",
                                     run_key=f"refresh:{today}:{_sid(_latest(instance, SILVER_KEY))}",
                                     tags={"nhl/reason": "silver changed" if silver_changed else "new day"}))
    if season is not None and _sid(season) > _sid(features):
        changed = [date.fromisoformat(p) for p in _changed_partitions(instance, SILVER_KEY, _sid(features))]
        candidates.append(_range_request("nhl_gold_features", min(changed + [today]), last_gold_day,
                                         f"features:{_sid(season)}", "silver or upcoming schedule changed"))
    if features is not None and _sid(features) > _sid(model):
        candidates.append(RunRequest(job_name="nhl_model", run_key=f"model:{_sid(features)}",
                                     tags={"nhl/reason": "features changed"}))
    if model is not None and _sid(model) > _sid(predictions):
        changed = [date.fromisoformat(p) for p in _partitions_since(instance, FEATURES_KEY, _sid(predictions))]
        candidates.append(_range_request("nhl_predictions", min(changed + [today]), last_gold_day,
                                         f"predictions:{_sid(model)}", "model or features changed"))
    for request in candidates:
        if _failed(context, instance, request.run_key):
            continue  # already tried and failed: say so in the run's logs, go on with what can still run
        if request.job_name == "nhl_refresh":
            cursor.refreshed_on = today.isoformat()
        requests.append(request)
        break
    if not requests:  # nothing downstream to do: now the dates still waiting for late data
        requests = [RunRequest(job_name=BRONZE_JOB, partition_key=d.day.isoformat(),
                               run_key=f"bronze:{d.day}:{d.reason}:{cursor.tick}", tags={"nhl/reason": d.reason})
                    for d in retries]
    else:
        for d in retries:  # not requested this tick: keep them due
            cursor.last_request.pop(d.day.isoformat(), None)
    if requests:
        return SensorResult(run_requests=requests, cursor=json.dumps(cursor.to_json()))
    context.update_cursor(json.dumps(cursor.to_json()))
    return SkipReason(f"{today}: every date complete and every table current")


def build_sensor(jobs: list):
    """The sensor, targeting the pipeline's jobs (built with the Definitions)."""

    @sensor(name="nhl_pipeline_sensor", minimum_interval_seconds=120, default_status=DefaultSensorStatus.STOPPED,
            jobs=jobs, description="Requests the next step of bronze → silver → refresh → features → model → "
                                   "predictions that has work: new final games, incomplete dates until complete, "
                                   "a daily lookback for corrections; unchanged re-fetches stop at bronze.")
    def nhl_pipeline_sensor(context: SensorEvaluationContext, nhl_api: NHLApiResource, warehouse: WarehouseResource,
                            automation: AutomationConfig):
        return evaluate(context, nhl_api, warehouse, automation)

    return nhl_pipeline_sensor


@schedule(name="nhl_daily_fallback", cron_schedule="0 6 * * *", execution_timezone=settings.NHL_TIMEZONE,
          job_name="nhl_partitions", description="Fallback when the sensor is off: at 06:00 New York time, bronze "
                                                 "and silver for the two previous game dates (yesterday's games and "
                                                 "a day of corrections).")
def nhl_daily_fallback(context):
    day = context.scheduled_execution_time.date() - timedelta(days=1)
    return RunRequest(run_key=f"daily:{day}", tags={
        "dagster/asset_partition_range_start": (day - timedelta(days=1)).isoformat(),
        "dagster/asset_partition_range_end": day.isoformat()})
