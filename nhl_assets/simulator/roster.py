"""Players, season rosters, mid-season trades and per-game lineups of the simulated league.

Players are synthetic (generated names, ids in the real 8470000-8485999 style) but behave like real
ones where the pipeline can notice: ids are stable across seasons, most players stay with their club
from one season to the next, a few move in the summer, a handful are traded mid-season (so one player
appears for two teams in one season), and each club dresses 12 forwards, 6 defensemen and 2 goalies
per game out of a 25-26 man roster.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

__all__ = ["Player", "Membership", "LeagueRosters", "Lineup", "build_rosters"]

_FIRST = (
    "Aaron Adam Adrian Alex Alexander Andrew Anthony Austin Ben Blake Brad Brady Brandon Brendan Brett Brock "
    "Bryce Cal Caleb Cam Carson Carter Casey Chase Chris Cole Colin Connor Corey Cody Dakota Dallas Damon Dan "
    "Dante Darren Dave Declan Derek Dillon Drew Dylan Eric Ethan Evan Finn Garrett Grant Greg Hunter Ian Jack "
    "Jackson Jake Jared Jason Jeff Jesse Joel Jordan Josh Justin Kevin Kirby Kyle Landon Liam Logan Luke Mark "
    "Mason Matt Max Micah Mike Nate Nick Noah Nolan Owen Parker Pat Quinn Reid Riley Rob Ryan Sam Scott Sean "
    "Seth Shane Spencer Steve Taylor Trent Trevor Tristan Tyler Tyson Wade Wyatt Zach "
    "Anton Elias Emil Erik Filip Gustav Isak Jesper Jonas Lars Linus Lucas Marcus Mattias Nils Oskar Rasmus "
    "Simon Viktor William Aleksi Eetu Jani Joonas Kaapo Lauri Mikko Niko Otto Patrik Teemu Topi Valtteri Ville "
    "Jakub Jiri Lukas Martin Michal Ondrej Pavel Tomas Vojtech Adam Dominik Juraj Marek Samuel Simon "
    "Nico Timo Yannick Leon Moritz Janis Roberts Kristians Rudolfs"
).split()

# Names with localized spellings (as the real API reports for many Russian-born players).
_FIRST_VARIANTS: dict[str, dict[str, str]] = {
    "Dmitri": {"cs": "Dmitrij", "fi": "Dmitri", "sk": "Dmitrij"},
    "Yegor": {"cs": "Jegor", "fi": "Jegor", "sk": "Jegor"},
    "Ilya": {"cs": "Ilja", "de": "Ilja", "fi": "Ilja", "sk": "Iľja"},
    "Nikita": {"cs": "Nikita", "sk": "Nikita"},
    "Alexei": {"cs": "Alexej", "fi": "Aleksei", "sk": "Alexej"},
    "Evgeni": {"cs": "Jevgenij", "fi": "Jevgeni", "sk": "Jevgenij"},
    "Kirill": {"cs": "Kirill", "sk": "Kirill"},
    "Andrei": {"cs": "Andrej", "fi": "Andrei", "sk": "Andrej"},
    "Artemi": {"cs": "Arťomij", "fi": "Artjomi", "sk": "Arťomij"},
    "Vladislav": {"cs": "Vladislav", "fi": "Vladislav", "sk": "Vladislav"},
}

_LAST = (
    "Abbott Adams Allen Anderson Archer Armstrong Bailey Baker Barrett Beck Bennett Black Blake Boyd Bradley "
    "Brooks Brown Burke Burns Butler Campbell Carlson Carr Carter Chapman Clark Cole Collins Cook Cooper Craig "
    "Crawford Cross Cunningham Daniels Davidson Davis Dawson Dean Dixon Doyle Duncan Dunn Edwards Elliott Ellis "
    "Evans Ferguson Fisher Fleming Fletcher Ford Foster Fox Fraser Freeman Gardner Gibson Gilbert Goodwin Gordon "
    "Graham Grant Gray Green Griffin Hall Hamilton Hansen Harper Harris Hart Hayes Henderson Hill Hoffman Holland "
    "Holmes Howard Hudson Hughes Hunt Jacobs Jensen Johnston Jordan Keller Kelly Kennedy Knight Lambert Lane "
    "Larson Lawrence Lewis Lindsay Little Lowe Lynch MacDonald Mackenzie Marshall Martin Mason McCarthy "
    "McDonald McKay McLean Miller Mitchell Moore Morgan Morris Morrison Murphy Murray Nelson Newman Nichols "
    "Norris O'Brien O'Connor Olson Owens Palmer Parker Payne Pearson Perry Peters Phillips Porter Powell Price "
    "Quinn Ramsey Reed Reynolds Rhodes Richards Riley Roberts Robertson Rogers Ross Russell Ryan Sanders "
    "Saunders Schultz Scott Shaw Simmons Sinclair Spencer Stanley Stewart Stone Sullivan Sutton Taylor Thompson "
    "Tucker Turner Wagner Walker Wallace Walsh Ward Warren Watson Webb Wells West Wheeler White Williams Wilson "
    "Wood Wright Young "
    "Andersson Berglund Bergström Carlsson Dahlin Ekholm Eriksson Forsberg Gustafsson Hedlund Holmberg "
    "Johansson Karlsson Lindberg Lindgren Lundqvist Nilsson Nyberg Olofsson Persson Sandström Sjöberg Söderberg "
    "Strand Wallin Wikström Aho Heikkinen Hiltunen Honka Kallio Koivisto Korpela Lahti Laine Lehtonen Mäkinen "
    "Nieminen Rantanen Salo Saarinen Toivonen Virtanen "
    "Dvorak Hajek Horak Jelinek Kral Kucera Marek Novak Novotny Pospisil Prochazka Sedlak Svoboda Vesely "
    "Zeman Hudacek Kovac Tatar Varga "
    "Baumann Fischer Gerber Huber Keller Meier Schneider Weber Zimmermann Ozolins Kalnins Berzins "
    "Belov Fedorov Kuznetsov Morozov Orlov Pavlov Petrov Romanov Sokolov Volkov Zaitsev"
).split()

_RUSSIAN_LAST = {"Belov", "Fedorov", "Kuznetsov", "Morozov", "Orlov", "Pavlov", "Petrov", "Romanov", "Sokolov",
                 "Volkov", "Zaitsev"}

POSITIONS_TEMPLATE = ("C",) * 5 + ("L",) * 5 + ("R",) * 5 + ("D",) * 8 + ("G",) * 3


@dataclass
class Player:
    """A player for his whole career in the simulation (the id never changes)."""

    id: int
    first: str
    last: str
    position: str  # C, L, R, D, G
    rating: float  # 0..1 when he enters the league; per-season values live in SeasonRoster.ratings
    first_variants: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def is_forward(self) -> bool:
        return self.position in ("C", "L", "R")

    def first_obj(self) -> dict:
        d = {"default": self.first}
        d.update(self.first_variants)
        return d

    def last_obj(self) -> dict:
        return {"default": self.last}

    def initial_name(self) -> str:
        return f"{self.first[0]}. {self.last}"


@dataclass(frozen=True)
class Membership:
    """Player ``player_id`` belongs to franchise ``team`` from ``start`` to ``end`` (inclusive)."""

    player_id: int
    team: int
    start: date
    end: date
    number: int


@dataclass(frozen=True)
class Lineup:
    """The 20 players a team dresses for one game, already arranged into lines and units."""

    forwards: tuple[int, ...]  # 12, line by line: (C, W, W) * 4
    defense: tuple[int, ...]  # 6, pair by pair
    goalies: tuple[int, int]  # (starter, backup)
    numbers: dict[int, int]

    @property
    def skaters(self) -> tuple[int, ...]:
        return self.forwards + self.defense

    @property
    def all(self) -> tuple[int, ...]:
        return self.forwards + self.defense + self.goalies


@dataclass
class SeasonRoster:
    """All memberships of one season, indexed by franchise, and every player's rating that season.

    Ratings are stored per season (players develop and decline over the summer) so that a season's
    lineups never depend on how many later seasons were generated.
    """

    start_year: int
    by_team: dict[int, list[Membership]]
    trades: list[tuple[date, int, int, int, int]]  # (date, player_a, team_a, player_b, team_b)
    ratings: dict[int, float]


class LeagueRosters:
    """Players and their club memberships for every simulated season."""

    def __init__(self, players: dict[int, Player], seasons: dict[int, SeasonRoster]) -> None:
        self.players = players
        self.seasons = seasons
        self._cache: dict[tuple[int, int, date], list[Membership]] = {}

    def members(self, start_year: int, team: int, d: date) -> list[Membership]:
        """Memberships active on date ``d`` for franchise ``team``."""
        key = (start_year, team, d)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        season = self.seasons[start_year]
        res = [m for m in season.by_team[team] if m.start <= d <= m.end]
        if len(self._cache) > 20000:
            self._cache.clear()
        self._cache[key] = res
        return res

    def lineup(self, start_year: int, team: int, d: date, rng: random.Random) -> Lineup:
        """Dress 12 F / 6 D / 2 G: best by rating with game-to-game noise (scratches, rest days).

        Forwards are arranged into four lines (a centre and two wingers each) in rating order, pairs of
        defensemen likewise; the starting goalie is the No. 1 about 62% of the time.
        """
        mem = self.members(start_year, team, d)
        P = self.players
        R = self.seasons[start_year].ratings
        numbers = {m.player_id: m.number for m in mem}
        fw = [m.player_id for m in mem if P[m.player_id].is_forward]
        de = [m.player_id for m in mem if P[m.player_id].position == "D"]
        go = [m.player_id for m in mem if P[m.player_id].position == "G"]
        fw.sort(key=lambda p: -(R[p] + rng.gauss(0, 0.07)))
        de.sort(key=lambda p: -(R[p] + rng.gauss(0, 0.07)))
        fw, de = fw[:12], de[:6]
        fw.sort(key=lambda p: -R[p])
        de.sort(key=lambda p: -R[p])
        centers = [p for p in fw if P[p].position == "C"]
        wings = [p for p in fw if P[p].position != "C"]
        lines: list[int] = []
        for _ in range(4):
            c = centers.pop(0) if centers else wings.pop(0)
            ws = []
            for _ in range(2):
                ws.append(wings.pop(0) if wings else centers.pop(0))
            lines += [c] + ws
        go.sort(key=lambda p: -R[p])
        r = rng.random()
        if r < 0.62 or len(go) < 2:
            starter, backup = go[0], go[1]
        elif r < 0.97 or len(go) < 3:
            starter, backup = go[1], go[0]
        else:
            starter, backup = go[2], go[0]
        return Lineup(tuple(lines), tuple(de), (starter, backup), numbers)

    def rating(self, start_year: int, player_id: int) -> float:
        """The player's rating in that season."""
        return self.seasons[start_year].ratings[player_id]


def _new_player(rng: random.Random, pid: int, pos: str, rating: float) -> Player:
    if rng.random() < 0.07:
        first = rng.choice(tuple(_FIRST_VARIANTS))
        last = rng.choice(sorted(_RUSSIAN_LAST))
        variants = dict(_FIRST_VARIANTS[first])
    else:
        first = rng.choice(_FIRST)
        last = rng.choice(_LAST)
        variants = {}
    return Player(pid, first, last, pos, rating, variants)


def _rating(rng: random.Random) -> float:
    return max(0.02, min(0.99, rng.betavariate(2.0, 2.6)))


def _free_number(rng: random.Random, used: set[int], pos: str) -> int:
    pool = list(range(1, 99)) if pos != "G" else [1, 29, 30, 31, 32, 33, 34, 35, 37, 39, 40, 41, 50, 60, 70, 72, 80]
    choices = [n for n in pool if n not in used]
    return rng.choice(choices or [n for n in range(1, 99) if n not in used])


def build_rosters(seed: int, start_years: list[int], season_bounds: dict[int, tuple[date, date]]) -> LeagueRosters:
    """Create the player pool and every season's memberships.

    ``season_bounds[year]`` gives the first and last day of that season's games (preseason to the end of
    the playoffs); memberships span it, split at trade dates. Summer turnover: ~8% leave the league,
    ~12% change clubs, vacancies are filled by new players with higher ids (as rookies get in reality).
    """
    rng = random.Random(f"rosters:{seed}")
    players: dict[int, Player] = {}
    used_ids: set[int] = set()

    def new_id(lo: int, hi: int) -> int:
        while True:
            pid = rng.randint(lo, hi)
            if pid not in used_ids:
                used_ids.add(pid)
                return pid

    seasons: dict[int, SeasonRoster] = {}
    ratings: dict[int, float] = {}
    # roster state carried across seasons: team -> list of (player_id, sweater number)
    current: dict[int, list[tuple[int, int]]] = {}
    templates: dict[int, list[str]] = {}
    for team in range(32):
        template = list(POSITIONS_TEMPLATE)
        if rng.random() < 0.5:  # some clubs carry 25 instead of 26
            template.remove(rng.choice(("L", "R")))
        templates[team] = template
        entries: list[tuple[int, int]] = []
        nums: set[int] = set()
        for pos in template:
            pid = new_id(8470000, 8483999)
            players[pid] = _new_player(rng, pid, pos, _rating(rng))
            ratings[pid] = players[pid].rating
            n = _free_number(rng, nums, pos)
            nums.add(n)
            entries.append((pid, n))
        current[team] = entries

    for idx, year in enumerate(sorted(start_years)):
        first_day, last_day = season_bounds[year]
        if idx > 0:
            # summer: some leave the league, some become free agents and sign elsewhere
            pool: list[int] = []
            for team in range(32):
                keep = []
                for pid, n in current[team]:
                    r = rng.random()
                    if r < 0.08:
                        continue
                    if r < 0.20:
                        pool.append(pid)
                        continue
                    keep.append((pid, n))
                current[team] = keep
            rng.shuffle(pool)
            for team in range(32):
                need = list(templates[team])
                for pid, _ in current[team]:
                    pos = players[pid].position
                    if pos in need:
                        need.remove(pos)
                need = need[: max(0, len(templates[team]) - len(current[team]))]
                nums = {n for _, n in current[team]}
                for pos in need:
                    pid = next((p for p in pool if players[p].position == pos), None)
                    if pid is not None:
                        pool.remove(pid)
                    else:  # a newcomer: higher ids, as real rookies get
                        pid = new_id(8482000 + 1000 * idx, 8485999)
                        players[pid] = _new_player(rng, pid, pos, _rating(rng) * 0.9)
                        ratings[pid] = players[pid].rating
                    n = _free_number(rng, nums, pos)
                    nums.add(n)
                    current[team].append((pid, n))
            for pid in sorted(ratings):  # development / decline
                ratings[pid] = max(0.02, min(0.99, ratings[pid] + rng.gauss(0, 0.05)))
        by_team: dict[int, list[Membership]] = {t: [] for t in range(32)}
        # mid-season trades: a handful of one-for-one swaps of the same position group
        trades: list[tuple[date, int, int, int, int]] = []
        n_trades = rng.randint(4, 6)
        span_start = date(year, 11, 15)
        span_days = (date(year + 1, 3, 5) - span_start).days
        traded: set[int] = set()
        moves: dict[int, tuple[date, int, int]] = {}  # player -> (date, from, to)
        for _ in range(n_trades):
            a, b = rng.sample(range(32), 2)
            grp = rng.choice(("F", "F", "D", "G"))

            def pick(team: int) -> tuple[int, int] | None:
                cands = [(p, n) for p, n in current[team] if p not in traded and (
                    (grp == "F" and players[p].is_forward) or players[p].position == grp)]
                return rng.choice(cands) if cands else None

            pa, pb = pick(a), pick(b)
            if not pa or not pb:
                continue
            when = span_start + timedelta(days=rng.randrange(span_days))
            traded.update((pa[0], pb[0]))
            moves[pa[0]] = (when, a, b)
            moves[pb[0]] = (when, b, a)
            trades.append((when, pa[0], a, pb[0], b))
        end_rosters: dict[int, list[tuple[int, int]]] = {t: [] for t in range(32)}
        for team in range(32):
            for pid, n in current[team]:
                mv = moves.get(pid)
                if mv is None:
                    by_team[team].append(Membership(pid, team, first_day, last_day, n))
                    end_rosters[team].append((pid, n))
                else:
                    when, _, _ = mv
                    by_team[team].append(Membership(pid, team, first_day, when - timedelta(days=1), n))
        for pid, (when, frm, to) in moves.items():
            taken = {m.number for m in by_team[to] if m.end >= when}  # numbers in use from that day on
            n = next(n for p, n in current[frm] if p == pid)
            if n in taken:
                n = _free_number(rng, taken, players[pid].position)
            by_team[to].append(Membership(pid, to, when, last_day, n))
            end_rosters[to].append((pid, n))
        current = end_rosters
        seasons[year] = SeasonRoster(year, by_team, sorted(trades), dict(ratings))
    return LeagueRosters(players, seasons)
