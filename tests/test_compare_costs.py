"""Tests of ``cisim compare``'s costs, honest subset statistics and provenance.

The browser test opens the comparison of the bundled default, no-backbone and funding-cliff
designs (small: six futures, 2,000 young people, four years) in Debian's Chromium driven by
Playwright. It fails (it does not skip) when either is missing, with the command that installs it.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cisim.cli import main
from cisim.report.compare import compare_results, cost_table, costs_figure, design_lines

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
SETS = ["--set", "population.size=2000", "--set", "horizon_years=4"]


# ---- a synthetic comparison: one design rarely reaches significant change ---------------------


def _result(first_change: list[float], cost: list[float], total: list[float]) -> SimpleNamespace:
    n = len(first_change)
    summaries = pd.DataFrame({
        "replication": range(n),
        "first_significant_change_year": first_change,
        "cost_per_outcome_year": cost,
        "outcome_years_gained": [10.0] * n,
        "population_change_vs_cf_final": np.linspace(0, 1, n),
        "cumulative_investment": total,
    })
    rows = []
    for rep, t in enumerate(total):
        rows.append({"replication": rep, "year": 1, "side": "source",
                     "category": "funding stream", "item": "A", "counted": True,
                     "amount": 0.8 * t})
        rows.append({"replication": rep, "year": 1, "side": "source",
                     "category": "coordination time", "item": "P", "counted": True,
                     "amount": 0.2 * t})
    scenario = SimpleNamespace(name="x", description="", valuation=SimpleNamespace(currency="USD"))
    return SimpleNamespace(summaries=summaries, costs=pd.DataFrame(rows), seeds=list(range(n)),
                           scenario=scenario)


def test_a_rarely_reached_change_is_not_shown_as_faster():
    n = 20
    steady = _result([2.8 + 0.05 * i for i in range(n)], [30e3 + 1e3 * i for i in range(n)],
                     [4e6] * n)
    cliff = _result([2.2] + [math.nan] * (n - 1), [20e3, 9.8e6] + [math.nan] * (n - 2),
                    [1.5e6 + 1e3 * i for i in range(n)])
    comparison = compare_results([steady, cliff], ["steady", "cliff"], n_boot=50)
    text = "\n".join(design_lines(comparison))
    assert "significant population change reached in 1 of 20 futures (5%), in year 2.2 " \
           "(too few for an interval)" in text
    assert "reached in 20 of 20 futures (100%), median year" in text
    assert "2.2 to 2.2" not in text
    assert "cost per outcome-year gained: values 20 k USD, 9.8 M USD (2 of 20 futures; " \
           "too few for an interval)" in text
    assert "total investment: 4 M USD in each (no spread)" in text
    table = cost_table(comparison).set_index("design")
    assert table.loc["cliff", "cost_per_outcome_count"] == 2
    assert table.loc["steady", "total_median"] == pytest.approx(4e6)
    assert table.loc["steady", "coordination time"] == pytest.approx(0.8e6)
    # "faster" on time to change: missing counts as the worst, so the steady design wins
    p = comparison.matrix("time_to_change").loc["steady", "cliff"]
    assert p == pytest.approx(19 / 20)  # the cliff is faster only in the one future it gets there


# ---- the real comparison in a browser ------------------------------------------------------


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("compare") / "compare.html"
    files = [str(ROOT / "scenarios" / f"{name}.toml")
             for name in ("default", "no_backbone", "funding_cliff")]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["compare", *files, "-n", "6", "-j", "1", *SETS, "-o", str(out)])
    assert code == 0, stderr.getvalue()
    return stdout.getvalue(), out


def _numbers(text: str) -> dict:
    m = re.search(r'<script type="application/json" id="cisim-numbers">(.*?)</script>', text,
                  re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


def _browse(path: Path) -> dict:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is required for the browser tests but /usr/bin/chromium is missing. "
                    "Install Debian's package: apt-get update && apt-get install -y chromium "
                    "(do not use 'playwright install').", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is required for the browser tests: pip install playwright "
                    "(the Python package only; the browser is Debian's chromium)", pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(path.as_uri(), wait_until="load")
            seen = page.evaluate("""() => ({
                text: document.body.innerText,
                provenance: document.getElementById('provenance').innerText,
                summary: document.getElementById('summary').innerText,
                limitations: document.getElementById('limitations').innerText,
                limitationsFirst: !!(document.getElementById('limitations')
                    .compareDocumentPosition(document.getElementById('summary'))
                    & Node.DOCUMENT_POSITION_FOLLOWING),
                costRows: Array.from(document.querySelectorAll('table.costs tbody tr'))
                    .map(tr => Array.from(tr.cells).map(td => td.innerText)),
                totals: Array.from(document.querySelectorAll('span[data-key$=".total"]'))
                    .map(s => [s.dataset.key, Number(s.dataset.value), s.innerText]),
                costImage: Array.from(document.querySelectorAll('img[data-cost-scale]'))
                    .map(i => [i.dataset.costScale, i.alt, i.complete, i.naturalWidth]),
                images: Array.from(document.images).map(i => [i.complete, i.naturalWidth]),
            })""")
        finally:
            browser.close()
    seen["errors"] = errors
    return seen


def test_comparison_shows_totals_honest_subsets_and_a_readable_cost_plot(compared):
    stdout, path = compared
    html_text = path.read_text(encoding="utf-8")
    numbers = _numbers(html_text)
    labels = numbers["labels"]
    assert labels == [f"{name} (population.size=2000, horizon_years=4)"
                      for name in ("default", "no_backbone", "funding_cliff")]
    seen = _browse(path)
    assert seen["errors"] == []
    assert all(ok and width > 0 for ok, width in seen["images"])

    # totals: one row per design, the shown medians are the embedded ones
    assert [row[0] for row in seen["costRows"]] == labels
    costs = {c["design"]: c for c in numbers["costs"]}
    shown = {key: (value, text) for key, value, text in seen["totals"]}
    for label in labels:
        value, text = shown[f"cost.{label}.total"]
        assert value == pytest.approx(costs[label]["total_median"], rel=1e-12)
        assert value > 0 and text == f"{value:,.0f} USD"
    # the funding cliff stops the money after two of the four years: it costs least
    assert costs[labels[2]]["total_median"] < costs[labels[0]]["total_median"]
    assert stdout.count("total investment: ") == 3

    # honest subsets: every design's share reaching significant change is beside its timing,
    # and no interval collapses to one value
    for label in labels:
        assert re.search(re.escape(label) + r" (in \d of 6 futures \(\d+%\)|in none of 6 futures)",
                         seen["summary"]), label
    assert not re.search(r"(\d[\d.,]*(?: [kM])?(?: USD)?) to \1\)", seen["text"])
    counts = [c["cost_per_outcome_count"] for c in numbers["costs"]]
    for label, k in zip(labels, counts, strict=True):
        assert f"{k} of 6 futures gained outcome-years" in " ".join(
            r[5] for r in seen["costRows"] if r[0] == label)

    # a cost plot an outlier cannot flatten: log axis, drawn and labelled so
    assert len(seen["costImage"]) == 1
    scale, alt, complete, width = seen["costImage"][0]
    assert scale == "log" and "log scale" in alt and complete and width > 0

    # the assumptions and limitations box, read before the numbers, with the validation status
    assert seen["limitationsFirst"]
    assert "Assumptions and limitations" in seen["limitations"]
    assert "Validation status" in seen["limitations"]
    assert ("from the literature hold" in seen["limitations"]
            or "unavailable" in seen["limitations"])

    # provenance under the title
    for label in labels:
        name = label.split(" ")[0]
        assert (f"{name}.toml: --set population.size=2000 --set horizon_years=4"
                in seen["provenance"])


def test_cost_figure_labels_the_outlier_on_a_log_axis():
    n = 20
    values = [20e3 + 500 * i for i in range(n - 1)] + [9.8e6]
    comparison = compare_results([_result([2.0] * n, values, [4e6] * n),
                                  _result([3.0] * n, values[::-1], [3e6] * n)],
                                 ["a", "b"], n_boot=20)
    fig = costs_figure(comparison)
    ax = fig.axes[1]
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.texts if t.get_gid() == "outlier"]
    assert labels == ["9.8 M USD", "9.8 M USD"]
    # the bulk of the futures keeps a visible share of the axis: on a linear axis it would get
    # 0.1%, on the log axis about 5%
    lo, hi = (math.log10(v) for v in ax.get_ylim())
    share = (math.log10(max(values[:-1])) - math.log10(min(values[:-1]))) / (hi - lo)
    linear = (max(values[:-1]) - min(values[:-1])) / (max(values) - min(values))
    assert share > 0.04 and share > 30 * linear



TINY = """
name = "tiny"
horizon_years = 1

[[partners]]
name = "Youth NGO"
sector = "nonprofit"
staff_fte = 4.0
budget_per_year = 60000.0
grant_per_year = 50000.0

[[partners]]
name = "School"
sector = "public"
staff_fte = 6.0
budget_per_year = 60000.0

[population]
size = 300
mesa_agents = 0
"""


def test_what_if_variants_are_named_after_their_changes(tmp_path):
    file = tmp_path / "tiny.toml"
    file.write_text(TINY, encoding="utf-8")
    out = tmp_path / "c.html"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["compare", str(file), "--what-if", "backbone.present=false",
                     "meetings.cadence=monthly", "--set", "population.size=200", "-n", "2",
                     "-j", "1", "-o", str(out)])
    assert code == 0, stderr.getvalue()
    text = out.read_text(encoding="utf-8")
    assert _numbers(text)["labels"] == [
        "tiny (population.size=200)",
        "tiny (population.size=200, backbone.present=false, meetings.cadence=monthly)"]
    line = re.search(r'<p class="meta" id="provenance">(.*?)</p>', text).group(1)
    assert (f"{file}: --set population.size=200 --what-if backbone.present=false --what-if "
            "meetings.cadence=monthly") in line
    assert "--what-if backbone.present=false" in stdout.getvalue()
