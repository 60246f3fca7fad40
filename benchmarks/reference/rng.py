"""Pure-Python port of the engine's counter-based generator (:func:`cisim.kernels.u01`).

SplitMix64 finalisation (Steele, Lea & Flood 2014) of a hash of (seed, step, index, stream), with
64-bit wrap-around made explicit by masking. Every draw is the same double the numba kernel
computes, so the reference model sees the engine's random numbers.
"""

from __future__ import annotations

import math

__all__ = ["normal", "u01"]

_M = 0xFFFFFFFFFFFFFFFF
_INV53 = 1.0 / 9007199254740992.0


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M
    return z ^ (z >> 31)


def u01(seed: int, step: int, index: int, stream: int) -> float:
    """Uniform draw in [0, 1) at the coordinates (seed, step, index, stream)."""
    z = _mix((seed + 0x9E3779B97F4A7C15 * (stream + 1)) & _M)
    z = _mix(z ^ ((step * 0xD1B54A32D192ED03) & _M))
    z = _mix(z ^ (index & _M))
    return (z >> 11) * _INV53


def normal(seed: int, step: int, index: int, stream: int) -> float:
    """Standard normal draw (Box-Muller on two counter draws, as ``cisim.kernels._normal``)."""
    a = u01(seed, step, index, stream)
    b = u01(seed, step, index, stream + 100)
    return math.sqrt(-2.0 * math.log(1.0 - a)) * math.cos(2.0 * math.pi * b)
