"""silver/shots (pure parse): distance, angle, direction, rebound, rush and previous event on hand-checked
real plays; the attacked net when `homeTeamDefendingSide` is missing or wrong; shots agree with the team
stats; shootouts, missing shift charts and bad rows.

Hand-checked plays are from 2024030121 (FLA @ TBL, playoffs): TBL (home, id 14) defends the left net
(x = -89) in periods 1 and 3 and the right one in period 2, so FLA shoots at x = -89 in period 1.
"""

from __future__ import annotations

import copy
import math
from datetime import date
from pathlib import Path

import orjson
import polars as pl
import pytest

from nhl_assets.parse.game_stats import GameInputs, build_silver
from nhl_assets.parse.shots import distance_angle
from nhl_assets.parse.validate import split_valid
from nhl_assets.silver.build import EXPECTATIONS, SHOTS

GAME = 2024030121
FILES = ("2024030121", "2023020204", "2024021015", "2025020002", "2024030413")


def _inputs(folder: Path, name: str, shifts: bool = True) -> GameInputs:
    games = folder / "games"
    chart = games / f"{name}_shiftcharts.json"
    return GameInputs(int(name), date(2025, 4, 22), orjson.loads((games / f"{name}_play_by_play.json").read_bytes()),
                      orjson.loads(chart.read_bytes()) if shifts and chart.exists() else None)


def _shots(*games: GameInputs) -> pl.DataFrame:
    out = build_silver(list(games))
    assert not out.rejected
    return out.shots


def _row(shots: pl.DataFrame, event_id: int) -> dict:
    rows = shots.filter(pl.col("eventId") == event_id).to_dicts()
    assert len(rows) == 1
    return rows[0]


@pytest.mark.unit
@pytest.mark.parametrize(("x", "y", "distance", "angle"), [
    (89, 0, 0.0, 0.0), (79, 0, 10.0, 0.0), (79, 10, math.hypot(10, 10), 45.0), (79, -10, math.hypot(10, 10), 45.0),
    (89, 20, 20.0, 90.0), (95, 6, math.hypot(6, 6), 135.0), (-89, 0, 178.0, 0.0),
])
def test_distance_and_angle_to_the_attacked_net(x, y, distance, angle):
    d, a = pl.DataFrame({"x": [x], "y": [y]}).select(*distance_angle(pl.col("x"), pl.col("y"))).row(0)
    assert d == pytest.approx(distance) and a == pytest.approx(angle)


@pytest.mark.unit
def test_distances_are_bit_for_bit_the_correctly_rounded_ones():
    """The batch computes distances as sqrt(dx**2 + dy**2) and angles with arctan2 in polars; on every integer
    offset a rink allows they equal Python's `math.hypot` and `math.atan2` exactly (so replays hash the same)."""
    grid = pl.DataFrame({"x": range(-200, 201)}).join(pl.DataFrame({"y": range(-85, 86)}), how="cross")
    d, a = grid.select(*distance_angle(pl.col("x"), pl.col("y"))).get_columns()
    xs, ys = grid.get_column("x").to_list(), grid.get_column("y").to_list()
    assert d.to_list() == [math.hypot(89 - x, y) for x, y in zip(xs, ys)]
    assert a.to_list() == [math.degrees(math.atan2(abs(y), 89 - x)) for x, y in zip(xs, ys)]


@pytest.mark.unit
def test_the_batch_situation_is_the_timelines_rule_for_every_state():
    """`silver/shots` names its situation with a polars expression; `situations.situation` is the rule the
    game stats use. On every four-digit state and both sides they agree."""
    from nhl_assets.parse.shots import _situation
    from nhl_assets.parse.situations import SITUATIONS, situation

    digits = pl.DataFrame({"d": range(10)}, schema={"d": pl.Int8})
    states = digits.join(digits, how="cross").join(digits, how="cross", suffix="2").join(digits, how="cross",
                                                                                        suffix="3")
    states = states.rename(dict(zip(states.columns, ("ga", "sa", "sh", "gh")))).join(
        pl.DataFrame({"home": [False, True]}), how="cross")
    home = pl.col("home")
    mine = pl.when(home).then(pl.col("sh")).otherwise(pl.col("sa"))
    theirs = pl.when(home).then(pl.col("sa")).otherwise(pl.col("sh"))
    got = states.select(_situation(mine, theirs, pl.col("ga"), pl.col("gh"))).to_series().to_list()
    want = [SITUATIONS[situation((ga, sa, sh, gh), int(h))] for ga, sa, sh, gh, h in states.iter_rows()]
    assert len(got) == 20_000 and got == want


@pytest.mark.unit
@pytest.mark.samples
def test_hand_checked_real_plays(nhl_samples):
    shots = _shots(_inputs(nhl_samples, str(GAME)))
    # FLA (away) tip-in wide at (-79, -8) in period 1, one second after its own takeaway at (-88, -36)
    tip = _row(shots, 69)
    assert (tip["event"], tip["team"], tip["home_or_away"], tip["shotType"]) == ("missed-shot", "FLA", "AWAY", "tip-in")
    assert (tip["xCordAdjusted"], tip["yCordAdjusted"]) == (79, 8)
    assert tip["shotDistance"] == pytest.approx(math.hypot(10, 8))
    assert tip["shotAngle"] == pytest.approx(math.degrees(math.atan2(8, 10)))
    assert (tip["lastEventType"], tip["lastEventTeam"], tip["timeSinceLastEvent"]) == ("takeaway", "FLA", 1)
    assert tip["distanceFromLastEvent"] == pytest.approx(math.hypot(9, 28))
    assert (tip["shotRebound"], tip["shotRush"], tip["shotWasOnGoal"], tip["goal"]) == (False, False, False, False)
    assert (tip["situation"], tip["shootingTeamSkaters"], tip["defendingTeamSkaters"]) == ("5on5", 5, 5)
    assert tip["goalieIdForShot"] == 8476883 and tip["shotOnEmptyNet"] is False
    assert (tip["gameSeconds"], tip["period"]) == (104, 1)
    # TBL (home) wrist shot at (78, 34): home shoots at x = +89 in period 1, coordinates unchanged
    wrist = _row(shots, 71)
    assert (wrist["xCordAdjusted"], wrist["yCordAdjusted"]) == (78, 34)
    assert wrist["shotDistance"] == pytest.approx(math.hypot(11, 34))
    assert wrist["shotWasOnGoal"] is True
    # a TBL goal 2 s after its own slap shot (no stoppage between): a rebound, on a 4v5 code 1451 = TBL 5on4
    rebound = _row(shots, 232)
    assert (rebound["goal"], rebound["shotRebound"], rebound["timeSinceLastEvent"]) == (True, True, 2)
    assert rebound["shotDistance"] == pytest.approx(math.hypot(1, 4))
    assert (rebound["situation"], rebound["shootingTeamSkaters"], rebound["defendingTeamSkaters"]) == ("5on4", 5, 4)
    assert (rebound["shootingTeamGoals"], rebound["defendingTeamGoals"]) == (0, 1)  # FLA scored first (event 100)
    # period 2, directions swap: FLA shoots at x = +89. Its attempt at (35, -17) was blocked 3 s after a
    # TBL giveaway at (-7, 13) (FLA's neutral zone): a rush. The NHL wrote zoneCode "D" (the blocker's zone).
    rush = _row(shots, 489)
    assert (rush["event"], rush["xCordAdjusted"], rush["shotRush"], rush["shotRebound"]) == ("blocked-shot", 35, True, False)
    assert (rush["lastEventType"], rush["lastEventTeam"], rush["timeSinceLastEvent"]) == ("giveaway", "TBL", 3)
    assert rush["shotType"] is None
    assert rush["goalieIdForShot"] == 8476883  # blocked shots carry no goalie: the one the attempts faced
    assert rush["onIceForIds"] is not None and len(rush["onIceForIds"]) == 5
    assert rush["onIceAgainstIds"] is not None and len(rush["onIceAgainstIds"]) == 5


@pytest.mark.unit
@pytest.mark.samples
def test_shots_agree_with_the_team_stats_of_every_recorded_game(nhl_samples):
    games = [_inputs(nhl_samples, n) for n in FILES]
    out = build_silver(games)
    teams = out.teams.filter(pl.col("situation") == "all").select(
        "gameId", "team", "goalsFor", "shotsOnGoalFor", "missedShotsFor", "blockedShotAttemptsFor")
    counted = out.shots.group_by("gameId", "team").agg(
        goalsFor=pl.col("goal").sum().cast(pl.Int64), shotsOnGoalFor=pl.col("shotWasOnGoal").sum().cast(pl.Int64),
        missedShotsFor=(pl.col("event") == "missed-shot").sum().cast(pl.Int64),
        blockedShotAttemptsFor=(pl.col("event") == "blocked-shot").sum().cast(pl.Int64))
    assert teams.sort("gameId", "team").equals(counted.select(teams.columns).sort("gameId", "team"))
    per_situation = out.shots.group_by("gameId", "team", "situation").agg(pl.len().cast(pl.Int64).alias("n"))
    team_sit = out.teams.filter(pl.col("situation") != "all").select(
        "gameId", "team", "situation", pl.col("shotAttemptsFor").alias("n")).filter(pl.col("n") > 0)
    assert team_sit.sort(pl.all()).equals(per_situation.select(team_sit.columns).sort(pl.all()))
    assert out.shots.select(pl.struct("gameId", "eventId").is_unique().all()).item()
    assert out.shots.get_column("shotDistance").null_count() == 0


@pytest.mark.unit
@pytest.mark.samples
def test_every_shot_carries_its_own_plays_event_id_when_another_play_shares_its_sort_order(nhl_samples):
    """The feed sometimes gives two plays one `sortOrder` (2024021084: shot-on-goal 608 and the stoppage 711
    after it are both 729); the shot's row must still name its own play, never the other one."""
    files = sorted(nhl_samples.glob("kraken_*/play_by_play/play_by_play_*.json"))
    if not files:
        pytest.skip(f"no recorded Kraken play-by-plays under {nhl_samples}")
    payloads = {int(f.stem.rsplit("_", 1)[1]): orjson.loads(f.read_bytes()) for f in files}
    shots = _shots(*(GameInputs(gid, date(2025, 1, 1), pbp, None) for gid, pbp in payloads.items()))
    raw = pl.DataFrame([{"gameId": gid, "eventId": p["eventId"], "event": p["typeDescKey"],
                         "sortOrder": p["sortOrder"]} for gid, pbp in payloads.items() for p in pbp["plays"]])
    shared = raw.filter(pl.len().over("gameId", "sortOrder") > 1)
    assert shared.filter(pl.col("event").is_in(("goal", "shot-on-goal", "missed-shot", "blocked-shot"))).height
    named = shots.select("gameId", "eventId", "event", "sortOrder").join(raw, on=["gameId", "eventId"], how="left",
                                                                          suffix="Raw")
    assert named.filter((pl.col("eventRaw") != pl.col("event")) | (pl.col("sortOrderRaw") != pl.col("sortOrder"))
                        | pl.col("eventRaw").is_null()).height == 0
    assert shots.select(pl.struct("gameId", "eventId").is_unique().all()).item()


def _set_side(payload: dict, value) -> dict:
    out = copy.deepcopy(payload)
    for p in out["plays"]:
        if value is None:
            p.pop("homeTeamDefendingSide", None)
        else:
            p["homeTeamDefendingSide"] = {"left": "right", "right": "left"}[p["homeTeamDefendingSide"]] \
                if value == "flip" else value
    return out


@pytest.mark.unit
@pytest.mark.samples
@pytest.mark.parametrize("side", [None, "flip"], ids=["field missing", "field wrong in every period"])
def test_the_attacked_net_comes_from_the_shots_when_the_field_is_missing_or_wrong(nhl_samples, side):
    real = _inputs(nhl_samples, str(GAME))
    expected = _shots(real).select("eventId", "xCordAdjusted", "yCordAdjusted", "shotDistance")
    drifted = GameInputs(real.game_id, real.game_date, _set_side(real.play_by_play, side), real.shift_chart)
    assert _shots(drifted).select(expected.columns).equals(expected)


@pytest.mark.unit
@pytest.mark.samples
def test_without_a_shift_chart_on_ice_is_unknown_and_the_rest_is_unchanged(nhl_samples):
    with_chart = _shots(_inputs(nhl_samples, str(GAME)))
    without = _shots(_inputs(nhl_samples, str(GAME), shifts=False))
    assert without.get_column("onIceForIds").null_count() == without.height
    assert not without.get_column("hasShiftData").any() and with_chart.get_column("hasShiftData").all()
    same = [c for c in with_chart.columns if c not in ("onIceForIds", "onIceAgainstIds", "hasShiftData")]
    assert without.select(same).equals(with_chart.select(same))


@pytest.mark.unit
@pytest.mark.samples
def test_shootout_attempts_and_non_shots_are_not_shots(nhl_samples):
    real = _inputs(nhl_samples, str(GAME))
    payload = copy.deepcopy(real.play_by_play)
    shot = next(p for p in payload["plays"] if p["typeDescKey"] == "shot-on-goal")
    for k, kind in enumerate(("shot-on-goal", "goal", "failed-shot-attempt")):
        so = copy.deepcopy(shot)
        so.update(typeDescKey=kind, eventId=90_000 + k, sortOrder=90_000 + k, situationCode="0101",
                  periodDescriptor={"number": 5, "periodType": "SO", "maxRegulationPeriods": 3})
        payload["plays"].append(so)
    shots = _shots(GameInputs(real.game_id, real.game_date, payload, real.shift_chart))
    assert shots.height == _shots(real).height
    assert set(shots.get_column("event")) == {"goal", "shot-on-goal", "missed-shot", "blocked-shot"}


@pytest.mark.unit
@pytest.mark.samples
def test_a_coordinate_is_a_whole_number_of_feet_or_unknown(nhl_samples):
    """A fractional coordinate is rounded to the nearest foot (it was cut toward zero); a JSON `true` (a
    Python int) or a string is no location, so the shot has none, as without the fields."""
    real = _inputs(nhl_samples, str(GAME))
    payload = copy.deepcopy(real.play_by_play)
    plays = [p for p in payload["plays"] if p["typeDescKey"] in ("shot-on-goal", "missed-shot")
             and isinstance(p.get("details", {}).get("xCoord"), int)][:4]
    events = [p["eventId"] for p in plays]
    written = [(p["details"]["xCoord"], p["details"]["yCoord"]) for p in plays]
    plays[0]["details"]["xCoord"] = 50.6  # cut toward zero: 50
    plays[1]["details"]["yCoord"] = -20.6  # cut toward zero: -20
    plays[2]["details"]["xCoord"] = True
    plays[3]["details"]["yCoord"] = "3"
    shots = _shots(GameInputs(real.game_id, real.game_date, payload, real.shift_chart))
    same = _shots(real)
    first, second = _row(shots, events[0]), _row(shots, events[1])
    assert (first["xCord"], first["yCord"]) == (51, written[0][1])
    assert (second["xCord"], second["yCord"]) == (written[1][0], -21)
    for event in events[2:]:
        row = _row(shots, event)
        assert (row["xCord"], row["yCord"], row["shotDistance"]) == (None, None, None)
    untouched = pl.col("eventId").is_in(events).not_()
    assert shots.filter(untouched).equals(same.filter(untouched))


@pytest.mark.unit
@pytest.mark.samples
def test_out_of_rink_locations_and_unknown_shot_types_are_quarantined(nhl_samples):
    real = _inputs(nhl_samples, str(GAME))
    payload = copy.deepcopy(real.play_by_play)
    by_event = {p["eventId"]: p for p in payload["plays"]}
    by_event[69]["details"]["xCoord"] = 140
    by_event[71]["details"]["shotType"] = "laser"
    by_event[232].pop("eventId")
    by_event[79]["details"]["xCoord"] = -500
    # the parse gives both coordinates or neither; a frame with one alone is still held back, and named
    shots = _shots(GameInputs(real.game_id, real.game_date, payload, real.shift_chart)).with_columns(
        yCord=pl.when(pl.col("eventId") == 79).then(None).otherwise(pl.col("yCord")))
    ok, rejected = split_valid(shots, EXPECTATIONS[SHOTS])
    reasons = dict(zip(rejected.get_column("eventId").to_list(), rejected.get_column("reason").to_list()))
    assert reasons == {69: "coordinates out of the rink (140, -8)", 71: "unknown shot type laser",
                       79: "coordinates out of the rink (-500, null)", None: "null key column eventId"}
    assert ok.height == shots.height - 4


@pytest.mark.unit
def test_skaters_on_ice_at_each_shot_equal_the_definition_shot_by_shot():
    """`skaters_on_ice` (two sorted lookups per span) gives, for every shot, exactly the skaters one of whose spans
    has start < t <= end, as the definition checked pair by pair does: shots at a span's start (not on) or end
    (on), shots at the same second, shots out of clock order, goalies left out, ids sorted within a shot."""
    import numpy as np

    from nhl_assets.parse import shifts as ps
    from nhl_assets.parse.shots import _on_ice, skaters_on_ice

    rng = np.random.default_rng(7)
    for _ in range(200):
        rows = []
        for player in sorted(rng.choice(np.arange(100, 160), size=int(rng.integers(1, 20)), replace=False)):
            side, goalie, t = int(rng.integers(0, 2)), bool(rng.random() < 0.1), int(rng.integers(0, 30))
            for _ in range(int(rng.integers(1, 6))):  # a player's spans: a union, apart from each other
                length = int(rng.integers(1, 90))
                rows.append((player, t, t + length, side, goalie))
                t += length + int(rng.integers(0, 60))
        player, start, end, side, goalie = (np.array(c) for c in zip(*rows))
        spans = ps.Spans(player.astype(np.int64), start.astype(np.int64), end.astype(np.int64),
                         side.astype(np.int64), goalie.astype(bool))
        edges = np.concatenate([start, end])  # shots exactly at span edges, and elsewhere, unsorted, with ties
        times = [int(x) for x in rng.choice(np.concatenate([edges, rng.integers(0, end.max() + 5, 40)]),
                                            size=int(rng.integers(1, 60)))]
        sides = [int(x) for x in rng.integers(0, 2, len(times))]
        chart = ps.ShiftChart(shifts=spans, spans=spans, goalie_changes=([], []), last_second={})

        got = _on_ice(skaters_on_ice(chart, times), sides)

        for name, same in (("onIceForIds", True), ("onIceAgainstIds", False)):
            ids, counts = got[name]
            assert counts.sum() == len(ids)
            per_shot = np.split(ids, np.cumsum(counts)[:-1])
            for t, s, shot_ids in zip(times, sides, per_shot):
                expected = sorted({p for p, a, b, sd, g in rows if not g and a < t <= b and (sd == s) == same})
                assert shot_ids.tolist() == expected, (t, s, name)
