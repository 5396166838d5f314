"""Leakage-free player and team game features from silver (pure polars, no Dagster).

The rule, and how it is kept by construction: a row for a game on date D may only use games played
strictly before D. Every statistic is first computed as a *state after each played game* (rolling
averages including that game, season-to-date sums, head-to-head history), and a target row then takes
the last state dated strictly before its own date (`join_asof(..., allow_exact_matches=False)`). A
target's own outcome is therefore never part of its features (the replaced pipeline's rolling averages
included the game being predicted), and an upcoming game is featurized by exactly the same code as a
played one: its state is simply the latest one.

Upcoming games have no box score yet; their expected lineup is each team's skaters of its most recent
played game (`expected_lineups`).
"""

from __future__ import annotations

from datetime import date

import polars as pl

#: model inputs, in this order (the label is `shotsOnGoal`, never a feature)
PLAYER_FEATURES = (
    "sog_last", "sog_avg_3", "sog_avg_7", "sog_avg_15", "attempts_avg_7", "toi_avg_7", "pp_toi_share_7",
    "games_before", "season_gp", "season_sog_avg", "sog_per60_season", "vs_opp_games", "vs_opp_sog_avg",
    "rest_days", "home", "is_defense", "team_sf_avg_10", "team_cf_avg_10", "opp_sa_avg_10", "opp_ca_avg_10",
    "opp_pen_taken_avg_10", "opp_sa_avg_season",
)

_KEY = {"gameId": pl.Int64, "playerId": pl.Int64, "gameDate": pl.Date, "season": pl.Int32, "name": pl.String,
        "position": pl.String, "team": pl.String, "opponent": pl.String}
PLAYER_FEATURE_SCHEMA: dict[str, pl.DataType] = {
    **_KEY,
    **{f: (pl.Int64 if f in ("games_before", "season_gp", "vs_opp_games", "rest_days", "home", "is_defense")
           else pl.Float64) for f in PLAYER_FEATURES},
    "isUpcoming": pl.Boolean,
    "shotsOnGoal": pl.Int64,  # the label: the game's actual shots on goal (null until played)
}

TEAM_FEATURES = (
    "sf_avg_10", "sa_avg_10", "gf_avg_10", "ga_avg_10", "cf_avg_10", "ca_avg_10", "pen_taken_avg_10",
    "pen_drawn_avg_10", "season_gp", "sf_avg_season", "sa_avg_season", "rest_days", "home",
    "opp_sf_avg_10", "opp_sa_avg_10", "opp_pen_taken_avg_10",
)
TEAM_FEATURE_SCHEMA: dict[str, pl.DataType] = {
    "gameId": pl.Int64, "team": pl.String, "gameDate": pl.Date, "season": pl.Int32, "opponent": pl.String,
    **{f: (pl.Int64 if f in ("season_gp", "rest_days", "home") else pl.Float64) for f in TEAM_FEATURES},
    "isUpcoming": pl.Boolean,
    "shotsOnGoalFor": pl.Int64,  # label (null until played)
    "goalsFor": pl.Int64,
}

#: silver columns the features need (so a full-history read stays narrow)
PLAYER_COLUMNS = ["gameId", "playerId", "gameDate", "season", "name", "position", "playerTeam", "opposingTeam",
                  "home_or_away", "situation", "I_F_shotsOnGoal", "I_F_shotAttempts", "icetime"]
TEAM_COLUMNS = ["gameId", "team", "gameDate", "season", "opposingTeam", "home_or_away", "situation",
                "shotsOnGoalFor", "shotsOnGoalAgainst", "goalsFor", "goalsAgainst", "shotAttemptsFor",
                "shotAttemptsAgainst", "penaltiesFor", "penaltiesAgainst"]


def player_games(players: pl.DataFrame) -> pl.DataFrame:
    """One row per skater-game: the `all` numbers plus power-play (5on4) ice time."""
    c = pl.col
    base = players.filter(c("situation") == "all").select(
        "gameId", "playerId", "gameDate", c("season").cast(pl.Int32), "name", "position",
        c("playerTeam").alias("team"), c("opposingTeam").alias("opponent"),
        (c("home_or_away") == "HOME").cast(pl.Int64).alias("home"),
        c("I_F_shotsOnGoal").alias("sog"), c("I_F_shotAttempts").alias("attempts"), c("icetime").alias("toi"))
    pp = players.filter(c("situation") == "5on4").select("gameId", "playerId", c("icetime").alias("pp_toi"))
    return base.join(pp, on=["gameId", "playerId"], how="left")


def team_games(teams: pl.DataFrame) -> pl.DataFrame:
    c = pl.col
    return teams.filter(c("situation") == "all").select(
        "gameId", "team", "gameDate", c("season").cast(pl.Int32), c("opposingTeam").alias("opponent"),
        (c("home_or_away") == "HOME").cast(pl.Int64).alias("home"),
        c("shotsOnGoalFor").alias("sf"), c("shotsOnGoalAgainst").alias("sa"), c("goalsFor").alias("gf"),
        c("goalsAgainst").alias("ga"), c("shotAttemptsFor").alias("cf"), c("shotAttemptsAgainst").alias("ca"),
        c("penaltiesFor").alias("pen_taken"), c("penaltiesAgainst").alias("pen_drawn"))


# ----------------------------------------------------------------------------------------------------
# states after each played game
# ----------------------------------------------------------------------------------------------------


def _roll(col: str, k: int, by: str | list[str]) -> pl.Expr:
    return pl.col(col).cast(pl.Float64).rolling_mean(k, min_samples=1).over(by)


def _rsum(col: str, k: int, by: str | list[str]) -> pl.Expr:
    return pl.col(col).cast(pl.Float64).fill_null(0).rolling_sum(k, min_samples=1).over(by)


def player_states(pg: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(recent form by player, season-to-date by player and season, head-to-head by player and opponent)."""
    c = pl.col
    s = pg.sort("playerId", "gameDate")
    toi_known = c("toi").is_not_null()
    recent = s.select(
        "playerId", "gameDate",
        c("sog").cast(pl.Float64).alias("sog_last"),
        _roll("sog", 3, "playerId").alias("sog_avg_3"), _roll("sog", 7, "playerId").alias("sog_avg_7"),
        _roll("sog", 15, "playerId").alias("sog_avg_15"), _roll("attempts", 7, "playerId").alias("attempts_avg_7"),
        # minutes; written as a product because that is what polars computes for a division by a
        # constant, and the Spark engine must reproduce it bit for bit
        (_roll("toi", 7, "playerId") * (1 / 60)).alias("toi_avg_7"),
        (_rsum("pp_toi", 7, "playerId") / _rsum("toi", 7, "playerId")).fill_nan(None).alias("pp_toi_share_7"),
        pl.int_range(1, pl.len() + 1).over("playerId").cast(pl.Int64).alias("games_before"),
        c("gameDate").alias("last_game_date"),
    )
    by_season = ["playerId", "season"]
    season = s.sort(*by_season, "gameDate").select(
        "playerId", "season", "gameDate",
        pl.int_range(1, pl.len() + 1).over(by_season).cast(pl.Int64).alias("season_gp"),
        (c("sog").cum_sum().over(by_season) / pl.int_range(1, pl.len() + 1).over(by_season)).alias("season_sog_avg"),
        (pl.when(toi_known).then(c("sog")).otherwise(0).cum_sum().over(by_season) * 3600.0
         / c("toi").fill_null(0).cum_sum().over(by_season)).fill_nan(None).alias("sog_per60_season"),
    ).with_columns(pl.when(pl.col("sog_per60_season").is_infinite()).then(None)
                   .otherwise(pl.col("sog_per60_season")).alias("sog_per60_season"))
    by_opp = ["playerId", "opponent"]
    h2h = s.sort(*by_opp, "gameDate").select(
        "playerId", "opponent", "gameDate",
        pl.int_range(1, pl.len() + 1).over(by_opp).cast(pl.Int64).alias("vs_opp_games"),
        (c("sog").cum_sum().over(by_opp) / pl.int_range(1, pl.len() + 1).over(by_opp)).alias("vs_opp_sog_avg"),
    )
    return recent, season, h2h


def team_states(tg: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(last-10 form by team, season-to-date by team and season)."""
    s = tg.sort("team", "gameDate")
    recent = s.select(
        "team", "gameDate", pl.col("gameDate").alias("last_game_date"),
        *[_roll(x, 10, "team").alias(f"{x}_avg_10") for x in ("sf", "sa", "gf", "ga", "cf", "ca", "pen_taken",
                                                               "pen_drawn")])
    by = ["team", "season"]
    season = s.sort(*by, "gameDate").select(
        "team", "season", "gameDate",
        pl.int_range(1, pl.len() + 1).over(by).cast(pl.Int64).alias("season_gp"),
        *[(pl.col(x).cum_sum().over(by) / pl.int_range(1, pl.len() + 1).over(by)).alias(f"{x}_avg_season")
          for x in ("sf", "sa")])
    return recent, season


def _asof(left: pl.DataFrame, right: pl.DataFrame, by: list[str], left_by: list[str] | None = None) -> pl.DataFrame:
    """The last `right` state dated strictly before each `left` row's date (never the game itself)."""
    return left.sort("gameDate").join_asof(
        right.sort("gameDate"), on="gameDate", by_left=left_by or by, by_right=by, strategy="backward",
        allow_exact_matches=False, check_sortedness=False)


def _prefixed(frame: pl.DataFrame, prefix: str, keep: tuple[str, ...]) -> pl.DataFrame:
    return frame.rename({c: f"{prefix}{c}" for c in frame.columns if c not in keep})


# ----------------------------------------------------------------------------------------------------
# targets: the rows to featurize
# ----------------------------------------------------------------------------------------------------


def expected_lineups(pg: pl.DataFrame, upcoming: pl.DataFrame) -> pl.DataFrame:
    """Skater rows for upcoming games: each team's skaters of its most recent played game."""
    if upcoming.is_empty() or pg.is_empty():
        return pl.DataFrame(schema={k: v for k, v in _KEY.items()} | {"home": pl.Int64})
    last = pg.group_by("team").agg(pl.col("gameId").sort_by("gameDate").last())
    roster = pg.join(last, on=["team", "gameId"], how="semi").select("team", "playerId", "name", "position")
    sides = pl.concat([
        upcoming.select("gameId", "gameDate", pl.col("season").cast(pl.Int32), pl.col("homeTeam").alias("team"),
                        pl.col("awayTeam").alias("opponent"), pl.lit(1, dtype=pl.Int64).alias("home")),
        upcoming.select("gameId", "gameDate", pl.col("season").cast(pl.Int32), pl.col("awayTeam").alias("team"),
                        pl.col("homeTeam").alias("opponent"), pl.lit(0, dtype=pl.Int64).alias("home")),
    ])
    return sides.join(roster, on="team", how="inner")


def player_features(players: pl.DataFrame, teams: pl.DataFrame, window_start: date, window_end: date,
                    upcoming: pl.DataFrame | None = None) -> pl.DataFrame:
    """Feature rows for every skater-game dated in [window_start, window_end]: played games (with their
    label) and upcoming games of that window not played yet (expected lineups, label null).

    `players`/`teams` are silver rows of at least every game before `window_end` (more is harmless: only
    games strictly before each row's date are used). Without any silver row (an empty table, or a missing
    one read as a frame without columns) there is no game to featurize and no lineup to expect: no rows.
    """
    if players.is_empty() or teams.is_empty():
        return pl.DataFrame(schema=PLAYER_FEATURE_SCHEMA)
    pg = player_games(players)
    tg = team_games(teams)
    in_window = pl.col("gameDate").is_between(window_start, window_end)
    played = pg.filter(in_window).select(*[k for k in _KEY], "home", pl.col("sog").alias("shotsOnGoal"),
                                         pl.lit(False).alias("isUpcoming"))
    targets = [played]
    if upcoming is not None and not upcoming.is_empty():
        todo = upcoming.filter(in_window).join(pg.select("gameId").unique(), on="gameId", how="anti")
        lineups = expected_lineups(pg.filter(pl.col("gameDate") < window_end), todo)
        targets.append(lineups.select(*[k for k in _KEY], "home", pl.lit(None, dtype=pl.Int64).alias("shotsOnGoal"),
                                      pl.lit(True).alias("isUpcoming")))
    target = pl.concat([t.cast({**_KEY, "home": pl.Int64, "shotsOnGoal": pl.Int64}) for t in targets])
    if target.is_empty():
        return pl.DataFrame(schema=PLAYER_FEATURE_SCHEMA)
    recent, season, h2h = player_states(pg)
    t_recent, t_season = team_states(tg)
    out = _asof(target, recent, ["playerId"])
    out = _asof(out, season, ["playerId", "season"])
    out = _asof(out, h2h, ["playerId", "opponent"])
    out = _asof(out, _prefixed(t_recent.select("team", "gameDate", "sf_avg_10", "cf_avg_10"), "team_",
                               ("team", "gameDate")), ["team"])
    opp = _prefixed(t_recent.select("team", "gameDate", "sa_avg_10", "ca_avg_10", "pen_taken_avg_10"), "opp_",
                    ("team", "gameDate"))
    out = _asof(out, opp, by=["team"], left_by=["opponent"])
    opp_season = _prefixed(t_season.select("team", "season", "gameDate", "sa_avg_season"), "opp_",
                           ("team", "season", "gameDate"))
    out = _asof(out, opp_season, by=["team", "season"], left_by=["opponent", "season"])
    out = out.with_columns(
        (pl.col("gameDate") - pl.col("last_game_date")).dt.total_days().cast(pl.Int64).alias("rest_days"),
        (pl.col("position") == "D").cast(pl.Int64).alias("is_defense"),
    )
    return out.select([pl.col(k).cast(t) for k, t in PLAYER_FEATURE_SCHEMA.items()]).sort("gameDate", "gameId",
                                                                                          "playerId")


def team_features(teams: pl.DataFrame, window_start: date, window_end: date,
                  upcoming: pl.DataFrame | None = None) -> pl.DataFrame:
    """Feature rows for both teams of every game dated in the window (played or upcoming).

    Without any silver row (empty, or a frame without columns for a missing table) there are none: the
    same rule as `player_features`, so the two tables always describe the same games.
    """
    if teams.is_empty():
        return pl.DataFrame(schema=TEAM_FEATURE_SCHEMA)
    tg = team_games(teams)
    in_window = pl.col("gameDate").is_between(window_start, window_end)
    played = tg.filter(in_window).select("gameId", "team", "gameDate", "season", "opponent", "home",
                                         pl.col("sf").alias("shotsOnGoalFor"), pl.col("gf").alias("goalsFor"),
                                         pl.lit(False).alias("isUpcoming"))
    targets = [played]
    if upcoming is not None and not upcoming.is_empty():
        todo = upcoming.filter(in_window).join(tg.select("gameId").unique(), on="gameId", how="anti")
        for team, opp, home in (("homeTeam", "awayTeam", 1), ("awayTeam", "homeTeam", 0)):
            targets.append(todo.select(
                "gameId", pl.col(team).alias("team"), "gameDate", pl.col("season").cast(pl.Int32),
                pl.col(opp).alias("opponent"), pl.lit(home, dtype=pl.Int64).alias("home"),
                pl.lit(None, dtype=pl.Int64).alias("shotsOnGoalFor"), pl.lit(None, dtype=pl.Int64).alias("goalsFor"),
                pl.lit(True).alias("isUpcoming")))
    schema = {"gameId": pl.Int64, "team": pl.String, "gameDate": pl.Date, "season": pl.Int32,
              "opponent": pl.String, "home": pl.Int64, "shotsOnGoalFor": pl.Int64, "goalsFor": pl.Int64,
              "isUpcoming": pl.Boolean}
    target = pl.concat([t.cast(schema) for t in targets])
    if target.is_empty():
        return pl.DataFrame(schema=TEAM_FEATURE_SCHEMA)
    recent, season = team_states(tg)
    out = _asof(target, recent, ["team"])
    out = _asof(out, season, ["team", "season"])
    opp = _prefixed(recent.select("team", "gameDate", "sf_avg_10", "sa_avg_10", "pen_taken_avg_10"), "opp_",
                    ("team", "gameDate"))
    out = _asof(out, opp, by=["team"], left_by=["opponent"])
    out = out.with_columns(
        (pl.col("gameDate") - pl.col("last_game_date")).dt.total_days().cast(pl.Int64).alias("rest_days"))
    return out.select([pl.col(k).cast(t) for k, t in TEAM_FEATURE_SCHEMA.items()]).sort("gameDate", "gameId", "team")
