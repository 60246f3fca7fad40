"""Running a sweep: runs bundled into ~1 s tasks, executed by joblib on loky or Dask.

The runs of a sweep are every (design point, replication) pair in point order. Pending runs
(those not already in the store) are cut into tasks of about ``execution.task_seconds`` each —
the first pending run is timed in this process to size them — so scheduling overhead stays
small on a laptop and on a cluster alike. Tasks go to joblib (``loky`` processes locally, or
``dask`` through ``dask.distributed``: a ``Client`` on the given scheduler address, or a
``LocalCluster`` when none is given; SLURM/PBS through dask-jobqueue, see ``docs/sweeps.md``).
As each task finishes, this process writes its rows as one Parquet part (see
:mod:`cisim.sweep.store`), so memory holds only the tasks in flight.

Workers started by the ``loky`` backend watch this process and exit within about a second when
it dies, however it dies (SIGKILL included; :mod:`cisim.workers`); a SIGTERM or Ctrl-C stops
them with it. A Dask scheduler that cannot be reached within :data:`SCHEDULER_TIMEOUT` seconds is
reported as a :class:`SchedulerError`.

Each run's seed comes from its (point, replication) (:func:`cisim.sweep.samplers.run_seed`) and is
stored in the sample, so the results are the same whatever the backend, the worker count, the
task size or the completion order. joblib (joblib.readthedocs.io), Dask (Rocklin 2015).
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from cisim.progress import Progress, tqdm_progress
from cisim.scenario import Scenario
from cisim.sweep.model_function import CisimModel, ModelFunction, flatten_outputs
from cisim.sweep.samplers import build_sample, run_table
from cisim.sweep.spec import (
    Execution,
    Outcomes,
    Parameter,
    Sampler,
    SweepSpec,
    SweepSpecError,
    check_size,
    check_spec,
    load_spec,
    resolve_function,
)
from cisim.sweep.store import RUN_COLUMNS, ResultStore, StoreError
from cisim.workers import watched_workers

__all__ = ["Progress", "SchedulerError", "run_sweep", "sweep_function", "tqdm_progress"]

Backend = Literal["loky", "dask"]

#: Longest error message kept per failed run.
MAX_ERROR = 500

#: Seconds to wait for a Dask scheduler to answer.
SCHEDULER_TIMEOUT = 10.0


class SchedulerError(RuntimeError):
    """The Dask scheduler cannot be reached or the address is malformed."""


# --------------------------------------------------------------------------------------------
# Tasks (run in workers)
# --------------------------------------------------------------------------------------------


def run_task(model: ModelFunction,
             runs: Sequence[tuple[int, int, int, dict[str, Any]]]) -> pd.DataFrame:
    """Run a bundle of (point, replication, seed, params) and return one row per run.

    A run that raises is kept with its error message and no outcomes; it is counted and
    reported by the analysis, never silently dropped.

    Args:
        model: The model function.
        runs: The runs of the task.
    """
    rows = []
    for point, rep, seed, params in runs:
        row: dict[str, Any] = {"point": int(point), "replication": int(rep), "seed": int(seed),
                               "error": ""}
        try:
            row.update(flatten_outputs(model(dict(params), int(seed))))
        except Exception as err:
            row["error"] = f"{type(err).__name__}: {err}"[:MAX_ERROR]
        rows.append(row)
    frame = pd.DataFrame(rows)
    for c in frame.columns:
        if c not in RUN_COLUMNS:
            frame[c] = frame[c].astype("float64")
    for c in ("point", "replication", "seed"):
        frame[c] = frame[c].astype("int64")
    return frame


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def run_sweep(
    spec: SweepSpec | str | Path,
    store: str | Path | None = None,
    *,
    resume: bool = False,
    jobs: int = 1,
    backend: Backend = "loky",
    scheduler: str | None = None,
    client: Any = None,
    progress: Progress | bool | None = None,
    runs_per_task: int | None = None,
    model: ModelFunction | None = None,
    allow_large: bool = False,
) -> ResultStore:
    """Run (or resume) a sweep and stream its results into a Parquet store.

    Args:
        spec: A spec file path or a validated :class:`SweepSpec`.
        store: The store directory (default: ``out/sweeps/<spec name>``).
        resume: Continue an existing store; without it an existing store is an error.
        jobs: Parallel workers (loky processes, or LocalCluster workers); -1 for all cores.
        backend: ``"loky"`` (local processes) or ``"dask"`` (dask.distributed).
        scheduler: Dask scheduler address (``tcp://host:8786``); a LocalCluster when None.
        client: An existing ``dask.distributed.Client`` to use (overrides ``scheduler``).
        progress: ``progress(done, total)`` after each task, or True for a tqdm bar on stderr.
        runs_per_task: Fixed task size (overrides the spec's execution settings).
        model: The model function (required for a spec built in Python for a function that
            cannot be imported by name; otherwise built from the spec, which imports a spec's
            ``function``: trusted input).
        allow_large: Run a new sweep of more than :data:`cisim.sweep.spec.MAX_RUNS` runs
            (without it such a sweep is refused before anything is sampled).

    Returns:
        The store, complete.

    Raises:
        SweepSpecError: An invalid spec, a model function that cannot be imported, or a
            large sweep without ``allow_large``.
        StoreError: An existing store without ``resume``, a store from another spec, or a
            store being written by another process.
        SchedulerError: The Dask scheduler cannot be reached.
    """
    source = str(spec) if isinstance(spec, str | Path) else "<spec>"
    if isinstance(spec, str | Path):
        spec, base = load_spec(spec)
    else:
        base = check_spec(spec) if model is None or spec.base is not None else None
    store_obj = ResultStore(store if store is not None else Path("out") / "sweeps" / spec.name)
    if not store_obj.exists():  # a new sweep: refuse a huge one before sampling it
        check_size(spec, base, allow_large=allow_large, source=source)
    if model is None:
        model = make_model(spec, base, source=source)
    base_toml = base.to_toml() if base is not None else None
    if backend == "dask" and scheduler and client is None:
        _check_reachable(scheduler)  # before the store is made
    try:
        _prepare_store(store_obj, spec, base, base_toml, resume)
        with _progress_context(progress) as callback:
            _execute(spec, model, store_obj, jobs=jobs, backend=backend, scheduler=scheduler,
                     client=client, progress=callback, runs_per_task=runs_per_task)
    finally:
        store_obj.unlock()
    return store_obj


def sweep_function(
    f: ModelFunction,
    space: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[float]],
    store: str | Path,
    *,
    sampler: str = "sobol",
    n: int = 64,
    replications: int = 1,
    seed: int = 0,
    resume: bool = False,
    name: str = "function_sweep",
    sampler_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> ResultStore:
    """Sweep any model function ``f(params: dict, seed: int) -> dict`` with the same machinery.

    Args:
        f: The model. For process-based workers it must be importable (a module-level function).
        space: ``{"x1": [low, high], ...}`` or a list of parameter tables as in a spec
            (``{"path": "x1", "bounds": [...], "distribution": ..., "values": [...]}``).
        store: The store directory.
        sampler: sobol, morris, fast, rbd_fast, latin or factorial.
        n: Base sample size.
        replications: Runs per design point (independent seeds).
        seed: Master seed.
        resume: Continue an existing store.
        name: The sweep's name.
        sampler_options: Other sampler settings (``calc_second_order``, ``num_levels``, ...).
        **kwargs: Passed to :func:`run_sweep` (``jobs``, ``backend``, ``progress``, ...).

    Returns:
        The complete store.
    """
    if isinstance(space, Mapping):
        params = [Parameter(path=k, bounds=list(v)) for k, v in space.items()]
    else:
        params = [Parameter.model_validate(dict(p)) for p in space]
    ref = f"{getattr(f, '__module__', '?')}:{getattr(f, '__qualname__', type(f).__name__)}"
    spec = SweepSpec(
        name=name,
        function=ref,
        seed=seed,
        replications=replications,
        parameters=params,
        sampler=Sampler.model_validate({"method": sampler, "n": n, **(sampler_options or {})}),
        outcomes=Outcomes(scalars=[], trajectories=[]),
        execution=Execution(),
    )
    return run_sweep(spec, store, resume=resume, model=f, **kwargs)


def make_model(spec: SweepSpec, base: Scenario | None, source: str = "<spec>"
               ) -> ModelFunction:
    """The model function of a spec: the cisim adapter or the named function.

    Importing the named function runs its module's code (a spec is trusted input).

    Raises:
        SweepSpecError: The function cannot be imported or is not a model function.
    """
    if spec.function is not None:
        try:
            return resolve_function(spec.function, spec.function_path)
        except ValueError as err:
            raise SweepSpecError(source, [("function", str(err))]) from None
    assert base is not None
    return CisimModel(
        base,
        {p.label: p.path for p in spec.parameters},
        spec.outcomes.scalars,
        spec.outcomes.trajectories,
    )


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


def _prepare_store(store: ResultStore, spec: SweepSpec, base: Scenario | None,
                   base_toml: str | None, resume: bool) -> None:
    if store.exists():
        if not resume:
            raise StoreError(
                f"{store.path} already holds a sweep; resume it with --resume or choose "
                "another --out"
            )
        stored = store.spec()
        if stored.to_dict() != spec.to_dict():
            diff = sorted(k for k in set(stored.to_dict()) | set(spec.to_dict())
                          if stored.to_dict().get(k) != spec.to_dict().get(k))
            raise StoreError(
                f"{store.path} was made from a different spec (fields differ: "
                f"{', '.join(diff)}); resuming would mix results"
            )
        if (store.base_toml() or None) != (base_toml or None):
            raise StoreError(
                f"{store.path}: the base scenario changed since the sweep started; resuming "
                "would mix results"
            )
        store.lock()
        store.set_aside = store.repair()
        return
    store.lock()
    sample = build_sample(spec, base)
    runs = run_table(sample, spec).merge(sample, on="point", how="left")
    store.create(spec, runs, base_toml)


def _execute(
    spec: SweepSpec,
    model: ModelFunction,
    store: ResultStore,
    *,
    jobs: int,
    backend: Backend,
    scheduler: str | None,
    client: Any,
    progress: Progress | None,
    runs_per_task: int | None,
) -> None:
    if backend not in ("loky", "dask"):
        raise ValueError(f"unknown backend {backend!r}; use 'loky' or 'dask'")
    sample = store.sample()
    labels = spec.labels
    done = store.done()
    total = len(sample)
    pending_idx = [i for i, (p, r) in enumerate(zip(sample["point"], sample["replication"],
                                                    strict=True)) if (p, r) not in done]
    n_done = total - len(pending_idx)
    if progress:
        progress(n_done, total)
    if not pending_idx:
        return
    points = sample["point"].to_numpy()
    reps = sample["replication"].to_numpy()
    seeds = sample["seed"].to_numpy()
    values = {lab: sample[lab].tolist() for lab in labels}

    def run_of(i: int) -> tuple[int, int, int, dict[str, Any]]:
        return (int(points[i]), int(reps[i]), int(seeds[i]),
                {lab: values[lab][i] for lab in labels})

    k = runs_per_task or spec.execution.runs_per_task
    if k is None:
        # time the first pending runs here (each its own task); the second is warm
        timings = []
        while pending_idx and len(timings) < 2:
            t0 = time.perf_counter()
            frame = run_task(model, [run_of(pending_idx[0])])
            timings.append(max(time.perf_counter() - t0, 1e-6))
            store.write_part(frame)
            n_done += 1
            if progress:
                progress(n_done, total)
            pending_idx = pending_idx[1:]
        k = max(1, min(100_000, math.floor(spec.execution.task_seconds / min(timings))))
        if not pending_idx:
            return
    tasks = (
        [run_of(i) for i in pending_idx[s: s + k]] for s in range(0, len(pending_idx), k)
    )
    for frame in _map(model, tasks, jobs=jobs, backend=backend, scheduler=scheduler,
                      client=client, n_tasks=math.ceil(len(pending_idx) / k)):
        store.write_part(frame)
        n_done += len(frame)
        if progress:
            progress(n_done, total)


def _map(model: ModelFunction, tasks: Iterator[list[Any]], *, jobs: int, backend: Backend,
         scheduler: str | None, client: Any, n_tasks: int) -> Iterator[pd.DataFrame]:
    """Run tasks and yield their frames as they finish (any order)."""
    if backend == "loky" and (jobs == 1 or n_tasks <= 1):
        for runs in tasks:
            yield run_task(model, runs)
        return
    from joblib import Parallel, delayed, parallel_config

    if isinstance(model, CisimModel) and model.numba_threads is None:
        # parallel across runs: one kernel thread per run (same results, no oversubscription)
        model = CisimModel(model.base, model.paths, model.scalars, model.trajectories,
                           numba_threads=1)

    if backend == "loky":
        with parallel_config(backend="loky", n_jobs=jobs, **watched_workers()):
            runner = Parallel(return_as="generator_unordered")
            yield from runner(delayed(run_task)(model, runs) for runs in tasks)
        return
    with (_dask_client(jobs, scheduler, client) as dask_client,
          parallel_config(backend="dask", client=dask_client)):
        runner = Parallel(n_jobs=-1, return_as="generator_unordered")
        yield from runner(delayed(run_task)(model, runs) for runs in tasks)


@contextmanager
def _dask_client(jobs: int, scheduler: str | None, client: Any) -> Iterator[Any]:
    if client is not None:
        yield client
        return
    from dask.distributed import Client, LocalCluster

    if scheduler:
        _check_reachable(scheduler)
        try:
            c = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except (OSError, ValueError, TimeoutError) as err:
            raise SchedulerError(f"--scheduler {scheduler}: {err}") from None
        with c:
            yield c
        return
    n = None if jobs in (-1, 0) else max(1, jobs)
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def _check_reachable(address: str) -> None:
    """Fail fast, with the address, when a ``tcp://`` scheduler does not accept connections."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme != "tcp":
        return  # tls, ws, ucx ...: left to dask.distributed
    host, colon, port_text = rest.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port_text.isdigit():
        raise SchedulerError(f"--scheduler {address}: expected tcp://HOST:PORT, e.g. "
                             "tcp://10.0.0.5:8786")
    try:
        with socket.create_connection((host, int(port_text)), timeout=SCHEDULER_TIMEOUT):
            pass
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise SchedulerError(f"--scheduler {address}: cannot connect ({reason}); is the Dask "
                             "scheduler running and reachable from here?") from None


@contextmanager
def _progress_context(progress: Progress | bool | None) -> Iterator[Progress | None]:
    if progress is True:
        with tqdm_progress("sweep") as cb:
            yield cb
    elif callable(progress):
        yield progress
    else:
        yield None


def expected_columns(spec: SweepSpec, base: Scenario | None) -> list[str]:
    """Outcome columns a cisim sweep produces (empty for a function sweep)."""
    if spec.function is not None or base is None:
        return []
    return CisimModel(base, {}, spec.outcomes.scalars, spec.outcomes.trajectories).columns()
