"""Every table of the warehouse: its key, date column and layout (no Dagster, no I/O).

Why a catalog: migrations, `verify`, `history` and the disaster drills need to know, for any table,
which columns identify a row and which date places it in a partition, without importing the asset
code. Schemas are not here: table definitions are created by migration 0001 (frozen) and evolve by
additive writes or later migrations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableInfo:
    """What the operations tooling needs to know about one table."""

    name: str
    key: tuple[str, ...] | None  # None: no unique key (append-only logs, quarantine)
    date_column: str | None = "gameDate"
    partition_by: tuple[str, ...] = ()  # the Delta partitioning the current code writes
    refresh: bool = False  # recomputed whole (unpartitioned asset) instead of by game-date window

    @property
    def layer(self) -> str:
        return self.name.split("/", 1)[0]


_GAME = ("gameId",)
_SIT = ("situation",)

TABLES: dict[str, TableInfo] = {t.name: t for t in (
    TableInfo("bronze/schedule", ("gameDate",), partition_by=("gameDate",)),
    TableInfo("bronze/boxscore", _GAME, partition_by=("gameDate",)),
    TableInfo("bronze/play_by_play", _GAME, partition_by=("gameDate",)),
    TableInfo("bronze/shift_charts", _GAME, partition_by=("gameDate",)),
    TableInfo("bronze/games", _GAME, partition_by=("gameDate",)),
    TableInfo("silver/player_game_stats", ("gameId", "playerId", *_SIT), partition_by=("season",)),
    TableInfo("silver/team_game_stats", ("gameId", "team", *_SIT), partition_by=("season",)),
    TableInfo("silver/goalie_game_stats", ("gameId", "playerId", *_SIT), partition_by=("season",)),
    TableInfo("silver/schedule", _GAME, partition_by=("season",)),
    TableInfo("silver/quarantine", None),
    TableInfo("gold/upcoming_schedule", _GAME, refresh=True),
    TableInfo("gold/skater_season_stats", ("season", "playerId", "team", *_SIT), date_column=None, refresh=True),
    TableInfo("gold/player_game_features", ("gameId", "playerId"), partition_by=("season",)),
    TableInfo("gold/team_game_features", ("gameId", "team"), partition_by=("season",)),
    TableInfo("gold/sog_model", ("trainedAt",), date_column=None, refresh=True),
    TableInfo("gold/sog_predictions", ("gameId", "playerId"), partition_by=("season",)),
)}

#: Append-only ledgers of the tooling itself (not assets).
META_MIGRATIONS = "_meta/migrations"
META_OPERATIONS = "_meta/operations"


def info(table: str) -> TableInfo:
    """The catalog entry of `table`; unknown tables are an error (a typo must not verify as 'fine')."""
    try:
        return TABLES[table]
    except KeyError:
        raise KeyError(f"unknown table {table!r}; known: {', '.join(TABLES)}") from None


def partition_by(table: str) -> list[str]:
    return list(info(table).partition_by)


#: Tag a job carries for each table it writes (`nhl/writes.silver.schedule`): the production run queue
#: (nhl_assets/deploy/dagster.yaml) lets one run at a time hold each of them, so two runs never race for
#: a table while runs writing different tables (bronze of one chunk, silver of the previous) go side by side.
WRITES_TAG_PREFIX = "nhl/writes."


def writes_tag(table: str) -> str:
    """The queue tag of a writer of `table` (one slash: Dagster tag keys allow a single namespace)."""
    return WRITES_TAG_PREFIX + table.replace("/", ".")


def writes_tags(*tables: str) -> dict[str, str]:
    """Tags of a job that writes `tables` (each checked against the catalog)."""
    return {writes_tag(info(t).name): "1" for t in tables}
