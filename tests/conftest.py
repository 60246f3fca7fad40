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
