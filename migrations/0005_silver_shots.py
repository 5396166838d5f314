"""0005 — `silver/shots`: one row per shot attempt, the input of the expected-goals model.

Create-only (applied automatically when a run opens the warehouse), frozen like 0001 and 0004. Partitioned by
season on disk like the other silver tables; its Dagster partitions are game dates. A backfill (or replay)
of silver fills it from bronze, which already holds every play-by-play.
"""

from nhl_assets.storage.migrations import columns

DESCRIPTION = "create silver/shots (one row per shot attempt: location, distance, angle, type, strength, rebound, rush)"
AUTO = True
TABLE = "silver/shots"
TABLES = [TABLE]

#: name type [not null] -- comment
DEFINITION = """
    gameId                       long                 -- NHL game id, e.g. 2023020204 (season start year, game type, number)
    gameDate                     date                 -- NHL game date (America/New_York), the Dagster partition key
    season                       int                  -- 8-digit NHL season, e.g. 20232024
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
    hasShiftData                 boolean              -- the game's shift chart was available
"""


def upgrade(ctx) -> None:
    ctx.create_table(TABLE, columns(DEFINITION), partition_by=["season"],
                     description="One row per shot attempt (goal, on goal, missed, blocked), shootouts excluded.")


def validate(ctx) -> list[str]:
    return [] if ctx.exists(TABLE) else [f"{TABLE} was not created"]


def downgrade(ctx) -> None:
    """Keep the table and its rows: code from before 0005 never reads it, and applying 0005 again keeps it
    (a create-only migration never re-creates a table), so rolling back loses nothing."""
    ctx.note(f"keep {TABLE}: its rows stay (applying 0005 again keeps the table as it is)")
