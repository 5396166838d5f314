"""Production instance: the shipped dagster.yaml on a real PostgreSQL server on loopback (Debian's
postgresql, started here), with a backfill and sensor ticks recorded in it."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import datetime, timezone

import pytest

from .helpers import FAST_API, REPO, pg_bin, point_api_at

pytestmark = pytest.mark.slow

DEPLOY_YAML = REPO / "nhl_assets" / "deploy" / "dagster.yaml"




def test_backfill_and_sensor_ticks_on_the_postgres_instance(postgres, sim_server, tmp_path, monkeypatch):
    from dagster import DagsterInstance

    from nhl_assets.dates import DateWindow
    from nhl_assets.resources import AutomationConfig
    from nhl_assets.definitions import build_definitions
    from nhl_assets.ops.backfill import run_backfill
    from nhl_assets.resources import NHLApiResource, WarehouseResource
    from nhl_assets.runs import drive_sensor

    for k, v in postgres.items():
        monkeypatch.setenv(k, v)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("NHL_WAREHOUSE", str(tmp_path / "warehouse"))
    point_api_at(monkeypatch, sim_server)
    sim_server.set_clock(datetime(2023, 11, 7, 9, 0, tzinfo=timezone.utc))
    instance = DagsterInstance.get()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "BatchingPostgresEventLogStorage"  # deploy/event_log.py
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    defs = build_definitions()
    report = run_backfill(DateWindow.of("2023-11-01", "2023-11-04"), {"bronze", "silver"}, chunk_days=2,
                          instance=instance, defs=defs, run_config=FAST_API)
    assert len(report.done) == 2 and not report.failed
    executed = drive_sensor(defs, instance, {"nhl_api": NHLApiResource(rate_per_second=0, max_attempts=2),
                                             "warehouse": WarehouseResource(), "automation": AutomationConfig()},
                            api_config=FAST_API, max_ticks=10).jobs
    assert "nhl_bronze" in executed and "nhl_silver_replay" in executed
    # what the instance holds is in PostgreSQL, seen from psql too
    psql = pg_bin("psql")
    if psql:
        out = subprocess.run([psql, "-h", "127.0.0.1", "-p", postgres["DAGSTER_PG_PORT"], "-U", "dagster", "-d",
                              "postgres", "-tAc", "select count(*) from runs"], capture_output=True, text=True)
        assert int(out.stdout.strip()) == len(instance.get_runs()) >= 2 + len(executed)
    # a queued submission carries the per-table concurrency tags the queue limits on
    run = instance.get_runs(limit=1)[0]
    assert any(k.startswith("nhl/writes.") for k in run.tags)
    instance.dispose()
    time.sleep(0.1)
