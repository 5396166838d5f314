"""Bronze assets: every NHL API response of a game-date window, stored raw in Delta.

One multi-asset fetches a window once and writes the five bronze tables; each table's write replaces
exactly the window's rows in one commit (see `nhl_assets.storage.delta`). The schedules of the whole
window are fetched before anything else, so a day whose schedule cannot be fetched fails the run
before any table is touched.
"""


import time
from collections import Counter

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    multi_asset,
)

from nhl_assets import versions
from nhl_assets.bronze import tables as bt
from nhl_assets.partitions import DateWindow, game_date_partitions
from nhl_assets.resources import NHLApiResource, WarehouseResource
from nhl_assets.source.games import fetch_days

#: Bump when the fetch or the bronze row layout changes (shown in the UI as the assets' code version).
BRONZE_CODE_VERSION = "1"
OWNERS = ["team:data-platform"]


def table_key(table: str) -> AssetKey:
    """Asset keys mirror table paths: `bronze/boxscore` -> AssetKey(["bronze", "boxscore"])."""
    return AssetKey(table.split("/"))


def _spec(table: str) -> AssetSpec:
    return AssetSpec(
        key=table_key(table),
        description=f"{bt.DESCRIPTIONS[table]} Accumulates partition by partition (daily game dates); "
                    "a run replaces exactly its dates.",
        group_name="bronze",
        kinds={"delta", "python"},
        owners=OWNERS,
        code_version=BRONZE_CODE_VERSION,
        tags={"layer": "bronze", "update": "append-by-partition"},
        metadata={"dagster/table_name": table,
                  "dagster/column_schema": TableSchema(columns=[TableColumn(f.name, str(f.type))
                                                                for f in bt.SCHEMAS[table]])},
    )


GAMES_KEY = table_key(bt.GAMES)
CHECKS = [
    AssetCheckSpec("unique_game_keys", asset=GAMES_KEY,
                   description="Each game id appears once in the window (ledger and every response table)."),
    AssetCheckSpec("games_complete", asset=GAMES_KEY,
                   description="Every scheduled game of the window is final with boxscore, play-by-play and "
                               "shift chart (WARN: incomplete days are re-requested later)."),
]


def _keep_stored(wh, day) -> list[str]:
    """The stored responses of a day's games the re-fetch lost (see `tables.keep_stored`)."""
    ids = bt.games_to_protect(day)
    if not ids:
        return []
    one_day = DateWindow(day.day, day.day)
    ledger_t = wh.read_arrow(bt.GAMES, one_day, columns=["gameId", "hasBoxscore", "hasPlayByPlay", "hasShiftChart"])
    ledger = {r["gameId"]: r for r in ledger_t.to_pylist()} if ledger_t is not None else {}
    stored = {}
    for endpoint, table in bt.ENDPOINT_TABLES.items():
        t = wh.read_arrow(table, one_day, columns=["gameId", "endpoint", "request", "httpStatus", "body",
                                                    "fetchedAt", "attempts"])
        for r in (t.to_pylist() if t is not None else []):
            if r["gameId"] in ids:
                stored[(endpoint, r["gameId"])] = r
    return bt.keep_stored(day, ledger, stored)


@multi_asset(
    name="bronze_nhl_api",
    specs=[_spec(t) for t in bt.BRONZE_TABLES],
    check_specs=CHECKS,
    partitions_def=game_date_partitions(),
    backfill_policy=BackfillPolicy.single_run(),
    can_subset=False,
)
def bronze_nhl_api(context: AssetExecutionContext, nhl_api: NHLApiResource, warehouse: WarehouseResource):
    """Fetch the window's schedules, then each regular-season/playoff game's boxscore, play-by-play and
    shift chart, and replace the window in every bronze table."""
    started = time.monotonic()
    window = DateWindow.from_key_range(context.partition_key_range)
    wh = warehouse.get()
    stats = bt.DayStats()
    run_id = context.run.run_id
    seen: dict[str, list[int]] = {t: [] for t in (bt.GAMES, *bt.ENDPOINT_TABLES.values())}
    incomplete: dict[str, list[str]] = {}
    context.log.info(f"bronze: fetching {len(window)} day(s) {window}")
    with nhl_api.open() as source, bt.StagedTables() as staged:
        for i, day in enumerate(fetch_days(source, window.days()), start=1):
            kept = _keep_stored(wh, day)
            if kept:
                context.log.warning(f"bronze: {day.day}: re-fetch failed for {len(kept)} response(s) bronze "
                                    f"already held whole; kept the stored ones: {kept[:10]}")
            rows = bt.day_rows(day, run_id)
            for table, ids in seen.items():
                ids.extend(r["gameId"] for r in rows[table])
            incomplete.update({str(r["gameId"]): r["missing"] for r in rows[bt.GAMES] if not r["isComplete"]})
            staged.append(rows)
            stats.add(day)
            if i % 30 == 0 or i == len(window):
                context.log.info(f"bronze: {i}/{len(window)} days fetched, {stats.games} games, "
                                 f"{source.stats.calls} API calls")
        api = source.stats.snapshot()
        # a factory, not a reader: a commit lost to a concurrent backfill is retried with the same rows
        writes = {table: wh.replace_window(table, lambda t=table: staged.reader(t), window,
                                           partition_by=bt.PARTITION_BY,
                                           run_id=run_id, description=bt.DESCRIPTIONS[table])
                  for table in bt.BRONZE_TABLES}
        data_versions = {t: versions.data_version(staged.reader(t).read_all()) for t in bt.BRONZE_TABLES}
        data_versions[bt.SCHEDULE] = versions.data_version(bt.schedule_content(staged.reader(bt.SCHEDULE).read_all()))
    wall = round(time.monotonic() - started, 3)
    common = {
        "days": len(window),
        "games": stats.games,
        "complete_games": stats.complete_games,
        "incomplete_games": stats.incomplete_games,
        "incomplete_days": MetadataValue.json(stats.incomplete_days or []),
        "responses": stats.responses,
        "bytes": stats.bytes,
        "api_calls": api["calls"],
        "retries": api["retries"],
        "failed_requests": api["failures"],
        "wall_time_s": wall,
    }
    if stats.incomplete_games:
        context.log.warning(f"bronze: {stats.incomplete_games} incomplete game(s) recorded in bronze/games; "
                            f"days {stats.incomplete_days} will be re-requested")
    duplicates = {t: sorted(i for i, n in Counter(ids).items() if n > 1) for t, ids in seen.items()}
    duplicates = {t: d for t, d in duplicates.items() if d}
    yield AssetCheckResult(asset_key=GAMES_KEY, check_name="unique_game_keys", passed=not duplicates,
                           metadata={"duplicates": MetadataValue.json(duplicates)})
    yield AssetCheckResult(asset_key=GAMES_KEY, check_name="games_complete", passed=not incomplete,
                           severity=AssetCheckSeverity.WARN,
                           metadata={"incomplete_games": len(incomplete),
                                     "missing": MetadataValue.json(dict(list(incomplete.items())[:200]))})
    for table, write in writes.items():
        yield MaterializeResult(
            asset_key=table_key(table),
            data_version=DataVersion(data_versions[table]),
            metadata={**common, **write.metadata(),
                      "dagster/uri": MetadataValue.path(write.uri),
                      "dagster/row_count": write.rows_written},
        )
