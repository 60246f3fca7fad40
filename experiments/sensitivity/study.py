"""Running and analysing the sensitivity study: design levers and assumed constants.

Two studies, each a :mod:`cisim.sweep` store under the output directory:

* ``levers/``: a Sobol (Saltelli) sweep of the design levers (``levers.toml``);
* ``assumptions_morris/`` then ``assumptions_sobol/``: a Morris screening of every assumed constant
  with a prior (``assumptions.toml``; Morris 1991, mu* after Campolongo, Cariboni & Saltelli
  2007), then a Sobol sweep of those with the largest screening effects, the rest at their
  defaults (Saltelli et al. 2008, Global Sensitivity Analysis: The Primer, ch. 3 and 4).

Before them, ``popcheck.csv`` compares the default design's population change at the reduced
population with the full one over the same seeds, and ``cost.json`` times one run. Every store is
run (or resumed) with :func:`cisim.sweep.run_sweep` and analysed with
:func:`cisim.sweep.analyze` (Sobol S1/ST or Morris mu* with bootstrap intervals, PAWN after
Pianosi & Wagener 2015, PRIM after Friedman & Fisher 1999) and
:func:`cisim.sweep.analyze.sobol_convergence`; the tables go to ``<store>/analysis/``, from which
:mod:`.report` writes the document. Nothing here prints: progress goes through callbacks.
"""

from __future__ import annotations

import json
import math
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from cisim.io import write_atomic, write_text_atomic
from cisim.sweep import ResultStore, SweepSpec, analyze, load_spec, run_sweep
from cisim.sweep.analyze import pawn_median, sobol_convergence
from cisim.sweep.samplers import UNIT_PREFIX
from cisim.sweep.spec import Sampler

__all__ = [
    "ASSUMPTIONS_SPEC",
    "LEVERS_SPEC",
    "OUTCOMES",
    "QUICK",
    "Outcome",
    "StudyConfig",
    "StudyError",
    "convergence_verdict",
    "morris_noise_floor",
    "population_check",
    "run_study",
    "screening_ranking",
    "sobol_stage_spec",
    "sync_assumptions_spec",
    "sync_levers_spec",
]

HERE = Path(__file__).resolve().parent
#: A screened parameter without effect on the default design (it sets the influence of generated
#: champions, and the default generates none): its mu* is the screening's empirical floor.
DUMMY = "partner_generation.champion_influence"
LEVERS_SPEC = HERE / "levers.toml"
ASSUMPTIONS_SPEC = HERE / "assumptions.toml"

Kind = Literal["continuous", "censored", "binary"]
StudyName = Literal["levers", "assumptions", "all", "check"]


class StudyError(Exception):
    """The study cannot go on (e.g. the screening found nothing to select)."""


@dataclass(frozen=True)
class Outcome:
    """One outcome of the study.

    Attributes:
        key: Its column in the full study (a name of the specs' ``[outcomes]``).
        label: Words for tables and findings.
        unit: Its unit.
        kind: ``continuous``; ``censored`` (time to an event, censored at horizon + 1: mostly
            one value when the event is rare, so PAWN rather than Sobol); ``binary`` (0/1).
        year: The year it is read at (None: the horizon); quick runs read it at a share of their
            shorter horizon.
    """

    key: str
    label: str
    unit: str
    kind: Kind
    year: float | None = None


#: The outcomes, in report order.
OUTCOMES: tuple[Outcome, ...] = (
    Outcome("population_change_year10", "population change at year 10", "pp", "continuous",
            10.0),
    Outcome("population_change_year5", "population change at year 5", "pp", "continuous", 5.0),
    Outcome("sroi_year10", "SROI at year 10", "ratio", "continuous", 10.0),
    Outcome("equity_gap_logodds_vs_cf_final",
            "log-odds equity gap against the counterfactual at the horizon", "log-odds",
            "continuous"),
    Outcome("first_significant_change_year", "time to significant change", "years",
            "censored"),
    Outcome("significant_change_reached", "significant change reached", "0/1", "binary"),
)

#: Where the year-based outcomes come from (``column@year``) when a quick run rescales years.
_AT = {"population_change_year10": "population_change_vs_cf",
       "population_change_year5": "population_change_vs_cf", "sroi_year10": "sroi"}


@dataclass(frozen=True)
class StudyConfig:
    """Sizes and settings of a study run (None: the spec file's own value).

    Attributes:
        quick: A smoke-test run (tiny sizes; numbers meaningless).
        horizon_years: Override of the scenarios' horizon.
        population_size: Override of ``population.size`` in both studies.
        levers_n: Sobol base sample size of the levers study.
        morris_n: Morris trajectories.
        morris_parameters: Screen only the first k assumptions of the spec (quick runs).
        sobol_n: Sobol base sample size of the assumptions' second step.
        top_k: Assumptions carried from the screening into the Sobol step.
        replications: Runs per design point.
        morris_replications: Runs per design point of the screening (default: replications).
        check_seeds: Seeds of the population-size check at each size.
        check_sizes: The reduced and the full population of the check.
        check_seed: Master seed of the check (and of the timed run).
        timed_runs: Runs timed for the cost estimate (after one untimed warm-up run).
        num_resamples: Bootstrap resamples of every interval.
        bootstrap_seed: Seed of the bootstraps (positive: SALib reads 0 as no seed).
        jobs: Parallel workers.
    """

    quick: bool = False
    horizon_years: float | None = None
    population_size: int | None = None
    levers_n: int | None = None
    morris_n: int | None = None
    morris_parameters: int | None = None
    sobol_n: int = 512
    top_k: int = 12
    replications: int | None = None
    morris_replications: int | None = None
    check_seeds: int = 10
    check_sizes: tuple[int, int] = (2000, 10000)
    check_seed: int = 2015
    timed_runs: int = 3
    num_resamples: int = 200
    bootstrap_seed: int = 1
    jobs: int = 1


#: The smoke-test configuration (``--quick``): every step, tiny sizes, a three-year horizon (the
#: default design's population change starts after about two and a half years).
QUICK = StudyConfig(quick=True, horizon_years=3.0, population_size=100, levers_n=2, morris_n=2,
                    morris_parameters=4, sobol_n=2, top_k=2, replications=1,
                    morris_replications=2, check_seeds=2, check_sizes=(100, 200), timed_runs=1,
                    num_resamples=30)


# --------------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------------


def outcome_columns(config: StudyConfig) -> dict[str, str]:
    """Outcome key -> the store's column under ``config`` (quick runs read years earlier)."""
    out = {o.key: o.key for o in OUTCOMES}
    if config.horizon_years is None:
        return out
    H = config.horizon_years
    for o in OUTCOMES:
        if o.key in _AT and o.year is not None:
            out[o.key] = f"{_AT[o.key]}@{_year(H * o.year / 10.0)}"
    return out


def _year(y: float) -> str:
    return f"{y:g}"


def adapt_spec(spec: SweepSpec, config: StudyConfig) -> SweepSpec:
    """The spec under ``config``'s overrides (horizon, population, sizes, outcome years)."""
    update: dict[str, Any] = {}
    fixed = dict(spec.set)
    if config.horizon_years is not None:
        fixed["horizon_years"] = float(config.horizon_years)
    if config.population_size is not None:
        fixed["population.size"] = int(config.population_size)
    update["set"] = fixed
    reps = config.replications
    if spec.sampler.method == "morris" and config.morris_replications is not None:
        reps = config.morris_replications
    if reps is not None:
        update["replications"] = reps
    cols = outcome_columns(config)
    update["outcomes"] = spec.outcomes.model_copy(
        update={"scalars": [cols.get(s, s) for s in spec.outcomes.scalars]})
    n = config.levers_n if spec.sampler.method == "sobol" else config.morris_n
    if n is not None:
        update["sampler"] = spec.sampler.model_copy(update={"n": n})
    if spec.sampler.method == "morris" and config.morris_parameters is not None:
        update["parameters"] = spec.parameters[: config.morris_parameters]
    if spec.discovery is not None:
        update["discovery"] = spec.discovery.model_copy(
            update={"outcome": cols.get(spec.discovery.outcome, spec.discovery.outcome)})
    return spec.model_copy(update=update)


def load_study_spec(path: Path, config: StudyConfig) -> SweepSpec:
    """Load, validate and adapt one of the study's spec files."""
    spec, _ = load_spec(path)
    return adapt_spec(spec, config)


def sobol_stage_spec(morris: SweepSpec, selected: list[str], n: int) -> SweepSpec:
    """The assumptions' Sobol step: the screening spec cut to ``selected``, sampled by Sobol.

    Args:
        morris: The screening spec (as run).
        selected: Labels of the parameters to keep, in ranking order.
        n: The Sobol base sample size (a power of two).

    Returns:
        A spec with its own name and master seed; the other parameters stay at the defaults.
    """
    by_label = {p.label: p for p in morris.parameters}
    missing = [s for s in selected if s not in by_label]
    if missing:
        raise ValueError(f"selected parameters not in the screening spec: {missing}")
    return morris.model_copy(update={
        "name": "sensitivity_assumptions_sobol",
        "description": "Sobol study of the assumed constants with the largest Morris effects; "
                       "the others at their defaults.",
        "seed": morris.seed + 1,
        "parameters": [by_label[s] for s in selected],
        "sampler": Sampler(method="sobol", n=n, calc_second_order=False),
    })


BEGIN_LIST = "# BEGIN generated parameter list\n"
END_LIST = "# END generated parameter list\n"
BEGIN_MEDIANS = "# BEGIN generated posterior medians\n"
END_MEDIANS = "# END generated posterior medians\n"


def _rewrite_between(path: Path, begin: str, end: str, body: str) -> bool:
    """Replace the lines between two marker comments of a spec file; the rest is kept.

    Returns:
        Whether the file changed.

    Raises:
        StudyError: The file lacks the markers.
    """
    text = path.read_text(encoding="utf-8")
    head, found, rest = text.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not found or not found_end:
        raise StudyError(f"{path}: no '{begin.strip()}' / '{end.strip()}' markers around the "
                         "generated lines (in that order)")
    new = head + begin + body + end + tail
    if new == text:
        return False
    write_text_atomic(path, new)
    return True


def sync_assumptions_spec(path: Path = ASSUMPTIONS_SPEC) -> bool:
    """Rewrite the screening spec's parameter list from the priors table's sampled priors.

    The list between the ``BEGIN``/``END generated parameter list`` comments becomes one
    ``prior = true`` entry per parameter of :func:`cisim.priors.uncertain_parameters`, in the
    table's order; the rest of the file is kept.

    Returns:
        Whether the file changed.

    Raises:
        StudyError: The file lacks the markers.
    """
    from cisim.priors import uncertain_parameters

    body = "\n".join(f'[[parameters]]\npath = "{e.path}"\nprior = true\n'
                     for e in uncertain_parameters())
    return _rewrite_between(path, BEGIN_LIST, END_LIST, body)


def levers_medians(path: Path = LEVERS_SPEC, posterior: Path | None = None) -> dict[str, Any]:
    """The fixed assumptions of the levers study: the posterior's medians but the levers' own.

    Args:
        path: The levers spec (its ``[[parameters]]`` paths are left out).
        posterior: A posterior sample (default: the shipped one).

    Returns:
        Dotted path to value, in the posterior's column order; empty without a posterior.
    """
    from cisim.priors import POSTERIOR_FILE, posterior_median

    levers = {p["path"] for p in tomllib.loads(path.read_text(encoding="utf-8"))
              .get("parameters", [])}
    medians = posterior_median(POSTERIOR_FILE if posterior is None else posterior)
    return {k: v for k, v in medians.items() if k not in levers}


def sync_levers_spec(path: Path = LEVERS_SPEC, posterior: Path | None = None) -> bool:
    """Rewrite the levers spec's fixed assumptions from the shipped posterior's medians.

    The lines between the ``BEGIN``/``END generated posterior medians`` comments of ``[set]``
    become one ``"path" = value`` line per calibrated parameter that is not a lever
    (:func:`levers_medians`), floats to six significant digits; the rest of the file is kept.

    Returns:
        Whether the file changed.

    Raises:
        StudyError: The file lacks the markers, or there is no posterior.
    """
    medians = levers_medians(path, posterior)
    if not medians:
        raise StudyError("no shipped posterior (cisim/data/posterior.csv) to take medians from")
    body = "".join(f'"{k}" = {v if isinstance(v, int) else format(v, ".6g")}\n'
                   for k, v in medians.items())
    return _rewrite_between(path, BEGIN_MEDIANS, END_MEDIANS, body)


def runs_of(spec: SweepSpec) -> int:
    """Number of runs of a Sobol or Morris spec: design points x replications."""
    D = len(spec.parameters)
    s = spec.sampler
    if s.method == "sobol":
        points = s.n * ((2 * D + 2) if s.calc_second_order else (D + 2))
    elif s.method == "morris":
        points = s.n * (D + 1)
    else:
        raise ValueError(f"the study uses Sobol and Morris designs, not {s.method}")
    return points * spec.replications


# --------------------------------------------------------------------------------------------
# Analysis helpers (pure functions of result tables)
# --------------------------------------------------------------------------------------------


def convergence_verdict(conv: pd.DataFrame) -> pd.DataFrame:
    """Whether each parameter's ST has settled between N/2 and N.

    A parameter's ST has *converged* when it changes by less than its interval half-width at N
    between the designs of size N/2 and N (Saltelli et al. 2008).

    Args:
        conv: Rows of :func:`cisim.sweep.analyze.sobol_convergence` (n, parameter, index,
            value, conf), optionally with an ``outcome`` column.

    Returns:
        One row per (outcome,) parameter: n_half, n, st_half, st, change, conf, converged
        (bool, or NaN when there is no N/2 design to compare with) and verdict
        ("converged", "not converged" or "not assessable").
    """
    cols = ["outcome", "parameter", "n_half", "n", "st_half", "st", "change", "conf",
            "converged", "verdict"]
    frame = conv[conv["index"] == "ST"].copy()
    if "outcome" not in frame.columns:
        frame["outcome"] = ""
    rows = []
    for (outcome, param), g in frame.groupby(["outcome", "parameter"], sort=False):
        sizes = sorted(g["n"].unique())
        n = sizes[-1] if sizes else np.nan
        row: dict[str, Any] = {"outcome": outcome, "parameter": param, "n": n,
                               "n_half": np.nan, "st_half": np.nan, "st": np.nan,
                               "change": np.nan, "conf": np.nan, "converged": np.nan,
                               "verdict": "not assessable"}
        if sizes:
            last = g[g["n"] == n].iloc[0]
            row["st"], row["conf"] = float(last["value"]), float(last["conf"])
        half = [s for s in sizes if s * 2 == n]
        if half and math.isfinite(row["st"]) and math.isfinite(row["conf"]):
            prev = g[g["n"] == half[0]].iloc[0]
            row["n_half"] = half[0]
            row["st_half"] = float(prev["value"])
            if math.isfinite(row["st_half"]):
                row["change"] = abs(row["st"] - row["st_half"])
                row["converged"] = bool(row["change"] < row["conf"])
                row["verdict"] = "converged" if row["converged"] else "not converged"
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def screening_ranking(indices: pd.DataFrame, outcomes: list[str],
                      floors: dict[str, float] | None = None) -> pd.DataFrame:
    """Rank screened parameters by their largest normalised Morris mu* over ``outcomes``.

    For each outcome, mu* is divided by the largest mu* of that outcome, so outcomes in
    different units count alike; a parameter's score is its largest share over the outcomes.

    Args:
        indices: An analysis's ``indices`` table (rows with ``index == "mu_star"``).
        outcomes: The outcome columns to rank on (those without mu* are skipped).
        floors: Per outcome, the mu* seed noise alone would give; a parameter is
            ``above_noise`` when the lower end of its mu* interval exceeds the floor on at least
            one outcome (without floors every parameter is).

    Returns:
        parameter, score, best_outcome, above_noise, rank (1 = largest), sorted by rank.
    """
    mu = indices[(indices["index"] == "mu_star") & indices["outcome"].isin(outcomes)]
    table = mu.pivot_table(index="parameter", columns="outcome", values="value",
                           aggfunc="first")
    if table.empty:
        return pd.DataFrame(columns=["parameter", "score", "best_outcome", "above_noise",
                                     "rank"])
    top = table.max(axis=0).replace(0.0, np.nan)
    share = table.divide(top, axis=1)
    score = share.max(axis=1).fillna(0.0)
    best = share.fillna(-1.0).idxmax(axis=1)
    lower = mu.pivot_table(index="parameter", columns="outcome", values="lower",
                           aggfunc="first").reindex(index=table.index, columns=table.columns)
    above = pd.Series(True, index=table.index)
    if floors:
        above = pd.Series(False, index=table.index)
        for col in table.columns:
            f = floors.get(col, np.nan)
            above |= lower[col] > (f if math.isfinite(f) else -np.inf)
    out = pd.DataFrame({"parameter": table.index, "score": score.to_numpy(),
                        "best_outcome": best.to_numpy(), "above_noise": above.to_numpy()})
    out = out.sort_values(["score", "parameter"], ascending=[False, True]).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def select_for_sobol(ranking: pd.DataFrame, k: int) -> list[str]:
    """The top ``k`` of a screening ranking among parameters above the noise floor."""
    keep = ranking[ranking["above_noise"].astype(bool)]
    if len(keep) < 2:  # nothing stands out of the noise: take the top of the ranking anyway
        keep = ranking
    return list(keep["parameter"].head(k))


def morris_noise_floor(within_var: float, replications: int, num_levels: int) -> float:
    """The mu* a parameter without any effect scores from seed noise alone.

    An elementary effect is ``(y(x + delta) - y(x)) / delta`` with ``delta = p / (2 (p - 1))``
    on the unit scale (p levels). With no effect the difference is that of two independent
    means of ``R`` runs, normal with variance ``2 s^2 / R``, so ``E|EE| =
    sqrt(2 / pi) sqrt(2 s^2 / R) / delta``.

    Args:
        within_var: Seed variance of single runs (``noise.csv``'s ``within_var``).
        replications: Runs per design point (R).
        num_levels: Morris grid levels (p).
    """
    if not (math.isfinite(within_var) and within_var >= 0 and replications >= 1):
        return float("nan")
    delta = num_levels / (2.0 * (num_levels - 1))
    return math.sqrt(2.0 / math.pi) * math.sqrt(2.0 * within_var / replications) / delta


def pawn_floor(store: ResultStore, column: str, seed: int, draws: int = 20) -> float:
    """The PAWN index a parameter without effect scores on the study's design points.

    A parameter's column of the design, with its values moved between whole Saltelli blocks
    (or Morris trajectories) at random, stands in for a parameter without effect: it keeps the
    design's structure (within a block most rows share a parameter's value, so they fall into
    the same conditioning slide) but loses any link to the outcome. The median of its PAWN index
    over ``draws`` such columns is the level below which a parameter's PAWN index says nothing
    (Pianosi & Wagener 2015 judge PAWN against a dummy parameter).
    """
    spec = store.spec()
    points = store.points()
    D = len(spec.labels)
    s = spec.sampler
    step = {"sobol": (2 * D + 2) if s.calc_second_order else (D + 2),
            "morris": D + 1}.get(s.method, 1)
    results = store.read()
    ok = (results["error"] == "") & np.isfinite(results[column].to_numpy(float))
    means = results[ok].groupby("point")[column].mean().reindex(points["point"])
    y = means.to_numpy(float)
    U = points[[UNIT_PREFIX + lab for lab in spec.labels]].to_numpy(float)
    n_blocks = len(y) // step
    keep = np.isfinite(y[: n_blocks * step]).reshape(n_blocks, step).all(axis=1)
    if keep.sum() < 2 or np.nanvar(y) <= 0:
        return float("nan")
    yb = y[: n_blocks * step].reshape(n_blocks, step)[keep]
    Ub = U[: n_blocks * step].reshape(n_blocks, step, D)[keep]
    rng = np.random.default_rng(seed)
    values = []
    for k in range(draws):
        col = Ub[:, :, k % D][rng.permutation(len(Ub))]
        values.append(float(pawn_median(col.reshape(-1, 1), yb.ravel())[0]))
    return float(np.median(values))


# --------------------------------------------------------------------------------------------
# The population-size check and the cost of a run
# --------------------------------------------------------------------------------------------


def _default_scenario(config: StudyConfig, size: int) -> Any:
    _spec, base = load_spec(LEVERS_SPEC)
    overrides: dict[str, Any] = {"population.size": int(size), "population.mesa_agents": 0}
    if config.horizon_years is not None:
        overrides["horizon_years"] = float(config.horizon_years)
    return base.with_overrides(overrides, source="sensitivity population check")


def population_check(config: StudyConfig, progress: Callable[[str], None] | None = None
                     ) -> pd.DataFrame:
    """The default design at the reduced and the full population over the same seeds.

    Returns:
        One row per run: size, replication, seed, population change against the counterfactual
        at the horizon and at its middle.
    """
    from cisim.simulate import ensemble

    rows = []
    for size in config.check_sizes:
        if progress:
            progress(f"population check: {config.check_seeds} runs at {size}")
        sc = _default_scenario(config, size)
        ens = ensemble(sc, replications=config.check_seeds, seed=config.check_seed,
                       n_jobs=config.jobs)
        s = ens.summaries
        t = ens.trajectories
        mid = sc.horizon_years / 2
        for i, seed in enumerate(ens.seeds):
            ti = t[t["replication"] == i]
            step = int(np.argmin(np.abs(ti["year"].to_numpy() - mid)))
            rows.append({"size": int(size), "replication": i, "seed": int(seed),
                         "population_change": float(
                             s["population_change_vs_cf_final"].iloc[i]),
                         "population_change_mid": float(
                             ti["population_change_vs_cf"].iloc[step])})
    return pd.DataFrame(rows)


def compare_sizes(check: pd.DataFrame, column: str = "population_change",
                  resamples: int = 2000, seed: int = 1) -> dict[str, Any]:
    """Medians at the two sizes, their difference and a bootstrap 95% interval of it.

    The difference is within seed noise when its interval contains zero.
    """
    sizes = sorted(check["size"].unique())
    small, full = sizes[0], sizes[-1]
    a = check.loc[check["size"] == small, column].to_numpy(float)
    b = check.loc[check["size"] == full, column].to_numpy(float)
    rng = np.random.default_rng(seed)
    diffs = np.array([np.median(rng.choice(a, a.size)) - np.median(rng.choice(b, b.size))
                      for _ in range(resamples)])
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    diff = float(np.median(a) - np.median(b))
    return {"column": column, "small": int(small), "full": int(full), "runs": int(a.size),
            "median_small": float(np.median(a)), "median_full": float(np.median(b)),
            "sd_small": float(np.std(a, ddof=1)) if a.size > 1 else float("nan"),
            "sd_full": float(np.std(b, ddof=1)) if b.size > 1 else float("nan"),
            "difference": diff, "lower": float(lo), "upper": float(hi),
            "within_noise": bool(lo <= 0.0 <= hi)}


def sweep_population(config: StudyConfig) -> int:
    """The population size the study's sweeps run at."""
    spec = load_study_spec(LEVERS_SPEC, config)
    _, base = load_spec(LEVERS_SPEC)
    return int(spec.set.get("population.size", base.population.size))


def time_runs(config: StudyConfig) -> dict[str, Any]:
    """Seconds of one default run at each checked population size and at the sweeps' size.

    Returns:
        ``seconds``: size -> median CPU seconds (of this process, all its threads) of
        ``timed_runs`` runs after one warm-up run; ``wall_seconds``: the same in wall-clock
        time (longer on a busy machine); ``sweep_size``, ``horizon_years``, ``timed_runs``.
    """
    from cisim.simulate import simulate

    spec = load_study_spec(LEVERS_SPEC, config)
    _, base = load_spec(LEVERS_SPEC)
    sweep_size = sweep_population(config)
    seconds, wall_seconds = {}, {}
    for size in sorted({*config.check_sizes, sweep_size}):
        sc = base.with_overrides({**spec.set, "population.size": size},
                                 source="sensitivity timing")
        simulate(sc, config.check_seed)  # warm-up: compiled kernels, caches
        cpu, wall = [], []
        for i in range(config.timed_runs):
            c0, t0 = time.process_time(), time.perf_counter()
            simulate(sc, config.check_seed + 1 + i)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - t0)
        seconds[str(size)] = float(np.median(cpu))
        wall_seconds[str(size)] = float(np.median(wall))
    return {"seconds": seconds, "wall_seconds": wall_seconds, "sweep_size": sweep_size,
            "timed_runs": config.timed_runs, "horizon_years": sc.horizon_years}


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


@dataclass
class Paths:
    """Where the study keeps its parts under the output directory."""

    out: Path

    @property
    def popcheck(self) -> Path:
        return self.out / "popcheck.csv"

    @property
    def cost(self) -> Path:
        return self.out / "cost.json"

    @property
    def timings(self) -> Path:
        return self.out / "timings.json"

    @property
    def config(self) -> Path:
        return self.out / "config.json"

    def store(self, name: str) -> Path:
        return self.out / name

    def analysis(self, name: str) -> Path:
        return self.out / name / "analysis"


STORES = ("levers", "assumptions_morris", "assumptions_sobol")


def run_study(out: str | Path, config: StudyConfig, study: StudyName = "all", *,
              resume: bool = False, progress: Callable[[str], None] | None = None,
              bar: bool = False) -> Paths:
    """Run (or resume) the chosen parts of the study into ``out`` and analyse them.

    Args:
        out: The output directory.
        config: Sizes and settings.
        study: ``levers``, ``assumptions``, ``all`` or ``check`` (population check and
            timing only; they run before every study).
        resume: Continue the stores an interrupted run left; without it an existing store is
            an error (:class:`cisim.sweep.StoreError`).
        progress: Called with a line of text at each step.
        bar: A progress bar for each sweep.

    Returns:
        The study's paths.
    """
    paths = Paths(Path(out))
    paths.out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _msg: None)
    stored = json.loads(paths.config.read_text()) if paths.config.exists() else None
    mine = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()
            if k != "jobs"}
    if stored is not None and stored != mine:
        raise StudyError(f"{paths.out} holds a study run with other settings (quick and full "
                         "runs cannot share a directory); use another --out")
    names = {"levers": ["levers"], "assumptions": ["assumptions_morris", "assumptions_sobol"],
             "all": list(STORES), "check": []}[study]
    taken = [n for n in names if ResultStore(paths.store(n)).exists()]
    if taken and not resume:
        raise StudyError(f"{paths.out} already holds {', '.join(taken)}; continue with --resume "
                         "or choose another --out")
    write_text_atomic(paths.config, json.dumps(mine, indent=1))

    if not (resume and paths.popcheck.exists()):
        check = population_check(config, say)
        write_atomic(paths.popcheck, lambda p: check.to_csv(p, index=False))
    if not (resume and paths.cost.exists()):
        say("timing one run")
        write_text_atomic(paths.cost, json.dumps(time_runs(config), indent=1))
    if study in ("levers", "all"):
        spec = load_study_spec(LEVERS_SPEC, config)
        _sweep_and_analyse(paths, "levers", spec, config, resume, say, bar)
    if study in ("assumptions", "all"):
        spec = load_study_spec(ASSUMPTIONS_SPEC, config)
        _sweep_and_analyse(paths, "assumptions_morris", spec, config, resume, say, bar)
        ranking = morris_ranking(paths, config)
        write_atomic(paths.analysis("assumptions_morris") / "ranking.csv",
                     lambda p: ranking.to_csv(p, index=False))
        selected = select_for_sobol(ranking, config.top_k)
        if not selected:
            raise StudyError("the screening found no outcome that varies between its design "
                             f"points (see {paths.analysis('assumptions_morris')}/runs.csv): "
                             "nothing to select for the Sobol step")
        stage = sobol_stage_spec(spec, selected, config.sobol_n)
        if config.replications is not None:
            stage = stage.model_copy(update={"replications": config.replications})
        _sweep_and_analyse(paths, "assumptions_sobol", stage, config, resume, say, bar)
    return paths


def _sweep_and_analyse(paths: Paths, name: str, spec: SweepSpec, config: StudyConfig,
                       resume: bool, say: Callable[[str], None], bar: bool) -> None:
    store_dir = paths.store(name)
    store = ResultStore(store_dir)
    say(f"{name}: {runs_of(spec)} runs ({len(store.done()) if store.exists() else 0} stored)")
    t0 = time.perf_counter()
    run_sweep(spec, store_dir, resume=resume and store.exists(), jobs=config.jobs,
              progress=bar or None)
    _add_time(paths, name, time.perf_counter() - t0)
    say(f"{name}: analysing")
    a = analyze(store, num_resamples=config.num_resamples, seed=config.bootstrap_seed)
    outdir = paths.analysis(name)
    a.write(outdir, figures=False)
    extra = []
    conv = []
    for o in OUTCOMES:
        col = outcome_columns(config).get(o.key, o.key)
        if col not in set(a.indices["outcome"]):
            continue
        if spec.sampler.method == "sobol":
            c = sobol_convergence(store, col, num_resamples=config.num_resamples,
                                  seed=config.bootstrap_seed)
            c.insert(0, "outcome", col)
            conv.append(c)
        extra.append({"outcome": col, "pawn_floor": pawn_floor(
            store, col, config.bootstrap_seed)})
    if conv:
        table = pd.concat(conv, ignore_index=True)
        write_atomic(outdir / "convergence.csv", lambda p: table.to_csv(p, index=False))
        verdict = convergence_verdict(table)
        write_atomic(outdir / "convergence_verdict.csv",
                     lambda p: verdict.to_csv(p, index=False))
    dummy = None
    if spec.sampler.method == "morris" and DUMMY in spec.labels:
        from cisim.sweep.spec import check_spec

        base = check_spec(spec)
        if base is not None and base.partner_generation.champions == 0:
            dummy = DUMMY
    floors = pd.DataFrame(extra, columns=["outcome", "pawn_floor"])
    write_atomic(outdir / "pawn_floor.csv", lambda p: floors.to_csv(p, index=False))
    write_text_atomic(outdir / "spec.json", json.dumps(
        {"name": spec.name, "method": spec.sampler.method, "n": spec.sampler.n,
         "num_levels": spec.sampler.num_levels, "replications": spec.replications,
         "parameters": spec.labels, "runs": runs_of(spec), "set": spec.set, "dummy": dummy,
         "discovery": spec.discovery.model_dump() if spec.discovery else None}, indent=1))


def morris_ranking(paths: Paths, config: StudyConfig) -> pd.DataFrame:
    """The screening ranking with each outcome's noise floor (from the stored analysis)."""
    adir = paths.analysis("assumptions_morris")
    idx = pd.read_csv(adir / "indices.csv")
    noise = pd.read_csv(adir / "noise.csv")
    meta = json.loads((adir / "spec.json").read_text())
    floors = morris_floors(noise, meta["replications"], meta["num_levels"])
    cols = [c for c in outcome_columns(config).values() if c in set(idx["outcome"])]
    ranking = screening_ranking(idx, cols, floors)
    return ranking


def morris_floors(noise: pd.DataFrame, replications: int, num_levels: int) -> dict[str, float]:
    """Per outcome, :func:`morris_noise_floor` from a noise table."""
    return {r.outcome: morris_noise_floor(float(r.within_var), replications, num_levels)
            for r in noise.itertuples()}


def _add_time(paths: Paths, name: str, seconds: float) -> None:
    data = json.loads(paths.timings.read_text()) if paths.timings.exists() else {}
    data[name] = float(data.get(name, 0.0)) + seconds
    write_text_atomic(paths.timings, json.dumps(data, indent=1))


def planned_runs(config: StudyConfig) -> dict[str, int]:
    """Runs each sweep of the study makes under ``config`` (the Sobol step: top_k parameters)."""
    lev = load_study_spec(LEVERS_SPEC, config)
    mor = load_study_spec(ASSUMPTIONS_SPEC, config)
    k = min(config.top_k, len(mor.parameters))
    stage = sobol_stage_spec(mor, [p.label for p in mor.parameters[:k]], config.sobol_n)
    if config.replications is not None:
        stage = stage.model_copy(update={"replications": config.replications})
    return {"levers": runs_of(lev), "assumptions_morris": runs_of(mor),
            "assumptions_sobol": runs_of(stage)}

