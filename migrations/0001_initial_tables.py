"""0001 — the initial table definitions: every bronze, silver and gold table, created empty.

Frozen: this file states the tables as they were first defined (columns, types, nullability, comments,
partitioning, properties such as change data feed). Later changes are later migrations; additive columns
evolve in place on write. Creating a table that exists leaves it untouched (it is never re-created).
"""

from nhl_assets.ops.migrate import columns

DESCRIPTION = "create every table of the warehouse (bronze, silver, gold) with its initial definition"
AUTO = True  # only creates missing tables: applied automatically when a run opens the warehouse

BRONZE_PARTITIONING = ["gameDate"]

#: the columns every bronze response table shares
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

#: name type [not null] -- comment
DEFINITIONS = {
    "bronze/schedule": _DATE + _RESPONSE + """
    numberOfGames                int                  -- games scheduled on this date
""",
    "bronze/boxscore": _DATE + _GAME_ID + _RESPONSE,
    "bronze/play_by_play": _DATE + _GAME_ID + _RESPONSE,
    "bronze/shift_charts": _DATE + _GAME_ID + _RESPONSE,
    "bronze/games": """
    gameDate                     date not null        -- NHL game date (America/New_York), the Dagster partition key
    gameId                       long not null        -- NHL game id, e.g. 2023020204 (season start year, game type, number)
    season                       int                  -- 8-digit NHL season, e.g. 20232024
    gameType                     int                  -- 1 preseason, 2 regular season, 3 playoffs
    gameState                    string               -- NHL gameState (OFF/FINAL when final)
    gameScheduleState            string               -- NHL gameScheduleState (OK, PPD, CNCL)
    homeTeam                     string               -- home team abbreviation
    awayTeam                     string               -- away team abbreviation
    startTimeUTC                 string               -- scheduled start (UTC)
    isFinal                      boolean not null     -- the game is final
    hasBoxscore                  boolean not null     -- boxscore fetched
    hasPlayByPlay                boolean not null     -- play-by-play fetched
    hasShiftChart                boolean not null     -- shift chart fetched with shifts
    isComplete                   boolean not null     -- every payload of the game is stored
    missing                      array<string>        -- what is still missing (re-requested later)
    checkedAt                    timestamp not null   -- UTC time of the check
    runId                        string               -- Dagster run that wrote the row
""",
    "silver/player_game_stats": """
    gameId                       long                 -- NHL game id, e.g. 2023020204 (season start year, game type, number)
    gameDate                     date                 -- NHL game date (America/New_York), the Dagster partition key
    season                       int                  -- 8-digit NHL season, e.g. 20232024
    playerId                     long                 -- NHL player id
    name                         string               -- player name
    position                     string               -- C, L, R, D (G for goalies)
    playerTeam                   string               -- the player's team
    opposingTeam                 string               -- the opponent
    home_or_away                 string               -- HOME or AWAY
    situation                    string               -- all, 5on5, 5on4, 4on5 or other, from this team's point of view
    icetime                      long                 -- seconds on ice in the situation (shift charts); null without shift data
    shifts                       long                 -- shifts started in the situation
    I_F_shotsOnGoal              long                 -- individual, for: shotsOnGoal
    I_F_missedShots              long                 -- individual, for: missedShots
    I_F_blockedShotAttempts      long                 -- individual, for: blockedShotAttempts
    I_F_shotAttempts             long                 -- individual, for: shotAttempts
    I_F_unblockedShotAttempts    long                 -- individual, for: unblockedShotAttempts
    I_F_goals                    long                 -- individual, for: goals
    I_F_primaryAssists           long                 -- individual, for: primaryAssists
    I_F_secondaryAssists         long                 -- individual, for: secondaryAssists
    I_F_points                   long                 -- individual, for: points
    I_F_hits                     long                 -- individual, for: hits
    I_F_takeaways                long                 -- individual, for: takeaways
    I_F_giveaways                long                 -- individual, for: giveaways
    penalityMinutes              long                 -- penalty minutes (MoneyPuck spelling)
    penalties                    long                 -- minor/major penalties taken
    penalityMinutesDrawn         long                 -- penalty minutes drawn
    penaltiesDrawn               long                 -- penalties drawn
    shotsBlockedByPlayer         long                 -- opponents' shots he blocked
    faceoffsWon                  long                 -- faceoffs won
    faceoffsLost                 long                 -- faceoffs lost
    OnIce_F_shotsOnGoal          long                 -- on ice, for his team: shotsOnGoal
    OnIce_F_missedShots          long                 -- on ice, for his team: missedShots
    OnIce_F_blockedShotAttempts  long                 -- on ice, for his team: blockedShotAttempts
    OnIce_F_shotAttempts         long                 -- on ice, for his team: shotAttempts
    OnIce_F_unblockedShotAttempts long                 -- on ice, for his team: unblockedShotAttempts
    OnIce_F_goals                long                 -- on ice, for his team: goals
    OnIce_A_shotsOnGoal          long                 -- on ice, against his team: shotsOnGoal
    OnIce_A_missedShots          long                 -- on ice, against his team: missedShots
    OnIce_A_blockedShotAttempts  long                 -- on ice, against his team: blockedShotAttempts
    OnIce_A_shotAttempts         long                 -- on ice, against his team: shotAttempts
    OnIce_A_unblockedShotAttempts long                 -- on ice, against his team: unblockedShotAttempts
    OnIce_A_goals                long                 -- on ice, against his team: goals
    hasShiftData                 boolean              -- the game's shift chart was available
""",
    "silver/team_game_stats": """
    gameId                       long                 -- NHL game id, e.g. 2023020204 (season start year, game type, number)
    gameDate                     date                 -- NHL game date (America/New_York), the Dagster partition key
    season                       int                  -- 8-digit NHL season, e.g. 20232024
    team                         string               -- the team
    opposingTeam                 string               -- the opponent
    home_or_away                 string               -- HOME or AWAY
    situation                    string               -- all, 5on5, 5on4, 4on5 or other, from this team's point of view
    iceTime                      long                 -- seconds of game clock in the situation
    shotsOnGoalFor               long                 -- shotsOnGoal by the team
    missedShotsFor               long                 -- missedShots by the team
    blockedShotAttemptsFor       long                 -- blockedShotAttempts by the team
    shotAttemptsFor              long                 -- shotAttempts by the team
    goalsFor                     long                 -- goals by the team
    hitsFor                      long                 -- hits by the team
    penaltiesFor                 long                 -- penalties by the team
    penalityMinutesFor           long                 -- penalityMinutes by the team
    faceOffsWonFor               long                 -- faceOffsWon by the team
    giveawaysFor                 long                 -- giveaways by the team
    takeawaysFor                 long                 -- takeaways by the team
    shotsOnGoalAgainst           long                 -- shotsOnGoal by the opponent
    missedShotsAgainst           long                 -- missedShots by the opponent
    blockedShotAttemptsAgainst   long                 -- blockedShotAttempts by the opponent
    shotAttemptsAgainst          long                 -- shotAttempts by the opponent
    goalsAgainst                 long                 -- goals allowed
    hitsAgainst                  long                 -- hits by the opponent
    penaltiesAgainst             long                 -- penalties by the opponent
    penalityMinutesAgainst       long                 -- penalityMinutes by the opponent
    faceOffsWonAgainst           long                 -- faceOffsWon by the opponent
    giveawaysAgainst             long                 -- giveaways by the opponent
    takeawaysAgainst             long                 -- takeaways by the opponent
    hasShiftData                 boolean              -- the game's shift chart was available
""",
    "silver/goalie_game_stats": """
    gameId                       long                 -- NHL game id, e.g. 2023020204 (season start year, game type, number)
    gameDate                     date                 -- NHL game date (America/New_York), the Dagster partition key
    season                       int                  -- 8-digit NHL season, e.g. 20232024
    playerId                     long                 -- NHL player id
    name                         string               -- player name
    team                         string               -- the team
    opposingTeam                 string               -- the opponent
    home_or_away                 string               -- HOME or AWAY
    situation                    string               -- all, 5on5, 5on4, 4on5 or other, from this team's point of view
    icetime                      long                 -- seconds on ice in the situation (shift charts); null without shift data
    shotsAgainst                 long                 -- shots on goal faced
    goalsAgainst                 long                 -- goals allowed
    saves                        long                 -- shots against minus goals against
    penalityMinutes              long                 -- penalty minutes (MoneyPuck spelling)
    hasShiftData                 boolean              -- the game's shift chart was available
""",
    "silver/schedule": """
    gameId                       long                 -- NHL game id, e.g. 2023020204 (season start year, game type, number)
    gameDate                     date                 -- NHL game date (America/New_York), the Dagster partition key
    season                       int                  -- 8-digit NHL season, e.g. 20232024
    gameType                     int                  -- 1 preseason, 2 regular season, 3 playoffs
    gameState                    string               -- NHL gameState (OFF/FINAL when final)
    gameScheduleState            string               -- NHL gameScheduleState (OK, PPD, CNCL)
    startTimeUTC                 timestamp            -- scheduled start (UTC)
    venue                        string               -- arena
    homeTeam                     string               -- home team abbreviation
    awayTeam                     string               -- away team abbreviation
    homeTeamId                   long                 -- home team id
    awayTeamId                   long                 -- away team id
    homeScore                    int                  -- official final score (shootout +1 included)
    awayScore                    int                  -- official final score (shootout +1 included)
    lastPeriodType               string               -- REG, OT or SO
""",
    "silver/quarantine": """
    gameDate                     date                 -- NHL game date (America/New_York), the Dagster partition key
    gameId                       long                 -- NHL game id, e.g. 2023020204 (season start year, game type, number)
    table                        string               -- table the rejected row or payload belongs to
    key                          string               -- key of the rejected row
    reason                       string               -- why it was rejected
    bronzeTable                  string               -- bronze table holding the raw payload
    bronzeRequest                string               -- request of the raw payload
    bronzeSha256                 string               -- sha256 of the raw payload
    bronzeFetchedAt              timestamp            -- fetch time of the raw payload
    row                          string               -- the rejected row as JSON
    quarantinedAt                timestamp            -- UTC time of the rejection
""",
    "gold/upcoming_schedule": """
    gameId                       long                 -- NHL game id, e.g. 2023020204 (season start year, game type, number)
    gameDate                     date                 -- NHL game date (America/New_York), the Dagster partition key
    season                       int                  -- 8-digit NHL season, e.g. 20232024
    gameType                     int                  -- 1 preseason, 2 regular season, 3 playoffs
    gameState                    string               -- NHL gameState (OFF/FINAL when final)
    gameScheduleState            string               -- NHL gameScheduleState (OK, PPD, CNCL)
    startTimeUTC                 timestamp            -- scheduled start (UTC)
    homeTeam                     string               -- home team abbreviation
    awayTeam                     string               -- away team abbreviation
    homeTeamId                   long                 -- home team id
    awayTeamId                   long                 -- away team id
    venue                        string               -- arena
    fetchedAt                    timestamp            -- UTC time the response was received
    scheduleSha256               string               -- sha256 of the schedule response
""",
}

TABLE_DESCRIPTIONS = {
    "bronze/schedule": "Raw /v1/schedule/{date} responses, one row per game date, as received.",
    "bronze/boxscore": "Raw boxscore responses, one row per final game, as received.",
    "bronze/play_by_play": "Raw play-by-play responses, one row per final game, as received.",
    "bronze/shift_charts": "Raw shift-chart responses, one row per final game, as received.",
    "bronze/games": "Completeness ledger: every scheduled game, what was fetched and what is missing.",
    "silver/player_game_stats": "Skater game stats (MoneyPuck columns) per situation.",
    "silver/team_game_stats": "Team game stats For/Against per situation.",
    "silver/goalie_game_stats": "Goalie game stats per situation.",
    "silver/schedule": "Played (final) regular-season and playoff games.",
    "silver/quarantine": "Rows and payloads rejected before a silver write, with the reason.",
    "gold/upcoming_schedule": "Upcoming games (refreshed whole).",
}
TABLES = list(DEFINITIONS)


def upgrade(ctx) -> None:
    for table, spec in DEFINITIONS.items():
        parts = BRONZE_PARTITIONING if table.startswith("bronze/") else None
        ctx.create_table(table, columns(spec), partition_by=parts, description=TABLE_DESCRIPTIONS[table])


def validate(ctx) -> list[str]:
    problems = []
    for table in TABLES:
        if not ctx.exists(table):
            problems.append(f"{table} was not created")
            continue
        props = ctx.wh.open(table).metadata().configuration
        if props.get("delta.enableChangeDataFeed") != "true":
            problems.append(f"{table} has no change data feed")
    return problems
