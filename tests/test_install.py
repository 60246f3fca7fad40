"""cisim works as an installed package, not only from its repository.

A non-editable install must carry everything the code reads at run time (the bundled scenarios,
the parameter priors, the posterior sample, the validation results), and the CLI, the model, the
teaching app and the notebooks must run from a directory that is not the repository.

The fast tests build the wheel and check its contents, and load the bundled scenarios by name
from an empty directory. The slow tests install that wheel with the ``teach`` extra into a fresh
virtual environment (no system site-packages; pip takes the dependencies from its cache and the
package index, so it needs the index or a warm cache: 3 to 6 minutes on a busy two-core host)
and, from a temporary directory, compile the kernels, run the bundled default scenario, build the
model and the app's page, and execute a notebook copied there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The notebook executed in the installed environment (the quickest of the five lessons).
NOTEBOOK = "05_sroi_step_by_step.ipynb"
IGNORE = shutil.ignore_patterns(".git", ".venv", "out", "build", "dist", "*.egg-info",
                                "__pycache__", "*.pyc", "*.nbi", "*.nbc", ".pytest_cache",
                                ".ruff_cache", ".ipynb_checkpoints")


def _build_wheel(dest: Path) -> Path:
    """Build cisim's wheel from a copy of the source tree (the working tree stays clean)."""
    src = dest / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=IGNORE)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                           "-w", str(dest / "wheels"), "-q"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (dest / "wheels").glob("cisim-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


def test_wheel_carries_every_file_the_code_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    scenarios = sorted(p.name for p in (ROOT / "cisim" / "data" / "scenarios").glob("*.toml"))
    assert len(scenarios) >= 6
    for name in scenarios:
        assert f"cisim/data/scenarios/{name}" in names
    for name in ("priors.toml", "posterior.csv", "posterior.json", "validation_results.json"):
        assert f"cisim/data/{name}" in names
    assert "cisim/app.py" in names and "cisim/py.typed" in names
    # nothing outside the package: no scenarios/, docs/ or tests/ at the top of site-packages
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"cisim"}
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Provides-Extra: teach" in text
    assert "jupyterlab" in text


def test_repository_scenarios_are_the_packaged_files():
    """One source of truth: the top-level scenarios folder is the package's, not a copy."""
    top = ROOT / "scenarios"
    assert top.resolve() == (ROOT / "cisim" / "data" / "scenarios").resolve()
    docs_results = ROOT / "docs" / "validation_results.json"
    assert docs_results.resolve() == (ROOT / "cisim" / "data" / "validation_results.json").resolve()


def test_bundled_scenarios_load_by_name_from_any_directory(tmp_path, monkeypatch):
    import cisim
    from cisim.scenario import ScenarioError, bundled_scenario_names

    monkeypatch.chdir(tmp_path)  # no scenarios folder here
    assert bundled_scenario_names() == sorted(
        p.stem for p in (ROOT / "scenarios").glob("*.toml"))
    by_name = cisim.load_scenario("no_backbone")
    assert by_name == cisim.load_scenario(ROOT / "scenarios" / "no_backbone.toml")
    assert cisim.CollectiveImpactModel(rng=1, **{"population.size": 100}).design == (
        cisim.load_scenario("default").with_overrides({"population.size": 100}))
    # a path is never redirected: a missing file is an error that lists the bundled names
    for missing in ("default.toml", "sub/default", "nonesuch"):
        with pytest.raises(ScenarioError) as err:
            cisim.load_scenario(missing)
        assert err.value.source == missing
        assert "no such file" in str(err.value) and "no_backbone" in str(err.value)
    # a file in the working directory wins over a bundled scenario of the same name
    (tmp_path / "default").write_text("name = 'mine'\nhorizon_years = 0\n")
    with pytest.raises(ScenarioError) as err:
        cisim.load_scenario("default")
    assert err.value.source == "default" and "horizon_years" in str(err.value)


# --------------------------------------------------------------------------------------------
# The installed package, in a fresh virtual environment, from a directory outside the repository
# --------------------------------------------------------------------------------------------


def _venv_bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path):
    """A fresh venv holding ``cisim[teach]`` from the wheel, a work directory and its env."""
    base = tmp_path_factory.mktemp("venv")
    venv = base / "venv"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = _venv_bin(venv, "python")
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", f"{wheel}[teach]"],
                          capture_output=True, text=True, timeout=1800, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"fresh venv with cisim[teach] installed in {time.monotonic() - start:.0f} s")
    work = base / "work"
    (work / "home").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH", "JUPYTER_DATA_DIR",
                        "JUPYTER_CONFIG_DIR", "IPYTHONDIR")}
    # a home of its own: no user kernel spec or Jupyter config from this machine is picked up
    env.update(HOME=str(work / "home"), NUMBA_NUM_THREADS="1", MPLBACKEND="Agg")
    return venv, work, env


def _run(installed, *cmd: str, timeout: float = 900) -> subprocess.CompletedProcess:
    _venv, work, env = installed
    return subprocess.run(list(cmd), cwd=work, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.slow
def test_installed_package_is_the_wheel_not_the_repository(installed):
    venv, _work, _env = installed
    proc = _run(installed, str(_venv_bin(venv, "python")), "-c",
                "import cisim; print(cisim.__file__); print(cisim.DEFAULT_SCENARIO)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    file, default = proc.stdout.split()
    assert Path(file).is_relative_to(venv) and Path(default).is_relative_to(venv)
    assert not Path(file).is_relative_to(ROOT)


@pytest.mark.slow
def test_installed_cli_compiles_and_runs_the_bundled_default(installed):
    venv, work, _env = installed
    cisim = str(_venv_bin(venv, "cisim"))
    compiled = _run(installed, cisim, "compile")
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    run = _run(installed, cisim, "run", "default", "-n", "2", "-j", "1", "--no-figures",
               "--set", "population.size=300", "--set", "horizon_years=1")
    assert run.returncode == 0, run.stderr[-3000:]
    summaries = (work / "out" / "default" / "summaries.csv").read_text().splitlines()
    assert len(summaries) == 1 + 2  # header and two replications
    written = (work / "out" / "default" / "scenario.toml").read_text()
    assert "horizon_years = 1" in written
    missing = _run(installed, cisim, "run", "no_such_design", "-n", "1")
    assert missing.returncode == 2
    assert "no such file" in missing.stderr and "default" in missing.stderr
    assert "Traceback" not in missing.stderr


APP_CHECK = textwrap.dedent("""
    import json
    import ipywidgets, solara
    import cisim
    import cisim.app as app

    model = cisim.CollectiveImpactModel(rng=1, **{"population.size": 300})
    for _ in range(3):
        model.step()
    teaching = app.TeachingModel()
    teaching.step()
    box, _rc = solara.render(app.Page(), handle_error=False)
    images, seen = 0, set()

    def walk(widget):
        global images
        if id(widget) in seen:
            return
        seen.add(id(widget))
        if isinstance(widget, ipywidgets.Image) and bytes(widget.value).startswith(b"\\x89PNG"):
            images += 1
        for key in widget.keys:
            value = getattr(widget, key, None)
            for child in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(child, ipywidgets.Widget):
                    walk(child)

    walk(box)
    print(json.dumps({"steps": model.steps, "teaching_steps": teaching.steps,
                      "scenario": model.design.name, "images": images}))
""")


@pytest.mark.slow
def test_installed_model_and_app_page_build(installed):
    venv, _work, _env = installed
    proc = _run(installed, str(_venv_bin(venv, "python")), "-c", APP_CHECK)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["steps"] == 3 and out["teaching_steps"] == 1
    assert out["scenario"] == _default_name()
    assert out["images"] >= 1  # the page drew its pictures


def _default_name() -> str:
    import tomllib

    return tomllib.loads((ROOT / "cisim" / "data" / "scenarios" / "default.toml").read_text(
        encoding="utf-8"))["name"]


@pytest.mark.slow
def test_installed_notebook_executes_outside_the_repository(installed):
    venv, work, _env = installed
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, work / NOTEBOOK)
    proc = _run(installed, str(_venv_bin(venv, "jupyter")), "nbconvert", "--to", "notebook",
                "--execute", "--ExecutePreprocessor.timeout=600",
                "--ExecutePreprocessor.kernel_name=python3", "--output", "executed.ipynb",
                NOTEBOOK, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    book = json.loads((work / "executed.ipynb").read_text(encoding="utf-8"))
    outputs = [o for c in book["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # it drew its figures
