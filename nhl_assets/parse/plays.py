"""Play-by-play payload -> game header, dressed players and plays in `sortOrder` (pure, no Dagster).

Why this module is strict about some fields and lenient about others: a play without `typeDescKey`,
`periodDescriptor`, `timeInPeriod` or `sortOrder` cannot be placed or counted, so the game is rejected
(`ParseError` naming the field); decorative or optional fields (`situationCode`, `zoneCode`, coordinates,
`periodType`, names) may drift without costing the game. Everything here runs once per play of every
game in a backfill, so it is written as tight loops: over `RegularPlay`s when the body decoded typed
(`decode_regular`, the common case), else over the orjson-parsed dicts, which also name what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

import msgspec

from nhl_assets.parse.errors import ParseError
from nhl_assets.rules import FINAL_STATES, MAX_PERIOD

ENDPOINT = "play_by_play"
AWAY, HOME = 0, 1
PERIOD_SECONDS = 1200  # absolute time of period n starts at (n - 1) * 1200 (OT periods are never longer)

_MMSS: dict[str, int] = {f"{m:02d}:{s:02d}": m * 60 + s for m in range(100) for s in range(60)}


def clock_seconds(value: Any, what: str, game_id: int | None, endpoint: str) -> int:
    """"MM:SS" -> seconds (cached for the common case; other spellings such as "5:07" parsed)."""
    sec = _MMSS.get(value) if isinstance(value, str) else None
    if sec is not None:
        return sec
    try:
        m, s = str(value).split(":")
        return int(m) * 60 + int(s)
    except (ValueError, AttributeError):
        raise ParseError(f"{what} is not a MM:SS clock: {value!r}", game_id=game_id, endpoint=endpoint) from None


@dataclass(frozen=True, slots=True)
class GameHeader:
    """Who played whom, when, and how it ended (as the play-by-play says)."""

    game_id: int
    season: int
    game_type: int
    game_state: str | None
    team_ids: tuple[int, int]  # (away, home)
    abbrevs: tuple[str, str]
    scores: tuple[int | None, int | None]
    last_period_type: str | None

    def side_of_team(self, team_id: Any) -> int | None:
        """AWAY/HOME for a team id, None when it is neither team (or not an int: a JSON `true` equals 1,
        the Devils' id)."""
        if type(team_id) is not int:
            return None
        if team_id == self.team_ids[HOME]:
            return HOME
        if team_id == self.team_ids[AWAY]:
            return AWAY
        return None


@dataclass(frozen=True, slots=True)
class Player:
    """One dressed player (a `rosterSpots` entry)."""

    player_id: int
    side: int
    position: str
    name: str

    @property
    def is_goalie(self) -> bool:
        return self.position == "G"


class Play(NamedTuple):
    """One play, placed on the game clock. `t` is absolute seconds: (period - 1) * 1200 + timeInPeriod.

    A named tuple (built with `tuple.__new__`, attribute access in C) because a backfill creates millions.
    """

    sort_order: int
    period: int
    period_type: str
    t: int
    kind: str
    code: str | None
    details: dict
    event_id: Any  # `eventId` as written (the shot table's key, with the game)
    defending_side: Any  # `homeTeamDefendingSide` as written ("left"/"right"; the shot table's direction)


_new_play = tuple.__new__


# ----------------------------------------------------------------------------------------------------
# typed decoding: a regular play-by-play straight into the fields the parse reads
# ----------------------------------------------------------------------------------------------------


class RegularPeriod(msgspec.Struct, frozen=True, gc=False):
    number: int
    periodType: str | None = None


class RegularPlay(msgspec.Struct, frozen=True):
    """A play with the four fields every play needs typed as the feed writes them (`ordered_plays`)."""

    periodDescriptor: RegularPeriod
    typeDescKey: str
    sortOrder: int
    timeInPeriod: str
    details: dict | None = None
    situationCode: str | None = None
    eventId: Any = None
    homeTeamDefendingSide: Any = None


class RegularPlayByPlay(msgspec.Struct, frozen=True):
    """A play-by-play whose plays are all `RegularPlay`s; the header fields as the feed wrote them (they are
    few, and `parse_header`/`parse_roster` check them as they check a dict's)."""

    plays: list[RegularPlay]
    id: Any = None
    season: Any = None
    gameType: Any = None
    gameState: Any = None
    awayTeam: Any = None
    homeTeam: Any = None
    gameOutcome: Any = None
    rosterSpots: Any = None


_REGULAR = msgspec.json.Decoder(RegularPlayByPlay)


def decode_regular(body: bytes | str) -> RegularPlayByPlay | None:
    """A play-by-play body decoded straight into the fields the parse reads, or None when it is not regular.

    Why: most of a body is what silver never reads (venue, broadcasts, the summary, every play's
    `timeRemaining` and `typeCode`, headshot URLs); a typed decoder skips it without building dicts for it
    (0.48 against 0.86 ms per game with orjson on the simulated season). A body that does not fit (invalid
    JSON, a play without `sortOrder`, a number written as text) returns None: the caller decodes it
    generically and the parse names what is wrong, as before.
    """
    try:
        return _REGULAR.decode(body)
    except (msgspec.MsgspecError, RecursionError):  # not JSON, not regular, or nested past msgspec's depth
        return None


def as_payload(payload: Any) -> Any:
    """The decoded body as a dict of its top-level fields (a `RegularPlayByPlay`'s are its attributes; its
    `plays` stay `RegularPlay`s, which `ordered_plays` reads as they are)."""
    return msgspec.structs.asdict(payload) if isinstance(payload, RegularPlayByPlay) else payload


def _team(payload: dict, key: str, game_id: int) -> dict:
    team = payload.get(key)
    if not isinstance(team, dict) or type(team.get("id")) is not int:
        raise ParseError(f"{key}.id missing", game_id=game_id, endpoint=ENDPOINT)
    return team


def season_of(game_id: int) -> int:
    """20232024 for 2023020204: the first four digits of a game id are the season's start year."""
    start = game_id // 1_000_000
    return start * 10_000 + start + 1


def parse_header(payload: Any, game_id: int) -> GameHeader:
    """The game header; refuses a payload of another game or one that is not final."""
    if not isinstance(payload, dict):
        raise ParseError(f"play-by-play is not a JSON object ({type(payload).__name__})", game_id=game_id,
                         endpoint=ENDPOINT)
    pid = payload.get("id")
    if pid is not None and pid != game_id:
        raise ParseError(f"id {pid} is not game {game_id}", game_id=game_id, endpoint=ENDPOINT)
    state = payload.get("gameState")
    if state is not None and state not in FINAL_STATES:
        raise ParseError(f"gameState {state!r} is not final", game_id=game_id, endpoint=ENDPOINT)
    away, home = _team(payload, "awayTeam", game_id), _team(payload, "homeTeam", game_id)
    if away["id"] == home["id"]:
        raise ParseError("awayTeam.id equals homeTeam.id", game_id=game_id, endpoint=ENDPOINT)
    season = payload.get("season")
    game_type = payload.get("gameType")
    outcome = payload.get("gameOutcome") if isinstance(payload.get("gameOutcome"), dict) else {}
    return GameHeader(
        game_id=game_id,
        season=season if isinstance(season, int) else season_of(game_id),
        game_type=game_type if isinstance(game_type, int) else (game_id // 10_000) % 100,
        game_state=state,
        team_ids=(away["id"], home["id"]),
        abbrevs=(str(away.get("abbrev") or away["id"]), str(home.get("abbrev") or home["id"])),
        scores=(away.get("score"), home.get("score")),
        last_period_type=outcome.get("lastPeriodType"),
    )


def _name(spot: dict) -> str:
    first, last = spot.get("firstName"), spot.get("lastName")
    first = first.get("default", "") if isinstance(first, dict) else (first or "")
    last = last.get("default", "") if isinstance(last, dict) else (last or "")
    return f"{first} {last}".strip()


def parse_roster(payload: dict, header: GameHeader) -> dict[int, Player]:
    """Every dressed player by id. A game without `rosterSpots` cannot say who played: rejected."""
    spots = payload.get("rosterSpots")
    gid = header.game_id
    if not isinstance(spots, list) or not spots:
        raise ParseError("rosterSpots missing or empty", game_id=gid, endpoint=ENDPOINT)
    out: dict[int, Player] = {}
    for spot in spots:
        if not isinstance(spot, dict):
            raise ParseError("rosterSpots entry is not an object", game_id=gid, endpoint=ENDPOINT)
        pid, team, pos = spot.get("playerId"), spot.get("teamId"), spot.get("positionCode")
        side = header.side_of_team(team)
        if type(pid) is not int or side is None or not isinstance(pos, str):
            raise ParseError(f"rosterSpots entry without playerId/teamId/positionCode: playerId={pid!r}, "
                             f"teamId={team!r}, positionCode={pos!r}", game_id=gid, endpoint=ENDPOINT)
        out[pid] = Player(pid, side, pos, _name(spot))
    return out


def _period_type(desc: dict, number: int, game_type: int) -> str:
    """`periodType`, or inferred from the number when the field drifted away (5 = shootout outside playoffs)."""
    ptype = desc.get("periodType")
    if isinstance(ptype, str):
        return ptype
    if number <= 3:
        return "REG"
    return "SO" if (number == 5 and game_type != 3) else "OT"


def _checked_play(i: int, p: Any, game_id: int, game_type: int) -> Play:
    """One play read field by field, naming what is missing (the slow path of `ordered_plays`)."""
    if not isinstance(p, dict):
        raise ParseError(f"plays[{i}] is not an object", game_id=game_id, endpoint=ENDPOINT)
    kind, desc, order = p.get("typeDescKey"), p.get("periodDescriptor"), p.get("sortOrder")
    if not isinstance(kind, str):
        raise ParseError(f"plays[{i}] has no typeDescKey", game_id=game_id, endpoint=ENDPOINT)
    # `type(...) is int`, not isinstance: a JSON `true` is a Python int, and would be read as period 1
    if not isinstance(desc, dict) or type(desc.get("number")) is not int:
        raise ParseError(f"plays[{i}] ({kind}) has no periodDescriptor.number", game_id=game_id, endpoint=ENDPOINT)
    if type(order) is not int:
        raise ParseError(f"plays[{i}] ({kind}) has no sortOrder", game_id=game_id, endpoint=ENDPOINT)
    tin = p.get("timeInPeriod")
    if tin is None:
        raise ParseError(f"play sortOrder {order} ({kind}) has no timeInPeriod", game_id=game_id, endpoint=ENDPOINT)
    sec = clock_seconds(tin, f"play sortOrder {order} timeInPeriod", game_id, ENDPOINT)
    det = p.get("details")
    if det is not None and not isinstance(det, dict):
        raise ParseError(f"play sortOrder {order} ({kind}) details is not an object", game_id=game_id,
                         endpoint=ENDPOINT)
    code = p.get("situationCode")
    number = desc["number"]
    return _new_play(Play, (order, number, _period_type(desc, number, game_type), (number - 1) * PERIOD_SECONDS + sec,
                            kind, code if isinstance(code, str) else None, det or {}, p.get("eventId"),
                            p.get("homeTeamDefendingSide")))


def ordered_plays(payload: dict, header: GameHeader) -> list[Play]:
    """Every play sorted by `sortOrder` (never `eventId`, which is not in time order).

    The common play is read by direct indexing inside one `try`; anything unusual (a missing field, an
    odd clock) goes through `_checked_play`, which either reads it anyway or says precisely what is wrong.
    `payload` is a dict (`as_payload` of a typed body: its plays are then `RegularPlay`s).
    """
    plays = payload.get("plays")
    gid = header.game_id
    if not isinstance(plays, list):
        raise ParseError("plays missing or not a list", game_id=gid, endpoint=ENDPOINT)
    out = _regular_plays(plays, header) if plays and type(plays[0]) is RegularPlay else _dict_plays(plays, header)
    if out:
        periods = list(map(_period_of, out))
        if not 1 <= min(periods) <= max(periods) <= MAX_PERIOD:
            bad = next(p for p in out if not 1 <= p.period <= MAX_PERIOD)
            raise ParseError(f"play sortOrder {bad.sort_order} ({bad.kind}) is in period {bad.period}, outside "
                             f"1..{MAX_PERIOD}", game_id=gid, endpoint=ENDPOINT)
    out.sort(key=_sort_key)
    return out


def _regular_plays(plays: list[RegularPlay], header: GameHeader) -> list[Play]:
    """`RegularPlay`s (the decoder checked their types); a clock that is not "MM:SS" is read by `_checked_play`."""
    out: list[Play] = []
    add = out.append
    mmss = _MMSS
    gid, gtype = header.game_id, header.game_type
    for i, p in enumerate(plays):
        desc = p.periodDescriptor
        number = desc.number
        sec = mmss.get(p.timeInPeriod)
        ptype = desc.periodType
        if sec is None or ptype is None:
            add(_checked_play(i, msgspec.to_builtins(p), gid, gtype))
            continue
        add(_new_play(Play, (p.sortOrder, number, ptype, (number - 1) * PERIOD_SECONDS + sec, p.typeDescKey,
                             p.situationCode, p.details or {}, p.eventId, p.homeTeamDefendingSide)))
    return out


def _dict_plays(plays: list, header: GameHeader) -> list[Play]:
    out: list[Play] = []
    add = out.append
    mmss = _MMSS
    gid, gtype = header.game_id, header.game_type
    for i, p in enumerate(plays):
        try:
            desc = p["periodDescriptor"]
            number = desc["number"]
            kind = p["typeDescKey"]
            order = p["sortOrder"]
            ptype = desc["periodType"]
            sec = mmss[p["timeInPeriod"]]
            det = p.get("details")
            # anything else, including a `periodType` that is null, is read by `_checked_play`, as in
            # `_regular_plays`: both paths then give a play the same fields
            if type(order) is not int or type(number) is not int or type(kind) is not str \
                    or type(ptype) is not str or not (det is None or type(det) is dict):
                raise TypeError
        except (KeyError, TypeError):
            add(_checked_play(i, p, gid, gtype))
            continue
        code = p.get("situationCode")
        add(_new_play(Play, (order, number, ptype, (number - 1) * PERIOD_SECONDS + sec, kind,
                             code if type(code) is str else None, det or {}, p.get("eventId"),
                             p.get("homeTeamDefendingSide"))))
    return out


_sort_key = itemgetter(0)
_period_of = itemgetter(1)
