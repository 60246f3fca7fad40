"""Compiled rule of :mod:`cisim.mechanisms.activities`: the plan's proportional fitting.

:func:`plan_sweeps` is the loop of :func:`cisim.mechanisms.activities.plan_allocation` with the
same operations in the same order, so the same doubles: a column sum over partners is added row
by row from zero, as numpy reduces the outer axis of a C-ordered array, and a row sum over fewer
than eight areas is added left to right from zero, as numpy's pairwise summation does below
eight elements (with eight or more areas the plan stays in numpy). Written as flat loops, without
helper calls, slicing or allocation: each of these adds to numba's first compile, which the
start-up goal bounds (benchmarks/README.md).
"""

from __future__ import annotations

import numpy as np

from cisim.kernels import _jit

#: The compiled plan adds a row in numpy's order only below this many areas.
MAX_AREAS = 8


@_jit(no_cfunc_wrapper=True)
def plan_sweeps(x: np.ndarray, cap: np.ndarray, target: np.ndarray, sweeps: int,
                factor: np.ndarray) -> None:
    """Iterative proportional fitting of ``x`` (N, A) in place (A < :data:`MAX_AREAS`).

    Each sweep scales column ``a`` by ``target[a] / sum_i cap[i] x[i, a]`` (by 1 where that
    sum is not positive; a sum below 1e-300 counts as 1e-300) and then each row to sum to one.
    ``factor`` is scratch of A doubles.
    """
    N, A = x.shape
    for _ in range(sweeps):
        for a in range(A):
            col = 0.0
            for i in range(N):
                col += cap[i] * x[i, a]
            # np.where(col > 0, target / np.maximum(col, 1e-300), 1.0): the same numbers as
            # target / col whenever every column is at least 1e-300
            if col > 0:
                factor[a] = target[a] / (col if col > 1e-300 else 1e-300)
            else:
                factor[a] = 1.0
        for i in range(N):
            row = 0.0
            for a in range(A):
                x[i, a] *= factor[a]
                row += x[i, a]
            for a in range(A):
                x[i, a] = x[i, a] / row
