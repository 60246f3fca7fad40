"""Scenario discovery: where in the parameter space does the outcome clear a threshold?

A design point is *of interest* when the share of its (finite) replications whose outcome clears
the user's threshold (``outcome > above`` or ``outcome < below``) is at least ``probability``,
e.g. population change above 5 points at year 10 in at least 80% of replications. Three views:

- PRIM boxes (Friedman & Fisher 1999) through EMA Workbench's maintained implementation
  (``ema_workbench.analysis.prim``, Kwakkel 2017: peeling and pasting, coverage, density, quasi-p
  values), used on plain DataFrames. Of the peeling trajectory, the box kept is the one with the
  highest coverage whose density reaches ``min_density`` (the most-restricted box when none does);
  the whole trajectory is kept for the coverage/density trade-off figure.
- A decision tree (CART, scikit-learn ``DecisionTreeClassifier``, Breiman et al. 1984) whose
  leaves of interest read as alternative boxes.
- Feature scores: extra-trees impurity importances (Geurts et al. 2006) and mutual information.

Runs that failed or gave NaN are left out of the shares; points with no finite run are left out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cisim.io import write_atomic, write_text_atomic
from cisim.sweep.spec import Discovery
from cisim.sweep.store import ResultStore

__all__ = ["DISCOVERY_FILES", "DiscoveryResult", "discover", "prim_box", "score_features",
           "tree_boxes"]

#: The tables :meth:`DiscoveryResult.write` writes: (file name, attribute).
_TABLES = (("discovery_points.csv", "points"), ("prim_trajectory.csv", "prim_trajectory"),
           ("prim_box.csv", "prim_box"), ("tree_boxes.csv", "tree_boxes"),
           ("feature_scores.csv", "feature_scores"))
#: The rule, the note and the tree in words.
_TEXT = "discovery.txt"
#: Every file :meth:`DiscoveryResult.write` writes.
DISCOVERY_FILES = frozenset({name for name, _ in _TABLES} | {_TEXT})


@dataclass
class DiscoveryResult:
    """The result of scenario discovery for one threshold.

    Attributes:
        rule: The threshold in words.
        points: One row per design point: parameters, ``p_success``, ``of_interest``.
        prim_trajectory: PRIM's peeling trajectory (coverage, density, mass, res_dim).
        prim_selected: Row of the trajectory chosen as the box.
        prim_box: Per parameter: lower, upper, full_lower, full_upper, restricted, qp values.
        tree_boxes: The tree's leaves of interest: rule, coverage, density, mass, n.
        tree_text: The fitted tree as text.
        feature_scores: Per parameter: extra_trees, mutual_info (sorted, highest first).
        note: Why an analysis was not possible (e.g. no point of interest).
    """

    rule: str
    points: pd.DataFrame
    prim_trajectory: pd.DataFrame = field(default_factory=pd.DataFrame)
    prim_selected: int = -1
    prim_box: pd.DataFrame = field(default_factory=pd.DataFrame)
    tree_boxes: pd.DataFrame = field(default_factory=pd.DataFrame)
    tree_text: str = ""
    feature_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    note: str = ""

    def write(self, outdir: str | Path) -> list[Path]:
        """Write the discovery tables (CSV) and the tree (text) atomically."""
        outdir = Path(outdir)
        paths = []
        for name, attr in _TABLES:
            frame = getattr(self, attr)
            p = outdir / name
            write_atomic(p, lambda t, f=frame: f.to_csv(t, index=False))
            paths.append(p)
        p = outdir / _TEXT
        write_text_atomic(p, f"{self.rule}\n{self.note}\n\n{self.tree_text}")
        paths.append(p)
        return paths


def discover(
    store: ResultStore | str | Path,
    threshold: Discovery | dict[str, Any],
    *,
    min_density: float = 0.8,
    mass_min: float = 0.05,
    tree_depth: int = 3,
    seed: int = 0,
    results: pd.DataFrame | None = None,
    points: pd.DataFrame | None = None,
) -> DiscoveryResult:
    """Find the regions of the parameter space where the outcome clears the threshold.

    Args:
        store: The sweep store.
        threshold: Outcome, ``above`` or ``below``, and the ``probability`` over replications.
        min_density: Density the chosen PRIM box should reach.
        mass_min: PRIM's smallest box (share of points).
        tree_depth: Depth of the decision tree.
        seed: Seed of the tree ensembles and mutual information.
        results: The store's runs (read when None).
        points: The store's design points (read when None).

    Returns:
        PRIM box and trajectory, tree boxes and feature scores.
    """
    if not isinstance(store, ResultStore):
        store = ResultStore(store)
    th = threshold if isinstance(threshold, Discovery) else Discovery.model_validate(threshold)
    spec = store.spec()
    results = store.read() if results is None else results
    points = store.points() if points is None else points
    if th.outcome not in results.columns:
        cols = [c for c in results.columns if c not in ("point", "replication", "seed", "error")]
        raise ValueError(f"discovery: unknown outcome '{th.outcome}'; the store has {cols}")
    op, level = (">", th.above) if th.above is not None else ("<", th.below)
    rule = (f"{th.outcome} {op} {level:g} in at least {th.probability:.0%} of replications")
    values = results[th.outcome].to_numpy(dtype=float)
    ok = (results["error"] == "").to_numpy() & np.isfinite(values)
    hit = (values > level) if op == ">" else (values < level)
    frame = pd.DataFrame({"point": results["point"][ok], "hit": hit[ok]})
    share = frame.groupby("point")["hit"].mean()
    labels = spec.labels
    pts = points[["point", *labels]].merge(share.rename("p_success"), left_on="point",
                                           right_index=True, how="inner")
    pts["of_interest"] = pts["p_success"] >= th.probability - 1e-12
    pts = pts.reset_index(drop=True)
    out = DiscoveryResult(rule=rule, points=pts)
    y = pts["of_interest"].to_numpy()
    if len(y) == 0 or y.all() or not y.any():
        out.note = (f"{int(y.sum())} of {len(y)} design points are of interest: no region to "
                    "describe")
        return out
    X = pts[labels]
    out.prim_trajectory, out.prim_selected, out.prim_box = prim_box(
        X, y, min_density=min_density, mass_min=mass_min)
    out.tree_boxes, out.tree_text = tree_boxes(X, y, depth=tree_depth, seed=seed)
    out.feature_scores = score_features(X, y, seed=seed)
    return out


def _numeric(X: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[Any]]]:
    """Categorical columns as integer codes (for scikit-learn), with their categories."""
    Xn = X.copy()
    cats: dict[str, list[Any]] = {}
    for c in X.columns:
        if X[c].dtype == bool:
            Xn[c] = X[c].astype(int)
        elif not pd.api.types.is_numeric_dtype(X[c]):
            codes, uniques = pd.factorize(X[c], sort=True)
            Xn[c] = codes
            cats[c] = list(uniques)
    return Xn.astype(float), cats


def prim_box(
    X: pd.DataFrame, y: np.ndarray, *, min_density: float = 0.8, mass_min: float = 0.05
) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """One PRIM box with EMA Workbench; return the trajectory, the chosen row and the box."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim as ema_prim

        Xp = X.copy()
        for c in Xp.columns:
            if Xp[c].dtype == bool:
                Xp[c] = Xp[c].astype(str)
            elif pd.api.types.is_integer_dtype(Xp[c]):
                Xp[c] = Xp[c].astype(np.int64)
            elif pd.api.types.is_float_dtype(Xp[c]):
                Xp[c] = Xp[c].astype(np.float64)
        p = ema_prim.Prim(Xp.reset_index(drop=True), np.asarray(y, dtype=int),
                          mass_min=mass_min)
        box = p.find_box()
    traj = box.peeling_trajectory[["id", "coverage", "density", "mass", "res_dim", "n", "k"]
                                  ].copy()
    good = traj.index[traj["density"] >= min_density - 1e-12]
    chosen = int(good[0]) if len(good) else int(traj["density"].idxmax())
    lims = box.box_lims[chosen]
    init = p.box_init
    qp = box.p_values[chosen] if chosen < len(box.p_values) else {}
    rows = []
    for c in X.columns:
        lo, hi = lims[c].iloc[0], lims[c].iloc[1]
        flo, fhi = init[c].iloc[0], init[c].iloc[1]
        if isinstance(lo, set) or isinstance(init[c].iloc[0], set):
            kept = sorted(map(str, lims[c].iloc[0]))
            full = sorted(map(str, init[c].iloc[0]))
            rows.append({"parameter": c, "lower": np.nan, "upper": np.nan, "values": " ".join(
                kept), "full_lower": np.nan, "full_upper": np.nan, "restricted": kept != full,
                "qp_lower": np.nan, "qp_upper": np.nan})
            continue
        q = qp.get(c, (np.nan, np.nan)) if isinstance(qp, dict) else (np.nan, np.nan)
        rows.append({"parameter": c, "lower": float(lo), "upper": float(hi), "values": "",
                     "full_lower": float(flo), "full_upper": float(fhi),
                     "restricted": bool(lo > flo or hi < fhi),
                     "qp_lower": _num(q[0]), "qp_upper": _num(q[1])})
    return traj.reset_index(drop=True), chosen, pd.DataFrame(rows)


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def tree_boxes(X: pd.DataFrame, y: np.ndarray, *, depth: int = 3, seed: int = 0
               ) -> tuple[pd.DataFrame, str]:
    """A CART tree's leaves of interest as boxes (rule, coverage, density, mass)."""
    from sklearn.tree import DecisionTreeClassifier, export_text

    Xn, cats = _numeric(X)
    y = np.asarray(y, dtype=int)
    leaf = max(5, len(y) // 20)
    tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=leaf, random_state=seed)
    tree.fit(Xn.to_numpy(), y)
    t = tree.tree_
    names = list(Xn.columns)
    total = int(y.sum())
    rows = []

    def walk(node: int, conds: list[str], idx: np.ndarray) -> None:
        if t.children_left[node] == -1:
            n = int(idx.sum())
            k = int(y[idx].sum())
            if n and k / n >= 0.5:
                rows.append({"rule": " and ".join(conds) or "(everywhere)",
                             "coverage": k / max(total, 1), "density": k / n,
                             "mass": n / len(y), "n": n})
            return
        f, thr = t.feature[node], t.threshold[node]
        col = Xn.iloc[:, f].to_numpy()
        name = names[f]
        left, right = _cond(name, thr, cats, True), _cond(name, thr, cats, False)
        walk(t.children_left[node], [*conds, left], idx & (col <= thr))
        walk(t.children_right[node], [*conds, right], idx & (col > thr))

    walk(0, [], np.ones(len(y), dtype=bool))
    frame = pd.DataFrame(rows, columns=["rule", "coverage", "density", "mass", "n"])
    frame = frame.sort_values("coverage", ascending=False).reset_index(drop=True)
    return frame, export_text(tree, feature_names=names)


def _cond(name: str, thr: float, cats: dict[str, list[Any]], left: bool) -> str:
    if name in cats:
        values = cats[name]
        chosen = [str(v) for i, v in enumerate(values) if (i <= thr) == left]
        return f"{name} in {{{', '.join(chosen)}}}"
    return f"{name} {'<=' if left else '>'} {thr:.4g}"


def score_features(X: pd.DataFrame, y: np.ndarray, *, seed: int = 0) -> pd.DataFrame:
    """Extra-trees importances and mutual information of each parameter with the label."""
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.feature_selection import mutual_info_classif

    Xn, cats = _numeric(X)
    y = np.asarray(y, dtype=int)
    et = ExtraTreesClassifier(n_estimators=200, random_state=seed, min_samples_leaf=2)
    et.fit(Xn.to_numpy(), y)
    discrete = np.array([c in cats or X[c].dtype == bool or X[c].nunique() <= 10
                         for c in X.columns])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few-valued floats treated as discrete
        mi = mutual_info_classif(Xn.to_numpy(), y, discrete_features=discrete,
                                 random_state=seed)
    frame = pd.DataFrame({"parameter": list(X.columns), "extra_trees": et.feature_importances_,
                          "mutual_info": mi})
    return frame.sort_values("extra_trees", ascending=False).reset_index(drop=True)
