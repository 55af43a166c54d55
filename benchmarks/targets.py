"""Performance targets, checked once per benchmark run: exit 0 when every target is met, 1 when one is missed.

(Bad usage exits 2, as argparse does.) Each benchmark has a ``check_targets`` function that turns its
measurements into :class:`Measured` values and returns :func:`verdict`'s exit code, so the exit code can be
tested on fabricated measurements without the timed run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

MET, MISSED = 0, 1


@dataclass(frozen=True)
class Measured:
    """One measured quantity and the most it may be (``limit`` None: shown, with ``untargeted`` saying why)."""

    what: str
    value: float
    limit: float | None
    unit: str = ""
    untargeted: str = "no target"

    @property
    def missed(self) -> bool:
        return self.limit is not None and not self.value <= self.limit  # NaN misses too

    def line(self) -> str:
        """``what: value  target <= limit: met`` (or MISSED).

        >>> Measured("ratio (a / b)", 0.25, 0.3).line()
        'ratio (a / b): 0.250  (target <= 0.3: met)'
        >>> Measured("peak RSS", 2500, 2048, " MB").line()
        'peak RSS: 2,500 MB  (target <= 2,048 MB: MISSED)'
        """
        shown = f"{self.value:.3f}" if abs(self.value) < 100 else f"{self.value:,.0f}"
        if self.limit is None:
            return f"{self.what}: {shown}{self.unit}  ({self.untargeted})"
        limit = f"{self.limit:g}" if abs(self.limit) < 100 else f"{self.limit:,.0f}"
        return f"{self.what}: {shown}{self.unit}  (target <= {limit}{self.unit}: {'MISSED' if self.missed else 'met'})"


def ratio(ours: float, baseline: float) -> float:
    """``ours / baseline``; infinite when the baseline took no time (so it cannot pass).

    >>> ratio(1.0, 4.0), ratio(1.0, 0.0)
    (0.25, inf)
    """
    return ours / baseline if baseline else float("inf")


def verdict(measured: Sequence[Measured], emit: Callable[[str], None] = print) -> int:
    """Print every measurement against its target; MISSED (1) if any target is missed, else MET (0).

    >>> verdict([Measured("ratio", 0.9, 1.0), Measured("ratio with 1 worker", 1.2, None)])
    ratio: 0.900  (target <= 1: met)
    ratio with 1 worker: 1.200  (no target)
    every target met
    0
    >>> verdict([Measured("ratio", 1.5, 1.0)])
    ratio: 1.500  (target <= 1: MISSED)
    missed: ratio
    1
    """
    for item in measured:
        emit(item.line())
    missed = [item.what for item in measured if item.missed]
    emit(f"missed: {', '.join(missed)}" if missed else "every target met")
    return MISSED if missed else MET
