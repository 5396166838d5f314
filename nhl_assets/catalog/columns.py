"""How the registry spells a table's columns, and that one spelling turned into polars and Arrow schemas.

A column is written the way the migration files write it, one per line: `name type [not null] -- comment`,
with Delta's type names (`long`, `int`, `double`, `string`, `date`, `timestamp`, `boolean`, `binary`,
`array<string>`, `array<long>`). Why text in Delta's words: the registry and the migrations then read alike, so adding a
column is the same line in both, and the registry test compares them name for name and type for type.
The comment is the column's description (Dagster's column schema, the README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

_TS_UNIT, _TZ = "us", "UTC"
#: Delta type name -> (polars dtype, Arrow type). Bodies are Arrow `large_binary`: a window of raw
#: responses can pass 2 GiB in one column, which 32-bit offsets cannot hold; Delta stores both as binary.
TYPES: dict[str, tuple[pl.DataType, pa.DataType]] = {
    "long": (pl.Int64(), pa.int64()),
    "int": (pl.Int32(), pa.int32()),
    "double": (pl.Float64(), pa.float64()),
    "string": (pl.String(), pa.string()),
    "date": (pl.Date(), pa.date32()),
    "timestamp": (pl.Datetime(_TS_UNIT, _TZ), pa.timestamp(_TS_UNIT, tz=_TZ)),
    "boolean": (pl.Boolean(), pa.bool_()),
    "binary": (pl.Binary(), pa.large_binary()),
    "array<string>": (pl.List(pl.String()), pa.list_(pa.string())),
    "array<long>": (pl.List(pl.Int64()), pa.list_(pa.int64())),
}
_LINE = re.compile(r"^\s*(?P<name>\w+)\s+(?P<type>[\w<>]+)(?P<notnull>\s+not null)?\s*(--\s*(?P<comment>.*))?$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a Delta type name, a key of TYPES
    nullable: bool = True
    description: str = ""

    @property
    def polars(self) -> pl.DataType:
        return TYPES[self.type][0]

    @property
    def arrow(self) -> pa.Field:
        meta = {"comment": self.description} if self.description else None
        return pa.field(self.name, TYPES[self.type][1], nullable=self.nullable, metadata=meta)

    def ddl(self) -> str:
        """The column's line, as a migration file writes it."""
        spec = f"{self.type} not null" if not self.nullable else self.type
        return f"{self.name:<29}{spec:<21}-- {self.description}".rstrip(" -")


def columns(spec: str) -> tuple[Column, ...]:
    """`name type [not null] -- comment` per line (blank lines ignored) -> the columns, in order."""
    out = []
    for line in spec.strip().splitlines():
        if not line.strip():
            continue
        m = _LINE.match(line)
        if not m or m["type"] not in TYPES:
            raise ValueError(f"bad column line: {line!r} (types: {', '.join(TYPES)})")
        out.append(Column(m["name"], m["type"], nullable=not m["notnull"], description=(m["comment"] or "").strip()))
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ValueError(f"a column is declared twice: {sorted({n for n in names if names.count(n) > 1})}")
    return tuple(out)
