"""The mechanisms of the model, one module per component of the refined model (2021).

Each mechanism is a small class with a ``component`` name (the key of its phase emphasis) and a
``step(model, world)`` method that reads and writes the arrays of one :class:`~cisim.world.World`
and uses of the run only what :class:`cisim.context.StepContext` lists. A rule's compiled or
vectorised part sits beside it (``_communication.py`` beside ``communication.py``).
They run in the order of :data:`DEFAULT_MECHANISMS`; a model can be built with a different list
to swap one out (for instance to test an alternative trust rule). The default list's week also
runs as one compiled call (:class:`CompiledWeek`, :mod:`cisim.mechanisms.week`), with the same
numbers.
"""

from cisim.mechanisms.activities import MutuallyReinforcingActivities
from cisim.mechanisms.agenda import CommonAgenda
from cisim.mechanisms.backbone import BackboneSupport
from cisim.mechanisms.base import Mechanism
from cisim.mechanisms.communication import Communication
from cisim.mechanisms.engagement import BeneficiaryEngagement
from cisim.mechanisms.investment import Investment
from cisim.mechanisms.measurement import SharedMeasurement
from cisim.mechanisms.systems_change import SystemsChange
from cisim.mechanisms.value import PartnerValue
from cisim.mechanisms.week import CompiledWeek

__all__ = [
    "DEFAULT_MECHANISMS",
    "BackboneSupport",
    "BeneficiaryEngagement",
    "CommonAgenda",
    "Communication",
    "CompiledWeek",
    "Investment",
    "Mechanism",
    "MutuallyReinforcingActivities",
    "PartnerValue",
    "SharedMeasurement",
    "SystemsChange",
]


def DEFAULT_MECHANISMS() -> list[Mechanism]:  # noqa: N802 - reads as a constant list
    """A fresh list of the default mechanisms, in the order they run each week."""
    return [
        Investment(),
        BackboneSupport(),
        Communication(),
        CommonAgenda(),
        BeneficiaryEngagement(),
        SharedMeasurement(),
        MutuallyReinforcingActivities(),
        SystemsChange(),
        PartnerValue(),
    ]
