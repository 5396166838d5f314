"""Silver frames versus the NHL's boxscore for the same games: every difference, nothing tolerated but
ice time within 2 seconds (the boxscore rounds nothing, but shift charts and TOI reports are kept apart).

Why a reconciliation at all: the silver numbers are *derived* (play-by-play events and shift charts); the
boxscore is the official record. Comparing them per player and per team on every materialization is what
proves the parsing conventions (which events count for whom, shootout excluded, duplicate shift rows…)
are the NHL's. A number the official record does not carry (legacy boxscores have no shifts, giveaways,
takeaways) or that silver does not know for a reason it publishes (no shift chart: ice time and shifts
are null) is not compared and not counted as checked. Games that are not in the frames (rejected as
malformed) are reported by `SilverFrames.rejected`, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from nhl_assets.parse.boxscore import BOX_PLAYER_SCHEMA, BOX_TEAM_SCHEMA, player_rows, team_rows
from nhl_assets.parse.errors import ParseError
from nhl_assets.parse.isolate import failing_alone
from nhl_assets.parse.game_stats import SilverFrames

MISMATCH_SCHEMA: dict[str, pl.DataType] = {
    "gameId": pl.Int64, "scope": pl.String, "key": pl.String, "stat": pl.String, "derived": pl.Int64,
    "official": pl.Int64,
}
TOI_TOLERANCE_S = 2
_SHIFT_STATS = ("toiSeconds", "shifts")
_SKATER_STATS = ("goals", "assists", "points", "sog", "hits", "blockedShots", "giveaways", "takeaways", "pim",
                 "toiSeconds", "shifts")
_GOALIE_STATS = ("shotsAgainst", "saves", "goalsAgainst", "pim", "toiSeconds")
_TEAM_STATS = ("goals", "sog")


@dataclass(frozen=True)
class Reconciliation:
    """Differences between derived and official numbers, and how much was compared."""

    mismatches: pl.DataFrame  # gameId, scope (player/goalie/team/game), key, stat, derived, official
    games: int
    players: int
    values_checked: int


def _official(boxscores: Sequence[dict], games: set[int]) -> tuple[pl.DataFrame, pl.DataFrame, list[dict]]:
    """Official player and team rows of the games in the frames, and rows for unparseable boxscores.

    One frame of each for the whole batch: a frame per game cost four times reading the game. A boxscore
    holding a number the frame cannot take (an integer beyond 64 bits, which JSON allows) fails that frame
    for every game; the batch is then built box by box (`_without_unfit_boxes`), that boxscore is named
    unparseable, and the others are compared as before."""
    rows: list[tuple[int, list[dict], list[dict]]] = []  # (gameId, player rows, team rows) per boxscore
    bad: list[dict] = []
    for box in boxscores:
        try:
            gid = box.get("id") if isinstance(box, dict) else None
            if type(gid) is not int or gid not in games:  # an id of another type names no game of the batch
                continue
            rows.append((gid, player_rows(box), team_rows(box)))
        except ParseError as exc:
            bad.append(_unparseable(exc.game_id or gid, exc.reason))
    try:
        p, t = _frames(rows)
    except _UNFIT_ERRORS as exc:
        p, t = _without_unfit_boxes(rows, bad, exc)
    return p.unique(["gameId", "playerId"], keep="first"), t.unique(["gameId", "team"], keep="first"), bad


#: What building the official frames raises for a value beyond 64 bits (polars: TypeError or a
#: PolarsError such as ComputeError; numpy: OverflowError).
_UNFIT_ERRORS = (TypeError, OverflowError, pl.exceptions.PolarsError)


def _unparseable(gid: Any, reason: str) -> dict:
    return {"gameId": gid, "scope": "game", "key": str(gid), "stat": f"boxscore unparseable: {reason}",
            "derived": None, "official": None}


def _frames(rows: Sequence[tuple[int, list[dict], list[dict]]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    return (pl.DataFrame([r for _, players, _ in rows for r in players], schema=BOX_PLAYER_SCHEMA),
            pl.DataFrame([r for _, _, teams in rows for r in teams], schema=BOX_TEAM_SCHEMA))


def _without_unfit_boxes(rows: Sequence[tuple[int, list[dict], list[dict]]], bad: list[dict],
                         exc: Exception) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The frames without the boxscores whose rows fail alone (`isolate.failing_alone`), each added to
    `bad` naming the error."""
    unfit = failing_alone(rows, _frames, _UNFIT_ERRORS, exc)
    bad += [_unparseable(rows[i][0], f"a number its columns cannot hold: {why}") for i, why in unfit.items()]
    return _frames([one for i, one in enumerate(rows) if i not in unfit])


def _derived_players(frames: SilverFrames) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Skater and goalie `all` rows renamed to the boxscore's stat names."""
    c = pl.col
    sk = frames.players.filter(c("situation") == "all").select(
        "gameId", "playerId", c("I_F_goals").alias("goals"),
        (c("I_F_primaryAssists") + c("I_F_secondaryAssists")).alias("assists"), c("I_F_points").alias("points"),
        c("I_F_shotsOnGoal").alias("sog"), c("I_F_hits").alias("hits"),
        c("shotsBlockedByPlayer").alias("blockedShots"), c("I_F_giveaways").alias("giveaways"),
        c("I_F_takeaways").alias("takeaways"), c("penalityMinutes").alias("pim"),
        c("icetime").alias("toiSeconds"), "shifts")
    go = frames.goalies.filter(c("situation") == "all").select(
        "gameId", "playerId", "shotsAgainst", "saves", "goalsAgainst", c("penalityMinutes").alias("pim"),
        c("icetime").alias("toiSeconds"))
    return sk, go


def _compare_players(official: pl.DataFrame, derived: pl.DataFrame, stats: tuple[str, ...], scope: str
                     ) -> tuple[pl.DataFrame, int, int]:
    """(mismatch rows, players compared, values compared) for one scope."""
    c = pl.col
    games = derived.select("gameId").unique()
    off = official.join(games, on="gameId", how="semi").select(["gameId", "playerId", *stats])
    der = derived.select(["gameId", "playerId", *stats]).with_columns(_present=pl.lit(True))
    joined = off.join(der, on=["gameId", "playerId"], how="left", suffix="_d")
    long = pl.concat([
        joined.select("gameId", "playerId", "_present", pl.lit(s).alias("stat"),
                      c(f"{s}_d").cast(pl.Int64).alias("derived"), c(s).cast(pl.Int64).alias("official"))
        for s in stats])
    long = long.filter(c("official").is_not_null())
    missing = c("_present").is_null()
    unknown = c("derived").is_null() & c("stat").is_in(list(_SHIFT_STATS)) & ~missing
    long = long.filter(~unknown)
    diff = (c("derived") - c("official")).abs()
    bad = missing | pl.when(c("stat") == "toiSeconds").then(diff > TOI_TOLERANCE_S).otherwise(diff != 0)
    mism = long.filter(bad.fill_null(True)).select(
        "gameId", pl.lit(scope).alias("scope"), c("playerId").cast(pl.String).alias("key"), "stat", "derived",
        "official")
    boxed = off.select("gameId").unique()
    extra = der.join(boxed, on="gameId", how="semi").join(off, on=["gameId", "playerId"], how="anti").select(
        "gameId", pl.lit(scope).alias("scope"), c("playerId").cast(pl.String).alias("key"),
        pl.lit("present").alias("stat"), pl.lit(1, dtype=pl.Int64).alias("derived"),
        pl.lit(0, dtype=pl.Int64).alias("official"))
    checked = long.height + extra.height
    return pl.concat([mism, extra]), off.height, checked


def _compare_teams(official: pl.DataFrame, frames: SilverFrames) -> tuple[pl.DataFrame, int]:
    """Team goals (final score minus the shootout winner's extra goal) and shots on goal."""
    c = pl.col
    so_winner = (c("lastPeriodType") == "SO") & (c("score") == c("score").max().over("gameId")) & \
        (c("score").n_unique().over("gameId") == 2)
    off = official.with_columns((c("score") - so_winner.cast(pl.Int64)).alias("goals")).select(
        "gameId", "team", "goals", "sog")
    der = frames.teams.filter(c("situation") == "all").select(
        "gameId", "team", c("goalsFor").alias("goals"), c("shotsOnGoalFor").alias("sog"))
    joined = off.join(der, on=["gameId", "team"], how="inner", suffix="_d")
    long = pl.concat([joined.select("gameId", "team", pl.lit(s).alias("stat"), c(f"{s}_d").alias("derived"),
                                    c(s).alias("official")) for s in _TEAM_STATS]).filter(
        c("official").is_not_null())
    mism = long.filter((c("derived") != c("official")).fill_null(True)).select(
        "gameId", pl.lit("team").alias("scope"), c("team").alias("key"), "stat", "derived", "official")
    return mism, long.height


def reconcile(frames: SilverFrames, boxscores: Sequence[dict]) -> Reconciliation:
    """Compare per player (skaters, goalies) and per team with the official boxscores (either schema)."""
    games = set(frames.players.get_column("gameId").unique().to_list()) | \
        set(frames.teams.get_column("gameId").unique().to_list())
    off_players, off_teams, bad = _official(boxscores, games)
    sk, go = _derived_players(frames)
    m_sk, n_sk, v_sk = _compare_players(off_players.filter(~pl.col("isGoalie")), sk, _SKATER_STATS, "player")
    m_go, n_go, v_go = _compare_players(off_players.filter(pl.col("isGoalie")), go, _GOALIE_STATS, "goalie")
    m_tm, v_tm = _compare_teams(off_teams, frames)
    mismatches = pl.concat([m.cast(MISMATCH_SCHEMA) for m in (m_sk, m_go, m_tm)] +
                           [pl.DataFrame(bad, schema=MISMATCH_SCHEMA)], how="vertical")
    return Reconciliation(
        mismatches=mismatches.sort("gameId", "scope", "key", "stat"),
        games=off_teams.get_column("gameId").n_unique(),
        players=n_sk + n_go,
        values_checked=v_sk + v_go + v_tm,
    )
