"""The `_meta/operations` ledger: who restored, vacuumed, compacted or handed over which table, and why.

It lives beside the tables' own Delta history because those commands act on many tables at once (or,
for vacuum, leave no commit of their own), and a reader of the warehouse must be able to tell what was
done to it by hand. Written only here, like every other Delta write (`nhl_assets.storage`).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa

from nhl_assets.catalog import META_OPERATIONS
from nhl_assets.storage.delta import Warehouse

OPERATIONS_SCHEMA = pa.schema([
    pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("command", pa.string(), nullable=False),
    pa.field("table", pa.string()),
    pa.field("detail", pa.string()),
])


def record_operation(wh: Warehouse, command: str, table: str, detail: str) -> None:
    """Append one row to `_meta/operations` (the ledger is created on first use)."""
    row = {"at": datetime.now(timezone.utc), "command": command, "table": table, "detail": detail}
    Warehouse(wh.root, wh.storage_options, create_missing=True).append(
        META_OPERATIONS, pa.Table.from_pylist([row], schema=OPERATIONS_SCHEMA), operation=command)
