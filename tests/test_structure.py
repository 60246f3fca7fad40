"""The structure the code promises: imports run one way, and outputs never feed the dynamics."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from cisim import Scenario
from cisim.model import CollectiveImpactModel

PACKAGE = Path(__file__).resolve().parent.parent / "cisim"

#: The modules of the model's core: no import cycle may pass through any of them.
CORE = ("cisim.model", "cisim.agents", "cisim.phases", "cisim.outcomes", "cisim.costs",
        "cisim.context", "cisim.world", "cisim.population", "cisim._population",
        "cisim.kernels", "cisim.mechanisms")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, module: str, is_package: bool, modules: set[str],
             typing: bool = False) -> set[str]:
    """Modules of ``modules`` that ``tree`` imports at run time (functions included).

    With ``typing`` also those imported only for type hints (``if TYPE_CHECKING:``).
    """
    found: set[str] = set()

    ancestors = {".".join(module.split(".")[:k]) for k in range(1, module.count(".") + 1)}

    def add(name: str) -> None:
        # importing a.b.c runs a.b's __init__ first, unless a.b is the importer's own package
        # (initialised before it); the top package's is left out: it only re-exports names
        parts = name.split(".")
        for k in range(2, len(parts) + 1):
            prefix = ".".join(parts[:k])
            if prefix in modules and prefix not in ancestors:
                found.add(prefix)

    def visit(node: ast.AST) -> None:
        if not typing and isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            add(target)
            for alias in node.names:  # "from pkg import submodule"
                add(f"{target}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


def import_graph(typing: bool = False) -> dict[str, set[str]]:
    """Run-time imports among cisim's modules (with ``typing`` also those for type hints)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {m: _imports(ast.parse(p.read_text()), m, p.name == "__init__.py", modules, typing)
            for m, p in files.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return out


def test_the_graph_sees_function_level_imports_and_skips_type_checking():
    graph = import_graph()
    assert "cisim._population" in graph["cisim.population"]
    assert "cisim.world" in graph["cisim.outcomes"]  # imported inside a method
    assert "cisim.context" not in graph["cisim.phases"]  # only under TYPE_CHECKING
    fake = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(fake) == [["a", "b", "c"]]


def test_no_import_cycle_through_the_model_core():
    graph = import_graph()
    core = {m for m in graph if m.startswith(CORE)}
    bad = [c for c in _cycles(graph) if core & set(c)]
    assert not bad, f"import cycles through the model's core: {bad}"


def test_the_core_imports_nothing_above_it():
    """Rules, world, population and recorder do not import the model, not even for type hints:
    they take the small contexts of cisim.context (data flows one way)."""
    graph = import_graph(typing=True)
    below = [m for m in graph if m.startswith(CORE) and m != "cisim.model"]
    assert not [m for m in below if "cisim.model" in graph[m]]
    concrete = {m for m in graph if m.startswith("cisim.mechanisms.")}
    assert not graph["cisim.model"] & concrete, "model.py names a concrete mechanism"


# ---- outputs never feed the dynamics ---------------------------------------------------------


class _NullRecorder:
    """A recorder that records nothing (the data collector then reads NaN)."""

    def __init__(self, real) -> None:
        self.data = np.full((1, real.data.shape[1]), np.nan)
        self.cols = real.cols
        self.phase: list[str] = []

    def record(self, step: int) -> None:
        pass


def _dynamics(model: CollectiveImpactModel) -> dict[str, object]:
    f = model.factual
    return {
        "outcome": model.population.outcome.copy(),
        "exposure": model.population.exposure.copy(),
        "trust": f.trust.copy(), "position": f.position.copy(), "commitment": f.commitment.copy(),
        "active": f.active.copy(), "measurement": f.measurement, "measured_rate": f.measured_rate,
        "measured_sroi": f.measured_sroi, "policy": f.policy_change,
        "phase": model.phase_key(f), "transitions": list(model.transitions),
        "events": list(model.events),
    }


@pytest.fixture(scope="module")
def phased(default_scenario: Scenario) -> Scenario:
    """A design that reaches Exponential Value (the measured SROI condition is checked)."""
    return default_scenario.with_overrides({
        "population.size": 1500, "horizon_years": 6.0, "dynamics.initial_trust": 0.35,
        "phases.run_years_before_redesign": 0.5, "phases.redesign_years": 0.5,
        "phases.exponential_min_systems_change": 0.0, "phases.exponential_min_sroi": 0.0,
        "measurement.report_lag_weeks": 26})


def test_the_recorder_does_not_feed_the_dynamics(phased: Scenario):
    reference = CollectiveImpactModel(phased, rng=4)
    silent = CollectiveImpactModel(phased, rng=4)
    wiped = CollectiveImpactModel(phased, rng=4)
    silent.recorder = _NullRecorder(silent.recorder)
    for t in range(phased.steps):
        for m in (reference, silent, wiped):
            m.step()
        if t == phased.steps // 2:  # delete the history mid-run
            wiped.recorder.data[:] = np.nan
            wiped.recorder.subgroup_rates[:] = np.nan
    assert reference.phase_key(reference.factual) == "exponential"  # the SROI condition ran
    want = _dynamics(reference)
    for m in (silent, wiped):
        got = _dynamics(m)
        for key, value in want.items():
            np.testing.assert_array_equal(np.asarray(got[key], dtype=object),
                                          np.asarray(value, dtype=object), err_msg=key)
    assert np.isnan(silent.latest("trust"))  # the silent recorder really recorded nothing
