"""Which game dates the daily automation fetches, and why (pure: no Dagster, no I/O).

The replaced system needed hand-edited `one_time_load` / `lookback_days` flags and still left duplicates
and silent gaps. Here every date's state is derived from two facts, the NHL schedule and the bronze
completeness ledger, and the decision is a function of them:

* a date whose games are (at least partly) final and that bronze has never fetched: fetch (`new`);
* a date bronze holds but not completely (a game not final then, a shift chart not published, an API
  error), or whose schedule now has more final games than the ledger: fetch again (`incomplete`), every
  `retry_every_ticks` ticks, until complete or older than `give_up_days` — then it is reported (`given_up`),
  never silently accepted (`more_final` when the schedule shows more final games than bronze holds:
  fetched at once);
* a complete date within `lookback_days` of today: fetched once more per day (`lookback`), for the stat
  corrections the NHL publishes after a game. An identical re-fetch has the same data version, so nothing
  downstream re-runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True)
class DayState:
    """One game date as the schedule and the bronze ledger see it."""

    day: date
    scheduled: int  # regular-season/playoff games the schedule lists
    final: int  # of those, final now
    fetched: bool  # bronze holds the date (its schedule row)
    ledger_games: int = 0
    ledger_final: int = 0
    ledger_incomplete: int = 0

    @property
    def complete(self) -> bool:
        return self.fetched and self.ledger_incomplete == 0 and self.ledger_games >= self.scheduled \
            and self.ledger_final >= self.final


@dataclass
class Cursor:
    """What the sensor remembers between ticks (JSON in the sensor cursor)."""

    tick: int = 0
    last_request: dict[str, float] = field(default_factory=dict)  # date -> time (epoch s) of the last request
    lookback_done: dict[str, str] = field(default_factory=dict)  # date -> today of its last lookback fetch
    given_up: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"tick": self.tick, "last_request": self.last_request, "lookback_done": self.lookback_done,
                "given_up": self.given_up}

    @classmethod
    def from_json(cls, data: dict | None) -> "Cursor":
        data = data or {}
        return cls(tick=data.get("tick", 0), last_request=dict(data.get("last_request", {})),
                   lookback_done=dict(data.get("lookback_done", {})), given_up=list(data.get("given_up", [])))


@dataclass(frozen=True)
class Decision:
    day: date
    reason: str  # new / more_final / incomplete / lookback


def plan_bronze(today: date, days: dict[date, DayState], cursor: Cursor, *, lookback_days: int, give_up_days: int,
                retry_every_minutes: float, start: date, now: float) -> tuple[list[Decision], list[date]]:
    """(dates to fetch now, dates given up this tick). Mutates `cursor` for what it decides.

    `days` should also cover the week before the give-up horizon, so that a date leaving the horizon
    can be told complete (forgotten) from incomplete (reported as given up).
    """
    out: list[Decision] = []
    given_up: list[date] = []
    first = max(start, today - timedelta(days=give_up_days))
    for offset in range((today - first).days + 1):
        d = first + timedelta(days=offset)
        st = days.get(d)
        if st is None:
            continue
        key = d.isoformat()
        if not st.fetched:
            if st.scheduled == 0 or st.final > 0:  # an empty day is recorded once; a played one once final
                out.append(Decision(d, "new"))
            continue
        if not st.complete:
            if st.final == 0 and st.ledger_final == 0:
                continue  # nothing final yet: wait for the games
            if st.final > st.ledger_final:
                out.append(Decision(d, "more_final"))
                continue
            last = cursor.last_request.get(key)
            if last is None or now - last >= retry_every_minutes * 60:
                out.append(Decision(d, "incomplete"))
            continue
        if d >= today - timedelta(days=lookback_days) and cursor.lookback_done.get(key) != today.isoformat():
            out.append(Decision(d, "lookback"))
    # dates past the give-up horizon that never completed: report once
    for key, _tick in sorted(cursor.last_request.items()):
        d = date.fromisoformat(key)
        st = days.get(d)
        if d < first and key not in cursor.given_up and (st is None or not st.complete):
            given_up.append(d)
            cursor.given_up.append(key)
    for dec in out:
        cursor.last_request[dec.day.isoformat()] = now
        if dec.reason in ("lookback", "new"):
            cursor.lookback_done[dec.day.isoformat()] = today.isoformat()
    # forget what is older than the horizon (the cursor stays small)
    cursor.lookback_done = {k: v for k, v in cursor.lookback_done.items() if date.fromisoformat(k) >= first}
    cursor.last_request = {k: v for k, v in cursor.last_request.items() if date.fromisoformat(k) >= first}
    cursor.given_up = cursor.given_up[-200:]
    return out, given_up
