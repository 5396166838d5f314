"""NHL rules the whole project shares, stated once (no imports: every layer may read them).

Which games are loaded and when a game counts as played decide what bronze fetches, what silver parses,
what the sensor waits for and what the importer accepts; a second spelling anywhere would let two layers
disagree about the same game.
"""

from __future__ import annotations

#: `gameType` of the games the warehouse loads: 2 regular season, 3 playoffs (1 preseason and the
#: all-star/special types are skipped and counted, never stored).
LOADED_GAME_TYPES: frozenset[int] = frozenset({2, 3})

#: `gameState` values of a final game. OFF is "official" (the league has signed off the numbers), FINAL
#: the state right after the horn; both are played games whose payloads are complete enough to parse.
FINAL_STATES: frozenset[str] = frozenset({"OFF", "FINAL"})


def is_final(game_state: object) -> bool:
    return game_state in FINAL_STATES


def is_game_id(value: object) -> bool:
    """A game id the warehouse can key a game by: a positive integer that fits 64 bits (JSON allows any
    integer; every table stores `gameId` as int64). NHL ids have ten digits (2023020204)."""
    return type(value) is int and 0 < value < (1 << 63)


#: The highest period number a game is read with. Regulation has three and overtime adds one at a time; the
#: longest NHL game ended in the 9th (1936), and a regular-season shootout is period 5. A play or a shift
#: in a later period is a payload error: a game's timeline is built period by period, so a period number of
#: 10**9 would have the parse build a billion periods.
MAX_PERIOD = 20
