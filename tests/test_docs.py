"""Tests of the model documentation: docs/model.md must stay true to the code (cisim.docs)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import cisim.mechanisms
from cisim import docs
from cisim.priors import registry
from cisim.scenario import SECTORS, _default_profiles, parameter_table

ROOT = Path(__file__).resolve().parent.parent
MODEL_MD = ROOT / "docs" / "model.md"
SCENARIOS_MD = ROOT / "docs" / "scenarios.md"


@pytest.fixture(scope="module")
def model_md() -> str:
    return MODEL_MD.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def markdown() -> str:
    return docs.parameter_markdown()


def _table_rows(markdown: str) -> dict[str, list[str]]:
    """Parameter rows of the generated tables: path -> cells."""
    rows = {}
    for line in markdown.splitlines():
        m = re.match(r"\| `([^`]+)` \|", line)
        if m:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[m.group(1)] = cells
    return rows


def test_every_parameter_path_is_in_model_md(model_md: str) -> None:
    missing = [r["path"] for r in parameter_table() if r["path"] not in model_md]
    assert not missing, f"parameters missing from docs/model.md: {missing}"


def test_generated_block_is_up_to_date(model_md: str, markdown: str) -> None:
    assert docs.START_MARKER in model_md and docs.END_MARKER in model_md
    assert docs.current_block(model_md) == markdown, (
        "the parameter tables in docs/model.md are stale: run python -m cisim.docs"
    )


def test_every_mechanism_class_is_described(model_md: str) -> None:
    package = cisim.mechanisms
    classes = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        classes += [
            name for name, obj in inspect.getmembers(module, inspect.isclass)
            if obj.__module__ == module.__name__ and hasattr(obj, "step")
        ]
    assert len(classes) >= 9
    missing = [name for name in classes if name not in model_md]
    assert not missing, f"mechanism classes not described in docs/model.md: {missing}"


def test_every_row_has_unit_default_and_source(markdown: str) -> None:
    rows = _table_rows(markdown)
    assert set(rows) == {r["path"] for r in parameter_table()}
    for path, (_, unit, default, _bounds, evidence, _prior, source, meaning) in rows.items():
        assert unit and default and evidence and source and meaning, f"incomplete row for {path}"


def test_profile_rows_are_rendered_per_sector(markdown: str) -> None:
    rows = _table_rows(markdown)
    path = "partner_generation.profiles.<sector>.staff_fte.mean"
    assert rows[path][1] == "FTE"  # a unit, not the schema's empty or generic one
    assert "per sector" in rows[path][2]  # not "required": every sector has a default
    profiles = _default_profiles()
    for sector in SECTORS:
        line = next(x for x in markdown.splitlines() if x.startswith(f"| {sector} |"))
        assert docs._num(profiles[sector].budget_per_year.mean) in line


def test_evidence_and_prior_columns_follow_the_priors_table(markdown: str) -> None:
    rows = _table_rows(markdown)
    header = next(x for x in markdown.splitlines() if x.startswith("| parameter |"))
    assert [c.strip() for c in header.strip("|").split("|")][4:6] == ["evidence", "prior"]
    table = registry()
    labels = {"cited_range": "cited range"}
    for path, cells in rows.items():
        entry = table[path]
        assert cells[4] == labels.get(entry.evidence, entry.evidence), path
        if entry.uncertain:
            assert cells[5].startswith(f"{entry.distribution}("), path
            assert cells[5].endswith("(not drawn)") == (not entry.sampled), path
        else:
            assert cells[5] == "", path
    # a measured number, an assumption with its prior, a design input without one
    assert rows["valuation.discount_rate"][4] == "measured"
    assert rows["dynamics.trust_decay_per_year"][5] == "loguniform(0.02, 0.3)"
    assert rows["backbone.staff.facilitator"][4:6] == ["design", ""]
    assert rows["partners[].commitment"][5].endswith("(not drawn)")


def test_evidence_counts_are_computed_from_the_table(markdown: str) -> None:
    counts = docs.evidence_counts()
    assert sum(counts.values()) == len(parameter_table())
    table = registry()
    assert counts["assumption"] == sum(e.evidence == "assumption" for e in table.values())
    line = next(x for x in markdown.splitlines() if x.startswith("Evidence classes"))
    assert f"{counts['measured']} measured" in line
    assert f"{counts['assumption']} assumptions" in line
    assert f"{counts['design']} design inputs" in line


def test_main_rewrites_only_the_block(tmp_path: Path, markdown: str) -> None:
    target = tmp_path / "model.md"
    target.write_text(
        f"# Title\n\nprose before\n\n{docs.START_MARKER}\nstale table\n"
        f"{docs.END_MARKER}\n\nafter\n",
        encoding="utf-8",
    )
    assert docs.main(["--check", str(target)]) == 1
    assert docs.main([str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert "stale table" not in text
    assert text.startswith("# Title\n\nprose before\n\n")
    assert text.endswith(f"{docs.END_MARKER}\n\nafter\n")
    assert docs.current_block(text) == markdown
    assert docs.main(["--check", str(target)]) == 0
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no leftovers


def test_main_reports_missing_markers(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    target = tmp_path / "model.md"
    target.write_text("no markers here\n", encoding="utf-8")
    assert docs.main([str(target)]) == 2
    assert "marker" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "no markers here\n"
    assert docs.main([str(tmp_path / "absent.md")]) == 2


def test_scenario_guide_shows_real_commands() -> None:
    text = SCENARIOS_MD.read_text(encoding="utf-8")
    for needle in ("cisim validate", "--set", "did you mean"):
        assert needle in text
