"""What the tables hold after a command: rows, game-date partitions and Delta version per table (printed
by `nhl-assets backfill`, `import-raw` and the demo)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from nhl_assets.storage.delta import Warehouse


@dataclass(frozen=True)
class TableSummary:
    table: str
    rows: int
    partitions: int | None
    version: int


def summarize(wh: Warehouse, tables: list[str]) -> list[TableSummary]:
    """Rows, distinct game-date partitions and Delta version of each existing table."""
    out = []
    for table in tables:
        dt = wh.open(table)
        if dt is None:
            continue
        dataset = dt.to_pyarrow_dataset()
        partitions = None  # game-date (Dagster) partitions, whatever the Delta layout
        if "gameDate" in dataset.schema.names:
            partitions = len(set(dataset.to_table(columns=["gameDate"]).column("gameDate").to_pylist()))
        out.append(TableSummary(table, dataset.count_rows(), partitions, dt.version()))
    return out


def print_summary(console: Console, summaries: list[TableSummary], title: str) -> None:
    table = Table(title=title)
    for col in ("table", "rows", "partitions", "Delta version"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for s in summaries:
        table.add_row(s.table, f"{s.rows:,}", "-" if s.partitions is None else str(s.partitions), str(s.version))
    console.print(table)
