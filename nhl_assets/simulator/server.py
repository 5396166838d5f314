"""A loopback HTTP server that answers like the two public NHL APIs.

Why it exists: tests, the demo and the benchmarks must exercise the *real* request path — nhl-api-py
building URLs and query strings, httpx sending them, the project's retries and routing — without the
network, reproducibly, and with the ability to misbehave on demand. So this server speaks the real paths
and query strings of ``api-web.nhle.com`` (schedule, boxscore, play-by-play) and ``api.nhle.com``
(stats REST shift charts) on one loopback port; pointing ``NHL_API_WEB_URL`` and ``NHL_API_STATS_URL`` at
it reroutes the live source unchanged.

Answers come from a `Backend` (the seeded `SimulatedLeague`, or the recorded real payloads), pass through
the fault injector (`faults.FaultState`), and are counted per endpoint family and status, with a gauge of
the maximum number of requests in flight (so a client test can prove its concurrency bound).

A separate process (a Dagster run, a sensor test) can inspect and steer a running server through the
control endpoints under ``/_loopback/``: ``GET stats``, ``POST reset``, ``GET|POST clock?as_of=ISO``,
``GET|POST faults`` (a JSON `FaultConfig`), ``GET health``. Those are neither counted nor faulted.

Standard library only (``http.server``), no Dagster imports.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import sys
import threading
import time
from collections import deque
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

import orjson

from nhl_assets.simulator.faults import (
    EMPTY_SHIFTS,
    FAMILIES,
    FaultConfig,
    FaultState,
    apply_hit_correction,
    apply_schema_drift,
    game_ids_in,
    hit_correction,
    rewrite_not_final,
)

JSON = "application/json"
EMPTY_SHIFTS_BODY = orjson.dumps(EMPTY_SHIFTS)
NOT_FOUND_BODY = orjson.dumps({"message": "Not Found"})

_SCHEDULE_NOW = re.compile(r"^/v1/schedule/now/?$")
_SCHEDULE = re.compile(r"^/v1/schedule/(\d{4}-\d{2}-\d{2})/?$")
_SCORE = re.compile(r"^/v1/score/(\d{4}-\d{2}-\d{2})/?$")
_BOXSCORE = re.compile(r"^/v1/gamecenter/(\d+)/boxscore/?$")
_PLAY_BY_PLAY = re.compile(r"^/v1/gamecenter/(\d+)/play-by-play/?$")
_SHIFTCHARTS = re.compile(r"^/stats/rest/en/shiftcharts/?$")
#: nhl-api-py sends ``cayenneExp=gameId=<id> and ((duration != '00:00' and typeCode = 517) or ...)``.
_CAYENNE_GAME_ID = re.compile(r"\bgameId\s*=\s*(\d+)")


# -- backends -----------------------------------------------------------------------------------------

@runtime_checkable
class Backend(Protocol):
    """Where answers come from. Each method returns the response body, or None for a 404.

    Optional extras the server uses when present: ``clock() -> datetime``, ``set_clock(datetime|None)``
    (the simulated "now"), ``game_end_utc(game_id) -> datetime|None`` (to time late shift charts),
    ``score(date_str) -> bytes|None`` and ``describe() -> dict``.
    """

    def schedule(self, date_str: str) -> bytes | None: ...

    def schedule_now_date(self) -> str: ...

    def boxscore(self, game_id: int) -> bytes | None: ...

    def play_by_play(self, game_id: int) -> bytes | None: ...

    def shiftcharts(self, game_id: int) -> bytes | None: ...


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class SimulatorBackend:
    """Serves a `SimulatedLeague` (nhl_assets.simulator.league) as compact JSON.

    `as_of` is the simulated clock: games after it are not final yet, shift charts not yet published,
    and ``/v1/schedule/now`` resolves to the league's NHL "today" at that instant. It can be changed at
    runtime (`set_clock`, or ``POST /_loopback/clock``) so a test can play a season day by day against one
    running server. ``as_of=None`` hands None to the league (its "no clock" view) and uses wall time for
    "now".
    """

    def __init__(self, league: Any, as_of: datetime | None = None) -> None:
        self.league = league
        self._as_of = _utc(as_of)

    def clock(self) -> datetime:
        return self._as_of if self._as_of is not None else datetime.now(timezone.utc)

    def set_clock(self, as_of: datetime | None) -> None:
        self._as_of = _utc(as_of)

    @property
    def as_of(self) -> datetime | None:
        return self._as_of

    @staticmethod
    def _dump(payload: Any) -> bytes | None:
        return None if payload is None else orjson.dumps(payload)

    def schedule(self, date_str: str) -> bytes | None:
        try:
            day = date.fromisoformat(date_str)
        except ValueError:
            return None
        return self._dump(self.league.schedule_payload(day, as_of=self._as_of))

    def schedule_now_date(self) -> str:
        return self.league.today(self.clock()).isoformat()

    def boxscore(self, game_id: int) -> bytes | None:
        return self._dump(self.league.boxscore_payload(game_id, as_of=self._as_of))

    def play_by_play(self, game_id: int) -> bytes | None:
        return self._dump(self.league.play_by_play_payload(game_id, as_of=self._as_of))

    def shiftcharts(self, game_id: int) -> bytes | None:
        return self._dump(self.league.shiftcharts_payload(game_id, as_of=self._as_of))

    def game_end_utc(self, game_id: int) -> datetime | None:
        game = self.league.game(game_id)
        return _utc(getattr(game, "end_utc", None)) if game is not None else None

    def describe(self) -> dict[str, Any]:
        config = getattr(self.league, "config", None)
        return {"backend": "sim", "as_of": self._as_of.isoformat() if self._as_of else None,
                "seed": getattr(config, "seed", None)}


# -- request accounting -------------------------------------------------------------------------------

class RequestStats:
    """Thread-safe counters of API requests (control endpoints excluded).

    The log keeps the last `log_limit` (target, status) pairs so a long benchmark cannot grow memory
    without bound; counters are exact regardless.
    """

    def __init__(self, log_limit: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._log_limit = log_limit
        self._reset_locked(in_flight=0)

    def _reset_locked(self, in_flight: int) -> None:
        self.total = 0
        self.by_family: dict[str, int] = {f: 0 for f in FAMILIES}
        self.by_status: dict[str, int] = {}
        self.by_family_status: dict[str, dict[str, int]] = {f: {} for f in FAMILIES}
        self.faults: dict[str, int] = {}
        self.log: deque[tuple[str, int]] = deque(maxlen=self._log_limit)
        self.in_flight = in_flight
        self.max_in_flight = in_flight

    def reset(self) -> None:
        with self._lock:
            self._reset_locked(in_flight=self.in_flight)

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def record(self, target: str, family: str, status: int) -> None:
        key = str(status)
        with self._lock:
            self.total += 1
            self.by_family[family] = self.by_family.get(family, 0) + 1
            self.by_status[key] = self.by_status.get(key, 0) + 1
            fam = self.by_family_status.setdefault(family, {})
            fam[key] = fam.get(key, 0) + 1
            self.log.append((target, status))

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] = self.faults.get(kind, 0) + 1

    def snapshot(self, include_log: bool = True) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "by_family": dict(self.by_family),
                "by_status": dict(self.by_status),
                "by_family_status": {f: dict(v) for f, v in self.by_family_status.items()},
                "faults": dict(self.faults),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "log": [list(entry) for entry in self.log] if include_log else [],
            }


# -- HTTP ---------------------------------------------------------------------------------------------

def _require_loopback(host: str) -> None:
    """Refuse to bind anything but a loopback address: this server has unauthenticated control endpoints."""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"the loopback NHL API only binds loopback addresses (127.0.0.1, ::1, localhost), not {host!r}")


def classify(path: str) -> str:
    """Endpoint family of a request path (for counting and for limiting faults)."""
    if _SCHEDULE.match(path) or _SCHEDULE_NOW.match(path):
        return "schedule"
    if _BOXSCORE.match(path):
        return "boxscore"
    if _PLAY_BY_PLAY.match(path):
        return "play-by-play"
    if _SHIFTCHARTS.match(path):
        return "shiftcharts"
    return "other"


def shiftchart_game_id(query: str) -> int | None:
    """The game id in a stats-API ``cayenneExp`` query (as nhl-api-py builds it), or None."""
    for expr in parse_qs(query, keep_blank_values=True).get("cayenneExp", []):
        match = _CAYENNE_GAME_ID.search(expr)
        if match:
            return int(match.group(1))
    return None


class _Response:
    """An answer before faults that rewrite bodies are applied."""

    __slots__ = ("status", "body", "headers", "game_id")

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                 game_id: int | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.game_id = game_id


class _Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive like the real APIs behind their CDN."""

    protocol_version = "HTTP/1.1"
    server_version = "nhl-assets-loopback"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after a minute
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms
    # to small responses, which would swamp the latency a test configures.
    disable_nagle_algorithm = True
    server: "_HTTPServer"

    # -- plumbing --

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.server.app._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.app._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        if self.server.app.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _write(self, status: int, body: bytes, headers: dict[str, str] | None = None,
               truncate: str | None = None) -> None:
        """Send one response; `truncate` = "short" (cut body, matching length) or "close" (drop mid-body)."""
        length = len(body)
        if truncate:
            cut = max(0, min(len(body) - 1, len(body) // 2))
            body = body[:cut]
            if truncate == "short":
                length = len(body)
            else:  # premature close: promise the whole body, deliver half, hang up
                self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", JSON)
            self.send_header("Content-Length", str(length))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout, ValueError):
            # The client gave up (typically after its own timeout while we held the request).
            self.close_connection = True

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # -- verbs --

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        body = self._read_body()
        split = urlsplit(self.path)
        if split.path.startswith("/_loopback/"):
            self._control(split.path, split.query, body)
        else:
            self._write(405, orjson.dumps({"message": "Method Not Allowed"}))

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        if split.path.startswith("/_loopback/"):
            self._control(split.path, split.query, b"")
            return
        app = self.server.app
        family = classify(split.path)
        app._stats.enter()
        try:
            self._serve_api(app, split.path, split.query, family)
        finally:
            app._stats.leave()

    # -- the API --

    def _serve_api(self, app: "LoopbackNHLServer", path: str, query: str, family: str) -> None:
        """Answer one API request after its latency (and any hold) has passed since it arrived.

        The latency is the time to answer, as a client of the real API sees it: the body is made while it
        runs, not after it. Making a simulated game's bodies takes 10-20 ms of this process's one GIL, so
        made after the wait they added that much, queued behind the other connections, to every call, and
        a benchmark's "API-bound minimum" (calls x latency / connections) was out of any client's reach.
        """
        arrived = time.monotonic()
        target = path + (f"?{query}" if query else "")
        decision = app._faults.decide(target, family)
        if decision.kind:
            app._stats.fault(decision.kind)
        response = None
        if decision.status is None:
            try:
                response = self._route(app, path, query)
                if response.status == 200:
                    self._apply_data_faults(app, family, response)
            except Exception as exc:  # a backend bug must show up as a 500, not a hung connection
                app._stats.fault("backend_error")
                response = _Response(500, orjson.dumps({"message": f"loopback backend error: {exc!r}"}))
        wait = arrived + decision.latency_s + decision.hold_s - time.monotonic()
        if wait > 0 and app._stopping.wait(wait):
            self.close_connection = True  # server stopping: drop the request rather than delay shutdown
            return
        if decision.status is not None:
            headers = {}
            if decision.retry_after_s is not None:
                headers["Retry-After"] = f"{decision.retry_after_s:g}"
            message = "Too Many Requests" if decision.status == 429 else "Injected fault"
            app._stats.record(target, family, decision.status)
            self._write(decision.status, orjson.dumps({"message": message, "status": decision.status}), headers)
            return
        assert response is not None
        app._stats.record(target, family, response.status)
        self._write(response.status, response.body, response.headers,
                    truncate=decision.truncate if response.status == 200 else None)

    def _route(self, app: "LoopbackNHLServer", path: str, query: str) -> _Response:
        backend = app.backend
        if _SCHEDULE_NOW.match(path):
            today = backend.schedule_now_date()
            return _Response(307, b"", {"Location": f"/v1/schedule/{today}"})
        if m := _SCHEDULE.match(path):
            return self._found(backend.schedule(m.group(1)))
        if m := _BOXSCORE.match(path):
            game_id = int(m.group(1))
            return self._found(backend.boxscore(game_id), game_id)
        if m := _PLAY_BY_PLAY.match(path):
            game_id = int(m.group(1))
            return self._found(backend.play_by_play(game_id), game_id)
        if _SHIFTCHARTS.match(path):
            shift_game = shiftchart_game_id(query)
            if shift_game is None:
                return _Response(200, EMPTY_SHIFTS_BODY)
            body = backend.shiftcharts(shift_game)
            # The stats API answers an unknown game with an empty result, not a 404.
            return _Response(200, body if body is not None else EMPTY_SHIFTS_BODY, game_id=shift_game)
        if (m := _SCORE.match(path)) and hasattr(backend, "score"):
            return self._found(backend.score(m.group(1)))
        return _Response(404, NOT_FOUND_BODY)

    @staticmethod
    def _found(body: bytes | None, game_id: int | None = None) -> _Response:
        return _Response(404, NOT_FOUND_BODY) if body is None else _Response(200, body, game_id=game_id)

    def _apply_data_faults(self, app: "LoopbackNHLServer", family: str, response: _Response) -> None:
        """Rewrite a 200 body for the configured data faults; untouched bodies keep their exact bytes."""
        faults = app._faults
        cfg = faults.config
        game_id = response.game_id
        if family == "shiftcharts" and game_id is not None:
            if faults.shift_missing(game_id):
                app._stats.fault("shift_missing")
                response.body = EMPTY_SHIFTS_BODY
                return
            if faults.shift_late(game_id) and not self._late_published(app, game_id, cfg.shift_late_hours):
                app._stats.fault("shift_late")
                response.body = EMPTY_SHIFTS_BODY
                return
        if cfg.corrected_games and game_id in cfg.corrected_games and family in ("boxscore", "play-by-play") \
                and self._late_published(app, game_id, cfg.correction_hours):
            league = getattr(app.backend, "league", None)
            correction = hit_correction(league.play_by_play_payload(game_id)) if league is not None else None
            payload = orjson.loads(response.body)
            if correction is not None and apply_hit_correction(payload, family, correction):
                app._stats.fault("stat_correction")
                response.body = orjson.dumps(payload)
        drift = cfg.schema_drift
        drift_applies = drift.active and (drift.families is None or family in drift.families)
        not_final_applies = False
        if cfg.not_final_games and family in ("schedule", "boxscore", "play-by-play", "other"):
            not_final_applies = (game_id in cfg.not_final_games) if game_id is not None else True
        if not (drift_applies or not_final_applies):
            return
        try:
            payload = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            return
        changed = False
        if not_final_applies and family != "boxscore" and family != "play-by-play":
            not_final_applies = bool(game_ids_in(payload) & set(cfg.not_final_games))
        if not_final_applies and rewrite_not_final(payload, cfg.not_final_games):
            app._stats.fault("not_final")
            changed = True
        if drift_applies and apply_schema_drift(payload, drift):
            app._stats.fault("schema_drift")
            changed = True
        if changed:
            response.body = orjson.dumps(payload)

    @staticmethod
    def _late_published(app: "LoopbackNHLServer", game_id: int, late_hours: float) -> bool:
        """Whether a late shift chart is out by now (backend clock past game end + late hours)."""
        end_of = getattr(app.backend, "game_end_utc", None)
        clock = getattr(app.backend, "clock", None)
        end = end_of(game_id) if end_of else None
        if end is None or clock is None:
            return False  # cannot tell when the game ended: late behaves as missing
        return clock() >= end + timedelta(hours=late_hours)

    # -- control --

    def _control(self, path: str, query: str, body: bytes) -> None:
        app = self.server.app
        name = path[len("/_loopback/"):].strip("/")
        post = self.command == "POST"
        try:
            if name == "stats" and not post:  # ?log=0 leaves the (possibly long) request log out
                include_log = parse_qs(query).get("log", ["1"])[0].lower() not in ("0", "false", "no")
                return self._write(200, orjson.dumps(app.stats(include_log)))
            if name in ("reset", "stats/reset") and post:
                app.reset_stats()
                return self._write(200, orjson.dumps({"ok": True}))
            if name == "health":
                return self._write(200, orjson.dumps({"ok": True, **app.describe()}))
            if name == "faults":
                if post:
                    app.set_faults(FaultConfig.from_dict(orjson.loads(body or b"{}")))
                return self._write(200, orjson.dumps(app.faults.to_dict()))
            if name == "clock":
                if post:
                    raw = parse_qs(query).get("as_of", [None])[0]
                    if raw is None and body:
                        raw = orjson.loads(body).get("as_of")
                    app.set_clock(datetime.fromisoformat(raw) if raw else None)
                return self._write(200, orjson.dumps(app.clock_info()))
        except NotImplementedError as exc:
            return self._write(409, orjson.dumps({"message": str(exc)}))
        except Exception as exc:  # malformed input of any shape is the caller's error, never a dropped socket
            return self._write(400, orjson.dumps({"message": f"bad control request: {exc!r}"}))
        self._write(404, NOT_FOUND_BODY)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: "LoopbackNHLServer") -> None:
        self.app = app
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


class LoopbackNHLServer:
    """The loopback NHL API: threaded, counted, fault-injecting, bound to a loopback address.

    Use in tests as a context manager (``with LoopbackNHLServer(backend) as server:``) or via
    `start`/`stop`; the CLI runs it in the foreground with `serve_forever`. Binding happens in the
    constructor so `web_url` is known before the first request (port 0 = any free port).
    """

    def __init__(self, backend: Backend, faults: FaultConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0, *, log_limit: int = 100_000, verbose: bool = False) -> None:
        _require_loopback(host)
        self.backend = backend
        self.verbose = verbose
        self._faults = FaultState(faults or FaultConfig())
        self._stats = RequestStats(log_limit=log_limit)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._httpd = _HTTPServer((host, port), self)
        self.host = host
        self.port: int = self._httpd.server_address[1]

    # -- addresses --

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def web_url(self) -> str:
        """Replaces ``https://api-web.nhle.com`` (set as NHL_API_WEB_URL)."""
        return self.base_url

    @property
    def stats_url(self) -> str:
        """Replaces ``https://api.nhle.com`` (set as NHL_API_STATS_URL); same port, the paths differ."""
        return self.base_url

    # -- lifecycle --

    def start(self) -> "LoopbackNHLServer":
        """Serve in a background daemon thread; returns self."""
        if self._closed:
            raise RuntimeError("server already stopped")
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"loopback-nhl-{self.port}", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop` (from another thread) or KeyboardInterrupt."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop accepting, release held requests, close every open connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:  # keep-alive handler threads would otherwise keep answering
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "LoopbackNHLServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- inspection and steering --

    def stats(self, include_log: bool = True) -> dict[str, Any]:
        """Counters since start/reset: total, by_family, by_status, by_family_status, faults,
        in_flight, max_in_flight and the (target, status) log (oldest first; empty if not included)."""
        return self._stats.snapshot(include_log)

    def reset_stats(self) -> None:
        self._stats.reset()

    def request_log(self) -> list[tuple[str, int]]:
        return [(target, status) for target, status in self.stats()["log"]]

    @property
    def faults(self) -> FaultConfig:
        return self._faults.config

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the fault configuration; scripts and per-path counters restart."""
        self._faults.configure(faults)

    def set_clock(self, as_of: datetime | None) -> None:
        """Move the backend's simulated clock (naive = UTC)."""
        setter = getattr(self.backend, "set_clock", None)
        if setter is None:
            raise NotImplementedError(f"{type(self.backend).__name__} has no clock")
        setter(_utc(as_of))

    def clock_info(self) -> dict[str, Any]:
        clock = getattr(self.backend, "clock", None)
        now = clock() if clock else None
        return {"as_of": now.isoformat() if now else None, "today": self.backend.schedule_now_date()}

    def describe(self) -> dict[str, Any]:
        describe = getattr(self.backend, "describe", None)
        info = describe() if describe else {"backend": type(self.backend).__name__}
        return {**info, "web_url": self.web_url, "stats_url": self.stats_url}
