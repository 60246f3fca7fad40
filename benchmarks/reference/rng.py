"""The reference model's random numbers: the engine's generator in plain Python.

The reference draws every number at the same coordinates as the engine, from
:mod:`cisim.rng` (the plain-Python twin of the numba kernels' generator), so that the two
models can be compared step for step.
"""

from cisim.rng import normal, u01

__all__ = ["normal", "u01"]
