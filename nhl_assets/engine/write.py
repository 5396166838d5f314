"""Committing an engine's result: one window of one table, in one commit, whichever engine computed it."""

from __future__ import annotations

from typing import Any

import polars as pl

from nhl_assets.dates import DateWindow
from nhl_assets.engine import Engine
from nhl_assets.storage.delta import Warehouse, WriteResult


def replace_window(engine: Engine, wh: Warehouse, table: str, frame: pl.DataFrame, window: DateWindow,
                   **kwargs: Any) -> WriteResult:
    """Commit `frame` as `window` of `table`: through delta-rs (`Warehouse.replace_window`), or with Spark's
    native Delta writer where this deployment enabled `native_delta` and the table was handed to Spark
    (`nhl-assets writer TABLE spark`). Either way the window is replaced in one commit."""
    if engine.name == "spark" and engine.native_delta and wh.writer(table) == "spark":
        from nhl_assets.storage.spark_native import replace_window_spark  # pyspark: imported only on Spark

        return replace_window_spark(wh, table, engine.spark_session.createDataFrame(frame.to_arrow()), window,
                                    date_column=kwargs.get("date_column", "gameDate"), run_id=kwargs.get("run_id"))
    return wh.replace_window(table, frame.to_arrow(), window, **kwargs)
