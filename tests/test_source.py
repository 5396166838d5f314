"""The NHL source: nhl-api-py's real code path routed to a loopback server, retries, limits, errors."""

from __future__ import annotations

import time
from datetime import date

import orjson
import pytest

from nhl_assets.simulator.faults import FaultConfig, ScriptedFault
from nhl_assets.source.client import NHLSource, parse_retry_after
from nhl_assets.source.types import NHLPayloadError, NHLSourceError, SourceSettings
from nhl_assets.source.games import fetch_schedules

from .helpers import fast_settings

GAME = 2023020204
BOX = rf"/v1/gamecenter/{GAME}/boxscore"


def test_nhl_api_py_code_path_hits_the_loopback_server(recorded_server, nhl_samples):
    with NHLSource(fast_settings(recorded_server)) as source:
        # The NHLClient's API groups were handed the routed client: nhl-api-py builds the URLs.
        assert source.client.game_center.client is source.client.schedule.client
        box = source.boxscore(GAME)
        shifts = source.shift_chart(GAME)
        pbp = source.play_by_play(GAME)
    assert box.data["id"] == GAME and box.raw.status == 200
    assert box.raw.body == (nhl_samples / "games" / f"{GAME}_boxscore.json").read_bytes()
    assert pbp.raw.body == (nhl_samples / "games" / f"{GAME}_play_by_play.json").read_bytes()
    assert shifts.data["total"] == len(shifts.data["data"]) > 0
    assert box.raw.endpoint == "/v1/gamecenter/{gameId}/boxscore"
    assert box.raw.sha256 and box.raw.attempts == 1
    stats = recorded_server.stats()
    assert stats["by_family"]["boxscore"] == 1
    assert stats["by_family"]["play-by-play"] == 1
    assert stats["by_family"]["shiftcharts"] == 1
    # The shift chart request is nhl-api-py's own (cayenneExp filter and exclude), not ours.
    shift_targets = [t for t, _ in stats["log"] if t.startswith("/stats/rest/en/shiftcharts")]
    assert "cayenneExp" in shift_targets[0] and "exclude=eventDetails" in shift_targets[0]


def test_a_body_is_decoded_once(recorded_server, monkeypatch):
    """nhl-api-py's `.json()` gets the body the client decoded (orjson) to check it, not a second decode
    with the standard library; what it returns equals the body, and a shift chart's publication is read
    from it."""
    import json

    from nhl_assets.source.games import GameFetch, record_response

    def refuse(*args, **kwargs):
        raise AssertionError("decoded again with the standard library")

    with NHLSource(fast_settings(recorded_server)) as source:
        monkeypatch.setattr(json, "loads", refuse)
        shifts, pbp = source.shift_chart(GAME), source.play_by_play(GAME)
        monkeypatch.undo()
    assert shifts.data == orjson.loads(shifts.raw.body) and pbp.data == orjson.loads(pbp.raw.body)
    game = GameFetch(GAME, date(2023, 11, 10), 20232024, 2, "OFF", "OK", "BUF", "TOR", None)
    record_response(game, "shift_chart", shifts)
    assert "shift_chart" in game.responses and not game.missing


def test_base_urls_come_from_the_environment(recorded_server, monkeypatch):
    monkeypatch.setenv("NHL_API_WEB_URL", recorded_server.web_url + "/")
    monkeypatch.setenv("NHL_API_STATS_URL", recorded_server.stats_url)
    with NHLSource(SourceSettings.from_env(rate_per_second=0)) as source:
        fetched = source.schedule(date(2024, 10, 9))
    assert fetched.data["date"] == "2024-10-09" and len(fetched.data["games"]) == 5
    assert orjson.loads(fetched.raw.body)["gameWeek"][0]["date"] == "2024-10-09"  # raw = the whole week
    assert recorded_server.stats()["by_family"]["schedule"] == 1


def test_429_is_retried_honouring_retry_after(recorded_server):
    recorded_server.set_faults(FaultConfig(script=[ScriptedFault(BOX, statuses=[429, 429], retry_after_s=1)]))
    waits: list[float] = []
    with NHLSource(fast_settings(recorded_server), sleep=waits.append) as source:
        box = source.boxscore(GAME)
        stats = source.stats.snapshot()
    assert box.raw.status == 200 and box.raw.attempts == 3
    assert waits == [1.0, 1.0]  # the server's Retry-After, not the (much shorter) backoff
    assert stats["retries"] == 2 and stats["calls"] == 3


def test_5xx_then_success_uses_backoff(recorded_server):
    recorded_server.set_faults(FaultConfig(script=[ScriptedFault(BOX, statuses=[503, 502])]))
    waits: list[float] = []
    with NHLSource(fast_settings(recorded_server, backoff_initial_s=0.2, backoff_max_s=5), sleep=waits.append) as s:
        box = s.boxscore(GAME)
    assert box.raw.attempts == 3 and len(waits) == 2
    assert 0.2 <= waits[0] <= 0.4 and 0.4 <= waits[1] <= 0.6  # exponential, with jitter


def test_retry_exhausted_names_endpoint_game_date_and_cause(recorded_server):
    recorded_server.set_faults(FaultConfig(script=[ScriptedFault(BOX, statuses=[503] * 4)]))
    with NHLSource(fast_settings(recorded_server), sleep=lambda s: None) as source:
        with pytest.raises(NHLSourceError) as err:
            source.boxscore(GAME, date(2023, 11, 10))
    msg = str(err.value)
    assert "/v1/gamecenter/{gameId}/boxscore" in msg and f"game {GAME}" in msg and "2023-11-10" in msg
    assert "HTTP 503" in msg and "4 attempt" in msg
    assert err.value.response is not None and err.value.response.status == 503  # kept for bronze


def test_malformed_json_is_retried_then_reported(recorded_server):
    recorded_server.set_faults(FaultConfig(script=[ScriptedFault(BOX, statuses=[200] * 4, truncate="short")]))
    with NHLSource(fast_settings(recorded_server), sleep=lambda s: None) as source:
        with pytest.raises(NHLPayloadError, match="invalid JSON") as err:
            source.boxscore(GAME)
    assert err.value.response is not None and err.value.response.body  # the bad body is kept


def test_truncated_body_then_success(recorded_server):
    recorded_server.set_faults(FaultConfig(script=[
        ScriptedFault(BOX, statuses=[200], truncate="close"),
        ScriptedFault(BOX, statuses=[200], truncate="short")]))
    with NHLSource(fast_settings(recorded_server), sleep=lambda s: None) as source:
        box = source.boxscore(GAME)
    assert box.raw.attempts == 3 and box.data["id"] == GAME


def test_timeouts_are_retried_and_exhaustion_says_timeout(recorded_server):
    recorded_server.set_faults(FaultConfig(script=[ScriptedFault(BOX, statuses=[200], hold_s=1.5)]))
    with NHLSource(fast_settings(recorded_server, timeout_s=0.3), sleep=lambda s: None) as source:
        assert source.boxscore(GAME).raw.attempts == 2
    recorded_server.set_faults(FaultConfig(script=[ScriptedFault(BOX, statuses=[200] * 2, hold_s=1.5)]))
    with NHLSource(fast_settings(recorded_server, timeout_s=0.3, max_attempts=2), sleep=lambda s: None) as source:
        with pytest.raises(NHLSourceError, match="timeout"):
            source.boxscore(GAME)


def test_404_is_not_retried(recorded_server):
    with NHLSource(fast_settings(recorded_server)) as source:
        with pytest.raises(NHLSourceError, match="HTTP 404") as err:
            source.boxscore(2099020001)
    assert err.value.attempts == 1
    assert recorded_server.stats()["by_family"]["boxscore"] == 1


def test_concurrency_is_bounded(recorded_server):
    recorded_server.set_faults(FaultConfig(latency_ms=100))
    days = [date(2024, 10, 9 + i) for i in range(7)]
    with NHLSource(fast_settings(recorded_server, concurrency=2)) as source:
        fetch_schedules(source, days)
    stats = recorded_server.stats()
    assert stats["by_family"]["schedule"] == 7
    assert stats["max_in_flight"] == 2


def test_client_side_rate_limit(recorded_server):
    started = time.monotonic()
    with NHLSource(fast_settings(recorded_server, rate_per_second=5, concurrency=4)) as source:
        fetch_schedules(source, [date(2024, 10, 9)] * 10)
    assert time.monotonic() - started >= 0.9  # 10 requests at 5/s cannot finish within one second


def test_schedule_failure_names_the_date(recorded_server):
    recorded_server.set_faults(FaultConfig(script=[ScriptedFault(r"/v1/schedule/2024-10-10", statuses=[500] * 4)]))
    with NHLSource(fast_settings(recorded_server), sleep=lambda s: None) as source:
        with pytest.raises(NHLSourceError, match="date 2024-10-10.*HTTP 500"):
            fetch_schedules(source, [date(2024, 10, 9), date(2024, 10, 10)])


@pytest.mark.unit
@pytest.mark.parametrize("value,expected", [("3", 3.0), ("0", 0.0), ("garbage", None), (None, None)])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


@pytest.mark.unit
def test_parse_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)
