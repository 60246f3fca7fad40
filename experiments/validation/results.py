"""The study's verdict over seeds, as ``validation_results.json``.

A pattern holds only if it holds in every seed: each seed is a fresh sample of initiatives
(and of runs), and a pattern that holds in one sample and fails in another has not been shown.
The file records the SHA-256 of the criteria file that judged the runs, the seeds, the designs
per seed, and per pattern its role, the overall verdict and each seed's value, interval and
verdict. :func:`validate_results` checks that structure (the report and
``python -m experiments.validation.docs`` read it).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cisim.io import write_text_atomic
from cisim.scenario import ScenarioError

from .criteria import Criteria, PatternCriterion, describe
from .patterns import PatternResult

__all__ = ["ResultsError", "build_results", "criterion_text", "holds_in_every_seed", "read_results",
           "validate_results", "write_results"]


class ResultsError(ScenarioError):
    """A results file is missing a field or has one of the wrong type.

    Reported as a scenario problem is reported: the file, then every field with its message.
    """


def _num(x: float) -> float | None:
    """A finite float, or None (JSON null) for NaN and infinities."""
    x = float(x)
    return x if math.isfinite(x) else None


def criterion_text(entry: PatternCriterion) -> str:
    """A pattern's criterion in words, followed by its checks."""
    return f"{' '.join(entry.criterion.split())} [checks: {describe(entry.checks)}]"


def holds_in_every_seed(per_seed: Sequence[Mapping[str, Any]]) -> bool:
    """The every-seed rule: True only if there is at least one seed and it holds in each."""
    return len(per_seed) > 0 and all(bool(s["holds"]) for s in per_seed)


def build_results(criteria: Criteria, by_seed: Mapping[int, Sequence[PatternResult]],
                  designs_per_seed: int, generated: dt.date | None = None) -> dict[str, Any]:
    """The results document of a run over several seeds.

    Args:
        criteria: The criteria that judged every seed.
        by_seed: Each seed's pattern results (one per pattern of the criteria).
        designs_per_seed: Sampled initiatives per seed.
        generated: The date (default: today, UTC).

    Returns:
        The document in the format of ``validation_results.json``.
    """
    seeds = list(by_seed)
    patterns = []
    for key, entry in criteria.patterns.items():
        rows = []
        for seed in seeds:
            r = next(r for r in by_seed[seed] if r.key == key)
            rows.append({"seed": int(seed), "value": _num(r.value),
                         "interval": [_num(r.interval[0]), _num(r.interval[1])],
                         "holds": bool(r.holds)})
        patterns.append({
            "id": key, "name": entry.name, "role": entry.role,
            "holds": holds_in_every_seed(rows), "per_seed": rows,
            "criterion": criterion_text(entry),
        })
    day = generated or dt.datetime.now(dt.UTC).date()
    return {"generated": day.isoformat(), "criteria_sha256": criteria.sha256,
            "seeds": [int(s) for s in seeds], "designs_per_seed": int(designs_per_seed),
            "patterns": patterns}


def _is_num(x: Any) -> bool:
    return x is None or (isinstance(x, int | float) and not isinstance(x, bool))


def validate_results(doc: Any, source: str = "<results>") -> dict[str, Any]:
    """Check the structure of a results document; return it.

    Raises:
        ResultsError: Every problem, each naming its field.
    """
    p: list[tuple[str, str]] = []
    if not isinstance(doc, dict):
        raise ResultsError(source, [("(top level)", "must be a JSON object")])
    expected = {"generated", "criteria_sha256", "seeds", "designs_per_seed", "patterns"}
    for k in sorted(expected - set(doc)):
        p.append((k, "required but missing"))
    for k in sorted(set(doc) - expected):
        p.append((k, "unknown key"))
    try:
        dt.date.fromisoformat(str(doc.get("generated")))
    except ValueError:
        p.append(("generated", "must be an ISO date (YYYY-MM-DD)"))
    sha = doc.get("criteria_sha256")
    if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
        p.append(("criteria_sha256", "must be 64 lowercase hex digits"))
    seeds = doc.get("seeds")
    if not (isinstance(seeds, list) and seeds and all(type(s) is int for s in seeds)):
        p.append(("seeds", "must be a non-empty list of integers"))
        seeds = []
    if type(doc.get("designs_per_seed")) is not int or doc.get("designs_per_seed", 0) < 1:
        p.append(("designs_per_seed", "must be a positive integer"))
    pats = doc.get("patterns")
    if not isinstance(pats, list) or not pats:
        p.append(("patterns", "must be a non-empty list"))
        pats = []
    for i, pat in enumerate(pats):
        w = f"patterns[{i}]"
        if not isinstance(pat, dict):
            p.append((w, "must be an object"))
            continue
        for k, typ in (("id", str), ("name", str), ("criterion", str), ("holds", bool)):
            if not isinstance(pat.get(k), typ):
                p.append((f"{w}.{k}", f"must be a {typ.__name__}"))
        if pat.get("role") not in ("calibration", "held_out"):
            p.append((f"{w}.role", "must be 'calibration' or 'held_out'"))
        rows = pat.get("per_seed")
        if not isinstance(rows, list):
            p.append((f"{w}.per_seed", "must be a list"))
            continue
        if [r.get("seed") if isinstance(r, dict) else None for r in rows] != seeds:
            p.append((f"{w}.per_seed", "must have one entry per seed, in the order of 'seeds'"))
        for j, r in enumerate(rows):
            if not isinstance(r, dict):
                continue
            if not _is_num(r.get("value")):
                p.append((f"{w}.per_seed[{j}].value", "must be a number or null"))
            iv = r.get("interval")
            if not (isinstance(iv, list) and len(iv) == 2 and all(_is_num(x) for x in iv)):
                p.append((f"{w}.per_seed[{j}].interval", "must be [low, high] (numbers or null)"))
            if not isinstance(r.get("holds"), bool):
                p.append((f"{w}.per_seed[{j}].holds", "must be true or false"))
        if (isinstance(pat.get("holds"), bool)
                and all(isinstance(r, dict) and isinstance(r.get("holds"), bool) for r in rows)
                and pat["holds"] != holds_in_every_seed(rows)):
            p.append((f"{w}.holds", "must be true exactly when every seed holds"))
    if p:
        raise ResultsError(source, p)
    return doc


def write_results(path: str | Path, doc: Mapping[str, Any]) -> None:
    """Write a results document (validated) as indented JSON, atomically."""
    validate_results(dict(doc), str(path))
    write_text_atomic(Path(path), json.dumps(doc, indent=2, allow_nan=False) + "\n")


def read_results(path: str | Path) -> dict[str, Any]:
    """Read and validate a results document."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(str(path), [("(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(str(path), [("(file)", f"cannot be read as JSON: {err}")]) from None
    return validate_results(doc, str(path))
