"""Parameter tables of ``docs/model.md``, generated from the scenario schema.

The ODD protocol in ``docs/model.md`` (Grimm et al. 2020) lists every scenario parameter with
its unit, default, bounds, evidence class, prior, source and meaning. The tables are rendered
here from :func:`cisim.scenario.parameter_table`, so the documentation cannot drift from the code:
``python -m cisim.docs`` rewrites the block between the markers ``<!-- parameters:start -->``
and ``<!-- parameters:end -->`` (atomically), and ``tests/test_docs.py`` fails when the block
is stale.

The rendering fills in what the schema leaves implicit: units and sources of the per-sector
profile fields and of free-text labels, readable defaults for optional fields whose value is
derived at run time and the default contents of list and dict sections (the two default
subgroups, the six sector profiles). The evidence class and the prior of each parameter come from
the priors table (:mod:`cisim.priors`), and the counts per class are computed from it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cisim.priors import EVIDENCE_CLASSES, registry
from cisim.scenario import SECTORS, Scenario, _default_profiles, parameter_table

__all__ = ["END_MARKER", "MODEL_MD", "START_MARKER", "main", "parameter_markdown", "update_file"]

START_MARKER = "<!-- parameters:start -->"
END_MARKER = "<!-- parameters:end -->"
MODEL_MD = Path(__file__).resolve().parent.parent / "docs" / "model.md"

PROFILE_PREFIX = "partner_generation.profiles.<sector>."

#: Headings of the top-level sections, in the order of the schema.
SECTION_TITLES = {
    "": "Scenario (top level)",
    "partners": "Partners listed one by one (`[[partners]]`)",
    "partner_generation": "Generated partners (`[partner_generation]`)",
    "backbone": "Backbone (`[backbone]`)",
    "funding": "Funding (`[funding]`, `[[funding.streams]]`)",
    "meetings": "Meetings (`[meetings]`)",
    "measurement": "Shared measurement (`[measurement]`)",
    "engagement": "Beneficiary engagement (`[engagement]`)",
    "population": "Population (`[population]`, `[[population.subgroups]]`)",
    "phases": "Phases (`[phases]`)",
    "valuation": "SROI valuation (`[valuation]`)",
    "dynamics": "Dynamics: rate constants of the mechanisms (`[dynamics]`)",
    "target": "Target (`[target]`, Results-Based Accountability)",
}

#: Notes printed under a section heading.
SECTION_NOTES = {
    "partners": "Default: no partners are listed. A scenario must list partners or generate "
    "them (or both).",
    "partner_generation": "The whole section is optional (default: absent). The rows give the "
    "values that apply when it is present; `profiles` defaults to the six sector profiles in "
    "the table after this one, and a sector missing from `profiles` falls back to its default "
    "profile. Generated partners always get `grant_years` 3, influence 1 (champions excepted) "
    "and the default value weights of `partners[].seeks`.",
    "funding": "Default: no external streams (`funding.streams` is empty); partners' grants "
    "(`partners[].grant_per_year`) are funding lines too.",
    "population": "`population.subgroups` defaults to the two subgroups in the table after this "
    "one; the per-field defaults in the rows apply to subgroups a scenario lists itself.",
    "target": "The whole section is optional (default: absent) and does not change the "
    "simulation: the reports read it. When present it sets exactly one of `outcome_rate` and "
    "`population_change_pp`; a `year` beyond `horizon_years` is not assessed.",
}

#: Units and sources the schema leaves empty (labels and the per-sector profile fields).
FILL = {
    "name": ("text", "user input"),
    "description": ("text", "user input"),
    "partners[].name": ("text", "user input"),
    "partners[].sector": ("category", "Kania & Kramer 2011 (cross-sector partners)"),
    "funding.streams[].name": ("text", "user input"),
    "population.subgroups[].name": ("text", "user input"),
}
PROFILE_FILL = {
    "staff_fte.mean": ("FTE", "Mean staff time of a generated partner."),
    "staff_fte.cv": ("sd/mean", "Variation of staff time between partners (lognormal)."),
    "budget_per_year.mean": ("currency/year", "Mean own service budget."),
    "budget_per_year.cv": ("sd/mean", "Variation of budgets between partners (lognormal)."),
    "grant_per_year.mean": ("currency/year", "Mean grant to the pooled fund."),
    "grant_per_year.cv": ("sd/mean", "Variation of grants between partners (lognormal)."),
    "commitment": ("probability", "Commitment of every generated partner of the sector."),
    "data_maturity": ("0-1", "Data maturity of every generated partner of the sector."),
    "strong_areas": ("strategy areas", "Strategy areas where the sector is expert."),
}

#: Readable defaults of optional fields whose value is derived at run time.
DERIVED_DEFAULTS = {
    "partners[].expertise": "drawn: U(0.15, 0.45) per area, U(0.6, 0.95) in the sector's "
    "strong areas",
    "partners[].agenda_position": "drawn: uniform in [0,1]^2",
    "backbone.neutrality": "by type (world.BACKBONE_NEUTRALITY)",
    "funding.max_years": "none (no cliff)",
    "population.subgroups[].needs": "need_level in every area",
    "population.subgroups[].structural_barrier": "dynamics.structural_barrier if "
    "disadvantaged, else 0",
    "target.outcome_rate": "none (set this or population_change_pp)",
    "target.population_change_pp": "none (set this or outcome_rate)",
}

#: Schema descriptions too generic for a row of the profile table (replaced by PROFILE_FILL).
GENERIC_DESCRIPTIONS = ("Mean of the distribution.", "Coefficient of variation (sd / mean).")


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _num(value: Any) -> str:
    """A number as a reader writes it: 0.5, 3, 400,000, 1e+11."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 1_000 else str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e9:
            return f"{int(value):,}" if abs(value) >= 1_000 else str(int(value))
        return f"{value:g}"
    return str(value)


def _bounds(text: str) -> str:
    """Reformat ``>= 0, <= 100000000000.0`` as ``>= 0, <= 1e+11``."""
    if not text:
        return ""
    parts = []
    for chunk in text.split(", "):
        sym, _, number = chunk.partition(" ")
        try:
            value: Any = float(number)
        except ValueError:
            parts.append(chunk)
            continue
        parts.append(f"{sym} {_num(value)}")
    return ", ".join(parts)


def _default_text(value: Any) -> str:
    """A schema default for a table cell."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return _num(value)
    if isinstance(value, str):
        return f'"{value}"' if value else '"" (empty)'
    if isinstance(value, list):
        return ", ".join(_default_text(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return "(none)" if not value else ", ".join(f"{k} = {v}" for k, v in value.items())
    return str(value)


def _schema_default(path: str) -> Any:
    """The default value of a scalar field, found by walking the schema (None if none)."""
    from cisim.schema import inner_model as _inner_model

    model: Any = Scenario
    parts = path.replace("[]", "").split(".")
    for i, part in enumerate(parts):
        if part == "<sector>":
            continue
        field = model.model_fields[part]
        if i == len(parts) - 1:
            if field.is_required():
                return None
            return field.get_default(call_default_factory=True)
        model = _inner_model(field.annotation)
    return None


#: How the evidence classes read in the tables.
EVIDENCE_LABELS = {"measured": "measured", "cited_range": "cited range",
                   "assumption": "assumption", "design": "design"}


def _prior_text(entry: Any) -> str:
    """The prior of a table row: the distribution, marked when forecasts do not draw it."""
    text = entry.describe()
    if text and not entry.sampled:
        text += " (not drawn)"
    return text


def evidence_counts() -> dict[str, int]:
    """How many scenario parameters fall in each evidence class (rows without an entry apart)."""
    table = registry()
    counts = dict.fromkeys(EVIDENCE_CLASSES, 0)
    missing = 0
    for row in parameter_table():
        entry = table.get(row["path"])
        if entry is None:
            missing += 1
        else:
            counts[entry.evidence] += 1
    if missing:
        counts["(missing)"] = missing
    return counts


def _counts_sentence() -> str:
    counts = evidence_counts()
    table = registry()
    drawn = sum(1 for row in parameter_table()
                if (e := table.get(row["path"])) is not None and e.sampled)
    plural = {"measured": "measured", "cited_range": "cited ranges",
              "assumption": "assumptions", "design": "design inputs"}
    parts = [f"{counts[c]} {plural[c]}" for c in EVIDENCE_CLASSES]
    if "(missing)" in counts:
        parts.append(f"{counts['(missing)']} without an entry in the priors table")
    return ("Evidence classes (computed from `cisim/data/priors.toml`): " + ", ".join(parts)
            + f". {drawn} parameters (the assumptions and cited ranges at plain dotted paths) "
            "carry a prior that forecasts draw; the priors of list and per-sector parameters "
            "are documented but not drawn.")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows() -> list[dict[str, str]]:
    """The schema's parameter rows with the gaps filled and the defaults made readable."""
    out = []
    for row in parameter_table():
        r = dict(row)
        path = r["path"]
        value = _schema_default(path)
        if path.startswith(PROFILE_PREFIX):
            unit, meaning = PROFILE_FILL[path.removeprefix(PROFILE_PREFIX)]
            if r["unit"] in ("", "as the quantity"):
                r["unit"] = unit
            r["source"] = r["source"] or "assumption"
            r["default"] = "per sector (table below)"
            if not r["description"] or r["description"] in GENERIC_DESCRIPTIONS:
                r["description"] = meaning
        else:
            if path in FILL:
                unit, source = FILL[path]
                r["unit"] = r["unit"] or unit
                r["source"] = r["source"] or source
            if path in DERIVED_DEFAULTS:
                r["default"] = DERIVED_DEFAULTS[path]
            elif r["default"] != "required":
                r["default"] = _default_text(value)
        entry = registry().get(path)
        r["evidence"] = EVIDENCE_LABELS[entry.evidence] if entry else "(missing)"
        r["prior"] = _prior_text(entry) if entry else ""
        out.append(r)
    return out


def _table(rows: list[dict[str, str]]) -> list[str]:
    lines = [
        "| parameter | unit | default | bounds | evidence | prior | source | meaning |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| `{r['path']}` | {_cell(r['unit'])} | {_cell(r['default'])} | "
            f"{_cell(_bounds(r['bounds']))} | {_cell(r['evidence'])} | {_cell(r['prior'])} | "
            f"{_cell(r['source'])} | {_cell(r['description'])} |"
        )
    return lines


def _profiles_table() -> list[str]:
    """The six default sector profiles, one row per sector."""
    profiles = _default_profiles()
    lines = [
        "Default sector profiles (`partner_generation.profiles.<sector>`; placeholders, "
        "chosen to give each sector a plausible size and its typical strengths):",
        "",
        "| sector | staff_fte mean (cv) | budget_per_year mean (cv) | grant_per_year mean (cv) "
        "| commitment | data_maturity | strong_areas |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for sector in SECTORS:
        p = profiles[sector]
        lines.append(
            f"| {sector} | {_num(p.staff_fte.mean)} ({_num(p.staff_fte.cv)}) | "
            f"{_num(p.budget_per_year.mean)} ({_num(p.budget_per_year.cv)}) | "
            f"{_num(p.grant_per_year.mean)} ({_num(p.grant_per_year.cv)}) | "
            f"{_num(p.commitment)} | {_num(p.data_maturity)} | "
            f"{', '.join(p.strong_areas) or '(none)'} |"
        )
    return lines


def _subgroups_table() -> list[str]:
    """The default subgroups of the population."""
    groups = Scenario.model_fields["population"].get_default(call_default_factory=True).subgroups
    lines = [
        "Default subgroups (`population.subgroups`; shares and needs are assumptions, the "
        "baseline rates bracket the 10.9% opportunity-youth rate of Measure of America 2022, "
        "the disadvantaged flag follows ORS Impact & Spark Policy Institute 2018):",
        "",
        "| name | share | baseline_rate | need_level | needs | disadvantaged |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for g in groups:
        needs = ", ".join(_num(v) for v in g.needs) if g.needs else "need_level in every area"
        lines.append(
            f"| {g.name} | {_num(g.share)} | {_num(g.baseline_rate)} | {_num(g.need_level)} | "
            f"{needs} | {str(g.disadvantaged).lower()} |"
        )
    return lines


def parameter_markdown() -> str:
    """Every scenario parameter as Markdown tables, one per top-level section.

    Returns:
        Markdown text (ending in a newline) with a heading and a table per section of the
        scenario (columns: parameter path, unit, default, bounds, evidence class, prior,
        source, meaning), the evidence counts, the default
        sector profiles and the default subgroups.
    """
    rows = _rows()
    groups: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        head = r["path"].split(".")[0].replace("[]", "")
        key = head if r["path"] != head else ""
        groups.setdefault(key, []).append(r)
    lines: list[str] = [
        "<!-- Generated by `python -m cisim.docs` from cisim.scenario.parameter_table(); "
        "do not edit by hand. -->",
        "",
        f"{len(rows)} parameters. Paths are dotted scenario paths as used in TOML files, "
        "`--set` and `CollectiveImpactModel(**{path: value})`; `[]` marks an entry of a list "
        "(`partners[2].commitment` in `--set`) and `<sector>` one of "
        + ", ".join(SECTORS) + ". The evidence column says where the default comes from "
        "(measured, cited range, assumption or design) and the prior column gives the "
        "distribution of an uncertain parameter in the sweep specification's conventions; "
        "the reasoning behind each is in `cisim/data/priors.toml`.",
        "",
        _counts_sentence(),
        "",
    ]
    for key, title in SECTION_TITLES.items():
        if key not in groups:
            continue
        lines += [f"#### {title}", ""]
        if key in SECTION_NOTES:
            lines += [SECTION_NOTES[key], ""]
        lines += _table(groups.pop(key))
        lines.append("")
        if key == "partner_generation":
            lines += [*_profiles_table(), ""]
        if key == "population":
            lines += [*_subgroups_table(), ""]
    for key, rest in groups.items():  # a section added to the schema but not to SECTION_TITLES
        lines += [f"#### `{key}`", "", *_table(rest), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------------
# Updating docs/model.md
# --------------------------------------------------------------------------------------------


def replace_block(text: str, block: str) -> str:
    """Replace what lies between the parameter markers in ``text`` with ``block``.

    Raises:
        ValueError: The markers are missing, repeated or in the wrong order.
    """
    if text.count(START_MARKER) != 1 or text.count(END_MARKER) != 1:
        raise ValueError(
            f"expected exactly one {START_MARKER} and one {END_MARKER} marker"
        )
    start = text.index(START_MARKER) + len(START_MARKER)
    end = text.index(END_MARKER)
    if end < start:
        raise ValueError(f"{END_MARKER} comes before {START_MARKER}")
    return text[:start] + "\n" + block + text[end:]


def current_block(text: str) -> str:
    """The text between the parameter markers, without the newline after the start marker."""
    start = text.index(START_MARKER) + len(START_MARKER)
    end = text.index(END_MARKER)
    return text[start:end].removeprefix("\n")


def update_file(path: Path = MODEL_MD) -> bool:
    """Rewrite the generated block of ``path`` atomically.

    Returns:
        True if the file changed.

    Raises:
        OSError: The file cannot be read or written.
        ValueError: The markers are missing or malformed.
    """
    from cisim.io import write_text_atomic

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    new = replace_block(text, parameter_markdown())
    if new == text:
        return False
    write_text_atomic(path, new)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cisim.docs [--check] [FILE]``: regenerate the parameter tables.

    Returns:
        0 on success (or, with ``--check``, when the file is up to date); 1 when ``--check``
        finds the block stale; 2 when the file cannot be read or has no markers.
    """
    parser = argparse.ArgumentParser(
        prog="python -m cisim.docs",
        description="Rewrite the parameter tables of docs/model.md from the scenario schema.",
    )
    parser.add_argument("file", nargs="?", default=str(MODEL_MD), help="default: docs/model.md")
    parser.add_argument("--check", action="store_true",
                        help="only check that the tables are up to date (exit 1 if not)")
    args = parser.parse_args(argv)
    path = Path(args.file)
    try:
        if args.check:
            text = path.read_text(encoding="utf-8")
            stale = replace_block(text, parameter_markdown()) != text
            if stale:
                print(f"{path}: parameter tables are stale; run python -m cisim.docs",
                      file=sys.stderr)
                return 1
            print(f"{path}: parameter tables up to date")
            return 0
        changed = update_file(path)
    except (OSError, ValueError) as err:
        print(f"{path}: {err}", file=sys.stderr)
        return 2
    print(f"{path}: parameter tables {'rewritten' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
