"""`nhl-assets backfill`: load a date range in chunks, as Dagster runs recorded in the instance.

Why chunks: a multi-season load is hours of API calls; a chunk (30 days by default) is one Dagster run
that replaces exactly its dates, so an interruption loses at most one chunk and re-running the same
command skips every chunk that already succeeded (the runs carry `nhl/backfill` and `nhl/chunk` tags in
the Dagster instance, which is also what makes them visible, grouped, in the UI). The gold layer is
computed once at the end over the whole range (features, model, predictions) because every game date's
features depend on all earlier dates.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter, deserialize_value, serialize_value
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nhl_assets.partitions import DateWindow

LAYERS = ("bronze", "silver", "gold")


def job_for(layers: set[str]) -> str | None:
    """The per-chunk job of the chosen layers (gold runs after the chunks)."""
    if {"bronze", "silver"} <= layers:
        return "nhl_partitions"
    if "bronze" in layers:
        return "nhl_bronze"
    if "silver" in layers:
        return "nhl_silver_replay"
    return None


#: With bronze and silver, each chunk is two runs: bronze (I/O-bound: waits on the API) and silver (CPU-bound:
#: parses). The silver run of chunk N overlaps the bronze run of chunk N+1, so a backfill takes about as
#: long as its API calls instead of API time plus parse time.
PIPELINED_STEPS = ("nhl_bronze", "nhl_silver_replay")


@dataclass
class BackfillReport:
    backfill_id: str
    chunks: list[DateWindow]
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    gold_steps: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0


def backfill_id(window: DateWindow, layers: set[str]) -> str:
    return f"{window.start}_{window.end}_{'+'.join(sorted(layers))}"


def succeeded_chunks(instance: DagsterInstance, bid: str) -> set[str]:
    """Chunks whose last step succeeded (a chunk whose silver run failed is run again, bronze included)."""
    runs = instance.get_runs(filters=RunsFilter(tags={"nhl/backfill": bid}, statuses=[DagsterRunStatus.SUCCESS]))
    return {r.tags.get("nhl/chunk") for r in runs if r.tags.get("nhl/step", "last") in ("last", "silver")}


def _chunk_tags(bid: str, chunk: DateWindow, step: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": chunk.start.isoformat(),
            "dagster/asset_partition_range_end": chunk.end.isoformat(),
            "nhl/backfill": bid, "nhl/chunk": str(chunk), "nhl/step": step}


def _without_api(config: dict) -> dict:
    """Run config for a job that never calls the API (silver): the same, less the `nhl_api` resource's."""
    resources = {k: v for k, v in (config.get("resources") or {}).items() if k != "nhl_api"}
    return {**{k: v for k, v in config.items() if k != "resources"}, **({"resources": resources} if resources else {})}


def _execute_in_subprocess(instance: DagsterInstance, job: str, run_config: dict, tags: dict[str, str]
                           ) -> tuple[bool, str | None]:
    """Run `job` in a child process recorded in the same (persistent) instance; (success, run id)."""
    request = serialize_value({"instance": instance.get_ref(), "job": job, "run_config": run_config, "tags": tags})
    proc = subprocess.run([sys.executable, "-m", "nhl_assets.ops.backfill"], input=request, text=True,
                          stdout=subprocess.PIPE)
    lines = proc.stdout.strip().splitlines()
    return proc.returncode == 0, (lines[-1] if lines else None)


def _execute_request() -> int:
    """The child side of `_execute_in_subprocess`: read the request from stdin, run it, print the run id."""
    from nhl_assets.definitions import build_definitions

    request = deserialize_value(sys.stdin.read())
    instance = DagsterInstance.from_ref(request["instance"])
    result = build_definitions().resolve_job_def(request["job"]).execute_in_process(
        instance=instance, run_config=request["run_config"], raise_on_error=False, tags=request["tags"])
    print(result.run_id)
    return 0 if result.success else 1


def _run_chunks(defs, report: BackfillReport, todo: list[DateWindow], steps: tuple[str, ...], config: dict,
                instance: DagsterInstance, console: Console, progress, task) -> None:
    """Run `steps` (job names) for each chunk in order; on a persistent instance the last step of chunk N
    runs in a child process while the first step of chunk N+1 runs here (two runs in one process would
    fight over its stdout/stderr, which Dagster captures per run). A failure stops new chunks; the report
    says which failed."""
    first, last = steps[0], steps[-1]

    def execute(job: str, chunk: DateWindow, in_subprocess: bool = False) -> bool:
        run_config = config if job in ("nhl_partitions", "nhl_bronze") else _without_api(config)
        step = "last" if len(steps) == 1 else ("bronze" if job == first else "silver")
        tags = _chunk_tags(report.backfill_id, chunk, step)
        if in_subprocess:
            ok, run_id = _execute_in_subprocess(instance, job, run_config, tags)
        else:
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, run_config=run_config, raise_on_error=False, tags=tags)
            ok, run_id = result.success, result.run_id
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


def run_backfill(window: DateWindow, layers: set[str], *, chunk_days: int, instance: DagsterInstance, defs=None,
                 run_config: dict | None = None, console: Console | None = None,
                 force: bool = False) -> BackfillReport:
    """Load `window` chunk by chunk as Dagster runs, then gold once over the whole range."""
    from nhl_assets.definitions import build_definitions
    from nhl_assets.runs import QUIET, run_gold

    defs = defs or build_definitions()
    console = console or Console()
    bid = backfill_id(window, layers)
    report = BackfillReport(bid, window.chunks(chunk_days))
    started = time.monotonic()
    job_name = job_for(layers)
    done_before = set() if force else succeeded_chunks(instance, bid)
    if job_name:
        steps = PIPELINED_STEPS if job_name == "nhl_partitions" else (job_name,)
        todo = [c for c in report.chunks if str(c) not in done_before]
        report.skipped = [str(c) for c in report.chunks if str(c) in done_before]
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=False) as progress:
            task = progress.add_task(f"{'+'.join(steps)} {window}", total=len(report.chunks))
            progress.advance(task, len(report.skipped))
            _run_chunks(defs, report, todo, steps, {**QUIET, **(run_config or {})}, instance, console, progress,
                        task)
    if "gold" in layers and not report.failed:
        report.gold_steps = run_gold(defs, window, instance, run_config=run_config,
                                     log=lambda m: console.print(f"  {m}"))
    report.wall_s = time.monotonic() - started
    return report


def print_report(console: Console, report: BackfillReport, wh) -> None:
    table = Table(title=f"backfill {report.backfill_id}")
    for col in ("chunks", "done now", "skipped (done before)", "failed", "wall s"):
        table.add_column(col, justify="right")
    table.add_row(str(len(report.chunks)), str(len(report.done)), str(len(report.skipped)),
                  str(len(report.failed)), f"{report.wall_s:.1f}")
    console.print(table)
    from nhl_assets.demo import print_summary, summarize
    from nhl_assets.catalog import TABLES

    print_summary(console, summarize(wh, list(TABLES)), "Tables after the backfill")


def cmd_backfill(args: argparse.Namespace) -> int:
    from nhl_assets import settings
    from nhl_assets.demo import ensure_dagster_home
    from nhl_assets.storage.delta import Warehouse

    console = Console(soft_wrap=True)
    layers = {x.strip() for x in args.layers.split(",") if x.strip()}
    if not layers or not layers <= set(LAYERS):
        console.print(f"[red]--layers takes a comma-separated subset of {', '.join(LAYERS)}[/red]")
        return 2
    if args.warehouse:
        import os

        os.environ["NHL_WAREHOUSE"] = args.warehouse
    ensure_dagster_home()
    window = DateWindow.of(args.start, args.end)
    instance = DagsterInstance.get()
    report = run_backfill(window, layers, chunk_days=args.chunk_days, instance=instance, console=console,
                          force=args.force,
                          run_config={"resources": {"nhl_api": {"config": {"rate_per_second": args.rate}}}}
                          if args.rate is not None else None)
    print_report(console, report, Warehouse(settings.warehouse_root()))
    return 1 if report.failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "backfill", help="Load a date range in chunks as Dagster runs (resumable; progress and summary).",
        description=__doc__.split("\n\n")[1])
    p.add_argument("--start", required=True, help="first game date, YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last game date, YYYY-MM-DD")
    p.add_argument("--layers", default="bronze,silver,gold", help="subset of bronze,silver,gold")
    p.add_argument("--chunk-days", type=int, default=30, help="game dates per run (one run = one chunk)")
    p.add_argument("--rate", type=float, default=None, help="client-side requests/s (default: the resource's)")
    p.add_argument("--force", action="store_true",
                   help="run every chunk again, even those an earlier run of this backfill completed (for example "
                        "after a restore replaced their data)")
    p.add_argument("--warehouse", help="warehouse root (default $NHL_WAREHOUSE or ./warehouse)")
    p.set_defaults(func=cmd_backfill)


if __name__ == "__main__":
    sys.exit(_execute_request())
