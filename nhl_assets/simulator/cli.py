"""``nhl-assets serve``: run the loopback NHL API in the foreground, and `start_loopback` for code.

Why a CLI: a developer (or a Dagster run in another process) can point ``NHL_API_WEB_URL`` /
``NHL_API_STATS_URL`` at a long-running local server, steer it through ``/_loopback/`` and watch what the
pipeline does under latency, rate limits and missing shift charts — without touching the real API.
The server only ever binds loopback addresses: its control endpoints are unauthenticated.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from nhl_assets.cliargs import fraction, iso_date, iso_datetime, non_negative_float, on_parsed, port
from nhl_assets.simulator.faults import FaultConfig
from nhl_assets.simulator.recorded import RecordedBackend, default_samples_dir
from nhl_assets.simulator.server import LoopbackNHLServer, SimulatorBackend, _require_loopback

#: The simulated history the demo and the tests use unless told otherwise (seasons 2023-24 to 2025-26).
DEFAULT_SEED = 7
DEFAULT_FIRST_DATE = date(2023, 10, 1)
DEFAULT_LAST_DATE = date(2026, 4, 16)

_FAULT_FIELDS = set(FaultConfig.__dataclass_fields__)

#: The hour (UTC) of the simulated clock on the day after a window: 15:00 UTC is 10:00 or 11:00 in New
#: York, hours after the last game of the evening before ended and its shift chart was published.
MORNING_AFTER_HOUR_UTC = 15


def clock_after(last_day: date) -> datetime:
    """The simulated clock the morning after `last_day` (15:00 UTC the next day).

    Why: the simulator serves a game as final only once its clock is past the game's end, so a window of
    game dates is whole exactly when the clock stands after its last day; and `/v1/schedule/now` then
    answers that next day's week, the upcoming games the demo predicts.
    """
    day = last_day + timedelta(days=1)
    return datetime(day.year, day.month, day.day, MORNING_AFTER_HOUR_UTC, tzinfo=timezone.utc)


def _parse_as_of(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(value)
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def build_league(seed: int = DEFAULT_SEED, first_date: date = DEFAULT_FIRST_DATE,
                 last_date: date = DEFAULT_LAST_DATE, **league_kw: Any) -> Any:
    """A `SimulatedLeague` (imported lazily: the recorded mode must work without the simulator)."""
    from nhl_assets.simulator.league import LeagueConfig, SimulatedLeague  # deferred: see the docstring

    return SimulatedLeague(LeagueConfig(seed=seed, first_date=first_date, last_date=last_date, **league_kw))


def start_loopback(mode: str = "sim", *, samples_dir: str | Path | None = None, seed: int = DEFAULT_SEED,
                   as_of: datetime | str | None = None, host: str = "127.0.0.1", port: int = 0,
                   faults: FaultConfig | None = None, league: Any = None,
                   first_date: date = DEFAULT_FIRST_DATE, last_date: date = DEFAULT_LAST_DATE,
                   league_kw: dict[str, Any] | None = None, verbose: bool = False,
                   **fault_kw: Any) -> LoopbackNHLServer:
    """Build a backend, start a `LoopbackNHLServer` in a background thread and return it (call `.stop()`).

    ``mode="sim"`` serves a seeded `SimulatedLeague` (pass `league` to reuse one already built — building
    three seasons is the slow part); ``mode="recorded"`` serves `samples_dir` (default
    ``$NHL_SAMPLES_DIR``). Extra keyword arguments are `FaultConfig` fields (``latency_ms=150``,
    ``rate_429=0.1``...), merged over `faults`.
    """
    unknown = set(fault_kw) - _FAULT_FIELDS
    if unknown:
        raise TypeError(f"start_loopback got unknown arguments {sorted(unknown)}")
    config = faults or FaultConfig()
    if fault_kw:
        config = FaultConfig.from_dict({**config.to_dict(), **fault_kw})
    clock = _parse_as_of(as_of)
    backend: Any
    if mode == "recorded":
        backend = RecordedBackend(samples_dir if samples_dir is not None else default_samples_dir(), as_of=clock)
    elif mode == "sim":
        if league is None:
            league = build_league(seed, first_date, last_date, **(league_kw or {}))
        backend = SimulatorBackend(league, as_of=clock)
    else:
        raise ValueError(f"mode must be 'sim' or 'recorded', got {mode!r}")
    return LoopbackNHLServer(backend, config, host=host, port=port, verbose=verbose).start()


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` subcommand to the project's CLI."""
    p = subparsers.add_parser(
        "serve", help="Run the loopback NHL API (simulated season or recorded payloads) in the foreground.",
        description="Serves the NHL API paths (/v1/schedule, /v1/gamecenter/{id}/boxscore|play-by-play, "
                    "/stats/rest/en/shiftcharts) on a loopback port. Export the printed NHL_API_WEB_URL and "
                    "NHL_API_STATS_URL to route the live source there. Control: GET /_loopback/stats, "
                    "POST /_loopback/clock?as_of=ISO, POST /_loopback/faults (JSON FaultConfig).")
    p.add_argument("--mode", choices=("sim", "recorded"), default="sim")
    p.add_argument("--samples-dir", help="recorded payloads (default $NHL_SAMPLES_DIR or ../shared/nhl_samples)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="simulator seed (any integer: it is hashed)")
    p.add_argument("--first-date", type=iso_date, default=DEFAULT_FIRST_DATE)
    p.add_argument("--last-date", type=iso_date, default=DEFAULT_LAST_DATE)
    p.add_argument("--as-of", type=iso_datetime, help="simulated clock, ISO datetime (naive = UTC); default wall time")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (others are refused)")
    p.add_argument("--port", type=port, default=8765, help="TCP port (0: any free port)")
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the fault decisions (any integer: it is hashed)")
    p.add_argument("--latency-ms", type=non_negative_float, default=0.0)
    p.add_argument("--latency-jitter-ms", type=non_negative_float, default=0.0)
    p.add_argument("--rate-429", type=fraction, default=0.0, help="share of requests answered 429 (0..1)")
    p.add_argument("--retry-after-s", type=non_negative_float, default=1.0)
    p.add_argument("--rate-5xx", type=fraction, default=0.0, help="share of requests answered 5xx (0..1)")
    p.add_argument("--rate-timeout", type=fraction, default=0.0, help="share of requests held until timeout (0..1)")
    p.add_argument("--timeout-hold-s", type=non_negative_float, default=30.0)
    p.add_argument("--rate-truncated", type=fraction, default=0.0, help="share of bodies truncated (0..1)")
    p.add_argument("--shift-missing-rate", type=fraction, default=0.0, help="share of shift charts never published")
    p.add_argument("--shift-late-rate", type=fraction, default=0.0, help="share of shift charts published late")
    p.add_argument("--shift-late-hours", type=non_negative_float, default=30.0)
    p.add_argument("--faults-json", help="file with a full FaultConfig as JSON (overrides the flags above)")
    p.add_argument("--speed", type=non_negative_float, default=0.0,
                   help="with --as-of: simulated seconds per real second (e.g. 1800 = a game day every 48 s), so "
                        "days arrive on their own for a sensor watching the API")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p.set_defaults(func=run_serve)
    on_parsed(p, _check_serve_args)


def _check_serve_args(args: argparse.Namespace) -> None:
    """The simulated history must be a non-empty range of dates."""
    if args.last_date < args.first_date:
        raise ValueError(f"--last-date {args.last_date} is before --first-date {args.first_date}")


def _advance_clock(server: Any, start: datetime, speed: float, stop: threading.Event) -> None:
    """Move the simulated clock forward at `speed` simulated seconds per real second."""
    began = time.monotonic()
    while not stop.wait(1.0):
        server.set_clock(start + timedelta(seconds=(time.monotonic() - began) * speed))


def faults_from_args(args: argparse.Namespace) -> FaultConfig:
    if args.faults_json:
        return FaultConfig.from_dict(json.loads(Path(args.faults_json).read_text()))
    return FaultConfig(seed=args.fault_seed, latency_ms=args.latency_ms, latency_jitter_ms=args.latency_jitter_ms,
                       rate_429=args.rate_429, retry_after_s=args.retry_after_s, rate_5xx=args.rate_5xx,
                       rate_timeout=args.rate_timeout, timeout_hold_s=args.timeout_hold_s,
                       rate_truncated=args.rate_truncated, shift_missing_rate=args.shift_missing_rate,
                       shift_late_rate=args.shift_late_rate, shift_late_hours=args.shift_late_hours)


def run_serve(args: argparse.Namespace) -> int:
    """Handler of ``nhl-assets serve``: build, print the URLs to export, serve until Ctrl-C."""
    try:
        _require_loopback(args.host)
        faults = faults_from_args(args)
        clock = _parse_as_of(args.as_of)
    except (ValueError, OSError) as exc:
        print(f"nhl-assets serve: {exc}", file=sys.stderr)
        return 2
    if args.mode == "recorded":
        folder = Path(args.samples_dir) if args.samples_dir else default_samples_dir()
        if not folder.is_dir():
            print(f"nhl-assets serve: recorded payloads not found at {folder} (set NHL_SAMPLES_DIR)",
                  file=sys.stderr)
            return 2
        backend: Any = RecordedBackend(folder, as_of=clock)
        label = f"recorded payloads from {folder}"
    else:
        backend = SimulatorBackend(build_league(args.seed, args.first_date, args.last_date), as_of=clock)
        label = f"simulated league seed {args.seed} ({args.first_date}..{args.last_date})"
    try:
        server = LoopbackNHLServer(backend, faults, host=args.host, port=args.port, verbose=args.verbose)
    except OSError as exc:
        print(f"nhl-assets serve: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(f"Loopback NHL API serving {label}", flush=True)
    print(f"export NHL_API_WEB_URL={server.web_url} NHL_API_STATS_URL={server.stats_url}", flush=True)
    print(f"stats: {server.base_url}/_loopback/stats  (Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    if args.speed and clock is not None:
        threading.Thread(target=_advance_clock, args=(server, clock, args.speed, stop), daemon=True).start()
        print(f"clock: {clock.isoformat()} advancing {args.speed:g}x", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.stop()
    return 0
