"""Launching the project's jobs in-process from the command line, exactly as Dagster would.

A range run is tagged like a single-run backfill (`dagster/asset_partition_range_start|end`), so the
assets see the same `partition_key_range` they get from `dagster asset materialize --partition-range`
or from a UI backfill. Used by `nhl-assets backfill` and `import-raw` (and by the demo and the tests
through `nhl_assets.runs`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from dagster import AssetKey, DagsterInstance, Definitions, ExecuteInProcessResult

from nhl_assets import settings
from nhl_assets.catalog import gold as cg
from nhl_assets.definitions import (
    GOLD_FEATURES_JOB,
    MODEL_JOB,
    PARTITIONED_JOB,
    PREDICTIONS_JOB,
    REFRESH_JOB,
    SHOT_XG_JOB,
    XG_MODEL_JOB,
)
from nhl_assets.dates import DateWindow
from nhl_assets.partitions import UPCOMING_DAYS
from nhl_assets.specs import asset_key
from nhl_assets.storage.delta import Warehouse
from nhl_assets.transform.threads import preload

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
                          run_config: dict | None = None,
                          assets: Sequence[AssetKey] | None = None) -> ExecuteInProcessResult:
    """Recompute every unpartitioned (refresh) asset from its upstream, or only `assets` of them."""
    return defs.resolve_job_def(REFRESH_JOB).execute_in_process(
        instance=instance, run_config={**QUIET, **(run_config or {})}, raise_on_error=raise_on_error,
        asset_selection=list(assets) if assets is not None else None)


def upcoming_until(window: DateWindow) -> date:
    """Last date of the upcoming games stored in gold/upcoming_schedule (at most a week past `window`)."""
    t = Warehouse(settings.warehouse_root()).read_arrow(cg.UPCOMING_SCHEDULE.name, columns=["gameDate"])
    dates = [d for d in (t.column("gameDate").to_pylist() if t is not None else []) if d > window.end]
    return min(max(dates), window.end + timedelta(days=UPCOMING_DAYS + 1)) if dates else window.end


def timed_steps(steps: dict[str, float], log):
    def step(name: str, fn) -> None:
        started = time.monotonic()
        fn()
        steps[name] = round(time.monotonic() - started, 3)
        if log:
            log(f"{name}: {steps[name]:.1f} s")

    return step


def model_run_config(defs: Definitions, job_name: str, retrain: bool) -> dict:
    """Run config of a model job (`nhl_xg_model`, `nhl_model`); `retrain` forces a training over the rule
    of `transform.retrain` (the `retrain` field of each model asset's config)."""
    if not retrain:
        return QUIET
    ops = {node.name: {"config": {"retrain": True}} for node in defs.resolve_job_def(job_name).graph.nodes}
    return {**QUIET, "ops": ops}


def run_gold(defs: Definitions, window: DateWindow, instance: DagsterInstance, *, run_config: dict | None = None,
             model: bool = True, retrain: bool = False, log=None, upcoming: bool = True,
             step: Callable[[str, Callable[[], object]], None] | None = None) -> dict[str, float]:
    """Everything below silver for `window`: the xG model and every shot scored with it (the whole history
    when the model was retrained, since each row carries the version that scored it; else the window), the
    refresh (upcoming schedule, season stats), features for the window and the upcoming games after it, the
    shots-on-goal model, predictions for the same dates. The models retrain by their rule, or with
    `retrain` (a replay that changed the history they learned from).

    `upcoming=False` leaves the upcoming schedule as it is, the one asset below silver that calls the NHL
    API: a replay from bronze recomputes the season stats alone. `step(name, run)` runs each step; by
    default `timed_steps`, whose seconds are returned (a caller's own `step` keeps its own)."""
    steps: dict[str, float] = {}
    step = step or timed_steps(steps, log)
    preload()  # scikit-learn, if the caller has not started it already: beside the first run's start and reads
    if model:
        step("xg model", lambda: defs.resolve_job_def(XG_MODEL_JOB).execute_in_process(
            instance=instance, run_config=model_run_config(defs, XG_MODEL_JOB, retrain)))
    scored = DateWindow(min(settings.start_date(), window.start), window.end) if model else window
    step("shot xg", lambda: materialize_window(defs, scored, instance, SHOT_XG_JOB))
    if upcoming:
        step("refresh", lambda: refresh_unpartitioned(defs, instance, run_config=run_config))
    else:
        step("season stats", lambda: refresh_unpartitioned(defs, instance, run_config=run_config,
                                                           assets=[asset_key(cg.SKATER_SEASON_STATS.name)]))
    gold = DateWindow(window.start, upcoming_until(window))
    step("gold features", lambda: materialize_window(defs, gold, instance, GOLD_FEATURES_JOB))
    if model:
        step("model", lambda: defs.resolve_job_def(MODEL_JOB).execute_in_process(
            instance=instance, run_config=model_run_config(defs, MODEL_JOB, retrain)))
        step("predictions", lambda: materialize_window(defs, gold, instance, PREDICTIONS_JOB))
    return steps
