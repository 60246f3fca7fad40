"""Tests of the strategist's HTML report and the design comparison.

The browser tests open the reports in Debian's Chromium driven by Playwright. They fail (they do
not skip) when either is missing, with the command that installs it.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cisim.cli import main
from cisim.report.compare import (
    beat_probability,
    compare_results,
    comparison_html,
    paired_scores,
    quantile_beat_probability,
    run_comparison,
)
from cisim.report.html import (
    MIN_FOR_INTERVAL,
    read_validation_results,
    report_html,
    report_numbers,
    report_tables,
    subset_cells,
    subset_stat,
)
from cisim.scenario import Scenario, ScenarioError
from cisim.simulate import ensemble

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

# A small partnership serving many youth on a tight budget: money is scarce, so a design with
# more money is strictly better (with ample money services saturate and extra money does nothing).
SCARCE = """
name = "scarce"
description = "A small partnership serving many youth on a tight budget (test design)."
horizon_years = 3

[[partners]]
name = "Youth NGO"
sector = "nonprofit"
staff_fte = 4.0
budget_per_year = 60000.0
influence = 4.0

[[partners]]
name = "Employment Office"
sector = "public"
staff_fte = 6.0
budget_per_year = 60000.0

[[partners]]
name = "School"
sector = "public"
staff_fte = 6.0
budget_per_year = 60000.0

[[partners]]
name = "Employer"
sector = "private"
staff_fte = 2.0
budget_per_year = 30000.0

[[partners]]
name = "Foundation"
sector = "philanthropy"
staff_fte = 1.0
budget_per_year = 0.0
grant_per_year = 100000.0

[backbone]
budget_per_year = 150000.0

[[funding.streams]]
name = "Anchor grant"
amount_per_year = 250000.0
years = 3
anchor = true

[population]
size = 1000
mesa_agents = 10

[target]
outcome_rate = 0.88
year = 2
"""

REPS = 8
SEED = 7
VALIDATION_FIXTURE = Path(__file__).resolve().parent / "data" / "validation_results.json"


pytestmark = pytest.mark.usefixtures("one_numba_thread")


@pytest.fixture(scope="module")
def scarce_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scen") / "scarce.toml"
    path.write_text(SCARCE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scarce() -> Scenario:
    return Scenario.from_toml(SCARCE, source="SCARCE")


@pytest.fixture(scope="module")
def comparison(scarce):
    """The scarce design against the same design with five times the anchor grant (CRN)."""
    rich = scarce.with_overrides({"funding.streams[0].amount_per_year": 1_250_000.0})
    return run_comparison([scarce, rich], ["scarce", "rich"], replications=REPS, seed=SEED,
                          n_jobs=1)


@pytest.fixture(scope="module")
def base(comparison):
    return comparison.designs[0].result


@pytest.fixture(scope="module")
def report(base, tmp_path_factory) -> tuple[str, Path]:
    text = report_html(base, seed=SEED, source="SCARCE", validation=VALIDATION_FIXTURE)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(text, encoding="utf-8")
    return text, path


@pytest.fixture(scope="module")
def comparison_page(comparison, tmp_path_factory) -> tuple[str, Path]:
    text = comparison_html(comparison)
    path = tmp_path_factory.mktemp("compare") / "compare.html"
    path.write_text(text, encoding="utf-8")
    return text, path


# ---- helpers -----------------------------------------------------------------------------------


class _Spans(HTMLParser):
    """Collect <span data-key> numbers, the text of <p id="summary"> and <img> sources."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: dict[str, tuple[float, str]] = {}
        self.summary_keys: list[str] = []
        self.images: list[str] = []
        self._key: str | None = None
        self._value = math.nan
        self._text = ""
        self._in_summary = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "p" and a.get("id") == "summary":
            self._in_summary = True
        if tag == "span" and "data-key" in a:
            self._key, self._value, self._text = a["data-key"], float(a["data-value"]), ""
            if self._in_summary:
                self.summary_keys.append(a["data-key"])
        if tag == "img":
            self.images.append(a.get("src", ""))

    def handle_endtag(self, tag):
        if tag == "span" and self._key is not None:
            self.spans[self._key] = (self._value, self._text)
            self._key = None
        if tag == "p":
            self._in_summary = False

    def handle_data(self, data):
        if self._key is not None:
            self._text += data


def _parse(text: str) -> _Spans:
    parser = _Spans()
    parser.feed(text)
    return parser


def _embedded(text: str) -> dict:
    m = re.search(r'<script type="application/json" id="cisim-numbers">(.*?)</script>', text,
                  re.S)
    assert m, "the structured numbers are not embedded"
    return json.loads(m.group(1))


def _open_in_chromium(path: Path) -> tuple[list, list[str], list[str]]:
    """Load a file in headless Chromium; return its images, console errors and web requests."""
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium is required for the browser tests but /usr/bin/chromium is missing. "
            "Install Debian's package: apt-get update && apt-get install -y chromium "
            "(do not use 'playwright install').",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is required for the browser tests: pip install playwright "
                    "(the Python package only; the browser is Debian's chromium)", pytrace=False)
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri(), wait_until="load")
            images = page.evaluate(
                "() => Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])"
            )
            summary = page.evaluate("() => document.getElementById('summary').innerText")
        finally:
            browser.close()
    assert summary.strip(), "the summary paragraph is empty in the browser"
    external = [u for u in requests if not u.startswith(("data:", "file:"))]
    return images, errors, external


# ---- the report ----------------------------------------------------------------------------------


def test_report_opens_in_chromium_with_every_figure(report):
    _, path = report
    images, errors, external = _open_in_chromium(path)
    assert len(images) >= 10
    assert [alt for complete, width, alt in images if not complete or width <= 0] == []
    assert errors == []
    assert external == []


def test_comparison_opens_in_chromium_with_every_figure(comparison_page):
    _, path = comparison_page
    images, errors, external = _open_in_chromium(path)
    assert len(images) == 4  # costs, probabilities, distributions, trajectories
    assert [alt for complete, width, alt in images if not complete or width <= 0] == []
    assert errors == []
    assert external == []


@pytest.mark.parametrize("which", ["report", "comparison_page"])
def test_html_is_self_contained(which, request):
    text, _ = request.getfixturevalue(which)
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?!data:|#)", text)
    assert "http://" not in text and "https://" not in text and "<link" not in text
    spans = _parse(text)
    assert spans.images
    for src in spans.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_numbers_match_the_result_frames(report, base):
    text, _ = report
    spans = _parse(text)
    s = base.summaries
    n = len(s)
    effect = s["population_change_vs_cf_final"].to_numpy(float)
    cost = s["cost_per_outcome_year"].to_numpy(float)
    cost = cost[np.isfinite(cost)]
    expected = {
        "n": (n, str(n)),
        "effect_p50": (np.percentile(effect, 50), f"{np.percentile(effect, 50):+.2f}"),
        "effect_p5": (np.percentile(effect, 5), f"{np.percentile(effect, 5):+.2f}"),
        "effect_p95": (np.percentile(effect, 95), f"{np.percentile(effect, 95):+.2f}"),
        "effect_p10": (np.percentile(effect, 10), f"{np.percentile(effect, 10):+.2f}"),
        "equity_final_p50": (np.median(s["equity_gap_final"]),
                             f"{np.median(s['equity_gap_final']):.2f}"),
    }
    for framing in ("initiative", "collaboration"):
        sroi = s[f"sroi_{framing}"].to_numpy(float)
        sroi = sroi[np.isfinite(sroi)]
        expected[f"sroi_{framing}_p50"] = (np.median(sroi), f"{np.median(sroi):.2f}")
    if cost.size >= MIN_FOR_INTERVAL and np.ptp(cost) > 0:
        expected["cost_p50"] = (np.median(cost), f"{np.median(cost):,.0f} USD")
    for key, (value, shown) in expected.items():
        assert key in spans.spans, key
        got_value, got_text = spans.spans[key]
        assert got_value == pytest.approx(value, abs=1e-9), key
        assert got_text == shown, key
        assert key in spans.summary_keys, f"{key} is not in the summary paragraph"
    verb = "raises" if np.median(effect) > 0 else "lowers" if np.median(effect) < 0 else "does"
    summary = re.search(r'<p class="lead" id="summary">(.*?)</p>', text, re.S).group(1)
    assert f"the partnership {verb}" in summary

    # break-even: replications whose running SROI of each framing ever reached 1
    traj = base.trajectories
    for framing in ("initiative", "collaboration"):
        sroi_t = traj[f"sroi_{framing}"].replace([np.inf, -np.inf], np.nan)
        broke_even = int((sroi_t.groupby(traj["replication"]).max() >= 1.0).sum())
        assert spans.spans[f"break_even_{framing}_count"][0] == broke_even

    # phases: replications that ever were in Run (from the trajectories)
    numbers = _embedded(text)
    ran = int(traj.groupby("replication")["phase"].apply(lambda p: (p == "Run").any()).sum())
    run_row = [i for i, p in enumerate(numbers["phases"]) if p["phase"] == "Run"]
    if ran:
        assert spans.spans[f"phases.{run_row[0]}.count"][0] == ran
    else:
        assert not run_row


def test_target_probability_matches_the_trajectories(report, base):
    """Target: outcome rate 0.88 as the average of the 52 weeks ending at year 2."""
    text, _ = report
    spans = _parse(text)
    traj = base.trajectories
    window = traj[(traj["step"] > 52) & (traj["step"] <= 104)]
    for column, key in (("outcome_rate", "target.p_initiative"),
                        ("outcome_rate_cf", "target.p_baseline")):
        annual = window.groupby("replication")[column].mean()
        p = float((annual >= 0.88).mean())
        assert spans.spans[key][0] == pytest.approx(p)
        assert spans.spans[key][1] == f"{100 * p:.0f}%"
        assert key in spans.summary_keys
    numbers = _embedded(text)
    p = numbers["target"]["p_initiative"]
    assert numbers["target"]["se_initiative"] == pytest.approx(math.sqrt(p * (1 - p) / REPS))


def test_target_schema_is_validated(scarce):
    assert scarce.target is not None and scarce.target.outcome_rate == 0.88
    assert Scenario.from_toml(scarce.to_toml()).target == scarce.target
    with pytest.raises(ScenarioError, match=r"target.*exactly one of"):
        scarce.with_overrides({"target.population_change_pp": 2.0})
    # a shortened what-if run keeps the target but cannot assess it
    from cisim.report.rba import target_beyond_horizon, target_of

    beyond = scarce.with_overrides({"target.year": scarce.horizon_years + 1})
    assert target_beyond_horizon(beyond) and target_of(beyond) is None
    assert not target_beyond_horizon(scarce) and target_of(scarce) is not None
    with pytest.raises(ScenarioError, match=r"target\.outcome_rate"):
        scarce.with_overrides({"target.outcome_rate": 1.5})


# ---- comparison statistics ----------------------------------------------------------------------


def test_paired_scores_count_ties_half_and_missing_as_worst():
    a = [1.0, 2.0, np.nan, np.nan, 3.0]
    b = [1.0, 1.0, np.nan, 5.0, np.nan]
    assert paired_scores(a, b, higher_is_better=True).tolist() == [0.5, 1.0, 0.5, 0.0, 1.0]
    # lower is better (years, costs): missing ("never", "no gain") is still the worst
    assert paired_scores([2.0, np.nan], [3.0, 3.0], higher_is_better=False).tolist() == [1, 0]
    p_ab, se_ab = beat_probability(a, b)
    p_ba, se_ba = beat_probability(b, a)
    assert p_ab + p_ba == pytest.approx(1.0)
    assert se_ab == pytest.approx(se_ba)
    assert beat_probability([1, 2, 3], [1, 2, 3]) == (0.5, 0.0)
    assert quantile_beat_probability(a, a, n_boot=200)[0] == 0.5


def test_strictly_better_design_wins(comparison):
    """Five times the anchor grant, everything else equal, in a design short of money."""
    probs = comparison.probabilities.set_index(["metric", "design", "other"])
    for metric in ("population_change", "population_outcome"):
        p = probs.loc[(metric, "rich", "scarce"), "p_beats"]
        se = probs.loc[(metric, "rich", "scarce"), "se"]
        assert p >= 0.8 and p - 2 * se > 0.5, (metric, p, se)
        assert probs.loc[(metric, "scarce", "rich"), "p_beats"] == pytest.approx(1 - p)
    assert comparison.crn


def test_same_design_with_independent_seeds_is_even_within_sampling_error(scarce, base):
    """Without CRN the same design's outcomes differ only by chance: P near 0.5."""
    other = ensemble(scarce, REPS, seed=SEED + 1, n_jobs=1)
    comp = compare_results([base, other], ["a", "b"], n_boot=500)
    assert not comp.crn
    probs = comp.probabilities.set_index(["metric", "design", "other"])
    for metric in ("population_change", "population_outcome", "sroi"):
        p, se = probs.loc[(metric, "a", "b"), ["p_beats", "se"]]
        assert se > 0
        assert abs(p - 0.5) <= 3 * se, (metric, p, se)


def _run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def test_cli_compare_design_with_itself_gives_one_half(scarce_file, tmp_path):
    out = tmp_path / "self.html"
    code, stdout, stderr = _run_cli(["compare", str(scarce_file), str(scarce_file), "-n", "3",
                                     "-j", "1", "-o", str(out)])
    assert code == 0, stderr
    numbers = _embedded(out.read_text(encoding="utf-8"))
    assert numbers["crn"] is True
    assert numbers["labels"] == ["scarce", "scarce (2)"]
    probs = pd.DataFrame(numbers["probabilities"])
    assert set(probs["metric"]) >= {"population_change", "sroi", "time_to_change",
                                    "cost_per_outcome", "risk"}
    assert (probs["p_beats"] == 0.5).all()
    assert (probs["se"] == 0).all()
    assert "P(row beats column)" in stdout and str(out) in stdout


def test_cli_what_if_and_set_are_validated_like_files(scarce_file, tmp_path):
    code, _, err = _run_cli(["compare", str(scarce_file), "--what-if",
                             "backbone.staff.facilitater=0.5", "-o", str(tmp_path / "x.html")])
    assert code == 2
    assert "backbone.staff.facilitater" in err and "did you mean 'facilitator'" in err
    code, _, err = _run_cli(["compare", str(scarce_file), str(scarce_file), "--set",
                             "funding.max_years=-2", "-o", str(tmp_path / "x.html")])
    assert code == 2 and "funding.max_years" in err and str(scarce_file) in err
    code, _, err = _run_cli(["compare", str(scarce_file), "-o", str(tmp_path / "x.html")])
    assert code == 2 and "at least two designs" in err
    assert not (tmp_path / "x.html").exists()


def test_cli_run_report_and_report_from_saved_results(scarce_file, tmp_path):
    outdir = tmp_path / "run"
    code, stdout, stderr = _run_cli(["run", str(scarce_file), "-n", "2", "-j", "1",
                                     "--no-figures", "--report", "-o", str(outdir)])
    assert code == 0, stderr
    assert "report.html" in stdout
    first = _parse((outdir / "report.html").read_text(encoding="utf-8")).spans
    code, stdout, stderr = _run_cli(["report", str(outdir), "-o", str(tmp_path / "again.html")])
    assert code == 0, stderr
    again = _parse((tmp_path / "again.html").read_text(encoding="utf-8")).spans
    assert first.keys() == again.keys()
    for key, (value, shown) in first.items():
        assert again[key][1] == shown, key
        assert again[key][0] == pytest.approx(value, nan_ok=True, rel=1e-9), key
    # the report's tables, as CSV next to the HTML, hold the numbers the HTML shows
    assert "again_tables" in stdout
    key_numbers = pd.read_csv(tmp_path / "again_tables" / "key_numbers.csv").set_index("key")
    assert key_numbers.loc["effect", "median"] == pytest.approx(again["effect_p50"][0])
    assert (key_numbers["futures"] == 2).all()
    for name in ("sroi_framings", "sroi_sensitivity", "risk", "forecast", "phases", "futures"):
        assert (tmp_path / "again_tables" / f"{name}.csv").stat().st_size > 0, name
    assert (outdir / "report_tables" / "key_numbers.csv").exists()
    code, _, err = _run_cli(["report", str(tmp_path)])
    assert code == 2 and "trajectories.parquet" in err


# ---- limitations, both SROI framings, sensitivity, risk, print (in the browser) -----------------


def _in_chromium(path: Path, script: str, media: str | None = None):
    """Evaluate a script on a page loaded in headless Chromium (optionally as printed)."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is required for the browser tests: apt-get install -y chromium",
                    pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is required for the browser tests: pip install playwright",
                    pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(path.as_uri(), wait_until="load")
            if media:
                page.emulate_media(media=media)
            return page.evaluate(script)
        finally:
            browser.close()


_SECTIONS_JS = """() => {
  const ids = ['limitations', 'summary', 'key-numbers', 'risk', 'sroi', 'sensitivity'];
  const el = Object.fromEntries(ids.map(i => [i, document.getElementById(i)]));
  const before = (a, b) => !!(el[a].compareDocumentPosition(el[b])
                              & Node.DOCUMENT_POSITION_FOLLOWING);
  const firstNumber = document.querySelector('span.num');
  const rows = cls => Array.from(document.querySelectorAll('table.' + cls + ' tbody tr'))
      .map(tr => Array.from(tr.cells).map(td => td.innerText.trim()));
  return {
    limitations: el['limitations'].innerText,
    limitationsFirst: ids.slice(1).every(i => before('limitations', i)),
    numberInsideLimitations: el['limitations'].contains(firstNumber),
    initiative: document.getElementById('sroi-initiative').nextElementSibling.innerText,
    collaboration: document.getElementById('sroi-collaboration').nextElementSibling.innerText,
    sensInitiative: rows('sensitivity-initiative'),
    sensCollaboration: rows('sensitivity-collaboration'),
    risk: el['risk'].innerText,
    howSure: document.getElementById('how-sure').innerText,
    howSureAfterLimitations: !!(el['limitations'].compareDocumentPosition(
        document.getElementById('how-sure')) & Node.DOCUMENT_POSITION_FOLLOWING),
    varianceShares: rows('variance-shares'),
  };
}"""


@pytest.fixture(scope="module")
def sections(report):
    _, path = report
    return _in_chromium(path, _SECTIONS_JS)


def test_limitations_box_comes_first_and_reads_the_validation_file(sections, scarce):
    assert sections["limitationsFirst"], "the limitations box is not before every number section"
    text = sections["limitations"]
    for heading in ("What the model includes", "What it leaves out", "Validation status",
                    "Valuation in use", "Your own inputs"):
        assert heading in text
    # tests/data/validation_results.json (invented values): A and C hold in both seeds, B
    # (held out) fails in seed 11
    assert "2 of 3 patterns from the literature hold in every seed" in text
    assert "of the 2 held out from calibration, 1 hold" in text
    assert "generated 2026-01-15, seeds 11, 12, 40 sampled designs per seed" in text
    assert "seed 11: 0.14 (0.07 to 0.22), fails" in text
    assert "seed 12: n/a (n/a to n/a), holds" in text
    # the valuation in use, with its source, and the strategist's inputs from the scenario
    assert "37,450 USD" in text and "Belfield, Levin & Rosen 2012" in text
    assert "25%" in text  # attribution
    assert "5 listed" in text and "Anchor grant 250,000 USD a year" in text
    assert "150,000 USD a year" in text  # backbone budget
    assert f"{scarce.population.size:,} people" in text


def test_validation_status_is_never_invented(base, tmp_path):
    missing = read_validation_results(tmp_path / "none.json")
    assert not missing.available and "no validation results file" in missing.reason
    text = report_html(base, validation=tmp_path / "none.json")
    assert "Validation status unavailable" in text and "patterns hold" not in text
    bad = json.loads(VALIDATION_FIXTURE.read_text(encoding="utf-8"))
    bad["patterns"][1]["holds"] = "yes"
    del bad["seeds"]
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    status = read_validation_results(tmp_path / "bad.json")
    assert not status.available
    assert "seeds" in status.reason and "patterns[1].holds" in status.reason
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert "cannot be read" in read_validation_results(tmp_path / "broken.json").reason
    # the fixture is in the validation study's own format (its checker accepts it)
    from experiments.validation.results import validate_results

    validate_results(json.loads(VALIDATION_FIXTURE.read_text(encoding="utf-8")))
    good = read_validation_results(VALIDATION_FIXTURE)
    assert good.available and [p["holds"] for p in good.patterns] == [True, False, True]
    assert [p["held_out"] for p in good.patterns] == [False, True, True]
    # the simpler format: held_out as a flag and one interval per pattern
    simple = {"generated": "2026-02-01", "seeds": [0], "patterns": [
        {"id": "1", "name": "x", "holds": True, "held_out": True, "interval": [0.1, 0.2],
         "criterion": "c"}]}
    (tmp_path / "simple.json").write_text(json.dumps(simple), encoding="utf-8")
    status = read_validation_results(tmp_path / "simple.json")
    assert status.available and status.patterns[0]["per_seed"][0]["interval"] == [0.1, 0.2]
    del simple["patterns"][0]["interval"]
    simple["patterns"][0]["role"] = "tuned"
    (tmp_path / "simple.json").write_text(json.dumps(simple), encoding="utf-8")
    reason = read_validation_results(tmp_path / "simple.json").reason
    assert "patterns[0].role" in reason and "patterns[0].interval" in reason


def test_both_sroi_framings_in_the_browser(sections, base):
    s = base.summaries
    for framing in ("initiative", "collaboration"):
        text = sections[framing]
        median = np.median(s[f"sroi_{framing}"].dropna())
        assert f"Median ratio {median:.2f}" in text, framing
        assert "Value:" in text and "Input:" in text
    assert "start-of-run rate" in sections["initiative"]
    assert "cost of collaborating" in sections["collaboration"]
    # the cost of collaborating is a part of all the money and time
    assert (s["collaboration_input_pv"] < s["initiative_input_pv"]).all()


def test_bands_from_both_sources_with_variance_shares_in_the_browser(sections, base):
    from cisim.uncertainty import uncertainty_summary

    u = uncertainty_summary(base)
    assert u["kind"] in ("prior", "posterior")  # the default forecast draws the assumptions
    text = sections["howSure"]
    assert sections["howSureAfterLimitations"]
    assert "chance" in text.lower() and "assumption" in text.lower()
    assert "understates the uncertainty" in text
    rows = sections["varianceShares"]
    shares = {k: v for k, v in (u.get("shares") or {}).items() if v and v["var_total"] > 0}
    assert len(rows) == len(u.get("shares") or {})
    for row in rows:
        key = next(k for k, v in shares.items() if v["label"] == row[0]) if row[2] else None
        if key is None:
            continue
        sh = shares[key]
        # the browser shows the computed shares, and the two add up to the whole variance
        assert row[1].startswith(f"{100 * sh['share_parameters']:.0f}%"), row
        assert row[2] == f"{100 * sh['share_chance']:.0f}%", row
        assert sh["share_parameters"] + sh["share_chance"] == pytest.approx(1.0, abs=1e-9)


def test_sensitivity_table_in_the_browser(sections, base, scarce):
    """The ratio is proportional to (1 - attribution) and to the proxy, so break-even values
    have closed forms: a* = 1 - (1 - a) / R and p* = p / R for the median ratio R."""
    v = scarce.valuation
    for framing in ("initiative", "collaboration"):
        rows = sections[f"sens{framing.capitalize()}"]
        assert [r[0] for r in rows] == [
            "Deadweight", "Attribution", "Displacement", "Drop-off (per year after the horizon)",
            "Financial proxy (value per outcome-year)"]
        ratio = float(np.median(base.summaries[f"sroi_{framing}"].dropna()))
        attribution = dict(zip(["label", "base", "low", "high", "break_even", "change"],
                               rows[1], strict=True))
        assert attribution["base"] == f"{v.attribution:.2f} (ratio {ratio:.2f})"
        assert attribution["high"] == f"0.50: {ratio * 0.5 / (1 - v.attribution):.2f}"
        a_star = 1 - (1 - v.attribution) / ratio
        if 0 <= a_star <= 1:
            assert attribution["break_even"] == f"{a_star:.2f}"
        else:
            assert attribution["break_even"] == "not reachable within [0, 1]"
        proxy = rows[4]
        if ratio > 0:
            assert proxy[4] == f"{v.value_per_outcome_year / ratio:,.0f} USD"
            assert proxy[5] == f"{100 * (1 / ratio - 1):+.0f}%"
        else:  # a negative value: no proxy brings the ratio to 1
            assert proxy[4] == "not reachable: the value is not positive"
        assert "no effect" in rows[3][4]  # projection_years = 0


def _sustained(pc: np.ndarray, hold: int = 52) -> bool:
    run = 0
    for ok in pc >= 1.0:
        run = run + 1 if ok else 0
        if run >= hold:
            return True
    return False


def test_risk_section_in_the_browser(sections, base):
    traj = base.trajectories.sort_values(["replication", "step"])
    text = sections["risk"]
    stalled = sum(not _sustained(g["population_change_vs_cf"].to_numpy())
                  for _, g in traj.groupby("replication"))
    assert f"Stall: {stalled} of {REPS} futures" in text
    fell = 0
    for _, g in traj.groupby("replication"):
        phase = g["phase"].to_numpy()
        fell += int((phase != phase[0]).any() and phase[-1] == phase[0])
    assert f"Fall back: {fell} of {REPS} futures" in text
    final = traj.groupby("replication")["population_change_vs_cf"].last()
    assert (f"is {final.min():+.2f} points, in replication {int(final.idxmin())}") in text
    assert "Spending that stopped" in text or "Warning" in text


def test_print_stylesheet_gives_a_clean_printout(report):
    _, path = report
    script = """() => ({
      details: getComputedStyle(document.querySelector('details')).display,
      breakRisk: getComputedStyle(document.querySelector('#risk h2')).breakBefore,
      breakLimits: getComputedStyle(document.querySelector('#limitations h2')).breakBefore,
      wide: Array.from(document.images).filter(
          i => i.getBoundingClientRect().width > document.querySelector('main')
               .getBoundingClientRect().width + 1).length,
    })"""
    screen = _in_chromium(path, script)
    printed = _in_chromium(path, script, media="print")
    assert screen["details"] != "none" and printed["details"] == "none"
    assert screen["breakRisk"] != "page" and printed["breakRisk"] == "page"
    assert printed["breakLimits"] != "page"  # the box stays on the first page
    assert printed["wide"] == 0


# ---- statistics over some of the futures --------------------------------------------------------


def _text(fragment: str) -> str:
    return re.sub(r"<[^>]+>", "", fragment)


def test_subset_statistics_say_how_many_and_never_fake_certainty():
    few = _text(subset_stat([1.0, np.nan, 3.0], 20, "x", "year"))
    assert few == "1.0, 3.0 (computed from 2 of 20 futures)"
    one = _text(subset_stat([4.25], 20, "x", "year"))
    assert one == "4.2 (computed from 1 of 20 futures)" and " to " not in one
    same = _text(subset_stat([2.5] * 6, 6, "x", "year"))
    assert same == "2.5 in all 6 futures"
    same_subset = _text(subset_stat([2.5] * 6 + [np.nan] * 4, 10, "x", "year"))
    assert same_subset == "2.5 in all 6 (computed from 6 of 10 futures)"
    # 21 values 0..20: the 5th and 95th percentiles fall on 1 and 19
    spread = _text(subset_stat(np.r_[np.arange(21.0), [np.nan] * 19], 40, "x", "year"))
    assert spread == "median 10.0 (90%: 1.0 to 19.0; computed from 21 of 40 futures)"
    assert _text(subset_stat(np.arange(21.0), 21, "x", "year")) == "median 10.0 (90%: 1.0 to 19.0)"
    assert subset_stat([np.nan] * 3, 3, "x", "year") == "none of the 3 futures"
    median, interval, count = (_text(c) for c in subset_cells([7.0, 9.0], 5, "x", "ratio"))
    assert (median, interval, count) == ("7.00, 9.00", "no interval from 2 futures",
                                         "2 of 5 futures")


def test_one_future_shows_values_not_intervals(scarce):
    single = ensemble(scarce.with_overrides({"horizon_years": 2.5}), 1, seed=SEED, n_jobs=1)
    text = report_html(single)
    plain = _text(text)
    # no "x to x" anywhere: an interval from one future would read as certainty
    assert not re.search(r"(?<![\d.+-])([+-]?[\d,]+\.?\d*(?: USD)?) to \1(?![\d.])", plain)
    assert "no interval from 1 future" in plain
    assert "(computed from" in plain or "all 1 futures" in plain or "only 1 value" in plain


def test_high_sroi_from_stopped_spending_is_flagged():
    """Ten futures of three years; the one with the highest initiative SROI stopped spending
    money after its first year (partners' time went on), another stopped too but has a low SROI
    (not flagged); the backbone and measurement money (100 a week) never stopped."""
    from cisim.report.html import _risk_numbers, _risk_section

    steps = np.arange(157)
    frames = []
    for rep in range(10):
        invest = np.where(steps > 0, 1000.0, 0.0)
        if rep in (0, 1):
            invest[steps > 52] = 0.0
        frames.append(pd.DataFrame({
            "replication": rep, "step": steps, "year": steps / 52, "phase": "Run",
            # the income, plus 50 a week of partners' time that goes on after the money
            "income": invest, "investment": invest + np.where(steps > 0, 50.0, 0.0),
            "collaboration_cost": np.where(steps > 0, 150.0, 0.0),
            "population_change_vs_cf": 2.0,
        }))
    traj = pd.concat(frames, ignore_index=True)
    summaries = pd.DataFrame({
        "replication": range(10), "seed": range(100, 110),
        "sroi_initiative": [9.0, 0.5, 1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7],
        "sroi_collaboration": [3.0] * 10,
        "first_significant_change_year": [1.0] * 9 + [np.nan],
        "population_change_vs_cf_final": [2.0] * 9 + [-0.5],
    })
    risk = _risk_numbers(traj, summaries, 10)
    assert [(f["framing"], f["replication"]) for f in risk["stopped_spending"]] == [
        ("initiative", 0)]
    assert risk["stopped_spending"][0]["late_share"] == 0.0
    assert risk["stopped_initiative_count"] == 2 and risk["stopped_collaboration_count"] == 0
    assert risk["stall_count"] == 1 and risk["worst_replication"] == 9
    assert risk["worst_seed"] == 109 and risk["fell_back_count"] == 0
    html_text = _text(_risk_section({"risk": risk, "n": 10, "currency": "USD"}))
    assert "Warning: a high SROI from spending that stopped" in html_text
    assert "replication 0: initiative SROI 9.00" in html_text
    assert "In all, 2 of 10 futures' initiative money fell that low" in html_text


def test_report_numbers_follow_the_framings(base):
    num = report_numbers(base)
    assert set(num["sensitivity"]) == {"initiative", "collaboration"}
    tables = report_tables(base, num)
    assert {"key_numbers", "sroi_framings", "sroi_sensitivity", "risk", "forecast", "phases",
            "futures"} <= set(tables)
    framings = tables["sroi_framings"].set_index("framing")
    assert framings.loc["initiative", "median"] == pytest.approx(
        np.median(base.summaries["sroi_initiative"].dropna()))
