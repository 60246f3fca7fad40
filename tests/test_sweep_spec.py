"""Malformed sweep specs give messages naming the file, the field and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from cisim.cli import main
from cisim.sweep.spec import SweepSpecError, load_spec

ROOT = Path(__file__).resolve().parents[1]
BASE = (ROOT / "scenarios" / "default.toml").as_posix()

GOOD = f"""
name = "ok"
base = "{BASE}"
replications = 2
[set]
"population.size" = 500
[[parameters]]
path = "backbone.staff.facilitator"
bounds = [0.0, 2.0]
[[parameters]]
path = "meetings.cadence"
values = ["weekly", "monthly"]
[[parameters]]
path = "partner_generation.counts.nonprofit"
bounds = [1, 8]
[sampler]
method = "sobol"
n = 16
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "spec.toml"
    p.write_text(text, encoding="utf-8")
    return p


def problems(tmp_path: Path, text: str) -> tuple[str, list[tuple[str, str]]]:
    path = write(tmp_path, text)
    with pytest.raises(SweepSpecError) as info:
        load_spec(path)
    assert str(path) in str(info.value)
    return str(info.value), info.value.problems


def test_good_spec_loads(tmp_path):
    spec, base = load_spec(write(tmp_path, GOOD))
    assert base is not None and base.population.size == 500
    assert spec.labels == ["backbone.staff.facilitator", "meetings.cadence",
                           "partner_generation.counts.nonprofit"]


def test_unknown_path_names_nearest(tmp_path):
    _text, probs = problems(tmp_path, GOOD.replace("backbone.staff.facilitator",
                                                  "backbone.staff.facilitater"))
    field, msg = probs[0]
    assert field == "parameters[0].path"
    assert "unknown parameter path 'backbone.staff.facilitater'" in msg
    assert "did you mean 'backbone.staff.facilitator'" in msg


def test_sobol_needs_power_of_two(tmp_path):
    _text, probs = problems(tmp_path, GOOD.replace("n = 16", "n = 100"))
    assert probs[0][0] == "sampler"
    assert "power of two" in probs[0][1] and "64 or 128" in probs[0][1]


@pytest.mark.parametrize("bounds, expect", [
    ("[2.0, 1.0]", "lower bound 2.0 must be below the upper 1.0"),
    ("[0.0, 500.0]", "value 500.0 is not valid for 'backbone.staff.facilitator'"),
    ("[0.0]", "need 2 numbers"),
])
def test_bad_bounds(tmp_path, bounds, expect):
    _text, probs = problems(tmp_path, GOOD.replace("bounds = [0.0, 2.0]", f"bounds = {bounds}"))
    assert probs[0][0].startswith("parameters[0]")
    assert expect in probs[0][1]


def test_bad_category_value(tmp_path):
    _text, probs = problems(tmp_path, GOOD.replace('"monthly"]', '"daily"]'))
    assert probs[0][0] == "parameters[1].values"
    assert "'daily'" in probs[0][1]


def test_unknown_sampler(tmp_path):
    _text, probs = problems(tmp_path, GOOD.replace('method = "sobol"', 'method = "sobolev"'))
    assert probs[0][0] == "sampler.method"
    assert "'sobol'" in probs[0][1] and "sobolev" in probs[0][1]


def test_missing_base_file(tmp_path):
    _text, probs = problems(tmp_path, GOOD.replace(BASE, "nowhere/missing.toml"))
    assert probs == [("base", f"no such scenario file: {tmp_path / 'nowhere' / 'missing.toml'}")]


def test_unknown_key_and_outcome(tmp_path):
    _text, probs = problems(tmp_path, GOOD.replace("replications = 2", "replicatons = 2"))
    assert probs[0] == ("replicatons", "unknown key; did you mean 'replications'?")
    _text, probs = problems(tmp_path, GOOD + '[outcomes]\nscalars = ["sroi_fnal", "sroi@40"]\n')
    assert probs[0][0] == "outcomes.scalars[0]" and "did you mean 'sroi_final'" in probs[0][1]
    assert probs[1][0] == "outcomes.scalars[1]" and "outside the base scenario's horizon" in \
        probs[1][1]


def test_cli_reports_bad_spec_without_traceback(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace("n = 16", "n = 12"))
    assert main(["sweep", str(path), "--out", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err
    assert "power of two" in err and str(path) in err and "Traceback" not in err
    assert not (tmp_path / "store").exists()
