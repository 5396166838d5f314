"""Silver on the configured engine: the same parse, reconciliation and validation, in this process (polars,
one process per core on long windows) or in Spark tasks (`nhl_assets.silver.spark`)."""

from __future__ import annotations

from nhl_assets.dates import DateWindow
from nhl_assets.engine import Engine
from nhl_assets.silver import build
from nhl_assets.storage.delta import Warehouse


def build_silver(engine: Engine, wh: Warehouse, window: DateWindow) -> build.SilverWindow:
    """Silver for `window` from bronze (parsed, reconciled, validated), ready for the storage module."""
    if engine.name == "spark":
        from nhl_assets.silver import spark  # pyspark: imported only when the engine is Spark

        return spark.build_window(engine.spark_session, wh, window, native=engine.native_delta)
    return build.build_window(wh, window, workers=engine.parse_workers)
