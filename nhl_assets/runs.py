"""Launching the project's jobs in-process (demo, tests, benchmarks) exactly as Dagster would.

A range run is tagged like a single-run backfill (`dagster/asset_partition_range_start|end`), so the
assets see the same `partition_key_range` they get from `dagster asset materialize --partition-range`
or from a UI backfill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from nhl_assets.definitions import (
    GOLD_FEATURES_JOB,
    MODEL_JOB,
    PARTITIONED_JOB,
    PREDICTIONS_JOB,
    REFRESH_JOB,
)
from nhl_assets.partitions import DateWindow

#: Run config that keeps Dagster's console logger at INFO (the in-process default is DEBUG).
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def materialize_window(defs: Definitions, window: DateWindow, instance: DagsterInstance,
                       job_name: str = PARTITIONED_JOB, raise_on_error: bool = True,
                       run_config: dict | None = None) -> ExecuteInProcessResult:
    """Materialize every partitioned asset of `job_name` for `window` in one run."""
    job = defs.resolve_job_def(job_name)
    return job.execute_in_process(
        instance=instance,
        run_config={**QUIET, **(run_config or {})},
        tags={"dagster/asset_partition_range_start": window.start.isoformat(),
              "dagster/asset_partition_range_end": window.end.isoformat()},
        raise_on_error=raise_on_error,
    )


def refresh_unpartitioned(defs: Definitions, instance: DagsterInstance, raise_on_error: bool = True,
                          run_config: dict | None = None) -> ExecuteInProcessResult:
    """Recompute every unpartitioned (refresh) asset from its upstream."""
    return defs.resolve_job_def(REFRESH_JOB).execute_in_process(
        instance=instance, run_config={**QUIET, **(run_config or {})}, raise_on_error=raise_on_error)


def upcoming_until(window: DateWindow) -> date:
    """Last date of the upcoming games stored in gold/upcoming_schedule (at most a week past `window`)."""
    from datetime import timedelta

    from nhl_assets import settings
    from nhl_assets.partitions import UPCOMING_DAYS
    from nhl_assets.storage.delta import Warehouse

    t = Warehouse(settings.warehouse_root()).read_arrow("gold/upcoming_schedule", columns=["gameDate"])
    dates = [d for d in (t.column("gameDate").to_pylist() if t is not None else []) if d > window.end]
    return min(max(dates), window.end + timedelta(days=UPCOMING_DAYS + 1)) if dates else window.end


def _timed(steps: dict[str, float], log):
    import time

    def step(name: str, fn) -> None:
        started = time.monotonic()
        fn()
        steps[name] = round(time.monotonic() - started, 3)
        if log:
            log(f"{name}: {steps[name]:.1f} s")

    return step


def run_gold(defs: Definitions, window: DateWindow, instance: DagsterInstance, *, run_config: dict | None = None,
             model: bool = True, log=None) -> dict[str, float]:
    """Everything below silver for `window`: refresh (upcoming schedule, season stats), features for the
    window and the upcoming games after it, the model, predictions for the same dates."""
    steps: dict[str, float] = {}
    step = _timed(steps, log)
    step("refresh", lambda: refresh_unpartitioned(defs, instance, run_config=run_config))
    gold = DateWindow(window.start, upcoming_until(window))
    step("gold features", lambda: materialize_window(defs, gold, instance, GOLD_FEATURES_JOB))
    if model:
        step("model", lambda: defs.resolve_job_def(MODEL_JOB).execute_in_process(instance=instance, run_config=QUIET))
        step("predictions", lambda: materialize_window(defs, gold, instance, PREDICTIONS_JOB))
    return steps


def run_pipeline(defs: Definitions, window: DateWindow, instance: DagsterInstance, *,
                 run_config: dict | None = None, model: bool = True, log=None) -> dict[str, float]:
    """The whole graph in dependency order, one Dagster run per step; returns each step's wall seconds:
    bronze + silver for `window`, then `run_gold`."""
    steps: dict[str, float] = {}
    _timed(steps, log)("bronze+silver", lambda: materialize_window(defs, window, instance, PARTITIONED_JOB,
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


@dataclass
class SensorDrive:
    """What ticking the pipeline sensor until it was idle did."""

    cursor: str | None
    tick_seconds: list[float] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)


def drive_sensor(defs: Definitions, instance: DagsterInstance, resources: dict, *, cursor: str | None = None,
                 api_config: dict | None = None, max_ticks: int = 40) -> SensorDrive:
    """Tick `nhl_pipeline_sensor` and run every run it requests, until a tick requests nothing (benchmarks
    and tests: the daemon's loop, in one process)."""
    import time

    from dagster import build_sensor_context

    sensor = defs.resolve_sensor_def("nhl_pipeline_sensor")
    drive = SensorDrive(cursor)
    for _ in range(max_ticks):
        ctx = build_sensor_context(instance=instance, cursor=drive.cursor, repository_def=defs.get_repository_def(),
                                   resources=resources)
        started = time.monotonic()
        data = sensor.evaluate_tick(ctx)
        drive.tick_seconds.append(time.monotonic() - started)
        drive.cursor = data.cursor or drive.cursor
        if not data.run_requests:
            break
        for req in data.run_requests:
            execute_request(defs, instance, req, api_config=api_config)
            drive.jobs.append(req.job_name)
    return drive
