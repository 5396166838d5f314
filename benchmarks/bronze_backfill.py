"""Bronze backfill against the loopback simulator: wall time, API calls, calls/s and the ratio to the
API-bound minimum (calls x latency / connections).

    .venv/bin/python benchmarks/bronze_backfill.py --days 30 --latency-ms 150 --concurrency 4

Prints the figures of each repetition and their median. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone

from dagster import DagsterInstance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", default="2023-11-01")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rate", type=float, default=0.0, help="client rate limit (0 = none)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from nhl_assets.definitions import build_definitions
    from nhl_assets.partitions import DateWindow
    from nhl_assets.runs import materialize_window
    from nhl_assets.simulator.cli import start_loopback

    window = DateWindow.of(args.start)
    window = DateWindow(window.start, window.start + timedelta(days=args.days - 1))
    as_of = datetime.combine(window.end + timedelta(days=2), datetime.min.time(), tzinfo=timezone.utc)
    walls, calls = [], []
    for rep in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["NHL_WAREHOUSE"] = os.path.join(tmp, "warehouse")
            server = start_loopback("sim", seed=args.seed, as_of=as_of, latency_ms=args.latency_ms)
            try:
                os.environ["NHL_API_WEB_URL"] = server.web_url
                os.environ["NHL_API_STATS_URL"] = server.stats_url
                defs = build_definitions()
                run_config = {"resources": {"nhl_api": {"config": {
                    "concurrency": args.concurrency, "rate_per_second": args.rate}}}}
                job = defs.resolve_job_def("nhl_partitions")
                started = time.monotonic()
                job.execute_in_process(
                    instance=DagsterInstance.ephemeral(), run_config=run_config,
                    tags={"dagster/asset_partition_range_start": window.start.isoformat(),
                          "dagster/asset_partition_range_end": window.end.isoformat()})
                wall = time.monotonic() - started
                n = server.stats()["total"]
            finally:
                server.stop()
        bound = n * args.latency_ms / 1000 / args.concurrency
        walls.append(wall)
        calls.append(n)
        print(f"run {rep + 1}: window {window} ({args.days} days): wall {wall:.2f} s, API calls {n}, "
              f"{n / wall:.1f} calls/s, API-bound minimum {bound:.2f} s, ratio {wall / bound:.2f}x")
    med = statistics.median(walls)
    n = int(statistics.median(calls))
    bound = n * args.latency_ms / 1000 / args.concurrency
    print(f"median of {args.repeat}: wall {med:.2f} s, API calls {n}, {n / med:.1f} calls/s, "
          f"ratio to API-bound minimum {med / bound:.2f}x (latency {args.latency_ms:g} ms, "
          f"{args.concurrency} connections)")


if __name__ == "__main__":
    main()
