"""Fault injection for the loopback NHL API.

The pipeline's resilience claims (retries honour `Retry-After`, truncated bodies are retried, late shift
charts leave a day incomplete, schema drift is quarantined, ...) are only worth something if a test can
make the API misbehave on purpose, reproducibly. This module holds:

* `FaultConfig` — what to inject, as plain JSON-serialisable data, so it can be set per run from the CLI,
  a test, or another process (``POST /_loopback/faults``).
* `FaultState` — the per-server decision engine. Every random-looking decision is a pure function of
  ``(seed, kind, path, per-path request count)`` hashed with SHA-256, never of global random state, so the
  same request sequence against the same config gets the same faults on every machine and in every thread
  interleaving that preserves per-path order.
* Pure payload rewrites for data faults (`drop_path`, `rewrite_not_final`, ...), applied by the server
  only when a fault actually hits a response, so unaffected recorded bodies stay byte-identical.

No Dagster imports: the simulator must be usable from a bare Python process.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: Endpoint families the server counts and faults can be limited to.
FAMILIES: tuple[str, ...] = ("schedule", "boxscore", "play-by-play", "shiftcharts", "other")
#: The stats API's answer for a game it has no shifts for (also used for missing/late shift charts).
EMPTY_SHIFTS: dict[str, Any] = {"data": [], "total": 0}
#: 5xx statuses a random server error is drawn from (the ones the live API/CDN actually returns).
SERVER_ERROR_STATUSES: tuple[int, ...] = (500, 502, 503)

TruncateMode = Literal["short", "close", "both"]


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the given parts.

    Why not `random`: decisions must not depend on thread scheduling or on what other code consumed from
    a shared generator; hashing the request's identity makes each decision independent and replayable.
    """
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class ScriptedFault:
    """An exact, ordered fault script for requests whose path (with query) matches `path_regex`.

    The first `times` matching requests are scripted (default: ``len(statuses)``, or 1 when `statuses` is
    empty); request *i* gets ``statuses[i]`` (200 past the end of the list = served normally, but still
    subject to `truncate`/`hold_s`). Later matching requests are served normally. This lets a test say
    "the first two boxscore requests for game X get 429 with Retry-After: 1, the third succeeds" without
    any probability involved.
    """

    path_regex: str
    statuses: list[int] = field(default_factory=list)
    #: Retry-After header (seconds) sent with scripted 429 and 503 responses; None = no header.
    retry_after_s: float | None = None
    #: For scripted 2xx responses: False, True/"short" (Content-Length of the cut body, invalid JSON) or
    #: "close" (full Content-Length, connection closed mid-body).
    truncate: bool | str = False
    #: Hold each scripted request this long before answering (client-side timeouts).
    hold_s: float = 0.0
    times: int | None = None

    def __post_init__(self) -> None:
        try:  # fail at configuration time, not on the first request
            re.compile(self.path_regex)
        except re.error as exc:
            raise ValueError(f"invalid path_regex {self.path_regex!r}: {exc}") from exc
        if self.truncate not in (False, True, "short", "close"):
            raise ValueError(f"truncate must be False, True, 'short' or 'close', got {self.truncate!r}")
        self.statuses = [int(s) for s in self.statuses]

    @property
    def count(self) -> int:
        """How many matching requests this script applies to."""
        if self.times is not None:
            return self.times
        return len(self.statuses) or 1


@dataclass
class SchemaDrift:
    """Simulated upstream schema change, applied to successful JSON bodies of the chosen families.

    `drop_fields` are dotted paths where ``[]`` iterates a list, e.g. ``"plays[].situationCode"`` or
    ``"gameWeek[].games[].gameState"``; absent paths are ignored (the same drift config can be applied to
    every endpoint). `add_fields` are merged into the top-level object.
    """

    drop_fields: list[str] = field(default_factory=list)
    add_fields: dict[str, Any] = field(default_factory=dict)
    #: Families the drift applies to; None = all API families.
    families: list[str] | None = None

    @property
    def active(self) -> bool:
        return bool(self.drop_fields or self.add_fields)


@dataclass
class FaultConfig:
    """Everything the loopback server can do wrong, per run. All defaults = a well-behaved API.

    Rates are probabilities in [0, 1] decided per request (transport faults) or per game (data faults),
    deterministically from `seed`. Transport faults are mutually exclusive per request, in the order
    429, 5xx, timeout, truncated (their rates should sum to <= 1).
    """

    seed: int = 0
    latency_ms: float = 0.0
    #: Latency varies uniformly in ``latency_ms ± latency_jitter_ms`` (never below 0).
    latency_jitter_ms: float = 0.0
    rate_429: float = 0.0
    retry_after_s: float | None = 1.0
    rate_5xx: float = 0.0
    rate_timeout: float = 0.0
    #: How long a "timeout" request is held before it is answered normally (if the client still listens).
    timeout_hold_s: float = 30.0
    rate_truncated: float = 0.0
    truncate_mode: TruncateMode = "both"
    #: Families random transport faults (429/5xx/timeout/truncated) and latency apply to; None = all.
    families: list[str] | None = None
    #: Shift charts answered as ``{"data": [], "total": 0}`` forever (never published).
    shift_missing_games: list[int] = field(default_factory=list)
    shift_missing_rate: float = 0.0
    #: Shift charts answered empty until the backend clock passes game end + `shift_late_hours`
    #: (forever when the backend cannot tell when the game ended).
    shift_late_games: list[int] = field(default_factory=list)
    shift_late_rate: float = 0.0
    shift_late_hours: float = 30.0
    #: Games whose `gameState` is rewritten to LIVE in schedule, boxscore and play-by-play bodies.
    not_final_games: list[int] = field(default_factory=list)
    #: Games the NHL corrects after the fact: once the backend clock passes game end + `correction_hours`,
    #: their play-by-play credits the first hit to another skater of the same team and the boxscore agrees.
    corrected_games: list[int] = field(default_factory=list)
    correction_hours: float = 48.0
    schema_drift: SchemaDrift = field(default_factory=SchemaDrift)
    script: list[ScriptedFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Accept plain dicts (from JSON) for the nested parts, and any iterable of ids.
        if isinstance(self.schema_drift, Mapping):
            self.schema_drift = SchemaDrift(**self.schema_drift)
        self.script = [s if isinstance(s, ScriptedFault) else ScriptedFault(**s) for s in self.script]
        self.shift_missing_games = sorted(int(g) for g in self.shift_missing_games)
        self.shift_late_games = sorted(int(g) for g in self.shift_late_games)
        self.not_final_games = sorted(int(g) for g in self.not_final_games)
        self.corrected_games = sorted(int(g) for g in self.corrected_games)
        for name in ("rate_429", "rate_5xx", "rate_timeout", "rate_truncated", "shift_missing_rate",
                     "shift_late_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.rate_429 + self.rate_5xx + self.rate_timeout + self.rate_truncated > 1.0 + 1e-9:
            raise ValueError("rate_429 + rate_5xx + rate_timeout + rate_truncated must be <= 1")
        if self.truncate_mode not in ("short", "close", "both"):
            raise ValueError(f"truncate_mode must be short, close or both, got {self.truncate_mode!r}")
        for fams in (self.families, self.schema_drift.families):
            unknown = set(fams or ()) - set(FAMILIES)
            if unknown:
                raise ValueError(f"unknown endpoint families {sorted(unknown)}; known: {list(FAMILIES)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the inverse of `from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FaultConfig":
        """Build from a JSON object; unknown keys are refused so typos do not silently disable a fault."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown FaultConfig fields {sorted(unknown)}")
        return cls(**dict(data))

    def applies_to(self, family: str) -> bool:
        """Whether latency and random transport faults apply to this endpoint family."""
        return self.families is None or family in self.families


@dataclass(frozen=True)
class Decision:
    """What the server does to one request before/instead of serving it normally."""

    status: int | None = None  # an error status to answer instead of the body; None = serve normally
    retry_after_s: float | None = None
    hold_s: float = 0.0
    latency_s: float = 0.0
    truncate: Literal["short", "close"] | None = None
    kind: str | None = None  # for the fault counters: "scripted", "429", "5xx", "timeout", "truncated"


class FaultState:
    """The mutable side of fault injection for one server: config, per-path counters, script progress.

    Thread-safe. Replacing the config (`configure`) restarts scripts and per-path counts, so a test that
    installs a script gets exactly that script from its next request on.
    """

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config or FaultConfig()
        self._path_counts: dict[str, int] = {}
        self._script_used: list[int] = [0] * len(self._config.script)
        self._script_res = [re.compile(s.path_regex) for s in self._config.script]

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._path_counts = {}
            self._script_used = [0] * len(config.script)
            self._script_res = [re.compile(s.path_regex) for s in config.script]

    def decide(self, target: str, family: str) -> Decision:
        """The fault decision for the next request to `target` (path with query) of `family`."""
        with self._lock:
            cfg = self._config
            n = self._path_counts.get(target, 0)
            self._path_counts[target] = n + 1
            scripted: ScriptedFault | None = None
            index = 0
            for i, (fault, rx) in enumerate(zip(cfg.script, self._script_res)):
                if self._script_used[i] < fault.count and rx.search(target):
                    index = self._script_used[i]
                    self._script_used[i] += 1
                    scripted = fault
                    break
        latency_s = 0.0
        if cfg.applies_to(family) and (cfg.latency_ms or cfg.latency_jitter_ms):
            jitter = cfg.latency_jitter_ms * (2 * unit_hash(cfg.seed, "latency", target, n) - 1)
            latency_s = max(0.0, cfg.latency_ms + jitter) / 1000.0
        if scripted is not None:
            status = scripted.statuses[index] if index < len(scripted.statuses) else 200
            truncate: Literal["short", "close"] | None = None
            if 200 <= status < 300 and scripted.truncate:
                truncate = "close" if scripted.truncate == "close" else "short"
            return Decision(status=None if status == 200 else status,
                            retry_after_s=scripted.retry_after_s if status in (429, 503) else None,
                            hold_s=scripted.hold_s, latency_s=latency_s, truncate=truncate, kind="scripted")
        if not cfg.applies_to(family):
            return Decision(latency_s=latency_s)
        u = unit_hash(cfg.seed, "transport", target, n)
        edge = cfg.rate_429
        if u < edge:
            return Decision(status=429, retry_after_s=cfg.retry_after_s, latency_s=latency_s, kind="429")
        edge += cfg.rate_5xx
        if u < edge:
            pick = int(unit_hash(cfg.seed, "5xx", target, n) * len(SERVER_ERROR_STATUSES))
            return Decision(status=SERVER_ERROR_STATUSES[pick], latency_s=latency_s, kind="5xx")
        edge += cfg.rate_timeout
        if u < edge:
            return Decision(hold_s=cfg.timeout_hold_s, latency_s=latency_s, kind="timeout")
        edge += cfg.rate_truncated
        if u < edge:
            mode = cfg.truncate_mode
            if mode == "both":
                mode = "short" if unit_hash(cfg.seed, "truncate", target, n) < 0.5 else "close"
            return Decision(truncate=mode, latency_s=latency_s, kind="truncated")
        return Decision(latency_s=latency_s)

    # -- per-game data faults (decided per game, so a missing game stays missing on every re-request) --

    def shift_missing(self, game_id: int) -> bool:
        cfg = self._config
        return game_id in cfg.shift_missing_games or (
            cfg.shift_missing_rate > 0 and unit_hash(cfg.seed, "shift-missing", game_id) < cfg.shift_missing_rate)

    def shift_late(self, game_id: int) -> bool:
        cfg = self._config
        return game_id in cfg.shift_late_games or (
            cfg.shift_late_rate > 0 and unit_hash(cfg.seed, "shift-late", game_id) < cfg.shift_late_rate)

    def not_final(self, game_id: int) -> bool:
        return game_id in self._config.not_final_games


# -- payload rewrites (pure) --------------------------------------------------------------------------

def drop_path(obj: Any, dotted: str) -> int:
    """Remove the field at `dotted` (``a.b[].c``) everywhere it occurs in `obj`; returns how many."""
    return _drop(obj, dotted.split("."))


def _drop(obj: Any, parts: list[str]) -> int:
    if not parts or not isinstance(obj, dict):
        return 0
    head, rest = parts[0], parts[1:]
    iterate = head.endswith("[]")
    key = head[:-2] if iterate else head
    if key not in obj:
        return 0
    if not rest and not iterate:
        del obj[key]
        return 1
    child = obj[key]
    if iterate:
        if not isinstance(child, list):
            return 0
        if not rest:  # "a[]" alone: drop the list itself
            del obj[key]
            return 1
        return sum(_drop(item, rest) for item in child)
    return _drop(child, rest)


def apply_schema_drift(payload: Any, drift: SchemaDrift) -> int:
    """Apply `drift` in place; returns the number of fields removed or added."""
    changed = sum(drop_path(payload, p) for p in drift.drop_fields)
    if isinstance(payload, dict):
        for key, value in drift.add_fields.items():
            payload[key] = value
            changed += 1
    return changed


def hit_correction(pbp: dict) -> tuple[int, int, int] | None:
    """(sortOrder, credited player, corrected player) of a game's first hit: the NHL-style correction."""
    spots = pbp.get("rosterSpots") or []
    for play in sorted(pbp.get("plays") or [], key=lambda p: p.get("sortOrder", 0)):
        if play.get("typeDescKey") != "hit":
            continue
        d = play.get("details") or {}
        old, team = d.get("hittingPlayerId"), d.get("eventOwnerTeamId")
        mates = sorted(s["playerId"] for s in spots if s.get("teamId") == team and s.get("positionCode") != "G"
                       and s.get("playerId") != old)
        return (play["sortOrder"], old, mates[0]) if mates else None
    return None


def apply_hit_correction(payload: dict, family: str, correction: tuple[int, int, int]) -> bool:
    """Re-credit the hit in a play-by-play, or move one hit between the players of a boxscore."""
    order, old, new = correction
    if family == "play-by-play":
        for play in payload.get("plays") or []:
            if play.get("sortOrder") == order:
                play["details"]["hittingPlayerId"] = new
                return True
        return False
    root = payload.get("playerByGameStats") or {}
    changed = False
    for side in root.values():
        for group in (side or {}).values():
            for p in group or []:
                if p.get("playerId") == old and isinstance(p.get("hits"), int):
                    p["hits"] -= 1
                    changed = True
                elif p.get("playerId") == new and isinstance(p.get("hits"), int):
                    p["hits"] += 1
                    changed = True
    return changed


def rewrite_not_final(payload: Any, game_ids: Iterable[int], live_state: str = "LIVE") -> int:
    """Set `gameState` to LIVE for the given games in a schedule, score, boxscore or play-by-play body.

    Returns how many game objects were rewritten. Handles the top-level game object (boxscore,
    play-by-play) and the game lists of schedule (``gameWeek[].games[]``) and score (``games[]``) bodies.
    """
    ids = set(game_ids)
    changed = 0
    if not isinstance(payload, dict):
        return 0
    if payload.get("id") in ids and "gameState" in payload:
        payload["gameState"] = live_state
        changed += 1
    games: list[Any] = list(payload.get("games") or [])
    for day in payload.get("gameWeek") or []:
        if isinstance(day, dict):
            games.extend(day.get("games") or [])
    for game in games:
        if isinstance(game, dict) and game.get("id") in ids:
            game["gameState"] = live_state
            changed += 1
    return changed


def game_ids_in(payload: Any) -> set[int]:
    """Ids of the games a schedule/score body lists (top-level `games` and `gameWeek[].games`)."""
    ids: set[int] = set()
    if not isinstance(payload, dict):
        return ids
    games: list[Any] = list(payload.get("games") or [])
    for day in payload.get("gameWeek") or []:
        if isinstance(day, dict):
            games.extend(day.get("games") or [])
    for game in games:
        if isinstance(game, dict) and isinstance(game.get("id"), int):
            ids.add(game["id"])
    return ids
