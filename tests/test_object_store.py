"""NHL_WAREHOUSE on object storage: an S3-compatible server on loopback (moto), credentials and endpoint
from the standard AWS_* environment variables, the whole bronze → silver path and the operations on it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import polars as pl
import pytest
from dagster import DagsterInstance

from nhl_assets.dates import DateWindow
from nhl_assets.definitions import build_definitions
from nhl_assets.storage import migrations as mg
from nhl_assets.ops.verify import failed, verify
from nhl_assets.runs import materialize_window
from nhl_assets.storage.delta import Warehouse

from .helpers import FAST_API, point_api_at

pytestmark = pytest.mark.slow
BUCKET = "nhl-warehouse"


@pytest.fixture
def s3(monkeypatch):
    """moto's S3 server in its own process on loopback (in-process it shares the GIL with the writers)."""
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1", "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                              aws_secret_access_key="test")
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield f"s3://{BUCKET}/nhl"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_pipeline_runs_on_an_s3_warehouse(s3, sim_server, monkeypatch):
    point_api_at(monkeypatch, sim_server)
    monkeypatch.setenv("NHL_WAREHOUSE", s3)
    window = DateWindow.of("2023-11-04", "2023-11-05")
    defs = build_definitions()
    for _ in range(2):  # idempotent on object storage too
        assert materialize_window(defs, window, DagsterInstance.ephemeral(), run_config=FAST_API).success
    wh = Warehouse(s3)  # storage options from the environment, like the assets
    games = pl.from_arrow(wh.read_arrow("bronze/games"))
    players = pl.from_arrow(wh.read_arrow("silver/player_game_stats"))
    assert games.height == 16 and players.get_column("gameId").n_unique() == 16
    assert players.select("gameId", "playerId", "situation").is_unique().all()
    assert [s.status for s in mg.states(wh)] == ["applied"] * len(mg.load_migrations())
    assert not failed(verify(wh))
    history = wh.history("silver/player_game_stats")
    assert [h["nhl_operation"] for h in history[:2]] == ["replace_window", "replace_window"]
    restored = wh.restore("silver/player_game_stats", history[1]["version"], reason="s3 test")
    assert restored["rows"] == players.height
