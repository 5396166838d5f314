"""A deterministic simulated NHL that answers like the real NHL API.

:class:`SimulatedLeague` knows every game from ``first_date`` to ``last_date`` (preseason, regular
season, playoffs) and produces, for any game and any point in time, the body of the schedule,
boxscore, play-by-play and shift-chart endpoints shaped like the real responses. It exists so that the
whole pipeline (fetching, bronze, parsing, reconciliation, features) can run offline, at full scale,
reproducibly, with data that is internally consistent: per-player boxscore numbers equal what the
play-by-play and shift chart imply, exactly as the NHL's own numbers do.

Design:

* Construction is cheap (< 2 s): schedules, rosters and one *outcome draw* per game (final score and
  how the game ended) from which standings and playoff brackets follow. Nothing is simulated in detail.
* A game is simulated in full only when one of its payloads is asked for, from its own random stream
  (``seed`` and game id), so payloads never depend on which other games were generated or in which
  order. The full simulation is constrained to the outcome draw (and to the pre-drawn game-winning-goal
  scorer shown by the schedule), keeping schedule, standings and game payloads consistent.
* Simulated games are kept in a small LRU cache; generating one game's three payloads takes ~10-20 ms.

``as_of`` turns the clock: games that have not started are ``FUT``, running games ``LIVE`` (with the
plays so far), games that ended less than an hour ago ``FINAL``, older ones ``OFF``. Shift charts appear
only once published (10-60 min after the game; a configurable fraction ~30 h late or never).
"""

from __future__ import annotations

import math
import random
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from nhl_assets.simulator.calendar import (
    ScheduledGame,
    SeasonCalendar,
    TeamInfo,
    build_preseason,
    build_regular_season,
    eastern_date,
    local_start_to_utc,
    pick_start,
    season_calendar,
    season_teams,
)
from nhl_assets.simulator.gamesim import AWAY, HOME, GameSpec, SimResult, simulate_game
from nhl_assets.simulator.roster import LeagueRosters, Lineup, build_rosters

__all__ = ["LeagueConfig", "SimGame", "SimulatedLeague"]

UTC = timezone.utc
ROSTER_ANCHOR = 2023  # first season of the simulated history (see SimulatedLeague.__init__)


@dataclass(frozen=True)
class LeagueConfig:
    """Knobs of the simulated league. Same config => byte-identical payloads."""

    seed: int = 7
    first_date: date = date(2023, 10, 1)
    last_date: date = date(2026, 4, 16)
    shift_chart_missing_rate: float = 0.0  # fraction of games whose shift chart is never published
    shift_chart_late_rate: float = 0.0  # fraction published late
    shift_chart_late_hours: float = 30.0  # how late (hours after the game's end)


@dataclass(frozen=True)
class SimGame:
    """One scheduled game as the outside world sees it."""

    id: int
    season: int
    game_type: int
    game_date: date
    start_utc: datetime
    end_utc: datetime
    home_abbrev: str
    away_abbrev: str
    home_id: int
    away_id: int
    shift_chart_published_utc: datetime | None


@dataclass(frozen=True)
class Outcome:
    """The cheap result draw every game gets at construction (drives standings and playoffs)."""

    away_goals: int  # displayed final score (shootout winner +1)
    home_goals: int
    last_period_type: str  # REG / OT / SO
    ot_periods: int
    so_winner: int | None
    ot_goal_sec: int = 0  # second of the final overtime period in which the winner is scored

    @property
    def winner(self) -> int:
        return HOME if self.home_goals > self.away_goals else AWAY


@dataclass
class SeriesInfo:
    round: int
    letter: str
    number: int
    top: int  # franchise
    bottom: int
    game_number: int
    top_wins_before: int
    bottom_wins_before: int


@dataclass
class GameMeta:
    """Internal record of a game: the public SimGame plus what payloads need."""

    game: SimGame
    start_year: int
    home: int  # franchise index
    away: int
    outcome: Outcome
    local_minutes: int
    seq: int  # chronological index over the whole league (shift-chart row ids)
    team_game_index: tuple[int, int] = (0, 0)  # games this team played before, same season and type
    series: SeriesInfo | None = None
    wall: tuple = ()  # (puck drop, [(period start wall, seconds per game second)], end)


# wall-clock model: puck drop 7 min after the listed start, 36 min per 20-min period, 18-min intermissions
PUCK_DROP_MIN = 7
WALL_PER_GAME_SEC = 1.8
INTERMISSION_MIN = 18


def _wall_plan(start: datetime, outcome: Outcome, playoffs: bool, jitter: float) -> tuple:
    """(puck drop, [(period wall start, game seconds played, wall seconds)], game end) for a game.

    Used both for ``end_utc`` and to decide how far a LIVE game has progressed at an ``as_of``.
    """
    drop = start + timedelta(minutes=PUCK_DROP_MIN)
    t = drop
    periods = []
    lens = [1200, 1200, 1200]
    if outcome.last_period_type in ("OT", "SO"):
        if playoffs:
            lens += [1200] * (outcome.ot_periods - 1) + [outcome.ot_goal_sec]
        elif outcome.last_period_type == "OT":
            lens.append(outcome.ot_goal_sec)
        else:
            lens.append(300)
    for i, ln in enumerate(lens):
        if i > 0:
            t += timedelta(minutes=INTERMISSION_MIN if (i < 3 or playoffs) else 2)
        wall = ln * WALL_PER_GAME_SEC * jitter
        periods.append((t, ln, wall))
        t += timedelta(seconds=wall)
    if outcome.last_period_type == "SO":
        t += timedelta(minutes=8)
    end = t + timedelta(minutes=2)
    return drop, periods, end


_TIED_SCORE = (0, 1, 2, 3, 4, 5, 6)
_TIED_W = (3, 17, 33, 28, 13, 5, 1)
_LOSER_W = (11, 25, 28, 20, 10, 4, 2)
_MARGIN = (1, 2, 3, 4, 5, 6)
_MARGIN_W = (40, 30, 17, 8, 4, 1)


def _draw_outcome(seed: int, game_id: int, game_type: int, s_home: float, s_away: float) -> Outcome:
    """Final score and how the game ended; ~22.5% of regular-season games go past regulation."""
    rng = random.Random(f"outcome:{seed}:{game_id}")
    p_home = 1.0 / (1.0 + math.exp(-(2.4 * math.log(s_home / s_away) + 0.14)))
    if rng.random() < 0.225:
        k = rng.choices(_TIED_SCORE, _TIED_W)[0]
        if game_type == 3:
            win = HOME if rng.random() < p_home else AWAY
            otp = rng.choices((1, 2, 3, 4), (70, 20, 7, 3))[0]
            return Outcome(k + (win == AWAY), k + (win == HOME), "OT", otp, None, rng.randint(10, 1195))
        if rng.random() < 0.64:
            win = HOME if rng.random() < p_home else AWAY
            return Outcome(k + (win == AWAY), k + (win == HOME), "OT", 1, None, rng.randint(8, 296))
        win = HOME if rng.random() < 0.5 + (p_home - 0.5) * 0.3 else AWAY
        return Outcome(k + (win == AWAY), k + (win == HOME), "SO", 1, win)
    win = HOME if rng.random() < p_home else AWAY
    lose = rng.choices(_TIED_SCORE, _LOSER_W)[0]
    wg = lose + rng.choices(_MARGIN, _MARGIN_W)[0]
    return Outcome(wg if win == AWAY else lose, wg if win == HOME else lose, "REG", 0, None)


class _LRU(OrderedDict):
    """Small thread-safe LRU: the loopback server may answer requests from several threads.

    The value is computed outside the lock (two threads may compute the same deterministic value
    once each; harmless), only the bookkeeping is serialised.
    """

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize
        self._lock = threading.Lock()

    def get_or(self, key, make):
        with self._lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        val = make()
        with self._lock:
            self[key] = val
            self.move_to_end(key)
            while len(self) > self.maxsize:
                self.popitem(last=False)
        return val

    def clear(self) -> None:
        with self._lock:
            super().clear()


class SimulatedLeague:
    """The simulated NHL; see the module docstring. Thread-compatible for reads (caches are best-effort)."""

    def __init__(self, config: LeagueConfig | None = None) -> None:
        self.config = config or LeagueConfig()
        cfg = self.config
        self._metas: dict[int, GameMeta] = {}
        self._by_date: dict[date, list[int]] = defaultdict(list)
        self._calendars: dict[int, SeasonCalendar] = {}
        self._strength: dict[int, list[float]] = {}
        self._sim_cache = _LRU(64)
        self._season_regular: dict[int, list[GameMeta]] = {}
        self._playoff_end_nominal: dict[int, date] = {}
        self._headline_cache = _LRU(20000)
        needed = [y for y in range(cfg.first_date.year - 1, cfg.last_date.year + 1)
                  if season_calendar(y).preseason_start <= cfg.last_date
                  and season_calendar(y).playoff_start + timedelta(days=70) >= cfg.first_date]
        # Seasons are chained (rosters, team strength), so the chain always starts at ROSTER_ANCHOR (or
        # earlier if asked): a game's payloads then depend on the seed only, not on the configured range.
        years = list(range(min([ROSTER_ANCHOR] + needed), max(needed) + 1)) if needed else []
        self.start_years = years
        bounds = {}
        for y in years:
            cal = season_calendar(y)
            self._calendars[y] = cal
            bounds[y] = (cal.preseason_start, cal.playoff_start + timedelta(days=70))
        self.rosters: LeagueRosters = build_rosters(cfg.seed, years, bounds)
        srng = random.Random(f"strength:{cfg.seed}")
        prev = [0.0] * 32
        all_games: list[tuple[int, GameMeta]] = []
        for y in years:
            logs = [0.6 * prev[i] + srng.gauss(0, 0.11) for i in range(32)]
            prev = logs
            self._strength[y] = [math.exp(v) for v in logs]
            all_games += self._build_season(y)
        # chronological sequence numbers (stable, independent of the configured range)
        all_games.sort(key=lambda x: (x[1].game.start_utc, x[0]))
        for seq, (gid, meta) in enumerate(all_games):
            meta.seq = seq
            g = meta.game
            if cfg.first_date <= g.game_date <= cfg.last_date:
                self._metas[gid] = meta
                self._by_date[g.game_date].append(gid)
        for lst in self._by_date.values():
            lst.sort()

    # ------------------------------------------------------------------ construction
    def _season_teams(self, y: int) -> tuple[TeamInfo, ...]:
        return season_teams(y)

    def _make_meta(self, y: int, gid: int, gtype: int, sg: ScheduledGame, outcome: Outcome,
                   series: SeriesInfo | None = None) -> GameMeta:
        cfg = self.config
        teams = season_teams(y)
        home, away = teams[sg.home], teams[sg.away]
        start = local_start_to_utc(home, sg.game_date, sg.local_minutes)
        jit = random.Random(f"wall:{cfg.seed}:{gid}").uniform(0.94, 1.06)
        wall = _wall_plan(start, outcome, gtype == 3, jit)
        end = wall[2]
        prng = random.Random(f"shiftpub:{cfg.seed}:{gid}")
        u = prng.random()
        if u < cfg.shift_chart_missing_rate:
            pub = None
        elif u < cfg.shift_chart_missing_rate + cfg.shift_chart_late_rate:
            pub = end + timedelta(hours=cfg.shift_chart_late_hours, minutes=prng.uniform(0, 30))
        else:
            pub = end + timedelta(minutes=prng.uniform(10, 60))
        pub = pub.replace(microsecond=0) if pub else None
        game = SimGame(gid, y * 10000 + y + 1, gtype, sg.game_date, start, end.replace(microsecond=0),
                       home.abbrev, away.abbrev, home.id, away.id, pub)
        return GameMeta(game, y, sg.home, sg.away, outcome, sg.local_minutes, 0, series=series, wall=wall)

    def _build_season(self, y: int) -> list[tuple[int, GameMeta]]:
        cfg = self.config
        cal = self._calendars[y]
        strength = self._strength[y]
        out: list[tuple[int, GameMeta]] = []
        reg = build_regular_season(cfg.seed, cal)
        busy: dict[date, set[int]] = defaultdict(set)
        for g in reg:
            if g.game_date <= cal.preseason_end:
                busy[g.game_date].update((g.home, g.away))
        pre = build_preseason(cfg.seed, cal, busy)
        counters: dict[tuple[int, int], int] = defaultdict(int)
        for gtype, games in ((1, pre), (2, reg)):
            for n, sg in enumerate(games, 1):
                gid = y * 1_000_000 + gtype * 10_000 + n
                oc = _draw_outcome(cfg.seed, gid, gtype, strength[sg.home], strength[sg.away])
                meta = self._make_meta(y, gid, gtype, sg, oc)
                meta.team_game_index = (counters[(gtype, sg.away)], counters[(gtype, sg.home)])
                counters[(gtype, sg.away)] += 1
                counters[(gtype, sg.home)] += 1
                out.append((gid, meta))
        self._season_regular[y] = [m for _, m in out if m.game.game_type == 2]
        if cal.playoff_start <= cfg.last_date:
            out += self._build_playoffs(y, [m for _, m in out if m.game.game_type == 2], counters)
        return out

    def standings(self, start_year: int) -> list[dict]:
        """Regular-season standings of a season from the outcome draws (points, wins, ...) by franchise."""
        return self._standings(start_year, self._season_regular.get(start_year, []))

    def _standings(self, y: int, regular: list[GameMeta]) -> list[dict]:
        teams = season_teams(y)
        rows = [{"franchise": i, "abbrev": teams[i].abbrev, "teamId": teams[i].id, "gp": 0, "w": 0, "l": 0,
                 "otl": 0, "rw": 0, "points": 0, "gf": 0, "ga": 0} for i in range(32)]
        for m in regular:
            o = m.outcome
            for side, fr in ((HOME, m.home), (AWAY, m.away)):
                r = rows[fr]
                r["gp"] += 1
                gf = o.home_goals if side == HOME else o.away_goals
                ga = o.away_goals if side == HOME else o.home_goals
                r["gf"] += gf
                r["ga"] += ga
                if o.winner == side:
                    r["w"] += 1
                    r["points"] += 2
                    if o.last_period_type == "REG":
                        r["rw"] += 1
                elif o.last_period_type == "REG":
                    r["l"] += 1
                else:
                    r["otl"] += 1
                    r["points"] += 1
        return rows

    def _build_playoffs(self, y: int, regular: list[GameMeta], counters: dict) -> list[tuple[int, GameMeta]]:
        """Top three per division plus two wild cards per conference; four best-of-seven rounds."""
        cfg = self.config
        cal = self._calendars[y]
        teams = season_teams(y)
        rows = self._standings(y, regular)
        tb = random.Random(f"tiebreak:{cfg.seed}:{y}")
        noise = [tb.random() for _ in range(32)]

        def key(fr: int) -> tuple:
            r = rows[fr]
            return (r["points"], r["rw"], r["w"], r["gf"] - r["ga"], noise[fr])

        strength = self._strength[y]
        out: list[tuple[int, GameMeta]] = []
        bracket: dict[str, tuple[int, int]] = {}
        for conf, (d1, d2), letters in (("Eastern", ("Atlantic", "Metropolitan"), "ABCD"),
                                        ("Western", ("Central", "Pacific"), "EFGH")):
            divs = {}
            for d in (d1, d2):
                divs[d] = sorted((t.franchise for t in teams if t.division == d), key=key, reverse=True)
            top3 = divs[d1][:3] + divs[d2][:3]
            rest = sorted((t.franchise for t in teams if t.conference == conf and t.franchise not in top3),
                          key=key, reverse=True)
            wc1, wc2 = rest[0], rest[1]
            w1, w2 = divs[d1][0], divs[d2][0]
            if key(w1) > key(w2):
                opp1, opp2 = wc2, wc1
            else:
                opp1, opp2 = wc1, wc2
            bracket[letters[0]] = (w1, opp1)
            bracket[letters[1]] = (divs[d1][1], divs[d1][2])
            bracket[letters[2]] = (w2, opp2)
            bracket[letters[3]] = (divs[d2][1], divs[d2][2])
        po_count: dict[int, int] = defaultdict(int)

        def play_series(rnd: int, number: int, letter: str, a: int, b: int, start: date) -> tuple[int, date]:
            top, bottom = (a, b) if key(a) >= key(b) else (b, a)
            wins = {top: 0, bottom: 0}
            d = start
            srng = random.Random(f"series:{cfg.seed}:{y}:{rnd}:{number}")
            for k in range(1, 8):
                home = top if k in (1, 2, 5, 7) else bottom
                away = bottom if home == top else top
                gid = y * 1_000_000 + 30_000 + rnd * 100 + number * 10 + k
                oc = _draw_outcome(cfg.seed, gid, 3, strength[home], strength[away])
                sg = ScheduledGame(d, home, away, pick_start(srng, d, teams[home], playoffs=True))
                info = SeriesInfo(rnd, letter, number, top, bottom, k, wins[top], wins[bottom])
                meta = self._make_meta(y, gid, 3, sg, oc, info)
                meta.team_game_index = (po_count[away], po_count[home])
                po_count[away] += 1
                po_count[home] += 1
                out.append((gid, meta))
                winner = home if oc.winner == HOME else away
                wins[winner] += 1
                if wins[winner] == 4:
                    return winner, d
                d += timedelta(days=2 if srng.random() < 0.8 else (1 if k in (1, 3, 5) else 3))
            raise AssertionError("a best-of-seven always ends")  # pragma: no cover

        start = cal.playoff_start
        winners: dict[str, tuple[int, date]] = {}
        for idx, letter in enumerate("ABCDEFGH"):
            a, b = bracket[letter]
            winners[letter] = play_series(1, idx + 1, letter, a, b, start + timedelta(days=idx % 2))
        for rnd, pairs in ((2, (("I", "AB"), ("J", "CD"), ("K", "EF"), ("L", "GH"))),
                           (3, (("M", "IJ"), ("N", "KL"))),
                           (4, (("O", "MN"),))):
            for number, (letter, (f1, f2)) in enumerate(pairs, 1):
                (a, da), (b, db) = winners[f1], winners[f2]
                winners[letter] = play_series(rnd, number, letter, a, b, max(da, db) + timedelta(days=2))
        self._playoff_end_nominal[y] = max(cal.playoff_start + timedelta(days=58), winners["O"][1])
        return out

    # ------------------------------------------------------------------ public: calendar
    def games_on(self, d: date) -> list[SimGame]:
        """Every game scheduled on NHL date ``d`` (all types), sorted by id."""
        return [self._metas[g].game for g in self._by_date.get(d, ())]

    def game(self, game_id: int) -> SimGame | None:
        m = self._metas.get(game_id)
        return m.game if m else None

    def dates_with_games(self) -> list[date]:
        return sorted(self._by_date)

    def today(self, as_of: datetime) -> date:
        """The NHL's "today" for /v1/schedule/now: the America/New_York date of ``as_of``."""
        return eastern_date(as_of)

    def season_calendar(self, start_year: int) -> SeasonCalendar:
        return self._calendars.get(start_year) or season_calendar(start_year)

    def playoff_end_date(self, start_year: int) -> date:
        """The last possible playoff date (what the schedule's ``playoffEndDate`` reports)."""
        if start_year in self._playoff_end_nominal:
            return self._playoff_end_nominal[start_year]
        return season_calendar(start_year).playoff_start + timedelta(days=58)

    # ------------------------------------------------------------------ per-game state
    def meta(self, game_id: int) -> GameMeta | None:
        return self._metas.get(game_id)

    @staticmethod
    def state_of(meta: GameMeta, as_of: datetime | None) -> str:
        """FUT before the start, LIVE while playing, FINAL for an hour after the end, OFF afterwards."""
        if as_of is None:
            return "OFF"
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        g = meta.game
        if as_of < g.start_utc:
            return "FUT"
        if as_of < g.end_utc:
            return "LIVE"
        if as_of < g.end_utc + timedelta(hours=1):
            return "FINAL"
        return "OFF"

    @staticmethod
    def live_cutoff(meta: GameMeta, as_of: datetime) -> tuple[int, bool]:
        """(absolute game second reached at ``as_of``, in intermission?) for a LIVE game (-1: not begun)."""
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        drop, periods, _end = meta.wall
        if as_of < drop:
            return -1, False
        abs_start = 0
        for wstart, ln, wall in periods:
            if as_of < wstart:
                return abs_start, True
            el = (as_of - wstart).total_seconds()
            if el < wall:
                return abs_start + int(el * ln / wall), False
            abs_start += ln
        return abs_start, True

    def lineups(self, meta: GameMeta) -> tuple[Lineup, Lineup]:
        """Dressed players of both teams (cheap; drawn from the game's own stream)."""
        rng = random.Random(f"lineup:{self.config.seed}:{meta.game.id}")
        d = meta.game.game_date
        away = self.rosters.lineup(meta.start_year, meta.away, d, rng)
        home = self.rosters.lineup(meta.start_year, meta.home, d, rng)
        return away, home

    def headline(self, game_id: int) -> dict:
        """Lineups, winning goalie and game-winning-goal scorer without simulating the game."""
        meta = self._metas[game_id]

        def make() -> dict:
            lu = self.lineups(meta)
            o = meta.outcome
            win = o.winner
            gwg = None
            if o.last_period_type != "SO":
                rng = random.Random(f"gwg:{self.config.seed}:{game_id}")
                P = self.rosters.players
                R = self.rosters.seasons[meta.start_year].ratings
                sk = list(lu[win].skaters)
                w = [(0.4 + 2.5 * R[p] ** 1.5) if P[p].position != "D" else (0.2 + 0.5 * R[p]) for p in sk]
                gwg = rng.choices(sk, w)[0]
            return {"lineups": lu, "winning_goalie": lu[win].goalies[0], "gwg_scorer": gwg}

        return self._headline_cache.get_or(game_id, make)

    def simulate(self, game_id: int) -> SimResult | None:
        """The full simulation of a game (cached)."""
        meta = self._metas.get(game_id)
        if meta is None:
            return None
        return self._sim_cache.get_or(game_id, lambda: self._simulate(meta))

    def _simulate(self, meta: GameMeta) -> SimResult:
        hl = self.headline(meta.game.id)
        la, lh = hl["lineups"]
        P = self.rosters.players
        R = self.rosters.seasons[meta.start_year].ratings
        o = meta.outcome
        players = la.all + lh.all
        rating = {p: R[p] for p in players}
        position = {p: P[p].position for p in players}
        prior: dict[int, tuple[int, int]] = {}
        for lu, n_before in ((la, meta.team_game_index[0]), (lh, meta.team_game_index[1])):
            for p in lu.skaters:
                r = R[p]
                if P[p].position == "D":
                    gr, ar = 0.02 + 0.12 * r, 0.08 + 0.35 * r
                else:
                    gr, ar = 0.04 + 0.5 * r * r, 0.08 + 0.55 * r * r
                prior[p] = (int(gr * n_before), int(ar * n_before))
        s = self._strength[meta.start_year]
        spec = GameSpec(
            game_id=meta.game.id, season=meta.game.season, game_type=meta.game.game_type,
            away_goals=o.away_goals, home_goals=o.home_goals, last_period_type=o.last_period_type,
            ot_periods=o.ot_periods if o.last_period_type == "OT" else 0, so_winner=o.so_winner,
            ot_goal_sec=o.ot_goal_sec,
            team_ids=(meta.game.away_id, meta.game.home_id), forwards=(la.forwards, lh.forwards),
            defense=(la.defense, lh.defense), goalies=(la.goalies, lh.goalies), rating=rating, position=position,
            gwg_scorer=hl["gwg_scorer"], strength=(s[meta.away], s[meta.home]),
            giveaway_mean=17.0 if meta.start_year <= 2023 else 29.0, prior=prior,
        )
        rng = random.Random(f"game:{self.config.seed}:{meta.game.id}")
        return simulate_game(spec, rng)

    # ------------------------------------------------------------------ public: payloads
    def schedule_payload(self, d: date, as_of: datetime | None = None) -> dict:
        """Body of GET /v1/schedule/{d}: seven days starting at ``d``."""
        from nhl_assets.simulator import league_payloads as lp  # deferred: league_payloads imports this module

        return lp.schedule_payload(self, d, as_of)

    def boxscore_payload(self, game_id: int, as_of: datetime | None = None) -> dict | None:
        from nhl_assets.simulator import league_payloads as lp  # deferred: league_payloads imports this module

        meta = self._metas.get(game_id)
        if meta is None:
            return None
        return lp.boxscore_payload(self, meta, as_of)

    def play_by_play_payload(self, game_id: int, as_of: datetime | None = None) -> dict | None:
        from nhl_assets.simulator import league_payloads as lp  # deferred: league_payloads imports this module

        meta = self._metas.get(game_id)
        if meta is None:
            return None
        return lp.play_by_play_payload(self, meta, as_of)

    def shiftcharts_payload(self, game_id: int, as_of: datetime | None = None) -> dict:
        """``{"data": [...], "total": n}``; empty for unknown, unfinished or unpublished games."""
        from nhl_assets.simulator import league_payloads as lp  # deferred: league_payloads imports this module

        meta = self._metas.get(game_id)
        if meta is None:
            return {"data": [], "total": 0}
        return lp.shiftcharts_payload(self, meta, as_of)
