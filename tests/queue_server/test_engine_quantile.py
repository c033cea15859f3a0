"""The one percentile definition the manager's statistics, the simulator and the benches share."""

from __future__ import annotations

import math
import statistics

import pytest

from queue_server import stats as S
from queue_server.engine.quantile import quantile
from sim.report import Waits


def test_linear_interpolation_between_ranks() -> None:
    assert quantile([1200, 600, 900, 600], 0.9) == pytest.approx(1110)  # 900 + 0.7 * 300
    assert quantile([3, 1, 2], 0.5) == 2
    assert quantile([5.0], 0.99) == 5.0
    assert (quantile([1, 2], 0), quantile([1, 2], 1)) == (1, 2)
    assert math.isnan(quantile([], 0.9))
    with pytest.raises(ValueError):
        quantile([1, 2], 90)


def test_it_is_the_inclusive_method_of_the_standard_library() -> None:
    values = [float((i * 37) % 101) for i in range(57)]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for pct in (10, 50, 90, 99):
        assert quantile(values, pct / 100) == pytest.approx(cuts[pct - 1])


def test_the_manager_and_the_simulator_report_the_same_p90() -> None:
    waits_s = [600.0, 600.0, 900.0, 1200.0, 75.0, 3000.0]
    manager = S._summary(waits_s)["p90_s"]
    simulator = Waits.of(waits_s).p90 * 60
    assert manager == round(simulator, 1) == round(quantile(waits_s, 0.9), 1)
