"""Compute engines for the heavy transforms: polars in-process (the default) or Spark (dagster-pyspark).

Both engines read the same Delta tables and hand their results to the same storage module
(`nhl_assets.storage.delta`), so table names, keys, schemas and rows do not depend on the engine; a
parity test runs both on the same bronze and compares every silver and feature table exactly.

* `spark_io`: Delta snapshot -> Spark DataFrame (the snapshot's Parquet files, listed by delta-rs, so no
  delta-spark jars are needed) and Spark DataFrame -> Arrow for the delta-rs commit.
* `spark_silver`: the silver parse as Spark tasks (each task parses a share of the games with the pure
  parser in `nhl_assets.parse`), assembled and validated exactly like the polars engine.
* `spark_features`: the leakage-free gold features as Spark SQL window functions and as-of joins.

No Dagster imports here: `nhl_assets.resources.EngineResource` wires an engine into the assets. The engine
names are declared with the setting that chooses one (`nhl_assets.settings.ENGINES`, `NHL_ENGINE`).
"""
