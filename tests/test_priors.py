"""The priors table: evidence classes, priors and the parameter distribution forecasts draw."""

from __future__ import annotations

import numpy as np
import pytest

from cisim import load_scenario
from cisim.priors import ParameterDistribution, PriorsError, load_priors, registry

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
