"""Gold: leakage-free features, season aggregates, the model against its baselines, predictions that keep
their pre-game values, and the whole graph end to end through Dagster."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest
from dagster import DagsterInstance

from nhl_assets.definitions import build_definitions
from nhl_assets.storage import migrations as mg
from nhl_assets.parse.game_stats import GameInputs, build_silver
from nhl_assets.dates import DateWindow
from nhl_assets.runs import run_pipeline
from nhl_assets.storage.delta import Warehouse
from nhl_assets.transform import model as tm
from nhl_assets.transform.features import (
    PLAYER_FEATURE_SCHEMA,
    PLAYER_FEATURES,
    TEAM_FEATURE_SCHEMA,
    player_features,
    team_features,
)
from nhl_assets.transform.season_stats import skater_season_stats

from .helpers import FAST_API, point_api_at


@pytest.fixture(scope="module")
def silver(league):
    """Simulated silver for 2023-10-10 .. 2023-12-19 (about 490 games), parsed without the API."""
    games, d = [], date(2023, 10, 10)
    while d < date(2023, 12, 20):
        for g in league.games_on(d):
            if g.game_type in (2, 3):
                games.append(GameInputs(g.id, d, league.play_by_play_payload(g.id), league.shiftcharts_payload(g.id)))
        d += timedelta(days=1)
    frames = build_silver(games)
    assert frames.rejected == []
    return frames.players, frames.teams


def test_a_games_own_outcome_never_reaches_its_features(silver):
    players, teams = silver
    day = date(2023, 11, 15)
    game = players.filter(pl.col("gameDate") == day).get_column("gameId").min()
    base = player_features(players, teams, day, date(2023, 11, 30))
    # rewrite the game's outcome: every skater of it takes 9 more shots (and attempts)
    changed = players.with_columns(
        pl.when(pl.col("gameId") == game).then(pl.col(c) + 9).otherwise(pl.col(c)).alias(c)
        for c in ("I_F_shotsOnGoal", "I_F_shotAttempts"))
    after = player_features(changed, teams, day, date(2023, 11, 30))
    cols = list(PLAYER_FEATURES)
    own_before = base.filter(pl.col("gameId") == game).sort("playerId")
    own_after = after.filter(pl.col("gameId") == game).sort("playerId")
    assert own_before.height >= 36
    assert own_after.select(cols).equals(own_before.select(cols))  # features unchanged
    assert (own_after.get_column("shotsOnGoal") - own_before.get_column("shotsOnGoal")).unique().to_list() == [9]
    # other games that day: identical; the players' later games do see it (features really use history)
    same_day = pl.col("gameDate") == day
    assert after.filter(same_day).select(cols).equals(base.filter(same_day).select(cols))
    who = own_before.get_column("playerId")
    later = (pl.col("gameDate") > day) & pl.col("playerId").is_in(who.to_list())
    assert not after.filter(later).select("sog_last", "sog_avg_7").equals(base.filter(later).select("sog_last",
                                                                                                    "sog_avg_7"))


def test_features_use_only_earlier_dates_and_have_one_row_per_player_game(silver):
    players, teams = silver
    f = player_features(players, teams, date(2023, 12, 1), date(2023, 12, 10))
    played = players.filter((pl.col("situation") == "all") & pl.col("gameDate").is_between(date(2023, 12, 1),
                                                                                           date(2023, 12, 10)))
    assert f.height == played.height and f.select("gameId", "playerId").is_unique().all()
    # a feature computed by hand for one player: the mean of his 7 previous games' shots
    row = f.sort("gameId", "playerId").row(0, named=True)
    hist = players.filter((pl.col("playerId") == row["playerId"]) & (pl.col("situation") == "all") &
                          (pl.col("gameDate") < row["gameDate"])).sort("gameDate")
    assert row["sog_avg_7"] == pytest.approx(hist.get_column("I_F_shotsOnGoal").tail(7).mean())
    assert row["sog_last"] == hist.get_column("I_F_shotsOnGoal")[-1]
    assert row["rest_days"] == (row["gameDate"] - hist.get_column("gameDate")[-1]).days
    t = team_features(teams, date(2023, 12, 1), date(2023, 12, 10))
    assert t.height == 2 * played.get_column("gameId").n_unique() and t.select("gameId", "team").is_unique().all()


def test_upcoming_games_get_the_latest_lineups_and_the_same_features(silver):
    players, teams = silver
    upcoming = pl.DataFrame({"gameId": [2099020001], "gameDate": [date(2023, 12, 21)], "season": [20232024],
                             "homeTeam": ["BOS"], "awayTeam": ["TOR"]})
    f = player_features(players, teams, date(2023, 12, 20), date(2023, 12, 21), upcoming)
    up = f.filter(pl.col("isUpcoming"))
    last = {}
    for team in ("BOS", "TOR"):
        g = players.filter((pl.col("playerTeam") == team) & (pl.col("situation") == "all")).sort("gameDate")
        last[team] = set(g.filter(pl.col("gameId") == g.get_column("gameId")[-1]).get_column("playerId").to_list())
    assert set(up.get_column("playerId").to_list()) == last["BOS"] | last["TOR"]
    assert up.get_column("shotsOnGoal").is_null().all() and up.get_column("sog_avg_7").is_not_null().all()
    assert up.filter(pl.col("team") == "BOS").get_column("home").unique().to_list() == [1]


def test_season_stats_keep_a_traded_player_per_team(silver):
    players, _ = silver
    pid = players.get_column("playerId")[0]
    games = players.filter(pl.col("playerId") == pid).get_column("gameId").unique().sort()
    moved = games[len(games) // 2:].to_list()
    traded = players.with_columns(pl.when((pl.col("playerId") == pid) & pl.col("gameId").is_in(moved))
                                  .then(pl.lit("ZZZ")).otherwise(pl.col("playerTeam")).alias("playerTeam"))
    out = skater_season_stats(traded)
    rows = out.filter((pl.col("playerId") == pid) & (pl.col("situation") == "all"))
    assert sorted(rows.get_column("team").to_list())[-1] == "ZZZ" and rows.height == 2
    assert rows.get_column("gamesPlayed").sum() == games.len()
    all_sog = players.filter((pl.col("playerId") == pid) & (pl.col("situation") == "all")).get_column("I_F_shotsOnGoal")
    assert rows.get_column("I_F_shotsOnGoal").sum() == all_sog.sum()
    assert out.select("season", "playerId", "team", "situation").is_unique().all()


def test_model_beats_both_baselines_on_the_held_back_dates(silver):
    players, teams = silver
    f = player_features(players, teams, date(2023, 10, 10), date(2023, 12, 19))
    trained = tm.train(f)
    ok, gain = trained.beats("last7")
    m, l7, season = (trained.evaluations[k] for k in ("model", "last7", "season"))
    assert ok, f"model deviance {m.poisson_deviance:.4f} vs last-7 {l7.poisson_deviance:.4f} ({gain:+.1%})"
    assert m.poisson_deviance < season.poisson_deviance
    assert trained.holdout_from > f.get_column("gameDate").min() and trained.holdout_rows > 2000
    assert len(trained.calibration) == 10 and trained.plot_png.startswith(b"\x89PNG")
    assert set(trained.importances) == set(PLAYER_FEATURES)
    print(f"model {m.as_dict()} last7 {l7.as_dict()} season {season.as_dict()}")


def test_the_models_fast_paths_give_scikit_learns_values_to_the_bit(silver):
    """Importances through the tree cache, predictions by halves in two threads: the same numbers as
    scikit-learn's own permutation importances and predictions (no tolerance)."""
    import numpy as np
    from sklearn.inspection import permutation_importance
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    from nhl_assets.transform.threads import by_halves, side_by_side

    players, teams = silver
    f = player_features(players, teams, date(2023, 10, 10), date(2023, 12, 19))
    model = tm.train(f).model
    played = tm._played(f)
    x, y = tm.matrix(played), played.get_column(tm.LABEL).to_numpy()
    cache = tm._TreeCache(model, x)
    assert cache.usable
    rng = np.random.default_rng(0)
    for cols in [[], *([j] for j in range(x.shape[1])), [0, 3]]:
        copy = x.copy()
        copy[:, cols] = copy[rng.permutation(len(x))][:, cols]
        assert np.array_equal(cache.predict(copy), model.predict(copy)), cols
    sample = x[:3000], y[:3000]
    ours = tm._importances(model, *sample)
    theirs = permutation_importance(model, *sample, n_repeats=3, random_state=0,
                                    scoring="neg_mean_poisson_deviance").importances_mean
    assert np.array_equal(ours, theirs)
    assert np.array_equal(by_halves(model.predict, x, split_rows=100), model.predict(x))
    assert side_by_side(_openmp_effective_n_threads, _openmp_effective_n_threads) == [1, 1]


def test_a_pre_game_prediction_is_kept_once_the_game_is_played(silver):
    players, teams = silver
    f = player_features(players, teams, date(2023, 10, 10), date(2023, 11, 30))
    trained = tm.train(f)
    now = datetime(2023, 12, 1, tzinfo=timezone.utc)
    day = f.filter(pl.col("gameDate") == date(2023, 11, 30))
    before = tm.predict(day.with_columns(pl.lit(None, dtype=pl.Int64).alias("shotsOnGoal")), trained.model, now,
                        date(2023, 11, 29), now)
    assert not before.get_column("inSample").any()
    later = tm.predict(day, trained.model, now + timedelta(days=1), date(2023, 11, 30), now + timedelta(days=1))
    later = later.with_columns(pl.col("expectedShots") + 1)  # a retrained model would say something else
    kept = tm.carry_over(later, before)
    assert kept.get_column("expectedShots").equals(before.get_column("expectedShots"))
    assert kept.get_column("actualShots").equals(day.get_column("shotsOnGoal"))
    assert (kept.get_column("p1Plus") >= kept.get_column("p2Plus")).all()
    # a player predicted before the game who did not play keeps his forecast on record, without an actual
    scratched = later.get_column("playerId")[0]
    kept = tm.carry_over(later.filter(pl.col("playerId") != scratched), before)
    row = kept.filter(pl.col("playerId") == scratched)
    assert kept.height == before.height and row.get_column("actualShots").to_list() == [None]
    assert row.get_column("expectedShots").to_list() == before.filter(pl.col("playerId") == scratched) \
        .get_column("expectedShots").to_list()


@pytest.mark.slow
def test_the_whole_graph_predicts_the_upcoming_games_and_keeps_them(sim_server, warehouse_env, monkeypatch):
    point_api_at(monkeypatch, sim_server)
    sim_server.set_clock(datetime(2023, 10, 25, 15, 0, tzinfo=timezone.utc))
    defs, instance = build_definitions(), DagsterInstance.ephemeral()
    run_pipeline(defs, DateWindow.of("2023-10-10", "2023-10-24"), instance, run_config=FAST_API)
    wh = Warehouse(os.environ["NHL_WAREHOUSE"])
    preds = pl.from_arrow(wh.read_arrow("gold/sog_predictions"))
    feats = pl.from_arrow(wh.read_arrow("gold/player_game_features"))
    assert preds.height == feats.height and preds.select("gameId", "playerId").is_unique().all()
    upcoming = preds.filter(pl.col("gameDate") >= date(2023, 10, 25))
    assert upcoming.height > 300 and upcoming.get_column("actualShots").is_null().all()
    assert not upcoming.get_column("inSample").any()
    assert ((upcoming.get_column("p1Plus") >= upcoming.get_column("p2Plus")) &
            (upcoming.get_column("p3Plus") >= upcoming.get_column("p4Plus"))).all()
    # a day later the 25th is played: its pre-game predictions stay, with the actual value beside them
    pre = upcoming.filter(pl.col("gameDate") == date(2023, 10, 25)).select("gameId", "playerId", "expectedShots")
    sim_server.set_clock(datetime(2023, 10, 27, 15, 0, tzinfo=timezone.utc))
    run_pipeline(defs, DateWindow.of("2023-10-25", "2023-10-26"), instance, run_config=FAST_API)
    day = pl.from_arrow(wh.read_arrow("gold/sog_predictions")).filter(pl.col("gameDate") == date(2023, 10, 25))
    both = day.join(pre, on=["gameId", "playerId"], suffix="_pre")
    assert both.height == pre.height  # every pre-game forecast is still on record
    played = both.filter(pl.col("actualShots").is_not_null())
    assert played.height > 0.8 * pre.height  # the expected lineups were mostly right; the rest did not play
    feats = pl.from_arrow(wh.read_arrow("gold/player_game_features")).filter(pl.col("gameDate") == date(2023, 10, 25))
    assert day.filter(pl.col("actualShots").is_not_null()).height == feats.height
    assert both.get_column("expectedShots").equals(both.get_column("expectedShots_pre"))
    assert not both.get_column("inSample").any()
    models = Warehouse(os.environ["NHL_WAREHOUSE"]).history("gold/sog_model")
    assert sum(h["nhl_operation"] == "replace_all" for h in models) == 1  # two more days: the model is kept
    kept = defs.resolve_job_def("nhl_model").execute_in_process(instance=instance)
    assert "newest played games (2023-10-26) are less than 7 days past it" in _notes(kept)["gold/sog_model"]
    assert _checks(kept)["gold/sog_model:beats_last7_baseline"].description.startswith("the model in use")
    forced = defs.resolve_job_def("nhl_model").execute_in_process(
        instance=instance, run_config={"ops": {"gold__sog_model": {"config": {"retrain": True}}}})
    assert forced.success and "gold/sog_model" not in _notes(forced)
    models = Warehouse(os.environ["NHL_WAREHOUSE"]).history("gold/sog_model")
    assert sum(h["nhl_operation"] == "replace_all" for h in models) == 2  # retrained when the run asks for it
    # expected goals: every shot scored by the model in use, MoneyPuck's columns on every silver row
    shots, scored = (pl.from_arrow(wh.read_arrow(t)) for t in ("silver/shots", "gold/shot_xg"))
    assert scored.select("gameId", "eventId").sort(pl.all()).equals(shots.select("gameId", "eventId").sort(pl.all()))
    xg_models = pl.from_arrow(wh.read_arrow("gold/xg_model"))
    assert scored.get_column("modelTrainedAt").unique().to_list() == [xg_models.get_column("trainedAt").max()]
    assert (scored.filter(pl.col("event") == "blocked-shot").get_column("xGoal") == 0).all()
    unblocked = scored.filter(pl.col("event") != "blocked-shot")
    assert abs(unblocked.get_column("xGoal").sum() / unblocked.get_column("goal").sum() - 1) < 0.15
    for gold, silver in (("gold/player_game_xgoals", "silver/player_game_stats"),
                         ("gold/team_game_xgoals", "silver/team_game_stats")):
        assert wh.row_count(gold) == wh.row_count(silver)
    season = pl.from_arrow(wh.read_arrow("gold/skater_season_stats")).filter(pl.col("situation") == "all")
    per_game = pl.from_arrow(wh.read_arrow("gold/player_game_xgoals")).filter(pl.col("situation") == "all")
    assert season.get_column("I_F_xGoals").sum() == pytest.approx(per_game.get_column("I_F_xGoals").sum())


# ----------------------------------------------------------------------------------------------------
# gold over an empty or missing silver, and over too little history (issue 13)
# ----------------------------------------------------------------------------------------------------


def test_features_over_no_silver_rows_are_empty_with_their_schema(silver):
    players, teams = silver
    upcoming = pl.DataFrame({"gameId": [2099020001], "gameDate": [date(2023, 10, 11)], "season": [20232024],
                             "homeTeam": ["BOS"], "awayTeam": ["TOR"]})
    for p, t in ((players.clear(), teams.clear()), (pl.DataFrame(), pl.DataFrame())):  # empty, missing table
        f = player_features(p, t, date(2023, 10, 10), date(2023, 10, 11), upcoming)
        assert f.is_empty() and dict(f.schema) == PLAYER_FEATURE_SCHEMA
        f = team_features(t, date(2023, 10, 10), date(2023, 10, 11), upcoming)
        assert f.is_empty() and dict(f.schema) == TEAM_FEATURE_SCHEMA


def test_the_model_says_why_it_cannot_train_on_too_few_dates(silver):
    players, teams = silver
    f = player_features(players, teams, date(2023, 10, 10), date(2023, 10, 13))  # 4 game dates
    assert f.get_column("gameDate").n_unique() == 4
    reason = tm.untrainable_reason(f)
    assert reason is not None and "on 4 game date(s)" in reason and f"{tm.MIN_TRAIN_DATES}+ dates" in reason
    with pytest.raises(ValueError, match=r"too little history to train: .* on 4 game date\(s\)"):
        tm.train(f)
    assert "0 played player-games on 0 game date(s)" in tm.untrainable_reason(pl.DataFrame())
    assert tm.untrainable_reason(player_features(players, teams, date(2023, 10, 10), date(2023, 10, 14))) is None


def _gold_runs(defs, instance, window: DateWindow, engine: str = "polars") -> dict[str, object]:
    """Season stats, features, model and predictions for `window` (no API: the refresh job's upcoming
    schedule is left out), each a Dagster run; their results by step."""
    from dagster import AssetKey

    from nhl_assets.definitions import GOLD_FEATURES_JOB, MODEL_JOB, PREDICTIONS_JOB, REFRESH_JOB, SHOT_XG_JOB, \
        XG_MODEL_JOB
    from nhl_assets.runs import QUIET, materialize_window

    engine_config = {"resources": {"engine": {"config": {"engine": engine}}}}
    return {
        "xg model": defs.resolve_job_def(XG_MODEL_JOB).execute_in_process(instance=instance, run_config=QUIET),
        "shot xg": materialize_window(defs, window, instance, SHOT_XG_JOB),
        "season stats": defs.resolve_job_def(REFRESH_JOB).execute_in_process(
            instance=instance, run_config=QUIET, asset_selection=[AssetKey(["gold", "skater_season_stats"])]),
        "features": materialize_window(defs, window, instance, GOLD_FEATURES_JOB, run_config=engine_config),
        "model": defs.resolve_job_def(MODEL_JOB).execute_in_process(instance=instance, run_config=QUIET),
        "predictions": materialize_window(defs, window, instance, PREDICTIONS_JOB),
    }


def _notes(result) -> dict[str, str]:
    """The `note` metadata of each materialization of a run, by table."""
    return {"/".join(e.asset_key.path): e.materialization.metadata["note"].value
            for e in result.get_asset_materialization_events() if "note" in e.materialization.metadata}


def _checks(result) -> dict[str, object]:
    return {f"{'/'.join(e.asset_key.path)}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


@pytest.mark.parametrize("engine", ["polars", "spark"])
@pytest.mark.parametrize("state", ["empty", "missing"])
def test_every_gold_step_over_an_empty_or_missing_silver_writes_empty_tables_and_says_why(
        state, engine, warehouse_env, monkeypatch):
    """The issue's crash: gold features over a silver without games failed with a traceback. Every gold step
    now writes its table empty (with its schema) and records why; the Spark engine is never started for it."""
    import shutil

    from nhl_assets.gold.assets import GOLD_TABLES, MODEL_SCHEMA

    wh = Warehouse(os.environ["NHL_WAREHOUSE"])
    mg.ensure_current(wh)  # a fresh warehouse: every table created empty by the migrations
    silver_tables = ("silver/player_game_stats", "silver/team_game_stats")
    if state == "missing":
        for table in silver_tables:
            shutil.rmtree(wh.uri(table))
        assert not any(wh.exists(t) for t in silver_tables)
    window = DateWindow.of("2024-10-01", "2024-10-05")
    results = _gold_runs(build_definitions(), DagsterInstance.ephemeral(), window, engine)
    assert all(r.success for r in results.values())
    assert {t: wh.row_count(t) for t in GOLD_TABLES} == {t: 0 for t in GOLD_TABLES}
    names = set(wh.read_arrow("gold/player_game_features").schema.names)
    assert set(PLAYER_FEATURE_SCHEMA) <= names
    assert wh.read_arrow("gold/sog_model").schema.names == MODEL_SCHEMA.names
    assert "I_F_shotsOnGoal" in wh.read_arrow("gold/skater_season_stats").schema.names  # the table's own columns
    said = "does not exist" if state == "missing" else "holds no games"
    assert said in _notes(results["season stats"])["gold/skater_season_stats"]
    notes = _notes(results["features"])
    assert notes["gold/player_game_features"] == notes["gold/team_game_features"]
    if state == "empty":
        assert notes["gold/player_game_features"] == (
            "silver/player_game_stats holds no games in 2023-10-01...2024-10-05: wrote 0 rows to "
            "gold/player_game_features and gold/team_game_features for 2024-10-01...2024-10-05")
    else:
        assert notes["gold/player_game_features"].startswith("silver/player_game_stats does not exist")
    assert _notes(results["model"])["gold/sog_model"].startswith("no model trained: gold/player_game_features "
                                                                 "holds no games")
    assert "gold/sog_model holds no model" in _notes(results["predictions"])["gold/sog_predictions"]
    assert _notes(results["xg model"])["gold/xg_model"].startswith("no xG model trained: too little history")
    assert _notes(results["shot xg"])["gold/shot_xg"] == \
        "gold/xg_model holds no model (see its materialization): wrote 0 rows for 2024-10-01...2024-10-05"
    assert all(wh.row_count(t) == 0 for t in ("gold/xg_model", "gold/shot_xg", "gold/player_game_xgoals"))
    engines = {e.materialization.metadata["engine"].value
               for e in results["features"].get_asset_materialization_events()}
    assert engines == {engine}  # the run was configured for this engine, and did not need it
    checks = _checks(results["features"])
    assert all(c.passed for c in checks.values()) and len(checks) == 4
    model_check = _checks(results["model"])["gold/sog_model:beats_last7_baseline"]
    assert not model_check.passed and model_check.severity.value == "WARN"


def _write_silver(wh: Warehouse, league, window: DateWindow) -> None:
    """Silver player and team stats of `window`, parsed straight from the simulator's payloads."""
    from nhl_assets.catalog import partition_by

    games = [GameInputs(g.id, d, league.play_by_play_payload(g.id), league.shiftcharts_payload(g.id))
             for d in window.days() for g in league.games_on(d) if g.game_type in (2, 3)]
    frames = build_silver(games)
    for table, frame in (("silver/player_game_stats", frames.players), ("silver/team_game_stats", frames.teams)):
        wh.replace_window(table, frame.to_arrow(), window, partition_by=partition_by(table))


def test_the_model_step_over_too_little_history_trains_nothing_and_says_so(league, warehouse_env):
    from nhl_assets.definitions import MODEL_JOB
    from nhl_assets.gold.assets import MODEL_SCHEMA
    from nhl_assets.runs import QUIET

    wh = Warehouse(os.environ["NHL_WAREHOUSE"])
    mg.ensure_current(wh)
    window = DateWindow.of("2024-11-01", "2024-11-03")  # three game dates: too few to train and score a model
    _write_silver(wh, league, window)
    defs, instance = build_definitions(), DagsterInstance.ephemeral()
    results = _gold_runs(defs, instance, window)
    assert all(r.success for r in results.values())
    features = wh.row_count("gold/player_game_features")
    assert features > 500 and wh.row_count("gold/skater_season_stats") > 0
    note = _notes(results["model"])["gold/sog_model"]
    assert note == (f"no model trained: too little history to train: {features:,} played player-games on 3 game "
                    "date(s); the model needs played games on 5+ dates; wrote 0 rows to gold/sog_model")
    assert wh.row_count("gold/sog_model") == 0 and wh.row_count("gold/sog_predictions") == 0
    one_each = _checks(results["predictions"])["gold/sog_predictions:one_per_feature_row"]
    assert not one_each.passed and "holds no model" in one_each.description  # features without a prediction
    # a model already in use stays in use: a short retraining window never replaces it with nothing
    previous = {"trainedAt": datetime(2024, 10, 30, tzinfo=timezone.utc), "modelName": "earlier", "model": b"x"}
    import pyarrow as pa

    wh.replace_all("gold/sog_model", pa.Table.from_pylist([previous], schema=MODEL_SCHEMA))
    version = wh.version("gold/sog_model")
    again = defs.resolve_job_def(MODEL_JOB).execute_in_process(instance=instance, run_config=QUIET)
    assert again.success and wh.version("gold/sog_model") == version
    assert "not retrained: too little history" in _notes(again)["gold/sog_model"]
    assert "stays in use" in _notes(again)["gold/sog_model"]
