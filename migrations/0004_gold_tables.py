"""0004 — the gold tables: season aggregates, per-game features, the shots-on-goal model and predictions.

Create-only (applied automatically when a run opens the warehouse). Frozen like 0001: later changes are
later migrations. Per-game features and predictions are partitioned by season on disk (their Dagster
partitions are game dates, the upcoming week included); the refreshed tables are unpartitioned.
"""

from nhl_assets.ops.migrate import columns

DESCRIPTION = "create the gold tables (season stats, player/team game features, sog model, sog predictions)"
AUTO = True

#: name type [not null] -- comment
DEFINITIONS = {
    "gold/skater_season_stats": """
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
    penalityMinutes              long                 -- before the game: penalityMinutes
    penalties                    long                 -- before the game: penalties
    penalityMinutesDrawn         long                 -- before the game: penalityMinutesDrawn
    penaltiesDrawn               long                 -- before the game: penaltiesDrawn
    shotsBlockedByPlayer         long                 -- season total: shotsBlockedByPlayer
    faceoffsWon                  long                 -- season total: faceoffsWon
    faceoffsLost                 long                 -- season total: faceoffsLost
    OnIce_F_shotsOnGoal          long                 -- season total, on ice: F_shotsOnGoal
    OnIce_F_missedShots          long                 -- season total, on ice: F_missedShots
    OnIce_F_blockedShotAttempts  long                 -- season total, on ice: F_blockedShotAttempts
    OnIce_F_shotAttempts         long                 -- season total, on ice: F_shotAttempts
    OnIce_F_unblockedShotAttempts long                 -- season total, on ice: F_unblockedShotAttempts
    OnIce_F_goals                long                 -- season total, on ice: F_goals
    OnIce_A_shotsOnGoal          long                 -- season total, on ice: A_shotsOnGoal
    OnIce_A_missedShots          long                 -- season total, on ice: A_missedShots
    OnIce_A_blockedShotAttempts  long                 -- season total, on ice: A_blockedShotAttempts
    OnIce_A_shotAttempts         long                 -- season total, on ice: A_shotAttempts
    OnIce_A_unblockedShotAttempts long                 -- season total, on ice: A_unblockedShotAttempts
    OnIce_A_goals                long                 -- season total, on ice: A_goals
""",
    "gold/player_game_features": """
    gameId                       long                 -- NHL game id
    playerId                     long                 -- NHL player id
    gameDate                     date                 -- game date (the partition key)
    season                       int                  -- 8-digit NHL season
    name                         string               -- player name
    position                     string               -- C, L, R or D
    team                         string               -- the team
    opponent                     string               -- the opponent
    sog_last                     double               -- before the game: sog_last
    sog_avg_3                    double               -- before the game: sog_avg_3
    sog_avg_7                    double               -- before the game: sog_avg_7
    sog_avg_15                   double               -- before the game: sog_avg_15
    attempts_avg_7               double               -- before the game: attempts_avg_7
    toi_avg_7                    double               -- before the game: toi_avg_7
    pp_toi_share_7               double               -- before the game: pp_toi_share_7
    games_before                 long                 -- before the game: games_before
    season_gp                    long                 -- before the game: season_gp
    season_sog_avg               double               -- before the game: season_sog_avg
    sog_per60_season             double               -- before the game: sog_per60_season
    vs_opp_games                 long                 -- before the game: vs_opp_games
    vs_opp_sog_avg               double               -- before the game: vs_opp_sog_avg
    rest_days                    long                 -- before the game: rest_days
    home                         long                 -- 1 at home, 0 away
    is_defense                   long                 -- before the game: is_defense
    team_sf_avg_10               double               -- team before the game: sf_avg_10
    team_cf_avg_10               double               -- team before the game: cf_avg_10
    opp_sa_avg_10                double               -- opponent before the game: sa_avg_10
    opp_ca_avg_10                double               -- opponent before the game: ca_avg_10
    opp_pen_taken_avg_10         double               -- opponent before the game: pen_taken_avg_10
    opp_sa_avg_season            double               -- opponent before the game: sa_avg_season
    isUpcoming                   boolean              -- not played when featurized (expected lineup)
    shotsOnGoal                  long                 -- label: actual shots on goal (null until played)
""",
    "gold/team_game_features": """
    gameId                       long                 -- NHL game id
    team                         string               -- the team
    gameDate                     date                 -- game date (the partition key)
    season                       int                  -- 8-digit NHL season
    opponent                     string               -- the opponent
    sf_avg_10                    double               -- before the game: sf_avg_10
    sa_avg_10                    double               -- before the game: sa_avg_10
    gf_avg_10                    double               -- before the game: gf_avg_10
    ga_avg_10                    double               -- before the game: ga_avg_10
    cf_avg_10                    double               -- before the game: cf_avg_10
    ca_avg_10                    double               -- before the game: ca_avg_10
    pen_taken_avg_10             double               -- before the game: pen_taken_avg_10
    pen_drawn_avg_10             double               -- before the game: pen_drawn_avg_10
    season_gp                    long                 -- before the game: season_gp
    sf_avg_season                double               -- before the game: sf_avg_season
    sa_avg_season                double               -- before the game: sa_avg_season
    rest_days                    long                 -- before the game: rest_days
    home                         long                 -- 1 at home, 0 away
    opp_sf_avg_10                double               -- opponent before the game: sf_avg_10
    opp_sa_avg_10                double               -- opponent before the game: sa_avg_10
    opp_pen_taken_avg_10         double               -- opponent before the game: pen_taken_avg_10
    isUpcoming                   boolean              -- not played when featurized (expected lineup)
    shotsOnGoalFor               long                 -- label: team shots on goal (null until played)
    goalsFor                     long                 -- team goals (null until played)
""",
    "gold/sog_model": """
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
""",
    "gold/sog_predictions": """
    gameId                       long                 -- NHL game id
    playerId                     long                 -- NHL player id
    gameDate                     date                 -- game date (the partition key)
    season                       int                  -- 8-digit NHL season
    name                         string               -- player name
    position                     string               -- C, L, R or D
    team                         string               -- the team
    opponent                     string               -- the opponent
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
""",
}

PARTITIONING = {"gold/player_game_features": ["season"], "gold/team_game_features": ["season"],
                "gold/sog_predictions": ["season"]}
TABLE_DESCRIPTIONS = {
    "gold/skater_season_stats": "Skater season totals per team and situation (refreshed whole).",
    "gold/player_game_features": "Leakage-free skater features per game (played and upcoming).",
    "gold/team_game_features": "Leakage-free team features per game (played and upcoming).",
    "gold/sog_model": "One row per training of the shots-on-goal model (refreshed whole; history = versions).",
    "gold/sog_predictions": "Shots-on-goal predictions per player-game, with the actual once played.",
}
TABLES = list(DEFINITIONS)


def upgrade(ctx) -> None:
    for table, spec in DEFINITIONS.items():
        ctx.create_table(table, columns(spec), partition_by=PARTITIONING.get(table),
                         description=TABLE_DESCRIPTIONS[table])


def validate(ctx) -> list[str]:
    return [f"{t} was not created" for t in TABLES if not ctx.exists(t)]
