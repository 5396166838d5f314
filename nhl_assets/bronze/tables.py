"""Bronze table definitions and the pure conversion of fetched days into their rows (no Dagster here).

Bronze keeps every API response as received. Four response tables, one per endpoint, share one layout
(declared with the other tables in `nhl_assets.catalog.bronze`); `bronze/games` is the completeness ledger:
one row per scheduled regular-season or playoff game saying what was fetched and what is still missing, so
an incomplete day is recorded as such and re-requested later instead of being silently treated as whole.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq

from nhl_assets.catalog import bronze as cb
from nhl_assets.source.types import RawResponse
from nhl_assets.source.games import DayFetch, GameFetch

SCHEDULE = cb.SCHEDULE.name
BOXSCORE = cb.BOXSCORE.name
PLAY_BY_PLAY = cb.PLAY_BY_PLAY.name
SHIFT_CHARTS = cb.SHIFT_CHARTS.name
GAMES = cb.GAMES.name

#: endpoint name used by the fetch layer -> bronze table
ENDPOINT_TABLES = {"boxscore": BOXSCORE, "play_by_play": PLAY_BY_PLAY, "shift_chart": SHIFT_CHARTS}
BRONZE_TABLES = tuple(t.name for t in cb.TABLES)
#: the registry's Arrow schemas, which the staged Parquet files and the Delta writes use
SCHEMAS: dict[str, pa.Schema] = {t.name: t.arrow_schema for t in cb.TABLES}


def _response_row(raw: RawResponse, day_iso: object, run_id: str | None, source: str) -> dict:
    return {
        "gameDate": day_iso,
        "endpoint": raw.endpoint,
        "request": raw.request,
        "httpStatus": raw.status,
        "fetchedAt": raw.fetched_at,
        "attempts": raw.attempts,
        "sha256": raw.sha256,
        "bodyBytes": len(raw.body),
        "body": raw.body,
        "source": source,
        "runId": run_id,
    }


def _utc(value: str | None) -> datetime | None:
    """The schedule's '2023-10-10T23:00:00Z' as an aware UTC datetime (None stays None)."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _game_row(game: GameFetch, run_id: str | None, checked_at: datetime) -> dict:
    return {
        "gameDate": game.game_date,
        "gameId": game.game_id,
        "season": game.season,
        "gameType": game.game_type,
        "gameState": game.game_state,
        "gameScheduleState": game.schedule_state,
        "homeTeam": game.home_team,
        "awayTeam": game.away_team,
        "startTimeUTC": _utc(game.start_time_utc),
        "isFinal": game.is_final,
        "hasBoxscore": game.has("boxscore"),
        "hasPlayByPlay": game.has("play_by_play"),
        "hasShiftChart": game.has("shift_chart"),
        # A postponed/cancelled game has nothing to fetch on this date: complete, nothing missing.
        "isComplete": game.is_complete,
        "missing": list(game.missing),
        "checkedAt": checked_at,
        "runId": run_id,
    }


def day_rows(day: DayFetch, run_id: str | None, source: str = "api") -> dict[str, list[dict]]:
    """Rows of every bronze table for one fetched day (no schedule row when `day.schedule` is None)."""
    checked_at = datetime.now(timezone.utc)
    rows: dict[str, list[dict]] = {table: [] for table in BRONZE_TABLES}
    if day.schedule is not None:
        sched = _response_row(day.schedule, day.day, run_id, source)
        sched["numberOfGames"] = len(day.games)
        rows[SCHEDULE].append(sched)
    for game in day.games:
        rows[GAMES].append(_game_row(game, run_id, checked_at))
        for endpoint, raw in sorted(game.responses.items()):
            row = _response_row(raw, day.day, run_id, source)
            row["gameId"] = game.game_id
            rows[ENDPOINT_TABLES[endpoint]].append(row)
    return rows


@dataclass
class DayStats:
    """Per-window counters for materialization metadata."""

    days: int = 0
    games: int = 0
    complete_games: int = 0
    incomplete_games: int = 0
    responses: int = 0
    bytes: int = 0
    incomplete_days: list[str] | None = None

    def add(self, day: date, rows: dict[str, list[dict]]) -> None:
        """Count one day from its bronze rows (the same for fetched and imported days)."""
        self.days += 1
        ledger = rows[GAMES]
        self.games += len(ledger)
        complete = sum(1 for r in ledger if r["isComplete"])
        self.complete_games += complete
        self.incomplete_games += len(ledger) - complete
        responses = [r for t in (SCHEDULE, *ENDPOINT_TABLES.values()) for r in rows[t]]
        self.responses += len(responses)
        self.bytes += sum(r["bodyBytes"] for r in responses)
        if complete < len(ledger):
            self.incomplete_days = (self.incomplete_days or []) + [day.isoformat()]


class StagedTables:
    """Spools bronze rows to local Parquet while a window is fetched, then streams them to Delta.

    This keeps a multi-year single-run backfill in bounded memory while still committing each table
    exactly once: rows are appended here day by day and `reader(table)` replays them for delta-rs.
    """

    def __init__(self, tables: Iterable[str] = BRONZE_TABLES) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="nhl-bronze-stage-")
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._paths = {t: os.path.join(self._dir.name, t.replace("/", "__") + ".parquet") for t in tables}

    def append(self, rows: dict[str, list[dict]]) -> None:
        for table, table_rows in rows.items():
            if not table_rows:
                continue
            batch = pa.Table.from_pylist(table_rows, schema=SCHEMAS[table])
            writer = self._writers.get(table)
            if writer is None:
                writer = self._writers[table] = pq.ParquetWriter(self._paths[table], SCHEMAS[table])
            writer.write_table(batch)

    def reader(self, table: str, columns: list[str] | None = None) -> pa.RecordBatchReader:
        """The staged rows of `table` (only `columns`, e.g. without the bodies when hashing)."""
        writer = self._writers.pop(table, None)
        if writer is not None:
            writer.close()
        schema = SCHEMAS[table]
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        if not os.path.exists(self._paths[table]):
            return pa.RecordBatchReader.from_batches(schema, iter(()))
        parquet = pq.ParquetFile(self._paths[table])
        return pa.RecordBatchReader.from_batches(schema, parquet.iter_batches(batch_size=256, columns=columns))

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        self._dir.cleanup()

    def __enter__(self) -> "StagedTables":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------------------------------
# a re-fetch never replaces a good stored response with a failure
# ----------------------------------------------------------------------------------------------------

_FLAG = {"boxscore": "hasBoxscore", "play_by_play": "hasPlayByPlay", "shift_chart": "hasShiftChart"}


def games_to_protect(day: DayFetch) -> list[int]:
    """Games of a fetched day that lack a response (an API error, a chart not published now)."""
    return [g.game_id for g in day.games if any(not g.has(e) for e in ENDPOINT_TABLES)]


def keep_stored(day: DayFetch, ledger: dict[int, dict], stored: dict[tuple[str, int], dict]) -> list[str]:
    """Put back, in a re-fetched day, every response bronze already held whole and the re-fetch lost.

    Why: the daily lookback and the retries re-fetch whole dates, and a date is replaced as a unit. A 503
    or a timeout on one endpoint of a complete game would otherwise replace its good payload with an error
    row and silently drop the game from silver and gold. `ledger` is the stored `bronze/games` row per game,
    `stored` the stored response rows by (endpoint, gameId). Returns what was kept, for the run's log.
    """
    kept = []
    for game in day.games:
        old = ledger.get(game.game_id)
        if old is None:
            continue
        for endpoint in ENDPOINT_TABLES:
            row = stored.get((endpoint, game.game_id))
            if game.has(endpoint) or not old.get(_FLAG[endpoint]) or row is None or row["httpStatus"] != 200:
                continue
            game.responses[endpoint] = RawResponse(row["endpoint"], row["request"], row["request"], 200,
                                                   row["body"], row["fetchedAt"], row["attempts"], 0.0)
            game.missing[:] = [m for m in game.missing if not m.startswith(endpoint)]
            kept.append(f"{game.game_id}:{endpoint}")
    return kept


def endpoints_to_retry(ledger_row: dict | None) -> tuple[str, ...]:
    """What a retry of a date's incomplete games requests for one of its games (`ledger_row`: the game's
    stored `bronze/games` row): nothing for a game bronze holds complete, the endpoints bronze lacks for an
    incomplete one (all of them if the flags cannot say), everything for a game the ledger never saw.

    Why: a backfill's retry passes must cost only what is missing; the stored responses of the rest are
    put back by `keep_stored`, so the date is still replaced whole and loses nothing.
    """
    if ledger_row is None:
        return tuple(ENDPOINT_TABLES)
    if ledger_row["isComplete"]:
        return ()
    lacking = tuple(e for e in ENDPOINT_TABLES if not ledger_row.get(_FLAG[e]))
    return lacking or tuple(ENDPOINT_TABLES)


def schedule_content(schedule_rows: pa.Table) -> pa.Table:
    """What a stored schedule response says about *its own* date: that date's game objects.

    Why: `/v1/schedule/{date}` answers with the whole week, so its body (and sha256) changes every time a
    later day's game is played. Silver only reads the date's own games; hashing this instead of the body
    keeps an unchanged date's data version unchanged, so a lookback re-fetch does not re-run silver.
    """
    import orjson

    rows = []
    for r in schedule_rows.select(["gameDate", "httpStatus", "body"]).to_pylist():
        try:
            week = orjson.loads(r["body"]).get("gameWeek") or []
        except (orjson.JSONDecodeError, AttributeError):
            week = None
        if week is None:  # not a schedule: its bytes are its content
            rows.append({"gameDate": r["gameDate"], "game": f"{r['httpStatus']}:{hashlib.sha256(r['body']).hexdigest()}"})
            continue
        for day in week:
            if day.get("date") != r["gameDate"].isoformat():
                continue
            for g in day.get("games") or []:  # the whole game object: whatever silver reads of it is in here
                rows.append({"gameDate": r["gameDate"], "game": orjson.dumps(g, option=orjson.OPT_SORT_KEYS).decode()})
        rows.append({"gameDate": r["gameDate"], "game": f"status:{r['httpStatus']}"})
    return pa.Table.from_pylist(rows, schema=pa.schema([("gameDate", pa.date32()), ("game", pa.string())]))
