"""Play-by-play (+ shift chart) -> one row per shot attempt, with what an expected-goals model needs (pure).

Every goal, shot on goal, missed shot and blocked shot of regular-season and playoff play is a row
(shootout attempts are not: `periodType` SO). The columns are MoneyPuck's shot-data names where one
exists. Definitions, and why:

* **Direction.** The NHL's `zoneCode` is written from the event owner's side and is wrong for blocked
  shots (it is the blocker's zone), so nothing here reads it. The attacked net is taken from
  `homeTeamDefendingSide` ("left": the home goalie guards x = -89, so home shoots at x = +89). When a
  period lacks that field, or the field contradicts the shots themselves (at least 5 unblocked attempts of
  the period, 80 % or more of them on the side it calls the shooters' own end), the majority of the
  period's unblocked shot locations decides. Coordinates are then turned so the shooter attacks the net at
  (89, 0): `xCordAdjusted` > 25 is the offensive zone, < -25 the defensive one.
* **Distance and angle** to that net, in feet and degrees: 0 degrees is straight on, 90 the goal line,
  more than 90 behind the net.
* **Strength** is the play's own `situationCode` (the state at the shot), or the game-state timeline at
  its second when the code is missing; `situation` uses silver's names from the shooting team's side.
  `shotOnEmptyNet`: the defending team's goalie digit is 0.
* **Goalie in net**: `goalieInNetId`; blocked shots do not carry it, so they take the goalie the nearest
  earlier attempt against that team faced (the next one if there is none yet) unless the net is empty.
* **Previous event**: the play just before in `sortOrder` within the period, markers that are not on-ice
  events (delayed-penalty signals, period starts) skipped. `timeSinceLastEvent` in seconds (0 when the feed
  lists the previous play at a later second, which happens),
  `distanceFromLastEvent` in feet between the two locations (null when either has none).
* **Rebound**: an attempt by the same team at most 3 s after its previous attempt, with no stoppage,
  faceoff or goal between (MoneyPuck's 3-second rule).
* **Rush**: at most 4 s after the previous event, located in the shooting team's neutral or defensive zone
  (that event's adjusted x < 25; a stoppage has no location, so play was not stopped between), MoneyPuck's
  4-second rule.
* **On ice**: the skaters (goalies excluded) whose shift covers the shot's second, start < t <= end as
  for silver's on-ice counts; null without a shift chart.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl
import pyarrow as pa

from nhl_assets.catalog import silver as silver_tables
from nhl_assets.parse import plays as pp
from nhl_assets.parse import shifts as ps
from nhl_assets.parse.situations import SITUATIONS, State, Timeline, parse_code, situation_pair

SCHEMA = silver_tables.SHOTS.polars_schema

SHOT_KINDS = ("goal", "shot-on-goal", "missed-shot", "blocked-shot")
UNBLOCKED = frozenset({"goal", "shot-on-goal", "missed-shot"})
#: every `shotType` the NHL writes; anything else is quarantined by silver's expectations
SHOT_TYPES = ("wrist", "snap", "slap", "backhand", "tip-in", "deflected", "wrap-around", "poke", "bat",
              "between-legs", "cradle")
NET_X = 89  # the goal lines are 89 ft from centre ice
BLUE_LINE = 25  # the blue lines are 25 ft from centre ice
RINK_X, RINK_Y = 100, 42.5  # half length and half width of the rink, in feet
REBOUND_SECONDS = 3
RUSH_SECONDS = 4
_NOT_EVENTS = frozenset({"delayed-penalty", "period-start", "period-end", "game-end", "shootout-complete"})
_RESETS = frozenset({"stoppage", "faceoff", "goal", "period-start", "period-end"})  # end a rebound sequence
_VOTE_MIN, _VOTE_SHARE = 5, 0.8
_LISTS = ("onIceForIds", "onIceAgainstIds")
_SCALARS = tuple(c for c in SCHEMA if c not in _LISTS)
_NO_IDS = np.zeros(0, np.int64)


@dataclass
class GameShots:
    """One game's shots: a tuple per shot (the scalar columns of `SCHEMA`, in order) and the skaters on ice
    for and against each shot as flat id arrays with a count per shot (None without a shift chart)."""

    rows: list[tuple] = field(default_factory=list)
    on_ice: dict[str, tuple[np.ndarray, np.ndarray]] | None = None  # column -> (ids, count per shot)


@dataclass
class ShotBatch:
    """Every shot of a batch of games (a game's shots are added once it parsed whole).

    Why rows and flat id arrays: a season has ~200,000 shots; one tuple per shot transposed once, and the
    on-ice lists handed to Arrow as one flat array with offsets, cost a fraction of appending to 40 column
    lists and of polars converting 400,000 small Python lists.
    """

    rows: list[tuple] = field(default_factory=list)
    ids: dict[str, list[np.ndarray]] = field(default_factory=lambda: {c: [] for c in _LISTS})
    counts: dict[str, list[np.ndarray]] = field(default_factory=lambda: {c: [] for c in _LISTS})

    def add(self, game: GameShots) -> None:
        self.rows += game.rows
        n = len(game.rows)
        for name in _LISTS:
            ids, counts = game.on_ice[name] if game.on_ice is not None else (_NO_IDS, np.zeros(n, np.int64))
            self.ids[name].append(ids)
            self.counts[name].append(counts)

    def frame(self) -> pl.DataFrame:
        columns = list(zip(*self.rows)) if self.rows else [[] for _ in _SCALARS]
        out = pl.DataFrame(dict(zip(_SCALARS, columns)), schema={c: SCHEMA[c] for c in _SCALARS})
        unknown = ~out.get_column("hasShiftData").to_numpy()  # no shift chart: the on-ice lists are null
        lists = {}
        for name in _LISTS:
            counts = np.concatenate(self.counts[name]) if self.counts[name] else np.zeros(0, np.int64)
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            ids = np.concatenate(self.ids[name]) if self.ids[name] else _NO_IDS
            arr = pa.ListArray.from_arrays(pa.array(offsets), pa.array(ids, pa.int64()), mask=pa.array(unknown))
            lists[name] = pl.Series(name, arr).cast(SCHEMA[name])
        return out.with_columns(**lists).select(list(SCHEMA))


def _coords(d: dict) -> tuple[int, int] | None:
    x, y = d.get("xCoord"), d.get("yCoord")
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return int(x), int(y)
    return None


def distance_angle(x_adj: float, y_adj: float) -> tuple[float, float]:
    """Feet and degrees from the attacked net at (89, 0) to an adjusted location (0 deg = straight on)."""
    dx = NET_X - x_adj
    return math.hypot(dx, y_adj), math.degrees(math.atan2(abs(y_adj), dx))


def home_attacks_right(raw_plays: list, shots: list[tuple[pp.Play, int]]) -> dict[int, bool | None]:
    """Per period: does the home team shoot at x = +89? (see the module doc: the field, checked by the shots)."""
    declared: dict[int, bool] = {}
    for p in raw_plays:
        if not isinstance(p, dict):
            continue
        side, desc = p.get("homeTeamDefendingSide"), p.get("periodDescriptor")
        if side in ("left", "right") and isinstance(desc, dict) and desc.get("number") not in declared:
            declared[desc["number"]] = side == "left"
    votes: dict[int, list[int]] = {}  # period -> [shots agreeing with "home attacks right", all shots]
    for play, side in shots:
        xy = _coords(play.details)
        if play.kind not in UNBLOCKED or xy is None or xy[0] == 0:
            continue
        v = votes.setdefault(play.period, [0, 0])
        v[0] += (xy[0] > 0) == (side == pp.HOME)
        v[1] += 1
    out: dict[int, bool | None] = {}
    for period in {*declared, *votes}:
        agree, n = votes.get(period, (0, 0))
        by_shots = None if n == 0 or 2 * agree == n else 2 * agree > n
        said = declared.get(period)
        if said is None:
            out[period] = by_shots
        elif n >= _VOTE_MIN and (agree if not said else n - agree) >= _VOTE_SHARE * n:
            out[period] = not said  # the field says one thing, nearly every shot the other
        else:
            out[period] = said
    return out


def _shooter(d: dict, kind: str) -> int | None:
    pid = d.get("scoringPlayerId") if kind == "goal" else d.get("shootingPlayerId")
    return pid if isinstance(pid, int) else None


def _shot_side(play: pp.Play, header: pp.GameHeader, roster: dict[int, pp.Player]) -> int | None:
    """The shooting team: the shooter's own team (blocked shots are owned by the shooting team anyway)."""
    pid = _shooter(play.details, play.kind)
    player = roster.get(pid) if pid is not None else None
    if player is not None:
        return player.side
    return header.side_of_team(play.details.get("eventOwnerTeamId"))


def _state(play: pp.Play, tl: Timeline) -> State | None:
    st = parse_code(play.code)
    if st is not None:
        return st
    if not tl.starts:
        return None
    return tl.states[tl.index_at(play.t, False)]


def _on_ice(chart: ps.ShiftChart, times: list[int], sides: list[int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Skaters on ice at each shot (span start < t <= end), for and against the shooting side: flat ids,
    shot by shot and sorted within a shot, and the count per shot.

    One boolean matrix (shots x skater spans) per game: a player's spans are a union, so he appears at most
    once per shot, and spans sorted by player keep each shot's ids sorted.
    """
    spans = chart.spans.take(~chart.spans.goalie)
    t = np.asarray(times, dtype=np.int64)
    rows, cols = np.nonzero((spans.start[None, :] < t[:, None]) & (t[:, None] <= spans.end[None, :]))
    same = spans.side[cols] == np.asarray(sides, dtype=np.int64)[rows]
    out = {}
    for name, keep in (("onIceForIds", same), ("onIceAgainstIds", ~same)):
        out[name] = (spans.player[cols[keep]], np.bincount(rows[keep], minlength=len(times)).astype(np.int64))
    return out


def _nearest_goalies(shots: list[tuple[pp.Play, int]]) -> list[int | None]:
    """Goalie faced by each attempt: its own `goalieInNetId`, else the nearest earlier (then later) one."""
    named = [s[0].details.get("goalieInNetId") for s in shots]
    out: list[int | None] = list(named)
    for defending in (pp.AWAY, pp.HOME):
        idx = [i for i, (_p, side) in enumerate(shots) if side != defending]
        known = [(i, named[i]) for i in idx if isinstance(named[i], int)]
        if not known:
            continue
        positions = [i for i, _g in known]
        for i in idx:
            if isinstance(named[i], int):
                continue
            k = bisect_right(positions, i) - 1
            out[i] = known[k][1] if k >= 0 else known[0][1]
    return out


def game_shots(payload: dict, game_id: int, game_date: date, header: pp.GameHeader, roster: dict[int, pp.Player],
               plays: list[pp.Play], tl: Timeline, chart: ps.ShiftChart | None) -> GameShots:
    """The shots of one game."""
    raw = payload.get("plays") or []
    event_ids = {p.get("sortOrder"): p.get("eventId") for p in raw if isinstance(p, dict)}
    shots: list[tuple[pp.Play, int]] = []
    for play in plays:
        if play.kind in SHOT_KINDS and play.period_type != "SO":
            side = _shot_side(play, header, roster)
            if side is not None:
                shots.append((play, side))
    out = GameShots()
    if not shots:
        return out
    right = home_attacks_right(raw, shots)
    goalies = _nearest_goalies(shots)
    on_ice = _on_ice(chart, [p.t for p, _s in shots], [side for _p, side in shots]) if chart is not None else None
    abbrevs = header.abbrevs
    by_sort = {id(p): i for i, (p, _s) in enumerate(shots)}

    prev: pp.Play | None = None  # previous on-ice event of the period
    last_shot: tuple[int, int] | None = None  # (second, side) of the previous attempt since a reset
    score = [0, 0]
    add = out.rows.append
    season, game_type, has_shifts = header.season, header.game_type, chart is not None
    for play in plays:
        if play.period_type == "SO":
            continue
        if prev is not None and prev.period != play.period:
            prev, last_shot = None, None
        i = by_sort.get(id(play))
        if i is not None:
            side = shots[i][1]
            d = play.details
            kind = play.kind
            attacks_right = right.get(play.period)
            sign = None if attacks_right is None else (1 if attacks_right == (side == pp.HOME) else -1)
            xy = _coords(d)
            adj = (xy[0] * sign, xy[1] * sign) if xy is not None and sign is not None else None
            dist, angle = distance_angle(*adj) if adj is not None else (None, None)
            st = _state(play, tl)
            mine = theirs = None
            sit = None
            empty = None
            if st is not None:
                ga, sa, sh, gh = st
                mine, theirs = (sa, sh) if side == pp.AWAY else (sh, sa)
                sit = SITUATIONS[situation_pair(st)[side]]
                empty = (gh if side == pp.AWAY else ga) == 0
            since = max(play.t - prev.t, 0) if prev is not None else None  # a play out of clock order: 0 s
            pxy = _coords(prev.details) if prev is not None else None
            prev_team = header.side_of_team(prev.details.get("eventOwnerTeamId")) if prev is not None else None
            shooter = _shooter(d, kind)
            player = roster.get(shooter) if shooter is not None else None
            prev_adj_x = pxy[0] * sign if pxy is not None and sign is not None else None
            rebound = last_shot is not None and last_shot[1] == side and play.t - last_shot[0] <= REBOUND_SECONDS
            rush = since is not None and since <= RUSH_SECONDS and prev_adj_x is not None and prev_adj_x < BLUE_LINE
            add((game_id, game_date, season, event_ids.get(play.sort_order), game_type, play.sort_order, play.period,
                 play.period_type, play.t, kind, abbrevs[side], abbrevs[1 - side],
                 "HOME" if side == pp.HOME else "AWAY", shooter, player.name if player else None,
                 player.position if player else None, None if empty else goalies[i], d.get("shotType"),
                 xy[0] if xy else None, xy[1] if xy else None, adj[0] if adj else None, adj[1] if adj else None,
                 dist, angle, sit, mine, theirs, empty, score[side], score[1 - side],
                 prev.kind if prev is not None else None, abbrevs[prev_team] if prev_team is not None else None,
                 since, math.dist(xy, pxy) if xy is not None and pxy is not None else None, rebound, rush,
                 kind == "goal" or kind == "shot-on-goal", kind == "goal", has_shifts))
            last_shot = (play.t, side)
            if kind == "goal":
                score[side] += 1
        if play.kind in _RESETS:
            last_shot = None
        if play.kind not in _NOT_EVENTS:
            prev = play
    out.on_ice = on_ice
    return out


def expectation_rules() -> tuple[tuple[pl.Expr, pl.Expr], ...]:
    """Row rules of `silver/shots` beyond its key: what silver quarantines instead of writing.

    A location outside the rink or a shot type the NHL does not use means the feed drifted; such a row
    would teach the expected-goals model nonsense, so it is held back with the reason.
    """
    c = pl.col
    return (
        (~c("event").is_in(SHOT_KINDS), pl.lit("unknown event ") + c("event").cast(pl.String)),
        ((c("xCord").abs() > RINK_X) | (c("yCord").abs() > RINK_Y),
         pl.format("coordinates out of the rink ({}, {})", c("xCord"), c("yCord"))),
        (c("shotType").is_not_null() & ~c("shotType").is_in(SHOT_TYPES),
         pl.lit("unknown shot type ") + c("shotType")),
        (c("situation").is_not_null() & ~c("situation").is_in(SITUATIONS),
         pl.lit("invalid situation ") + c("situation")),
    )
