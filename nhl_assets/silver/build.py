"""Silver for a window, from bronze to validated frames (no Dagster): parse, reconcile, validate,
quarantine. The asset module only wires this to Dagster and the storage layer.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import sys
import tempfile
import time
import types
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import partial

import orjson
import polars as pl

from nhl_assets import catalog
from nhl_assets.catalog import silver as cs
from nhl_assets.dates import DateWindow
from nhl_assets.parse.alloc import gc_paused
from nhl_assets.parse.game_stats import SilverFrames, build_silver
from nhl_assets.parse import shots as psh
from nhl_assets.parse.reconcile import reconcile
from nhl_assets.parse.validate import Expectations, key_string, split_valid
from nhl_assets.silver.inputs import BRONZE_TABLES, BronzePointer, WindowInputs, read_window
from nhl_assets.storage.delta import Warehouse, WriteResult, write_concurrently

PLAYERS = cs.PLAYER_GAME_STATS.name
TEAMS = cs.TEAM_GAME_STATS.name
GOALIES = cs.GOALIE_GAME_STATS.name
SCHEDULE = cs.SCHEDULE.name
SHOTS = cs.SHOTS.name
QUARANTINE = cs.QUARANTINE.name
SILVER_TABLES = tuple(t.name for t in cs.TABLES)

#: the tables parsed from bronze (all of silver but the quarantine), with their registry schemas
SCHEMAS: dict[str, dict[str, pl.DataType]] = {t.name: t.polars_schema for t in cs.TABLES if t is not cs.QUARANTINE}
QUARANTINE_SCHEMA = cs.QUARANTINE.polars_schema


def _expectations(table: cs.Table, entity: tuple[str, ...], **kwargs) -> Expectations:
    """Expectations of a stat table: its registry key, and every long column but the ids is a count."""
    counts = tuple(c.name for c in table.columns if c.type == "long" and c.name not in ("gameId", "playerId"))
    return Expectations(table.name, table.key, entity, counts, **kwargs)


EXPECTATIONS: dict[str, Expectations] = {
    PLAYERS: _expectations(cs.PLAYER_GAME_STATS, ("gameId", "playerId")),
    TEAMS: _expectations(cs.TEAM_GAME_STATS, ("gameId", "team")),
    GOALIES: _expectations(cs.GOALIE_GAME_STATS, ("gameId", "playerId")),
    SCHEDULE: Expectations(SCHEDULE, cs.SCHEDULE.key, ("gameId",), ("homeScore", "awayScore"), situation=None),
    SHOTS: Expectations(SHOTS, cs.SHOTS.key, cs.SHOTS.key, ("timeSinceLastEvent",), situation=None,
                        rules=psh.expectation_rules()),
}


@dataclass
class SilverWindow:
    """Validated frames of a window, ready to write, with what was rejected and the reconciliation."""

    frames: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame
    mismatches: pl.DataFrame
    reconciliation: dict[str, int]
    games: int = 0
    games_with_shift_data: int = 0
    incomplete_games: list[int] = field(default_factory=list)
    quarantined_by_table: dict[str, int] = field(default_factory=dict)
    #: where the CPU time went (seconds of every thread of the process doing it, summed over the parts):
    #: read, decode, parse, reconcile and validate
    seconds: dict[str, float] = field(default_factory=dict)

    def frame(self, table: str) -> pl.DataFrame:
        """The rows to write to `table` (one of `SILVER_TABLES`)."""
        return self.quarantine if table == QUARANTINE else self.frames[table]


def write_window(wh: Warehouse, window: DateWindow, built: SilverWindow, **kwargs) -> dict[str, WriteResult]:
    """Replace `window` in every silver table with `built` (one commit per table): what the silver asset
    writes, for the scripts that run silver without Dagster (benchmarks, the day-by-day history builder)."""
    return write_concurrently({t: partial(wh.replace_window, t, built.frame(t).to_arrow(), window,
                                          partition_by=catalog.partition_by(t), **kwargs) for t in SILVER_TABLES})


def _pointer_columns(pointers: dict[int, BronzePointer]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"gameId": g, "bronzeTable": p.table, "bronzeRequest": p.request, "bronzeSha256": p.sha256,
          "bronzeFetchedAt": p.fetched_at} for g, p in pointers.items()],
        schema={"gameId": pl.Int64, "bronzeTable": pl.String, "bronzeRequest": pl.String,
                "bronzeSha256": pl.String, "bronzeFetchedAt": pl.Datetime("us", "UTC")})


def _quarantine_rows(table: str, rejected: pl.DataFrame, exp: Expectations, pointers: pl.DataFrame,
                     now: datetime) -> pl.DataFrame:
    if rejected.is_empty():
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    rows = [orjson.dumps(r, default=str).decode() for r in rejected.drop("reason").to_dicts()]
    out = rejected.select(
        pl.col("gameDate") if "gameDate" in rejected.columns else pl.lit(None, dtype=pl.Date).alias("gameDate"),
        pl.col("gameId"),
        pl.lit(table).alias("table"),
        key_string(rejected, exp.key).alias("key"),
        pl.col("reason"),
    ).with_columns(row=pl.Series(rows, dtype=pl.String), quarantinedAt=pl.lit(now, dtype=pl.Datetime("us", "UTC")))
    return out.join(pointers, on="gameId", how="left").select(list(QUARANTINE_SCHEMA)).cast(QUARANTINE_SCHEMA)


@dataclass
class ParsedPart:
    """What parsing a share of a window's games (and schedule rows) gives, validated where it was parsed.

    The unit every engine produces: polars parses a window chunk by chunk, Spark parses it in worker
    tasks, both with `parse_part`, which also validates the part's stat and shot frames (their groups are
    games, never split between parts); `assemble` then validates the schedule over the whole window and
    combines the parts, the same way for both, so the engines cannot disagree on what is written or
    quarantined.
    """

    frames: dict[str, pl.DataFrame]  # PLAYERS, TEAMS, GOALIES, SHOTS (validated), SCHEDULE (not yet)
    pointers: pl.DataFrame  # gameId -> play-by-play bronze row (for quarantine rows)
    quarantine: pl.DataFrame  # payloads silver could not use, then the rows of failing groups
    mismatches: pl.DataFrame
    reconciliation: dict[str, int]
    games: int
    games_with_shift_data: int
    incomplete_games: list[int]
    seconds: dict[str, float] = field(default_factory=dict)  # CPU s of read, decode, parse, reconcile, validate


def _payload_quarantine(inputs: WindowInputs, silver: SilverFrames, now: datetime) -> pl.DataFrame:
    """Quarantine rows for payloads that could not be decoded or parsed (the whole payload, not a row)."""
    game_dates = {g.game_id: g.game_date for g in inputs.games}
    rows = []
    for reject in inputs.rejects:
        p = reject.pointer
        rows.append({"gameDate": reject.game_date, "gameId": reject.game_id, "table": reject.table,
                     "key": f"gameId={reject.game_id}", "reason": reject.reason,
                     "bronzeTable": p.table if p else None, "bronzeRequest": p.request if p else None,
                     "bronzeSha256": p.sha256 if p else None, "bronzeFetchedAt": p.fetched_at if p else None,
                     "row": None, "quarantinedAt": now})
    for game_id, endpoint, reason in silver.rejected:
        p = inputs.pointers.get(game_id)
        rows.append({"gameDate": game_dates.get(game_id), "gameId": game_id, "table": f"bronze/{endpoint}",
                     "key": f"gameId={game_id}", "reason": reason,
                     "bronzeTable": p.table if p else None, "bronzeRequest": p.request if p else None,
                     "bronzeSha256": p.sha256 if p else None, "bronzeFetchedAt": p.fetched_at if p else None,
                     "row": None, "quarantinedAt": now})
    return pl.DataFrame(rows, schema=QUARANTINE_SCHEMA)


def parse_part(inputs: WindowInputs, now: datetime) -> ParsedPart:
    """Parse, reconcile and validate the games of `inputs`, and decode its schedule rows (pure; no I/O).

    Validated here, in the process that parsed the part, not where the parts are combined: a silver
    replay's parse keeps every core busy, and validation in the combining process had it parse less or
    left its last parts to validate after every other process was done."""
    started = time.process_time()
    silver: SilverFrames = build_silver(inputs.games)
    parsed = time.process_time()
    rec = reconcile(silver, [g.boxscore for g in inputs.games if g.boxscore is not None])
    validating = time.process_time()
    pointers = _pointer_columns(inputs.pointers)
    frames: dict[str, pl.DataFrame] = {}
    quarantine = [_payload_quarantine(inputs, silver, now)]
    for table, frame in ((PLAYERS, silver.players), (TEAMS, silver.teams), (GOALIES, silver.goalies),
                         (SHOTS, silver.shots)):
        frames[table], rejected = split_valid(frame, EXPECTATIONS[table])
        if rejected.height:
            quarantine.append(_quarantine_rows(table, rejected, EXPECTATIONS[table], pointers, now))
    frames[SCHEDULE] = pl.DataFrame(inputs.schedule_rows, schema=SCHEMAS[SCHEDULE])
    with_shifts = silver.players.filter(pl.col("hasShiftData")).get_column("gameId").n_unique() \
        if silver.players.height else 0
    return ParsedPart(
        frames=frames,
        pointers=pointers,
        quarantine=pl.concat(quarantine, how="vertical"),
        mismatches=rec.mismatches,
        reconciliation={"games": rec.games, "players": rec.players, "values_checked": rec.values_checked},
        games=len(inputs.games),
        games_with_shift_data=int(with_shifts),
        incomplete_games=[g for g, ok in inputs.complete.items() if not ok],
        seconds={**inputs.seconds, "parse": parsed - started, "reconcile": validating - parsed,
                 "validate": time.process_time() - validating},
    )


def assemble(parts: Iterable[ParsedPart], now: datetime) -> SilverWindow:
    """Combine the parts in their order, and validate the window's schedule (its failing rows go to
    quarantine after the parts' own)."""
    frames: dict[str, list[pl.DataFrame]] = {t: [] for t in SCHEMAS}
    quarantine: list[pl.DataFrame] = []
    mismatches: list[pl.DataFrame] = []
    pointers: list[pl.DataFrame] = [_pointer_columns({})]
    recon = {"games": 0, "players": 0, "values_checked": 0}
    result = SilverWindow(frames={}, quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
                          mismatches=pl.DataFrame(), reconciliation=recon)
    for part in parts:
        result.games += part.games
        result.games_with_shift_data += part.games_with_shift_data
        result.incomplete_games += part.incomplete_games
        if part.quarantine.height:
            quarantine.append(part.quarantine)
        if part.mismatches.height or part.mismatches.width:
            mismatches.append(part.mismatches)
        for k in recon:
            recon[k] += part.reconciliation[k]
        for k, v in part.seconds.items():
            result.seconds[k] = result.seconds.get(k, 0.0) + v
        pointers.append(part.pointers)
        for table, frame in part.frames.items():
            frames[table].append(frame)
    validating = time.process_time()
    schedule, rejected = split_valid(pl.concat(frames[SCHEDULE], how="vertical") if frames[SCHEDULE]
                                     else pl.DataFrame(schema=SCHEMAS[SCHEDULE]), EXPECTATIONS[SCHEDULE])
    frames[SCHEDULE] = [schedule]
    if rejected.height:
        quarantine.append(_quarantine_rows(SCHEDULE, rejected, EXPECTATIONS[SCHEDULE],
                                           pl.concat(pointers, how="vertical"), now))
    result.seconds["validate"] = result.seconds.get("validate", 0.0) + time.process_time() - validating
    result.frames = {t: pl.concat(fs, how="vertical") if fs else pl.DataFrame(schema=SCHEMAS[t])
                     for t, fs in frames.items()}
    result.quarantine = pl.concat(quarantine, how="vertical") if quarantine else result.quarantine
    result.mismatches = pl.concat(mismatches, how="vertical_relaxed") if mismatches else pl.DataFrame()
    result.quarantined_by_table = dict(result.quarantine.group_by("table").len().iter_rows())
    return result


#: The fewest days a process takes at once while more are left: a chunk has a fixed cost of its own (five
#: bronze scans, reconciliation and validation queries: about 60 ms of CPU), which a day's dozen games
#: would not repay.
SHORTEST_CHUNK_DAYS = 3


def _most_chunks(days: int, longest: int) -> int:
    """The most chunks the claims can cut `days` into (every chunk but the last at least the shorter of
    `longest` and `SHORTEST_CHUNK_DAYS`): the processes worth starting, the tasks worth queueing."""
    return -(-days // min(longest, SHORTEST_CHUNK_DAYS))


class _Claims:
    """Which days of a window are not yet taken, shared by the processes parsing it: the spawned workers
    take theirs from the front, the starting process from the back, each when it is about to parse them.

    Why claimed when parsing starts, not handed to the pool as tasks: a `ProcessPoolExecutor` queues a task
    to a worker before the worker is free (`EXTRA_QUEUED_CALLS`), and a queued task cannot be taken back,
    so the starting process, done with its share, waited for a chunk the worker had not begun (0.37 s of a
    season's replay). Why chunks that shrink (guided self-scheduling: the days left over the processes,
    at most `longest`, at least `SHORTEST_CHUNK_DAYS`): the fixed cost per chunk favours long ones, while
    the processes finish together only if the last ones are short. On a season, fixed 28-day chunks took
    7.26-7.33 CPU s against 7.65-8.02 for two-week ones, and left one process parsing alone for up to a
    chunk (2 processes, 3 runs each).
    """

    def __init__(self, ctx: multiprocessing.context.SpawnContext, window: DateWindow, processes: int,
                 longest: int) -> None:
        self._start, self._processes, self._longest = window.start, processes, longest
        self._bounds = ctx.Array("q", [0, len(window)])  # the first day left; one past the last day left

    def _size(self, left: int) -> int:
        return min(left, self._longest, max(SHORTEST_CHUNK_DAYS, -(-left // self._processes)))

    def _days(self, first: int, end: int) -> DateWindow:
        return DateWindow(self._start + timedelta(days=first), self._start + timedelta(days=end - 1))

    def front(self) -> DateWindow | None:
        """The next days from the front, or None when none is left."""
        with self._bounds.get_lock():
            first, end = self._bounds[0], self._bounds[1]
            if first >= end:
                return None
            self._bounds[0] = taken_to = first + self._size(end - first)
        return self._days(first, taken_to)

    def back(self) -> DateWindow | None:
        """The next days from the back, or None when none is left."""
        with self._bounds.get_lock():
            first, end = self._bounds[0], self._bounds[1]
            if first >= end:
                return None
            self._bounds[1] = taken_from = end - self._size(end - first)
        return self._days(taken_from, end)


#: the days of the window a spawned parse worker is parsing (set when the worker starts)
_CLAIMS: _Claims | None = None


def _start_worker(claims: _Claims) -> None:
    """A spawned parse worker's initializer: the window's claims, and no cyclic collector (see
    `_parallel_parts`)."""
    global _CLAIMS
    _CLAIMS = claims
    gc.disable()


def parse_claimed(root: str, storage_options: dict[str, str] | None, now: datetime,
                  versions: dict[str, int] | None, spool: str) -> tuple[DateWindow, str] | None:
    """Read and parse the next days no process has taken; those days and the file in `spool` holding their
    part (pickled), or None when none is left (what a worker process does; pure apart from the I/O).

    Why a file, not the result itself: a result crosses back through a pipe of 64 KiB, which the starting
    process's pool thread empties one read at a time, each read waiting for the GIL while that process
    parses (a two-week part pickles to 13 MB: the worker sat 50-80 ms per part in the send). A file is
    written and read in one call each, without the GIL."""
    assert _CLAIMS is not None, "parse_claimed runs in a worker started by _start_worker"
    chunk = _CLAIMS.front()
    if chunk is None:
        return None
    part = _parse_here(Warehouse(root, storage_options), chunk, now, versions)
    path = os.path.join(spool, f"{chunk.start.isoformat()}.pickle")
    with open(path, "wb") as out:
        pickle.dump(part, out, protocol=pickle.HIGHEST_PROTOCOL)
    return chunk, path


def _unspooled(path: str) -> ParsedPart:
    """The part a worker left in `path`, the file removed."""
    with open(path, "rb") as spooled:
        data = spooled.read()
    os.remove(path)
    return pickle.loads(data)


@contextmanager
def main_module_left_behind() -> Iterator[None]:
    """Processes spawned inside start without running this process's main module again.

    A spawned child first imports its parent's `__main__` (by name, or by path for a script), so that
    objects defined there unpickle: `multiprocessing.spawn.get_preparation_data` records it and the child's
    `prepare` runs it as `__mp_main__`. The parse workers need nothing from it (they run `parse_claimed` of
    this module), but under Dagster the main module is the `dagster` console script, whose one import
    (`from dagster._cli import main`) loads all of Dagster: with it a spawned worker was ready after
    1.05-1.15 s, without it after 0.48-0.50 s, on each core, before its first chunk. While inside, the
    process's main module is an empty one, so the children are told of none; `sys.modules` is restored on
    leaving. Only the starting thread's submits spawn the workers (a ProcessPoolExecutor of the spawn
    method starts its processes in `submit`), so nothing else is started meanwhile; the swap lasts those
    submits (milliseconds), and no code of the project reads `__main__`.
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _parse_here(wh: Warehouse, chunk: DateWindow, now: datetime, versions: dict[str, int] | None) -> ParsedPart:
    """Read and parse one chunk in this process, the cyclic collector paused over decode and parse (see
    `_parallel_parts`; in a spawned worker it is off already)."""
    with gc_paused():
        return parse_part(read_window(wh, chunk, versions), now)


def _parallel_parts(wh: Warehouse, window: DateWindow, longest: int, now: datetime, processes: int
                    ) -> list[ParsedPart]:
    """The parts of `window`, in date order, parsed by this process and `processes - 1` spawned ones in
    chunks of at most `longest` days.

    The parse is pure Python (GIL-bound), so on a multi-core machine processes, not threads, are what
    scale it. Each worker reads its own chunk from Delta (only parsed frames cross the process boundary)
    and starts by spawn, never fork: delta-rs's runtime does not survive a fork. The workers run without
    the cyclic garbage collector (`gc.disable` when they start): re-enabled between the decode and the
    parse, its first collection scanned every decoded object again (about 40 ms a two-week chunk); the
    parse makes no reference cycles, and a worker exits with its window.

    This process parses too, from the last days backwards while the workers go forwards (`_Claims`),
    rather than wait for their parts: it starts at once, its modules loaded, while a spawned worker spends
    0.3-0.5 s importing them, and its own parts are never pickled (about 15 ms of CPU a two-week chunk, and
    the unpickling). Each part is validated where it is parsed (`parse_part`), and a worker's part is read
    back between this process's chunks, so little is left to do when the last one is parsed.
    """
    ctx = multiprocessing.get_context("spawn")
    claims = _Claims(ctx, window, processes, longest)
    pool = ProcessPoolExecutor(max_workers=processes - 1, mp_context=ctx, initializer=_start_worker,
                               initargs=(claims,))
    parts: dict[date, ParsedPart] = {}

    def collect(futures: list[Future]) -> list[Future]:
        """Read back the parts of the finished tasks (a cancelled one has none); the unfinished ones."""
        for future in futures:
            if future.done() and not future.cancelled() and (claimed := future.result()) is not None:
                parts[claimed[0].start] = _unspooled(claimed[1])
        return [future for future in futures if not future.done()]

    try:
        with tempfile.TemporaryDirectory(prefix="nhl-silver-parts-") as spool:
            with main_module_left_behind():  # the workers are spawned by the first submits
                for _worker in range(processes - 1):
                    pool.submit(os.getpid)  # spawned now, they import while bronze is pinned here
                versions = wh.pin(BRONZE_TABLES)
                # a task per chunk the workers could take at most (those finding no days left return None)
                futures = [pool.submit(parse_claimed, wh.root, wh.storage_options, now, versions, spool)
                           for _chunk in range(_most_chunks(len(window), longest))]
            while (chunk := claims.back()) is not None:
                parts[chunk.start] = _parse_here(wh, chunk, now, versions)
                futures = collect(futures)
            for future in futures:
                future.cancel()  # not begun: no days are left for it
            wait(futures)
            collect(futures)
    finally:
        # not waited for: a worker frees its heap on exit (0.07 s after a season) while the caller combines
        # and writes the parts; a failure cancels what has not started
        pool.shutdown(wait=False, cancel_futures=True)
    return [parts[start] for start in sorted(parts)]


def build_window(wh: Warehouse, window: DateWindow, chunk_days: int = 28, workers: int = 1) -> SilverWindow:
    """Parse, reconcile and validate every final game of `window` from bronze (the polars engine).

    Chunk by chunk of at most `chunk_days` days, so memory stays bounded on multi-season replays; with
    `workers` > 1 and more days than one chunk, the chunks are parsed in that many processes (this one and
    `workers - 1` spawned, taking chunks that shrink as the days run out: `_Claims`). Either way the parts
    are assembled in date order by the same code, so the tables do not depend on `workers` or on the
    chunks. Bronze is read as of its versions when the window starts (`Warehouse.pin`): one snapshot for
    every chunk.
    """
    now = datetime.now(timezone.utc)
    if workers > 1 and len(window) > chunk_days:
        processes = min(workers, _most_chunks(len(window), chunk_days))
        return assemble(_parallel_parts(wh, window, chunk_days, now, processes), now)
    versions = wh.pin(BRONZE_TABLES)
    return assemble((_parse_here(wh, chunk, now, versions) for chunk in window.chunks(chunk_days)), now)
