"""The instance of the command line, `make dev` and `make demo` (`nhl_assets.ops.instance`).

Its dagster.yaml sets the console logger of a run started without logger config (what `dagster asset
materialize` and runs launched by the daemon or the UI start) to INFO: Dagster's events, one
materialization per partition and asset of a range run, are stored but no longer printed one line each,
while what an asset logs at INFO and every failure still are.
"""

from pathlib import Path

import dagster as dg
import pytest

from nhl_assets.ops import instance as oi

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-11")  # 10 dates


@dg.asset(partitions_def=PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run())
def ranged(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.log.info(f"ranged: {context.partition_key_range.start}..{context.partition_key_range.end}")
    if context.partition_key_range.end >= "2024-01-09":
        raise ValueError("ranged: a range reaching 2024-01-09 fails")
    return dg.MaterializeResult(metadata={"rows": 1})


def _without_compute_log_capture(home: Path) -> None:
    """Dagster's own compute logs mirror a step's output to the console through a `tail` process, which may
    print it after the run returned: the stock instance's test reads the console with no capture in between
    (the project's instance mirrors from a thread, done when the run returns: tests/test_compute_logs.py)."""
    with (home / "dagster.yaml").open("a") as config:
        config.write("compute_logs:\n  module: dagster._core.storage.noop_compute_log_manager\n"
                     "  class: NoOpComputeLogManager\n")


def _run(home: Path, last: str) -> bool:
    """Materialize `ranged` over 2024-01-01..`last` as one run without logger config; whether it succeeded."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize([ranged], instance=instance, raise_on_error=False,
                                tags={"dagster/asset_partition_range_start": "2024-01-01",
                                      "dagster/asset_partition_range_end": last})
        stored = instance.fetch_materializations(ranged.key, limit=1000).records
        assert len([r for r in stored if r.run_id == result.run_id]) == (int(last[-2:]) if result.success else 0)
        return result.success


@pytest.mark.parametrize("batching", [True, False])
def test_a_range_runs_events_are_stored_but_not_printed_one_line_each(tmp_path, capfd, batching):
    oi.write_instance_config(tmp_path, batching=batching)
    capfd.readouterr()

    assert _run(tmp_path, "2024-01-05")
    out = capfd.readouterr()
    console = out.out + out.err
    assert "ranged: 2024-01-01..2024-01-05" in console  # what the asset logs at INFO
    assert "ASSET_MATERIALIZATION" not in console and "STEP_START" not in console  # Dagster's DEBUG events

    assert not _run(tmp_path, "2024-01-09")
    out = capfd.readouterr()
    console = out.out + out.err
    assert "STEP_FAILURE" in console and "a range reaching 2024-01-09 fails" in console  # failures: ERROR


def test_stock_dagster_prints_every_event(tmp_path, capfd):
    """The same run on an instance without the setting (Dagster's DEBUG default) prints its events: what
    the setting saves."""
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    _without_compute_log_capture(tmp_path)
    assert _run(tmp_path, "2024-01-05")
    out = capfd.readouterr()
    assert (out.out + out.err).count("ASSET_MATERIALIZATION") == 5


def test_a_dagster_yaml_this_module_wrote_before_is_brought_up_to_date(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    config = tmp_path / "dagster.yaml"
    for earlier in sorted(oi._written_before(tmp_path)):
        config.write_text(earlier)
        oi.ensure_dagster_home()
        assert config.read_text() == oi.instance_yaml(tmp_path)
        assert "python_log_level: INFO" in config.read_text()


def test_a_dagster_yaml_someone_wrote_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    mine = "telemetry:\n  enabled: false\npython_logs:\n  python_log_level: DEBUG\n"
    (tmp_path / "dagster.yaml").write_text(mine)
    oi.ensure_dagster_home()
    assert (tmp_path / "dagster.yaml").read_text() == mine
