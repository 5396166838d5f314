"""0006 — expected goals in gold: the xG model, shot xG, MoneyPuck's xGoals columns per player and team game,
and the season xGoals of `gold/skater_season_stats`.

Creates four tables (frozen like 0004: later changes are later migrations) and adds three nullable columns to
the season table in place (metadata only: its rows read null until the next refresh fills them). The per-game
tables are partitioned by season on disk; their Dagster partitions are game dates.
"""

from nhl_assets.storage.migrations import columns

DESCRIPTION = "create gold/xg_model, gold/shot_xg, gold/player_game_xgoals, gold/team_game_xgoals; season xGoals"
AUTO = True
SEASON_STATS = "gold/skater_season_stats"

#: name type [not null] -- comment
DEFINITIONS = {
    "gold/xg_model": """
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
""",
    "gold/shot_xg": """
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
""",
    "gold/player_game_xgoals": """
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
""",
    "gold/team_game_xgoals": """
    gameId                       long                 -- NHL game id
    team                         string               -- the team
    situation                    string               -- all, 5on5, 5on4, 4on5 or other, from this team's point of view
    gameDate                     date                 -- game date (the partition key)
    season                       int                  -- 8-digit NHL season
    opposingTeam                 string               -- the opponent
    xGoalsFor                    double               -- sum of the xGoal of the team's attempts
    xGoalsAgainst                double               -- sum of the xGoal of the opponent's attempts
    modelTrainedAt               timestamp            -- version of the xG model
""",
}
PARTITIONING = {"gold/shot_xg": ["season"], "gold/player_game_xgoals": ["season"],
                "gold/team_game_xgoals": ["season"]}
TABLE_DESCRIPTIONS = {
    "gold/xg_model": "One row per training of the expected-goals model (refreshed whole; history = versions).",
    "gold/shot_xg": "Expected goals of every shot attempt, with the version of the model that scored it.",
    "gold/player_game_xgoals": "xGoals per skater game and situation (own, on ice for, on ice against).",
    "gold/team_game_xgoals": "xGoalsFor and xGoalsAgainst per team game and situation.",
}
SEASON_XGOALS = """
    I_F_xGoals                   double               -- season total: xGoals of his unblocked attempts (gold/player_game_xgoals)
    OnIce_F_xGoals               double               -- season total: his team's xGoals while he was on ice (games with shift data)
    OnIce_A_xGoals               double               -- season total: the opponent's xGoals while he was on ice (games with shift data)
"""
TABLES = [*DEFINITIONS, SEASON_STATS]


def upgrade(ctx) -> None:
    for table, spec in DEFINITIONS.items():
        ctx.create_table(table, columns(spec), partition_by=PARTITIONING.get(table),
                         description=TABLE_DESCRIPTIONS[table])
    if ctx.exists(SEASON_STATS) and "I_F_xGoals" in ctx.read(SEASON_STATS).schema.names:
        ctx.note(f"keep {SEASON_STATS}: its xGoals columns exist already")
    else:
        ctx.add_columns(SEASON_STATS, SEASON_XGOALS)


def validate(ctx) -> list[str]:
    problems = [f"{t} was not created" for t in DEFINITIONS if not ctx.exists(t)]
    names = ctx.read(SEASON_STATS).schema.names
    return problems + [f"{SEASON_STATS} has no {c}" for c in ("I_F_xGoals", "OnIce_F_xGoals", "OnIce_A_xGoals")
                       if c not in names]


def downgrade(ctx) -> None:
    """Keep every table and column with its rows: code from before 0006 never reads them (the season table's
    xGoals columns read as extra columns nobody selects), and applying 0006 again keeps them as they are."""
    for table in TABLES:
        ctx.note(f"keep {table}: its rows and columns stay (applying 0006 again keeps them)")
