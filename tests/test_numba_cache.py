"""cisim imports and runs from a read-only installation.

numba caches compiled kernels next to the source (``cisim/__pycache__``). An installed package
may live in a read-only directory (a system site-packages, a container image); cisim must then
fall back to a user cache directory, and must never crash at import. Each test runs Python in a
subprocess on a read-only copy of the package. As root, file permissions do not bind, so the
subprocess drops the capabilities that bypass them (``setpriv``); without a way to do that the
tests are skipped.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DROP_CAPS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def _privilege_prefix() -> list[str]:
    if not hasattr(os, "geteuid"):
        pytest.skip("POSIX permissions needed")
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a directory read-only")
    return DROP_CAPS


def _make_read_only(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture
def readonly(tmp_path: Path):
    """A read-only copy of the package (and the scenarios), a fresh home and temp directory."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "cisim", site / "cisim",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(ROOT / "scenarios", site / "scenarios")
    _make_read_only(site)
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    yield site, home, tmp
    for p in [site, *site.rglob("*")]:  # let pytest clean up
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


def _run(site: Path, home: Path, tmp: Path, code: str, timeout: float = 120
         ) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH")}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=str(site))
    cmd = [*_privilege_prefix(), sys.executable, "-P", "-c", code]
    return subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


PROBE = """
import pathlib, cisim, cisim._population as k
pkg = pathlib.Path(cisim.__file__).parent
try:
    (pkg / "probe").write_text("x")
    print("WRITABLE")
except OSError:
    print("READONLY")
print("FILE", cisim.__file__)
print("CACHE", k.population_step._cache._cache_path)
"""


def _lines(out: str) -> dict[str, str]:
    return {line.split(" ", 1)[0]: line.split(" ", 1)[-1] for line in out.splitlines() if line}


def test_read_only_package_caches_in_user_directory(readonly):
    site, home, tmp = readonly
    proc = _run(site, home, tmp, PROBE)
    assert proc.returncode == 0, proc.stderr
    out = _lines(proc.stdout)
    assert "READONLY" in out  # the setup really is read-only
    assert out["FILE"].startswith(str(site))  # the copy, not the working tree, was imported
    assert Path(out["CACHE"]).is_relative_to(home)  # numba fell back to ~/.cache/numba


def test_read_only_package_and_home_still_import(readonly):
    site, _home, tmp = readonly
    proc = _run(site, site, tmp, PROBE)  # HOME read-only too: no user cache directory
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = _lines(proc.stdout)
    assert "READONLY" in out
    assert not Path(out["CACHE"]).is_relative_to(site)


SIMULATE = """
import pathlib, cisim
from cisim import load_scenario, simulate
root = pathlib.Path(cisim.__file__).parent.parent
sc = load_scenario(root / "scenarios" / "default.toml").with_overrides(
    {"population.size": 300, "horizon_years": 0.25})
r = simulate(sc, 1)
print("ROWS", len(r.trajectory))
"""


@pytest.mark.slow
def test_read_only_package_simulates(readonly):
    """Compiles every kernel from cold (tens of seconds), caching in the user directory."""
    site, home, tmp = readonly
    proc = _run(site, home, tmp, SIMULATE, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _lines(proc.stdout)["ROWS"] == str(13 + 1)  # steps 0..13
    assert any((home / ".cache" / "numba").rglob("*.nbi"))  # and the cache was written


# A kernel bakes in what it reads from other cisim modules when it is compiled: here the figure
# indices F_* of cisim/_world.py in the engagement kernel. numba renews a cache entry only when
# the kernel's own file changes; cisim's entries also carry a digest of the whole package.
ENGAGEMENT = """
import numpy as np
from cisim import world
from cisim.mechanisms._engagement import engagement_params, engagement_week
figures = np.arange(len(world.FIGURES), dtype=float) / 100
before = figures.copy()
engagement_week(engagement_params(0.1, 1.0, False, 0.0, 0.0), figures, 1.0, False,
                np.zeros(2), np.zeros(2))
print("WROTE", ",".join(world.FIGURES[i] for i in np.flatnonzero(figures != before)))
print("HITS", sum(engagement_week.stats.cache_hits.values()))
"""


def _run_copy(site: Path, code: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT", "CISIM_NUMBA_CACHE",
                        "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run([sys.executable, "-P", "-c", code], cwd=site, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return _lines(proc.stdout)


def test_cache_renewed_when_another_module_changes(tmp_path: Path):
    """Swapping two figures in _world.py recompiles a kernel cached in another file."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "cisim", site / "cisim",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    first = _run_copy(site, ENGAGEMENT)  # compiles, caches in the copy's __pycache__
    assert first == {"WROTE": "engagement", "HITS": "0"}
    assert _run_copy(site, ENGAGEMENT) == {"WROTE": "engagement", "HITS": "1"}  # from the cache

    world = site / "cisim" / "_world.py"  # the figures' layout
    source = world.read_text()
    changed = (source.replace('"measurement", "engagement",', '"engagement", "measurement",', 1)
               .replace("F_MEASUREMENT, F_ENGAGEMENT,", "F_ENGAGEMENT, F_MEASUREMENT,", 1))
    assert changed.count("F_ENGAGEMENT, F_MEASUREMENT,") == 1 and changed != source
    world.write_text(changed)
    # A stale entry would still write index 4, now the measurement figure.
    assert _run_copy(site, ENGAGEMENT) == {"WROTE": "engagement", "HITS": "0"}
    assert _run_copy(site, ENGAGEMENT) == {"WROTE": "engagement", "HITS": "1"}
