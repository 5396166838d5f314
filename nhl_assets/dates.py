"""Game dates: the inclusive date window a materialization replaces, today's game date, the season of a date.

Pure (no Dagster): the storage layer and silver's parse workers use them, and a spawned worker that imported
Dagster to get a window would spend 0.6 s of its start on it. `nhl_assets.partitions` maps Dagster's
partition keys onto these windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from nhl_assets import settings


class KeyRange(Protocol):
    """What a window is read from: Dagster's `PartitionKeyRange` (ISO date keys), without importing Dagster."""

    start: str
    end: str


@dataclass(frozen=True)
class DateWindow:
    """An inclusive range of game dates: the unit a materialization replaces."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window end {self.end} is before its start {self.start}")

    @classmethod
    def of(cls, start: str | date, end: str | date | None = None) -> "DateWindow":
        s = date.fromisoformat(start) if isinstance(start, str) else start
        e = s if end is None else (date.fromisoformat(end) if isinstance(end, str) else end)
        return cls(s, e)

    @classmethod
    def from_key_range(cls, key_range: KeyRange) -> "DateWindow":
        return cls.of(key_range.start, key_range.end)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def __len__(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, d: object) -> bool:
        if isinstance(d, datetime):
            d = d.date()
        return isinstance(d, date) and self.start <= d <= self.end

    def chunks(self, size: int) -> list["DateWindow"]:
        """Consecutive sub-windows of at most `size` days (for bounded memory in long backfills)."""
        days = self.days()
        return [DateWindow(days[i], days[min(i + size, len(days)) - 1]) for i in range(0, len(days), size)]

    def __str__(self) -> str:
        return self.start.isoformat() if self.start == self.end else f"{self.start}...{self.end}"


def eastern_today() -> date:
    """Today's game date on the wall clock (America/New_York), for when the API cannot say what today is."""
    return datetime.now(ZoneInfo(settings.NHL_TIMEZONE)).date()


def season_of(d: date) -> int:
    """The 8-digit NHL season (e.g. 20232024) a game date belongs to; seasons roll over on July 1."""
    first = d.year if d.month >= 7 else d.year - 1
    return first * 10000 + first + 1
