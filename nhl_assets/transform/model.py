"""Shots-on-goal model: a Poisson gradient-boosted regressor, a time-based split, honest baselines (pure).

Why these choices: shots on goal are counts with a variance that grows with the mean, so the model is
fitted with a Poisson loss (scikit-learn's `HistGradientBoostingRegressor(loss="poisson")`, which also
takes missing values — a player's first game — natively) and judged with the Poisson deviance beside MAE
and RMSE. The replaced system split train/test at random, which lets a player's later games teach the
model about his earlier ones; here the held-back period is the *latest* dates, as in real use. The model
must beat the two baselines a hockey analyst would use without a model: the player's last-7-games average
and his season-to-date average.
"""

from __future__ import annotations

import base64
import io
import pickle
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from nhl_assets.catalog import gold as cg
from nhl_assets.transform.features import PLAYER_FEATURE_SCHEMA, PLAYER_FEATURES
from nhl_assets.transform.threads import by_halves, side_by_side

# scikit-learn and SciPy are imported by the functions that use them: importing them costs 1.25 s, paid by
# every process that loads the definitions (each run, each `dagster` command), and only the model steps
# need them.
if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingRegressor

LABEL = "shotsOnGoal"
MODEL_NAME = "HistGradientBoostingRegressor(loss='poisson')"
PARAMS: dict[str, Any] = {"loss": "poisson", "learning_rate": 0.05, "max_iter": 300, "max_leaf_nodes": 15,
                          "min_samples_leaf": 40, "l2_regularization": 1.0, "early_stopping": False,
                          "random_state": 0}
_EPS = 1e-6
#: Fewest game dates with played games the model trains on: the latest 20% of dates are held back to
#: score it, so fewer dates would leave it almost nothing to learn from or to be judged on.
MIN_TRAIN_DATES = 5


@dataclass
class Evaluation:
    """Scores of one predictor on the held-back period."""

    mae: float
    rmse: float
    poisson_deviance: float
    mean_predicted: float
    mean_actual: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.__dict__.items()}


@dataclass
class TrainedModel:
    model: HistGradientBoostingRegressor
    features: tuple[str, ...]
    trained_through: date
    holdout_from: date
    train_rows: int
    holdout_rows: int
    evaluations: dict[str, Evaluation]  # model / last7 / season
    calibration: list[dict[str, float]]  # per predicted-value bin: mean predicted, mean actual, rows
    importances: dict[str, float]
    plot_png: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    def beats(self, baseline: str = "last7") -> tuple[bool, float]:
        """(model better on Poisson deviance and RMSE, relative deviance improvement over `baseline`)."""
        m, b = self.evaluations["model"], self.evaluations[baseline]
        gain = (b.poisson_deviance - m.poisson_deviance) / b.poisson_deviance
        return (m.poisson_deviance < b.poisson_deviance and m.rmse < b.rmse), gain

    def dumps(self) -> bytes:
        return pickle.dumps(self.model, protocol=5)


def matrix(frame: pl.DataFrame, features: tuple[str, ...] = PLAYER_FEATURES) -> np.ndarray:
    return frame.select([pl.col(f).cast(pl.Float64) for f in features]).to_numpy()


def _evaluate(y: np.ndarray, pred: np.ndarray) -> Evaluation:
    from sklearn.metrics import mean_absolute_error, mean_poisson_deviance, mean_squared_error

    pred = np.clip(pred, _EPS, None)
    return Evaluation(mae=float(mean_absolute_error(y, pred)), rmse=float(np.sqrt(mean_squared_error(y, pred))),
                      poisson_deviance=float(mean_poisson_deviance(y, pred)), mean_predicted=float(pred.mean()),
                      mean_actual=float(y.mean()))


def baselines(frame: pl.DataFrame, fallback: float) -> dict[str, np.ndarray]:
    """Last-7 and season averages (from the features themselves, so equally leakage-free); a player
    without history gets the training mean."""
    last7 = frame.get_column("sog_avg_7").fill_null(fallback).to_numpy()
    season = frame.get_column("season_sog_avg").fill_null(frame.get_column("sog_avg_7")).fill_null(fallback).to_numpy()
    return {"last7": last7, "season": season}


def calibration(y: np.ndarray, pred: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean actual versus mean predicted per decile of the prediction."""
    order = np.argsort(pred)
    out = []
    for chunk in np.array_split(order, bins):
        if len(chunk):
            out.append({"predicted": round(float(pred[chunk].mean()), 4), "actual": round(float(y[chunk].mean()), 4),
                        "rows": int(len(chunk))})
    return out


def pyplot():
    """matplotlib's pyplot on the Agg backend, imported on first use (0.5-1.5 s: the models import it in a
    thread of its own while they fit, off the step's critical path)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot(cal: list[dict[str, float]], evals: dict[str, Evaluation]) -> bytes:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8), dpi=90)
    p = [c["predicted"] for c in cal]
    a = [c["actual"] for c in cal]
    top = max(p + a) * 1.1
    ax1.plot([0, top], [0, top], color="grey", lw=1, ls="--", label="perfect")
    ax1.plot(p, a, marker="o", label="model (deciles)")
    ax1.set(xlabel="predicted shots on goal", ylabel="actual shots on goal", title="Calibration (held-back)")
    ax1.legend()
    names = list(evals)
    ax2.bar(names, [evals[n].poisson_deviance for n in names], color=["tab:blue", "tab:grey", "tab:grey"])
    ax2.set(title="Poisson deviance (lower is better)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def split_dates(frame: pl.DataFrame, holdout_fraction: float) -> date:
    """First date of the held-back period: the latest `holdout_fraction` of game dates."""
    dates = frame.get_column("gameDate").unique().sort()
    return dates[int(len(dates) * (1 - holdout_fraction))]


def _is_played() -> pl.Expr:
    """A labelled row: a game played (not featurized ahead with an expected lineup)."""
    return pl.col(LABEL).is_not_null() & ~pl.col("isUpcoming")


def _played(features: pl.DataFrame) -> pl.DataFrame:
    """The labelled rows (games played), oldest first; none for a frame without columns."""
    if features.is_empty():
        return pl.DataFrame(schema=PLAYER_FEATURE_SCHEMA)
    return features.filter(_is_played()).sort("gameDate", "gameId", "playerId")


def newest_played_date(features: pl.DataFrame) -> date | None:
    """The latest game date with played (labelled) games, None without any: what decides a retrain
    (`transform.retrain`). Needs only `gameDate`, the label and `isUpcoming`."""
    played = features.filter(_is_played())
    return played.get_column("gameDate").max() if played.height else None


def untrainable_reason(features: pl.DataFrame) -> str | None:
    """Why `train` cannot fit a model on `features` (too few game dates with played games), or None.

    Asked before training so that a short or empty history is reported as such (the model step then
    writes no model and says why) instead of failing inside scikit-learn or the split.
    """
    data = _played(features)
    dates = data.get_column("gameDate").n_unique()
    if dates < MIN_TRAIN_DATES:
        return (f"too little history to train: {data.height:,} played player-games on {dates} game date(s); "
                f"the model needs played games on {MIN_TRAIN_DATES}+ dates")
    return None


class _TreeCache:
    """`model.predict` for copies of one matrix `x` that differ from it in some columns (the permuted copies of
    the importances), evaluating again only the trees that split on a changed column.

    Why it gives the same values to the bit: a tree's output for a row depends only on the columns it splits
    on, so a tree that splits on no changed column gives each row what it gave `x`; the raw predictions are
    then summed from the model's baseline over the trees in scikit-learn's order and passed through the
    model's own inverse link, as `HistGradientBoostingRegressor.predict` does (scikit-learn 1.9's
    `_raw_predict`; `tests/test_gold.py` compares the two). A tree uses 44% of the 22 features on average
    (the whole simulated history), so the importances evaluate less than half the trees. Anything else
    (another shape, categorical features) goes to `model.predict`.
    """

    def __init__(self, model: HistGradientBoostingRegressor, x: np.ndarray) -> None:
        self.model, self.x = model, x
        self.usable = model._preprocessor is None and model.n_trees_per_iteration_ == 1
        if not self.usable:
            return
        self.trees = [tree for (tree,) in model._predictors]
        self.splits_on = [frozenset(tree.nodes["feature_idx"][tree.nodes["is_leaf"] == 0].tolist())
                          for tree in self.trees]
        self.bitsets, self.f_idx_map = model._bin_mapper.make_known_categories_bitsets()
        self.raw = self._raw(x, range(len(self.trees)))  # tree i's output for row r at [i, r]
        # the running sums scikit-learn forms, from the baseline through each tree in order: a copy whose
        # first changed tree is k starts from sums[k] (the same additions, so the same bits) instead of 0
        sums = np.empty((len(self.trees) + 1, len(x)), dtype=model._baseline_prediction.dtype)
        sums[0] = model._baseline_prediction[0, 0]
        for i, row in enumerate(self.raw):
            np.add(sums[i], row, out=sums[i + 1])
        self.sums = sums

    def _raw(self, x: np.ndarray, which) -> np.ndarray:
        """Raw outputs of the trees `which` for `x` (one row per tree), the two halves of its rows side by
        side, each written into its half of one array (no concatenation)."""
        which = list(which)
        out = np.empty((len(which), len(x)), dtype=np.float64)

        def rows(lo: int, hi: int) -> None:
            for k, i in enumerate(which):
                out[k, lo:hi] = self.trees[i].predict(x[lo:hi], known_cat_bitsets=self.bitsets,
                                                      f_idx_map=self.f_idx_map, n_threads=1)

        mid = len(x) // 2
        side_by_side(lambda: rows(0, mid), lambda: rows(mid, len(x)))
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        if not self.usable or x.shape != self.x.shape or x.dtype != np.float64:
            return by_halves(self.model.predict, x, split_rows=2_000)
        changed = {j for j in range(x.shape[1]) if not np.array_equal(x[:, j], self.x[:, j], equal_nan=True)}
        again = [i for i, cols in enumerate(self.splits_on) if cols & changed]
        if not again:
            return self.model._loss.link.inverse(self.sums[-1].copy())
        fresh = dict(zip(again, self._raw(x, again)))
        raw = self.sums[again[0]].copy()
        for i in range(again[0], len(self.trees)):
            raw += fresh.get(i, self.raw[i])
        return self.model._loss.link.inverse(raw)


def _importances(model: HistGradientBoostingRegressor, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Permutation importances (3 repeats, scikit-learn's `neg_mean_poisson_deviance` scorer: the same values)
    with each permuted copy predicted through a `_TreeCache` of `x`: 10.9 s of one thread on the whole
    simulated history when every copy was predicted whole, two thirds of the held-back side's time."""
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import mean_poisson_deviance

    cache = _TreeCache(model, x)

    def neg_poisson_deviance(estimator, xs: np.ndarray, ys: np.ndarray) -> float:
        return -mean_poisson_deviance(ys, cache.predict(xs))

    return permutation_importance(model, x, y, n_repeats=3, random_state=0,
                                  scoring=neg_poisson_deviance).importances_mean


def train(features: pl.DataFrame, holdout_fraction: float = 0.2, importance_rows: int = 15_000) -> TrainedModel:
    """Fit on the earlier dates, score the held-back latest dates against the baselines, then refit on
    everything for production (the reported figures are the held-back ones).

    The held-back fit (with its predictions and importances) and the refit are independent: they run side by
    side in two threads of one OpenMP thread each (`transform.threads`: the same trees as scikit-learn's own
    threads fit, without their spin-waiting beside a busy process; 105.8 s against 18.2 s on the whole
    simulated history beside two busy processes)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    reason = untrainable_reason(features)
    if reason is not None:
        raise ValueError(reason)
    data = _played(features)
    cut = split_dates(data, holdout_fraction)
    train_df, test_df = data.filter(pl.col("gameDate") < cut), data.filter(pl.col("gameDate") >= cut)
    y_train, y_test = train_df.get_column(LABEL).to_numpy(), test_df.get_column(LABEL).to_numpy()

    def held_back():
        model = HistGradientBoostingRegressor(**PARAMS).fit(matrix(train_df), y_train)
        pred = model.predict(matrix(test_df))
        sample = test_df.sample(min(importance_rows, test_df.height), seed=0)
        return pred, _importances(model, matrix(sample), sample.get_column(LABEL).to_numpy())

    def refit():
        return HistGradientBoostingRegressor(**PARAMS).fit(matrix(data), data.get_column(LABEL).to_numpy())

    (pred, imp), final, _ = side_by_side(held_back, refit, pyplot)
    fallback = float(y_train.mean())
    evals = {"model": _evaluate(y_test, pred),
             **{k: _evaluate(y_test, v) for k, v in baselines(test_df, fallback).items()}}
    importances = dict(sorted(((f, round(float(v), 5)) for f, v in zip(PLAYER_FEATURES, imp)),
                              key=lambda kv: -kv[1]))
    cal = calibration(y_test, pred)
    return TrainedModel(model=final, features=PLAYER_FEATURES, trained_through=data.get_column("gameDate").max(),
                        holdout_from=cut, train_rows=train_df.height, holdout_rows=test_df.height,
                        evaluations=evals, calibration=cal, importances=importances, plot_png=_plot(cal, evals))


def load(blob: bytes) -> HistGradientBoostingRegressor:
    return pickle.loads(blob)  # noqa: S301 - our own table's bytes, written by `TrainedModel.dumps`


PREDICTION_SCHEMA = cg.SOG_PREDICTIONS.polars_schema


def predict(features: pl.DataFrame, model: HistGradientBoostingRegressor, trained_at, trained_through: date,
            predicted_at) -> pl.DataFrame:
    """Expected shots and P(>= k shots) per player-game; a game the model saw in training is `inSample`."""
    from scipy.stats import poisson

    if features.is_empty():
        return pl.DataFrame(schema=PREDICTION_SCHEMA)
    mu = np.clip(by_halves(model.predict, matrix(features)), _EPS, None)
    return features.select(
        "gameId", "playerId", "gameDate", "season", "name", "position", "team", "opponent", "home",
    ).with_columns(
        pl.Series("expectedShots", mu),
        *[pl.Series(f"p{k}Plus", poisson.sf(k - 1, mu)) for k in (1, 2, 3, 4)],
        features.get_column(LABEL).alias("actualShots"),
        (pl.col("gameDate") <= trained_through).alias("inSample"),
        pl.lit(trained_at, dtype=pl.Datetime("us", "UTC")).alias("modelTrainedAt"),
        pl.lit(trained_through, dtype=pl.Date).alias("modelTrainedThrough"),
        pl.lit(predicted_at, dtype=pl.Datetime("us", "UTC")).alias("predictedAt"),
    ).select([pl.col(k).cast(t) for k, t in PREDICTION_SCHEMA.items()])


def carry_over(new: pl.DataFrame, existing: pl.DataFrame | None) -> pl.DataFrame:
    """Keep the pre-game (out-of-sample) prediction of a game once it is played; only the actual is new.

    A prediction made before a game is the record of what was forecast: retraining later must not rewrite
    it, or accuracy over time would be measured on hindsight. Rows predicted in-sample are recomputed.
    """
    if existing is None or existing.is_empty():
        return new
    keep_cols = ["expectedShots", "p1Plus", "p2Plus", "p3Plus", "p4Plus", "inSample", "modelTrainedAt",
                 "modelTrainedThrough", "predictedAt"]
    kept = existing.filter(~pl.col("inSample")).select("gameId", "playerId", *keep_cols)
    merged = new.join(kept, on=["gameId", "playerId"], how="left", suffix="_kept")
    merged = merged.with_columns(
        [pl.coalesce(f"{c}_kept", c).alias(c) for c in keep_cols]).select(list(PREDICTION_SCHEMA))
    # a player predicted before the game who then did not play (scratched, game postponed): his forecast
    # stays on record, with no actual value, instead of vanishing with his feature row
    gone = existing.filter(~pl.col("inSample")).join(new.select("gameId", "playerId"), on=["gameId", "playerId"],
                                                     how="anti").with_columns(pl.lit(None, dtype=pl.Int64)
                                                                               .alias("actualShots"))
    return pl.concat([merged, gone.select(list(PREDICTION_SCHEMA)).cast(PREDICTION_SCHEMA)])


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
