"""Time windows of the scheduled monitors: which captures a run checks, given when it runs.

A window is ``[start, end)`` in UTC on the capture's ``eventMetadata.inferenceTime``. A scheduled run
checks the last whole window that ended at least ``delay`` before the run started: with daily windows
and a 48-hour label delay, a run at 2024-01-10T01:00Z checks 2024-01-07 (its labels have had two days to
arrive). Without a delay, the previous day.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})?")


def parse_time(text: str, *, what: str = "time") -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime (no zone: UTC, as Data Capture writes).

    >>> parse_time("2024-01-07T10:30:00Z").isoformat()
    '2024-01-07T10:30:00+00:00'
    >>> parse_time("2024-01-07").isoformat(), parse_time("2024-01-07T12:00+02:00").hour
    ('2024-01-07T00:00:00+00:00', 10)
    """
    text = text.strip()
    if not _ISO.fullmatch(text):
        raise ValueError(f"{what} {text[:40]!r} is not an ISO 8601 date or time (e.g. 2024-01-07T00:00:00Z)")
    digits = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))  # Python keeps microseconds
    try:
        value = datetime.fromisoformat(digits)
    except ValueError:
        raise ValueError(f"{what} {text[:40]!r} is not a valid date or time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def iso(value: datetime) -> str:
    """``2024-01-07T00:00:00Z``."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC; either end may be open (None)."""

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and not self.start < self.end:
            raise ValueError(f"the window's start {iso(self.start)} is not before its end {iso(self.end)}")

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or self.start <= moment) and (self.end is None or moment < self.end)

    def describe(self) -> str:
        return f"[{iso(self.start) if self.start else '-inf'}, {iso(self.end) if self.end else '+inf'})"


def scheduled_window(run_start: datetime, *, hours: int = 24, delay_hours: int = 0) -> Window:
    """The last whole window of ``hours`` (aligned on UTC midnight) ending at least ``delay_hours`` before
    ``run_start``.

    >>> w = scheduled_window(parse_time("2024-01-10T01:00:00Z"), delay_hours=48)
    >>> iso(w.start), iso(w.end)
    ('2024-01-07T00:00:00Z', '2024-01-08T00:00:00Z')
    >>> iso(scheduled_window(parse_time("2024-01-10T13:20:00Z"), hours=6).start)
    '2024-01-10T06:00:00Z'
    """
    if hours <= 0 or 24 % hours and hours % 24:
        raise ValueError(f"a window of {hours} hours does not tile days; use a divisor or a multiple of 24")
    if delay_hours < 0:
        raise ValueError(f"a label delay of {delay_hours} hours is negative")
    latest = run_start.astimezone(timezone.utc) - timedelta(hours=delay_hours)
    midnight = latest.replace(hour=0, minute=0, second=0, microsecond=0)
    epoch_days = (midnight - datetime(1970, 1, 1, tzinfo=timezone.utc)).days
    if hours >= 24:
        days = hours // 24
        end = midnight - timedelta(days=epoch_days % days)
    else:
        end = midnight + timedelta(hours=(latest - midnight).seconds // 3600 // hours * hours)
    return Window(end - timedelta(hours=hours), end)
