"""A simulated history written day by day straight through the storage layer (benchmarks and tests).

Why not through HTTP and Dagster runs: what these callers study is the layout the daily routine leaves
in Delta (a file and a commit per table per run, re-fetched dates re-written), and building a season
that way through the loopback API would take most of an hour. Each day here is what the sensor's runs
do for it: bronze for the day (one commit per table, the rows `bronze.tables.day_rows` builds from the
simulator's payloads), re-fetches of the previous `lookback_days` dates (the same rows again, a commit
each, as a lookback that found no correction), then silver for the day from bronze.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone

import orjson
import pyarrow as pa

from nhl_assets import catalog
from nhl_assets.bronze import tables as bt
from nhl_assets.dates import DateWindow
from nhl_assets.silver import build as sb
from nhl_assets.source.types import RawResponse
from nhl_assets.source.games import DayFetch, GameFetch
from nhl_assets.storage.delta import Warehouse

#: The game types the pipeline loads (regular season and playoffs).
LOADED_TYPES = (2, 3)


def simulated_day(league, day: date, fetched_at: datetime | None = None) -> DayFetch:
    """What the API client would return for `day` when every game is final and complete."""
    now = fetched_at or datetime.now(timezone.utc)

    def raw(endpoint: str, request: str, payload: dict) -> RawResponse:
        return RawResponse(endpoint, request, "http://sim" + request, 200, orjson.dumps(payload), now, 1, 0.0)

    fetched = []
    for g in league.games_on(day):
        if g.game_type not in LOADED_TYPES:
            continue
        gf = GameFetch(g.id, day, g.season, g.game_type, "OFF", "OK", g.home_abbrev, g.away_abbrev, None)
        gf.responses = {
            "boxscore": raw("/v1/gamecenter/{gameId}/boxscore", f"/v1/gamecenter/{g.id}/boxscore",
                            league.boxscore_payload(g.id)),
            "play_by_play": raw("/v1/gamecenter/{gameId}/play-by-play", f"/v1/gamecenter/{g.id}/play-by-play",
                                league.play_by_play_payload(g.id)),
            "shift_chart": raw("/stats/rest/en/shiftcharts", f"/stats/rest/en/shiftcharts?gameId={g.id}",
                               league.shiftcharts_payload(g.id)),
        }
        fetched.append(gf)
    return DayFetch(day, raw("/v1/schedule/{date}", f"/v1/schedule/{day}", league.schedule_payload(day)), fetched)


def bronze_tables(day: DayFetch, run_id: str) -> dict[str, pa.Table]:
    """The day's rows of every bronze table, as Arrow tables of the bronze schemas."""
    return {table: pa.Table.from_pylist(rows, schema=bt.SCHEMAS[table])
            for table, rows in bt.day_rows(day, run_id=run_id).items()}


def write_bronze(wh: Warehouse, day: date, tables: dict[str, pa.Table]) -> None:
    """One bronze run for one date: a commit per table replacing that date's partition."""
    for table, rows in tables.items():
        wh.replace_window(table, rows, DateWindow(day, day), partition_by=catalog.partition_by(table))


def write_silver(wh: Warehouse, window: DateWindow) -> int:
    """What the silver asset does for `window`: build from bronze, replace the window in every silver table.
    Returns the games parsed."""
    built = sb.build_window(wh, window)
    sb.write_window(wh, window, built)
    return built.games


@dataclass
class HistoryStats:
    """What a day-by-day build wrote."""

    days: int = 0
    games: int = 0
    bronze_commits: int = 0
    silver_commits: int = 0


def build_day_by_day(wh: Warehouse, league, window: DateWindow, *, lookback_days: int = 3,
                     after_day: Callable[[date], None] | None = None) -> HistoryStats:
    """Write `window` one date at a time the way the daily sensor does (see the module docstring).

    `after_day` runs after each date (tests use it to write gold the same way; benchmarks report progress).
    """
    stats = HistoryStats()
    recent: deque[tuple[date, dict[str, pa.Table]]] = deque(maxlen=lookback_days)
    for day in window.days():
        tables = bronze_tables(simulated_day(league, day), run_id=f"daily:{day}")
        write_bronze(wh, day, tables)
        for earlier, rows in recent:  # the lookback re-fetch: unchanged content, new commits
            write_bronze(wh, earlier, rows)
        stats.bronze_commits += len(tables) * (1 + len(recent))
        if lookback_days:
            recent.append((day, tables))
        stats.games += write_silver(wh, DateWindow(day, day))
        stats.silver_commits += len(sb.SILVER_TABLES)
        stats.days += 1
        if after_day is not None:
            after_day(day)
    return stats
