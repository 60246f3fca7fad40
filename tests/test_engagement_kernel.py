"""The compiled week of beneficiary engagement against its rule in plain Python, bit for bit.

Random engagement, coordination, emphasis and needs (with 0, 1, NaN and -0.0 among them), with
and without fading, at the start of Re-design and not: the engagement and the assumed needs
the compiled rule leaves must have the bits of the mechanism's rule written as Python.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cisim.mechanisms._engagement import engagement_params, engagement_week
from cisim.world import F_COORDINATION, F_ENGAGEMENT, FIGURES


def _reference(rate: float, intensity: float, fade_mode: bool, start: float, fade_rate: float,
               engagement: float, coordination: float, emph: float, redesign: bool,
               true_need: np.ndarray, assumed_need: np.ndarray) -> tuple[float, np.ndarray]:
    """The week of :meth:`BeneficiaryEngagement.step` as Python floats and numpy arrays."""
    carried = coordination if fade_mode else 1.0
    engagement += rate * intensity * emph * carried * (1.0 - engagement)
    if fade_mode:
        fade = fade_rate * (1.0 - coordination)
        if engagement > start:
            engagement -= fade * (engagement - start)
    learn = rate * engagement * emph
    if redesign:
        learn = engagement
    assumed = assumed_need.copy()
    assumed += min(1.0, learn) * (true_need - assumed)
    return engagement, assumed


def _pick(rng: np.random.Generator) -> float:
    return float(rng.choice([0.0, -0.0, 1.0, math.nan, rng.random(), rng.uniform(0.0, 3.0)]))


@pytest.mark.parametrize("fade_mode", [True, False])
def test_compiled_engagement_week_is_the_rule_bit_for_bit(fade_mode: bool):
    rng = np.random.default_rng(11 + fade_mode)
    for case in range(2000):
        areas = int(rng.integers(1, 12))
        rate, intensity = rng.uniform(0.0, 0.05), _pick(rng)
        start, fade_rate = _pick(rng), rng.uniform(0.0, 0.02)
        engagement, coordination, emph = _pick(rng), _pick(rng), _pick(rng)
        redesign = bool(rng.random() < 0.3)
        true_need = rng.dirichlet(np.ones(areas))
        true_need.flags.writeable = False  # as the model's need shares are
        assumed = rng.dirichlet(np.ones(areas)) * rng.choice([1.0, -0.0])
        want_e, want_a = _reference(rate, intensity, fade_mode, start, fade_rate, engagement,
                                    coordination, emph, redesign, true_need, assumed)
        figures = np.zeros(len(FIGURES))
        figures[F_ENGAGEMENT], figures[F_COORDINATION] = engagement, coordination
        params = engagement_params(rate, intensity, fade_mode, start, fade_rate)
        engagement_week(params, figures, emph, redesign, true_need, assumed)
        assert np.float64(figures[F_ENGAGEMENT]).tobytes() == np.float64(want_e).tobytes(), case
        assert assumed.tobytes() == want_a.tobytes(), case
        others = np.delete(figures, [F_ENGAGEMENT, F_COORDINATION])
        assert not others.any(), case  # no other figure written
