"""Tests of the command line interface (cisim validate, cisim run, --set, --version)."""

from __future__ import annotations

import contextlib
import io
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from cisim.cli import UsageError, main, parse_set, parse_sets
from cisim.provenance import changes_of
from cisim.scenario import Scenario

GOOD = """
name = "good design"
horizon_years = 3

[partner_generation.counts]
nonprofit = 3
public = 1
"""

BAD = """
name = "bad design"
horizon_years = -1

[backbone]
skill = 1.5

[meetings]
cadence = "daily"

[population]
size = 3
"""

UNKNOWN_KEY = """
name = "typo"

[partner_generation.counts]
nonprofit = 3

[backbone]
presnt = false
"""

#: The name of the tiny scenario these tests run.
TINY_NAME = "tiny cli design"

RESULT_FILES = [
    "trajectories.parquet",
    "trajectories.csv",
    "summaries.csv",
    "events.csv",
    "phases.csv",
    "subgroups.parquet",
    "partners.csv",
    "partner_values.parquet",
    "costs.csv",
    "parameters.csv",
    "distribution.json",
    "scenario.toml",
    "population_change.png",
    "sroi.png",
    "components.png",
    "phase_timeline.png",
]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---- validate --------------------------------------------------------------------------------


def test_validate_ok(tmp_path, capsys):
    good = _write(tmp_path, "good.toml", GOOD)
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"{good}: ok"


def test_validate_names_every_problem(tmp_path, capsys):
    bad = _write(tmp_path, "bad.toml", BAD)
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}: 4 problem(s)" in out
    for field in ("horizon_years", "backbone.skill", "meetings.cadence", "population.size"):
        assert f"{bad}: {field}:" in out
    assert "Traceback" not in out


def test_validate_unknown_key_suggests_the_right_one(tmp_path, capsys):
    typo = _write(tmp_path, "typo.toml", UNKNOWN_KEY)
    assert main(["validate", str(typo)]) == 1
    out = capsys.readouterr().out
    assert "backbone.presnt: unknown key; did you mean 'present'?" in out


def test_validate_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert main(["validate", str(missing)]) == 1
    captured = capsys.readouterr()
    assert f"{missing}: (file): no such file" in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_validate_not_toml(tmp_path, capsys):
    broken = _write(tmp_path, "broken.toml", "name = \n")
    assert main(["validate", str(broken)]) == 1
    assert "not valid TOML" in capsys.readouterr().out


def test_validate_several_files_reports_each(tmp_path, capsys):
    good = _write(tmp_path, "good.toml", GOOD)
    bad = _write(tmp_path, "bad.toml", BAD)
    assert main(["validate", str(good), str(bad), str(good)]) == 1
    out = capsys.readouterr().out
    assert out.count(f"{good}: ok") == 2
    assert f"{bad}: 4 problem(s)" in out


def test_validate_needs_a_file(capsys):
    assert main(["validate"]) == 2
    assert "FILE" in capsys.readouterr().err


# ---- --set parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("funding.max_years=2", "funding.max_years", 2),
        ("backbone.staff.facilitator=0.5", "backbone.staff.facilitator", 0.5),
        ("backbone.present=false", "backbone.present", False),
        ("measurement.shared=true", "measurement.shared", True),
        ("valuation.currency=EUR", "valuation.currency", "EUR"),
        ('name="two words"', "name", "two words"),
        ("name=two words", "name", "two words"),
        ("strategy_areas=['a', 'b']", "strategy_areas", ["a", "b"]),
        ("population.size=1_000", "population.size", 1000),
        (" meetings.cadence = monthly ", "meetings.cadence", "monthly"),
        ("description=a=b", "description", "a=b"),
    ],
)
def test_parse_set_reads_toml_values(text, path, value):
    assert parse_set(text) == (path, value)
    assert type(parse_set(text)[1]) is type(value)


@pytest.mark.parametrize("text", ["funding.max_years", "=2", "funding.max_years="])
def test_parse_set_rejects_malformed(text):
    with pytest.raises(UsageError, match="--set"):
        parse_set(text)


def test_parse_sets_later_wins():
    assert parse_sets(["a.b=1", "c=x", "a.b=2"]) == {"a.b": 2, "c": "x"}
    assert parse_sets(None) == {}


def test_set_values_override_a_scenario(tmp_path):
    from cisim.scenario import load_scenario

    good = load_scenario(_write(tmp_path, "good.toml", GOOD))
    sc = good.with_overrides(
        parse_sets(["funding.max_years=2", "backbone.present=false", "valuation.currency=EUR"])
    )
    assert sc.funding.max_years == 2
    assert sc.backbone.present is False
    assert sc.valuation.currency == "EUR"


# ---- run: bad input never gives a traceback --------------------------------------------------


def test_run_set_without_equals_exits_2(tmp_path, capsys):
    good = _write(tmp_path, "good.toml", GOOD)
    assert main(["run", str(good), "--set", "funding.max_years", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "expected PATH=VALUE" in err and "funding.max_years" in err
    assert "Traceback" not in err


def test_run_unknown_set_path_exits_2(tmp_path, capsys):
    good = _write(tmp_path, "good.toml", GOOD)
    code = main(["run", str(good), "--set", "backbone.staf.facilitator=1", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "--set: backbone.staf.facilitator: unknown field 'staf'; did you mean 'staff'?" in err


def test_run_bad_set_value_exits_2(tmp_path, capsys):
    good = _write(tmp_path, "good.toml", GOOD)
    assert main(["run", str(good), "--set", "backbone.present=maybe", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "backbone.present" in err


def test_run_invalid_scenario_exits_2(tmp_path, capsys):
    bad = _write(tmp_path, "bad.toml", BAD)
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    captured = capsys.readouterr()
    assert "4 problem(s)" in captured.err and "population.size" in captured.err
    assert captured.out == ""
    assert not (tmp_path / "o").exists()


def test_run_missing_file_exits_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_run_zero_replications_exits_2(tmp_path, capsys):
    good = _write(tmp_path, "good.toml", GOOD)
    assert main(["run", str(good), "--replications", "0"]) == 2
    assert "--replications" in capsys.readouterr().err


def test_run_non_integer_option_exits_2(tmp_path, capsys):
    good = _write(tmp_path, "good.toml", GOOD)
    assert main(["run", str(good), "--replications", "many"]) == 2
    assert "--replications: expected a whole number" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("cisim ")


def test_no_command_exits_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


# ---- run: with the engine --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_scenario):
    """Run the tiny scenario once through the CLI: (exit code, stdout, stderr, out dir)."""
    tmp = tmp_path_factory.mktemp("run")
    scenario = tiny_scenario(tmp / "tiny.toml", name=TINY_NAME)
    outdir = tmp / "results"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([
            "run", str(scenario), "--replications", "2", "--seed", "3", "--jobs", "1",
            "--out", str(outdir), "--set", "backbone.staff.facilitator=0.5",
        ])
    return code, stdout.getvalue(), stderr.getvalue(), outdir


def test_run_writes_every_promised_file(tiny_run):
    code, _, err, outdir = tiny_run
    assert code == 0, err
    for name in RESULT_FILES:
        path = outdir / name
        assert path.is_file(), name
        assert path.stat().st_size > 0, name
    leftovers = [p.name for p in outdir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_run_results_hold_both_replications(tiny_run):
    _, _, _, outdir = tiny_run
    traj = pd.read_parquet(outdir / "trajectories.parquet")
    assert sorted(traj["replication"].unique()) == [0, 1]
    assert traj["year"].max() == pytest.approx(2.0)
    assert len(pd.read_csv(outdir / "summaries.csv")) == 2
    partners = pd.read_csv(outdir / "partners.csv")
    assert sorted(partners["replication"].unique()) == [0, 1]
    assert len(partners) == 2 * 5
    assert "replication" in pd.read_parquet(outdir / "subgroups.parquet").columns


def test_run_saves_the_overridden_scenario(tiny_run):
    _, _, _, outdir = tiny_run
    text = (outdir / "scenario.toml").read_text(encoding="utf-8")
    saved = tomllib.loads(text)
    assert saved["name"] == "tiny cli design (backbone.staff.facilitator=0.5)"
    assert saved["backbone"]["staff"]["facilitator"] == 0.5
    assert text.startswith("# Written by cisim run")
    header = text.split("\n\n", 1)[0]
    assert "--set backbone.staff.facilitator=0.5" in header and "tiny.toml" in header
    # the saved file still loads, and carries the record in its description
    again = Scenario.load(outdir / "scenario.toml")
    assert changes_of(again) == [
        f"Changed from {outdir.parent / 'tiny.toml'}: --set backbone.staff.facilitator=0.5"]


def test_run_names_the_override_in_every_output(tiny_run):
    """Summary, figure titles, scenario.toml and a report built later from the saved results."""
    from cisim.cli.report import load_results
    from cisim.report.figures import population_change_figure, sroi_figure
    from cisim.report.html import report_html

    _, out, _, outdir = tiny_run
    override = "backbone.staff.facilitator=0.5"
    assert f"Scenario: tiny cli design ({override})" in out
    assert f"--set {override}" in out
    result = load_results(outdir)
    fig = population_change_figure(result)
    assert override in fig.get_suptitle()
    assert override in sroi_figure(result).axes[0].get_title()
    page = report_html(result)
    h1 = re.search(r"<h1>(.*?)</h1>", page).group(1)
    assert override in h1
    line = re.search(r'<p class="meta" id="provenance">(.*?)</p>', page).group(1)
    assert f"--set {override}" in line and "tiny.toml" in line


def test_run_writes_costs_and_mentions_total_investment(tiny_run):
    _, out, _, outdir = tiny_run
    costs = pd.read_csv(outdir / "costs.csv")
    traj = pd.read_parquet(outdir / "trajectories.parquet")
    counted = costs[(costs["side"] == "source") & costs["counted"]]
    total = counted.groupby("replication")["amount"].sum()
    final = traj.sort_values("step").groupby("replication")["cumulative_investment"].last()
    assert total.to_numpy() == pytest.approx(final.to_numpy(), rel=1e-9)
    m = re.search(r"total over the horizon: (?:median )?([\d.]+) (k|M) ", out)
    assert m, out
    unit = 1e3 if m.group(2) == "k" else 1e6
    assert abs(float(m.group(1)) * unit - float(final.median())) <= 0.05 * unit


def test_run_prints_a_plain_summary(tiny_run):
    _, out, err, outdir = tiny_run
    assert "Scenario: tiny cli design" in out
    assert "2 replication(s)" in out
    assert "against the counterfactual" in out and "pp" in out
    assert "Social return on investment" in out
    assert "Phases reached" in out
    assert "Equity gap" in out
    assert str(outdir) in out
    assert "at year 5" not in out  # the horizon is 2 years
    assert "Traceback" not in err


def test_run_default_out_dir_and_no_figures(tmp_path, monkeypatch, capsys, tiny_scenario):
    scenario = tiny_scenario(tmp_path / "small.toml", name=TINY_NAME)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "small.toml", "-n", "1", "--jobs", "1", "--no-figures"]) == 0
    outdir = tmp_path / "out" / "small"
    names = {p.name for p in outdir.iterdir()}
    assert names == {n for n in RESULT_FILES if not n.endswith(".png")} | {"manifest.json"}
    assert scenario.exists()
    assert "Scenario: tiny cli design" in capsys.readouterr().out


def test_compile_readies_the_kernels(capsys):
    from cisim._population import population_step, population_week
    from cisim.mechanisms._week import week_rule

    assert main(["compile"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cisim: kernels ready in ")
    # compiled or loaded in this process: the weeks of a run, and the threaded path's kernel
    assert week_rule.signatures and population_week.signatures and population_step.signatures


# ---- run: results directory written whole, with a manifest that report checks --------------


def test_run_writes_a_manifest_of_every_file(tiny_run):
    import hashlib
    import json

    _, _, _, outdir = tiny_run
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 3 and manifest["replications"] == 2
    assert set(manifest["files"]) == set(RESULT_FILES)
    for name, meta in manifest["files"].items():
        data = (outdir / name).read_bytes()
        assert meta["bytes"] == len(data)
        assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    hidden = [p.name for p in outdir.parent.iterdir() if p.name.startswith(".")]
    assert hidden == []


def _copy(outdir: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(outdir, tmp_path / "copy"))


def test_report_refuses_a_directory_with_a_replaced_file(tiny_run, tmp_path, capsys):
    copy = _copy(tiny_run[3], tmp_path)
    summaries = pd.read_csv(copy / "summaries.csv")
    summaries.iloc[0, summaries.columns.get_loc("seed")] += 1000  # as if another run wrote it
    summaries.to_csv(copy / "summaries.csv", index=False)
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "do not all come from one run" in err
    assert "summaries.csv differs" in err
    assert "Traceback" not in err
    assert not (copy / "report.html").exists()


def test_report_refuses_a_result_file_the_manifest_does_not_list(tiny_run, tmp_path, capsys):
    copy = _copy(tiny_run[3], tmp_path)
    (copy / "sroi.png").unlink()  # a run without that figure ...
    assert main(["report", str(copy)]) == 2
    assert "sroi.png is listed but missing" in capsys.readouterr().err
    (copy / "sroi.png").write_bytes(b"\x89PNG from another run")
    assert main(["report", str(copy)]) == 2
    assert "sroi.png differs" in capsys.readouterr().err


def test_report_warns_for_a_directory_without_a_manifest(tiny_run, tmp_path, capsys):
    copy = _copy(tiny_run[3], tmp_path)
    (copy / "manifest.json").unlink()
    assert main(["report", str(copy), "-o", str(tmp_path / "r.html")]) == 0
    err = capsys.readouterr().err
    assert f"warning: {copy} has no manifest.json" in err
    assert (tmp_path / "r.html").is_file()


def test_report_accepts_its_own_report_beside_the_results(tiny_run, tmp_path, capsys):
    copy = _copy(tiny_run[3], tmp_path)
    assert main(["report", str(copy)]) == 0  # writes copy/report.html and copy/report_tables/
    assert (copy / "report.html").is_file()
    assert main(["report", str(copy)]) == 0, capsys.readouterr().err
    assert "warning" not in capsys.readouterr().err


def test_run_replaces_its_own_results_whole(tiny_run, tmp_path, capsys, tiny_scenario):
    """A second run into a results directory removes the files the first wrote and it did not."""
    import json

    copy = _copy(tiny_run[3], tmp_path)
    scenario = tiny_scenario(tmp_path / "tiny.toml", name=TINY_NAME)
    assert main(["run", str(scenario), "-n", "1", "-j", "1", "--seed", "9", "--no-figures",
                 "-o", str(copy)]) == 0
    names = {p.name for p in copy.iterdir()}
    assert names == {n for n in RESULT_FILES if not n.endswith(".png")} | {"manifest.json"}
    assert len(pd.read_csv(copy / "summaries.csv")) == 1  # one replication, not the first's 2
    assert json.loads((copy / "manifest.json").read_text())["seed"] == 9
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    capsys.readouterr()
    assert main(["report", str(copy), "-o", str(tmp_path / "r.html")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_run_refuses_a_directory_holding_other_files(tmp_path, capsys, tiny_scenario):
    scenario = tiny_scenario(tmp_path / "tiny.toml", name=TINY_NAME)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("precious")
    assert main(["run", str(scenario), "-n", "1", "-j", "1", "-o", str(mine)]) == 2
    err = capsys.readouterr().err
    assert f"-o/--out {mine}: holds files that are not results" in err
    assert (mine / "thesis.docx").read_text() == "precious"
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.docx"]


def test_run_replaces_a_directory_with_temporaries_of_an_older_killed_run(tiny_run, tmp_path,
                                                                         tiny_scenario):
    """Hidden temporaries a killed run left inside (the old way of writing) do not block."""
    copy = _copy(tiny_run[3], tmp_path)
    (copy / ".summaries.csv.k3j_h5g6.tmp").write_text("half written")
    (copy / ".events.csv.a1b2c3-99999.x9y8z7w6.tmp").write_text("half written")
    scenario = tiny_scenario(tmp_path / "tiny.toml", name=TINY_NAME)
    assert main(["run", str(scenario), "-n", "1", "-j", "1", "--no-figures",
                 "-o", str(copy)]) == 0
    assert not [p.name for p in copy.iterdir() if p.name.endswith(".tmp")]


def test_reports_written_later_do_not_make_results_look_mixed(tmp_path, capsys, tiny_scenario):
    """run --report lists report.html in the manifest; report DIR rewrites it, more than once."""
    scenario = tiny_scenario(tmp_path / "tiny.toml", name=TINY_NAME)
    out = tmp_path / "out"
    assert main(["run", str(scenario), "-n", "1", "-j", "1", "--no-figures", "--report",
                 "-o", str(out)]) == 0
    first = (out / "report.html").read_bytes()
    for _ in range(2):
        assert main(["report", str(out)]) == 0, capsys.readouterr().err
    assert (out / "report.html").read_bytes() != first  # rewritten (no seed: from saved files)
    # ... while a changed result file is still caught
    (out / "events.csv").write_text("point\n1\n")
    assert main(["report", str(out)]) == 2
    assert "events.csv differs" in capsys.readouterr().err
