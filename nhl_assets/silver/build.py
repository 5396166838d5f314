"""Silver for a window, from bronze to validated frames (no Dagster): parse, reconcile, validate,
quarantine. The asset module only wires this to Dagster and the storage layer.
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
import time
import types
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
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
from nhl_assets.silver.inputs import BRONZE_TABLES, BronzePointer, WindowInputs, iter_window, read_window
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
    #: read, decode, parse, reconcile, and validate (in the assembling process)
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
    """What parsing a share of a window's games (and schedule rows) gives, before validation.

    The unit every engine produces: polars parses a window chunk by chunk, Spark parses it in worker
    tasks; `assemble` then validates and combines the parts the same way for both, so the engines cannot
    disagree on what is written or quarantined.
    """

    frames: dict[str, pl.DataFrame]  # PLAYERS, TEAMS, GOALIES, SHOTS, SCHEDULE (unvalidated)
    pointers: pl.DataFrame  # gameId -> play-by-play bronze row (for quarantine rows)
    payload_quarantine: pl.DataFrame  # payloads silver could not use, as quarantine rows
    mismatches: pl.DataFrame
    reconciliation: dict[str, int]
    games: int
    games_with_shift_data: int
    incomplete_games: list[int]
    seconds: dict[str, float] = field(default_factory=dict)  # CPU s of read, decode, parse, reconcile


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
    """Parse and reconcile the games and schedule rows of `inputs` (pure; no I/O)."""
    started = time.process_time()
    silver: SilverFrames = build_silver(inputs.games)
    parsed = time.process_time()
    rec = reconcile(silver, [g.boxscore for g in inputs.games if g.boxscore is not None])
    seconds = {**inputs.seconds, "parse": parsed - started, "reconcile": time.process_time() - parsed}
    with_shifts = silver.players.filter(pl.col("hasShiftData")).get_column("gameId").n_unique() \
        if silver.players.height else 0
    return ParsedPart(
        frames={PLAYERS: silver.players, TEAMS: silver.teams, GOALIES: silver.goalies, SHOTS: silver.shots,
                SCHEDULE: pl.DataFrame(inputs.schedule_rows, schema=SCHEMAS[SCHEDULE])},
        pointers=_pointer_columns(inputs.pointers),
        payload_quarantine=_payload_quarantine(inputs, silver, now),
        mismatches=rec.mismatches,
        reconciliation={"games": rec.games, "players": rec.players, "values_checked": rec.values_checked},
        games=len(inputs.games),
        games_with_shift_data=int(with_shifts),
        incomplete_games=[g for g, ok in inputs.complete.items() if not ok],
        seconds=seconds,
    )


def assemble(parts: Iterable[ParsedPart], now: datetime) -> SilverWindow:
    """Validate each part's frames (failing groups go to quarantine) and combine the parts."""
    valid: dict[str, list[pl.DataFrame]] = {t: [] for t in SCHEMAS}
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
        if part.payload_quarantine.height:
            quarantine.append(part.payload_quarantine)
        if part.mismatches.height or part.mismatches.width:
            mismatches.append(part.mismatches)
        for k in recon:
            recon[k] += part.reconciliation[k]
        for k, v in part.seconds.items():
            result.seconds[k] = result.seconds.get(k, 0.0) + v
        validating = time.process_time()
        pointers.append(part.pointers)
        for table, frame in part.frames.items():
            if table == SCHEDULE:  # validated last: its games' pointers may come from other parts
                valid[table].append(frame)
                continue
            ok, rejected = split_valid(frame, EXPECTATIONS[table])
            valid[table].append(ok)
            if rejected.height:
                quarantine.append(_quarantine_rows(table, rejected, EXPECTATIONS[table], part.pointers, now))
        result.seconds["validate"] = result.seconds.get("validate", 0.0) + time.process_time() - validating
    schedule, rejected = split_valid(pl.concat(valid[SCHEDULE], how="vertical") if valid[SCHEDULE]
                                     else pl.DataFrame(schema=SCHEMAS[SCHEDULE]), EXPECTATIONS[SCHEDULE])
    valid[SCHEDULE] = [schedule]
    if rejected.height:
        quarantine.append(_quarantine_rows(SCHEDULE, rejected, EXPECTATIONS[SCHEDULE],
                                           pl.concat(pointers, how="vertical"), now))
    result.frames = {t: pl.concat(fs, how="vertical") if fs else pl.DataFrame(schema=SCHEMAS[t])
                     for t, fs in valid.items()}
    result.quarantine = pl.concat(quarantine, how="vertical") if quarantine else result.quarantine
    result.mismatches = pl.concat(mismatches, how="vertical_relaxed") if mismatches else pl.DataFrame()
    result.quarantined_by_table = dict(result.quarantine.group_by("table").len().iter_rows())
    return result


def parse_chunk(root: str, storage_options: dict[str, str] | None, chunk: DateWindow, now: datetime,
                versions: dict[str, int] | None = None) -> ParsedPart:
    """Read and parse one chunk of days from bronze (what a worker process does; pure apart from the read)."""
    return parse_part(read_window(Warehouse(root, storage_options), chunk, versions), now)


@contextmanager
def main_module_left_behind() -> Iterator[None]:
    """Processes spawned inside start without running this process's main module again.

    A spawned child first imports its parent's `__main__` (by name, or by path for a script), so that
    objects defined there unpickle: `multiprocessing.spawn.get_preparation_data` records it and the child's
    `prepare` runs it as `__mp_main__`. The parse workers need nothing from it (they run `parse_chunk` of
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


def _parallel_parts(wh: Warehouse, chunks: list[DateWindow], now: datetime, workers: int,
                    versions: dict[str, int]) -> Iterator[ParsedPart]:
    """Chunks parsed in `workers` spawned processes, yielded in date order.

    The parse is pure Python (GIL-bound), so on a multi-core machine processes, not threads, are what
    scale it. Each worker reads its own chunk from Delta (only parsed frames cross the process boundary)
    and starts by spawn, never fork: delta-rs's runtime does not survive a fork. The workers run without
    the cyclic garbage collector (`gc.disable` when they start): re-enabled between the decode and the
    parse, its first collection scanned every decoded object again (about 40 ms a two-week chunk); the
    parse makes no reference cycles, and a worker exits with its window.
    """
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=gc.disable)
    try:
        with main_module_left_behind():  # the workers are spawned by these submits
            futures = [pool.submit(parse_chunk, wh.root, wh.storage_options, chunk, now, versions)
                       for chunk in chunks]
        for future in futures:
            yield future.result()
    finally:
        # not waited for: the workers free their heaps on exit (0.5 s for a season's) while the caller
        # validates and writes the last part; a failure or an abandoned window cancels what has not started
        pool.shutdown(wait=False, cancel_futures=True)


def build_window(wh: Warehouse, window: DateWindow, chunk_days: int = 14, workers: int = 1) -> SilverWindow:
    """Parse, reconcile and validate every final game of `window` from bronze (the polars engine).

    Chunk by chunk, so memory stays bounded on multi-season replays; with `workers` > 1 and more than one
    chunk, the chunks are parsed in that many processes. Either way the parts are assembled in date
    order by the same code, so the tables do not depend on `workers`. Bronze is read as of its versions
    when the window starts (`Warehouse.pin`): one snapshot for every chunk.
    """
    now = datetime.now(timezone.utc)
    chunks = window.chunks(chunk_days)
    versions = wh.pin(BRONZE_TABLES)
    if workers > 1 and len(chunks) > 1:
        return assemble(_parallel_parts(wh, chunks, now, min(workers, len(chunks)), versions), now)
    with gc_paused():  # one pause over decode and parse: see `_parallel_parts`
        return assemble((parse_part(inputs, now) for _chunk, inputs in iter_window(wh, window, chunk_days, versions)),
                        now)
