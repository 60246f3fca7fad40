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
from cisim.report.html import report_html
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


@pytest.fixture(scope="module", autouse=True)
def _one_numba_thread():
    """Small populations run faster on one thread (and the test machine is shared)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


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
    text = report_html(base, seed=SEED, source="SCARCE")
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
    sroi = s["sroi_final"].to_numpy(float)
    sroi = sroi[np.isfinite(sroi)]
    cost = s["cost_per_outcome_year"].to_numpy(float)
    cost = cost[np.isfinite(cost)]
    expected = {
        "n": (n, str(n)),
        "effect_p50": (np.percentile(effect, 50), f"{np.percentile(effect, 50):+.2f}"),
        "effect_p5": (np.percentile(effect, 5), f"{np.percentile(effect, 5):+.2f}"),
        "effect_p95": (np.percentile(effect, 95), f"{np.percentile(effect, 95):+.2f}"),
        "effect_p10": (np.percentile(effect, 10), f"{np.percentile(effect, 10):+.2f}"),
        "sroi_p50": (np.median(sroi), f"{np.median(sroi):.2f}"),
        "equity_final_p50": (np.median(s["equity_gap_final"]),
                             f"{np.median(s['equity_gap_final']):.2f}"),
    }
    if cost.size:
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

    # break-even: replications whose SROI ever reached 1 (from the trajectories)
    traj = base.trajectories
    sroi_t = traj["sroi"].replace([np.inf, -np.inf], np.nan)
    broke_even = int((sroi_t.groupby(traj["replication"]).max() >= 1.0).sum())
    assert spans.spans["break_even_count"][0] == broke_even

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
    code, _, err = _run_cli(["report", str(tmp_path)])
    assert code == 2 and "trajectories.parquet" in err
