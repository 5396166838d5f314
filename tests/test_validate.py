"""Expectations before a silver write: whole groups are rejected with the first failing reason."""

import polars as pl
import pytest

from nhl_assets.parse.validate import Expectations, duplicate_rows, split_valid

pytestmark = pytest.mark.unit

EXP = Expectations("silver/player_game_stats", ("gameId", "playerId", "situation"), ("gameId", "playerId"),
                   ("I_F_goals", "icetime"))
PARTS = ("5on5", "5on4", "4on5", "other")


def player(pid: int, goals: list[int], icetime: int | None = 25, game: int = 10) -> list[dict]:
    rows = [dict(gameId=game, playerId=pid, situation="all", I_F_goals=sum(goals),
                 icetime=None if icetime is None else icetime * 4)]
    rows += [dict(gameId=game, playerId=pid, situation=s, I_F_goals=g, icetime=icetime) for s, g in zip(PARTS, goals)]
    return rows


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"gameId": pl.Int64, "playerId": pl.Int64, "situation": pl.String,
                                      "I_F_goals": pl.Int64, "icetime": pl.Int64})


def reasons(rejected: pl.DataFrame) -> dict:
    return {(r["playerId"], r["situation"]): r["reason"] for r in rejected.to_dicts()}


def test_valid_rows_pass_including_unknown_icetime():
    valid, rejected = split_valid(frame(player(1, [1, 0, 0, 0]) + player(2, [0, 0, 0, 0], icetime=None)), EXP)
    assert valid.height == 10 and rejected.height == 0


def test_all_not_equal_to_sum_rejects_the_whole_group():
    rows = player(1, [1, 0, 0, 0]) + player(2, [0, 1, 0, 0])
    rows[5]["I_F_goals"] = 5  # player 2's all row
    valid, rejected = split_valid(frame(rows), EXP)
    assert valid.get_column("playerId").unique().to_list() == [1]
    assert rejected.height == 5
    assert set(reasons(rejected).values()) == {"all != sum of situations for I_F_goals"}


def test_partially_null_column_is_a_mismatch():
    rows = player(1, [1, 0, 0, 0])
    rows[2]["icetime"] = None
    _, rejected = split_valid(frame(rows), EXP)
    assert set(reasons(rejected).values()) == {"all != sum of situations for icetime"}


def test_row_level_failures():
    rows = player(1, [0, 0, 0, 0]) + player(2, [0, 0, 0, 0]) + player(3, [0, 0, 0, 0])
    rows[5]["situation"] = "6on6"
    rows[10]["I_F_goals"] = -1
    rows[11]["I_F_goals"] = -1  # keep player 3's sum consistent so the row reason is the first one
    rows.append(dict(gameId=10, playerId=None, situation="all", I_F_goals=0, icetime=0))
    valid, rejected = split_valid(frame(rows), EXP)
    got = reasons(rejected)
    assert valid.get_column("playerId").unique().to_list() == [1]
    assert got[(2, "6on6")] == "invalid situation 6on6"
    assert got[(3, "all")] == "negative I_F_goals"
    assert got[(None, "all")] == "null key column playerId"


def test_duplicate_keys_are_rejected():
    rows = player(1, [0, 0, 0, 0])
    valid, rejected = split_valid(frame(rows + rows[:1]), EXP)
    assert valid.height == 0 and "duplicate key" in rejected.get_column("reason")[0]


def test_missing_all_row_is_rejected():
    _, rejected = split_valid(frame(player(1, [1, 0, 0, 0])[1:]), EXP)
    assert rejected.height == 4 and set(rejected.get_column("reason")) == {"no 'all' row"}


def test_duplicate_rows_counts_the_rows_beyond_the_first_of_each_key():
    """What every silver and gold unique-key check reports: 0 when the key is unique (and for no rows); a
    key value seen three times counts 2; other columns do not make rows distinct; a null is a key value."""
    rows = pl.DataFrame({"gameId": [1, 1, 1, 2, 2, None, None], "playerId": [7, 7, 7, 7, 8, 9, 9],
                         "goals": [0, 1, 2, 0, 0, 0, 0]})
    assert duplicate_rows(rows, ("gameId", "playerId")) == 3
    assert duplicate_rows(rows.unique(["gameId", "playerId"]), ["gameId", "playerId"]) == 0
    assert duplicate_rows(rows.clear(), ["gameId", "playerId"]) == 0


def _one_failure(kind: str) -> list[dict]:
    """Two valid players, then one expectation broken for player 2 (and only that one)."""
    rows = player(1, [1, 0, 0, 0]) + player(2, [0, 1, 0, 0])
    if kind == "invalid situation":
        rows[6]["situation"] = "6on6"
    elif kind == "negative count":
        rows[7]["I_F_goals"], rows[8]["I_F_goals"] = -1, 2  # the sum still equals the all row
    elif kind == "null key":
        rows[9]["situation"] = None
    elif kind == "null group key":
        rows[5]["playerId"] = None
    elif kind == "duplicate key":
        rows.append(dict(rows[9]))
    elif kind == "all != sum":
        rows[5]["I_F_goals"] = 5
    elif kind == "partially null":
        rows[7]["icetime"] = None
    elif kind == "no all row":
        del rows[5]
    elif kind == "rule":
        rows[8]["icetime"] = 99_999
        rows[5]["icetime"] += 99_999 - 25
    return rows


RULED = Expectations(EXP.table, EXP.key, EXP.group, EXP.counts,
                     rules=((pl.col("icetime") > 10_000, pl.lit("icetime beyond any game")),))


@pytest.mark.parametrize("kind", ["invalid situation", "negative count", "null key", "null group key",
                                  "duplicate key", "all != sum", "partially null", "no all row", "rule"])
def test_each_expectation_alone_rejects_its_group(kind):
    """Every expectation, broken alone, is seen (a passing frame skips naming reasons row by row, so each
    must also fail the quick check), and only player 2's rows are rejected."""
    valid, rejected = split_valid(frame(_one_failure(kind)), RULED)
    assert rejected.height > 0 and rejected.get_column("reason").null_count() == 0, kind
    assert set(valid.get_column("playerId").to_list()) == {1}
    assert set(rejected.get_column("playerId").to_list()) <= {2, None}


def test_a_passing_frame_comes_back_whole():
    rows = frame(player(1, [1, 0, 0, 0]) + player(2, [0, 0, 0, 0], icetime=None))
    valid, rejected = split_valid(rows, RULED)
    assert valid.equals(rows)
    assert rejected.is_empty() and rejected.schema == {**rows.schema, "reason": pl.String}


def test_a_failing_row_whose_reason_comes_out_null_is_still_held_back():
    """A reason built from a column that is null (`lit + null` is null) names no reason, yet the row failed."""
    from nhl_assets.parse.validate import UNNAMED_REASON

    exp = Expectations(EXP.table, EXP.key, EXP.group, EXP.counts,
                       rules=((pl.col("icetime").is_null() & (pl.col("I_F_goals") > 0),
                               pl.lit("a goal without ice time ") + pl.col("icetime").cast(pl.String)),))
    rows = player(1, [0, 0, 0, 0]) + player(2, [1, 0, 0, 0], icetime=None)
    valid, rejected = split_valid(frame(rows), exp)
    assert set(valid.get_column("playerId").to_list()) == {1}
    assert set(reasons(rejected).values()) == {UNNAMED_REASON} and rejected.height == 5
