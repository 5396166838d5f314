"""The table registry: every table of the warehouse, declared once (no Dagster, no I/O).

For each table: its name (its path under the warehouse root, and its Dagster asset key), description,
columns with types and descriptions, key, date column, Delta partitioning, and whether its asset is
partitioned by game date (appends by partition) or recomputed whole (refresh). Every layer, the migration
check, `verify`, maintenance, the Spark readers and the docs take these facts from here.

The tables are declared per layer in `catalog.bronze`, `catalog.silver` and `catalog.gold`. Migration files
stay the history of how tables came to be; `tests/test_catalog.py` proves that the tables the migrations
produce equal this registry, so adding a column is one line here plus a migration (README, "Adding a column").
"""

from __future__ import annotations

from nhl_assets.catalog import bronze, gold, silver
from nhl_assets.catalog.columns import Column, columns
from nhl_assets.catalog.table import Table

__all__ = ["Column", "Table", "TABLES", "columns", "info", "partition_by", "bronze", "silver", "gold"]

TABLES: dict[str, Table] = {t.name: t for t in (*bronze.TABLES, *silver.TABLES, *gold.TABLES)}

#: Append-only ledgers of the tooling itself (not assets; their schemas live with their writers in storage/).
META_MIGRATIONS = "_meta/migrations"
META_OPERATIONS = "_meta/operations"


def info(table: str) -> Table:
    """The registry entry of `table`; unknown tables are an error (a typo must not verify as 'fine')."""
    try:
        return TABLES[table]
    except KeyError:
        raise KeyError(f"unknown table {table!r}; known: {', '.join(TABLES)}") from None


def partition_by(table: str) -> list[str]:
    return list(info(table).partition_by)


#: Tag a job carries for each table it writes (`nhl/writes.silver.schedule`): the production run queue
#: (nhl_assets/deploy/dagster.yaml) lets one run at a time hold each of them, so two runs never race for
#: a table while runs writing different tables (bronze of one chunk, silver of the previous) go side by side.
WRITES_TAG_PREFIX = "nhl/writes."


def writes_tag(table: str) -> str:
    """The queue tag of a writer of `table` (one slash: Dagster tag keys allow a single namespace)."""
    return WRITES_TAG_PREFIX + table.replace("/", ".")


def writes_tags(*tables: str) -> dict[str, str]:
    """Tags of a job that writes `tables` (each checked against the registry)."""
    return {writes_tag(info(t).name): "1" for t in tables}
