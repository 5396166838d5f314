"""The loopback NHL API: real paths and query strings, byte-exact recordings, counting, and every fault
the pipeline's resilience tests depend on (scripted 429/5xx, truncated bodies, held requests, latency,
schema drift, not-final games, missing/late shift charts, the in-flight gauge, the control endpoints)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest

from nhl_assets.simulator.cli import register, start_loopback
from nhl_assets.simulator.faults import FaultConfig, SchemaDrift, ScriptedFault, drop_path
from nhl_assets.simulator.recorded import RecordedBackend, default_samples_dir
from nhl_assets.simulator.server import Backend, LoopbackNHLServer, SimulatorBackend, shiftchart_game_id

from .helpers import REPO

GAME = 2023020204  # MIN @ BUF 2023-11-10: recorded boxscore, play-by-play and shift chart
#: The resource string nhl-api-py's game_center.shift_chart_data builds (before httpx encodes it).
NHLPY_SHIFT_RESOURCE = ("en/shiftcharts?cayenneExp=gameId={gid} and ((duration != '00:00' and typeCode = 517) "
                        "or typeCode != 517 )&exclude=eventDetails")


# -- fixtures -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def samples() -> Path:
    folder = default_samples_dir()
    if not folder.is_dir():
        pytest.skip(f"NHL_SAMPLES_DIR {folder} not found: recorded real payloads are not available here")
    return folder


@pytest.fixture(scope="module")
def recorded_backend(samples: Path) -> RecordedBackend:
    return RecordedBackend(samples)


@pytest.fixture
def serve() -> Iterator[Callable[..., LoopbackNHLServer]]:
    """Factory for started servers; every one is stopped at the end of the test."""
    servers: list[LoopbackNHLServer] = []

    def make(backend: Backend, faults: FaultConfig | None = None) -> LoopbackNHLServer:
        server = LoopbackNHLServer(backend, faults).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def recorded(serve: Callable[..., LoopbackNHLServer], recorded_backend: RecordedBackend) -> LoopbackNHLServer:
    return serve(recorded_backend)


class FakeBackend:
    """A tiny in-memory backend so fault tests run without the recordings. Bodies are pretty-printed so a
    test can tell "served as stored" from "re-serialised by a fault"."""

    GAMES = (1001, 1002)
    DAY = "2023-11-10"

    def __init__(self) -> None:
        self.as_of = datetime(2023, 11, 10, 12, tzinfo=timezone.utc)
        self.end = datetime(2023, 11, 11, 3, tzinfo=timezone.utc)

    @staticmethod
    def _dump(payload: Any) -> bytes:
        return orjson.dumps(payload, option=orjson.OPT_INDENT_2)

    def schedule(self, date_str: str) -> bytes | None:
        # Like the real API: every date answers; days without games have an empty game list.
        games = [{"id": g, "gameState": "OFF"} for g in self.GAMES] if date_str == self.DAY else []
        return self._dump({"gameWeek": [{"date": date_str, "games": games}], "nextStartDate": "2023-11-11"})

    def schedule_now_date(self) -> str:
        return self.DAY

    def boxscore(self, game_id: int) -> bytes | None:
        if game_id not in self.GAMES:
            return None
        return self._dump({"id": game_id, "gameState": "OFF", "playerByGameStats": {"awayTeam": {}}})

    def play_by_play(self, game_id: int) -> bytes | None:
        if game_id not in self.GAMES:
            return None
        plays = [{"eventId": i, "sortOrder": i, "situationCode": "1551", "typeDescKey": "faceoff"} for i in range(3)]
        return self._dump({"id": game_id, "gameState": "OFF", "plays": plays})

    def shiftcharts(self, game_id: int) -> bytes | None:
        if game_id not in self.GAMES:
            return None
        return self._dump({"data": [{"gameId": game_id, "playerId": 8470000, "duration": "00:45"}], "total": 1})

    def clock(self) -> datetime:
        return self.as_of

    def set_clock(self, as_of: datetime | None) -> None:
        self.as_of = as_of or datetime.now(timezone.utc)

    def game_end_utc(self, game_id: int) -> datetime | None:
        return self.end if game_id in self.GAMES else None


@pytest.fixture
def fake(serve: Callable[..., LoopbackNHLServer]) -> Callable[..., LoopbackNHLServer]:
    return lambda faults=None: serve(FakeBackend(), faults)


def client(server: LoopbackNHLServer, **kw: Any) -> httpx.Client:
    return httpx.Client(base_url=server.web_url, **kw)


# -- recorded backend ---------------------------------------------------------------------------------

@pytest.mark.samples
def test_recorded_backend_serves_every_file_byte_identical(recorded: LoopbackNHLServer,
                                                           recorded_backend: RecordedBackend, samples: Path) -> None:
    served = recorded_backend.served_files()
    kinds = {path.split("/")[1] for path, _ in served}
    assert kinds == {"v1", "stats"}
    # Every recorded game file is reachable (the earlier fetch and the legacy schema are superseded).
    all_game_files = {p for p in samples.glob("games/*.json") if "earlier" not in p.name}
    assert all_game_files <= {f for _, f in served}
    assert len(list(samples.glob("kraken_*/play_by_play/*.json"))) <= len(recorded_backend.index.play_by_play)
    with client(recorded) as c:
        for path, file in served:
            response = c.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"] == "application/json"
            assert int(response.headers["content-length"]) == file.stat().st_size
            assert response.content == file.read_bytes(), f"{path} differs from {file}"
    assert recorded.stats()["by_status"] == {"200": len(served)}


@pytest.mark.samples
def test_recorded_index_reads_content_not_names(recorded: LoopbackNHLServer, samples: Path) -> None:
    with client(recorded) as c:
        # The main fetch wins over the earlier fetch of the same game.
        pbp = c.get(f"/v1/gamecenter/{GAME}/play-by-play").content
        assert pbp == (samples / f"games/{GAME}_play_by_play.json").read_bytes()
        # The legacy-schema boxscore is superseded by the current-schema recording of the same game.
        box = c.get("/v1/gamecenter/2023020032/boxscore")
        assert box.content == (samples / "legacy/2023020032_boxscore_fetched_2024-12-14.json").read_bytes()
        assert "playerByGameStats" in box.json()
        # Schedules are keyed by their own gameWeek[0].date: the "now" recording answers its week's first day.
        now_file = samples / "schedules/schedule_now_week_of_2025-02-23.json"
        assert c.get("/v1/schedule/2025-02-23").content == now_file.read_bytes()
        assert c.get("/v1/schedule/2024-10-08").json()["gameWeek"][0]["date"] == "2024-10-08"
        # A date without its own file is answered by a recorded week containing it; none -> 404.
        week = c.get("/v1/schedule/2023-11-10")
        assert week.status_code == 200
        assert "2023-11-10" in [d["date"] for d in week.json()["gameWeek"]]
        assert c.get("/v1/schedule/2030-01-01").status_code == 404
        # /v1/schedule/now redirects to the recorded "now" week.
        now = c.get("/v1/schedule/now")
        assert now.status_code == 307 and now.headers["location"] == "/v1/schedule/2025-02-23"


@pytest.mark.samples
def test_recorded_unknown_games(recorded: LoopbackNHLServer) -> None:
    with client(recorded) as c:
        for path in ("/v1/gamecenter/2099020001/boxscore", "/v1/gamecenter/2099020001/play-by-play",
                     "/v1/gamecenter/notanid/boxscore", "/v1/nothing/here"):
            response = c.get(path)
            assert response.status_code == 404, path
            assert response.json() == {"message": "Not Found"}
        # The stats API answers an unknown game with an empty result, not a 404.
        shifts = c.get("/stats/rest/" + NHLPY_SHIFT_RESOURCE.format(gid=2099020001))
        assert shifts.status_code == 200 and shifts.json() == {"data": [], "total": 0}
    assert recorded.stats()["by_status"] == {"404": 4, "200": 1}


@pytest.mark.samples
def test_shiftcharts_query_as_nhlpy_sends_it(recorded: LoopbackNHLServer, samples: Path) -> None:
    with client(recorded) as c:
        response = c.get("/stats/rest/" + NHLPY_SHIFT_RESOURCE.format(gid=GAME))
    assert response.status_code == 200
    assert response.content == (samples / f"games/{GAME}_shiftcharts.json").read_bytes()
    target = recorded.request_log()[-1][0]
    assert "%20" in target and "exclude=eventDetails" in target  # httpx encoded it like on the wire
    assert shiftchart_game_id(target.split("?", 1)[1]) == GAME
    assert shiftchart_game_id("cayenneExp=gameId%3D2024030121%20and%20typeCode%20%3D%20517") == 2024030121
    assert shiftchart_game_id("exclude=eventDetails") is None


def nhlpy_client_routed_to(server: LoopbackNHLServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real `nhlpy.NHLClient` whose hard-coded hosts are swapped for the loopback server (this test
    module only; the project's own routing lives in nhl_assets/source). The original `HttpClient.get`
    still runs: URL building, httpx call, redirects, status-to-exception mapping."""
    import nhlpy.http_client as nhc
    from nhlpy import NHLClient

    original_get = nhc.HttpClient.get

    def routed_get(self: Any, endpoint: Any, resource: str, query_params: dict | None = None) -> Any:
        base = (endpoint.value.replace("https://api-web.nhle.com", server.web_url)
                .replace("https://api.nhle.com", server.stats_url))
        return original_get(self, SimpleNamespace(value=base), resource, query_params)

    monkeypatch.setattr(nhc.HttpClient, "get", routed_get)
    return NHLClient(timeout=5)


@pytest.mark.samples
def test_real_nhlpy_client_against_loopback(recorded: LoopbackNHLServer, samples: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """nhl-api-py's own code (URL building, httpx call, redirects, status mapping) against the server.
    Only the hard-coded host is swapped: the original `HttpClient.get` runs with a loopback base."""
    import nhlpy.http_client as nhc

    nhl = nhlpy_client_routed_to(recorded, monkeypatch)

    day = nhl.schedule.daily_schedule(date="2023-11-10")
    assert GAME in [g["id"] for g in day["games"]]
    week = nhl.schedule.weekly_schedule()  # /v1/schedule/now -> 307 -> /v1/schedule/2025-02-23
    assert week["gameWeek"][0]["date"] == "2025-02-23"
    assert nhl.game_center.boxscore(str(GAME)) == orjson.loads((samples / f"games/{GAME}_boxscore.json").read_bytes())
    assert nhl.game_center.play_by_play(str(GAME))["id"] == GAME
    shifts = nhl.game_center.shift_chart_data(str(GAME))
    assert shifts["total"] == len(shifts["data"]) == 694
    with pytest.raises(nhc.ResourceNotFoundException):
        nhl.game_center.boxscore("2099020001")

    stats = recorded.stats()
    assert stats["by_family"] == {"schedule": 3, "boxscore": 2, "play-by-play": 1, "shiftcharts": 1, "other": 0}
    assert stats["by_family_status"]["schedule"] == {"200": 2, "307": 1}
    assert ("/v1/schedule/now", 307) in recorded.request_log()

    recorded.set_faults(FaultConfig(script=[ScriptedFault(r"/boxscore$", statuses=[429], retry_after_s=1)]))
    with pytest.raises(nhc.RateLimitExceededException):
        nhl.game_center.boxscore(str(GAME))
    assert nhl.game_center.boxscore(str(GAME))["id"] == GAME



def test_real_nhlpy_client_without_recordings(fake: Callable[..., LoopbackNHLServer],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The same nhl-api-py path on the in-memory backend, so it is covered where the recordings are absent."""
    import nhlpy.http_client as nhc

    server = fake(FaultConfig(script=[ScriptedFault("shiftcharts", statuses=[502])]))
    nhl = nhlpy_client_routed_to(server, monkeypatch)
    assert [g["id"] for g in nhl.schedule.daily_schedule(date=FakeBackend.DAY)["games"]] == [1001, 1002]
    quiet_day = nhl.schedule.daily_schedule(date="2023-11-12")
    assert quiet_day["date"] == "2023-11-12" and quiet_day["games"] == []
    assert nhl.schedule.weekly_schedule()["gameWeek"][0]["date"] == FakeBackend.DAY
    assert nhl.game_center.boxscore("1001")["id"] == 1001
    assert len(nhl.game_center.play_by_play("1002")["plays"]) == 3
    with pytest.raises(nhc.ServerErrorException):
        nhl.game_center.shift_chart_data("1001")
    assert nhl.game_center.shift_chart_data("1001")["total"] == 1
    assert server.stats()["by_family"] == {"schedule": 4, "boxscore": 1, "play-by-play": 1, "shiftcharts": 2,
                                           "other": 0}


# -- HTTP behaviour and counting ----------------------------------------------------------------------

def test_schedule_now_redirect_counters_reset_and_control_stats(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake()
    with client(server) as c:
        redirect = c.get("/v1/schedule/now")
        assert redirect.status_code == 307 and redirect.headers["location"] == "/v1/schedule/2023-11-10"
        followed = c.get("/v1/schedule/now", follow_redirects=True)
        assert followed.status_code == 200 and followed.json()["gameWeek"][0]["date"] == "2023-11-10"
        c.get("/v1/gamecenter/1001/boxscore")
        c.get("/v1/gamecenter/1001/play-by-play")
        c.get("/stats/rest/en/shiftcharts", params={"cayenneExp": "gameId=1001"})
        c.get("/v1/gamecenter/9/boxscore")
        c.get("/favicon.ico")
        remote = c.get("/_loopback/stats").json()  # control endpoints are not counted themselves
        assert c.get("/_loopback/stats?log=0").json() == {**remote, "log": []}
    stats = server.stats()
    assert remote == stats
    assert stats["total"] == 8
    assert stats["by_family"] == {"schedule": 3, "boxscore": 2, "play-by-play": 1, "shiftcharts": 1, "other": 1}
    assert stats["by_status"] == {"307": 2, "200": 4, "404": 2}
    assert stats["log"][:3] == [["/v1/schedule/now", 307], ["/v1/schedule/now", 307], ["/v1/schedule/2023-11-10", 200]]
    assert stats["log"][-1] == ["/favicon.ico", 404]
    server.reset_stats()
    assert server.stats()["total"] == 0 and server.stats()["log"] == []
    with client(server) as c:
        c.get("/v1/gamecenter/1002/boxscore")
        assert c.post("/_loopback/reset").json() == {"ok": True}
    assert server.stats()["total"] == 0


def test_keep_alive_and_stop_closes_connections(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake()
    c = client(server, timeout=2)
    try:
        for _ in range(3):
            assert c.get("/v1/gamecenter/1001/boxscore").status_code == 200
        assert c.get("/v1/gamecenter/1001/boxscore").headers.get("connection") != "close"
        server.stop()
        with pytest.raises(httpx.TransportError):
            c.get("/v1/gamecenter/1001/boxscore")
    finally:
        c.close()


def test_scripted_429_with_retry_after_then_success(fake: Callable[..., LoopbackNHLServer]) -> None:
    script = [ScriptedFault(r"^/v1/gamecenter/1001/boxscore$", statuses=[429, 429], retry_after_s=1)]
    server = fake(FaultConfig(script=script))
    with client(server) as c:
        first, second = c.get("/v1/gamecenter/1001/boxscore"), c.get("/v1/gamecenter/1001/boxscore")
        other = c.get("/v1/gamecenter/1002/boxscore")
        third = c.get("/v1/gamecenter/1001/boxscore")
    for r in (first, second):
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert other.status_code == 200 and third.status_code == 200
    assert "retry-after" not in third.headers
    assert third.json()["id"] == 1001
    assert server.stats()["faults"] == {"scripted": 2}


def test_server_errors_random_and_scripted(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake(FaultConfig(rate_5xx=1.0, families=["boxscore"]))
    with client(server) as c:
        statuses = {c.get("/v1/gamecenter/1001/boxscore").status_code for _ in range(20)}
        assert statuses <= {500, 502, 503} and len(statuses) >= 2
        assert c.get("/v1/gamecenter/1001/play-by-play").status_code == 200  # family not selected
        server.set_faults(FaultConfig(script=[ScriptedFault("play-by-play", statuses=[503, 502, 200, 500],
                                                            retry_after_s=2)]))
        seq = [c.get("/v1/gamecenter/1001/play-by-play") for _ in range(5)]
    assert [r.status_code for r in seq] == [503, 502, 200, 500, 200]
    assert seq[0].headers["retry-after"] == "2" and "retry-after" not in seq[1].headers


def test_truncated_body_with_matching_length(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake(FaultConfig(script=[ScriptedFault("boxscore", truncate=True)]))
    full = FakeBackend().boxscore(1001)
    assert full is not None
    with client(server) as c:
        cut = c.get("/v1/gamecenter/1001/boxscore")
        assert cut.status_code == 200
        assert int(cut.headers["content-length"]) == len(cut.content) < len(full)
        assert full.startswith(cut.content)
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(cut.content)
        assert c.get("/v1/gamecenter/1001/boxscore").content == full  # only the scripted one


def test_truncated_body_with_premature_close(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake(FaultConfig(script=[ScriptedFault("boxscore", truncate="close", times=2)]))
    full = FakeBackend().boxscore(1001)
    assert full is not None
    with client(server) as c, pytest.raises(httpx.RemoteProtocolError):
        c.get("/v1/gamecenter/1001/boxscore")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/v1/gamecenter/1001/boxscore")
        response = conn.getresponse()
        assert response.status == 200 and int(response.headers["Content-Length"]) == len(full)
        with pytest.raises(http.client.IncompleteRead) as err:
            response.read()
        assert 0 < len(err.value.partial) < len(full)
    finally:
        conn.close()
    with client(server) as c:
        assert c.get("/v1/gamecenter/1001/boxscore").content == full


def test_random_truncation_uses_both_variants(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake(FaultConfig(rate_truncated=1.0, seed=3))
    outcomes = set()
    with client(server) as c:
        for _ in range(16):
            try:
                r = c.get("/v1/gamecenter/1002/play-by-play")
                outcomes.add("short" if int(r.headers["content-length"]) == len(r.content) else "?")
            except httpx.RemoteProtocolError:
                outcomes.add("close")
    assert outcomes == {"short", "close"}
    assert server.stats()["faults"] == {"truncated": 16}


def test_held_requests_time_out_on_the_client(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake(FaultConfig(script=[ScriptedFault("boxscore", hold_s=5)]))
    with client(server, timeout=0.3) as c:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            c.get("/v1/gamecenter/1001/boxscore")
        assert time.monotonic() - started < 2
        assert c.get("/v1/gamecenter/1001/boxscore").status_code == 200
        server.set_faults(FaultConfig(rate_timeout=1.0, timeout_hold_s=5, families=["shiftcharts"]))
        with pytest.raises(httpx.ReadTimeout):
            c.get("/stats/rest/en/shiftcharts?cayenneExp=gameId=1001")
    assert server.stats()["faults"] == {"scripted": 1, "timeout": 1}
    started = time.monotonic()
    server.stop()  # held requests are released, not waited for
    assert time.monotonic() - started < 2


def test_latency_applied_with_jitter_and_family_limit(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake(FaultConfig(latency_ms=150, latency_jitter_ms=50, families=["boxscore", "schedule"]))
    with client(server) as c:
        c.get("/v1/gamecenter/1001/boxscore")  # connect outside the measurement
        elapsed = []
        for game in (1001, 1002, 1001, 1002):
            started = time.monotonic()
            c.get(f"/v1/gamecenter/{game}/boxscore")
            elapsed.append(time.monotonic() - started)
        started = time.monotonic()
        c.get("/v1/gamecenter/1001/play-by-play")
        unaffected = time.monotonic() - started
    assert all(0.099 <= e < 0.5 for e in elapsed), elapsed
    assert unaffected < 0.09


class SlowBackend(FakeBackend):
    """Takes `make_s` to make a boxscore, as a simulated game's bodies take time to make."""

    make_s = 0.1

    def boxscore(self, game_id: int) -> bytes | None:
        time.sleep(self.make_s)
        return super().boxscore(game_id)


def test_latency_is_the_time_to_answer_with_the_body_made_within_it(serve) -> None:
    """A body that takes 100 ms to make is answered after the 150 ms latency, not after 250 ms; a body
    slower than the latency is answered when it is ready."""
    server = serve(SlowBackend(), FaultConfig(latency_ms=150))
    with client(server) as c:
        c.get("/v1/schedule/2023-11-10")  # connect outside the measurement
        started = time.monotonic()
        assert c.get("/v1/gamecenter/1001/boxscore").status_code == 200
        within = time.monotonic() - started
        SlowBackend.make_s = 0.3
        try:
            started = time.monotonic()
            assert c.get("/v1/gamecenter/1002/boxscore").status_code == 200
            slower = time.monotonic() - started
        finally:
            SlowBackend.make_s = 0.1
    assert 0.149 <= within < 0.23, within
    assert 0.299 <= slower < 0.38, slower


def test_fault_decisions_are_deterministic_by_seed(fake: Callable[..., LoopbackNHLServer]) -> None:
    def run(seed: int) -> list[int]:
        server = fake(FaultConfig(seed=seed, rate_429=0.3, rate_5xx=0.3))
        with client(server) as c:
            codes = [c.get(f"/v1/gamecenter/{1001 + i % 2}/boxscore").status_code for i in range(40)]
        server.stop()
        return codes

    first, again, other = run(11), run(11), run(12)
    assert first == again
    assert first != other
    assert 200 in first and 429 in first and {500, 502, 503} & set(first)


def test_schema_drift_drops_and_adds_fields(fake: Callable[..., LoopbackNHLServer]) -> None:
    drift = SchemaDrift(drop_fields=["plays[].situationCode", "playerByGameStats.awayTeam"],
                        add_fields={"newTopLevel": {"v": 2}}, families=["play-by-play"])
    server = fake(FaultConfig(schema_drift=drift))
    with client(server) as c:
        pbp = c.get("/v1/gamecenter/1001/play-by-play").json()
        box = c.get("/v1/gamecenter/1001/boxscore")
    assert pbp["plays"] and all("situationCode" not in p for p in pbp["plays"])
    assert all("typeDescKey" in p for p in pbp["plays"])
    assert pbp["newTopLevel"] == {"v": 2}
    assert box.content == FakeBackend().boxscore(1001)  # other families untouched, byte for byte
    assert server.stats()["faults"] == {"schema_drift": 1}
    doc = {"a": {"b": [{"c": 1, "d": 2}, {"c": 3}]}}
    assert drop_path(doc, "a.b[].c") == 2 and doc == {"a": {"b": [{"d": 2}, {}]}}
    assert drop_path(doc, "x.y[].z") == 0


def test_not_final_games_are_rewritten_to_live(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake(FaultConfig(not_final_games=[1002]))
    with client(server) as c:
        schedule = c.get("/v1/schedule/2023-11-10").json()
        states = {g["id"]: g["gameState"] for g in schedule["gameWeek"][0]["games"]}
        assert states == {1001: "OFF", 1002: "LIVE"}
        assert c.get("/v1/gamecenter/1002/boxscore").json()["gameState"] == "LIVE"
        assert c.get("/v1/gamecenter/1002/play-by-play").json()["gameState"] == "LIVE"
        assert c.get("/v1/gamecenter/1001/boxscore").content == FakeBackend().boxscore(1001)


def test_missing_and_late_shift_charts(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake(FaultConfig(shift_missing_games=[1001], shift_late_games=[1002], shift_late_hours=30))
    backend = server.backend
    assert isinstance(backend, FakeBackend)

    def shifts(game: int) -> dict[str, Any]:
        with client(server) as c:
            return c.get("/stats/rest/" + NHLPY_SHIFT_RESOURCE.format(gid=game)).json()

    assert shifts(1001) == {"data": [], "total": 0}
    assert shifts(1002) == {"data": [], "total": 0}  # clock is before game end + 30 h
    with client(server) as c:  # move the clock through the control endpoint, as another process would
        answer = c.post("/_loopback/clock", params={"as_of": (backend.end + timedelta(hours=31)).isoformat()})
        assert answer.status_code == 200
    assert backend.as_of == backend.end + timedelta(hours=31)
    assert shifts(1002)["total"] == 1  # published late
    assert shifts(1001) == {"data": [], "total": 0}  # missing stays missing
    assert server.stats()["faults"] == {"shift_missing": 2, "shift_late": 1}
    server.set_faults(FaultConfig(shift_missing_rate=1.0))
    assert shifts(1002) == {"data": [], "total": 0}


def test_max_in_flight_gauge(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake(FaultConfig(latency_ms=400))

    def fetch(game: int) -> int:
        with client(server) as c:
            return c.get(f"/v1/gamecenter/{game}/boxscore").status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(fetch, [1001, 1002] * 4)) == {200}
    assert server.stats()["max_in_flight"] == 8
    server.reset_stats()
    # A client bounded to 2 connections never has more than 2 requests in flight.
    with client(server, limits=httpx.Limits(max_connections=2)) as shared, ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda g: shared.get(f"/v1/gamecenter/{g}/boxscore").status_code, [1001, 1002] * 3))
    # the server counts a request out after its last byte is sent, which the client may see first
    deadline = time.monotonic() + 5
    while server.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.01)
    stats = server.stats()
    assert stats["max_in_flight"] == 2 and stats["in_flight"] == 0 and stats["total"] == 6


def test_control_endpoints_steer_faults_and_clock(fake: Callable[..., LoopbackNHLServer]) -> None:
    server = fake()
    config = FaultConfig(seed=5, script=[ScriptedFault("play-by-play", statuses=[503])],
                         schema_drift=SchemaDrift(add_fields={"x": 1}))
    with client(server) as c:
        answer = c.post("/_loopback/faults", content=orjson.dumps(config.to_dict()))
        assert answer.status_code == 200 and answer.json() == config.to_dict()
        assert server.faults == config
        assert c.get("/v1/gamecenter/1001/play-by-play").status_code == 503
        assert c.get("/v1/gamecenter/1001/play-by-play").json()["x"] == 1
        assert c.post("/_loopback/faults", content=b'{"rate_429": 2}').status_code == 400
        assert c.post("/_loopback/faults", content=b'{"no_such_fault": 1}').status_code == 400
        assert c.get("/_loopback/faults").json() == config.to_dict()
        assert c.post("/_loopback/clock?as_of=2024-01-02T03:04:05Z").json()["as_of"].startswith("2024-01-02T03:04:05")
        assert c.post("/_loopback/clock?as_of=garbage").status_code == 400
        assert c.get("/_loopback/health").json()["ok"] is True
        assert c.get("/_loopback/nope").status_code == 404
    assert server.stats()["total"] == 2


@pytest.mark.unit
def test_fault_config_json_round_trip_and_validation() -> None:
    config = FaultConfig(seed=1, latency_ms=150, rate_429=0.1, retry_after_s=2, shift_missing_games=[3, 1],
                         not_final_games=[7], schema_drift=SchemaDrift(drop_fields=["plays[].situationCode"]),
                         script=[ScriptedFault("boxscore", statuses=[429, 503], retry_after_s=1, hold_s=0.5)])
    assert FaultConfig.from_dict(orjson.loads(orjson.dumps(config.to_dict()))) == config
    assert config.shift_missing_games == [1, 3]
    for bad in ({"rate_5xx": 1.5}, {"rate_429": 0.6, "rate_5xx": 0.6}, {"families": ["boxscores"]},
                {"truncate_mode": "sometimes"}, {"script": [{"path_regex": "("}]}):
        with pytest.raises(ValueError):
            FaultConfig.from_dict(bad)


# -- loopback only, CLI ------------------------------------------------------------------------------

@pytest.mark.unit
def test_only_loopback_addresses_are_bound() -> None:
    for host in ("0.0.0.0", "192.168.1.10", "example.com"):
        with pytest.raises(ValueError, match="loopback"):
            LoopbackNHLServer(FakeBackend(), host=host)
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--mode", "recorded", "--host", "0.0.0.0", "--port", "0"])
    assert args.func(args) == 2


@pytest.mark.samples
def test_start_loopback_recorded(samples: Path) -> None:
    server = start_loopback("recorded", samples_dir=samples, latency_ms=10)
    try:
        assert server.faults.latency_ms == 10
        with client(server) as c:
            assert c.get(f"/v1/gamecenter/{GAME}/boxscore").status_code == 200
    finally:
        server.stop()
    with pytest.raises(TypeError):
        start_loopback("recorded", samples_dir=samples, latncy_ms=10)


@pytest.mark.samples
def test_cli_serve_runs_in_the_foreground(samples: Path) -> None:
    code = ("import argparse, sys; from nhl_assets.simulator.cli import register; "
            "p = argparse.ArgumentParser(); register(p.add_subparsers(dest='c')); "
            "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))")
    env = {**os.environ, "NHL_SAMPLES_DIR": str(samples)}
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--mode", "recorded", "--port", "0"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        export = next(line for line in lines if line.startswith("export "))
        urls = dict(part.split("=", 1) for part in export.split()[1:])
        assert urls["NHL_API_WEB_URL"] == urls["NHL_API_STATS_URL"]
        assert urls["NHL_API_WEB_URL"].startswith("http://127.0.0.1:")
        response = httpx.get(urls["NHL_API_WEB_URL"] + f"/v1/gamecenter/{GAME}/play-by-play", timeout=5)
        assert response.status_code == 200 and response.json()["id"] == GAME
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=5) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


# -- simulator backend ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def league() -> Any:
    league_module = pytest.importorskip("nhl_assets.simulator.league",
                                        reason="nhl_assets/simulator/league.py not available yet")
    return league_module.SimulatedLeague(league_module.LeagueConfig(
        seed=7, first_date=date(2023, 10, 1), last_date=date(2024, 4, 20), shift_chart_missing_rate=0.0,
        shift_chart_late_rate=0.0, shift_chart_late_hours=30.0))


def test_simulator_backend_serves_a_game_and_follows_the_clock(serve: Callable[..., LoopbackNHLServer],
                                                             league: Any) -> None:
    day = date(2023, 11, 10)
    games = league.games_on(day)
    assert games, "the simulated league plays on a November Friday"
    game = games[0]
    before = game.start_utc - timedelta(hours=2)
    server = serve(SimulatorBackend(league, as_of=before))
    with client(server) as c:
        schedule = c.get(f"/v1/schedule/{day}")
        assert schedule.status_code == 200
        listed = {g["id"]: g["gameState"] for d in schedule.json()["gameWeek"] if d["date"] == day.isoformat()
                  for g in d["games"]}
        assert game.id in listed and listed[game.id] not in ("OFF", "FINAL")
        assert c.get("/v1/schedule/now").headers["location"] == f"/v1/schedule/{league.today(before)}"

        after = game.end_utc + timedelta(hours=36)
        assert c.post("/_loopback/clock", params={"as_of": after.isoformat()}).status_code == 200
        schedule = c.get(f"/v1/schedule/{day}").json()
        listed = {g["id"]: g["gameState"] for d in schedule["gameWeek"] if d["date"] == day.isoformat()
                  for g in d["games"]}
        assert listed[game.id] in ("OFF", "FINAL")
        box = c.get(f"/v1/gamecenter/{game.id}/boxscore")
        pbp = c.get(f"/v1/gamecenter/{game.id}/play-by-play")
        shifts = c.get("/stats/rest/" + NHLPY_SHIFT_RESOURCE.format(gid=game.id))
        assert box.status_code == pbp.status_code == shifts.status_code == 200
        assert box.json()["id"] == pbp.json()["id"] == game.id
        assert box.json()["gameState"] in ("OFF", "FINAL")
        assert shifts.json()["total"] == len(shifts.json()["data"]) > 0
        assert {row["gameId"] for row in shifts.json()["data"]} == {game.id}
        assert c.get("/v1/schedule/now").headers["location"] == f"/v1/schedule/{league.today(after)}"
        assert c.get("/v1/gamecenter/2099020001/boxscore").status_code == 404
    assert box.content == orjson.dumps(league.boxscore_payload(game.id, as_of=after))  # compact orjson


def test_simulated_week_played_day_by_day_with_a_late_shift_chart(league: Any) -> None:
    """One running server, the clock advanced each morning through the control endpoint (as a sensor test
    in another process would): yesterday's games are final with data, today's are still to come, and a
    shift chart marked late by the fault layer appears only once game end + 30 h has passed."""
    first = date(2023, 11, 13)
    late_game = league.games_on(first)[0]
    morning = lambda d: datetime(d.year, d.month, d.day, 15, 0, tzinfo=timezone.utc)  # 10-11 am Eastern
    server = start_loopback("sim", league=league, as_of=morning(first),
                            shift_late_games=[late_game.id], shift_late_hours=30)
    try:
        with client(server, follow_redirects=False) as c:
            for offset in range(1, 8):
                today = first + timedelta(days=offset)
                assert c.post("/_loopback/clock", params={"as_of": morning(today).isoformat()}).status_code == 200
                assert c.get("/v1/schedule/now").headers["location"] == f"/v1/schedule/{today}"
                week = {d["date"]: d.get("games", []) for d in c.get(f"/v1/schedule/{today - timedelta(days=1)}")
                        .json()["gameWeek"]}
                yesterday = week[(today - timedelta(days=1)).isoformat()]
                assert yesterday and all(g["gameState"] in ("OFF", "FINAL") for g in yesterday)
                assert all(g["gameState"] == "FUT" for g in week.get(today.isoformat(), []))
                for g in yesterday[:2]:
                    assert c.get(f"/v1/gamecenter/{g['id']}/boxscore").json()["gameState"] in ("OFF", "FINAL")
                shifts = c.get("/stats/rest/" + NHLPY_SHIFT_RESOURCE.format(gid=late_game.id)).json()
                published = morning(today) >= late_game.end_utc + timedelta(hours=30)
                assert (shifts["total"] > 0) == published, (today, shifts["total"])
        assert server.stats()["faults"]["shift_late"] == 1  # only the first morning after the game
    finally:
        server.stop()
