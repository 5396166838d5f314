"""Simulation of one NHL game on a timeline of integer seconds.

The three payloads of a game (play-by-play, boxscore, shift chart) are all projections of the one
:class:`SimResult` produced here, which is what makes them reconcile exactly. The simulation is driven
by a fixed result (:class:`GameSpec`: final score, how the game ended, the game-winning-goal scorer) so
that standings and the schedule can be computed cheaply without simulating every game, while the full
simulation stays consistent with them.

Order of work (each step only depends on the previous ones):

1. penalty calls (nominal), 2. goal times (weighted towards power plays), 3. pulled goalies (from the
score), 4. actual penalty ends (a power-play goal ends a minor), 5. the manpower timeline
(``situationCode`` at every second), 6. stoppages/faceoffs, 7. line changes per team (forward lines and
defence pairs, PP/PK units, extra attacker, 3v3), with penalised players in the box and the
game-winning-goal scorer guaranteed on the ice, 8. every other event, with participants drawn from the
players on the ice at that second.

Conventions (the reconciliation tests use the same ones):

* Absolute time ``abs = period_start + seconds_in_period``; a shift covers ``(start, end]`` for events
  that close a stretch of play (shots, hits, goals, penalties, stoppages) and ``[start, end)`` for
  faceoffs and period starts, which begin one. No non-faceoff event happens at a second where either
  team changes players on the fly, so there is never an ambiguous instant.
* The ``situationCode`` of a faceoff/period-start is the state just after its second, every other
  event carries the state just before (a penalty carries the pre-penalty code, as the real feed does).
* Strength (even / power play / shorthanded) is decided by penalties only: a pulled goalie's extra
  attacker does not make a power play.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

__all__ = ["GameSpec", "SimResult", "Ev", "Period", "OnIce", "simulate_game", "AWAY", "HOME"]

AWAY, HOME = 0, 1

# --------------------------------------------------------------------------------------------
# Inputs and outputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GameSpec:
    """Everything the simulation needs about a game, decided before it is played."""

    game_id: int
    season: int
    game_type: int
    away_goals: int  # final score as displayed (shootout winner +1)
    home_goals: int
    last_period_type: str  # REG / OT / SO
    ot_periods: int  # number of overtime periods played (0 for REG)
    so_winner: int | None  # AWAY / HOME for shootouts
    team_ids: tuple[int, int]
    forwards: tuple[tuple[int, ...], tuple[int, ...]]  # 12 per team, lines (C, W, W) * 4
    defense: tuple[tuple[int, ...], tuple[int, ...]]  # 6 per team, pairs
    goalies: tuple[tuple[int, int], tuple[int, int]]  # (starter, backup)
    rating: dict[int, float]
    position: dict[int, str]
    gwg_scorer: int | None
    strength: tuple[float, float]
    giveaway_mean: float = 17.0
    ot_goal_sec: int = 150  # second of the last overtime period in which the OT winner is scored
    prior: dict[int, tuple[int, int]] = field(default_factory=dict)  # season goals/assists before the game


@dataclass(frozen=True)
class Period:
    number: int
    type: str  # REG / OT / SO
    start: int  # absolute second
    length: int  # seconds actually played (an OT period ends at the goal)
    nominal: int  # 1200 / 300 / 0: for timeRemaining


@dataclass(slots=True)
class Ev:
    """One play. ``details`` holds the event-specific fields in the real feed's key order."""

    t: int  # absolute second
    period: int
    tin: int  # seconds into the period
    phase: int  # order among plays of the same second
    kind: str
    team: int | None  # AWAY / HOME owner, None for stoppages and period markers
    details: dict | None
    code: str = ""
    event_id: int = 0
    sort_order: int = 0


@dataclass
class GoalRec:
    t: int
    team: int
    scorer: int = 0
    assists: tuple[int, ...] = ()
    strength: str = "EV"  # EV / PP / SH (by penalties, from the scoring team's point of view)
    empty_net: bool = False
    goalie: int | None = None
    gwg: bool = False
    event: Ev | None = None


@dataclass
class PenaltyRec:
    team: int
    t: int
    kind: str  # MIN, DBL, MAJ, FIGHT, COINC, BEN
    type_code: str
    desc: str
    duration: int  # minutes
    manpower: bool
    end: int
    committed: int | None = None
    served: int | None = None
    drawn: int | None = None
    has_drawn: bool = True
    partner: "PenaltyRec | None" = None


@dataclass
class SimResult:
    spec: GameSpec
    periods: list[Period]
    events: list[Ev]  # sorted by sortOrder
    shifts: list[tuple[int, int, int, int, int]]  # (player, team, period, start_in_period, end_in_period)
    goals: list[GoalRec]
    penalties: list[PenaltyRec]
    home_defending_first: str  # "left"/"right" in period 1
    goalie_intervals: list[tuple[int, int, int, int]]  # (goalie, team, abs start, abs end)
    onice: tuple["OnIce", "OnIce"]
    decision: dict[int, str]
    starters: tuple[int, int]
    end_abs: int
    st_times: list[int] = field(default_factory=list)
    st_vals: list[tuple] = field(default_factory=list)

    def state_left(self, t: int) -> tuple:
        """(awayGoalie, awaySkaters, homeSkaters, homeGoalie, awayBase, homeBase) just before second t."""
        i = bisect_left(self.st_times, t) - 1
        return self.st_vals[max(i, 0)]

    def side(self, period: int) -> str:
        """homeTeamDefendingSide in a period (alternates every period)."""
        if period % 2 == 1:
            return self.home_defending_first
        return "right" if self.home_defending_first == "left" else "left"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


class OnIce:
    """Who is on the ice for one team (skaters and goalie) at any second, from merged shifts."""

    __slots__ = ("times", "sets", "gtimes", "gsets")

    def __init__(self, skater_iv: list[tuple[int, int, int]], goalie_iv: list[tuple[int, int, int]]) -> None:
        self.times, self.sets = self._sweep(skater_iv)
        self.gtimes, self.gsets = self._sweep(goalie_iv)

    @staticmethod
    def _sweep(iv: list[tuple[int, int, int]]) -> tuple[list[int], list[tuple[int, ...]]]:
        add: dict[int, list[int]] = {}
        rem: dict[int, list[int]] = {}
        for s, e, p in iv:
            add.setdefault(s, []).append(p)
            rem.setdefault(e, []).append(p)
        cur: set[int] = set()
        times: list[int] = []
        sets: list[tuple[int, ...]] = []
        for t in sorted(set(add) | set(rem)):
            for p in rem.get(t, ()):
                cur.discard(p)
            for p in add.get(t, ()):
                cur.add(p)
            times.append(t)
            sets.append(tuple(sorted(cur)))
        return times, sets

    def left(self, t: int) -> tuple[int, ...]:
        """Skaters on the ice just before second ``t`` (shift covers ``(start, end]``)."""
        i = bisect_left(self.times, t) - 1
        return self.sets[i] if i >= 0 else ()

    def right(self, t: int) -> tuple[int, ...]:
        """Skaters on the ice just after second ``t`` (shift covers ``[start, end)``)."""
        i = bisect_right(self.times, t) - 1
        return self.sets[i] if i >= 0 else ()

    def goalie_left(self, t: int) -> int | None:
        i = bisect_left(self.gtimes, t) - 1
        s = self.gsets[i] if i >= 0 else ()
        return s[0] if s else None

    def goalie_right(self, t: int) -> int | None:
        i = bisect_right(self.gtimes, t) - 1
        s = self.gsets[i] if i >= 0 else ()
        return s[0] if s else None


def _wchoice(rng: random.Random, items: list, weights: list[float]):
    total = sum(weights)
    r = rng.random() * total
    acc = 0.0
    for it, w in zip(items, weights):
        acc += w
        if r < acc:
            return it
    return items[-1]


def _pick_kind(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    r = rng.random() * table[-1][1]
    for k, c in table:
        if r < c:
            return k
    return table[-1][0]


def _cum(table: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    acc = 0.0
    out = []
    for k, w in table:
        acc += w
        out.append((k, acc))
    return tuple(out)


SHOT_TYPES = _cum([("wrist", 54), ("snap", 16.5), ("slap", 13), ("tip-in", 7), ("backhand", 6.6), ("deflected", 1.5),
                   ("wrap-around", 0.6), ("poke", 0.4), ("bat", 0.3)])
GOAL_SHOT_TYPES = _cum([("wrist", 49), ("snap", 20), ("slap", 9), ("backhand", 8), ("tip-in", 8), ("deflected", 3.5),
                        ("poke", 1), ("bat", 0.8), ("wrap-around", 0.5)])
MISS_SHOT_TYPES = _cum([("wrist", 47), ("snap", 16), ("slap", 14), ("tip-in", 12), ("backhand", 7), ("deflected", 2),
                        ("bat", 1), ("wrap-around", 0.8)])
# Where unblocked attempts come from, by outcome. Counts of (distance band, shot type) of the goals, saved
# shots on goal and missed shots with the defending goalie in net (situationCode), periods other than the
# shootout, in the 166 recorded real games of NHL_SAMPLES_DIR: games/*_play_by_play.json (5, not the
# *_earlier_fetch), kraken_2024-25/play_by_play (80) and kraken_2025-26/play_by_play (81). Distance is
# from the attacked net (x = +-89, y = 0; which one from homeTeamDefendingSide and the shooter's team).
# 14,197 attempts: 923 goals, 8,174 saved, 5,100 missed (144 at an empty net and 1 missed shot without
# coordinates left out). A location and type is drawn for each attempt given its outcome, which by Bayes
# gives the real P(goal | band, type) while the goals themselves (times, scorers, score) are decided as
# before. The few far tip-ins and backhands are in the real counts (likely mislocated plays) and are kept.
# tests/test_simulator_shots.py recounts these tables from the recorded files.
SHOT_BANDS = ((0, 10), (10, 20), (20, 30), (30, 40), (40, 60), (60, None))  # feet; the last is open
LOC_TYPES = ("wrist", "snap", "slap", "backhand", "tip-in", "deflected", "wrap-around", "other")
LOC_GOAL = ((99, 28, 1, 43, 35, 25, 5, 15),
            (98, 69, 1, 25, 36, 8, 0, 5),
            (111, 61, 13, 1, 4, 1, 0, 0),
            (81, 20, 30, 0, 1, 2, 0, 1),
            (41, 14, 33, 0, 0, 0, 0, 0),
            (6, 1, 9, 0, 0, 0, 0, 0))
LOC_SAVED = ((333, 78, 2, 176, 234, 66, 52, 38),
             (462, 159, 12, 186, 219, 35, 1, 19),
             (713, 274, 44, 78, 69, 9, 0, 3),
             (941, 326, 169, 21, 12, 5, 0, 1),
             (1293, 385, 603, 25, 10, 5, 0, 1),
             (659, 128, 230, 42, 45, 5, 0, 6))
LOC_MISSED = ((161, 33, 1, 110, 160, 47, 39, 28),
              (293, 128, 5, 142, 296, 37, 1, 24),
              (349, 182, 58, 60, 137, 9, 0, 7),
              (543, 187, 120, 29, 30, 1, 0, 2),
              (725, 184, 360, 9, 5, 1, 0, 1),
              (312, 101, 178, 1, 4, 0, 0, 0))
# "other" shot types among all 14,342 unblocked attempts of the same games (4 had no shotType)
OTHER_SHOT_TYPES = _cum([("bat", 85), ("poke", 56), ("between-legs", 8), ("cradle", 1)])
# Widest angle off the net's axis, degrees, by band (between the 90th and 95th percentiles of the same
# attempts; the boards cap it further); wrap-arounds start from beside or behind the net.
BAND_MAX_ANGLE = (80, 75, 70, 65, 55)
WRAP_ANGLES = (45, 115)


def _loc_table(counts: tuple[tuple[int, ...], ...]) -> tuple[tuple[tuple[int, str], float], ...]:
    return _cum([((b, t), float(n)) for b, row in enumerate(counts) for t, n in zip(LOC_TYPES, row) if n])


# (the (band, type) table, the share of attempts from 60 ft or more taken at the points). Of those far
# attempts in the same games, 1,228 of 1,727 were inside the offensive zone (at the points: x mostly 28-38 ft
# from centre ice, wide of the net) and the rest from the neutral or defensive zone (mostly 75-170 ft out);
# that depends on the outcome: all 16 far goals, 659 of 1,115 far saved shots (the rest long shots from
# outside the zone that reach the goalie) and 553 of 596 far missed shots were at the points.
GOAL_LOC = (_loc_table(LOC_GOAL), 16 / 16)
SAVED_LOC = (_loc_table(LOC_SAVED), 659 / 1115)
MISSED_LOC = (_loc_table(LOC_MISSED), 553 / 596)


def shot_spot(rng: random.Random, loc: tuple) -> tuple[int, int, str]:
    """(x, y, shotType) of one unblocked attempt, x in the attacking direction (the net at x = 89): the
    (band, type) drawn from ``loc`` (GOAL_LOC, SAVED_LOC or MISSED_LOC), then the distance uniform within
    the band and the angle uniform up to the band's limit; from 60 ft out, either a spot at the points or a
    long shot from outside the zone. Always on the rink (|x| <= 99, |y| <= 42)."""
    table, at_points = loc
    band, stype = _pick_kind(rng, table)
    lo, hi = SHOT_BANDS[band]
    if hi is None:
        if rng.random() < at_points:
            x = rng.uniform(26, 40)
            dx = 89 - x
            y = rng.uniform(math.sqrt(max(0.0, 60 * 60 - dx * dx)), 42)
        else:
            r = rng.uniform(64, 180)
            a = math.radians(rng.uniform(0, min(15.0, math.degrees(math.asin(42 / r)))))
            x, y = 89 - r * math.cos(a), r * math.sin(a)
    else:
        r = rng.uniform(lo, hi)
        if stype == "wrap-around" and r < 10:
            a_lo, a_hi = WRAP_ANGLES
        else:
            a_lo, a_hi = 0, BAND_MAX_ANGLE[band]
            if r > 42:
                a_hi = min(a_hi, math.degrees(math.asin(42 / r)))
        a = math.radians(rng.uniform(a_lo, a_hi))
        x, y = 89 - r * math.cos(a), r * math.sin(a)
    if stype == "other":
        stype = _pick_kind(rng, OTHER_SHOT_TYPES)
    x = min(99, max(-99, int(round(x))))
    y = min(42, int(round(y))) * (1 if rng.random() < 0.5 else -1)
    return x, y, stype


MISS_REASONS = _cum([("wide-left", 39), ("wide-right", 36), ("above-crossbar", 6), ("high-and-wide-right", 4.5),
                     ("high-and-wide-left", 4), ("short", 3), ("hit-right-post", 3), ("hit-left-post", 2.5),
                     ("hit-crossbar", 2), ("failed-bank-attempt", 1.5)])
STOP_REASONS = _cum([("goalie-stopped-after-sog", 36), ("icing", 18), ("puck-in-netting", 13), ("offside", 10),
                     ("puck-frozen", 5), ("puck-in-crowd", 4.5), ("puck-in-benches", 3.5), ("tv-timeout", 2),
                     ("referee-or-linesman", 1.7), ("hand-pass", 1.6), ("high-stick", 1.4), ("visitor-timeout", 0.3),
                     ("home-timeout", 0.3), ("net-dislodged-offensive-skater", 0.2), ("video-review", 0.2)])
MINOR_DESCS = _cum([("tripping", 19), ("hooking", 15), ("slashing", 9.5), ("interference", 9), ("holding", 9),
                    ("high-sticking", 8), ("cross-checking", 6), ("roughing", 6), ("delaying-game-puck-over-glass", 3),
                    ("holding-the-stick", 2), ("unsportsmanlike-conduct", 1.5), ("interference-goalkeeper", 1.2),
                    ("boarding", 0.8), ("elbowing", 0.4), ("kneeing", 0.4), ("embellishment", 0.3),
                    ("closing-hand-on-puck", 0.3)])
NO_DRAWN = {"delaying-game-puck-over-glass", "closing-hand-on-puck", "embellishment"}
PEN_KINDS = _cum([("MIN", 78), ("DBL", 4), ("COINC", 6), ("FIGHT", 4), ("MAJ", 2), ("BEN", 4)])


_MMSS = [f"{s // 60:02d}:{s % 60:02d}" for s in range(0, 6000)]


def mmss(sec: int) -> str:
    """Seconds -> "MM:SS" (minutes may exceed 59, as in a goalie's 65:00 of ice time)."""
    if 0 <= sec < 6000:
        return _MMSS[sec]
    return f"{sec // 60:02d}:{sec % 60:02d}"


# --------------------------------------------------------------------------------------------
# The simulation
# --------------------------------------------------------------------------------------------


class _Game:
    """Mutable working state of one simulation (kept private; the result is a SimResult)."""

    def __init__(self, spec: GameSpec, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng
        self.playoffs = spec.game_type == 3
        # ---- periods
        lp = spec.last_period_type
        periods: list[tuple[int, str, int]] = [(1, "REG", 1200), (2, "REG", 1200), (3, "REG", 1200)]
        if lp in ("OT", "SO"):
            if self.playoffs:
                for k in range(spec.ot_periods):
                    periods.append((4 + k, "OT", 1200))
            else:
                periods.append((4, "OT", 300))
        if lp == "SO":
            periods.append((5, "SO", 0))
        self.period_defs = periods
        self.starts: list[int] = []
        acc = 0
        for _, _, ln in periods:
            self.starts.append(acc)
            acc += ln
        self.reg_ot_start = 3600 if (not self.playoffs and len(periods) > 3) else None
        self.play_end = acc  # may shrink when the OT winner is scored

    # -------------------------------------------------------------- utility lookups
    def period_of(self, t: int) -> int:
        """Index into period_defs of the (non-SO) period that contains second t (t in [start, end))."""
        for i in range(len(self.period_defs) - 1, -1, -1):
            if self.period_defs[i][1] != "SO" and t >= self.starts[i]:
                return i
        return 0

    def base_skaters(self, n_away: int, n_home: int, t: int) -> tuple[int, int]:
        if self.reg_ot_start is not None and t >= self.reg_ot_start:
            d = n_home - n_away
            if d > 0:
                return 3 + min(d, 2), 3
            if d < 0:
                return 3, 3 + min(-d, 2)
            return 3, 3
        return 5 - min(n_away, 2), 5 - min(n_home, 2)

    # -------------------------------------------------------------- step 1: penalties
    def gen_penalties(self) -> list[PenaltyRec]:
        """Penalty calls as a Poisson process (~7.5 per game, fewer in overtime), nominal durations.

        Coincidental minors only at full strength (-> 4v4), fights only in regulation, never a third
        simultaneous manpower penalty on one team (no stacked 5v2), so states stay within the NHL's.
        """
        rng = self.rng
        pens: list[PenaltyRec] = []
        rate = 7.5 / 3600
        for i, (num, ptype, ln) in enumerate(self.period_defs):
            if ptype == "SO":
                continue
            r = rate * (0.45 if ptype == "OT" and not self.playoffs else (0.8 if ptype == "OT" else 1.0))
            # Poisson via exponential gaps
            t = 0.0
            times = []
            while True:
                t += rng.expovariate(r)
                if t >= ln - 6:
                    break
                if t >= 15:
                    times.append(self.starts[i] + int(t))
            for at in times:
                if any(abs(at - p.t) < 8 for p in pens):
                    continue
                kind = _pick_kind(rng, PEN_KINDS)
                if ptype == "OT" and kind in ("COINC", "FIGHT", "MAJ"):
                    kind = "MIN"
                s_away, s_home = self.spec.strength
                team = HOME if rng.random() < s_away / (s_away + s_home) else AWAY  # better teams draw more
                active = [p for p in pens if p.manpower and p.t <= at < p.end]
                if kind == "COINC" and active:
                    kind = "MIN"
                if sum(1 for p in active if p.team == team) >= 2 and kind in ("MIN", "DBL", "MAJ", "BEN"):
                    team = 1 - team
                    if sum(1 for p in active if p.team == team) >= 2:
                        continue
                pens.extend(self._make_penalty(kind, team, at))
        return pens

    def _make_penalty(self, kind: str, team: int, at: int) -> list[PenaltyRec]:
        rng = self.rng
        if kind == "MIN":
            desc = _pick_kind(rng, MINOR_DESCS)
            return [PenaltyRec(team, at, "MIN", "MIN", desc, 2, True, at + 120, has_drawn=desc not in NO_DRAWN)]
        if kind == "DBL":
            return [PenaltyRec(team, at, "DBL", "MIN", "high-sticking-double-minor", 4, True, at + 240)]
        if kind == "MAJ":
            desc = rng.choice(("boarding", "cross-checking", "interference", "charging"))
            return [PenaltyRec(team, at, "MAJ", "MAJ", desc, 5, True, at + 300)]
        if kind == "BEN":
            return [PenaltyRec(team, at, "BEN", "BEN", "too-many-men-on-the-ice", 2, True, at + 120, has_drawn=False)]
        if kind == "COINC":
            a = PenaltyRec(AWAY, at, "COINC", "MIN", "roughing", 2, True, at + 120)
            b = PenaltyRec(HOME, at, "COINC", "MIN", "roughing", 2, True, at + 120)
            a.partner, b.partner = b, a
            return [a, b]
        a = PenaltyRec(AWAY, at, "FIGHT", "MAJ", "fighting", 5, False, at + 300)
        b = PenaltyRec(HOME, at, "FIGHT", "MAJ", "fighting", 5, False, at + 300)
        a.partner, b.partner = b, a
        return [a, b]

    # -------------------------------------------------------------- step 2: goals
    def gen_goals(self, pens: list[PenaltyRec]) -> list[GoalRec]:
        spec, rng = self.spec, self.rng
        lp = spec.last_period_type
        fa, fh = spec.away_goals, spec.home_goals
        if lp == "SO":
            tied = min(fa, fh)
            reg = (tied, tied)
        elif lp == "OT":
            tied = min(fa, fh)
            reg = (tied, tied)
        else:
            reg = (fa, fh)
        # scoring rate over regulation, piecewise constant between penalty starts/ends (power plays
        # score about three times as often as 5v5, shorthanded teams rarely)
        n_reg = 3600
        pts = {0, n_reg}
        for i in range(3):
            s0 = self.starts[i]
            pts.update((s0, s0 + 4, s0 + 1199, s0 + 1200))
        for p in pens:
            if p.manpower and p.t < n_reg:
                pts.update((p.t, min(n_reg, p.end)))
        cuts = sorted(x for x in pts if 0 <= x <= n_reg)
        mult = {0: 1.0, 1: 3.0, 2: 4.5, -1: 0.3, -2: 0.2}
        segs: list[tuple[int, int, float, float]] = []  # (start, end, away weight, home weight)
        for a, b in zip(cuts, cuts[1:]):
            if (a % 1200) < 4 or (a % 1200) == 1199:
                segs.append((a, b, 0.0, 0.0))
                continue
            na = sum(1 for p in pens if p.manpower and p.team == AWAY and p.t <= a < p.end)
            nh = sum(1 for p in pens if p.manpower and p.team == HOME and p.t <= a < p.end)
            d = min(na, 2) - min(nh, 2)  # > 0: home has more skaters
            segs.append((a, b, mult[-d], mult[d]))
        pen_times = {p.t for p in pens}
        goals: list[GoalRec] = []
        taken: list[int] = []

        def ok(t: int) -> bool:
            if any(abs(t - x) < 8 for x in taken):
                return False
            if any(abs(t - x) < 3 for x in pen_times):
                return False
            return True

        for team in (AWAY, HOME):
            starts_w: list[float] = []
            acc = 0.0
            for a, b, wa, wh in segs:
                starts_w.append(acc)
                acc += (b - a) * (wh if team == HOME else wa)
            for _ in range(reg[team]):
                t = 100
                for _attempt in range(200):
                    u = rng.random() * acc
                    k = bisect_right(starts_w, u) - 1
                    a, b, wa, wh = segs[k]
                    w = wh if team == HOME else wa
                    if w <= 0:
                        continue
                    t = min(b - 1, a + int((u - starts_w[k]) / w))
                    if ok(t):
                        break
                taken.append(t)
                goals.append(GoalRec(t, team))
        goals.sort(key=lambda g: g.t)
        # Late goals for the winner so empty-net goals happen about as often as in the NHL.
        if lp == "REG" and goals:
            win = HOME if fh > fa else AWAY
            m = abs(fh - fa)
            p_late = {2: 0.8, 3: 0.6}.get(m, 0.0)
            if p_late and rng.random() < p_late:
                mine = [g for g in goals if g.team == win]
                last = mine[-1]
                others = [g.t for g in goals if g is not last]
                for _ in range(30):
                    t = 3600 - int(rng.triangular(4, 100, 25))
                    if all(abs(t - x) >= 8 for x in others) and all(abs(t - x) >= 3 for x in pen_times) \
                            and (not others or t > max(others)):
                        last.t = t
                        break
                goals.sort(key=lambda g: g.t)
        # the overtime winner, at the second fixed by the outcome draw (it also fixes the game's end time)
        if lp == "OT":
            win = HOME if fh > fa else AWAY
            i = len(self.period_defs) - 1
            t = self.starts[i] + spec.ot_goal_sec
            goals.append(GoalRec(t, win))
            self.play_end = t
            self.period_defs[i] = (self.period_defs[i][0], "OT", spec.ot_goal_sec)
        return goals

    # -------------------------------------------------------------- step 3: pulled goalies
    def gen_pulls(self, goals: list[GoalRec]) -> list[tuple[int, int, int]]:
        """Trailing team (by 1-2) pulls its goalie late in the third; back in at every goal."""
        rng = self.rng
        pulls: list[tuple[int, int, int]] = []  # (team, start, end)
        end3 = 3600
        gts = [g.t for g in goals if g.t < end3]
        cursor = end3 - 260
        planned: dict[tuple[int, int], int] = {}
        while cursor < end3 - 5:
            a = sum(1 for g in goals if g.t <= cursor and g.team == AWAY and g.t < end3)
            h = sum(1 for g in goals if g.t <= cursor and g.team == HOME and g.t < end3)
            nxt = next((x for x in gts if x > cursor), None)
            if a == h or abs(a - h) > 2:
                if nxt is None:
                    break
                cursor = nxt
                continue
            trailing = AWAY if a < h else HOME
            d = abs(a - h)
            key = (trailing, d)
            if key not in planned:
                planned[key] = end3 - (rng.randint(50, 125) if d == 1 else rng.randint(95, 190))
            start = max(planned[key], cursor + rng.randint(5, 18))
            if start >= end3 - 4 or (nxt is not None and start >= nxt - 2):
                if nxt is None:
                    break
                cursor = nxt
                continue
            end = nxt if nxt is not None else end3
            pulls.append((trailing, start, end))
            if nxt is None:
                break
            cursor = nxt
        return pulls

    # -------------------------------------------------------------- step 4: actual penalty ends
    def resolve_penalties(self, pens: list[PenaltyRec], goals: list[GoalRec],
                          pulls: list[tuple[int, int, int]]) -> None:
        """A power-play goal ends the shorthanded team's earliest-ending minor (not a major)."""
        for g in goals:
            n = [0, 0]
            for p in pens:
                if p.manpower and p.t < g.t <= p.end:
                    n[p.team] += 1
            ba, bh = self.base_skaters(n[0], n[1], g.t - 1)
            mine, theirs = (bh, ba) if g.team == HOME else (ba, bh)
            g.strength = "EV" if mine == theirs else ("PP" if mine > theirs else "SH")
            if g.strength != "PP":
                continue
            opp = 1 - g.team
            cands = [p for p in pens if p.team == opp and p.manpower and p.t < g.t <= p.end
                     and p.kind in ("MIN", "DBL", "BEN")]
            if not cands:
                continue
            p = min(cands, key=lambda p: p.end)
            if p.kind == "DBL" and g.t < p.end - 120:
                p.end = g.t + 120
            else:
                p.end = g.t

    # -------------------------------------------------------------- step 5: state timeline
    def build_states(self, pens: list[PenaltyRec], pulls: list[tuple[int, int, int]]) -> None:
        pts = {0, self.play_end}
        for i, (_, ptype, ln) in enumerate(self.period_defs):
            if ptype != "SO":
                pts.add(self.starts[i])
        for p in pens:
            if p.manpower:
                pts.add(p.t)
                pts.add(p.end)
        for _, s, e in pulls:
            pts.add(s)
            pts.add(e)
        times = sorted(t for t in pts if t <= self.play_end)
        states = []
        for t in times:
            n = [0, 0]
            for p in pens:
                if p.manpower and p.t <= t < p.end:
                    n[p.team] += 1
            ba, bh = self.base_skaters(n[0], n[1], t)
            ga = gh = 1
            for team, s, e in pulls:
                if s <= t < e:
                    if team == AWAY:
                        ga = 0
                    else:
                        gh = 0
            states.append((ga, ba + (1 - ga), bh + (1 - gh), gh, ba, bh))
        self.st_times = times
        self.st_vals = states

    def state_right(self, t: int) -> tuple:
        i = bisect_right(self.st_times, t) - 1
        return self.st_vals[max(i, 0)]

    def state_left(self, t: int) -> tuple:
        i = bisect_left(self.st_times, t) - 1
        return self.st_vals[max(i, 0)]

    @staticmethod
    def code(st: tuple) -> str:
        return f"{st[0]}{st[1]}{st[2]}{st[3]}"

    # -------------------------------------------------------------- step 6: stoppages
    def gen_stoppages(self, keys: set[int]) -> list[int]:
        rng = self.rng
        played = sum(ln for _, pt, ln in self.period_defs if pt != "SO")
        n_total = max(10, int(rng.gauss(41, 5) * played / 3600))
        out: list[int] = []
        taken = set()
        for k in keys:
            for d in range(-3, 4):
                taken.add(k + d)
        for i, (_, ptype, ln) in enumerate(self.period_defs):
            if ptype == "SO" or ln < 12:
                continue
            s = self.starts[i]
            n = round(n_total * ln / played)
            for _ in range(n):
                for _a in range(20):
                    t = s + rng.randint(6, ln - 4)
                    if t not in taken:
                        out.append(t)
                        for d in range(-3, 4):
                            taken.add(t + d)
                        break
        out.sort()
        return out

    # -------------------------------------------------------------- step 7: shifts
    def team_ctx(self, team: int, st: tuple) -> tuple[int, str]:
        """(skaters on the ice, context) of ``team`` in state ``st``: EV, PP, PK or EA (extra attacker)."""
        ga, sa, sh, gh, ba, bh = st
        if team == AWAY:
            n, g, mine, opp = sa, ga, ba, bh
        else:
            n, g, mine, opp = sh, gh, bh, ba
        if not g:
            return n, "EA"
        return n, ("EV" if mine == opp else ("PP" if mine > opp else "PK"))

    def units_for(self, team: int, n: int, ctx: str) -> tuple[list[tuple[int, ...]], list[float]]:
        """Special-teams / 4v4 / 3v3 / extra-attacker units and their share of the ice time."""
        F = self.spec.forwards[team]
        D = self.spec.defense[team]
        if ctx == "PP" and n == 5:
            return [(F[0], F[1], F[2], F[3], D[0]), (F[4], F[5], F[6], D[1], D[2])], [0.62, 0.38]
        if ctx == "PP" and n == 4:
            return [(F[0], F[1], F[2], D[0]), (F[3], F[4], F[5], D[2])], [0.6, 0.4]
        if ctx == "PK" and n == 4:
            return [(F[3], F[7], D[0], D[1]), (F[6], F[4], D[2], D[3])], [0.55, 0.45]
        if ctx == "PK" and n == 3:
            return [(F[3], D[0], D[1]), (F[6], D[2], D[3])], [0.55, 0.45]
        if ctx == "EV" and n == 4:
            return [(F[0], F[1], D[0], D[1]), (F[3], F[4], D[2], D[3]), (F[6], F[2], D[4], D[5])], [0.4, 0.35, 0.25]
        if ctx == "EV" and n == 3:
            return [(F[0], F[1], D[0]), (F[3], F[4], D[2]), (F[2], F[6], D[1])], [0.4, 0.35, 0.25]
        if ctx == "EA" and n == 6:
            return [(F[0], F[1], F[2], F[3], D[0], D[1]), (F[3], F[4], F[5], F[0], D[2], D[0])], [0.75, 0.25]
        if ctx == "EA" and n == 5:
            return [(F[0], F[1], F[2], F[3], D[0])], [1.0]
        nf = max(1, min(len(F), round(n * 0.6)))
        return [tuple(F[:nf]) + tuple(D[: n - nf])], [1.0]

    def shift_len(self, kind: str, ctx: str, first: bool) -> int:
        g = self.rng.gauss
        if kind == "F":
            return int(min(85, max(22, g(50, 10))))
        if kind == "D":
            return int(min(95, max(25, g(56, 11))))
        if ctx == "PP":
            return int(min(115, max(25, g(68, 15) if first else g(50, 12))))
        if ctx == "PK":
            return int(min(75, max(20, g(44, 9))))
        if ctx == "EA":
            return int(max(40, g(90, 20)))
        return int(min(75, max(15, g(40, 9))))

    def team_segments(self, team: int, pen_times: set[int]) -> list[list]:
        """Stretches [t0, t1) in which the team's skater count and context are constant."""
        segs: list[list] = []
        for i, (_, ptype, ln) in enumerate(self.period_defs):
            if ptype == "SO" or ln <= 0:
                continue
            s, e = self.starts[i], self.starts[i] + ln
            cuts = sorted({s, e} | {t for t in self.st_times if s < t < e} | {t for t in pen_times if s < t < e})
            first = True
            for a, b in zip(cuts, cuts[1:]):
                n, ctx = self.team_ctx(team, self.state_right(a))
                if not first and segs[-1][2] == n and segs[-1][3] == ctx and a not in pen_times:
                    segs[-1][1] = b
                else:
                    segs.append([a, b, n, ctx])
                first = False
        return segs

    def build_team_shifts(self, team: int, pens: list[PenaltyRec], faceoffs: list[int],
                          forced: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
        """Line changes for one team: skater intervals (start, end, player).

        Forward lines and defence pairs rotate independently at 5v5 (each unit's turn comes when it is
        furthest behind its ice-time share); any other situation uses whole units (PP1/PP2, PK1/PK2,
        4v4, 3v3, six skaters). Changes happen at whistles when one is near, otherwise on the fly, and
        always when the team's manpower changes or it takes a penalty. Players in the box are replaced
        by the next best of the same position group; ``forced`` (player, second) pairs are honoured by
        putting the player into the unit that covers that second.
        """
        rng = self.rng
        spec = self.spec
        Dset = set(spec.defense[team])
        rating = spec.rating
        my_pens = sorted((p for p in pens if p.team == team), key=lambda p: p.t)
        pen_times = {p.t for p in my_pens}
        box: list[tuple[int, int, int]] = []  # (player, from (exclusive), to (inclusive))
        mine = set(spec.forwards[team]) | Dset
        forced_mine = [(p, tf) for p, tf in forced if p in mine]

        def unavailable(t0: int, t1: int) -> set[int]:
            return {p for p, bs, be in box if bs < t1 and be > t0}

        out: list[tuple[int, int, int]] = []
        last_units: dict[str, tuple[int, ...]] = {}
        usage: dict[tuple, list[float]] = {}
        stint: dict[int, list[int]] = {}  # player -> [start, end] of his current continuous stay on the ice
        for t0, t1, n, ctx in self.team_segments(team, pen_times):
            if t0 in pen_times:  # who goes to the box: a player on the ice (a bench player serves BEN)
                on_ice = [p for u in last_units.values() for p in u]
                for p in my_pens:
                    if p.t != t0:
                        continue
                    blocked = {fp for fp, tf in forced_mine if p.t < tf <= p.end} | unavailable(p.t, p.end)
                    if p.kind == "BEN":
                        bench = [x for x in spec.forwards[team] if x not in on_ice and x not in blocked]
                        srv = bench[-1] if rng.random() < 0.5 else rng.choice(bench)
                        p.served = srv
                        box.append((srv, p.t, p.end))
                    else:
                        cands = [x for x in on_ice if x not in blocked] or on_ice
                        pl = _wchoice(rng, cands, [1.25 if x in Dset else 1.0 for x in cands])
                        p.committed = pl
                        box.append((pl, p.t, p.end))
            last_units = {}
            groups = [("F", 3), ("D", 2)] if (n == 5 and ctx == "EV") else [("ALL", n)]
            for gkind, _size in groups:
                if gkind == "F":
                    units = [tuple(spec.forwards[team][i:i + 3]) for i in (0, 3, 6, 9)]
                    shares = [0.33, 0.29, 0.22, 0.16]
                    pool = spec.forwards[team]
                elif gkind == "D":
                    units = [tuple(spec.defense[team][i:i + 2]) for i in (0, 2, 4)]
                    shares = [0.38, 0.33, 0.29]
                    pool = spec.defense[team]
                else:
                    units, shares = self.units_for(team, n, ctx)
                    pool = spec.forwards[team] + spec.defense[team]
                ukey = (gkind, n, ctx)
                if ctx in ("PP", "PK") or ukey not in usage:
                    usage[ukey] = [0.0] * len(units)
                used = usage[ukey]
                t = t0
                cur_u = -1
                first = True
                while t < t1:
                    if len(units) == 1 or (first and ctx in ("PP", "PK")):
                        ui = 0
                    else:
                        tot = sum(used) + 45
                        ui, bv = 0, -1e9
                        for k in range(len(units)):
                            if k == cur_u:
                                continue
                            v = shares[k] * tot - used[k] + rng.random() * 8
                            if v > bv:
                                ui, bv = k, v
                    L = self.shift_len(gkind, ctx, first)
                    end = t + L
                    if rng.random() < 0.62:
                        j = bisect_left(faceoffs, t + int(0.65 * L))
                        if j < len(faceoffs) and t < faceoffs[j] <= t + int(1.35 * L):
                            end = faceoffs[j]
                    if end >= t1 - 9:
                        end = t1
                    unit = list(units[ui])
                    bad = unavailable(t, end)
                    forced_now = [fp for fp, tf in forced_mine if t < tf <= end]
                    # players who have already been out for a while at a change go off (no 3-minute shifts)
                    tired = {x for x, (a, b) in stint.items() if b == t and t - a >= 35 and x not in forced_now}
                    for k, p in enumerate(unit):
                        if p in bad or p in tired:
                            want_d = p in Dset
                            repl = [x for x in pool if x not in unit and x not in bad and x not in tired
                                    and (x in Dset) == want_d]
                            if not repl and p in bad:
                                repl = [x for x in pool if x not in unit and x not in bad and (x in Dset) == want_d]
                                repl = repl or [x for x in pool if x not in unit and x not in bad]
                            if not repl:
                                continue
                            repl.sort(key=lambda x: -rating[x])
                            unit[k] = repl[0] if (rng.random() < 0.6 or len(repl) == 1) else repl[1]
                    for fp in forced_now:
                        if fp in unit or fp in bad:
                            continue
                        want_d = fp in Dset
                        if gkind != "ALL" and (gkind == "D") != want_d:
                            continue
                        slots = [k for k, x in enumerate(unit) if (x in Dset) == want_d and x not in forced_now]
                        if not slots:
                            slots = [k for k, x in enumerate(unit) if x not in forced_now]
                        k = min(slots, key=lambda k: rating[unit[k]])
                        unit[k] = fp
                    tu = tuple(unit)
                    for p in tu:
                        out.append((t, end, p))
                        st_ = stint.get(p)
                        if st_ is not None and st_[1] == t:
                            st_[1] = end
                        else:
                            stint[p] = [t, end]
                    used[ui] += end - t
                    cur_u = ui
                    first = False
                    last_units[gkind] = tu
                    t = end
        self.box[team] = box
        return out

    def goalie_intervals(self, pulls: list[tuple[int, int, int]], swap: tuple[int, int] | None
                         ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """Goalie in-net intervals (start, end, goalie) per team: whole periods minus pulls, split at a swap."""
        res: tuple[list, list] = ([], [])
        for team in (AWAY, HOME):
            starter, backup = self.spec.goalies[team]
            for i, (_, ptype, ln) in enumerate(self.period_defs):
                if ptype == "SO" or ln <= 0:
                    continue
                s, e = self.starts[i], self.starts[i] + ln
                cuts = {s, e}
                for tm, a, b in pulls:
                    if tm == team:
                        cuts.update(x for x in (a, b) if s < x < e)
                if swap and swap[0] == team and s < swap[1] < e:
                    cuts.add(swap[1])
                cl = sorted(cuts)
                for a, b in zip(cl, cl[1:]):
                    if any(tm == team and pa <= a < pb for tm, pa, pb in pulls):
                        continue
                    g = backup if (swap and swap[0] == team and a >= swap[1]) else starter
                    if res[team] and res[team][-1][1] == a and res[team][-1][2] == g and a != s:
                        res[team][-1] = (res[team][-1][0], b, g)
                    else:
                        res[team].append((a, b, g))
        return res

    # -------------------------------------------------------------- step 8: events
    def attack_dir(self, team: int, period: int) -> int:
        """+1 if ``team`` attacks towards x > 0 in ``period``."""
        home_def_left = (self.side_first == "left") == (period % 2 == 1)
        home_dir = 1 if home_def_left else -1
        return home_dir if team == HOME else -home_dir

    @staticmethod
    def zone(x: int, direction: int) -> str:
        xv = x * direction
        if xv > 25:
            return "O"
        if xv < -25:
            return "D"
        return "N"

    def run(self) -> SimResult:
        spec, rng = self.spec, self.rng
        self.side_first = "left" if rng.random() < 0.5 else "right"
        self.box: dict[int, list] = {AWAY: [], HOME: []}
        lp = spec.last_period_type
        pens = self.gen_penalties()
        goals = self.gen_goals(pens)
        pens = [p for p in pens if p.t < self.play_end - 3]
        pulls = self.gen_pulls(goals)
        pens = [p for p in pens if not any(s - 10 <= p.t <= e + 2 for _, s, e in pulls)]
        ids = {id(p) for p in pens}
        pens = [p for p in pens if p.partner is None or id(p.partner) in ids]
        self.resolve_penalties(pens, goals, pulls)
        for p in pens:
            p.end = min(p.end, self.play_end)
        self.build_states(pens, pulls)
        for g in goals:
            g.empty_net = any(tm != g.team and a < g.t <= b for tm, a, b in pulls)
        # a starter who has let in four before the 50th minute is sometimes replaced (losing side only)
        swap = None
        if lp == "REG":
            loser = AWAY if spec.away_goals < spec.home_goals else HOME
            against = 0
            for g in goals:
                if g.team != loser:
                    against += 1
                    if against == 4 and g.t < 3000 and not g.empty_net and rng.random() < 0.45:
                        swap = (loser, g.t)
                        break
        # whistles
        pstarts = [self.starts[i] for i, (_, pt, ln) in enumerate(self.period_defs) if pt != "SO" and ln > 0]
        pends = [self.starts[i] + ln for i, (_, pt, ln) in enumerate(self.period_defs) if pt != "SO" and ln > 0]
        keys = {g.t for g in goals} | {p.t for p in pens} | {p.end for p in pens} | set(pstarts) | set(pends)
        for _, a, b in pulls:
            keys.update((a, b))
        stoppages = self.gen_stoppages(keys)
        ot_winner_t = self.play_end if lp == "OT" else None
        faceoffs = sorted(set(pstarts) | {g.t for g in goals if g.t != ot_winner_t} | {p.t for p in pens}
                          | set(stoppages))
        # the game-winning goal and who must score it
        fa, fh = spec.away_goals, spec.home_goals
        gwg: GoalRec | None = None
        if lp in ("REG", "OT"):
            win = HOME if fh > fa else AWAY
            lose_goals = min(fa, fh)
            mine = [g for g in goals if g.team == win]
            gwg = mine[lose_goals]
            gwg.gwg = True
        forced: list[tuple[int, int]] = []
        if gwg is not None and spec.gwg_scorer is not None:
            forced = [(spec.gwg_scorer, gwg.t)]
        sk_iv = [self.build_team_shifts(team, pens, faceoffs, forced if gwg and gwg.team == team else [])
                 for team in (AWAY, HOME)]
        g_iv = self.goalie_intervals(pulls, swap)
        sk_iv_m = [self._merge(sk_iv[0]), self._merge(sk_iv[1])]
        onice = (OnIce(sk_iv_m[0], g_iv[0]), OnIce(sk_iv_m[1], g_iv[1]))
        self.onice = onice
        events = self.gen_events(goals, pens, stoppages, pulls, gwg)
        # shift rows per period
        shifts: list[tuple[int, int, int, int, int]] = []
        for team in (AWAY, HOME):
            for s, e, p in sk_iv_m[team] + g_iv[team]:
                i = self.period_of(s)
                ps = self.starts[i]
                shifts.append((p, team, self.period_defs[i][0], s - ps, e - ps))
        # goalie decisions
        decision: dict[int, str] = {}
        if fa != fh:
            win = HOME if fh > fa else AWAY
            lose = 1 - win
            ref_t = gwg.t if gwg is not None else self.play_end
            toi = {}
            for s, e, g in g_iv[win]:
                toi[g] = toi.get(g, 0) + e - s
            decision[max(toi, key=toi.get)] = "W"
            gl = onice[lose].goalie_left(ref_t)
            if gl is None:
                toi = {}
                for s, e, g in g_iv[lose]:
                    toi[g] = toi.get(g, 0) + e - s
                gl = max(toi, key=toi.get)
            decision[gl] = "O" if (lp in ("OT", "SO") and not self.playoffs) else "L"
        periods = [Period(num, pt, self.starts[i], ln, 0 if pt == "SO" else (300 if (pt == "OT" and not self.playoffs) else 1200))
                   for i, (num, pt, ln) in enumerate(self.period_defs)]
        goalie_rows = [(g, team, s, e) for team in (AWAY, HOME) for s, e, g in g_iv[team]]
        return SimResult(spec, periods, events, shifts, goals, pens, self.side_first, goalie_rows, onice,
                         decision, (spec.goalies[0][0], spec.goalies[1][0]), self.play_end,
                         self.st_times, self.st_vals)

    @staticmethod
    def _merge(iv: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        """Join back-to-back intervals of the same player (he stayed on through a unit change)."""
        by_p: dict[int, list[tuple[int, int]]] = {}
        for s, e, p in iv:
            if e > s:
                by_p.setdefault(p, []).append((s, e))
        out = []
        for p, lst in by_p.items():
            lst.sort()
            cs, ce = lst[0]
            for s, e in lst[1:]:
                if s == ce and (s % 1200 != 0 or s == 0):
                    ce = e
                else:
                    out.append((cs, ce, p))
                    cs, ce = s, e
            out.append((cs, ce, p))
        return out

    def gen_events(self, goals: list[GoalRec], pens: list[PenaltyRec], stoppages: list[int],
                   pulls: list[tuple[int, int, int]], gwg: GoalRec | None) -> list[Ev]:
        spec, rng = self.spec, self.rng
        onice = self.onice
        tid = spec.team_ids
        rating, pos = spec.rating, spec.position
        E: list[Ev] = []
        seq = 0

        def add(t: int, phase: int, kind: str, team: int | None, details: dict | None, pidx: int | None = None) -> Ev:
            nonlocal seq
            i = self.period_of(t) if pidx is None else pidx
            ev = Ev(t, self.period_defs[i][0], t - self.starts[i], phase * 1000 + seq, kind, team, details)
            seq += 1
            E.append(ev)
            return ev

        # forbidden seconds for free-flowing events: any change, whistle or state change
        forbid: set[int] = set(stoppages) | {g.t for g in goals}
        for team in (AWAY, HOME):
            forbid.update(onice[team].times)
            forbid.update(onice[team].gtimes)
        forbid.update(self.st_times)
        for p in pens:
            forbid.add(p.t)
        play_periods = [(i, self.starts[i], ln) for i, (_, pt, ln) in enumerate(self.period_defs) if pt != "SO" and ln > 0]
        total_len = sum(ln for _, _, ln in play_periods)
        scale = total_len / 3600

        def free_time() -> tuple[int, int]:
            for _ in range(100):
                r = rng.random() * total_len
                for i, s, ln in play_periods:
                    if r < ln:
                        t = s + 1 + int(rng.random() * (ln - 1))
                        break
                    r -= ln
                if t not in forbid:
                    return t, i
            return t, i

        strength = spec.strength

        def shot_team(t: int) -> int:
            st = self.state_left(t)
            w = []
            for team in (AWAY, HOME):
                _, ctx = self.team_ctx(team, st)
                f = {"EV": 1.0, "PP": 2.8, "PK": 0.35, "EA": 2.4}[ctx]
                _, octx = self.team_ctx(1 - team, st)
                if octx == "EA":
                    f *= 0.8
                w.append(strength[team] * f)
            return AWAY if rng.random() * (w[0] + w[1]) < w[0] else HOME

        def shooter(team: int, t: int, exclude: int | None = None) -> int:
            sk = [p for p in onice[team].left(t) if p != exclude]
            return _wchoice(rng, sk, [(0.8 + 1.6 * rating[p]) if pos[p] != "D" else (0.45 + 0.5 * rating[p]) for p in sk])

        def coords_blocked(team: int, period: int, near: float, spread: float) -> tuple[int, int]:
            """Where a blocked shot was taken: in the offensive zone, in front of the goal line."""
            d = self.attack_dir(team, period)
            x = int(min(88, max(27, rng.gauss(near, spread))))
            y = int(min(40, max(-40, rng.gauss(0, 16))))
            return x * d, y

        def spot(team: int, period: int, table) -> tuple[int, int, str]:
            """Location and type of an unblocked attempt, drawn given its outcome (see GOAL_LOC)."""
            x, y, stype = shot_spot(rng, table)
            return x * self.attack_dir(team, period), y, stype

        def anywhere() -> tuple[int, int]:
            x = rng.randint(-99, 99)
            y = rng.choice((-1, 1)) * rng.randint(30, 42) if rng.random() < 0.6 else rng.randint(-42, 42)
            return x, y

        def sog_event(t: int, team: int, phase: int, pidx: int | None = None) -> Ev | None:
            opp = 1 - team
            g = onice[opp].goalie_left(t)
            per = self.period_defs[self.period_of(t) if pidx is None else pidx][0]
            x, y, stype = spot(team, per, SAVED_LOC if g is not None else MISSED_LOC)
            sh = shooter(team, t)
            if g is None:  # nobody in net: a shot on goal would be a goal; this one missed
                return add(t, phase, "missed-shot", team, {
                    "xCoord": x, "yCoord": y, "zoneCode": self.zone(x, self.attack_dir(team, per)),
                    "reason": _pick_kind(rng, MISS_REASONS), "shotType": stype,
                    "shootingPlayerId": sh, "eventOwnerTeamId": tid[team]}, pidx)
            return add(t, phase, "shot-on-goal", team, {
                "xCoord": x, "yCoord": y, "zoneCode": self.zone(x, self.attack_dir(team, per)),
                "shotType": stype, "shootingPlayerId": sh, "goalieInNetId": g,
                "eventOwnerTeamId": tid[team], "awaySOG": 0, "homeSOG": 0}, pidx)

        def missed_event(t: int, team: int, phase: int, pidx: int | None = None) -> Ev:
            per = self.period_defs[self.period_of(t) if pidx is None else pidx][0]
            x, y, stype = spot(team, per, MISSED_LOC)
            d = {"xCoord": x, "yCoord": y, "zoneCode": self.zone(x, self.attack_dir(team, per)),
                 "reason": _pick_kind(rng, MISS_REASONS), "shotType": stype,
                 "shootingPlayerId": shooter(team, t)}
            g = onice[1 - team].goalie_left(t)
            if g is not None:
                d["goalieInNetId"] = g
            d["eventOwnerTeamId"] = tid[team]
            return add(t, phase, "missed-shot", team, d, pidx)

        # ---- period markers
        for i, s, ln in play_periods:
            add(s, 0, "period-start", None, None, i)
            add(s + ln, 8, "period-end", None, None, i)

        # ---- goals
        score = [0, 0]
        for g in goals:
            i = self.period_of(g.t)
            per = self.period_defs[i][0]
            team = g.team
            on = onice[team].left(g.t)
            if g.gwg and spec.gwg_scorer is not None and spec.gwg_scorer in on:
                scorer = spec.gwg_scorer
            else:
                scorer = _wchoice(rng, list(on), [(0.7 + 2.2 * rating[p] ** 1.5) if pos[p] != "D" else
                                                  (0.3 + 0.6 * rating[p]) for p in on])
            mates = [p for p in on if p != scorer]
            r = rng.random()
            na = 0 if r < 0.08 else (1 if r < 0.35 else 2)
            na = min(na, len(mates))
            assists: list[int] = []
            for _ in range(na):
                a = _wchoice(rng, mates, [0.8 + 1.2 * rating[p] for p in mates])
                mates.remove(a)
                assists.append(a)
            g.scorer, g.assists = scorer, tuple(assists)
            g.goalie = onice[1 - team].goalie_left(g.t)
            score[team] += 1
            d = self.attack_dir(team, per)
            if g.empty_net:
                x = int(rng.uniform(-70, 85)) * d
                y = rng.randint(-38, 38)
                stype = _pick_kind(rng, GOAL_SHOT_TYPES)
            else:
                x, y, stype = spot(team, per, GOAL_LOC)
            det: dict = {"xCoord": x, "yCoord": y, "zoneCode": self.zone(x, d),
                         "shotType": stype, "scoringPlayerId": scorer,
                         "scoringPlayerTotal": 0}
            for k, a in enumerate(assists, 1):
                det[f"assist{k}PlayerId"] = a
                det[f"assist{k}PlayerTotal"] = 0
            det["eventOwnerTeamId"] = tid[team]
            if g.goalie is not None:
                det["goalieInNetId"] = g.goalie
            det["awayScore"] = score[AWAY]
            det["homeScore"] = score[HOME]
            g.event = add(g.t, 3, "goal", team, det, i)
        # season totals: prior (approximate) plus what happened earlier in this game
        tot_g: dict[int, int] = {}
        tot_a: dict[int, int] = {}
        prior = spec.prior
        for g in goals:
            tot_g[g.scorer] = tot_g.get(g.scorer, 0) + 1
            g.event.details["scoringPlayerTotal"] = prior.get(g.scorer, (0, 0))[0] + tot_g[g.scorer]
            for k, a in enumerate(g.assists, 1):
                tot_a[a] = tot_a.get(a, 0) + 1
                g.event.details[f"assist{k}PlayerTotal"] = prior.get(a, (0, 0))[1] + tot_a[a]

        # ---- penalties (+ delayed-penalty signals)
        by_time: dict[int, list[PenaltyRec]] = {}
        for p in pens:
            by_time.setdefault(p.t, []).append(p)
        for t, plist in sorted(by_time.items()):
            i = self.period_of(t)
            per = self.period_defs[i][0]
            for p in plist:
                team = p.team
                opp = 1 - team
                if p.partner is not None:
                    p.drawn = p.partner.committed
                elif p.has_drawn:
                    cands = list(onice[opp].left(t))
                    p.drawn = rng.choice(cands) if cands else None
                x, y = anywhere()
                det = {"xCoord": x, "yCoord": y, "zoneCode": self.zone(x, self.attack_dir(team, per)),
                       "typeCode": p.type_code, "descKey": p.desc, "duration": p.duration}
                if p.committed is not None:
                    det["committedByPlayerId"] = p.committed
                if p.drawn is not None:
                    det["drawnByPlayerId"] = p.drawn
                if p.served is not None:
                    det["servedByPlayerId"] = p.served
                det["eventOwnerTeamId"] = tid[team]
                add(t, 3, "penalty", team, det, i)
            p0 = plist[0]
            if p0.partner is None and rng.random() < 0.33:
                for _ in range(5):
                    td = t - rng.randint(2, 9)
                    if td > self.starts[i] + 1 and td not in forbid and self.period_of(td) == i:
                        add(td, 2, "delayed-penalty", p0.team, {"eventOwnerTeamId": tid[p0.team]}, i)
                        break

        # ---- stoppages and the shots/misses that cause them
        tv_marks = set()
        for i, s, ln in play_periods:
            if ln >= 1200 and self.period_defs[i][1] == "REG":
                for mark in (360, 600, 840):
                    nxt = next((x for x in stoppages if x >= s + mark), None)
                    if nxt is not None and nxt < s + ln:
                        tv_marks.add(nxt)
        fo_cause: dict[int, tuple] = {}
        for t in stoppages:
            i = self.period_of(t)
            reason = _pick_kind(rng, STOP_REASONS)
            att = shot_team(t)
            if reason == "goalie-stopped-after-sog":
                if onice[1 - att].goalie_left(t) is None:
                    reason = "icing"
                else:
                    ts = t - rng.choice((0, 0, 1, 2))
                    if ts != t and (ts in forbid or self.period_of(ts) != i):
                        ts = t
                    sog_event(ts, att, 1, i)
                    fo_cause[t] = ("end", 1 - att)
            if reason == "puck-in-netting":
                if rng.random() < 0.45:
                    ts = t - rng.choice((0, 1, 2))
                    if ts != t and (ts in forbid or self.period_of(ts) != i):
                        ts = t
                    missed_event(ts, att, 1, i)
                fo_cause[t] = ("end", 1 - att)
            elif reason == "icing":
                fo_cause[t] = ("end", 1 - att)
            elif reason == "offside":
                fo_cause[t] = ("neutral",)
            elif reason != "goalie-stopped-after-sog":
                fo_cause[t] = ("end", rng.choice((AWAY, HOME))) if rng.random() < 0.6 else ("neutral",)
            det = {"reason": reason}
            if t in tv_marks and reason != "tv-timeout":
                det["secondaryReason"] = "tv-timeout"
            add(t, 3, "stoppage", None, det, i)
        for t, plist in by_time.items():
            fo_cause[t] = ("end", plist[0].team)
        for g in goals:
            fo_cause[g.t] = ("center",)

        # ---- faceoffs
        for i, s, ln in play_periods:
            fo_cause[s] = ("center",)
        for t, cause in sorted(fo_cause.items()):
            if t == self.play_end and spec.last_period_type == "OT":
                continue
            if t >= self.play_end:
                continue
            i = self.period_of(t)
            per = self.period_defs[i][0]
            takers = []
            for team in (AWAY, HOME):
                on = onice[team].right(t)
                cs = [p for p in on if pos[p] == "C"] or [p for p in on if pos[p] != "D"] or list(on)
                takers.append(rng.choice(cs))
            win = AWAY if rng.random() < 0.5 + 0.08 * (strength[AWAY] - strength[HOME]) else HOME
            if cause[0] == "center":
                x, y = 0, 0
            elif cause[0] == "neutral":
                x, y = rng.choice((-20, 20)), rng.choice((-22, 22))
            else:
                x, y = -69 * self.attack_dir(cause[1], per), rng.choice((-22, 22))
            add(t, 5, "faceoff", win, {"eventOwnerTeamId": tid[win], "losingPlayerId": takers[1 - win],
                                       "winningPlayerId": takers[win], "xCoord": x, "yCoord": y,
                                       "zoneCode": self.zone(x, self.attack_dir(win, per))})

        # ---- free-flowing events
        def n_of(mean: float, sd: float) -> int:
            return max(0, int(round(rng.gauss(mean, sd) * scale)))

        for _ in range(n_of(37, 7)):
            t, i = free_time()
            sog_event(t, shot_team(t), 1, i)
        for _ in range(n_of(29, 6)):
            t, i = free_time()
            missed_event(t, shot_team(t), 1, i)
        for _ in range(n_of(33, 7)):
            t, i = free_time()
            team = shot_team(t)
            per = self.period_defs[i][0]
            sh = shooter(team, t)
            if rng.random() < 0.08:
                mates = [p for p in onice[team].left(t) if p != sh]
                blocker, reason = rng.choice(mates), "teammate-blocked"
                x, y = coords_blocked(team, per, 55, 15)
                zc = self.zone(x, self.attack_dir(team, per))
            else:
                opp = list(onice[1 - team].left(t))
                blocker = _wchoice(rng, opp, [1.6 if pos[p] == "D" else 0.7 for p in opp])
                reason = "blocked"
                x, y = coords_blocked(team, per, 68, 11)
                zc = self.zone(x, self.attack_dir(1 - team, per))  # the real feed codes the blocker's zone
            add(t, 1, "blocked-shot", team, {"xCoord": x, "yCoord": y, "zoneCode": zc, "blockingPlayerId": blocker,
                                             "shootingPlayerId": sh, "eventOwnerTeamId": tid[team], "reason": reason}, i)
        for _ in range(n_of(42, 9)):
            t, i = free_time()
            per = self.period_defs[i][0]
            team = AWAY if rng.random() < 0.5 else HOME
            hitters = list(onice[team].left(t))
            hitter = _wchoice(rng, hitters, [0.6 + ((p * 7919) % 13) / 10 for p in hitters])
            hittee = rng.choice(list(onice[1 - team].left(t)))
            x, y = anywhere()
            add(t, 1, "hit", team, {"xCoord": x, "yCoord": y, "zoneCode": self.zone(x, self.attack_dir(team, per)),
                                    "eventOwnerTeamId": tid[team], "hittingPlayerId": hitter,
                                    "hitteePlayerId": hittee}, i)
        for kind, mean, sd in (("giveaway", spec.giveaway_mean, spec.giveaway_mean * 0.28), ("takeaway", 9.5, 3.0)):
            for _ in range(n_of(mean, sd)):
                t, i = free_time()
                per = self.period_defs[i][0]
                team = AWAY if rng.random() < 0.5 else HOME
                on = list(onice[team].left(t))
                pl = _wchoice(rng, on, [1.1 if pos[p] == "D" else 1.0 for p in on] if kind == "giveaway"
                              else [0.8 if pos[p] == "D" else 1.1 for p in on])
                x, y = anywhere()
                zc = self.zone(x, self.attack_dir(team, per))
                if kind == "giveaway":
                    det = {"xCoord": x, "yCoord": y, "zoneCode": zc, "eventOwnerTeamId": tid[team], "playerId": pl}
                else:
                    det = {"xCoord": x, "yCoord": y, "zoneCode": zc, "playerId": pl, "eventOwnerTeamId": tid[team]}
                add(t, 1, kind, team, det, i)

        # ---- shootout
        last_i = len(self.period_defs) - 1
        if spec.last_period_type == "SO":
            so_i = last_i
            so_start = self.starts[so_i]
            add(so_start, 0, "period-start", None, None, so_i)
            goalie_end = [onice[AWAY].goalie_left(self.play_end) or spec.goalies[AWAY][0],
                          onice[HOME].goalie_left(self.play_end) or spec.goalies[HOME][0]]
            attempts = self._shootout(spec.so_winner)
            for k, (team, shooter_id, res) in enumerate(attempts):
                per = self.period_defs[so_i][0]
                d = self.attack_dir(team, per)
                x, y = rng.randint(62, 86) * d, rng.randint(-8, 8)
                g = goalie_end[1 - team]
                if res == "goal":
                    det = {"xCoord": x, "yCoord": y, "zoneCode": "O", "shotType": _pick_kind(rng, GOAL_SHOT_TYPES),
                           "scoringPlayerId": shooter_id, "scoringPlayerTotal": 1 + (shooter_id * 31) % 4,
                           "eventOwnerTeamId": tid[team], "goalieInNetId": g,
                           "awayScore": score[AWAY], "homeScore": score[HOME]}
                    kind = "goal"
                elif res == "shot-on-goal":
                    det = {"xCoord": x, "yCoord": y, "zoneCode": "O", "shotType": _pick_kind(rng, SHOT_TYPES),
                           "shootingPlayerId": shooter_id, "goalieInNetId": g, "eventOwnerTeamId": tid[team],
                           "awaySOG": 0, "homeSOG": 0}
                    kind = res
                elif res == "missed-shot":
                    det = {"xCoord": x, "yCoord": y, "zoneCode": "O", "reason": _pick_kind(rng, MISS_REASONS),
                           "shotType": _pick_kind(rng, MISS_SHOT_TYPES), "shootingPlayerId": shooter_id,
                           "goalieInNetId": g, "eventOwnerTeamId": tid[team]}
                    kind = res
                else:
                    det = {"xCoord": x, "yCoord": y, "zoneCode": "O", "shootingPlayerId": shooter_id,
                           "goalieInNetId": g, "eventOwnerTeamId": tid[team], "awaySOG": 0, "homeSOG": 0}
                    kind = "failed-shot-attempt"
                add(so_start, 1, kind, team, det, so_i)
            add(so_start, 7, "shootout-complete", None, None, so_i)
            add(so_start, 8, "period-end", None, None, so_i)
            add(so_start, 9, "game-end", None, None, so_i)
        else:
            add(self.play_end, 9, "game-end", None, None, last_i)

        # ---- order, codes, counters, ids
        E.sort(key=lambda e: (e.period, e.tin, e.phase))
        so_num = 5 if spec.last_period_type == "SO" else None
        sog = [0, 0]
        so = 8
        id_a = 0
        id_b = 50 + rng.randint(0, 40)
        for e in E:
            if so_num is not None and e.period == so_num:
                e.code = "1010" if (e.team is None or e.team == HOME) else "0101"
            elif e.kind in ("faceoff", "period-start"):
                e.code = self.code(self.state_right(e.t))
            else:
                e.code = self.code(self.state_left(e.t))
            if e.kind == "shot-on-goal" or e.kind == "failed-shot-attempt":
                if e.kind == "shot-on-goal":
                    sog[e.team] += 1
                e.details["awaySOG"] = sog[AWAY]
                e.details["homeSOG"] = sog[HOME]
            so += rng.choice((1, 1, 2, 3, 4))
            e.sort_order = so
            if e.kind in ("stoppage", "period-start", "period-end", "game-end", "shootout-complete", "delayed-penalty"):
                id_a += rng.choice((1, 1, 1, 2))
                e.event_id = id_a
            else:
                id_b += rng.choice((1, 1, 2, 3))
                e.event_id = id_b + 100
        return E

    def _shootout(self, winner: int | None) -> list[tuple[int, int, str]]:
        """Shootout attempts (team, shooter, result) ending with ``winner`` ahead (resampled until so)."""
        rng = self.rng
        spec = self.spec
        order = [AWAY, HOME] if rng.random() < 0.5 else [HOME, AWAY]
        shooters = [sorted(spec.forwards[t], key=lambda p: -spec.rating[p]) + list(spec.defense[t]) for t in (AWAY, HOME)]
        res_kinds = _cum([("goal", 33), ("shot-on-goal", 47), ("missed-shot", 17), ("failed-shot-attempt", 3)])
        for _attempt in range(200):
            seq: list[tuple[int, int, str]] = []
            goals = [0, 0]
            taken = [0, 0]
            done = False
            rnd = 0
            while not done:
                for team in order:
                    r = _pick_kind(rng, res_kinds)
                    shooter = shooters[team][taken[team] % len(shooters[team])]
                    taken[team] += 1
                    seq.append((team, shooter, r))
                    if r == "goal":
                        goals[team] += 1
                    if rnd < 3:
                        left = [3 - taken[0], 3 - taken[1]]
                        if goals[0] > goals[1] + left[1] or goals[1] > goals[0] + left[0]:
                            done = True
                            break
                rnd += 1
                if not done and rnd >= 3 and taken[0] == taken[1] and goals[0] != goals[1]:
                    done = True
                if rnd > 20:
                    break
            if done and (winner is None or (goals[winner] > goals[1 - winner])):
                return seq
        seq.append((winner if winner is not None else HOME, shooters[winner or 0][0], "goal"))
        return seq


def simulate_game(spec: GameSpec, rng: random.Random) -> SimResult:
    """Play one game; deterministic for a given spec and rng state."""
    return _Game(spec, rng).run()
