"""The code in the docs works: python blocks are run, shell commands are checked.

Every fenced block of README.md and docs/*.md is looked at:

- ```python blocks are run, each in a fresh interpreter (``python block.py``) in a temporary
  directory that links the repository's ``scenarios/`` and ``experiments/``, so relative paths
  work and outputs stay out of the checkout;
- ```bash / ```console blocks are checked without running them (they take minutes to hours):
  ``cisim ...`` and ``./dev cisim ...`` lines are parsed by cisim's own argument parser (the
  subcommand and every option must exist), ``./dev run|test`` must be commands of the ``dev``
  script, ``python -m MODULE`` must name a module that exists; in ```console blocks only lines
  starting with ``$ `` are commands (the rest is output);
- other blocks (no language, ```toml, ...) are not code to run.

A block that cannot run here says so in the doc source, on the line before its fence, with a
reason that readers of the source see:

- ``<!-- not-run: REASON -->``: not executed (a python block is still compiled, so a syntax error
  fails; shell lines that can be checked still are), e.g. a block that needs a SLURM cluster;
- ``<!-- slow: REASON -->``: a python block that runs only in the slow test step (``-m slow``).

A shell command the rules above cannot check fails the test until its block is marked
``not-run`` with a reason: nothing is skipped silently.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!--\s*(not-run|slow)\s*:\s*(.*?)\s*-->\s*$")
ANY_MARKER = re.compile(r"^<!--\s*(not[-_ ]?run|slow|skip)\b", re.IGNORECASE)
FENCE = re.compile(r"^```(\w*)\s*$")
SHELL = ("bash", "sh", "shell", "console")


@dataclass(frozen=True)
class Block:
    """One fenced block of a document."""

    file: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    marker: str | None  # "not-run", "slow" or None
    reason: str

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file with their markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, language = i, m.group(1).lower()
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        mark = MARKER.match(prev.strip())
        if mark is None and ANY_MARKER.match(prev.strip()):
            raise AssertionError(f"{path.relative_to(ROOT)}:{start}: malformed marker {prev!r}; "
                                 "write <!-- not-run: REASON --> or <!-- slow: REASON -->")
        out.append(Block(path, start + 1, language, "\n".join(lines[start + 1: j]),
                         mark.group(1) if mark else None, mark.group(2) if mark else ""))
        i = j + 1
    return out


ALL = [b for path in DOCS for b in blocks(path)]
PYTHON = [b for b in ALL if b.language == "python"]
SHELL_BLOCKS = [b for b in ALL if b.language in SHELL]


def test_the_docs_have_code_to_check():
    assert len(PYTHON) >= 5 and len(SHELL_BLOCKS) >= 10
    assert any(b.marker is None for b in PYTHON)


@pytest.mark.parametrize("block", [b for b in ALL if b.marker], ids=lambda b: b.where)
def test_every_marker_gives_a_reason(block):
    assert len(block.reason) >= 10, f"{block.where}: say why the block cannot run here"
    assert block.language in ("python", *SHELL), f"{block.where}: a marker on a block that " \
        "is not run anyway"
    if block.marker == "slow":
        assert block.language == "python", f"{block.where}: shell blocks are never run"


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.where)
def test_python_blocks_compile(block):
    compile(block.code, block.where, "exec")


def _run_python(block: Block, tmp_path: Path, timeout: float) -> None:
    for name in ("scenarios", "experiments"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    script = tmp_path / "block.py"
    script.write_text(block.code + "\n", encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, timeout=timeout,
                          capture_output=True, text=True)
    assert proc.returncode == 0, (f"{block.where}: the block failed (exit {proc.returncode})\n"
                                  f"{proc.stderr[-3000:]}")


@pytest.mark.parametrize("block", [b for b in PYTHON if b.marker is None], ids=lambda b: b.where)
def test_python_blocks_run(block, tmp_path):
    _run_python(block, tmp_path, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in PYTHON if b.marker == "slow"],
                         ids=lambda b: b.where)
def test_slow_python_blocks_run(block, tmp_path):
    _run_python(block, tmp_path, timeout=1800)


# ---- shell blocks -----------------------------------------------------------------------------


def commands(block: Block) -> list[tuple[int, list[str]]]:
    """(line number, argv) of each command of a shell block; continuations joined."""
    out = []
    pending, first = "", 0
    for k, raw in enumerate(block.code.splitlines()):
        line = raw.rstrip()
        if block.language == "console" and not pending:
            if not line.startswith("$ "):
                continue  # output
            line = line[2:]
        if not pending:
            first = block.line + 1 + k
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = pending + line
        pending = ""
        argv = shlex.split(text, comments=True)
        if argv:
            out.append((first, argv))
    return out


def _dev_commands() -> set[str]:
    header = (ROOT / "dev").read_text(encoding="utf-8")
    return set(re.findall(r"^#\s+\./dev (\w+)", header, flags=re.MULTILINE))


def check_command(argv: list[str]) -> str | None:
    """None when the command can be checked and is fine; else why not."""
    from cisim.cli import build_parser

    if argv[:2] == ["./dev", "cisim"]:
        argv = argv[1:]
    elif argv[0] == "./dev":
        if len(argv) > 1 and argv[1] in _dev_commands():
            return None
        return f"'./dev {' '.join(argv[1:2])}' is not a command of the dev script"
    if argv[0] == "cisim":
        parser = build_parser()
        try:
            parser.parse_args(argv[1:])
        except SystemExit as exit_:
            return f"cisim's parser refuses it (exit {exit_.code})"
        return None
    if argv[0] in ("python", "python3") and len(argv) > 2 and argv[1] == "-m":
        import importlib.util

        sys.path.insert(0, str(ROOT))
        try:
            found = importlib.util.find_spec(argv[2]) is not None
        except ModuleNotFoundError:
            found = False
        finally:
            sys.path.remove(str(ROOT))
        return None if found else f"no module {argv[2]}"
    return "unchecked"


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=lambda b: b.where)
def test_shell_commands_exist(block, capsys):
    cmds = commands(block)
    assert cmds, f"{block.where}: a shell block without a command"
    for line, argv in cmds:
        problem = check_command(argv)
        if problem == "unchecked":
            assert block.marker == "not-run", (
                f"{block.where}, line {line}: '{' '.join(argv)}' cannot be checked here; mark "
                "the block <!-- not-run: REASON --> if it cannot run here")
        else:
            assert problem is None, f"{block.where}, line {line}: {' '.join(argv)}: {problem}"
    capsys.readouterr()  # argparse's usage messages of refused commands


def test_the_checks_catch_a_wrong_option():
    assert check_command(["cisim", "sweep", "spec.toml", "--allow-huge"]) is not None
    assert check_command(["cisim", "swep", "spec.toml"]) is not None
    assert check_command(["./dev", "cisim", "sweep", "spec.toml", "--allow-large"]) is None
    assert check_command(["python", "-m", "experiments.nothing_here"]) == \
        "no module experiments.nothing_here"
    assert check_command(["rm", "-rf", "out"]) == "unchecked"
