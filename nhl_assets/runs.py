"""Launching the project's jobs in-process (demo, tests, benchmarks) exactly as Dagster would.

A range run is tagged like a single-run backfill (`dagster/asset_partition_range_start|end`), so the
assets see the same `partition_key_range` they get from `dagster asset materialize --partition-range`
or from a UI backfill.
"""

from __future__ import annotations

from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from nhl_assets.definitions import PARTITIONED_JOB, REFRESH_JOB
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
