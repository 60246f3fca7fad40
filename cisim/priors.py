"""Evidence classes and prior distributions of the scenario parameters, in one place.

Every scenario parameter is one of four kinds:

* ``measured`` — a number a cited source gives (e.g. the Green Book's 3.5% discount rate);
* ``cited_range`` — a cited source bounds it but does not pin it;
* ``assumption`` — no source gives the number: it carries a prior distribution and the
  reasoning behind it;
* ``design`` — the strategist's own input (partners, money, staffing, cadence, population).

The table lives in ``cisim/data/priors.toml``; the scenario schema's documentation
(``docs/model.md``), the sweeps (a parameter may say ``prior = true`` instead of giving bounds),
the calibration (its prior) and the forecasts (:class:`ParameterDistribution`) all read it from
here. Distributions use the sweep specification's names and bound conventions
(:class:`cisim.sweep.spec.Parameter`).

The calibrated posterior, once shipped, lives in ``cisim/data/posterior.csv`` (one parameter set
per row, columns named by path, an optional ``weight`` column) with its provenance in
``cisim/data/posterior.json``; :meth:`ParameterDistribution.default` prefers it to the priors.
"""

from __future__ import annotations

import functools
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from cisim.distributions import DIST_PARAMS, quantiles
from cisim.scenario import Scenario, ScenarioError, parameter_table

__all__ = [
    "EVIDENCE_CLASSES",
    "POSTERIOR_FILE",
    "PRIORS_FILE",
    "ParameterDistribution",
    "ParameterEvidence",
    "PriorsError",
    "evidence_of",
    "load_priors",
    "posterior_median",
    "registry",
    "uncertain_parameters",
    "value_at",
]

DATA = Path(__file__).resolve().parent / "data"
PRIORS_FILE = DATA / "priors.toml"
POSTERIOR_FILE = DATA / "posterior.csv"
POSTERIOR_PROVENANCE = DATA / "posterior.json"

EvidenceClass = Literal["measured", "cited_range", "assumption", "design"]
EVIDENCE_CLASSES: tuple[str, ...] = ("measured", "cited_range", "assumption", "design")
#: Numbers in ``bounds`` per distribution (:mod:`cisim.distributions`, shared with the sweeps).
DISTRIBUTIONS = DIST_PARAMS


class PriorsError(ScenarioError):
    """The priors table failed validation; lists every problem with its field."""


@dataclass(frozen=True)
class ParameterEvidence:
    """One parameter's evidence class, source, reasoning and (if uncertain) prior.

    Attributes:
        path: The parameter's path as ``docs/model.md`` writes it (``dynamics.trust_gain``,
            ``partners[].commitment``, ``partner_generation.profiles.<sector>.commitment``).
        evidence: ``measured``, ``cited_range``, ``assumption`` or ``design``.
        source: Author, title and year of the source, or "none" for an assumption.
        reasoning: Why the value or the prior range is what it is.
        distribution: Name of the prior distribution, or None for a fixed value.
        bounds: Its parameters, in the sweep specification's conventions.
    """

    path: str
    evidence: str
    source: str
    reasoning: str
    distribution: str | None = None
    bounds: tuple[float, ...] | None = None

    @property
    def uncertain(self) -> bool:
        """Whether the parameter has a prior to draw from."""
        return self.distribution is not None

    @property
    def sampled(self) -> bool:
        """Whether draws can set it: uncertain and a plain dotted path (no list or sector)."""
        return self.uncertain and "[" not in self.path and "<" not in self.path

    def ppf(self, q: np.ndarray | float) -> np.ndarray:
        """The prior's quantiles at ``q`` (values in [0, 1])."""
        if self.distribution is None or self.bounds is None:
            raise ValueError(f"{self.path} has no prior")
        q = np.clip(np.asarray(q, dtype=float), 1e-12, 1 - 1e-12)
        return quantiles(self.distribution, list(self.bounds), q)

    def scipy(self) -> Any:
        """The prior as a frozen ``scipy.stats`` distribution."""
        from scipy import stats

        b = self.bounds or ()
        d = self.distribution
        if d == "uniform":
            return stats.uniform(loc=b[0], scale=b[1] - b[0])
        if d == "loguniform":
            return stats.loguniform(b[0], b[1])
        if d == "normal":
            return stats.norm(loc=b[0], scale=b[1])
        if d == "lognormal":
            return stats.lognorm(s=b[1], scale=math.exp(b[0]))
        if d == "triangular":
            lo, hi, mode = b
            return stats.triang(c=(mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
        if d == "truncnormal":
            lo, hi, mu, sd = b
            return stats.truncnorm((lo - mu) / sd, (hi - mu) / sd, loc=mu, scale=sd)
        raise ValueError(f"{self.path} has no prior")

    def support(self) -> tuple[float, float]:
        """The smallest and largest value the prior can give."""
        lo, hi = self.scipy().support()
        return float(lo), float(hi)

    def describe(self) -> str:
        """The prior in words for tables: ``uniform(0.05, 0.2)``; empty when fixed."""
        if self.distribution is None or self.bounds is None:
            return ""
        return f"{self.distribution}({', '.join(f'{v:g}' for v in self.bounds)})"


def load_priors(path: str | Path = PRIORS_FILE) -> dict[str, ParameterEvidence]:
    """Read and check a priors table.

    Args:
        path: The TOML file (``[[parameter]]`` tables with ``path``, ``evidence``, ``source``,
            ``reasoning`` and, for uncertain parameters, ``distribution`` and ``bounds``).

    Returns:
        The entries by path.

    Raises:
        PriorsError: Naming the file and the field of every problem at once.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise PriorsError(str(path), [("(file)", str(err))]) from None
    known = {row["path"] for row in parameter_table()}
    problems: list[tuple[str, str]] = []
    out: dict[str, ParameterEvidence] = {}
    rows = data.get("parameter", [])
    if not isinstance(rows, list):
        raise PriorsError(str(path), [("parameter", "must be an array of tables")])
    allowed = {"path", "evidence", "source", "reasoning", "distribution", "bounds"}
    for i, row in enumerate(rows):
        where = f"parameter[{i}]"
        if not isinstance(row, dict):
            problems.append((where, "must be a table"))
            continue
        for key in sorted(set(row) - allowed):
            problems.append((f"{where}.{key}", "unknown key"))
        p = row.get("path")
        if not isinstance(p, str) or p not in known:
            problems.append((f"{where}.path", f"{p!r} is not a scenario parameter"))
            continue
        where = f"parameter[{i}] ({p})"
        if p in out:
            problems.append((where, "listed twice"))
        ev = row.get("evidence")
        if ev not in EVIDENCE_CLASSES:
            problems.append((f"{where}.evidence", f"must be one of {', '.join(EVIDENCE_CLASSES)}"))
        for key in ("source", "reasoning"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                problems.append((f"{where}.{key}", "must be a non-empty text"))
        dist, bounds = row.get("distribution"), row.get("bounds")
        if (dist is None) != (bounds is None):
            problems.append((where, "give both 'distribution' and 'bounds', or neither"))
        elif dist is not None:
            problems.extend(_check_prior(where, dist, bounds))
        if ev == "assumption" and dist is None:
            problems.append((where, "an assumption needs a prior ('distribution' and 'bounds')"))
        out[p] = ParameterEvidence(
            path=p, evidence=str(ev), source=str(row.get("source", "")),
            reasoning=str(row.get("reasoning", "")), distribution=dist,
            bounds=tuple(float(v) for v in bounds) if isinstance(bounds, list) else None,
        )
    if problems:
        raise PriorsError(str(path), problems)
    return out


def _check_prior(where: str, dist: Any, bounds: Any) -> list[tuple[str, str]]:
    if dist not in DISTRIBUTIONS:
        return [(f"{where}.distribution", f"must be one of {', '.join(DISTRIBUTIONS)}")]
    if not isinstance(bounds, list) or not all(
            isinstance(v, int | float) and math.isfinite(v) for v in bounds):
        return [(f"{where}.bounds", "must be a list of finite numbers")]
    if len(bounds) != DISTRIBUTIONS[dist]:
        return [(f"{where}.bounds", f"a {dist} prior needs {DISTRIBUTIONS[dist]} numbers")]
    b = bounds
    if dist in ("uniform", "loguniform", "triangular", "truncnormal") and not b[0] < b[1]:
        return [(f"{where}.bounds", f"the lower bound {b[0]} must be below the upper {b[1]}")]
    if dist == "loguniform" and b[0] <= 0:
        return [(f"{where}.bounds", "a loguniform prior needs a positive lower bound")]
    if dist == "triangular" and not b[0] <= b[2] <= b[1]:
        return [(f"{where}.bounds", f"the mode {b[2]} must lie between {b[0]} and {b[1]}")]
    if dist in ("normal", "lognormal") and b[1] <= 0:
        return [(f"{where}.bounds", "the standard deviation must be positive")]
    if dist == "truncnormal" and b[3] <= 0:
        return [(f"{where}.bounds", "the standard deviation must be positive")]
    return []


@functools.lru_cache(maxsize=1)
def registry() -> dict[str, ParameterEvidence]:
    """The package's priors table (``cisim/data/priors.toml``), read once."""
    return load_priors(PRIORS_FILE)


def evidence_of(path: str) -> ParameterEvidence | None:
    """The entry of a parameter, by its ``docs/model.md`` path; None if not listed."""
    return registry().get(path)


def uncertain_parameters() -> list[ParameterEvidence]:
    """The parameters that forecasts draw: every sampled entry with a prior, in table order."""
    return [e for e in registry().values() if e.sampled]


class ParameterDistribution:
    """The distribution the uncertain parameters of a forecast are drawn from.

    Either the documented priors (independent draws) or a posterior sample of parameter sets
    (rows resampled with their weights, so joint structure is kept).

    Attributes:
        names: The parameter paths drawn.
        kind: ``"prior"`` or ``"posterior"``.
        source: Where it came from, for reports.
    """

    def __init__(self, names: Sequence[str], kind: str, source: str,
                 priors: Sequence[ParameterEvidence] = (), sample: pd.DataFrame | None = None):
        self.names = tuple(names)
        self.kind = kind
        self.source = source
        self._priors = tuple(priors)
        self._sample = sample

    @classmethod
    def from_priors(cls, paths: Sequence[str] | None = None) -> ParameterDistribution:
        """The documented priors of ``paths`` (default: every uncertain parameter)."""
        entries = uncertain_parameters()
        if paths is not None:
            table = registry()
            missing = [p for p in paths if p not in table or not table[p].sampled]
            if missing:
                raise PriorsError(str(PRIORS_FILE), [(p, "has no prior to draw from")
                                                     for p in missing])
            entries = [table[p] for p in paths]
        return cls([e.path for e in entries], "prior", "documented priors", priors=entries)

    @classmethod
    def from_posterior(cls, path: str | Path, rest_from_priors: bool = False
                       ) -> ParameterDistribution:
        """A posterior sample: CSV or Parquet, one parameter set per row, optional ``weight``.

        Args:
            path: The sample.
            rest_from_priors: Also draw every uncertain parameter the sample does not hold
                from its prior (independently of the sample's rows), so that a calibration of
                a few parameters leaves the others as uncertain as documented instead of fixed.
        """
        path = Path(path)
        try:
            frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        except (OSError, ValueError) as err:
            raise PriorsError(str(path), [("(file)", str(err))]) from None
        names = [c for c in frame.columns if c != "weight"]
        table = registry()
        problems = [(c, "is not a parameter with a prior") for c in names
                    if c not in table or not table[c].sampled]
        if "weight" in frame and (frame["weight"].lt(0).any() or not frame["weight"].sum() > 0):
            problems.append(("weight", "weights must be non-negative and not all zero"))
        if frame.empty or frame[names].isna().any().any():
            problems.append(("(rows)", "the sample is empty or has missing values"))
        if problems:
            raise PriorsError(str(path), problems)
        rest = [e for e in uncertain_parameters() if e.path not in names] \
            if rest_from_priors else []
        return cls([*names, *(e.path for e in rest)], "posterior", str(path), priors=rest,
                   sample=frame.reset_index(drop=True))

    @classmethod
    def default(cls) -> ParameterDistribution:
        """The shipped calibrated posterior if there is one, else the documented priors.

        The posterior holds the calibrated parameters; every other uncertain parameter is
        drawn from its prior.
        """
        if POSTERIOR_FILE.exists():
            dist = cls.from_posterior(POSTERIOR_FILE, rest_from_priors=True)
            dist.source = "calibrated posterior shipped with cisim" + _provenance_note()
            return dist
        return cls.from_priors()

    def restricted(self, keep: Sequence[str]) -> ParameterDistribution:
        """The same distribution over the paths in ``keep`` only (a posterior keeps its rows)."""
        keep_set = set(keep)
        sample = self._sample
        if sample is not None:
            dropped = [c for c in sample.columns if c != "weight" and c not in keep_set]
            sample = sample.drop(columns=dropped)
        return ParameterDistribution([n for n in self.names if n in keep_set], self.kind,
                                     self.source,
                                     priors=[e for e in self._priors if e.path in keep_set],
                                     sample=sample)

    def draw(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` parameter sets (one row each, a column per path), a pure function of seed."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x9A7A]))
        u = rng.random((n, len(self._priors)))
        frame = pd.DataFrame({e.path: e.ppf(u[:, j]) for j, e in enumerate(self._priors)})
        if self._sample is None:
            return frame
        # Posterior rows from a stream of their own: the prior columns do not move them.
        rows = np.random.default_rng(np.random.SeedSequence([int(seed), 0x9A7B]))
        w = self._sample["weight"].to_numpy(float) if "weight" in self._sample else None
        idx = rows.choice(len(self._sample), size=n, replace=True,
                          p=None if w is None else w / w.sum())
        held = [c for c in self.names if c in self._sample.columns]
        sample = self._sample.loc[idx, held].reset_index(drop=True)
        return pd.concat([sample, frame], axis=1)[list(self.names)]

    def pinned(self, scenario: Scenario) -> list[str]:
        """Paths the scenario sets away from the schema default: a draw leaves them alone."""
        mine = scenario.to_dict()
        return [p for p in self.names if value_at(mine, p) != _schema_default(p)]

    def apply(self, scenario: Scenario, row: Mapping[str, Any]) -> Scenario:
        """The scenario with one drawn parameter set (pinned paths keep the scenario's value)."""
        keep = set(self.pinned(scenario))
        overrides = {p: _as_schema_type(p, v) for p, v in row.items() if p not in keep}
        return scenario.with_overrides(overrides, source="parameter draw") if overrides \
            else scenario


def _as_schema_type(path: str, value: Any) -> float | int:
    """A drawn value as the field takes it: rounded for integer fields (counts of contacts)."""
    default = _schema_default(path)
    if isinstance(default, int) and not isinstance(default, bool):
        return round(float(value))
    return float(value)


def posterior_median(path: str | Path = POSTERIOR_FILE) -> dict[str, float]:
    """The weighted median of each parameter of a posterior sample; empty without a sample.

    Values of integer fields are rounded, as a draw's are.

    Studies that need one model rather than a distribution (the validation study runs each
    sampled design once) use it as the calibrated point.
    """
    if not Path(path).exists():
        return {}
    dist = ParameterDistribution.from_posterior(path)
    sample = dist._sample
    assert sample is not None
    w = sample["weight"].to_numpy(float) if "weight" in sample else np.ones(len(sample))
    out = {}
    for name in dist.names:
        order = np.argsort(sample[name].to_numpy(float), kind="stable")
        cum = np.cumsum(w[order]) / w.sum()
        value = float(sample[name].to_numpy(float)[order][np.searchsorted(cum, 0.5)])
        out[name] = _as_schema_type(name, value)
    return out


def value_at(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a nested mapping (a scenario's ``to_dict()``), or None."""
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _schema_default(path: str) -> Any:
    """The schema's default at a plain dotted path.

    Sections are walked through their models, so an optional section that is absent by default
    (``partner_generation``) still gives its fields' defaults.
    """
    from cisim.schema import inner_model as _inner_model

    model: Any = Scenario
    value: Any = None
    for part in path.split("."):
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        value = None if field.is_required() else field.get_default(call_default_factory=True)
        model = _inner_model(field.annotation)
    return value


def _provenance_note() -> str:
    try:
        meta = json.loads(POSTERIOR_PROVENANCE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    when = meta.get("generated", "")
    return f" ({when})" if when else ""
