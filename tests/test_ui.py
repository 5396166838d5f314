"""The Dagster UI people work in: `dagster dev` on 127.0.0.1, a partition backfill launched through its
GraphQL API and run by its daemon, and the asset graph and a partition page rendered in headless Chromium.

These start real servers, so they are marked slow; the browser test needs Debian's chromium (`.ci/run`
installs it; elsewhere it is skipped, saying so).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nhl_assets import catalog
from nhl_assets.ops.instance import write_instance_config

from .helpers import REPO, free_port

pytestmark = pytest.mark.slow
DAYS = ["2023-11-04", "2023-11-05"]
#: every bronze and silver table (the silver multi-asset cannot be subset: all of its tables or none)
ASSETS = [list(t.asset_key_path) for t in catalog.TABLES.values() if t.layer in ("bronze", "silver")]


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
        return r.read()


def graphql(base: str, query: str, variables: dict | None = None) -> dict:
    req = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query, "variables": variables or {}})
                                 .encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - loopback only
        out = json.loads(r.read())
    assert "errors" not in out, out
    return out["data"]


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory, league):
    from nhl_assets.simulator.cli import start_loopback

    tmp = tmp_path_factory.mktemp("ui")
    server = start_loopback("sim", league=league)
    port = free_port()
    home = tmp / "dagster_home"
    write_instance_config(home)  # the instance `make dev` gets: the project's batching event log
    env = {**os.environ, "DAGSTER_HOME": str(home), "NHL_WAREHOUSE": str(tmp / "warehouse"),
           "NHL_API_WEB_URL": server.web_url, "NHL_API_STATS_URL": server.stats_url}
    dagster = str(Path(sys.executable).with_name("dagster"))
    log = open(tmp / "dagster_dev.log", "w")
    proc = subprocess.Popen([dagster, "dev", "-m", "nhl_assets.definitions", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=str(REPO), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                _get(f"{base}/server_info")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("dagster dev did not start:\n" + (tmp / "dagster_dev.log").read_text()[-3000:])
                time.sleep(1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        server.stop()
        log.close()


LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""
STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { status } }
}"""


@pytest.fixture(scope="module")
def backfill(dagster_dev) -> dict:
    """A backfill of two game dates of bronze and silver, launched like the UI does, run by the daemon."""
    launched = graphql(dagster_dev, LAUNCH, {"params": {
        "assetSelection": [{"path": p} for p in ASSETS], "partitionNames": DAYS, "fromFailure": False}})
    result = launched["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    started, deadline, status = time.monotonic(), time.monotonic() + 300, None
    while time.monotonic() < deadline:
        status = graphql(dagster_dev, STATUS, {"id": result["backfillId"]})["partitionBackfillOrError"]["status"]
        if status != "REQUESTED":
            break
        time.sleep(2)
    return {"id": result["backfillId"], "status": status, "seconds": time.monotonic() - started}


def test_a_partition_backfill_launched_through_graphql_succeeds(dagster_dev, backfill):
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), backfill
    counts = graphql(dagster_dev, """
        query { assetNodes(assetKeys: [{path: ["silver", "player_game_stats"]}]) {
          partitionStats { numMaterialized numFailed numMaterializing numPartitions } } }"""
                     )["assetNodes"][0]["partitionStats"]
    assert counts["numMaterialized"] == len(DAYS) and counts["numFailed"] == counts["numMaterializing"] == 0, counts


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _render(url: str, tmp_path: Path) -> str:
    """The page's visible text after its JavaScript ran (headless Chromium, as the probe runs it)."""
    import html
    import re

    browser = _chromium()
    out = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'chrome'}", "--virtual-time-budget=20000",
                          "--window-size=1400,1000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", out.stdout, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)))


def _render_showing(url: str, tmp_path: Path, *needles: str, attempts: int = 3) -> str:
    """The rendered page once it shows every needle (the UI fills a page by GraphQL after it loads, and on a
    loaded machine a render can stop before the answer arrived), rendering again up to `attempts` times."""
    text = ""
    for _ in range(attempts):
        text = _render(url, tmp_path)
        if all(n in text for n in needles):
            break
    return text


def test_the_asset_graph_and_a_partition_page_render_in_chromium(dagster_dev, backfill, tmp_path):
    if _chromium() is None:
        pytest.skip("no chromium found (Debian package `chromium`; .ci/run installs it)")
    layers = {layer: sum(t.layer == layer for t in catalog.TABLES.values()) for layer in ("bronze", "silver", "gold")}
    groups = [f"{layer} {n}" for layer, n in layers.items()]  # the three layers, with their asset counts
    graph = _render_showing(f"{dagster_dev}/asset-groups/bronze", tmp_path, "Global asset lineage", groups[-1])
    assert "Global asset lineage" in graph
    for group in groups:
        assert group in graph, group
    listing = _render_showing(f"{dagster_dev}/assets", tmp_path, "bronze / play_by_play", "Recomputed whole")
    assert "bronze / play_by_play" in listing and "silver / player_game_stats" in listing
    assert "Accumulates partition by partition" in listing and "Recomputed whole" in listing
    page = _render_showing(f"{dagster_dev}/assets/silver/player_game_stats?view=partitions", tmp_path,
                           "Materialized (2)")
    assert "Materialized (2)" in page, page[:1500]  # the two backfilled game dates
    checks = _render_showing(f"{dagster_dev}/assets/silver/player_game_stats?view=checks", tmp_path,
                             "boxscore_reconciliation")
    assert "boxscore_reconciliation" in checks and "unique_key" in checks
