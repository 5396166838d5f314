"""Silver end to end through Dagster: parsed from bronze only, reconciled, validated, idempotent."""

from __future__ import annotations

import itertools
import os
from datetime import date

import polars as pl
import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, Definitions, define_asset_job

from nhl_assets.bronze import tables as bt
from nhl_assets.dates import DateWindow
from nhl_assets.definitions import PARTITIONED_JOB, SILVER_REPLAY_JOB, build_definitions
from nhl_assets.runs import materialize_window
from nhl_assets.silver import build as sb
from nhl_assets.simulator.faults import FaultConfig, SchemaDrift, ScriptedFault
from nhl_assets.storage.delta import Warehouse

from .helpers import FAST_API, read

WINDOW = DateWindow.of("2023-11-04", "2023-11-05")


def run(window: DateWindow, job: str = PARTITIONED_JOB, defs=None, instance=None):
    return materialize_window(defs or build_definitions(), window, instance or DagsterInstance.ephemeral(),
                              job_name=job, run_config=FAST_API if job == PARTITIONED_JOB else None)


def checks(result) -> dict[tuple[str, str], object]:
    return {(e.asset_key.to_user_string(), e.check_name): e
            for e in (ev.event_specific_data for ev in result.all_events
                      if ev.event_type_value == "ASSET_CHECK_EVALUATION")}


def test_silver_tables_reconcile_and_pass_checks(sim_env, league):
    result = run(WINDOW)
    games = [g.id for d in WINDOW.days() for g in league.games_on(d) if g.game_type in (2, 3)]
    players = read(sb.PLAYERS)
    assert set(players.get_column("gameId").unique().to_list()) == set(games)
    assert players.group_by("gameId", "playerId").len().get_column("len").unique().to_list() == [5]
    assert players.get_column("hasShiftData").all()
    teams, goalies, sched = read(sb.TEAMS), read(sb.GOALIES), read(sb.SCHEDULE)
    assert teams.height == len(games) * 2 * 5 and goalies.height >= len(games) * 2 * 5
    assert sorted(sched.get_column("gameId").to_list()) == sorted(games)
    assert read(sb.QUARANTINE).height == 0
    found = checks(result)
    recon = found[("silver/player_game_stats", "boxscore_reconciliation")]
    assert recon.passed and recon.metadata["values_checked"].value > 1000
    assert recon.metadata["mismatches"].value == 0
    for table in ("silver/player_game_stats", "silver/team_game_stats", "silver/goalie_game_stats",
                  "silver/schedule"):
        assert found[(table, "unique_key")].passed
    assert found[("silver/player_game_stats", "expectations_passed")].passed


def test_replay_from_bronze_makes_zero_api_calls_and_leaves_bronze_untouched(sim_env):
    run(WINDOW)
    wh = Warehouse(os.environ["NHL_WAREHOUSE"])
    bronze_versions = {t: wh.version(t) for t in bt.BRONZE_TABLES}
    before = {t: sorted(read(t).drop("quarantinedAt", strict=False).rows()) for t in sb.SILVER_TABLES}
    sim_env.reset_stats()
    result = run(WINDOW, job=SILVER_REPLAY_JOB)
    assert result.success
    assert sim_env.stats()["total"] == 0  # silver never calls the API
    assert {t: wh.version(t) for t in bt.BRONZE_TABLES} == bronze_versions
    after = {t: sorted(read(t).drop("quarantinedAt", strict=False).rows()) for t in sb.SILVER_TABLES}
    assert after == before  # idempotent: identical rows


def test_a_failed_table_write_fails_the_run_and_the_committed_tables_are_materialized(sim_env, monkeypatch):
    """Silver's tables commit each on its own (`write_as_completed`): when one write fails, the run fails, that
    table keeps its old window and gets no materialization, and every table that did commit is recorded
    as materialized for each of its partitions (as it now holds the new window)."""
    run(WINDOW)
    wh = Warehouse(os.environ["NHL_WAREHOUSE"])
    versions = {t: wh.version(t) for t in sb.SILVER_TABLES}
    replace = Warehouse.replace_window

    def full_disk_for_shots(self, table, *args, **kwargs):
        if table == sb.SHOTS:
            raise OSError("No space left on device")
        return replace(self, table, *args, **kwargs)

    monkeypatch.setattr(Warehouse, "replace_window", full_disk_for_shots)
    instance = DagsterInstance.ephemeral()
    result = materialize_window(build_definitions(), WINDOW, instance, SILVER_REPLAY_JOB, raise_on_error=False)
    assert not result.success
    assert "No space left on device" in str(result.get_step_failure_events()[0].step_failure_data.error)
    assert wh.version(sb.SHOTS) == versions[sb.SHOTS]
    for table in sb.SILVER_TABLES:
        mats = instance.fetch_materializations(AssetKey(table.split("/")), limit=10).records
        if table == sb.SHOTS:
            assert mats == []
        else:
            assert wh.version(table) == versions[table] + 1
            assert sorted(r.partition_key for r in mats) == [d.isoformat() for d in WINDOW.days()]


def _recorded_code_version(instance: DagsterInstance, key: AssetKey, partition: str) -> str | None:
    """The code version the partition's latest materialization was computed with (its public event record:
    Dagster tags every materialization with it; a definition with another code version is stale)."""
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[partition]),
                                              limit=1).records
    return records[0].asset_materialization.tags.get("dagster/code_version") if records else None


def test_parser_change_marks_silver_stale_and_replay_repairs(sim_env):
    from nhl_assets.bronze.assets import bronze_nhl_api
    from nhl_assets.silver.assets import silver_game_stats

    instance = DagsterInstance.ephemeral()
    defs = build_definitions()
    run(WINDOW, defs=defs, instance=instance)
    key = AssetKey(["silver", "player_game_stats"])
    changed = silver_game_stats.map_asset_specs(lambda s: s.replace_attributes(code_version="2-parser-fix"))
    defs2 = Definitions(assets=[bronze_nhl_api, changed],
                        jobs=[define_asset_job(SILVER_REPLAY_JOB, selection=[changed])],
                        resources=defs.resources)
    current = defs2.resolve_assets_def(key).code_versions_by_key[key]
    assert current == "2-parser-fix"
    assert _recorded_code_version(instance, key, "2023-11-04") not in (None, current)  # stale: older parser
    sim_env.reset_stats()
    run(WINDOW, job=SILVER_REPLAY_JOB, defs=defs2, instance=instance)
    assert sim_env.stats()["total"] == 0
    assert {_recorded_code_version(instance, key, d.isoformat()) for d in WINDOW.days()} == {current}  # fresh


def test_malformed_payload_is_quarantined_without_losing_the_day(sim_env, league):
    day = date(2023, 11, 4)
    games = [g.id for g in league.games_on(day) if g.game_type in (2, 3)]
    bad = games[0]
    # the API keeps answering a cut play-by-play body: bronze keeps it raw, silver quarantines it
    sim_env.set_faults(FaultConfig(script=[ScriptedFault(rf"/v1/gamecenter/{bad}/play-by-play",
                                                         statuses=[200] * 3, truncate="short")]))
    run(DateWindow.of(day))
    raw = read(bt.PLAY_BY_PLAY).filter(pl.col("gameId") == bad)
    assert raw.height == 1 and raw.get_column("httpStatus")[0] == 200  # kept as received
    q = read(sb.QUARANTINE)
    row = q.filter(pl.col("gameId") == bad).to_dicts()[0]
    assert row["reason"].startswith("invalid JSON") and row["bronzeTable"] == "bronze/play_by_play"
    assert row["bronzeSha256"] == raw.get_column("sha256")[0]
    assert row["bronzeRequest"] == f"/v1/gamecenter/{bad}/play-by-play"
    assert set(read(sb.PLAYERS).get_column("gameId").unique().to_list()) == set(games) - {bad}


def test_schema_drift_keeps_the_day(sim_env, league):
    day = date(2023, 11, 4)
    sim_env.set_faults(FaultConfig(schema_drift=SchemaDrift(
        drop_fields=["plays[].details.zoneCode", "rosterSpots[].headshot"],
        add_fields={"someNewField": {"x": 1}}, families=["play-by-play", "boxscore", "shiftcharts"])))
    result = run(DateWindow.of(day))
    games = {g.id for g in league.games_on(day) if g.game_type in (2, 3)}
    assert set(read(sb.PLAYERS).get_column("gameId").unique().to_list()) == games
    assert checks(result)[("silver/player_game_stats", "boxscore_reconciliation")].passed


def test_missing_shift_chart_publishes_event_stats_flagged(sim_env, league):
    day = date(2023, 11, 4)
    gid = next(g.id for g in league.games_on(day) if g.game_type in (2, 3))
    sim_env.set_faults(FaultConfig(shift_missing_games=[gid]))
    run(DateWindow.of(day))
    p = read(sb.PLAYERS).filter(pl.col("gameId") == gid)
    assert p.height > 0 and not p.get_column("hasShiftData").any()
    assert p.get_column("icetime").is_null().all()
    assert p.filter(pl.col("situation") == "all").get_column("I_F_shotsOnGoal").sum() > 0
    ledger = read(bt.GAMES).filter(pl.col("gameId") == gid)
    assert ledger.get_column("isComplete").to_list() == [False]  # still re-requested later



def test_processes_parsing_a_window_together_build_what_one_process_builds(sim_env, league):
    """This process and spawned workers, taking the chunks from both ends and handing parts back through
    files, give the very frames one process gives chunk after chunk: the same rows in the same order, the
    same quarantine (a payload rejected in a middle chunk), reconciliation and counts."""
    window = DateWindow.of("2023-11-04", "2023-11-08")
    bad = next(g.id for g in league.games_on(date(2023, 11, 6)) if g.game_type in (2, 3))
    sim_env.set_faults(FaultConfig(script=[ScriptedFault(rf"/v1/gamecenter/{bad}/play-by-play",
                                                         statuses=[200] * 3, truncate="short")]))
    run(window)
    wh = Warehouse(os.environ["NHL_WAREHOUSE"])

    def built(workers: int) -> tuple:
        b = sb.build_window(wh, window, chunk_days=1, workers=workers)  # five chunks
        return ({t: b.frame(t).drop("quarantinedAt", strict=False) for t in sb.SILVER_TABLES},
                b.reconciliation, b.games, b.games_with_shift_data, b.incomplete_games, b.quarantined_by_table)

    one = built(1)
    assert one[0][sb.QUARANTINE].get_column("gameId").to_list() == [bad]
    assert one[2] == len([g for d in window.days() for g in league.games_on(d) if g.game_type in (2, 3)]) - 1
    for workers in (2, 3):
        other = built(workers)
        for table in sb.SILVER_TABLES:
            assert other[0][table].equals(one[0][table]), (workers, table)
        assert other[1:] == one[1:], workers


@pytest.mark.unit
@pytest.mark.parametrize("days, processes, longest", [(212, 2, 28), (930, 2, 28), (212, 4, 14), (17, 2, 7), (5, 2, 1),
                                                      (2, 2, 28)])
def test_the_chunks_claimed_from_both_ends_cover_the_window_once_and_shrink(days, processes, longest):
    """Whatever order the processes claim in, the chunks cover every day once; none is longer than `longest`,
    none shorter than `SHORTEST_CHUNK_DAYS` unless fewer days were left (or `longest` is shorter); and a
    chunk is never longer than one claimed before it from its end (so the processes finish together)."""
    import multiprocessing
    from datetime import timedelta

    window = DateWindow(date(2024, 10, 1), date(2024, 10, 1) + timedelta(days=days - 1))
    claims = sb._Claims(multiprocessing.get_context("spawn"), window, processes, longest)
    taken: dict[str, list[DateWindow]] = {"front": [], "back": []}
    left = days
    for turn in itertools.count():
        end = ("front", "back", "front")[turn % 3]  # the workers claim more often than the starting process
        chunk = claims.front() if end == "front" else claims.back()
        if chunk is None:
            assert left == 0 and claims.front() is None and claims.back() is None
            break
        assert min(sb.SHORTEST_CHUNK_DAYS, longest, left) <= len(chunk) <= longest
        taken[end].append(chunk)
        left -= len(chunk)
    chunks = sorted(taken["front"] + taken["back"], key=lambda c: c.start)
    assert [d for c in chunks for d in c.days()] == window.days()
    for side in taken.values():
        assert [len(c) for c in side] == sorted((len(c) for c in side), reverse=True)
    if days >= 212 and longest == 28:
        assert len(chunks) < days / 14  # fewer chunks than two-week ones, for all that the last ones shrink


_SPAWNING_SCRIPT = '''
import sys

import dagster  # noqa: F401 - as the `dagster` console script does

if __name__ == "__mp_main__":  # a spawned child running this main module again
    with open(sys.argv[1], "a") as marks:
        marks.write("re-run\\n")

if __name__ == "__main__":
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor
    from datetime import date

    from nhl_assets.dates import DateWindow
    from nhl_assets.silver.build import build_window
    from nhl_assets.storage.delta import Warehouse

    if sys.argv[2] == "plain":  # the control: a spawn pool started as usual
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(os.getpid).result()
    else:  # silver's parse workers: an empty warehouse, a window of 3 chunks on 2 workers
        built = build_window(Warehouse(sys.argv[3]), DateWindow(date(2024, 1, 1), date(2024, 2, 1)), workers=2)
        assert built.games == 0
        assert sys.modules["__main__"].__file__ == __file__  # restored after the workers started
'''


def test_parse_workers_start_without_running_the_main_module_again(tmp_path):
    """Silver's spawned parse workers do not re-import the parent's main module (under Dagster the console
    script, which imports all of Dagster: 0.6 s of each worker's start). The control shows a plain spawn
    pool does re-run it, so the check can fail."""
    import subprocess
    import sys

    script, marks = tmp_path / "spawning.py", tmp_path / "marks.txt"
    script.write_text(_SPAWNING_SCRIPT)
    for mode, expected in (("plain", "re-run\n"), ("silver", "")):  # plain: one worker, one re-run
        marks.write_text("")
        done = subprocess.run([sys.executable, str(script), str(marks), mode, str(tmp_path / "wh")],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert marks.read_text() == expected, mode
