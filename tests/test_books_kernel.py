"""The world's compiled books (cisim._world.book_figures) against the Python rule they replaced."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cisim.world import (
    F_INVESTMENT_PV,
    F_MEASURED_BASELINE,
    F_MEASURED_RATE,
    F_MEASURED_VALUE_PV,
    FIGURES,
    book_figures,
)


def _python_books(f: dict, burden_hours, attended, isolated, step, population, hours_per_meeting,
                  hour_cost, discount_rate, value, attribution, displacement) -> None:
    """cisim.world.book_week as it was written in Python (numpy's sums), on a dict of figures."""
    cost = 0.0
    if not isolated:
        hours = (float(np.add.reduce(burden_hours))
                 + hours_per_meeting * int(np.count_nonzero(attended)))
        cost = hours * hour_cost
    f["coordination_cost"] = cost
    f["investment"] = (f["income"] + cost) if step > 0 else 0.0
    d = (1.0 + discount_rate) ** (-float(step) / 52)
    f["investment_pv"] += f["investment"] * d
    adjusted_value = value * (1 - attribution) * (1 - displacement)
    measured_gain = (f["measured_rate"] - f["measured_baseline"]) * population / 52
    if step > 0 and math.isfinite(measured_gain):
        f["measured_value_pv"] += measured_gain * adjusted_value * d
    pv = f["investment_pv"]
    f["measured_sroi"] = f["measured_value_pv"] / pv if pv >= 0.01 else float("nan")


@pytest.mark.parametrize("seed", range(60))
def test_books_are_the_python_rule_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    # up to 128 partners the kernel sums the hours; beyond, numpy's sum is passed in
    n = int(rng.choice([0, 1, 7, 8, 9, 40, 128, 129, 300, int(rng.integers(1, 600))]))
    burden = rng.random(n) * 10.0 ** rng.integers(-3, 4, n)
    burden[rng.random(n) < 0.1] = 0.0
    attended = rng.random(n) < 0.5
    figures = rng.standard_normal(len(FIGURES)) * 10.0 ** rng.integers(-4, 6, len(FIGURES))
    if rng.random() < 0.3:  # before measurement is set up, or a NaN on its way
        figures[rng.choice([F_MEASURED_RATE, F_MEASURED_BASELINE])] = np.nan
    if rng.random() < 0.2:
        figures[F_INVESTMENT_PV] = rng.choice([0.0, -0.0, 0.005, 0.01])
    if rng.random() < 0.1:
        figures[F_MEASURED_VALUE_PV] = -0.0
    if rng.random() < 0.1:
        figures[F_MEASURED_RATE] = np.inf
    isolated = bool(rng.random() < 0.3)
    step = int(rng.choice([0, 1, int(rng.integers(0, 2000))]))
    population = int(rng.integers(0, 10**6))
    args = (float(rng.choice([0.0, rng.random() * 4])), float(rng.random() * 100),
            float(rng.choice([0.0, 0.035, rng.random() * 0.2])), float(rng.random() * 1e4),
            float(rng.random()), float(rng.random()))
    want = dict(zip(FIGURES, figures.tolist(), strict=True))
    _python_books(want, burden, attended, isolated, step, population, *args)
    got = figures.copy()
    total = float(np.add.reduce(burden)) if n > 128 else 0.0
    book_figures(got, burden, attended, total, not isolated, step, population, *args)
    assert got.tobytes() == np.array([want[f] for f in FIGURES]).tobytes()


@pytest.mark.parametrize("n", [0, 5, 128, 129, 400])
def test_book_week_passes_numpys_sum_above_the_compiled_one(n):
    # book_week reads only these of the world and the scenario
    from types import SimpleNamespace

    from cisim.world import book_week

    rng = np.random.default_rng(n)
    figures = rng.random(len(FIGURES))
    world = SimpleNamespace(figures=figures.copy(), burden_hours=rng.random(n) * 1e3,
                            attended=rng.random(n) < 0.5, isolated=False)
    valuation = SimpleNamespace(coordination_hour_cost=37.5, discount_rate=0.035,
                                value_per_outcome_year=9000.0, attribution=0.2,
                                displacement=0.1)
    sc = SimpleNamespace(valuation=valuation, meetings=SimpleNamespace(hours_per_meeting=2.5))
    book_week(world, sc, 60, 2000)
    want = dict(zip(FIGURES, figures.tolist(), strict=True))
    _python_books(want, world.burden_hours, world.attended, False, 60, 2000, 2.5, 37.5, 0.035,
                  9000.0, 0.2, 0.1)
    assert world.figures.tobytes() == np.array([want[f] for f in FIGURES]).tobytes()
