"""Skater season aggregates from silver game stats (pure polars).

Key (`season`, `playerId`, `team`, `situation`): a player traded mid-season has one row per team he
played for, and summing his rows gives his season. Counts are sums; `icetime` sums only the games with
shift data (`gamesWithShiftData` says how many), so a missing shift chart never pretends to be 0 minutes.
Which counts are summed is what the registry declares for `gold/skater_season_stats`: a new silver count
reaches the season table by a line there (and its migration), never silently.
"""

from __future__ import annotations

import polars as pl

from nhl_assets.catalog import gold as cg

TABLE = cg.SKATER_SEASON_STATS
SEASON_KEY = TABLE.key
_PER_GAME = ("gamesPlayed", "gamesWithShiftData")
#: silver columns summed over the season: every count column of the table that is not counted per game
SUMMED = tuple(c.name for c in TABLE.columns if c.type == "long" and c.name not in (*SEASON_KEY, *_PER_GAME))
#: expected goals, from `gold/player_game_xgoals` (null for a season whose games were never scored)
XGOALS = tuple(c.name for c in TABLE.columns if c.type == "double")


def skater_season_stats(players: pl.DataFrame, xgoals: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per (season, playerId, team, situation) with games played, ice time, every count and the
    season's xGoals (`xgoals`: `gold/player_game_xgoals` rows; a game not scored yet adds nothing)."""
    if players.is_empty():
        return TABLE.empty()
    latest = pl.col("gameDate").arg_max()
    keys = ["gameId", "playerId", "situation"]
    if xgoals is not None and xgoals.height:
        players = players.join(xgoals.select(*keys, *XGOALS), on=keys, how="left")
    else:
        players = players.with_columns([pl.lit(None, dtype=pl.Float64).alias(c) for c in XGOALS])
    return TABLE.conform(
        players.rename({"playerTeam": "team"})
        .group_by(*SEASON_KEY)
        .agg(pl.col("name").get(latest), pl.col("position").get(latest),
             pl.col("gameId").n_unique().alias("gamesPlayed"),
             pl.col("hasShiftData").sum().alias("gamesWithShiftData"),
             pl.col("gameDate").min().alias("firstGameDate"), pl.col("gameDate").max().alias("lastGameDate"),
             *[pl.col(c).sum() for c in SUMMED],
             *[pl.when(pl.col(c).is_not_null().any()).then(pl.col(c).sum()).alias(c) for c in XGOALS])
        .sort(*SEASON_KEY))
