"""Tests of whole-directory writing and manifests (cisim.io) against writers killed outright.

A writer process is killed with SIGKILL at each step of :func:`cisim.io.write_directory` (while
it writes, before the swap, after it, while the old directory is removed, and between the two
renames where no atomic exchange is available); the directory must then be the old complete one
or the new complete one, and the next write must leave no hidden temporary behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import cisim.io as cio
from cisim.io import MANIFEST, check_manifest, write_directory, write_manifest

IO_FILE = Path(cio.__file__)

# The writer loads cisim/io.py alone (standard library only), so it starts in a blink.
WRITER = r"""
import importlib.util, os, shutil, signal, sys
from pathlib import Path

spec = importlib.util.spec_from_file_location("cio", sys.argv[1])
cio = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cio)
out, tag, kill_at = Path(sys.argv[2]), sys.argv[3], sys.argv[4]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

real_exchange, real_rename, real_rmtree = cio._exchange, os.rename, shutil.rmtree
if kill_at.startswith("fallback"):
    cio._exchange = lambda a, b: False
renames = []
def rename(a, b):
    if kill_at == "fallback-before-first":
        die()
    real_rename(a, b)
    renames.append(b)
    if kill_at == "fallback-between" and len(renames) == 1:
        die()
os.rename = rename
def exchange(a, b):
    if kill_at == "before-swap":
        die()
    done = real_exchange(a, b)
    if kill_at == "after-swap":
        die()
    return done
if not kill_at.startswith("fallback"):
    cio._exchange = exchange
def rmtree(p, *args, **kwargs):
    if kill_at == "while-removing-old":
        # remove part of the old directory, then die
        first = sorted(Path(p).iterdir())[0]
        first.unlink()
        die()
    real_rmtree(p, *args, **kwargs)
shutil.rmtree = rmtree

with cio.write_directory(out, lambda d: True) as tmp:
    for i in range(4):
        (tmp / f"part{i}.csv").write_text(f"{tag}\n" * (1000 * (i + 1)))
        if kill_at == "while-writing" and i == 1:
            die()
    cio.write_manifest(tmp, {"tag": tag})
"""


def _write(out: Path, tag: str, kill_at: str = "never") -> int:
    """Write the directory in a separate process; return its exit code (-9 when killed)."""
    proc = subprocess.run([sys.executable, "-c", WRITER, str(IO_FILE), str(out), tag, kill_at],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode


def _state(out: Path) -> str:
    """Which complete directory ``out`` holds ('old' or 'new'); fails on anything else."""
    problems = check_manifest(out, lambda rel: True)
    assert problems == [], problems
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["files"]) == [f"part{i}.csv" for i in range(4)]
    return manifest["tag"]


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


KILL_POINTS = {
    # kill point -> the directory's content right after the kill
    "while-writing": "old",
    "before-swap": "old",
    "after-swap": "new",
    "while-removing-old": "new",
    "fallback-before-first": "old",
    "fallback-between": None,  # no directory until the next write puts the old one back
}


@pytest.mark.parametrize("kill_at", list(KILL_POINTS))
def test_a_writer_killed_at_any_step_leaves_old_or_new_complete(tmp_path, kill_at):
    out = tmp_path / "results"
    assert _write(out, "old") == 0
    assert _state(out) == "old" and _hidden(tmp_path) == []

    assert _write(out, "new", kill_at) == -signal.SIGKILL
    expected = KILL_POINTS[kill_at]
    if expected is None:
        assert not out.exists()
    else:
        assert _state(out) == expected
    assert _hidden(tmp_path), "the killed writer's temporary should still be there"

    # the next writer cleans up after the dead one (even when it fails itself) ...
    with pytest.raises(RuntimeError), write_directory(out, lambda d: True) as tmp:
        assert tmp.name.startswith(".results.")
        raise RuntimeError("failed while writing")
    assert _hidden(tmp_path) == []
    assert _state(out) == (expected or "old")
    # ... and a complete next write replaces the directory whole
    assert _write(out, "newer") == 0
    assert _state(out) == "newer" and _hidden(tmp_path) == []


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    out = tmp_path / "results"
    with write_directory(out, lambda d: True) as first:
        (first / "a.csv").write_text("1")
        # a second writer of the same directory, in this (live) process: it must not remove
        # the first one's temporary directory
        with write_directory(out, lambda d: True) as second:
            (second / "a.csv").write_text("2")
        assert first.is_dir()
    assert (out / "a.csv").read_text() == "1"
    assert _hidden(tmp_path) == []


def test_write_directory_refuses_what_it_may_not_replace(tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "thesis.docx").write_text("precious")
    with (pytest.raises(FileExistsError, match="does not hold cisim results"),
          write_directory(keep, lambda d: False)):
        pytest.fail("must not be entered")
    assert (keep / "thesis.docx").read_text() == "precious"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with (pytest.raises(FileExistsError, match="not a directory"),
          write_directory(a_file, lambda d: True)):
        pytest.fail("must not be entered")
    assert _hidden(tmp_path) == []


def test_a_failed_write_leaves_the_old_directory_and_no_temporary(tmp_path):
    out = tmp_path / "results"
    with write_directory(out, lambda d: True) as tmp:
        (tmp / "a.csv").write_text("old")
    with pytest.raises(KeyboardInterrupt), write_directory(out, lambda d: True) as tmp:
        (tmp / "a.csv").write_text("new")
        raise KeyboardInterrupt
    assert (out / "a.csv").read_text() == "old"
    assert _hidden(tmp_path) == []


def test_manifest_detects_a_replaced_a_missing_and_an_extra_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.csv").write_text("a,b\n1,2\n")
    (tmp_path / "sub" / "b.csv").write_text("x\n")
    manifest = json.loads(write_manifest(tmp_path, {"seed": 3}).read_text())
    assert manifest["seed"] == 3
    assert manifest["files"]["a.csv"]["bytes"] == 8
    assert set(manifest["files"]) == {"a.csv", "sub/b.csv"}
    assert check_manifest(tmp_path, lambda rel: True) == []

    (tmp_path / "a.csv").write_text("a,b\n1,3\n")  # same size, other content
    (tmp_path / "sub" / "b.csv").unlink()
    (tmp_path / "c.csv").write_text("from another run")
    (tmp_path / "notes.txt").write_text("the user's own")
    problems = check_manifest(tmp_path, lambda rel: rel.endswith(".csv"))
    assert problems == ["a.csv differs from the file written with the others",
                        "sub/b.csv is listed but missing",
                        "c.csv is not listed (left by another run?)"]


def test_manifest_absent_or_unreadable(tmp_path):
    assert check_manifest(tmp_path, lambda rel: True) is None
    (tmp_path / MANIFEST).write_text("{not json")
    (problem,) = check_manifest(tmp_path, lambda rel: True)
    assert problem.startswith(f"{MANIFEST} cannot be read")


def test_stale_temporaries_of_dead_writers_only(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    host = cio._host_tag()
    stale = tmp_path / f".results.{host}-{dead_pid}.abcd.tmp"
    stale.mkdir()
    live = tmp_path / f".results.{host}-{os.getpid()}.efgh.tmp"
    live.mkdir()
    other_host = tmp_path / f".results.{'0' * 6 if host != '0' * 6 else '1' * 6}-{dead_pid}.x.tmp"
    other_host.write_text("")
    assert cio.remove_stale_temporaries(tmp_path) == [stale]
    assert live.exists() and other_host.exists()


def test_a_symlinked_directory_keeps_its_link(tmp_path):
    target = tmp_path / "disk" / "results"
    with write_directory(target, lambda d: True) as tmp:
        (tmp / "a.csv").write_text("old")
    link = tmp_path / "results"
    link.symlink_to(target, target_is_directory=True)
    with write_directory(link, lambda d: True) as tmp:
        (tmp / "a.csv").write_text("new")
    assert link.is_symlink() and (link / "a.csv").read_text() == "new"
    assert _hidden(tmp_path) == [] and _hidden(tmp_path / "disk") == []


def test_a_relative_path_through_dot_dot_and_dot(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    with write_directory(Path("../res"), lambda d: True) as tmp:
        assert tmp.parent == tmp_path
        (tmp / "x.csv").write_text("1")
    monkeypatch.chdir(tmp_path / "res")
    with write_directory(Path("."), lambda d: True) as tmp:
        assert tmp.parent == tmp_path  # beside the directory, not inside it
        (tmp / "x.csv").write_text("2")
    assert (tmp_path / "res" / "x.csv").read_text() == "2"
    assert _hidden(tmp_path) == []
