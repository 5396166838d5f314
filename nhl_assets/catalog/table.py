"""One table of the warehouse, as the registry declares it."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from nhl_assets.catalog.columns import Column


@dataclass(frozen=True)
class Table:
    """Everything the code knows about one table, declared once.

    `name` is the table's path under the warehouse root and, split at the slash, its Dagster asset key.
    A table either accumulates by game-date partition (`refresh=False`: its Dagster asset is partitioned by
    game date and a run replaces exactly its window) or is recomputed whole (`refresh=True`: unpartitioned
    asset, every run replaces the table; earlier versions stay in the Delta history).
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] | None  # None: no unique key (quarantine)
    date_column: str | None = "gameDate"  # the column a Dagster partition (a game date) selects rows by
    partition_by: tuple[str, ...] = ()  # Delta partition columns of the current layout
    refresh: bool = False

    def __post_init__(self) -> None:
        names = set(self.column_names)
        missing = [c for c in (*(self.key or ()), *self.partition_by, *([self.date_column] if self.date_column else []))
                   if c not in names]
        if missing:
            raise ValueError(f"{self.name}: key, partition or date column(s) {missing} are not columns")

    @property
    def layer(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def asset_key_path(self) -> tuple[str, ...]:
        return tuple(self.name.split("/"))

    @property
    def partitioned(self) -> bool:
        """Dagster partitions by game date (appends by partition) rather than refreshing the whole table."""
        return not self.refresh

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.polars for c in self.columns}

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([c.arrow for c in self.columns])

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.polars_schema)

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` with exactly the table's columns, in order and cast to their types."""
        return frame.select([pl.col(c.name).cast(c.polars) for c in self.columns])
