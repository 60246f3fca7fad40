"""The teaching notebooks (notebooks/*.ipynb) execute top to bottom, and are committed clean.

Each notebook runs in a fresh Jupyter kernel through nbclient, from an empty folder outside the
repository (the notebooks read the bundled scenarios by name), with a time limit per cell. The
kernel runs numba's kernels single-threaded (``NUMBA_NUM_THREADS=1``): on a small shared machine
the parallel population kernel is far slower than one thread.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # s
NOTEBOOK_BUDGET = 150  # s: the whole set must run in class and in the suite quickly


def test_there_are_five_lessons():
    assert len(NOTEBOOKS) == 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code, "a lesson without code"
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert book.cells[0].cell_type == "markdown" and book.cells[0].source.startswith("# Lesson")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_uses_only_the_public_api(path):
    book = nbformat.read(path, as_version=4)
    allowed = ("import cisim", "from cisim.report import", "from cisim.sweep import")
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            text = line.strip()
            if "cisim" in text and text.startswith(("import ", "from ")):
                assert text.startswith(allowed), f"private import in {path.name}: {text}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, monkeypatch, tmp_path):
    """Runs in an empty folder outside the repository, as a teacher's copy would."""
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(book, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    start = time.monotonic()
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    elapsed = time.monotonic() - start
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    # the lesson shows something: every notebook draws at least one figure
    images = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no figure"
    text_only = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
                 if o.get("data", {}).get("text/plain", "").startswith("<Figure")
                 and "image/png" not in o["data"]]
    assert text_only == [], "a figure was shown as text instead of an image"
    assert elapsed < NOTEBOOK_BUDGET, f"{path.name} took {elapsed:.0f} s"


def test_teaching_guide_lists_every_notebook():
    guide = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`(\d\d_[a-z_]+\.ipynb)`", guide))
    assert listed == {p.name for p in NOTEBOOKS}
