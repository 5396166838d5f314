"""What a table holds, measured the same way before and after anything risky (no Dagster).

A snapshot is what the replaced pipeline's operators checked by hand after a migration (rows per table,
max game date, key uniqueness), per partition date, plus a content fingerprint that is independent of
row order and file layout, so "the same table" can be asserted exactly after a rebuild, a restore or a
compaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl
import pyarrow as pa

from nhl_assets.catalog import TABLES
from nhl_assets.storage.delta import Warehouse


@dataclass(frozen=True)
class Snapshot:
    """One table at one version."""

    table: str
    version: int
    rows: int
    per_date: dict[str, int] = field(default_factory=dict)  # gameDate -> rows
    duplicate_keys: int | None = None  # None when the table has no key (or lacks its columns)
    max_date: date | None = None
    columns: dict[str, str] = field(default_factory=dict)
    partition_by: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"version": self.version, "rows": self.rows, "dates": len(self.per_date),
                "max_date": self.max_date.isoformat() if self.max_date else None,
                "duplicate_keys": self.duplicate_keys}


def _frame(wh: Warehouse, table: str, version: int | None, columns: list[str] | None) -> pl.DataFrame:
    dt = wh.open(table, version=version)
    t: pa.Table = dt.to_pyarrow_table(columns=columns)
    return pl.from_arrow(t) if t.num_columns else pl.DataFrame()


def snapshot(wh: Warehouse, table: str, version: int | None = None) -> Snapshot | None:
    """Counts, per-date counts, key uniqueness and max date of `table` (None when it does not exist)."""
    dt = wh.open(table, version=version)
    if dt is None:
        return None
    schema = {f.name: str(f.type) for f in dt.schema().fields}
    info = TABLES.get(table)
    date_col = info.date_column if info and info.date_column in schema else None
    key = [k for k in (info.key or ())] if info and info.key else []
    key = key if key and all(k in schema for k in key) else []
    cols = sorted({*key, *([date_col] if date_col else [])})
    frame = _frame(wh, table, version, cols or None) if cols else None
    rows = dt.to_pyarrow_dataset().count_rows()
    per_date: dict[str, int] = {}
    max_date = None
    if frame is not None and date_col:
        counts = frame.group_by(date_col).len()
        per_date = {str(d): n for d, n in counts.iter_rows()}
        max_date = frame.get_column(date_col).max() if frame.height else None
    dups = None
    if frame is not None and key:
        dups = frame.height - frame.select(key).unique().height
    return Snapshot(table=table, version=dt.version(), rows=rows, per_date=per_date, duplicate_keys=dups,
                    max_date=max_date, columns=schema, partition_by=list(dt.metadata().partition_columns))


def fingerprint(wh: Warehouse, table: str, version: int | None = None) -> tuple[int, list[int]]:
    """(rows, sorted row hashes) of the content: equal iff the same multiset of rows, whatever the files.

    Columns are taken in name order so that a rewrite that reorders columns still compares equal.
    """
    dt = wh.open(table, version=version)
    if dt is None:
        return 0, []
    frame = pl.from_arrow(dt.to_pyarrow_table())
    if frame.height == 0:
        return 0, []
    frame = frame.select(sorted(frame.columns))
    return frame.height, frame.hash_rows(seed=0).sort().to_list()
