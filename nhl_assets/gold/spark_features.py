"""The leakage-free gold features on Spark: the same definitions as `nhl_assets.transform.features`,
written as Spark SQL window functions and as-of joins.

The rule is kept the same way: every statistic is a *state after each played game* (windowed over the
entity's games in date order), and a target row takes the last state dated strictly before its own date.
The as-of join is a union of targets and states sorted by (keys, date, targets first), where each target
takes the last non-null state before it: at equal dates the target sorts first, so a game's own state is
never visible to it. Arithmetic follows the polars code operation for operation (sums over counts,
divisions guarded the same way), so both engines give identical values, which the parity test checks.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from nhl_assets.engine.spark_io import spark_type
from nhl_assets.transform.features import PLAYER_FEATURE_SCHEMA, TEAM_FEATURE_SCHEMA

_KEY_COLUMNS = ("gameId", "playerId", "gameDate", "season", "name", "position", "team", "opponent")


def _div(num: Column, den: Column) -> Column:
    """num / den as a double, null where polars gives NaN or infinity (0/0, x/0)."""
    return F.when(den != 0, num.cast("double") / den.cast("double"))


def player_games(players: DataFrame) -> DataFrame:
    """One row per skater-game: the `all` numbers plus power-play (5on4) ice time."""
    base = players.filter(F.col("situation") == "all").select(
        "gameId", "playerId", "gameDate", F.col("season").cast("int").alias("season"), "name", "position",
        F.col("playerTeam").alias("team"), F.col("opposingTeam").alias("opponent"),
        (F.col("home_or_away") == "HOME").cast("long").alias("home"),
        F.col("I_F_shotsOnGoal").alias("sog"), F.col("I_F_shotAttempts").alias("attempts"),
        F.col("icetime").alias("toi"))
    pp = players.filter(F.col("situation") == "5on4").select("gameId", "playerId", F.col("icetime").alias("pp_toi"))
    return base.join(pp, on=["gameId", "playerId"], how="left")


def team_games(teams: DataFrame) -> DataFrame:
    c = F.col
    return teams.filter(c("situation") == "all").select(
        "gameId", "team", "gameDate", c("season").cast("int").alias("season"), c("opposingTeam").alias("opponent"),
        (c("home_or_away") == "HOME").cast("long").alias("home"),
        c("shotsOnGoalFor").alias("sf"), c("shotsOnGoalAgainst").alias("sa"), c("goalsFor").alias("gf"),
        c("goalsAgainst").alias("ga"), c("shotAttemptsFor").alias("cf"), c("shotAttemptsAgainst").alias("ca"),
        c("penaltiesFor").alias("pen_taken"), c("penaltiesAgainst").alias("pen_drawn"))


def _last(k: int, *by: str) -> Window:
    """The entity's last `k` games up to and including this one."""
    return Window.partitionBy(*by).orderBy("gameDate").rowsBetween(-(k - 1), Window.currentRow)


def _todate(*by: str) -> Window:
    return Window.partitionBy(*by).orderBy("gameDate").rowsBetween(Window.unboundedPreceding, Window.currentRow)


def _mean(col: str, k: int, *by: str) -> Column:
    return F.avg(F.col(col).cast("double")).over(_last(k, *by))


def _n(*by: str) -> Column:
    return F.row_number().over(Window.partitionBy(*by).orderBy("gameDate")).cast("long")


def player_states(pg: DataFrame) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(recent form by player, season-to-date by player and season, head-to-head by player and opponent)."""
    c = F.col
    recent = pg.select(
        "playerId", "gameDate",
        c("sog").cast("double").alias("sog_last"),
        _mean("sog", 3, "playerId").alias("sog_avg_3"), _mean("sog", 7, "playerId").alias("sog_avg_7"),
        _mean("sog", 15, "playerId").alias("sog_avg_15"), _mean("attempts", 7, "playerId").alias("attempts_avg_7"),
        (_mean("toi", 7, "playerId") * F.lit(1 / 60)).alias("toi_avg_7"),
        _div(F.sum(F.coalesce(c("pp_toi").cast("double"), F.lit(0.0))).over(_last(7, "playerId")),
             F.sum(F.coalesce(c("toi").cast("double"), F.lit(0.0))).over(_last(7, "playerId"))).alias("pp_toi_share_7"),
        _n("playerId").alias("games_before"),
        c("gameDate").alias("last_game_date"),
    )
    by_season = ("playerId", "season")
    season = pg.select(
        "playerId", "season", "gameDate",
        _n(*by_season).alias("season_gp"),
        (F.sum("sog").over(_todate(*by_season)) / _n(*by_season)).alias("season_sog_avg"),
        _div(F.sum(F.when(c("toi").isNotNull(), c("sog")).otherwise(0)).over(_todate(*by_season)) * 3600.0,
             F.sum(F.coalesce(c("toi"), F.lit(0))).over(_todate(*by_season))).alias("sog_per60_season"),
    )
    by_opp = ("playerId", "opponent")
    h2h = pg.select(
        "playerId", "opponent", "gameDate",
        _n(*by_opp).alias("vs_opp_games"),
        (F.sum("sog").over(_todate(*by_opp)) / _n(*by_opp)).alias("vs_opp_sog_avg"),
    )
    return recent, season, h2h


def team_states(tg: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(last-10 form by team, season-to-date by team and season)."""
    recent = tg.select(
        "team", "gameDate", F.col("gameDate").alias("last_game_date"),
        *[_mean(x, 10, "team").alias(f"{x}_avg_10") for x in ("sf", "sa", "gf", "ga", "cf", "ca", "pen_taken",
                                                               "pen_drawn")])
    by = ("team", "season")
    season = tg.select(
        "team", "season", "gameDate", _n(*by).alias("season_gp"),
        *[(F.sum(x).over(_todate(*by)) / _n(*by)).alias(f"{x}_avg_season") for x in ("sf", "sa")])
    return recent, season


def asof(target: DataFrame, right: DataFrame, key: list[str], by: list[str],
         left_by: list[str] | None = None) -> DataFrame:
    """For each `target` row (identified by `key`), the last `right` state dated strictly before its date
    (never the game itself): `key` + the state's columns, null where there is none.

    State rows and target rows are unioned per `by` key and sorted by date with targets first at equal
    dates; each target takes the last non-null state up to it, which excludes exact matches like polars'
    `join_asof(strategy="backward", allow_exact_matches=False)`. Returning only the values (joined to the
    targets once, by the caller) keeps the plan linear in the number of as-of joins.
    """
    left_by = left_by or by
    values = [c for c in right.columns if c not in by and c != "gameDate"]
    keys = [f"_k{i}" for i in range(len(by))]
    state = F.struct(*values)
    states = right.select(*[F.col(b).alias(k) for b, k in zip(by, keys)], "gameDate", F.lit(1).alias("_o"),
                          *[F.lit(None).cast(target.schema[c].dataType).alias(c) for c in key], state.alias("_s"))
    targets = target.select(*[F.col(b).alias(k) for b, k in zip(left_by, keys)], "gameDate", F.lit(0).alias("_o"),
                            *key, F.lit(None).cast(states.schema["_s"].dataType).alias("_s"))
    w = Window.partitionBy(*keys).orderBy("gameDate", "_o").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (targets.unionByName(states)
            .withColumn("_s", F.last("_s", ignorenulls=True).over(w))
            .filter(F.col("_o") == 0)
            .select(*key, *[F.col(f"_s.{v}").alias(v) for v in values]))


def _joined(target: DataFrame, key: list[str], found: list[DataFrame]) -> DataFrame:
    out = target
    for f in found:
        out = out.join(f, on=key, how="left")
    return out


def _prefixed(frame: DataFrame, prefix: str, keep: tuple[str, ...]) -> DataFrame:
    return frame.select(*[F.col(c).alias(c if c in keep else f"{prefix}{c}") for c in frame.columns])


def expected_lineups(pg: DataFrame, upcoming: DataFrame) -> DataFrame:
    """Skater rows for upcoming games: each team's skaters of its most recent played game."""
    last = (pg.withColumn("_r", F.row_number().over(Window.partitionBy("team").orderBy(F.col("gameDate").desc())))
            .filter(F.col("_r") == 1).select("team", "gameId"))
    roster = pg.join(last, on=["team", "gameId"], how="left_semi").select("team", "playerId", "name", "position")
    sides = upcoming.select(
        "gameId", "gameDate", F.col("season").cast("int").alias("season"), F.col("homeTeam").alias("team"),
        F.col("awayTeam").alias("opponent"), F.lit(1).cast("long").alias("home")).unionByName(upcoming.select(
            "gameId", "gameDate", F.col("season").cast("int").alias("season"), F.col("awayTeam").alias("team"),
            F.col("homeTeam").alias("opponent"), F.lit(0).cast("long").alias("home")))
    return sides.join(roster, on="team", how="inner")


def _final(out: DataFrame, schema: dict, order: tuple[str, ...]) -> DataFrame:
    return out.select(*[F.col(k).cast(spark_type(t)).alias(k) for k, t in schema.items()]).orderBy(*order)


def player_features(players: DataFrame, teams: DataFrame, window_start: date, window_end: date,
                    upcoming: DataFrame | None = None) -> DataFrame:
    """Spark twin of `transform.features.player_features`."""
    pg = player_games(players).localCheckpoint(eager=True)
    tg = team_games(teams)
    in_window = F.col("gameDate").between(F.lit(window_start), F.lit(window_end))
    played = pg.filter(in_window).select(*_KEY_COLUMNS, "home", F.col("sog").alias("shotsOnGoal"),
                                         F.lit(False).alias("isUpcoming"))
    target = played
    if upcoming is not None:
        todo = upcoming.filter(in_window).join(pg.select("gameId").distinct(), on="gameId", how="left_anti")
        lineups = expected_lineups(pg.filter(F.col("gameDate") < F.lit(window_end)), todo)
        target = target.unionByName(lineups.select(*_KEY_COLUMNS, "home",
                                                   F.lit(None).cast("long").alias("shotsOnGoal"),
                                                   F.lit(True).alias("isUpcoming")))
    # fixed once: every as-of join below starts from these rows, not from a growing plan
    target = target.localCheckpoint(eager=True)
    key = ["gameId", "playerId"]
    recent, season, h2h = player_states(pg)
    t_recent, t_season = team_states(tg)
    opp = _prefixed(t_recent.select("team", "gameDate", "sa_avg_10", "ca_avg_10", "pen_taken_avg_10"), "opp_",
                    ("team", "gameDate"))
    opp_season = _prefixed(t_season.select("team", "season", "gameDate", "sa_avg_season"), "opp_",
                           ("team", "season", "gameDate"))
    out = _joined(target, key, [
        asof(target, recent, key, ["playerId"]),
        asof(target, season, key, ["playerId", "season"]),
        asof(target, h2h, key, ["playerId", "opponent"]),
        asof(target, _prefixed(t_recent.select("team", "gameDate", "sf_avg_10", "cf_avg_10"), "team_",
                               ("team", "gameDate")), key, ["team"]),
        asof(target, opp, key, by=["team"], left_by=["opponent"]),
        asof(target, opp_season, key, by=["team", "season"], left_by=["opponent", "season"]),
    ])
    out = out.withColumn("rest_days", F.datediff("gameDate", "last_game_date").cast("long")) \
        .withColumn("is_defense", (F.col("position") == "D").cast("long"))
    return _final(out, PLAYER_FEATURE_SCHEMA, ("gameDate", "gameId", "playerId"))


def team_features(teams: DataFrame, window_start: date, window_end: date,
                  upcoming: DataFrame | None = None) -> DataFrame:
    """Spark twin of `transform.features.team_features`."""
    tg = team_games(teams).localCheckpoint(eager=True)
    in_window = F.col("gameDate").between(F.lit(window_start), F.lit(window_end))
    target = tg.filter(in_window).select("gameId", "team", "gameDate", "season", "opponent", "home",
                                         F.col("sf").alias("shotsOnGoalFor"), F.col("gf").alias("goalsFor"),
                                         F.lit(False).alias("isUpcoming"))
    if upcoming is not None:
        todo = upcoming.filter(in_window).join(tg.select("gameId").distinct(), on="gameId", how="left_anti")
        for team, opp, home in (("homeTeam", "awayTeam", 1), ("awayTeam", "homeTeam", 0)):
            target = target.unionByName(todo.select(
                "gameId", F.col(team).alias("team"), "gameDate", F.col("season").cast("int").alias("season"),
                F.col(opp).alias("opponent"), F.lit(home).cast("long").alias("home"),
                F.lit(None).cast("long").alias("shotsOnGoalFor"), F.lit(None).cast("long").alias("goalsFor"),
                F.lit(True).alias("isUpcoming")))
    target = target.localCheckpoint(eager=True)
    key = ["gameId", "team"]
    recent, season = team_states(tg)
    opp = _prefixed(recent.select("team", "gameDate", "sf_avg_10", "sa_avg_10", "pen_taken_avg_10"), "opp_",
                    ("team", "gameDate"))
    out = _joined(target, key, [asof(target, recent, key, ["team"]), asof(target, season, key, ["team", "season"]),
                                asof(target, opp, key, by=["team"], left_by=["opponent"])])
    out = out.withColumn("rest_days", F.datediff("gameDate", "last_game_date").cast("long"))
    return _final(out, TEAM_FEATURE_SCHEMA, ("gameDate", "gameId", "team"))
