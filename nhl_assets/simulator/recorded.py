"""Serve the recorded real NHL API payloads in place (``NHL_SAMPLES_DIR``) as a loopback backend.

Why a backend over the recordings: the parsers and the live source must be proven against what the NHL
really sends, byte for byte, through the same HTTP path as production. The recordings are third-party
files that must never be copied into the project, so this backend only *reads* them where they lie and
answers with the bytes exactly as stored.

The index is built from each file's own content, not its name: the game id comes from the JSON ``id``
(play-by-play, boxscore) or ``data[].gameId`` (shift charts), and a weekly schedule is keyed by its own
``gameWeek[0].date`` (the date the API was asked for). Names only break ties: a file named
``*_earlier_fetch*`` never shadows the main recording of the same game, and a boxscore in the legacy
schema (player stats under a top-level ``boxscore`` object) is kept aside so the current-schema recording
of the same game is what ``/boxscore`` serves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

#: The NHL schedules in US Eastern time: its "today" is the Eastern calendar date.
NHL_TZ = ZoneInfo("America/New_York")
#: A regulation game with intermissions lasts about 2.5-3 h; used only to time "late" shift charts.
_GAME_DURATION = timedelta(hours=3)
#: Folders that hold no endpoint this backend serves (stats REST summaries depend on query parameters).
_SKIPPED_DIRS = {"stats"}


def default_samples_dir() -> Path:
    """``$NHL_SAMPLES_DIR``, else ``../shared/nhl_samples`` beside the repository root."""
    env = os.environ.get("NHL_SAMPLES_DIR", "").strip()
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "nhl_samples"


def nhl_today(as_of: datetime) -> date:
    """The NHL's current date at instant `as_of` (Eastern calendar date; naive datetimes are UTC)."""
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=timezone.utc)
    return as_of.astimezone(NHL_TZ).date()


@dataclass(frozen=True)
class RecordedFile:
    """One recording and what it answers."""

    path: Path
    kind: str  # "schedule", "score", "boxscore", "boxscore-legacy", "play-by-play", "shiftcharts"
    key: str  # game id or date
    rank: int  # lower wins when several files answer the same key


@dataclass
class _WeekInfo:
    path: Path
    start: date
    days: frozenset[date]
    rank: int


@dataclass
class RecordedIndex:
    """Which file answers which request, built by reading the files' own fields."""

    boxscore: dict[int, RecordedFile] = field(default_factory=dict)
    play_by_play: dict[int, RecordedFile] = field(default_factory=dict)
    shiftcharts: dict[int, RecordedFile] = field(default_factory=dict)
    legacy_boxscore: dict[int, RecordedFile] = field(default_factory=dict)
    schedule_exact: dict[str, RecordedFile] = field(default_factory=dict)
    score: dict[str, RecordedFile] = field(default_factory=dict)
    weeks: list[_WeekInfo] = field(default_factory=list)
    game_start: dict[int, datetime] = field(default_factory=dict)
    now_date: str | None = None
    skipped: list[Path] = field(default_factory=list)


def _rank(path: Path) -> int:
    """Tie-break between recordings of the same thing: the main fetch beats an earlier one."""
    return 10 if "earlier" in path.name.lower() else 0


def _put(table: dict[Any, RecordedFile], key: Any, rec: RecordedFile) -> None:
    current = table.get(key)
    if current is None or (rec.rank, str(rec.path)) < (current.rank, str(current.path)):
        table[key] = rec


def _parse_start(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _schedule_games(payload: dict[str, Any]) -> list[dict[str, Any]]:
    games = [g for g in payload.get("games") or [] if isinstance(g, dict)]
    for day in payload.get("gameWeek") or []:
        if isinstance(day, dict):
            games.extend(g for g in day.get("games") or [] if isinstance(g, dict))
    return games


def build_index(folder: Path) -> RecordedIndex:
    """Classify every ``*.json`` under `folder` by content (see the module docstring)."""
    index = RecordedIndex()
    now_candidates: list[tuple[str, str]] = []
    for path in sorted(folder.rglob("*.json")):
        if _SKIPPED_DIRS & set(path.relative_to(folder).parts[:-1]):
            continue
        try:
            payload = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            index.skipped.append(path)
            continue
        if not isinstance(payload, dict):
            index.skipped.append(path)
            continue
        rank = _rank(path)
        if isinstance(payload.get("gameWeek"), list) and payload["gameWeek"]:
            for game in _schedule_games(payload):
                start = _parse_start(game.get("startTimeUTC"))
                if start and isinstance(game.get("id"), int):
                    index.game_start.setdefault(game["id"], start)
            if "currentDate" in payload:  # /v1/score/{date}
                _put(index.score, str(payload["currentDate"]), RecordedFile(path, "score",
                                                                            str(payload["currentDate"]), rank))
                continue
            days = [d.get("date") for d in payload["gameWeek"] if isinstance(d, dict)]
            try:
                parsed_days = frozenset(date.fromisoformat(d) for d in days if isinstance(d, str))
                first = date.fromisoformat(days[0])
            except (TypeError, ValueError):
                index.skipped.append(path)
                continue
            rec = RecordedFile(path, "schedule", first.isoformat(), rank)
            _put(index.schedule_exact, first.isoformat(), rec)
            index.weeks.append(_WeekInfo(path, first, parsed_days, rank))
            if "now" in path.stem.lower().split("_"):
                now_candidates.append((first.isoformat(), str(path)))
            continue
        if isinstance(payload.get("data"), list) and "total" in payload:
            game_ids = {row.get("gameId") for row in payload["data"] if isinstance(row, dict)}
            game_ids.discard(None)
            if len(game_ids) != 1:
                index.skipped.append(path)  # not a one-game shift chart (e.g. a stats summary)
                continue
            game_id = int(next(iter(game_ids)))
            _put(index.shiftcharts, game_id, RecordedFile(path, "shiftcharts", str(game_id), rank))
            continue
        game_id = payload.get("id")
        if not isinstance(game_id, int):
            index.skipped.append(path)
            continue
        start = _parse_start(payload.get("startTimeUTC"))
        if start:
            index.game_start[game_id] = start
        if isinstance(payload.get("plays"), list):
            _put(index.play_by_play, game_id, RecordedFile(path, "play-by-play", str(game_id), rank))
        elif "playerByGameStats" in payload:
            _put(index.boxscore, game_id, RecordedFile(path, "boxscore", str(game_id), rank))
        elif isinstance(payload.get("boxscore"), dict):
            _put(index.legacy_boxscore, game_id, RecordedFile(path, "boxscore-legacy", str(game_id), rank))
        else:
            index.skipped.append(path)
    # A game recorded only in the legacy schema is still served (it is what the API once answered).
    for game_id, rec in index.legacy_boxscore.items():
        index.boxscore.setdefault(game_id, rec)
    if now_candidates:
        index.now_date = max(now_candidates)[0]
    elif index.schedule_exact:
        index.now_date = max(index.schedule_exact)
    return index


class RecordedBackend:
    """Backend answering from recorded files, bytes exactly as stored.

    Schedules: the file whose own ``gameWeek[0].date`` equals the requested date; otherwise a recorded
    week containing that date (the one starting latest on or before it, since a later fetch is closer to
    the day); otherwise 404. `/v1/schedule/now` resolves to the clock's NHL date when a clock is set, else
    to the week recorded from `/v1/schedule/now` (file name contains ``now``), else the latest week.
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None, as_of: datetime | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_samples_dir()
        if not self.folder.is_dir():
            raise FileNotFoundError(f"recorded NHL payloads not found: {self.folder} (set NHL_SAMPLES_DIR)")
        self.index = build_index(self.folder)
        self._as_of = as_of

    # -- clock (optional part of the backend protocol) --

    def clock(self) -> datetime:
        """The backend's notion of now: the set clock, else wall time (UTC)."""
        return self._as_of if self._as_of is not None else datetime.now(timezone.utc)

    def set_clock(self, as_of: datetime | None) -> None:
        self._as_of = as_of

    def game_end_utc(self, game_id: int) -> datetime | None:
        """Approximate end (start + 3 h) from any recording that states the start time."""
        start = self.index.game_start.get(game_id)
        return start + _GAME_DURATION if start else None

    # -- the endpoints --

    @staticmethod
    def _read(rec: RecordedFile | None) -> bytes | None:
        return rec.path.read_bytes() if rec is not None else None

    def schedule(self, date_str: str) -> bytes | None:
        exact = self.index.schedule_exact.get(date_str)
        if exact is not None:
            return self._read(exact)
        try:
            day = date.fromisoformat(date_str)
        except ValueError:
            return None
        weeks = [w for w in self.index.weeks if day in w.days and w.start <= day]
        if not weeks:
            return None
        best = min(weeks, key=lambda w: (-w.start.toordinal(), w.rank, str(w.path)))
        return best.path.read_bytes()

    def schedule_now_date(self) -> str:
        if self._as_of is not None:
            return nhl_today(self._as_of).isoformat()
        return self.index.now_date or nhl_today(datetime.now(timezone.utc)).isoformat()

    def score(self, date_str: str) -> bytes | None:
        """`/v1/score/{date}` — the three recorded score days, keyed by their own ``currentDate``."""
        return self._read(self.index.score.get(date_str))

    def boxscore(self, game_id: int) -> bytes | None:
        return self._read(self.index.boxscore.get(game_id))

    def play_by_play(self, game_id: int) -> bytes | None:
        return self._read(self.index.play_by_play.get(game_id))

    def shiftcharts(self, game_id: int) -> bytes | None:
        return self._read(self.index.shiftcharts.get(game_id))

    def served_files(self) -> list[tuple[str, Path]]:
        """(request path, file) for every recording this backend serves verbatim — for tests and docs."""
        out: list[tuple[str, Path]] = []
        for game_id, rec in sorted(self.index.play_by_play.items()):
            out.append((f"/v1/gamecenter/{game_id}/play-by-play", rec.path))
        for game_id, rec in sorted(self.index.boxscore.items()):
            out.append((f"/v1/gamecenter/{game_id}/boxscore", rec.path))
        for game_id, rec in sorted(self.index.shiftcharts.items()):
            out.append((f"/stats/rest/en/shiftcharts?cayenneExp=gameId={game_id}", rec.path))
        for day, rec in sorted(self.index.schedule_exact.items()):
            out.append((f"/v1/schedule/{day}", rec.path))
        for day, rec in sorted(self.index.score.items()):
            out.append((f"/v1/score/{day}", rec.path))
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "recorded",
            "folder": str(self.folder),
            "as_of": self._as_of.isoformat() if self._as_of else None,
            "games": {"boxscore": len(self.index.boxscore), "play-by-play": len(self.index.play_by_play),
                      "shiftcharts": len(self.index.shiftcharts)},
            "schedule_dates": len(self.index.schedule_exact),
        }
