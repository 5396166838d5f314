"""Shot location and type in the simulated NHL: goals depend on them the way real ones do.

The simulator draws the distance band and shot type of every unblocked attempt given its outcome, from
counts measured on the recorded real games (gamesim.LOC_GOAL / LOC_SAVED / LOC_MISSED). Here the goal
rates are measured back from the simulated play-by-play payloads only (coordinates, homeTeamDefendingSide,
situationCode, shotType), as a consumer such as an xG model sees them, and compared with the real rates
those counts imply. A last test recounts the constants from the recorded files themselves.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import orjson
import pytest

from nhl_assets.simulator.gamesim import LOC_GOAL, LOC_MISSED, LOC_SAVED, LOC_TYPES, SHOT_BANDS
from nhl_assets.simulator.league import LeagueConfig, SimulatedLeague

from .helpers import samples_dir

UNBLOCKED = ("goal", "shot-on-goal", "missed-shot")
N_GAMES = 300


def _band(dist: float) -> int:
    for i, (lo, hi) in enumerate(SHOT_BANDS):
        if hi is None or dist < hi:
            return i
    raise AssertionError(dist)


def _attack_x(play: dict, home_id: int) -> int:
    """+1 if the event owner attacks the net at x = +89 in this play."""
    home_dir = 1 if play["homeTeamDefendingSide"] == "left" else -1
    return home_dir if play["details"]["eventOwnerTeamId"] == home_id else -home_dir


def _attempts(pbp: dict, other: set[str] = frozenset()):
    """(outcome, band, type, x in attacking direction, play) of each unblocked attempt on a goalie in net,
    shootouts excluded; types outside LOC_TYPES are 'other'."""
    home = pbp["homeTeam"]["id"]
    for p in pbp["plays"]:
        if p["typeDescKey"] not in UNBLOCKED or p["periodDescriptor"]["periodType"] == "SO":
            continue
        d = p["details"]
        if "xCoord" not in d or "yCoord" not in d:
            continue
        is_home = d["eventOwnerTeamId"] == home
        if p["situationCode"][0 if is_home else 3] == "0":  # the defending goalie is out: empty net
            continue
        xa = d["xCoord"] * _attack_x(p, home)
        t = d.get("shotType")
        yield p["typeDescKey"], _band(math.hypot(89 - xa, d["yCoord"])), t if t in LOC_TYPES else "other", xa, p


def _counts(pbps) -> dict[str, Counter]:
    out = {k: Counter() for k in UNBLOCKED}
    for pbp in pbps:
        for kind, band, t, _, _ in _attempts(pbp):
            out[kind][(band, t)] += 1
    return out


def _real_counts() -> dict[str, Counter]:
    """The simulator's constants as cell counts."""
    out = {}
    for kind, table in (("goal", LOC_GOAL), ("shot-on-goal", LOC_SAVED), ("missed-shot", LOC_MISSED)):
        out[kind] = Counter({(b, t): n for b, row in enumerate(table) for t, n in zip(LOC_TYPES, row)})
    return out


def _rate(counts: dict[str, Counter], cells) -> tuple[float, int]:
    """(goals / unblocked attempts, attempts) over the given (band, type) cells."""
    cells = list(cells)
    goals = sum(counts["goal"][c] for c in cells)
    n = sum(counts[k][c] for k in UNBLOCKED for c in cells)
    return goals / n, n


def _cells(bands, types=LOC_TYPES):
    return [(b, t) for b in bands for t in types]


def _close_to_real(sim: float, n: int, real: float) -> bool:
    """Within 15% of the real rate plus three binomial standard errors of the simulated sample."""
    return abs(sim - real) <= 0.15 * real + 3 * math.sqrt(real * (1 - real) / n)


@pytest.fixture(scope="module")
def sim_payloads() -> list[dict]:
    lg = SimulatedLeague(LeagueConfig(seed=7))
    games = [g for d in lg.dates_with_games() for g in lg.games_on(d) if g.game_type == 2]
    return [lg.play_by_play_payload(g.id) for g in random.Random(16).sample(games, N_GAMES)]


@pytest.fixture(scope="module")
def sim(sim_payloads) -> dict[str, Counter]:
    return _counts(sim_payloads)


def test_goal_rate_falls_with_distance_as_in_the_real_games(sim) -> None:
    real = _real_counts()
    bands = range(len(SHOT_BANDS))
    rates = [_rate(sim, _cells([b])) for b in bands]
    assert sum(n for _, n in rates) > 20000  # about 90 unblocked attempts a game
    # strictly decreasing, and close shots far more often goals than shots from the point or further
    assert all(rates[b][0] > rates[b + 1][0] for b in bands[:-1]), rates
    assert rates[0][0] > 4 * rates[4][0] and rates[0][0] > 6 * rates[5][0], rates
    for b in bands:
        want = _rate(real, _cells([b]))[0]
        assert _close_to_real(*rates[b], want), (SHOT_BANDS[b], rates[b], want)
    # and over all attempts on a goalie in net
    assert _close_to_real(*_rate(sim, _cells(bands)), _rate(real, _cells(bands))[0])


def test_goal_rate_depends_on_shot_type_at_the_same_distance(sim) -> None:
    """What distance alone does not tell: near the net, tips and backhands beat the goalie less often than
    wrist and snap shots; from 40 ft out, slap shots score more often than wrist shots; deflections score
    most often of all types."""
    real = _real_counts()
    close, far = (0, 1), (4, 5)
    pairs = {
        "close wrist/snap": _cells(close, ("wrist", "snap")),
        "close backhand/tip-in": _cells(close, ("backhand", "tip-in")),
        "far slap": _cells(far, ("slap",)),
        "far wrist": _cells(far, ("wrist",)),
    }
    got = {k: _rate(sim, c) for k, c in pairs.items()}
    for k, c in pairs.items():
        assert _close_to_real(*got[k], _rate(real, c)[0]), (k, got[k], _rate(real, c)[0])
    assert got["close wrist/snap"][0] > 1.4 * got["close backhand/tip-in"][0], got
    assert got["far slap"][0] > 1.4 * got["far wrist"][0], got
    all_bands = range(len(SHOT_BANDS))
    by_type = {t: _rate(sim, _cells(all_bands, (t,)))[0] for t in ("wrist", "snap", "slap", "backhand", "tip-in",
                                                                   "deflected")}
    assert max(by_type, key=by_type.get) == "deflected", by_type


def test_shots_are_on_the_rink_and_zone_codes_match_the_coordinates(sim_payloads) -> None:
    seen = Counter()
    for pbp in sim_payloads:
        home = pbp["homeTeam"]["id"]
        for p in pbp["plays"]:
            k = p["typeDescKey"]
            if k not in (*UNBLOCKED, "blocked-shot") or p["periodDescriptor"]["periodType"] == "SO":
                continue
            d = p["details"]
            assert abs(d["xCoord"]) <= 99 and abs(d["yCoord"]) <= 42, p
            xa = d["xCoord"] * _attack_x(p, home)
            if k == "blocked-shot":
                assert 27 <= xa <= 88, p  # taken in the offensive zone, in front of the goal line
                continue
            zone = "O" if xa > 25 else ("D" if xa < -25 else "N")
            assert d["zoneCode"] == zone, p
            seen["all", zone == "O"] += 1
        for kind, _, _, xa, _ in _attempts(pbp):  # on a goalie in net
            seen[kind, xa > 25] += 1
    # the recorded games: 13,753 of the 14,341 unblocked attempts with coordinates were from the offensive
    # zone (95.9%); with the goalie in net, all 923 goals, 7,718 of 8,174 shots on goal (94.4%) and 5,057
    # of 5,100 missed shots (99.2%); empty-net shots come from anywhere
    share = {k: seen[k, True] / (seen[k, True] + seen[k, False]) for k in UNBLOCKED}
    assert share["shot-on-goal"] == pytest.approx(7718 / 8174, abs=0.015), share
    assert share["missed-shot"] > 0.97 and share["goal"] == 1.0, share
    assert seen["all", True] / (seen["all", True] + seen["all", False]) > 0.94, seen


@pytest.mark.samples
def test_the_constants_are_the_counts_of_the_recorded_games() -> None:
    """LOC_GOAL / LOC_SAVED / LOC_MISSED are the cell counts of the 166 recorded games (the five full
    play-by-play files in games/, not the earlier fetch, and the two Kraken seasons)."""
    base = samples_dir()
    files = [f for f in sorted((base / "games").glob("*_play_by_play.json")) if "earlier_fetch" not in f.name]
    files += sorted(base.glob("kraken_2024-25/play_by_play/*.json")) + sorted(base.glob("kraken_2025-26/play_by_play/*.json"))
    if len(files) != 166:
        pytest.skip(f"expected the 166 recorded play-by-play files under {base}, found {len(files)}")
    assert _counts(orjson.loads(Path(f).read_bytes()) for f in files) == _real_counts()
