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
    situation                    string               -- all, 5on5, 5on4, 4on5 or other, from this team's point of view: 5on5/5on4/4on5 with both goalies in net, everything else (4v4, 3v3, 5v3, an empty net, penalty shots) other; all = the sum
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
    icetime                      long                 -- seconds on ice in the situation: the union of his shift-chart shifts (a shift listed twice counts once) split over the game-state timeline; all = boxscore toi within 2 s; null without shift data
    shifts                       long                 -- distinct shift-chart shifts (a shift listed twice counts once), each in the situation at its first second; all = boxscore shifts; null without shift data
    I_F_shotsOnGoal              long                 -- goals and shots on goal he took (goals included, a penalty shot in other), shootout excluded; all = boxscore sog
    I_F_missedShots              long                 -- missed-shot plays he took (shootingPlayerId), shootout excluded; not in the boxscore
    I_F_blockedShotAttempts      long                 -- his attempts that were blocked (blocked-shot plays he shot, teammate-blocked included); not the boxscore's blockedShots
    I_F_shotAttempts             long                 -- I_F_shotsOnGoal + I_F_missedShots + I_F_blockedShotAttempts
    I_F_unblockedShotAttempts    long                 -- I_F_shotsOnGoal + I_F_missedShots
    I_F_goals                    long                 -- goals he scored (scoringPlayerId), empty-net goals included, shootout excluded; all = boxscore goals
    I_F_primaryAssists           long                 -- goals naming him assist1PlayerId, shootout excluded; primary + secondary = boxscore assists
    I_F_secondaryAssists         long                 -- goals naming him assist2PlayerId, shootout excluded; primary + secondary = boxscore assists
    I_F_points                   long                 -- I_F_goals + I_F_primaryAssists + I_F_secondaryAssists; all = boxscore points
    I_F_hits                     long                 -- hits he gave (hittingPlayerId of hit plays); all = boxscore hits
    I_F_takeaways                long                 -- takeaway plays naming him (playerId); all = boxscore takeaways
    I_F_giveaways                long                 -- giveaway plays naming him (playerId); all = boxscore giveaways
    penalityMinutes              long                 -- minutes (duration) of the penalties he committed (committedByPlayerId), misconducts included, never one he only serves; a bench minor counts for no player; all = boxscore pim (MoneyPuck spelling; MoneyPuck leaves out misconducts)
    penalties                    long                 -- penalties he committed (committedByPlayerId), any type: minors, majors, misconducts, penalty-shot calls; not in the boxscore
    penalityMinutesDrawn         long                 -- minutes (duration) of the penalties naming him drawnByPlayerId, any type; not in the boxscore
    penaltiesDrawn               long                 -- penalties naming him drawnByPlayerId, any type; not in the boxscore
    shotsBlockedByPlayer         long                 -- opponents' shots he blocked: blocked-shot plays naming him blockingPlayerId with reason blocked (not teammate-blocked), situation from his team's view; all = boxscore blockedShots
    faceoffsWon                  long                 -- faceoffs naming him winningPlayerId, situation from his team's view; not compared with the boxscore
    faceoffsLost                 long                 -- faceoffs naming him losingPlayerId, situation from his team's view; not compared with the boxscore
    OnIce_F_shotsOnGoal          long                 -- on ice: his team's goals and shots on goal (shift start < shot second <= end; situation from his team's view; null without shift data)
    OnIce_F_missedShots          long                 -- on ice: his team's missed shots (shift start < shot second <= end; situation from his team's view; null without shift data)
    OnIce_F_blockedShotAttempts  long                 -- on ice: his team's attempts that were blocked (shift start < shot second <= end; situation from his team's view; null without shift data)
    OnIce_F_shotAttempts         long                 -- OnIce_F_shotsOnGoal + OnIce_F_missedShots + OnIce_F_blockedShotAttempts; null without shift data
    OnIce_F_unblockedShotAttempts long                -- OnIce_F_shotsOnGoal + OnIce_F_missedShots; null without shift data
    OnIce_F_goals                long                 -- on ice: his team's goals, empty-net goals included (shift start < shot second <= end; situation from his team's view; null without shift data)
    OnIce_A_shotsOnGoal          long                 -- on ice: the opponent's goals and shots on goal (shift start < shot second <= end; situation from his team's view; null without shift data)
    OnIce_A_missedShots          long                 -- on ice: the opponent's missed shots (shift start < shot second <= end; situation from his team's view; null without shift data)
    OnIce_A_blockedShotAttempts  long                 -- on ice: the opponent's attempts that were blocked (shift start < shot second <= end; situation from his team's view; null without shift data)
    OnIce_A_shotAttempts         long                 -- OnIce_A_shotsOnGoal + OnIce_A_missedShots + OnIce_A_blockedShotAttempts; null without shift data
    OnIce_A_unblockedShotAttempts long                -- OnIce_A_shotsOnGoal + OnIce_A_missedShots; null without shift data
    OnIce_A_goals                long                 -- on ice: the opponent's goals, empty-net goals included (shift start < shot second <= end; situation from his team's view; null without shift data)
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
    iceTime                      long                 -- seconds of game clock in the situation: the game-state timeline rebuilt from the play-by-play (shootout excluded), known without shift data
    shotsOnGoalFor               long                 -- the team's goals and shots on goal (empty net included), shootout excluded; all = boxscore team sog
    missedShotsFor               long                 -- the team's missed shots, shootout excluded
    blockedShotAttemptsFor       long                 -- the team's attempts that were blocked (teammate-blocked included)
    shotAttemptsFor              long                 -- shotsOnGoalFor + missedShotsFor + blockedShotAttemptsFor
    goalsFor                     long                 -- the team's goals, shootout excluded; all = boxscore score less a shootout winner's extra goal
    hitsFor                      long                 -- hits given by the team's players
    penaltiesFor                 long                 -- penalties charged to the team: those its players committed (any type) and bench minors
    penalityMinutesFor           long                 -- minutes of penaltiesFor, misconducts and bench minors included (MoneyPuck leaves both out)
    faceOffsWonFor               long                 -- faceoffs won by the team's players
    giveawaysFor                 long                 -- giveaways by the team's players
    takeawaysFor                 long                 -- takeaways by the team's players
    shotsOnGoalAgainst           long                 -- the opponent's goals and shots on goal (empty net included), situation from this team's view
    missedShotsAgainst           long                 -- the opponent's missed shots, situation from this team's view
    blockedShotAttemptsAgainst   long                 -- the opponent's attempts that were blocked (teammate-blocked included), situation from this team's view
    shotAttemptsAgainst          long                 -- shotsOnGoalAgainst + missedShotsAgainst + blockedShotAttemptsAgainst
    goalsAgainst                 long                 -- the opponent's goals (empty-net goals included), shootout excluded, situation from this team's view
    hitsAgainst                  long                 -- hits given by the opponent's players, situation from this team's view
    penaltiesAgainst             long                 -- the opponent's penaltiesFor, situation from this team's view
    penalityMinutesAgainst       long                 -- the opponent's penalityMinutesFor, situation from this team's view
    faceOffsWonAgainst           long                 -- faceoffs won by the opponent (this team's faceoffs lost), situation from this team's view
    giveawaysAgainst             long                 -- giveaways by the opponent's players, situation from this team's view
    takeawaysAgainst             long                 -- takeaways by the opponent's players, situation from this team's view
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
    icetime                      long                 -- seconds on ice in the situation: the union of his shift-chart shifts split over the game-state timeline; all = boxscore toi within 2 s; null without shift data
    shotsAgainst                 long                 -- goals and shots on goal naming him goalieInNetId (a shot at an empty net counts for no goalie), shootout excluded; all = boxscore shotsAgainst
    goalsAgainst                 long                 -- goals naming him goalieInNetId, shootout excluded; all = boxscore goalsAgainst
    saves                        long                 -- shotsAgainst minus goalsAgainst; all = boxscore saves
    penalityMinutes              long                 -- minutes (duration) of the penalties he committed (committedByPlayerId), even when a teammate serves them; all = boxscore pim (MoneyPuck spelling)
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
