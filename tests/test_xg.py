"""Expected goals (pure): no outcome reaches a shot's features, the time-based split, the model against its
baselines and its calibration on simulated shots, scoring, the xGoals sums per player and team, and the
model trained on earlier real games scoring later ones (recorded payloads)."""

from __future__ import annotations

import glob
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pytest

from nhl_assets.parse.game_stats import GameInputs, build_silver
from nhl_assets.transform import xg as tx

VERSION = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def sim_silver(league):
    """Simulated silver for 2023-10-10 .. 2023-11-30 (about 330 games), parsed without the API."""
    games, d = [], date(2023, 10, 10)
    while d <= date(2023, 11, 30):
        games += [GameInputs(g.id, d, league.play_by_play_payload(g.id), league.shiftcharts_payload(g.id))
                  for g in league.games_on(d) if g.game_type in (2, 3)]
        d += timedelta(days=1)
    out = build_silver(games)
    assert out.rejected == []
    return out


@pytest.fixture(scope="module")
def trained(sim_silver):
    return tx.train(sim_silver.shots, plot=False)


@pytest.mark.unit
def test_a_shots_outcome_never_reaches_its_features(sim_silver):
    shots = sim_silver.shots.filter(pl.col("event") != "blocked-shot").head(2000)
    flipped = shots.with_columns(
        event=pl.when(pl.col("goal")).then(pl.lit("missed-shot")).otherwise(pl.lit("goal")),
        goal=~pl.col("goal"), shotWasOnGoal=~pl.col("shotWasOnGoal"),
        goalieIdForShot=pl.lit(None, dtype=pl.Int64))
    assert tx.feature_frame(shots).equals(tx.feature_frame(flipped))
    assert not {"event", "goal", "shotWasOnGoal", "goalieIdForShot"} & set(tx.FEATURES)


@pytest.mark.unit
def test_the_held_back_part_is_the_latest_dates_and_the_model_beats_both_baselines(sim_silver, trained):
    unblocked = tx.unblocked(sim_silver.shots)
    dates = unblocked.get_column("gameDate").unique().sort()
    assert trained.holdout_from == dates[int(len(dates) * 0.8)]
    assert trained.train_rows == unblocked.filter(pl.col("gameDate") < trained.holdout_from).height
    assert trained.train_rows + trained.holdout_rows == unblocked.height
    m, d, dt = (trained.evaluations[k] for k in ("model", "distance", "distance_type"))
    print(f"simulated: model log loss {m.log_loss:.4f} AUC {m.roc_auc:.3f}; distance {d.log_loss:.4f} "
          f"{d.roc_auc:.3f}; distance+type {dt.log_loss:.4f} {dt.roc_auc:.3f}; xG/goals {m.xg_over_goals:.3f}")
    assert trained.beats_distance()[0] and m.log_loss < dt.log_loss
    assert m.roc_auc > d.roc_auc
    assert abs(m.xg_over_goals - 1) <= 0.05  # calibrated: held-back xG within 5% of the goals
    cal = trained.calibration
    assert len(cal) == 10 and cal[-1]["actual"] > 3 * cal[0]["actual"]  # the top decile scores far more often
    assert trained.importances["shotDistance"] > 0


@pytest.mark.unit
def test_scoring_gives_blocked_attempts_zero_and_every_row_the_model_version(sim_silver, trained):
    shots = sim_silver.shots.head(3000)
    scored = tx.score(shots, trained.model, VERSION, VERSION)
    assert scored.height == shots.height and scored.select("gameId", "eventId").equals(shots.select("gameId", "eventId"))
    blocked = scored.filter(pl.col("event") == "blocked-shot")
    assert blocked.height > 0 and (blocked.get_column("xGoal") == 0).all()
    rest = scored.filter(pl.col("event") != "blocked-shot").get_column("xGoal")
    assert ((rest > 0) & (rest < 1)).all()
    assert scored.get_column("modelTrainedAt").unique().to_list() == [VERSION]
    # closer shots are likelier goals, whatever else differs
    by_band = scored.filter(pl.col("event") != "blocked-shot").group_by(
        (pl.col("shotDistance") // 20).alias("band")).agg(pl.col("xGoal").mean()).sort("band")
    assert by_band.get_column("xGoal")[0] > 3 * by_band.get_column("xGoal")[3]


@pytest.mark.unit
def test_too_few_goals_or_dates_is_said_not_fitted(sim_silver):
    few_dates = sim_silver.shots.filter(pl.col("gameDate") <= date(2023, 10, 12))
    assert "too little history" in tx.untrainable_reason(few_dates)
    no_goals = sim_silver.shots.filter(~pl.col("goal"))
    assert "too few goals" in tx.untrainable_reason(no_goals)
    with pytest.raises(ValueError, match="too few goals"):
        tx.train(no_goals)


def _shot(event_id: int, team: str, opp: str, situation: str | None, shooter: int, xg_for_ids, xg_against_ids,
          event: str = "shot-on-goal") -> dict:
    return {"gameId": 1, "eventId": event_id, "team": team, "opposingTeam": opp, "situation": situation,
            "shooterPlayerId": shooter, "event": event, "onIceForIds": xg_for_ids, "onIceAgainstIds": xg_against_ids}


@pytest.mark.unit
def test_xgoals_per_player_and_team_from_hand_made_shots():
    shots = pl.DataFrame([
        _shot(1, "AAA", "BBB", "5on5", 11, [11, 12], [21, 22]),
        _shot(2, "AAA", "BBB", "5on4", 12, [11, 12], [21]),
        _shot(3, "BBB", "AAA", "4on5", 21, [21], [11, 12]),  # BBB shorthanded: AAA's 5on4 against
        _shot(4, "BBB", "AAA", None, 22, [22], [12]),  # no known state: other
    ]).with_columns(pl.Series("xGoal", [0.1, 0.3, 0.05, 0.2]))
    keys = {"gameId": 1, "gameDate": date(2024, 1, 1), "season": 20232024}
    players = pl.DataFrame([{**keys, "playerId": p, "situation": s, "playerTeam": t, "hasShiftData": p != 22}
                            for p, t in ((11, "AAA"), (12, "AAA"), (21, "BBB"), (22, "BBB"))
                            for s in ("all", "5on5", "5on4", "4on5", "other")])
    teams = pl.DataFrame([{**keys, "team": t, "opposingTeam": o, "situation": s}
                          for t, o in (("AAA", "BBB"), ("BBB", "AAA")) for s in ("all", "5on5", "5on4", "4on5", "other")])
    p = tx.player_xgoals(players, shots, VERSION)
    t = tx.team_xgoals(teams, shots, VERSION)
    assert p.height == players.height and t.height == teams.height

    def val(frame, who, col, sit, key="playerId"):
        return frame.filter((pl.col(key) == who) & (pl.col("situation") == sit)).get_column(col).item()

    assert val(p, 11, "I_F_xGoals", "all") == pytest.approx(0.1)
    assert val(p, 12, "OnIce_F_xGoals", "all") == pytest.approx(0.4)
    assert val(p, 12, "OnIce_F_xGoals", "5on4") == pytest.approx(0.3)
    assert val(p, 12, "OnIce_A_xGoals", "5on4") == pytest.approx(0.05)  # BBB's 4on5 shot is AAA's 5on4
    assert val(p, 12, "OnIce_A_xGoals", "other") == pytest.approx(0.2)
    assert val(p, 21, "OnIce_A_xGoals", "4on5") == pytest.approx(0.3)
    assert val(p, 22, "OnIce_F_xGoals", "all") is None and val(p, 22, "I_F_xGoals", "other") == pytest.approx(0.2)
    assert val(t, "AAA", "xGoalsFor", "all", "team") == pytest.approx(0.4)
    assert val(t, "AAA", "xGoalsAgainst", "5on4", "team") == pytest.approx(0.05)
    assert val(t, "BBB", "xGoalsAgainst", "4on5", "team") == pytest.approx(0.3)
    assert val(t, "BBB", "xGoalsFor", "other", "team") == pytest.approx(0.2)
    for frame, who, col in ((t, "team", "xGoalsFor"), (t, "team", "xGoalsAgainst"), (p, "playerId", "I_F_xGoals")):
        alls = frame.filter(pl.col("situation") == "all").select(who, col).sort(who)
        parts = frame.filter(pl.col("situation") != "all").group_by(who).agg(pl.col(col).sum()).sort(who)
        assert np.allclose(alls.get_column(col).to_numpy(), parts.get_column(col).to_numpy())


def _real_games(folder: Path) -> list[GameInputs]:
    files = sorted(glob.glob(str(folder / "kraken_*" / "**" / "*.json"), recursive=True)) + \
        [f for f in sorted(glob.glob(str(folder / "games" / "*_play_by_play.json"))) if "earlier" not in f]
    games = []
    for f in files:
        pbp = orjson.loads(Path(f).read_bytes())
        games.append(GameInputs(pbp["id"], date.fromisoformat(pbp["gameDate"]), pbp, None))
    return games


@pytest.mark.unit
@pytest.mark.samples
def test_trained_on_earlier_real_games_it_scores_the_later_ones(nhl_samples):
    """The recorded real play-by-plays (166 games): train on the earlier 80% of dates, judge the rest."""
    out = build_silver(_real_games(nhl_samples))
    unblocked = tx.unblocked(out.shots)
    assert unblocked.get_column("goal").sum() > 900 and unblocked.height > 14_000
    t = tx.train(out.shots, plot=False)
    m, d, dt = (t.evaluations[k] for k in ("model", "distance", "distance_type"))
    print(f"\nreal games, held back from {t.holdout_from} ({t.holdout_rows} attempts, {m.goals} goals): "
          f"model log loss {m.log_loss:.4f} AUC {m.roc_auc:.3f} xG/goals {m.xg_over_goals:.3f}; distance only "
          f"{d.log_loss:.4f} {d.roc_auc:.3f}; distance+type {dt.log_loss:.4f} {dt.roc_auc:.3f}")
    assert m.roc_auc > 0.7 and m.roc_auc > d.roc_auc
    assert m.log_loss < d.log_loss
