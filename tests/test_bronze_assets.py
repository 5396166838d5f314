"""Bronze assets end to end through Dagster: window replace, idempotence, neighbours, empty days,
incomplete games, failures that write nothing, code changes that keep every row."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timezone

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance

from nhl_assets.bronze import tables as bt
from nhl_assets.dates import DateWindow
from nhl_assets.definitions import PARTITIONED_JOB, build_definitions
from nhl_assets.runs import materialize_window, refresh_unpartitioned
from nhl_assets.simulator.faults import FaultConfig, ScriptedFault
from nhl_assets.storage.delta import Warehouse

from .helpers import FAST_API, point_api_at, read


def run(window: DateWindow, defs=None, raise_on_error: bool = True):
    return materialize_window(defs or build_definitions(), window, DagsterInstance.ephemeral(),
                              raise_on_error=raise_on_error, run_config=FAST_API)


def fingerprint(table: str, with_fetch: bool = False) -> list[tuple]:
    """The stored content of a bronze table: key, endpoint, status and body hash (+ fetch identity)."""
    df = read(table)
    cols = [c for c in ("gameDate", "gameId", "request", "httpStatus", "sha256") if c in df.columns]
    if with_fetch:
        cols += ["fetchedAt" if "fetchedAt" in df.columns else "checkedAt", "runId"]
    return sorted(df.select(cols).rows())


def failure_text(result) -> str:
    """Every message down the cause chain of the run's step failure."""
    error = result.get_step_failure_events()[0].event_specific_data.error
    parts = []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)


def versions() -> dict[str, int | None]:
    wh = Warehouse(os.environ["NHL_WAREHOUSE"])
    return {t: wh.version(t) for t in bt.BRONZE_TABLES}


def data_commits() -> dict[str, int]:
    """Commits that wrote rows to each bronze table (tables themselves are created by migrations)."""
    wh = Warehouse(os.environ["NHL_WAREHOUSE"])
    return {t: sum(h["nhl_operation"] == "replace_window" for h in wh.history(t)) if wh.exists(t) else 0
            for t in bt.BRONZE_TABLES}


# --------------------------------------------------------------------------- simulator-backed


def test_range_rerun_is_idempotent_one_commit_per_table(sim_env):
    window = DateWindow.of("2023-11-01", "2023-11-03")
    result = run(window)
    first = {t: fingerprint(t) for t in bt.BRONZE_TABLES}
    v1 = versions()
    games = read(bt.GAMES)
    assert games.height > 15 and games.get_column("isComplete").all()
    assert read(bt.BOXSCORE).height == read(bt.PLAY_BY_PLAY).height == read(bt.SHIFT_CHARTS).height == games.height
    assert read(bt.SCHEDULE).height == 3
    mats = result.asset_materializations_for_node("bronze_nhl_api")
    assert {m.partition for m in mats} == {"2023-11-01", "2023-11-02", "2023-11-03"}
    md = next(m for m in mats if m.asset_key == AssetKey(["bronze", "games"])).metadata
    assert md["games"].value == games.height and md["incomplete_games"].value == 0
    assert md["api_calls"].value == 3 + 3 * games.height
    for _ in range(2):
        run(window)
    assert {t: fingerprint(t) for t in bt.BRONZE_TABLES} == first  # same rows, same hashes
    assert all(versions()[t] == v1[t] + 2 for t in bt.BRONZE_TABLES)  # exactly one commit per run


def test_neighbouring_partitions_are_untouched(sim_env):
    run(DateWindow.of("2023-11-01", "2023-11-05"))
    before = {t: fingerprint(t, with_fetch=True) for t in bt.BRONZE_TABLES}
    run(DateWindow.of("2023-11-03"))
    for t in bt.BRONZE_TABLES:
        after = fingerprint(t, with_fetch=True)
        kept_before = [r for r in before[t] if r[0] != date(2023, 11, 3)]
        kept_after = [r for r in after if r[0] != date(2023, 11, 3)]
        assert kept_after == kept_before, t  # identical down to fetch time and run id
        middle_runs = {r[-1] for r in after if r[0] == date(2023, 11, 3)}
        assert len(middle_runs) == 1 and middle_runs.isdisjoint({r[-1] for r in kept_after})


def test_day_without_games_is_an_empty_partition(sim_env):
    result = run(DateWindow.of("2024-07-15", "2024-07-16"))
    assert result.success
    sched = read(bt.SCHEDULE)
    assert sorted(sched.get_column("gameDate").to_list()) == [date(2024, 7, 15), date(2024, 7, 16)]
    assert sched.get_column("numberOfGames").to_list() == [0, 0]
    assert read(bt.GAMES).height == 0 and read(bt.BOXSCORE).height == 0
    mats = result.asset_materializations_for_node("bronze_nhl_api")
    assert {m.partition for m in mats if m.asset_key == AssetKey(["bronze", "boxscore"])} == {"2024-07-15",
                                                                                              "2024-07-16"}


def test_incomplete_games_are_recorded_with_what_is_missing(sim_env, league):
    day = date(2023, 11, 4)
    ids = [g.id for g in league.games_on(day) if g.game_type in (2, 3)]
    no_shifts, live, failing = ids[0], ids[1], ids[2]
    sim_env.set_faults(FaultConfig(
        shift_missing_games=[no_shifts], not_final_games=[live],
        script=[ScriptedFault(rf"/v1/gamecenter/{failing}/play-by-play", statuses=[503] * 3)]))
    result = run(DateWindow.of(day))
    games = read(bt.GAMES).sort("gameId")
    by_id = {r["gameId"]: r for r in games.to_dicts()}
    assert by_id[no_shifts]["isComplete"] is False and by_id[no_shifts]["hasShiftChart"] is False
    assert by_id[no_shifts]["missing"] == ["shift_chart: not published yet"]
    assert by_id[live]["isFinal"] is False and by_id[live]["missing"] == ["final: gameState=LIVE"]
    assert by_id[failing]["hasPlayByPlay"] is False
    assert by_id[failing]["missing"] == ["play_by_play: HTTP 503"]
    complete = [g for g in ids if g not in (no_shifts, live, failing)]
    assert all(by_id[g]["isComplete"] for g in complete)
    # the unpublished shift chart and the failed response are kept raw, nothing for the live game
    shifts = read(bt.SHIFT_CHARTS)
    assert no_shifts in shifts.get_column("gameId").to_list() and live not in shifts.get_column("gameId").to_list()
    pbp = {r["gameId"]: r["httpStatus"] for r in read(bt.PLAY_BY_PLAY).to_dicts()}
    assert pbp[failing] == 503
    md = next(m for m in result.asset_materializations_for_node("bronze_nhl_api")
              if m.asset_key == AssetKey(["bronze", "games"])).metadata
    assert md["incomplete_games"].value == 3 and md["incomplete_days"].value == [day.isoformat()]
    assert md["retries"].value == 2 and md["failed_requests"].value == 1
    # the shift chart arrives later: a re-run completes the day in place
    sim_env.set_faults(FaultConfig())
    run(DateWindow.of(day))
    assert read(bt.GAMES).get_column("isComplete").all()


def test_schedule_failure_writes_nothing(sim_env):
    run(DateWindow.of("2023-11-01", "2023-11-02"))
    before = {t: fingerprint(t, with_fetch=True) for t in bt.BRONZE_TABLES}
    v = versions()
    sim_env.set_faults(FaultConfig(script=[ScriptedFault(r"/v1/schedule/2023-11-02", statuses=[503] * 3)]))
    sim_env.reset_stats()
    result = run(DateWindow.of("2023-11-01", "2023-11-02"), raise_on_error=False)
    assert not result.success
    failure = failure_text(result)
    assert "date 2023-11-02" in failure and "HTTP 503" in failure and "/v1/schedule/{date}" in failure
    assert versions() == v
    assert {t: fingerprint(t, with_fetch=True) for t in bt.BRONZE_TABLES} == before
    by_family = sim_env.stats()["by_family"]  # schedules first: no game was requested at all
    assert by_family["schedule"] == 4 and by_family["boxscore"] == by_family["shiftcharts"] == 0


def test_code_version_change_keeps_every_row(sim_env):
    from nhl_assets.bronze.assets import bronze_nhl_api
    from nhl_assets.definitions import build_definitions as build

    run(DateWindow.of("2023-11-01", "2023-11-03"))
    before = {t: fingerprint(t, with_fetch=True) for t in bt.BRONZE_TABLES}
    changed = bronze_nhl_api.map_asset_specs(lambda spec: spec.replace_attributes(code_version="2-changed"))
    defs = build()
    from dagster import Definitions, define_asset_job

    defs2 = Definitions(assets=[changed], jobs=[define_asset_job(PARTITIONED_JOB, selection=[changed])],
                        resources=defs.resources)
    assert defs2.resolve_assets_def(AssetKey(["bronze", "games"])).code_versions_by_key[
        AssetKey(["bronze", "games"])] == "2-changed"
    run(DateWindow.of("2023-11-04"), defs=defs2)
    for t in bt.BRONZE_TABLES:
        after = fingerprint(t, with_fetch=True)
        assert [r for r in after if r[0] <= date(2023, 11, 3)] == before[t], t
    history = Warehouse(os.environ["NHL_WAREHOUSE"]).open(bt.GAMES).history()
    assert [h["operation"] for h in history].count("CREATE TABLE") == 1
    assert {h["operation"] for h in history} <= {"CREATE TABLE", "WRITE"}


def test_upcoming_schedule_is_refreshed_whole(sim_env, league):
    sim_env.set_clock(datetime(2023, 11, 6, 15, 0, tzinfo=timezone.utc))
    defs = build_definitions()
    refresh_unpartitioned(defs, DagsterInstance.ephemeral())
    up = read("gold/upcoming_schedule")
    expected = {g.id for d in range(6, 13) for g in league.games_on(date(2023, 11, d)) if g.game_type in (2, 3)}
    assert set(up.get_column("gameId").to_list()) == expected
    assert up.get_column("gameDate").min() == date(2023, 11, 6)
    assert set(up.get_column("gameState").to_list()) <= {"FUT", "PRE", "LIVE"}
    sim_env.set_clock(datetime(2023, 11, 9, 15, 0, tzinfo=timezone.utc))
    refresh_unpartitioned(defs, DagsterInstance.ephemeral())
    wh = Warehouse(os.environ["NHL_WAREHOUSE"])
    assert read("gold/upcoming_schedule").get_column("gameDate").min() == date(2023, 11, 9)
    assert wh.version("gold/upcoming_schedule") == 2
    old = wh.open("gold/upcoming_schedule", version=1).to_pyarrow_table()
    assert old.num_rows == len(expected)  # the previous refresh stays reachable


def test_dagster_cli_partition_range(sim_env, tmp_path):
    """`dagster asset materialize --select 'key:bronze/*' --partition-range A...B` works as documented.

    (Dagster 1.13 reads the bare `bronze/*` of DESIGN.md as "asset `bronze/` and its downstream";
    `key:bronze/*` and `group:bronze` are its spellings of "every bronze table".)"""
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    os.makedirs(env["DAGSTER_HOME"])
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "nhl_assets.definitions",
         "--select", "key:bronze/*", "--partition-range", "2023-11-01...2023-11-02"],
        capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    sched = read(bt.SCHEDULE)
    assert sorted(sched.get_column("gameDate").to_list()) == [date(2023, 11, 1), date(2023, 11, 2)]
    assert read(bt.GAMES).get_column("isComplete").all()


# --------------------------------------------------------------------------- recorded real payloads


def test_recorded_real_week(recorded_server, warehouse_env, monkeypatch):
    """Real payloads: a final week whose boxscores were not recorded -> every game flagged incomplete."""
    point_api_at(monkeypatch, recorded_server)
    run(DateWindow.of("2024-10-09", "2024-10-10"))
    games = read(bt.GAMES)
    assert games.height == 5 + 9 and games.get_column("isFinal").all()
    assert not games.get_column("isComplete").any()
    assert all(any(m.startswith("boxscore: HTTP 404") for m in ms) for ms in games.get_column("missing").to_list())
    box = read(bt.BOXSCORE)
    assert set(box.get_column("httpStatus").to_list()) == {404}


def test_schema_drift_is_stored_raw_and_flagged(sim_env):
    """Upstream drops gameState from the schedule and adds a field: bronze keeps the bodies as received
    and records the games as not (known to be) final instead of guessing."""
    from nhl_assets.simulator.faults import SchemaDrift

    sim_env.set_faults(FaultConfig(schema_drift=SchemaDrift(drop_fields=["gameWeek[].games[].gameState"],
                                                            add_fields={"newTopLevelField": 1},
                                                            families=["schedule"])))
    run(DateWindow.of("2023-11-01"))
    games = read(bt.GAMES)
    assert games.height > 0 and not games.get_column("isComplete").any()
    assert set(games.get_column("missing").list.first().to_list()) == {"final: gameState=None"}
    body = read(bt.SCHEDULE).get_column("body")[0]
    assert b"newTopLevelField" in body


def test_schedule_game_without_id_fails_the_run_writing_nothing(sim_env):
    from nhl_assets.simulator.faults import SchemaDrift

    sim_env.set_faults(FaultConfig(schema_drift=SchemaDrift(drop_fields=["gameWeek[].games[].id"],
                                                            families=["schedule"])))
    result = run(DateWindow.of("2023-11-01"), raise_on_error=False)
    assert not result.success
    assert "no integer 'id'" in failure_text(result)
    assert all(n == 0 for n in data_commits().values())


@pytest.mark.parametrize("game_id", [1 << 63, (1 << 64) - 1, -2023020001, 0, True, 2023020001.0])
def test_a_scheduled_game_id_no_table_can_key_fails_its_day_by_name(game_id):
    """Every table keys games by an int64 `gameId`: an id JSON allows and int64 does not (or a bool, a float)
    is the schedule's error, named, not polars' when the day's rows are written."""
    from nhl_assets.source.games import games_from_schedule
    from nhl_assets.source.types import NHLPayloadError

    with pytest.raises(NHLPayloadError, match="a scheduled game has no integer 'id' \\(positive, 64-bit\\)"):
        games_from_schedule(date(2023, 11, 1), {"games": [{"id": 2023020002, "gameType": 2},
                                                          {"id": game_id, "gameType": 2}]})


def test_schedule_without_game_week_is_not_taken_for_an_empty_day(sim_env):
    from nhl_assets.simulator.faults import SchemaDrift

    sim_env.set_faults(FaultConfig(schema_drift=SchemaDrift(drop_fields=["gameWeek"], families=["schedule"])))
    result = run(DateWindow.of("2023-11-01"), raise_on_error=False)
    assert not result.success and "no 'gameWeek' list" in failure_text(result)
    assert all(n == 0 for n in data_commits().values())


def test_a_failed_refetch_keeps_the_good_response_bronze_already_held(sim_env, league):
    """The daily lookback re-fetches whole dates: a 503 must not replace a complete game's payload."""
    day = date(2023, 11, 4)
    gid = next(g.id for g in league.games_on(day) if g.game_type in (2, 3))
    run(DateWindow.of(day))
    before = read(bt.PLAY_BY_PLAY).filter(pl.col("gameId") == gid).select("httpStatus", "sha256").row(0)
    sim_env.set_faults(FaultConfig(script=[ScriptedFault(rf"/v1/gamecenter/{gid}/play-by-play", statuses=[503] * 20)]))
    run(DateWindow.of(day))
    after = read(bt.PLAY_BY_PLAY).filter(pl.col("gameId") == gid)
    assert after.height == 1 and after.select("httpStatus", "sha256").row(0) == before
    ledger = read(bt.GAMES).filter(pl.col("gameId") == gid)
    assert ledger.get_column("isComplete").to_list() == [True]
    assert gid in read("silver/player_game_stats").get_column("gameId").to_list()
