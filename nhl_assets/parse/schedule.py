"""Schedule payloads -> rows (pure functions, no Dagster)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import polars as pl

from nhl_assets.catalog import gold as gold_tables, silver as silver_tables
from nhl_assets.rules import LOADED_GAME_TYPES, is_final, is_game_id

UPCOMING_SCHEMA = gold_tables.UPCOMING_SCHEDULE.polars_schema


#: The integer range of each integer column of `silver/schedule` (a value outside it fails the frame).
_INT_RANGE = {pl.Int32: 1 << 31, pl.Int64: 1 << 63}


def _utc(ts: str | None) -> datetime | None:
    if not ts:
        return None
    if not isinstance(ts, str):
        raise ValueError(f"startTimeUTC {ts!r} is not a string")
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc)
    except OverflowError:  # "9999-12-31T23:59:59-05:00": a valid time beyond the last UTC datetime
        raise ValueError(f"startTimeUTC {ts!r} is out of range") from None


def _checked(row: dict[str, Any], schema: dict[str, pl.DataType]) -> dict[str, Any]:
    """`row` if every value is what its column holds, else ValueError naming the first that is not.

    Why: the rows of a window become one frame, which polars would refuse for every day over one value (a
    score of "x", an id beyond 64 bits, a team given as an object) or, worse, take by converting it ("3" and
    3.5 both became 3). A day whose payload drifted is then rejected by name and the others are kept."""
    for column, dtype in schema.items():
        value = row[column]
        if value is None:
            continue
        limit = _INT_RANGE.get(dtype)
        if limit is not None:
            ok = type(value) is int and -limit <= value < limit
        elif dtype == pl.String:
            ok = isinstance(value, str)
        else:  # dates and timestamps: made here, not read
            ok = True
        if not ok:
            raise ValueError(f"game {row['gameId']}: {column} = {value!r} is not a {dtype}")
    return row


def week_games(payload: dict[str, Any]) -> list[tuple[date, dict[str, Any]]]:
    """Every (game date, game object) of a `/v1/schedule/{date}` week payload."""
    out = []
    for day in payload.get("gameWeek") or []:
        d = date.fromisoformat(day["date"])
        out.extend((d, g) for g in day.get("games") or [])
    return out


def upcoming_games(payload: dict[str, Any], today: date, fetched_at: datetime, sha256: str,
                   game_types: frozenset[int] = LOADED_GAME_TYPES) -> pl.DataFrame:
    """Games of the week payload dated `today` or later that have not been played yet.

    A game already final today is not "upcoming"; one in progress still is (its prediction stands).
    """
    rows = []
    for d, g in week_games(payload):
        if d < today or g.get("gameType") not in game_types or is_final(g.get("gameState")):
            continue
        rows.append({
            "gameId": int(g["id"]),
            "gameDate": d,
            "season": g.get("season"),
            "gameType": g.get("gameType"),
            "gameState": g.get("gameState"),
            "gameScheduleState": g.get("gameScheduleState"),
            "startTimeUTC": _utc(g.get("startTimeUTC")),
            "homeTeam": (g.get("homeTeam") or {}).get("abbrev"),
            "awayTeam": (g.get("awayTeam") or {}).get("abbrev"),
            "homeTeamId": (g.get("homeTeam") or {}).get("id"),
            "awayTeamId": (g.get("awayTeam") or {}).get("id"),
            "venue": (g.get("venue") or {}).get("default"),
            "fetchedAt": fetched_at,
            "scheduleSha256": sha256,
        })
    return pl.DataFrame(rows, schema=UPCOMING_SCHEMA).sort("gameDate", "gameId")


SCHEDULE_SCHEMA = silver_tables.SCHEDULE.polars_schema

def played_games(day: date, payload: dict[str, Any], game_types: frozenset[int] = LOADED_GAME_TYPES) -> list[dict]:
    """Rows of `silver/schedule` for `day` from a raw `/v1/schedule/{day}` week payload.

    Only that day's regular-season and playoff games that are final ("played"); the score is the
    official one, shootout winner's extra goal included (`lastPeriodType` says "SO").
    """
    rows = []
    for d, g in week_games(payload):
        if d != day or g.get("gameType") not in game_types or not is_final(g.get("gameState")):
            continue
        home, away = g.get("homeTeam") or {}, g.get("awayTeam") or {}
        if not is_game_id(g["id"]):  # `int()` would read "3", 3.5 and True as games 3, 3 and 1
            raise ValueError(f"a played game's id {g['id']!r} is not a game id")
        rows.append(_checked({
            "gameId": g["id"],
            "gameDate": d,
            "season": g.get("season"),
            "gameType": g.get("gameType"),
            "gameState": g.get("gameState"),
            "gameScheduleState": g.get("gameScheduleState"),
            "startTimeUTC": _utc(g.get("startTimeUTC")),
            "venue": (g.get("venue") or {}).get("default"),
            "homeTeam": home.get("abbrev"),
            "awayTeam": away.get("abbrev"),
            "homeTeamId": home.get("id"),
            "awayTeamId": away.get("id"),
            "homeScore": home.get("score"),
            "awayScore": away.get("score"),
            "lastPeriodType": (g.get("gameOutcome") or {}).get("lastPeriodType"),
        }, SCHEDULE_SCHEMA))
    return rows
