"""Which items of a batch fail on their own: what a batch that failed as a whole keeps.

Silver builds its frames for a batch of games at once (one polars frame per table, not one per game), so
one payload holding a value a column cannot take (an integer beyond 64 bits, which JSON allows) fails the
whole batch. Checking every such value as it is read would cost every game; `failing_alone` costs only a
batch that already failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def failing_alone(items: Sequence[T], build: Callable[[list[T]], object], errors: tuple[type[Exception], ...],
                  batch_error: Exception) -> dict[int, str]:
    """Index -> the first line of the error (at most 200 characters) of each item that `build([item])`
    fails with one of `errors`.

    Raises `batch_error` when no item fails alone (the batch failed for another reason) or when every item
    of a batch of several does: the cause is then not one payload but the code, and it is raised as it was.
    """
    failed: dict[int, str] = {}
    for i, item in enumerate(items):
        try:
            build([item])
        except errors as alone:
            failed[i] = str(alone).split("\n", 1)[0][:200]
    if not failed or len(failed) == len(items) > 1:
        raise batch_error
    return failed
