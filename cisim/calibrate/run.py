"""Running a calibration: rejection ABC or ABC-SMC with pyabc, on the sweep machinery's backends.

Approximate Bayesian computation by sequential Monte Carlo (Toni et al. 2009, J R Soc Interface
6; Beaumont, Zhang & Balding 2002, Genetics 162) draws parameter sets from the prior, simulates
each, keeps those whose statistics come within a tolerance of the observed targets, and
tightens the tolerance generation by generation; the last generation is a weighted sample of
parameter *sets* from the approximate posterior, which forecasts resample jointly. pyabc
(Schälte et al. 2022, Journal of Open Source Software 7(74)) runs it: the default adaptive
(median) epsilon schedule, a multivariate normal perturbation kernel, and a history database
(SQLite) in the output directory after every generation, so ``--resume`` continues a killed run
from its last finished generation (``ABCSMC.load``). One fixed tolerance (``epsilons = [e]``)
is rejection ABC (Beaumont, Zhang & Balding 2002): prior draws kept within ``e``, equally
weighted, which stays sound where SMC's importance weights collapse (many parameters, few
particles). It runs for hours as one generation, so it does not run in pyabc (which keeps a
generation in memory until it ends) but in stored batches (:mod:`cisim.calibrate.rejection`):
a killed run resumes from its last finished batch, and the posterior is the same on every
backend.

ABC-SMC's backends: ``serial`` (pyabc's SingleCoreSampler; reproducible for a seed),
``loky`` (pyabc's ConcurrentFutureSampler on joblib's reusable loky process pool, whose workers
exit when this process dies: :func:`cisim.workers.watched_workers`) and ``dask`` (pyabc's
DaskDistributedSampler on a ``dask.distributed.Client``). Rejection ABC's batches and the posterior
predictive checks run on :mod:`cisim.sweep.execute`'s task runner.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from cisim.calibrate.rejection import (
    BATCH_DIR,
    RejectionOutcome,
    StoredBatchError,
    run_rejection,
)
from cisim.calibrate.spec import LoadedSpec, sha256
from cisim.calibrate.summaries import ParticleModel
from cisim.calibrate.targets import IntervalDistance, Target
from cisim.io import write_atomic, write_text_atomic
from cisim.priors import POSTERIOR_FILE, POSTERIOR_PROVENANCE, ParameterEvidence
from cisim.sweep.spec import resolve_function

__all__ = [
    "CalibrationError",
    "CalibrationIncompleteError",
    "CalibrationResult",
    "IntervalDistance",
    "calibrate",
    "pyabc_prior",
    "ship",
    "to_natural",
]

STATE_FILE = "calibration.json"
HISTORY_FILE = "history.db"
logger = logging.getLogger(__name__)


class CalibrationError(Exception):
    """A calibration cannot start or continue (the message says why and what to do)."""


class CalibrationIncompleteError(CalibrationError):
    """Rejection ABC stopped at its wall-time limit before keeping every set; --resume goes on."""


# --------------------------------------------------------------------------------------------
# The pieces pyabc needs
# --------------------------------------------------------------------------------------------


def pyabc_prior(priors: Sequence[ParameterEvidence], space: str = "natural") -> Any:
    """The calibrated parameters' priors as a ``pyabc.Distribution`` of ``scipy.stats`` RVs.

    In the ``"logit"`` space each parameter is its prior quantile on the logit scale,
    ``z = log(F(x) / (1 - F(x)))``, whose prior is the standard logistic whatever ``F`` is
    (:func:`to_natural` maps it back).
    """
    import pyabc

    if space == "logit":
        return pyabc.Distribution(**{p.path: pyabc.RV("logistic", 0.0, 1.0) for p in priors})
    rvs = {}
    for p in priors:
        frozen = p.scipy()  # the one translation of a prior into scipy.stats
        rvs[p.path] = pyabc.RV(frozen.dist.name, *frozen.args, **frozen.kwds)
    return pyabc.Distribution(**rvs)


def to_natural(priors: Sequence[ParameterEvidence], values: Mapping[str, Any],
               space: str = "natural") -> dict[str, float]:
    """Parameter values in their own units from values in the calibration's ``space``.

    ``"natural"`` leaves them as they are; ``"logit"`` takes each ``z`` to its prior's quantile
    at ``1 / (1 + exp(-z))`` (:meth:`cisim.priors.ParameterEvidence.ppf`), so that a standard
    logistic ``z`` gives exactly the prior.
    """
    if space == "natural":
        return {k: float(v) for k, v in values.items()}
    out = {}
    for p in priors:
        out[p.path] = float(p.ppf(special.expit(float(values[p.path]))))
    return out


class PyabcModel:
    """pyabc's model: one particle's statistics, its run seeds drawn from numpy's global state.

    pyabc seeds numpy's global generator (once per run on the serial backend, per job on the
    parallel ones), so the seed of a particle's runs is drawn from it here. pyabc's values are
    in the calibration's ``space``; the model gets them in their own units (:func:`to_natural`).
    """

    def __init__(self, model: ParticleModel, priors: Sequence[ParameterEvidence] = (),
                 space: str = "natural"):
        self.model = model
        self.priors = list(priors)
        self.space = space

    def __call__(self, par: Mapping[str, Any]) -> dict[str, float]:
        """Simulate one particle."""
        seed = int(np.random.randint(0, 2**31 - 1))
        return self.model(to_natural(self.priors, par, self.space), seed)


def particle_model(loaded: LoadedSpec, targets: Sequence[Target],
                   numba_threads: int | None = None) -> ParticleModel:
    """The particle model of a spec for some of its targets."""
    spec = loaded.spec
    function = (resolve_function(spec.model, spec.function_path) if spec.model is not None
                else None)
    return ParticleModel(targets, spec.replications, scenario=loaded.scenario,
                         designs=loaded.designs, function=function,
                         numba_threads=numba_threads, uncalibrated=loaded.uncalibrated)


def _workers(n_jobs: int) -> int:
    return max(1, os.cpu_count() or 1) if n_jobs == -1 else n_jobs


@contextmanager
def _sampler(loaded: LoadedSpec, client: Any = None) -> Iterator[Any]:
    """The pyabc sampler of the spec's backend (closed afterwards)."""
    import pyabc

    spec = loaded.spec
    if spec.backend == "serial":
        yield pyabc.sampler.SingleCoreSampler()
        return
    if spec.backend == "loky":
        from joblib.executor import get_memmapping_executor

        from cisim.workers import watched_workers

        n = _workers(spec.n_jobs)
        # joblib's reusable loky pool, its workers watching this process (they exit when a
        # killed calibration can no longer use their particles)
        executor = get_memmapping_executor(n, **watched_workers())
        yield pyabc.sampler.ConcurrentFutureSampler(cfuture_executor=executor,
                                                    client_max_jobs=n)
        return
    from cisim.sweep.execute import _dask_client

    with _dask_client(spec.n_jobs, spec.scheduler, client) as c:
        yield pyabc.sampler.DaskDistributedSampler(dask_client=c)


# --------------------------------------------------------------------------------------------
# Calibrate
# --------------------------------------------------------------------------------------------


@dataclass
class CalibrationResult:
    """Where a finished calibration wrote its outputs, and its headline numbers.

    Attributes:
        output: The output directory.
        files: The files written.
        generations: Generations in the history.
        epsilon: The last generation's tolerance.
        simulations: Particles simulated in all (accepted or not).
        ppc: The posterior predictive checks (one row per target).
    """

    output: Path
    files: list[Path]
    generations: int
    epsilon: float
    simulations: int
    ppc: pd.DataFrame


def calibrate(loaded: LoadedSpec, *, resume: bool = False, client: Any = None,
              figures: bool = True) -> CalibrationResult:
    """Run (or resume) a calibration and write its outputs.

    Args:
        loaded: The loaded spec (:func:`cisim.calibrate.spec.load_calibration`).
        resume: Continue the run stored in the output directory.
        client: A ``dask.distributed.Client`` to use (backend = dask).
        figures: Draw the prior-vs-posterior figure.

    Returns:
        The result.

    Raises:
        CalibrationError: An existing run without ``resume``, a changed spec on resume, nothing
            to resume, a stored batch that cannot be read or holds other draws.
        CalibrationIncompleteError: Rejection ABC reached ``max_walltime_minutes`` before it
            kept ``population_size`` sets (its batches are kept; ``resume`` continues).
    """
    spec = loaded.spec
    out = loaded.output
    state_path = out / STATE_FILE
    db_path = out / HISTORY_FILE
    db = f"sqlite:///{db_path.resolve()}"
    digest = loaded.digest()
    state = _read_state(state_path)
    rejection = _algorithm(spec) == "rejection ABC"
    if resume and rejection and db_path.exists():
        raise CalibrationError(f"{out} holds a rejection calibration run by pyabc "
                               f"({HISTORY_FILE}), which cannot be continued in stored batches; "
                               "start afresh with another output directory")
    if resume:
        if state is None or (not rejection and not db_path.exists()):
            raise CalibrationError(f"{out} holds no calibration to resume (no {STATE_FILE} or "
                                   f"{HISTORY_FILE}); start one without --resume")
        if state["digest"] != digest:
            changed = sorted(k for k, v in loaded.fingerprint().items()
                             if state["fingerprint"].get(k) != v)
            raise CalibrationError(
                f"{out} was started from a different calibration ({', '.join(changed)} "
                f"changed since); resuming would mix posteriors. Start afresh with another "
                "output directory")
    elif state is not None or db_path.exists() or (out / BATCH_DIR).exists():
        raise CalibrationError(f"{out} already holds a calibration; continue it with --resume "
                               "or choose another output directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CalibrationError(f"cannot create the output directory {out}: {err}") from None

    targets = loaded.calibration_targets
    parallel = spec.backend != "serial"
    if rejection:
        return _calibrate_rejection(loaded, state, resume, client, figures)
    import pyabc  # (slow to import: only ABC-SMC needs it)

    model = PyabcModel(particle_model(loaded, targets, numba_threads=1 if parallel else None),
                       loaded.priors, spec.space)
    if spec.distance == "adaptive":
        distance: Any = pyabc.distance.AdaptivePNormDistance(p=2)
    else:
        distance = IntervalDistance(targets)
    x_0 = {t.id: t.centre for t in targets}

    started = datetime.now(UTC)
    t_start = time.perf_counter()
    with _sampler(loaded, client) as sampler:
        transition = pyabc.MultivariateNormalTransition(scaling=spec.transition_scaling)
        eps = pyabc.ListEpsilon(list(spec.epsilons)) if spec.epsilons else None
        abc = pyabc.ABCSMC(model, pyabc_prior(loaded.priors, spec.space), distance,
                           population_size=spec.population_size, sampler=sampler,
                           transitions=transition, **({"eps": eps} if eps else {}))
        if resume:
            assert state is not None
            history = abc.load(db, int(state["run_id"]))
            done = int(history.max_t) + 1 if history.max_t is not None else 0
            np.random.seed(_seed(spec.seed, done))
        else:
            np.random.seed(_seed(spec.seed, 0))
            history = abc.new(db, x_0)
            state = _new_state(loaded, started, run_id=int(history.id))
            _write_state(state_path, state)
            done = 0
        session = {"start": started.isoformat(timespec="seconds"), "seconds": None,
                   "resumed": resume, "generations_before": done, "backend": spec.backend}
        state["sessions"].append(session)  # recorded now: a killed session still shows
        _write_state(state_path, state)
        remaining = loaded.generations - done
        if remaining > 0 and not _converged(history, spec.min_epsilon):
            walltime = (timedelta(minutes=spec.max_walltime_minutes)
                        if spec.max_walltime_minutes else None)
            history = abc.run(minimum_epsilon=spec.min_epsilon, max_nr_populations=remaining,
                              max_walltime=walltime)
    session["seconds"] = round(time.perf_counter() - t_start, 3)
    _write_state(state_path, state)
    return write_outputs(loaded, history, state, figures=figures)


def _new_state(loaded: LoadedSpec, started: datetime, **more: Any) -> dict[str, Any]:
    """The stored state of a new run: what it was started from, and its sessions."""
    return {"digest": loaded.digest(), "fingerprint": loaded.fingerprint(), **more,
            "created": started.isoformat(timespec="seconds"), "sessions": []}


def _calibrate_rejection(loaded: LoadedSpec, state: dict[str, Any] | None, resume: bool,
                         client: Any, figures: bool) -> CalibrationResult:
    """Rejection ABC in stored batches (:mod:`cisim.calibrate.rejection`)."""
    spec = loaded.spec
    started = datetime.now(UTC)
    t_start = time.perf_counter()
    state_path = loaded.output / STATE_FILE
    if state is None:
        state = _new_state(loaded, started)
    before = len(list((loaded.output / BATCH_DIR).glob("batch-*.parquet")))
    session = {"start": started.isoformat(timespec="seconds"), "seconds": None,
               "resumed": resume, "generations_before": 0, "batches_before": before,
               "backend": spec.backend}
    state["sessions"].append(session)  # recorded now: a killed session still shows
    _write_state(state_path, state)
    targets = loaded.calibration_targets
    model = particle_model(loaded, targets,
                           numba_threads=1 if spec.backend != "serial" else None)
    deadline = (time.monotonic() + 60 * spec.max_walltime_minutes
                if spec.max_walltime_minutes else None)
    try:
        outcome = run_rejection(loaded, model, IntervalDistance(targets), client=client,
                                deadline=deadline)
    except StoredBatchError as err:
        raise CalibrationError(str(err)) from None
    session["seconds"] = round(time.perf_counter() - t_start, 3)
    _write_state(state_path, state)
    n = spec.population_size
    if not outcome.finished:
        raise CalibrationIncompleteError(
            f"stopped at max_walltime_minutes with {len(outcome.posterior)} of {n} parameter "
            f"sets kept after {outcome.simulations:,} draws ({outcome.batches} batches stored "
            f"in {loaded.output / BATCH_DIR})")
    if outcome.failed:
        logger.warning("%d of %d draws raised and were not kept; first: %s", outcome.failed,
                       outcome.simulations, outcome.first_error)
    seconds = sum(s["seconds"] or 0.0 for s in state["sessions"])
    gens = pd.DataFrame([{"t": 0, "epsilon": float(spec.epsilons[0]), "particles": n,
                          "samples": outcome.simulations,
                          "acceptance_rate": n / outcome.simulations,
                          "wall_time": seconds}])
    return _write(loaded, outcome.posterior, gens, outcome.simulations, state,
                  figures=figures, rejection=outcome)


def _seed(seed: int, generation: int) -> int:
    """Numpy's global seed for a session starting at ``generation`` (pyabc draws from it)."""
    return int(np.random.SeedSequence([seed, generation]).generate_state(1)[0])


def _converged(history: Any, min_epsilon: float) -> bool:
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0]
    return bool(len(pops)) and float(pops["epsilon"].iloc[-1]) <= min_epsilon


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise CalibrationError(f"{path} cannot be read: {err}") from None


def _write_state(path: Path, state: Mapping[str, Any]) -> None:
    write_text_atomic(path, json.dumps(state, indent=2) + "\n")


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


def posterior_frame(history: Any, names: Sequence[str],
                    priors: Sequence[ParameterEvidence] = (), space: str = "natural"
                    ) -> pd.DataFrame:
    """The last generation: one parameter set per row, columns = paths, plus ``weight``.

    Values are in the parameters' own units (:func:`to_natural`), whatever the space.
    """
    pars, w = history.get_distribution(m=0)
    frame = pars.reset_index(drop=True)[list(names)].astype(float)
    if space != "natural":
        frame = pd.DataFrame([to_natural(priors, row, space) for row in
                              frame.to_dict(orient="records")], columns=list(names))
    frame["weight"] = np.asarray(w, dtype=float)
    return frame


def generations_table(history: Any) -> pd.DataFrame:
    """Per generation: epsilon, particles, simulations, acceptance rate and wall time."""
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].copy()
    pops["acceptance_rate"] = pops["particles"] / pops["samples"]
    return pops[["t", "epsilon", "particles", "samples", "acceptance_rate", "wall_time"]]


def write_outputs(loaded: LoadedSpec, history: Any, state: Mapping[str, Any], *,
                  figures: bool = True) -> CalibrationResult:
    """posterior.csv, posterior.json, ppc.csv, ppc.txt and the marginals figure (ABC-SMC)."""
    posterior = posterior_frame(history, loaded.names, loaded.priors, loaded.spec.space)
    return _write(loaded, posterior, generations_table(history),
                  int(history.total_nr_simulations or 0), state, figures=figures)


def _write(loaded: LoadedSpec, posterior: pd.DataFrame, gens: pd.DataFrame, sims: int,
           state: Mapping[str, Any], *, figures: bool = True,
           rejection: RejectionOutcome | None = None) -> CalibrationResult:
    """Write the outputs of a finished calibration (``rejection`` for rejection ABC)."""
    out = loaded.output
    spec = loaded.spec
    files: list[Path] = []
    path = out / "posterior.csv"
    write_atomic(path, lambda p: posterior.to_csv(p, index=False))
    files.append(path)
    for src, name in ((loaded.path, "spec.toml"), (loaded.targets_path, "targets.toml")):
        dst = out / name
        write_text_atomic(dst, src.read_text(encoding="utf-8"))
        files.append(dst)

    ppc = predictive_checks(loaded, posterior)
    path = out / "ppc.csv"
    write_atomic(path, lambda p: ppc.to_csv(p, index=False))
    files.append(path)
    path = out / "ppc.txt"
    write_text_atomic(path, format_ppc(loaded, ppc, gens))
    files.append(path)

    fp = loaded.fingerprint()
    per_particle = _runs_per_particle(loaded, loaded.calibration_targets)
    meta = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "name": spec.name,
        "spec": {"file": str(loaded.path), "sha256": sha256(loaded.spec_text),
                 "text": loaded.spec_text},
        "targets": {"file": str(loaded.targets_path), "sha256": fp["targets"],
                    "text": loaded.targets_text,
                    "calibration": [t.id for t in loaded.calibration_targets],
                    "validation": [t.id for t in loaded.targets.by_role("validation")]},
        "scenario_sha256": fp["scenario"],
        "fingerprint": fp,
        "digest": state["digest"],
        "parameters": [{"path": p.path, "prior": p.describe(), "evidence": p.evidence,
                        "source": p.source} for p in loaded.priors],
        "seeds": {"master": spec.seed,
                  **({"batches": "batch b: numpy SeedSequence([master, 0xAB0C, b])"}
                     if rejection else
                     {"sessions": [_seed(spec.seed, s["generations_before"])
                                   for s in state["sessions"]]}),
                  "ppc": spec.seed, "designs": (spec.designs.seed if spec.designs else None)},
        "designs": loaded.designs,
        "method": _method(loaded, rejection) | {
            "uncalibrated": _uncalibrated(loaded),
            "population_size": spec.population_size,
            "max_generations": spec.max_generations,
            "min_epsilon": spec.min_epsilon,
            "max_walltime_minutes": spec.max_walltime_minutes,
            "replications": spec.replications,
            "model_runs_per_particle": per_particle,
            "backend": spec.backend,
        },
        "generations": json.loads(gens.to_json(orient="records")),
        "simulations": sims,
        "model_runs": rejection.model_runs if rejection else sims * per_particle,
        "wall_time_seconds": round(sum(s["seconds"] or 0.0 for s in state["sessions"]), 3),
        "wall_time_note": "sessions that were killed have seconds = null and are not counted; "
                          "each generation's own wall time is in 'generations'",
        "sessions": state["sessions"],
        "ppc": json.loads(ppc.to_json(orient="records")),
        "python": platform.python_version(),
    }
    path = out / "posterior.json"
    write_text_atomic(path, json.dumps(meta, indent=2, default=str) + "\n")
    files.append(path)
    if figures:
        files.append(marginals_figure(loaded, posterior, out / "marginals.png"))
    eps = float(gens["epsilon"].iloc[-1]) if len(gens) else float("nan")
    return CalibrationResult(output=out, files=files, generations=len(gens), epsilon=eps,
                             simulations=sims, ppc=ppc)


def _method(loaded: LoadedSpec, rejection: RejectionOutcome | None) -> dict[str, Any]:
    """How the posterior was sampled: the algorithm, its package and its settings."""
    spec = loaded.spec
    interval = "interval misses in units of each target's scale, Euclidean norm"
    if rejection is not None:
        return {"algorithm": "rejection ABC",
                "package": "cisim.calibrate.rejection (prior draws in stored batches)",
                "distance": interval,
                "epsilon": f"fixed tolerance {spec.epsilons[0]}: rejection ABC from the prior",
                "transition": "none: every set is drawn from the prior",
                "batch_size": spec.batch_size,
                "failed_draws": rejection.failed,
                "first_error": rejection.first_error,
                "stored_batches": rejection.batches,
                "reproducible": True}
    import pyabc

    return {"algorithm": _algorithm(spec),
            "package": f"pyabc {pyabc.__version__}",
            "distance": (interval if spec.distance == "interval"
                         else "pyabc AdaptivePNormDistance(p=2) around interval midpoints"),
            "epsilon": (f"fixed tolerances {list(spec.epsilons)} (pyabc ListEpsilon)"
                        if spec.epsilons else
                        "pyabc MedianEpsilon (median of the previous generation's distances)"),
            "transition": "pyabc MultivariateNormalTransition",
            "space": spec.space,
            "transition_scaling": spec.transition_scaling,
            "reproducible": spec.backend == "serial"}


def _uncalibrated(loaded: LoadedSpec) -> str:
    """What the calibration did with the uncertain parameters it does not name."""
    if loaded.scenario is None:
        return "not applicable (a model function)"
    rest = loaded.not_calibrated
    if not rest:
        return "none: every uncertain parameter is calibrated"
    how = ("drawn from their priors in every run" if loaded.uncalibrated
           else "held at the scenario's values")
    return f"{len(rest)} uncertain parameters {how}"


def _algorithm(spec: Any) -> str:
    """``rejection ABC`` for one fixed tolerance, else ``ABC-SMC``."""
    return "rejection ABC" if spec.epsilons and len(spec.epsilons) == 1 else "ABC-SMC"


def _runs_per_particle(loaded: LoadedSpec, targets: Sequence[Target]) -> int:
    reps = loaded.spec.replications
    scen = max((t.replications or reps for t in targets if t.over == "scenario"), default=0)
    des = max((t.replications or reps for t in targets if t.over == "designs"), default=0)
    return scen + des * len(loaded.designs)


def predictive_checks(loaded: LoadedSpec, posterior: pd.DataFrame) -> pd.DataFrame:
    """Re-simulate K posterior parameter sets; every target's predictive interval and coverage.

    The K sets are drawn from the weighted posterior with the spec's seed; each is simulated
    with the runs of every target (calibration *and* validation role). A target is covered when
    the central ``ppc.level`` predictive interval of its statistic overlaps the observed
    interval (contains the observed value, for a point).
    """
    from cisim.sweep.execute import _map

    spec = loaded.spec
    targets = list(loaded.targets.target)
    names = loaded.names
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 0x99C]))
    w = posterior["weight"].to_numpy(float)
    idx = rng.choice(len(posterior), size=spec.ppc.draws, replace=True, p=w / w.sum())
    seeds = rng.integers(0, 2**31 - 1, size=spec.ppc.draws)
    parallel = spec.backend != "serial"
    model = particle_model(loaded, targets, numba_threads=1 if parallel else None)
    runs = [(k, 0, int(seeds[k]), {n: float(posterior.loc[i, n]) for n in names})
            for k, i in enumerate(idx)]
    backend = "dask" if spec.backend == "dask" else "loky"
    jobs = 1 if spec.backend == "serial" else spec.n_jobs
    tasks = iter([[r] for r in runs])
    frames = list(_map(model, tasks, jobs=jobs, backend=backend, scheduler=spec.scheduler,
                       client=None, n_tasks=len(runs)))
    sims = pd.concat(frames, ignore_index=True).sort_values("point")
    lo_q, hi_q = (1 - spec.ppc.level) / 2, 1 - (1 - spec.ppc.level) / 2
    rows = []
    for t in targets:
        values = sims[t.id].to_numpy(float) if t.id in sims else np.array([])
        ok = values[np.isfinite(values)]
        lo, hi = (np.quantile(ok, [lo_q, hi_q]) if ok.size else (float("nan"),) * 2)
        covered = bool(ok.size and lo <= t.high and hi >= t.low)
        rows.append({
            "target": t.id, "role": t.role, "outcome": t.outcome, "statistic": t.statistic,
            "observed_low": t.low, "observed_high": t.high,
            "predicted_median": float(np.median(ok)) if ok.size else float("nan"),
            "predicted_low": float(lo), "predicted_high": float(hi),
            "level": spec.ppc.level, "covered": covered, "draws": int(ok.size),
            "failed": int(len(values) - ok.size), "source": t.cite(),
        })
    errors = sims["error"].astype(str)
    if (errors != "").any():
        logger.warning("%d predictive runs failed; first: %s", int((errors != "").sum()),
                       errors[errors != ""].iloc[0])
    return pd.DataFrame(rows)


def format_ppc(loaded: LoadedSpec, ppc: pd.DataFrame, gens: pd.DataFrame) -> str:
    """A text summary: generations, then each target's observed and predicted values."""
    spec = loaded.spec
    lines = [f"{spec.name}: {_algorithm(spec)} calibration of {', '.join(loaded.names)}",
             f"  {len(gens)} generation(s) of {spec.population_size} particles; "
             f"{int(gens['samples'].sum()) if len(gens) else 0} particles simulated"]
    for _, g in gens.iterrows():
        lines.append(f"    generation {int(g['t'])}: epsilon {g['epsilon']:.4g}, acceptance "
                     f"rate {g['acceptance_rate']:.3f}")
    lines.append(f"Posterior predictive checks ({spec.ppc.draws} parameter sets, "
                 f"{spec.ppc.level:.0%} predictive intervals):")
    for role in ("calibration", "validation"):
        part = ppc[ppc["role"] == role]
        if part.empty:
            continue
        lines.append(f"  {role} targets: {int(part['covered'].sum())} of {len(part)} covered")
        for _, r in part.iterrows():
            obs = (f"{r['observed_low']:g}" if r["observed_low"] == r["observed_high"]
                   else f"[{r['observed_low']:g}, {r['observed_high']:g}]")
            mark = "covered" if r["covered"] else "NOT covered"
            lines.append(f"    {r['target']}: observed {obs}; predicted {r['predicted_median']:.3g}"
                         f" [{r['predicted_low']:.3g}, {r['predicted_high']:.3g}] -> {mark}")
    return "\n".join(lines) + "\n"


def marginals_figure(loaded: LoadedSpec, posterior: pd.DataFrame, path: Path) -> Path:
    """Prior density and weighted posterior histogram of each calibrated parameter (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(loaded.priors)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.0), squeeze=False)
    w = posterior["weight"].to_numpy(float)
    for ax, prior in zip(axes[0], loaded.priors, strict=True):
        dist = prior.scipy()
        lo, hi = (float(v) for v in dist.ppf([0.001, 0.999]))
        x = np.linspace(lo, hi, 200)
        ax.plot(x, dist.pdf(x), color="0.5", label="prior")
        ax.hist(posterior[prior.path].to_numpy(float), bins=20, range=(lo, hi), weights=w,
                density=True, alpha=0.6, color="C0", label="posterior")
        ax.set_title(prior.path, fontsize=9)
        ax.set_yticks([])
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    write_atomic(path, lambda p: fig.savefig(p, format="png", dpi=110))
    plt.close(fig)
    return path


def ship(output: str | Path) -> list[Path]:
    """Copy a calibration's posterior.csv and posterior.json into ``cisim/data``.

    :meth:`cisim.priors.ParameterDistribution.default` then draws forecasts from it.

    Raises:
        CalibrationError: No posterior in ``output``, or one the priors table cannot read.
    """
    from cisim.priors import ParameterDistribution, PriorsError

    out = Path(output)
    csv, meta = out / "posterior.csv", out / "posterior.json"
    if not csv.is_file() or not meta.is_file():
        raise CalibrationError(f"{out} has no posterior.csv and posterior.json to ship")
    try:
        ParameterDistribution.from_posterior(csv)
    except PriorsError as err:
        raise CalibrationError(f"{csv} cannot be shipped: {err}") from None
    shutil.copyfile(csv, POSTERIOR_FILE)
    shutil.copyfile(meta, POSTERIOR_PROVENANCE)
    return [POSTERIOR_FILE, POSTERIOR_PROVENANCE]


def summary_of(result: CalibrationResult) -> str:
    """The text summary written to ppc.txt (for the CLI to print)."""
    return (result.output / "ppc.txt").read_text(encoding="utf-8")

