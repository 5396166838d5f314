"""What the two model steps share (`gold/xg_model`, `gold/sog_model`): their run config and the model in use."""

from __future__ import annotations

from dagster import Config
from pydantic import Field

from nhl_assets.storage.delta import Warehouse


class RetrainConfig(Config):
    """Run config of both model steps (`nhl_xg_model`, `nhl_model`)."""

    retrain: bool = Field(default=False, description="Retrain even when the rule keeps the model in use "
                                                     "(`transform.retrain`), e.g. after a replay changed history.")


def latest_model(wh: Warehouse, table: str) -> dict | None:
    """The model in use of a model table (its latest training), or None before the first."""
    models = wh.read_frame(table)
    return None if models is None or models.is_empty() else models.sort("trainedAt").row(-1, named=True)
