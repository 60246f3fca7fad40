"""The counter-based generator in plain Python and numpy, for draws outside the kernels.

SplitMix64 finalisation (Steele, Lea & Flood 2014) of a hash of (seed, step, index, stream),
with 64-bit wrap-around made explicit: every draw is a pure function of its coordinates, and the
same double the numba kernels compute (:mod:`cisim.kernels`; ``tests/test_reference.py`` checks
both). The partner-level mechanisms take a handful of draws a week, so they use these functions
and need no compiled code; the population kernel uses the compiled twins.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "bits",
    "key",
    "normal",
    "normal_at",
    "normal_keys",
    "normal_steps",
    "normals",
    "normals_at_steps",
    "step_key",
    "step_keys_of",
    "step_keys_table",
    "stream_base",
    "threshold",
    "u01",
    "u01_steps",
    "uniforms",
    "uniforms_at",
]

_M = 0xFFFFFFFFFFFFFFFF
_INV53 = 1.0 / 9007199254740992.0
_GOLDEN = 0x9E3779B97F4A7C15
_STEP = 0xD1B54A32D192ED03
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB


# the same constants as numpy scalars, made once (bits takes draws every meeting)
_U11, _U27, _U30, _U31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)
_UC1, _UC2 = np.uint64(_C1), np.uint64(_C2)


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * _C1) & _M
    z = ((z ^ (z >> 27)) * _C2) & _M
    return z ^ (z >> 31)


def key(seed: int, step: int, stream: int) -> int:
    """The part of a draw that does not depend on the index."""
    return step_key(stream_base(seed, stream), step)


@functools.lru_cache(maxsize=1024)
def stream_base(seed: int, stream: int) -> int:
    """The part of :func:`key` that depends only on the seed and the stream."""
    return _mix((int(seed) + _GOLDEN * (int(stream) + 1)) & _M)


def step_key(base: int, step: int) -> int:
    """:func:`key` from the stream's :func:`stream_base` and the step."""
    return _mix(base ^ ((int(step) * _STEP) & _M))


def step_keys_of(bases: tuple[int, ...], step: int) -> list[int]:
    """:func:`step_key` of each of ``bases`` at ``step`` (the step's part worked out once)."""
    s = (int(step) * _STEP) & _M
    return [_mix(base ^ s) for base in bases]


def step_keys_table(bases: tuple[int, ...], steps: int | Sequence[int]) -> np.ndarray:
    """:func:`step_keys_of` at each step, a row each: a run's keys made at once.

    ``steps`` is a number of steps (``0..steps-1``) or the steps themselves. numpy's uint64
    arithmetic wraps as the ``& _M`` of :func:`_mix` does, so the rows hold the same integers
    (one numpy pass instead of a Python mix per stream every week).
    """
    at = np.arange(steps, dtype=np.uint64) if isinstance(steps, int) else np.asarray(
        steps, dtype=np.uint64)
    return _mix_array(at[:, None] * np.uint64(_STEP) ^ np.array(bases, dtype=np.uint64))


def _mix_array(z: np.ndarray) -> np.ndarray:
    """:func:`_mix` of each element of a uint64 array ``z``, in place; returns ``z``.

    numpy's uint64 arithmetic wraps as the ``& _M`` of :func:`_mix` does.
    """
    z ^= z >> _U30
    z *= _UC1
    z ^= z >> _U27
    z *= _UC2
    z ^= z >> _U31
    return z


def u01(seed: int, step: int, index: int, stream: int) -> float:
    """Uniform draw in [0, 1) at the coordinates (seed, step, index, stream)."""
    return _u01_at(key(seed, step, stream), index)


def u01_steps(seed: int, steps: int, index: int, stream: int) -> list[float]:
    """:func:`u01` at steps ``0..steps-1`` (one index), as Python floats (the same doubles).

    For a draw taken every week: a run's draws made at once, in numpy, instead of two Python
    mixes a week. numpy's uint64 arithmetic wraps as the ``& _M`` of :func:`_mix` does, and a
    53-bit integer converts to a double exactly.
    """
    z = step_keys_table((stream_base(seed, stream),), steps)[:, 0]
    z ^= np.uint64(int(index) & _M)
    z = _mix_array(z) >> _U11
    return (z.astype(np.float64) * _INV53).tolist()


def _u01_at(stream_key: int, index: int) -> float:
    """The draw at ``index`` of the stream whose :func:`key` at the step is ``stream_key``."""
    return (_mix(stream_key ^ (int(index) & _M)) >> 11) * _INV53


def threshold(t: float) -> int:
    """The integer ``T`` such that a draw ``u < t`` exactly when the draw's 53-bit integer < T.

    A draw is ``u = m / 2^53`` for an integer ``m < 2^53``, so ``u < t`` exactly when
    ``m < ceil(t 2^53)`` (scaling by a power of two is exact). Lets a kernel compare integers,
    which vectorises, and decide as the float comparison does.
    """
    return math.ceil(min(max(float(t), -1.0), 2.0) * 9007199254740992.0)


def normal(seed: int, step: int, index: int, stream: int) -> float:
    """Standard normal draw (Box-Muller on the draws of ``stream`` and ``stream + 100``)."""
    return normal_at(normal_keys(seed, step, stream), index)


def normal_keys(seed: int, step: int, stream: int) -> tuple[int, int]:
    """The :func:`key` of each of the two streams a :func:`normal` at ``step`` draws from.

    Whoever draws several normals of a stream at one step (one per world) works them out once.
    """
    a, b = step_keys_of(_normal_bases(seed, stream), step)
    return a, b


def normal_steps(seed: int, steps: int, index: int, stream: int) -> list[float]:
    """:func:`normal` at steps ``0..steps-1`` (one index), as Python floats (the same doubles).

    For a draw taken every week: a run's draws at once (:func:`_normal_uniforms`) instead of
    four Python mixes a week.
    """
    a, b = _normal_uniforms(seed, steps, np.array([index]), stream)[:, :, 0].T.tolist()
    return [_box_muller(u, v) for u, v in zip(a, b, strict=True)]


def _normal_uniforms(seed: int, steps: int | Sequence[int], index: np.ndarray,
                     stream: int) -> np.ndarray:
    """The two uniform draws of :func:`normal` at each step and index: ``(steps, 2, index)``.

    Made in numpy (the same integers and doubles as :func:`u01`); the transform is left to
    :func:`_box_muller` in Python, as numpy's vectorised ``log`` and ``cos`` need not round
    as the C library's do.
    """
    keys = step_keys_table(_normal_bases(seed, stream), steps)
    z = _mix_array(keys[:, :, None] ^ np.asarray(index, dtype=np.uint64)) >> _U11
    return z.astype(np.float64) * _INV53


def _normal_bases(seed: int, stream: int) -> tuple[int, int]:
    """The bases of the two streams a normal of ``stream`` draws from: it and ``stream + 100``."""
    return stream_base(seed, stream), stream_base(seed, stream + 100)


def normal_at(keys: tuple[int, int], index: int) -> float:
    """:func:`normal` at ``index`` from its :func:`normal_keys` (the same double)."""
    return _box_muller(_u01_at(keys[0], index), _u01_at(keys[1], index))


def _box_muller(a: float, b: float) -> float:
    """The standard normal of two uniform draws in [0, 1) (Box-Muller, the cosine branch)."""
    return math.sqrt(-2.0 * math.log(1.0 - a)) * math.cos(2.0 * math.pi * b)


def bits(seed: int, step: int, index: np.ndarray, stream: int) -> np.ndarray:
    """The 53-bit integers ``m`` of the draws at ``index``: each draw is ``m / 2^53``.

    Compared with :func:`threshold`, they decide ``u < t`` without converting to floats.
    numpy's uint64 arithmetic wraps as the kernels' does.
    """
    z = np.asarray(index).astype(np.uint64)
    z ^= np.uint64(key(seed, step, stream))
    z = _mix_array(z)
    z >>= _U11
    return z


def uniforms_at(seed: int, step: int, index: np.ndarray, stream: int) -> np.ndarray:
    """The draws at the (non-negative integer) indices ``index``."""
    return bits(seed, step, index, stream).astype(np.float64) * _INV53


def uniforms(seed: int, step: int, n: int, stream: int) -> np.ndarray:
    """The draws at indices ``0..n-1``."""
    return uniforms_at(seed, step, _indices(n), stream)


@functools.lru_cache(maxsize=16)
def _indices(n: int) -> np.ndarray:
    """``np.arange(n, dtype=np.uint64)``, read-only and kept (the partners' draws each week)."""
    out = np.arange(n, dtype=np.uint64)
    out.flags.writeable = False
    return out


def normals(seed: int, step: int, n: int, stream: int) -> np.ndarray:
    """Standard normal draws at indices ``0..n-1`` (a few per call: one per strategy area)."""
    keys = normal_keys(seed, step, stream)  # the same for every index
    return np.array([normal_at(keys, i) for i in range(n)], dtype=float)


def normals_at_steps(seed: int, steps: Sequence[int], n: int, stream: int) -> list[list[float]]:
    """:func:`normals` at each of ``steps`` (a row each), as Python floats: a run's at once."""
    return [[_box_muller(a, b) for a, b in zip(ua, ub, strict=True)]
            for ua, ub in _normal_uniforms(seed, steps, _indices(n), stream).tolist()]


