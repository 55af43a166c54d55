"""processing_scripts/windows.py: which captures a scheduled monitor checks."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from processing_scripts import windows as w


@pytest.mark.parametrize("seed", range(30))
def test_the_scheduled_window_is_the_last_whole_aligned_window_before_the_delay(seed):
    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=int(rng.integers(0, 400 * 86400)))
    hours = int(rng.choice([1, 2, 3, 4, 6, 8, 12, 24, 48, 168]))
    delay = int(rng.integers(0, 100))
    window = w.scheduled_window(start, hours=hours, delay_hours=delay)
    latest = start - timedelta(hours=delay)
    assert window.end - window.start == timedelta(hours=hours)
    assert window.end <= latest < window.end + timedelta(hours=hours)  # whole, and the last one
    since_epoch = window.start - datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert since_epoch % timedelta(hours=hours) == timedelta(0)  # aligned


@pytest.mark.parametrize("text, message", [
    ("yesterday", "is not an ISO 8601 date or time"),
    ("2024-13-01", "is not a valid date or time"),
    ("2024-01-07T25:00", "is not a valid date or time"),
])
def test_bad_times_are_refused_in_one_line(text, message):
    with pytest.raises(ValueError, match=message):
        w.parse_time(text, what="--start")


def test_windows_are_half_open_and_checked():
    window = w.Window(w.parse_time("2024-01-07"), w.parse_time("2024-01-08"))
    assert window.contains(w.parse_time("2024-01-07T00:00:00Z"))
    assert not window.contains(w.parse_time("2024-01-08T00:00:00Z"))
    assert w.Window().contains(w.parse_time("1999-01-01"))
    assert window.describe() == "[2024-01-07T00:00:00Z, 2024-01-08T00:00:00Z)"
    with pytest.raises(ValueError, match="is not before its end"):
        w.Window(w.parse_time("2024-01-08"), w.parse_time("2024-01-08"))
    with pytest.raises(ValueError, match="does not tile days"):
        w.scheduled_window(w.parse_time("2024-01-08"), hours=5)
    assert w.parse_time("2024-01-07T10:00:00.123456789Z").microsecond == 123456


def test_a_zone_needs_a_time_and_impossible_capture_times_are_refused():
    from processing_scripts.windows import Window, parse_time

    with pytest.raises(ValueError, match="is not an ISO 8601"):
        parse_time("2024-01-07+02:00")  # would be read as 02:00 o'clock
    window = Window(parse_time("2024-01-07"), parse_time("2024-01-08"))
    for impossible in ("2024-01-07T25:00:00Z", "2024-13-07T10:00:00Z"):
        with pytest.raises(ValueError):
            window.holds(impossible)
