"""Moving tables between Delta and Spark without the delta-spark jars.

Reading: delta-rs resolves the table's snapshot (which Parquet files are live at this version, which
partitions they belong to) and Spark reads exactly those files. That is the whole of a Delta read for
tables without deletion vectors or column mapping, which the project never enables; a table that has
them is refused rather than read wrongly. Writing: a Spark result is collected as Arrow and committed by
the storage module (`Warehouse`), so the window-replace, schema guard and commit metadata are the same
as for polars.

Where the delta-spark jars are on the Spark classpath, `native=True` reads with Spark's own Delta source
instead (`spark.read.format("delta")`); see `Warehouse.replace_window_spark` for the native write.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from dagster_pyspark import LazyPySparkResource
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from nhl_assets.dates import DateWindow, season_of
from nhl_assets.storage.delta import Warehouse
from nhl_assets.storage.spark_native import SparkEngineError, require_delta_jars

#: Spark settings the engine needs whatever the deployment adds: UTC session time (timestamps stay UTC),
#: Arrow transfer, small Arrow batches (bronze rows carry 100-400 KB JSON bodies each), few shuffle
#: partitions (a day's window is small; adaptive execution coalesces further) and no ANSI surprises in
#: casts of partition values. `spark.master` defaults to local mode on every core.
DEFAULT_SPARK_CONFIG: dict[str, str] = {
    "spark.master": "local[*]",
    "spark.app.name": "nhl_assets",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "64",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "4g",
}

#: Delta reader features whose semantics a plain Parquet read of the live files would miss.
UNSUPPORTED_READER_FEATURES = frozenset({"deletionVectors", "columnMapping"})


def spark_session(config: Mapping[str, Any] | None = None) -> SparkSession:
    """A Spark session with the engine's defaults under `config` (which wins), built by dagster-pyspark
    (`LazyPySparkResource`: each setting given to the session builder), its Python workers on this
    interpreter so they import this project from the same environment."""
    # PySpark starts its Python workers with $PYSPARK_PYTHON (not a Spark setting)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    merged = {**DEFAULT_SPARK_CONFIG, **{k: str(v) for k, v in (config or {}).items()}}
    spark: SparkSession = LazyPySparkResource(spark_config=merged).spark_session
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _file_filters(dt: DeltaTable, window: DateWindow | None, date_column: str) -> list[tuple] | None:
    """delta-rs filters that prune the file list to `window`, by partition values and file statistics
    (rows are filtered again after the read)."""
    if window is None:
        return None
    filters: list[tuple] = []
    if date_column in [f.name for f in dt.schema().fields]:
        filters += [(date_column, ">=", window.start), (date_column, "<=", window.end)]
    if "season" in dt.metadata().partition_columns:
        filters += [("season", ">=", season_of(window.start)), ("season", "<=", season_of(window.end))]
    return filters or None


def _check_readable(table: str, dt: DeltaTable) -> None:
    features = set(dt.protocol().reader_features or [])
    bad = features & UNSUPPORTED_READER_FEATURES
    if bad:
        raise SparkEngineError(f"{table}: reader features {sorted(bad)} are not supported by the Parquet "
                               "snapshot read; enable native Delta (delta-spark jars) for this table")


def read_delta(spark: SparkSession, wh: Warehouse, table: str, window: DateWindow | None = None,
               columns: list[str] | None = None, *, date_column: str = "gameDate",
               native: bool = False) -> DataFrame | None:
    """The rows of `table` (only `window`'s dates) as a Spark DataFrame, or None when the table does not
    exist. Column types are the Delta table's."""
    dt = wh.open(table)
    if dt is None:
        return None
    schema = from_arrow_schema(pa.schema(dt.schema().to_arrow()))
    if native:
        require_delta_jars(spark)
        df = spark.read.format("delta").option("versionAsOf", dt.version()).load(wh.uri(table))
    else:
        _check_readable(table, dt)
        files = dt.file_uris(file_pruning_predicate=_file_filters(dt, window, date_column))
        if files:
            # basePath: Spark takes the partition columns' values from the hive-style directory names
            # delta-rs writes, typed by the table's own schema
            df = spark.read.schema(schema).option("basePath", dt.table_uri).parquet(*files)
        else:
            df = spark.createDataFrame([], schema)
    if window is not None and date_column in df.columns:
        df = df.filter(F.col(date_column).between(F.lit(window.start), F.lit(window.end)))
    return df.select(*(columns or [f.name for f in schema.fields]))


def to_arrow(df: DataFrame) -> pa.Table:
    """Collect a Spark result as one Arrow table (what the storage module commits)."""
    return df.toArrow()


def from_arrow(spark: SparkSession, table: pa.Table) -> DataFrame:
    """A small Arrow table (upcoming schedule, ledgers) as a Spark DataFrame with the same types."""
    return spark.createDataFrame(table)
