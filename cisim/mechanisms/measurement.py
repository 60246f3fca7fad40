"""Shared measurement: a data system that matures and makes measured outcomes trustworthy.

Kania & Kramer 2011: shared measurement on a short list of indicators keeps efforts aligned and lets
participants hold each other accountable; NCIOM task force: it needs a strong data partner,
substantial funding and ongoing staffing from the backbone. Maturity ``M`` grows with the data
manager's saturation, the money for the data system and the partners' willingness to share (trust
and their own data maturity), and decays when unmaintained. Measured outcome rates lag the true ones
by ``report_lag_weeks x (1 - M)`` and carry noise of ``noise_pp x (1 - M)`` points; they drive
funders' renewals, data-driven management (:mod:`.activities`) and accountability (:mod:`.value`).
Organisations working in isolation keep their initial data practice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cisim.kernels import S_NOISE
from cisim.rng import normal
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import World

if TYPE_CHECKING:
    from cisim.context import StepContext


class SharedMeasurement:
    """Maturity of the shared data system and the measured outcome rate."""

    component = "measurement"

    def setup(self, model: StepContext, world: World) -> None:
        """Start at the initial maturity; the baseline rate is known from census data."""
        world.measurement = model.design.measurement.initial_maturity
        world.measured_baseline = model.true_rate(world, 0)
        world.measured_rate = world.measured_baseline

    def step(self, model: StepContext, world: World) -> None:
        """Mature (or decay) the data system, then take this week's measurement."""
        sc = model.design
        m = sc.measurement
        dyn = sc.dynamics
        if not world.isolated and m.shared:
            # Staff alone get half way; the data system's money (tools, data sharing
            # agreements) the rest (NCIOM task force: "substantial funding").
            funded = 0.5
            if m.investment_per_year > 0:
                funded += 0.5 * world.measurement_spend * STEPS_PER_YEAR / m.investment_per_year
            active = world.active
            data = float(world.partners.data_maturity[active].mean()) if active.any() else 0.0
            if sc.backbone.present:
                capacity = world.data_capacity * funded
            else:  # the best data partner at the table does what it can
                best = float(world.partners.data_maturity[active].max()) if active.any() else 0.0
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
        z = normal(model.kseed, t, model.world_index(world), S_NOISE)
        world.measured_rate = float(np.clip(model.true_rate(world, t - lag) + noise * z, 0, 1))
