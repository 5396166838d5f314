"""The `unit` marker is kept honest: a test carrying it cannot reach a socket, a subprocess, a Dagster
instance or a Delta table (the guard in conftest.py)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pyarrow as pa
import pytest
from dagster import DagsterInstance

from nhl_assets.dates import DateWindow
from nhl_assets.storage.delta import Warehouse

pytestmark = pytest.mark.unit


def test_a_unit_test_cannot_open_a_socket_start_a_process_a_run_or_touch_delta(tmp_path):
    refused = pytest.fail.Exception
    with socket.socket() as sock, pytest.raises(refused, match="must not open or bind a socket"):
        sock.bind(("127.0.0.1", 0))
    with pytest.raises(refused, match="must not start a subprocess"):
        subprocess.run([sys.executable, "-c", "pass"])
    with pytest.raises(refused, match="must not create a Dagster instance"):
        DagsterInstance.ephemeral()
    wh = Warehouse(str(tmp_path / "wh"), create_missing=True)
    with pytest.raises(refused, match="must not open a Delta table"):
        wh.exists("bronze/games")
    with pytest.raises(refused, match="must not .* a Delta table"):
        wh.replace_window("bronze/t", pa.table({"gameDate": pa.array([], pa.date32())}), DateWindow.of("2023-10-01"),
                          partition_by=["gameDate"])
