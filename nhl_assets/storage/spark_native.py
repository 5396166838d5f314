"""Native Delta writes from Spark (delta-spark), for deployments whose Spark has the delta-spark jars.

By default the Spark engine hands its results to `Warehouse` (delta-rs), which needs no jars. Where the
jars are present a deployment may let Spark commit a table itself, with the same guarantees as
`Warehouse.replace_window`: only a table handed to Spark (`nhl-assets writer TABLE spark --yes`) is
written, never created; the data must be an additive schema change of the table; rows outside the
window are refused before anything is written; the window is replaced in one commit (`replaceWhere`),
with the run id and window in the commit's user metadata. delta-rs writes to the same table are refused
meanwhile (`WriterConflict`), so two Delta implementations never race on one table.
"""

from __future__ import annotations

import orjson
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema

from nhl_assets.dates import DateWindow
from nhl_assets.storage.delta import RowsOutsideWindow, TableMissing, Warehouse, WriteResult, WriterConflict, writer_of


class SparkEngineError(RuntimeError):
    """The Spark engine cannot do what was asked (missing jars, unsupported table features)."""


def has_delta_jars(spark: SparkSession) -> bool:
    """Whether delta-spark is on the session's classpath (it cannot be downloaded on offline machines)."""
    try:
        spark.sparkContext._jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")  # type: ignore[union-attr]
        return True
    except Exception:  # py4j raises its own error type for ClassNotFoundException
        return False


def require_delta_jars(spark: SparkSession) -> None:
    if not has_delta_jars(spark):
        raise SparkEngineError(
            "native Delta reads/writes need the delta-spark jars on the Spark classpath (for example "
            "spark.jars.packages=io.delta:delta-spark_2.13:<version>, or the jar files in spark.jars); "
            "they are not present, so use the default path (native_delta=false), which needs no jars")


def replace_window_spark(wh: Warehouse, table: str, df: DataFrame, window: DateWindow, *,
                         date_column: str = "gameDate", run_id: str | None = None) -> WriteResult:
    """Replace `window`'s rows of `table` with `df` through delta-spark, in one commit."""
    require_delta_jars(df.sparkSession)
    dt = wh.open(table)
    if dt is None:
        raise TableMissing(table)
    if writer_of(dt) != "spark":
        raise WriterConflict(table, writer_of(dt), "spark")
    added = wh._check_compatible(table, dt, to_arrow_schema(df.schema), None)
    bounds = df.agg(F.min(date_column).alias("lo"), F.max(date_column).alias("hi"),
                    F.count(F.when(F.col(date_column).isNull(), 1)).alias("nulls"), F.count("*").alias("rows")).first()
    if bounds["rows"] and (bounds["nulls"] or bounds["lo"] < window.start or bounds["hi"] > window.end):
        raise RowsOutsideWindow(f"{table}: rows dated {bounds['lo']}..{bounds['hi']} (or null) fall outside the "
                                f"window {window} being replaced; refusing to touch other partitions")
    predicate = f"{date_column} >= '{window.start.isoformat()}' AND {date_column} <= '{window.end.isoformat()}'"
    metadata = {"nhl_assets.operation": "replace_window", "nhl_assets.window": str(window),
                **({"dagster.run_id": run_id} if run_id else {})}
    (df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
     .option("mergeSchema", "true" if added else "false").option("userMetadata", orjson.dumps(metadata).decode())
     .save(wh.uri(table)))
    dt.update_incremental()
    return WriteResult(table=table, uri=wh.uri(table), version=dt.version(), rows_written=int(bounds["rows"]),
                       window=window, schema_evolved=added)
