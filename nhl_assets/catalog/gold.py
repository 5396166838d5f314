"""Gold: season aggregates, leakage-free features, the shots-on-goal model and its predictions.

Per-game tables (features, predictions) are Dagster-partitioned by game date, the upcoming week included,
and Delta-partitioned by season; the others are recomputed whole on every run.
"""

from __future__ import annotations

from nhl_assets.catalog.columns import columns
from nhl_assets.catalog.table import Table

_BY_SEASON = ("season",)
#: whose game a per-player row is (features and predictions)
_PLAYER_GAME = """
    gameId                       long                 -- NHL game id
    playerId                     long                 -- NHL player id
    gameDate                     date                 -- game date (the partition key)
    season                       int                  -- 8-digit NHL season
    name                         string               -- player name
    position                     string               -- C, L, R or D
    team                         string               -- the team
    opponent                     string               -- the opponent
"""
_ON_ICE = "".join(f"    OnIce_{fa}_{stat:<24}long -- season total, on ice {side} his team: {stat}\n"
                  for fa, side in (("F", "for"), ("A", "against"))
                  for stat in ("shotsOnGoal", "missedShots", "blockedShotAttempts", "shotAttempts",
                               "unblockedShotAttempts", "goals"))

UPCOMING_SCHEDULE = Table(
    "gold/upcoming_schedule",
    "Regular-season and playoff games of the NHL's current week that are not final yet (from "
    "/v1/schedule/now), for predictions. Recomputed whole on every run; earlier versions stay in the Delta "
    "history.",
    columns("""
    gameId                       long                 -- NHL game id, e.g. 2023020204 (season start year, game type, number)
    gameDate                     date                 -- NHL game date (America/New_York)
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
"""),
    key=("gameId",),
    refresh=True,
)

SKATER_SEASON_STATS = Table(
    "gold/skater_season_stats",
    "Skater season totals, key (season, playerId, team, situation): games played, ice time and every count; "
    "a traded player has a row per team. Recomputed whole from silver on every run.",
    columns("""
    season                       int                  -- 8-digit NHL season
    playerId                     long                 -- NHL player id
    team                         string               -- the team
    situation                    string               -- all, 5on5, 5on4, 4on5 or other
    name                         string               -- player name
    position                     string               -- C, L, R or D
    gamesPlayed                  long                 -- games played
    gamesWithShiftData           long                 -- games whose ice time is known
    firstGameDate                date                 -- first game of the season for this team
    lastGameDate                 date                 -- last game so far
    icetime                      long                 -- seconds on ice (games with shift data)
    shifts                       long                 -- shifts
    I_F_shotsOnGoal              long                 -- season total, individual: shotsOnGoal
    I_F_missedShots              long                 -- season total, individual: missedShots
    I_F_blockedShotAttempts      long                 -- season total, individual: blockedShotAttempts
    I_F_shotAttempts             long                 -- season total, individual: shotAttempts
    I_F_unblockedShotAttempts    long                 -- season total, individual: unblockedShotAttempts
    I_F_goals                    long                 -- season total, individual: goals
    I_F_primaryAssists           long                 -- season total, individual: primaryAssists
    I_F_secondaryAssists         long                 -- season total, individual: secondaryAssists
    I_F_points                   long                 -- season total, individual: points
    I_F_hits                     long                 -- season total, individual: hits
    I_F_takeaways                long                 -- season total, individual: takeaways
    I_F_giveaways                long                 -- season total, individual: giveaways
    penalityMinutes              long                 -- season total: penalityMinutes
    penalties                    long                 -- season total: penalties
    penalityMinutesDrawn         long                 -- season total: penalityMinutesDrawn
    penaltiesDrawn               long                 -- season total: penaltiesDrawn
    shotsBlockedByPlayer         long                 -- season total: shotsBlockedByPlayer
    faceoffsWon                  long                 -- season total: faceoffsWon
    faceoffsLost                 long                 -- season total: faceoffsLost
""" + _ON_ICE + """
    I_F_xGoals                   double               -- season total: xGoals of his unblocked attempts (gold/player_game_xgoals)
    OnIce_F_xGoals               double               -- season total: his team's xGoals while he was on ice (games with shift data)
    OnIce_A_xGoals               double               -- season total: the opponent's xGoals while he was on ice (games with shift data)
"""),
    key=("season", "playerId", "team", "situation"),
    date_column=None,
    refresh=True,
)

PLAYER_GAME_FEATURES = Table(
    "gold/player_game_features",
    "Skater features per game, key (gameId, playerId): for a game on date D only games strictly before D are "
    "used (last game, 3/7/15-game averages, season to date, per 60, power-play share, head-to-head, team and "
    "opponent form, rest, home). Played games carry their label (shotsOnGoal); upcoming games use each team's "
    "latest lineup.",
    columns(_PLAYER_GAME + """
    sog_last                     double               -- shots on goal in his last game
    sog_avg_3                    double               -- mean shots on goal over his last 3 games
    sog_avg_7                    double               -- mean shots on goal over his last 7 games
    sog_avg_15                   double               -- mean shots on goal over his last 15 games
    attempts_avg_7               double               -- mean shot attempts over his last 7 games
    toi_avg_7                    double               -- mean minutes on ice over his last 7 games
    pp_toi_share_7               double               -- share of his ice time at 5on4 over his last 7 games
    games_before                 long                 -- games he played before this one
    season_gp                    long                 -- games he played this season before this one
    season_sog_avg               double               -- mean shots on goal this season before this game
    sog_per60_season             double               -- shots on goal per 60 minutes this season (games with ice time)
    vs_opp_games                 long                 -- games he played against this opponent before
    vs_opp_sog_avg               double               -- mean shots on goal against this opponent before
    rest_days                    long                 -- days since his last game
    home                         long                 -- 1 at home, 0 away
    is_defense                   long                 -- 1 for a defenseman
    team_sf_avg_10               double               -- his team's mean shots on goal over its last 10 games
    team_cf_avg_10               double               -- his team's mean shot attempts over its last 10 games
    opp_sa_avg_10                double               -- opponent's mean shots on goal allowed, last 10 games
    opp_ca_avg_10                double               -- opponent's mean shot attempts allowed, last 10 games
    opp_pen_taken_avg_10         double               -- opponent's mean penalties taken, last 10 games
    opp_sa_avg_season            double               -- opponent's mean shots on goal allowed this season
    isUpcoming                   boolean              -- not played when featurized (expected lineup)
    shotsOnGoal                  long                 -- label: actual shots on goal (null until played)
"""),
    key=("gameId", "playerId"),
    partition_by=_BY_SEASON,
)

TEAM_GAME_FEATURES = Table(
    "gold/team_game_features",
    "Team features per game, key (gameId, team), from games strictly before the game's date: last-10 and "
    "season form, rest, home, opponent form.",
    columns("""
    gameId                       long                 -- NHL game id
    team                         string               -- the team
    gameDate                     date                 -- game date (the partition key)
    season                       int                  -- 8-digit NHL season
    opponent                     string               -- the opponent
    sf_avg_10                    double               -- mean shots on goal for, last 10 games
    sa_avg_10                    double               -- mean shots on goal against, last 10 games
    gf_avg_10                    double               -- mean goals for, last 10 games
    ga_avg_10                    double               -- mean goals against, last 10 games
    cf_avg_10                    double               -- mean shot attempts for, last 10 games
    ca_avg_10                    double               -- mean shot attempts against, last 10 games
    pen_taken_avg_10             double               -- mean penalties taken, last 10 games
    pen_drawn_avg_10             double               -- mean penalties drawn, last 10 games
    season_gp                    long                 -- games played this season before this one
    sf_avg_season                double               -- mean shots on goal for this season
    sa_avg_season                double               -- mean shots on goal against this season
    rest_days                    long                 -- days since the team's last game
    home                         long                 -- 1 at home, 0 away
    opp_sf_avg_10                double               -- opponent's mean shots on goal for, last 10 games
    opp_sa_avg_10                double               -- opponent's mean shots on goal against, last 10 games
    opp_pen_taken_avg_10         double               -- opponent's mean penalties taken, last 10 games
    isUpcoming                   boolean              -- not played when featurized (expected lineup)
    shotsOnGoalFor               long                 -- label: team shots on goal (null until played)
    goalsFor                     long                 -- team goals (null until played)
"""),
    key=("gameId", "team"),
    partition_by=_BY_SEASON,
)

SOG_MODEL = Table(
    "gold/sog_model",
    "Shots-on-goal model per player-game: Poisson gradient boosting (scikit-learn) on the player features, "
    "evaluated on the latest 20% of game dates (time-based split) against the last-7 and season averages; "
    "refit on all played games. One row per training; earlier models stay in the Delta history.",
    columns("""
    trainedAt                    timestamp            -- training time (model version)
    runId                        string               -- Dagster run
    modelName                    string               -- estimator
    library                      string               -- library and version
    features                     string               -- feature names (JSON)
    params                       string               -- hyperparameters (JSON)
    trainedThrough               date                 -- last game date trained on
    holdoutFrom                  date                 -- first date of the held-back period
    trainRows                    long                 -- rows before the held-back period
    holdoutRows                  long                 -- held-back rows
    metrics                      string               -- held-back metrics vs baselines (JSON)
    importances                  string               -- permutation importances (JSON)
    calibration                  string               -- calibration by decile (JSON)
    model                        binary               -- the fitted estimator (pickle)
"""),
    key=("trainedAt",),
    date_column=None,
    refresh=True,
)

SOG_PREDICTIONS = Table(
    "gold/sog_predictions",
    "Shots-on-goal predictions, one row per player per game: expected shots and P(>=1..4 shots), the actual "
    "value once the game is played. A pre-game (out-of-sample) prediction is kept when the partition is re-run "
    "after the game, so accuracy over time is a query on this table (`inSample = false`).",
    columns(_PLAYER_GAME + """
    home                         long                 -- 1 at home, 0 away
    expectedShots                double               -- expected shots on goal (Poisson mean)
    p1Plus                       double               -- P(>= 1 shot)
    p2Plus                       double               -- P(>= 2 shots)
    p3Plus                       double               -- P(>= 3 shots)
    p4Plus                       double               -- P(>= 4 shots)
    actualShots                  long                 -- actual shots on goal once played
    inSample                     boolean              -- the model was trained on this game (not a forecast)
    modelTrainedAt               timestamp            -- model version used
    modelTrainedThrough          date                 -- last game date in the model's training data
    predictedAt                  timestamp            -- when the prediction was made
"""),
    key=("gameId", "playerId"),
    partition_by=_BY_SEASON,
)

XG_MODEL = Table(
    "gold/xg_model",
    "Expected-goals model for unblocked shot attempts: gradient boosting (scikit-learn) on silver/shots, judged "
    "on the latest 20% of game dates (time-based split) by log loss, ROC AUC and calibration against a "
    "distance-only and a distance + shot type logistic regression; refit on every shot. One row per training; "
    "earlier models stay in the Delta history.",
    columns("""
    trainedAt                    timestamp            -- training time (model version)
    runId                        string               -- Dagster run
    modelName                    string               -- estimator
    library                      string               -- library and version
    features                     string               -- feature names (JSON)
    params                       string               -- hyperparameters (JSON)
    trainedThrough               date                 -- last game date trained on
    holdoutFrom                  date                 -- first date of the held-back period
    trainRows                    long                 -- unblocked attempts before the held-back period
    holdoutRows                  long                 -- held-back unblocked attempts
    metrics                      string               -- held-back log loss, ROC AUC, Brier, xG/goals vs baselines (JSON)
    importances                  string               -- permutation importances on log loss (JSON)
    calibration                  string               -- goal rate vs mean xG by decile (JSON)
    model                        binary               -- the fitted estimator (pickle)
"""),
    key=("trainedAt",),
    date_column=None,
    refresh=True,
)

SHOT_XG = Table(
    "gold/shot_xg",
    "Every shot attempt of silver/shots with its expected goals (xGoal) from the current xG model, whose "
    "version is on each row; blocked attempts carry 0 (MoneyPuck's convention). Re-scored when the model changes.",
    columns("""
    gameId                       long                 -- NHL game id
    eventId                      long                 -- NHL eventId of the play
    gameDate                     date                 -- game date (the partition key)
    season                       int                  -- 8-digit NHL season
    team                         string               -- the shooting team
    opposingTeam                 string               -- the defending team
    situation                    string               -- 5on5, 5on4, 4on5 or other, from the shooting team's point of view
    shooterPlayerId              long                 -- the shooter
    event                        string               -- goal, shot-on-goal, missed-shot or blocked-shot
    goal                         boolean              -- a goal
    shotDistance                 double               -- feet from the attacked net
    xGoal                        double               -- probability of a goal (0 for a blocked attempt)
    modelTrainedAt               timestamp            -- version of the xG model that scored the shot
    scoredAt                     timestamp            -- when it was scored
"""),
    key=("gameId", "eventId"),
    partition_by=_BY_SEASON,
)

PLAYER_GAME_XGOALS = Table(
    "gold/player_game_xgoals",
    "MoneyPuck's xGoals columns per skater game and situation, keyed like silver/player_game_stats (every "
    "skater who dressed, all five situations): his own xGoals, and the xGoals for and against while he was on "
    "ice (shift charts; null without them).",
    columns("""
    gameId                       long                 -- NHL game id
    playerId                     long                 -- NHL player id
    situation                    string               -- all, 5on5, 5on4, 4on5 or other, from the player's team's point of view
    gameDate                     date                 -- game date (the partition key)
    season                       int                  -- 8-digit NHL season
    playerTeam                   string               -- the player's team
    I_F_xGoals                   double               -- sum of the xGoal of his own unblocked attempts
    OnIce_F_xGoals               double               -- xGoals of his team's attempts while he was on ice; null without shift data
    OnIce_A_xGoals               double               -- xGoals of the opponent's attempts while he was on ice; null without shift data
    hasShiftData                 boolean              -- the game's shift chart was available
    modelTrainedAt               timestamp            -- version of the xG model
"""),
    key=("gameId", "playerId", "situation"),
    partition_by=_BY_SEASON,
)

TEAM_GAME_XGOALS = Table(
    "gold/team_game_xgoals",
    "xGoalsFor and xGoalsAgainst per team game and situation, keyed like silver/team_game_stats.",
    columns("""
    gameId                       long                 -- NHL game id
    team                         string               -- the team
    situation                    string               -- all, 5on5, 5on4, 4on5 or other, from this team's point of view
    gameDate                     date                 -- game date (the partition key)
    season                       int                  -- 8-digit NHL season
    opposingTeam                 string               -- the opponent
    xGoalsFor                    double               -- sum of the xGoal of the team's attempts
    xGoalsAgainst                double               -- sum of the xGoal of the opponent's attempts
    modelTrainedAt               timestamp            -- version of the xG model
"""),
    key=("gameId", "team", "situation"),
    partition_by=_BY_SEASON,
)

TABLES = (UPCOMING_SCHEDULE, SKATER_SEASON_STATS, PLAYER_GAME_FEATURES, TEAM_GAME_FEATURES, SOG_MODEL,
          SOG_PREDICTIONS, XG_MODEL, SHOT_XG, PLAYER_GAME_XGOALS, TEAM_GAME_XGOALS)
