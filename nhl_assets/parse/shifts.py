"""Shift chart payload -> every distinct shift and every player's on-ice intervals, as columns (pure).

Why the cleaning: the NHL's shift chart sometimes lists the very same shift twice (same player, period,
start and end; different row id — 2023020204 has four such rows, and its boxscore counts each once), and
it mixes goal markers (`typeCode` 505) with shifts (`typeCode` 517). Ice time is therefore the *union* of
a player's shift intervals and the shift count the number of distinct shifts, which is what the boxscore
reports. Goalie shifts also give the exact second a goalie was pulled or came back, which the game-state
timeline uses (see `situations`).

Why columns: a game has ~800 shift rows and a backfill thousands of games, so a regular chart's body is
read straight into numpy columns (`decode_regular`: a compiled scanner, or msgspec's typed decode where the
scanner is not built or declines), and the dedup, the unions and everything `game_stats` derives from them
(ice time per situation, on-ice shots) are array operations. A chart whose rows are not all well-formed (a
missing `endTime`, an odd clock spelling, a field of the wrong type) is decoded generically and read row by
row instead (`_rows_by_player`), which also names what is wrong; every reading feeds the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any

import msgspec
import numpy as np
import orjson

from nhl_assets.parse.errors import ParseError
from nhl_assets.parse.plays import _MMSS, PERIOD_SECONDS, Player, clock_seconds
from nhl_assets.rules import MAX_PERIOD

try:  # compiled by the package's install (pyproject.toml's ext-modules); else msgspec reads every chart
    from nhl_assets.parse import _shiftscan
except ImportError:  # a source tree nobody installed: slower, the same columns
    _shiftscan = None

ENDPOINT = "shift_chart"
SHIFT_TYPE_CODE = 517


class ShiftRow(msgspec.Struct, frozen=True, gc=False):
    """The six fields of a shift row that the column read takes, typed as a well-formed row has them (ints
    and strings only, so untracked by the cyclic garbage collector: `gc=False`). Nothing else: a row's
    `id` and `duration` are read only where a row is odd, and that read is the generic one (`RegularChart`).
    """

    typeCode: int
    gameId: int
    playerId: int
    period: int
    startTime: str
    endTime: str


class _RegularRows(msgspec.Struct, frozen=True):
    data: list[ShiftRow]


_REGULAR = msgspec.json.Decoder(_RegularRows)

#: the columns of a regular chart, in `RegularChart.columns`' order
COLUMNS = ("typeCode", "gameId", "playerId", "period", "startTime", "endTime")
ODD_CLOCK = -1  # a clock that is not "MM:SS", in the clock columns


@dataclass(frozen=True, slots=True)
class RegularChart:
    """A shift chart body whose every row has `ShiftRow`'s fields with their JSON types (`decode_regular`),
    read into `COLUMNS` (int64, one row each, clocks in seconds or `ODD_CLOCK`), and the body itself:
    where the column read declines a row (an odd clock, a row of another game, an end before the start),
    the chart is read from the body decoded generically, every field included, exactly as a chart the
    typed decoder declined."""

    columns: np.ndarray  # shape (len(COLUMNS), rows)
    body: bytes | str = field(repr=False)

    @property
    def rows(self) -> int:
        return int(self.columns.shape[1])


def decode_regular(body: bytes | str) -> RegularChart | None:
    """A shift chart body read straight into its `COLUMNS`, or None when it is not a regular chart.

    Why: a chart is ~800 rows of 18 fields, mostly names, colours and goal descriptions that silver never
    reads. The compiled scanner (`_shiftscan.c`) reads the six columns from the bytes with no Python
    object per row: 0.23-0.26 ms per game, against 0.60-0.67 ms for msgspec's typed decode into
    `ShiftRow`s and their columns (and 0.05 ms more to free the rows), and 0.86 ms for orjson's dicts (0.31
    to free them; three months of the simulated season, three passes). Where the scanner is not built or
    declines the body (it takes only plain JSON: no escape in a key or a clock, no key twice), msgspec
    decodes it typed, into the same columns (`tests/test_shiftscan.py` holds the two to it). Anything
    else (invalid JSON, a missing `endTime`, an id written as text) returns None; the caller then decodes
    the body generically, and `parse_shift_chart` reads that dict row by row and names what is wrong.
    """
    if _shiftscan is not None and not isinstance(body, str):  # it reads bytes (a buffer); msgspec reads both
        scanned = _shiftscan.scan(body)
        if scanned is not None:
            rows, columns = scanned
            return RegularChart(np.frombuffer(columns, dtype=np.int64).reshape(len(COLUMNS), rows), body)
    try:
        rows = _REGULAR.decode(body).data
    except (msgspec.MsgspecError, RecursionError):  # not JSON, not regular, or nested past msgspec's depth
        return None
    try:
        return RegularChart(_typed_columns(rows), body)
    except OverflowError:  # an id beyond int64 is not regular either
        return None


@dataclass(frozen=True, slots=True)
class Spans:
    """Intervals [start, end) in absolute seconds, one row each, sorted by (player, start, end)."""

    player: np.ndarray  # int64
    start: np.ndarray  # int64
    end: np.ndarray  # int64
    side: np.ndarray  # int64: the player's side (0 away, 1 home)
    goalie: np.ndarray  # bool: the player is a goalie

    def take(self, rows: np.ndarray) -> Spans:
        """The rows selected by a mask or an index array."""
        return Spans(self.player[rows], self.start[rows], self.end[rows], self.side[rows], self.goalie[rows])


@dataclass(frozen=True, slots=True)
class ShiftChart:
    """A game's shifts, deduplicated, in absolute seconds ((period - 1) * 1200 + clock)."""

    shifts: Spans  # every distinct shift (its count per player is the boxscore's `shifts`)
    spans: Spans  # per player, the union of his shifts (overlapping ones merged, touching ones apart)
    goalie_changes: tuple[list[tuple[int, int]], list[tuple[int, int]]]  # per side: (second, in net 1/0)
    last_second: dict[int, int]  # period -> latest shift end

    @property
    def intervals(self) -> dict[int, list[tuple[int, int]]]:
        """player -> union of [start, end) intervals, sorted (a view of `spans`)."""
        return _by_player(self.spans)

    @property
    def starts(self) -> dict[int, list[int]]:
        """player -> start of every distinct shift (a view of `shifts`)."""
        return {pid: [s for s, _ in spans] for pid, spans in _by_player(self.shifts).items()}


def _by_player(spans: Spans) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = {}
    for pid, s, e in zip(spans.player.tolist(), spans.start.tolist(), spans.end.tolist()):
        out.setdefault(pid, []).append((s, e))
    return out


def _row_seconds(row: dict, game_id: int) -> tuple[int, int, int, int]:
    """(playerId, period, start, end) of one shift row, end from `duration` when `endTime` is missing."""
    pid, period, start, end = row.get("playerId"), row.get("period"), row.get("startTime"), row.get("endTime")
    if type(pid) is not int or type(period) is not int or start is None:
        raise ParseError(f"shift row {row.get('id')!r} lacks playerId/period/startTime", game_id=game_id,
                         endpoint=ENDPOINT)
    if not 1 <= period <= MAX_PERIOD:
        raise ParseError(f"shift row {row.get('id')!r} is in period {period}, outside 1..{MAX_PERIOD}",
                         game_id=game_id, endpoint=ENDPOINT)
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
    """Every shift row's [start, end) in absolute seconds, per player (duplicates still in): the slow path.

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
            pid, period = row["playerId"], row["period"]
            if type(pid) is not int or type(period) is not int or not 1 <= period <= MAX_PERIOD:
                raise TypeError  # `_row_seconds` names it
            base = (period - 1) * PERIOD_SECONDS
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


_ROW_FIELDS = itemgetter(*COLUMNS)
_INT_ATTRS = tuple(map(attrgetter, COLUMNS[:4]))
_CLOCK_ATTRS = tuple(map(attrgetter, COLUMNS[4:]))
_INT_KIND = "i"


def _rows_fast(rows: list[dict], game_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(player, start, end) of every shift row of a generically decoded chart, read column-wise at C speed;
    None if any row is unusual (see `_column_read`; a missing field or a non-integer id also is)."""
    try:
        codes, games, players, periods, starts, ends = zip(*map(_ROW_FIELDS, rows))
        s = np.array(list(map(_MMSS.__getitem__, starts)))
        e = np.array(list(map(_MMSS.__getitem__, ends)))
        cols = [np.array(codes), np.array(games), np.array(players), np.array(periods)]
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if any(c.dtype.kind != _INT_KIND for c in cols) or _has_bool(codes, games, players, periods):
        return None
    return _column_read(*cols, s, e, game_id)


def _has_bool(*columns: tuple) -> bool:
    """Whether a JSON `true`/`false` stands where an integer belongs: numpy reads it as 1/0 among ints
    (a shift moved to period 1, a player 1). Only generically decoded charts come here; the typed decoders
    refuse a boolean for an integer field."""
    return any(type(v) is bool for column in columns for v in column)


def _column_read(code: np.ndarray, game: np.ndarray, player: np.ndarray, period: np.ndarray, s: np.ndarray,
                 e: np.ndarray, game_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(player, start, end) in absolute seconds of the shift rows (typeCode 517) of a chart's columns; None
    if any row is unusual.

    "Unusual" is anything the slow path would treat specially (a clock not in "MM:SS", in any row, a row
    of another game, an end before the start, a period outside 1..`MAX_PERIOD`): the caller then reads the
    chart with `_rows_by_player`, which gives the same arrays or the precise error.
    """
    if (s == ODD_CLOCK).any() or (e == ODD_CLOCK).any():
        return None
    keep = code == SHIFT_TYPE_CODE
    if not keep.all():
        game, player, period, s, e = game[keep], player[keep], period[keep], s[keep], e[keep]
    if (game != game_id).any() or (e < s).any() or (period < 1).any() or (period > MAX_PERIOD).any():
        return None
    base = (period - 1) * PERIOD_SECONDS
    return player, base + s, base + e


def _typed_columns(rows: list[ShiftRow]) -> np.ndarray:
    """The `COLUMNS` of `ShiftRow`s (int64, shape (6, rows); clocks in seconds, `ODD_CLOCK` where not
    "MM:SS"): what `decode_regular` gives where the compiled scanner is not built or declines a body.

    Each column is filled straight from the rows (`np.fromiter`), with no tuple per row and no list per
    column in between: half the time of transposing the rows (0.15 against 0.28 ms for a game's ~730
    rows). The decoder has checked that the ids and the period are ints; an id beyond int64 raises
    OverflowError for the caller.
    """
    n = len(rows)
    return np.array([np.fromiter(map(get, rows), np.int64, n) for get in _INT_ATTRS]
                    + [np.fromiter(map(_MMSS.get, map(get, rows), repeat(ODD_CLOCK, n)), np.int64, n)
                       for get in _CLOCK_ATTRS], dtype=np.int64)


def _rows_slow(rows: list, game_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same arrays as `_rows_fast`, from `_rows_by_player` (rows grouped by player, first seen first).

    A row whose player id does not fit 64 bits (JSON allows any integer; orjson reads up to 2**64 - 1)
    refuses the chart by name, where numpy would raise a bare OverflowError (a period is within 1..
    `MAX_PERIOD` here, so the seconds fit)."""
    by_player = _rows_by_player(rows, game_id)
    player = [pid for pid, spans in by_player.items() for _ in spans]
    start = [s for spans in by_player.values() for s, _ in spans]
    end = [e for spans in by_player.values() for _, e in spans]
    try:
        return (np.array(player, dtype=np.int64), np.array(start, dtype=np.int64), np.array(end, dtype=np.int64))
    except OverflowError:
        pid = next(p for p in by_player if not -(1 << 63) <= p < (1 << 63))
        raise ParseError(f"shift chart row of player {pid} has a number beyond 64-bit integers", game_id=game_id,
                         endpoint=ENDPOINT) from None


def _roster_columns(player: np.ndarray, roster: dict[int, Player], game_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(side, is goalie) of each row's player; a player who did not dress rejects the chart.

    The player named is the first one (in row order) missing from `rosterSpots`, as a row-by-row read
    would find him.
    """
    ids = np.fromiter(roster, dtype=np.int64, count=len(roster))
    order = ids.argsort()
    ids = ids[order]
    at = ids.searchsorted(player)
    at[at >= len(ids)] = 0
    missing = ids[at] != player
    if missing.any():
        pid = player[int(np.argmax(missing))]
        raise ParseError(f"shift chart player {pid} is not in rosterSpots", game_id=game_id, endpoint=ENDPOINT)
    spots = list(roster.values())
    side = np.array([p.side for p in spots], dtype=np.int64)[order][at]
    goalie = np.array([p.is_goalie for p in spots], dtype=bool)[order][at]
    return side, goalie


def _distinct(rows: Spans) -> Spans:
    """Rows sorted by (player, start, end) with exact repeats dropped (the same shift listed twice)."""
    order = np.lexsort((rows.end, rows.start, rows.player))
    rows = rows.take(order)
    keep = np.ones(len(order), dtype=bool)
    p, s, e = rows.player, rows.start, rows.end
    keep[1:] = (p[1:] != p[:-1]) | (s[1:] != s[:-1]) | (e[1:] != e[:-1])
    return rows if keep.all() else rows.take(keep)


def _union(shifts: Spans) -> Spans:
    """Per player, overlapping intervals merged (touching ones stay apart: they are two shifts).

    `shifts` is sorted by (player, start, end). Each player's seconds are lifted by a per-player offset
    larger than any game span, so that one running maximum of the ends (the end of the interval being
    merged) never reaches across players; an interval opens where a start is not below it.
    """
    real = shifts.take(shifts.end > shifts.start)  # zero-length shifts hold no ice time
    n = len(real.player)
    if n == 0:
        return real
    rank = np.zeros(n, dtype=np.int64)
    rank[1:] = (real.player[1:] != real.player[:-1]).cumsum()
    lo = int(real.start.min())
    lift = rank * (int(real.end.max()) - lo + 1) - lo
    run_end = np.maximum.accumulate(real.end + lift)
    opens = np.ones(n, dtype=bool)
    opens[1:] = real.start[1:] + lift[1:] >= run_end[:-1]
    first = opens.nonzero()[0]
    out = real.take(first)
    last = np.append(first[1:], n) - 1
    return Spans(out.player, out.start, run_end[last] - lift[last], out.side, out.goalie)


def _last_seconds(shifts: Spans) -> dict[int, int]:
    """Period -> latest shift end (a shift belongs to the period it starts in; an empty one to where it ends)."""
    s, e = shifts.start, shifts.end
    period = np.where(e > s, s // PERIOD_SECONDS, (e - 1) // PERIOD_SECONDS) + 1
    out: dict[int, int] = {}
    for p in np.unique(period).tolist():
        last = int(e[period == p].max())
        if last > -1:
            out[p] = last
    return out


def _generic(body: bytes | str, game_id: int) -> Any:
    """A regular chart's body decoded generically, for the row-by-row reading. A body both typed readers
    take can still be one orjson refuses (a number beyond a double's range in a field silver never reads,
    which they skip): its shift data is then refused by name, as any chart the parse cannot vouch for."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"shift chart with odd rows does not decode generically: {exc}", game_id=game_id,
                         endpoint=ENDPOINT) from None


def parse_shift_chart(payload: Any, roster: dict[int, Player], game_id: int) -> ShiftChart | None:
    """Shifts of the dressed players; None when there is no shift data (no payload or no 517 rows).

    `payload` is the decoded body: a dict, or a `RegularChart` (`decode_regular`).

    Raises `ParseError` for a chart that contradicts the play-by-play (a player who did not dress, rows of
    another game, a team without any shift) — the caller then publishes the game without shift data and
    records the reason, instead of publishing ice times it cannot vouch for.
    """
    if payload is None:
        return None
    read = None
    if isinstance(payload, RegularChart):
        if not payload.rows:
            return None
        read = _column_read(*payload.columns, game_id)
        if read is None:  # an odd row: the generic read of the body names what is wrong
            payload = _generic(payload.body, game_id)
    if read is None:
        if not isinstance(payload, dict) or not isinstance(payload.get("data", []), list):
            raise ParseError("shift chart is not an object with a data list", game_id=game_id, endpoint=ENDPOINT)
        data = payload.get("data") or []
        read = (_rows_fast(data, game_id) if data else None) or _rows_slow(data, game_id)
    player, start, end = read
    if not len(player):
        return None
    side, goalie = _roster_columns(player, roster, game_id)
    if not (side == 0).any() or not (side == 1).any():
        raise ParseError("shift chart has shifts of one team only", game_id=game_id, endpoint=ENDPOINT)
    shifts = _distinct(Spans(player, start, end, side, goalie))
    keepers = shifts.take(shifts.goalie)
    changes = tuple(_coverage_changes(list(zip(keepers.start[keepers.side == s].tolist(),
                                               keepers.end[keepers.side == s].tolist()))) for s in (0, 1))
    return ShiftChart(shifts=shifts, spans=_union(shifts), goalie_changes=changes,  # type: ignore[arg-type]
                      last_second=_last_seconds(shifts))
