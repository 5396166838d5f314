"""`nhl-assets backfill`: chunked Dagster runs with progress, a summary, and resumption after a failure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from rich.console import Console

from nhl_assets.catalog import TABLES
from nhl_assets.dates import DateWindow
from nhl_assets.ops.backfill import backfill_id, exit_code, job_for, run_backfill
from nhl_assets.simulator.faults import FaultConfig, ScriptedFault
from nhl_assets.storage.delta import Warehouse
from nhl_assets.versions import VOLATILE

from .helpers import FAST_API, point_api_at


@pytest.mark.unit
def test_layers_choose_the_chunk_job():
    assert job_for({"bronze", "silver", "gold"}) == "nhl_partitions"
    assert job_for({"bronze"}) == "nhl_bronze" and job_for({"silver"}) == "nhl_silver_replay"
    assert job_for({"gold"}) is None


@pytest.mark.unit
@pytest.mark.parametrize("upcoming", [True, False])
def test_gold_runs_in_one_order_with_the_upcoming_schedule_only_when_asked(monkeypatch, upcoming):
    """`run_gold` is the one sequence of the gold steps (the backfill's, the replay benchmark's): a replay
    from bronze (`upcoming=False`) recomputes the season stats alone, leaving the upcoming schedule, the one
    asset below silver that asks the API; a caller's own `step` runs every step."""
    from nhl_assets.catalog import gold as cg
    from nhl_assets.definitions import REFRESH_JOB
    from nhl_assets.ops import launch
    from nhl_assets.specs import asset_key

    calls: list[tuple] = []

    class Job:
        def __init__(self, name: str) -> None:
            self.name = name

        def execute_in_process(self, **_kwargs) -> None:
            calls.append((self.name,))

    class Defs:
        def resolve_job_def(self, name: str) -> Job:
            return Job(name)

    monkeypatch.setattr(launch, "materialize_window", lambda _defs, window, _instance, job, **_: calls.append((job,)))
    monkeypatch.setattr(launch, "refresh_unpartitioned",
                        lambda *_a, assets=None, **_k: calls.append((REFRESH_JOB, tuple(assets or ()))))
    monkeypatch.setattr(launch, "upcoming_until", lambda window: window.end)
    monkeypatch.setattr(launch, "preload", lambda: None)
    steps: list[str] = []
    out = launch.run_gold(Defs(), DateWindow.of("2023-11-01", "2023-11-06"), None, upcoming=upcoming,
                          step=lambda name, run: (steps.append(name), run()))
    assert out == {}  # the caller's step kept the times
    refresh = "refresh" if upcoming else "season stats"
    assert steps == ["xg model", "shot xg", refresh, "gold features", "model", "predictions"]
    refreshed = [c for c in calls if c[0] == REFRESH_JOB]
    assert refreshed == [(REFRESH_JOB, () if upcoming else (asset_key(cg.SKATER_SEASON_STATS.name),))]


@pytest.mark.parametrize("instance_kind", ["persistent", "ephemeral"])
def test_backfill_runs_chunks_stops_on_failure_and_resumes(sim_server, warehouse_env, monkeypatch, tmp_path,
                                                            instance_kind):
    """On a persistent instance (SQLite files, PostgreSQL) silver of a chunk overlaps bronze of the next;
    an in-memory instance runs them one after another. The outcome is the same."""
    point_api_at(monkeypatch, sim_server)
    window = DateWindow.of("2023-11-01", "2023-11-06")
    (tmp_path / "dagster").mkdir()
    instance = DagsterInstance.local_temp(str(tmp_path / "dagster")) if instance_kind == "persistent" \
        else DagsterInstance.ephemeral()
    console = Console(file=open(os.devnull, "w"))
    # the schedule of 2023-11-04 keeps failing: the second chunk fails, nothing of it is written
    sim_server.set_faults(FaultConfig(script=[ScriptedFault(r"/v1/schedule/2023-11-04", statuses=[503] * 50)]))
    first = run_backfill(window, {"bronze", "silver"}, chunk_days=3, instance=instance, run_config=FAST_API,
                         console=console)
    assert first.done == ["2023-11-01...2023-11-03"] and first.failed == ["2023-11-04...2023-11-06"]
    wh = Warehouse(os.environ["NHL_WAREHOUSE"])
    dates = set(pl.from_arrow(wh.read_arrow("bronze/schedule")).get_column("gameDate").cast(pl.String))
    assert dates == {"2023-11-01", "2023-11-02", "2023-11-03"}
    sim_server.set_faults(FaultConfig())
    sim_server.reset_stats()
    second = run_backfill(window, {"bronze", "silver"}, chunk_days=3, instance=instance, run_config=FAST_API,
                          console=console)
    assert second.skipped == ["2023-11-01...2023-11-03"] and second.done == ["2023-11-04...2023-11-06"]
    requested = [target for target, _status in sim_server.stats()["log"]]
    assert any("/v1/schedule/2023-11-04" in t for t in requested)
    assert not any(f"/v1/schedule/2023-11-0{d}" in t for t in requested for d in "123")  # done chunk not refetched
    runs = instance.get_runs(filters=RunsFilter(tags={"nhl/backfill": backfill_id(window, {"bronze", "silver"})}))
    # recorded in the instance, tagged (what the UI groups): per chunk a bronze run, then its silver run
    # (overlapping the next chunk's bronze); the failed chunk's bronze run is there too
    steps = sorted((r.tags["nhl/chunk"], r.tags["nhl/step"], r.job_name, r.status.value) for r in runs)
    assert steps == [("2023-11-01...2023-11-03", "bronze", "nhl_bronze", "SUCCESS"),
                     ("2023-11-01...2023-11-03", "silver", "nhl_silver_replay", "SUCCESS"),
                     ("2023-11-04...2023-11-06", "bronze", "nhl_bronze", "FAILURE"),
                     ("2023-11-04...2023-11-06", "bronze", "nhl_bronze", "SUCCESS"),
                     ("2023-11-04...2023-11-06", "silver", "nhl_silver_replay", "SUCCESS")]
    players = pl.from_arrow(wh.read_arrow("silver/player_game_stats"))
    assert players.get_column("gameDate").n_unique() == 6
    assert players.select("gameId", "playerId", "situation").is_unique().all()


# ----------------------------------------------------------------------------------------------------
# incomplete games: retried after the chunks, listed, re-fetched with --incomplete-only
# ----------------------------------------------------------------------------------------------------

def _game_on(wh: Warehouse, day: str) -> int:
    ledger = pl.from_arrow(wh.read_arrow("bronze/games", DateWindow.of(day)))
    return int(ledger.get_column("gameId").min())


def _requests(sim_server) -> list[str]:
    return [target for target, _status in sim_server.stats()["log"]]


def _silent() -> Console:
    return Console(file=open(os.devnull, "w"))


def test_a_backfill_retries_only_what_is_missing_and_silver_follows(sim_server, warehouse_env, monkeypatch,
                                                                   tmp_path):
    point_api_at(monkeypatch, sim_server)
    window = DateWindow.of("2023-11-01", "2023-11-04")
    probe = Warehouse(str(tmp_path / "probe"))  # which game to break: the first of 2023-11-03
    monkeypatch.setenv("NHL_WAREHOUSE", probe.root)
    run_backfill(DateWindow.of("2023-11-03"), {"bronze"}, chunk_days=1, instance=DagsterInstance.ephemeral(),
                 run_config=FAST_API, console=_silent())
    game = _game_on(probe, "2023-11-03")
    monkeypatch.setenv("NHL_WAREHOUSE", str(warehouse_env))
    # the shift chart fails every attempt of the chunk's run (FAST_API: 3 attempts), then recovers
    sim_server.set_faults(FaultConfig(script=[ScriptedFault(rf"shiftcharts.*gameId={game}", statuses=[503] * 3)]))
    sim_server.reset_stats()
    instance = DagsterInstance.ephemeral()
    report = run_backfill(window, {"bronze", "silver"}, chunk_days=2, instance=instance, run_config=FAST_API,
                          console=_silent(), retry_backoff_s=0)
    assert report.incomplete_after_chunks == 1 and report.incomplete == [] and exit_code(report, {"bronze"}) == 0
    assert [(p.games_before, p.games_after, p.runs) for p in report.passes] == [(1, 0, 2)]
    # the retry pass (the last run to call the API) asked for the date's schedule and the missing chart only
    requested = _requests(sim_server)
    assert len([t for t in requested if f"gameId={game}" in t and "shiftcharts" in t]) == 4  # 3 failed + 1
    assert "/v1/schedule/2023-11-03" in requested[-2] and f"gameId={game}" in requested[-1]
    retry_run = instance.get_runs(filters=RunsFilter(tags={"nhl/step": "retry-bronze"}))[0]
    md = instance.get_latest_materialization_event(AssetKey(["bronze", "games"])).asset_materialization.metadata
    assert md["api_calls"].value == 2 and md["retried_dates"].value == 1
    assert instance.get_latest_materialization_event(AssetKey(["bronze", "games"])).run_id == retry_run.run_id
    wh = Warehouse(str(warehouse_env))
    ledger = pl.from_arrow(wh.read_arrow("bronze/games"))
    assert ledger.get_column("isComplete").all() and ledger.height == ledger.get_column("gameId").n_unique()
    players = pl.from_arrow(wh.read_arrow("silver/player_game_stats")).filter(pl.col("gameId") == game)
    assert players.height > 0 and players.get_column("icetime").null_count() == 0
    quarantine = wh.read_arrow("silver/quarantine")
    assert quarantine is None or game not in quarantine.column("gameId").to_pylist()
    runs = instance.get_runs(filters=RunsFilter(tags={"nhl/step": "retry-bronze"}))
    assert [(r.tags["nhl/chunk"], r.status.value) for r in runs] == [("2023-11-03", "SUCCESS")]


def test_a_game_that_stays_incomplete_is_listed_fails_the_command_and_incomplete_only_fetches_it(
        sim_server, warehouse_env, monkeypatch, tmp_path):
    from nhl_assets.cli import main as cli_main

    point_api_at(monkeypatch, sim_server)
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "250")
    sim_server.set_faults(FaultConfig(shift_missing_rate=1.0))  # no chart published: every game incomplete
    args = ["backfill", "--start", "2023-11-02", "--end", "2023-11-02", "--layers", "bronze,silver",
            "--retry-passes", "2", "--retry-backoff", "0", "--rate", "0"]
    with pytest.raises(SystemExit) as exit_:
        cli_main(args)
    assert exit_.value.code == 1
    wh = Warehouse(str(warehouse_env))
    games = pl.from_arrow(wh.read_arrow("bronze/games")).get_column("gameId").to_list()
    assert games
    instance = DagsterInstance.get()
    retries = instance.get_runs(filters=RunsFilter(tags={"nhl/step": "retry-bronze"}))
    assert len(retries) == 2  # two passes, one date each
    # the check a UI-launched run shows: these games are beyond the sensor's reach (the sim clock is at the end)
    from dagster import AssetCheckKey

    evaluation = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [AssetCheckKey(AssetKey(["bronze", "games"]), "no_incomplete_beyond_sensor")])
    record = evaluation[AssetCheckKey(AssetKey(["bronze", "games"]), "no_incomplete_beyond_sensor")]
    assert record.event.dagster_event.event_specific_data.passed is False
    # --incomplete-only, the API healthy again: only the missing charts are fetched, and the command succeeds
    sim_server.set_faults(FaultConfig())
    sim_server.reset_stats()
    with pytest.raises(SystemExit) as exit_:
        cli_main([*args, "--incomplete-only"])
    assert exit_.value.code == 0
    requested = _requests(sim_server)
    assert sorted(t for t in requested if "schedule" not in t) == sorted(
        t for t in requested if "shiftcharts" in t) and len([t for t in requested if "shiftcharts" in t]) == len(games)
    assert pl.from_arrow(wh.read_arrow("bronze/games")).get_column("isComplete").all()


def test_the_summary_names_each_incomplete_game_what_it_lacks_and_how_to_resume(sim_server, warehouse_env,
                                                                                 monkeypatch):
    from io import StringIO

    from nhl_assets.ops.backfill import print_report

    point_api_at(monkeypatch, sim_server)
    sim_server.set_faults(FaultConfig(shift_missing_rate=1.0))
    window = DateWindow.of("2023-11-02")
    report = run_backfill(window, {"bronze"}, chunk_days=1, instance=DagsterInstance.ephemeral(),
                          run_config=FAST_API, console=_silent(), retry_passes=1, retry_backoff_s=0)
    assert report.incomplete and all(g.missing == ("shift_chart: not published yet",) for g in report.incomplete)
    out = StringIO()
    print_report(Console(file=out, width=250), report, window, {"bronze"})
    text = out.getvalue()
    for g in report.incomplete:
        assert str(g.game_id) in text
    assert "shift_chart: not published yet" in text and "beyond its reach" in text
    assert "nhl-assets backfill --start 2023-11-02 --end 2023-11-02 --layers bronze --incomplete-only" in text
    assert exit_code(report, {"bronze"}) == 1


# ----------------------------------------------------------------------------------------------------
# resume state belongs to the warehouse
# ----------------------------------------------------------------------------------------------------

def test_the_same_backfill_into_two_warehouses_fills_both_and_a_restored_table_runs_again(
        sim_server, monkeypatch, tmp_path):
    point_api_at(monkeypatch, sim_server)
    window = DateWindow.of("2023-11-01", "2023-11-04")
    (tmp_path / "dagster").mkdir()
    instance = DagsterInstance.local_temp(str(tmp_path / "dagster"))
    layers = {"bronze", "silver"}

    def backfill(root: str):
        monkeypatch.setenv("NHL_WAREHOUSE", root)
        return run_backfill(window, layers, chunk_days=2, instance=instance, run_config=FAST_API, console=_silent(),
                            retry_backoff_s=0)

    first, second = str(tmp_path / "a"), str(tmp_path / "b")
    a = backfill(first)
    b = backfill(second)
    assert a.done == b.done == ["2023-11-01...2023-11-02", "2023-11-03...2023-11-04"] and not b.skipped
    assert all("another warehouse" in why for why in b.why.values())
    for root in (first, second):
        players = pl.from_arrow(Warehouse(root).read_arrow("silver/player_game_stats"))
        assert players.get_column("gameDate").n_unique() == 4
    again = backfill(first)
    assert again.skipped == a.done and not again.done
    assert all(why.startswith("skipped: done by run") for why in again.why.values())
    # silver restored to before the backfill: the instance still says done, the warehouse does not hold it
    restored = Warehouse(first)
    for table in ("silver/schedule", "silver/quarantine"):
        by_runs = [h["version"] for h in restored.history(table) if not (h["run_id"] or "migration-").startswith(
            "migration-")]
        restored.restore(table, min(by_runs) - 1, reason="test: undo the backfill")  # the version before them
    assert restored.read_arrow("silver/schedule").num_rows == 0
    repaired = backfill(first)
    assert repaired.done == a.done and not repaired.skipped
    assert all("silver lacks" in why for why in repaired.why.values())
    assert pl.from_arrow(Warehouse(first).read_arrow("silver/schedule")).get_column("gameDate").n_unique() == 4


# ----------------------------------------------------------------------------------------------------
# a flaky API and a SIGKILL mid-backfill: the restarted backfill converges to a clean backfill's tables
# ----------------------------------------------------------------------------------------------------

#: The backfill command's own code path (`run_backfill`, `print_report`, `exit_code`) in a child process that
#: the test can kill; the API settings are short so that the faults cost seconds, not minutes.
CHILD = """
import sys
from dagster import DagsterInstance
from rich.console import Console
from nhl_assets.dates import DateWindow
from nhl_assets.ops.backfill import exit_code, print_report, run_backfill
api = {"timeout_s": 1.0, "max_attempts": 3, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "rate_per_second": 0}
window, layers = DateWindow.of(sys.argv[1], sys.argv[2]), {"bronze", "silver"}
report = run_backfill(window, layers, chunk_days=int(sys.argv[3]), instance=DagsterInstance.get(),
                      run_config={"resources": {"nhl_api": {"config": api}}}, retry_backoff_s=0.2)
print_report(Console(width=200), report, window, layers)
sys.exit(exit_code(report, layers))
"""


def _backfill_child(window: DateWindow, chunk_days: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(window.start), str(window.end), str(chunk_days)],
                            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group: the kill takes its silver child too


def _content(wh: Warehouse, table: str) -> pl.DataFrame:
    """The table's rows without the run-specific columns (fetch/check times, run ids, attempts, raw bodies:
    the sha256 column stands for the body), in a canonical order."""
    frame = pl.from_arrow(wh.read_arrow(table))
    frame = frame.select(sorted(c for c in frame.columns if c not in VOLATILE))
    return frame.sort(frame.columns)


@pytest.mark.slow
def test_faults_and_a_sigkill_mid_backfill_then_a_restart_equal_a_clean_backfill(sim_server, monkeypatch, tmp_path):
    point_api_at(monkeypatch, sim_server)
    window = DateWindow.of("2023-11-01", "2023-11-09")
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    faulty = str(tmp_path / "faulty")
    monkeypatch.setenv("NHL_WAREHOUSE", faulty)
    # the flaky API, plus one shift chart of the last chunk that fails a whole run's attempts
    sim_server.set_faults(FaultConfig(seed=13, rate_429=0.1, retry_after_s=0.05, rate_5xx=0.05, rate_truncated=0.05,
                                      rate_timeout=0.01, timeout_hold_s=3.0,
                                      script=[ScriptedFault(r"shiftcharts.*gameId=2023020210", statuses=[503] * 3)]))
    proc = _backfill_child(window, 3)
    instance = DagsterInstance.get()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        done = instance.get_runs(filters=RunsFilter(tags={"nhl/step": "silver"}, statuses=[DagsterRunStatus.SUCCESS]))
        if done:  # the first chunk is complete, the second is being fetched: kill everything mid-backfill
            break
        time.sleep(0.2)
    assert proc.poll() is None, f"the backfill ended before it could be killed: {proc.communicate()[0][-3000:]}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    outputs = []
    for _attempt in range(3):  # restarted (the same command) until it says every game is complete
        proc = _backfill_child(window, 3)
        out, _ = proc.communicate(timeout=600)
        outputs.append(out)
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, outputs[-1][-3000:]
    assert "skipped (done before)" in outputs[0]
    restarted = instance.get_runs(filters=RunsFilter(tags={"nhl/step": "retry-bronze"}))
    assert restarted, "the scripted shift chart failure should have needed a retry pass"
    # a clean backfill of the same range into another warehouse, the API healthy
    sim_server.set_faults(FaultConfig())
    clean = str(tmp_path / "clean")
    monkeypatch.setenv("NHL_WAREHOUSE", clean)
    report = run_backfill(window, {"bronze", "silver"}, chunk_days=3, instance=DagsterInstance.ephemeral(),
                          run_config=FAST_API, console=_silent())
    assert not report.failed and not report.incomplete
    tables = [t for t in TABLES if TABLES[t].layer in ("bronze", "silver")]
    assert len(tables) == 11  # silver/shots included
    for table in tables:
        a, b = _content(Warehouse(faulty), table), _content(Warehouse(clean), table)
        assert a.height == b.height and a.equals(b), f"{table}: {a.height} rows after faults + kill, {b.height} clean"
    ledger = pl.from_arrow(Warehouse(faulty).read_arrow("bronze/games"))
    assert ledger.get_column("isComplete").all() and ledger.get_column("gameId").is_unique().all()


@pytest.mark.unit
def test_a_retry_asks_only_for_what_the_ledger_lacks():
    from nhl_assets.bronze.tables import endpoints_to_retry

    row = {"isComplete": False, "hasBoxscore": True, "hasPlayByPlay": True, "hasShiftChart": False}
    assert endpoints_to_retry(row) == ("shift_chart",)
    assert endpoints_to_retry({**row, "hasPlayByPlay": False}) == ("play_by_play", "shift_chart")
    assert endpoints_to_retry({**row, "isComplete": True, "hasShiftChart": True}) == ()
    assert endpoints_to_retry(None) == ("boxscore", "play_by_play", "shift_chart")  # a game bronze never saw
    # incomplete although every flag is set (cannot say what is missing): ask for everything again
    assert endpoints_to_retry({**row, "hasShiftChart": True}) == ("boxscore", "play_by_play", "shift_chart")


def test_an_incomplete_game_within_the_sensors_reach_passes_the_check(sim_server, warehouse_env, monkeypatch):
    from datetime import datetime, timezone

    from dagster import AssetCheckKey

    point_api_at(monkeypatch, sim_server)
    sim_server.set_clock(datetime(2023, 11, 5, 15, 0, tzinfo=timezone.utc))  # the API's today: 2023-11-05
    sim_server.set_faults(FaultConfig(shift_missing_rate=1.0))
    instance = DagsterInstance.ephemeral()
    run_backfill(DateWindow.of("2023-11-02"), {"bronze"}, chunk_days=1, instance=instance, run_config=FAST_API,
                 console=_silent(), retry_passes=0)
    key = AssetCheckKey(AssetKey(["bronze", "games"]), "no_incomplete_beyond_sensor")
    event = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key].event
    evaluation = event.dagster_event.event_specific_data
    assert evaluation.passed and evaluation.metadata["today"].value == "2023-11-05"
    assert evaluation.metadata["sensor_horizon"].value == "2023-10-26"
