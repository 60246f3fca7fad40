"""Shared fixtures: the shipped scenarios, small fast variants, small sweep specs, the CLI.

Helpers that write files or start processes are session fixtures returning a function, so tests
and fixtures of any scope can use them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from cisim import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


@pytest.fixture(scope="session")
def default_scenario() -> Scenario:
    return load_scenario(ROOT / "scenarios" / "default.toml")


@pytest.fixture(scope="session")
def small(default_scenario: Scenario) -> Scenario:
    """The default design with a smaller population (fast, same dynamics)."""
    return default_scenario.with_overrides({"population.size": 2000})


@pytest.fixture(scope="module")
def one_numba_thread():
    """Run a module's kernels on one thread: small populations run faster so, on a shared machine.

    Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_numba_thread")``.
    """
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


# ---- small input files -----------------------------------------------------------------------


def write_tiny_scenario(path: Path, *, name: str = "tiny design", horizon_years: int = 2,
                        population: int = 300) -> Path:
    """Write a scenario small enough to run in a second: five partners, 300 people, 2 years."""
    path = Path(path)
    path.write_text(f"""
name = "{name}"
horizon_years = {horizon_years}

[partner_generation.counts]
nonprofit = 3
public = 1
philanthropy = 1

[population]
size = {population}
mesa_agents = 10
""", encoding="utf-8")
    return path


def write_ishigami_spec(path: Path, *, name: str = "ish", function: str = "noisy_ishigami",
                        seed: int = 3, replications: int = 2, n: int = 8) -> Path:
    """Write a sweep spec of an Ishigami example of :mod:`cisim.sweep.examples`.

    Its three parameters x1, x2, x3 range over [-3.14159, 3.14159]; the design is Sobol's
    (``n * 5`` points), each point run ``replications`` times.
    """
    path = Path(path)
    parameters = "".join(f'[[parameters]]\npath = "x{i}"\nbounds = [-3.14159, 3.14159]\n'
                         for i in (1, 2, 3))
    path.write_text(f"""
name = "{name}"
function = "cisim.sweep.examples:{function}"
seed = {seed}
replications = {replications}
{parameters}[sampler]
method = "sobol"
n = {n}
""", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_scenario() -> Callable[..., Path]:
    """``tiny_scenario(path, name=..., horizon_years=..., population=...)``: see
    :func:`write_tiny_scenario`."""
    return write_tiny_scenario


@pytest.fixture(scope="session")
def ishigami_spec() -> Callable[..., Path]:
    """``ishigami_spec(path, name=..., function=..., seed=..., replications=..., n=...)``: see
    :func:`write_ishigami_spec`."""
    return write_ishigami_spec


# ---- the cisim command in a process of its own -----------------------------------------------


@contextmanager
def _cisim_process(*args: str, module: str = "cisim", **popen: object
                   ) -> Iterator[subprocess.Popen]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    options: dict[str, object] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE,
                                  "text": True, "cwd": ROOT, "env": env} | popen
    proc = subprocess.Popen([sys.executable, "-m", module, *args], **options)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.fixture(scope="session")
def cisim_process() -> Callable[..., AbstractContextManager[subprocess.Popen]]:
    """``with cisim_process(*args, module="cisim") as proc:`` runs ``python -m MODULE ARGS``.

    The process runs this checkout's cisim (from the repository root), its stdout discarded
    and its stderr a text pipe; it is killed (SIGKILL) if it still runs when the block ends.
    """
    return _cisim_process
