"""The table registry as Dagster shows it: asset keys, descriptions, tags and table metadata.

Every asset of a warehouse table takes these from here, so the UI's column schema, key and "appends by
partition / refreshed whole" read exactly what `nhl_assets.catalog` declares.
"""

from __future__ import annotations

from dagster import AssetKey, TableColumn, TableSchema

from nhl_assets.catalog import Table, info

OWNERS = ["team:data-platform"]


def _table(table: str | Table) -> Table:
    return table if isinstance(table, Table) else info(table)


def asset_key(table: str | Table) -> AssetKey:
    """Asset keys mirror table paths: `bronze/boxscore` -> AssetKey(["bronze", "boxscore"])."""
    return AssetKey(list(_table(table).asset_key_path))


def description(table: str | Table, how: str = "") -> str:
    """The registry's description, then how the table is updated (`how` adds the layer's own words)."""
    t = _table(table)
    update = ("Accumulates partition by partition; a run replaces exactly its dates." if t.partitioned
              else "Recomputed whole on every run; earlier versions stay in the Delta history.")
    return " ".join(p for p in (t.description, update, how) if p)


def tags(table: str | Table) -> dict[str, str]:
    t = _table(table)
    return {"layer": t.layer, "update": "append-by-partition" if t.partitioned else "refresh-whole"}


def metadata(table: str | Table) -> dict[str, object]:
    """`dagster/table_name`, `dagster/column_schema` (types and descriptions) and the key."""
    t = _table(table)
    schema = TableSchema(columns=[TableColumn(c.name, c.type, description=c.description or None)
                                  for c in t.columns])
    return {"dagster/table_name": t.name, "dagster/column_schema": schema,
            **({"key": ", ".join(t.key)} if t.key else {})}
