"""Boxscore payload -> the NHL's official per-player and per-team numbers (pure, no Dagster).

Two schemas exist, and bronze holds both for old games: the current one (`playerByGameStats` at the top
level; `sog`, `shifts`, `giveaways`, `takeaways`, goalie `shotsAgainst`/`saves`) and the legacy one served
until 2024 (everything under a top-level `boxscore` object; `shots` instead of `sog`; no shifts,
giveaways or takeaways; goalie shots/saves only as `saveShotsAgainst` "saves/shots"). Both parse to the
same columns; a number a schema does not carry is null, so the reconciliation skips it instead of
comparing it with a made-up zero.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from nhl_assets.parse.errors import ParseError
from nhl_assets.parse.plays import clock_seconds

ENDPOINT = "boxscore"

BOX_PLAYER_SCHEMA: dict[str, pl.DataType] = {
    "gameId": pl.Int64, "playerId": pl.Int64, "team": pl.String, "position": pl.String, "isGoalie": pl.Boolean,
    "goals": pl.Int64, "assists": pl.Int64, "points": pl.Int64, "sog": pl.Int64, "hits": pl.Int64,
    "blockedShots": pl.Int64, "giveaways": pl.Int64, "takeaways": pl.Int64, "pim": pl.Int64,
    "toiSeconds": pl.Int64, "shifts": pl.Int64, "shotsAgainst": pl.Int64, "saves": pl.Int64,
    "goalsAgainst": pl.Int64,
}
BOX_TEAM_SCHEMA: dict[str, pl.DataType] = {
    "gameId": pl.Int64, "team": pl.String, "score": pl.Int64, "sog": pl.Int64, "lastPeriodType": pl.String,
}
_SIDES = ("awayTeam", "homeTeam")
_SKATER_FIELDS = ("goals", "assists", "points", "hits", "blockedShots", "giveaways", "takeaways", "pim", "shifts")


def _game_id(payload: Any) -> int:
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
        raise ParseError("boxscore without an integer id", endpoint=ENDPOINT)
    return payload["id"]


def player_stats_root(payload: dict) -> dict:
    """`playerByGameStats`, wherever the schema of the payload keeps it."""
    root = payload.get("playerByGameStats")
    if root is None and isinstance(payload.get("boxscore"), dict):
        root = payload["boxscore"].get("playerByGameStats")  # legacy schema
    if not isinstance(root, dict):
        raise ParseError("boxscore has no playerByGameStats (neither at the top level nor under boxscore)",
                         game_id=payload.get("id"), endpoint=ENDPOINT)
    return root


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _saves_shots(v: Any) -> tuple[int | None, int | None]:
    """'25/30' -> (25, 30)."""
    if not isinstance(v, str) or "/" not in v:
        return None, None
    a, b = v.split("/", 1)
    return (int(a), int(b)) if a.strip().isdigit() and b.strip().isdigit() else (None, None)


def _player_row(p: dict, gid: int, team: str, goalie: bool) -> dict:
    pid = p.get("playerId")
    if not isinstance(pid, int):
        raise ParseError("boxscore player without playerId", game_id=gid, endpoint=ENDPOINT)
    toi = p.get("toi")
    row: dict[str, Any] = {"gameId": gid, "playerId": pid, "team": team, "position": p.get("position"),
                           "isGoalie": goalie, "pim": _int(p.get("pim")),
                           "toiSeconds": None if toi is None else clock_seconds(toi, f"player {pid} toi", gid,
                                                                                ENDPOINT)}
    if goalie:
        saves, shots = _int(p.get("saves")), _int(p.get("shotsAgainst"))
        if saves is None or shots is None:
            saves, shots = _saves_shots(p.get("saveShotsAgainst"))
        row.update(shotsAgainst=shots, saves=saves, goalsAgainst=_int(p.get("goalsAgainst")))
    else:
        row.update({f: _int(p.get(f)) for f in _SKATER_FIELDS})
        row["sog"] = _int(p.get("sog", p.get("shots")))
    return row


def player_rows(payload: dict) -> list[dict]:
    """One row (`BOX_PLAYER_SCHEMA`) per player listed in the boxscore (skaters and goalies), either schema.

    Rows, not a frame: the reconciliation makes one frame of a whole batch's games, since a frame per game
    cost more than reading the game (0.25 against 0.06 ms a game, 40 rows each).
    """
    gid = _game_id(payload)
    root = player_stats_root(payload)
    rows: list[dict] = []
    for side in _SIDES:
        team_obj = payload.get(side) if isinstance(payload.get(side), dict) else {}
        team = str(team_obj.get("abbrev") or team_obj.get("id") or side)
        groups = root.get(side)
        if not isinstance(groups, dict):
            raise ParseError(f"playerByGameStats.{side} missing", game_id=gid, endpoint=ENDPOINT)
        for group in ("forwards", "defense", "goalies"):
            listed = groups.get(group) or ()
            if not isinstance(listed, (list, tuple)) or not all(isinstance(p, dict) for p in listed):
                raise ParseError(f"playerByGameStats.{side}.{group} is not a list of players", game_id=gid,
                                 endpoint=ENDPOINT)
            for p in listed:
                rows.append(_player_row(p, gid, team, group == "goalies"))
    return rows


def boxscore_players(payload: dict) -> pl.DataFrame:
    """`player_rows` of one game as a frame."""
    return pl.DataFrame(player_rows(payload), schema=BOX_PLAYER_SCHEMA)


def team_rows(payload: dict) -> list[dict]:
    """Both teams' final score (shootout winner +1 included, as displayed) and shots on goal
    (`BOX_TEAM_SCHEMA` rows)."""
    gid = _game_id(payload)
    outcome = payload.get("gameOutcome") if isinstance(payload.get("gameOutcome"), dict) else {}
    rows = []
    for side in _SIDES:
        t = payload.get(side)
        if not isinstance(t, dict):
            raise ParseError(f"{side} missing", game_id=gid, endpoint=ENDPOINT)
        rows.append({"gameId": gid, "team": str(t.get("abbrev") or t.get("id")), "score": _int(t.get("score")),
                     "sog": _int(t.get("sog")), "lastPeriodType": outcome.get("lastPeriodType")})
    return rows


def boxscore_teams(payload: dict) -> pl.DataFrame:
    """`team_rows` of one game as a frame."""
    return pl.DataFrame(team_rows(payload), schema=BOX_TEAM_SCHEMA)
