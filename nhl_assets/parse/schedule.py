"""Schedule payloads -> rows (pure functions, no Dagster)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import polars as pl

from nhl_assets.catalog import gold as gold_tables, silver as silver_tables
from nhl_assets.rules import LOADED_GAME_TYPES, is_final

UPCOMING_SCHEMA = gold_tables.UPCOMING_SCHEDULE.polars_schema


def _utc(ts: str | None) -> datetime | None:
    if not ts:
        return None
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc)


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
        rows.append({
            "gameId": int(g["id"]),
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
        })
    return rows
