"""Gold features on the configured engine: `nhl_assets.transform.features` in this process (polars), or
the same definitions as Spark window functions and as-of joins (`nhl_assets.gold.spark_features`)."""

from __future__ import annotations

from datetime import date

import polars as pl

from nhl_assets import settings
from nhl_assets.engine import Engine
from nhl_assets.partitions import DateWindow
from nhl_assets.storage.delta import Warehouse
from nhl_assets.transform import features as tf


def game_features(engine: Engine, wh: Warehouse, start: date, end: date, players: pl.DataFrame,
                  teams: pl.DataFrame, upcoming: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(player features, team features) for game dates start..end. The polars engine computes them from
    `players`/`teams` (silver history up to `end`, already read); Spark reads silver itself."""
    if engine.name != "spark":
        return (tf.player_features(players, teams, start, end, upcoming),
                tf.team_features(teams, start, end, upcoming))
    # pyspark: imported only when the engine is Spark
    from nhl_assets.engine.spark_io import from_arrow, read_delta, to_arrow
    from nhl_assets.gold import spark_features as sf

    spark = engine.spark_session
    past = DateWindow(settings.start_date(), max(end, settings.start_date()))  # as the polars history read
    native = engine.native_delta
    sp = read_delta(spark, wh, "silver/player_game_stats", past, tf.PLAYER_COLUMNS, native=native)
    st = read_delta(spark, wh, "silver/team_game_stats", past, tf.TEAM_COLUMNS, native=native)
    if sp is None or st is None:
        return pl.DataFrame(schema=tf.PLAYER_FEATURE_SCHEMA), pl.DataFrame(schema=tf.TEAM_FEATURE_SCHEMA)
    up = from_arrow(spark, upcoming.to_arrow()) if upcoming is not None and upcoming.height else None
    pf = pl.from_arrow(to_arrow(sf.player_features(sp, st, start, end, up)))
    tfe = pl.from_arrow(to_arrow(sf.team_features(st, start, end, up)))
    return pf.cast(tf.PLAYER_FEATURE_SCHEMA), tfe.cast(tf.TEAM_FEATURE_SCHEMA)
