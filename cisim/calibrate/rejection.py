"""Rejection ABC in stored batches: a calibration that survives being killed, to the bit.

Rejection ABC (Pritchard et al. 1999, Mol Biol Evol 16; Beaumont, Zhang & Balding 2002, Genetics
162) draws parameter sets from the prior, simulates each and keeps those whose distance from the
targets is at most a tolerance; the kept sets, equally weighted, are a sample of the approximate
posterior. With many parameters and a tight tolerance it keeps one draw in a hundred or fewer,
so one calibration runs for hours. Held in memory until the end (as pyabc holds a generation), a
killed run keeps nothing; here the draws come in batches and each finished batch is written to
``rejection/`` in the output directory at once, so a resumed run simulates only what is missing.

Batch ``b`` holds ``batch_size`` parameter sets and their run seeds, a pure function of the
master seed and ``b`` (:func:`batch_draws`). The posterior is the first ``population_size`` kept
sets in draw order, and the draws it took to find them are the simulation count: neither depends
on the backend, the number of workers, the order in which batches finish, or how often the run
was stopped. Batches run on :mod:`cisim.sweep.execute`'s task runner (loky or Dask).

A particle's runs of the spec's scenario come first; when the targets over the scenario alone
already put it beyond the tolerance, its runs of the design sample are skipped (the distance is
a Euclidean norm over the targets, so more targets cannot bring it back within the tolerance):
the same particles are kept, with a fraction of the runs.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cisim.calibrate.spec import LoadedSpec
from cisim.calibrate.summaries import STAGES, ParticleModel
from cisim.calibrate.targets import IntervalDistance, Target
from cisim.io import write_atomic
from cisim.priors import ParameterDistribution

__all__ = [
    "BATCH_DIR",
    "EarlyRejection",
    "RejectionOutcome",
    "StoredBatchError",
    "batch_draws",
    "run_rejection",
]

#: The batches' directory under the output directory.
BATCH_DIR = "rejection"
#: Columns of a stored batch besides the parameters and the statistics.
_RUN = ("batch", "row", "seed", "error", "distance", "runs", "failed")
logger = logging.getLogger(__name__)


@dataclass
class RejectionOutcome:
    """What a (possibly stopped) rejection run found.

    Attributes:
        posterior: The kept parameter sets (calibrated paths and ``weight`` = 1), draw order;
            fewer than ``population_size`` rows when the run stopped early.
        distances: Their distances.
        simulations: Draws up to and including the last kept one (all stored draws when the run
            stopped early): the denominator of the acceptance rate.
        batches: Stored batches (some beyond the last kept set, when batches ran in parallel).
        model_runs: Model runs behind ``simulations`` (the design sample's runs are skipped for
            draws the scenario's targets reject).
        failed: Draws among ``simulations`` whose runs raised or left a statistic undefined
            (never kept: their distance is infinite).
        first_error: The first error message a run returned, or "" (the particle model
            logs the errors it turns into undefined statistics itself).
        finished: Whether ``population_size`` sets were kept.
    """

    posterior: pd.DataFrame
    distances: np.ndarray
    simulations: int
    batches: int
    model_runs: int
    failed: int
    first_error: str
    finished: bool


def batch_draws(loaded: LoadedSpec, b: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Batch ``b``'s parameter sets (own units, one row each) and their run seeds.

    A pure function of the spec's seed, its ``batch_size``, the priors and ``b``.
    """
    spec = loaded.spec
    seq = np.random.SeedSequence([spec.seed, 0xAB0C, int(b)])
    draw_seed, seed_seed = (int(s) for s in seq.generate_state(2))
    prior = ParameterDistribution(loaded.names, "prior", "calibration priors",
                                  priors=loaded.priors)
    params = prior.draw(spec.batch_size, draw_seed)
    seeds = np.random.default_rng(seed_seed).integers(0, 2**31 - 1, size=spec.batch_size)
    return params, seeds


class EarlyRejection:
    """A particle model that skips the designs' runs of a particle already beyond the tolerance.

    Args:
        model: The particle model.
        targets: The calibration targets (the distance's).
        epsilon: The tolerance.
    """

    def __init__(self, model: ParticleModel, targets: list[Target], epsilon: float):
        self.model = model
        self.first = IntervalDistance([t for t in targets if t.over == STAGES[0]])
        self.epsilon = float(epsilon)

    def within(self, stats: Mapping[str, float]) -> bool:
        """Whether the scenario's targets leave a particle within the tolerance."""
        return self.first(stats) <= self.epsilon

    def __call__(self, params: Mapping[str, Any], seed: int) -> dict[str, float]:
        """The particle's statistics (those over the designs NaN when it was rejected early)."""
        return self.model.staged(params, seed, self.within)


class StoredBatchError(Exception):
    """A stored batch cannot be read, or holds other draws than the spec makes."""


class _Store:
    """One Parquet file per finished batch, written atomically, checked when read back."""

    NAME = re.compile(r"^batch-(\d{7})\.parquet$")

    def __init__(self, loaded: LoadedSpec):
        self.loaded = loaded
        self.dir = loaded.output / BATCH_DIR

    def path(self, b: int) -> Path:
        return self.dir / f"batch-{b:07d}.parquet"

    def done(self) -> set[int]:
        """Indices of the stored batches (other files in the directory are left alone)."""
        if not self.dir.is_dir():
            return set()
        return {int(m.group(1)) for p in self.dir.iterdir() if (m := self.NAME.match(p.name))}

    def read(self, b: int) -> pd.DataFrame:
        """Batch ``b``, after checking that it holds the draws and seeds the spec makes."""
        path = self.path(b)
        try:
            frame = pd.read_parquet(path)
        except Exception as err:  # pyarrow's errors for a truncated or foreign file
            raise StoredBatchError(f"{path} cannot be read ({type(err).__name__}: {err}); "
                                   "delete it and resume: it will be simulated again") from None
        params, seeds = batch_draws(self.loaded, b)
        names = list(params.columns)
        missing = [c for c in (*_RUN, *names) if c not in frame.columns]
        if missing:
            problem = f"lacks the column(s) {', '.join(missing)}"
        elif len(frame) != len(params):
            problem = f"has {len(frame)} draws, not batch_size = {len(params)}"
        elif not (np.array_equal(frame["batch"].to_numpy(), np.full(len(frame), b))
                  and np.array_equal(frame["row"].to_numpy(), np.arange(len(frame)))
                  and np.array_equal(frame["seed"].to_numpy(), seeds)
                  and np.array_equal(frame[names].to_numpy(float), params.to_numpy(float))):
            problem = "holds other draws or seeds than this spec makes for it"
        else:
            return frame
        raise StoredBatchError(f"{path} {problem}; delete it and resume: it will be simulated "
                               "again")

    def write(self, b: int, frame: pd.DataFrame) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path(b), lambda p: frame.to_parquet(p, index=False))


def _scored(loaded: LoadedSpec, b: int, sims: pd.DataFrame,
            distance: Callable[[Mapping[str, Any]], float], early: EarlyRejection,
            runs: tuple[int, ...]) -> pd.DataFrame:
    """A finished batch as stored: draws, seeds, errors, distances, model runs, statistics."""
    params, seeds = batch_draws(loaded, b)
    sims = sims.sort_values("replication").reset_index(drop=True)
    if not np.array_equal(sims["seed"].to_numpy(), seeds):
        raise RuntimeError(f"batch {b} came back with other seeds than it was given")
    ids = [t.id for t in loaded.calibration_targets]
    stats = pd.DataFrame({i: (sims[i].to_numpy(float) if i in sims else np.nan) for i in ids},
                         index=sims.index)
    records = stats.to_dict(orient="records")
    d = [distance(row) if not err else math.inf
         for row, err in zip(records, sims["error"], strict=True)]
    whole = np.array([early.within(row) for row in records], dtype=bool)
    first = [t.id for t in loaded.calibration_targets if t.over == STAGES[0]]
    # a draw failed if a run raised or left a statistic it should have given undefined
    undefined = np.where(whole, stats.isna().any(axis=1), stats[first].isna().any(axis=1))
    head = pd.DataFrame({"batch": b, "row": np.arange(len(sims)), "seed": seeds,
                         "error": sims["error"].astype(str), "distance": d,
                         "runs": np.where(whole, runs[0] + runs[1], runs[0]),
                         "failed": (sims["error"] != "").to_numpy() | undefined})
    return pd.concat([head, params, stats.add_prefix("stat:")], axis=1)


def run_rejection(loaded: LoadedSpec, model: ParticleModel,
                  distance: Callable[[Mapping[str, Any]], float], *, client: Any = None,
                  deadline: float | None = None) -> RejectionOutcome:
    """Run (or continue) rejection ABC until ``population_size`` sets are kept.

    Args:
        loaded: The spec (one fixed tolerance: ``epsilons = [e]``).
        model: The particle model (``f(params, seed) -> {target id: statistic}``).
        distance: Distance of a particle's statistics from the targets.
        client: A ``dask.distributed.Client`` (backend = dask).
        deadline: ``time.monotonic()`` after which no new batch starts (batches in flight
            finish and are stored).

    Returns:
        The kept sets so far, in draw order.
    """
    from cisim.sweep.execute import _map

    spec = loaded.spec
    assert spec.epsilons is not None and len(spec.epsilons) == 1
    eps, n = float(spec.epsilons[0]), spec.population_size
    store = _Store(loaded)
    stored = store.done()
    finished: dict[int, pd.DataFrame] = {}
    kept: list[pd.DataFrame] = []
    count = {"kept": 0, "draws": 0, "runs": 0, "failed": 0, "next": 0}
    first_error = [""]

    def absorb() -> None:
        """Take the finished batches that continue the draw order, until n are kept."""
        while count["kept"] < n and (count["next"] in finished or count["next"] in stored):
            b = count["next"]
            frame = finished.pop(b) if b in finished else store.read(b)
            ok = frame["distance"].to_numpy(float) <= eps
            take = np.flatnonzero(ok)[: n - count["kept"]]
            used = len(frame) if count["kept"] + ok.sum() < n else int(take[-1]) + 1
            errors = frame["error"].iloc[:used]
            if (errors != "").any() and not first_error[0]:
                first_error[0] = str(errors[errors != ""].iloc[0])
            count["failed"] += int(frame["failed"].iloc[:used].sum())
            count["runs"] += int(frame["runs"].iloc[:used].sum())
            kept.append(frame.iloc[take])
            count["kept"] += len(take)
            count["draws"] += used
            count["next"] = b + 1
            logger.info("rejection ABC: batch %d, %d of %d kept after %d draws", b,
                        count["kept"], n, count["draws"])

    absorb()

    def batches() -> Iterator[list[tuple[int, int, int, dict[str, Any]]]]:
        b = count["next"]
        while count["kept"] < n and (deadline is None or time.monotonic() < deadline):
            if b not in stored:
                params, seeds = batch_draws(loaded, b)
                yield [(b, r, int(seeds[r]), row)
                       for r, row in enumerate(params.to_dict(orient="records"))]
            b += 1

    early = EarlyRejection(model, loaded.calibration_targets, eps)
    stage_runs = model.stage_runs()
    backend = "dask" if spec.backend == "dask" else "loky"
    jobs = 1 if spec.backend == "serial" else spec.n_jobs
    for sims in _map(early, batches(), jobs=jobs, backend=backend, scheduler=spec.scheduler,
                     client=client, n_tasks=2**31):
        b = int(sims["point"].iloc[0])
        frame = _scored(loaded, b, sims, distance, early, stage_runs)
        store.write(b, frame)
        stored.add(b)
        finished[b] = frame
        absorb()
        if count["kept"] >= n:  # done: the batches still in flight are not needed
            break
    if count["kept"] < n:  # stopped early: every stored draw counts
        rest = sorted(b for b in stored if b >= count["next"])
        for b in rest:
            frame = store.read(b)
            count["draws"] += len(frame)
            count["runs"] += int(frame["runs"].sum())
    posterior = (pd.concat(kept, ignore_index=True) if kept
                 else pd.DataFrame(columns=[*loaded.names, "distance"]))
    frame = posterior[loaded.names].astype(float).copy()
    frame["weight"] = 1.0
    return RejectionOutcome(posterior=frame, distances=posterior["distance"].to_numpy(float),
                            simulations=count["draws"], batches=len(stored),
                            model_runs=count["runs"],
                            failed=count["failed"], first_error=first_error[0],
                            finished=count["kept"] >= n)
