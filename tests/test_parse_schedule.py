"""Schedule payloads -> silver/schedule rows and gold/upcoming_schedule rows."""

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
