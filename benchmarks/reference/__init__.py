"""Plain-Mesa reference implementation of cisim's per-step mechanics (see :mod:`.model`)."""

from benchmarks.reference.model import (
    RecordingModel,
    ReferenceBeneficiary,
    ReferenceModel,
    ReferencePartner,
    StepInputs,
    capture_inputs,
)
from benchmarks.reference.rng import normal, u01

__all__ = [
    "RecordingModel",
    "ReferenceBeneficiary",
    "ReferenceModel",
    "ReferencePartner",
    "StepInputs",
    "capture_inputs",
    "normal",
    "u01",
]
