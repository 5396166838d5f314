"""When the two models retrain (`transform.retrain`): one rule, decided from the stored model row (pure)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from nhl_assets.transform import model as tm, xg as tx
from nhl_assets.transform.retrain import RETRAIN_AFTER_DAYS, retrain_reason

THROUGH = date(2024, 1, 10)


def _stored(features=tm.PLAYER_FEATURES, params=tm.PARAMS, through=THROUGH) -> dict:
    """A model row as the model tables store it (features and parameters as JSON)."""
    return {"trainedAt": datetime(2024, 1, 11, 9, tzinfo=timezone.utc), "trainedThrough": through,
            "features": json.dumps(features), "params": json.dumps(params)}


@pytest.mark.unit
@pytest.mark.parametrize("days_later", range(RETRAIN_AFTER_DAYS))
def test_a_model_is_kept_until_a_week_of_game_dates_past_its_training(days_later):
    assert retrain_reason(_stored(), date.fromordinal(THROUGH.toordinal() + days_later), tm.PLAYER_FEATURES,
                          tm.PARAMS) is None


@pytest.mark.unit
@pytest.mark.parametrize(("features", "params"), [(tm.PLAYER_FEATURES, tm.PARAMS), (tx.FEATURES, tx.PARAMS)],
                         ids=["shots-on-goal model", "xG model"])
def test_both_models_stored_features_and_parameters_read_back_as_their_code_writes_them(features, params):
    assert retrain_reason(_stored(features, params), THROUGH, features, params) is None


@pytest.mark.unit
@pytest.mark.parametrize(("previous", "newest", "force", "why"), [
    (None, THROUGH, False, "no model yet"),
    (_stored(), date(2024, 1, 17), False, "7 days past the model's 2024-01-10"),
    (_stored(), date(2024, 3, 1), False, "51 days past"),
    (_stored(features=tm.PLAYER_FEATURES[:-1]), THROUGH, False, "other features or parameters"),
    (_stored(params={**tm.PARAMS, "max_iter": 1}), THROUGH, False, "other features or parameters"),
    ({**_stored(), "features": None, "params": None}, THROUGH, False, "other features or parameters"),
    (_stored(), None, False, "no labelled game date"),
    (_stored(), THROUGH, True, "asked for by the run's config"),
], ids=["no model", "a week later", "weeks later", "a feature fewer", "other parameters", "fields missing",
        "no labels", "forced"])
def test_a_model_is_retrained_and_the_reason_is_said(previous, newest, force, why):
    reason = retrain_reason(previous, newest, tm.PLAYER_FEATURES, tm.PARAMS, force=force)
    assert reason is not None and why in reason
