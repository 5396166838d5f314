"""0003 — silver stat tables and the played schedule partitioned by `season` (blue/green rebuild).

Why: the silver tables were created unpartitioned, so every read of a season (gold features, replays)
scanned all of history, and concurrent backfills of different seasons touched the same files. Season
partitions fix both.

How (blue/green): for each table, the green copy is built beside it under `_meta/bluegreen/0003/`
with the new partitioning and validated against the live (blue) table — same rows per game date, same
content row for row (order-independent fingerprint). Only then is the live table swapped: one rewrite
commit of the live path with the green content and partitioning. The blue content stays restorable two
ways: the live table's previous version (time travel, `nhl-assets restore` / `migrate rollback`) and a
copy under `_meta/bluegreen/0003/<table>__blue` that survives vacuum.
"""

DESCRIPTION = "repartition silver stat tables and silver/schedule by season (build beside, validate, swap)"
TABLES = ["silver/player_game_stats", "silver/team_game_stats", "silver/goalie_game_stats", "silver/schedule"]
PARTITION_BY = ["season"]
SIDE = "_meta/bluegreen/0003/"


def _same_content(ctx, a: str, b: str) -> bool:
    from nhl_assets.ops.snapshot import fingerprint

    return fingerprint(ctx.wh, a) == fingerprint(ctx.wh, b)


def upgrade(ctx) -> None:
    for table in TABLES:
        if not ctx.exists(table):
            ctx.note(f"{table} does not exist yet: nothing to rebuild")
            continue
        if ctx.partition_by(table) == PARTITION_BY:
            ctx.note(f"{table} is already partitioned by season")
            continue
        data = ctx.read(table)
        green, blue = SIDE + table.replace("/", "__"), SIDE + table.replace("/", "__") + "__blue"
        ctx.copy(table, blue, data, partition_by=None)
        ctx.copy(table, green, data, partition_by=PARTITION_BY)
        if not ctx.dry_run and not _same_content(ctx, table, green):
            raise RuntimeError(f"green copy of {table} differs from the live table; live table left untouched")
        ctx.rewrite(table, ctx.read(green) if not ctx.dry_run else data, partition_by=PARTITION_BY)


def validate(ctx) -> list[str]:
    from nhl_assets.ops.snapshot import fingerprint

    problems = []
    for table in TABLES:
        snap = ctx.before.get(table)
        if snap is None:
            continue
        if ctx.partition_by(table) != PARTITION_BY:
            problems.append(f"{table} is partitioned by {ctx.partition_by(table)}, not {PARTITION_BY}")
        if fingerprint(ctx.wh, table) != fingerprint(ctx.wh, table, version=snap.version):
            problems.append(f"{table}: content differs from before the rebuild")
    return problems


def downgrade(ctx) -> None:
    for table in TABLES:
        if ctx.exists(table):
            ctx.rewrite(table, ctx.read(table), partition_by=[])
