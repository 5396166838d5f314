"""Skater season aggregates from silver game stats (pure polars).

Key (`season`, `playerId`, `team`, `situation`): a player traded mid-season has one row per team he
played for, and summing his rows gives his season. Counts are sums; `icetime` sums only the games with
shift data (`gamesWithShiftData` says how many), so a missing shift chart never pretends to be 0 minutes.
"""

from __future__ import annotations

import polars as pl

_NOT_SUMMED = {"gameId", "playerId", "season", "icetime", "shifts"}

SEASON_KEY = ("season", "playerId", "team", "situation")


def skater_season_stats(players: pl.DataFrame) -> pl.DataFrame:
    """One row per (season, playerId, team, situation) with games played, ice time and every count."""
    if players.is_empty():
        return pl.DataFrame(schema=season_schema(players.schema))
    counts = [c for c, t in players.schema.items() if t == pl.Int64 and c not in _NOT_SUMMED]
    latest = pl.col("gameDate").arg_max()
    return (players.rename({"playerTeam": "team"})
            .group_by(*SEASON_KEY)
            .agg(pl.col("name").get(latest), pl.col("position").get(latest),
                 pl.col("gameId").n_unique().cast(pl.Int64).alias("gamesPlayed"),
                 pl.col("hasShiftData").sum().cast(pl.Int64).alias("gamesWithShiftData"),
                 pl.col("gameDate").min().alias("firstGameDate"), pl.col("gameDate").max().alias("lastGameDate"),
                 pl.col("icetime").sum().cast(pl.Int64), pl.col("shifts").sum().cast(pl.Int64),
                 *[pl.col(c).sum().cast(pl.Int64) for c in counts])
            .sort(*SEASON_KEY)
            .select(list(season_schema(players.schema))))


def season_schema(silver: dict | pl.Schema) -> dict[str, pl.DataType]:
    counts = [c for c, t in dict(silver).items() if t == pl.Int64 and c not in _NOT_SUMMED]
    return {"season": pl.Int32, "playerId": pl.Int64, "team": pl.String, "situation": pl.String,
            "name": pl.String, "position": pl.String, "gamesPlayed": pl.Int64, "gamesWithShiftData": pl.Int64,
            "firstGameDate": pl.Date, "lastGameDate": pl.Date, "icetime": pl.Int64, "shifts": pl.Int64,
            **{c: pl.Int64 for c in counts}}
