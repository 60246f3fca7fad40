"""Likelihood-free calibration of cisim's assumed parameters against targets set in advance.

``cisim calibrate SPEC`` (see ``docs/calibration.md``): a spec (:mod:`.spec`) names the
parameters and their priors, the targets file (:mod:`.targets`) the observed patterns with their
sources and roles, :mod:`.summaries` turns a parameter set into the targets' statistics, and
:mod:`.run` runs rejection ABC in stored batches (:mod:`.rejection`) or ABC-SMC with pyabc
(Schälte et al. 2022) and writes the posterior, its provenance and the posterior predictive
checks.
"""

from cisim.calibrate.run import (
    CalibrationError,
    CalibrationIncompleteError,
    CalibrationResult,
    calibrate,
    ship,
)
from cisim.calibrate.spec import CalibrationSpecError, LoadedSpec, load_calibration
from cisim.calibrate.targets import Target, TargetsError, load_targets

__all__ = [
    "CalibrationError",
    "CalibrationIncompleteError",
    "CalibrationResult",
    "CalibrationSpecError",
    "LoadedSpec",
    "Target",
    "TargetsError",
    "calibrate",
    "load_calibration",
    "load_targets",
    "ship",
]
