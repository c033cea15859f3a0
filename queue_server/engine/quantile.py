"""The one percentile definition: the manager's statistics, the simulator's reports and the
benchmarks all read their p50/p90/p99 from here, so their figures can be compared.

Linear interpolation between the two nearest ranks (numpy's default method, the ``(n - 1) * q``
position; ``statistics.quantiles(..., method="inclusive")`` agrees).
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def quantile(values: Iterable[float], q: float) -> float:
    """The ``q`` quantile (0 <= q <= 1) of ``values``, in any order; NaN if there are none."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q} is not between 0 and 1")
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
