"""Argument types and checks shared by every command-line parser (`nhl-assets` and `benchmarks/`).

Why one module: an out-of-range value used to travel deep into a run before failing there (a
`ZeroDivisionError` after a complete backfill, a Dagster error about missing partitions, a traceback
from the gold layer). Given as an argparse `type=`, each function below rejects it while the command
line is parsed, so the user reads argparse's own message, e.g.
`nhl-assets demo: error: argument --repeat: must be > 0, got 0`, with exit code 2.

Checks that involve several arguments (a window's end before its start, a date outside the data) run
after parsing: `on_parsed` attaches one to a parser and `parse_args` runs it, turning its `ValueError`
into the same kind of argparse error.

Pure: no Dagster, no I/O.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, timezone

_CHECK = "_cliargs_check"


def _parse(text: str, kind: type, what: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _bounded(kind: type, what: str, ok: Callable[[float], bool], requirement: str, doc: str
             ) -> Callable[[str], int | float]:
    """An argparse type: `text` parsed as `kind` (`what` in the error) and checked by `ok` (`requirement`)."""

    def parse(text: str) -> int | float:
        value = _parse(text, kind, what)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return kind(value)

    parse.__doc__ = doc
    return parse


positive_int = _bounded(int, "an integer", lambda v: v > 0, "> 0",
                        "An integer > 0: counts that must do something (repetitions, days, workers, connections).")
non_negative_int = _bounded(int, "an integer", lambda v: v >= 0, ">= 0",
                            'An integer >= 0: counts where 0 means "none" (rows to show, lookback days) and versions.')
positive_float = _bounded(float, "a number", lambda v: v > 0, "> 0", "A finite number > 0.")
non_negative_float = _bounded(float, "a number", lambda v: v >= 0, ">= 0",
                              'A finite number >= 0: durations and rates where 0 means "none" (no latency, no limit).')
fraction = _bounded(float, "a number", lambda v: 0 <= v <= 1, "between 0 and 1",
                    "A probability between 0 and 1 (fault injection rates).")
port = _bounded(int, "an integer", lambda v: 0 <= v <= 65535, "a port between 0 and 65535",
                "A TCP port, 0..65535 (0: any free port).")


def iso_date(text: str) -> date:
    """A calendar date, YYYY-MM-DD (game dates are partition keys in that form)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date YYYY-MM-DD, got {text!r}") from None


def iso_datetime(text: str) -> datetime:
    """An ISO date and time, e.g. 2026-11-20T08:00:00Z; without an offset it is UTC (never local time,
    so the same command means the same instant on every machine)."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an ISO date and time such as 2026-11-20T08:00:00Z, "
                                         f"got {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def check_window(start: date, end: date, *, first: date | None = None, last: date | None = None,
                 start_name: str = "--start", end_name: str = "--end", first_what: str = "the first date",
                 last_what: str = "the last date") -> None:
    """Raise `ValueError` naming the argument when `start..end` is not a window inside `first..last`.

    `first_what`/`last_what` say where a bound comes from (e.g. "NHL_START_DATE", "the simulated
    history's last day"), so the message tells the user what to change.
    """
    if end < start:
        raise ValueError(f"{end_name} {end} is before {start_name} {start}")
    if first is not None and start < first:
        raise ValueError(f"{start_name} {start} is before {first_what} ({first})")
    if last is not None and end > last:
        raise ValueError(f"{end_name} {end} is after {last_what} ({last})")


def on_parsed(parser: argparse.ArgumentParser, check: Callable[[argparse.Namespace], None]) -> None:
    """Run `check(args)` once `parser` (a command or a subcommand) has parsed its arguments; a
    `ValueError` from it becomes `parser.error(...)`: the usage line, the message, exit code 2."""

    def run(args: argparse.Namespace) -> None:
        try:
            check(args)
        except ValueError as exc:
            parser.error(str(exc))

    parser.set_defaults(**{_CHECK: run})


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """`parser.parse_args(argv)`, then the check `on_parsed` attached to the (sub)command that ran."""
    args = parser.parse_args(argv)
    run = getattr(args, _CHECK, None)
    if run is not None:
        run(args)
    return args
