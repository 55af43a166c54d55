"""Time windows of the scheduled monitors: which captures a run checks, given when it runs.

A window is ``[start, end)`` in UTC on the capture's ``eventMetadata.inferenceTime``. A scheduled run
checks the last whole window that ended at least ``delay`` before the run started: with daily windows
and a 48-hour label delay, a run at 2024-01-10T01:00Z checks 2024-01-07 (its labels have had two days to
arrive). Without a delay, the previous day.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

# Only plausible fields take the text shortcut (an hour 25 or a month 13 goes to the full parse, and fails).
_CAPTURE_TIME = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
                           r"(?:\.\d{1,9})?Z")
# A zone only after a time: "2024-01-07+02:00" would be read as a time of day.
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?Z?")


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
    _text_bounds: tuple[str | None, str | None] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and not self.start < self.end:
            raise ValueError(f"the window's start {iso(self.start)} is not before its end {iso(self.end)}")
        # Only whole-second bounds compare as text: a record's fraction of a second then never changes the answer.
        whole = not any(b is not None and b.microsecond for b in (self.start, self.end))
        object.__setattr__(self, "_text_bounds", tuple(None if b is None else iso(b)[:19] for b in (self.start, self.end))
                           if whole else None)

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or self.start <= moment) and (self.end is None or moment < self.end)

    def holds(self, text: str) -> bool:
        """Whether the ISO 8601 time ``text`` (a capture's ``inferenceTime``) lies in the window; ValueError
        when it is not a time.

        Data Capture writes ``2024-01-07T10:30:00Z`` (or with fractions of a second): those compare as text
        against whole-second bounds, without building a datetime per record.

        >>> w = Window(parse_time("2024-01-07"), parse_time("2024-01-08"))
        >>> w.holds("2024-01-07T00:00:00Z"), w.holds("2024-01-07T23:59:59.999Z"), w.holds("2024-01-08T00:00:00Z")
        (True, True, False)
        >>> w.holds("2024-01-07T10:00:00+05:00"), w.holds("2024-01-06T23:00:00-02:00")
        (True, True)
        """
        if self._text_bounds is not None and _CAPTURE_TIME.fullmatch(text):
            low, high = self._text_bounds
            second = text[:19]
            return (low is None or second >= low) and (high is None or second < high)
        return self.contains(parse_time(text, what="inferenceTime"))

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


def _optional_time(flag: str):
    def parse(text: str) -> datetime | None:
        if not text.strip():  # a pipeline's empty String parameter: not given
            return None
        try:
            return parse_time(text, what=flag)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse


def _hours(flag: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} {text[:40]!r} is not a whole number of hours") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{flag} {value} is negative")
        return value
    return parse


def add_window_options(parser: argparse.ArgumentParser, *, label_delay: bool) -> None:
    """--start/--end (an explicit window) and --run-start/--window-hours (a scheduled one), plus
    --label-delay-hours for checks that wait for labels. An empty value means "not given"."""
    parser.add_argument("--start", type=_optional_time("--start"), help="check captures with inferenceTime at or "
                        "after this ISO 8601 time (UTC unless a zone is given)")
    parser.add_argument("--end", type=_optional_time("--end"), help="... and before this time")
    parser.add_argument("--run-start", type=_optional_time("--run-start"),
                        help="a scheduled run's start time: check the last whole window before it (unless --start or "
                             "--end is given)")
    parser.add_argument("--window-hours", type=_hours("--window-hours"), default=24,
                        help="length of a scheduled window, aligned on UTC midnight (default 24; 0: every capture)")
    if label_delay:
        parser.add_argument("--label-delay-hours", type=_hours("--label-delay-hours"), default=0,
                            help="a scheduled window ends at least this long before the run, so its labels have "
                                 "arrived (default 0)")


def window_from_options(args: argparse.Namespace) -> Window | None:
    """The window the options describe (None: every capture); ValueError when it is empty or cannot tile days.

    >>> ns = argparse.Namespace(start=None, end=None, run_start=parse_time("2024-01-10T06:00Z"), window_hours=24,
    ...                         label_delay_hours=48)
    >>> window_from_options(ns).describe()
    '[2024-01-07T00:00:00Z, 2024-01-08T00:00:00Z)'
    """
    if args.start is not None or args.end is not None:
        return Window(args.start, args.end)
    if args.run_start is None or args.window_hours == 0:
        return None
    return scheduled_window(args.run_start, hours=args.window_hours,
                            delay_hours=getattr(args, "label_delay_hours", 0))
