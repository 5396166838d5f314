"""Shift chart payload -> per-player on-ice intervals on the game clock (pure, no Dagster).

Why the cleaning: the NHL's shift chart sometimes lists the very same shift twice (same player, period,
start and end; different row id — 2023020204 has four such rows, and its boxscore counts each once), and
it mixes goal markers (`typeCode` 505) with shifts (`typeCode` 517). Ice time is therefore the *union* of
a player's shift intervals and the shift count the number of distinct shifts, which is what the boxscore
reports. Goalie shifts also give the exact second a goalie was pulled or came back, which the game-state
timeline uses (see `situations`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nhl_assets.parse.errors import ParseError
from nhl_assets.parse.plays import _MMSS, PERIOD_SECONDS, Player, clock_seconds

ENDPOINT = "shift_chart"
SHIFT_TYPE_CODE = 517


@dataclass(frozen=True, slots=True)
class ShiftChart:
    """A game's shifts, deduplicated, in absolute seconds ((period - 1) * 1200 + clock)."""

    intervals: dict[int, list[tuple[int, int]]]  # player -> union of [start, end) intervals, sorted
    starts: dict[int, list[int]]  # player -> start of every distinct shift (its count is the boxscore's `shifts`)
    goalie_changes: tuple[list[tuple[int, int]], list[tuple[int, int]]]  # per side: (second, in net 1/0)
    last_second: dict[int, int]  # period -> latest shift end


def _row_seconds(row: dict, game_id: int) -> tuple[int, int, int, int]:
    """(playerId, period, start, end) of one shift row, end from `duration` when `endTime` is missing."""
    pid, period, start, end = row.get("playerId"), row.get("period"), row.get("startTime"), row.get("endTime")
    if not isinstance(pid, int) or not isinstance(period, int) or start is None:
        raise ParseError(f"shift row {row.get('id')!r} lacks playerId/period/startTime", game_id=game_id,
                         endpoint=ENDPOINT)
    s = _MMSS.get(start)
    if s is None:
        s = clock_seconds(start, f"shift row {row.get('id')!r} startTime", game_id, ENDPOINT)
    if end is None:
        dur = row.get("duration")
        if dur is None:
            raise ParseError(f"shift row {row.get('id')!r} has neither endTime nor duration", game_id=game_id,
                             endpoint=ENDPOINT)
        e = s + clock_seconds(dur, f"shift row {row.get('id')!r} duration", game_id, ENDPOINT)
    else:
        e = _MMSS.get(end)
        if e is None:
            e = clock_seconds(end, f"shift row {row.get('id')!r} endTime", game_id, ENDPOINT)
    if e < s:
        raise ParseError(f"shift row {row.get('id')!r} ends ({end}) before it starts ({start})", game_id=game_id,
                         endpoint=ENDPOINT)
    base = (period - 1) * PERIOD_SECONDS
    return pid, period, base + s, base + e


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping intervals merged (touching ones stay apart: they are two shifts)."""
    spans.sort()
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if e <= s:
            continue
        if out and s < out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _coverage_changes(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(second, 1) where a team's net becomes guarded and (second, 0) where it is left empty."""
    spans = sorted(spans)
    merged: list[list[int]] = []
    for s, e in spans:
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:  # a goalie swap at one second keeps the net guarded
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out: list[tuple[int, int]] = []
    for s, e in merged:
        out.append((s, 1))
        out.append((e, 0))
    return out


def _rows_by_player(rows: list, game_id: int) -> dict[int, list[tuple[int, int]]]:
    """Every shift row's [start, end) in absolute seconds, per player (duplicates still in).

    The common row is read with direct indexing inside one `try`; a row that drifted (missing `endTime`,
    odd clock spelling, no `typeCode`) takes the slow path that explains what is wrong.
    """
    by_player: dict[int, list[tuple[int, int]]] = {}
    mmss = _MMSS
    for row in rows:
        try:
            if row["typeCode"] != SHIFT_TYPE_CODE:
                continue
            if row["gameId"] != game_id:
                raise ParseError(f"shift row {row.get('id')!r} belongs to game {row['gameId']}", game_id=game_id,
                                 endpoint=ENDPOINT)
            pid = row["playerId"]
            base = (row["period"] - 1) * PERIOD_SECONDS
            s, e = base + mmss[row["startTime"]], base + mmss[row["endTime"]]
            if e < s:
                raise KeyError("endTime")
        except (KeyError, TypeError):
            if not isinstance(row, dict) or row.get("typeCode", SHIFT_TYPE_CODE) != SHIFT_TYPE_CODE:
                continue
            if row.get("gameId", game_id) != game_id:
                raise ParseError(f"shift row {row.get('id')!r} belongs to game {row['gameId']}", game_id=game_id,
                                 endpoint=ENDPOINT) from None
            pid, _period, s, e = _row_seconds(row, game_id)
        spans = by_player.get(pid)
        if spans is None:
            by_player[pid] = [(s, e)]
        else:
            spans.append((s, e))
    return by_player


def parse_shift_chart(payload: Any, roster: dict[int, Player], game_id: int) -> ShiftChart | None:
    """Shifts of the dressed players; None when there is no shift data (no payload or no 517 rows).

    Raises `ParseError` for a chart that contradicts the play-by-play (a player who did not dress, rows of
    another game, a team without any shift) — the caller then publishes the game without shift data and
    records the reason, instead of publishing ice times it cannot vouch for.
    """
    if payload is None:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("data", []), list):
        raise ParseError("shift chart is not an object with a data list", game_id=game_id, endpoint=ENDPOINT)
    by_player = _rows_by_player(payload.get("data") or [], game_id)
    if not by_player:
        return None
    intervals: dict[int, list[tuple[int, int]]] = {}
    starts: dict[int, list[int]] = {}
    goalie_spans: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
    last: dict[int, int] = {}
    sides = [0, 0]
    for pid, spans in by_player.items():
        player = roster.get(pid)
        if player is None:
            raise ParseError(f"shift chart player {pid} is not in rosterSpots", game_id=game_id, endpoint=ENDPOINT)
        distinct = sorted(set(spans))  # the same shift listed twice counts once
        sides[player.side] += 1
        starts[pid] = [s for s, _ in distinct]
        intervals[pid] = _union(distinct)
        if player.is_goalie:
            goalie_spans[player.side].extend(distinct)
        for s, e in distinct:
            period = s // PERIOD_SECONDS + 1 if e > s else (e - 1) // PERIOD_SECONDS + 1
            if e > last.get(period, -1):
                last[period] = e
    if not sides[0] or not sides[1]:
        raise ParseError("shift chart has shifts of one team only", game_id=game_id, endpoint=ENDPOINT)
    return ShiftChart(
        intervals=intervals,
        starts=starts,
        goalie_changes=(_coverage_changes(goalie_spans[0]), _coverage_changes(goalie_spans[1])),
        last_second=last,
    )
