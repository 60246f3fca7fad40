"""The world's scalar figures: one float array the compiled rules index, read as attributes."""

import copy
import math
import pickle

import numpy as np
import pytest

import cisim.world as world_module
from cisim.model import DEFAULT_SCENARIO
from cisim.scenario import Scenario
from cisim.world import FIGURES, World, build_partners


@pytest.fixture
def world() -> World:
    sc = Scenario.load(DEFAULT_SCENARIO)
    table = build_partners(sc, np.random.default_rng(3))
    return World(isolated=False, partners=table, n_areas=len(sc.strategy_areas))


def test_each_figure_has_its_index_constant_and_attribute():
    for index, name in enumerate(FIGURES):
        assert getattr(world_module, f"F_{name.upper()}") == index
        assert isinstance(getattr(World, name), property), name
    assert len(set(FIGURES)) == len(FIGURES)


def test_a_new_world_starts_at_the_documented_values(world):
    for name in FIGURES:
        value = getattr(world, name)
        assert type(value) is float, name
        if name.endswith("_multiplier"):
            assert value == 1.0, name
        elif name in ("measured_rate", "measured_baseline", "measured_sroi"):
            assert math.isnan(value), name
        else:
            assert value == 0.0, name


def test_attributes_read_and_write_the_array(world):
    for index, name in enumerate(FIGURES):
        setattr(world, name, 0.25 + index)
        assert world.figures[index] == 0.25 + index
        world.figures[index] = -1.5 * index
        assert getattr(world, name) == -1.5 * index
    world.fit = np.float64(0.125)  # a numpy scalar is stored as its double, read back a float
    assert type(world.fit) is float and world.fit == 0.125


def test_copies_and_pickles_have_their_own_figures(world):
    world.agreement = 0.5
    for other in (copy.deepcopy(world), pickle.loads(pickle.dumps(world))):
        assert other.agreement == 0.5
        other.agreement = 0.75
        assert other.figures[world_module.F_AGREEMENT] == 0.75
        assert world.agreement == 0.5


def test_a_figure_takes_only_numbers(world):
    with pytest.raises(TypeError):
        world.trust_mean = "high"


def test_the_figures_array_is_never_replaced(world):
    with pytest.raises(AttributeError):
        world.figures = np.zeros(len(FIGURES))
