"""Gold refresh over the full simulated history: wall time per step, the model's figures, peak RSS.

    .venv/bin/python benchmarks/gold_refresh.py --repeat 3

Setup (not timed): silver for 2023-10-01 .. 2026-04-16 is parsed straight from the simulator's payloads
(the silver benchmark measures that part) and written to a fresh warehouse. Timed, each repetition in a
fresh child process through Dagster in-process runs, exactly as the jobs run: season stats (refresh),
player and team features for every game date (one single-run backfill), the model (train, evaluate on
the latest 20% of dates against the baselines, refit), and predictions for every game date.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date

from nhl_assets.cliargs import positive_int

START, END = date(2023, 10, 1), date(2026, 4, 16)


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write_silver(root: str, seed: int) -> int:
    from nhl_assets import catalog
    from nhl_assets.dates import DateWindow
    from nhl_assets.storage.migrations import ensure_current
    from nhl_assets.parse.game_stats import GameInputs, build_silver
    from nhl_assets.simulator.league import LeagueConfig, SimulatedLeague
    from nhl_assets.storage.delta import Warehouse

    league = SimulatedLeague(LeagueConfig(seed=seed))
    wh = Warehouse(root)
    ensure_current(wh)
    games = 0
    for chunk in DateWindow(START, END).chunks(60):
        inputs = [GameInputs(g.id, d, league.play_by_play_payload(g.id), league.shiftcharts_payload(g.id))
                  for d in chunk.days() for g in league.games_on(d) if g.game_type in (2, 3)]
        frames = build_silver(inputs)
        games += len(inputs)
        for table, frame in (("silver/player_game_stats", frames.players), ("silver/team_game_stats", frames.teams)):
            wh.replace_window(table, frame.to_arrow(), chunk, partition_by=catalog.partition_by(table))
    return games


def gold_phase(root: str) -> None:
    os.environ["NHL_WAREHOUSE"] = root
    from dagster import DagsterInstance, materialize

    from nhl_assets.gold.assets import skater_season_stats_asset
    from nhl_assets.resources import WarehouseResource

    from nhl_assets.dates import DateWindow
    from nhl_assets.definitions import GOLD_FEATURES_JOB, MODEL_JOB, PREDICTIONS_JOB, build_definitions
    from nhl_assets.ops.launch import model_run_config
    from nhl_assets.runs import materialize_window
    from nhl_assets.storage.delta import Warehouse

    defs, instance = build_definitions(), DagsterInstance.ephemeral()
    window = DateWindow(START, END)
    steps = {}

    def step(name, fn):
        t0 = time.monotonic()
        result = fn()
        assert result.success, name
        steps[name] = time.monotonic() - t0

    step("season stats", lambda: materialize([skater_season_stats_asset], instance=instance,
                                             resources={"warehouse": WarehouseResource()}))
    step("features", lambda: materialize_window(defs, window, instance, GOLD_FEATURES_JOB))
    # retrain: true, every repetition (the warehouse is shared, and by its rule the model would be kept)
    step("model", lambda: defs.resolve_job_def(MODEL_JOB).execute_in_process(
        instance=instance, run_config=model_run_config(defs, MODEL_JOB, retrain=True)))
    step("predictions", lambda: materialize_window(defs, window, instance, PREDICTIONS_JOB))
    wh = Warehouse(root)
    import polars as pl

    model = pl.from_arrow(wh.read_arrow("gold/sog_model")).row(-1, named=True)
    print(json.dumps({"steps": steps, "total_s": sum(steps.values()), "peak_rss_mb": peak_rss_mb(),
                      "feature_rows": wh.row_count("gold/player_game_features"),
                      "predictions": wh.row_count("gold/sog_predictions"),
                      "metrics": json.loads(model["metrics"]), "holdout_from": str(model["holdoutFrom"]),
                      "holdout_rows": model["holdoutRows"], "train_rows": model["trainRows"]}))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=positive_int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--phase", choices=("all", "gold"), default="all", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.phase == "gold":
        gold_phase(args.root)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        games = write_silver(os.path.join(tmp, "warehouse"), args.seed)
        print(f"setup: silver for {START}..{END} ({games} games) written in {time.monotonic() - t0:.1f} s")
        runs = []
        for i in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--phase", "gold", "--root", os.path.join(tmp, "warehouse")],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(out.stderr[-3000:])
            r = json.loads(out.stdout.strip().splitlines()[-1])
            runs.append(r)
            print(f"run {i + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in r["steps"].items())
                  + f"; total {r['total_s']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB, "
                  f"{r['feature_rows']} feature rows, {r['predictions']} predictions")
        med = {k: statistics.median(r["steps"][k] for r in runs) for k in runs[0]["steps"]}
        total = statistics.median(r["total_s"] for r in runs)
        print(f"median of {args.repeat}: " + ", ".join(f"{k} {v:.2f} s" for k, v in med.items())
              + f"; total {total:.2f} s")
        last = runs[-1]
        print(f"model on the held-back dates from {last['holdout_from']} ({last['holdout_rows']} player-games; "
              f"trained on {last['train_rows']}):")
        for name, m in last["metrics"].items():
            print(f"  {name:<7} MAE {m['mae']:.4f}  RMSE {m['rmse']:.4f}  Poisson deviance {m['poisson_deviance']:.4f}")
        base = last["metrics"]["last7"]["poisson_deviance"]
        print(f"  deviance vs last-7: {last['metrics']['model']['poisson_deviance'] / base:.3f}x, vs season: "
              f"{last['metrics']['model']['poisson_deviance'] / last['metrics']['season']['poisson_deviance']:.3f}x")


if __name__ == "__main__":
    main()
