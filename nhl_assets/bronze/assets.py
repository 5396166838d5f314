"""Bronze assets: every NHL API response of a game-date window, stored raw in Delta.

One multi-asset fetches a window once and writes the five bronze tables; each table's write replaces
exactly the window's rows in one commit (see `nhl_assets.storage.delta`). The schedules of the whole
window are fetched before anything else, so a day whose schedule cannot be fetched fails the run
before any table is touched.

The same asset imports saved API responses (`import_dir` in its run config; job `nhl_import_raw`,
`nhl-assets import-raw DIR`): an import is a bronze materialization of the files' dates like any
other, so lineage, data versions (silver goes stale only where bronze changed) and the sensor see it.
"""


import time
from collections import Counter
from datetime import date, timedelta
from functools import partial
from typing import Optional

import orjson

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    Config,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from pydantic import Field

from nhl_assets import catalog, settings, specs, versions
from nhl_assets.bronze import importer
from nhl_assets.bronze import tables as bt
from nhl_assets.dates import DateWindow, eastern_today
from nhl_assets.partitions import game_date_partitions
from nhl_assets.resources import AutomationConfig, NHLApiResource, WarehouseResource
from nhl_assets.source.types import NHLSourceError
from nhl_assets.source.games import fetch_days
from nhl_assets.storage.delta import write_concurrently

#: Bump when the fetch or the bronze row layout changes (shown in the UI as the assets' code version).
BRONZE_CODE_VERSION = "1"
#: The job that imports saved responses into bronze (the asset refuses to call the API under it).
IMPORT_JOB = "nhl_import_raw"


def _spec(table: str) -> AssetSpec:
    return AssetSpec(
        key=specs.asset_key(table),
        description=specs.description(table),
        group_name="bronze",
        kinds={"delta", "python"},
        owners=specs.OWNERS,
        code_version=BRONZE_CODE_VERSION,
        tags=specs.tags(table),
        metadata=specs.metadata(table),
    )


GAMES_KEY = specs.asset_key(bt.GAMES)
CHECKS = [
    AssetCheckSpec("unique_game_keys", asset=GAMES_KEY,
                   description="Each game id appears once in the window (ledger and every response table)."),
    AssetCheckSpec("games_complete", asset=GAMES_KEY,
                   description="Every scheduled game of the window is final with boxscore, play-by-play and "
                               "shift chart (WARN: incomplete days are re-requested later)."),
    AssetCheckSpec("no_incomplete_beyond_sensor", asset=GAMES_KEY,
                   description="No game of the window is still incomplete on a date older than the sensor's "
                               "give_up_days: nothing re-requests those automatically. Re-fetch them with "
                               "`nhl-assets backfill --start A --end B --incomplete-only` (or this job with "
                               "only_incomplete: true)."),
]


_LEDGER_FLAGS = ["gameId", "isComplete", "hasBoxscore", "hasPlayByPlay", "hasShiftChart"]


def _keep_stored(wh, day) -> list[str]:
    """The stored responses of a day's games the re-fetch lost or did not request (`tables.keep_stored`)."""
    ids = bt.games_to_protect(day)
    if not ids:
        return []
    one_day = DateWindow(day.day, day.day)
    ledger_t = wh.read_arrow(bt.GAMES, one_day, columns=_LEDGER_FLAGS)
    ledger = {r["gameId"]: r for r in ledger_t.to_pylist()} if ledger_t is not None else {}
    stored = {}
    for endpoint, table in bt.ENDPOINT_TABLES.items():
        t = wh.read_arrow(table, one_day, columns=["gameId", "endpoint", "request", "httpStatus", "body",
                                                    "fetchedAt", "attempts"])
        for r in (t.to_pylist() if t is not None else []):
            if r["gameId"] in ids:
                stored[(endpoint, r["gameId"])] = r
    return bt.keep_stored(day, ledger, stored)


class BronzeRunConfig(Config):
    """Where a bronze run takes its responses from (launchpad: `ops: bronze_nhl_api: config:`)."""

    import_dir: Optional[str] = Field(
        default=None,
        description="A folder of saved NHL API responses (play-by-play, boxscores, shift charts, schedules; any "
                    "names, nested, .json or .json.gz). When set, the run imports the files dated in its "
                    "partition range instead of calling the API, merging them into the stored rows of those "
                    "dates (source `import`). An absolute path, as the code server sees it.")
    only_incomplete: bool = Field(
        default=False,
        description="Re-fetch only what bronze still lacks in the partition range: for each date with an "
                    "incomplete game, its schedule and the missing responses of its incomplete games; every other "
                    "stored response and date is written back as it is. What `nhl-assets backfill` runs after its "
                    "chunks, and with --incomplete-only.")


class _Tally:
    """Per-run bookkeeping over the staged rows: counts, ids per table (duplicates check), incomplete games."""

    def __init__(self) -> None:
        self.stats = bt.DayStats()
        self.seen: dict[str, list[int]] = {t: [] for t in (bt.GAMES, *bt.ENDPOINT_TABLES.values())}
        self.incomplete: dict[str, list[str]] = {}
        self.incomplete_on: dict[str, date] = {}  # gameId -> its game date

    def add(self, day, rows: dict[str, list[dict]]) -> None:
        for table, ids in self.seen.items():
            ids.extend(r["gameId"] for r in rows[table])
        for r in rows[bt.GAMES]:
            if not r["isComplete"]:
                self.incomplete[str(r["gameId"])] = r["missing"]
                self.incomplete_on[str(r["gameId"])] = r["gameDate"]
        self.stats.add(day, rows)


def _incomplete_ledger(wh, window: DateWindow) -> dict[date, dict[int, dict]]:
    """The stored `bronze/games` rows of the window's dates that hold an incomplete game, by date and game."""
    t = wh.read_arrow(bt.GAMES, window, columns=["gameDate", *_LEDGER_FLAGS])
    by_day: dict[date, dict[int, dict]] = {}
    for r in (t.to_pylist() if t is not None else []):
        by_day.setdefault(r["gameDate"], {})[r["gameId"]] = r
    return {d: games for d, games in sorted(by_day.items()) if not all(g["isComplete"] for g in games.values())}


def _stage_stored(wh, window: DateWindow, skip: set[date], staged: bt.StagedTables, tally: "_Tally") -> None:
    """Stage the stored rows of the window's dates not in `skip`, as they are (the window is replaced whole)."""
    for chunk in window.chunks(7):  # bounded memory: a week of stored bodies at a time
        stored = importer.read_stored(wh, chunk)
        for day in chunk.days():
            if day in skip or day not in stored:
                continue
            rows = stored[day].rows()
            staged.append(rows)
            tally.add(day, rows)


def _api_today(source) -> date | None:
    """The NHL's today as the API sees it (the first date of `/v1/schedule/now`), as the sensor reads it;
    None when the API cannot say (the caller falls back to the Eastern wall clock)."""
    try:
        week = orjson.loads(source.schedule_now().raw.body).get("gameWeek") or []
        return date.fromisoformat(week[0]["date"]) if week else None
    except (NHLSourceError, KeyError, ValueError, AttributeError, orjson.JSONDecodeError):
        return None


def _stage_api(context: AssetExecutionContext, nhl_api: NHLApiResource, wh, window: DateWindow,
               staged: bt.StagedTables, tally: _Tally, only_incomplete: bool = False) -> tuple[dict, date | None]:
    """Fetch the window from the NHL API into `staged`; returns the run's API counters and the API's today.

    With `only_incomplete`, only the dates holding an incomplete game are fetched, and of their games only
    the responses bronze lacks (`tables.endpoints_to_retry`); everything else is written back as stored.
    """
    days = window.days()
    retry: dict[date, dict[int, dict]] | None = None
    if only_incomplete:
        retry = _incomplete_ledger(wh, window)
        days = list(retry)
        _stage_stored(wh, window, set(days), staged, tally)
        ids = sorted(g for games in retry.values() for g, r in games.items() if not r["isComplete"])
        context.log.info(f"bronze: retrying {len(ids)} incomplete game(s) on {len(days)} date(s) of {window}: "
                         f"{ids[:50]}")

    def wanted(game) -> tuple[str, ...]:
        return bt.endpoints_to_retry(retry[game.game_date].get(game.game_id)) if retry is not None \
            else tuple(bt.ENDPOINT_TABLES)

    context.log.info(f"bronze: fetching {len(days)} day(s) {window}")
    with nhl_api.open() as source:
        for i, day in enumerate(fetch_days(source, days, endpoints_for=wanted if retry is not None else None),
                                start=1):
            kept = _keep_stored(wh, day)
            requested = {g.game_id: wanted(g) for g in day.games}
            lost = [k for k in kept if k.split(":")[1] in requested.get(int(k.split(":")[0]), ())]
            if lost:
                context.log.warning(f"bronze: {day.day}: re-fetch failed for {len(lost)} response(s) bronze "
                                    f"already held whole; kept the stored ones: {lost[:10]}")
            rows = bt.day_rows(day, context.run.run_id)
            staged.append(rows)
            tally.add(day.day, rows)
            if i % 30 == 0 or i == len(days):
                context.log.info(f"bronze: {i}/{len(days)} days fetched, {tally.stats.games} games, "
                                 f"{source.stats.calls} API calls")
        today = _api_today(source) if tally.incomplete else None  # only the completeness check needs it
        api = source.stats.snapshot()
    md = {"api_calls": api["calls"], "retries": api["retries"], "failed_requests": api["failures"]}
    if retry is not None:
        md["retried_dates"] = len(days)
    return md, today


def _stage_import(context: AssetExecutionContext, wh, window: DateWindow, import_dir: str,
                  staged: bt.StagedTables, tally: _Tally) -> tuple[dict, dict]:
    """Merge the saved responses of `import_dir` dated in the window into the stored rows (zero API calls).

    The window is replaced as a unit, so every stored row of its dates is read and written back: the
    imported ones replace the same (gameId, endpoint) rows, nothing else changes (`importer.merge_day`).
    Returns the metadata of every table and the extra metadata of `bronze/games` (the skipped files).
    """
    plan = importer.scan(import_dir, known_dates=importer.known_game_dates(wh), first=settings.start_date(),
                         last=date.fromisoformat(game_date_partitions().get_last_partition_key()))
    outside = [d for d in plan.dates if d not in window]
    if outside:
        context.log.warning(f"import: {len(outside)} date(s) of {import_dir} lie outside this run's window {window}"
                            f" and are not imported by it; the folder spans {plan.dates[0]}...{plan.dates[-1]}")
    for skip in plan.skipped:
        context.log.warning(f"import: skipped {skip.path}: {skip.reason}")
    context.log.info(f"import: {plan.files_found} file(s) in {plan.root}, {len(plan.dates) - len(outside)} date(s) "
                     f"in {window}; merging into the stored rows")
    imported: dict[int, bool] = {}
    for chunk in window.chunks(7):  # bounded memory: a week of stored bodies at a time
        stored = importer.read_stored(wh, chunk)
        for day in chunk.days():
            held = stored.get(day, importer.StoredDay())
            if day in plan.days:
                merged = importer.merge_day(day, plan.days[day], held, context.run.run_id)
                rows = merged.rows
                imported.update(merged.imported_games)
            else:
                rows = held.rows()
            staged.append(rows)
            tally.add(day, rows)
    files = plan.imported_files([d for d in plan.dates if d in window])
    return {
        "api_calls": 0,
        "import_dir": str(plan.root),
        "files_found": plan.files_found,
        "files_imported": len(files),
        "files_superseded": len(plan.superseded),
        "files_skipped": len(plan.skipped),
        "imported_games": len(imported),
        "imported_games_complete": sum(imported.values()),
        "imported_games_incomplete": len(imported) - sum(imported.values()),
    }, {"skipped_files": MetadataValue.json([{"path": s.path, "reason": s.reason} for s in plan.skipped[:200]])}


def _beyond_sensor_check(tally: _Tally, window: DateWindow, today: date | None,
                         give_up_days: int) -> AssetCheckResult:
    """Fails while a game of the window is incomplete on a date the sensor no longer re-requests.

    `today` is the API's (the sensor's own notion of today); an import, or an API that cannot say, falls back
    to the Eastern wall clock.
    """
    today = today or eastern_today()
    horizon = today - timedelta(days=give_up_days)
    beyond = {g: {"gameDate": tally.incomplete_on[g].isoformat(), "missing": m}
              for g, m in tally.incomplete.items() if tally.incomplete_on[g] < horizon}
    return AssetCheckResult(
        asset_key=GAMES_KEY, check_name="no_incomplete_beyond_sensor", passed=not beyond,
        description=None if not beyond else (
            f"{len(beyond)} game(s) incomplete on dates before {horizon} (today {today} minus give_up_days "
            f"{give_up_days}): the sensor will not fetch them again. Run `nhl-assets backfill --start "
            f"{window.start} --end {window.end} --incomplete-only`."),
        metadata={"incomplete_beyond_sensor": len(beyond), "today": today.isoformat(),
                  "sensor_horizon": horizon.isoformat(), "give_up_days": give_up_days,
                  "games": MetadataValue.json(dict(list(beyond.items())[:200]))})


@multi_asset(
    name="bronze_nhl_api",
    specs=[_spec(t) for t in bt.BRONZE_TABLES],
    check_specs=CHECKS,
    partitions_def=game_date_partitions(),
    backfill_policy=BackfillPolicy.single_run(),
    can_subset=False,
)
def bronze_nhl_api(context: AssetExecutionContext, config: BronzeRunConfig, nhl_api: NHLApiResource,
                   warehouse: WarehouseResource, automation: AutomationConfig):
    """Fetch the window's schedules, then each regular-season/playoff game's boxscore, play-by-play and
    shift chart, and replace the window in every bronze table; or, with `import_dir`, import saved
    responses of the window's dates instead of calling the API."""
    started = time.monotonic()
    window = DateWindow.from_key_range(context.partition_key_range)
    wh = warehouse.get()
    tally = _Tally()
    run_id = context.run.run_id
    if context.run.job_name == IMPORT_JOB and not config.import_dir:
        raise Failure(f"{IMPORT_JOB} imports saved responses: set ops.bronze_nhl_api.config.import_dir to their "
                      "folder (the API is fetched by nhl_bronze / nhl_partitions)")
    if config.import_dir and config.only_incomplete:
        raise Failure("import_dir and only_incomplete exclude each other: an import reads saved files, "
                      "only_incomplete re-fetches from the API")
    today = None
    with bt.StagedTables() as staged:
        ledger_md: dict = {}  # only on bronze/games: a range run copies metadata into every partition's event
        if config.import_dir:
            source_md, ledger_md = _stage_import(context, wh, window, config.import_dir, staged, tally)
        else:
            source_md, today = _stage_api(context, nhl_api, wh, window, staged, tally, config.only_incomplete)
        # a factory, not a reader: a commit lost to a concurrent backfill is retried with the same rows;
        # the tables at once (delta-rs encodes outside the GIL), so the next chunk's fetch starts sooner
        writes = write_concurrently({
            table: partial(wh.replace_window, table, lambda t=table: staged.reader(t), window,
                           partition_by=catalog.partition_by(table), run_id=run_id,
                           description=catalog.info(table).description)
            for table in bt.BRONZE_TABLES})
        # hashed without the bodies (the sha256 column stands for them): reading them back costs seconds
        data_versions = {t: versions.data_version(staged.reader(t, [c for c in bt.SCHEMAS[t].names
                                                                     if c not in versions.VOLATILE]).read_all())
                         for t in bt.BRONZE_TABLES}
        data_versions[bt.SCHEDULE] = versions.data_version(bt.schedule_content(staged.reader(bt.SCHEDULE).read_all()))
    stats, incomplete = tally.stats, tally.incomplete
    common_incomplete = {"incomplete_game_list": MetadataValue.json(
        [{"gameId": int(g), "gameDate": tally.incomplete_on[g].isoformat(), "missing": m}
         for g, m in list(incomplete.items())[:500]])} if incomplete else {}
    wall = round(time.monotonic() - started, 3)
    common = {
        "days": len(window),
        "games": stats.games,
        "complete_games": stats.complete_games,
        "incomplete_games": stats.incomplete_games,
        "incomplete_days": MetadataValue.json(stats.incomplete_days or []),
        **common_incomplete,
        "responses": stats.responses,
        "bytes": stats.bytes,
        **source_md,
        "wall_time_s": wall,
    }
    if stats.incomplete_games:
        context.log.warning(f"bronze: {stats.incomplete_games} incomplete game(s) recorded in bronze/games; "
                            f"the sensor re-requests those of days {stats.incomplete_days[:60]} that are within "
                            "its give_up_days")
    yield _beyond_sensor_check(tally, window, today, automation.give_up_days)
    duplicates = {t: sorted(i for i, n in Counter(ids).items() if n > 1) for t, ids in tally.seen.items()}
    duplicates = {t: d for t, d in duplicates.items() if d}
    yield AssetCheckResult(asset_key=GAMES_KEY, check_name="unique_game_keys", passed=not duplicates,
                           metadata={"duplicates": MetadataValue.json(duplicates)})
    yield AssetCheckResult(asset_key=GAMES_KEY, check_name="games_complete", passed=not incomplete,
                           severity=AssetCheckSeverity.WARN,
                           metadata={"incomplete_games": len(incomplete),
                                     "missing": MetadataValue.json(dict(list(incomplete.items())[:200]))})
    for table, write in writes.items():
        yield MaterializeResult(
            asset_key=specs.asset_key(table),
            data_version=DataVersion(data_versions[table]),
            metadata={**common, **(ledger_md if table == bt.GAMES else {}), **write.metadata(),
                      "dagster/uri": MetadataValue.path(write.uri),
                      "dagster/row_count": write.rows_written},
        )
