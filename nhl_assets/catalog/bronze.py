"""Bronze: every NHL API response as received, and the completeness ledger (Delta-partitioned by gameDate).

Four response tables, one per endpoint, share one layout; `bronze/games` records, per scheduled regular-season
or playoff game, what was fetched and what is still missing, so an incomplete day is re-requested later instead
of being silently treated as whole.
"""

from __future__ import annotations

from nhl_assets.catalog.columns import columns
from nhl_assets.catalog.table import Table

_DATE = """
    gameDate                     date not null        -- NHL game date (America/New_York), the Dagster partition key
"""
_GAME_ID = """
    gameId                       long not null        -- NHL game id, e.g. 2023020204 (season start year, game type, number)
"""
_RESPONSE = """
    endpoint                     string not null      -- API path template of the request
    request                      string not null      -- path and query actually sent
    httpStatus                   int not null         -- HTTP status of the final attempt
    fetchedAt                    timestamp not null   -- UTC time the response was received
    attempts                     int not null         -- attempts the request took (retries + 1)
    sha256                       string not null      -- sha256 of the body as received
    bodyBytes                    long not null        -- size of the body in bytes
    body                         binary not null      -- response body exactly as received
    source                       string not null      -- where the row came from: api or an import
    runId                        string               -- Dagster run that wrote the row
"""
_BY_DATE = ("gameDate",)


def _response(name: str, endpoint: str, per_game: bool = True) -> Table:
    what = "final game" if per_game else "game date"
    return Table(
        name,
        f"Raw {endpoint} responses, as received (one row per {what}).",
        columns(_DATE + _GAME_ID + _RESPONSE) if per_game else
        columns(_DATE + _RESPONSE + "numberOfGames int -- games scheduled on this date"),
        key=("gameId",) if per_game else ("gameDate",),
        partition_by=_BY_DATE,
    )


SCHEDULE = _response("bronze/schedule", "/v1/schedule/{date}", per_game=False)
BOXSCORE = _response("bronze/boxscore", "/v1/gamecenter/{id}/boxscore")
PLAY_BY_PLAY = _response("bronze/play_by_play", "/v1/gamecenter/{id}/play-by-play")
SHIFT_CHARTS = _response("bronze/shift_charts", "/stats/rest/en/shiftcharts")

GAMES = Table(
    "bronze/games",
    "Completeness ledger: every scheduled regular-season/playoff game, what was fetched and what is still "
    "missing (not final, shift chart not published, API error).",
    columns(_DATE + _GAME_ID + """
    season                       int                  -- 8-digit NHL season, e.g. 20232024
    gameType                     int                  -- 1 preseason, 2 regular season, 3 playoffs
    gameState                    string               -- NHL gameState (OFF/FINAL when final)
    gameScheduleState            string               -- NHL gameScheduleState (OK, PPD, CNCL)
    homeTeam                     string               -- home team abbreviation
    awayTeam                     string               -- away team abbreviation
    startTimeUTC                 timestamp            -- scheduled start (UTC)
    isFinal                      boolean not null     -- the game is final
    hasBoxscore                  boolean not null     -- boxscore fetched
    hasPlayByPlay                boolean not null     -- play-by-play fetched
    hasShiftChart                boolean not null     -- shift chart fetched with shifts
    isComplete                   boolean not null     -- every payload of the game is stored
    missing                      array<string>        -- what is still missing (re-requested later)
    checkedAt                    timestamp not null   -- UTC time of the check
    runId                        string               -- Dagster run that wrote the row
"""),
    key=("gameId",),
    partition_by=_BY_DATE,
)

TABLES = (SCHEDULE, BOXSCORE, PLAY_BY_PLAY, SHIFT_CHARTS, GAMES)
