"""The NHL API source's plain types: its settings, what a request returns, and how one fails.

Apart from the client (`nhl_assets.source.client`) because they need none of its HTTP libraries, and
loading the definitions, which only name these types, is the start of every run worker, `dagster` command
and code server: the client's imports (httpx, which loads rich for its command line, nhl-api-py and
pyrate-limiter) took 126 ms under `python -X importtime`, and importing Dagster's command line and the
definitions took 1.22 s against 1.29 s with them (medians of 5). The client is imported where a source is
opened.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from nhl_assets import settings


@dataclass(frozen=True)
class SourceSettings:
    """How to reach the NHL API. Defaults suit the live API; tests and benchmarks override them."""

    web_url: str = settings.DEFAULT_API_WEB_URL
    stats_url: str = settings.DEFAULT_API_STATS_URL
    timeout_s: float = 10.0
    max_attempts: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_cap_s: float = 120.0
    rate_per_second: float = 20.0
    concurrency: int = 4

    @classmethod
    def from_env(cls, **overrides: Any) -> "SourceSettings":
        return cls(web_url=settings.api_web_url(), stats_url=settings.api_stats_url(), **overrides)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")


@dataclass(frozen=True)
class RawResponse:
    """One HTTP response exactly as received (the last attempt, after retries)."""

    endpoint: str  # template, e.g. "/v1/gamecenter/{gameId}/boxscore"
    request: str  # path and query actually requested, e.g. "/v1/gamecenter/2023020204/boxscore"
    url: str  # the full URL, base included
    status: int
    body: bytes
    fetched_at: datetime
    attempts: int
    elapsed_s: float

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class NHLSourceError(RuntimeError):
    """A request to the NHL API that finally failed. The message names endpoint, game/date and cause."""

    def __init__(self, *, endpoint: str, request: str, cause: str, game_id: int | None = None,
                 game_date: date | None = None, status: int | None = None, attempts: int = 0,
                 response: RawResponse | None = None) -> None:
        self.endpoint = endpoint
        self.request = request
        self.cause = cause
        self.game_id = game_id
        self.game_date = game_date
        self.status = status
        self.attempts = attempts
        self.response = response
        where = []
        if game_id is not None:
            where.append(f"game {game_id}")
        if game_date is not None:
            where.append(f"date {game_date.isoformat()}")
        subject = ", ".join(where) or "request"
        super().__init__(f"NHL API {endpoint} for {subject} failed after {attempts} attempt(s): {cause} "
                         f"[GET {request}]")

    def with_context(self, *, game_id: int | None = None, game_date: date | None = None) -> "NHLSourceError":
        """The same failure, with the game/date the caller knows about."""
        return type(self)(endpoint=self.endpoint, request=self.request, cause=self.cause,
                          game_id=game_id if game_id is not None else self.game_id,
                          game_date=game_date if game_date is not None else self.game_date,
                          status=self.status, attempts=self.attempts, response=self.response)


class NHLPayloadError(NHLSourceError):
    """The API answered 2xx with a body that is not valid JSON (truncated, HTML error page, ...)."""


@dataclass(frozen=True)
class Fetched:
    """A parsed payload (as nhl-api-py returns it) with the raw response it came from."""

    data: dict[str, Any]
    raw: RawResponse
