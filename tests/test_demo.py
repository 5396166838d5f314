"""The demo's window and simulated clock (issue 13): the clock follows the window, so a window of any
simulated season has final games, and a window without any gives empty tables and a message, not a
traceback."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from nhl_assets.cli import main as cli_main
from nhl_assets.dates import DateWindow
from nhl_assets.demo import RECORDED_WINDOW, SIM_WINDOW, demo_window, sim_clock
from nhl_assets.simulator.cli import clock_after
from nhl_assets.storage.delta import Warehouse


@pytest.mark.unit
def test_the_simulated_clock_is_the_morning_after_the_window():
    assert sim_clock(SIM_WINDOW) == datetime(2023, 11, 6, 15, 0, tzinfo=timezone.utc)  # the default, as before
    assert sim_clock(DateWindow.of("2024-11-01", "2024-11-20")) == datetime(2024, 11, 21, 15, tzinfo=timezone.utc)
    assert sim_clock(DateWindow.of("2025-12-01", "2025-12-31")) == datetime(2026, 1, 1, 15, tzinfo=timezone.utc)
    assert clock_after(date(2024, 2, 28)) == datetime(2024, 2, 29, 15, tzinfo=timezone.utc)  # leap day


@pytest.mark.unit
def test_the_demo_window_defaults_and_bounds():
    assert demo_window(None, None, recorded=False) == SIM_WINDOW
    assert demo_window(None, None, recorded=True) == RECORDED_WINDOW
    assert demo_window(date(2024, 11, 1), None, recorded=False) == DateWindow.of("2024-11-01")  # one day
    assert demo_window(date(2024, 11, 1), date(2024, 11, 3), recorded=False) == DateWindow.of("2024-11-01",
                                                                                             "2024-11-03")
    with pytest.raises(ValueError, match="^--end 2024-10-01 is before --start 2024-11-01$"):
        demo_window(date(2024, 11, 1), date(2024, 10, 1), recorded=False)


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    """Everything the demo sets in the environment, restored after the test; its own warehouse and instance."""
    for name, value in (("DAGSTER_HOME", tmp_path / "dagster_home"), ("NHL_WAREHOUSE", tmp_path / "warehouse"),
                        ("NHL_API_WEB_URL", "http://127.0.0.1:9"), ("NHL_API_STATS_URL", "http://127.0.0.1:9")):
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("NHL_START_DATE", raising=False)
    return Warehouse(str(tmp_path / "warehouse"))


def run_demo(*argv: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        cli_main(["demo", *argv])
    return exit_.value.code


@pytest.mark.slow
def test_a_later_season_window_has_final_games_and_non_empty_silver(demo_env, capsys):
    """The issue's failure: with the clock fixed at 2023-11-06, no game of 2024-25 was final and silver
    stayed empty. Two game dates of November 2024: silver holds exactly their games; too few dates for the
    model, which the demo says instead of failing."""
    import polars as pl

    assert run_demo("--start", "2024-11-01", "--end", "2024-11-02") == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    wh = demo_env
    players = pl.from_arrow(wh.read_arrow("silver/player_game_stats"))
    assert players.height > 1000 and players.get_column("gameDate").unique().sort().to_list() == [
        date(2024, 11, 1), date(2024, 11, 2)]
    assert wh.row_count("silver/schedule") == wh.row_count("bronze/games") > 10
    assert wh.row_count("gold/player_game_features") > 0 and wh.row_count("gold/upcoming_schedule") > 0
    assert "clock 2024-11-03 15:00 UTC" in out
    assert "No shots-on-goal model, so no predictions: too little history to train" in out


@pytest.mark.slow
def test_a_window_without_final_games_gives_empty_tables_and_a_message(demo_env, capsys):
    assert run_demo("--start", "2024-07-10", "--end", "2024-07-11") == 0  # the simulated off-season
    out = " ".join(capsys.readouterr().out.split())
    wh = demo_env
    for table in ("silver/player_game_stats", "gold/skater_season_stats", "gold/player_game_features",
                  "gold/team_game_features", "gold/sog_model", "gold/sog_predictions"):
        assert wh.exists(table) and wh.row_count(table) == 0, table
    assert "No final game in 2024-07-10...2024-07-11 on the simulator" in out
