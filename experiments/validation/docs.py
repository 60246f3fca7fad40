"""Generate ``docs/validation.md`` from the results file and the criteria.

``python -m experiments.validation.docs docs/validation_results.json > docs/validation.md``
fills ``docs_template.md`` (the method, kept by hand) with the status and summary of the
results, a table of every pattern in every seed, and per pattern its role, observed fact,
sources, statistic, criterion and reasoning (from ``criteria.toml``) and its per-seed values and
intervals. Without a results file it writes the document with the results marked pending.
Results judged by another version of the criteria file are refused. Pattern-oriented
modelling: Grimm et al. 2005.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .criteria import CRITERIA_FILE, Criteria, CriteriaError, PatternCriterion, describe
from .patterns import default_criteria
from .results import ResultsError, read_results

__all__ = ["FIGURES", "render"]

TEMPLATE = Path(__file__).with_name("docs_template.md")

#: The figure of each pattern under docs/figures/validation/ (written by --results-for-docs).
FIGURES = {
    "five_conditions": "five_conditions", "not_before_three_years": "timing",
    "many_take_longer": "timing", "equity": "equity", "trust_years": "trust",
    "trust_asymmetry": "trust_asymmetry", "backbone_driver": "design_sensitivity",
    "foundational_conditions": "conditions", "failure_causes": "failure_causes",
    "systems_change": "systems_change", "reaches_unserved": "systems_change",
    "funding": "funding", "small_wins": "small_wins", "inclusiveness": "inclusiveness",
    "meeting_intensity": "meeting_intensity",
}

ROLE = {"calibration": "calibration target", "held_out": "held out"}


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _seed_cell(s: dict[str, Any]) -> str:
    lo, hi = s["interval"]
    return f"{_fmt(s['value'])} [{_fmt(lo)}, {_fmt(hi)}] {'✓' if s['holds'] else '✗'}"


def _verdict(p: dict[str, Any]) -> str:
    if p["holds"]:
        return "holds in every seed"
    failed = [str(s["seed"]) for s in p["per_seed"] if not s["holds"]]
    held = [str(s["seed"]) for s in p["per_seed"] if s["holds"]]
    if not held:
        return "fails in every seed"
    return (f"fails in seed{'s' if len(failed) > 1 else ''} {', '.join(failed)}, "
            f"holds in {', '.join(held)}")


def _names(ps: list[dict[str, Any]]) -> str:
    return "; ".join(f"{p['name'].rstrip('.')} ({_verdict(p)})" for p in ps) or "none"


def _status(doc: dict[str, Any] | None, c: Criteria) -> str:
    if doc is None:
        return (
            "**Status: results pending.** No results judged by the current criteria "
            f"(`criteria.toml` SHA-256 `{c.sha256}`) have been written yet. Run "
            "`python -m experiments.validation --results-for-docs` and regenerate this file "
            "with `python -m experiments.validation.docs docs/validation_results.json > "
            "docs/validation.md`. The numbers of the earlier single-seed study are in "
            "[History](#history-the-first-study-and-the-recalibration); they are not a "
            "verdict under these criteria.")
    pats = doc["patterns"]
    n_hold = sum(p["holds"] for p in pats)
    lines = [
        f"**Results** of {doc['generated']}: seeds {', '.join(map(str, doc['seeds']))}; "
        f"{doc['designs_per_seed']} sampled initiatives per seed, criteria SHA-256 "
        f"`{doc['criteria_sha256']}` (`experiments/validation/criteria.toml`).",
        "",
        f"**{n_hold} of {len(pats)} patterns hold in every seed.**",
        "",
    ]
    for role in ("calibration", "held_out"):
        group = [p for p in pats if p["role"] == role]
        hold = [p for p in group if p["holds"]]
        fail = [p for p in group if not p["holds"]]
        label = "Calibration targets" if role == "calibration" else "Held-out patterns"
        lines.append(f"- **{label}: {len(hold)} of {len(group)} hold.** Hold: {_names(hold)}. "
                     f"Do not hold: {_names(fail)}.")
    lines += ["", "| # | pattern | role | "
              + " | ".join(f"seed {s}" for s in doc["seeds"]) + " | verdict |",
              "| --- | --- | --- | " + " | ".join("---" for _ in doc["seeds"]) + " | --- |"]
    for i, p in enumerate(pats, 1):
        lines.append(f"| {i} | {p['id']} | {ROLE[p['role']]} | "
                     + " | ".join(_seed_cell(s) for s in p["per_seed"])
                     + f" | {'**holds**' if p['holds'] else 'fails'} |")
    lines += ["", "Each cell: the value, its interval, and ✓ where the criterion holds in that "
              "seed. n/a: not estimable in that sample (an empty group, or a median of "
              "\"never\"); an inestimable pattern does not hold.", "",
              "![patterns by seed](figures/validation/patterns_by_seed.png)"]
    return "\n".join(lines)


def _pattern(i: int, e: PatternCriterion, p: dict[str, Any] | None) -> str:
    head = f"### {i}. {e.name} — {ROLE[e.role]}"
    head += f", {_verdict(p)}" if p is not None else ", result pending"
    lines = [head, "",
             f"*Observed*: {' '.join(e.observed.split())}",
             "",
             "*Sources*: " + "; ".join(e.sources) + ".",
             "",
             f"*Statistic*: {' '.join(e.statistic.split())}",
             "",
             f"*Criterion*: {' '.join(e.criterion.split())} Checks: `{describe(e.checks)}`"
             + (f"; parameters: {', '.join(f'{k} = {v:g}' for k, v in e.params.items())}."
                if e.params else "."),
             "",
             f"*Reasoning*: {' '.join(e.reasoning.split())}"]
    if p is not None:
        lines += ["", "*Result*: " + "; ".join(
            f"seed {s['seed']}: {_seed_cell(s)}" for s in p["per_seed"]) + ".",
                  "", f"![{e.id}](figures/validation/{FIGURES[e.id]}.png)"]
    return "\n".join(lines)


def render(doc: dict[str, Any] | None, c: Criteria, template: str | None = None) -> str:
    """The text of ``docs/validation.md`` for a results document (None: results pending).

    Raises:
        ValueError: The results were judged by other criteria than ``c``, or they list
            other patterns.
    """
    if doc is not None:
        if doc["criteria_sha256"] != c.sha256:
            raise ValueError(
                f"the results were judged by criteria with SHA-256 {doc['criteria_sha256']}, "
                f"but {c.source} has {c.sha256}: rerun the study (criteria are fixed before "
                "a run)")
        if [p["id"] for p in doc["patterns"]] != list(c.patterns):
            raise ValueError(f"the results list other patterns than {c.source}")
    by_id = {p["id"]: p for p in doc["patterns"]} if doc is not None else {}
    sections = ["## The patterns", "",
                "In the order of `criteria.toml`: calibration targets first, then the held-out "
                "patterns."]
    for i, (key, e) in enumerate(c.patterns.items(), 1):
        sections += ["", _pattern(i, e, by_id.get(key))]
    d, m = c.definitions, c.method
    text = template if template is not None else TEMPLATE.read_text(encoding="utf-8")
    for k, v in {
        "status": _status(doc, c), "patterns": "\n".join(sections),
        "conditions_year": f"year {d.conditions_year}", "min_measurement": f"{d.min_measurement:g}",
        "min_alignment_gain": f"{d.min_alignment_gain:g}",
        "min_meetings_per_year": f"{d.min_meetings_per_year:g}",
        "confidence": f"{100 * m.confidence:g}%", "resamples": f"{m.bootstrap_resamples:,}",
    }.items():
        text = text.replace("{{" + k + "}}", v)
    return text


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: print the document; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m experiments.validation.docs", description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="?", default=None,
                        help="validation_results.json (omit: results pending)")
    parser.add_argument("--criteria", type=Path, default=CRITERIA_FILE,
                        help="criteria file (default: experiments/validation/criteria.toml)")
    args = parser.parse_args(argv)
    try:
        c = default_criteria(args.criteria)
        doc = read_results(args.results) if args.results is not None else None
        text = render(doc, c)
    except (CriteriaError, ResultsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"error: {args.results}: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
