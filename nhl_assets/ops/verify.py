"""`nhl-assets verify`: the checks the replaced system's operators ran by hand, as one command (no Dagster).

Per table: it exists, its rows and max game date, key uniqueness. Across tables: every game date's
ledger matches its schedule (`bronze/games` has exactly `numberOfGames` games), every game the ledger
says was fetched has its raw response, and silver holds every final game bronze holds (schedule and
player rows, unless quarantined). Failures make the exit code non-zero; incomplete games (late shift
charts, games not final) are expected states of a live season and are reported as warnings.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from nhl_assets.catalog import TABLES, bronze as cb, silver as cs
from nhl_assets.storage.delta import Warehouse

ERROR, WARN, OK = "error", "warn", "ok"


@dataclass(frozen=True)
class Check:
    name: str
    table: str
    status: str  # ok / warn / error
    detail: str


def _table_checks(wh: Warehouse) -> list[Check]:
    out = []
    for name, info in TABLES.items():
        dt = wh.open(name)
        if dt is None:
            out.append(Check("exists", name, ERROR, "table missing (run `nhl-assets migrate apply`)"))
            continue
        cols = [c for c in (*(info.key or ()), info.date_column) if c]
        cols = list(dict.fromkeys(c for c in cols if c in dt.schema().to_arrow().names))
        frame = pl.from_arrow(dt.to_pyarrow_table(columns=cols)) if cols else None
        rows = dt.to_pyarrow_dataset().count_rows()
        max_date = frame.get_column(info.date_column).max() if frame is not None and info.date_column in cols \
            and rows else None
        out.append(Check("rows", name, OK, f"{rows:,} rows, max game date {max_date or '-'}, version {dt.version()}"))
        if info.key and frame is not None and all(k in cols for k in info.key):
            dups = frame.height - frame.select(list(info.key)).unique().height
            out.append(Check("unique_key", name, ERROR if dups else OK,
                             f"{dups} duplicate ({', '.join(info.key)})" if dups else f"({', '.join(info.key)}) unique"))
    return out


def _schedule_checks(wh: Warehouse) -> list[Check]:
    sched = wh.read_frame(cb.SCHEDULE.name, columns=["gameDate", "numberOfGames", "httpStatus"])
    games = wh.read_frame(cb.GAMES.name, columns=["gameDate", "gameId", "isFinal", "isComplete", "hasBoxscore",
                                        "hasPlayByPlay", "hasShiftChart"])
    if sched is None or games is None:
        return []
    out = []
    per_day = games.group_by("gameDate").len()
    joined = sched.join(per_day, on="gameDate", how="full", coalesce=True).with_columns(
        pl.col("numberOfGames").fill_null(-1), pl.col("len").fill_null(0))
    bad = joined.filter(pl.col("numberOfGames") != pl.col("len"))
    out.append(Check("ledger_matches_schedule", cb.GAMES.name, ERROR if bad.height else OK,
                     f"{bad.height} date(s) whose ledger differs from the schedule, e.g. "
                     f"{[(str(d), n, m) for d, n, m in bad.select('gameDate', 'numberOfGames', 'len').head(3).rows()]}"
                     if bad.height else f"{sched.height} dates, ledger = schedule on every date"))
    incomplete = games.filter(~pl.col("isComplete"))
    out.append(Check("games_complete", cb.GAMES.name, WARN if incomplete.height else OK,
                     f"{incomplete.height} incomplete game(s) on {incomplete.get_column('gameDate').n_unique()} "
                     "date(s) (re-requested until complete)" if incomplete.height else "every game complete"))
    for table, flag in ((cb.BOXSCORE.name, "hasBoxscore"), (cb.PLAY_BY_PLAY.name, "hasPlayByPlay"),
                        (cb.SHIFT_CHARTS.name, "hasShiftChart")):
        stored = wh.read_frame(table, columns=["gameId", "httpStatus"])
        if stored is None:
            continue
        want = games.filter(pl.col(flag)).select("gameId")
        missing = want.join(stored.filter(pl.col("httpStatus") == 200), on="gameId", how="anti")
        out.append(Check("responses_stored", table, ERROR if missing.height else OK,
                         f"{missing.height} game(s) marked fetched without a stored 200 response, e.g. "
                         f"{missing.get_column('gameId').head(3).to_list()}" if missing.height
                         else f"{want.height} fetched games all stored"))
    return out


def _silver_checks(wh: Warehouse) -> list[Check]:
    games = wh.read_frame(cb.GAMES.name, columns=["gameDate", "gameId", "isFinal", "hasPlayByPlay"])
    silver = wh.read_frame(cs.SCHEDULE.name, columns=["gameId"])
    players = wh.read_frame(cs.PLAYER_GAME_STATS.name, columns=["gameId", "playerId"])
    quarantine = wh.read_frame(cs.QUARANTINE.name, columns=["gameId"])
    if games is None or silver is None or players is None:
        return []
    out = []
    final = games.filter(pl.col("isFinal"))
    missing = final.join(silver, on="gameId", how="anti")
    out.append(Check("silver_schedule_vs_bronze", cs.SCHEDULE.name, ERROR if missing.height else OK,
                     f"{missing.height} final game(s) in bronze missing from silver/schedule, e.g. "
                     f"{missing.get_column('gameId').head(3).to_list()} (materialize silver for their dates)"
                     if missing.height else f"{final.height} final games in bronze, all in silver/schedule"))
    parsed = final.filter(pl.col("hasPlayByPlay")).select("gameId")
    if quarantine is not None:
        parsed = parsed.join(quarantine.drop_nulls("gameId").unique(), on="gameId", how="anti")
    missing = parsed.join(players.select("gameId").unique(), on="gameId", how="anti")
    out.append(Check("silver_players_vs_bronze", cs.PLAYER_GAME_STATS.name, ERROR if missing.height else OK,
                     f"{missing.height} final game(s) with play-by-play and no player rows (nor quarantine), e.g. "
                     f"{missing.get_column('gameId').head(3).to_list()}" if missing.height
                     else f"{parsed.height} parsed games all have player rows"))
    per_player = players.group_by("gameId", "playerId").len().filter(pl.col("len") != 5)
    out.append(Check("five_situations", cs.PLAYER_GAME_STATS.name, ERROR if per_player.height else OK,
                     f"{per_player.height} player-games without exactly 5 situation rows" if per_player.height
                     else "every player-game has its 5 situation rows"))
    return out


def verify(wh: Warehouse) -> list[Check]:
    """Every check; the caller decides how to show them (exit code != 0 when any is an error)."""
    return _table_checks(wh) + _schedule_checks(wh) + _silver_checks(wh)


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status == ERROR]
