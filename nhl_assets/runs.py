"""The demo's, tests' and benchmarks' harness: the whole graph in dependency order, and the pipeline sensor
driven tick by tick in one process, as the daemon would. Production code imports none of this; the
launching helpers it builds on live in `nhl_assets.ops.launch` (re-exported here for the harness).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    EvaluateAutomationConditionsResult,
    ExecuteInProcessResult,
    evaluate_automation_conditions,
)

from nhl_assets import settings, specs
from nhl_assets.catalog import gold as cg
from nhl_assets.definitions import (
    AUTOMATED,
    AUTOMATION_JOBS,
    AUTOMATION_RUN_TAGS,
    PARTITIONED_JOB,
)
from nhl_assets.ops.launch import (  # noqa: F401  (re-exported: the harness's launching helpers)
    QUIET,
    timed_steps,
    materialize_window,
    refresh_unpartitioned,
    run_gold,
    upcoming_until,
)
from nhl_assets.dates import DateWindow

#: `EvaluateAutomationConditionsResult.cursor`: opaque (its class is not a public export), handed back as is.
AutomationCursor = Any


def run_pipeline(defs: Definitions, window: DateWindow, instance: DagsterInstance, *,
                 run_config: dict | None = None, model: bool = True, log=None) -> dict[str, float]:
    """The whole graph in dependency order, one Dagster run per step; returns each step's wall seconds:
    bronze + silver for `window`, then `run_gold`."""
    steps: dict[str, float] = {}
    timed_steps(steps, log)("bronze+silver", lambda: materialize_window(defs, window, instance, PARTITIONED_JOB,
                                                                   run_config=run_config))
    steps.update(run_gold(defs, window, instance, run_config=run_config, model=model, log=log))
    return steps


#: Jobs whose runs call the NHL API (they take the `nhl_api` resource's run config).
API_JOBS = frozenset({"nhl_bronze", "nhl_partitions", "nhl_refresh"})


def execute_request(defs: Definitions, instance: DagsterInstance, request, *, api_config: dict | None = None,
                    raise_on_error: bool = True) -> ExecuteInProcessResult:
    """Run a sensor's `RunRequest` in this process, as the daemon would launch it (tags, partition)."""
    config = {**QUIET, **(api_config or {})} if request.job_name in API_JOBS else QUIET
    kwargs = {"partition_key": request.partition_key} if request.partition_key else {}
    return defs.resolve_job_def(request.job_name).execute_in_process(
        instance=instance, run_config=config, tags=dict(request.tags), raise_on_error=raise_on_error, **kwargs)


# ----------------------------------------------------------------------------------------------------
# the daemon's loop, in one process: the NHL-schedule sensor for bronze, the automation for the rest
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AutomationStep:
    """One run the automation asks for: a step's assets (one of `AUTOMATION_JOBS`) over a date range, or
    whole for the unpartitioned ones (`window` None)."""

    job_name: str
    asset_keys: frozenset[AssetKey]
    window: DateWindow | None

    @property
    def tags(self) -> dict[str, str]:
        """A range is tagged like a single-run backfill, which is what the daemon turns a multi-partition
        request of a `BackfillPolicy.single_run()` asset into."""
        if self.window is None:
            return {}
        return {"dagster/asset_partition_range_start": self.window.start.isoformat(),
                "dagster/asset_partition_range_end": self.window.end.isoformat()}


@dataclass
class AutomationTick:
    """One evaluation of the assets' automation conditions: what it requested, its cursor, its wall time."""

    steps: list[AutomationStep]
    cursor: AutomationCursor
    seconds: float


def date_ranges(keys: set[str]) -> list[DateWindow]:
    """Partition keys (game dates) as the fewest consecutive windows."""
    days = sorted(date.fromisoformat(k) for k in keys)
    windows: list[DateWindow] = []
    for d in days:
        if windows and (d - windows[-1].end).days == 1:
            windows[-1] = DateWindow(windows[-1].start, d)
        else:
            windows.append(DateWindow(d, d))
    return windows


def _steps(result: EvaluateAutomationConditionsResult) -> list[AutomationStep]:
    """The runs a tick's requests make, in the pipeline's order: per job, its requested keys and ranges."""
    steps: list[AutomationStep] = []
    for job_name, assets in AUTOMATION_JOBS.items():
        keys = [k for a in assets for k in a.keys if result.get_num_requested(k)]
        partitions = {p for k in keys for p in result.get_requested_partitions(k) if p is not None}
        if partitions:
            steps += [AutomationStep(job_name, frozenset(keys), w) for w in date_ranges(partitions)]
        elif keys:
            steps.append(AutomationStep(job_name, frozenset(keys), None))
    return steps


def evaluate_automation(defs: Definitions, instance: DagsterInstance, cursor: AutomationCursor | None, *,
                        evaluation_time: datetime | None = None) -> AutomationTick:
    """One tick of the automation sensor `nhl_automation`: its conditions evaluated at `evaluation_time`
    (Dagster's clock; a simulated world passes its own) with the public `evaluate_automation_conditions`."""
    import time

    started = time.monotonic()
    result = evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=AUTOMATED,
                                            evaluation_time=evaluation_time, cursor=cursor)
    return AutomationTick(_steps(result), result.cursor, time.monotonic() - started)


#: Assets whose runs call the NHL API (they take the `nhl_api` resource's run config).
_API_ASSETS = frozenset({specs.asset_key(cg.UPCOMING_SCHEDULE)})


def execute_step(defs: Definitions, instance: DagsterInstance, step: AutomationStep, *,
                 api_config: dict | None = None, raise_on_error: bool = True) -> ExecuteInProcessResult:
    """Run an automation step in this process, as the daemon would launch it (its assets, its range, the
    automation sensor's run tags)."""
    whole = step.asset_keys >= {k for a in AUTOMATION_JOBS[step.job_name] for k in a.keys}
    config = {**QUIET, **(api_config or {})} if step.asset_keys & _API_ASSETS else QUIET
    return defs.resolve_job_def(step.job_name).execute_in_process(
        instance=instance, run_config=config, tags={**AUTOMATION_RUN_TAGS, **step.tags},
                                  raise_on_error=raise_on_error,
                                  asset_selection=None if whole else sorted(step.asset_keys, key=str))


@dataclass
class SensorDrive:
    """What ticking the sensors until they were idle did."""

    cursor: str | None
    automation_cursor: AutomationCursor | None = None
    tick_seconds: list[float] = field(default_factory=list)
    automation_seconds: list[float] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    run_seconds: list[float] = field(default_factory=list)  # wall seconds of each run in `jobs`, in order

    def ran(self, job_name: str, started: float) -> None:
        self.jobs.append(job_name)
        self.run_seconds.append(time.monotonic() - started)


def api_clock(nhl_api) -> datetime:
    """Noon in New York on the API's today: Dagster's clock for a world whose API (a simulator) has its own
    date, so partitions, cron ticks and the API agree on which day it is."""
    with nhl_api.open() as source:
        week = orjson.loads(source.schedule_now().raw.body).get("gameWeek") or []
    today = date.fromisoformat(week[0]["date"]) if week else date.today()
    return datetime.combine(today, datetime.min.time().replace(hour=12), ZoneInfo(settings.NHL_TIMEZONE))


def tick_bronze(defs: Definitions, instance: DagsterInstance, resources: dict, cursor: str | None):
    """One tick of the NHL-schedule sensor `nhl_pipeline_sensor` (its `SensorExecutionData`)."""
    from dagster import build_sensor_context

    ctx = build_sensor_context(instance=instance, cursor=cursor, repository_def=defs.get_repository_def(),
                               resources=resources)
    return defs.resolve_sensor_def("nhl_pipeline_sensor").evaluate_tick(ctx)


def settle_automation(defs: Definitions, instance: DagsterInstance, drive: "SensorDrive", *,
                      evaluation_time: datetime | None, api_config: dict | None, max_ticks: int) -> int:
    """Evaluate the automation and run what it requests until a tick requests nothing; returns the ticks."""
    for n in range(1, max_ticks + 1):
        tick = evaluate_automation(defs, instance, drive.automation_cursor, evaluation_time=evaluation_time)
        drive.automation_cursor = tick.cursor
        drive.automation_seconds.append(tick.seconds)
        for step in tick.steps:
            started = time.monotonic()
            execute_step(defs, instance, step, api_config=api_config)
            drive.ran(step.job_name, started)
        if not tick.steps:
            return n
    return max_ticks


def drive_sensor(defs: Definitions, instance: DagsterInstance, resources: dict, *, cursor: str | None = None,
                 automation_cursor: AutomationCursor | None = None, api_config: dict | None = None,
                 max_ticks: int = 40, evaluation_time: datetime | None = None) -> SensorDrive:
    """The daemon's loop in one process (benchmarks and tests): tick `nhl_pipeline_sensor` and run the bronze
    runs it requests, then let the automation settle (evaluate, run, until it requests nothing), until a
    bronze tick requests nothing. `max_ticks` bounds the ticks of both; `evaluation_time` is Dagster's clock
    (default: `api_clock`). A first automation tick without a cursor only records where it starts, as the
    daemon's does: it is evaluated before bronze runs, so their changes are seen."""
    clock = evaluation_time or api_clock(resources["nhl_api"])
    drive = SensorDrive(cursor, automation_cursor)
    budget = max_ticks
    if drive.automation_cursor is None:
        budget -= settle_automation(defs, instance, drive, evaluation_time=clock, api_config=api_config,
                                    max_ticks=budget)
    while budget > 0:
        started = time.monotonic()
        data = tick_bronze(defs, instance, resources, drive.cursor)
        drive.tick_seconds.append(time.monotonic() - started)
        drive.cursor = data.cursor or drive.cursor
        budget -= 1
        for req in data.run_requests:
            run_started = time.monotonic()
            execute_request(defs, instance, req, api_config=api_config)
            drive.ran(req.job_name, run_started)
        budget -= settle_automation(defs, instance, drive, evaluation_time=clock, api_config=api_config,
                                    max_ticks=budget)
        if not data.run_requests:
            break
    return drive
