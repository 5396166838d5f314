"""Command-line arguments: every number and date of every parser (`nhl-assets` and `benchmarks/`) is
checked while parsing, so an out-of-range value ends in argparse's message and exit code 2, never in a
traceback deep inside a run (issue 13: `--latency-ms 0` ended a complete backfill in a ZeroDivisionError)."""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from datetime import date, datetime, timezone

import pytest

from nhl_assets import cliargs
from nhl_assets.cli import build_parser
from nhl_assets.cli import main as cli_main

from .helpers import REPO

BENCHMARKS = ("bronze_backfill", "cli_replay", "full_history", "gold_refresh", "incremental_day", "maintenance_replay",
              "silver_season", "sog_xg_features")


def benchmark(name: str):
    """A benchmark script as a module (they are scripts, not a package; they import each other by name)."""
    if str(REPO / "benchmarks") not in sys.path:
        sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


# ----------------------------------------------------------------------------------------------------
# the shared argument types
# ----------------------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("kind, good, bad", [
    (cliargs.positive_int, {"1": 1, "30": 30}, {"0": "must be > 0, got 0", "-3": "must be > 0, got -3",
                                                "1.5": "must be an integer, got '1.5'", "x": "must be an integer"}),
    (cliargs.non_negative_int, {"0": 0, "7": 7}, {"-1": "must be >= 0, got -1", "2.0": "must be an integer"}),
    (cliargs.positive_float, {"0.5": 0.5, "2": 2.0}, {"0": "must be > 0, got 0", "nan": "must be a finite number",
                                                      "inf": "must be a finite number"}),
    (cliargs.non_negative_float, {"0": 0.0, "150": 150.0}, {"-0.1": "must be >= 0, got -0.1",
                                                            "fast": "must be a number, got 'fast'"}),
    (cliargs.fraction, {"0": 0.0, "1": 1.0, "0.25": 0.25}, {"1.5": "must be between 0 and 1, got 1.5",
                                                            "-0.5": "must be between 0 and 1"}),
    (cliargs.port, {"0": 0, "8765": 8765, "65535": 65535}, {"65536": "must be a port between 0 and 65535",
                                                            "-1": "must be a port"}),
    (cliargs.iso_date, {"2024-10-01": date(2024, 10, 1)}, {"2024-13-01": "must be a date YYYY-MM-DD",
                                                           "10/01/2024": "must be a date YYYY-MM-DD"}),
    (cliargs.iso_datetime, {"2026-11-20T08:00:00Z": datetime(2026, 11, 20, 8, tzinfo=timezone.utc),
                            "2026-11-20T08:00:00": datetime(2026, 11, 20, 8, tzinfo=timezone.utc),
                            "2026-11-20T03:00:00-05:00": datetime(2026, 11, 20, 8, tzinfo=timezone.utc)},
     {"yesterday": "must be an ISO date and time"}),
])
def test_argument_types_accept_their_range_and_name_what_they_reject(kind, good, bad):
    for text, value in good.items():
        assert kind(text) == value
    for text, message in bad.items():
        with pytest.raises(argparse.ArgumentTypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
            kind(text)


@pytest.mark.unit
def test_check_window_names_the_argument_and_the_bound():
    cliargs.check_window(date(2024, 1, 1), date(2024, 1, 1), first=date(2024, 1, 1), last=date(2024, 1, 1))
    with pytest.raises(ValueError, match="^--end 2024-01-01 is before --start 2024-02-01$"):
        cliargs.check_window(date(2024, 2, 1), date(2024, 1, 1))
    with pytest.raises(ValueError, match=r"^--start 2023-09-01 is before NHL_START_DATE \(2023-10-01\)$"):
        cliargs.check_window(date(2023, 9, 1), date(2023, 10, 5), first=date(2023, 10, 1), first_what="NHL_START_DATE")
    with pytest.raises(ValueError, match=r"^--last 2026-05-01 is after the last day \(2026-04-16\)$"):
        cliargs.check_window(date(2026, 4, 1), date(2026, 5, 1), last=date(2026, 4, 16), end_name="--last",
                             last_what="the last day")


@pytest.mark.unit
def test_a_failing_check_after_parsing_is_an_argparse_error(capsys):
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--n", type=cliargs.positive_int, default=1)

    def check(args: argparse.Namespace) -> None:
        if args.n > 3:
            raise ValueError(f"--n {args.n} is more than 3")

    cliargs.on_parsed(parser, check)
    assert cliargs.parse_args(parser, ["--n", "2"]).n == 2
    with pytest.raises(SystemExit) as exit_:
        cliargs.parse_args(parser, ["--n", "4"])
    assert exit_.value.code == 2 and "tool: error: --n 4 is more than 3" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------------
# every parser uses them
# ----------------------------------------------------------------------------------------------------

#: Integers where every value is valid: seeds are hashed into the simulator's and the faults' decisions.
ANY_INT = {"seed", "fault_seed"}
DATES = {"start", "end", "first_date", "last_date"}
TIMES = {"as_of", "timestamp"}


def unchecked_arguments(parser: argparse.ArgumentParser) -> list[str]:
    """Options of `parser` whose number or date would pass unchecked (a bare int/float/str type)."""
    bad = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, (argparse._HelpAction, argparse._StoreTrueAction)):
            continue
        name = action.option_strings[-1]
        if action.dest in DATES and action.type is not cliargs.iso_date:
            bad.append(f"{name}: a date without cliargs.iso_date")
        elif action.dest in TIMES and action.type is not cliargs.iso_datetime:
            bad.append(f"{name}: a time without cliargs.iso_datetime")
        elif action.type in (int, float) and action.dest not in ANY_INT and not action.choices:
            bad.append(f"{name}: bare {action.type.__name__} (out-of-range values pass)")
        elif action.type is None and isinstance(action.default, (int, float)) and not action.choices:
            bad.append(f"{name}: a number parsed as a string")
    return bad


@pytest.mark.unit
@pytest.mark.parametrize("name", list(subcommand_parsers()))
def test_every_nhl_assets_argument_is_validated(name):
    assert unchecked_arguments(subcommand_parsers()[name]) == []


@pytest.mark.unit
@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_argument_is_validated(name):
    assert unchecked_arguments(benchmark(name).build_parser()) == []


@pytest.mark.unit
@pytest.mark.parametrize("argv, message", [
    (["demo", "--latency-ms", "-1"], "argument --latency-ms: must be >= 0, got -1"),
    (["demo", "--rate", "-2"], "argument --rate: must be >= 0, got -2"),
    (["demo", "--start", "2024-10-32"], "argument --start: must be a date YYYY-MM-DD, got '2024-10-32'"),
    (["demo", "--start", "2024-10-10", "--end", "2024-10-01"], "--end 2024-10-01 is before --start 2024-10-10"),
    (["demo", "--start", "2026-04-10", "--end", "2026-05-01"],
     "--end 2026-05-01 is after the simulated history's last day (2026-04-16)"),
    (["demo", "--start", "2023-09-01", "--end", "2023-10-05"],
     "--start 2023-09-01 is before NHL_START_DATE, the first game-date partition (2023-10-01)"),
    (["demo", "--end", "2023-10-05"], "--end 2023-10-05 is before the default start 2023-10-10"),
    (["serve", "--port", "70000"], "argument --port: must be a port between 0 and 65535, got 70000"),
    (["serve", "--latency-ms", "-5"], "argument --latency-ms: must be >= 0, got -5"),
    (["serve", "--rate-5xx", "1.5"], "argument --rate-5xx: must be between 0 and 1, got 1.5"),
    (["serve", "--as-of", "noon"], "argument --as-of: must be an ISO date and time"),
    (["serve", "--first-date", "2025-01-01", "--last-date", "2024-01-01"],
     "--last-date 2024-01-01 is before --first-date 2025-01-01"),
    (["history", "t", "--limit", "0"], "argument --limit: must be > 0, got 0"),
    (["restore", "t", "--version", "-1"], "argument --version: must be >= 0, got -1"),
    (["restore", "t", "--timestamp", "yesterday"], "argument --timestamp: must be an ISO date and time"),
    (["cdf", "t", "--since-version", "3", "--until-version", "1"], "--until-version 1 is before --since-version 3"),
    (["cdf", "t", "--since-version", "1", "--show", "-1"], "argument --show: must be >= 0, got -1"),
    (["vacuum", "--retention-hours", "-1"], "argument --retention-hours: must be >= 0, got -1"),
    (["maintain", "--start", "2024-02-01", "--end", "2024-01-01"], "--end 2024-01-01 is before --start 2024-02-01"),
    (["maintain", "--target-size", "0"], "argument --target-size: must be > 0, got 0"),
    (["maintain", "--retention-hours", "x"], "argument --retention-hours: must be an integer, got 'x'"),
    (["import-raw", "folder", "--show", "-3"], "argument --show: must be >= 0, got -3"),
    (["backfill", "--start", "2024-10-01", "--end", "2024-09-30"], "--end 2024-09-30 is before --start 2024-10-01"),
    (["backfill", "--start", "2023-09-01", "--end", "2023-10-05"],
     "--start 2023-09-01 is before NHL_START_DATE, the first game-date partition (2023-10-01)"),
    (["backfill", "--start", "2024-10-01", "--end", "2024-10-31", "--chunk-days", "0"],
     "argument --chunk-days: must be > 0, got 0"),
    (["backfill", "--start", "2024-10-01", "--end", "2024-10-31", "--retry-passes", "-1"],
     "argument --retry-passes: must be >= 0, got -1"),
    (["backfill", "--start", "2024-10-01", "--end", "2024-10-31", "--layers", "bronze,platinum"],
     "argument --layers: must be a comma-separated subset of bronze,silver,gold, got 'bronze,platinum'"),
    (["backfill", "--start", "2024-10-01", "--end", "2024-10-31", "--layers", "silver", "--incomplete-only"],
     "--incomplete-only re-fetches from the API: --layers must include bronze"),
    (["backfill", "--start", "2024-10-01", "--end", "2024-10-31", "--layers", "bronze,silver", "--retrain"],
     "--retrain retrains the gold models: --layers must include gold"),
])
def test_nhl_assets_rejects_out_of_range_arguments_with_exit_code_2(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("NHL_START_DATE", raising=False)
    with pytest.raises(SystemExit) as exit_:
        cli_main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"nhl-assets {argv[0]}: error: {message}" in err, err


@pytest.mark.unit
def test_the_demo_refuses_a_window_before_nhl_start_date(capsys, monkeypatch):
    monkeypatch.setenv("NHL_START_DATE", "2024-10-01")
    with pytest.raises(SystemExit) as exit_:
        cli_main(["demo"])  # the default window, 2023-10-10..2023-11-05
    assert exit_.value.code == 2 and ("the default start 2023-10-10 is before NHL_START_DATE, the first game-date "
                                      "partition (2024-10-01)") in capsys.readouterr().err


@pytest.mark.unit
@pytest.mark.parametrize("name, argv, message", [
    ("full_history", ["--latency-ms", "-1"], "argument --latency-ms: must be >= 0, got -1"),
    ("full_history", ["--repeat", "0"], "argument --repeat: must be > 0, got 0"),
    ("full_history", ["--concurrency", "0"], "argument --concurrency: must be > 0, got 0"),
    ("full_history", ["--phases", "backfill,replays"], "argument --phases: must be a comma-separated list of "
                                                       "backfill, replay, overhead, spark, got 'backfill,replays'"),
    ("full_history", ["--start", "2025-01-01", "--end", "2024-01-01"], "--end 2024-01-01 is before --start 2025-01-01"),
    ("full_history", ["--end", "2026-05-01"],
     "--end 2026-05-01 is after the simulated history's last day (2026-04-16)"),
    ("bronze_backfill", ["--days", "0"], "argument --days: must be > 0, got 0"),
    ("bronze_backfill", ["--latency-ms", "-150"], "argument --latency-ms: must be >= 0, got -150"),
    ("bronze_backfill", ["--rate", "-1"], "argument --rate: must be >= 0, got -1"),
    ("bronze_backfill", ["--start", "2026-04-10", "--days", "30"],
     "--start 2026-04-10 with --days 30 ends on 2026-05-09, after the simulated history's last day (2026-04-16)"),
    ("bronze_backfill", ["--start", "2023-09-01"], "--start 2023-09-01 is before the simulated history's first day"),
    ("gold_refresh", ["--repeat", "0"], "argument --repeat: must be > 0, got 0"),
    ("incremental_day", ["--latency-ms", "-1"], "argument --latency-ms: must be >= 0, got -1"),
    ("incremental_day", ["--repeat", "-2"], "argument --repeat: must be > 0, got -2"),
    ("maintenance_replay", ["--end", "2024-08-01"], "--end 2024-08-01 is after season 2023's last day (2024-06-30)"),
    ("maintenance_replay", ["--season", "2024", "--end", "2024-09-01"],
     "--end 2024-09-01 is before the season's first day 2024-10-04"),
    ("maintenance_replay", ["--lookback-days", "-1"], "argument --lookback-days: must be >= 0, got -1"),
    ("silver_season", ["--workers", "0"], "argument --workers: must be > 0, got 0"),
    ("silver_season", ["--repeat", "0"], "argument --repeat: must be > 0, got 0"),
])
def test_benchmarks_reject_out_of_range_arguments_with_exit_code_2(name, argv, message, capsys, monkeypatch):
    monkeypatch.delenv("NHL_START_DATE", raising=False)
    parser = benchmark(name).build_parser()
    with pytest.raises(SystemExit) as exit_:
        cliargs.parse_args(parser, argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"error: {message}" in err, err


@pytest.mark.unit
def test_zero_latency_is_a_valid_benchmark_run_whose_api_bound_ratio_is_n_a(capsys):
    bb = benchmark("bronze_backfill")
    assert bb.api_bound_s(624, 150.0, 4) == pytest.approx(23.4)
    assert bb.ratio_to_bound(28.5, 23.4) == pytest.approx(28.5 / 23.4) and bb.ratio_text(1.2179) == "1.22x"
    assert bb.ratio_to_bound(28.5, bb.api_bound_s(624, 0.0, 4)) is None
    assert bb.ratio_text(None) == "n/a (no simulated latency, so no API-bound minimum)"
    fh = benchmark("full_history")
    args = cliargs.parse_args(fh.build_parser(), ["--latency-ms", "0", "--phases", "backfill"])
    assert args.latency_ms == 0.0 and args.phases == ["backfill"]
    fh._print("backfill", {"wall_s": 12.0, "api_calls": 58, "calls_per_s": 4.8, "api_bound_s": 0.0,
                           "ratio_to_api_bound": None, "gold_steps_s": {"model": 0.3}, "bookkeeping_s": 1.5,
                           "peak_rss_mb": 900.0}, args)
    assert "ratio n/a (no simulated latency, so no API-bound minimum)" in capsys.readouterr().out


@pytest.mark.slow
def test_full_history_backfill_with_zero_latency_reports_instead_of_dividing_by_zero(tmp_path, monkeypatch):
    """The issue's command on a short window: the backfill phase (bronze -> gold through `nhl-assets
    backfill`, a simulator process with 0 ms latency) completes and prints its figures."""
    import os
    import subprocess

    path = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "full_history.py"), "--phases", "backfill",
                          "--start", "2024-11-01", "--end", "2024-11-02", "--latency-ms", "0",
                          "--warehouse", str(tmp_path / "warehouse")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "backfill 2024-11-01..2024-11-02 bronze->gold" in out.stdout
    assert "ratio n/a (no simulated latency, so no API-bound minimum)" in out.stdout, out.stdout

    # the user's replay of that bronze with Dagster's own command, and where its time went
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "cli_replay.py"), "--start", "2024-11-01",
                          "--end", "2024-11-02", "--warehouse", str(tmp_path / "warehouse")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "silver replay 2024-11-01..2024-11-02 with dagster asset materialize (batching event log)" in out.stdout
    assert re.search(r"the window's replay before the repetitions \(not counted; [^)]*\): [\d.]+ s", out.stdout)
    split = re.search(r"startup \(imports, definitions, instance\) ([\d.]+) s; run creation and start ([\d.]+) s; "
                      r"the step ([\d.]+) s, of which the silver work \(parse, validate, write\) ([\d.]+) s; step "
                      r"end to exit \(the run's last events, Python's teardown of the process\) ([\d.]+) s",
                      out.stdout)
    assert split, out.stdout
    startup, creation, step, work, _exit = map(float, split.groups())
    assert startup > 0 and creation > 0 and 0 < work <= step, out.stdout  # the work is part of the step
