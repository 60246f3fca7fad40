"""Shared measurement: a data system that matures and makes measured outcomes trustworthy.

Kania & Kramer 2011: shared measurement on a short list of indicators keeps efforts aligned and lets
participants hold each other accountable; NCIOM task force: it needs a strong data partner,
substantial funding and ongoing staffing from the backbone. Maturity ``M`` grows with the data
manager's saturation, the money for the data system and the partners' willingness to share (trust
and their own data maturity), and decays when unmaintained. Measured outcome rates lag the true ones
by ``report_lag_weeks x (1 - M)`` and carry noise of ``noise_pp x (1 - M)`` points; they drive
funders' renewals, data-driven management (:mod:`.activities`), accountability (:mod:`.value`)
and the small wins that feed trust (:mod:`.communication`).
Organisations working in isolation keep their initial data practice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cisim.kernels import S_NOISE
from cisim.mechanisms.base import ByContents, WeeklyDraws, is_counterfactual
from cisim.rng import normal, normal_steps
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import World

if TYPE_CHECKING:
    from cisim.context import StepContext


class SharedMeasurement:
    """Maturity of the shared data system and the measured outcome rate."""

    component = "measurement"

    def __init__(self) -> None:
        # the active partners' (mean, best) data maturity per world (by id), with the bytes
        # of its inputs; and the run's noise draws
        self._practice = ByContents()
        self._noise: WeeklyDraws | None = None

    def setup(self, model: StepContext, world: World) -> None:
        """Start at the initial maturity; the baseline rate is known from census data."""
        world.measurement = model.design.measurement.initial_maturity
        world.measured_baseline = model.true_rate(world, 0)
        world.measured_rate = world.measured_baseline

    def step(self, model: StepContext, world: World) -> None:
        """Mature (or decay) the data system, then take this week's measurement.

        The counterfactual world's measurement is not taken (its measured rate stays the
        baseline of its setup): nothing reads it. An isolated world never meets, so it has no
        small wins (:mod:`.communication`) and realises no value (:mod:`.value`); the
        counterfactual's money mirrors the factual world's (:mod:`.investment`); the books and
        the recorder are the factual world's. Its noise draws are counter-based, so skipping
        them changes no other draw, and its maturity does not move in isolation.
        """
        if is_counterfactual(model, world):
            return
        sc = model.design
        m = sc.measurement
        dyn = sc.dynamics
        if not world.isolated and m.shared:
            # Staff alone get half way; the data system's money (tools, data sharing
            # agreements) the rest (NCIOM task force: "substantial funding").
            funded = 0.5
            if m.investment_per_year > 0:
                funded += 0.5 * world.measurement_spend * STEPS_PER_YEAR / m.investment_per_year
            data, best = self._data_practice(world)
            if sc.backbone.present:
                capacity = world.data_capacity * funded
            else:  # the best data partner at the table does what it can
                capacity = dyn.self_coordination * best * funded
            willing = 0.5 * (world.trust_mean + data)
            emph = model.emphasis(world, self.component)
            grow = dyn.measurement_rate_per_year / STEPS_PER_YEAR * emph * capacity * willing
            decay = dyn.measurement_decay_per_year / STEPS_PER_YEAR * (1.0 - capacity)
            world.measurement += grow * (1.0 - world.measurement) - decay * (
                world.measurement - m.initial_maturity
            )
        quality = world.measurement
        lag = round(m.report_lag_weeks * (1.0 - quality))
        t = model.steps
        noise = m.noise_pp / 100.0 * (1.0 - quality)
        # the run's draws are made at once, the first time a world measures (four Python
        # mixes a week before)
        draws = self._noise = WeeklyDraws.kept(self._noise, model, normal_steps, normal, S_NOISE)
        z = draws.at(t, model.world_index(world))
        world.measured_rate = _clip01(model.true_rate(world, t - lag) + noise * z)

    def _data_practice(self, world: World) -> tuple[float, float]:
        """The mean and the best data maturity of the active partners (0 with nobody).

        Remembered while the inputs stay the same (partners leave rarely).
        """
        return self._practice.get(world, (world.active, world.partners.data_maturity),
                                  lambda: _data_practice(world))


def measured_win(world: World) -> float:
    """The partnership's visible win, 0-1: measured improvement on the baseline, 5 points = 1.

    What partners see of their results (the lagged, noisy measured rate, not the true one):
    it is the social-impact value they realise (:mod:`.value`) and the small wins that feed
    trust (:mod:`.communication`; Ansell & Gash 2008).
    """
    win = 100.0 * (world.measured_rate - world.measured_baseline) / 5.0
    # min(1, max(0, win)) as comparisons, without the builtins' calls (NaN -> 0 as theirs)
    win = win if win > 0.0 else 0.0
    return win if win < 1.0 else 1.0


def _clip01(v: float) -> float:
    """``float(np.clip(v, 0, 1))`` for a float, without numpy's call (NaN stays NaN)."""
    if v != v:
        return v
    v = v if v > 0.0 else 0.0  # numpy's clip: max(v, 0) as v > 0 ? v : 0 (so -0.0 -> 0.0)
    return v if v < 1.0 else 1.0


def _data_practice(world: World) -> tuple[float, float]:
    """The mean and the best data maturity of the active partners (0 with nobody)."""
    mature = world.partners.data_maturity[world.active]
    # the mean (as ndarray.mean adds and divides, without its wrapper), 0 with nobody
    data = float(np.add.reduce(mature) / mature.size) if mature.size else 0.0
    best = float(mature.max()) if mature.size else 0.0
    return data, best
