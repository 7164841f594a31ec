"""Report anomalies: a sudden fall in a service's or a business unit's compliance, or
a burst of violations, against the periods before (docs/reporting.md, "Anomalies").

Periods are calendar months (UTC), the rows of the compliance reports. For the latest
ended month and the `periods` months before it (3 by default):

- **compliance drop**: the month's compliance (100 x good / total over the rolled-up
  counts) is more than `drop_points` percentage points (2.0) below the mean of the
  previous months' compliance;
- **violation burst**: the month's violation count is above the mean + 3 standard
  deviations (population) of the previous months' counts.

Either needs every one of the previous months to have data (a total above zero), so a
new service, or one whose measurements started last month, raises nothing. Nothing
here does I/O.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

SIGMAS = 3.0


@dataclass(frozen=True, slots=True)
class PeriodFigure:
    """A subject's figures in one period: rolled-up good and total, violations."""

    start: datetime
    good: float | None
    total: float | None
    violations: int = 0

    @property
    def compliance(self) -> float | None:
        if self.good is None or self.total is None or self.total <= 0:
            return None
        return 100.0 * self.good / self.total


@dataclass(frozen=True, slots=True)
class Finding:
    """What is anomalous about one subject's latest period."""

    period_start: datetime
    compliance: float
    baseline: float  # the mean compliance of the previous periods
    drop: bool
    burst: bool
    violations: int
    violation_threshold: float

    def detail(self, subject: str, drop_points: float) -> str:
        """One sentence per finding, naming `subject` (a service or unit name)."""
        month = self.period_start.strftime("%Y-%m")
        parts = []
        if self.drop:
            parts.append(
                f"{subject}'s compliance in {month} was {self.compliance:.2f}%, "
                f"{self.baseline - self.compliance:.2f} points below the mean of the "
                f"previous periods ({self.baseline:.2f}%; alert above {drop_points:g} points)."
            )
        if self.burst:
            parts.append(
                f"{subject} had {self.violations} violations in {month}, above the mean + "
                f"{SIGMAS:g} standard deviations of the previous periods "
                f"({self.violation_threshold:.2f})."
            )
        return " ".join(parts)


def compliance_drop(current: float, previous: Sequence[float], drop_points: float) -> bool:
    """Whether `current` is more than `drop_points` below the mean of `previous`."""
    return bool(previous) and statistics.fmean(previous) - current > drop_points


def violation_threshold(previous: Sequence[int]) -> float:
    """Counts above this are a burst: the mean + 3 population standard deviations."""
    if not previous:
        return math.inf
    return statistics.fmean(previous) + SIGMAS * statistics.pstdev(previous)


def detect(
    figures: Sequence[PeriodFigure], *, drop_points: float = 2.0, periods: int = 3
) -> Finding | None:
    """The finding on the last of `figures` (oldest first, consecutive periods) against
    the `periods` before it, or None when nothing is anomalous or data is missing."""
    if periods < 1 or len(figures) < periods + 1:
        return None
    current, previous = figures[-1], figures[-periods - 1 : -1]
    now = current.compliance
    before = [f.compliance for f in previous]
    if now is None or any(c is None for c in before):
        return None
    baseline_values = [c for c in before if c is not None]
    baseline = statistics.fmean(baseline_values)
    drop = compliance_drop(now, baseline_values, drop_points)
    threshold = violation_threshold([f.violations for f in previous])
    burst = current.violations > threshold
    if not (drop or burst):
        return None
    return Finding(current.start, now, baseline, drop, burst, current.violations, threshold)
