"""The project's environment-variable interface (see DESIGN.md, "Public interface").

Every variable is optional and read when asked for, never at import time, so tests and the demo can
point one process at a different warehouse or API by setting the environment before building
`Definitions`.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Literal

DEFAULT_WAREHOUSE = "./warehouse"
DEFAULT_API_WEB_URL = "https://api-web.nhle.com"
DEFAULT_API_STATS_URL = "https://api.nhle.com"
DEFAULT_START_DATE = "2023-10-01"
NHL_TIMEZONE = "America/New_York"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def warehouse_root() -> str:
    """Root of every Delta table: a local path (made absolute) or an object-store URI."""
    root = _env("NHL_WAREHOUSE", DEFAULT_WAREHOUSE)
    if "://" in root:
        return root.rstrip("/")
    return os.path.abspath(root)


def api_web_url() -> str:
    """Base URL of api-web.nhle.com (schedule, boxscore, play-by-play)."""
    return _env("NHL_API_WEB_URL", DEFAULT_API_WEB_URL).rstrip("/")


def api_stats_url() -> str:
    """Base URL of api.nhle.com (stats REST API: shift charts)."""
    return _env("NHL_API_STATS_URL", DEFAULT_API_STATS_URL).rstrip("/")


def start_date() -> date:
    """First game-date partition."""
    raw = _env("NHL_START_DATE", DEFAULT_START_DATE)
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"NHL_START_DATE must be YYYY-MM-DD, got {raw!r}") from exc


DEFAULT_ENGINE = "polars"
EngineName = Literal["polars", "spark"]
ENGINES: tuple[str, ...] = ("polars", "spark")


def check_engine(name: str) -> EngineName:
    """`name` if it is a known engine, else a clear error listing the known ones."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)} (NHL_ENGINE)")
    return name  # type: ignore[return-value]


def engine() -> EngineName:
    """Engine of the silver parse and the gold feature transforms: `polars` (in-process, the default) or
    `spark` (dagster-pyspark; local mode unless the deployment's Spark config says otherwise)."""
    return check_engine(_env("NHL_ENGINE", DEFAULT_ENGINE).lower())
