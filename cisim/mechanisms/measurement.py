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
from cisim.mechanisms._measurement import (
    clip01,
    measured_win_of,
    measurement_params,
    measurement_week,
)
from cisim.mechanisms.base import ByContents, RunConstants, WeeklyDraws, is_counterfactual
from cisim.rng import normal, normal_steps
from cisim.world import World

if TYPE_CHECKING:
    from cisim.context import StepContext


class SharedMeasurement:
    """Maturity of the shared data system and the measured outcome rate."""

    component = "measurement"

    def __init__(self) -> None:
        # the active partners' (mean, best) data maturity per world (by id), with the bytes
        # of its inputs; and the run's constants of the compiled rule and its noise draws
        self._practice = ByContents()
        self._run: _Run | None = None

    def setup(self, model: StepContext, world: World) -> None:
        """Start at the initial maturity; the baseline rate is known from census data."""
        world.measurement = model.design.measurement.initial_maturity
        world.measured_baseline = model.true_rate(world, 0)
        world.measured_rate = world.measured_baseline

    def constants(self, model: StepContext) -> _Run:
        """The run's constants of the mechanism's compiled rules (made once a run, kept)."""
        run = self._run = _Run.kept(self._run, model)
        return run

    def step(self, model: StepContext, world: World) -> None:
        """Mature (or decay) the data system, then take this week's measurement.

        One compiled call over the world's figures
        (:func:`cisim.mechanisms._measurement.measurement_week`: the maturity, the report lag
        and the noise), then the lagged true rate plus the noise, clipped to [0, 1].

        The counterfactual world's measurement is not taken (its measured rate stays the
        baseline of its setup): nothing reads it. An isolated world never meets, so it has no
        small wins (:mod:`.communication`) and realises no value (:mod:`.value`); the
        counterfactual's money mirrors the factual world's (:mod:`.investment`); the books and
        the recorder are the factual world's. Its noise draws are counter-based, so skipping
        them changes no other draw, and its maturity does not move in isolation.
        """
        if is_counterfactual(model, world):
            return
        run = self.constants(model)
        matures = not world.isolated and run.shared
        if matures:
            data, best = self._data_practice(world)
            emph = model.emphasis(world, self.component)
        else:  # (the rule reads none of these)
            data = best = emph = 0.0
        t = model.steps
        z = run.noise.at(t, model.world_index(world))
        lag, noise = measurement_week(world.figures, run.params, matures, emph, data, best, z)
        world.measured_rate = clip01(model.true_rate(world, t - int(lag)) + noise)

    def _data_practice(self, world: World) -> tuple[float, float]:
        """The mean and the best data maturity of the active partners (0 with nobody).

        Remembered while the inputs stay the same (partners leave rarely).
        """
        return self._practice.get(world, (world.active, world.partners.data_maturity),
                                  lambda: _data_practice(world))


class _Run(RunConstants):
    """The run's constants of the compiled rule and its table of noise draws.

    The draws are made at once, the first time a world measures
    (:func:`cisim.rng.normal_steps`, the same doubles as ``normal``).
    """

    __slots__ = ("noise", "params", "shared")

    def __init__(self, model: StepContext) -> None:
        super().__init__(model)
        self.params = measurement_params(model.design)
        self.shared = model.design.measurement.shared
        self.noise = WeeklyDraws(model, normal_steps, normal, S_NOISE)


def measured_win(world: World) -> float:
    """The partnership's visible win, 0-1: measured improvement on the baseline, 5 points = 1.

    What partners see of their results (the lagged, noisy measured rate, not the true one):
    it is the social-impact value they realise (:mod:`.value`) and the small wins that feed
    trust (:mod:`.communication`; Ansell & Gash 2008).
    """
    return measured_win_of(world.measured_rate, world.measured_baseline)


def _data_practice(world: World) -> tuple[float, float]:
    """The mean and the best data maturity of the active partners (0 with nobody)."""
    mature = world.partners.data_maturity[world.active]
    # the mean (as ndarray.mean adds and divides, without its wrapper), 0 with nobody
    data = float(np.add.reduce(mature) / mature.size) if mature.size else 0.0
    best = float(mature.max()) if mature.size else 0.0
    return data, best
