"""Silver assets: MoneyPuck-style player, goalie and team game stats, the played schedule, and the
quarantine, parsed from bronze only (no API calls).

One multi-asset reads the window's bronze rows once, parses and reconciles them with the official
boxscores, validates every row before writing (failures go to `silver/quarantine`), and replaces the
window in each table in one commit. Its code version marks silver stale when the parser changes; a
backfill of silver alone then repairs history from bronze.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from nhl_assets import catalog, settings, specs, versions
from nhl_assets.automation.conditions import silver_condition
from nhl_assets.catalog import silver as cs
from nhl_assets.bronze import tables as bt
from nhl_assets.dates import DateWindow
from nhl_assets.engine.write import replace_window
from nhl_assets.parse.validate import duplicate_rows
from nhl_assets.partitions import game_date_partitions
from nhl_assets.resources import EngineResource, WarehouseResource
from nhl_assets.silver import build as sb
from nhl_assets.silver.engines import build_silver
from nhl_assets.storage.delta import Warehouse, WriteResult, write_as_completed

#: Bump whenever parsing or stat definitions change: the UI then shows silver (and below) as stale.
SILVER_CODE_VERSION = "4"  # 2: bench minors no longer charged to the player who serves them; 3: silver/shots;
# 4: a shot whose sortOrder another play shares keeps its own eventId (it took the last such play's)

KEYS = {t.name: list(t.key) for t in cs.TABLES if t.key}
_BRONZE_DEPS = [specs.asset_key(t) for t in bt.BRONZE_TABLES]


def _spec(table: str) -> AssetSpec:
    return AssetSpec(
        key=specs.asset_key(table),
        deps=_BRONZE_DEPS,
        description=specs.description(table, "Parsed from bronze only."),
        group_name="silver",
        kinds={"delta", settings.engine()},
        owners=specs.OWNERS,
        code_version=SILVER_CODE_VERSION,
        automation_condition=silver_condition(),
        tags=specs.tags(table),
        metadata=specs.metadata(table),
    )


CHECKS = [
    *[AssetCheckSpec("unique_key", asset=specs.asset_key(t), description=f"({', '.join(KEYS[t])}) is unique.")
      for t in KEYS],
    AssetCheckSpec("expectations_passed", asset=specs.asset_key(sb.PLAYERS),
                   description="No row failed the expectations (non-null keys, valid situations, non-negative "
                               "counts, all = sum of situations) in any silver table; failures were quarantined."),
    AssetCheckSpec("boxscore_reconciliation", asset=specs.asset_key(sb.PLAYERS),
                   description="Per player, goalie and team: play-by-play/shift numbers equal the official "
                               "boxscore (goals, assists, points, SOG, hits, blocks, giveaways, takeaways, PIM, "
                               "TOI within 2 s, shifts)."),
]


def _unique(frame: pl.DataFrame, key: list[str]) -> tuple[bool, int]:
    dups = duplicate_rows(frame, key)
    return dups == 0, dups


@dataclass(frozen=True)
class _Written:
    """A table's committed window, with what its materialization and unique-key check report."""

    write: WriteResult
    data_version: str
    unique: tuple[bool, int] | None  # (passed, duplicate rows); None for a table without a key
    wall_s: float  # from the asset's start to this table's commit


def _write_table(engine: EngineResource, wh: Warehouse, table: str, frame: pl.DataFrame, window: DateWindow,
                 run_id: str, started: float) -> _Written:
    """Replace `window` of `table` with `frame`, then hash it and count its duplicate keys. Run in the
    table's write thread: polars hashes outside the GIL, so this overlaps the other tables' writes and the
    materialization events of the tables already committed (0.1-0.15 s a season in turn)."""
    write = replace_window(engine, wh, table, frame, window, run_id=run_id, partition_by=catalog.partition_by(table),
                           description=catalog.info(table).description,
                           extra_metadata={"code_version": SILVER_CODE_VERSION})
    return _Written(write, versions.data_version(frame), _unique(frame, KEYS[table]) if table in KEYS else None,
                    round(time.monotonic() - started, 3))


@multi_asset(
    name="silver_game_stats",
    specs=[_spec(t) for t in sb.SILVER_TABLES],
    check_specs=CHECKS,
    partitions_def=game_date_partitions(),
    backfill_policy=BackfillPolicy.single_run(),
    can_subset=False,
)
def silver_game_stats(context: AssetExecutionContext, warehouse: WarehouseResource, engine: EngineResource):
    """Parse the window's bronze payloads into the silver tables (zero API calls), on the configured engine."""
    started = time.monotonic()
    window = DateWindow.from_key_range(context.partition_key_range)
    wh = warehouse.get()
    context.log.info(f"silver: parsing {window} on the {engine.name} engine")
    built = build_silver(engine, wh, window)
    run_id = context.run.run_id
    mism = built.mismatches
    common = {"games": built.games, "games_with_shift_data": built.games_with_shift_data,
              "incomplete_games": len(built.incomplete_games), "quarantined_rows": built.quarantine.height,
              "reconciliation_mismatches": mism.height, "engine": engine.name}
    # each table's materialization as soon as it commits: Dagster turns it into one event per partition
    # (1,638 for a season), which then overlaps the larger tables' writes instead of following them all;
    # and its checks right after it, so that only the last table's are left once the writes are done
    for table, written in write_as_completed({
            table: partial(_write_table, engine, wh, table, built.frame(table), window, run_id, started)
            for table in sb.SILVER_TABLES}):
        write = written.write
        yield MaterializeResult(asset_key=specs.asset_key(table), data_version=DataVersion(written.data_version),
                                metadata={
            **common, "wall_time_s": written.wall_s, **write.metadata(),
            "dagster/uri": MetadataValue.path(write.uri), "dagster/row_count": write.rows_written})
        yield from _checks(table, written, built)


def _checks(table: str, written: _Written, built: sb.SilverWindow) -> Iterator[AssetCheckResult]:
    """The checks of `table`, once its window is committed: its unique key; on the player table, the
    window's expectations and its reconciliation with the official boxscores."""
    if written.unique is not None:
        ok, dups = written.unique
        yield AssetCheckResult(asset_key=specs.asset_key(table), check_name="unique_key", passed=ok,
                               metadata={"duplicate_rows": dups, "rows": built.frames[table].height})
    if table != sb.PLAYERS:
        return
    yield AssetCheckResult(
        asset_key=specs.asset_key(sb.PLAYERS), check_name="expectations_passed",
        passed=built.quarantine.height == 0, severity=AssetCheckSeverity.WARN,
        metadata={"quarantined_rows": built.quarantine.height,
                  "by_table": MetadataValue.json(built.quarantined_by_table),
                  "reasons": MetadataValue.json(
                      dict(built.quarantine.group_by("reason").len().sort("len", descending=True)
                           .head(20).iter_rows()) if built.quarantine.height else {})})
    mism = built.mismatches
    parsed_games = built.frames[sb.PLAYERS].get_column("gameId").n_unique() if built.frames[sb.PLAYERS].height else 0
    unreconciled = parsed_games - built.reconciliation["games"]
    yield AssetCheckResult(
        asset_key=specs.asset_key(sb.PLAYERS), check_name="boxscore_reconciliation",
        passed=mism.height == 0 and unreconciled == 0,
        # a game without an official boxscore to compare is a warning (re-requested); a mismatch an error
        severity=AssetCheckSeverity.ERROR if mism.height else AssetCheckSeverity.WARN,
        metadata={**built.reconciliation, "mismatches": mism.height, "games_without_boxscore": unreconciled,
                  "first_mismatches": MetadataValue.json(mism.head(50).to_dicts() if mism.height else [])})
