"""Expectations that run before a silver write (pure polars, no Dagster).

Rows that fail go to `silver/quarantine` with the reason; the table receives only rows that pass. The
unit of rejection is a *group* (for example one player's five situation rows of a game), so a table
never holds a partial set of situations whose `all` row no longer equals the sum of the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

SITUATIONS = ("all", "5on5", "5on4", "4on5", "other")


@dataclass(frozen=True)
class Expectations:
    """What a table's rows must satisfy."""

    table: str
    key: tuple[str, ...]
    group: tuple[str, ...]
    counts: tuple[str, ...] = ()
    situation: str | None = "situation"
    #: further row rules: (condition that fails the row, reason) — e.g. a location outside the rink
    rules: tuple[tuple[pl.Expr, pl.Expr], ...] = ()


def _row_checks(exp: Expectations) -> list[tuple[pl.Expr, pl.Expr]]:
    """The row-level expectations, in order: (condition that fails the row, reason)."""
    checks: list[tuple[pl.Expr, pl.Expr]] = []
    for col in exp.key:
        checks.append((pl.col(col).is_null(), pl.lit(f"null key column {col}")))
    if exp.situation:
        checks.append((~pl.col(exp.situation).is_in(SITUATIONS),
                       pl.lit("invalid situation ") + pl.col(exp.situation).cast(pl.String)))
    for col in exp.counts:
        checks.append((pl.col(col) < 0, pl.lit(f"negative {col}")))
    checks.extend(exp.rules)
    checks.append((pl.struct(list(exp.key)).is_duplicated(), pl.lit("duplicate key " + ", ".join(exp.key))))
    return checks


#: The reason of a failing row whose own reason came out null (built from a null column): it fails all the same.
UNNAMED_REASON = "failed an expectation (its reason came out null)"


def _row_reasons(exp: Expectations) -> pl.Expr:
    """First failing row-level expectation of each row, or null."""
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for cond, reason in reversed(_row_checks(exp)):
        expr = pl.when(cond.fill_null(False)).then(reason.fill_null(UNNAMED_REASON)).otherwise(expr)
    return expr


def _situation_sums(frame: pl.DataFrame, exp: Expectations) -> tuple[pl.DataFrame, list[pl.Expr]] | None:
    """Each group's `all` row joined with the sums of its other situations, and per count column whether
    they differ (nulls, unknown as without shift data, must be null in every situation; otherwise values add
    up). None for a table without situations or counts."""
    if not exp.situation or not exp.counts:
        return None
    parts = frame.filter(pl.col(exp.situation) != "all").group_by(list(exp.group)).agg(
        [pl.col(c).sum().alias(c) for c in exp.counts] + [pl.col(c).is_null().all().alias(f"_{c}_null")
                                                          for c in exp.counts])
    alls = frame.filter(pl.col(exp.situation) == "all").select(list(exp.group) + list(exp.counts)).with_columns(
        _has_all=pl.lit(True))
    joined = alls.join(parts, on=list(exp.group), how="full", suffix="_parts", coalesce=True)
    differs = [pl.when(pl.col(col).is_null()).then(~pl.col(f"_{col}_null").fill_null(True)).otherwise(
        pl.col(col) != pl.col(f"{col}_parts").fill_null(0)).fill_null(True) for col in exp.counts]
    return joined, differs


def _sum_mismatch_reasons(frame: pl.DataFrame, exp: Expectations) -> pl.DataFrame:
    """Groups whose `all` row differs from the sum of their other situations, with the first column."""
    sums = _situation_sums(frame, exp)
    if sums is None:
        return pl.DataFrame(schema={**{c: frame.schema[c] for c in exp.group}, "_group_reason": pl.String})
    joined, differs = sums
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for col, differ in zip(reversed(exp.counts), reversed(differs)):
        expr = pl.when(differ).then(pl.lit(f"all != sum of situations for {col}")).otherwise(expr)
    expr = pl.when(pl.col("_has_all").is_null()).then(pl.lit("no 'all' row")).otherwise(expr)
    return (joined.with_columns(_group_reason=expr).filter(pl.col("_group_reason").is_not_null())
            .select(list(exp.group) + ["_group_reason"]))


def _any_failure(frame: pl.DataFrame, exp: Expectations) -> bool:
    """Whether any row or group of `frame` fails: the same expectations as the reasons, as booleans.

    Why: nearly every frame passes, and naming each row's and group's first failure is a chain of one
    `when` per expectation (38 and 33 for the player table), each building a column of strings; the
    booleans cost about half (21 against 42 ms of CPU for a two-week part's five tables)."""
    conds = [cond.fill_null(False) for cond, _reason in _row_checks(exp)]
    conds += [pl.col(c).is_null() for c in exp.group]  # rows only identifiable row by row
    if frame.select(pl.any_horizontal(conds).any()).item():
        return True
    sums = _situation_sums(frame, exp)
    if sums is None:
        return False
    joined, differs = sums
    return bool(joined.select((pl.any_horizontal(differs) | pl.col("_has_all").is_null()).any()).item())


def split_valid(frame: pl.DataFrame, exp: Expectations) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows that pass, rows of failing groups with a `reason` column)."""
    if frame.is_empty() or not _any_failure(frame, exp):
        return frame, frame.with_columns(reason=pl.lit(None, dtype=pl.String)).clear()
    with_reason = frame.with_columns(_row_reason=_row_reasons(exp))
    group_reasons = _sum_mismatch_reasons(frame, exp)
    row_failures = (with_reason.filter(pl.col("_row_reason").is_not_null())
                    .group_by(list(exp.group)).agg(pl.col("_row_reason").first()))
    failing = row_failures.join(group_reasons, on=list(exp.group), how="full", coalesce=True).select(
        list(exp.group) + [pl.coalesce("_row_reason", "_group_reason").alias("reason")])
    failing = failing.filter(pl.all_horizontal([pl.col(c).is_not_null() for c in exp.group]))
    # rows whose group key itself is null can only be identified row by row
    null_group = with_reason.filter(pl.any_horizontal([pl.col(c).is_null() for c in exp.group]))
    annotated = with_reason.join(failing, on=list(exp.group), how="left", nulls_equal=False)
    rejected = pl.concat([
        annotated.filter(pl.col("reason").is_not_null()).drop("_row_reason"),
        null_group.rename({"_row_reason": "reason"}).select(annotated.drop("_row_reason").columns),
    ], how="vertical")
    valid = annotated.filter(pl.col("reason").is_null() &
                             pl.all_horizontal([pl.col(c).is_not_null() for c in exp.group]))
    return valid.drop("_row_reason", "reason"), rejected


def key_string(frame: pl.DataFrame, key: Sequence[str]) -> pl.Expr:
    """`gameId=…, playerId=…, situation=…` for quarantine rows."""
    return pl.concat_str([pl.lit(f"{k}=") + pl.col(k).cast(pl.String).fill_null("null") for k in key],
                         separator=", ")


def duplicate_rows(frame: pl.DataFrame, key: Sequence[str]) -> int:
    """Rows beyond the first of each `key` value: what a table's unique-key check reports (0 when unique).

    Equal keys hash alike, so when every row's key hashes differently the keys are unique; only a table
    with a repeated hash (a duplicate, or two keys colliding) is counted exactly. Why: a season's silver
    tables hash in 0.018 CPU s, against 0.043 s for finding their distinct keys, every window."""
    if not frame.height:
        return 0
    if frame.select(pl.struct(list(key)).hash(0).n_unique()).item() == frame.height:
        return 0
    return frame.height - frame.select(list(key)).unique().height
