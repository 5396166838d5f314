"""The code location loads, exposes the public asset keys, and the partitions follow NHL_START_DATE."""

import os
import subprocess
import sys

import pytest
from dagster import AssetKey, DailyPartitionsDefinition

from nhl_assets.bronze.tables import BRONZE_TABLES
from nhl_assets.dates import DateWindow, season_of
from nhl_assets.partitions import game_date_partitions

from .helpers import REPO


def test_definitions_expose_table_keys():
    from nhl_assets.definitions import PARTITIONED_JOB, REFRESH_JOB, build_definitions

    defs = build_definitions()
    keys = set(defs.resolve_all_asset_keys())
    for table in BRONZE_TABLES:
        assert AssetKey(table.split("/")) in keys
    assert AssetKey(["gold", "upcoming_schedule"]) in keys
    for table in ("silver/player_game_stats", "gold/skater_season_stats", "gold/player_game_features",
                  "gold/team_game_features", "gold/sog_model", "gold/sog_predictions"):
        assert AssetKey(table.split("/")) in keys
    predictions = defs.resolve_assets_def(AssetKey(["gold", "sog_predictions"]))
    assert predictions.partitions_def.end_offset == 8  # the upcoming week exists as partitions
    assert defs.resolve_assets_def(AssetKey(["gold", "sog_model"])).partitions_def is None
    assert defs.resolve_job_def(PARTITIONED_JOB) is not None
    assert defs.resolve_job_def(REFRESH_JOB) is not None
    bronze = defs.resolve_assets_def(AssetKey(["bronze", "boxscore"]))
    assert isinstance(bronze.partitions_def, DailyPartitionsDefinition)
    assert bronze.partitions_def.timezone == "America/New_York"
    assert bronze.backfill_policy is not None and bronze.backfill_policy.max_partitions_per_run is None
    upcoming = defs.resolve_assets_def(AssetKey(["gold", "upcoming_schedule"]))
    assert upcoming.partitions_def is None  # refreshed whole


def test_both_model_jobs_take_the_forced_retrain_config():
    from dagster import validate_run_config

    from nhl_assets.definitions import MODEL_JOB, XG_MODEL_JOB, build_definitions
    from nhl_assets.ops.launch import model_run_config

    defs = build_definitions()
    for job, op in ((MODEL_JOB, "gold__sog_model"), (XG_MODEL_JOB, "gold__xg_model")):
        config = model_run_config(defs, job, retrain=True)
        assert config["ops"] == {op: {"config": {"retrain": True}}}
        assert validate_run_config(defs.resolve_job_def(job), config)["ops"][op]["config"] == {"retrain": True}
        assert "ops" not in model_run_config(defs, job, retrain=False)


@pytest.mark.unit
def test_start_date_from_environment(monkeypatch):
    monkeypatch.setenv("NHL_START_DATE", "2024-10-01")
    keys = game_date_partitions().get_partition_keys()
    assert keys[0] == "2024-10-01"
    monkeypatch.setenv("NHL_START_DATE", "10/01/2024")
    try:
        game_date_partitions()
    except ValueError as exc:
        assert "NHL_START_DATE" in str(exc)
    else:
        raise AssertionError("a malformed NHL_START_DATE must be refused")


@pytest.mark.unit
def test_date_window_helpers():
    w = DateWindow.of("2023-10-30", "2023-11-02")
    assert len(w) == 4 and [str(c) for c in w.chunks(3)] == ["2023-10-30...2023-11-01", "2023-11-02"]
    assert season_of(w.start) == 20232024 and season_of(DateWindow.of("2024-06-20").start) == 20232024
    assert season_of(DateWindow.of("2024-07-01").start) == 20242025


def test_dagster_cli_loads_the_code_location():
    """What `dagster dev` / `dagster asset materialize -m nhl_assets.definitions` load."""
    out = subprocess.run([sys.executable, "-m", "dagster", "asset", "list", "-m", "nhl_assets.definitions"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "bronze/boxscore" in out.stdout and "gold/upcoming_schedule" in out.stdout


def test_loading_the_definitions_imports_no_model_or_http_library():
    """Every run and `dagster` command loads the definitions; scikit-learn and SciPy (1.25 s to import) are
    imported by the model steps that use them, and the NHL API client's HTTP libraries (126 ms under
    `-X importtime`, rich among them through httpx) where a source is opened, not then."""
    code = ("import sys, nhl_assets.definitions as d; d.build_definitions(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'matplotlib', "
            "'httpx', 'nhlpy', 'pyrate_limiter', 'rich'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_loading_the_definitions_and_opening_the_warehouse_leave_pandas_and_spark_out(tmp_path):
    """dagster-deltalake's storage config classes are loaded without its package (whose I/O manager brings
    pyarrow.dataset and, through it, pandas: 0.26 s of every command and run), and the migration ledger is
    read without Arrow's datetime conversion (which imports pandas too) when a run opens the warehouse.
    dagster-pyspark, pyspark and dagster-spark (0.085 s) wait for the Spark engine's first session."""
    from nhl_assets.resources import WarehouseResource

    root = str(tmp_path / "wh")
    WarehouseResource(root=root).get()  # bootstrapped here: every migration recorded in the ledger
    code = ("import sys, nhl_assets.definitions as d; d.build_definitions(); "
            "from nhl_assets.resources import WarehouseResource; "
            "from nhl_assets.storage.migrations import ledger; "
            f"assert len(ledger(WarehouseResource(root={root!r}).get())) > 0; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'pyspark', 'py4j', 'dagster_pyspark', "
            "'dagster_spark'}), 'dagster_deltalake' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[] False"


@pytest.mark.parametrize("package_first", [False, True])
def test_the_warehouse_storage_config_classes_are_dagster_deltalakes_own(package_first):
    """One class per name, whichever of the package and the definitions is imported first; a storage config
    of each kind validates as the package's documented classes do."""
    code = ("import sys\n"
            + ("import dagster_deltalake\n" if package_first else "")
            + "from nhl_assets import resources as r\n"
              "import dagster_deltalake as dd\n"
              "assert all(getattr(r, n) is getattr(dd, n) for n in ('LocalConfig', 'S3Config', 'AzureConfig', "
              "'GcsConfig'))\n"
              "w = r.WarehouseResource(root='s3://b/wh', storage=dd.S3Config(bucket='b', region='eu-west-1'))\n"
              "print(w.storage.str_dict()['provider'], type(r.WarehouseResource().storage).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "s3 LocalConfig"


def test_loading_the_definitions_freezes_what_the_import_made():
    """The objects of the code location's import (Dagster, the libraries, the definitions) are frozen, so
    that neither the runs' garbage collections nor Python's finalization at every exit walk them again; what
    the process makes afterwards is collected as usual."""
    code = ("import gc, nhl_assets.definitions; frozen, live = gc.get_freeze_count(), len(gc.get_objects()); "
            "gc.collect(); [[] for _ in range(3)]; cycle = []; cycle.append(cycle); del cycle; "
            "print(frozen, live, gc.collect())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr[-2000:]
    frozen, live, collected = map(int, out.stdout.split())
    assert frozen > 100_000 and live < frozen // 10, (frozen, live)
    assert collected >= 1  # a cycle made after the import is still garbage-collected


def test_the_definitions_load_without_a_garbage_collection_and_leave_the_collector_on():
    """The code location's import and build run with the collector off (what they make is kept for good
    anyway); it is back on afterwards, and after an import that raises (a malformed NHL_START_DATE)."""
    code = ("import gc, dagster; starts = []; "
            "gc.callbacks.append(lambda phase, info: starts.append(info['generation']) if phase == 'start' else None); "
            "import nhl_assets.definitions; print(len(starts), gc.isenabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["0", "True"]
    code = ("import gc\ntry:\n    import nhl_assets.definitions\nexcept Exception as exc:\n"
            "    print(type(exc).__name__, gc.isenabled())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(REPO),
                         env={**os.environ, "NHL_START_DATE": "10/01/2024"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "True", out.stdout


def test_preload_imports_the_model_library_once_in_a_thread():
    """`preload` (called as a backfill with gold starts) imports scikit-learn beside the caller, once."""
    code = ("import sys, threading; from nhl_assets.transform import threads as t; t.preload(); first = t._preloading; "
            "t.preload(); assert t._preloading is first and first is not threading.current_thread(); "
            "first.join(120); print('sklearn.ensemble' in sys.modules, first.is_alive())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=str(REPO))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "True False"


def test_workspace_yaml_validates():
    """`dagster dev` in the repo root loads workspace.yaml -> nhl_assets.definitions."""
    out = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
                         capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Validation successful for code location nhl_assets" in out.stdout + out.stderr


def test_every_job_tags_exactly_the_tables_it_writes_and_the_queue_limits_each():
    """The production queue (deploy/dagster.yaml) allows one running writer per table: each asset job must
    carry the tag of every table its assets write, and nothing else."""
    from pathlib import Path

    import yaml

    from nhl_assets.catalog import TABLES, WRITES_TAG_PREFIX, writes_tag
    from nhl_assets.definitions import build_definitions

    deploy = yaml.safe_load((Path(__file__).resolve().parents[1] / "nhl_assets/deploy/dagster.yaml").read_text())
    limited = {d["key"]: d["limit"] for d in deploy["run_coordinator"]["config"]["tag_concurrency_limits"]}
    assert limited == {writes_tag(t): 1 for t in TABLES}
    defs = build_definitions()
    repo = defs.get_repository_def()
    checked = 0
    for job in repo.get_all_jobs():
        if job.name.startswith("__") or job.asset_layer is None:
            continue
        written = {"/".join(k.path) for k in job.asset_layer.executable_asset_keys} & set(TABLES)
        if not written:
            continue
        tags = {k for k in job.tags if k.startswith(WRITES_TAG_PREFIX)}
        assert tags == {writes_tag(t) for t in written}, job.name
        checked += 1
    assert checked >= 7
    maintenance = defs.resolve_job_def("nhl_maintenance")
    assert {k for k in maintenance.tags if k.startswith(WRITES_TAG_PREFIX)} == set(limited)
