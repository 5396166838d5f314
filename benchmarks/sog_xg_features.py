"""Do expected-goals features help the shots-on-goal model? Held-back Poisson deviance with and without them.

    .venv/bin/python benchmarks/sog_xg_features.py --start 2023-10-10 --end 2024-02-29

On simulated silver (parsed straight from the simulator's payloads, no Dagster), this trains the xG model,
scores every shot, sums xGoals per player game, and adds three leakage-free features to the player
features — the player's mean `I_F_xGoals` over his last 7 games and over the season so far, and his
unblocked attempts per 60 minutes over his last 7 games, each taken strictly before the game's date like
every other feature. It then fits the shots-on-goal model (same estimator, parameters and time-based split
as `gold/sog_model`) with and without them and prints the held-back Poisson deviance of each.

It also answers the leakage question of issue 16: the production xG model is trained on every shot,
later games included, and then scores earlier shots whose xG become features. The script repeats the
experiment with an xG model trained only on shots dated before the shots-on-goal model's held-back period
and prints both deviances, so the effect of that look-ahead is measured rather than assumed.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime, timedelta, timezone

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_poisson_deviance

from nhl_assets.cliargs import iso_date
from nhl_assets.parse.game_stats import GameInputs, build_silver
from nhl_assets.transform import features as tf
from nhl_assets.transform import model as tm
from nhl_assets.transform import xg as tx

XG_FEATURES = ("ixg_avg_7", "ixg_avg_season", "iua_per60_7")
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def simulated_silver(start: date, end: date, seed: int):
    from nhl_assets.simulator.cli import build_league

    league = build_league(seed=seed)
    games, d = [], start
    while d <= end:
        games += [GameInputs(g.id, d, league.play_by_play_payload(g.id), league.shiftcharts_payload(g.id))
                  for g in league.games_on(d) if g.game_type in (2, 3)]
        d += timedelta(days=1)
    return build_silver(games)


def xg_states(players: pl.DataFrame, pxg: pl.DataFrame) -> pl.DataFrame:
    """Per player and game date, the xG state *after* that game (rolling and season to date)."""
    games = (players.filter(pl.col("situation") == "all")
             .join(pxg.filter(pl.col("situation") == "all").select("gameId", "playerId", "I_F_xGoals"),
                   on=["gameId", "playerId"], how="left")
             .select("playerId", "gameDate", "season", "I_F_xGoals", "I_F_unblockedShotAttempts", "icetime")
             .sort("playerId", "gameDate"))
    return games.with_columns(
        pl.col("I_F_xGoals").rolling_mean(7, min_samples=1).over("playerId").alias("ixg_avg_7"),
        (pl.col("I_F_xGoals").cum_sum() / pl.col("I_F_xGoals").cum_count()).over("playerId", "season")
        .alias("ixg_avg_season"),
        (pl.col("I_F_unblockedShotAttempts").rolling_sum(7, min_samples=1).over("playerId") * 3600.0
         / pl.col("icetime").fill_null(0).rolling_sum(7, min_samples=1).over("playerId")).alias("iua_per60_7"),
    ).select("playerId", "gameDate", *XG_FEATURES)


def with_xg_features(features: pl.DataFrame, states: pl.DataFrame) -> pl.DataFrame:
    """The last state strictly before each feature row's date (a game's own shots never enter its features)."""
    right = states.rename({"gameDate": "stateDate"}).sort("stateDate")
    left = features.with_columns((pl.col("gameDate") - timedelta(days=1)).alias("_before")).sort("_before")
    out = left.join_asof(right, left_on="_before", right_on="stateDate", by="playerId", strategy="backward",
                         check_sortedness=False)  # both sides are sorted by date, so within each player too
    return out.drop("_before", "stateDate").with_columns(
        [pl.when(pl.col(f).is_finite()).then(pl.col(f)).alias(f) for f in XG_FEATURES])


def deviance(data: pl.DataFrame, cut: date, names: tuple[str, ...]) -> float:
    tr, te = data.filter(pl.col("gameDate") < cut), data.filter(pl.col("gameDate") >= cut)
    x = lambda f: f.select([pl.col(n).cast(pl.Float64) for n in names]).to_numpy()  # noqa: E731
    model = HistGradientBoostingRegressor(**tm.PARAMS).fit(x(tr), tr.get_column(tm.LABEL).to_numpy())
    return float(mean_poisson_deviance(te.get_column(tm.LABEL).to_numpy(),
                                       np.clip(model.predict(x(te)), 1e-6, None)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=iso_date, default=date(2023, 10, 10), help="first game date simulated")
    parser.add_argument("--end", type=iso_date, default=date(2024, 2, 29), help="last game date simulated")
    parser.add_argument("--seed", type=int, default=7, help="the simulated league")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.end < args.start:
        parser.error(f"--end {args.end} is before --start {args.start}")
    t0 = time.monotonic()
    silver = simulated_silver(args.start, args.end, args.seed)
    features = tf.player_features(silver.players, silver.teams, args.start, args.end)
    played = features.filter(pl.col(tm.LABEL).is_not_null())
    cut = tm.split_dates(played, 0.2)
    print(f"{silver.players.filter(pl.col('situation') == 'all').height:,} player-games, {silver.shots.height:,} "
          f"shot attempts, {args.start}..{args.end}; held back from {cut} ({time.monotonic() - t0:.1f} s to build)")
    base = deviance(played, cut, tm.PLAYER_FEATURES)
    print(f"without xG features: held-back Poisson deviance {base:.4f}")
    for label, shots in (("xG model trained on every shot (production)", silver.shots),
                         (f"xG model trained only on shots before {cut}", silver.shots.filter(pl.col("gameDate") < cut))):
        trained = tx.train(shots, plot=False)
        scored = tx.score(silver.shots, trained.model, NOW, NOW).join(
            silver.shots.select("gameId", "eventId", "onIceForIds", "onIceAgainstIds"), on=["gameId", "eventId"])
        pxg = tx.player_xgoals(silver.players, scored, NOW)
        data = with_xg_features(played, xg_states(silver.players, pxg))
        dev = deviance(data, cut, (*tm.PLAYER_FEATURES, *XG_FEATURES))
        print(f"with xG features, {label}: {dev:.4f} ({(base - dev) / base:+.2%} vs without)")


if __name__ == "__main__":
    main()
