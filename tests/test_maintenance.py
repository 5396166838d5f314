"""Table maintenance never changes what a table holds: compaction, checkpoints and vacuum on a warehouse
built day by day (the small files and long logs the daily routine leaves), a partition range, the
retention guard, time travel across a compaction, and maintenance racing a partition write."""

import shutil
import threading
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
import yaml
from dagster import DagsterInstance
from deltalake.exceptions import CommitFailedError

from nhl_assets.automation.maintenance import MAINTENANCE_JOB, MAINTENANCE_OP, META_TABLES
from nhl_assets.catalog import META_MIGRATIONS, META_OPERATIONS, TABLES
from nhl_assets.dates import DateWindow
from nhl_assets.storage import maintenance as mt
from nhl_assets.storage.delta import RetentionTooShort, Warehouse

from .helpers import REPO

HISTORY = DateWindow.of("2023-10-10", "2023-10-17")  # eight game dates, each written as its own runs
SILVER_STATS = ("silver/player_game_stats", "silver/team_game_stats", "silver/goalie_game_stats", "silver/schedule")
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _write_gold_day(wh: Warehouse, day: date) -> None:
    """Gold the way the daily runs write it: the day's feature partition, the season table refreshed whole."""
    from nhl_assets.transform import features as tf
    from nhl_assets.transform.season_stats import skater_season_stats

    players = pl.from_arrow(wh.read_arrow("silver/player_game_stats"))
    teams = pl.from_arrow(wh.read_arrow("silver/team_game_stats"))
    window = DateWindow(day, day)
    for table, frame in (("gold/player_game_features", tf.player_features(
            players.select(tf.PLAYER_COLUMNS), teams.select(tf.TEAM_COLUMNS), day, day)),
            ("gold/team_game_features", tf.team_features(teams.select(tf.TEAM_COLUMNS), day, day))):
        wh.replace_window(table, frame.to_arrow(), window, partition_by=["season"])
    wh.replace_all("gold/skater_season_stats", skater_season_stats(players).to_arrow())


@pytest.fixture(scope="module")
def built_history(tmp_path_factory, league) -> Path:
    """A warehouse written one date at a time with two-day lookbacks: one file per day per table."""
    from nhl_assets.storage.migrations import ensure_current
    from nhl_assets.simulator.history import build_day_by_day

    root = tmp_path_factory.mktemp("history") / "warehouse"
    wh = Warehouse(str(root))
    ensure_current(wh)
    build_day_by_day(wh, league, HISTORY, lookback_days=2, after_day=lambda d: _write_gold_day(wh, d))
    return root


@pytest.fixture
def wh(built_history, tmp_path, monkeypatch) -> Warehouse:
    """A private copy of the built warehouse (maintenance changes files), also as $NHL_WAREHOUSE."""
    root = tmp_path / "warehouse"
    shutil.copytree(built_history, root)
    monkeypatch.setenv("NHL_WAREHOUSE", str(root))
    return Warehouse(str(root))


def _digests(wh: Warehouse, tables) -> dict[str, tuple[int, str]]:
    return {t: mt.content_digest(wh, t) for t in tables}


def _run_job(config: dict):
    from nhl_assets.definitions import build_definitions

    job = build_definitions().resolve_job_def(MAINTENANCE_JOB)
    with DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False,
                                      run_config={**QUIET, "ops": {MAINTENANCE_OP: {"config": config}}})


# ----------------------------------------------------------------------------------------------------
# content never changes
# ----------------------------------------------------------------------------------------------------


def test_maintenance_job_compacts_and_leaves_every_table_identical(wh):
    tables = [*TABLES, META_MIGRATIONS]
    before = _digests(wh, tables)
    figures = {t: mt.measure(wh, t) for t in tables}
    assert all(before[t][0] > 0 for t in (*SILVER_STATS, "bronze/play_by_play", "gold/player_game_features"))
    assert figures["silver/player_game_stats"].files == len(HISTORY)  # a small file per day

    result = _run_job({})
    assert result.success
    results = {r.table: r for r in result.output_for_node(MAINTENANCE_OP)}
    assert set(results) == {*TABLES, *META_TABLES} - {META_OPERATIONS}  # the ledger is created by this run

    assert _digests(wh, tables) == before  # every row of every table, hashed, unchanged
    for table in tables:
        r = results[table]
        assert r.before == figures[table]
        assert r.after.rows == r.before.rows and r.after.log_tail == 0  # checkpointed at the newest version
    for table in (*SILVER_STATS, "gold/player_game_features", "gold/team_game_features"):
        assert results[table].after.files == 1  # one season partition: every small file merged
        assert results[table].files_compacted == len(HISTORY)
        assert results[table].after.version == figures[table].version + 1  # one OPTIMIZE commit
        assert wh.history(table, 1)[0]["nhl_operation"] == "maintenance_compact"
        # the change data feed sees no row inserted or deleted by the compaction
        assert wh.changes(table, results[table].after.version).num_rows == 0
    assert results["bronze/play_by_play"].after.files == figures["bronze/play_by_play"].files  # one per date already

    observed = {tuple(e.asset_key.path) for e in (ev.event_specific_data.asset_observation
                                                  for ev in result.all_events
                                                  if ev.event_type_value == "ASSET_OBSERVATION")}
    assert observed == {tuple(t.split("/")) for t in TABLES}
    ledger = pl.from_arrow(wh.read_arrow(META_OPERATIONS)).filter(pl.col("command") == "maintain")
    assert sorted(ledger.get_column("table").to_list()) == sorted(results)

    again = {r.table: r for r in _run_job({"tables": list(SILVER_STATS)}).output_for_node(MAINTENANCE_OP)}
    assert all(r.files_compacted == 0 and r.after.version == r.before.version for r in again.values())


def test_time_travel_across_a_compaction_reads_the_same_rows(wh):
    tables = [*SILVER_STATS, "gold/team_game_features"]
    old_versions = {t: wh.version(t) for t in tables}
    before = _digests(wh, tables)
    for table in tables:
        r = mt.maintain_table(wh, table)  # vacuum included: the replaced files are inside the retention window
        assert r.files_compacted > 1 and r.files_vacuumed == 0
    for table in tables:
        assert mt.content_digest(wh, table, version=old_versions[table]) == before[table]
        assert mt.content_digest(wh, table) == before[table]


def test_partition_range_compacts_only_its_partitions(tmp_path):
    wh = Warehouse(str(tmp_path / "warehouse"), create_missing=True)
    schema = pa.schema([("gameDate", pa.date32()), ("gameId", pa.int64()), ("season", pa.int32())])
    wh.create_table("bronze/t", schema, ["gameDate"])
    wh.create_table("silver/t", schema, ["season"])
    days = [date(2024, 4, 14), date(2024, 4, 15), date(2024, 10, 8), date(2024, 10, 9)]
    for i, day in enumerate(days * 3):  # three files per date partition, six per season
        row = pa.Table.from_pylist([{"gameDate": day, "gameId": i, "season": 20232024 if day.month == 4 else 20242025}],
                                   schema=schema)
        wh.append("bronze/t", row)
        wh.append("silver/t", row)
    before = _digests(wh, ["bronze/t", "silver/t"])

    r = mt.maintain_table(wh, "bronze/t", start=date(2024, 4, 15), end=date(2024, 10, 8))
    assert (r.scope, r.files_compacted, r.files_written) == ("gameDate 2024-04-15..2024-10-08", 6, 2)
    files = pl.from_arrow(pa.table(wh.open("bronze/t").get_add_actions(flatten=True)))
    assert dict(files.group_by("partition.gameDate").len().iter_rows()) == {
        days[0]: 3, days[1]: 1, days[2]: 1, days[3]: 3}

    r = mt.maintain_table(wh, "silver/t", start=date(2024, 10, 1))  # open end: the 2024-25 season only
    assert (r.scope, r.files_compacted, r.files_written) == ("season 20242025..", 6, 1)
    assert r.after.files == 6 + 1
    assert _digests(wh, ["bronze/t", "silver/t"]) == before


# ----------------------------------------------------------------------------------------------------
# the guards: retention, dry run
# ----------------------------------------------------------------------------------------------------


def test_vacuum_inside_the_retention_window_is_refused_before_anything_changes(wh):
    versions = {t: wh.version(t) for t in TABLES}
    for hours in (2, 48):  # under the floor; under the tables' own deleted-file retention (7 days)
        with pytest.raises(RetentionTooShort):
            mt.maintain_table(wh, "silver/player_game_stats", retention_hours=hours)
        result = _run_job({"retention_hours": hours})
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        assert failure.step_failure_data.error.cause.cls_name == "RetentionTooShort"
    assert {t: wh.version(t) for t in TABLES} == versions
    assert mt.measure(wh, "silver/player_game_stats").files == len(HISTORY)
    assert not wh.exists(META_OPERATIONS)  # nothing recorded: nothing happened


def test_dry_run_reports_and_changes_nothing(wh):
    table = "silver/team_game_stats"
    before = mt.measure(wh, table)
    r = mt.maintain_table(wh, table, dry_run=True)
    assert r.dry_run and r.files_compacted == len(HISTORY) and r.files_written == 0 and r.partitions_compacted == 1
    assert mt.measure(wh, table) == before
    result = _run_job({"tables": [table], "dry_run": True})
    assert result.success and result.output_for_node(MAINTENANCE_OP)[0].files_compacted == len(HISTORY)
    assert mt.measure(wh, table) == before and not wh.exists(META_OPERATIONS)


# ----------------------------------------------------------------------------------------------------
# concurrency: maintenance and a partition write
# ----------------------------------------------------------------------------------------------------

SCHEMA = pa.schema([("gameDate", pa.date32()), ("gameId", pa.int64()), ("season", pa.int32()),
                    ("value", pa.string())])
START = date(2023, 10, 10)


def _day_rows(day: date, tag: str) -> pa.Table:
    n = (day - START).days
    return pa.Table.from_pylist([{"gameDate": day, "gameId": n * 10 + k, "season": 20232024, "value": f"{tag}{k}"}
                                 for k in range(3)], schema=SCHEMA)


def _daily_table(tmp_path, days: int) -> Warehouse:
    wh = Warehouse(str(tmp_path / "warehouse"), create_missing=True)
    wh.create_table("silver/t", SCHEMA, ["season"])
    for i in range(days):
        day = START + timedelta(days=i)
        wh.replace_window("silver/t", _day_rows(day, "v1-"), DateWindow(day, day), partition_by=["season"])
    return wh


def _rows(wh: Warehouse) -> list[tuple]:
    return sorted(tuple(r.values()) for r in wh.read_arrow("silver/t").to_pylist())


def _expected(days: int, rewritten: set[int]) -> list[tuple]:
    return sorted(tuple(r.values()) for i in range(days)
                  for r in _day_rows(START + timedelta(days=i), "v2-" if i in rewritten else "v1-").to_pylist())


def _interleave(wh: Warehouse, action) -> dict[str, int]:
    """Make `wh.open` run `action` (another writer's commit) right after the first table it opens: whatever
    `wh` then commits was planned on a version that is no longer the newest."""
    real_open, calls = wh.open, {"n": 0}

    def open_then_race(table, version=None):
        dt = real_open(table, version)
        calls["n"] += 1
        if calls["n"] == 1:
            action()
        return dt

    wh.open = open_then_race
    return calls


def test_compaction_that_loses_the_race_to_a_write_is_planned_again(tmp_path):
    wh = _daily_table(tmp_path, 10)
    writer = Warehouse(wh.root)

    def rewrite(i: int) -> None:
        day = START + timedelta(days=i)
        writer.replace_window("silver/t", _day_rows(day, "v2-"), DateWindow(day, day), partition_by=["season"])

    stale = writer.open("silver/t")
    rewrite(3)
    with pytest.raises(CommitFailedError):  # what delta-rs tells a compaction planned before the write
        stale.optimize.compact()
    calls = _interleave(wh, lambda: rewrite(4))
    v_before = writer.version("silver/t")
    metrics = mt.compact(wh, "silver/t", None, 32 * mt.MIB)
    assert calls["n"] == 2  # planned, lost to the write, planned again on the write's version
    assert metrics["numFilesAdded"] == 1 and writer.version("silver/t") == v_before + 2
    assert _rows(writer) == _expected(10, {3, 4})


def test_write_that_loses_the_race_to_a_compaction_is_retried(tmp_path):
    wh = _daily_table(tmp_path, 10)
    other = Warehouse(wh.root)
    calls = _interleave(wh, lambda: mt.compact(other, "silver/t", None, 32 * mt.MIB))
    day = START + timedelta(days=2)
    wh.replace_window("silver/t", _day_rows(day, "v2-"), DateWindow(day, day), partition_by=["season"])
    assert calls["n"] == 2  # the write's first attempt lost to the compaction; its retry landed
    assert [h["nhl_operation"] for h in other.history("silver/t", 2)] == ["replace_window", "maintenance_compact"]
    assert _rows(other) == _expected(10, {2})


def _beside_maintenance(wh: Warehouse, writes: list[tuple[int, int, str]]) -> int:
    """Replace each (first day, last day, tag) window of `writes` in order, in one thread, while another
    runs maintenance over and over (at least once, then until the writes are done); the maintenance runs.
    Threads: delta-rs releases the GIL while it writes and compacts. The first error of either is raised."""
    done = threading.Event()
    errors: list[BaseException] = []
    runs = 0

    def write() -> None:
        writer = Warehouse(wh.root)
        try:
            for first, last, tag in writes:
                data = pa.concat_tables([_day_rows(START + timedelta(days=i), tag) for i in range(first, last + 1)])
                writer.replace_window("silver/t", data, DateWindow(START + timedelta(days=first),
                                                                   START + timedelta(days=last)),
                                      partition_by=["season"])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    def maintain() -> None:
        nonlocal runs
        maintainer = Warehouse(wh.root)
        try:
            while True:
                mt.maintain_table(maintainer, "silver/t")
                runs += 1
                if done.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write), threading.Thread(target=maintain)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "a writer or the maintenance did not finish"
    return runs


def test_maintenance_concurrent_with_partition_writes_loses_and_duplicates_nothing(tmp_path):
    """A writer lands new days, then rewrites every old one (whose files the compactions are merging) while
    maintenance runs over and over. Each side losing a race is forced in the two tests above; here whatever
    interleaving happens, every write lands once and nothing is lost or duplicated."""
    days, new_days = 12, 12
    wh = _daily_table(tmp_path, days)
    rewritten = set(range(days))
    writes = [(i, i, "v2-" if i in rewritten else "v1-") for i in [*range(days, days + new_days), *sorted(rewritten)]]
    assert _beside_maintenance(wh, writes) >= 1
    assert _rows(wh) == _expected(days + new_days, rewritten)  # every row once, the latest values
    ops = [h["nhl_operation"] for h in wh.history("silver/t")]
    assert ops.count("replace_window") == days + new_days + len(rewritten)  # every write landed
    final = mt.maintain_table(wh, "silver/t")
    assert final.after.files == 1 and _rows(wh) == _expected(days + new_days, rewritten)


def test_maintenance_concurrent_with_window_splits_loses_and_duplicates_nothing(tmp_path):
    """The same with windows that cover most of a compacted file, so that the writer splits files
    (`whole_files.split`, a `dataChange = false` commit, like a compaction's) while compactions run: delta-rs
    does not set those two against each other, the table's writer lock does (`storage.writer_lock`)."""
    days = 24
    wh = _daily_table(tmp_path, days)
    mt.compact(wh, "silver/t", None, 32 * mt.MIB)  # one file of 24 days: the first window straddles it
    windows = [(8 * (k % 2), 8 * (k % 2) + 15, f"w{k}-") for k in range(16)]  # 16 of 24 days: each splits
    _beside_maintenance(wh, windows)
    expected = {i: "v1-" for i in range(days)}
    for first, last, tag in windows:
        expected.update({i: tag for i in range(first, last + 1)})
    want = sorted(tuple(r.values()) for i, tag in expected.items()
                  for r in _day_rows(START + timedelta(days=i), tag).to_pylist())
    assert _rows(wh) == want  # every row once, the latest values
    ops = [h["nhl_operation"] for h in wh.history("silver/t")]
    assert ops.count("replace_window") == days + len(windows) and "split_window" in ops


# ----------------------------------------------------------------------------------------------------
# wiring: job, schedule, queue tags, CLI
# ----------------------------------------------------------------------------------------------------


def test_job_schedule_and_queue_tags():
    from nhl_assets.definitions import build_definitions

    defs = build_definitions()
    job = defs.resolve_job_def(MAINTENANCE_JOB)
    deploy = yaml.safe_load((REPO / "nhl_assets" / "deploy" / "dagster.yaml").read_text())
    limited = {limit["key"] for limit in deploy["run_coordinator"]["config"]["tag_concurrency_limits"]}
    assert limited and limited <= set(job.tags)  # the queue holds it back while any layer's writer runs
    schedule = defs.resolve_schedule_def("nhl_weekly_maintenance")
    assert (schedule.job_name, schedule.cron_schedule, schedule.execution_timezone) == (
        MAINTENANCE_JOB, "0 4 * * 1", "America/New_York")


def test_cli_maintain(wh, tmp_path, monkeypatch, capsys):
    from nhl_assets.cli import main
    from nhl_assets.ops.maintain import target_size_mb

    assert [target_size_mb(s) for s in ("64", "64MiB", "100MB", "1GiB", "10kb")] == [64, 64, 95, 1024, 1]
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    table = "silver/schedule"
    before = mt.content_digest(wh, table)
    with pytest.raises(SystemExit) as exit_:
        main(["maintain", "--tables", table, "--start", "2023-10-01", "--end", "2023-10-31", "--target-size", "8MiB",
              "--no-vacuum", "--warehouse", wh.root])
    out = capsys.readouterr().out
    assert exit_.value.code == 0, out
    assert f"{len(HISTORY)} → 1" in out and "season 20232024..20232024" in out and "succeeded" in out
    assert mt.content_digest(wh, table) == before and mt.measure(wh, table).files == 1
    assert DagsterInstance.get().get_runs_count() == 1  # recorded in the instance like a scheduled run
    with pytest.raises(SystemExit) as exit_:
        main(["maintain", "--retention-hours", "2", "--warehouse", wh.root])
    assert exit_.value.code == 1 and "RetentionTooShort" in capsys.readouterr().out
