"""Gold features on the configured engine. The features are defined once (`nhl_assets.transform.features`,
in Narwhals); the engine only decides where they run: on the polars frames already read, in this process,
or on Spark DataFrames read by Spark, with the result brought back as polars."""

from __future__ import annotations

from datetime import date

import polars as pl

from nhl_assets import settings
from nhl_assets.catalog import silver as cs
from nhl_assets.dates import DateWindow
from nhl_assets.engine import Engine
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

    spark = engine.spark_session
    past = DateWindow(settings.start_date(), max(end, settings.start_date()))  # as the polars history read
    native = engine.native_delta
    sp = read_delta(spark, wh, cs.PLAYER_GAME_STATS.name, past, tf.PLAYER_COLUMNS, native=native)
    st = read_delta(spark, wh, cs.TEAM_GAME_STATS.name, past, tf.TEAM_COLUMNS, native=native)
    if sp is None or st is None:
        return pl.DataFrame(schema=tf.PLAYER_FEATURE_SCHEMA), pl.DataFrame(schema=tf.TEAM_FEATURE_SCHEMA)
    up = from_arrow(spark, upcoming.to_arrow()) if upcoming is not None and upcoming.height else None
    pf = pl.from_arrow(to_arrow(tf.player_features(sp, st, start, end, up)))
    tfe = pl.from_arrow(to_arrow(tf.team_features(st, start, end, up)))
    return pf.cast(tf.PLAYER_FEATURE_SCHEMA), tfe.cast(tf.TEAM_FEATURE_SCHEMA)
