"""Automation: the bronze plan (pure), no private Dagster module anywhere, and a simulated week driven only
by ticks of the NHL-schedule sensor (bronze) and of the assets' automation conditions (everything below)
that ends with exactly the tables a clean backfill of the final data produces."""

from __future__ import annotations

import ast
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from nhl_assets.automation.plan import Cursor, DayState, plan_bronze
from nhl_assets.dates import DateWindow
from nhl_assets.resources import AutomationConfig
from nhl_assets.definitions import build_definitions
from nhl_assets.storage.snapshot import fingerprint
from nhl_assets.resources import NHLApiResource, WarehouseResource
from nhl_assets.runs import date_ranges, evaluate_automation, execute_request, execute_step, run_pipeline, tick_bronze
from nhl_assets.simulator.faults import FaultConfig
from nhl_assets.storage.delta import Warehouse

from .helpers import FAST_API, point_api_at

TODAY = date(2023, 11, 10)
NOW = 1_700_000_000.0  # epoch seconds of the tick


def st(d: date, scheduled=5, final=5, fetched=True, games=5, ledger_final=5, incomplete=0) -> DayState:
    return DayState(d, scheduled, final, fetched, games, ledger_final, incomplete)


def plan(days, cursor=None, **kw):
    args = dict(lookback_days=2, give_up_days=5, retry_every_minutes=60, start=date(2023, 10, 1), now=NOW) | kw
    cursor = cursor or Cursor(tick=10)
    out, given_up = plan_bronze(TODAY, {d.day: d for d in days}, cursor, **args)
    return {d.day: d.reason for d in out}, given_up, cursor


@pytest.mark.unit
def test_plan_fetches_new_final_dates_and_waits_for_unplayed_ones():
    got, _, _ = plan([st(TODAY, final=2, fetched=False, games=0, ledger_final=0),
                      st(TODAY - timedelta(days=1), final=0, fetched=False, games=0, ledger_final=0),
                      st(TODAY - timedelta(days=2), scheduled=0, final=0, fetched=False, games=0, ledger_final=0)])
    assert got == {TODAY: "new", TODAY - timedelta(days=2): "new"}  # the day without games is recorded once


@pytest.mark.unit
def test_plan_rerequests_incomplete_dates_until_complete_or_given_up():
    late = TODAY - timedelta(days=3)
    cursor = Cursor(tick=10, last_request={late.isoformat(): NOW - 30 * 60})
    got, _, _ = plan([st(late, incomplete=1)], cursor)
    assert got == {}  # requested 30 minutes ago; retry every 60
    got, _, cursor = plan([st(late, incomplete=1)], cursor, now=NOW + 31 * 60)
    assert got == {late: "incomplete"} and cursor.last_request[late.isoformat()] == NOW + 31 * 60
    # more games final than the ledger knows: fetched at once, whatever the retry interval
    got, _, _ = plan([st(late, final=5, ledger_final=3, incomplete=2)], Cursor(tick=20, last_request={
        late.isoformat(): NOW}))
    assert got == {late: "more_final"}
    # past the horizon: reported once, then forgotten
    old = TODAY - timedelta(days=6)
    cursor = Cursor(tick=30, last_request={old.isoformat(): NOW - 3600})
    got, given_up, cursor = plan([st(old, incomplete=1)], cursor)
    assert got == {} and given_up == [old] and cursor.given_up == [old.isoformat()]
    _, given_up, _ = plan([st(old, incomplete=1)], cursor)
    assert given_up == []


@pytest.mark.unit
def test_plan_lookback_refetches_recent_complete_dates_once_a_day():
    recent, older = TODAY - timedelta(days=1), TODAY - timedelta(days=4)
    got, _, cursor = plan([st(recent), st(older)])
    assert got == {recent: "lookback"}
    got, _, _ = plan([st(recent), st(older)], cursor)
    assert got == {}  # once per day: re-enabling the sensor does not flood


# ----------------------------------------------------------------------------------------------------
# a simulated week, tick by tick
# ----------------------------------------------------------------------------------------------------

FAST_SENSOR_API = NHLApiResource(max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02, rate_per_second=0,
                                 timeout_s=2.0)


def _execute(defs, instance, request) -> bool:
    return execute_request(defs, instance, request, api_config=FAST_API, raise_on_error=False).success


def _tick(defs, instance, cursor):
    resources = {"nhl_api": FAST_SENSOR_API, "warehouse": WarehouseResource(),
                 "automation": AutomationConfig(retry_every_minutes=0, lookback_days=3)}
    started = time.monotonic()
    data = tick_bronze(defs, instance, resources, cursor)
    return data, time.monotonic() - started


def _settle(defs, instance, cursor, clock: datetime, requested: list, tick_times: list):
    """Evaluate the automation conditions at `clock` and run what they request until they request nothing."""
    for _ in range(20):
        tick = evaluate_automation(defs, instance, cursor, evaluation_time=clock)
        cursor = tick.cursor
        tick_times.append(tick.seconds)
        if not tick.steps:
            return cursor
        for step in tick.steps:
            requested.append((clock, step.job_name, step.window, "automation"))
            assert execute_step(defs, instance, step, api_config=FAST_API, raise_on_error=False).success, step
    raise AssertionError(f"the automation never settled at {clock}")


def _comparable(wh: Warehouse, table: str) -> tuple:
    """Content without the columns that say *when* something was fetched or computed."""
    t = wh.read_arrow(table)
    frame = pl.from_arrow(t) if t is not None else pl.DataFrame()
    drop = [c for c in ("fetchedAt", "runId", "attempts", "checkedAt", "quarantinedAt", "predictedAt",
                        "modelTrainedAt", "trainedAt", "model", "expectedShots", "p1Plus", "p2Plus", "p3Plus",
                        "p4Plus", "inSample", "modelTrainedThrough", "scoredAt",
                        # expected goals depend on which shots the model in use was trained on: a replayed week
                        # retrains on its own schedule (a week of new game dates), a backfill once at the end
                        "xGoal", "I_F_xGoals", "OnIce_F_xGoals", "OnIce_A_xGoals", "xGoalsFor", "xGoalsAgainst")
            if c in frame.columns]
    if table == "bronze/schedule":  # a week payload: later days' states depend on when it was fetched
        drop += ["sha256", "bodyBytes", "body"]
    if table == "gold/sog_predictions":  # live history also keeps forecasts of players who then did not play
        feats = pl.from_arrow(wh.read_arrow("gold/player_game_features")).select("gameId", "playerId")
        frame = frame.join(feats, on=["gameId", "playerId"], how="semi")
    frame = frame.drop(drop)
    return frame.height, sorted(frame.select(sorted(frame.columns)).hash_rows(seed=0).to_list())


TABLES = ["bronze/schedule", "bronze/boxscore", "bronze/play_by_play", "bronze/shift_charts", "bronze/games",
          "silver/player_game_stats", "silver/team_game_stats", "silver/goalie_game_stats", "silver/schedule",
          "silver/quarantine", "silver/shots", "gold/skater_season_stats", "gold/player_game_features",
          "gold/team_game_features", "gold/sog_predictions", "gold/upcoming_schedule", "gold/shot_xg",
          "gold/player_game_xgoals", "gold/team_game_xgoals"]


@pytest.mark.slow
def test_a_week_of_sensor_ticks_ends_equal_to_a_clean_backfill(sim_server, league, tmp_path, monkeypatch):
    point_api_at(monkeypatch, sim_server)
    live, clean = str(tmp_path / "live"), str(tmp_path / "clean")
    monkeypatch.setenv("NHL_WAREHOUSE", live)
    # four game days: enough for a late shift chart (30 h), a correction (40 h) and an API outage to play out
    # (with three more days of ticks after them); each day costs about 20 s of Dagster runs
    week = [date(2023, 11, 6) + timedelta(days=i) for i in range(4)]
    games = {d: [g.id for g in league.games_on(d) if g.game_type in (2, 3)] for d in week}
    late_shift, corrected = games[week[1]][0], games[week[2]][0]
    faults = FaultConfig(shift_late_games=[late_shift], shift_late_hours=30, corrected_games=[corrected],
                         correction_hours=40)
    sim_server.set_faults(faults)
    defs, instance = build_definitions(), DagsterInstance.ephemeral()
    sim_server.set_clock(datetime(2023, 11, 6, 9, 0, tzinfo=timezone.utc))
    run_pipeline(defs, DateWindow.of("2023-10-20", "2023-11-05"), instance, run_config=FAST_API)

    cursor, requested, tick_times, outage_seen, done_retries = None, [], [], False, set()
    clocks = [datetime.combine(d + timedelta(days=1), datetime.min.time(), timezone.utc) + timedelta(hours=h)
              for d in week for h in (3, 15)]
    clocks += [clocks[-1] + timedelta(hours=24 * k) for k in (1, 2, 3)]  # let the late data arrive
    # the automation starts (its first tick only records where it starts) before any bronze run
    auto_cursor = _settle(defs, instance, None, clocks[0], requested, tick_times)
    assert requested == []
    for n, clock in enumerate(clocks):
        sim_server.set_clock(clock)
        outage = n == 4
        for _round in range(40):  # tick bronze, let the automation settle; until bronze has nothing new
            sim_server.set_faults(FaultConfig(rate_5xx=1.0) if outage else faults)
            data, seconds = _tick(defs, instance, cursor)
            sim_server.set_faults(faults)
            tick_times.append(seconds)
            if outage:
                assert data.skip_message and "unavailable" in data.skip_message and not data.run_requests
                outage_seen, outage = True, False
                continue
            cursor = data.cursor or cursor
            retried = {(clock, r.partition_key) for r in data.run_requests if r.tags.get("nhl/reason") == "incomplete"}
            fresh = [r for r in data.run_requests if (clock, r.partition_key) not in done_retries]
            if not fresh:
                break  # nothing left but dates waiting for late data, already re-fetched at this clock
            done_retries |= retried
            for req in data.run_requests:
                requested.append((clock, req.job_name, req.partition_key, req.tags.get("nhl/reason")))
                assert _execute(defs, instance, req), req
            auto_cursor = _settle(defs, instance, auto_cursor, clock, requested, tick_times)
        else:
            raise AssertionError(f"the sensors never settled at {clock}")
    assert outage_seen
    reasons = {(job, reason) for _c, job, _p, reason in requested}
    assert ("nhl_bronze", "new") in reasons and ("nhl_bronze", "incomplete") in reasons
    assert ("nhl_bronze", "lookback") in reasons
    # the late shift chart was fetched again until it arrived; the corrected game shows its correction
    w = Warehouse(live)
    ledger = pl.from_arrow(w.read_arrow("bronze/games"))
    assert ledger.filter(pl.col("gameId") == late_shift).get_column("isComplete").to_list() == [True]
    assert ledger.get_column("isComplete").all()
    # an identical re-fetch stops at bronze: lookbacks were requested, silver ran only on changed data
    bronze_runs = [(c, date.fromisoformat(p)) for c, job, p, _r in requested if job == "nhl_bronze"]
    silver_dates = {(c, d) for c, job, w, _r in requested if job == "nhl_silver_replay" for d in w.days()}
    lookbacks = {(c, date.fromisoformat(p)) for c, job, p, r in requested if r == "lookback"}
    assert len(silver_dates) < len(bronze_runs)
    assert lookbacks - silver_dates, "every lookback re-fetch re-ran silver: data versions were ignored"
    # below bronze every step ran on the automation's request
    assert {job for _c, job, _p, r in requested if r == "automation"} == {
        "nhl_silver_replay", "nhl_refresh", "nhl_gold_features", "nhl_model", "nhl_predictions", "nhl_xg_model",
        "nhl_shot_xg"}

    # the same final data, loaded once from scratch
    monkeypatch.setenv("NHL_WAREHOUSE", clean)
    last_played = clocks[-1].date() - timedelta(days=1)  # the final tick's today is not played yet
    run_pipeline(build_definitions(), DateWindow.of("2023-10-20", last_played), DagsterInstance.ephemeral(),
                 run_config=FAST_API)
    c = Warehouse(clean)
    different = [t for t in TABLES if _comparable(w, t) != _comparable(c, t)]
    assert different == []
    assert fingerprint(w, "silver/player_game_stats") == fingerprint(c, "silver/player_game_stats")
    hits = pl.from_arrow(w.read_arrow("silver/player_game_stats")).filter(
        (pl.col("gameId") == corrected) & (pl.col("situation") == "all"))
    assert hits.height > 0
    print(f"scenario: {len(requested)} runs requested over {len(clocks)} clock steps; tick median "
          f"{sorted(tick_times)[len(tick_times) // 2]:.2f} s, max {max(tick_times):.2f} s")


def test_date_ranges_group_consecutive_dates_into_one_run_each():
    keys = {"2023-11-03", "2023-11-01", "2023-11-02", "2023-11-05", "2023-11-08", "2023-11-07"}
    assert [(w.start.day, w.end.day) for w in date_ranges(keys)] == [(1, 3), (5, 5), (7, 8)]
    assert date_ranges(set()) == []


def _private_dagster_uses(source: str) -> list[int]:
    """Lines that import or reach a private Dagster module: `import dagster._x`, `from dagster._x import y`,
    `dagster._x` after `import dagster`, `import_module("dagster._x")` / `__import__("dagster._x")`.
    Parsed, not grepped, so prose that names such a module (like this docstring) is not a use."""
    def private(name: object) -> bool:
        return isinstance(name, str) and (name + ".").startswith("dagster._")

    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any(private(a.name) for a in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and private(node.module):
            lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "dagster" \
                and node.attr.startswith("_") and not node.attr.endswith("__"):  # `dagster.__version__` is public
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and private(node.args[0].value) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                    "import_module", "__import__"):
            lines.append(node.lineno)
    return lines


#: The modules allowed to reach Dagster's internals, and why: no public API offers an event log or a
#: compute-log manager to extend; Dagster's SQLite event log writes a range run's per-partition events one
#: engine and two transactions at a time (dagster-io/dagster#18789, #19829), and its local compute logs start
#: four processes a run to mirror the output. Both are pinned to one Dagster release (tests/test_event_log.py).
PRIVATE_ALLOWED = {"nhl_assets/deploy/event_log.py", "nhl_assets/deploy/compute_logs.py"}


def test_no_private_dagster_module_is_used():
    """Private modules change without notice between releases: the project, its tests and benchmarks use
    public `dagster` exports only, but for the pinned modules above."""
    root = Path(__file__).resolve().parents[1]
    files = [p for d in ("nhl_assets", "tests", "benchmarks") for p in (root / d).rglob("*.py")]
    assert len(files) > 20
    offenders = [f"{p.relative_to(root)}:{line}" for p in files for line in _private_dagster_uses(p.read_text())
                 if str(p.relative_to(root)) not in PRIVATE_ALLOWED]
    assert offenders == []
    assert all(_private_dagster_uses((root / f).read_text()) for f in PRIVATE_ALLOWED), "an allowance unused"


def test_the_private_module_check_sees_every_form_of_use():
    private = "dagster." + "_core"
    uses = [f"from {private}.definitions import x", f"import {private}.x as y", "import dagster\ndagster._core.x",
            f"import importlib\nimportlib.import_module('{private}.x')", f"__import__('{private}')"]
    assert [bool(_private_dagster_uses(u)) for u in uses] == [True] * len(uses)
    assert _private_dagster_uses(f'"""names {private} in prose"""\nfrom dagster import AutomationCondition\n') == []
    assert _private_dagster_uses("import dagster\nprint(dagster.__version__)\n") == []
