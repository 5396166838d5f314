"""JSON bodies of the simulated NHL API, shaped like the recorded real responses.

Every function projects one :class:`~nhl_assets.simulator.gamesim.SimResult` (or, for the schedule, the
cheap per-game outcome) onto the key layout of the real endpoint, including the decorative fields that
make the real payloads as large as they are (names with translations, logos, headshots, broadcasts,
highlight links). Boxscore numbers are counted from the very events and shifts the play-by-play and
shift chart are built from, using the NHL's conventions:

* goals/assists/points/powerPlayGoals from ``goal`` plays outside the shootout (empty-net goals count);
* ``sog`` = shots on goal + goals outside the shootout; team ``sog`` = sum over players;
* ``blockedShots`` credits ``blockingPlayerId`` of ``blocked-shot`` plays whose reason is ``blocked``;
* ``pim`` = penalty minutes of penalties the player committed (``committedByPlayerId``); a bench minor
  names no committing player, only the one who serves it, and is charged to no player (the team only);
* ``plusMinus``: +1/-1 for skaters on the ice (shift covers ``(start, end]`` of the goal second) for
  even-strength and shorthanded goals, nothing for power-play goals (strength from penalties only);
* ``shifts``/``toi`` from the player's shift-chart rows.

The real feed's own quirks are reproduced on purpose: ``awaySOG``/``homeSOG`` inside shot details count
only ``shot-on-goal`` plays (goals excluded, shootout attempts included), blocked shots carry the
blocker's ``zoneCode``, ``displayPeriod`` is 1, and ``eventId`` is not in time order.
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from nhl_assets.simulator.calendar import (
    TeamInfo,
    offset_str,
    season_start_year_for,
    season_teams,
    utc_offset_hours,
)
from nhl_assets.simulator.gamesim import AWAY, HOME, SimResult, mmss

if TYPE_CHECKING:  # pragma: no cover
    from nhl_assets.simulator.league import GameMeta, SimulatedLeague

UTC = timezone.utc

TYPE_CODES = {
    "faceoff": 502, "hit": 503, "giveaway": 504, "goal": 505, "shot-on-goal": 506, "missed-shot": 507,
    "blocked-shot": 508, "penalty": 509, "stoppage": 516, "period-start": 520, "period-end": 521,
    "shootout-complete": 523, "game-end": 524, "takeaway": 525, "delayed-penalty": 535,
    "failed-shot-attempt": 537,
}

_NATIONAL_US = (("ESPN", 309), ("TNT", 524), ("ESPN+", 519), ("NHLN", 292), ("ABC", 25), ("HULU", 529))
_NATIONAL_CA = (("SN", 282), ("SN1", 284), ("TVAS", 281), ("CBC", 294), ("SNE", 283), ("SNO", 285))
_CANADIAN = {"MTL", "OTT", "TOR", "WPG", "CGY", "EDM", "VAN"}


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def _teams(meta: "GameMeta") -> tuple[TeamInfo, TeamInfo]:
    t = season_teams(meta.start_year)
    return t[meta.away], t[meta.home]


def _logo(team: TeamInfo, dark: bool = False) -> str:
    return f"https://assets.nhle.com/logos/nhl/svg/{team.abbrev}_{'dark' if dark else 'light'}.svg"


def tv_broadcasts(meta: "GameMeta") -> list[dict]:
    """1-5 broadcasters: regional feeds of both clubs and sometimes a national US/Canadian network."""
    rng = random.Random(f"tv:{meta.game.id}")
    away, home = _teams(meta)
    out = []
    if rng.random() < 0.45:
        name, nid = rng.choice(_NATIONAL_CA)
        out.append({"id": nid, "market": "N", "countryCode": "CA", "network": name, "sequenceNumber": rng.randint(100, 130)})
    if rng.random() < 0.2:
        name, nid = rng.choice(_NATIONAL_US)
        out.append({"id": nid, "market": "N", "countryCode": "US", "network": name, "sequenceNumber": rng.randint(5, 40)})
    for market, team in (("H", home), ("A", away)):
        if rng.random() < 0.9:
            cc = "CA" if team.abbrev in _CANADIAN else "US"
            out.append({"id": 300 + team.franchise * 7 + (market == "A"), "market": market, "countryCode": cc,
                        "network": f"{team.abbrev}-TV" if cc == "US" else f"SN-{team.abbrev}",
                        "sequenceNumber": rng.randint(200, 700)})
    out.sort(key=lambda b: b["sequenceNumber"])
    return out


def _header(league: "SimulatedLeague", meta: "GameMeta", state: str) -> dict:
    away, home = _teams(meta)
    g = meta.game
    return {
        "id": g.id,
        "season": g.season,
        "gameType": g.game_type,
        "limitedScoring": False,
        "gameDate": g.game_date.isoformat(),
        "venue": {"default": home.venue},
        "venueLocation": {"default": home.city},
        "startTimeUTC": _iso(g.start_utc),
        "easternUTCOffset": offset_str(utc_offset_hours(None, g.game_date)),
        "venueUTCOffset": offset_str(utc_offset_hours(home, g.game_date)),
        "tvBroadcasts": tv_broadcasts(meta),
        "gameState": state,
        "gameScheduleState": "OK",
    }


def _team_obj(team: TeamInfo, score: int | None, sog: int | None) -> dict:
    d: dict = {"id": team.id, "commonName": team.common_name_obj(), "abbrev": team.abbrev}
    if score is not None:
        d["score"] = score
        d["sog"] = sog
    d["logo"] = _logo(team)
    d["darkLogo"] = _logo(team, True)
    d["placeName"] = {"default": team.place}
    d["placeNameWithPreposition"] = team.place_prep_obj()
    return d


def _pdesc(number: int, ptype: str) -> dict:
    return {"number": number, "periodType": ptype, "maxRegulationPeriods": 3}


def _outcome_obj(sim: SimResult) -> dict:
    lp = sim.spec.last_period_type
    if lp == "OT":
        return {"lastPeriodType": "OT", "otPeriods": len(sim.periods) - 3}
    return {"lastPeriodType": lp}


# --------------------------------------------------------------------------------------------
# counting (shared by boxscore and header scores)
# --------------------------------------------------------------------------------------------


def _period_and_clock(sim: SimResult, cutoff: int | None, intermission: bool) -> tuple[dict, dict]:
    """`periodDescriptor` and `clock` of a game payload: the last period once final, else the period
    in progress at `cutoff` (seconds of game time) with the time remaining in it."""
    if cutoff is None:
        last = sim.periods[-1]
        return _pdesc(last.number, last.type), {"timeRemaining": "00:00", "secondsRemaining": 0,
                                                "running": False, "inIntermission": False}
    cur = sim.periods[0]
    for p in sim.periods:
        if p.type != "SO" and p.start <= max(cutoff, 0):
            cur = p
    rem = max(0, cur.nominal - (max(cutoff, 0) - cur.start)) if cur.nominal else 0
    return _pdesc(cur.number, cur.type), {"timeRemaining": mmss(rem), "secondsRemaining": rem,
                                          "running": not intermission and cutoff >= 0,
                                          "inIntermission": intermission}


def _cut_events(sim: SimResult, cutoff: int | None) -> list:
    if cutoff is None:
        return sim.events
    so = sim.spec.last_period_type == "SO"
    return [e for e in sim.events if e.t <= cutoff and not (so and e.period == 5)]


def _cut_shifts(sim: SimResult, cutoff: int | None) -> list[tuple[int, int, int, int, int]]:
    if cutoff is None:
        return sim.shifts
    starts = {p.number: p.start for p in sim.periods}
    out = []
    for pid, team, per, s, e in sim.shifts:
        a = starts[per] + s
        if a >= cutoff:
            continue
        out.append((pid, team, per, s, min(e, cutoff - starts[per])))
    return out


def _scores(sim: SimResult, events: list) -> tuple[list[int], list[int]]:
    """Team scores (shootout winner +1 once complete) and shots on goal from the plays given."""
    score = [0, 0]
    sog = [0, 0]
    so_done = False
    for e in events:
        if e.period == 5 and sim.spec.last_period_type == "SO":
            if e.kind == "shootout-complete":
                so_done = True
            continue
        if e.kind == "goal":
            score[e.team] += 1
            sog[e.team] += 1
        elif e.kind == "shot-on-goal":
            sog[e.team] += 1
    if so_done and sim.spec.so_winner is not None:
        score[sim.spec.so_winner] += 1
    return score, sog


def _player_stats(sim: SimResult, events: list, shifts: list) -> dict[int, dict]:
    spec = sim.spec
    st: dict[int, dict] = {}
    for team in (AWAY, HOME):
        for p in spec.forwards[team] + spec.defense[team]:
            st[p] = {"g": 0, "a": 0, "pm": 0, "pim": 0, "hits": 0, "ppg": 0, "sog": 0, "fw": 0, "fl": 0,
                     "toi": 0, "blk": 0, "shifts": 0, "gv": 0, "tk": 0, "team": team}
        for p in spec.goalies[team]:
            st[p] = {"team": team, "toi": 0, "pim": 0, "ga": 0, "sv": {"EV": 0, "PP": 0, "SH": 0},
                     "sh": {"EV": 0, "PP": 0, "SH": 0}, "gal": {"EV": 0, "PP": 0, "SH": 0}}
    goal_by_ev = {id(g.event): g for g in sim.goals}
    so_period = 5 if spec.last_period_type == "SO" else None
    base = _BaseLookup(sim)
    for e in events:
        if e.period == so_period:
            continue
        d = e.details
        k = e.kind
        if k == "goal":
            g = goal_by_ev[id(e)]
            st[g.scorer]["g"] += 1
            st[g.scorer]["sog"] += 1
            if g.strength == "PP":
                st[g.scorer]["ppg"] += 1
            for a in g.assists:
                st[a]["a"] += 1
            if g.strength != "PP":
                for p in sim.onice[g.team].left(g.t):
                    st[p]["pm"] += 1
                for p in sim.onice[1 - g.team].left(g.t):
                    st[p]["pm"] -= 1
            if g.goalie is not None:
                gs = st[g.goalie]
                gs["ga"] += 1
                gs["sh"][g.strength] += 1
                gs["gal"][g.strength] += 1
        elif k == "shot-on-goal":
            st[d["shootingPlayerId"]]["sog"] += 1
            gs = st[d["goalieInNetId"]]
            strength = base.strength(e.team, e.t)
            gs["sh"][strength] += 1
            gs["sv"][strength] += 1
        elif k == "hit":
            st[d["hittingPlayerId"]]["hits"] += 1
        elif k == "blocked-shot":
            if d["reason"] == "blocked":
                st[d["blockingPlayerId"]]["blk"] += 1
        elif k == "giveaway":
            st[d["playerId"]]["gv"] += 1
        elif k == "takeaway":
            st[d["playerId"]]["tk"] += 1
        elif k == "faceoff":
            st[d["winningPlayerId"]]["fw"] += 1
            st[d["losingPlayerId"]]["fl"] += 1
        elif k == "penalty":
            who = d.get("committedByPlayerId")  # the server of a bench minor is not charged
            if who is not None:
                st[who]["pim"] += d["duration"]
    for pid, _team, _per, s, e in shifts:
        st[pid]["toi"] += e - s
        if "shifts" in st[pid]:
            st[pid]["shifts"] += 1
    return st


class _BaseLookup:
    """Penalty-based strength of a team at a second (extra attackers ignored)."""

    def __init__(self, sim: SimResult) -> None:
        self.sim = sim

    def strength(self, team: int, t: int) -> str:
        code = self.sim.state_left(t)
        ba, bh = code[4], code[5]
        mine, opp = (bh, ba) if team == HOME else (ba, bh)
        return "EV" if mine == opp else ("PP" if mine > opp else "SH")


# --------------------------------------------------------------------------------------------
# play-by-play
# --------------------------------------------------------------------------------------------


def _clip_fields(meta: "GameMeta", sim: SimResult, e, names: dict[int, tuple[str, str]]) -> dict:
    away, home = _teams(meta)
    scorer = e.details["scoringPlayerId"]
    opp = home if e.team == AWAY else away
    rng = random.Random(f"clip:{meta.game.id}:{e.event_id}")
    base = 6_300_000_000_000 + meta.seq * 4_000 + e.event_id * 3
    clip, clip_fr = base + 112, base + rng.randint(1, 999) * 1000 + 112
    slug = f"{away.abbrev.lower()}-{home.abbrev.lower()}-{_slug(names[scorer][1])}-scores-goal-against-{_slug(opp.common_name)}"
    if meta.start_year <= 2023:
        return {"highlightClipSharingUrl": f"https://nhl.com/video/{slug}-{clip}", "highlightClip": clip}
    return {
        "highlightClipSharingUrl": f"https://nhl.com/video/{slug}-{clip}",
        "highlightClipSharingUrlFr": f"https://nhl.com/fr/video/{slug}-{clip_fr}",
        "highlightClip": clip,
        "highlightClipFr": clip_fr,
        "discreteClip": clip + 7000,
        "discreteClipFr": clip_fr + 7000,
    }


def _play(meta: "GameMeta", sim: SimResult, e, names) -> dict:
    per = next(p for p in sim.periods if p.number == e.period)
    nominal = per.nominal
    d: dict = {
        "eventId": e.event_id,
        "periodDescriptor": _pdesc(per.number, per.type),
        "timeInPeriod": mmss(e.tin),
        "timeRemaining": mmss(max(0, nominal - e.tin)) if nominal else "00:00",
        "situationCode": e.code,
        "homeTeamDefendingSide": sim.side(per.number),
        "typeCode": TYPE_CODES[e.kind],
        "typeDescKey": e.kind,
        "sortOrder": e.sort_order,
    }
    if e.details is not None:
        if e.kind == "goal" and per.type != "SO":
            det = dict(e.details)
            det.update(_clip_fields(meta, sim, e, names))
            d["details"] = det
            d["pptReplayUrl"] = f"https://wsr.nhle.com/sprites/{meta.game.season}/{meta.game.id}/ev{e.event_id}.json"
        else:
            d["details"] = e.details
    return d


def _names(league: "SimulatedLeague", sim: SimResult) -> dict[int, tuple[str, str]]:
    P = league.rosters.players
    return {p: (P[p].first, P[p].last) for p in sim.spec.rating}


def _roster_spots(league: "SimulatedLeague", meta: "GameMeta") -> list[dict]:
    hl = league.headline(meta.game.id)
    away, home = _teams(meta)
    P = league.rosters.players
    spots = []
    for team, lu in ((away, hl["lineups"][0]), (home, hl["lineups"][1])):
        for pid in lu.all:
            pl = P[pid]
            spots.append({
                "teamId": team.id, "playerId": pid, "firstName": pl.first_obj(), "lastName": pl.last_obj(),
                "sweaterNumber": lu.numbers[pid], "positionCode": pl.position,
                "headshot": f"https://assets.nhle.com/mugs/nhl/{meta.game.season}/{team.abbrev}/{pid}.png",
            })
    spots.sort(key=lambda s: s["playerId"])
    return spots


def play_by_play_payload(league: "SimulatedLeague", meta: "GameMeta", as_of: datetime | None) -> dict:
    state = league.state_of(meta, as_of)
    away, home = _teams(meta)
    out = _header(league, meta, state)
    playoffs = meta.game.game_type == 3
    if state == "FUT":
        out["periodDescriptor"] = _pdesc(1, "REG")
        out["awayTeam"] = _team_obj(away, None, None)
        out["homeTeam"] = _team_obj(home, None, None)
        out["shootoutInUse"] = not playoffs
        out["otInUse"] = True
        out["clock"] = {"timeRemaining": "20:00", "secondsRemaining": 1200, "running": False, "inIntermission": False}
        out["displayPeriod"] = 1
        if not playoffs:
            out["maxPeriods"] = 5
        out["plays"] = []
        out["rosterSpots"] = []
        out["regPeriods"] = 3
        out["summary"] = {}
        return out
    sim = league.simulate(meta.game.id)
    cutoff, intermission = (None, False) if state != "LIVE" else league.live_cutoff(meta, as_of)
    events = _cut_events(sim, cutoff)
    score, sog = _scores(sim, events)
    pd, clock = _period_and_clock(sim, cutoff, intermission)
    out["periodDescriptor"] = pd
    out["awayTeam"] = _team_obj(away, score[AWAY], sog[AWAY])
    out["homeTeam"] = _team_obj(home, score[HOME], sog[HOME])
    out["shootoutInUse"] = not playoffs
    out["otInUse"] = True
    out["clock"] = clock
    out["displayPeriod"] = 1
    if not playoffs:
        out["maxPeriods"] = 5
    if cutoff is None:
        out["gameOutcome"] = _outcome_obj(sim)
    names = _names(league, sim)
    out["plays"] = [_play(meta, sim, e, names) for e in events]
    out["rosterSpots"] = _roster_spots(league, meta)
    out["regPeriods"] = 3
    out["summary"] = {}
    return out


# --------------------------------------------------------------------------------------------
# boxscore
# --------------------------------------------------------------------------------------------


def _frac(a: int, b: int) -> str:
    return f"{a}/{b}"


def boxscore_payload(league: "SimulatedLeague", meta: "GameMeta", as_of: datetime | None) -> dict:
    state = league.state_of(meta, as_of)
    away, home = _teams(meta)
    out = _header(league, meta, state)
    if state == "FUT":
        out["periodDescriptor"] = _pdesc(1, "REG")
        out["regPeriods"] = 3
        out["awayTeam"] = _team_obj(away, None, None)
        out["homeTeam"] = _team_obj(home, None, None)
        out["clock"] = {"timeRemaining": "20:00", "secondsRemaining": 1200, "running": False, "inIntermission": False}
        return out
    sim = league.simulate(meta.game.id)
    cutoff, intermission = (None, False) if state != "LIVE" else league.live_cutoff(meta, as_of)
    events = _cut_events(sim, cutoff)
    shifts = _cut_shifts(sim, cutoff)
    stats = _player_stats(sim, events, shifts)
    score, _ = _scores(sim, events)
    P = league.rosters.players
    hl = league.headline(meta.game.id)
    by_team = {}
    sog_team = [0, 0]
    for team, lu in ((AWAY, hl["lineups"][0]), (HOME, hl["lineups"][1])):
        fw, de, go = [], [], []
        for pid in lu.forwards + lu.defense:
            s = stats[pid]
            sog_team[team] += s["sog"]
            fo = s["fw"] + s["fl"]
            row = {
                "playerId": pid, "sweaterNumber": lu.numbers[pid], "name": {"default": P[pid].initial_name()},
                "position": P[pid].position, "goals": s["g"], "assists": s["a"], "points": s["g"] + s["a"],
                "plusMinus": s["pm"], "pim": s["pim"], "hits": s["hits"], "powerPlayGoals": s["ppg"],
                "sog": s["sog"], "faceoffWinningPctg": round(s["fw"] / fo, 6) if fo else 0.0,
                "toi": mmss(s["toi"]), "blockedShots": s["blk"], "shifts": s["shifts"],
                "giveaways": s["gv"], "takeaways": s["tk"],
            }
            (de if P[pid].position == "D" else fw).append(row)
        for pid in lu.goalies:
            s = stats[pid]
            shots = sum(s["sh"].values())
            saves = sum(s["sv"].values())
            row = {
                "playerId": pid, "sweaterNumber": lu.numbers[pid], "name": {"default": P[pid].initial_name()},
                "position": "G",
                "evenStrengthShotsAgainst": _frac(s["sv"]["EV"], s["sh"]["EV"]),
                "powerPlayShotsAgainst": _frac(s["sv"]["PP"], s["sh"]["PP"]),
                "shorthandedShotsAgainst": _frac(s["sv"]["SH"], s["sh"]["SH"]),
                "saveShotsAgainst": _frac(saves, shots),
            }
            if shots:
                row["savePctg"] = round(saves / shots, 6)
            row.update({
                "evenStrengthGoalsAgainst": s["gal"]["EV"], "powerPlayGoalsAgainst": s["gal"]["PP"],
                "shorthandedGoalsAgainst": s["gal"]["SH"], "pim": s["pim"], "goalsAgainst": s["ga"],
                "toi": mmss(s["toi"]), "starter": pid == sim.starters[team],
            })
            if cutoff is None and pid in sim.decision:
                row["decision"] = sim.decision[pid]
            row["shotsAgainst"] = shots
            row["saves"] = saves
            go.append(row)
        fw.sort(key=lambda r: r["sweaterNumber"])
        de.sort(key=lambda r: r["sweaterNumber"])
        go.sort(key=lambda r: r["sweaterNumber"])
        by_team["awayTeam" if team == AWAY else "homeTeam"] = {"forwards": fw, "defense": de, "goalies": go}
    pd, clock = _period_and_clock(sim, cutoff, intermission)
    out["periodDescriptor"] = pd
    out["regPeriods"] = 3
    out["awayTeam"] = _team_obj(away, score[AWAY], sog_team[AWAY])
    out["homeTeam"] = _team_obj(home, score[HOME], sog_team[HOME])
    out["clock"] = clock
    out["playerByGameStats"] = by_team
    if cutoff is None:
        out["gameOutcome"] = _outcome_obj(sim)
    return out


# --------------------------------------------------------------------------------------------
# shift chart
# --------------------------------------------------------------------------------------------


def shiftcharts_payload(league: "SimulatedLeague", meta: "GameMeta", as_of: datetime | None) -> dict:
    pub = meta.game.shift_chart_published_utc
    if pub is None:
        return {"data": [], "total": 0}
    if as_of is not None:
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        if as_of < pub:
            return {"data": [], "total": 0}
    sim = league.simulate(meta.game.id)
    away, home = _teams(meta)
    teams = (away, home)
    P = league.rosters.players
    gid = meta.game.id
    rows = []
    chrono = sorted(sim.shifts, key=lambda s: (s[2], s[3], s[0]))
    n_shift: dict[int, int] = {}
    base_id = 13_000_000 + meta.seq * 1_200
    ev_no = 0
    rng = random.Random(f"shiftrows:{gid}")
    for k, (pid, team, per, s, e) in enumerate(chrono):
        n_shift[pid] = n_shift.get(pid, 0) + 1
        ev_no += rng.choice((0, 1, 1, 2, 3))
        t = teams[team]
        rows.append({
            "id": base_id + k, "detailCode": 0, "duration": mmss(e - s), "endTime": mmss(e),
            "eventDescription": None, "eventDetails": None, "eventNumber": ev_no + 5, "firstName": P[pid].first,
            "gameId": gid, "hexValue": t.color, "lastName": P[pid].last, "period": per, "playerId": pid,
            "shiftNumber": n_shift[pid], "startTime": mmss(s), "teamAbbrev": t.abbrev, "teamId": t.id,
            "teamName": t.full_name, "typeCode": 517,
        })
    k = len(rows)
    for g in sim.goals:
        if g.event is None:
            continue
        per = g.event.period
        t = teams[g.team]
        desc = "ENG" if g.empty_net else {"EV": "EVG", "PP": "PPG", "SH": "SHG"}[g.strength]
        assists = ", ".join(f"{P[a].first} {P[a].last}" for a in g.assists) or None
        rows.append({
            "id": base_id + k, "detailCode": 801 + (g.event.event_id * 7) % 8, "duration": None,
            "endTime": mmss(g.event.tin), "eventDescription": desc, "eventDetails": assists,
            "eventNumber": g.event.event_id, "firstName": P[g.scorer].first, "gameId": gid, "hexValue": t.color,
            "lastName": P[g.scorer].last, "period": per, "playerId": g.scorer, "shiftNumber": 0,
            "startTime": mmss(g.event.tin), "teamAbbrev": t.abbrev, "teamId": t.id, "teamName": t.full_name,
            "typeCode": 505,
        })
        k += 1
    rows.sort(key=lambda r: (r["playerId"], r["period"], r["startTime"], r["typeCode"]))
    return {"data": rows, "total": len(rows)}


# --------------------------------------------------------------------------------------------
# schedule
# --------------------------------------------------------------------------------------------


def _sched_team(team: TeamInfo, side: str, state: str, score: int | None, sog: int | None, season: int) -> dict:
    d: dict = {
        "id": team.id, "commonName": team.common_name_obj(), "placeName": team.place_obj(),
        "placeNameWithPreposition": team.place_prep_obj(), "abbrev": team.abbrev, "logo": _logo(team),
        "darkLogo": _logo(team, True), f"{side}SplitSquad": False,
    }
    if state == "FUT":
        d["radioLink"] = f"https://d2igy0yla8zi0u.cloudfront.net/{team.abbrev}/{season}/{team.abbrev}-radio.m3u8"
    else:
        d["score"] = score
        if state == "LIVE":
            d["sog"] = sog
    return d


_ROUND_TITLES = {1: "1st Round", 2: "2nd Round", 3: "Conference Final", 4: "Stanley Cup Final"}


def schedule_game(league: "SimulatedLeague", meta: "GameMeta", as_of: datetime | None) -> dict:
    """One entry of ``gameWeek[].games`` (cheap: no full simulation unless the game is LIVE)."""
    state = league.state_of(meta, as_of)
    away, home = _teams(meta)
    g = meta.game
    o = meta.outcome
    sched_state = state
    d: dict = {
        "id": g.id, "season": g.season, "gameType": g.game_type, "venue": {"default": home.venue},
        "neutralSite": False, "startTimeUTC": _iso(g.start_utc),
        "easternUTCOffset": offset_str(utc_offset_hours(None, g.game_date)),
        "venueUTCOffset": offset_str(utc_offset_hours(home, g.game_date)), "venueTimezone": home.tz_name,
        "gameState": sched_state, "gameScheduleState": "OK", "tvBroadcasts": tv_broadcasts(meta),
    }
    if state == "FUT":
        d["awayTeam"] = _sched_team(away, "away", state, None, None, g.season)
        d["homeTeam"] = _sched_team(home, "home", state, None, None, g.season)
    elif state == "LIVE":
        sim = league.simulate(g.id)
        cutoff, _ = league.live_cutoff(meta, as_of)
        score, sog = _scores(sim, _cut_events(sim, cutoff))
        d["awayTeam"] = _sched_team(away, "away", state, score[AWAY], sog[AWAY], g.season)
        d["homeTeam"] = _sched_team(home, "home", state, score[HOME], sog[HOME], g.season)
    else:
        d["awayTeam"] = _sched_team(away, "away", state, o.away_goals, None, g.season)
        d["homeTeam"] = _sched_team(home, "home", state, o.home_goals, None, g.season)
    if meta.series is not None:
        s = meta.series
        teams = season_teams(meta.start_year)
        d["seriesStatus"] = {
            "round": s.round, "seriesAbbrev": "SCF" if s.round == 4 else f"R{s.round}",
            "seriesTitle": _ROUND_TITLES[s.round], "seriesLetter": s.letter, "neededToWin": 4,
            "topSeedTeamAbbrev": teams[s.top].abbrev, "topSeedWins": s.top_wins_before,
            "bottomSeedTeamAbbrev": teams[s.bottom].abbrev, "bottomSeedWins": s.bottom_wins_before,
            "gameNumberOfSeries": s.game_number,
        }
    link = f"/gamecenter/{away.abbrev.lower()}-vs-{home.abbrev.lower()}/{g.game_date:%Y/%m/%d}/{g.id}"
    if state == "FUT":
        d["periodDescriptor"] = _pdesc(1, "REG")
        d["ticketsLink"] = f"https://www.ticketmaster.com/event/{g.id:X}?brand=nhl&utm_campaign=NHL_LEAGUE_{home.abbrev}"
        d["ticketsLinkFr"] = d["ticketsLink"] + "&lang=fr"
    elif state == "LIVE":
        cutoff, _ = league.live_cutoff(meta, as_of)
        sim = league.simulate(g.id)
        cur = sim.periods[0]
        for p in sim.periods:
            if p.type != "SO" and p.start <= max(cutoff, 0):
                cur = p
        d["periodDescriptor"] = _pdesc(cur.number, cur.type)
    else:
        if o.last_period_type == "REG":
            d["periodDescriptor"] = _pdesc(3, "REG")
            d["gameOutcome"] = {"lastPeriodType": "REG"}
        elif o.last_period_type == "OT":
            n = 3 + (o.ot_periods if g.game_type == 3 else 1)
            d["periodDescriptor"] = _pdesc(n, "OT")
            d["gameOutcome"] = {"lastPeriodType": "OT", "otPeriods": n - 3}
        else:
            d["periodDescriptor"] = _pdesc(5, "SO")
            d["gameOutcome"] = {"lastPeriodType": "SO"}
        hl = league.headline(g.id)
        P = league.rosters.players
        wg = P[hl["winning_goalie"]]
        d["winningGoalie"] = {"playerId": wg.id, "firstInitial": {"default": f"{wg.first[0]}."},
                              "lastName": wg.last_obj()}
        if hl["gwg_scorer"] is not None:
            ws = P[hl["gwg_scorer"]]
            d["winningGoalScorer"] = {"playerId": ws.id, "firstInitial": {"default": f"{ws.first[0]}."},
                                      "lastName": ws.last_obj()}
        stamp = f"{g.game_date.month}-{g.game_date.day}-{g.game_date:%y}"
        d["threeMinRecap"] = f"/video/recap-{_slug(away.common_name)}-at-{_slug(home.common_name)}-{stamp}-{6_300_000_000_000 + meta.seq}"
        d["threeMinRecapFr"] = f"/fr/video/{away.abbrev.lower()}-vs-{home.abbrev.lower()}-{stamp}-resume-{6_300_000_001_000 + meta.seq}"
        d["condensedGame"] = f"/video/{away.abbrev.lower()}-at-{home.abbrev.lower()}-condensed-game-{6_300_000_002_000 + meta.seq}"
        d["condensedGameFr"] = f"/fr/video/match-condense-{_slug(away.common_name)}-{_slug(home.common_name)}-{stamp}-{6_300_000_003_000 + meta.seq}"
    d["gameCenterLink"] = link
    return d


_DAY_ABBREV = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def schedule_payload(league: "SimulatedLeague", d: date, as_of: datetime | None) -> dict:
    y = season_start_year_for(d)
    cal = league.season_calendar(y)
    week = []
    total = 0
    for i in range(7):
        day = d + timedelta(days=i)
        games = [schedule_game(league, league.meta(g.id), as_of) for g in league.games_on(day)]
        total += len(games)
        entry: dict = {"date": day.isoformat(), "dayAbbrev": _DAY_ABBREV[day.weekday()], "numberOfGames": len(games)}
        if day >= date(2024, 7, 1):
            entry["datePromo"] = []
        entry["games"] = games
        week.append(entry)
    return {
        "nextStartDate": (d + timedelta(days=7)).isoformat(),
        "previousStartDate": (d - timedelta(days=7)).isoformat(),
        "gameWeek": week,
        "preSeasonStartDate": cal.preseason_start.isoformat(),
        "regularSeasonStartDate": cal.regular_start.isoformat(),
        "regularSeasonEndDate": cal.regular_end.isoformat(),
        "playoffEndDate": league.playoff_end_date(y).isoformat(),
        "numberOfGames": total,
    }
