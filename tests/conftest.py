"""Shared fixtures: the shipped scenarios and small, fast variants of the default."""

from __future__ import annotations

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
