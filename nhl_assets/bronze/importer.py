"""Saved NHL API responses -> bronze rows (pure: no Dagster; reads files and given stored rows only).

Many hockey users hold years of API responses saved as JSON files. `scan` walks a folder and identifies
each file by its **content**, never its name (people name them every which way):

* play-by-play (`/v1/gamecenter/{id}/play-by-play`): an object with `plays` and an integer `id`;
* boxscore (`/v1/gamecenter/{id}/boxscore`): `playerByGameStats`, at the top level or (the legacy schema)
  under `boxscore`, and an integer `id`;
* shift chart (`/stats/rest/en/shiftcharts?cayenneExp=gameId={id}`): `data` rows carrying `gameId` and
  `shiftNumber`, and `total`; it has no date, so its game date comes from the same game's play-by-play or
  boxscore, an imported schedule listing the game, or the bronze ledger (`known_dates`);
* schedule (`/v1/schedule/{date}`): a `gameWeek` list of dated days (a `/v1/score` page, which also has a
  `gameWeek`, is told apart by its `currentDate`). The API answers a date with the week starting there, so
  a saved schedule is the schedule response of the date it was requested for (its first day) and, for
  the other days of its week, of those the folder holds games of: a folder of weekly files covers its
  games' dates. Where several files cover a date, the one requested for that very date wins, then the one
  listing more final games of the date.

Gzipped files are recognised by their magic bytes. A file that is not one of these responses, is not valid
JSON (truncated), is a game type bronze does not load, or is dated outside the partitions is skipped with
its path and reason; nothing of it is imported. Of two files holding the same game's same endpoint the
final one, then the most recently saved, is kept and the other is reported as superseded.

`merge_day` then turns one date's chosen files plus the rows bronze already stores for that date into the
date's new bronze rows, with the fetch layer's own row code (`tables.day_rows`, `DayFetch`/`GameFetch`,
`record_response`), so imported rows have exactly the bronze layout and the completeness ledger means the
same as after an API fetch. It is a merge by key, never a reload of the date: an imported response
replaces the stored row of the same (gameId, endpoint) (or the date's schedule row); every other stored
row of the date is kept as it is; a row whose imported content is already stored (same sha256, source
`import`) is kept verbatim, so importing a folder twice gives identical tables.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from nhl_assets.bronze import tables as bt
from nhl_assets.rules import FINAL_STATES, LOADED_GAME_TYPES, is_game_id
from nhl_assets.source.types import Fetched, NHLSourceError, RawResponse
from nhl_assets.source.games import (
    GAME_ENDPOINTS,
    DayFetch,
    GameFetch,
    games_from_schedule,
    record_response,
)

#: The `source` column of every imported row (API fetches say `api`).
SOURCE = "import"
SCHEDULE = "schedule"
KIND_LABELS = {"play_by_play": "play-by-play", "boxscore": "boxscore", "shift_chart": "shift chart",
               SCHEDULE: "schedule"}
#: kind -> (endpoint template as the fetch layer records it, request path of a saved response)
REQUESTS = {
    SCHEDULE: ("/v1/schedule/{date}", "/v1/schedule/{}"),
    "boxscore": ("/v1/gamecenter/{gameId}/boxscore", "/v1/gamecenter/{}/boxscore"),
    "play_by_play": ("/v1/gamecenter/{gameId}/play-by-play", "/v1/gamecenter/{}/play-by-play"),
    "shift_chart": ("/stats/rest/en/shiftcharts", "/stats/rest/en/shiftcharts?cayenneExp=gameId={}"),
}
#: Larger than any NHL API response by two orders of magnitude: refuse instead of reading it into memory.
MAX_BYTES = 256 * 1024 * 1024
_LEDGER_VOLATILE = frozenset({"checkedAt", "runId"})


class NotImportable(ValueError):
    """A file that is not a saved NHL API response bronze loads; the message is the reason shown."""


class ImportFileChanged(RuntimeError):
    """A file changed between the scan and the import (its sha256 differs): the run stops before writing."""


# ----------------------------------------------------------------------------------------------------
# identifying one payload by its own fields
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekDay:
    """One day of a saved schedule's week: its loadable game ids and how many of them are final."""

    day: date
    game_ids: tuple[int, ...]
    finals: int


@dataclass(frozen=True)
class Identified:
    """What a payload is: its kind and the keys it is stored under."""

    kind: str
    game_id: int | None = None
    game_date: date | None = None  # play-by-play/boxscore: their own `gameDate`; schedule: the requested date
    final: bool = False
    week: tuple[WeekDay, ...] = ()


def _iso_date(value: Any, what: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise NotImportable(f"{what} {value!r} is not a date") from None


def _game_type_of(game_id: int, declared: Any) -> int | None:
    """The payload's `gameType`, else digits 5-6 of the id (2023020204 -> 2)."""
    if isinstance(declared, int):
        return declared
    text = str(game_id)
    return int(text[4:6]) if len(text) == 10 and text.isdigit() else None


def _check_loaded(game_id: int, game_type: int | None) -> None:
    if game_type not in LOADED_GAME_TYPES:
        raise NotImportable(f"game {game_id} has game type {game_type}: bronze loads regular-season (2) and "
                            "playoff (3) games only")


def _game_payload(payload: dict, kind: str) -> Identified:
    game_id = payload.get("id")
    if not is_game_id(game_id):
        raise NotImportable(f"{KIND_LABELS[kind]} without an integer game 'id' (positive, 64-bit)")
    if not payload.get("gameDate"):
        raise NotImportable(f"{KIND_LABELS[kind]} of game {game_id} has no 'gameDate'")
    _check_loaded(game_id, _game_type_of(game_id, payload.get("gameType")))
    return Identified(kind, game_id, _iso_date(payload["gameDate"], "gameDate"),
                      final=payload.get("gameState") in FINAL_STATES)


def _shift_chart(payload: dict) -> Identified:
    rows = payload["data"]
    if not rows:
        raise NotImportable("shift chart with no rows (not yet published when saved): its game cannot be "
                            "identified from the content")
    if not all(isinstance(r, dict) and "gameId" in r for r in rows) or not any("shiftNumber" in r for r in rows):
        raise NotImportable("a stats REST response ('data' + 'total') whose rows are not shifts (no gameId/"
                            "shiftNumber): not a shift chart")
    ids = {r["gameId"] for r in rows}
    if len(ids) != 1 or not isinstance(next(iter(ids)), int):
        raise NotImportable(f"shift rows of several games {sorted(map(str, ids))[:5]}: not one game's shift chart")
    game_id = ids.pop()
    _check_loaded(game_id, _game_type_of(game_id, None))
    return Identified("shift_chart", game_id)


def _schedule(payload: dict) -> Identified:
    week = payload["gameWeek"]
    days = []
    for item in week:
        if not isinstance(item, dict) or "date" not in item:
            raise NotImportable("schedule whose 'gameWeek' entries have no 'date'")
        ids, finals = [], 0
        for g in item.get("games") or []:
            if not isinstance(g, dict) or not is_game_id(g.get("id")):
                raise NotImportable(f"schedule of {item['date']} lists a game without an integer 'id' (positive, "
                                    "64-bit)")
            if g.get("gameType") in LOADED_GAME_TYPES:
                ids.append(g["id"])
                finals += g.get("gameState") in FINAL_STATES
        days.append(WeekDay(_iso_date(item["date"], "gameWeek date"), tuple(ids), finals))
    if not days:
        raise NotImportable("schedule with an empty 'gameWeek': it does not say which date it answers")
    return Identified(SCHEDULE, game_date=days[0].day, week=tuple(days))


def identify(payload: Any) -> Identified:
    """The kind and keys of one decoded payload, from its own fields; `NotImportable` says why not."""
    if not isinstance(payload, dict):
        raise NotImportable(f"a JSON {type(payload).__name__}, not an NHL API response object")
    if isinstance(payload.get("plays"), list) and "id" in payload:
        return _game_payload(payload, "play_by_play")
    box = payload.get("boxscore")
    if isinstance(payload.get("playerByGameStats"), dict) or (
            isinstance(box, dict) and isinstance(box.get("playerByGameStats"), dict)):
        return _game_payload(payload, "boxscore")
    if isinstance(payload.get("data"), list) and "total" in payload:
        return _shift_chart(payload)
    if isinstance(payload.get("gameWeek"), list):
        if "currentDate" in payload or "games" in payload:
            raise NotImportable("a /v1/score page (not loaded by bronze: save /v1/schedule/{date} instead)")
        return _schedule(payload)
    keys = ", ".join(sorted(payload)[:6])
    raise NotImportable(f"not a play-by-play, boxscore, shift chart or schedule response (top-level keys: {keys})")


# ----------------------------------------------------------------------------------------------------
# reading files
# ----------------------------------------------------------------------------------------------------


def read_body(path: Path) -> bytes:
    """The response body a file holds: its bytes, or their gunzipped content (recognised by magic bytes)."""
    size = path.stat().st_size
    if size == 0:
        raise NotImportable("empty file")
    if size > MAX_BYTES:
        raise NotImportable(f"{size} bytes: larger than any NHL API response")
    data = path.read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            body = f.read(MAX_BYTES + 1)
    except (EOFError, OSError, zlib.error) as exc:
        raise NotImportable(f"truncated or corrupt gzip: {exc}") from None
    if len(body) > MAX_BYTES:
        raise NotImportable("gzip expands beyond any NHL API response")
    return body


def decode(body: bytes) -> Any:
    """The JSON value of a body; a body that does not even start like JSON is "not JSON", one that does
    but does not parse is most often a save cut short."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if body.lstrip()[:1] not in (b"{", b"["):
            raise NotImportable("not JSON") from None
        raise NotImportable(f"invalid JSON (truncated?): {exc}") from None


@dataclass(frozen=True)
class SavedFile:
    """One identified file: where it is, what it holds, its body's sha256 and when it was saved."""

    path: Path
    rel: str
    sha256: str
    mtime: datetime
    ident: Identified

    @property
    def kind(self) -> str:
        return self.ident.kind


def load(saved: SavedFile) -> bytes:
    """The file's body again, refused when it changed since the scan (the run then writes nothing)."""
    body = read_body(saved.path)
    if hashlib.sha256(body).hexdigest() != saved.sha256:
        raise ImportFileChanged(f"{saved.rel} changed since it was scanned; run the import again")
    return body


def _walk(root: Path) -> Iterator[Path]:
    """Every non-hidden file under `root`, in a stable order (hidden files and folders are ignored)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def _saved_file(root: Path, path: Path) -> SavedFile:
    body = read_body(path)
    ident = identify(decode(body))
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    return SavedFile(path, path.relative_to(root).as_posix(), hashlib.sha256(body).hexdigest(), mtime, ident)


# ----------------------------------------------------------------------------------------------------
# the plan: which file answers which (date, game, endpoint)
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skip:
    path: str
    reason: str


@dataclass
class DayImport:
    """The files one date imports: its schedule (if any file covers it) and per game the chosen payloads."""

    schedule: SavedFile | None = None
    games: dict[int, dict[str, SavedFile]] = field(default_factory=dict)


@dataclass
class ImportPlan:
    root: Path
    files_found: int = 0
    days: dict[date, DayImport] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)  # not importable: nothing of them is imported
    superseded: list[Skip] = field(default_factory=list)  # valid, but another file answers the same key

    @property
    def dates(self) -> list[date]:
        return sorted(self.days)

    def imported_files(self, days: Iterable[date] | None = None) -> dict[str, SavedFile]:
        """rel path -> file, for the files some date (of `days`) imports."""
        out: dict[str, SavedFile] = {}
        for d in (self.dates if days is None else days):
            todo = self.days.get(d)
            if todo is None:
                continue
            if todo.schedule is not None:
                out[todo.schedule.rel] = todo.schedule
            out.update((f.rel, f) for files in todo.games.values() for f in files.values())
        return out

    def games(self, days: Iterable[date] | None = None) -> set[int]:
        return {g for d in (self.dates if days is None else days) for g in self.days.get(d, DayImport()).games}


#: A gap of more days than this between imported dates starts a new import run (an off-season): every
#: partition of a run's range is materialized, and an empty one still costs its Dagster events.
MAX_GAP_DAYS = 30


def date_ranges(dates: Iterable[date], max_gap_days: int = MAX_GAP_DAYS) -> list[tuple[date, date]]:
    """Consecutive (first, last) ranges covering `dates`, split where more than `max_gap_days` pass
    without an imported date (one import run per range: seasons, not the summers between them)."""
    out: list[tuple[date, date]] = []
    for d in sorted(set(dates)):
        if out and (d - out[-1][1]).days <= max_gap_days:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def _prefer_game_file(a: SavedFile, b: SavedFile) -> SavedFile:
    """Of two saves of one game's endpoint: the final one, then the most recently saved, then by path."""
    return max(a, b, key=lambda f: (f.ident.final, f.mtime, f.rel))


def _listed_dates(schedules: list[SavedFile]) -> dict[int, date]:
    """gameId -> the date schedules list it on (a listing where it is final wins: rescheduled games)."""
    out: dict[int, tuple[bool, date]] = {}
    for f in schedules:
        for wd in f.ident.week:
            for gid in wd.game_ids:
                current = out.get(gid)
                if current is None or not current[0]:
                    out[gid] = (wd.finals > 0, wd.day)
    return {gid: d for gid, (_, d) in out.items()}


def _choose_schedules(plan: ImportPlan, schedules: list[SavedFile], first: date, last: date) -> None:
    """Give each date its schedule response: a file answers the date it was requested for, and the other
    days of its week only where the folder holds games of that day (so weekly saves cover their games'
    dates, and a week file never creates bronze dates the folder has no games for)."""
    game_days = set(plan.days)
    best: dict[date, tuple[tuple, SavedFile]] = {}
    unusable = set()
    for f in schedules:
        days = [wd for wd in f.ident.week
                if first <= wd.day <= last and (wd.day == f.ident.game_date or wd.day in game_days)]
        if not days:
            unusable.add(f.rel)
            plan.skipped.append(Skip(f.rel, f"schedule requested for {f.ident.game_date}: outside the partitions "
                                            f"{first}..{last}, and no imported game falls in its week"))
            continue
        for wd in days:
            rank = (wd.day == f.ident.game_date, wd.finals, f.ident.game_date, f.sha256)
            if wd.day not in best or rank > best[wd.day][0]:
                best[wd.day] = (rank, f)
    used = set()
    for d, (_, f) in best.items():
        plan.days.setdefault(d, DayImport()).schedule = f
        used.add(f.rel)
    plan.superseded.extend(Skip(f.rel, "each date it answers is answered by another schedule file (one requested "
                                       "for that date, or listing more final games)")
                           for f in schedules if f.rel not in used | unusable)


def _resolve_game_files(plan: ImportPlan, candidates: dict[tuple[str, int], list[SavedFile]],
                        schedules: list[SavedFile], known_dates: Mapping[int, date], first: date, last: date) -> None:
    """Keep one file per (endpoint, game) and put every game's files under its game date."""
    chosen: dict[tuple[str, int], SavedFile] = {}
    for key, files in candidates.items():
        best = files[0]
        for f in files[1:]:
            best = _prefer_game_file(best, f)
        chosen[key] = best
        for f in files:
            if f is best:
                continue
            why = ("same content as" if f.sha256 == best.sha256
                   else "superseded by (a final save wins, then the most recently modified file)")
            plan.superseded.append(Skip(f.rel, f"{KIND_LABELS[f.kind]} of game {key[1]}: {why} {best.rel}"))
    own: dict[int, date] = {}
    for kind in ("boxscore", "play_by_play"):  # play-by-play's date wins over the boxscore's
        own.update({gid: f.ident.game_date for (k, gid), f in chosen.items() if k == kind})
    listed = _listed_dates(schedules)
    for (kind, gid), f in sorted(chosen.items(), key=lambda kv: kv[1].rel):
        day = own.get(gid) or listed.get(gid) or known_dates.get(gid)
        if day is None:
            plan.skipped.append(Skip(f.rel, f"{KIND_LABELS[kind]} of game {gid}: its game date is unknown (a shift "
                                            "chart has no date: import the game's play-by-play, boxscore or "
                                            "schedule with it, or load the game first)"))
        elif not first <= day <= last:
            plan.skipped.append(Skip(f.rel, f"{KIND_LABELS[kind]} of game {gid} dated {day}: outside the "
                                            f"partitions {first}..{last} (NHL_START_DATE)"))
        else:
            plan.days.setdefault(day, DayImport()).games.setdefault(gid, {})[kind] = f


def scan(root: str | os.PathLike, *, known_dates: Mapping[int, date], first: date, last: date) -> ImportPlan:
    """Identify every file under `root` and decide which file answers which bronze key.

    `known_dates` (gameId -> date, from the bronze ledger) dates shift charts whose game has no other
    imported payload; `first`..`last` are the partitions (NHL_START_DATE .. today's partition).
    """
    base = Path(root).resolve()
    if not base.is_dir():
        raise FileNotFoundError(f"import folder {base} does not exist or is not a folder")
    plan = ImportPlan(base)
    candidates: dict[tuple[str, int], list[SavedFile]] = {}
    schedules: list[SavedFile] = []
    for path in _walk(base):
        plan.files_found += 1
        try:
            saved = _saved_file(base, path)
        except NotImportable as exc:
            plan.skipped.append(Skip(path.relative_to(base).as_posix(), str(exc)))
            continue
        except OSError as exc:
            plan.skipped.append(Skip(path.relative_to(base).as_posix(), f"unreadable: {exc.strerror or exc}"))
            continue
        if saved.kind == SCHEDULE:
            schedules.append(saved)
        else:
            candidates.setdefault((saved.kind, saved.ident.game_id), []).append(saved)
    _resolve_game_files(plan, candidates, schedules, known_dates, first, last)
    _choose_schedules(plan, schedules, first, last)
    return plan


# ----------------------------------------------------------------------------------------------------
# one date: imported files merged into the rows bronze already holds
# ----------------------------------------------------------------------------------------------------

_TABLE_ENDPOINTS = {table: endpoint for endpoint, table in bt.ENDPOINT_TABLES.items()}


@dataclass
class StoredDay:
    """What bronze holds for one date, as read (every column): the rows an import must not lose."""

    schedule: dict | None = None
    ledger: dict[int, dict] = field(default_factory=dict)
    responses: dict[tuple[str, int], dict] = field(default_factory=dict)  # (endpoint, gameId) -> row

    @classmethod
    def from_rows(cls, rows: Mapping[str, list[dict]]) -> "StoredDay":
        out = cls(ledger={r["gameId"]: r for r in rows.get(bt.GAMES, [])})
        sched = rows.get(bt.SCHEDULE) or []
        out.schedule = sched[0] if sched else None
        for table, endpoint in _TABLE_ENDPOINTS.items():
            out.responses.update({(endpoint, r["gameId"]): r for r in rows.get(table, [])})
        return out

    def rows(self) -> dict[str, list[dict]]:
        """The stored rows again, table by table (a date without imported files is written back as is)."""
        out: dict[str, list[dict]] = {t: [] for t in bt.BRONZE_TABLES}
        out[bt.SCHEDULE] = [self.schedule] if self.schedule else []
        out[bt.GAMES] = [self.ledger[g] for g in sorted(self.ledger)]
        for (endpoint, gid), row in sorted(self.responses.items()):
            out[bt.ENDPOINT_TABLES[endpoint]].append(row)
        return out


@dataclass
class DayMerge:
    """A date's new bronze rows and what the import contributed to them."""

    rows: dict[str, list[dict]]
    imported_games: dict[int, bool]  # gameId -> complete, for games with an imported payload
    files: list[str]


def raw_of(saved: SavedFile, body: bytes) -> RawResponse:
    """A saved file as the fetch layer's raw response: the request it answers, status 200, saved at mtime,
    no HTTP attempt (`attempts` 0)."""
    template, request = REQUESTS[saved.kind]
    key = saved.ident.game_date.isoformat() if saved.kind == SCHEDULE else saved.ident.game_id
    return RawResponse(template, request.format(key), saved.path.as_uri(), 200, body, saved.mtime, 0, 0.0)


def _stored_raw(row: dict) -> RawResponse:
    return RawResponse(row["endpoint"], row["request"], row["request"], row["httpStatus"], row["body"],
                       row["fetchedAt"], row["attempts"], 0.0)


def _game_from_payload(game_id: int, day: date, p: dict) -> GameFetch:
    return GameFetch(game_id, day, p.get("season"), _game_type_of(game_id, p.get("gameType")), p.get("gameState"),
                     p.get("gameScheduleState"), (p.get("homeTeam") or {}).get("abbrev"),
                     (p.get("awayTeam") or {}).get("abbrev"), p.get("startTimeUTC"))


def _game_from_ledger(row: dict) -> GameFetch:
    start = row.get("startTimeUTC")
    return GameFetch(row["gameId"], row["gameDate"], row.get("season"), row.get("gameType"), row.get("gameState"),
                     row.get("gameScheduleState"), row.get("homeTeam"), row.get("awayTeam"),
                     start if start is None or isinstance(start, str) else start.isoformat())


def _stored_reason(ledger_row: dict | None, endpoint: str) -> str | None:
    for entry in (ledger_row or {}).get("missing") or []:
        if entry.startswith(f"{endpoint}: "):
            return entry[len(endpoint) + 2:]
    return None


def _result(endpoint: str, raw: RawResponse, ledger_row: dict | None) -> Fetched | NHLSourceError:
    """A response as the fetch layer would have seen it (a stored failure keeps its recorded reason)."""
    if raw.ok:
        try:
            return Fetched(orjson.loads(raw.body), raw)
        except orjson.JSONDecodeError as exc:
            cause = f"invalid JSON: {exc}"
    else:
        cause = _stored_reason(ledger_row, endpoint) or f"HTTP {raw.status}"
    return NHLSourceError(endpoint=raw.endpoint, request=raw.request, cause=cause, status=raw.status,
                          attempts=raw.attempts, response=raw)


def _state(candidates: Iterable[str | None]) -> str | None:
    """The most advanced game state known: a final one from any source, else the first known."""
    known = [s for s in candidates if s]
    return next((s for s in known if s in FINAL_STATES), known[0] if known else None)


def _build_game(base: GameFetch, responses: dict[str, RawResponse], ledger_row: dict | None) -> GameFetch:
    """Completeness of one game from every response it now has, recorded the way an API fetch records it."""
    results = {ep: _result(ep, raw, ledger_row) for ep, raw in responses.items()}
    payload_states = [r.data.get("gameState") for ep, r in results.items()
                      if ep != "shift_chart" and isinstance(r, Fetched)]
    base.game_state = _state([*payload_states, base.game_state, (ledger_row or {}).get("gameState")])
    if not base.is_played:  # postponed/cancelled on this date: nothing to fetch, nothing missing
        base.responses.update(responses)
        return base
    if not base.is_final:
        base.missing.append(f"final: gameState={base.game_state}")
    for endpoint in GAME_ENDPOINTS:
        if endpoint in results:
            record_response(base, endpoint, results[endpoint])
        elif base.is_final:
            base.missing.append(f"{endpoint}: {_stored_reason(ledger_row, endpoint) or 'not in the import'}")
    return base


def _same_import(stored: dict | None, new: dict) -> bool:
    """The stored row already holds this imported response (kept verbatim: re-imports change nothing)."""
    return stored is not None and stored.get("source") == SOURCE and all(
        stored.get(c) == new[c] for c in ("sha256", "request", "httpStatus"))


def _same_ledger(stored: dict | None, new: dict) -> bool:
    return stored is not None and all(stored.get(c) == v for c, v in new.items() if c not in _LEDGER_VOLATILE)


def _schedule_games(day: date, raw: RawResponse) -> list[GameFetch]:
    week = orjson.loads(raw.body)["gameWeek"]
    games = next((d.get("games") or [] for d in week if d.get("date") == day.isoformat()), [])
    return games_from_schedule(day, {"games": games}, raw)[0]


def _base_game(gid: int, day: date, responses: dict[str, RawResponse], ledger_row: dict | None) -> GameFetch:
    """A game no imported schedule lists: described by its play-by-play or boxscore (they carry season,
    type, teams and start time), else by its stored ledger row (a shift chart alone says none of that)."""
    for endpoint in ("play_by_play", "boxscore"):
        raw = responses.get(endpoint)
        if raw is not None and raw.ok:
            return _game_from_payload(gid, day, orjson.loads(raw.body))
    if ledger_row is not None:
        return _game_from_ledger(ledger_row)
    return GameFetch(gid, day, None, _game_type_of(gid, None), None, None, None, None, None)


def merge_day(day: date, todo: DayImport, stored: StoredDay, run_id: str | None,
              read: Callable[[SavedFile], bytes] = load) -> DayMerge:
    """The date's bronze rows after importing `todo` over `stored` (see the module docstring)."""
    sched_raw = raw_of(todo.schedule, read(todo.schedule)) if todo.schedule is not None else None
    bases = {g.game_id: g for g in _schedule_games(day, sched_raw)} if sched_raw is not None else {}
    listed = len(bases)
    responses: dict[int, dict[str, RawResponse]] = {}
    for gid in sorted(set(bases) | set(todo.games)):
        responses[gid] = {ep: _stored_raw(row) for (ep, g), row in stored.responses.items() if g == gid}
        for kind, saved in sorted(todo.games.get(gid, {}).items()):
            responses[gid][kind] = raw_of(saved, read(saved))
        if gid not in bases:
            bases[gid] = _base_game(gid, day, responses[gid], stored.ledger.get(gid))
    games = [_build_game(bases[gid], responses[gid], stored.ledger.get(gid)) for gid in sorted(bases)]
    rows = bt.day_rows(DayFetch(day, sched_raw, games), run_id, source=SOURCE)
    for row in rows[bt.SCHEDULE]:
        row["numberOfGames"] = listed
    rows[bt.SCHEDULE] = [stored.schedule if _same_import(stored.schedule, r) else r for r in rows[bt.SCHEDULE]] \
        or ([stored.schedule] if stored.schedule else [])
    produced: set[tuple[str, int]] = set()
    for table, endpoint in _TABLE_ENDPOINTS.items():
        merged = []
        for row in rows[table]:
            key = (endpoint, row["gameId"])
            produced.add(key)
            old = stored.responses.get(key)
            imported = endpoint in todo.games.get(row["gameId"], {})
            merged.append(row if imported and not _same_import(old, row) else old)
        rows[table] = merged + [r for k, r in sorted(stored.responses.items()) if k[0] == endpoint and k not in produced]
    touched = {r["gameId"] for r in rows[bt.GAMES]}
    rows[bt.GAMES] = [stored.ledger[r["gameId"]] if _same_ledger(stored.ledger.get(r["gameId"]), r) else r
                      for r in rows[bt.GAMES]]
    rows[bt.GAMES] += [stored.ledger[g] for g in sorted(stored.ledger) if g not in touched]
    complete = {r["gameId"]: r["isComplete"] for r in rows[bt.GAMES]}
    files = ([todo.schedule.rel] if todo.schedule else []) + sorted(f.rel for fs in todo.games.values()
                                                                    for f in fs.values())
    return DayMerge(rows, {g: complete[g] for g in todo.games}, files)


# ----------------------------------------------------------------------------------------------------
# what bronze already holds (reads only; the writes are the asset's, through Warehouse.replace_window)
# ----------------------------------------------------------------------------------------------------


def known_game_dates(wh: Any) -> dict[int, date]:
    """gameId -> game date from the bronze ledger, for shift charts imported without their game's other
    payloads (a final listing wins over a postponed one)."""
    t = wh.read_arrow(bt.GAMES, columns=["gameId", "gameDate", "isFinal"])
    out: dict[int, tuple[bool, date]] = {}
    for r in (t.to_pylist() if t is not None else []):
        if r["gameId"] not in out or (r["isFinal"], r["gameDate"]) > out[r["gameId"]]:
            out[r["gameId"]] = (r["isFinal"], r["gameDate"])
    return {gid: d for gid, (_, d) in out.items()}


def read_stored(wh: Any, window: Any) -> dict[date, StoredDay]:
    """Every stored bronze row of `window` (a DateWindow), grouped by date."""
    by_day: dict[date, dict[str, list[dict]]] = {}
    for table in bt.BRONZE_TABLES:
        t = wh.read_arrow(table, window)
        for row in (t.to_pylist() if t is not None else []):
            by_day.setdefault(row["gameDate"], {}).setdefault(table, []).append(row)
    return {d: StoredDay.from_rows(rows) for d, rows in by_day.items()}
