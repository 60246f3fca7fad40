"""The priors table: evidence classes, priors and the parameter distribution forecasts draw."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from cisim import load_scenario
from cisim.priors import (
    DISTRIBUTIONS,
    ParameterDistribution,
    PriorsError,
    _schema_default,
    load_priors,
    registry,
    uncertain_parameters,
)
from cisim.scenario import Scenario, ScenarioError, _default_profiles, parameter_table
from cisim.sweep.samplers import build_sample, to_values
from cisim.sweep.spec import DIST_PARAMS, Parameter, SweepSpec, SweepSpecError, load_spec

ROOT = Path(__file__).resolve().parent.parent

ROW = """
[[parameter]]
path = "dynamics.trust_gain"
evidence = "assumption"
source = "none"
reasoning = "a test"
"""


def test_bad_table_names_file_and_field(tmp_path):
    bad = tmp_path / "priors.toml"
    bad.write_text(ROW + '\n[[parameter]]\npath = "dynamics.no_such"\nevidence = "measured"\n')
    with pytest.raises(PriorsError) as err:
        load_priors(bad)
    text = str(err.value)
    assert str(bad) in text
    assert "needs a prior" in text  # an assumption without a prior
    assert "dynamics.no_such" in text


def test_bad_prior_bounds(tmp_path):
    bad = tmp_path / "priors.toml"
    bad.write_text(ROW + 'distribution = "uniform"\nbounds = [0.3, 0.1]\n')
    with pytest.raises(PriorsError, match="lower bound"):
        load_priors(bad)


def test_draws_are_reproducible_and_inside_the_support():
    dist = ParameterDistribution.from_priors()
    a = dist.draw(200, seed=7)
    b = dist.draw(200, seed=7)
    assert a.equals(b)
    assert not a.equals(dist.draw(200, seed=8))
    for path in dist.names:
        lo, hi = registry()[path].support()
        assert a[path].between(lo, hi).all()
        assert a[path].std() > 0


def test_a_scenario_that_sets_a_parameter_keeps_it():
    sc = load_scenario("scenarios/default.toml")
    dist = ParameterDistribution.from_priors()
    path = "dynamics.trust_decay_per_year"
    value = float(registry()[path].ppf(0.37))  # inside the prior, away from the default
    pinned = sc.with_overrides({path: value})
    row = dist.draw(1, seed=1).iloc[0]
    assert dist.apply(pinned, row).to_dict() == dist.apply(pinned, row).to_dict()
    got = dist.apply(pinned, row)
    node = got.to_dict()
    for part in path.split("."):
        node = node[part]
    assert node == pytest.approx(value)
    free = dist.apply(sc, row).to_dict()
    for part in path.split("."):
        free = free[part]
    assert free == pytest.approx(float(row[path]))


def test_posterior_resamples_rows_with_weights(tmp_path):
    names = ParameterDistribution.from_priors().names[:2]
    f = tmp_path / "post.csv"
    lo = [registry()[n].support()[0] for n in names]
    rows = np.array([[lo[0] + 0.01, lo[1] + 0.01], [lo[0] + 0.02, lo[1] + 0.02]])
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(names))
    frame["weight"] = [0.0, 1.0]
    frame.to_csv(f, index=False)
    dist = ParameterDistribution.from_posterior(f)
    draw = dist.draw(50, seed=3)
    assert (draw[names[0]] == rows[1, 0]).all()  # the zero-weight row is never drawn


# --------------------------------------------------------------------------------------------
# The shipped table: complete, honest and inside the schema
# --------------------------------------------------------------------------------------------

SCENARIO = ROOT / "scenarios" / "default.toml"
#: List-valued fields whose prior is per element: how many elements a probe needs.
PER_ELEMENT = {"partners[].expertise": "areas", "partners[].agenda_position": 2,
               "population.subgroups[].needs": "areas"}


def test_every_parameter_has_an_entry_and_every_assumption_a_prior():
    table = registry()
    paths = [r["path"] for r in parameter_table()]
    assert [p for p in paths if p not in table] == []
    for path in paths:
        e = table[path]
        assert e.reasoning.strip() and e.source.strip(), path
        if e.evidence in ("assumption", "cited_range"):
            assert e.uncertain, f"{path}: an {e.evidence} needs a prior"
        if e.evidence in ("measured", "cited_range"):
            assert e.source != "none" and not e.source.startswith("none"), path
        if e.evidence == "assumption":
            # a source that motivates the mechanism is named as such, never as the number's
            assert e.source == "none" or e.source.startswith("none gives the number"), path


def test_schema_sources_say_assumption_exactly_for_assumptions():
    table = registry()
    for row in parameter_table():
        e = table[row["path"]]
        says = "assumption" in row["source"]
        assert says == (e.evidence == "assumption"), (row["path"], row["source"], e.evidence)


def _probe(path: str, value: float) -> Scenario:
    """The default scenario with ``path`` set to ``value``, validated like a file.

    List paths set their first entry; per-sector paths the nonprofit profile (which ``--set``
    cannot reach, so the data are edited and validated directly).
    """
    sc = load_scenario(SCENARIO)
    n = PER_ELEMENT.get(path)
    probe: Any = value
    if n is not None:
        probe = [value] * (len(sc.strategy_areas) if n == "areas" else n)
    if "<sector>" not in path:
        return sc.with_overrides({path.replace("[]", "[0]"): probe})
    data = sc.to_dict()
    gen = data.setdefault("partner_generation", {"counts": {"nonprofit": 1}})
    profile = _default_profiles()["nonprofit"].model_dump(mode="json")
    node = profile
    parts = path.split("<sector>.")[1].split(".")
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = probe
    gen.setdefault("profiles", {})["nonprofit"] = profile
    return Scenario.from_dict(data)


@pytest.mark.parametrize("path", [p for p, e in registry().items() if e.uncertain])
def test_prior_support_lies_inside_the_schema_bounds(path):
    e = registry()[path]
    lo, hi = e.support()
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = (float(v) for v in e.ppf(np.array([0.001, 0.999])))
    integer = isinstance(_schema_default(path), int)
    for value in (lo, hi, float(e.ppf(0.5))):
        _probe(path, round(value) if integer else value)  # raises when outside


def test_the_probe_would_catch_a_prior_outside_the_schema():
    with pytest.raises(ScenarioError):
        _probe("dynamics.convergence_rate", 0.6)  # Deffuant's mu is at most 0.5
    with pytest.raises(ScenarioError):
        _probe("partner_generation.profiles.<sector>.commitment", 1.2)
    with pytest.raises(ScenarioError):
        _probe("partners[].expertise", -0.1)


@pytest.mark.parametrize("path", [p for p, e in registry().items() if e.sampled])
def test_schema_default_lies_inside_the_prior(path):
    lo, hi = registry()[path].support()
    default = _schema_default(path)
    assert lo <= default <= hi, f"{path}: default {default} outside the prior [{lo}, {hi}]"


def test_integer_fields_take_rounded_draws():
    dist = ParameterDistribution.from_priors(["meetings.contacts_per_meeting"])
    sc = load_scenario(SCENARIO)
    row = dist.draw(1, seed=5).iloc[0]
    got = dist.apply(sc, row).meetings.contacts_per_meeting
    assert isinstance(got, int) and got == round(float(row.iloc[0]))


# --------------------------------------------------------------------------------------------
# Sweeps: prior = true and loguniform
# --------------------------------------------------------------------------------------------


def _spec(tmp_path, body: str):
    f = tmp_path / "spec.toml"
    f.write_text(f'name = "t"\nbase = "{SCENARIO}"\n{body}\n[sampler]\nmethod = "latin"\nn = 16\n')
    return f


def test_sweep_parameter_takes_the_documented_prior(tmp_path):
    f = _spec(tmp_path, '[[parameters]]\npath = "dynamics.trust_decay_per_year"\nprior = true\n'
                        '[[parameters]]\npath = "meetings.contacts_per_meeting"\nprior = true\n')
    spec, base = load_spec(f)
    decay = registry()["dynamics.trust_decay_per_year"]
    p = spec.parameters[0]
    assert (p.distribution, tuple(p.bounds)) == (decay.distribution, decay.bounds)
    sample = build_sample(spec, base)
    lo, hi = decay.support()
    assert sample["dynamics.trust_decay_per_year"].between(lo, hi).all()
    # loguniform: the logarithm is spread evenly, so the median is the geometric mean
    assert np.median(sample["dynamics.trust_decay_per_year"]) < (lo + hi) / 2
    contacts = sample["meetings.contacts_per_meeting"]
    assert contacts.dtype.kind == "i" and contacts.between(3, 20).all()
    # the store writes the spec back with the prior filled in; it must read again
    again = SweepSpec.from_dict(spec.to_dict())
    assert again.parameters[0] == p


def test_a_sample_of_every_uncertain_parameter_builds_without_pandas_warnings(tmp_path):
    """The assumptions' screening samples every prior (over 70 parameters, over 140 columns):
    the table is built at once, so pandas does not warn about a fragmented frame."""
    import warnings

    paths = [e.path for e in uncertain_parameters()]
    f = _spec(tmp_path, "".join(f'[[parameters]]\npath = "{p}"\nprior = true\n'
                                for p in paths))
    spec, base = load_spec(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sample = build_sample(spec, base)
    assert list(sample.columns) == ["point", *paths, *(f"u:{p}" for p in paths)]


def test_sweep_prior_without_a_documented_prior_is_refused(tmp_path):
    f = _spec(tmp_path, '[[parameters]]\npath = "backbone.staff.facilitator"\nprior = true\n')
    with pytest.raises(SweepSpecError) as err:
        load_spec(f)
    text = str(err.value)
    assert str(f) in text and "parameters[0]" in text
    assert "backbone.staff.facilitator" in text and "no prior" in text and "design" in text


@pytest.mark.parametrize("extra, needle", [
    ('values = [1, 2]', "drop 'values'"),
    ('bounds = [0.1, 0.2]', "drop 'bounds'"),
])
def test_sweep_prior_with_own_bounds_or_values_is_refused(tmp_path, extra, needle):
    f = _spec(tmp_path, '[[parameters]]\npath = "dynamics.trust_decay_per_year"\nprior = true\n'
                        + extra + "\n")
    with pytest.raises(SweepSpecError, match=needle):
        load_spec(f)


def test_loguniform_agrees_between_sweep_and_priors():
    assert DIST_PARAMS == DISTRIBUTIONS
    p = Parameter(path="x", distribution="loguniform", bounds=[0.02, 0.3])
    u = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    got = to_values(p, u, integer=False)
    assert np.allclose(got, stats.loguniform(0.02, 0.3).ppf(u))
    with pytest.raises(ValueError, match="positive lower bound"):
        Parameter(path="x", distribution="loguniform", bounds=[0.0, 1.0])


def test_a_partial_posterior_leaves_the_other_assumptions_to_their_priors(tmp_path):
    import pandas as pd

    table = registry()
    calibrated = "dynamics.service_efficacy"
    lo, hi = table[calibrated].support()
    f = tmp_path / "post.csv"
    pd.DataFrame({calibrated: [lo + 0.1 * (hi - lo), lo + 0.2 * (hi - lo)],
                  "weight": [1.0, 1.0]}).to_csv(f, index=False)
    only = ParameterDistribution.from_posterior(f)
    assert only.names == (calibrated,)
    mixed = ParameterDistribution.from_posterior(f, rest_from_priors=True)
    assert mixed.names[0] == calibrated and len(mixed.names) > 10
    draw = mixed.draw(300, seed=4)
    assert set(draw[calibrated]) <= {lo + 0.1 * (hi - lo), lo + 0.2 * (hi - lo)}
    other = mixed.names[1]
    assert draw[other].nunique() > 100  # drawn from its prior, not fixed
    o_lo, o_hi = table[other].support()
    assert draw[other].between(o_lo, o_hi).all()
    # the posterior column is the same whether or not the others are drawn
    assert draw[calibrated].equals(only.draw(300, seed=4)[calibrated])


def test_posterior_median_is_weighted(tmp_path):
    import pandas as pd

    from cisim.priors import posterior_median

    f = tmp_path / "post.csv"
    pd.DataFrame({"dynamics.service_efficacy": [0.4, 0.5, 0.6],
                  "weight": [0.1, 0.1, 0.8]}).to_csv(f, index=False)
    assert posterior_median(f) == {"dynamics.service_efficacy": 0.6}
    assert posterior_median(tmp_path / "none.csv") == {}


def test_posterior_median_rounds_integer_fields(tmp_path):
    import pandas as pd

    from cisim.priors import posterior_median

    f = tmp_path / "post.csv"
    pd.DataFrame({"meetings.contacts_per_meeting": [11.47, 11.6, 12.2]}).to_csv(f, index=False)
    median = posterior_median(f)
    assert median == {"meetings.contacts_per_meeting": 12} and isinstance(
        median["meetings.contacts_per_meeting"], int)
