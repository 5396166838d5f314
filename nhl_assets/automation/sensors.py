"""The pipeline's daily life: the NHL schedule drives bronze, Declarative Automation the rest.

`nhl_pipeline_sensor` keeps only what Dagster cannot see: the NHL schedule. Each tick it reads the
schedule and the bronze ledger and requests bronze for the dates `plan.plan_bronze` picks (new final games,
dates with more final games than bronze holds, incomplete dates re-requested until complete or given up,
a once-a-day lookback for stat corrections), one run per date.

Everything below bronze is decided by the `AutomationCondition`s on the assets (`automation/conditions.py`),
evaluated by the automation sensor `nhl_automation`: silver where bronze's data version changed (an
identical re-fetch stops at bronze), the refresh, features from the earliest changed date through the
upcoming week, the model, the predictions.

Every bronze request has a stable `run_key`; the cursor remembers the tick count, when each date was last
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
    AssetSelection,
    AutomationConditionSensorDefinition,
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
from nhl_assets.dates import DateWindow
from nhl_assets.parse.schedule import week_games
from nhl_assets.resources import AutomationConfig, NHLApiResource, WarehouseResource
from nhl_assets.rules import is_final
from nhl_assets.source.types import NHLSourceError
from nhl_assets.source.games import fetch_schedules

BRONZE_JOB = "nhl_bronze"
#: Jobs that write bronze: while one runs, the ledger the plan reads is being rewritten, so the tick waits.
BRONZE_WRITERS = ("nhl_bronze", "nhl_partitions", "nhl_import_raw")
IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
#: The automation sensor's name (the in-process driver in `runs.py` evaluates the same selection).
AUTOMATION_SENSOR = "nhl_automation"
LOADED_TYPES = (2, 3)


# ----------------------------------------------------------------------------------------------------
# reading the world
# ----------------------------------------------------------------------------------------------------


def schedule_days(source, today: date, first: date) -> dict[date, tuple[int, int]]:
    """date -> (scheduled, final) regular-season/playoff games, from the week payloads covering the range.

    The weeks are requested concurrently (`fetch_schedules`): a tick's three weeks cost one round trip, not
    three, and every tick pays them.
    """
    out: dict[date, tuple[int, int]] = {}
    weeks = [first + timedelta(days=7 * k) for k in range((today - first).days // 7 + 1)]
    for fetched in fetch_schedules(source, weeks):
        payload = orjson.loads(fetched.raw.body)
        for day, g in week_games(payload):
            if day > today or day < first or g.get("gameType") not in LOADED_TYPES:
                continue
            n, f = out.get(day, (0, 0))
            out[day] = (n + 1, f + (is_final(g.get("gameState"))))
        for day in (date.fromisoformat(x["date"]) for x in payload.get("gameWeek") or []):
            out.setdefault(day, (0, 0)) if first <= day <= today else None
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


# ----------------------------------------------------------------------------------------------------
# the sensor
# ----------------------------------------------------------------------------------------------------


def evaluate(context: SensorEvaluationContext, nhl_api: NHLApiResource, warehouse: WarehouseResource,
             automation: AutomationConfig) -> SensorResult | SkipReason:
    """One tick: the bronze runs the NHL schedule and the ledger call for (see `plan.plan_bronze`)."""
    busy = context.instance.get_runs(filters=RunsFilter(statuses=IN_FLIGHT), limit=50)
    if any(r.job_name in BRONZE_WRITERS for r in busy):
        return SkipReason("bronze runs in progress: waiting for them before reading the ledger again")
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
    if not decisions:
        context.update_cursor(json.dumps(cursor.to_json()))
        return SkipReason(f"{today}: every date of the last {automation.give_up_days} days complete or waiting "
                          "for its games; below bronze, the automation sensor decides")
    requests = [RunRequest(job_name=BRONZE_JOB, partition_key=d.day.isoformat(),
                           run_key=f"bronze:{d.day}:{d.reason}:{cursor.tick}", tags={"nhl/reason": d.reason})
                for d in decisions]
    return SensorResult(run_requests=requests, cursor=json.dumps(cursor.to_json()))


def build_sensor(jobs: list):
    """The NHL-schedule sensor, targeting the bronze job (built with the Definitions)."""

    @sensor(name="nhl_pipeline_sensor", minimum_interval_seconds=120, default_status=DefaultSensorStatus.STOPPED,
            jobs=jobs, description="Requests bronze for what the NHL schedule says: new final games, incomplete "
                                   "dates until complete, a daily lookback for corrections. Below bronze the "
                                   "automation sensor nhl_automation decides (unchanged re-fetches stop at bronze).")
    def nhl_pipeline_sensor(context: SensorEvaluationContext, nhl_api: NHLApiResource, warehouse: WarehouseResource,
                            automation: AutomationConfig):
        return evaluate(context, nhl_api, warehouse, automation)

    return nhl_pipeline_sensor


def build_automation_sensor(target: AssetSelection, run_tags: dict[str, str]) -> AutomationConditionSensorDefinition:
    """The automation sensor evaluating the conditions of everything below bronze.

    `run_tags` are the `nhl/writes.*` tags of every table it may write: the automation launches runs of the
    implicit asset job, not of the project's jobs, so this is how its runs keep the production queue's rule
    of one running writer per table (they also never overlap each other, which costs nothing: each step
    waits for the previous one's write anyway)."""
    return AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR, target=target, run_tags=run_tags, default_status=DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=60,
        description="Silver where bronze's data changed, then the refresh, features from the earliest changed "
                    "date through the upcoming week, the model and the predictions (the assets' automation "
                    "conditions).")


@schedule(name="nhl_daily_fallback", cron_schedule="0 6 * * *", execution_timezone=settings.NHL_TIMEZONE,
          job_name="nhl_partitions", description="Fallback when the sensor is off: at 06:00 New York time, bronze "
                                                 "and silver for the two previous game dates (yesterday's games and "
                                                 "a day of corrections).")
def nhl_daily_fallback(context):
    day = context.scheduled_execution_time.date() - timedelta(days=1)
    return RunRequest(run_key=f"daily:{day}", tags={
        "dagster/asset_partition_range_start": (day - timedelta(days=1)).isoformat(),
        "dagster/asset_partition_range_end": day.isoformat()})
