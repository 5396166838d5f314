"""0002 — `bronze/games.startTimeUTC`: ISO-8601 string -> TIMESTAMP (UTC).

A retype done the safe way: a new column is added and backfilled from the old one, the old one dropped
and the new one takes its name, all in one rewrite commit of the table (the previous version stays
restorable by time travel). `validate` proves every value survived: each game's new timestamp is the
instant its old string named, nulls stayed nulls, and no row was added or lost (the runner's generic
checks: rows per game date, key uniqueness, max game date).
"""

from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

DESCRIPTION = "bronze/games.startTimeUTC: string -> timestamp (UTC), backfilled from the old column"
TABLES = ["bronze/games"]
TABLE = "bronze/games"
COLUMN = "startTimeUTC"
TS = pa.timestamp("us", tz="UTC")


def _parse(values: pa.ChunkedArray) -> pa.Array:
    """'2023-10-10T23:00:00Z' -> timestamp. A string without a UTC offset raises (it would otherwise be
    read in the host's time zone), and so does anything unparseable: the migration then rolls back."""
    out = []
    for v in values.to_pylist():
        if v is None:
            out.append(None)
            continue
        parsed = datetime.fromisoformat(v.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError(f"startTimeUTC {v!r} has no UTC offset")
        out.append(parsed.astimezone(timezone.utc))
    return pa.array(out, type=TS)


def _independent(values: pa.ChunkedArray) -> pa.Array:
    """The same conversion by another route (Arrow's own parser), for `validate`."""
    return pc.strptime(pc.replace_substring(values, "+00:00", "Z"), format="%Y-%m-%dT%H:%M:%SZ", unit="us")


def upgrade(ctx) -> None:
    if not ctx.exists(TABLE):
        ctx.note(f"{TABLE} does not exist yet: nothing to convert")
        return
    t = ctx.read(TABLE)
    if t.schema.field(COLUMN).type == TS:
        ctx.note(f"{TABLE}.{COLUMN} is already a timestamp")
        return
    i = t.schema.get_field_index(COLUMN)
    old = t.schema.field(COLUMN)
    backfilled = _parse(t.column(COLUMN))  # the new column, backfilled from the old one
    # the new column takes the old one's place and name (the old one is dropped with the same step)
    t = t.set_column(i, pa.field(COLUMN, TS, nullable=True, metadata=old.metadata), backfilled)
    ctx.rewrite(TABLE, t)


def validate(ctx) -> list[str]:
    if not ctx.exists(TABLE) or ctx.before.get(TABLE) is None:
        return []
    after = ctx.read(TABLE)
    before = ctx.read_before(TABLE)
    problems = []
    if after.schema.field(COLUMN).type != TS:
        problems.append(f"{COLUMN} is {after.schema.field(COLUMN).type}, not a timestamp")
        return problems
    if before.schema.field(COLUMN).type == TS:
        return problems
    want = dict(zip(before.column("gameId").to_pylist(),
                    _independent(before.column(COLUMN)).cast(TS).to_pylist()))
    got = dict(zip(after.column("gameId").to_pylist(), after.column(COLUMN).to_pylist()))
    wrong = [g for g in want if got.get(g) != want[g]]
    if wrong:
        problems.append(f"{len(wrong)} game(s) changed start time, e.g. {wrong[:3]}")
    if pc.sum(pc.is_null(after.column(COLUMN))).as_py() != pc.sum(pc.is_null(before.column(COLUMN))).as_py():
        problems.append("null count of startTimeUTC changed")
    return problems


def downgrade(ctx) -> None:
    t = ctx.read(TABLE)
    i = t.schema.get_field_index(COLUMN)
    strings = pa.array([None if v is None else v.strftime("%Y-%m-%dT%H:%M:%SZ") for v in t.column(COLUMN).to_pylist()],
                       type=pa.string())
    ctx.rewrite(TABLE, t.set_column(i, pa.field(COLUMN, pa.string(), metadata=t.schema.field(COLUMN).metadata), strings))
