"""Reading bronze for silver (no Dagster): the raw responses of a window, decoded, with pointers back
to the exact bronze row each game's payloads came from (for quarantine entries).

Silver never calls the API: everything here reads `$NHL_WAREHOUSE/bronze/...`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson

from nhl_assets.catalog import bronze as cb
from nhl_assets.dates import DateWindow
from nhl_assets.parse.alloc import gc_paused
from nhl_assets.parse import plays as pp
from nhl_assets.parse import shifts as ps
from nhl_assets.parse.game_stats import GameInputs
from nhl_assets.parse.schedule import played_games
from nhl_assets.storage.delta import Warehouse

#: The bronze tables silver reads, by name. Named from the catalog, not from `bronze.tables` (which writes
#: them): that module brings the HTTP client (httpx, nhl-api-py) into every spawned parse worker.
GAMES, SCHEDULE, BOXSCORE = cb.GAMES.name, cb.SCHEDULE.name, cb.BOXSCORE.name
PLAY_BY_PLAY, SHIFT_CHARTS = cb.PLAY_BY_PLAY.name, cb.SHIFT_CHARTS.name
#: the columns of a response table silver reads (the body and what points back to the row)
POINTER_COLUMNS = ["gameDate", "gameId", "request", "httpStatus", "sha256", "fetchedAt", "body"]
ENDPOINT_OF_TABLE = {PLAY_BY_PLAY: "play_by_play", SHIFT_CHARTS: "shift_chart", BOXSCORE: "boxscore"}
#: Typed decoders tried before the generic one: they read only the fields the parse uses, and return None
#: for a body they do not fit (which is then decoded generically, so no payload is judged by them).
TYPED_DECODERS = {PLAY_BY_PLAY: pp.decode_regular, SHIFT_CHARTS: ps.decode_regular}


@dataclass(frozen=True)
class BronzePointer:
    """Where a payload lives in bronze: enough to find the raw row again."""

    table: str
    request: str
    sha256: str
    fetched_at: datetime


@dataclass(frozen=True)
class PayloadReject:
    """A bronze payload silver could not use (invalid JSON, unexpected shape)."""

    game_date: date
    game_id: int | None
    table: str
    reason: str
    pointer: BronzePointer | None


@dataclass
class WindowInputs:
    """Everything silver needs for a chunk of days."""

    games: list[GameInputs] = field(default_factory=list)
    schedule_rows: list[dict] = field(default_factory=list)
    pointers: dict[int, BronzePointer] = field(default_factory=dict)  # gameId -> play-by-play row
    rejects: list[PayloadReject] = field(default_factory=list)
    complete: dict[int, bool] = field(default_factory=dict)  # gameId -> bronze ledger isComplete
    seconds: dict[str, float] = field(default_factory=dict)  # CPU seconds of "read" and "decode"


def _decode(row: dict[str, Any], table: str, rejects: list[PayloadReject]) -> Any:
    pointer = BronzePointer(table, row["request"], row["sha256"], row["fetchedAt"])
    if row["httpStatus"] != 200:
        return None  # recorded as missing in bronze/games; nothing to parse
    typed = TYPED_DECODERS.get(table)
    if typed is not None and (payload := typed(row["body"])) is not None:
        return payload
    try:
        payload = orjson.loads(row["body"])
    except orjson.JSONDecodeError as exc:
        rejects.append(PayloadReject(row["gameDate"], row.get("gameId"), table, f"invalid JSON: {exc}", pointer))
        return None
    if not isinstance(payload, dict):
        rejects.append(PayloadReject(row["gameDate"], row.get("gameId"), table,
                                     f"expected a JSON object, got {type(payload).__name__}", pointer))
        return None
    return payload


def _rows(wh: Warehouse, table: str, window: DateWindow, columns: list[str],
          versions: dict[str, int] | None = None) -> list[dict]:
    if versions is not None and table not in versions:
        return []  # missing when the window's snapshot was pinned
    rows = wh.read_rows(table, window, columns=columns, version=None if versions is None else versions[table])
    return rows or []


def add_games(out: WindowInputs, ledger: list[dict], payload_rows: dict[str, list[dict]]) -> None:
    """Decode bronze rows into `GameInputs` (one per final game with a play-by-play), in gameId order.

    Pure: `ledger` holds `bronze/games` rows (gameDate, gameId, isFinal, isComplete) and `payload_rows`
    the rows of each response table (`POINTER_COLUMNS`). Every engine calls this on its share of the
    games, so what counts as a parsable game is decided in one place.
    """
    payloads: dict[str, dict[int, dict]] = {}
    for table in ENDPOINT_OF_TABLE:
        by_game: dict[int, dict] = {}
        for row in payload_rows.get(table, []):
            payload = _decode(row, table, out.rejects)
            if table == PLAY_BY_PLAY:
                out.pointers[row["gameId"]] = BronzePointer(table, row["request"], row["sha256"], row["fetchedAt"])
            if payload is not None:
                by_game[row["gameId"]] = payload
        payloads[table] = by_game
    for row in sorted(ledger, key=lambda r: r["gameId"]):
        out.complete[row["gameId"]] = row["isComplete"]
        if not row["isFinal"] or row["gameId"] not in payloads[PLAY_BY_PLAY]:
            continue
        out.games.append(GameInputs(
            game_id=row["gameId"], game_date=row["gameDate"],
            play_by_play=payloads[PLAY_BY_PLAY][row["gameId"]],
            shift_chart=payloads[SHIFT_CHARTS].get(row["gameId"]),
            boxscore=payloads[BOXSCORE].get(row["gameId"]),
        ))


def add_schedules(out: WindowInputs, schedule_rows: list[dict]) -> None:
    """Decode `bronze/schedule` rows into played-game rows; a payload of unexpected shape is a reject."""
    for row in schedule_rows:
        payload = _decode(row, SCHEDULE, out.rejects)
        if payload is None:
            continue
        try:
            out.schedule_rows.extend(played_games(row["gameDate"], payload))
        # AttributeError: a field holding another kind of value than an object (`venue` a string, say)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            out.rejects.append(PayloadReject(row["gameDate"], None, SCHEDULE, f"unexpected schedule shape: {exc!r}",
                                             BronzePointer(SCHEDULE, row["request"], row["sha256"],
                                                           row["fetchedAt"])))


#: the `bronze/games` columns silver needs
LEDGER_COLUMNS = ["gameDate", "gameId", "isFinal", "isComplete"]
#: the `bronze/schedule` columns silver needs (no gameId)
SCHEDULE_COLUMNS = POINTER_COLUMNS[:1] + POINTER_COLUMNS[2:]


#: the bronze tables silver reads
BRONZE_TABLES = (GAMES, *ENDPOINT_OF_TABLE, SCHEDULE)


def read_window(wh: Warehouse, window: DateWindow, versions: dict[str, int] | None = None) -> WindowInputs:
    """Decode the bronze rows of `window` into parser inputs (one `GameInputs` per final game).

    `versions` (`Warehouse.pin(BRONZE_TABLES)`) reads bronze as of one snapshot: every chunk of a silver
    run then sees the same bronze, whatever a backfill writes meanwhile, and each table is opened once
    per process instead of once per chunk."""
    out = WindowInputs()
    started = time.process_time()
    ledger = _rows(wh, GAMES, window, LEDGER_COLUMNS, versions)
    payload_rows = {table: _rows(wh, table, window, POINTER_COLUMNS, versions) for table in ENDPOINT_OF_TABLE}
    schedule_rows = _rows(wh, SCHEDULE, window, SCHEDULE_COLUMNS, versions)
    read = time.process_time()
    with gc_paused():  # the decoded bodies are millions of objects; see `gc_paused`
        add_games(out, ledger, payload_rows)
        add_schedules(out, schedule_rows)
    out.seconds = {"read": read - started, "decode": time.process_time() - read}
    return out
