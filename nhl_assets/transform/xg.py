"""Expected goals: the probability that an unblocked shot attempt is a goal, from `silver/shots` (pure).

Why these choices:

* **What is modelled.** Unblocked attempts (goals, shots on goal, missed shots), as MoneyPuck does: a
  blocked shot never reaches the goalie, so it carries xG 0 (`score` writes 0 for it).
* **Only what is known when the puck leaves the stick.** Location (distance, angle, adjusted x and |y|),
  shot type, rebound, rush, the previous event (type, same team, seconds and feet since), skaters on ice
  for each side, empty net, score differential, period, home, defenseman. Never the outcome — not the
  event (on goal or missed says whether the goalie had to stop it), not `goal`, `shotWasOnGoal`, or the
  goalie (whose absence already is `shotOnEmptyNet`). `tests/test_xg.py` proves the features of a shot do
  not change when its outcome does.
* **Gradient boosting** (`HistGradientBoostingClassifier`, log loss): distance and angle interact with
  shot type and rebounds in ways a linear model does not capture, missing values (a shot without
  coordinates) are native, and its log-loss fit gives probabilities whose sum over many shots tracks the
  goals (checked, not assumed: `calibration` and `xg_over_goals`).
* **A time-based split**: the latest 20% of game dates are held back and scored, never a random split
  (shots of the same game and player would sit on both sides). The model must beat two baselines an analyst
  would use without one: a logistic regression on distance only, and on distance plus shot type. The model
  in production is then refitted on every shot (the figures reported are the held-back ones).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from nhl_assets.catalog import gold as cg
from nhl_assets.parse.shots import SHOT_TYPES, UNBLOCKED
from nhl_assets.parse.situations import FLIP, SITUATIONS
from nhl_assets.transform import model as tm
from nhl_assets.transform.threads import by_halves, side_by_side

# scikit-learn and its metrics are imported by the functions that use them: importing them costs 1.25 s, paid by
# every process that loads the definitions (each run, each `dagster` command), and only the model steps
# need them.
if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier

MODEL_NAME = "HistGradientBoostingClassifier(loss='log_loss')"
#: Small trees, few rounds: on the demo's month of simulated shots, 150 rounds of 8 leaves had a lower held-back
#: log loss (0.2255) than 300 of 15 (0.2286) in a third of the time (3.9 s against 5.7 s with importances).
PARAMS: dict[str, Any] = {"learning_rate": 0.08, "max_iter": 150, "max_leaf_nodes": 8, "min_samples_leaf": 50,
                          "l2_regularization": 1.0, "early_stopping": False, "random_state": 0}
LAST_EVENTS = ("faceoff", "hit", "giveaway", "takeaway", "blocked-shot", "missed-shot", "shot-on-goal", "goal",
               "stoppage", "penalty")
#: the columns of `silver/shots` the model reads (everything else, the outcome above all, it never sees)
SHOT_COLUMNS = ("gameId", "eventId", "gameDate", "event", "goal", "shotDistance", "shotAngle", "xCordAdjusted",
                "yCordAdjusted", "shotType", "shotRebound", "shotRush", "lastEventType", "lastEventTeam", "team",
                "timeSinceLastEvent", "distanceFromLastEvent", "shootingTeamSkaters", "defendingTeamSkaters",
                "shotOnEmptyNet", "shootingTeamGoals", "defendingTeamGoals", "period", "home_or_away",
                "shooterPosition")
FEATURES = ("shotDistance", "shotAngle", "xAdjusted", "yAbs", "shotTypeCode", "rebound", "rush", "lastEventCode",
            "lastEventSameTeam", "timeSinceLastEvent", "distanceFromLastEvent", "shootingSkaters",
            "defendingSkaters", "emptyNet", "scoreDifferential", "period", "home", "defenseman")
_CATEGORICAL = ("shotTypeCode", "lastEventCode")
MIN_TRAIN_DATES = 5
MIN_GOALS = 10  # in the training part and in the held-back part: fewer cannot fit or judge a goal model
_EPS = 1e-6


def _code(column: str, values: tuple[str, ...]) -> pl.Expr:
    """Category index (null for a missing or unseen value, which the model treats as missing)."""
    return pl.col(column).replace_strict(list(values), list(range(len(values))), default=None,
                                         return_dtype=pl.Float64)


def feature_frame(shots: pl.DataFrame) -> pl.DataFrame:
    """The model's inputs, one row per shot, derived from shot columns that are known before the outcome."""
    c = pl.col
    return shots.select(
        c("shotDistance").cast(pl.Float64),
        c("shotAngle").cast(pl.Float64),
        c("xCordAdjusted").cast(pl.Float64).alias("xAdjusted"),
        c("yCordAdjusted").abs().cast(pl.Float64).alias("yAbs"),
        _code("shotType", SHOT_TYPES).alias("shotTypeCode"),
        c("shotRebound").cast(pl.Float64).alias("rebound"),
        c("shotRush").cast(pl.Float64).alias("rush"),
        _code("lastEventType", LAST_EVENTS).alias("lastEventCode"),
        (c("lastEventTeam") == c("team")).cast(pl.Float64).alias("lastEventSameTeam"),
        c("timeSinceLastEvent").cast(pl.Float64),
        c("distanceFromLastEvent").cast(pl.Float64),
        c("shootingTeamSkaters").cast(pl.Float64).alias("shootingSkaters"),
        c("defendingTeamSkaters").cast(pl.Float64).alias("defendingSkaters"),
        c("shotOnEmptyNet").cast(pl.Float64).alias("emptyNet"),
        (c("shootingTeamGoals") - c("defendingTeamGoals")).clip(-3, 3).cast(pl.Float64).alias("scoreDifferential"),
        c("period").clip(1, 4).cast(pl.Float64),
        (c("home_or_away") == "HOME").cast(pl.Float64).alias("home"),
        (c("shooterPosition") == "D").cast(pl.Float64).alias("defenseman"),
    )


def matrix(shots: pl.DataFrame) -> np.ndarray:
    return feature_frame(shots).select(FEATURES).to_numpy()


def unblocked(shots: pl.DataFrame) -> pl.DataFrame:
    """The attempts the model is for, oldest first."""
    if shots.is_empty():
        return shots
    return shots.filter(pl.col("event").is_in(list(UNBLOCKED))).sort("gameDate", "gameId", "eventId")


def _baseline_matrix(shots: pl.DataFrame, with_type: bool) -> np.ndarray:
    """Distance (and its log, so a logistic curve can bend), plus one column per shot type."""
    d = shots.get_column("shotDistance").fill_null(shots.get_column("shotDistance").median() or 30.0)
    cols = [d.to_numpy(), np.log1p(d.to_numpy())]
    if with_type:
        st = shots.get_column("shotType")
        cols += [(st == t).fill_null(False).cast(pl.Float64).to_numpy() for t in SHOT_TYPES]
    return np.column_stack(cols)


@dataclass
class Evaluation:
    """Scores of one predictor on the held-back attempts."""

    log_loss: float
    roc_auc: float
    brier: float
    xg_sum: float
    goals: int

    @property
    def xg_over_goals(self) -> float:
        return self.xg_sum / self.goals if self.goals else float("nan")

    def as_dict(self) -> dict[str, float]:
        return {"log_loss": round(self.log_loss, 5), "roc_auc": round(self.roc_auc, 4), "brier": round(self.brier, 5),
                "xg_sum": round(self.xg_sum, 2), "goals": self.goals, "xg_over_goals": round(self.xg_over_goals, 4)}


def evaluate(y: np.ndarray, p: np.ndarray) -> Evaluation:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    p = np.clip(p, _EPS, 1 - _EPS)
    return Evaluation(log_loss=float(log_loss(y, p, labels=[0, 1])), roc_auc=float(roc_auc_score(y, p)),
                      brier=float(brier_score_loss(y, p)), xg_sum=float(p.sum()), goals=int(y.sum()))


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Goal rate versus mean xG per decile of xG (the held-back attempts)."""
    order = np.argsort(p, kind="stable")
    return [{"predicted": round(float(p[ch].mean()), 4), "actual": round(float(y[ch].mean()), 4),
             "shots": int(len(ch))} for ch in np.array_split(order, bins) if len(ch)]


@dataclass
class TrainedXg:
    model: HistGradientBoostingClassifier
    trained_through: date
    holdout_from: date
    train_rows: int
    holdout_rows: int
    evaluations: dict[str, Evaluation]  # model / distance / distance_type
    calibration: list[dict[str, float]]
    importances: dict[str, float]
    plot_png: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    def beats_distance(self) -> tuple[bool, float]:
        """(lower held-back log loss than the distance-only baseline, relative improvement)."""
        m, b = self.evaluations["model"].log_loss, self.evaluations["distance"].log_loss
        return m < b, (b - m) / b

    def dumps(self) -> bytes:
        return pickle.dumps(self.model, protocol=5)


def untrainable_reason(shots: pl.DataFrame, holdout_fraction: float = 0.2) -> str | None:
    """Why `train` cannot fit and judge a model on `shots`, or None (asked first, so the asset says why)."""
    data = unblocked(shots)
    dates = data.get_column("gameDate").n_unique() if data.height else 0
    if dates < MIN_TRAIN_DATES:
        return (f"too little history to train: {data.height:,} unblocked attempts on {dates} game date(s); "
                f"the xG model needs {MIN_TRAIN_DATES}+ dates")
    cut = tm.split_dates(data, holdout_fraction)
    goals = [int(data.filter(part).get_column("goal").sum()) for part in
             (pl.col("gameDate") < cut, pl.col("gameDate") >= cut)]
    if min(goals) < MIN_GOALS:
        return (f"too few goals to train and judge an xG model: {goals[0]} before {cut}, {goals[1]} from it "
                f"(needs {MIN_GOALS}+ in each)")
    return None


def _classifier() -> HistGradientBoostingClassifier:
    from sklearn.ensemble import HistGradientBoostingClassifier

    cat = [FEATURES.index(f) for f in _CATEGORICAL]
    return HistGradientBoostingClassifier(**PARAMS, categorical_features=cat)


def _plot(cal: list[dict[str, float]], evals: dict[str, Evaluation]) -> bytes:
    import io

    plt = tm.pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8), dpi=90)
    p, a = [c["predicted"] for c in cal], [c["actual"] for c in cal]
    top = max(p + a) * 1.1
    ax1.plot([0, top], [0, top], color="grey", lw=1, ls="--", label="perfect")
    ax1.plot(p, a, marker="o", label="xG model (deciles)")
    ax1.set(xlabel="mean xG", ylabel="goal rate", title="Calibration (held-back attempts)")
    ax1.legend()
    names = list(evals)
    ax2.bar(names, [evals[n].log_loss for n in names], color=["tab:blue"] + ["tab:grey"] * (len(names) - 1))
    ax2.set(title="log loss (lower is better)", ylim=(min(e.log_loss for e in evals.values()) * 0.95, None))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def train(shots: pl.DataFrame, holdout_fraction: float = 0.2, importance_rows: int = 5_000,
          plot: bool = True) -> TrainedXg:
    """Fit on the earlier dates, judge the held-back latest dates against the baselines, refit on all.

    On one OpenMP thread per fit: at these sizes (tens of thousands of shots) the gradient-boosting threads
    gain nothing, and beside a busy process (a Dagster run, the test suite) their spin-waiting made training
    2.3x slower on 2 cores (58.9 s against 20.2 s under the same load, measured on the demo's shots). The
    held-back fit (with its importances) and the refit on every attempt (with the two baselines) are
    independent, so they run side by side in two threads (`transform.threads`: the same trees as one after
    the other). And on one OpenBLAS thread: the baselines' logistic regressions spent their time in two
    BLAS threads waiting on each other (distance + type on the whole simulated history: 4.1 s against
    1.2 s on one thread, beside a busy process; the same metrics to the digits reported)."""
    import sklearn.ensemble  # noqa: F401 - its OpenBLAS loaded before the limit looks for it

    # OpenMP is limited per fit by `side_by_side` (its thread count is per thread); OpenBLAS's is per process
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(shots, holdout_fraction, importance_rows, plot)


def _train(shots: pl.DataFrame, holdout_fraction: float, importance_rows: int, plot: bool) -> TrainedXg:
    from sklearn.inspection import permutation_importance
    from sklearn.linear_model import LogisticRegression

    reason = untrainable_reason(shots, holdout_fraction)
    if reason is not None:
        raise ValueError(reason)
    data = unblocked(shots)
    cut = tm.split_dates(data, holdout_fraction)
    tr, te = data.filter(pl.col("gameDate") < cut), data.filter(pl.col("gameDate") >= cut)
    y_tr, y_te = tr.get_column("goal").cast(pl.Int8).to_numpy(), te.get_column("goal").cast(pl.Int8).to_numpy()

    def held_back():
        model = _classifier().fit(matrix(tr), y_tr)
        p = model.predict_proba(matrix(te))[:, 1]
        sample = te.sample(min(importance_rows, te.height), seed=0)
        imp = permutation_importance(model, matrix(sample), sample.get_column("goal").cast(pl.Int8).to_numpy(),
                                     n_repeats=2, random_state=0, scoring="neg_log_loss")
        return p, imp

    def refit_and_baselines():
        final = _classifier().fit(matrix(data), data.get_column("goal").cast(pl.Int8).to_numpy())
        baselines = {}
        for name, with_type in (("distance", False), ("distance_type", True)):
            lr = LogisticRegression(max_iter=1000).fit(_baseline_matrix(tr, with_type), y_tr)
            baselines[name] = evaluate(y_te, lr.predict_proba(_baseline_matrix(te, with_type))[:, 1])
        return final, baselines

    (p, imp), (final, baselines), *_ = side_by_side(held_back, refit_and_baselines, *([tm.pyplot] if plot else []))
    evals = {"model": evaluate(y_te, p), **baselines}
    importances = dict(sorted(((f, round(float(v), 6)) for f, v in zip(FEATURES, imp.importances_mean)),
                              key=lambda kv: -kv[1]))
    cal = calibration(y_te, p)
    return TrainedXg(model=final, trained_through=data.get_column("gameDate").max(), holdout_from=cut,
                     train_rows=tr.height, holdout_rows=te.height, evaluations=evals, calibration=cal,
                     importances=importances, plot_png=_plot(cal, evals) if plot else b"")


def load(blob: bytes) -> HistGradientBoostingClassifier:
    return pickle.loads(blob)  # noqa: S301 - our own table's bytes, written by `TrainedXg.dumps`


SHOT_XG_SCHEMA = cg.SHOT_XG.polars_schema


def score(shots: pl.DataFrame, model: HistGradientBoostingClassifier, trained_at, scored_at) -> pl.DataFrame:
    """`xGoal` for every attempt of `shots`: the model's probability for unblocked ones, 0 for blocked ones."""
    if shots.is_empty():
        return pl.DataFrame(schema=SHOT_XG_SCHEMA)
    is_unblocked = shots.get_column("event").is_in(list(UNBLOCKED)).to_numpy()
    xg = np.zeros(shots.height)
    if is_unblocked.any():
        xg[is_unblocked] = by_halves(lambda x: model.predict_proba(x)[:, 1],
                                     matrix(shots.filter(pl.Series(is_unblocked))))
    return shots.with_columns(
        pl.Series("xGoal", xg),
        pl.lit(trained_at, dtype=pl.Datetime("us", "UTC")).alias("modelTrainedAt"),
        pl.lit(scored_at, dtype=pl.Datetime("us", "UTC")).alias("scoredAt"),
    ).select([pl.col(k).cast(t) for k, t in SHOT_XG_SCHEMA.items()])


# ----------------------------------------------------------------------------------------------------
# MoneyPuck's xGoals columns: shot xG summed per player and team, game and situation
# ----------------------------------------------------------------------------------------------------

PLAYER_XGOALS_SCHEMA = cg.PLAYER_GAME_XGOALS.polars_schema
TEAM_XGOALS_SCHEMA = cg.TEAM_GAME_XGOALS.polars_schema
#: the same situation seen by the other team (their 5on4 is this side's 4on5), from `parse.situations`
_FLIP = {SITUATIONS[i]: SITUATIONS[f] for i, f in enumerate(FLIP)}


def _with_all(frame: pl.DataFrame, keys: list[str], value: str) -> pl.DataFrame:
    """Per-situation sums plus the `all` row (their sum, so the two can never disagree)."""
    alls = frame.group_by(keys).agg(pl.col(value).sum()).with_columns(situation=pl.lit("all"))
    return pl.concat([frame, alls.select(frame.columns)])


def _sums(frame: pl.DataFrame, keys: list[str], value: str) -> pl.DataFrame:
    if frame.is_empty():
        return pl.DataFrame(schema={**{k: frame.schema[k] for k in keys}, "situation": pl.String, value: pl.Float64})
    per = frame.group_by(*keys, "situation").agg(pl.col("xGoal").sum().alias(value))
    return _with_all(per.select(*keys, "situation", value), keys, value)


def _situation(col: str = "situation", flip: bool = False) -> pl.Expr:
    """A shot's situation (null, a shot without any known state, counts as `other`, as silver counts it)."""
    sit = pl.col(col).fill_null("other")
    return (sit.replace_strict(_FLIP) if flip else sit).alias("situation")


def player_xgoals(players: pl.DataFrame, shots: pl.DataFrame, model_trained_at) -> pl.DataFrame:
    """`gold/player_game_xgoals`: a row per row of `silver/player_game_stats` (`players`), with

    * `I_F_xGoals`: his own attempts' xG, in the situation of his team;
    * `OnIce_F_xGoals` / `OnIce_A_xGoals`: his team's / the opponent's attempts while he was on ice (the
      shot's skater lists), the opponent's situation seen from his side (their 5on4 is his 4on5); null for
      a game without shift data, never 0.

    `shots` are scored attempts with their on-ice lists (`gold/shot_xg` joined to `silver/shots`).
    """
    if players.is_empty():
        return pl.DataFrame(schema=PLAYER_XGOALS_SCHEMA)
    own = _sums(shots.filter(pl.col("shooterPlayerId").is_not_null()).select(
        "gameId", pl.col("shooterPlayerId").alias("playerId"), _situation(), "xGoal"), ["gameId", "playerId"],
        "I_F_xGoals")
    on_for = _sums(shots.select("gameId", pl.col("onIceForIds").alias("playerId"), _situation(), "xGoal")
                   .explode("playerId").drop_nulls("playerId"), ["gameId", "playerId"], "OnIce_F_xGoals")
    on_against = _sums(shots.select("gameId", pl.col("onIceAgainstIds").alias("playerId"), _situation(flip=True),
                                    "xGoal").explode("playerId").drop_nulls("playerId"),
                       ["gameId", "playerId"], "OnIce_A_xGoals")
    keys = ["gameId", "playerId", "situation"]
    out = (players.select(*keys, "gameDate", "season", "playerTeam", "hasShiftData")
           .join(own, on=keys, how="left").join(on_for, on=keys, how="left").join(on_against, on=keys, how="left"))
    shift = pl.col("hasShiftData")
    return out.with_columns(
        pl.col("I_F_xGoals").fill_null(0.0),
        *[pl.when(shift).then(pl.col(c).fill_null(0.0)).otherwise(None).alias(c)
          for c in ("OnIce_F_xGoals", "OnIce_A_xGoals")],
        pl.lit(model_trained_at, dtype=pl.Datetime("us", "UTC")).alias("modelTrainedAt"),
    ).select([pl.col(k).cast(t) for k, t in PLAYER_XGOALS_SCHEMA.items()])


def team_xgoals(teams: pl.DataFrame, shots: pl.DataFrame, model_trained_at) -> pl.DataFrame:
    """`gold/team_game_xgoals`: a row per row of `silver/team_game_stats` (`teams`), with xGoalsFor from the
    team's attempts and xGoalsAgainst from the opponent's, in the team's own situation."""
    if teams.is_empty():
        return pl.DataFrame(schema=TEAM_XGOALS_SCHEMA)
    fors = _sums(shots.select("gameId", "team", _situation(), "xGoal"), ["gameId", "team"], "xGoalsFor")
    against = _sums(shots.select("gameId", pl.col("opposingTeam").alias("team"), _situation(flip=True), "xGoal"),
                    ["gameId", "team"], "xGoalsAgainst")
    keys = ["gameId", "team", "situation"]
    out = (teams.select(*keys, "gameDate", "season", "opposingTeam")
           .join(fors, on=keys, how="left").join(against, on=keys, how="left"))
    return out.with_columns(
        pl.col("xGoalsFor").fill_null(0.0), pl.col("xGoalsAgainst").fill_null(0.0),
        pl.lit(model_trained_at, dtype=pl.Datetime("us", "UTC")).alias("modelTrainedAt"),
    ).select([pl.col(k).cast(t) for k, t in TEAM_XGOALS_SCHEMA.items()])
