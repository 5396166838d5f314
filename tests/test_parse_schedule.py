"""Schedule payloads -> silver/schedule rows and gold/upcoming_schedule rows."""

import re
from datetime import date, datetime, timezone

import orjson
import pytest

from nhl_assets.parse.schedule import played_games, upcoming_games

pytestmark = pytest.mark.unit


def test_played_games_from_a_recorded_final_week(nhl_samples):
    payload = orjson.loads((nhl_samples / "schedules" / "schedule_2024-10-09_week_final.json").read_bytes())
    rows = played_games(date(2024, 10, 10), payload)
    assert len(rows) == 9 and {r["gameDate"] for r in rows} == {date(2024, 10, 10)}
    assert all(r["gameState"] in ("OFF", "FINAL") and r["homeScore"] is not None for r in rows)
    assert all(r["season"] == 20242025 and r["gameType"] == 2 for r in rows)


def test_pregame_week_has_no_played_games_but_upcoming_ones(nhl_samples):
    payload = orjson.loads((nhl_samples / "schedules" / "schedule_2023-11-07_week_pregame.json").read_bytes())
    assert played_games(date(2023, 11, 10), payload) == []
    up = upcoming_games(payload, date(2023, 11, 7), datetime(2023, 11, 7, tzinfo=timezone.utc), "sha")
    assert 2023020204 in up.get_column("gameId").to_list()
    assert up.get_column("gameDate").min() == date(2023, 11, 7)
    assert up.get_column("gameId").is_unique().all()


def test_simulated_shootout_score_is_official(league):
    for d in (date(2023, 11, x) for x in range(1, 30)):
        for row in played_games(d, league.schedule_payload(d)):
            if row["lastPeriodType"] == "SO":
                assert abs(row["homeScore"] - row["awayScore"]) == 1
                return
    raise AssertionError("no shootout game in November 2023 of the simulated season")


def _drifted(league, day: date, change) -> dict:
    payload = orjson.loads(orjson.dumps(league.schedule_payload(day)))
    game = next(g for d in payload["gameWeek"] if d["date"] == day.isoformat() for g in d["games"]
                if g["gameState"] in ("OFF", "FINAL"))
    change(game)
    return payload


def _set(path: str, value):
    def change(game: dict) -> None:
        *parents, leaf = path.split(".")
        for p in parents:
            game = game[p]
        game[leaf] = value
    return change


@pytest.mark.parametrize("path, value, why", [
    ("homeTeam.score", "x", "homeScore = 'x' is not a Int32"),
    ("homeTeam.score", "3", "homeScore = '3' is not a Int32"),  # polars would have read it as 3
    ("awayTeam.score", 3.5, "awayScore = 3.5 is not a Int32"),  # and this as 3
    ("homeTeam.score", 1 << 40, f"homeScore = {1 << 40} is not a Int32"),
    ("homeTeam.id", (1 << 63) + 1, f"homeTeamId = {(1 << 63) + 1} is not a Int64"),
    ("homeTeam.abbrev", {"default": "TOR"}, "homeTeam = {'default': 'TOR'} is not a String"),
    ("season", True, "season = True is not a Int32"),
])
def test_a_played_game_whose_value_its_column_cannot_hold_is_named(league, path, value, why):
    """A window's schedule rows become one frame: one value polars cannot take failed every day of the
    window, and some it took by converting them. Such a day is refused by name instead."""
    day = date(2023, 11, 10)
    with pytest.raises(ValueError, match=rf"^game \d+: {re.escape(why)}$"):
        played_games(day, _drifted(league, day, _set(path, value)))


@pytest.mark.parametrize("path, value, says", [
    ("venue", "Scotiabank Arena", "'str' object has no attribute 'get'"),
    ("homeTeam", ["TOR"], "'list' object has no attribute 'get'"),
    ("gameOutcome", "REG", "'str' object has no attribute 'get'"),
    ("startTimeUTC", 1699660800, "startTimeUTC 1699660800 is not a string"),
    ("startTimeUTC", "9999-12-31T23:59:59-05:00", "startTimeUTC '9999-12-31T23:59:59-05:00' is out of range"),
    ("id", "3", "a played game's id '3' is not a game id"),
    ("id", 3.5, "a played game's id 3.5 is not a game id"),
    ("id", True, "a played game's id True is not a game id"),
    ("homeTeam.score", "x", "homeScore = 'x' is not a Int32"),
])
def test_a_drifted_schedule_day_is_a_reject_and_the_other_days_are_kept(league, path, value, says):
    """Fields of another type than their schema's (an object given as a string, a list, a number) reject
    that day's schedule payload with the reason; before, an AttributeError or polars' error failed the
    window."""
    from nhl_assets.silver.inputs import WindowInputs, add_schedules

    def row(day: date, payload: dict) -> dict:
        return {"gameDate": day, "request": f"/v1/schedule/{day}", "sha256": "s", "fetchedAt": None,
                "httpStatus": 200, "body": orjson.dumps(payload)}

    good, bad = date(2023, 11, 9), date(2023, 11, 10)
    out = WindowInputs()
    add_schedules(out, [row(good, league.schedule_payload(good)), row(bad, _drifted(league, bad, _set(path, value)))])
    assert [(r.game_date, r.table) for r in out.rejects] == [(bad, "bronze/schedule")]
    assert out.rejects[0].reason.startswith("unexpected schedule shape: ") and says in out.rejects[0].reason
    assert out.schedule_rows == played_games(good, league.schedule_payload(good)) != []
