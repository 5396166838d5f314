"""Silver parse (pure): situations on hand-checked real plays, reconciliation with official boxscores on
the recorded games and on many simulated ones, and per-situation ice time / on-ice counts against the
simulator's own ground truth (the timeline that generated the payloads).
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import sysconfig
from bisect import bisect_right
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import orjson
import polars as pl
import pytest

from nhl_assets.parse import situations as sit
from nhl_assets.parse.boxscore import boxscore_players, boxscore_teams
from nhl_assets.parse.game_stats import SITUATIONS, GameInputs, build_silver
from nhl_assets.parse.plays import RegularPlayByPlay
from nhl_assets.parse.reconcile import reconcile
from nhl_assets.parse.validate import split_valid
from nhl_assets.silver.build import EXPECTATIONS, PLAYERS, TEAMS

AWAY, HOME = 0, 1
NAMES = {sit.S5ON5: "5on5", sit.S5ON4: "5on4", sit.S4ON5: "4on5", sit.SOTHER: "other"}


def load(path: Path) -> dict:
    return orjson.loads(path.read_bytes())


# ----------------------------------------------------------------------------------------------------
# situationCode semantics
# ----------------------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(("code", "away", "home"), [
    ("1551", "5on5", "5on5"),
    ("1451", "4on5", "5on4"),   # away shorthanded: home power play
    ("1541", "5on4", "4on5"),   # home shorthanded
    ("1441", "other", "other"),  # 4 on 4
    ("1331", "other", "other"),  # 3 on 3 overtime
    ("1351", "other", "other"),  # 5 on 3
    ("0651", "other", "other"),  # away goalie pulled for an extra attacker
    ("1560", "other", "other"),  # home goalie pulled
    ("0641", "other", "other"),  # pulled goalie while shorthanded
    ("1010", "other", "other"),  # penalty shot by the home team
    ("0101", "other", "other"),  # penalty shot by the away team
])
def test_situation_of_a_code_from_each_side(code, away, home):
    state = sit.parse_code(code)
    assert (NAMES[sit.situation(state, AWAY)], NAMES[sit.situation(state, HOME)]) == (away, home)
    assert sit.situation_pair(state) == (sit.situation(state, AWAY), sit.situation(state, HOME))


@pytest.mark.unit
def test_malformed_codes_are_not_states():
    assert sit.parse_code(None) is None and sit.parse_code("15a1") is None and sit.parse_code("151") is None
    assert not sit.is_timeline_state(sit.parse_code("1010"))  # penalty shot: an instant, not a stretch of play
    assert sit.is_timeline_state(sit.parse_code("0651"))
    # a goalie digit other than 0/1, more than six skaters a side, or digits that are not ASCII: no state
    for code in ("9999", "2551", "1571", "1517", "\u0661\u0665\u0665\u0661"):
        assert sit.parse_code(code) is None, code
    assert sit.parse_code("1561") == (1, 5, 6, 1)  # six skaters: a pulled goalie, or too many men


# ----------------------------------------------------------------------------------------------------
# hand-checked plays of real games (recorded payloads)
# ----------------------------------------------------------------------------------------------------

SO_GOAL = 810
#: (file under NHL_SAMPLES_DIR, sortOrder, kind, the shooting team's situation, what the play is)
HAND_CHECKED = [
    ("games/2023020204_play_by_play.json", 245, "goal", "5on4", "MIN power-play goal at 19:30 of P1 (1541)"),
    ("games/2024030121_play_by_play.json", 195, "goal", "5on4", "TBL power-play goal, playoffs (1451)"),
    ("games/2023020204_play_by_play.json", 222, "goal", "5on5", "even-strength goal (1551)"),
    ("kraken_2024-25/play_by_play/play_by_play_2024020273.json", 572, "goal", "4on5",
     "shorthanded goal by the away team (1451)"),
    ("kraken_2024-25/play_by_play/play_by_play_2024020909.json", 396, "goal", "4on5",
     "shorthanded goal by the home team (1541)"),
    ("kraken_2024-25/play_by_play/play_by_play_2024020053.json", 520, "goal", "other", "4-on-4 goal (1441)"),
    ("kraken_2024-25/play_by_play/play_by_play_2024020087.json", 846, "goal", "other", "3-on-3 overtime goal"),
    ("kraken_2024-25/play_by_play/play_by_play_2024020033.json", 702, "goal", "other",
     "goal by the away team with its goalie pulled (0651)"),
    ("games/2024021015_play_by_play.json", 756, "goal", "other", "PIT empty-net goal, MIN goalie pulled (1560)"),
    ("kraken_2024-25/play_by_play/play_by_play_2024020472.json", 430, "goal", "other", "penalty-shot goal (0101)"),
    ("kraken_2024-25/play_by_play/play_by_play_2024020982.json", 316, "shot-on-goal", "other",
     "penalty-shot save (1010)"),
    ("kraken_2024-25/play_by_play/play_by_play_2024020033.json", SO_GOAL, "goal", None,
     "shootout goal: never counts"),
]

_STAT = {"goal": "goals", "shot-on-goal": "shotsOnGoal"}


def _team_counts(payload: dict, gid: int, kind: str) -> dict[tuple[str, str], int]:
    """Silver team_game_stats `<stat>For` per (team, situation) for one game."""
    frames = build_silver([GameInputs(gid, date(2000, 1, 1), payload, None)])
    assert frames.rejected == []
    col = f"{_STAT[kind]}For"
    return {(r["team"], r["situation"]): r[col] for r in frames.teams.select("team", "situation", col).to_dicts()}


@pytest.mark.unit
@pytest.mark.samples
@pytest.mark.parametrize(("path", "sort_order", "kind", "expected", "what"), HAND_CHECKED,
                         ids=[h[4] for h in HAND_CHECKED])
def test_hand_checked_play_lands_in_its_situation(nhl_samples, path, sort_order, kind, expected, what):
    payload = load(nhl_samples / path)
    play = next(p for p in payload["plays"] if p["sortOrder"] == sort_order)
    assert play["typeDescKey"] == kind
    owner = play["details"]["eventOwnerTeamId"]
    team = next(t["abbrev"] for t in (payload["awayTeam"], payload["homeTeam"]) if t["id"] == owner)
    with_play = _team_counts(payload, payload["id"], kind)
    without = dict(payload, plays=[p for p in payload["plays"] if p["sortOrder"] != sort_order])
    counts = _team_counts(without, payload["id"], kind)
    diff = {k: with_play[k] - counts.get(k, 0) for k in with_play if with_play[k] != counts.get(k, 0)}
    # the one play adds exactly one to its team, in its situation and in `all`, nowhere else
    assert diff == ({} if expected is None else {(team, expected): 1, (team, "all"): 1}), what


def _recorded_pbp(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.json") if "play_by_play" in p.name)


@pytest.mark.unit
@pytest.mark.samples
def test_every_recorded_play_by_play_parses_and_goals_equal_the_final_score(nhl_samples):
    """Team goals from events (shootout excluded) = final score minus the shootout winner's extra goal."""
    files = _recorded_pbp(nhl_samples)
    assert len(files) >= 160  # 167 files, 166 games
    games, shootouts = [], 0
    for f in files:
        payload = load(f)
        if payload["id"] in {g.game_id for g in games}:
            continue  # the same game fetched twice (2023020204)
        games.append(GameInputs(payload["id"], date.fromisoformat(payload["gameDate"]), payload, None))
    frames = build_silver(games)
    assert frames.rejected == []
    goals = {(r["gameId"], r["team"]): r["goalsFor"]
             for r in frames.teams.filter(pl.col("situation") == "all").to_dicts()}
    checked = set()
    for g in games:
        p = g.play_by_play
        so = p.get("gameOutcome", {}).get("lastPeriodType") == "SO"
        shootouts += so
        scores = {t["abbrev"]: t["score"] for t in (p["awayTeam"], p["homeTeam"])}
        winner = max(scores, key=scores.get)
        for team, score in scores.items():
            assert goals[(g.game_id, team)] == score - (1 if so and team == winner else 0), (g.game_id, team)
        checked.add(g.game_id)
    assert len(checked) == len({g.game_id for g in games}) and shootouts > 0


@pytest.mark.unit
@pytest.mark.samples
def test_event_counts_per_situation_equal_a_direct_count_of_the_codes(nhl_samples):
    """An independent count: every shot, goal and hit by its own situationCode from the owner's side."""
    kinds = {"goal": "goalsFor", "shot-on-goal": "shotsOnGoalFor", "missed-shot": "missedShotsFor",
             "blocked-shot": "blockedShotAttemptsFor", "hit": "hitsFor"}
    games, expected = [], Counter()
    for f in _recorded_pbp(nhl_samples):
        p = load(f)
        gid = p["id"]
        if gid in {g.game_id for g in games}:
            continue
        games.append(GameInputs(gid, date.fromisoformat(p["gameDate"]), p, None))
        teams = {p["awayTeam"]["id"]: (AWAY, p["awayTeam"]["abbrev"]), p["homeTeam"]["id"]: (HOME, p["homeTeam"]["abbrev"])}
        for play in p["plays"]:
            kind = play["typeDescKey"]
            if kind not in kinds or play["periodDescriptor"]["periodType"] == "SO":
                continue
            side, abbrev = teams[play["details"]["eventOwnerTeamId"]]
            situation = NAMES[sit.situation(sit.parse_code(play["situationCode"]), side)]
            for s in (situation, "all"):
                expected[(gid, abbrev, s, kinds[kind])] += 1
                if kind == "goal":
                    expected[(gid, abbrev, s, "shotsOnGoalFor")] += 1
    teams = build_silver(games).teams
    got = Counter()
    for r in teams.to_dicts():
        for col in kinds.values():
            if r[col]:
                got[(r["gameId"], r["team"], r["situation"], col)] = r[col]
    assert sum(expected.values()) > 40_000
    assert got == expected


# ----------------------------------------------------------------------------------------------------
# reconciliation with official boxscores
# ----------------------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.samples
@pytest.mark.parametrize("pbp", ["2023020204_play_by_play.json", "2023020204_play_by_play_earlier_fetch.json"])
def test_recorded_game_reconciles_exactly_with_its_boxscore(nhl_samples, pbp):
    games = nhl_samples / "games"
    g = GameInputs(2023020204, date(2023, 11, 10), load(games / pbp), load(games / "2023020204_shiftcharts.json"),
                   load(games / "2023020204_boxscore.json"))
    frames = build_silver([g])
    rec = reconcile(frames, [g.boxscore])
    assert rec.mismatches.height == 0, rec.mismatches.to_dicts()[:10]
    assert rec.games == 1 and rec.players == 40  # 36 skaters + 4 goalies dressed
    # 36 skaters x 11 stats + 4 goalies x 5 stats, less the backup goalies' unknown-in-boxscore values, + teams
    assert rec.values_checked == 420
    assert frames.players.get_column("hasShiftData").all()
    # the duplicated shift rows of this chart (same shift listed twice) count once, as the boxscore does
    assert frames.players.filter(pl.col("situation") == "all").get_column("shifts").sum() == \
        boxscore_players(g.boxscore).get_column("shifts").sum()


@pytest.mark.unit
@pytest.mark.samples
def test_a_chart_read_row_by_row_gives_the_frames_of_the_column_read(nhl_samples):
    """One shift row without `endTime` (its `duration` says the same) sends the chart to the row-by-row
    reader; its frames must be those of the column-wise read of the clean chart."""
    from nhl_assets.parse import shifts

    real = _recorded_2023020204(nhl_samples)
    chart = copy.deepcopy(real.shift_chart)
    row = next(r for r in chart["data"] if r["typeCode"] == 517 and r["duration"] and r["startTime"] != r["endTime"])
    row["endTime"] = None
    assert shifts._rows_fast(chart["data"], real.game_id) is None
    assert shifts._rows_fast(real.shift_chart["data"], real.game_id) is not None
    drifted = build_silver([GameInputs(real.game_id, real.game_date, real.play_by_play, chart)])
    clean = build_silver([GameInputs(real.game_id, real.game_date, real.play_by_play, real.shift_chart)])
    assert drifted.rejected == []
    for frame in ("players", "teams", "goalies"):
        assert getattr(drifted, frame).equals(getattr(clean, frame)), frame


@pytest.mark.unit
def test_the_shift_chart_scanner_is_built_wherever_a_compiler_is():
    """The install builds `nhl_assets/parse/_shiftscan.c` with Python's C compiler. Its build is optional (a
    failure is a warning of pip's, and msgspec then reads every chart), so this is where a broken build
    shows; without a compiler it is skipped, saying so."""
    from nhl_assets.parse import shifts as ps

    compiler = shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0])
    if ps._shiftscan is None and compiler is None:
        pytest.skip("no C compiler here: the shift-chart scanner is not built, and msgspec reads every chart")
    assert ps._shiftscan is not None, "nhl_assets/parse/_shiftscan.c is not compiled: run `make` (pip install -e .)"


@pytest.mark.unit
@pytest.mark.samples
def test_a_typed_chart_gives_the_frames_of_the_generic_decode(nhl_samples):
    """Every recorded shift chart decodes typed (`decode_regular`), and silver's frames from it equal those
    from the generic (orjson) decode, goalie changes and period ends included."""
    from nhl_assets.parse import plays as pp
    from nhl_assets.parse import shifts as ps

    charts = sorted((nhl_samples / "games").glob("*_shiftcharts.json"))
    compared = 0
    for path in charts:
        gid = int(path.name.split("_")[0])
        if ps._shiftscan is not None:  # built (tests/test_shiftscan.py says where it must be)
            assert ps._shiftscan.scan(path.read_bytes()) is not None, f"the compiled scanner declines {path.name}"
        typed = ps.decode_regular(path.read_bytes())
        assert isinstance(typed, ps.RegularChart), path.name
        generic = load(path)
        assert typed.rows == len(generic["data"])
        pbp = nhl_samples / "games" / f"{gid}_play_by_play.json"
        if not pbp.exists():  # a chart recorded without its game's play-by-play: decoded only
            continue
        compared += 1
        payload = load(pbp)
        roster = pp.parse_roster(payload, pp.parse_header(payload, gid))
        a, b = ps.parse_shift_chart(typed, roster, gid), ps.parse_shift_chart(generic, roster, gid)
        assert a.goalie_changes == b.goalie_changes and a.last_second == b.last_second
        for spans in ("shifts", "spans"):
            for col in ("player", "start", "end", "side", "goalie"):
                assert (getattr(getattr(a, spans), col) == getattr(getattr(b, spans), col)).all(), (path, spans, col)
        game = GameInputs(gid, date(2025, 1, 1), payload, generic)
        frames = [build_silver([game]), build_silver([GameInputs(gid, date(2025, 1, 1), payload, typed)])]
        for frame in ("players", "teams", "goalies", "shots"):
            assert getattr(frames[0], frame).equals(getattr(frames[1], frame)), (path.name, frame)
    assert len(charts) >= 3 and compared >= 2


@pytest.mark.unit
@pytest.mark.samples
def test_a_typed_play_by_play_gives_the_frames_of_the_generic_decode(nhl_samples):
    """Every recorded play-by-play decodes typed (`decode_regular`), and silver's four frames from the typed
    bodies equal those from the generic (orjson) decode."""
    from nhl_assets.parse import plays as pp

    typed, generic, seen = [], [], set()
    for f in _recorded_pbp(nhl_samples):
        payload = load(f)
        if payload["id"] in seen:
            continue
        seen.add(payload["id"])
        body = pp.decode_regular(f.read_bytes())
        assert isinstance(body, pp.RegularPlayByPlay), f.name
        day = date.fromisoformat(payload["gameDate"])
        typed.append(GameInputs(payload["id"], day, body, None))
        generic.append(GameInputs(payload["id"], day, payload, None))
    a, b = build_silver(typed), build_silver(generic)
    assert a.rejected == b.rejected == [] and len(typed) >= 160
    for frame in ("players", "teams", "goalies", "shots"):
        assert getattr(a, frame).equals(getattr(b, frame)), frame


_PLAY = {"eventId": 5, "periodDescriptor": {"number": 1, "periodType": "REG", "maxRegulationPeriods": 3},
         "timeInPeriod": "01:56", "timeRemaining": "18:04", "situationCode": "1551", "homeTeamDefendingSide": "left",
         "typeCode": 503, "typeDescKey": "hit", "sortOrder": 20, "details": {"eventOwnerTeamId": 1}}


def _pbp_body(*plays: dict) -> bytes:
    return orjson.dumps({"id": 2024020001, "plays": list(plays), "venue": {"default": "X"}})


@pytest.mark.unit
@pytest.mark.parametrize("body, why", [
    (b"{not json", "invalid JSON"),
    (b"[]", "not an object"),
    (orjson.dumps({"id": 2024020001}), "no plays"),
    (_pbp_body({k: v for k, v in _PLAY.items() if k != "sortOrder"}), "a play without sortOrder"),
    (_pbp_body({**_PLAY, "sortOrder": "20"}), "a sortOrder written as text"),
    (_pbp_body({**_PLAY, "details": [1]}), "details that are not an object"),
    (_pbp_body({**_PLAY, "periodDescriptor": {"periodType": "REG"}}), "a period without its number"),
    (_pbp_body({**_PLAY, "situationCode": 1551}), "a situation code written as a number"),
])
def test_a_play_by_play_that_is_not_regular_is_left_to_the_generic_decode(body, why):
    from nhl_assets.parse import plays as pp

    assert pp.decode_regular(body) is None, why


@pytest.mark.unit
@pytest.mark.parametrize("play", [
    {**_PLAY, "timeInPeriod": "1:56"},  # a clock the "MM:SS" table does not hold
    {**_PLAY, "periodDescriptor": {"number": 4}},  # a period without its type: inferred
    {**_PLAY, "details": None, "situationCode": None},
    {k: v for k, v in _PLAY.items() if k not in ("eventId", "homeTeamDefendingSide", "situationCode", "details")},
])
def test_a_typed_play_reads_as_the_same_play_as_its_dict(play):
    """Plays the typed loop hands to `_checked_play` (odd clock, no period type) or reads with defaults
    become the very `Play` the dict path makes."""
    from nhl_assets.parse import plays as pp

    header = pp.GameHeader(2024020001, 20242025, 2, "OFF", (1, 2), ("A", "B"), (0, 0), "REG")
    typed = pp.decode_regular(_pbp_body(_PLAY, play))
    assert isinstance(typed, pp.RegularPlayByPlay)
    got = pp.ordered_plays(pp.as_payload(typed), header)
    assert got == pp.ordered_plays({"plays": [_PLAY, play]}, header)
    assert got[1].t == (got[1].period - 1) * 1200 + 116 and got[1].event_id == play.get("eventId")
    assert got[1].period_type == ("OT" if got[1].period == 4 else "REG")


def _chart_body(rows: list[dict]) -> bytes:
    return orjson.dumps({"data": rows, "total": len(rows)})


_SHIFT = {"id": 1, "typeCode": 517, "gameId": 2024020001, "playerId": 8470001, "period": 1, "startTime": "00:00",
          "endTime": "00:45", "duration": "00:45", "firstName": "A", "hexValue": "#000000"}


@pytest.mark.unit
@pytest.mark.parametrize("body, why", [
    (b"{not json", "invalid JSON"),
    (b"[]", "not an object"),
    (_chart_body([{**_SHIFT, "endTime": None}]), "a shift without endTime (its duration tells)"),
    (_chart_body([{**_SHIFT, "playerId": "8470001"}]), "an id written as text"),
    (_chart_body([{**_SHIFT, "period": 1.0}]), "a period written as a float"),
    (_chart_body([{k: v for k, v in _SHIFT.items() if k != "gameId"}]), "a row without gameId"),
])
def test_a_chart_that_is_not_regular_is_left_to_the_generic_decode(body, why):
    """`decode_regular` judges nothing: it declines, and silver decodes the body with orjson and reads it
    row by row (which names what is wrong or reads the row anyway)."""
    from nhl_assets.parse import shifts as ps

    assert ps.decode_regular(body) is None, why


@pytest.mark.unit
def test_silver_reads_a_chart_the_typed_decoder_declines_generically():
    """End to end through `add_games`: a chart with a shift lacking `endTime` decodes generically (a dict)
    and its shift counts from `duration`; a regular chart decodes typed."""
    from nhl_assets.bronze import tables as bt
    from nhl_assets.parse import shifts as ps
    from nhl_assets.silver.inputs import WindowInputs, add_games

    day = date(2024, 10, 8)

    def rows(body: bytes, gid: int) -> dict:
        return {"gameDate": day, "gameId": gid, "request": "r", "httpStatus": 200, "sha256": "s",
                "fetchedAt": None, "body": body}

    drifted = {**_SHIFT, "gameId": 2024020002, "endTime": None}
    out = WindowInputs()
    add_games(out, [{"gameDate": day, "gameId": gid, "isFinal": True, "isComplete": True}
                    for gid in (2024020001, 2024020002)],
              {bt.PLAY_BY_PLAY: [rows(b"{}", 2024020001), rows(b"{}", 2024020002)],
               bt.SHIFT_CHARTS: [rows(_chart_body([_SHIFT]), 2024020001), rows(_chart_body([drifted]), 2024020002)]})
    assert out.rejects == []
    regular, generic = (g.shift_chart for g in out.games)
    assert isinstance(regular, ps.RegularChart)
    assert regular.columns[:, 0].tolist() == [517, 2024020001, 8470001, 1, 0, 45]
    assert isinstance(generic, dict) and generic["data"][0]["endTime"] is None
    player, start, end = ps._rows_slow(generic["data"], 2024020002)
    assert (player.tolist(), start.tolist(), end.tolist()) == ([8470001], [0], [45])


@pytest.mark.unit
def test_a_typed_chart_with_an_odd_row_is_read_row_by_row_and_named():
    """A chart that decodes typed but that the column read declines (a row ending before it starts) goes
    row by row, which names the row by its id."""
    from nhl_assets.parse import shifts as ps
    from nhl_assets.parse.errors import ParseError
    from nhl_assets.parse.plays import AWAY, HOME, Player

    roster = {8470001: Player(8470001, AWAY, "C", "A"), 8470002: Player(8470002, HOME, "C", "B")}
    good = [_SHIFT, {**_SHIFT, "id": 2, "playerId": 8470002}]
    typed = ps.decode_regular(_chart_body(good))
    assert ps.parse_shift_chart(typed, roster, 2024020001).shifts.player.tolist() == [8470001, 8470002]
    backwards = ps.decode_regular(_chart_body([*good, {**_SHIFT, "id": 77, "startTime": "01:00"}]))
    assert isinstance(backwards, ps.RegularChart)
    with pytest.raises(ParseError, match=r"shift row 77 ends \(00:45\) before it starts \(01:00\)"):
        ps.parse_shift_chart(backwards, roster, 2024020001)


@pytest.mark.unit
def test_a_typed_chart_with_an_odd_row_that_orjson_refuses_is_refused_by_name():
    """A body both typed readers take (they skip fields silver never reads without judging their numbers) but
    orjson refuses (a number beyond a double's range): its odd row sends it to the generic decode, which
    refuses it as a `ParseError` naming why (the game keeps its event stats), not as orjson's error."""
    from nhl_assets.parse import shifts as ps
    from nhl_assets.parse.errors import ParseError
    from nhl_assets.parse.plays import AWAY, HOME, Player

    roster = {8470001: Player(8470001, AWAY, "C", "A"), 8470002: Player(8470002, HOME, "C", "B")}
    rows = [_SHIFT, {**_SHIFT, "id": 2, "playerId": 8470002, "startTime": "1:00", "endTime": "1:30"}]
    body = _chart_body(rows).replace(b'"hexValue"', b'"x":2.5e999,"hexValue"', 1)
    chart = ps.decode_regular(body)
    assert isinstance(chart, ps.RegularChart)
    with pytest.raises(ParseError, match="does not decode generically"):
        ps.parse_shift_chart(chart, roster, 2024020001)


@pytest.mark.unit
def test_a_body_nested_past_msgspecs_depth_is_a_reject_not_a_crash():
    """msgspec raises RecursionError (not one of its errors) for a body nested about a thousand deep: both
    typed decoders decline it, and the generic decode then refuses it as invalid JSON (a reject, recorded)."""
    from nhl_assets.parse import plays as pp
    from nhl_assets.parse import shifts as ps

    deep = b'{"x":' + b"[" * 2000 + b"]" * 2000 + b', "data": [], "plays": []}'
    assert ps.decode_regular(deep) is None and pp.decode_regular(deep) is None
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(deep)


@pytest.mark.unit
def test_a_regular_chart_without_rows_is_no_shift_data_whatever_else_it_holds():
    """No rows: no shift data, read from the columns alone (its body is not decoded again, so a number
    orjson refuses elsewhere in it does not matter)."""
    from nhl_assets.parse import shifts as ps

    chart = ps.decode_regular(b'{"data":[],"meta":1e999,"total":0}')
    assert isinstance(chart, ps.RegularChart) and chart.rows == 0
    assert ps.parse_shift_chart(chart, {}, 2024020001) is None


#: A bench minor as the NHL writes it (all 30 recorded ones look so): typeCode BEN, the player who serves it
#: in servedByPlayerId, no committing player and no drawing player.
BENCH_MINOR = {"typeCode": "BEN", "descKey": "too-many-men-on-the-ice", "duration": 2}
PETERKA, OKPOSO = 8482175, 8473449  # BUF forwards of 2023020204: Peterka took a holding minor, Okposo none


def _recorded_2023020204(nhl_samples: Path) -> GameInputs:
    games = nhl_samples / "games"
    return GameInputs(2023020204, date(2023, 11, 10), load(games / "2023020204_play_by_play.json"),
                      load(games / "2023020204_shiftcharts.json"), load(games / "2023020204_boxscore.json"))


def _penalty_of(pbp: dict, committed_by: int) -> dict:
    """Details of the (single) penalty a player committed."""
    (play,) = [p for p in pbp["plays"]
               if p["typeDescKey"] == "penalty" and p["details"].get("committedByPlayerId") == committed_by]
    return play["details"]


def _box_row(box: dict, pid: int) -> dict:
    (row,) = [r for side in ("awayTeam", "homeTeam") for grp in box["playerByGameStats"][side].values()
              for r in grp if r["playerId"] == pid]
    return row


def _all_row(frames, pid: int) -> dict:
    return frames.players.filter((pl.col("playerId") == pid) & (pl.col("situation") == "all")).row(0, named=True)


_TEAM_PENALTIES = ["team", "situation", "penaltiesFor", "penalityMinutesFor", "penaltiesAgainst",
                   "penalityMinutesAgainst"]


@pytest.mark.unit
@pytest.mark.samples
@pytest.mark.parametrize("owner", [True, False], ids=["team named by eventOwnerTeamId", "team of the server"])
def test_bench_minor_counts_for_the_team_and_not_for_the_player_who_serves_it(nhl_samples, owner):
    """Peterka's real holding minor rewritten as a bench minor he serves, and his boxscore line as the NHL
    then publishes it (2 PIM fewer): silver reconciles exactly and his team keeps the penalty and minutes."""
    real = _recorded_2023020204(nhl_samples)
    pbp, box = copy.deepcopy(real.play_by_play), copy.deepcopy(real.boxscore)
    d = _penalty_of(pbp, PETERKA)
    del d["committedByPlayerId"], d["drawnByPlayerId"]
    d.update(BENCH_MINOR, servedByPlayerId=PETERKA)
    if not owner:
        del d["eventOwnerTeamId"]
    _box_row(box, PETERKA)["pim"] -= 2
    assert _box_row(box, PETERKA)["pim"] == 0
    bench = build_silver([GameInputs(real.game_id, real.game_date, pbp, real.shift_chart, box)])
    assert bench.rejected == []
    rec = reconcile(bench, [box])
    assert rec.mismatches.height == 0, rec.mismatches.to_dicts()
    assert rec.values_checked == 420
    peterka = _all_row(bench, PETERKA)
    assert (peterka["penalties"], peterka["penalityMinutes"]) == (0, 0)
    # the team's penalties, minutes and the opponent's Against are those of the real game, in every situation
    before = build_silver([real])
    assert bench.teams.select(_TEAM_PENALTIES).equals(before.teams.select(_TEAM_PENALTIES))
    assert bench.teams.filter((pl.col("team") == "BUF") & (pl.col("situation") == "all")) \
        .get_column("penalityMinutesFor").item() == 10  # Greenway 2, Johnson 2, Mittelstadt 4, the bench 2


@pytest.mark.unit
@pytest.mark.samples
def test_penalty_naming_nobody_rejects_its_game(nhl_samples):
    """No committer, no server, no owner team: nobody can be charged, so the game is rejected, not guessed."""
    real = _recorded_2023020204(nhl_samples)
    pbp = copy.deepcopy(real.play_by_play)
    d = _penalty_of(pbp, PETERKA)
    del d["committedByPlayerId"], d["eventOwnerTeamId"]
    frames = build_silver([GameInputs(real.game_id, real.game_date, pbp, real.shift_chart)])
    assert frames.players.height == 0
    assert [(gid, reason.split(") ")[-1]) for gid, _endpoint, reason in frames.rejected] == \
        [(2023020204, "names no committing player, team or serving player")]


@pytest.mark.unit
@pytest.mark.samples
def test_penalty_served_by_a_teammate_counts_for_the_player_who_committed_it(nhl_samples):
    """A penalty naming both (a goalie's, served by a skater): the committer is charged, the server is not."""
    real = _recorded_2023020204(nhl_samples)
    pbp = copy.deepcopy(real.play_by_play)
    _penalty_of(pbp, PETERKA)["servedByPlayerId"] = OKPOSO
    frames = build_silver([GameInputs(real.game_id, real.game_date, pbp, real.shift_chart, real.boxscore)])
    assert reconcile(frames, [real.boxscore]).mismatches.height == 0  # the boxscore is the real one
    assert _all_row(frames, PETERKA)["penalityMinutes"] == 2 and _all_row(frames, OKPOSO)["penalityMinutes"] == 0


@pytest.mark.unit
@pytest.mark.samples
def test_recorded_bench_minors_count_for_their_team_only(nhl_samples):
    """Every real bench minor names only who serves it; he is charged what he committed himself, no more,
    and his team every minute it was given (no boxscore of these games is recorded: this is the rule)."""
    games: list[GameInputs] = []
    committed, team_minutes, servers = Counter(), Counter(), set()
    for f in _recorded_pbp(nhl_samples):
        p = load(f)
        pens = [x["details"] for x in p["plays"] if x["typeDescKey"] == "penalty"]
        if p["id"] in {g.game_id for g in games} or not any(d["typeCode"] == "BEN" for d in pens):
            continue
        games.append(GameInputs(p["id"], date.fromisoformat(p["gameDate"]), p, None))
        abbrev = {t["id"]: t["abbrev"] for t in (p["awayTeam"], p["homeTeam"])}
        for d in pens:
            team_minutes[(p["id"], abbrev[d["eventOwnerTeamId"]])] += d["duration"]
            if "committedByPlayerId" in d:
                committed[(p["id"], d["committedByPlayerId"])] += d["duration"]
            if d["typeCode"] == "BEN":
                assert "committedByPlayerId" not in d and "drawnByPlayerId" not in d, (p["id"], d)
                servers.add((p["id"], d["servedByPlayerId"]))
    assert len(servers) >= 29  # 30 bench minors in 29 games, each served by someone else
    frames = build_silver(games)
    assert frames.rejected == []
    alls = pl.concat([f.filter(pl.col("situation") == "all").select("gameId", "playerId", "penalityMinutes")
                      for f in (frames.players, frames.goalies)])
    pim = {(r["gameId"], r["playerId"]): r["penalityMinutes"] for r in alls.to_dicts()}
    assert {k: pim[k] for k in servers} == {k: committed[k] for k in servers}
    assert {k: v for k, v in pim.items() if v} == dict(committed)
    teams = frames.teams.filter(pl.col("situation") == "all")
    assert {(r["gameId"], r["team"]): r["penalityMinutesFor"] for r in teams.to_dicts()
            if r["penalityMinutesFor"]} == dict(team_minutes)


@pytest.mark.unit
@pytest.mark.samples
def test_legacy_and_current_boxscore_schemas_parse_to_the_same_numbers(nhl_samples):
    legacy = boxscore_players(load(nhl_samples / "legacy/2023020032_boxscore_fetched_2023-11-29_legacy_schema.json"))
    current = boxscore_players(load(nhl_samples / "legacy/2023020032_boxscore_fetched_2024-12-14.json"))
    assert legacy.height == current.height > 30
    # hits are left out on purpose: the NHL corrected some between the two fetches (a real stat correction)
    common = ["gameId", "playerId", "goals", "assists", "points", "sog", "blockedShots", "pim",
              "toiSeconds", "shotsAgainst", "saves", "goalsAgainst"]
    l, c = legacy.select(common).sort("playerId"), current.select(common).sort("playerId")
    # legacy boxscores carry no giveaways/takeaways/shifts: null there (not compared), never a made-up 0
    assert legacy.filter(~pl.col("isGoalie")).get_column("giveaways").is_null().all()
    assert l.equals(c)
    assert legacy.get_column("hits").sum() > 0 and current.get_column("shifts").sum() > 0
    assert boxscore_teams(load(nhl_samples / "legacy/2023020032_boxscore_fetched_2023-11-29_legacy_schema.json")) \
        .select("team", "score").equals(
        boxscore_teams(load(nhl_samples / "legacy/2023020032_boxscore_fetched_2024-12-14.json")).select("team", "score"))


def _simulated(league, n: int, start: date = date(2023, 10, 10)) -> list[GameInputs]:
    out: list[GameInputs] = []
    d = start
    while len(out) < n:
        for g in league.games_on(d):
            if g.game_type in (2, 3):
                out.append(GameInputs(g.id, d, league.play_by_play_payload(g.id), league.shiftcharts_payload(g.id),
                                      league.boxscore_payload(g.id)))
        d += timedelta(days=1)
    return out


@pytest.fixture(scope="module")
def simulated(league):
    """~300 regular-season games plus a stretch of playoffs (overtimes without shootouts)."""
    games = _simulated(league, 260) + _simulated(league, 40, start=date(2024, 4, 22))
    return games, build_silver(games)


def test_simulated_games_reconcile_exactly_with_their_boxscores(simulated):
    games, frames = simulated
    assert frames.rejected == []
    rec = reconcile(frames, [g.boxscore for g in games])
    assert rec.games == len(games) >= 300
    assert rec.mismatches.height == 0, rec.mismatches.head(10).to_dicts()
    assert rec.values_checked > 120_000


def test_an_unparseable_boxscore_is_named_and_the_others_still_reconcile(simulated):
    """The batch's official rows are one frame: a boxscore that cannot be read costs its own game only."""
    games, frames = simulated
    broken = copy.deepcopy(games[1].boxscore)
    broken.pop("playerByGameStats")
    boxes = [games[0].boxscore, broken, games[2].boxscore]
    rec = reconcile(frames, boxes)
    assert rec.mismatches.to_dicts() == [
        {"gameId": games[1].game_id, "scope": "game", "key": str(games[1].game_id),
         "stat": "boxscore unparseable: boxscore has no playerByGameStats (neither at the top level nor under "
                 "boxscore)", "derived": None, "official": None}]
    assert rec.games == 2
    both = reconcile(frames, [games[0].boxscore, games[2].boxscore])
    assert (rec.players, rec.values_checked) == (both.players, both.values_checked) and both.players > 60


def _player_group(box: dict) -> list[dict]:
    stats = box.get("playerByGameStats") or box["boxscore"]["playerByGameStats"]
    return next(v for team in stats.values() for v in team.values() if isinstance(v, list) and v)


def test_a_boxscore_number_beyond_64_bits_costs_its_own_game_only(simulated):
    """The batch's official rows are one frame, which a number beyond 64 bits in one boxscore fails (polars'
    ComputeError): that boxscore is named unparseable, the others reconcile as without it."""
    games, frames = simulated
    broken = copy.deepcopy(games[1].boxscore)
    _player_group(broken)[0]["playerId"] = (1 << 63) + 3
    rec = reconcile(frames, [games[0].boxscore, broken, games[2].boxscore])
    assert [(m["gameId"], m["scope"]) for m in rec.mismatches.to_dicts()] == [(games[1].game_id, "game")]
    assert rec.mismatches.row(0, named=True)["stat"].startswith(
        "boxscore unparseable: a number its columns cannot hold: ")
    both = reconcile(frames, [games[0].boxscore, games[2].boxscore])
    assert (rec.games, rec.players, rec.values_checked) == (both.games, both.players, both.values_checked)
    alone = reconcile(frames, [broken])  # one boxscore, unfit: named, not raised
    assert alone.games == 0 and alone.mismatches.height == 1


@pytest.mark.parametrize("group, value", [("forwards", 5), ("forwards", "x"), ("goalies", {"default": "x"}),
                                          ("forwards", [3]), ("defense", ["x"])])
def test_a_boxscore_group_that_is_not_a_list_of_players_is_named(simulated, group, value):
    games, frames = simulated
    broken = copy.deepcopy(games[1].boxscore)
    stats = broken.get("playerByGameStats") or broken["boxscore"]["playerByGameStats"]
    stats["awayTeam"][group] = value
    rec = reconcile(frames, [games[0].boxscore, broken, games[2].boxscore])
    assert rec.mismatches.to_dicts() == [
        {"gameId": games[1].game_id, "scope": "game", "key": str(games[1].game_id), "derived": None,
         "official": None, "stat": f"boxscore unparseable: playerByGameStats.awayTeam.{group} is not a list of "
                                   "players"}]


@pytest.mark.parametrize("game_id", [[], {}, {"default": "x"}])
def test_a_boxscore_whose_id_names_no_game_is_not_compared_and_does_not_raise(simulated, game_id):
    games, frames = simulated
    broken = {**games[1].boxscore, "id": game_id}
    rec = reconcile(frames, [games[0].boxscore, broken])
    assert rec.games == 1 and rec.mismatches.height == 0


def test_an_error_every_boxscore_meets_alone_is_the_codes_and_is_raised(simulated, monkeypatch):
    from nhl_assets.parse import reconcile as rc

    frames_of = rc._frames

    def defect(rows):  # fails every boxscore's rows, alone or together
        if rows:
            raise TypeError("a defect")
        return frames_of(rows)

    monkeypatch.setattr(rc, "_frames", defect)
    games, frames = simulated
    with pytest.raises(TypeError, match="a defect"):
        reconcile(frames, [g.boxscore for g in games[:3]])


def test_all_equals_sum_of_situations_and_keys_are_unique(simulated):
    _games, frames = simulated
    for table, frame in ((PLAYERS, frames.players), (TEAMS, frames.teams)):
        valid, rejected = split_valid(frame, EXPECTATIONS[table])
        assert rejected.height == 0 and valid.height == frame.height
        key = list(EXPECTATIONS[table].key)
        assert frame.select(key).is_unique().all()
        assert set(frame.get_column("situation").unique()) == set(SITUATIONS)
    counts = [c for c, t in frames.players.schema.items() if t == pl.Int64 and c not in ("gameId", "playerId")]
    parts = frames.players.filter(pl.col("situation") != "all").group_by("gameId", "playerId").agg(pl.col(counts).sum())
    alls = frames.players.filter(pl.col("situation") == "all").select("gameId", "playerId", *counts)
    assert parts.join(alls, on=["gameId", "playerId"], suffix="_all").select(
        [(pl.col(c) == pl.col(f"{c}_all")).all() for c in counts]).row(0) == tuple([True] * len(counts))


_ROSTER = [{"playerId": 8470001, "teamId": 1, "positionCode": "C"},
           {"playerId": 8470002, "teamId": 2, "positionCode": "G"}]


def _bare_game(plays: list[dict], chart: dict | None = None) -> GameInputs:
    """A final game of two dressed players (an away centre, a home goalie) with the given plays."""
    pbp = {"id": 2024020001, "season": 20242025, "gameType": 2, "gameState": "OFF", "plays": plays,
           "awayTeam": {"id": 1, "abbrev": "AAA"}, "homeTeam": {"id": 2, "abbrev": "BBB"}, "rosterSpots": _ROSTER}
    return GameInputs(2024020001, date(2024, 10, 4), pbp, chart)


def _counts(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if t == pl.Int64 and c not in ("gameId", "playerId")]


def test_a_game_that_credits_nothing_has_every_player_and_team_at_zero():
    """No play and no shift chart: no credit at all, yet every dressed player and both teams get their five
    situations, every count 0 (the credit sums start from an empty table)."""
    frames = build_silver([_bare_game([])])
    assert frames.rejected == []
    assert (frames.players.height, frames.goalies.height, frames.teams.height) == (5, 5, 10)
    for frame in (frames.players, frames.teams):
        assert frame.select(pl.sum_horizontal(_counts(frame)).sum()).item() == 0
    assert frames.goalies.select("shotsAgainst", "saves", "goalsAgainst").sum().row(0) == (0, 0, 0)


def test_a_game_with_shifts_and_no_shot_has_ice_time_and_no_on_ice_shot():
    """A shift chart but no shot: the shot table gives no (shot, skater) pairs, ice time and shifts still
    count, every on-ice count is 0, not null."""
    chart = {"data": [{"typeCode": 517, "gameId": 2024020001, "playerId": pid, "period": 1,
                       "startTime": "00:00", "endTime": "00:45"} for pid in (8470001, 8470002)]}
    frames = build_silver([_bare_game([], chart)])
    assert frames.rejected == [] and frames.shots.height == 0
    row = frames.players.filter(pl.col("situation") == "all").row(0, named=True)
    assert (row["hasShiftData"], row["icetime"], row["shifts"]) == (True, 45, 1)
    assert all(row[c] == 0 for c in row if c.startswith("OnIce_"))


def test_credit_sums_equal_a_sum_key_by_key():
    """`_wide` against a dictionary sum: keys repeated within and across the list and the arrays, negative
    values, stats no column names (dropped), and `all` as the sum of the four situations."""
    import numpy as np

    from nhl_assets.parse.game_stats import _wide

    rng = np.random.default_rng(11)
    columns = {0: "a", 3: "b", 9: "c"}
    for _ in range(50):
        n = int(rng.integers(0, 60))
        entity = rng.integers(0, 6, n)
        keys = ((entity << 3 | rng.integers(0, 4, n)) << 5 | rng.choice([0, 3, 9, 12], n)).tolist()
        vals = rng.integers(-5, 50, n).tolist()
        cut = int(rng.integers(0, n + 1))
        chunks = [(np.array(keys[cut:], dtype=np.int64), np.array(vals[cut:], dtype=np.int64))]
        expected: Counter = Counter()
        for k, v in zip(keys, vals):
            if k & 31 in columns:
                for rk in (k >> 5, (k >> 8) << 3 | 4):
                    expected[(rk, columns[k & 31])] += v
        got = _wide(keys[:cut], vals[:cut], columns, chunks)
        assert got.columns == ["rk", "a", "b", "c"] and set(got.dtypes) == {pl.Int64}
        assert got.get_column("rk").is_unique().all()
        rows_of = {k >> 5 for k in keys} | {(k >> 8) << 3 | 4 for k in keys}
        assert set(got.get_column("rk").to_list()) == rows_of
        for row in got.iter_rows(named=True):
            assert all(row[c] == expected[(row["rk"], c)] for c in columns.values())


def test_on_ice_credits_that_disagree_with_the_shot_table_fail_loudly():
    """The on-ice counts pair the credits' shots with the shot table's: should the two ever list different
    shots (a parser defect, not a payload's), the parse fails naming the game, never crediting a skater
    with another shot."""
    from nhl_assets.parse import game_stats as gs
    from nhl_assets.parse.shots import GameShots

    for times, sides in (([31], [0]), ([30], [1]), ([30, 40], [0, 0])):
        cr = gs._Credits(0)
        cr.onice = [(30, 0, 0, 0, 0)]
        with pytest.raises(RuntimeError, match="game 2024020001: the on-ice credits and the shot table disagree"):
            gs._onice_credits(GameShots(times=times, sides=sides), cr, 2024020001)
        assert cr.chunks == []


# ---------------------------------------------------------------------- numbers beyond the columns
_BEYOND_INT64 = (1 << 63) + 5  # JSON allows it; orjson reads integers up to 2**64 - 1


def _with_player_id(g: GameInputs, old: int, new: int, *, roster: bool, chart: bool) -> GameInputs:
    """`g` with player `old` renamed `new` in its rosterSpots and play details and/or its shift chart."""
    pbp, sc = copy.deepcopy(g.play_by_play), copy.deepcopy(g.shift_chart)
    if roster:
        for spot in pbp["rosterSpots"]:
            spot["playerId"] = new if spot["playerId"] == old else spot["playerId"]
        for play in pbp["plays"]:
            details = play.get("details", {})
            for k, v in details.items():
                details[k] = new if v == old else v
    if chart:
        for row in sc["data"]:
            row["playerId"] = new if row["playerId"] == old else row["playerId"]
    return GameInputs(g.game_id, g.game_date, pbp, sc, g.boxscore)


def _the_others_unchanged(games: list[GameInputs], bad: int, got) -> None:
    alone = build_silver([g for i, g in enumerate(games) if i != bad])
    for frame, want in ((got.players, alone.players), (got.teams, alone.teams), (got.goalies, alone.goalies),
                        (got.shots, alone.shots)):
        assert frame.filter(pl.col("gameId") != games[bad].game_id).equals(want)


def test_a_shift_chart_id_beyond_64_bits_costs_its_game_the_shift_data_only(simulated):
    """Numpy would raise a bare OverflowError for the whole batch: the chart is refused by name instead,
    and its game keeps its event stats."""
    games = simulated[0][:3]
    victim = games[1].play_by_play["rosterSpots"][0]["playerId"]
    games = [games[0], _with_player_id(games[1], victim, _BEYOND_INT64, roster=False, chart=True), games[2]]
    got = build_silver(games)
    assert got.rejected == [(games[1].game_id, "shift_chart",
                             f"shift chart row of player {_BEYOND_INT64} has a number beyond 64-bit integers")]
    assert not got.players.filter(pl.col("gameId") == games[1].game_id).get_column("hasShiftData").any()
    assert got.players.filter(pl.col("gameId") == games[1].game_id).height > 0


@pytest.mark.parametrize("pid", [(1 << 32) + 8478402, -8478402, _BEYOND_INT64])
def test_a_player_id_the_credit_keys_cannot_hold_rejects_its_game(simulated, pid):
    """Credits pack a player id in 32 bits of an int64 key: a larger id (which fits int64 and raises
    nothing) would spill into the game's bits and credit another key, a negative one into the sign."""
    games = simulated[0][:3]
    victim = games[1].play_by_play["rosterSpots"][0]["playerId"]
    games = [games[0], _with_player_id(games[1], victim, pid, roster=True, chart=True), games[2]]
    got = build_silver(games)
    assert got.rejected == [(games[1].game_id, "play_by_play", f"rosterSpots playerId {pid} is outside "
                                                               "1..4294967295, the player ids silver encodes")]
    _the_others_unchanged(games, 1, got)


def test_a_number_beyond_64_bits_only_the_shot_table_reads_rejects_its_game_alone(simulated):
    """A missed shot's `goalieInNetId` reaches only the shot table, whose frame is built for the whole batch:
    polars refuses it there (TypeError). The game is found by building each game alone and rejected naming
    the number; the other games' rows are those of a batch without it."""
    games = [copy.deepcopy(g) for g in simulated[0][:4]]
    missed = next(p for p in games[2].play_by_play["plays"] if p["typeDescKey"] == "missed-shot")
    missed["details"]["goalieInNetId"] = _BEYOND_INT64
    got = build_silver(games)
    assert [(g, e) for g, e, _ in got.rejected] == [(games[2].game_id, "play_by_play")]
    assert got.rejected[0][2].startswith("a number silver's columns cannot hold: ")
    assert str(_BEYOND_INT64) in got.rejected[0][2]
    _the_others_unchanged(games, 2, got)
    alone = build_silver([games[2]])  # a batch of that one game: rejected, not raised
    assert [(g, e) for g, e, _ in alone.rejected] == [(games[2].game_id, "play_by_play")]
    assert alone.players.height == 0


def _decoded(game: GameInputs, table: str) -> GameInputs:
    """`game` with its `table` payload ("bronze/play_by_play" or "bronze/shift_charts") decoded as silver
    decodes a body (`silver.inputs.TYPED_DECODERS`): typed, or generically when the typed decoder declines it."""
    from nhl_assets.silver.inputs import TYPED_DECODERS

    field = {"bronze/play_by_play": "play_by_play", "bronze/shift_charts": "shift_chart"}[table]
    body = orjson.dumps(getattr(game, field))
    typed = TYPED_DECODERS[table](body)
    return dataclasses.replace(game, **{field: typed if typed is not None else orjson.loads(body)})


@pytest.mark.parametrize("period", [10 ** 9, 21, 0, -1])
@pytest.mark.parametrize("typed", [False, True])
def test_a_play_in_a_period_no_game_has_rejects_its_game(simulated, period, typed):
    """The timeline is built period by period: a period of 10**9 had the parse build a billion periods
    (memory until the process was killed). Found by a helper's fuzz of 10,049 malformed payloads."""
    games = [copy.deepcopy(g) for g in simulated[0][:3]]
    play = games[1].play_by_play["plays"][7]
    play["periodDescriptor"]["number"] = period
    if typed:
        games[1] = _decoded(games[1], "bronze/play_by_play")
        assert isinstance(games[1].play_by_play, RegularPlayByPlay)
    got = build_silver(games)
    assert got.rejected == [(games[1].game_id, "play_by_play", f"play sortOrder {play['sortOrder']} "
                             f"({play['typeDescKey']}) is in period {period}, outside 1..20")]
    _the_others_unchanged(games, 1, got)


@pytest.mark.parametrize("field, value, says", [
    ("period", 10 ** 9, "is in period 1000000000, outside 1..20"),
    ("period", 0, "is in period 0, outside 1..20"),
    ("period", True, "lacks playerId/period/startTime"),
    ("playerId", "x", "lacks playerId/period/startTime"),
    ("playerId", True, "lacks playerId/period/startTime"),
])
@pytest.mark.parametrize("typed", [False, True])
def test_a_shift_row_in_no_period_or_of_no_player_refuses_its_chart(simulated, field, value, says, typed):
    """A chart's row in a period no game has, or naming no player (a string id numpy refused with a bare
    ValueError), costs its game the shift data only."""
    games = [copy.deepcopy(g) for g in simulated[0][:3]]
    row = next(r for r in games[1].shift_chart["data"] if r["typeCode"] == 517)
    row[field] = value
    if typed:
        games[1] = _decoded(games[1], "bronze/shift_charts")
    got = build_silver(games)
    assert got.rejected == [(games[1].game_id, "shift_chart", f"shift row {row['id']!r} {says}")]
    assert not got.players.filter(pl.col("gameId") == games[1].game_id).get_column("hasShiftData").any()


@pytest.mark.parametrize("where, field, says", [
    ("periodDescriptor", "number", "has no periodDescriptor.number"),
    ("play", "sortOrder", "has no sortOrder"),
])
@pytest.mark.parametrize("typed", [False, True])
def test_a_boolean_for_a_plays_period_or_order_rejects_its_game(simulated, where, field, says, typed):
    """A JSON `true` is a Python int: it was read as period 1 (or sortOrder 1). The typed decoder refuses it,
    and the generic path now names it too."""
    games = [copy.deepcopy(g) for g in simulated[0][:3]]
    play = games[1].play_by_play["plays"][7]
    kind = play["typeDescKey"]
    (play["periodDescriptor"] if where == "periodDescriptor" else play)[field] = True
    if typed:
        games[1] = _decoded(games[1], "bronze/play_by_play")
        assert isinstance(games[1].play_by_play, dict)  # the typed decoder declined it
    got = build_silver(games)
    assert got.rejected == [(games[1].game_id, "play_by_play", f"plays[7] ({kind}) {says}")]
    _the_others_unchanged(games, 1, got)


@pytest.mark.parametrize("field", ["awayTeam", "roster"])
def test_a_boolean_team_or_player_id_rejects_its_game(simulated, field):
    """A JSON `true` equals 1, the Devils' team id and a player id: it is no id."""
    games = [copy.deepcopy(g) for g in simulated[0][:3]]
    payload = games[1].play_by_play
    if field == "awayTeam":
        payload["awayTeam"]["id"] = True
        says = "awayTeam.id missing"
    else:
        spot = payload["rosterSpots"][0]
        spot["playerId"] = True
        says = "rosterSpots entry without playerId/teamId/positionCode: playerId=True"
    got = build_silver(games)
    assert [(g, e) for g, e, _ in got.rejected] == [(games[1].game_id, "play_by_play")]
    assert got.rejected[0][2].startswith(says)
    _the_others_unchanged(games, 1, got)


@pytest.mark.unit
def test_a_boolean_is_neither_team():
    from nhl_assets.parse.plays import GameHeader

    header = GameHeader(2024020001, 20242025, 2, "OFF", (1, 6), ("NJD", "BOS"), (3, 2), "REG")
    assert (header.side_of_team(1), header.side_of_team(6)) == (AWAY, HOME)
    assert header.side_of_team(True) is None and header.side_of_team(1.0) is None


def test_a_null_period_type_reads_the_same_on_both_decoding_paths(simulated):
    """`periodType` null: the typed path inferred it from the number ("REG" for 1-3) while the generic path
    kept the null. Both now infer it, so the tables do not depend on which decoder read the body."""
    from nhl_assets.parse.plays import as_payload, ordered_plays, parse_header

    games = [copy.deepcopy(g) for g in simulated[0][:3]]
    nulled = [p for p in games[1].play_by_play["plays"] if p["periodDescriptor"]["number"] in (1, 3)][::9]
    for play in nulled:
        play["periodDescriptor"]["periodType"] = None
    decoded = _decoded(games[1], "bronze/play_by_play")
    assert isinstance(decoded.play_by_play, RegularPlayByPlay)  # a null periodType is still regular
    generic, typed = build_silver(games), build_silver([games[0], decoded, games[2]])
    for table in ("players", "teams", "goalies", "shots"):
        assert getattr(generic, table).equals(getattr(typed, table)), table
    assert not generic.rejected
    header = parse_header(games[1].play_by_play, games[1].game_id)
    for payload in (games[1].play_by_play, as_payload(decoded.play_by_play)):
        by_order = {p.sort_order: p.period_type for p in ordered_plays(payload, header)}
        assert {by_order[p["sortOrder"]] for p in nulled} == {"REG"}


def test_an_error_every_game_meets_alone_is_the_codes_and_is_raised(simulated, monkeypatch):
    """Only a payload's number is rejected: a defect that fails every game of a batch is raised as it was."""
    from nhl_assets.parse import game_stats as gs

    def broken(*_args, **_kwargs):
        raise TypeError("a defect")

    monkeypatch.setattr(gs, "_team_time", broken)
    with pytest.raises(TypeError, match="a defect"):
        build_silver(simulated[0][:3])


def _truth(sim) -> tuple[dict, Counter]:
    """Per (gameId, playerId, situation): seconds on ice, and on-ice shot counts, from the simulation."""
    gid = sim.spec.game_id
    start = {p.number: p.start for p in sim.periods}
    ice: Counter = Counter()
    for pid, team, period, a, b in sim.shifts:
        for t in range(start[period] + a, start[period] + b):
            state = sim.st_vals[max(bisect_right(sim.st_times, t) - 1, 0)][:4]
            ice[(gid, pid, NAMES[sit.situation(state, team)])] += 1
    onice: Counter = Counter()
    kinds = {"shot-on-goal": "shotsOnGoal", "goal": "goals", "missed-shot": "missedShots",
             "blocked-shot": "blockedShotAttempts"}
    periods = {p.number: p.type for p in sim.periods}
    for ev in sim.events:
        if ev.kind not in kinds or periods[ev.period] == "SO":
            continue
        state = sit.parse_code(ev.code)
        for side in (AWAY, HOME):
            fa = "F" if side == ev.team else "A"
            s = NAMES[sit.situation(state, side)]
            for pid in sim.onice[side].left(ev.t):
                onice[(gid, pid, s, f"OnIce_{fa}_{kinds[ev.kind]}")] += 1
                if ev.kind == "goal":
                    onice[(gid, pid, s, f"OnIce_{fa}_shotsOnGoal")] += 1
    return ice, onice


def test_ice_time_and_on_ice_counts_per_situation_equal_the_simulation(simulated, league):
    """The game-state timeline is rebuilt from plays + shifts; the simulator knows the true one."""
    games, frames = simulated
    ice, onice = Counter(), Counter()
    for g in games[:120]:
        i, o = _truth(league.simulate(g.game_id))
        ice.update(i)
        onice.update(o)
    ids = {g.game_id for g in games[:120]}
    players = pl.concat([frames.players.select("gameId", "playerId", "situation", "icetime"),
                         frames.goalies.select("gameId", "playerId", "situation", "icetime")])
    got_ice = {(r["gameId"], r["playerId"], r["situation"]): r["icetime"]
               for r in players.filter(pl.col("gameId").is_in(ids) & (pl.col("situation") != "all")).to_dicts()
               if r["icetime"]}
    assert sum(ice.values()) > 120 * 36 * 900
    assert got_ice == dict(ice)
    cols = [c for c in frames.players.columns
            if c.startswith("OnIce_") and c.split("_", 2)[2] in ("shotsOnGoal", "goals", "missedShots",
                                                                 "blockedShotAttempts")]
    got_onice = Counter()
    for r in frames.players.filter(pl.col("gameId").is_in(ids) & (pl.col("situation") != "all")).to_dicts():
        for c in cols:
            if r[c]:
                got_onice[(r["gameId"], r["playerId"], r["situation"], c)] = r[c]
    assert sum(onice.values()) > 100_000
    assert got_onice == onice


@pytest.mark.unit
def test_ice_time_by_prefix_sums_equals_timeline_split(simulated):
    """Ice time per situation from prefix sums over the timeline equals `Timeline.split` span by span (the
    path kept for a timeline whose periods overlap), for every span of many simulated games."""
    import numpy as np

    from nhl_assets.parse import game_stats as gs
    from nhl_assets.parse import plays as pp
    from nhl_assets.parse import shifts as ps

    games, _ = simulated
    for g in games[:40]:
        header = pp.parse_header(g.play_by_play, g.game_id)
        roster = pp.parse_roster(g.play_by_play, header)
        chart = ps.parse_shift_chart(g.shift_chart, roster, g.game_id)
        tl = sit.build_timeline(pp.ordered_plays(g.play_by_play, header), header,
                                {pid: p.side for pid, p in roster.items()}, chart)
        fast = gs._seconds_by_situation(chart.spans, np.array(tl.starts), np.array(tl.ends), np.array(tl.pairs))
        for k, (s, e, side) in enumerate(zip(chart.spans.start.tolist(), chart.spans.end.tolist(),
                                              chart.spans.side.tolist())):
            slow = [0, 0, 0, 0]
            tl.split([(s, e)], side, slow)
            assert fast[k].tolist() == slow, (g.game_id, s, e, side)
        by_split, by_sums = gs._Credits(0), gs._Credits(0)
        gs._ice_by_split(chart, tl, by_split)
        gs._add_per_player(by_sums, chart.spans.player, fast, gs._ICE_CODES)
        assert [a.tolist() for a in by_split.chunks[0]] == [a.tolist() for a in by_sums.chunks[0]]
