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

SHOTS = Table(
    "silver/shots",
    "One row per shot attempt (goal, shot on goal, missed, blocked) of regular-season and playoff play, "
    "shootouts excluded, key (gameId, eventId): location normalised so the shooter attacks the net at (89, 0), "
    "distance, angle, shot type, strength, empty net, score, previous event, rebound, rush, skaters on ice.",
    columns(_GAME + """
    eventId                      long                 -- NHL eventId of the play (unique within the game)
    gameType                     int                  -- 2 regular season, 3 playoffs
    sortOrder                    long                 -- position of the play in the game (plays are ordered by it)
    period                       int                  -- period number (4 and up: overtime)
    periodType                   string               -- REG or OT
    gameSeconds                  long                 -- seconds elapsed in the game: (period - 1) * 1200 + time in period
    event                        string               -- goal, shot-on-goal, missed-shot or blocked-shot (NHL typeDescKey)
    team                         string               -- the shooting team
    opposingTeam                 string               -- the defending team
    home_or_away                 string               -- HOME or AWAY: the shooting team's side
    shooterPlayerId              long                 -- the shooter (scorer of a goal)
    shooterName                  string               -- the shooter's name
    shooterPosition              string               -- C, L, R, D (G for a goalie)
    goalieIdForShot              long                 -- goalie in the defending net; null for an empty net
    shotType                     string               -- wrist, snap, slap, backhand, tip-in, deflected, wrap-around, ... (null on blocked shots)
    xCord                        long                 -- x as the NHL writes it (feet from centre ice)
    yCord                        long                 -- y as the NHL writes it
    xCordAdjusted                long                 -- x turned so the shooter attacks the net at x = 89 (null when the direction is unknown)
    yCordAdjusted                long                 -- y turned with x
    shotDistance                 double               -- feet from the attacked net (89, 0)
    shotAngle                    double               -- degrees from straight on: 0 in front, 90 on the goal line, over 90 behind the net
    situation                    string               -- 5on5, 5on4, 4on5 or other, from the shooting team's point of view
    shootingTeamSkaters          int                  -- skaters of the shooting team on ice (situationCode)
    defendingTeamSkaters         int                  -- skaters of the defending team on ice (situationCode)
    shotOnEmptyNet               boolean              -- the defending goalie was not in net
    shootingTeamGoals            int                  -- the shooting team's goals before the shot
    defendingTeamGoals           int                  -- the defending team's goals before the shot
    lastEventType                string               -- the previous on-ice event of the period (NHL typeDescKey)
    lastEventTeam                string               -- the team owning the previous event
    timeSinceLastEvent           long                 -- seconds since the previous event
    distanceFromLastEvent        double               -- feet between the previous event and the shot
    shotRebound                  boolean              -- the same team's previous attempt was at most 3 s before, play not stopped
    shotRush                     boolean              -- at most 4 s after an event in the shooting team's neutral or defensive zone
    shotWasOnGoal                boolean              -- a goal or a shot on goal
    goal                         boolean              -- a goal
    onIceForIds                  array<long>          -- skaters of the shooting team on ice (shift chart); null without shift data
    onIceAgainstIds              array<long>          -- skaters of the defending team on ice (shift chart); null without shift data
""" + _SHIFT_DATA),
    key=("gameId", "eventId"),
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
TABLES = (PLAYER_GAME_STATS, TEAM_GAME_STATS, GOALIE_GAME_STATS, SCHEDULE, SHOTS, QUARANTINE)
