"""Compute engines for the heavy transforms: polars in-process (the default) or Spark (dagster-pyspark).

Both engines read the same Delta tables and hand their results to the same storage module
(`nhl_assets.storage.delta`), so table names, keys, schemas and rows do not depend on the engine; a
parity test runs both on the same bronze and compares every silver and feature table exactly.

* `spark_io`: Delta snapshot -> Spark DataFrame (the snapshot's Parquet files, listed by delta-rs, so no
  delta-spark jars are needed) and Spark DataFrame -> Arrow for the delta-rs commit.
* `write`: a result's commit, through delta-rs or, for a table handed to Spark, delta-spark.
* `Engine`: what the layers read of the configured engine (`nhl_assets.resources.EngineResource`).

What each engine computes lives with the layer it computes: `nhl_assets.silver.engines` (the polars parse
or `nhl_assets.silver.spark`, which runs the same pure parser in Spark tasks) and `nhl_assets.gold.engines`
(the features of `nhl_assets.transform.features`, defined once in Narwhals, on polars or Spark frames). No
Dagster imports here. The engine names are declared with the
setting that chooses one (`nhl_assets.settings.ENGINES`, `NHL_ENGINE`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from nhl_assets.settings import EngineName


class Engine(Protocol):
    """What the layers need to know of the configured engine (`nhl_assets.resources.EngineResource`):
    its name, the polars engine's parse processes, and the Spark session (created on first use)."""

    @property
    def name(self) -> EngineName: ...

    @property
    def parse_workers(self) -> int: ...

    @property
    def native_delta(self) -> bool: ...

    @property
    def spark_session(self) -> SparkSession: ...
