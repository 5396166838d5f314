"""`nhl-assets`: the project's command line (demo, loopback server, migrations and operations)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nhl_assets.cliargs import iso_date, non_negative_float, on_parsed, parse_args


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    from nhl_assets import demo  # deferred, like every subcommand module: `--help` loads only what it shows

    p = subparsers.add_parser(
        "demo", help="Materialize the graph offline against the loopback NHL API and print a summary.",
        description="Starts the project's loopback NHL API (a seeded simulated season, or the recorded real "
                    "payloads with --recorded), points the live source at it, materializes every asset for "
                    "the window end to end, and prints rows, partitions and Delta version per table.")
    p.add_argument("--recorded", action="store_true",
                   help="replay the recorded real payloads in NHL_SAMPLES_DIR instead of the simulator")
    p.add_argument("--start", type=iso_date,
                   help="first game date, YYYY-MM-DD (default: a few weeks of the 2023-24 season); the simulator's "
                        "clock stands on the morning after --end")
    p.add_argument("--end", type=iso_date,
                   help="last game date, YYYY-MM-DD, at most 2026-04-16 on the simulator (default: --start)")
    p.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="simulator seed (any integer: it is hashed)")
    p.add_argument("--latency-ms", type=non_negative_float, default=0.0,
                   help="simulated API latency per request (default 0 = none)")
    p.add_argument("--rate", type=non_negative_float, default=0.0,
                   help="client-side requests/s limit (default 0 = none; the live API default is 20)")
    p.add_argument("--warehouse", help="warehouse root (default $NHL_WAREHOUSE or ./warehouse)")
    p.set_defaults(func=demo.run_from_args)
    on_parsed(p, demo.check_args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nhl-assets", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_demo(subparsers)
    from nhl_assets.simulator import cli as simulator_cli  # deferred: subcommand modules load with the parser

    simulator_cli.register(subparsers)
    from nhl_assets.ops import backfill, commands, maintain  # deferred: as above

    commands.register(subparsers)
    backfill.register(subparsers)
    from nhl_assets.ops import import_raw  # deferred: as above

    import_raw.register(subparsers)
    maintain.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(build_parser(), argv)
    code = args.func(args)
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
