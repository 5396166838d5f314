"""Play-by-play + shift chart -> silver player, team and goalie game stats for many games at once (pure).

Shape of the work, and why: a backfill parses thousands of games, so the per-game part is one pass of
tight Python over the orjson-parsed plays that emits *credits* — single integers that pack (game, player
or team, situation, stat) — and every aggregation is a handful of passes over the whole batch (numpy sums
of the credits, polars joins to the players and teams).
There is never a polars pipeline per game. What grows with shifts (ice time, shift counts, on-ice shots:
~800 shifts x ~120 shots a game) is done on the shift chart's numpy columns instead, with prefix sums and
`searchsorted` (see `_seconds_by_situation`, `shots.skaters_on_ice`), and lands as (key, value) arrays.

Conventions (MoneyPuck column names; `situation` from the player's / team's own point of view):

* plays are taken in `sortOrder`; shootout plays (`periodType` SO) never count; empty-net goals count;
* an event's situation is its own `situationCode` (a penalty carries the code from before the call, as
  the NHL writes it); a play whose code is missing gets the state of the timeline at its second;
* `I_F_shotsOnGoal` includes goals; attempts = on goal + missed + blocked; unblocked = on goal + missed;
  a penalty shot is an ordinary shot/goal in `other`; a `failed-shot-attempt` is no shot at all;
* blocked shots are owned by the shooting team: the shooter gets `I_F_blockedShotAttempts`, the blocker
  `shotsBlockedByPlayer` when `reason` is `blocked` (not `teammate-blocked`), or, where `reason` is
  missing, when he plays for the other team — as the boxscore counts;
* penalty minutes go to `committedByPlayerId` only, as in the boxscore: misconducts count for the player,
  while a penalty nobody committed (a bench minor, `typeCode` BEN, which names only the player who
  serves it in `servedByPlayerId`) counts for the team's penalties and minutes and for no player;
* ice time, `shifts` and `OnIce_*` need the shift chart: on ice for a shot means shift start < t <= end;
  a shift counts in the situation in force at its first second; without a shift chart these columns are
  null (never 0) and `hasShiftData` is false, while the event stats are still published;
* team `iceTime` is the game-clock time of each state of the play-by-play timeline (see `situations`): it
  is known without a shift chart (with one, goalie pulls are exact to the second).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from nhl_assets.catalog import silver as silver_tables
from nhl_assets.parse import plays as pp
from nhl_assets.parse import shifts as ps
from nhl_assets.parse import shots as psh
from nhl_assets.parse.alloc import gc_paused
from nhl_assets.parse.errors import ParseError
from nhl_assets.parse.isolate import failing_alone
from nhl_assets.parse.situations import (
    FLIP,
    SITUATIONS as _SIT_PARTS,
    SOTHER,
    Timeline,
    build_timeline,
    parse_code,
    situation_pair,
)

SITUATIONS = ("all", "5on5", "5on4", "4on5", "other")
_SIT_NAMES = list(_SIT_PARTS) + ["all"]  # internal index -> name (4 = all)

# ----------------------------------------------------------------------------------------------------
# output schemas: the registry's silver tables (column order is the contract)
# ----------------------------------------------------------------------------------------------------

PLAYER_SCHEMA = silver_tables.PLAYER_GAME_STATS.polars_schema
TEAM_SCHEMA = silver_tables.TEAM_GAME_STATS.polars_schema
GOALIE_SCHEMA = silver_tables.GOALIE_GAME_STATS.polars_schema
_ONICE = tuple(c for c in PLAYER_SCHEMA if c.startswith("OnIce_"))

# ----------------------------------------------------------------------------------------------------
# inputs / outputs
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GameInputs:
    """The raw payloads of one final game, as parsed JSON (None when not fetched or not valid JSON)."""

    game_id: int
    game_date: date
    play_by_play: dict | pp.RegularPlayByPlay | None
    shift_chart: dict | ps.RegularChart | None  # None or no typeCode-517 rows = no shift data
    boxscore: dict | None = None  # optional, not needed for stats (reconciliation uses it)


@dataclass(frozen=True)
class SilverFrames:
    """The three silver frames of a batch, plus the games (or payloads) that could not be parsed."""

    players: pl.DataFrame
    teams: pl.DataFrame
    goalies: pl.DataFrame
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (gameId, endpoint, reason)
    shots: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=psh.SCHEMA))


# ----------------------------------------------------------------------------------------------------
# credit encoding: one int per (game, player|team, situation, stat)
# ----------------------------------------------------------------------------------------------------
# player credit = gi << 40 | playerId << 8 | situation << 5 | stat
(ST_SOG, ST_MISSED, ST_BLOCKED, ST_GOALS, ST_A1, ST_A2, ST_HITS, ST_TAKE, ST_GIVE, ST_PENS, ST_PENS_DRAWN,
 ST_BLOCKS, ST_FO_WON, ST_FO_LOST) = range(14)
ST_ON_F, ST_ON_A = 14, 18  # + 0 sog, 1 missed, 2 blocked, 3 goals
ST_SHIFTS, ST_G_SA, ST_G_GA = 22, 23, 24
ST_PIM, ST_PIM_DRAWN, ST_ICE = 25, 26, 27  # weighted (value = minutes / seconds)
_G_SHIFT, _P_SHIFT = 40, 8
#: Player ids the encoding holds: 1 .. 2**32 - 1 (NHL ids have 7 digits). A larger or negative id would
#: spill into the game's bits or the sign and credit another key without any error, so it rejects its game.
_PLAYER_ID_LIMIT = 1 << (_G_SHIFT - _P_SHIFT)
# team credit = gi << 9 | side << 8 | situation << 5 | stat
(TS_SOG, TS_MISSED, TS_BLOCKED, TS_GOALS, TS_HITS, TS_PENS, TS_FO, TS_GIVE, TS_TAKE) = range(9)
TS_PIM, TS_ICE = 9, 10  # weighted

_PLAYER_STAT_COLUMNS = {
    ST_SOG: "I_F_shotsOnGoal", ST_MISSED: "I_F_missedShots", ST_BLOCKED: "I_F_blockedShotAttempts",
    ST_GOALS: "I_F_goals", ST_A1: "I_F_primaryAssists", ST_A2: "I_F_secondaryAssists", ST_HITS: "I_F_hits",
    ST_TAKE: "I_F_takeaways", ST_GIVE: "I_F_giveaways", ST_PENS: "penalties", ST_PENS_DRAWN: "penaltiesDrawn",
    ST_BLOCKS: "shotsBlockedByPlayer", ST_FO_WON: "faceoffsWon", ST_FO_LOST: "faceoffsLost",
    ST_ON_F: "OnIce_F_shotsOnGoal", ST_ON_F + 1: "OnIce_F_missedShots", ST_ON_F + 2: "OnIce_F_blockedShotAttempts",
    ST_ON_F + 3: "OnIce_F_goals", ST_ON_A: "OnIce_A_shotsOnGoal", ST_ON_A + 1: "OnIce_A_missedShots",
    ST_ON_A + 2: "OnIce_A_blockedShotAttempts", ST_ON_A + 3: "OnIce_A_goals", ST_SHIFTS: "shifts",
    ST_G_SA: "shotsAgainst", ST_G_GA: "goalsAgainst", ST_PIM: "penalityMinutes",
    ST_PIM_DRAWN: "penalityMinutesDrawn", ST_ICE: "icetime",
}
_TEAM_STAT_COLUMNS = {
    TS_SOG: "shotsOnGoal", TS_MISSED: "missedShots", TS_BLOCKED: "blockedShotAttempts", TS_GOALS: "goals",
    TS_HITS: "hits", TS_PENS: "penalties", TS_FO: "faceOffsWon", TS_GIVE: "giveaways", TS_TAKE: "takeaways",
    TS_PIM: "penalityMinutes", TS_ICE: "iceTime",
}
_SHIFT_COLUMNS = ("icetime", "shifts") + _ONICE  # null without a shift chart

# shot kinds as the on-ice stat offset of ST_ON_F / ST_ON_A (a goal is also a shot on goal: offsets 0 and 3)
_SHOT_KINDS = {"shot-on-goal": 0, "missed-shot": 1, "blocked-shot": 2, "goal": 3}
_GOAL = 3
# credit codes (situation << 5 | stat) of the array columns of ice time per situation
_ICE_CODES = np.arange(4) << 5 | ST_ICE


@dataclass
class _Batch:
    """Column lists of the whole batch, filled game by game (only once a game parsed completely)."""

    wkeys: list[int] = field(default_factory=list)  # player credits (key, value)
    wvals: list[int] = field(default_factory=list)
    twkeys: list[int] = field(default_factory=list)
    twvals: list[int] = field(default_factory=list)
    chunks: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # player credits as arrays
    games: dict[str, list] = field(default_factory=lambda: {k: [] for k in (
        "gi", "gameId", "gameDate", "season", "hasShiftData", "awayTeam", "homeTeam")})
    players: dict[str, list] = field(default_factory=lambda: {k: [] for k in (
        "gi", "playerId", "name", "position", "side", "isGoalie")})
    shots: psh.ShotBatch = field(default_factory=psh.ShotBatch)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------------
# per game: plays -> credits
# ----------------------------------------------------------------------------------------------------


class _Credits:
    """Credits of one game (kept apart until the game has parsed completely)."""

    __slots__ = ("gbase", "tbase", "pkeys", "wkeys", "wvals", "tkeys", "twkeys", "twvals", "onice", "chunks")

    def __init__(self, gi: int) -> None:
        self.gbase = gi << _G_SHIFT
        self.tbase = gi << 9
        self.pkeys: list[int] = []
        self.wkeys: list[int] = []
        self.wvals: list[int] = []
        self.tkeys: list[int] = []
        self.twkeys: list[int] = []
        self.twvals: list[int] = []
        self.onice: list[tuple[int, int, int, int, int]] = []  # (t, shooter side, away sit, home sit, kind)
        self.chunks: list[tuple[np.ndarray, np.ndarray]] = []  # weighted player credits (keys, values) as arrays


def _need(d: dict, key: str, play: pp.Play, game_id: int) -> int:
    v = d.get(key)
    if not isinstance(v, int):
        raise ParseError(f"play sortOrder {play.sort_order} ({play.kind}) has no details.{key}", game_id=game_id,
                         endpoint=pp.ENDPOINT)
    return v


def _side(side_of: dict[int, int], pid: int, play: pp.Play, game_id: int) -> int:
    s = side_of.get(pid)
    if s is None:
        raise ParseError(f"player {pid} of play sortOrder {play.sort_order} ({play.kind}) is not in rosterSpots",
                         game_id=game_id, endpoint=pp.ENDPOINT)
    return s


def _play_pair(play: pp.Play, tl: Timeline) -> tuple[int, int]:
    """(away, home) situation of a play: its own code, else the timeline at its second."""
    st = parse_code(play.code)
    if st is not None:
        return situation_pair(st)
    return tl.pair_at(play.t, play.kind in ("faceoff", "period-start"))


def _event_credits(plays: list[pp.Play], header: pp.GameHeader, side_of: dict[int, int], tl: Timeline,
                   cr: _Credits) -> None:
    """Individual, goalie and team credits of every counted play, and the shots for on-ice credits."""
    gid = header.game_id
    gb, tb = cr.gbase, cr.tbase
    pk, tk = cr.pkeys.append, cr.tkeys.append

    def credit(pid: int, pair: tuple[int, int], stat: int, play: pp.Play) -> int:
        s = _side(side_of, pid, play, gid)
        pk(gb | (pid << _P_SHIFT) | (pair[s] << 5) | stat)
        return s

    def team(side: int, pair: tuple[int, int], stat: int) -> None:
        tk(tb | (side << 8) | (pair[side] << 5) | stat)

    for play in plays:
        if play.period_type == "SO":
            continue
        kind = play.kind
        d = play.details
        if kind in _SHOT_KINDS:
            pair = _play_pair(play, tl)
            if kind == "goal":
                pid = _need(d, "scoringPlayerId", play, gid)
                side = credit(pid, pair, ST_GOALS, play)
                credit(pid, pair, ST_SOG, play)
                for key, stat in (("assist1PlayerId", ST_A1), ("assist2PlayerId", ST_A2)):
                    a = d.get(key)
                    if a is not None:
                        credit(a, pair, stat, play)
                team(side, pair, TS_GOALS)
                team(side, pair, TS_SOG)
                g = d.get("goalieInNetId")
                if g is not None:
                    credit(g, pair, ST_G_SA, play)
                    credit(g, pair, ST_G_GA, play)
            elif kind == "shot-on-goal":
                side = credit(_need(d, "shootingPlayerId", play, gid), pair, ST_SOG, play)
                team(side, pair, TS_SOG)
                g = d.get("goalieInNetId")
                if g is not None:
                    credit(g, pair, ST_G_SA, play)
            elif kind == "missed-shot":
                side = credit(_need(d, "shootingPlayerId", play, gid), pair, ST_MISSED, play)
                team(side, pair, TS_MISSED)
            else:  # blocked-shot: owned by the shooting team
                side = credit(_need(d, "shootingPlayerId", play, gid), pair, ST_BLOCKED, play)
                team(side, pair, TS_BLOCKED)
                blocker = d.get("blockingPlayerId")
                if blocker is not None:
                    reason = d.get("reason")
                    bside = _side(side_of, blocker, play, gid)
                    if reason == "blocked" or (reason is None and bside != side):
                        pk(gb | (blocker << _P_SHIFT) | (pair[bside] << 5) | ST_BLOCKS)
            cr.onice.append((play.t, side, pair[0], pair[1], _SHOT_KINDS[kind]))
        elif kind == "hit":
            pair = _play_pair(play, tl)
            team(credit(_need(d, "hittingPlayerId", play, gid), pair, ST_HITS, play), pair, TS_HITS)
        elif kind == "giveaway" or kind == "takeaway":
            pair = _play_pair(play, tl)
            stats = (ST_GIVE, TS_GIVE) if kind == "giveaway" else (ST_TAKE, TS_TAKE)
            team(credit(_need(d, "playerId", play, gid), pair, stats[0], play), pair, stats[1])
        elif kind == "faceoff":
            pair = _play_pair(play, tl)
            team(credit(_need(d, "winningPlayerId", play, gid), pair, ST_FO_WON, play), pair, TS_FO)
            credit(_need(d, "losingPlayerId", play, gid), pair, ST_FO_LOST, play)
        elif kind == "penalty":
            _penalty_credits(play, header, side_of, tl, cr)


def _penalty_credits(play: pp.Play, header: pp.GameHeader, side_of: dict[int, int], tl: Timeline,
                     cr: _Credits) -> None:
    """Penalties and minutes for the committing player and his team; penalties drawn for the drawer.

    Only `committedByPlayerId` is charged, because the NHL boxscore charges only the offender: the player in
    `servedByPlayerId` merely sits in the box (for a goalie, or for his bench), so a penalty nobody
    committed (a bench minor) is the team's alone — its penalty and minutes count for the team, never in a
    player's `penalityMinutes`, which would then disagree with the official record. A named drawer is
    credited whatever the penalty (`penaltiesDrawn` is not in the boxscore; no recorded bench minor names one).
    """
    d = play.details
    gid = header.game_id
    pair = _play_pair(play, tl)
    minutes = d.get("duration")
    minutes = minutes if isinstance(minutes, int) else 0
    who = d.get("committedByPlayerId")
    if who is not None:
        side = _side(side_of, who, play, gid)
        key = cr.gbase | (who << _P_SHIFT) | (pair[side] << 5)
        cr.pkeys.append(key | ST_PENS)
        cr.wkeys.append(key | ST_PIM)
        cr.wvals.append(minutes)
    else:
        side = _team_penalty_side(play, header, side_of)
    drawn = d.get("drawnByPlayerId")
    if drawn is not None:
        dside = _side(side_of, drawn, play, gid)
        key = cr.gbase | (drawn << _P_SHIFT) | (pair[dside] << 5)
        cr.pkeys.append(key | ST_PENS_DRAWN)
        cr.wkeys.append(key | ST_PIM_DRAWN)
        cr.wvals.append(minutes)
    tkey = cr.tbase | (side << 8) | (pair[side] << 5)
    cr.tkeys.append(tkey | TS_PENS)
    cr.twkeys.append(tkey | TS_PIM)
    cr.twvals.append(minutes)


def _team_penalty_side(play: pp.Play, header: pp.GameHeader, side_of: dict[int, int]) -> int:
    """Side of a penalty nobody committed: the team that owns the play, else the team of whoever serves it.

    The serving player only tells which bench was penalised (he gets no credit); a penalty that names
    neither a team nor a server cannot be charged to anyone, so the game is rejected rather than guessed.
    """
    d = play.details
    side = header.side_of_team(d.get("eventOwnerTeamId"))
    if side is not None:
        return side
    served = d.get("servedByPlayerId")
    if served is None:
        raise ParseError(f"play sortOrder {play.sort_order} (penalty) names no committing player, team or "
                         "serving player", game_id=header.game_id, endpoint=pp.ENDPOINT)
    return _side(side_of, served, play, header.game_id)


def _shift_credits(chart: ps.ShiftChart, tl: Timeline, cr: _Credits) -> None:
    """Ice time and shifts per situation for every player with shifts (a shift counts where it starts)."""
    starts = np.array(tl.starts, dtype=np.int64)
    ends = np.array(tl.ends, dtype=np.int64)
    pairs = np.array(tl.pairs, dtype=np.int64).reshape(-1, 2)
    if len(starts) and not (starts[1:] < ends[:-1]).any():
        _add_per_player(cr, chart.spans.player, _seconds_by_situation(chart.spans, starts, ends, pairs),
                        _ICE_CODES)
    else:  # periods that overlap (a clock past 20:00): span by span, as `Timeline.split` counts them
        _ice_by_split(chart, tl, cr)
    sh = chart.shifts
    at = starts.searchsorted(sh.start, side="right") - 1
    sit = pairs[np.maximum(at, 0), sh.side]
    keys, counts = np.unique(cr.gbase | (sh.player << _P_SHIFT) | (sit << 5) | ST_SHIFTS, return_counts=True)
    cr.chunks.append((keys, counts))


def _seconds_by_situation(spans: ps.Spans, starts: np.ndarray, ends: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Seconds of each span in each situation (from its player's side), shape (spans, 4).

    The timeline's intervals are sorted and disjoint, so the seconds of situation k before second x,
    G_k(x), are a prefix sum over whole intervals plus the part of the interval holding x; a span [s, e)
    then has G(e) - G(s). Seconds no interval covers go to `other`, as `Timeline.split` does.
    """
    lengths = ends - starts
    cum = np.zeros((2, len(starts) + 1, 4), dtype=np.int64)
    for side in (0, 1):
        np.add.at(cum[side, 1:], (np.arange(len(starts)), pairs[:, side]), lengths)
    cum = cum.cumsum(axis=1)
    row = np.arange(len(spans.player))

    def before(x: np.ndarray) -> np.ndarray:
        i = np.maximum(starts.searchsorted(x, side="right") - 1, 0)
        g = cum[spans.side, i]
        g[row, pairs[i, spans.side]] += (np.minimum(x, ends[i]) - starts[i]).clip(0, None)
        return g

    secs = before(spans.end) - before(spans.start)
    secs[:, SOTHER] += (spans.end - spans.start) - secs.sum(axis=1)
    return secs


def _ice_by_split(chart: ps.ShiftChart, tl: Timeline, cr: _Credits) -> None:
    """Ice time with `Timeline.split`, span by span: for a timeline whose periods overlap (bad clocks),
    where `split` counts only the intervals from the one holding the span's start on, and prefix sums
    would count all of them."""
    spans = chart.spans
    secs = np.zeros((len(spans.player), 4), dtype=np.int64)
    for k, (s, e, side) in enumerate(zip(spans.start.tolist(), spans.end.tolist(), spans.side.tolist())):
        out = [0, 0, 0, 0]
        tl.split([(s, e)], side, out)
        secs[k] = out
    _add_per_player(cr, spans.player, secs, _ICE_CODES)


def _add_per_player(cr: _Credits, player: np.ndarray, values: np.ndarray, codes: np.ndarray) -> None:
    """Weighted credits from per-row values (rows sorted by player, column j credited as `codes[j]`:
    situation << 5 | stat), summed per player, zeros dropped."""
    if not len(player):
        return
    first = np.concatenate(([True], player[1:] != player[:-1])).nonzero()[0]
    per_player = np.add.reduceat(values, first, axis=0)
    p, c = per_player.nonzero()
    cr.chunks.append((cr.gbase | (player[first][p] << _P_SHIFT) | codes[c], per_player[p, c]))


def _onice_credits(shots: psh.GameShots, cr: _Credits, game_id: int) -> None:
    """On-ice for/against shots of every skater, from the shot table's (shot, skater on ice) pairs: a shot
    at second t counts for a skater one of whose spans has start < t <= end (`shots.skaters_on_ice`), in
    the situation of the shot from the skater's side; a goal counts as a shot on goal and as a goal.

    `cr.onice` lists the game's shots in the order of its shot table: both take every shot play but the
    shootout's, in `sortOrder`, and a game whose shooter is not dressed has been rejected before. Should
    the two ever disagree on a shot's second or shooting side, that is a defect of the parser, not of the
    payload: it raises (as programming errors do, `ParseError` being for payloads) rather than credit a
    skater with another shot.
    """
    credited = np.array(cr.onice, dtype=np.int64).reshape(-1, 5)  # (t, shooter side, away sit, home sit, kind)
    if len(credited) != len(shots.times) or (credited[:, 0] != shots.times).any() or \
            (credited[:, 1] != shots.sides).any():
        raise RuntimeError(f"game {game_id}: the on-ice credits and the shot table disagree on its shots")
    pairs = shots.pairs
    if pairs is None:
        return
    per_pair = credited[pairs.shot]
    sit = per_pair[np.arange(len(per_pair)), 2 + pairs.side]
    stat = np.where(per_pair[:, 1] == pairs.side, ST_ON_F, ST_ON_A)
    kind = per_pair[:, 4]
    keys = cr.gbase | (pairs.player << _P_SHIFT) | (sit << 5)
    goals = kind == _GOAL
    keys = np.concatenate([keys | (stat + np.where(goals, 0, kind)), keys[goals] | (stat[goals] + _GOAL)])
    cr.chunks.append(np.unique(keys, return_counts=True))


def _team_time(tl: Timeline, cr: _Credits) -> None:
    """Game-clock seconds of each situation for both teams."""
    for side, secs in enumerate(tl.seconds()):
        for sit in range(4):
            if secs[sit]:
                cr.twkeys.append(cr.tbase | (side << 8) | (sit << 5) | TS_ICE)
                cr.twvals.append(secs[sit])


def _parse_game(g: GameInputs, gi: int, batch: _Batch) -> None:
    """One game's rows into the batch; raises ParseError (nothing added) for a malformed play-by-play."""
    if g.play_by_play is None:
        raise ParseError("play-by-play missing", game_id=g.game_id, endpoint=pp.ENDPOINT)
    payload = pp.as_payload(g.play_by_play)
    header = pp.parse_header(payload, g.game_id)
    roster = pp.parse_roster(payload, header)
    unfit = next((pid for pid in roster if not 0 < pid < _PLAYER_ID_LIMIT), None)
    if unfit is not None:
        raise ParseError(f"rosterSpots playerId {unfit} is outside 1..{_PLAYER_ID_LIMIT - 1}, the player ids "
                         "silver encodes", game_id=g.game_id, endpoint=pp.ENDPOINT)
    plays = pp.ordered_plays(payload, header)
    try:
        chart = ps.parse_shift_chart(g.shift_chart, roster, g.game_id)
    except ParseError as exc:  # the game keeps its event stats, flagged as without shift data
        batch.rejected.append((g.game_id, ps.ENDPOINT, exc.reason))
        chart = None
    side_of = {pid: p.side for pid, p in roster.items()}
    tl = build_timeline(plays, header, side_of, chart)
    cr = _Credits(gi)
    _event_credits(plays, header, side_of, tl, cr)
    _team_time(tl, cr)
    shots = psh.game_shots(g.game_id, g.game_date, header, roster, plays, tl, chart)
    if chart is not None:
        _shift_credits(chart, tl, cr)
        _onice_credits(shots, cr, g.game_id)
    # the game parsed completely: publish it
    batch.shots.add(shots)
    for keys, wkeys, wvals in ((cr.pkeys, batch.wkeys, batch.wvals), (cr.tkeys, batch.twkeys, batch.twvals)):
        counted = Counter(keys)  # C-level counting: ~3x fewer keys for the batch's sums
        wkeys += counted.keys()
        wvals += counted.values()
    batch.wkeys += cr.wkeys
    batch.wvals += cr.wvals
    batch.chunks += cr.chunks
    batch.twkeys += cr.twkeys
    batch.twvals += cr.twvals
    gm = batch.games
    for k, v in (("gi", gi), ("gameId", g.game_id), ("gameDate", g.game_date), ("season", header.season),
                 ("hasShiftData", chart is not None), ("awayTeam", header.abbrevs[0]),
                 ("homeTeam", header.abbrevs[1])):
        gm[k].append(v)
    pl_ = batch.players
    for pid, p in roster.items():
        pl_["gi"].append(gi)
        pl_["playerId"].append(pid)
        pl_["name"].append(p.name)
        pl_["position"].append(p.position)
        pl_["side"].append(p.side)
        pl_["isGoalie"].append(p.is_goalie)


# ----------------------------------------------------------------------------------------------------
# batch: credits -> frames (a few passes over every game at once)
# ----------------------------------------------------------------------------------------------------


def _wide(wkeys: list[int], wvals: list[int], columns: dict[int, str],
          chunks: Sequence[tuple[np.ndarray, np.ndarray]] = ()) -> pl.DataFrame:
    """One row per row key `rk` (= credit key // 32: entity and situation) and one column per stat.

    Credits are summed over the whole batch at once; the `all` situation (4) is then the sum of the four
    others, computed here so that it can never disagree with them. Rows are sorted by `rk`, the `all` rows
    after the others (callers join them to their entities). Summed with numpy over the sorted keys, not by
    a polars pivot: the pivot names its columns by the stat numbers as strings, which were then renamed,
    filled and cast, 0.2 ms of a game's 3.2 ms parse.
    """
    keys = np.concatenate([np.array(wkeys, dtype=np.int64), *(k for k, _ in chunks)])
    vals = np.concatenate([np.array(wvals, dtype=np.int64), *(v for _, v in chunks)])
    schema = {"rk": pl.Int64, **{name: pl.Int64 for name in columns.values()}}
    if not len(keys):
        return pl.DataFrame(schema=schema)
    order = keys.argsort()
    keys = keys[order]
    first_of_key = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    totals = np.add.reduceat(vals[order], first_of_key)
    keys = keys[first_of_key]  # distinct, sorted: each is one cell of the table
    rk = keys >> 5
    new_row = np.concatenate(([True], rk[1:] != rk[:-1]))
    column_of = np.full(32, len(columns), dtype=np.int64)  # a stat without a column: a spare one, dropped
    column_of[list(columns)] = np.arange(len(columns))
    sums = np.zeros((len(columns) + 1, int(new_row.sum())), dtype=np.int64)  # a row per stat: contiguous columns
    sums[column_of[keys & 31], new_row.cumsum() - 1] = totals
    rks = rk[new_row]
    entity = rks >> 3  # rk = entity << 3 | situation
    first = np.flatnonzero(np.concatenate(([True], entity[1:] != entity[:-1])))
    out = np.concatenate([sums, np.add.reduceat(sums, first, axis=1)], axis=1)
    out_rk = np.concatenate([rks, (entity[first] << 3) | 4])
    return pl.DataFrame({"rk": out_rk, **dict(zip(columns.values(), out))}, schema=schema)


def _skeleton(entities: pl.DataFrame) -> pl.DataFrame:
    """Every entity (`base` = rk // 8) in all five situations, sorted by entity and `all` first."""
    return (entities.sort("base").with_columns(sit=pl.lit([4, 0, 1, 2, 3], dtype=pl.List(pl.Int64))).explode("sit")
            .with_columns(rk=pl.col("base") * 8 + pl.col("sit")))


def _sit_name() -> pl.Expr:
    return pl.col("sit").replace_strict(list(range(5)), _SIT_NAMES, return_dtype=pl.String).alias("situation")


def _sides() -> list[pl.Expr]:
    """team / opposingTeam / home_or_away from the entity's side (0 away, 1 home)."""
    home = pl.col("side") == 1
    return [pl.when(home).then(pl.col("homeTeam")).otherwise(pl.col("awayTeam")).alias("team"),
            pl.when(home).then(pl.col("awayTeam")).otherwise(pl.col("homeTeam")).alias("opposingTeam"),
            pl.when(home).then(pl.lit("HOME")).otherwise(pl.lit("AWAY")).alias("home_or_away")]


def _player_frames(batch: _Batch, games: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(skaters, goalies) with every dressed player in all five situations."""
    wide = _wide(batch.wkeys, batch.wvals, _PLAYER_STAT_COLUMNS, batch.chunks)
    meta = pl.DataFrame(batch.players, schema={"gi": pl.Int64, "playerId": pl.Int64, "name": pl.String,
                                               "position": pl.String, "side": pl.Int64, "isGoalie": pl.Boolean})
    meta = meta.join(games, on="gi", how="left").with_columns(
        *_sides(), base=pl.col("gi") * (1 << 32) + pl.col("playerId"))
    full = _skeleton(meta).join(wide, on="rk", how="left", maintain_order="left")
    full = full.with_columns(pl.col(list(_PLAYER_STAT_COLUMNS.values())).fill_null(0))
    return _skaters(full.filter(~pl.col("isGoalie"))), _goalies(full.filter(pl.col("isGoalie")))


def _shift_only(col: str) -> pl.Expr:
    return pl.when(pl.col("hasShiftData")).then(pl.col(col)).otherwise(None).alias(col)


def _skaters(full: pl.DataFrame) -> pl.DataFrame:
    c = pl.col
    derived = [
        (c("I_F_shotsOnGoal") + c("I_F_missedShots") + c("I_F_blockedShotAttempts")).alias("I_F_shotAttempts"),
        (c("I_F_shotsOnGoal") + c("I_F_missedShots")).alias("I_F_unblockedShotAttempts"),
        (c("I_F_goals") + c("I_F_primaryAssists") + c("I_F_secondaryAssists")).alias("I_F_points"),
    ]
    for fa in ("F", "A"):
        sog, missed, blocked = c(f"OnIce_{fa}_shotsOnGoal"), c(f"OnIce_{fa}_missedShots"), \
            c(f"OnIce_{fa}_blockedShotAttempts")
        derived += [(sog + missed + blocked).alias(f"OnIce_{fa}_shotAttempts"),
                    (sog + missed).alias(f"OnIce_{fa}_unblockedShotAttempts")]
    out = full.with_columns(derived).with_columns(
        _sit_name(), c("team").alias("playerTeam"), *[_shift_only(x) for x in _SHIFT_COLUMNS])
    return out.select([c(k).cast(t) for k, t in PLAYER_SCHEMA.items()])


def _goalies(full: pl.DataFrame) -> pl.DataFrame:
    c = pl.col
    out = full.with_columns(_sit_name(), (c("shotsAgainst") - c("goalsAgainst")).alias("saves"),
                            _shift_only("icetime"))
    return out.select([c(k).cast(t) for k, t in GOALIE_SCHEMA.items()])


def _team_frame(batch: _Batch, games: pl.DataFrame) -> pl.DataFrame:
    """Both teams of every game in all five situations, For from their own credits, Against from the
    opponent's (the opponent's 5on4 is this team's 4on5)."""
    wide = _wide(batch.twkeys, batch.twvals, _TEAM_STAT_COLUMNS)
    stats = [n for n in _TEAM_STAT_COLUMNS.values() if n != "iceTime"]
    fors = wide.rename({n: f"{n}For" for n in stats})
    base, sit = pl.col("rk") // 8, pl.col("rk") % 8
    opponent = base + 1 - 2 * (base % 2)  # the side bit flipped
    flipped = sit.replace_strict(list(range(5)), list(FLIP) + [4], return_dtype=pl.Int64)
    against = wide.select((opponent * 8 + flipped).alias("rk"), *[pl.col(n).alias(f"{n}Against") for n in stats])
    sides = pl.DataFrame({"side": [0, 1]}, schema={"side": pl.Int64})
    teams = games.join(sides, how="cross").with_columns(*_sides(), base=pl.col("gi") * 2 + pl.col("side"))
    full = (_skeleton(teams).join(fors, on="rk", how="left", maintain_order="left")
            .join(against, on="rk", how="left", maintain_order="left"))
    count_cols = [f"{n}{x}" for x in ("For", "Against") for n in stats] + ["iceTime"]
    c = pl.col
    full = full.with_columns(c(count_cols).fill_null(0)).with_columns(
        _sit_name(),
        (c("shotsOnGoalFor") + c("missedShotsFor") + c("blockedShotAttemptsFor")).alias("shotAttemptsFor"),
        (c("shotsOnGoalAgainst") + c("missedShotsAgainst") + c("blockedShotAttemptsAgainst"))
        .alias("shotAttemptsAgainst"))
    return full.select([c(k).cast(t) for k, t in TEAM_SCHEMA.items()])


def _empty() -> SilverFrames:
    return SilverFrames(pl.DataFrame(schema=PLAYER_SCHEMA), pl.DataFrame(schema=TEAM_SCHEMA),
                        pl.DataFrame(schema=GOALIE_SCHEMA), [])


#: What numpy (OverflowError) and polars (TypeError) raise for a value beyond 64 bits in a batch's frames.
_UNFIT_ERRORS = (OverflowError, TypeError)


def build_silver(games: Sequence[GameInputs]) -> SilverFrames:
    """Silver frames for many games at once; a malformed game goes to `rejected`, the others are kept.

    A play-by-play that cannot be parsed rejects its game (endpoint `play_by_play`); a shift chart that
    cannot be trusted is rejected on its own (endpoint `shift_chart`) and the game is published without
    shift data. A game listed twice in the batch is kept once. A game holding a number its columns cannot
    take (an integer beyond 64 bits, which JSON allows) is rejected too (`_without_unfit_games`).
    """
    try:
        return _build(games)
    except _UNFIT_ERRORS as exc:
        return _without_unfit_games(games, exc)


def _build(games: Sequence[GameInputs]) -> SilverFrames:
    batch = _Batch()
    seen: set[int] = set()
    with gc_paused():
        for gi, g in enumerate(games):
            if g.game_id in seen:
                batch.rejected.append((g.game_id, pp.ENDPOINT, "game listed twice in the batch; first kept"))
                continue
            seen.add(g.game_id)
            try:
                _parse_game(g, gi, batch)
            except ParseError as exc:
                batch.rejected.append((g.game_id, exc.endpoint or pp.ENDPOINT, exc.reason))
        shots = batch.shots.frame()  # transposes a tuple per shot: within the pause too
    if not batch.games["gi"]:
        out = _empty()
        return SilverFrames(out.players, out.teams, out.goalies, batch.rejected)
    frame = pl.DataFrame(batch.games, schema={"gi": pl.Int64, "gameId": pl.Int64, "gameDate": pl.Date,
                                              "season": pl.Int32, "hasShiftData": pl.Boolean,
                                              "awayTeam": pl.String, "homeTeam": pl.String})
    skaters, goalies = _player_frames(batch, frame)
    return SilverFrames(skaters, _team_frame(batch, frame), goalies, batch.rejected, shots)


def _without_unfit_games(games: Sequence[GameInputs], exc: OverflowError | TypeError) -> SilverFrames:
    """The batch without the games that fail on their own with `exc`'s kind of error, each rejected naming it.

    Why: a value read from a payload reaches numpy and polars as a Python int, and one beyond 64 bits
    (a shot's goalie id, a coordinate, a sort order) fails the whole batch there, numpy with OverflowError
    and polars with TypeError ("unexpected value while building Series"), after every game parsed. Each
    game is built alone (`isolate.failing_alone`), those that fail are rejected, and the rest are built
    again as one batch, so their rows are what they would have been.
    """
    unfit = failing_alone(games, _build, _UNFIT_ERRORS, exc)
    out = _build([g for i, g in enumerate(games) if i not in unfit])
    rejected = [(games[i].game_id, pp.ENDPOINT, f"a number silver's columns cannot hold: {why}")
                for i, why in unfit.items()]
    return SilverFrames(out.players, out.teams, out.goalies, out.rejected + rejected, out.shots)
