"""Malformed sweep specs give messages naming the file, the field and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# ---- specs that name code are trusted input: imported only to run, never from the cwd -------

FUNCTION_SPEC = """
name = "fn"
function = "{ref}"
{extra}
[[parameters]]
path = "x"
bounds = [0.0, 1.0]
[sampler]
method = "latin"
n = 4
"""

MODULE = '''
from pathlib import Path

Path(__file__).with_name("IMPORTED").write_text("yes")


def model(params, seed):
    return {"y": 2 * params["x"]}


def one_argument(params):
    return {"y": 1.0}


class Model:
    def __call__(self, params, seed):
        return {"y": 1.0}


instance = Model()
'''


def function_spec(tmp_path: Path, ref: str, extra: str = "") -> Path:
    return write(tmp_path, FUNCTION_SPEC.format(ref=ref, extra=extra))


@pytest.fixture
def user_module(tmp_path):
    """A module ``usermod_<n>`` in tmp_path/models that leaves a mark when imported."""
    import sys

    name = f"usermod_{abs(hash(tmp_path)) % 10**8}"
    d = tmp_path / "models"
    d.mkdir()
    (d / f"{name}.py").write_text(MODULE, encoding="utf-8")
    yield name, d
    sys.modules.pop(name, None)


def test_validating_a_spec_does_not_import_its_function(tmp_path, user_module):
    from cisim.sweep import run_sweep

    name, d = user_module
    spec_path = function_spec(tmp_path, f"{name}:model", 'function_path = ["models"]')
    spec, base = load_spec(spec_path)
    assert base is None and spec.function_path == [str(d.resolve())]
    assert not (d / "IMPORTED").exists()  # loading checked only the syntax
    store = run_sweep(spec_path, tmp_path / "store")
    assert (d / "IMPORTED").exists()
    frame = store.read()
    points = store.points()
    assert list(frame["y"]) == pytest.approx(list(2 * points["x"]))


def test_modules_from_function_path_reach_worker_processes(tmp_path, user_module):
    from cisim.sweep import run_sweep

    name, _d = user_module
    spec_path = function_spec(tmp_path, f"{name}:model", 'function_path = ["models"]')
    store = run_sweep(spec_path, tmp_path / "store", jobs=2, runs_per_task=1)
    frame = store.read()
    assert (frame["error"] == "").all()
    assert list(frame["y"]) == pytest.approx(list(2 * store.points()["x"]))


def test_the_current_directory_is_not_searched(tmp_path, user_module, monkeypatch):
    import sys

    from cisim.sweep import run_sweep

    name, d = user_module
    monkeypatch.chdir(d)  # the module sits in the working directory ...
    monkeypatch.setattr(sys, "path", ["", str(d), *sys.path])  # ... as python -c / -m see it
    monkeypatch.delenv("PYTHONPATH", raising=False)
    spec_path = function_spec(tmp_path, f"{name}:model")
    load_spec(spec_path)  # valid: the syntax is fine
    with pytest.raises(SweepSpecError) as info:
        run_sweep(spec_path, tmp_path / "store")
    assert str(spec_path) in str(info.value)
    (field, msg), = info.value.problems
    assert field == "function" and "current directory is not searched" in msg
    assert "function_path" in msg
    assert not (d / "IMPORTED").exists() and not (tmp_path / "store").exists()
    assert sys.path[0] == ""  # restored


@pytest.mark.parametrize("ref, expect", [
    ("os:system", "standard library"),
    ("builtins:eval", "standard library"),
    ("subprocess:run", "standard library"),
    ("os.system", "expected 'package.module:function'"),
    ("mod:f; import os", "expected 'package.module:function'"),
    ("../evil:f", "expected 'package.module:function'"),
])
def test_references_are_checked_for_syntax_and_the_standard_library(tmp_path, ref, expect):
    _text, probs = problems(tmp_path, FUNCTION_SPEC.format(ref=ref, extra=""))
    assert probs[0][0] == "function" and expect in probs[0][1]


@pytest.mark.parametrize("attr, expect", [
    ("instance", "is a Model, not a Python function"),
    ("Model", "is a type, not a Python function"),
    ("one_argument", "must accept 2 positional arguments (params, seed)"),
    ("missing", "has no function 'missing'"),
])
def test_only_plain_functions_of_params_and_seed_run(tmp_path, user_module, attr, expect):
    from cisim.sweep import run_sweep

    name, _d = user_module
    spec_path = function_spec(tmp_path, f"{name}:{attr}", 'function_path = ["models"]')
    with pytest.raises(SweepSpecError) as info:
        run_sweep(spec_path, tmp_path / "store")
    (field, msg), = info.value.problems
    assert field == "function" and expect in msg
    assert not (tmp_path / "store").exists()


def test_function_path_must_exist_and_needs_a_function(tmp_path):
    _text, probs = problems(tmp_path, FUNCTION_SPEC.format(
        ref="cisim.sweep.examples:ishigami", extra='function_path = ["nowhere"]'))
    assert probs[0][0] == "function_path[0]" and "no such directory" in probs[0][1]
    _text, probs = problems(tmp_path, GOOD.replace('name = "ok"',
                                                  'name = "ok"\nfunction_path = ["."]'))
    assert "'function_path'" in probs[0][1]


# ---- a name is a plain file name: the default store stays inside out/sweeps -----------------

@pytest.mark.parametrize("name", ["../x", "/some/dir", "a/b", "..", ".", "C:x", "a\\b",
                                  "ok\nname"])
def test_names_that_leave_the_store_directory_are_refused(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, GOOD.replace('name = "ok"', f"name = {name!r}".replace("'", '"')
                                        if "\\" not in name and "\n" not in name
                                        else f"name = {_toml_string(name)}"))
    with pytest.raises(SweepSpecError) as info:
        load_spec(path)
    assert str(path) in str(info.value)
    assert info.value.problems[0][0] == "name"
    assert main(["sweep", str(path), "--no-progress"]) == 2
    assert not (tmp_path / "out").exists() and not (tmp_path / "x").exists()


def _toml_string(text: str) -> str:
    import tomli_w

    return tomli_w.dumps({"v": text}).split("=", 1)[1].strip()


@given(st.text(min_size=1, max_size=20))
@settings(max_examples=300, deadline=None)
def test_every_accepted_name_stays_inside_out_sweeps(name):
    from cisim.sweep.spec import check_name

    if check_name(name) is not None:
        return
    root = Path("/tmp/cisim-name-check/out/sweeps")
    store = (root / name).resolve()
    assert store.parent == root  # a directory of its own, directly inside out/sweeps


def test_an_explicit_out_is_the_users_choice(tmp_path):
    from cisim.sweep import run_sweep

    spec_path = function_spec(tmp_path, "cisim.sweep.examples:ishigami")
    spec_path.write_text(spec_path.read_text().replace('path = "x"', 'path = "x1"') +
                         '[[parameters]]\npath = "x2"\nbounds = [0, 1]\n[[parameters]]\n'
                         'path = "x3"\nbounds = [0, 1]\n')
    out = tmp_path / "elsewhere" / ".." / "chosen"
    store = run_sweep(spec_path, out)
    assert len(store.read()) == 4 and (tmp_path / "chosen" / "spec.toml").is_file()


# ---- size: a huge sweep is refused before it is sampled -------------------------------------

def test_a_huge_sobol_sweep_is_refused_at_once(tmp_path, capsys):
    import time

    from cisim.sweep import run_sweep

    path = write(tmp_path, GOOD.replace("n = 16", f"n = {2**23}"))
    load_spec(path)  # warm: the scenario and the parameter table are read once
    t0 = time.perf_counter()
    with pytest.raises(SweepSpecError) as info:
        run_sweep(path, tmp_path / "store")
    assert time.perf_counter() - t0 < 1.0
    (field, msg), = info.value.problems
    runs = 2**23 * (3 + 2) * 2  # Saltelli: N (D + 2) points, 2 replications
    assert field == "sampler.n" and f"{runs:,} runs" in msg
    assert "CPU time" in msg and "on disk" in msg and "--allow-large" in msg
    assert not (tmp_path / "store").exists()
    assert main(["sweep", str(path), "--out", str(tmp_path / "store"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{runs:,} runs" in err and "Traceback" not in err


def test_allow_large_runs_a_sweep_above_the_limit(tmp_path, monkeypatch):
    import cisim.sweep.spec as spec_module
    from cisim.sweep import run_sweep

    monkeypatch.setattr(spec_module, "MAX_RUNS", 3)
    spec_path = function_spec(tmp_path, "cisim.sweep.examples:normal_mean")
    spec_path.write_text(spec_path.read_text().replace('path = "x"', 'path = "mu"'))
    with pytest.raises(SweepSpecError):
        run_sweep(spec_path, tmp_path / "a")
    assert len(run_sweep(spec_path, tmp_path / "b", allow_large=True).read()) == 4
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "c"), "--no-progress",
                 "--allow-large"]) == 0


@pytest.mark.parametrize("sampler", [
    'method = "sobol"\nn = 8', 'method = "sobol"\nn = 8\ncalc_second_order = true',
    'method = "morris"\nn = 5', 'method = "fast"\nn = 70', 'method = "rbd_fast"\nn = 9',
    'method = "latin"\nn = 9', 'method = "factorial"\nlevels = 3',
])
def test_the_size_check_counts_the_points_the_sampler_makes(tmp_path, sampler):
    from cisim.sweep.samplers import unit_sample
    from cisim.sweep.spec import design_points, sweep_size

    spec, base = load_spec(write(tmp_path, GOOD.replace('method = "sobol"\nn = 16', sampler)))
    n_points = len(unit_sample(spec))
    assert design_points(spec) == n_points
    size = sweep_size(spec, base)
    assert size.runs == n_points * 2
    assert size.seconds_per_run is not None and size.seconds_per_run > 0


def test_the_disk_estimate_is_near_the_store_written(tmp_path):
    from cisim.sweep import run_sweep
    from cisim.sweep.spec import sweep_size

    spec_path = function_spec(tmp_path, "cisim.sweep.examples:normal_mean")
    spec_path.write_text(spec_path.read_text().replace('path = "x"', 'path = "mu"')
                         .replace("n = 4", "n = 200") + "[execution]\nruns_per_task = 20\n")
    spec, _ = load_spec(spec_path)
    estimate = sweep_size(spec).disk_bytes
    store = run_sweep(spec_path, tmp_path / "store")
    actual = sum(f.stat().st_size for f in store.path.rglob("*.parquet"))
    assert actual / 3 < estimate < actual * 3


def test_the_size_message_gives_the_memory_of_a_run(tmp_path, monkeypatch):
    import cisim.scenario
    from cisim.sweep.spec import sweep_size

    spec, base = load_spec(write(tmp_path, GOOD))
    seen = []

    def estimate_memory(scenario, *, replications=1, workers=1):
        seen.append(scenario)
        return 123_000_000

    monkeypatch.setattr(cisim.scenario, "estimate_memory", estimate_memory, raising=False)
    size = sweep_size(spec, base)
    assert seen == [base] and size.run_memory_bytes == 123_000_000
    assert "123.0 MB for each run a worker holds" in size.describe()
    monkeypatch.delattr(cisim.scenario, "estimate_memory", raising=False)
    assert sweep_size(spec, base).run_memory_bytes is None
