"""When a model is retrained, for both models (shots on goal and expected goals): one rule (pure).

A model step runs whenever its inputs were updated, which is every day in season. Retraining each time
would cost a fit on the whole history (11-14 s for the shots-on-goal model over two and a half seasons) to
add one day to it, and for the xG model a re-score of every shot of history. So the step keeps the model in
use unless

* there is none yet;
* the features or parameters the code trains with are not the ones the stored model was trained with
  (its predictions would be computed from the wrong columns);
* labelled data of `RETRAIN_AFTER_DAYS` game dates past the model's last training date has arrived;
* the run asks for it (`force`), e.g. after a replay that changed the history the model learned from.

Game dates rather than a weekly cron: a replay of a week then retrains exactly when a backfill of the
same week does, and a warehouse whose first step had too little history is not left without a model
for up to a week.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

#: Game dates of new labelled data after which a model is retrained.
RETRAIN_AFTER_DAYS = 7


def _as_json(value: Any) -> Any:
    """`value` as it reads back from the JSON the model table stores (tuples become lists)."""
    return json.loads(json.dumps(value))


def retrain_reason(previous: Mapping[str, Any] | None, newest: date | None, features: Sequence[str],
                   params: Mapping[str, Any], force: bool = False) -> str | None:
    """Why the model should be trained now, or None to keep `previous` (the stored row of the model in use:
    `trainedAt`, `trainedThrough`, `features` and `params` as JSON). `newest` is the latest game date with
    labelled data (None when there is none: training then reports why it cannot)."""
    if force:
        return "retraining asked for by the run's config"
    if previous is None:
        return "no model yet"
    stored_features = json.loads(previous["features"]) if previous.get("features") else None
    stored_params = json.loads(previous["params"]) if previous.get("params") else None
    if stored_features != _as_json(list(features)) or stored_params != _as_json(dict(params)):
        return f"the model trained at {previous['trainedAt']} used other features or parameters than this code"
    through = previous.get("trainedThrough")
    if newest is None or through is None:
        return "no labelled game date to compare with the model's training"
    if (newest - through).days >= RETRAIN_AFTER_DAYS:
        return f"labelled data through {newest}, {(newest - through).days} days past the model's {through}"
    return None
