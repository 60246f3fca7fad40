"""Sensitivity analysis of a sweep store with SALib, per outcome and over time.

For each outcome the runs are first checked: runs that raised (``error``) and runs whose value is
not finite are counted per outcome and never passed to SALib. Seed noise is separated from
parameter effects with the replications: the indices are computed on each design point's mean
over its finite replications, and the noise table reports how much of the run-to-run variance is
between-replication (seed) noise and how much of it is left in the analysed means.

Design points without any finite run are removed in a way the estimator tolerates: a whole
Saltelli block for Sobol (its A, AB_i and B rows), a whole trajectory for Morris, single rows for
RBD-FAST, Latin hypercube and factorial designs; FAST's frequency design cannot lose points, so an
outcome with such points is reported and skipped. Indices: Sobol first, total and second order
(Saltelli et al. 2010), Morris mu*, mu, sigma (Campolongo et al. 2007), FAST (Saltelli et al.
1999), RBD-FAST (Tarantola et al. 2006) with SALib's bootstrap confidence intervals; factorial
designs get main-effect shares (correlation ratio eta^2) with bootstrap intervals. Every design
also gets PAWN's moment-independent index (Pianosi & Wagener 2015; the median Kolmogorov-Smirnov
distance over conditioning slides, with bootstrap intervals over design points), which stays
meaningful for zero-inflated and threshold-like outcomes where variance-based indices mislead.
:func:`sobol_convergence` recomputes Sobol indices on the leading quarter and half of a Saltelli
design (themselves valid Saltelli designs) to show whether the indices have settled. SALib:
Herman & Usher 2017, Iwanaga et al. 2022. SALib treats a bootstrap seed of 0 as "no seed", so the
seed here must be positive.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cisim.io import write_atomic
from cisim.sweep.samplers import UNIT_PREFIX, salib_problem
from cisim.sweep.spec import Discovery, SweepSpec
from cisim.sweep.store import ResultStore, trajectory_groups

__all__ = ["SweepAnalysis", "analysis_owned", "analyze", "pawn_indices", "sobol_convergence"]

#: The tables :meth:`SweepAnalysis.write` writes: (file name, attribute).
TABLES = (("indices.csv", "indices"), ("indices_over_time.csv", "over_time"),
          ("second_order.csv", "second_order"), ("runs.csv", "runs"), ("noise.csv", "noise"))

#: Conditioning slides of the PAWN index (SALib's default; Pianosi & Wagener 2015 use 10).
PAWN_SLIDES = 10


@dataclass
class SweepAnalysis:
    """The analysis of a sweep.

    Attributes:
        spec: The sweep spec.
        method: The SALib analysis used (sobol, morris, fast, rbd_fast, main_effects).
        indices: Scalar outcomes' indices: outcome, parameter, index, value, conf, lower, upper.
        over_time: Trajectory outcomes' indices per time: as ``indices`` plus ``time``.
        second_order: Sobol second-order indices (outcome, parameter, other, value, conf).
        runs: Per outcome (and time): runs, failed, nan, points used and dropped, note.
        noise: Per outcome: replications, variances and the share that is seed noise.
        discovery: Scenario discovery result, when a threshold was given.
    """

    spec: SweepSpec
    method: str
    indices: pd.DataFrame
    over_time: pd.DataFrame
    second_order: pd.DataFrame
    runs: pd.DataFrame
    noise: pd.DataFrame
    discovery: Any = None
    files: list[Path] = field(default_factory=list)

    def write(self, outdir: str | Path, figures: bool = True) -> list[Path]:
        """Write the tables as CSV and the figures as PNG (atomically); return the paths."""
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, attr in TABLES:
            frame = getattr(self, attr)
            p = outdir / name
            write_atomic(p, lambda t, f=frame: f.to_csv(t, index=False))
            paths.append(p)
        if self.discovery is not None:
            paths += self.discovery.write(outdir)
        if figures:
            from cisim.sweep.figures import save_analysis_figures

            paths += save_analysis_figures(self, outdir)
        self.files = paths
        return paths


def analysis_owned(name: str) -> bool:
    """Whether a file (relative POSIX name) is one :meth:`SweepAnalysis.write` writes."""
    from cisim.sweep.discovery import DISCOVERY_FILES
    from cisim.sweep.figures import is_analysis_figure

    return (name in {t for t, _ in TABLES} or name in DISCOVERY_FILES
            or is_analysis_figure(name))


def analyze(
    store: ResultStore | str | Path,
    *,
    outcomes: list[str] | None = None,
    discovery: Discovery | dict[str, Any] | None = None,
    num_resamples: int = 200,
    conf_level: float = 0.95,
    seed: int = 1,
    over_time: bool = True,
) -> SweepAnalysis:
    """Analyse a sweep store.

    Args:
        store: The store (or its directory).
        outcomes: Scalar outcome columns and trajectory names to analyse (default: all).
        discovery: A threshold for scenario discovery (default: the spec's ``[discovery]``).
        num_resamples: Bootstrap resamples of the confidence intervals.
        conf_level: Confidence level of the intervals.
        seed: Seed of the bootstrap (positive: SALib reads 0 as "no seed").
        over_time: Also analyse trajectory outcomes at each time.

    Returns:
        The indices, run counts, noise shares and (optionally) discovery.

    Raises:
        ValueError: The seed is not positive, or an outcome is unknown.
    """
    if seed <= 0:
        raise ValueError(f"the bootstrap seed must be positive (SALib reads 0 as no seed), "
                         f"got {seed}")
    if not isinstance(store, ResultStore):
        store = ResultStore(store)
    spec = store.spec()
    points = store.points()
    results = store.read()
    cols = [c for c in results.columns if c not in ("point", "replication", "seed", "error")]
    groups = trajectory_groups(cols)
    in_group = {c for g in groups.values() for _, c in g}
    declared_scalars = set(spec.outcomes.scalars) | {"significant_change_reached"}
    scalars = [c for c in cols if c not in in_group or c in declared_scalars]
    if spec.base is not None:
        groups = {k: v for k, v in groups.items() if k in spec.outcomes.trajectories}
    if outcomes is not None:
        unknown = [o for o in outcomes if o not in scalars and o not in groups]
        if unknown:
            raise ValueError(f"unknown outcome(s) {unknown}; the store has {scalars} and "
                             f"trajectories {sorted(groups)}")
        scalars = [c for c in scalars if c in outcomes]
        groups = {k: v for k, v in groups.items() if k in outcomes}

    engine = _Engine(spec, points, num_resamples, conf_level, seed)
    idx_rows: list[dict[str, Any]] = []
    s2_rows: list[dict[str, Any]] = []
    run_rows: list[dict[str, Any]] = []
    noise_rows: list[dict[str, Any]] = []
    for c in scalars:
        idx, s2, counts = engine.one(results, c)
        idx_rows += [{"outcome": c, **r} for r in idx]
        s2_rows += [{"outcome": c, **r} for r in s2]
        run_rows.append({"outcome": c, "time": np.nan, **counts})
        noise_rows.append({"outcome": c, **_noise(results, c)})
    time_rows: list[dict[str, Any]] = []
    if over_time:
        for name, members in groups.items():
            for t, c in members:
                idx, _, counts = engine.one(results, c, pawn=False)  # scalars only: cost
                time_rows += [{"outcome": name, "time": t, **r} for r in idx]
                run_rows.append({"outcome": name, "time": t, **counts})
                noise_rows.append({"outcome": c, **_noise(results, c)})
    idx_cols = ["outcome", "parameter", "index", "value", "conf", "lower", "upper"]
    disc = None
    if discovery is None and spec.discovery is not None:
        discovery = spec.discovery
    if discovery is not None:
        from cisim.sweep.discovery import discover

        d = discovery if isinstance(discovery, Discovery) else Discovery.model_validate(discovery)
        disc = discover(store, d, results=results, points=points)
    return SweepAnalysis(
        spec=spec,
        method=engine.method,
        indices=pd.DataFrame(idx_rows, columns=idx_cols),
        over_time=pd.DataFrame(time_rows, columns=["outcome", "time", *idx_cols[1:]]),
        second_order=pd.DataFrame(s2_rows, columns=["outcome", "parameter", "other", "value",
                                                    "conf"]),
        runs=pd.DataFrame(run_rows, columns=["outcome", "time", "runs", "failed", "nan",
                                             "points_used", "points_dropped", "note"]),
        noise=pd.DataFrame(noise_rows, columns=["outcome", "replications", "total_var",
                                                "within_var", "between_var", "noise_share",
                                                "noise_share_of_means"]),
        discovery=disc,
    )


# --------------------------------------------------------------------------------------------
# Per-outcome analysis
# --------------------------------------------------------------------------------------------


class _Engine:
    def __init__(self, spec: SweepSpec, points: pd.DataFrame, num_resamples: int,
                 conf_level: float, seed: int):
        self.spec = spec
        self.problem = salib_problem(spec)
        self.labels = spec.labels
        self.D = len(self.labels)
        self.U = points[[UNIT_PREFIX + lab for lab in self.labels]].to_numpy(dtype=float)
        self.P = len(points)
        self.num_resamples = num_resamples
        self.conf_level = conf_level
        self.seed = seed
        m = spec.sampler.method
        self.method = {"latin": "rbd_fast", "factorial": "main_effects"}.get(m, m)

    def point_means(self, results: pd.DataFrame, col: str) -> tuple[np.ndarray, dict[str, Any]]:
        failed = results["error"] != ""
        values = results[col].to_numpy(dtype=float)
        finite = np.isfinite(values) & ~failed.to_numpy()
        counts = {
            "runs": len(results),
            "failed": int(failed.sum()),
            "nan": int((~failed.to_numpy() & ~np.isfinite(values)).sum()),
        }
        sums = np.bincount(results["point"].to_numpy()[finite], weights=values[finite],
                           minlength=self.P)
        n = np.bincount(results["point"].to_numpy()[finite], minlength=self.P)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(n > 0, sums / np.maximum(n, 1), np.nan)
        return means, counts

    def one(self, results: pd.DataFrame, col: str, pawn: bool = True
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        Y, counts = self.point_means(results, col)
        keep = self._keep(Y)
        counts["points_used"] = int(keep.sum()) if keep is not None else 0
        counts["points_dropped"] = self.P - counts["points_used"]
        counts["note"] = ""
        if keep is None:
            counts["note"] = "FAST cannot use a design with missing points; skipped"
            return [], [], counts
        y = Y[keep]
        if y.size < 2 or not np.isfinite(y).all():
            counts["note"] = "too few finite design points"
            return [], [], counts
        if np.nanvar(y) <= 1e-300:
            counts["note"] = "constant outcome: indices undefined"
            return [], [], counts
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                idx, s2 = self._salib(self.U[keep], y, pawn)
            except (ValueError, ZeroDivisionError, IndexError) as err:
                counts["note"] = f"analysis failed: {err}"
                return [], [], counts
        return idx, s2, counts

    def _keep(self, Y: np.ndarray) -> np.ndarray | None:
        ok = np.isfinite(Y)
        m = self.spec.sampler.method
        if m == "sobol":
            step = 2 * self.D + 2 if self.spec.sampler.calc_second_order else self.D + 2
            blocks = ok.reshape(-1, step).all(axis=1)
            return np.repeat(blocks, step)
        if m == "morris":
            step = self.D + 1
            blocks = ok.reshape(-1, step).all(axis=1)
            return np.repeat(blocks, step)
        if m == "fast":
            return ok if ok.all() else None
        return ok

    def _salib(self, X: np.ndarray, y: np.ndarray, pawn: bool = True
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        s = self.spec.sampler
        kw = {"num_resamples": self.num_resamples, "conf_level": self.conf_level,
              "seed": self.seed}
        rows: list[dict[str, Any]] = []
        s2_rows: list[dict[str, Any]] = []
        if self.method == "sobol":
            from SALib.analyze import sobol

            res = sobol.analyze(self.problem, y, calc_second_order=s.calc_second_order, **kw)
            rows += self._rows(res, ["S1", "ST"])
            if s.calc_second_order:
                for i in range(self.D):
                    for j in range(i + 1, self.D):
                        s2_rows.append({"parameter": self.labels[i], "other": self.labels[j],
                                        "value": float(res["S2"][i, j]),
                                        "conf": float(res["S2_conf"][i, j])})
        elif self.method == "morris":
            from SALib.analyze import morris

            res = morris.analyze(self.problem, X, y, num_levels=s.num_levels, **kw)
            rows += self._rows(res, ["mu_star", "mu", "sigma"],
                               conf={"mu_star": "mu_star_conf"})
        elif self.method == "fast":
            from SALib.analyze import fast

            res = fast.analyze(self.problem, y, M=s.m, **kw)
            rows += self._rows(res, ["S1", "ST"])
        elif self.method == "rbd_fast":
            from SALib.analyze import rbd_fast

            res = rbd_fast.analyze(self.problem, X, y, **kw)
            rows += self._rows(res, ["S1"])
        else:
            rows += self._main_effects(X, y)
        if pawn:
            rows += pawn_indices(X, y, self.labels, self.num_resamples, self.conf_level,
                                 self.seed)
        return rows, s2_rows

    def _rows(self, res: Any, names: list[str], conf: dict[str, str] | None = None
              ) -> list[dict[str, Any]]:
        conf = conf or {}
        out = []
        for name in names:
            values = np.asarray(res[name], dtype=float)
            ckey = conf.get(name, f"{name}_conf")
            confs = np.asarray(res[ckey], dtype=float) if ckey in res else np.full(self.D, np.nan)
            for j, lab in enumerate(self.labels):
                v, c = float(values[j]), float(confs[j])
                out.append({"parameter": lab, "index": name, "value": v, "conf": c,
                            "lower": v - c, "upper": v + c})
        return out

    def _main_effects(self, X: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
        """Correlation ratio eta^2 = Var(E[Y | X_i]) / Var(Y) per parameter, bootstrap CI."""
        rng = np.random.default_rng(self.seed)
        z = stats.norm.ppf(0.5 + self.conf_level / 2)
        out = []
        for j, lab in enumerate(self.labels):
            codes = np.unique(X[:, j], return_inverse=True)[1]
            est = _eta2(codes, y)
            boots = []
            for _ in range(self.num_resamples):
                r = rng.integers(0, len(y), len(y))
                boots.append(_eta2(codes[r], y[r]))
            c = float(z * np.nanstd(boots, ddof=1))
            out.append({"parameter": lab, "index": "S1", "value": est, "conf": c,
                        "lower": est - c, "upper": est + c})
        return out


def pawn_indices(X: np.ndarray, y: np.ndarray, labels: list[str], num_resamples: int = 200,
                 conf_level: float = 0.95, seed: int = 1, slides: int = PAWN_SLIDES
                 ) -> list[dict[str, Any]]:
    """PAWN's median KS index per parameter with a bootstrap interval over design points.

    Args:
        X: (n, D) the parameters in unit space.
        y: (n,) the outcome.
        labels: The parameters' names.
        num_resamples: Bootstrap resamples (0: no interval).
        conf_level: Level of the percentile interval.
        seed: Seed of the slides' and the bootstrap's draws (positive).
        slides: Conditioning slides per parameter.

    Returns:
        Rows with ``index = "PAWN"``: value, conf (half-width of a normal bootstrap interval),
        lower and upper. A parameter that does nothing still scores about the KS distance of
        two samples of its slide's size (~0.06 for 200 points a slide): compare with a dummy.
    """
    def median(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return pawn_median(xs, ys, slides)

    est = median(X, y)
    rng = np.random.default_rng(seed)
    boots = np.array([median(X[r], y[r]) for r in
                      (rng.integers(0, len(y), len(y)) for _ in range(num_resamples))])
    # Normal interval from the bootstrap spread: resampling with replacement adds ties that
    # bias the KS distance upward, so percentile intervals can miss the estimate itself.
    z = stats.norm.ppf(0.5 + conf_level / 2)
    out = []
    for j, lab in enumerate(labels):
        c = float(z * np.nanstd(boots[:, j], ddof=1)) if len(boots) > 1 else float("nan")
        v = float(est[j])
        out.append({"parameter": lab, "index": "PAWN", "value": v, "conf": c,
                    "lower": v - c, "upper": v + c})
    return out


def pawn_median(X: np.ndarray, y: np.ndarray, slides: int = PAWN_SLIDES) -> np.ndarray:
    """The median over slides of the KS distance between conditional and unconditional outputs.

    The same statistic as ``SALib.analyze.pawn`` (its slides: ``x`` between consecutive
    quantiles, upper end excluded; scipy's two-sample KS statistic), computed from one sort of
    the outputs and cumulative counts per slide instead of a KS test per slide: fast enough to
    bootstrap. Tested equal to SALib's.
    """
    n, D = X.shape
    order = np.argsort(y, kind="stable")
    ys = y[order]
    last = np.r_[ys[1:] != ys[:-1], True]  # the ECDFs are compared at the end of each tie run
    f_all = (np.arange(1, n + 1) / n)[last]
    edges = np.linspace(0.0, 1.0, slides + 1)
    out = np.full(D, np.nan)
    for d in range(D):
        x = X[:, d]
        q = np.nanquantile(x, edges)
        member = (x[order][:, None] >= q[None, :-1]) & (x[order][:, None] < q[None, 1:])
        counts = member.sum(axis=0)
        used = counts > 0
        if not used.any():
            continue
        cdf = np.cumsum(member[:, used], axis=0)[last] / counts[used]
        out[d] = np.median(np.abs(cdf - f_all[:, None]).max(axis=0))
    return out


def sobol_convergence(store: ResultStore | str | Path, outcome: str,
                      fractions: tuple[float, ...] = (0.25, 0.5, 1.0), num_resamples: int = 200,
                      conf_level: float = 0.95, seed: int = 1) -> pd.DataFrame:
    """Sobol indices of one scalar outcome on the leading blocks of a Saltelli design.

    The first ``k`` base rows of a (scrambled) Sobol sequence are themselves a valid Saltelli
    design, so the indices at ``N/4``, ``N/2`` and ``N`` show whether the estimates have settled
    (Saltelli et al. 2008, Global Sensitivity Analysis: The Primer). Sizes are rounded down to
    powers of two.

    Returns:
        Rows: n (base sample size), parameter, index (S1 or ST), value, conf.
    """
    if not isinstance(store, ResultStore):
        store = ResultStore(store)
    spec = store.spec()
    if spec.sampler.method != "sobol":
        raise ValueError("a convergence check needs a Sobol (Saltelli) design")
    points = store.points()
    engine = _Engine(spec, points, num_resamples, conf_level, seed)
    Y, _ = engine.point_means(store.read(), outcome)
    step = (2 * engine.D + 2) if spec.sampler.calc_second_order else (engine.D + 2)
    n_base = len(Y) // step
    from SALib.analyze import sobol

    rows = []
    for frac in fractions:
        n = 1 << max(0, int(np.floor(np.log2(max(1, int(n_base * frac))))))
        y = Y[: n * step]
        blocks = np.isfinite(y).reshape(-1, step).all(axis=1)
        y = y.reshape(-1, step)[blocks].ravel()
        if y.size < 2 * step or np.nanvar(y) <= 1e-300:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sobol.analyze(engine.problem, y, calc_second_order=spec.sampler.calc_second_order,
                                num_resamples=num_resamples, conf_level=conf_level, seed=seed)
        for name in ("S1", "ST"):
            for j, lab in enumerate(engine.labels):
                rows.append({"n": n, "parameter": lab, "index": name,
                             "value": float(res[name][j]), "conf": float(res[f"{name}_conf"][j])})
    return pd.DataFrame(rows, columns=["n", "parameter", "index", "value", "conf"])


def _eta2(codes: np.ndarray, y: np.ndarray) -> float:
    var = y.var()
    if var <= 0:
        return float("nan")
    n = np.bincount(codes)
    sums = np.bincount(codes, weights=y)
    used = n > 0
    means = sums[used] / n[used]
    return float((n[used] * (means - y.mean()) ** 2).sum() / len(y) / var)


def _noise(results: pd.DataFrame, col: str) -> dict[str, Any]:
    """How much of the variance of an outcome is seed noise (between replications)."""
    ok = (results["error"] == "") & np.isfinite(results[col].to_numpy(dtype=float))
    frame = results.loc[ok, ["point", col]]
    reps = int(results["replication"].max() + 1) if len(results) else 0
    out = {"replications": reps, "total_var": np.nan, "within_var": np.nan,
           "between_var": np.nan, "noise_share": np.nan, "noise_share_of_means": np.nan}
    if len(frame) < 2:
        return out
    total = float(frame[col].var(ddof=1))
    g = frame.groupby("point")[col]
    means = g.mean()
    out["total_var"] = total
    out["between_var"] = float(means.var(ddof=1)) if len(means) > 1 else np.nan
    if reps >= 2:
        within = g.var(ddof=1).dropna()
        n_per = g.count()
        if len(within):
            w = float(within.mean())
            out["within_var"] = w
            if total > 0:
                out["noise_share"] = min(1.0, w / total)
            b = out["between_var"]
            if b and np.isfinite(b) and b > 0:
                out["noise_share_of_means"] = min(1.0, w / float(n_per.mean()) / b)
    return out
