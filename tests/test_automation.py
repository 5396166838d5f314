"""Automation: the bronze plan (pure), and a simulated week driven only by sensor ticks that ends with
exactly the tables a clean backfill of the final data produces."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest
from dagster import DagsterInstance, build_sensor_context

from nhl_assets.automation.plan import Cursor, DayState, plan_bronze
from nhl_assets.resources import AutomationConfig
from nhl_assets.definitions import build_definitions
from nhl_assets.storage.snapshot import fingerprint
from nhl_assets.partitions import DateWindow
from nhl_assets.resources import NHLApiResource, WarehouseResource
from nhl_assets.runs import execute_request, run_pipeline
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
    sensor = defs.resolve_sensor_def("nhl_pipeline_sensor")
    ctx = build_sensor_context(instance=instance, cursor=cursor, repository_def=defs.get_repository_def(),
                               resources={"nhl_api": FAST_SENSOR_API, "warehouse": WarehouseResource(),
                                          "automation": AutomationConfig(retry_every_minutes=0, lookback_days=3)})
    started = time.monotonic()
    data = sensor.evaluate_tick(ctx)
    return data, time.monotonic() - started


def _comparable(wh: Warehouse, table: str) -> tuple:
    """Content without the columns that say *when* something was fetched or computed."""
    t = wh.read_arrow(table)
    frame = pl.from_arrow(t) if t is not None else pl.DataFrame()
    drop = [c for c in ("fetchedAt", "runId", "attempts", "checkedAt", "quarantinedAt", "predictedAt",
                        "modelTrainedAt", "trainedAt", "model", "expectedShots", "p1Plus", "p2Plus", "p3Plus",
                        "p4Plus", "inSample", "modelTrainedThrough") if c in frame.columns]
    if table == "bronze/schedule":  # a week payload: later days' states depend on when it was fetched
        drop += ["sha256", "bodyBytes", "body"]
    if table == "gold/sog_predictions":  # live history also keeps forecasts of players who then did not play
        feats = pl.from_arrow(wh.read_arrow("gold/player_game_features")).select("gameId", "playerId")
        frame = frame.join(feats, on=["gameId", "playerId"], how="semi")
    frame = frame.drop(drop)
    return frame.height, sorted(frame.select(sorted(frame.columns)).hash_rows(seed=0).to_list())


TABLES = ["bronze/schedule", "bronze/boxscore", "bronze/play_by_play", "bronze/shift_charts", "bronze/games",
          "silver/player_game_stats", "silver/team_game_stats", "silver/goalie_game_stats", "silver/schedule",
          "silver/quarantine", "gold/skater_season_stats", "gold/player_game_features", "gold/team_game_features",
          "gold/sog_predictions", "gold/upcoming_schedule"]


@pytest.mark.slow
def test_a_week_of_sensor_ticks_ends_equal_to_a_clean_backfill(sim_server, league, tmp_path, monkeypatch):
    point_api_at(monkeypatch, sim_server)
    live, clean = str(tmp_path / "live"), str(tmp_path / "clean")
    monkeypatch.setenv("NHL_WAREHOUSE", live)
    week = [date(2023, 11, 6) + timedelta(days=i) for i in range(7)]
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
    for n, clock in enumerate(clocks):
        sim_server.set_clock(clock)
        outage = n == 4
        for _round in range(40):  # the sensor requests one step per tick; tick until it has nothing left
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
            if not data.run_requests or (retried and retried <= done_retries):
                break  # nothing left but dates waiting for late data, already re-fetched at this clock
            done_retries |= retried
            for req in data.run_requests:
                requested.append((clock, req.job_name, req.partition_key or req.tags.get(
                    "dagster/asset_partition_range_start"), req.tags.get("nhl/reason")))
                assert _execute(defs, instance, req), req
        else:
            raise AssertionError(f"the sensor never settled at {clock}")
    assert outage_seen
    reasons = {(job, reason) for _c, job, _p, reason in requested}
    assert ("nhl_bronze", "new") in reasons and ("nhl_bronze", "incomplete") in reasons
    assert ("nhl_bronze", "lookback") in reasons
    # the late shift chart was fetched again until it arrived; the corrected game shows its correction
    w = Warehouse(live)
    ledger = pl.from_arrow(w.read_arrow("bronze/games"))
    assert ledger.filter(pl.col("gameId") == late_shift).get_column("isComplete").to_list() == [True]
    assert ledger.get_column("isComplete").all()
    # an identical re-fetch stops at bronze: lookbacks were requested, silver ran only on changes
    silver_runs = [r for r in requested if r[1] == "nhl_silver_replay"]
    bronze_runs = [r for r in requested if r[1] == "nhl_bronze"]
    assert len(silver_runs) < len(bronze_runs)

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
    print(f"scenario: {len(requested)} runs requested over {len(clocks)} clock steps; sensor tick median "
          f"{sorted(tick_times)[len(tick_times) // 2]:.2f} s, max {max(tick_times):.2f} s")
