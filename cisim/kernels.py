"""Shared plumbing of the compiled kernels: the random streams, the parameter rows, the compiler.

The kernels themselves live beside what they serve: the population kernel
(:func:`cisim._population.population_step`) beside :mod:`cisim.population`, the trust update of
meetings (:mod:`cisim.mechanisms._communication`) beside the communication mechanism, the
agenda moves (:mod:`cisim.mechanisms._agenda`) beside the common agenda, and the week of the
default mechanisms that calls them all (:mod:`cisim.mechanisms._week`) beside their list. This
module holds what they share: the compile switch :func:`_jit` (numba with a cache that never
fails at import), :func:`_inner` for helpers and :func:`_rule` for a week's rule inlined into
its caller, numpy's summation order (:func:`pairwise`, :func:`pairwise_long`), the stream
numbers of the counter-based generator and its compiled draws, and the column layout
:class:`WP` of the per-world parameter rows.

Randomness comes from a counter-based generator (SplitMix64 finalisation of a hash of seed,
step, index and stream; :mod:`cisim.rng` is its plain-Python twin, which the partner-level
mechanisms use), so every draw is a pure function of its coordinates: a run is a pure
function of (scenario, seed), the factual and the counterfactual world see the *same* numbers
(common random numbers), and the population kernel gives bit-identical results whatever the
number of threads, because it reduces over fixed-size chunks in a fixed order (Salmon, Moraes,
Dror & Shaw 2011, counter-based random numbers; Steele, Lea & Flood 2014, SplitMix).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import math
import os
import tempfile
from pathlib import Path

import llvmlite.binding
import numba
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.caching import CompileResultCacheImpl, FunctionCache
from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import Dispatcher
from numba.extending import intrinsic

from cisim.rng import _STEP, step_keys_of, step_keys_table, stream_base

__all__ = ["MAX_PAIRWISE", "WP", "pairwise", "pairwise_long", "run_step_keys", "step_keys"]

_CACHE = os.environ.get("CISIM_NUMBA_CACHE", "1") != "0"


def _private_cache_dir() -> str | None:
    """A cache directory under the temp directory, owned by this user and private, or None."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    path = Path(tempfile.gettempdir()) / f"cisim-numba-cache-{uid if uid is not None else 'user'}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.stat()
    except OSError:
        return None
    if uid is not None and (st.st_uid != uid or st.st_mode & 0o077):
        return None  # someone else's, or open to others: do not load cached code from it
    return str(path)


def _jit(opt: int | None = None, **options):
    """``numba.njit`` that caches the compiled kernel where it can and never fails at import.

    numba caches next to the source (``__pycache__``) or, when the package directory is
    read-only, in the user's cache directory (``~/.cache/numba``); ``NUMBA_CACHE_DIR`` overrides
    both. When none of these is writable numba raises at decoration time; the kernels are then
    cached in a private directory under the system temp directory, or, failing that, compiled
    in every process without a cache.

    A cache entry is valid only for the cisim sources it was compiled from: numba checks only
    the kernel's own file, but a kernel bakes in what it reads from other cisim modules at
    compile time (the ``F_*`` figure indices of :mod:`cisim._world`, the :class:`WP` columns
    and stream numbers here, :mod:`cisim.scenario`'s constants, and the :func:`_inner` and
    :func:`_rule` helpers compiled into it). A kernel's entry therefore also carries the
    digest of every ``cisim/**/*.py`` file (:func:`_package_digest`, taken once at import),
    so any change to any cisim source compiles the kernels afresh instead of loading code
    that still reads the old layout (:class:`_PackageCache`). Other packages' numba caches
    are untouched: only the kernels made here use this cache.

    Args:
        opt: LLVM's optimisation level for this function (and the helpers compiled into it),
            without the loop vectoriser; None keeps numba's (``NUMBA_OPT``, 3). See
            :func:`_at_opt_level`.
        **options: ``numba.njit``'s options.
    """
    opts = {"error_model": "numpy", **options}  # no ZeroDivisionError paths: none can occur

    def wrap(func):
        return _at_opt_level(_cached(func), opt)

    def _cached(func):
        dispatcher = njit(**opts)(func)
        if not (_CACHE and isinstance(dispatcher, Dispatcher) and _package_digest()):
            return dispatcher  # no cache, NUMBA_DISABLE_JIT, or sources we cannot digest
        try:
            # what njit(cache=True) does (Dispatcher.enable_caching), with our cache class
            dispatcher._cache = _PackageCache(func)
        except RuntimeError:  # numba found no writable cache location
            if not numba.config.CACHE_DIR:
                fallback = _private_cache_dir()
                if fallback is not None:
                    numba.config.CACHE_DIR = fallback
                    with contextlib.suppress(RuntimeError):  # then no cache at all
                        dispatcher._cache = _PackageCache(func)
        return dispatcher

    return wrap


@functools.cache
def _package_digest() -> str | None:
    """SHA-256 of every ``cisim/**/*.py`` file (relative path and bytes), or None.

    Taken once per process, when the first kernel is decorated (at import; ~40 files, a few
    milliseconds), never while a model runs. None when the package is not a directory of
    files (e.g. imported from a zip): its kernels are then compiled without a cache rather
    than cached against sources we cannot check.
    """
    root = Path(__file__).resolve().parent
    if not root.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        name, data = path.relative_to(root).as_posix().encode(), path.read_bytes()
        for part in (name, data):  # length-prefixed: no two file sets hash alike by splicing
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
    return digest.hexdigest()


class _PackageStampedLocator:
    """numba's cache locator of a kernel, its source stamp extended by the package digest.

    Wraps whichever locator numba chose (in-tree ``__pycache__``, the user-wide cache,
    ``NUMBA_CACHE_DIR``/``numba.config.CACHE_DIR``, or one named by
    ``NUMBA_CACHE_LOCATOR_CLASSES``), so the cache lives where it did; only the stamp numba
    stores in the index and compares on load changes. An index written under another stamp
    (other sources, or by numba's own locator) reads as empty: the kernel compiles and
    overwrites it.
    """

    def __init__(self, locator):
        self._locator = locator

    def __getattr__(self, name):
        return getattr(self._locator, name)

    def get_source_stamp(self):
        return self._locator.get_source_stamp(), _package_digest()


class _PackageCacheImpl(CompileResultCacheImpl):
    """numba's cache of compile results, with the locator stamped by the package digest."""

    def __init__(self, py_func):
        super().__init__(py_func)  # picks the locator; raises RuntimeError if none fits
        self._locator = _PackageStampedLocator(self._locator)


class _PackageCache(FunctionCache):
    """numba's on-disk cache of a dispatcher, valid only for unchanged cisim sources."""

    _impl_class = _PackageCacheImpl


def _at_opt_level(dispatcher, opt: int | None):
    """Compile ``dispatcher`` with LLVM at optimisation level ``opt``, loop vectoriser off.

    For the partner-level kernels: their loops run over a few dozen partners, where numba's
    level 3 and the loop vectoriser make no measurable difference to a call (a few
    microseconds, most of it the dispatcher's) but add about a sixth to the first compile
    (benchmarks/README.md). No level changes a result: without ``fastmath`` LLVM keeps every
    floating-point operation and its order. numba reads its optimisation settings from
    ``numba.config`` while it compiles, so they are set around the compile, under numba's
    compiler lock; a cache hit compiles nothing and is unaffected.

    Every kernel (``opt`` None too) compiles with Python's cyclic garbage collector paused:
    numba's compiler allocates millions of short-lived objects, and the collections they
    trigger (each walking every object the process holds) took a fifth of the first compile
    (CPU of the first tiny run, fresh cache: ~7.7-9.3 s -> ~6.7-7.4 s). The collector runs
    again after the compile, as before it; no value changes. The pause is process-wide: other
    threads (a notebook's, the app's) run without cyclic collection while a kernel compiles,
    and a thread that turns the collector on or off meanwhile may see its setting undone.
    """
    if not isinstance(dispatcher, Dispatcher):
        return dispatcher  # NUMBA_DISABLE_JIT: a plain Python function
    compile_at_numba_level = dispatcher.compile

    def compile(sig):
        with global_compiler_lock:
            saved = numba.config.OPT, numba.config.LOOP_VECTORIZE
            if opt is not None:
                numba.config.OPT, numba.config.LOOP_VECTORIZE = opt, False
            collecting = gc.isenabled()  # (already paused if this compile is inside another)
            gc.disable()
            try:
                return compile_at_numba_level(sig)
            finally:
                numba.config.OPT, numba.config.LOOP_VECTORIZE = saved
                if collecting:
                    gc.enable()

    dispatcher.compile = compile
    return dispatcher


def _inner(func):
    """A helper compiled only into the kernels that call it.

    Without a Python or C-callback wrapper and without a cache entry of its own (the caller's
    cache entry holds it), it costs LLVM no optimisation and code generation of its own; it
    can be called only from compiled code (or from Python when ``NUMBA_DISABLE_JIT=1``).
    """
    return njit(error_model="numpy", no_cpython_wrapper=True, no_cfunc_wrapper=True)(func)


def _rule(func):
    """A week's rule: an :func:`_inner` that numba inlines into its caller (in numba's IR).

    For a small rule that compiled code calls (the compiled week, a mechanism's entry) and
    Python runs as its ``py_func``: compiled as a function of its own, it is typed, optimised
    and generated once alone and then again inside its caller, measured as ~0.1-0.25 s more
    first compile per rule (the books' first call ~0.45 -> ~0.36 s, the record's ~0.8 -> ~0.55
    s, fresh cache, numba's start-up paid). Inlined, it is compiled once, in its caller. A
    large rule is better compiled as its own entry: numba's IR inliner made the activities'
    week ~0.5 s dearer (1.6 -> 2.1 s), and the whole week inlined took ~18 s. No number
    changes: inlining keeps every operation and its order.
    """
    return njit(error_model="numpy", no_cpython_wrapper=True, no_cfunc_wrapper=True,
                inline="always")(func)


if numba.config.DISABLE_JIT:

    def prefetch(arr: np.ndarray, index: int) -> None:
        """Without the JIT there is nothing to prefetch."""

else:

    @intrinsic
    def prefetch(typingctx, arr, index):
        """Ask the CPU to bring element ``index`` (flat, C order) of ``arr`` into its caches.

        A hint only (LLVM's ``llvm.prefetch``): it changes no value. The population kernel asks
        for the state of the person ``PREFETCH_AHEAD`` places ahead, so that it has arrived
        by the time that person is worked on.
        """
        if not (isinstance(arr, types.Array) and arr.layout == "C"
                and isinstance(index, types.Integer)):
            return None
        pointer = "p0" if llvmlite.binding.llvm_version_info >= (15,) else "p0i8"

        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            offset = context.cast(builder, args[1], signature.args[1], types.intp)
            i8p = ir.IntType(8).as_pointer()
            address = builder.bitcast(builder.gep(ary.data, [offset]), i8p)
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = builder.module.declare_intrinsic(f"llvm.prefetch.{pointer}", fnty=fnty)
            # read, high temporal locality, data cache
            builder.call(fn, [address, ir.Constant(i32, 0), ir.Constant(i32, 3),
                              ir.Constant(i32, 1)])
            return context.get_dummy_value()

        return types.void(arr, index), codegen


# Streams of the counter-based generator.
S_TURNOVER, S_SUBGROUP, S_ENTRANT, S_TRANSITION, S_NEED = 0, 1, 2, 3, 4
S_PAIR, S_QUALITY, S_ATTEND, S_POLICY, S_NOISE, S_RENEW = 10, 11, 12, 13, 14, 15
S_PERCEIVED = 20  # + world index: noise in the needs partners perceive when re-planning
S_EXIT = 30  # partners' exit draws (index: partner)


# The streams of the population kernel, in the order of step_keys.
_POPULATION_STREAMS = (S_TURNOVER, S_TRANSITION, S_SUBGROUP, S_ENTRANT, S_NEED, S_NEED + 100)
K_TURNOVER, K_TRANSITION, K_SUBGROUP, K_ENTRANT, K_NEED_A, K_NEED_B = range(6)


def step_keys(seed: int, step: int) -> np.ndarray:
    """The keys of the population kernel's streams at ``step`` (:func:`cisim.rng.key`)."""
    return np.array(step_keys_of(_stream_bases(int(seed)), step), dtype=np.uint64)


def run_step_keys(seed: int, steps: int) -> np.ndarray:
    """``step_keys(seed, s)`` for ``s`` in ``0..steps-1``, a row each (a run's, made at once)."""
    return step_keys_table(_stream_bases(int(seed)), steps)


@functools.lru_cache(maxsize=16)
def _stream_bases(seed: int) -> tuple[int, ...]:
    """The step-independent parts of :func:`step_keys` (a run asks for them every week)."""
    return tuple(stream_base(seed, s) for s in _POPULATION_STREAMS)


# Columns of the per-world parameter rows passed to :func:`population_step`.
W_CAP_NORM = 0  # service-years per unit of targeting weight (capacity / weight sum)
W_FIT = 1  # fit of services to real needs, 0-1
W_EFFECT = 2  # effectiveness multiplier from changed practices and services
W_BARRIER = 3  # barrier multiplier from changed policy (1 = no change)
W_TAKEUP = 4  # population engagement level E, 0-1
W_EQUITY = 5  # equity focus, 0-1
W_EFFICACY = 6  # share of a barrier a full, fitting, covered year of service removes
W_TREND = 7  # secular-trend multiplier on the entry hazard (the same in both worlds)
W_SBARRIER = 8  # structural-barrier multiplier from policy directed by an equity focus



class WP:
    """Column indices of the per-world parameter rows (for Python callers)."""

    CAP_NORM = W_CAP_NORM
    FIT = W_FIT
    EFFECT = W_EFFECT
    BARRIER = W_BARRIER
    TAKEUP = W_TAKEUP
    EQUITY = W_EQUITY
    EFFICACY = W_EFFICACY
    TREND = W_TREND
    SBARRIER = W_SBARRIER
    N = 9


@_inner
def _mix(z: np.uint64) -> np.uint64:
    """SplitMix64's finaliser (as :func:`cisim.rng._mix`, wrapping in 64 bits)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


#: The step factor of the generator's keys (:func:`cisim.rng.step_key`), as compiled code
#: multiplies (uint64 wraps as the ``& 2**64 - 1`` there).
_STEP_FACTOR = np.uint64(_STEP)


@_inner
def _step_key(base: np.uint64, step: np.int64) -> np.uint64:
    """:func:`cisim.rng.step_key` compiled: the key at ``step`` of the stream based ``base``.

    ``base`` is the stream's :func:`cisim.rng.stream_base`.
    """
    return _mix(base ^ (np.uint64(step) * _STEP_FACTOR))


@_inner
def _u01k(key: np.uint64, index: np.int64) -> float:
    """:func:`cisim.rng.u01` at ``index`` given ``key = cisim.rng.key(seed, step, stream)``."""
    z = _mix(key ^ np.uint64(index))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@_inner
def _normalk(key_a: np.uint64, key_b: np.uint64, index: np.int64) -> float:
    """:func:`cisim.rng.normal` at ``index`` given the keys of its stream and stream + 100."""
    a = _u01k(key_a, index)
    b = _u01k(key_b, index)
    return math.sqrt(-2.0 * math.log(1.0 - a)) * math.cos(2.0 * math.pi * b)




#: The most elements :func:`pairwise` adds in numpy's order (numpy's pairwise summation splits
#: longer runs recursively); the compiled partner-level weeks run only up to this many partners.
MAX_PAIRWISE = 128


@_inner
def pairwise(a: np.ndarray, n: int) -> float:
    """``np.add.reduce(a[:n])`` for a contiguous ``a`` and ``n <= 128``, bit for bit.

    numpy's pairwise summation: below eight elements left to right from zero; otherwise eight
    running sums over blocks of eight, combined as ``((s0 + s1) + (s2 + s3)) + ((s4 + s5) +
    (s6 + s7))``, then the remaining elements left to right (:func:`cisim.numeric.pairwise_sum`
    runs it as Python over a list).
    """
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    tail = n - n % 8
    for j in range(0, tail, 8):
        s0 += a[j]
        s1 += a[j + 1]
        s2 += a[j + 2]
        s3 += a[j + 3]
        s4 += a[j + 4]
        s5 += a[j + 5]
        s6 += a[j + 6]
        s7 += a[j + 7]
    s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    for j in range(tail, n):
        s += a[j]
    return s


@_inner
def pairwise_long(a: np.ndarray, n: int) -> float:
    """``np.add.reduce(a[:n])`` for a contiguous 1-D ``a`` of any length, bit for bit.

    numpy's pairwise summation above :data:`MAX_PAIRWISE` elements: the first half (rounded
    down to a multiple of eight) and the rest, each summed so, then added; :func:`pairwise`
    at the leaves. numpy sums a whole C-contiguous matrix (``axis=None``) the same way over
    its elements in order (``tests/test_week_kernel.py`` holds both to numpy).
    """
    if n <= MAX_PAIRWISE:
        return pairwise(a, n)
    half = n // 2
    half -= half % 8
    return pairwise_long(a, half) + pairwise_long(a[half:], n - half)
