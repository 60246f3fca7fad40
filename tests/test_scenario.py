"""Scenario validation: shipped files validate, bad files give messages naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cisim import Scenario, ScenarioError, load_scenario
from cisim.scenario import parameter_table

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.toml"))


def test_there_are_at_least_five_shipped_scenarios():
    names = {p.stem for p in SCENARIOS}
    assert {"default", "no_backbone", "thin_measurement", "funding_cliff",
            "equity_engagement"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_validates_and_round_trips(path: Path):
    sc = load_scenario(path)
    assert Scenario.from_toml(sc.to_toml()) == sc
    assert path.read_text().lstrip().startswith("#"), "each scenario file explains itself"


def _problems(tmp_path: Path, text: str) -> ScenarioError:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    assert str(f) in str(err.value)
    return err.value


MINIMAL = 'name = "x"\n[partner_generation.counts]\nnonprofit = 3\n'


def test_minimal_scenario_is_valid(tmp_path: Path):
    f = tmp_path / "ok.toml"
    f.write_text(MINIMAL)
    sc = load_scenario(f)
    assert sc.steps == 520


def test_all_problems_reported_at_once_each_naming_its_field(tmp_path: Path):
    err = _problems(tmp_path, "horizon_years = 0\n" + MINIMAL + """
[backbone]
neutrality = 1.5
[meetings]
cadense = "weekly"
[population]
size = "many"
""")
    fields = {f for f, _ in err.problems}
    assert {"horizon_years", "backbone.neutrality", "meetings.cadense", "population.size"} <= fields
    assert "did you mean 'cadence'" in str(err)


def test_empty_partner_list_is_rejected(tmp_path: Path):
    err = _problems(tmp_path, 'name = "x"\npartners = []\n')
    assert "no partners" in str(err)


def test_wrong_type_and_out_of_range(tmp_path: Path):
    err = _problems(tmp_path, MINIMAL + "[funding]\nrenewal_base_probability = 2\n"
                    "[population]\nexit_rate_per_year = -1\n")
    fields = dict(err.problems)
    assert "funding.renewal_base_probability" in fields
    assert "population.exit_rate_per_year" in fields
    assert "got -1" in fields["population.exit_rate_per_year"]


def test_misspelt_nested_key_in_a_list(tmp_path: Path):
    err = _problems(tmp_path, 'name = "x"\n[[partners]]\nname = "a"\nsector = "public"\n'
                    'staf_fte = 3\n')
    assert err.problems[0][0] == "partners[0].staf_fte"
    assert "did you mean 'staff_fte'" in err.problems[0][1]


def test_unknown_sector_and_subgroup_shares(tmp_path: Path):
    err = _problems(tmp_path, 'name = "x"\n[[partners]]\nname = "a"\nsector = "church"\n'
                    '[[population.subgroups]]\nname = "a"\nshare = 0.5\n')
    text = str(err)
    assert "partners[0].sector" in text
    assert "sum to 1" in text


def test_invalid_toml_and_missing_file(tmp_path: Path):
    err = _problems(tmp_path, "name = \n")
    assert "not valid TOML" in str(err)
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "nope.toml")


def test_overrides_are_validated(default_scenario: Scenario):
    sc = default_scenario.with_overrides({"backbone.staff.facilitator": 0.5})
    assert sc.backbone.staff.facilitator == 0.5
    with pytest.raises(ScenarioError, match="did you mean 'facilitator'"):
        default_scenario.with_overrides({"backbone.staff.facilitater": 0.5})
    with pytest.raises(ScenarioError, match=r"backbone\.staff\.facilitator"):
        default_scenario.with_overrides({"backbone.staff.facilitator": -1})


def test_every_parameter_has_unit_and_source():
    rows = parameter_table()
    assert [r["path"] for r in rows if not r["unit"] or not r["source"]] == []


def test_counterfactual_is_isolated_copy(default_scenario: Scenario):
    cf = default_scenario.counterfactual()
    assert cf.isolated and not default_scenario.isolated
    assert cf.model_copy(update={"isolated": False}) == default_scenario


def test_own_strategy_areas_with_default_profiles_build(tmp_path: Path):
    from cisim.model import CollectiveImpactModel

    f = tmp_path / "areas.toml"
    f.write_text('name = "x"\nstrategy_areas = ["housing", "jobs"]\n'
                 "[partner_generation.counts]\npublic = 2\nnonprofit = 1\n"
                 "[[population.subgroups]]\nname = \"all\"\nshare = 1.0\n"
                 "[population]\nsize = 200\n")
    model = CollectiveImpactModel(load_scenario(f), rng=1)
    assert model.factual.partners.expertise.shape == (3, 2)


def test_own_strategy_areas_with_a_partial_profiles_table_build(tmp_path: Path):
    """Generated partners of a sector the profiles table leaves out use its default profile."""
    from cisim.model import CollectiveImpactModel
    from cisim.scenario import SECTORS

    f = tmp_path / "partial.toml"
    f.write_text('name = "x"\nstrategy_areas = ["housing", "health", "jobs"]\n'
                 "[partner_generation.counts]\nnonprofit = 2\npublic = 2\nprivate = 1\n"
                 "[partner_generation.profiles.nonprofit]\nstrong_areas = [\"housing\"]\n"
                 "staff_fte = {mean = 10, cv = 0.5}\n"
                 "budget_per_year = {mean = 800000, cv = 0.5}\n"
                 "[[population.subgroups]]\nname = \"all\"\nshare = 1.0\n"
                 "[population]\nsize = 200\n")
    model = CollectiveImpactModel(load_scenario(f), rng=1)
    partners = model.factual.partners
    assert partners.expertise.shape == (5, 3)
    nonprofit = partners.sector == SECTORS.index("nonprofit")
    assert nonprofit.sum() == 2
    assert (partners.expertise[nonprofit, 0] >= 0.6).all()  # the table's strong area
