"""Data protection: migrations (plan, apply, validation, restore, rollback, checksums), operations (history,
restore, verify, change feed, vacuum floor) and the disaster drills of the replaced pipeline.

Each drill replays a real failure of the Databricks pipeline this project replaces and asserts, with row
counts and content fingerprints, that nothing was lost.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from dagster import DagsterInstance
from deltalake import DeltaTable, write_deltalake

from nhl_assets.bronze import tables as bt
from nhl_assets.catalog import TABLES
from nhl_assets.cli import main as cli_main
from nhl_assets.dates import DateWindow
from nhl_assets.definitions import PARTITIONED_JOB, build_definitions
from nhl_assets.storage import migrations as mg
from nhl_assets.storage.snapshot import fingerprint, snapshot
from nhl_assets.ops.verify import failed, verify
from nhl_assets.runs import materialize_window
from nhl_assets.silver import build as sb
from nhl_assets.storage.delta import RetentionTooShort, TableMissing, Warehouse

from .helpers import FAST_API, REPO, point_api_at

WINDOW = DateWindow.of("2023-11-04", "2023-11-05")
DATA_TABLES = [t for t in TABLES if not TABLES[t].refresh]
SILVER_STATS = [sb.PLAYERS, sb.TEAMS, sb.GOALIES, sb.SCHEDULE]
BACKFILL_TABLES = [t for t in DATA_TABLES if TABLES[t].layer in ("bronze", "silver")]  # what nhl_partitions writes


@pytest.fixture
def env(sim_server, warehouse_env, monkeypatch):
    point_api_at(monkeypatch, sim_server)
    monkeypatch.setenv("COLUMNS", "250")  # rich tables in full width, as in a terminal
    return sim_server


def wh() -> Warehouse:
    return Warehouse(os.environ["NHL_WAREHOUSE"])


def run(window: DateWindow, defs=None, instance=None):
    return materialize_window(defs or build_definitions(), window, instance or DagsterInstance.ephemeral(),
                              job_name=PARTITIONED_JOB, run_config=FAST_API)


def counts(tables=DATA_TABLES) -> dict[str, int]:
    w = wh()
    return {t: w.row_count(t) for t in tables}


def prints(tables=DATA_TABLES) -> dict[str, tuple]:
    w = wh()
    return {t: fingerprint(w, t) for t in tables}


def cli(*argv: str) -> int:
    with pytest.raises(SystemExit) as exc:
        cli_main(list(argv))
    return exc.value.code


def copy_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(REPO / "migrations", folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


# ----------------------------------------------------------------------------------------------------
# migrations
# ----------------------------------------------------------------------------------------------------


def test_a_new_warehouse_is_created_by_the_migrations(env):
    run(WINDOW)
    w = wh()
    assert [s.status for s in mg.states(w)] == ["applied"] * len(mg.load_migrations())
    games = DeltaTable(w.uri(bt.GAMES))
    assert games.metadata().partition_columns == ["gameDate"]
    assert games.metadata().configuration["delta.enableChangeDataFeed"] == "true"
    gid = next(f for f in games.schema().fields if f.name == "gameId")
    assert "NHL game id" in gid.metadata["comment"] and not gid.nullable
    assert games.schema().to_arrow().field("startTimeUTC").type == pa.timestamp("us", tz="UTC")
    assert DeltaTable(w.uri(sb.PLAYERS)).metadata().partition_columns == ["season"]
    assert not failed(verify(w))


def test_asset_writes_never_create_tables(tmp_path):
    w = Warehouse(str(tmp_path / "wh"))
    with pytest.raises(TableMissing, match="migrate apply"):
        w.replace_window(bt.GAMES, pa.table({"gameDate": pa.array([date(2023, 10, 1)])}), DateWindow.of("2023-10-01"))


def test_runs_check_the_migrations_again_only_when_the_ledger_changed(tmp_path, monkeypatch):
    """The check a run makes when it opens the warehouse is skipped while the ledger is the one last checked;
    a warehouse deleted or migrated since, at the same path, is checked again with nothing reset by hand. A
    run bootstraps only a brand-new warehouse; pending migrations of an existing one stop it, naming the
    command that applies them."""
    reads: list[int] = []  # full checks (each reads the ledger's states)
    real_states = mg.states
    monkeypatch.setattr(mg, "states", lambda *a, **kw: reads.append(1) or real_states(*a, **kw))
    w = Warehouse(str(tmp_path / "wh"))
    every = len(mg.load_migrations())
    assert len(mg.ensure_current(w)) == every  # a new warehouse: every migration
    checked = len(reads)
    assert mg.ensure_current(w) == [] and len(reads) == checked  # the same ledger: not read again
    shutil.rmtree(w.root)  # the warehouse deleted under a long-running process
    assert len(mg.ensure_current(w)) == every  # bootstrapped again
    mg.rollback(w, log=lambda _msg: None)  # another process rolls back the last one (create-only)
    with pytest.raises(mg.MigrationsPending, match=r"0006_gold_expected_goals\).*nhl-assets migrate apply"):
        mg.ensure_current(w)  # a run never migrates an existing warehouse
    mg.apply(w, log=lambda _msg: None)  # the command does
    checked = len(reads)
    assert mg.ensure_current(w) == [] and len(reads) == checked + 1  # checked once more, then cached
    assert mg.ensure_current(w) == [] and len(reads) == checked + 1
    assert [s.status for s in mg.states(w)] == ["applied"] * every


def _old_layout(env) -> dict:
    """A warehouse holding data in the layout of before 0002 and 0003 (by their downgrades)."""
    run(WINDOW)
    before = prints()
    assert cli("migrate", "rollback") == 0  # 0006 (expected goals): its downgrade keeps the tables
    assert cli("migrate", "rollback") == 0  # 0005 (silver/shots, written since): its downgrade keeps the rows
    assert cli("migrate", "rollback") == 0  # 0004 (gold tables, untouched since): time travel
    assert cli("migrate", "rollback") == 0  # 0003: tables changed since -> its downgrade
    assert cli("migrate", "rollback") == 0  # 0002
    w = wh()
    assert DeltaTable(w.uri(sb.PLAYERS)).metadata().partition_columns == []
    assert DeltaTable(w.uri(bt.GAMES)).schema().to_arrow().field("startTimeUTC").type == pa.string()
    assert [s.status for s in mg.states(w)] == ["applied", "pending", "pending", "pending", "pending", "pending"]
    return before


def test_plan_and_dry_run_print_the_changes_and_write_nothing(env, capsys):
    _old_layout(env)
    versions = {t: wh().version(t) for t in DATA_TABLES}
    capsys.readouterr()
    assert cli("migrate", "plan") == 0
    out = capsys.readouterr().out
    assert "would: rewrite bronze/games: 16 rows; columns ~startTimeUTC string -> timestamp" in out
    assert "partitioning [] -> ['season']" in out and "silver/player_game_stats" in out
    assert cli("migrate", "apply", "--dry-run") == 0
    assert {t: wh().version(t) for t in DATA_TABLES} == versions
    assert [s.status for s in mg.states(wh())] == ["applied", "pending", "pending", "pending", "pending", "pending"]


def test_apply_converts_old_data_without_losing_a_value(env):
    before = _old_layout(env)
    old_games = pl.from_arrow(wh().read_arrow(bt.GAMES)).sort("gameId")
    assert cli("migrate", "apply") == 0
    w = wh()
    # silver: the same rows, value for value, in season partitions
    assert {t: fingerprint(w, t) for t in DATA_TABLES if t != bt.GAMES} == \
        {t: v for t, v in before.items() if t != bt.GAMES}
    assert DeltaTable(w.uri(sb.PLAYERS)).metadata().partition_columns == ["season"]
    new_games = pl.from_arrow(w.read_arrow(bt.GAMES)).sort("gameId")
    assert new_games.height == old_games.height == 16
    assert new_games.get_column("startTimeUTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_list() == \
        old_games.get_column("startTimeUTC").to_list()
    assert new_games.drop("startTimeUTC").equals(old_games.drop("startTimeUTC"))
    # the blue copy of a rebuilt table stays restorable beside it
    assert fingerprint(w, "_meta/bluegreen/0003/silver__player_game_stats__blue") == before[sb.PLAYERS]
    # and the runs keep working on the new layout (silver rows carry no run ids: identical)
    run(WINDOW)
    assert prints(SILVER_STATS) == {t: before[t] for t in SILVER_STATS}


def test_rollback_without_later_writes_is_exact_time_travel(env):
    _old_layout(env)
    w = wh()
    old = prints(SILVER_STATS)
    assert cli("migrate", "apply") == 0
    assert DeltaTable(w.uri(sb.PLAYERS)).metadata().partition_columns == ["season"]
    assert cli("migrate", "rollback") == 0  # 0006 (expected goals): its downgrade keeps the tables
    assert cli("migrate", "rollback") == 0  # 0005 (silver/shots): its downgrade keeps the table
    assert cli("migrate", "rollback") == 0  # 0004 (gold tables): nothing written since
    assert cli("migrate", "rollback") == 0  # 0003, nothing written since: back to the old versions
    assert DeltaTable(w.uri(sb.PLAYERS)).metadata().partition_columns == []
    assert prints(SILVER_STATS) == old
    last = mg.ledger(w)[-1]
    assert last["status"] == "rolled_back" and last["message"].startswith("restored")
    assert [s.status for s in mg.states(w)] == ["applied", "applied", "pending", "pending", "pending", "pending"]


def test_changed_migration_file_is_refused(env, tmp_path, monkeypatch):
    folder = copy_migrations(tmp_path)
    monkeypatch.setenv("NHL_MIGRATIONS_DIR", str(folder))
    run(WINDOW)
    path = folder / "0002_games_start_time_as_timestamp.py"
    path.write_text(path.read_text() + "\n# edited after it was applied\n")
    with pytest.raises(mg.MigrationError, match="changed since they were applied.*0002"):
        mg.apply(wh())
    assert [s.status for s in mg.states(wh())][1] == "changed"
    assert cli("migrate", "apply") == 1


RECREATE_ALL = '''
"""A careless migration: "converts" every table by re-creating it, losing most rows (the seed's disaster)."""
from nhl_assets.catalog import TABLES
DESCRIPTION = "re-create all bronze and silver tables"
TABLES = [t for t in TABLES if not t.startswith("gold/")]

def upgrade(ctx):
    for t in TABLES:
        data = ctx.read(t)
        ctx.rewrite(t, data.slice(0, min(data.num_rows, 3)))  # what survived the re-create

def validate(ctx):
    return []
'''


def test_drill_2_a_migration_that_recreates_every_table_is_restored(env, tmp_path, monkeypatch, capsys):
    """31,640 rows -> 216 in the replaced system; here validation fails and every table comes back."""
    folder = copy_migrations(tmp_path)
    monkeypatch.setenv("NHL_MIGRATIONS_DIR", str(folder))
    run(WINDOW)
    (folder / "0099_recreate_everything.py").write_text(RECREATE_ALL)  # written after the data landed
    rows_before, content_before = counts(), prints()
    assert sum(rows_before.values()) > 3000
    capsys.readouterr()
    assert cli("migrate", "apply") == 1
    out = capsys.readouterr().out
    assert "failed validation and was rolled back" in out and "rows before" in out
    assert counts() == rows_before
    assert prints() == content_before
    assert mg.ledger(wh())[-1]["status"] == "failed"
    assert [s.status for s in mg.states(wh())][-1] == "pending"
    print(f"drill 2: rows before {sum(rows_before.values())}, after the failed migration {sum(counts().values())}")


# ----------------------------------------------------------------------------------------------------
# operations
# ----------------------------------------------------------------------------------------------------


def test_drill_3_deleted_rows_and_a_bad_latest_version_are_restored_exactly(env, capsys):
    run(WINDOW)
    w = wh()
    table = sb.PLAYERS
    good_version, good = w.version(table), fingerprint(w, table)
    DeltaTable(w.uri(table)).delete()  # a person deletes every row
    assert w.row_count(table) == 0
    assert cli("restore", table, "--version", str(good_version)) == 0  # dry run by default
    assert w.row_count(table) == 0
    capsys.readouterr()
    assert cli("restore", table, "--version", str(good_version), "--yes", "--reason", "drill 3") == 0
    assert "restored" in capsys.readouterr().out
    assert fingerprint(w, table) == good
    last = w.history(table, 1)[0]
    assert last["operation"] == "RESTORE" and last["metadata"]["nhl_assets.replaced_rows"] == "0"
    ops = pl.from_arrow(w.read_arrow("_meta/operations"))
    assert ops.filter(pl.col("table") == table).get_column("command").to_list() == ["restore"]
    # a whole bad latest version (an overwrite with garbage), undone by time
    when = w.history(table, 1)[0]["timestamp"]
    time.sleep(0.05)
    write_deltalake(w.uri(table), w.read_arrow(table).slice(0, 10), mode="overwrite")
    assert cli("restore", table, "--timestamp", when.isoformat(), "--yes") == 0
    assert fingerprint(w, table) == good
    print(f"drill 3: {good[0]} rows before, 0 after the delete, {w.row_count(table)} after restore")


def test_history_cdf_and_verify_from_the_cli(env, capsys):
    run(WINDOW)
    run(DateWindow.of("2023-11-05"))
    capsys.readouterr()
    assert cli("history", bt.GAMES) == 0
    out = capsys.readouterr().out
    assert "replace_window" in out and "2023-11-05" in out and "migration_rewrite" in out
    v = wh().version(bt.GAMES)
    assert cli("cdf", bt.GAMES, "--since-version", str(v)) == 0
    out = capsys.readouterr().out
    assert "delete" in out and "insert" in out
    assert cli("verify") == 0
    DeltaTable(wh().uri(sb.PLAYERS)).delete("gameId = " + str(pl.from_arrow(wh().read_arrow(bt.GAMES))["gameId"][0]))
    capsys.readouterr()
    assert cli("verify") == 1
    assert "silver_players_vs_bronze" in capsys.readouterr().out


def test_vacuum_refuses_retention_below_the_floor_and_defaults_to_a_dry_run(env):
    run(WINDOW)
    w = wh()
    with pytest.raises(RetentionTooShort, match="floor"):
        w.vacuum(bt.GAMES, retention_hours=1, dry_run=False)
    assert cli("vacuum", "--retention-hours", "0") == 1
    assert cli("vacuum") == 0
    for v in range(w.version(bt.GAMES) + 1):  # every version still readable
        w.open(bt.GAMES, version=v).to_pyarrow_table()


# ----------------------------------------------------------------------------------------------------
# drills with real runs
# ----------------------------------------------------------------------------------------------------


def test_drill_1_code_changes_between_runs_touch_only_rematerialized_partitions(env, monkeypatch):
    from nhl_assets.silver import assets as silver_assets

    run(WINDOW)
    day_a, day_b = WINDOW.start, WINDOW.end
    before = pl.from_arrow(wh().read_arrow(sb.PLAYERS))
    versions = wh().history(sb.PLAYERS)
    real = sb.build_window

    def changed_parser(w, window, **kwargs):  # a parse-logic change that also adds a column
        out = real(w, window, **kwargs)
        out.frames[sb.PLAYERS] = out.frames[sb.PLAYERS].with_columns(
            pl.col("I_F_hits") * 0, pl.lit(1, dtype=pl.Int64).alias("drillNewColumn"))
        return out

    monkeypatch.setattr(silver_assets.sb, "build_window", changed_parser)
    changed = silver_assets.silver_game_stats.map_asset_specs(
        lambda s: s.replace_attributes(code_version="drill", description="changed decorator"))
    from dagster import Definitions, define_asset_job

    from nhl_assets.bronze.assets import bronze_nhl_api
    defs = Definitions(assets=[bronze_nhl_api, changed], jobs=[define_asset_job(PARTITIONED_JOB, selection=[bronze_nhl_api, changed])],
                       resources=build_definitions().resources)
    run(DateWindow.of(day_b), defs=defs)
    after = pl.from_arrow(wh().read_arrow(sb.PLAYERS))
    untouched = after.filter(pl.col("gameDate") == day_a)
    assert untouched.get_column("drillNewColumn").is_null().all()
    cols = sorted(before.columns)
    assert untouched.select(cols).sort("gameId", "playerId", "situation").equals(
        before.filter(pl.col("gameDate") == day_a).select(cols).sort("gameId", "playerId", "situation"))
    redone = after.filter(pl.col("gameDate") == day_b)
    assert redone.height == before.filter(pl.col("gameDate") == day_b).height
    assert redone.get_column("drillNewColumn").to_list() == [1] * redone.height
    assert redone.get_column("I_F_hits").sum() == 0
    assert [h["version"] for h in wh().history(sb.PLAYERS)][1:] == [h["version"] for h in versions]
    print(f"drill 1: {before.height} rows before, {after.height} after; {untouched.height} untouched rows identical")


CHILD = """
import os, sys
from dagster import DagsterInstance
from nhl_assets.dates import DateWindow
from nhl_assets.definitions import build_definitions
from nhl_assets.runs import materialize_window
cfg = {"resources": {"nhl_api": {"config": {"backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_attempts": 3,
                                            "rate_per_second": 0, "concurrency": 4}}}}
materialize_window(build_definitions(), DateWindow.of(sys.argv[1], sys.argv[2]), DagsterInstance.ephemeral(),
                   run_config=cfg)
print("done", sys.argv[1], sys.argv[2])
"""


def _child(start: str, end: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, start, end], env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_drill_4_a_killed_backfill_leaves_no_partial_partition_and_a_rerun_completes(env):
    from nhl_assets.simulator.faults import FaultConfig

    window = DateWindow.of("2023-11-01", "2023-11-08")
    mg.ensure_current(wh())
    env.set_faults(FaultConfig(latency_ms=25))
    proc = _child(str(window.start), str(window.end))
    deadline = time.monotonic() + 120
    w = wh()
    while time.monotonic() < deadline and proc.poll() is None:
        if w.row_count(bt.SCHEDULE) > 0:  # the first bronze commit landed: kill mid-run
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the backfill finished before it could be killed"
    after_kill = {t: set(snapshot(w, t).per_date) for t in BACKFILL_TABLES}
    env.set_faults(FaultConfig())
    run(window)
    full = {t: set(snapshot(w, t).per_date) for t in BACKFILL_TABLES}
    for t in BACKFILL_TABLES:
        # one commit per table per run: after the kill a table holds the whole window or none of it
        assert after_kill[t] in (set(), full[t]), t
    assert any(after_kill.values()) and not all(after_kill[t] == full[t] for t in SILVER_STATS)
    assert not failed(verify(w))
    assert all(snapshot(w, t).duplicate_keys in (0, None) for t in BACKFILL_TABLES)
    seen = {t: len(d) for t, d in after_kill.items()}
    print(f"drill 4: after the kill, dates per table {seen}; after the re-run {counts()}")


@pytest.mark.slow
def test_drill_5_two_backfills_of_disjoint_ranges_at_once_both_land(env):
    first, second = DateWindow.of("2023-11-01", "2023-11-04"), DateWindow.of("2023-11-05", "2023-11-08")
    mg.ensure_current(wh())
    procs = [_child(str(first.start), str(first.end)), _child(str(second.start), str(second.end))]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    w = wh()
    for t in BACKFILL_TABLES:
        if TABLES[t].date_column and t != sb.QUARANTINE:
            assert set(snapshot(w, t).per_date) == {str(d) for d in DateWindow.of(first.start, second.end).days()}, t
    assert not failed(verify(w))
    together = counts()
    # the same as one backfill of the union
    for t in BACKFILL_TABLES:
        w.rewrite_table(t, w.read_arrow(t).slice(0, 0))
    run(DateWindow.of(first.start, second.end))
    assert counts() == together
    print(f"drill 5: rows after two concurrent backfills {together}")
