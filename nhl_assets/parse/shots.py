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

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl
import pyarrow as pa

from nhl_assets.catalog import silver as silver_tables
from nhl_assets.parse import plays as pp
from nhl_assets.parse import shifts as ps
from nhl_assets.parse.situations import SITUATIONS, State, Timeline, parse_code

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
_NO_IDS = np.zeros(0, np.int64)
_NO_STATE = (None, None, None, None)

#: What the parse loop writes per shot, in order: the columns that need the play sequence (previous event,
#: score, rebound) or the game's lookups (roster, team abbreviations), raw. Everything else of `SCHEMA` is
#: arithmetic on these, done once per batch by `_derived` (polars) instead of once per shot in Python.
_RAW: dict[str, pl.DataType] = {
    **{c: SCHEMA[c] for c in ("gameId", "gameDate", "season", "eventId", "gameType", "sortOrder", "period",
                               "periodType", "gameSeconds", "event", "team", "opposingTeam")},
    "side": pl.Int8(),  # the shooting team: 0 away, 1 home
    **{c: SCHEMA[c] for c in ("shooterPlayerId", "shooterName", "shooterPosition", "shotType", "xCord", "yCord")},
    # the state at the shot (`situationCode` digits): away goalie, away skaters, home skaters, home goalie
    "awayGoalie": pl.Int8(), "awaySkaters": pl.Int8(), "homeSkaters": pl.Int8(), "homeGoalie": pl.Int8(),
    **{c: SCHEMA[c] for c in ("shootingTeamGoals", "defendingTeamGoals", "lastEventType", "lastEventTeam",
                               "timeSinceLastEvent")},
    "lastXCord": pl.Int64(), "lastYCord": pl.Int64(),  # the previous event's location as written
    **{c: SCHEMA[c] for c in ("shotRebound", "hasShiftData")},
}
#: Per shot, known once the game's shots are all read: the sign turning coordinates so the shooter attacks
#: x = +89 (null when the direction is unknown), and the goalie faced (before an empty net nulls it).
_AFTER: dict[str, pl.DataType] = {"sign": pl.Int8(), "goalie": pl.Int64()}


@dataclass
class GameShots:
    """One game's shots: a tuple per shot (`_RAW`, in order), the `_AFTER` columns, and the skaters on ice
    for and against each shot as flat id arrays with a count per shot (None without a shift chart)."""

    rows: list[tuple] = field(default_factory=list)
    after: dict[str, list] = field(default_factory=lambda: {c: [] for c in _AFTER})
    on_ice: dict[str, tuple[np.ndarray, np.ndarray]] | None = None  # column -> (ids, count per shot)
    pairs: OnIce | None = None  # the (shot, skater on ice) pairs the lists come from (None without a chart)
    times: list[int] = field(default_factory=list)  # each shot's second, in row order
    sides: list[int] = field(default_factory=list)  # each shot's shooting side, in row order


@dataclass
class ShotBatch:
    """Every shot of a batch of games (a game's shots are added once it parsed whole).

    Why rows and flat id arrays: a season has ~200,000 shots; one tuple per shot transposed once, and the
    on-ice lists handed to Arrow as one flat array with offsets, cost a fraction of appending to 40 column
    lists and of polars converting 400,000 small Python lists.
    """

    rows: list[tuple] = field(default_factory=list)
    after: dict[str, list] = field(default_factory=lambda: {c: [] for c in _AFTER})
    ids: dict[str, list[np.ndarray]] = field(default_factory=lambda: {c: [] for c in _LISTS})
    counts: dict[str, list[np.ndarray]] = field(default_factory=lambda: {c: [] for c in _LISTS})

    def add(self, game: GameShots) -> None:
        self.rows += game.rows
        for name, values in game.after.items():
            self.after[name] += values
        n = len(game.rows)
        for name in _LISTS:
            ids, counts = game.on_ice[name] if game.on_ice is not None else (_NO_IDS, np.zeros(n, np.int64))
            self.ids[name].append(ids)
            self.counts[name].append(counts)

    def frame(self) -> pl.DataFrame:
        columns = list(zip(*self.rows)) if self.rows else [[] for _ in _RAW]
        raw = pl.DataFrame({**dict(zip(_RAW, columns)), **self.after}, schema={**_RAW, **_AFTER})
        known = raw.get_column("hasShiftData").to_numpy()  # no shift chart: the on-ice lists are null
        lists = {}
        for name in _LISTS:
            counts = np.concatenate(self.counts[name]) if self.counts[name] else np.zeros(0, np.int64)
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            ids = np.concatenate(self.ids[name]) if self.ids[name] else _NO_IDS
            lists[name] = pl.Series(name, _list_array(offsets, ids, known)).cast(SCHEMA[name])
        return raw.with_columns(*_derived(), **lists).select(list(SCHEMA))


def _list_array(offsets: np.ndarray, ids: np.ndarray, known: np.ndarray) -> pa.Array:
    """A list<int64> array from its buffers: the int32 offsets, the flat ids, and which rows have a list
    (the others are null).

    Why buffers: `pa.array` first imports pandas, to ask whether its argument is a pandas object. A parse
    worker loads nothing else of pandas, and that import cost it 0.17-0.19 s of its start, on each core.
    """
    values = pa.Array.from_buffers(pa.int64(), len(ids), [None, pa.py_buffer(np.ascontiguousarray(ids, np.int64))])
    validity = pa.py_buffer(np.packbits(known, bitorder="little"))
    return pa.Array.from_buffers(pa.list_(pa.int64()), len(known), [validity, pa.py_buffer(offsets)],
                                 children=[values])


_NUMBERS = (int, float)  # a coordinate's types (`type(v) in`, so that a bool, an int subclass, is none)


def _coords(d: dict) -> tuple[int, int] | None:
    """(xCoord, yCoord) in whole feet, as the feed writes them; None when either is missing or not a number.

    A fractional coordinate (the feed has never written one) is rounded to the nearest foot, not cut
    toward zero, and a JSON `true`/`false` (a Python int) is no coordinate."""
    x, y = d.get("xCoord"), d.get("yCoord")
    tx, ty = type(x), type(y)
    if tx is int and ty is int:
        return x, y
    if tx in _NUMBERS and ty in _NUMBERS:
        return round(x), round(y)
    return None


def _hypot(dx: pl.Expr, dy: pl.Expr) -> pl.Expr:
    """Feet between two points from integer offsets: the squares are exact, so the square root is the
    correctly rounded distance (bit for bit `math.hypot` on every offset within the rink)."""
    return (dx.cast(pl.Float64) ** 2 + dy.cast(pl.Float64) ** 2).sqrt()


def distance_angle(x_adj: pl.Expr, y_adj: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Feet and degrees from the attacked net at (89, 0) to an adjusted location (0 deg = straight on)."""
    dx = NET_X - x_adj
    return _hypot(dx, y_adj), pl.arctan2(y_adj.abs().cast(pl.Float64), dx.cast(pl.Float64)).degrees()


def _situation(mine: pl.Expr, theirs: pl.Expr, away_goalie: pl.Expr, home_goalie: pl.Expr) -> pl.Expr:
    """`situations.situation` as an expression: an empty net on either side is `other`."""
    s5on5, s5on4, s4on5, other = SITUATIONS
    return (pl.when(away_goalie.is_null()).then(None)
            .when((away_goalie != 1) | (home_goalie != 1)).then(pl.lit(other))
            .when((mine == 5) & (theirs == 5)).then(pl.lit(s5on5))
            .when((mine == 5) & (theirs == 4)).then(pl.lit(s5on4))
            .when((mine == 4) & (theirs == 5)).then(pl.lit(s4on5))
            .otherwise(pl.lit(other)))


def _derived() -> list[pl.Expr]:
    """The columns of `SCHEMA` computed from `_RAW` and `_AFTER` over the whole batch (see the module doc)."""
    c = pl.col
    home = c("side") == pp.HOME
    sign = c("sign").cast(pl.Int64)
    x_adj, y_adj = c("xCord") * sign, c("yCord") * sign
    distance, angle = distance_angle(x_adj, y_adj)
    mine = pl.when(home).then(c("homeSkaters")).otherwise(c("awaySkaters"))
    theirs = pl.when(home).then(c("awaySkaters")).otherwise(c("homeSkaters"))
    empty = pl.when(home).then(c("awayGoalie")).otherwise(c("homeGoalie")) == 0
    kind = c("event")
    return [
        pl.when(home).then(pl.lit("HOME")).otherwise(pl.lit("AWAY")).alias("home_or_away"),
        pl.when(empty.fill_null(False)).then(None).otherwise(c("goalie")).alias("goalieIdForShot"),
        x_adj.alias("xCordAdjusted"), y_adj.alias("yCordAdjusted"),
        distance.alias("shotDistance"), angle.alias("shotAngle"),
        _situation(mine, theirs, c("awayGoalie"), c("homeGoalie")).alias("situation"),
        mine.cast(SCHEMA["shootingTeamSkaters"]).alias("shootingTeamSkaters"),
        theirs.cast(SCHEMA["defendingTeamSkaters"]).alias("defendingTeamSkaters"),
        empty.alias("shotOnEmptyNet"),
        _hypot(c("xCord") - c("lastXCord"), c("yCord") - c("lastYCord")).alias("distanceFromLastEvent"),
        ((c("timeSinceLastEvent") <= RUSH_SECONDS) & (c("lastXCord") * sign < BLUE_LINE)).fill_null(False)
        .alias("shotRush"),
        kind.is_in(("goal", "shot-on-goal")).alias("shotWasOnGoal"),
        (kind == "goal").alias("goal"),
    ]


def home_attacks_right(declared: dict[int, bool], votes: dict[int, list[int]]) -> dict[int, bool | None]:
    """Per period: does the home team shoot at x = +89? `declared`: what `homeTeamDefendingSide` says;
    `votes`: [unblocked shots agreeing with "home attacks right", all of them] (see the module doc)."""
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


def _state(play: pp.Play, tl: Timeline) -> State | None:
    st = parse_code(play.code)
    if st is not None:
        return st
    if not tl.starts:
        return None
    return tl.states[tl.index_at(play.t, False)]


@dataclass(frozen=True, slots=True)
class OnIce:
    """Every (shot, skater on ice) pair of a game, in shot order, then by skater id within a shot: the shot's
    index in the game's shot list, the skater, and his side (0 away, 1 home)."""

    shot: np.ndarray  # int64
    player: np.ndarray  # int64
    side: np.ndarray  # int64


def skaters_on_ice(chart: ps.ShiftChart, times: list[int]) -> OnIce:
    """The skaters (goalies left out) on ice at each shot: one of their spans has start < t <= end.

    A span holds the shots whose seconds, sorted, lie in one run: two `searchsorted` lookups per span give
    it, so the work grows with spans plus (shot, skater) pairs, not with their product (a boolean matrix of
    ~120 shots x ~700 spans a game took a tenth of the parse). The pairs are then put in (shot, span) order.
    A player's spans are a union, so he appears at most once per shot, and spans sorted by player keep each
    shot's skaters sorted. Both the shot table's on-ice lists and silver's on-ice counts come from these
    pairs, so they cannot disagree.
    """
    spans = chart.spans.take(~chart.spans.goalie)
    t = np.asarray(times, dtype=np.int64)
    order = t.argsort(kind="stable")
    ts = t[order]
    first = ts.searchsorted(spans.start, side="right")  # the first shot after the span's start
    held = np.maximum(ts.searchsorted(spans.end, side="right") - first, 0)  # shots up to its end
    cols = np.arange(len(held)).repeat(held)
    within = np.arange(len(cols)) - (held.cumsum() - held).repeat(held)
    rows = order[first.repeat(held) + within]
    pairs = np.lexsort((cols, rows))
    rows, cols = rows[pairs], cols[pairs]
    return OnIce(rows, spans.player[cols], spans.side[cols])


def _on_ice(pairs: OnIce, sides: list[int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Skaters on ice at each shot, for and against the shooting side: flat ids, shot by shot and sorted
    within a shot, and the count per shot."""
    same = pairs.side == np.asarray(sides, dtype=np.int64)[pairs.shot]
    out = {}
    for name, keep in (("onIceForIds", same), ("onIceAgainstIds", ~same)):
        out[name] = (pairs.player[keep], np.bincount(pairs.shot[keep], minlength=len(sides)).astype(np.int64))
    return out


def _nearest_goalies(named: list, sides: list[int]) -> list[int | None]:
    """Goalie faced by each attempt: its own `goalieInNetId`, else the nearest earlier (then later) one."""
    out: list[int | None] = list(named)
    for defending in (pp.AWAY, pp.HOME):
        idx = [i for i, side in enumerate(sides) if side != defending]
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


def game_shots(game_id: int, game_date: date, header: pp.GameHeader, roster: dict[int, pp.Player],
               plays: list[pp.Play], tl: Timeline, chart: ps.ShiftChart | None) -> GameShots:
    """The shots of one game: one pass over the plays for what depends on their order (`_RAW`)."""
    out = GameShots()
    add = out.rows.append
    times: list[int] = []
    sides: list[int] = []
    periods: list[int] = []
    named: list = []
    declared: dict[int, bool] = {}  # period -> the home goalie guards x = -89 (`homeTeamDefendingSide`)
    votes: dict[int, list[int]] = {}  # period -> [unblocked shots agreeing with "home attacks right", all]
    prev: pp.Play | None = None  # previous on-ice event of the period
    last_shot: tuple[int, int] | None = None  # (second, side) of the previous attempt since a reset
    score = [0, 0]
    period = None
    need_side = False
    season, game_type, has_shifts, abbrevs = header.season, header.game_type, chart is not None, header.abbrevs
    for play in plays:
        if play.period_type == "SO":
            continue
        if play.period != period:
            period = play.period
            prev = last_shot = None
            need_side = period not in declared
        if need_side:
            said = play.defending_side
            if said == "left" or said == "right":
                declared[period] = said == "left"
                need_side = False
        kind = play.kind
        if kind in SHOT_KINDS:
            d = play.details
            shooter = d.get("scoringPlayerId") if kind == "goal" else d.get("shootingPlayerId")
            shooter = shooter if isinstance(shooter, int) else None
            player = roster.get(shooter) if shooter is not None else None
            # silver rejects a game whose shooter is not an int of its roster before reading its shots
            # (`game_stats._event_credits`), so this fallback never runs there: silver's on-ice counts need
            # the credits and this table to list the same shots (`game_stats._onice_credits` checks it)
            side = player.side if player is not None else header.side_of_team(d.get("eventOwnerTeamId"))
            if side is not None:
                xy = _coords(d)
                if kind in UNBLOCKED and xy is not None and xy[0] != 0:
                    v = votes.setdefault(period, [0, 0])
                    v[0] += (xy[0] > 0) == (side == pp.HOME)
                    v[1] += 1
                t = play.t
                if prev is not None:
                    prev_xy = _coords(prev.details)
                    owner = header.side_of_team(prev.details.get("eventOwnerTeamId"))
                    prev_team = abbrevs[owner] if owner is not None else None
                else:
                    prev_xy = prev_team = None
                add((game_id, game_date, season, play.event_id, game_type, play.sort_order, period,
                     play.period_type, t, kind, abbrevs[side], abbrevs[1 - side], side,
                     shooter, player.name if player else None,
                     player.position if player else None, d.get("shotType"), *(xy or (None, None)),
                     *(_state(play, tl) or _NO_STATE), score[side], score[1 - side],
                     prev.kind if prev is not None else None, prev_team,
                     max(t - prev.t, 0) if prev is not None else None,  # a play out of clock order: 0 s
                     *(prev_xy or (None, None)),
                     last_shot is not None and last_shot[1] == side and t - last_shot[0] <= REBOUND_SECONDS,
                     has_shifts))
                times.append(t)
                sides.append(side)
                periods.append(period)
                named.append(d.get("goalieInNetId"))
                last_shot = (t, side)
                if kind == "goal":
                    score[side] += 1
        if kind in _RESETS:
            last_shot = None
        if kind not in _NOT_EVENTS:
            prev = play
    if not times:
        return out
    out.times, out.sides = times, sides
    right = home_attacks_right(declared, votes)
    signs = out.after["sign"]
    for p, side in zip(periods, sides):
        attacks_right = right.get(p)
        signs.append(None if attacks_right is None else (1 if attacks_right == (side == pp.HOME) else -1))
    out.after["goalie"] = _nearest_goalies(named, sides)
    if chart is not None:
        out.pairs = skaters_on_ice(chart, times)
        out.on_ice = _on_ice(out.pairs, sides)
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
         pl.format("coordinates out of the rink ({}, {})", *(c(xy).cast(pl.String).fill_null("null")
                                                               for xy in ("xCord", "yCord")))),
        (c("shotType").is_not_null() & ~c("shotType").is_in(SHOT_TYPES),
         pl.lit("unknown shot type ") + c("shotType")),
        (c("situation").is_not_null() & ~c("situation").is_in(SITUATIONS),
         pl.lit("invalid situation ") + c("situation")),
    )
