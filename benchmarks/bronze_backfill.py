"""Bronze backfill against the loopback simulator: wall time, API calls, calls/s and the ratio to the
API-bound minimum (calls x latency / connections).

    .venv/bin/python benchmarks/bronze_backfill.py --days 30 --latency-ms 150 --concurrency 4

Prints the figures of each repetition and their median. Everything runs on 127.0.0.1. The simulator
runs in its own process (`nhl-assets serve`), as the real API would, so generating payloads does not
compete with the pipeline for this process's GIL (`--server inprocess` to compare).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import httpx

from dagster import DagsterInstance

from nhl_assets.cliargs import iso_date, non_negative_float, on_parsed, parse_args, positive_int
from nhl_assets.simulator.cli import DEFAULT_FIRST_DATE, DEFAULT_LAST_DATE


class _ServerProcess:
    """`nhl-assets serve` in a child process, with the same `web_url`/`stats()` surface as in-process."""

    def __init__(self, seed: int, as_of: datetime, latency_ms: float) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "nhl_assets.cli", "serve", "--mode", "sim", "--port", "0", "--seed", str(seed),
             "--as-of", as_of.isoformat(), "--latency-ms", str(latency_ms)],
            stdout=subprocess.PIPE, text=True)
        for line in self._proc.stdout:  # "export NHL_API_WEB_URL=... NHL_API_STATS_URL=..."
            if line.startswith("export "):
                pairs = dict(item.split("=", 1) for item in line.split()[1:])
                self.web_url, self.stats_url = pairs["NHL_API_WEB_URL"], pairs["NHL_API_STATS_URL"]
                break
        else:
            raise RuntimeError("the loopback server did not start")

    def stats(self) -> dict:
        return httpx.get(f"{self.web_url}/_loopback/stats", timeout=30).json()

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # seen once after a pause of the machine: never leave it orphaned
            self._proc.kill()
            self._proc.wait(timeout=30)


@contextlib.contextmanager
def loopback(kind: str, seed: int, as_of: datetime, latency_ms: float) -> Iterator:
    if kind == "subprocess":
        server = _ServerProcess(seed, as_of, latency_ms)
    else:
        from nhl_assets.simulator.cli import start_loopback

        server = start_loopback("sim", seed=seed, as_of=as_of, latency_ms=latency_ms)
    try:
        yield server
    finally:
        server.stop()


def api_bound_s(calls: int, latency_ms: float, connections: int) -> float:
    """The API-bound minimum wall time: every call waits `latency_ms`, `connections` calls at a time."""
    return calls * latency_ms / 1000 / connections


def ratio_to_bound(wall_s: float, bound_s: float) -> float | None:
    """Wall time over the API-bound minimum; None without simulated latency, where there is no minimum to
    compare with (`--latency-ms 0` is a legitimate run: the pipeline's own speed, API wait excluded)."""
    return wall_s / bound_s if bound_s > 0 else None


def ratio_text(ratio: float | None) -> str:
    """`1.22x`, or `n/a` with the reason when there is no API-bound minimum."""
    return "n/a (no simulated latency, so no API-bound minimum)" if ratio is None else f"{ratio:.2f}x"


def check_args(args: argparse.Namespace) -> None:
    """`--start`..`--start + --days - 1` must lie in the simulated history, from its first day (or
    NHL_START_DATE, the first partition, when later) to its last day."""
    from nhl_assets import settings

    first = max(DEFAULT_FIRST_DATE, settings.start_date())
    if args.start < first:
        raise ValueError(f"--start {args.start} is before the simulated history's first day or NHL_START_DATE, "
                         f"whichever is later ({first})")
    end = args.start + timedelta(days=args.days - 1)
    if end > DEFAULT_LAST_DATE:
        raise ValueError(f"--start {args.start} with --days {args.days} ends on {end}, after the simulated "
                         f"history's last day ({DEFAULT_LAST_DATE})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=iso_date, default=date(2023, 11, 1))
    parser.add_argument("--days", type=positive_int, default=30)
    parser.add_argument("--latency-ms", type=non_negative_float, default=150.0,
                        help="simulated latency per call (0: none; the ratio to the API-bound minimum is then n/a)")
    parser.add_argument("--concurrency", type=positive_int, default=4)
    parser.add_argument("--rate", type=non_negative_float, default=0.0, help="client rate limit (0 = none)")
    parser.add_argument("--repeat", type=positive_int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--server", choices=("subprocess", "inprocess"), default="subprocess")
    on_parsed(parser, check_args)
    return parser


def main() -> None:
    args = parse_args(build_parser())

    from nhl_assets.dates import DateWindow
    from nhl_assets.definitions import build_definitions
    from nhl_assets.runs import materialize_window

    window = DateWindow(args.start, args.start + timedelta(days=args.days - 1))
    as_of = datetime.combine(window.end + timedelta(days=2), datetime.min.time(), tzinfo=timezone.utc)
    walls, calls = [], []
    for rep in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["NHL_WAREHOUSE"] = os.path.join(tmp, "warehouse")
            with loopback(args.server, args.seed, as_of, args.latency_ms) as server:
                os.environ["NHL_API_WEB_URL"] = server.web_url
                os.environ["NHL_API_STATS_URL"] = server.stats_url
                defs = build_definitions()
                run_config = {"resources": {"nhl_api": {"config": {
                    "concurrency": args.concurrency, "rate_per_second": args.rate}}}}
                with DagsterInstance.ephemeral() as instance:
                    started = time.monotonic()
                    materialize_window(defs, window, instance, run_config=run_config)
                    wall = time.monotonic() - started
                n = server.stats()["total"]
        bound = api_bound_s(n, args.latency_ms, args.concurrency)
        walls.append(wall)
        calls.append(n)
        print(f"run {rep + 1}: window {window} ({args.days} days): wall {wall:.2f} s, API calls {n}, "
              f"{n / wall:.1f} calls/s, API-bound minimum {bound:.2f} s, "
              f"ratio {ratio_text(ratio_to_bound(wall, bound))}")
    med = statistics.median(walls)
    n = int(statistics.median(calls))
    bound = api_bound_s(n, args.latency_ms, args.concurrency)
    print(f"median of {args.repeat}: wall {med:.2f} s, API calls {n}, {n / med:.1f} calls/s, "
          f"ratio to API-bound minimum {ratio_text(ratio_to_bound(med, bound))} "
          f"(latency {args.latency_ms:g} ms, {args.concurrency} connections)")


if __name__ == "__main__":
    main()
