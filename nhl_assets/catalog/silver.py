"""Silver: per-game stats parsed from bronze only (MoneyPuck column names), Delta-partitioned by season.

Dagster partitions silver by game date (a run replaces exactly its dates); on disk a season is one Delta
partition, so a season's read (gold features, replays) touches one folder instead of hundreds.
"""

from __future__ import annotations

from nhl_assets.catalog.columns import columns
from nhl_assets.catalog.table import Table

_GAME = """
    gameId                       long                 -- NHL game id, e.g. 2023020204 (season start year, game type, number)
    gameDate                     date                 -- NHL game date (America/New_York), the Dagster partition key
    season                       int                  -- 8-digit NHL season, e.g. 20232024
"""
_SITUATION = """
    situation                    string               -- all, 5on5, 5on4, 4on5 or other, from this team's point of view
"""
_SHIFT_DATA = """
    hasShiftData                 boolean              -- the game's shift chart was available
"""
_BY_SEASON = ("season",)

PLAYER_GAME_STATS = Table(
    "silver/player_game_stats",
    "Skater game stats, MoneyPuck columns, key (gameId, playerId, situation) with situations "
    "all/5on5/5on4/4on5/other from the player's team's view; ice time and on-ice stats from shift charts "
    "(null with hasShiftData=false when the chart is missing).",
    columns(_GAME + """
    playerId                     long                 -- NHL player id
    name                         string               -- player name
    position                     string               -- C, L, R, D (G for goalies)
    playerTeam                   string               -- the player's team
    opposingTeam                 string               -- the opponent
    home_or_away                 string               -- HOME or AWAY
""" + _SITUATION + """
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
    OnIce_F_unblockedShotAttempts long                -- on ice, for his team: unblockedShotAttempts
    OnIce_F_goals                long                 -- on ice, for his team: goals
    OnIce_A_shotsOnGoal          long                 -- on ice, against his team: shotsOnGoal
    OnIce_A_missedShots          long                 -- on ice, against his team: missedShots
    OnIce_A_blockedShotAttempts  long                 -- on ice, against his team: blockedShotAttempts
    OnIce_A_shotAttempts         long                 -- on ice, against his team: shotAttempts
    OnIce_A_unblockedShotAttempts long                -- on ice, against his team: unblockedShotAttempts
    OnIce_A_goals                long                 -- on ice, against his team: goals
""" + _SHIFT_DATA),
    key=("gameId", "playerId", "situation"),
    partition_by=_BY_SEASON,
)

TEAM_GAME_STATS = Table(
    "silver/team_game_stats",
    "Team game stats For/Against, key (gameId, team, situation).",
    columns(_GAME + """
    team                         string               -- the team
    opposingTeam                 string               -- the opponent
    home_or_away                 string               -- HOME or AWAY
""" + _SITUATION + """
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
""" + _SHIFT_DATA),
    key=("gameId", "team", "situation"),
    partition_by=_BY_SEASON,
)

GOALIE_GAME_STATS = Table(
    "silver/goalie_game_stats",
    "Goalie game stats (shots against, saves, goals against, ice time), key (gameId, playerId, situation).",
    columns(_GAME + """
    playerId                     long                 -- NHL player id
    name                         string               -- player name
    team                         string               -- the team
    opposingTeam                 string               -- the opponent
    home_or_away                 string               -- HOME or AWAY
""" + _SITUATION + """
    icetime                      long                 -- seconds on ice in the situation (shift charts); null without shift data
    shotsAgainst                 long                 -- shots on goal faced
    goalsAgainst                 long                 -- goals allowed
    saves                        long                 -- shots against minus goals against
    penalityMinutes              long                 -- penalty minutes (MoneyPuck spelling)
""" + _SHIFT_DATA),
    key=("gameId", "playerId", "situation"),
    partition_by=_BY_SEASON,
)

SCHEDULE = Table(
    "silver/schedule",
    "Played (final) regular-season and playoff games: date, season, type, teams, official score.",
    columns(_GAME + """
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
"""),
    key=("gameId",),
    partition_by=_BY_SEASON,
)

QUARANTINE = Table(
    "silver/quarantine",
    "Rows and payloads rejected before the write, with the reason and a pointer to the raw bronze row "
    "(table, request, sha256, fetch time).",
    columns("""
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
"""),
    key=None,
)

#: In the order the silver asset declares them.
TABLES = (PLAYER_GAME_STATS, TEAM_GAME_STATS, GOALIE_GAME_STATS, SCHEDULE, QUARANTINE)
