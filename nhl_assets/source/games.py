"""Fetching whole game days: the schedule of each day, then every regular-season and playoff game's
boxscore, play-by-play and shift chart.

The order matters for the data-protection rules:

1. The schedules of **all** days of a window are fetched first. If any of them finally fails, the error
   propagates before a single game request is made, so nothing is written for the window.
2. Per-game requests run on a bounded thread pool and days are yielded **in date order** with a bounded
   number of games in flight, so a multi-year backfill streams through constant memory.
3. A per-game failure does not abort the window: the raw response (if any) is kept and the game is
   recorded as incomplete with the reason, to be re-requested later. Likewise a game that is not final,
   or whose shift chart is not published yet, is recorded as incomplete with what is missing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson

from nhl_assets.rules import FINAL_STATES, LOADED_GAME_TYPES, is_game_id
from nhl_assets.source.types import Fetched, NHLPayloadError, NHLSourceError, RawResponse

if TYPE_CHECKING:  # only named here: the caller opens the source (see `nhl_assets.source.types`)
    from nhl_assets.source.client import NHLSource

#: Game types the pipeline loads: 2 regular season, 3 playoffs (1 preseason and 4 all-star are skipped).
#: Schedule states of games that will not be played on this date (nothing to fetch, nothing missing).
NOT_PLAYED_SCHEDULE_STATES = frozenset({"PPD", "CNCL", "SUSP"})

GAME_ENDPOINTS = ("boxscore", "play_by_play", "shift_chart")


@dataclass
class GameFetch:
    """One scheduled game of a day and what was fetched for it."""

    game_id: int
    game_date: date
    season: int | None
    game_type: int | None
    game_state: str | None
    schedule_state: str | None
    home_team: str | None
    away_team: str | None
    start_time_utc: str | None
    responses: dict[str, RawResponse] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return self.game_state in FINAL_STATES

    @property
    def is_played(self) -> bool:
        return self.schedule_state not in NOT_PLAYED_SCHEDULE_STATES

    @property
    def is_complete(self) -> bool:
        """Final and every endpoint present: the only state silver may treat as whole."""
        return not self.missing

    def has(self, endpoint: str) -> bool:
        raw = self.responses.get(endpoint)
        return raw is not None and raw.ok and not any(m.startswith(endpoint) for m in self.missing)


@dataclass
class DayFetch:
    """A game date: its raw schedule response and its games (loaded types only).

    `schedule` is None only for a raw import without a schedule file covering the date: its games are known
    from their own payloads, and no `bronze/schedule` row is written for it.
    """

    day: date
    schedule: RawResponse | None
    games: list[GameFetch]
    skipped_game_types: dict[int, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return all(g.is_complete for g in self.games)


def games_from_schedule(day: date, schedule: dict[str, Any],
                        raw: RawResponse | None = None) -> tuple[list[GameFetch], dict[int, int]]:
    """The loadable games of `day` from nhl-api-py's `daily_schedule` result (`games` absent = none).

    A game without an integer `id` cannot be fetched or keyed, and a week payload without its `gameWeek`
    list cannot say whether the day has games: both are payload errors for the whole day (raised, so
    nothing is written) — an unreadable schedule must never pass for a day without games.
    """
    if raw is not None:
        try:
            week = orjson.loads(raw.body).get("gameWeek")
        except (orjson.JSONDecodeError, AttributeError):
            week = None
        if not isinstance(week, list):
            raise NHLPayloadError(endpoint="/v1/schedule/{date}", request=raw.request,
                                  cause="schedule payload has no 'gameWeek' list (schema drift?)", game_date=day,
                                  status=raw.status, attempts=raw.attempts, response=raw)
    games: dict[int, GameFetch] = {}
    skipped: dict[int, int] = {}
    for g in schedule.get("games") or []:
        if not isinstance(g, dict) or not is_game_id(g.get("id")):
            raise NHLPayloadError(endpoint="/v1/schedule/{date}", request=raw.request if raw else "",
                                  cause=f"a scheduled game has no integer 'id' (positive, 64-bit): {str(g)[:200]}",
                                  game_date=day, status=raw.status if raw else None,
                                  attempts=raw.attempts if raw else 0, response=raw)
        game_type = g.get("gameType")
        if game_type not in LOADED_GAME_TYPES:
            skipped[game_type] = skipped.get(game_type, 0) + 1
            continue
        if g["id"] in games:  # listed twice upstream: one game, one set of rows (keys unique by construction)
            continue
        games[g["id"]] = GameFetch(
            game_id=int(g["id"]), game_date=day, season=g.get("season"), game_type=game_type,
            game_state=g.get("gameState"), schedule_state=g.get("gameScheduleState"),
            home_team=(g.get("homeTeam") or {}).get("abbrev"), away_team=(g.get("awayTeam") or {}).get("abbrev"),
            start_time_utc=g.get("startTimeUTC"),
        )
    return sorted(games.values(), key=lambda g: g.game_id), skipped


def _shift_chart_published(payload: Any) -> bool:
    """The stats API answers 200 with no shift rows until the chart is published (`payload`: the decoded
    body, as the fetch already has it)."""
    rows = payload.get("data") if isinstance(payload, dict) else None
    return isinstance(rows, list) and any(isinstance(r, dict) and r.get("typeCode") == 517 for r in rows)


def _fetch_endpoint(source: NHLSource, endpoint: str, game: GameFetch) -> tuple[str, Fetched | NHLSourceError]:
    call = {"boxscore": source.boxscore, "play_by_play": source.play_by_play,
            "shift_chart": source.shift_chart}[endpoint]
    try:
        return endpoint, call(game.game_id, game.game_date)
    except NHLSourceError as exc:
        return endpoint, exc


def record_response(game: GameFetch, endpoint: str, result: Fetched | NHLSourceError) -> None:
    """What one endpoint's answer means for the game: kept as its raw response, and what is still missing
    (a failure, a boxscore/play-by-play not final, a shift chart not published). Shared by the API fetch and
    the raw import (`nhl_assets.bronze.importer`) so both record completeness the same way."""
    if isinstance(result, NHLSourceError):
        if result.response is not None:
            game.responses[endpoint] = result.response
        game.missing.append(f"{endpoint}: {result.cause}")
        return
    game.responses[endpoint] = result.raw
    if endpoint == "shift_chart" and not _shift_chart_published(result.data):
        game.missing.append("shift_chart: not published yet")
    elif endpoint in ("boxscore", "play_by_play"):
        state = result.data.get("gameState")
        if state not in FINAL_STATES:
            game.missing.append(f"{endpoint}: gameState={state} (not final)")


def fetch_schedules(source: NHLSource, days: Sequence[date]) -> list[Fetched]:
    """Schedules of every day, concurrently; the first final failure raises (nothing is written)."""
    with ThreadPoolExecutor(max_workers=source.settings.concurrency, thread_name_prefix="nhl-sched") as pool:
        return list(pool.map(source.schedule, days))


#: Which endpoints of a final, played game to request (default: all of `GAME_ENDPOINTS`).
EndpointChoice = Callable[[GameFetch], Sequence[str]]


def fetch_days(source: NHLSource, days: Sequence[date], max_games_in_flight: int = 64,
               endpoints_for: EndpointChoice | None = None) -> Iterator[DayFetch]:
    """Yield a `DayFetch` per day, in date order, fetching game endpoints on a bounded pool.

    All schedules are fetched before any game (see module docstring). At most `max_games_in_flight`
    games are pending at once, which bounds memory on long ranges while keeping the pool busy.
    `endpoints_for` narrows the requests per game: a retry of incomplete games asks only for what bronze
    still lacks (the caller puts the stored responses back, `bronze.tables.keep_stored`).
    """
    schedules = fetch_schedules(source, days)
    with ThreadPoolExecutor(max_workers=source.settings.concurrency, thread_name_prefix="nhl-game") as pool:
        pending: deque[tuple[DayFetch, list[tuple[GameFetch, list[Future]]]]] = deque()
        in_flight = 0

        def drain_one() -> DayFetch:
            nonlocal in_flight
            day_fetch, jobs = pending.popleft()
            for game, futures in jobs:
                for fut in futures:
                    endpoint, result = fut.result()
                    record_response(game, endpoint, result)
                in_flight -= 1
            return day_fetch

        for day, sched in zip(days, schedules):
            games, skipped = games_from_schedule(day, sched.data, sched.raw)
            jobs: list[tuple[GameFetch, list[Future]]] = []
            for game in games:
                if not game.is_played:
                    continue
                if not game.is_final:
                    game.missing.append(f"final: gameState={game.game_state}")
                    continue
                wanted = GAME_ENDPOINTS if endpoints_for is None else endpoints_for(game)
                if not wanted:
                    continue
                futures = [pool.submit(_fetch_endpoint, source, ep, game) for ep in wanted]
                jobs.append((game, futures))
                in_flight += 1
            pending.append((DayFetch(day=day, schedule=sched.raw, games=games, skipped_game_types=skipped), jobs))
            while pending and in_flight > max_games_in_flight:
                yield drain_one()
        while pending:
            yield drain_one()
