"""The project stands alone: it cites sources, never files a clone does not have.

Every tracked text file is searched for pointers outside the repository (notes files of the
people who built it, a sibling folder of source documents, their hashed file names) and for
work-item numbers. Every short citation (author and year) in the tracked text must be listed in
``docs/references.md``, and every literature source of a scenario parameter (``cisim/scenario.py``
and ``cisim/data/priors.toml``) gives its year.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from cisim.priors import registry
from cisim.scenario import parameter_table

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = ROOT / "docs" / "references.md"
THIS = Path(__file__).resolve()

#: Pointers a clone of this repository cannot follow.
FORBIDDEN = {
    "notes file outside the repository": re.compile(r"\b(?:DESIGN|DOMAIN)\.md\b"),
    "sibling folder": re.compile(r"\.\./shared\b|\bshared/seeds\b"),
    "source-document folder": re.compile(r"(?<![\w.-])seeds/"),
    "hashed source-document name": re.compile(r"\b\d{3}_[0-9a-f]{16}\b"),
    "seed-file name": re.compile(r"\bseed[ _]0\d\d\b"),
    "work-item number": re.compile(
        r"\b(?:issue|ticket|work[ -]item|pull request|PR)\s*(?:no\.?\s*)?#?\d+\b", re.IGNORECASE),
    "work item": re.compile(r"\bwork[ -]items?\b", re.IGNORECASE),
}

#: A short citation: one or more capitalised names (``&``, ``and``, commas between them, perhaps
#: "et al." or a short title), then a year.
CITATION = re.compile(
    r"\b([A-Z][A-Za-zäöüé'\-]+(?: et al\.?)?(?:(?:,| &| and) [A-Z][A-Za-zäöüé'\-]+(?: et al\.?)?)*"
    r"(?:,? [A-Z][\w:'\-]*)*),? \(?((?:19[5-9]|20[0-2])\d)(?![\d\-])"
)
#: Capitalised words before a year that are not authors (what a citation's names must include).
NOT_NAMES = {"PRIM", "Sources", "Results", "In", "The", "A"}

#: Parameter sources that are not literature (no year expected).
NON_LITERATURE = ("assumption", "scenario author", "none", "model design", "model structure")


def _tracked_text_files() -> list[Path]:
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if proc.returncode == 0 and proc.stdout:
        names = [n for n in proc.stdout.decode().split("\0") if n]
    else:  # not a git checkout (an unpacked source archive): every file but the environment
        skip = {".git", ".venv", "out", "build", "dist", "__pycache__"}
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    files = []
    for name in names:
        path = ROOT / name
        if path.is_symlink() or not path.is_file() or path.resolve() == THIS:
            continue
        if path.suffix.lower() in {".png", ".jpg", ".parquet", ".whl", ".gz", ".zip"}:
            continue
        files.append(path)
    assert len(files) > 50, "found too few files to check"
    return files


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def test_no_file_points_outside_the_repository_or_to_work_items():
    found = []
    for path in _tracked_text_files():
        text = _text(path)
        if text is None:
            continue
        for what, pattern in FORBIDDEN.items():
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}: {m.group(0)!r}")
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("text", [
    "see DESIGN.md", "as DOMAIN.md says", "../shared/seeds/000_2554717acccc0b4a.txt",
    "the seeds/ folder", "003_ece90f17b78b657e", "seed 004 speaks of", "fixes issue 12",
    "Issue #7", "work item 3", "as the work-item asked",
])
def test_the_forbidden_patterns_catch_what_they_are_for(text):
    assert any(p.search(text) for p in FORBIDDEN.values()), text


@pytest.mark.parametrize("text", [
    "shared measurement", "/shared/sweeps/seven", "seed_only", "seeds 1, 2, 3", "#555555",
    "model.md#9-parameters", "SHA-256 7666002aaa51a64eb0e86ccd3926addeed1afda395040a0a89f5eded68",
])
def test_the_forbidden_patterns_leave_ordinary_text_alone(text):
    assert not any(p.search(text) for p in FORBIDDEN.values()), text


def _entries() -> list[str]:
    text = REFERENCES.read_text(encoding="utf-8")
    return [" ".join(e.split()) for e in re.split(r"\n- ", text)[1:]]


def _unlisted(text: str, entries: list[str]) -> list[str]:
    out = []
    for m in CITATION.finditer(text):
        names = [n for n in re.findall(r"[A-Z][A-Za-zäöüé'\-]+", m.group(1)) if n not in NOT_NAMES]
        year = m.group(2)
        if not any(year in e and any(n in e for n in names) for e in entries):
            out.append(m.group(0))
    return out


def test_every_short_citation_is_in_the_references():
    entries = _entries()
    assert len(entries) > 40
    missing = []
    for path in _tracked_text_files():
        if path == REFERENCES:
            continue
        text = _text(path)
        if text is None or path.suffix in {".csv", ".json"}:
            continue
        missing += [f"{path.relative_to(ROOT)}: {c}" for c in _unlisted(text, entries)]
    assert missing == [], "not in docs/references.md:\n" + "\n".join(sorted(set(missing)))


def test_the_citation_check_finds_an_unlisted_source():
    entries = _entries()
    assert _unlisted("as Kania & Kramer 2011 say", entries) == []
    assert _unlisted("(Smith & Jones 2015)", entries) == ["Smith & Jones 2015"]
    assert _unlisted("Kania & Kramer 1998", entries) == ["Kania & Kramer 1998"]


def _literature(source: str) -> bool:
    text = source.strip().lower()
    if "after" in text or ";" in text:
        return True
    return not text.startswith(NON_LITERATURE)


def test_every_literature_source_of_a_parameter_gives_a_year():
    sources = {row["path"]: row["source"] for row in parameter_table()}
    sources |= {f"priors: {path}": e.source for path, e in registry().items()}
    undated = [f"{k}: {s}" for k, s in sources.items()
               if _literature(s) and not re.search(r"\b(?:19|20)\d\d\b|undated", s)]
    assert undated == [], "\n".join(undated)
