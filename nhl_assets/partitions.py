"""Game-date partitions (the date windows they select and the season helpers are in `nhl_assets.dates`).

Every bronze and silver asset (and the per-game gold tables) shares one `DailyPartitionsDefinition` in
America/New_York: an NHL "game date" is the local date the league lists the game under, which is the
Eastern date for all practical purposes.
"""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from nhl_assets import settings


def game_date_partitions() -> DailyPartitionsDefinition:
    """The daily partitions of every date-partitioned asset, starting at `NHL_START_DATE`.

    `end_offset=1` makes today's partition exist: a day's games are played (and become final) on that
    same Eastern date, so the daily run for today's finished games must be possible.
    """
    return DailyPartitionsDefinition(
        start_date=settings.start_date().isoformat(),
        timezone=settings.NHL_TIMEZONE,
        end_offset=1,
        fmt="%Y-%m-%d",
    )


#: Days ahead of today that per-game gold tables (features, predictions) may hold: the upcoming week.
UPCOMING_DAYS = 7


def gold_game_date_partitions() -> DailyPartitionsDefinition:
    """Game-date partitions of the per-game gold tables: the same days as bronze/silver plus the upcoming
    week, so a prediction partition exists before its games are played."""
    return DailyPartitionsDefinition(
        start_date=settings.start_date().isoformat(),
        timezone=settings.NHL_TIMEZONE,
        end_offset=1 + UPCOMING_DAYS,
        fmt="%Y-%m-%d",
    )
