"""The demo's, tests' and benchmarks' harness: the whole graph in dependency order, and the pipeline sensor
driven tick by tick in one process, as the daemon would. Production code imports none of this; the
launching helpers it builds on live in `nhl_assets.ops.launch` (re-exported here for the harness).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from nhl_assets.definitions import PARTITIONED_JOB
from nhl_assets.ops.launch import (  # noqa: F401  (re-exported: the harness's launching helpers)
    QUIET,
    timed_steps,
    materialize_window,
    refresh_unpartitioned,
    run_gold,
    upcoming_until,
)
from nhl_assets.partitions import DateWindow

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
