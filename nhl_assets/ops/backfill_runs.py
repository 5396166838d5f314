"""A backfill's Dagster runs: chunks pipelined bronze then silver, and the retry passes over incomplete games.

`nhl_assets.ops.backfill` decides what to run (which chunks are done, for which warehouse) and reports;
this module runs it. Each step is a Dagster run recorded in the instance and tagged with the backfill,
its chunk, its step and the warehouse it writes (`nhl/warehouse`), which is what resumption reads back.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter, deserialize_value, serialize_value
from rich.console import Console

from nhl_assets.bronze import tables as bt
from nhl_assets.bronze.importer import date_ranges
from nhl_assets.dates import DateWindow
from nhl_assets.storage.delta import Warehouse

#: The tag that ties a backfill's runs to the warehouse they wrote (a chunk is done only there).
WAREHOUSE_TAG = "nhl/warehouse"
#: Incomplete dates at most this many days apart are retried in one run (fewer runs, few dates rewritten).
RETRY_GAP_DAYS = 2
#: With bronze and silver, each chunk is two runs: bronze (I/O-bound: waits on the API) and silver (CPU-bound:
#: parses). The silver run of chunk N overlaps the bronze run of chunk N+1, so a backfill takes about as
#: long as its API calls instead of API time plus parse time.
PIPELINED_STEPS = ("nhl_bronze", "nhl_silver_replay")
BRONZE_JOB, SILVER_JOB = PIPELINED_STEPS


@dataclass(frozen=True)
class IncompleteGame:
    """A game of the range that bronze does not hold whole, and what it lacks (with the reason)."""

    game_date: date
    game_id: int
    matchup: str
    missing: tuple[str, ...]


@dataclass
class RetryPass:
    number: int
    games_before: int
    games_after: int
    runs: int
    wall_s: float


@dataclass
class BackfillReport:
    backfill_id: str
    chunks: list[DateWindow]
    warehouse: str = ""
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    #: chunk -> why it was skipped, or why it ran although an earlier run had done it
    why: dict[str, str] = field(default_factory=dict)
    incomplete_after_chunks: int | None = None
    passes: list[RetryPass] = field(default_factory=list)
    incomplete: list[IncompleteGame] = field(default_factory=list)
    gold_steps: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0


# ----------------------------------------------------------------------------------------------------
# running steps
# ----------------------------------------------------------------------------------------------------


def _chunk_tags(report: BackfillReport, chunk: DateWindow, step: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": chunk.start.isoformat(),
            "dagster/asset_partition_range_end": chunk.end.isoformat(),
            "nhl/backfill": report.backfill_id, "nhl/chunk": str(chunk), "nhl/step": step,
            WAREHOUSE_TAG: report.warehouse}


def _without_api(config: dict) -> dict:
    """Run config for a job that never calls the API (silver): the same, less the `nhl_api` resource's."""
    resources = {k: v for k, v in (config.get("resources") or {}).items() if k != "nhl_api"}
    return {**{k: v for k, v in config.items() if k != "resources"}, **({"resources": resources} if resources else {})}


def _only_incomplete(config: dict) -> dict:
    """Bronze run config that re-fetches only what the range's incomplete games lack."""
    return {**config, "ops": {"bronze_nhl_api": {"config": {"only_incomplete": True}}}}


def _execute_in_subprocess(instance: DagsterInstance, job: str, run_config: dict, tags: dict[str, str]
                           ) -> tuple[bool, str | None]:
    """Run `job` in a child process recorded in the same (persistent) instance; (success, run id)."""
    request = serialize_value({"instance": instance.get_ref(), "job": job, "run_config": run_config, "tags": tags})
    proc = subprocess.run([sys.executable, "-m", "nhl_assets.ops.backfill_runs"], input=request, text=True,
                          stdout=subprocess.PIPE)
    lines = proc.stdout.strip().splitlines()
    return proc.returncode == 0, (lines[-1] if lines else None)


def _execute_request() -> int:
    """The child side of `_execute_in_subprocess`: read the request from stdin, run it, print the run id."""
    from nhl_assets.definitions import build_definitions  # deferred: only the child process loads every asset

    request = deserialize_value(sys.stdin.read())
    instance = DagsterInstance.from_ref(request["instance"])
    result = build_definitions().resolve_job_def(request["job"]).execute_in_process(
        instance=instance, run_config=request["run_config"], raise_on_error=False, tags=request["tags"])
    print(result.run_id)
    return 0 if result.success else 1


def _execute(defs, instance: DagsterInstance, job: str, run_config: dict, tags: dict[str, str],
             in_subprocess: bool = False) -> tuple[bool, str | None]:
    if in_subprocess:
        return _execute_in_subprocess(instance, job, run_config, tags)
    result = defs.resolve_job_def(job).execute_in_process(instance=instance, run_config=run_config,
                                                          raise_on_error=False, tags=tags)
    return result.success, result.run_id


def run_chunks(defs, report: BackfillReport, todo: list[DateWindow], steps: tuple[str, ...], config: dict,
                instance: DagsterInstance, console: Console, progress, task) -> None:
    """Run `steps` (job names) for each chunk in order; on a persistent instance the last step of chunk N
    runs in a child process while the first step of chunk N+1 runs here (two runs in one process would
    fight over its stdout/stderr, which Dagster captures per run). A failure stops new chunks; the report
    says which failed."""
    first, last = steps[0], steps[-1]

    def execute(job: str, chunk: DateWindow, in_subprocess: bool = False) -> bool:
        run_config = config if job in ("nhl_partitions", BRONZE_JOB) else _without_api(config)
        step = "last" if len(steps) == 1 else ("bronze" if job == first else "silver")
        ok, run_id = _execute(defs, instance, job, run_config, _chunk_tags(report, chunk, step), in_subprocess)
        if not ok:
            console.print(f"[red]chunk {chunk} failed in {job} (run {run_id}); re-run the same command to resume "
                          "from it[/red]")
        return ok

    def finish(chunk: DateWindow, ok: bool) -> None:
        (report.done if ok else report.failed).append(str(chunk))
        progress.advance(task)

    # an in-memory (ephemeral) instance cannot be shared with a child process: its runs go one after another
    overlap = len(steps) > 1 and not instance.is_ephemeral
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-last-step") as background:
        pending: list[tuple[DateWindow, Future]] = []
        for chunk in todo:
            if any(f.done() and not f.result() for _, f in pending):
                break  # a chunk's silver failed: fetch nothing more
            progress.update(task, description=f"{first} {chunk}")
            if not execute(first, chunk):
                finish(chunk, False)
                break
            if len(steps) == 1:
                finish(chunk, True)
            elif overlap:
                pending.append((chunk, background.submit(execute, last, chunk, True)))
            else:
                ok = execute(last, chunk)
                finish(chunk, ok)
                if not ok:
                    break
        for chunk, future in pending:
            finish(chunk, future.result())


# ----------------------------------------------------------------------------------------------------
# incomplete games: retried in bounded passes, then listed
# ----------------------------------------------------------------------------------------------------


def incomplete_games(wh: Warehouse, window: DateWindow) -> list[IncompleteGame]:
    """Every game of `window` the bronze ledger records as incomplete, in date order."""
    t = wh.read_arrow(bt.GAMES, window, columns=["gameDate", "gameId", "homeTeam", "awayTeam", "isComplete",
                                                 "missing"])
    rows = [r for r in (t.to_pylist() if t is not None else []) if not r["isComplete"]]
    return [IncompleteGame(r["gameDate"], r["gameId"], f"{r['awayTeam']}@{r['homeTeam']}", tuple(r["missing"] or ()))
            for r in sorted(rows, key=lambda r: (r["gameDate"], r["gameId"]))]


def unfinished_retries(instance: DagsterInstance, warehouse: str, window: DateWindow) -> list[DateWindow]:
    """Retry windows in `window` whose bronze retry ran (or was killed) without a successful silver run after it.

    Why: a retry that completes a game changes bronze; if the process dies before the silver run, the game
    is no longer incomplete and no later pass would touch it, so silver must be caught up explicitly.
    """
    runs = instance.get_runs(filters=RunsFilter(tags={WAREHOUSE_TAG: warehouse}))
    pending: dict[str, DateWindow] = {}
    for r in reversed(runs):  # oldest first
        step, chunk = r.tags.get("nhl/step"), r.tags.get("nhl/chunk")
        if step not in ("retry-bronze", "retry-silver") or not chunk:
            continue
        start, _, end = chunk.partition("...")
        w = DateWindow.of(start, end or None)
        if w.end < window.start or w.start > window.end:
            continue
        if step == "retry-bronze":
            pending[chunk] = w
        elif r.status == DagsterRunStatus.SUCCESS:
            pending.pop(chunk, None)
    return sorted(pending.values(), key=lambda w: w.start)


def retry_incomplete(defs, report: BackfillReport, window: DateWindow, layers: set[str], instance: DagsterInstance,
                     config: dict, console: Console, *, passes: int, backoff_s: float) -> None:
    """Re-fetch the incomplete games of `window` in at most `passes` passes (waiting `backoff_s`, doubling,
    before each), each pass one bronze run per cluster of dates asking only for what is missing, then the
    silver run of the same dates. Fills `report.passes` and `report.incomplete`."""
    wh = Warehouse(report.warehouse)
    silver = "silver" in layers

    def run_silver(w: DateWindow) -> None:
        ok, run_id = _execute(defs, instance, SILVER_JOB, _without_api(config), _chunk_tags(report, w, "retry-silver"))
        if not ok:
            console.print(f"[red]silver run of retried dates {w} failed (run {run_id})[/red]")

    if silver:
        for w in unfinished_retries(instance, report.warehouse, window):
            console.print(f"  silver for {w}: catching up after an interrupted retry")
            run_silver(w)
    games = incomplete_games(wh, window)
    for number in range(1, passes + 1):
        if not games:
            break
        started = time.monotonic()
        delay = backoff_s * 2 ** (number - 1)
        console.print(f"  retry pass {number}/{passes}: {len(games)} incomplete game(s)"
                      + (f", after {delay:.0f} s" if delay else ""))
        time.sleep(delay)
        clusters = [DateWindow(a, b) for a, b in date_ranges((g.game_date for g in games), RETRY_GAP_DAYS)]
        for w in clusters:
            ok, run_id = _execute(defs, instance, BRONZE_JOB, _only_incomplete(config),
                                  _chunk_tags(report, w, "retry-bronze"))
            if not ok:
                console.print(f"[red]retry of {w} failed (run {run_id})[/red]")
            if silver:
                run_silver(w)
        before, games = len(games), incomplete_games(wh, window)
        report.passes.append(RetryPass(number, before, len(games), len(clusters) * (2 if silver else 1),
                                       round(time.monotonic() - started, 3)))
    report.incomplete = games


if __name__ == "__main__":
    sys.exit(_execute_request())
