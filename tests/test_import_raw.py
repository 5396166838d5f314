"""Raw imports: saved NHL API responses (recorded real ones and simulator output written to files) loaded
into bronze through the bronze asset, identified by content, merged by key, idempotent, with zero API calls,
and silver built from them equal to silver built from an API fetch."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pytest
from dagster import AssetKey, DagsterInstance

from nhl_assets.automation.plan import Cursor, plan_bronze
from nhl_assets.automation.sensors import day_states, schedule_days
from nhl_assets.bronze import importer as im
from nhl_assets.bronze import tables as bt
from nhl_assets.dates import DateWindow
from nhl_assets.definitions import BRONZE_JOB, PARTITIONED_JOB, build_definitions
from nhl_assets.ops.import_raw import import_windows, plan_folder, run_import
from nhl_assets.runs import materialize_window
from nhl_assets.silver import build as sb
from nhl_assets.source.client import NHLSource
from nhl_assets.storage.delta import Warehouse

from .helpers import FAST_API, REPO, fast_settings, point_api_at

WINDOW = DateWindow.of("2023-11-04", "2023-11-05")
DEAD_API = "http://127.0.0.1:9"  # the discard port: nothing listens, every request would fail at once
FIRST, LAST = date(2023, 10, 1), date(2026, 12, 31)


def wh() -> Warehouse:
    return Warehouse(os.environ["NHL_WAREHOUSE"])


def table(name: str, root: str | None = None) -> pl.DataFrame:
    t = Warehouse(root or os.environ["NHL_WAREHOUSE"]).read_arrow(name)
    return pl.DataFrame() if t is None else pl.from_arrow(t)


def rows(name: str, root: str | None = None, drop: tuple[str, ...] = ()) -> list[tuple]:
    """Every stored row of a table (all columns unless dropped), sorted: 'identical tables' means this."""
    df = table(name, root)
    return sorted(df.drop([c for c in drop if c in df.columns]).rows()) if df.height else []


def dead_api(monkeypatch) -> None:
    monkeypatch.setenv("NHL_API_WEB_URL", DEAD_API)
    monkeypatch.setenv("NHL_API_STATS_URL", DEAD_API)


def games_of(league, day: date) -> list[int]:
    return [g.id for g in league.games_on(day) if g.game_type in (2, 3)]


def write_sim_folder(server, league, folder: Path, days, *, schedule: bool = True, games: set[int] | None = None,
                     endpoints: tuple[str, ...] = ("play_by_play", "boxscore", "shift_chart")) -> list[Path]:
    """The simulator's responses saved the ways people save them: mixed names, nesting, some gzipped.

    The bytes are exactly what the loopback server serves (its backend, no HTTP request made)."""
    backend, written = server.backend, []

    def put(path: Path, body: bytes, gz: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(body) if gz else body)
        written.append(path)

    for i, day in enumerate(days):
        if schedule:
            put(folder / "schedules" / f"schedule_{day}.json", backend.schedule(day.isoformat()))
        for j, gid in enumerate(games_of(league, day)):
            if games is not None and gid not in games:
                continue
            if "play_by_play" in endpoints:  # "2023020204.json" here and under shifts/: content decides
                put(folder / "pbp" / str(day.year) / f"{gid}.json" if j % 2 else folder / f"pbp_{gid}.json",
                    backend.play_by_play(gid))
            if "boxscore" in endpoints:
                put(folder / "box" / f"boxscore-{gid}.json.gz", backend.boxscore(gid), gz=True)
            if "shift_chart" in endpoints:
                put(folder / "shifts" / f"{gid}.json", backend.shiftcharts(gid), gz=(i + j) % 3 == 0)
    return written


def import_folder(folder: Path, window: DateWindow, layers=("bronze",), instance=None):
    results = run_import(folder, [window], instance or DagsterInstance.ephemeral(), layers=set(layers))
    assert all(r.success for r in results), [r.run_id for r in results if not r.success]
    return results


def ledger_md(result) -> dict:
    mat = next(m for m in result.asset_materializations_for_node("bronze_nhl_api")
               if m.asset_key == AssetKey(["bronze", "games"]))
    return {k: v.value for k, v in mat.metadata.items()}


def data_versions(result) -> dict[str, str]:
    return {m.asset_key.to_user_string(): m.tags["dagster/data_version"]
            for m in result.asset_materializations_for_node("bronze_nhl_api")}


# --------------------------------------------------------------------------- identification (pure)


def test_files_are_identified_by_content_never_by_name(tmp_path, league):
    gid = games_of(league, date(2023, 11, 4))[0]
    pbp, box = league.play_by_play_payload(gid), league.boxscore_payload(gid)
    assert im.identify(pbp) == im.Identified("play_by_play", gid, date(2023, 11, 4), final=True)
    assert im.identify(box).kind == "boxscore"
    legacy = {k: v for k, v in box.items() if k != "playerByGameStats"} | {
        "boxscore": {"playerByGameStats": box["playerByGameStats"]}}
    assert im.identify(legacy).kind == "boxscore"  # the pre-2024 schema keeps the stats under `boxscore`
    shifts = im.identify(league.shiftcharts_payload(gid))
    assert (shifts.kind, shifts.game_id, shifts.game_date) == ("shift_chart", gid, None)  # no date of its own
    week = im.identify(league.schedule_payload(date(2023, 11, 4)))
    assert week.kind == "schedule" and week.game_date == date(2023, 11, 4) and len(week.week) == 7
    assert set(games_of(league, date(2023, 11, 4))) == set(week.week[0].game_ids)
    refused = {
        "score": {"currentDate": "2023-11-04", "gameWeek": [{"date": "2023-11-04"}], "games": []},
        "stats": {"data": [{"playerId": 1, "goals": 3}], "total": 1},
        "unpublished": {"data": [], "total": 0},
        "preseason": {**pbp, "id": 2023010004, "gameType": 1},
        "id beyond 64 bits": {**pbp, "id": 1 << 63},
        "negative id": {**pbp, "id": -2023020004},
        "schedule id beyond 64 bits": {"gameWeek": [{"date": "2023-11-04", "games": [{"id": 1 << 64, "gameType": 2}]}]},
        "list": [pbp],
        "other": {"hello": "world"},
    }
    reasons = {}
    for name, payload in refused.items():
        with pytest.raises(im.NotImportable) as exc:
            im.identify(payload)
        reasons[name] = str(exc.value)
    assert "score" in reasons["score"] and "not a shift chart" in reasons["stats"]
    assert "no rows" in reasons["unpublished"] and "game type 1" in reasons["preseason"]
    assert "JSON list" in reasons["list"] and "top-level keys: hello" in reasons["other"]
    assert reasons["id beyond 64 bits"] == reasons["negative id"] == \
        "play-by-play without an integer game 'id' (positive, 64-bit)"
    assert reasons["schedule id beyond 64 bits"] == \
        "schedule of 2023-11-04 lists a game without an integer 'id' (positive, 64-bit)"
    # bodies: gzip by magic bytes, a truncated gzip, an empty file, a text file
    body = orjson.dumps(pbp)
    (tmp_path / "a.json").write_bytes(gzip.compress(body))  # gzipped under a .json name: still read
    assert im.read_body(tmp_path / "a.json") == body
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(body)[:200])
    (tmp_path / "c.json").write_bytes(b"")
    (tmp_path / "d.txt").write_bytes(b"notes about games")
    for name, reason in (("b.json.gz", "truncated or corrupt gzip"), ("c.json", "empty file")):
        with pytest.raises(im.NotImportable, match=reason):
            im.read_body(tmp_path / name)
    with pytest.raises(im.NotImportable, match="^not JSON$"):
        im.decode(im.read_body(tmp_path / "d.txt"))
    with pytest.raises(im.NotImportable, match="invalid JSON"):
        im.decode(body[: len(body) // 2])


def test_a_file_changed_after_the_scan_is_refused(tmp_path, league):
    gid = games_of(league, date(2023, 11, 4))[0]
    (tmp_path / "g.json").write_bytes(orjson.dumps(league.play_by_play_payload(gid)))
    plan = im.scan(tmp_path, known_dates={}, first=FIRST, last=LAST)
    saved = plan.days[date(2023, 11, 4)].games[gid]["play_by_play"]
    (tmp_path / "g.json").write_bytes(orjson.dumps(league.play_by_play_payload(gid)) + b" ")
    with pytest.raises(im.ImportFileChanged):
        im.load(saved)


@pytest.mark.unit
def test_date_ranges_split_off_seasons_into_separate_runs():
    d = date.fromisoformat
    assert im.date_ranges([d("2024-04-10"), d("2023-10-10"), d("2023-11-25"), d("2023-12-24")]) == [
        (d("2023-10-10"), d("2023-10-10")), (d("2023-11-25"), d("2023-12-24")), (d("2024-04-10"), d("2024-04-10"))]


# --------------------------------------------------------------------------- recorded real payloads


def _recorded_folder(samples: Path, folder: Path) -> dict[str, Path]:
    """Copies (test time only, never committed) of recorded payloads under names people use, plus junk."""
    g = samples / "games"
    layout = {
        "pbp_2023020204.json": g / "2023020204_play_by_play.json",
        "2023-24/shifts/2023020204.json": g / "2023020204_shiftcharts.json",
        "old/2023020204.json": g / "2023020204_play_by_play_earlier_fetch.json",
        "schedule_2023-11-07.json": samples / "schedules" / "schedule_2023-11-07_week_pregame.json",
        "misc/skater_summary.json": samples / "stats" / "skater_summary_20222023_page1.json",
        "misc/score_2023-11-09.json": samples / "schedules" / "score_2023-11-09_pregame.json",
        "shifts/2023020850.json": g / "2023020850_shiftcharts.json",
    }
    out = {}
    for rel, src in layout.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        out[rel] = Path(shutil.copyfile(src, folder / rel))
    out["box/boxscore-2023020204.json.gz"] = folder / "box" / "boxscore-2023020204.json.gz"
    out["box/boxscore-2023020204.json.gz"].parent.mkdir()
    out["box/boxscore-2023020204.json.gz"].write_bytes(gzip.compress((g / "2023020204_boxscore.json").read_bytes()))
    out["2024030121.json"] = folder / "2024030121.json"  # a download cut short
    out["2024030121.json"].write_bytes((g / "2024030121_play_by_play.json").read_bytes()[:5000])
    out["notes.txt"] = folder / "notes.txt"
    out["notes.txt"].write_text("saved with curl | tee\n")
    old = time.time() - 86400 * 400  # the earlier fetch was saved long before the current one
    os.utime(out["old/2023020204.json"], (old, old))
    return out


def test_recorded_payloads_import_with_varied_names_and_bad_files_skipped(nhl_samples, tmp_path, warehouse_env,
                                                                         monkeypatch):
    dead_api(monkeypatch)
    folder = tmp_path / "saved"
    files = _recorded_folder(nhl_samples, folder)
    plan = plan_folder(folder, wh())
    skipped = {s.path: s.reason for s in plan.skipped}
    assert set(skipped) == {"misc/skater_summary.json", "misc/score_2023-11-09.json", "shifts/2023020850.json",
                            "2024030121.json", "notes.txt"}
    assert skipped["2024030121.json"].startswith("invalid JSON") and skipped["notes.txt"] == "not JSON"
    assert "game date is unknown" in skipped["shifts/2023020850.json"]
    assert [s.path for s in plan.superseded] == ["old/2023020204.json"]  # same game and endpoint, older save
    # the schedule answers the date it was requested for and, of its week, the dates the folder has games of
    assert plan.dates == [date(2023, 11, 7), date(2023, 11, 10)]
    assert import_windows(plan) == [DateWindow.of("2023-11-07", "2023-11-10")]

    results = import_folder(folder, DateWindow.of("2023-11-07", "2023-11-10"), layers=("bronze", "silver"))
    md = ledger_md(results[0])
    assert (md["files_imported"], md["files_skipped"], md["files_superseded"], md["api_calls"]) == (4, 5, 1, 0)
    assert md["imported_games"] == md["imported_games_complete"] == 1
    # each response row: the file's body as received, its sha256, source `import`, saved at its mtime
    for name, rel in (("play_by_play", "pbp_2023020204.json"), ("boxscore", "box/boxscore-2023020204.json.gz"),
                      ("shift_charts", "2023-24/shifts/2023020204.json")):
        (row,) = table(f"bronze/{name}").to_dicts()
        body = im.read_body(files[rel])
        assert (row["gameId"], row["gameDate"], row["source"], row["httpStatus"], row["attempts"]) == (
            2023020204, date(2023, 11, 10), "import", 200, 0)
        assert row["body"] == body and row["sha256"] == hashlib.sha256(body).hexdigest()
        assert row["fetchedAt"] == datetime.fromtimestamp(files[rel].stat().st_mtime, tz=timezone.utc)
    assert table(bt.SHIFT_CHARTS)["request"][0] == "/stats/rest/en/shiftcharts?cayenneExp=gameId=2023020204"
    sched = table(bt.SCHEDULE)
    assert sorted(sched["gameDate"]) == [date(2023, 11, 7), date(2023, 11, 10)]
    assert set(sched["request"]) == {"/v1/schedule/2023-11-07"}  # one response, two of its dates
    ledger = table(bt.GAMES).filter(pl.col("gameDate") == date(2023, 11, 10))
    done = ledger.filter(pl.col("gameId") == 2023020204).row(0, named=True)
    assert done["isFinal"] and done["isComplete"] and done["missing"] == []  # final by its own payloads
    others = ledger.filter(pl.col("gameId") != 2023020204)  # the pregame schedule's other games: not played then
    assert others.height == 5 and not others["isComplete"].any()
    assert set(others["missing"].list.first()) == {"final: gameState=FUT"}
    players = table(sb.PLAYERS)
    assert set(players["gameId"]) == {2023020204} and players["icetime"].sum() > 0  # silver from imported bronze
    assert table(sb.QUARANTINE).height == 0


def test_recorded_team_season_of_play_by_play_becomes_bronze_rows(nhl_samples):
    """80 Kraken games, read in place: one date each, bronze's exact layout, honest about what is missing."""
    folder = nhl_samples / "kraken_2024-25"
    plan = im.scan(folder, known_dates={}, first=FIRST, last=LAST)
    assert plan.files_found == 80 and not plan.skipped and not plan.superseded
    assert len(plan.games()) == 80 and len(plan.dates) == 80
    assert plan.dates[0] >= date(2024, 10, 1) and plan.dates[-1] <= date(2025, 4, 30)
    staged = {t: [] for t in bt.BRONZE_TABLES}
    for day in plan.dates:
        merged = im.merge_day(day, plan.days[day], im.StoredDay(), run_id="test")
        for t, r in merged.rows.items():
            staged[t].extend(r)
    frames = {t: pl.from_arrow(pa.Table.from_pylist(r, schema=bt.SCHEMAS[t])) for t, r in staged.items()}
    pbp, ledger = frames[bt.PLAY_BY_PLAY], frames[bt.GAMES]
    assert pbp.height == 80 and set(pbp["source"]) == {"import"} and frames[bt.SCHEDULE].height == 0
    assert sorted(pbp.select("gameId", "gameDate").rows()) == sorted(ledger.select("gameId", "gameDate").rows())
    assert pbp.select("gameDate").n_unique() == 80  # each game under its own date, from its own gameDate
    assert ledger.height == 80 and ledger["isFinal"].all()  # 25 say FINAL rather than OFF: final either way
    assert ((ledger["homeTeam"] == "SEA") | (ledger["awayTeam"] == "SEA")).all()
    assert set(map(tuple, ledger["missing"].to_list())) == {("boxscore: not in the import",
                                                             "shift_chart: not in the import")}


# --------------------------------------------------------------------------- simulator output written to files


def test_import_equals_api_fetch_in_silver_with_zero_api_calls_and_reimport_is_identical(
        sim_server, league, tmp_path, monkeypatch):
    api_root, import_root = str(tmp_path / "wh_api"), str(tmp_path / "wh_import")
    point_api_at(monkeypatch, sim_server)
    monkeypatch.setenv("NHL_WAREHOUSE", api_root)
    materialize_window(build_definitions(), WINDOW, DagsterInstance.ephemeral(), PARTITIONED_JOB,
                       run_config=FAST_API)
    folder = tmp_path / "saved"
    write_sim_folder(sim_server, league, folder, WINDOW.days())
    monkeypatch.setenv("NHL_WAREHOUSE", import_root)
    sim_server.reset_stats()
    first = import_folder(folder, WINDOW, layers=("bronze", "silver"))
    assert sim_server.stats()["total"] == 0  # neither the import nor silver asked the API anything
    for t in sb.SILVER_TABLES:
        assert rows(t, import_root, drop=("quarantinedAt",)) == rows(t, api_root, drop=("quarantinedAt",)), t
    assert table(sb.PLAYERS).height > 500
    for t in (bt.PLAY_BY_PLAY, bt.BOXSCORE, bt.SHIFT_CHARTS, bt.SCHEDULE):  # the same bytes, another source
        key = [c for c in ("gameDate", "gameId", "sha256", "httpStatus", "body") if c in table(t).columns]
        assert rows(t, import_root, drop=tuple(set(table(t).columns) - set(key))) == \
            rows(t, api_root, drop=tuple(set(table(t, api_root).columns) - set(key))), t
        assert set(table(t)["source"]) == {"import"} and set(table(t, api_root)["source"]) == {"api"}
    same = ("gameDate", "gameId", "season", "gameType", "gameState", "homeTeam", "awayTeam", "startTimeUTC",
            "isFinal", "hasBoxscore", "hasPlayByPlay", "hasShiftChart", "isComplete", "missing")
    assert table(bt.GAMES).select(same).sort("gameId").rows() == table(bt.GAMES, api_root).select(same).sort(
        "gameId").rows()
    assert rows(bt.SCHEDULE, drop=tuple(set(table(bt.SCHEDULE).columns) - {"gameDate", "numberOfGames"})) == \
        rows(bt.SCHEDULE, api_root, drop=tuple(set(table(bt.SCHEDULE).columns) - {"gameDate", "numberOfGames"}))
    before = {t: rows(t) for t in bt.BRONZE_TABLES}
    again = import_folder(folder, WINDOW)
    assert {t: rows(t) for t in bt.BRONZE_TABLES} == before  # every column: run ids and times included
    assert data_versions(again[0]) == data_versions(first[0])  # so silver stays fresh


def test_partial_date_import_keeps_every_other_stored_row(sim_server, league, tmp_path, warehouse_env,
                                                          monkeypatch):
    point_api_at(monkeypatch, sim_server)
    day = date(2023, 11, 4)
    defs = build_definitions()
    materialize_window(defs, DateWindow.of("2023-11-03", "2023-11-05"), DagsterInstance.ephemeral(), BRONZE_JOB,
                       run_config=FAST_API)
    before = {t: rows(t) for t in bt.BRONZE_TABLES}
    g1, g2 = games_of(league, day)[:2]
    folder = tmp_path / "saved"
    write_sim_folder(sim_server, league, folder, [day], schedule=False, games={g1})
    write_sim_folder(sim_server, league, folder / "late", [day], schedule=False, games={g2},
                     endpoints=("shift_chart",))  # a shift chart alone: dated by the bronze ledger
    sim_server.reset_stats()
    result = import_folder(folder, DateWindow.of("2023-11-04"))[0]
    assert sim_server.stats()["total"] == 0 and ledger_md(result)["imported_games"] == 2
    imported = {bt.PLAY_BY_PLAY: {g1}, bt.BOXSCORE: {g1}, bt.SHIFT_CHARTS: {g1, g2}, bt.GAMES: {g1, g2},
                bt.SCHEDULE: set()}  # the ledger rows of both games are recomputed from their responses
    for t, ids in imported.items():
        kept_before = [r for r in before[t] if t == bt.SCHEDULE or r[1] not in ids]
        kept_after = [r for r in rows(t) if t == bt.SCHEDULE or r[1] not in ids]
        assert kept_after == kept_before, t  # other games, the schedule and neighbouring dates: verbatim
        if t not in (bt.GAMES, bt.SCHEDULE):
            sources = dict(table(t).filter(pl.col("gameDate") == day).select("gameId", "source").rows())
            assert {g for g, s in sources.items() if s == "import"} == ids, t
            assert len(sources) == len(games_of(league, day)), t
    ledger = table(bt.GAMES).filter(pl.col("gameDate") == day)
    assert ledger.height == len(games_of(league, day)) and ledger["isComplete"].all()


def test_sensor_treats_a_fully_imported_date_as_complete(sim_server, league, tmp_path, warehouse_env, monkeypatch):
    no_schedule, full, no_chart = date(2023, 11, 2), date(2023, 11, 4), date(2023, 11, 6)
    folder = tmp_path / "saved"
    write_sim_folder(sim_server, league, folder / "a", [full, no_chart])
    write_sim_folder(sim_server, league, folder / "b", [no_schedule], schedule=False)  # no saved week covers it
    (folder / "a" / "shifts" / f"{games_of(league, no_chart)[0]}.json").unlink()
    dead_api(monkeypatch)
    import_folder(folder, DateWindow(no_schedule, no_chart))
    assert set(table(bt.GAMES)["gameDate"]) == {no_schedule, full, no_chart}  # no date without imported games
    today, first = date(2023, 11, 10), date(2023, 11, 1)
    with NHLSource(fast_settings(sim_server)) as source:
        states = day_states(wh(), schedule_days(source, today, first), first, today)
    assert states[full].complete and states[no_schedule].ledger_games == len(games_of(league, no_schedule))
    assert not states[no_schedule].fetched and not states[no_chart].complete
    assert not states[date(2023, 11, 5)].fetched  # in the saved week of 11-04, but the folder has no games of it
    decisions, _ = plan_bronze(today, states, Cursor(), lookback_days=3, give_up_days=10, retry_every_minutes=60,
                               start=first, now=time.time())
    reasons = {d.day: d.reason for d in decisions if d.day in (full, no_schedule, no_chart)}
    assert reasons == {no_schedule: "new", no_chart: "incomplete"}  # the complete date is not re-downloaded
    lookback, _ = plan_bronze(date(2023, 11, 6), states, Cursor(), lookback_days=3, give_up_days=10,
                              retry_every_minutes=60, start=first, now=time.time())
    assert {d.reason for d in lookback if d.day == full} == {"lookback"}  # only the normal lookback


def test_import_job_in_the_ui_needs_a_folder(warehouse_env, monkeypatch):
    dead_api(monkeypatch)
    defs = build_definitions()
    job = defs.resolve_job_def("nhl_import_raw")
    assert "import_dir" in job.run_config_schema.config_type.fields["ops"].config_type.fields[
        "bronze_nhl_api"].config_type.fields["config"].config_type.fields
    result = materialize_window(defs, DateWindow.of("2023-11-04"), DagsterInstance.ephemeral(), "nhl_import_raw",
                                raise_on_error=False)
    assert not result.success
    message = result.get_step_failure_events()[0].event_specific_data.error.message
    assert "import_dir" in message  # never a silent API fetch under the import job's name


def test_cli_imports_a_folder_end_to_end(sim_server, league, tmp_path):
    folder = tmp_path / "saved"
    write_sim_folder(sim_server, league, folder, [date(2023, 11, 4)])
    (folder / "junk.json").write_bytes(b'{"not": "nhl"}')
    env = {**os.environ, "NHL_WAREHOUSE": str(tmp_path / "wh"), "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "NHL_API_WEB_URL": DEAD_API, "NHL_API_STATS_URL": DEAD_API}
    cli = [str(Path(sys.executable).parent / "nhl-assets"), "import-raw", str(folder)]
    dry = subprocess.run([*cli, "--dry-run"], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "junk.json" in dry.stdout and not (tmp_path / "wh" / "bronze").exists()  # the dry run wrote nothing
    done = subprocess.run(cli, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "junk.json" in done.stdout and "not a play-by-play, boxscore, shift chart or schedule" in done.stdout
    n = len(games_of(league, date(2023, 11, 4)))
    assert table(sb.PLAYERS, str(tmp_path / "wh"))["gameId"].n_unique() == n
    assert table(bt.GAMES, str(tmp_path / "wh"))["isComplete"].sum() == n
    instance = DagsterInstance.from_config(str(tmp_path / "dagster_home"))
    runs = {r.job_name: r for r in instance.get_runs()}
    assert set(runs) == {"nhl_import_raw", "nhl_silver_replay"}
    assert all(r.is_success and r.tags["nhl/import"] == str(folder.resolve()) for r in runs.values())
