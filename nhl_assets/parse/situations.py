"""Game states: `situationCode` semantics and the timeline of states over the game clock (pure).

`situationCode` is four digits: away goalie in net (1/0), away skaters, home skaters, home goalie in net.
A play's code is the state around that play, but the play-by-play never says *when* a state began: a
penalty expires, a goalie is pulled, with no play at that second. The timeline is therefore built from
two sources:

* **what** the state is: the codes of the plays, in `sortOrder`;
* **when** it changed: between the last play showing the old value and the first showing the new one,
  the change is put at the second a known cause happened —
  - goalie in/out: the team's goalie shift ends/starts (exact, when the shift chart exists);
  - skater counts: penalty calls, their expiry (call + 2/4/5 min, the half of a double minor), goals
    (a power-play goal ends a minor; goal + 2 min for a double minor cut in half) — the team's own
    penalties first, then the opponent's (in 3-on-3 overtime a penalty *adds* a skater to the other side),
    earliest first, one step per skater;
  - no known cause in the window (no shift chart, or an unusual sequence such as a penalty that waited
    for another to expire): the midpoint of the window, the estimate with the smallest worst-case error.

The four components (each goalie, each side's skaters *without* an extra attacker) are placed
independently, so a window in which, say, a power play ended *and* a goalie was pulled gets both
seconds right. Codes that describe a single instant rather than a state — penalty shots and shootout
attempts (`1010`/`0101`), the `game-end` marker (the NHL writes `0440` there) — never move the timeline.

A play *without* `situationCode` (schema drift) is not an observation; its own situation is read from the
timeline at its second (the state just before it, or just after for faceoffs and period starts).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from nhl_assets.parse.plays import AWAY, HOME, PERIOD_SECONDS, GameHeader, Play
from nhl_assets.parse.shifts import ShiftChart

SITUATIONS = ("5on5", "5on4", "4on5", "other")  # indices of the per-situation columns; "all" = their sum
S5ON5, S5ON4, S4ON5, SOTHER = 0, 1, 2, 3
ALL = 4
FLIP = (S5ON5, S4ON5, S5ON4, SOTHER)  # the same state seen by the other team

State = tuple[int, int, int, int]  # (away goalie in net, away skaters, home skaters, home goalie in net)
NOT_STATES = frozenset({"game-end", "shootout-complete"})  # markers whose code is not a state
AFTER_KINDS = frozenset({"faceoff", "period-start"})  # plays whose code is the state *after* their second
MANPOWER_MINUTES = frozenset({2, 4, 5})  # penalties that change skater counts (misconducts do not)

#: The most skaters a side can have on the ice: five, and a sixth for a pulled goalie.
MAX_SKATERS = 6

_CODE_CACHE: dict[str, State | None] = {}
_PAIR_CACHE: dict[State, tuple[int, int]] = {}


def parse_code(code: str | None) -> State | None:
    """'1451' -> (1, 4, 5, 1); None for a missing or malformed code.

    Malformed: not four ASCII digits, a goalie digit other than 0 or 1, or more than `MAX_SKATERS`
    skaters a side (as "9999" would say). Such a code is no state, like a missing one (see the module doc):
    read as it is written, it would put nine skaters in the shot table and no goalie in either net."""
    if code is None:
        return None
    st = _CODE_CACHE.get(code)
    if st is None and code not in _CODE_CACHE:
        st = _code_state(code)
        _CODE_CACHE[code] = st
    return st


def _code_state(code: str) -> State | None:
    if len(code) != 4 or not code.isascii() or not code.isdigit():
        return None
    ga, sa, sh, gh = int(code[0]), int(code[1]), int(code[2]), int(code[3])
    if ga > 1 or gh > 1 or sa > MAX_SKATERS or sh > MAX_SKATERS:
        return None
    return ga, sa, sh, gh


def situation(state: State, side: int) -> int:
    """Situation index of `state` from `side`'s point of view: an empty net on either side is `other`."""
    ga, sa, sh, gh = state
    if ga != 1 or gh != 1:
        return SOTHER
    mine, theirs = (sa, sh) if side == AWAY else (sh, sa)
    if mine == 5:
        return S5ON5 if theirs == 5 else (S5ON4 if theirs == 4 else SOTHER)
    return S4ON5 if (mine == 4 and theirs == 5) else SOTHER


def situation_pair(state: State) -> tuple[int, int]:
    """(away, home) situation indices of a state (cached: a game has a handful of states)."""
    pair = _PAIR_CACHE.get(state)
    if pair is None:
        pair = _PAIR_CACHE[state] = (situation(state, AWAY), situation(state, HOME))
    return pair


def is_timeline_state(state: State) -> bool:
    """A code that describes a stretch of play (3-6 skaters a side), not a penalty shot or shootout attempt."""
    return 3 <= state[1] <= MAX_SKATERS and 3 <= state[2] <= MAX_SKATERS


@dataclass(frozen=True, slots=True)
class Timeline:
    """Contiguous state intervals [starts[i], ends[i]) per period, in absolute seconds."""

    starts: list[int]
    ends: list[int]
    states: list[State]
    pairs: list[tuple[int, int]]  # situation of each interval for (away, home)

    def index_at(self, t: int, after: bool) -> int:
        """Interval holding the state just after second `t` (faceoffs) or just before it (other plays)."""
        i = bisect_right(self.starts, t if after else t - 1) - 1
        return i if i >= 0 else 0

    def pair_at(self, t: int, after: bool) -> tuple[int, int]:
        """(away, home) situation at second `t`, for a play without a usable `situationCode`."""
        if not self.starts:
            return (SOTHER, SOTHER)
        return self.pairs[self.index_at(t, after)]

    def seconds(self) -> tuple[list[int], list[int]]:
        """Seconds per situation for (away, home) — the team-level ice time of each state."""
        out = ([0, 0, 0, 0], [0, 0, 0, 0])
        for s, e, (pa, ph) in zip(self.starts, self.ends, self.pairs):
            out[0][pa] += e - s
            out[1][ph] += e - s
        return out

    def split(self, spans: list[tuple[int, int]], side: int, out: list[int]) -> None:
        """Add the seconds of `spans` spent in each situation (from `side`'s view) to `out[0..3]`.

        Seconds no interval covers (impossible by construction: periods are stretched to the last shift)
        go to `other`, so the situations always add up to the shift total.
        """
        starts, ends, pairs = self.starts, self.ends, self.pairs
        n = len(starts)
        for s, e in spans:
            covered = 0
            i = bisect_right(starts, s) - 1
            if i < 0:
                i = 0
            while i < n and starts[i] < e:
                a = s if s > starts[i] else starts[i]
                b = e if e < ends[i] else ends[i]
                if b > a:
                    out[pairs[i][side]] += b - a
                    covered += b - a
                i += 1
            if covered < e - s:
                out[SOTHER] += e - s - covered

    def situation_of_start(self, s: int, side: int) -> int:
        """Situation at the first second of a shift (where the shift is counted)."""
        if not self.starts:
            return SOTHER
        return self.pairs[self.index_at(s, True)][side]


# ----------------------------------------------------------------------------------------------------
# building the timeline
# ----------------------------------------------------------------------------------------------------


def nominal_length(period: int, game_type: int) -> int:
    """Regulation and playoff periods last 20 minutes, regular-season overtime 5."""
    return 300 if (period == 4 and game_type != 3) else PERIOD_SECONDS


def period_bounds(plays: list[Play], header: GameHeader, shifts: ShiftChart | None) -> dict[int, tuple[int, int]]:
    """[start, end) of every played period (shootout excluded).

    A period followed by another lasted its nominal length; the last one ends at its `period-end` play,
    its last play or its last shift, whichever is latest (an overtime ends at the winning goal).
    """
    last_t: dict[int, int] = {}
    for p in plays:
        if p.period_type == "SO":
            continue
        if p.t > last_t.get(p.period, -1):
            last_t[p.period] = p.t
    if shifts is not None:
        for period, e in shifts.last_second.items():
            if e > last_t.get(period, -1):
                last_t[period] = e
    if not last_t:
        return {}
    final = max(last_t)
    out: dict[int, tuple[int, int]] = {}
    for period in range(1, final + 1):
        start = (period - 1) * PERIOD_SECONDS
        end = start + nominal_length(period, header.game_type) if period < final else last_t[period]
        end = max(end, last_t.get(period, start))
        if end > start:
            out[period] = (start, end)
    return out


@dataclass(frozen=True, slots=True)
class Causes:
    """Seconds at which skater counts may change (index = side of the penalised team)."""

    calls: tuple[list[int], list[int]]  # penalty calls: the side loses a skater (3-on-3 OT: the other gains one)
    expiries: tuple[list[int], list[int]]  # its penalties end (clock or power-play goal): it gets the skater back
    goals: list[int]  # goals


def _penalty_side(p: Play, header: GameHeader, side_of_player: dict[int, int]) -> int | None:
    d = p.details
    who = d.get("committedByPlayerId", d.get("servedByPlayerId"))
    side = side_of_player.get(who) if who is not None else None
    return side if side is not None else header.side_of_team(d.get("eventOwnerTeamId"))


def _goal_side(p: Play, header: GameHeader, side_of_player: dict[int, int]) -> int | None:
    side = side_of_player.get(p.details.get("scoringPlayerId"))
    return side if side is not None else header.side_of_team(p.details.get("eventOwnerTeamId"))


def _is_power_play_goal(p: Play, side: int) -> bool:
    """More skaters than the opponent by penalties (an extra attacker for a pulled goalie does not count)."""
    st = parse_code(p.code)
    if st is None:
        return False
    ga, sa, sh, gh = st
    mine, theirs = (sa - 1 + ga, sh - 1 + gh) if side == AWAY else (sh - 1 + gh, sa - 1 + ga)
    return mine > theirs


def change_causes(plays: list[Play], header: GameHeader, side_of_player: dict[int, int]) -> Causes:
    """Penalty calls, when each penalty really ended, and goals.

    A penalty ends after its minutes unless a power-play goal ends it first (the earliest-ending minor of
    the shorthanded side that is not coincidental; a double minor in its first half is cut to its second
    half). Offsetting majors (fights, or five minutes to each side at one second) are served with
    substitutes: no manpower change.
    """
    calls: tuple[list[int], list[int]] = ([], [])
    running: tuple[list[list[int]], list[list[int]]] = ([], [])  # per side: [start, end, minutes]
    goals: list[int] = []
    called = {(p.t, _penalty_side(p, header, side_of_player), p.details.get("duration")) for p in plays
              if p.kind == "penalty" and p.period_type != "SO"}
    for p in plays:
        if p.period_type == "SO":
            continue
        if p.kind == "penalty":
            side = _penalty_side(p, header, side_of_player)
            if side is None:
                continue
            calls[side].append(p.t)
            minutes = p.details.get("duration")
            if minutes not in MANPOWER_MINUTES:
                continue
            offsetting = (p.t, 1 - side, minutes) in called
            if minutes == 5 and (p.details.get("descKey") == "fighting" or offsetting):
                continue
            running[side].append([p.t, p.t + 60 * minutes, 0 if offsetting else minutes])
        elif p.kind == "goal":
            goals.append(p.t)
            side = _goal_side(p, header, side_of_player)
            if side is None or not _is_power_play_goal(p, side):
                continue
            minors = [r for r in running[1 - side] if r[2] in (2, 4) and r[0] < p.t <= r[1]]  # not coincidental
            if minors:
                r = min(minors, key=lambda r: r[1])
                r[1] = p.t + 120 if (r[2] == 4 and p.t < r[1] - 120) else p.t
    expiries = ([r[1] for r in running[AWAY]], [r[1] for r in running[HOME]])
    return Causes(calls, expiries, goals)


def _observations(plays: list[Play], bounds: dict[int, tuple[int, int]]) -> dict[int, list[tuple[int, State]]]:
    """Per period, (second, state) of every play whose code describes a stretch of play, in sortOrder."""
    out: dict[int, list[tuple[int, State]]] = {p: [] for p in bounds}
    cache = _CODE_CACHE
    for p in plays:
        code = p.code
        st = cache.get(code) if code is not None else None
        if st is None:
            if code is None or code in cache:
                continue
            st = parse_code(code)
            if st is None:
                continue
        if p.period_type == "SO" or p.kind in NOT_STATES or not is_timeline_state(st):
            continue
        obs = out.get(p.period)
        if obs is None:
            continue
        start, end = bounds[p.period]
        t = p.t
        t = start if t < start else (end if t > end else t)
        if obs and t < obs[-1][0]:
            t = obs[-1][0]  # a play out of clock order: never move time backwards
        obs.append((t, st))
    return out


def _components(st: State) -> list[int]:
    """(away goalie, away skaters without extra attacker, home skaters without extra attacker, home goalie)."""
    ga, sa, sh, gh = st
    return [ga, sa - 1 + ga, sh - 1 + gh, gh]


def _state(c: list[int]) -> State:
    ga, ba, bh, gh = c
    return (ga, ba + 1 - ga, bh + 1 - gh, gh)


def _goalie_change(lo: int, hi: int, new: int, changes: list[tuple[int, int]], start: int, end: int) -> int:
    """Second a net became guarded/empty within [lo, hi]: the goalie's shift edge, else the midpoint."""
    best = -1
    for x, v in changes:
        if v == new and lo <= x <= hi and start < x < end and x > best:
            best = x
    return best if best >= 0 else (lo + hi) // 2


def _skater_changes(lo: int, hi: int, after: int, old: int, new: int, side: int, causes: Causes
                    ) -> list[tuple[int, int]]:
    """[(second, value)] steps from `old` to `new` skaters of `side` within [lo, hi] (see the module doc).

    A side loses a skater when it is penalised (or, in 3-on-3 overtime, when the opponent's penalty ends)
    and gets one back when its penalty ends (or, in overtime, when the opponent is penalised). A cause at
    or before `after` (the component's previous change) has already been used.
    """
    if lo == hi:
        return [(lo, new)]
    if new < old:
        tiers = (causes.calls[side], causes.expiries[1 - side], causes.goals)
    else:
        tiers = (causes.expiries[side], causes.goals, causes.calls[1 - side])
    floor = max(lo, after + 1)
    cands: list[int] = []
    for tier in tiers:
        cands = sorted({x for x in tier if floor <= x <= hi})
        if cands:
            break
    if not cands:
        cands = [(lo + hi) // 2]
    step = 1 if new > old else -1
    out = []
    v = old
    for k in range(abs(new - old)):
        v += step
        out.append((cands[min(k, len(cands) - 1)], v))
    return out


def _period_changes(obs: list[tuple[int, State]], start: int, end: int, initial: State,
                    shifts: ShiftChart | None, causes: Causes) -> list[list[tuple[int, int]]]:
    """Change points [(second, value)] of each of the four components within one period."""
    cur_state = obs[0][1] if obs else initial
    cur = _components(cur_state)
    changes: list[list[tuple[int, int]]] = [[(start, v)] for v in cur]
    prev_t = start
    for t, st in obs:
        if st == cur_state:  # most plays repeat the state before them (the components are a bijection)
            prev_t = t
            continue
        cur_state = st
        new = _components(st)
        for c in range(4):
            if new[c] == cur[c]:
                continue
            if c in (0, 3):
                side = AWAY if c == 0 else HOME
                gc = shifts.goalie_changes[side] if shifts is not None else ()
                steps = [(_goalie_change(prev_t, t, new[c], gc, start, end), new[c])]
            else:
                side = AWAY if c == 1 else HOME
                steps = _skater_changes(prev_t, t, changes[c][-1][0], cur[c], new[c], side, causes)
            last = changes[c][-1][0]
            for x, v in steps:
                last = x if x > last else last
                changes[c].append((last, v))
            cur[c] = new[c]
        prev_t = t
    return changes


def _merge(changes: list[list[tuple[int, int]]], end: int, out: Timeline) -> State:
    """Append the period's intervals to `out`; returns the state at the period's end."""
    points = sorted({x for comp in changes for x, _ in comp})
    idx = [0, 0, 0, 0]
    cur = [comp[0][1] for comp in changes]
    for k, x in enumerate(points):
        for c in range(4):
            comp = changes[c]
            while idx[c] < len(comp) and comp[idx[c]][0] <= x:
                cur[c] = comp[idx[c]][1]
                idx[c] += 1
        nxt = points[k + 1] if k + 1 < len(points) else end
        if nxt <= x:
            continue
        st = _state(cur)
        if out.states and out.states[-1] == st and out.ends[-1] == x:
            out.ends[-1] = nxt
        else:
            out.starts.append(x)
            out.ends.append(nxt)
            out.states.append(st)
            out.pairs.append(situation_pair(st))
    return _state(cur)


def build_timeline(plays: list[Play], header: GameHeader, side_of_player: dict[int, int],
                   shifts: ShiftChart | None) -> Timeline:
    """The game's state intervals, covering every played period (the shootout has none).

    A period without any usable code inherits the state the previous one ended in (its nominal 5-on-5,
    or 3-on-3 in regular-season overtime, when it is the first).
    """
    bounds = period_bounds(plays, header, shifts)
    obs = _observations(plays, bounds)
    causes = change_causes(plays, header, side_of_player)
    out = Timeline([], [], [], [])
    carry: State | None = None
    for period in sorted(bounds):
        start, end = bounds[period]
        nominal = (1, 3, 3, 1) if nominal_length(period, header.game_type) == 300 else (1, 5, 5, 1)
        initial = carry if carry is not None and nominal[1] == 5 else nominal
        changes = _period_changes(obs[period], start, end, initial, shifts, causes)
        carry = _merge(changes, end, out)
    return out
