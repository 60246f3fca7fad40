"""Interrupted commands: processes killed outright (SIGKILL) leave nothing half done behind.

- ``cisim run`` killed while it writes its results leaves the old complete results directory or
  the new complete one, never a mix, and the next run leaves no hidden temporary.
- ``cisim analyze`` likewise: failing, interrupted or killed part-way through writing, it leaves
  the old complete analysis or the new complete one.
- The loky workers of ``cisim run``, ``cisim sweep`` and ``cisim calibrate`` exit soon after
  their main process is killed, instead of computing on for joblib's five-minute idle timeout.
- A sweep store's lock held by a killed process is taken over at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from cisim.cli import EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, EXIT_USAGE, main
from cisim.cli.run import run_owned
from cisim.io import check_manifest, pid_alive
from cisim.sweep import ResultStore, StoreError
from cisim.sweep.analyze import analysis_owned

ROOT = Path(__file__).resolve().parents[1]


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def _seed_of(outdir: Path) -> int:
    """The seed of the one run whose complete results ``outdir`` holds (fails on a mix)."""
    assert check_manifest(outdir, run_owned) == []
    return json.loads((outdir / "manifest.json").read_text())["seed"]


# ---- cisim run killed while it writes --------------------------------------------------------


@pytest.mark.slow
def test_run_killed_while_writing_leaves_old_or_new_results(tmp_path, tiny_scenario,
                                                           cisim_process):
    scenario = tiny_scenario(tmp_path / "tiny.toml")
    outdir = tmp_path / "results"
    common = ["-n", "2", "-j", "1", "-o", str(outdir)]
    assert main(["run", str(scenario), "--seed", "1", *common]) == 0
    assert _seed_of(outdir) == 1
    seen = {"old": 0, "new": 0}
    killed_while_writing = 0
    # kill at several moments after the hidden results directory appears (the figures take
    # most of the writing time, the swap a few microseconds at its end)
    for k, delay in enumerate([0.0, 0.05, 0.2, 0.5, 1.0]):
        old = _seed_of(outdir)
        new = 100 + k
        with cisim_process("run", str(scenario), "--seed", str(new), *common) as proc:
            deadline = time.time() + 120
            # (hidden entries beside the directory or in it: whatever way a writer works)
            while (time.time() < deadline and proc.poll() is None
                   and not _hidden(tmp_path) + _hidden(outdir)):
                time.sleep(0.005)
            assert proc.poll() is None, f"the run ended before writing: {proc.stderr.read()}"
            time.sleep(delay)
            alive = proc.poll() is None
            _kill(proc)
        killed_while_writing += alive and bool(_hidden(tmp_path) + _hidden(outdir))
        now = _seed_of(outdir)  # complete: every file as the manifest lists it
        assert now in (old, new)
        seen["old" if now == old else "new"] += 1
        manifest = json.loads((outdir / "manifest.json").read_text())
        assert sorted(p.name for p in outdir.iterdir()) == sorted(
            [*manifest["files"], "manifest.json"])
    assert killed_while_writing >= 2, "too few kills landed while the results were written"
    assert seen["old"] >= 1
    # the next run removes what the killed ones left
    assert main(["run", str(scenario), "--seed", "7", "--no-figures", *common]) == 0
    assert _hidden(tmp_path) == []
    assert _seed_of(outdir) == 7
    assert not any(p.name.endswith(".tmp") for p in outdir.rglob("*"))


# ---- cisim analyze: failing, interrupted or killed while it writes -----------------------------


@pytest.fixture
def ishigami_store(tmp_path, ishigami_spec) -> Path:
    """A small sweep store (80 runs of the noisy Ishigami function)."""
    store = tmp_path / "store"
    spec = ishigami_spec(tmp_path / "ish.toml")
    assert main(["sweep", str(spec), "--out", str(store), "-j", "1", "--no-progress"]) == 0
    return store


def _analysis(outdir: Path) -> dict[str, bytes]:
    """Every file of a complete analysis by name (fails on a mix: a file not as listed)."""
    assert check_manifest(outdir, analysis_owned) == []
    listed = json.loads((outdir / "manifest.json").read_text())["files"]
    files = {p.relative_to(outdir).as_posix(): p.read_bytes() for p in outdir.rglob("*")
             if p.is_file()}
    assert sorted(files) == sorted([*listed, "manifest.json"])
    return files


def _resamples_of(outdir: Path) -> int:
    _analysis(outdir)
    return json.loads((outdir / "manifest.json").read_text())["resamples"]


@pytest.mark.parametrize("failure, code", [(OSError(28, "No space left on device"), EXIT_INVALID),
                                           (KeyboardInterrupt(), EXIT_INTERRUPTED)])
def test_analyze_failing_part_way_leaves_the_old_analysis(ishigami_store, monkeypatch, capsys,
                                                          failure, code):
    import cisim.sweep.figures as figures

    outdir = ishigami_store / "analysis"
    argv = ["analyze", str(ishigami_store), "--discover", "y>5", "--probability", "0.5"]
    assert main([*argv, "--resamples", "20"]) == EXIT_OK
    old = _analysis(outdir)
    assert {"indices.csv", "runs.csv", "discovery.txt", "prim_box.csv"} <= set(old)
    assert any(name.startswith("indices_") and name.endswith(".png") for name in old)
    draw = figures.save_analysis_figures

    def fail_after_one_figure(analysis, where):
        drawn = draw(analysis, where)  # the tables and the figures are written by now ...
        (where / drawn[0].name).write_bytes(b"half a figure")
        raise failure  # ... and then the disk fills up or Ctrl-C comes

    monkeypatch.setattr(figures, "save_analysis_figures", fail_after_one_figure)
    capsys.readouterr()
    assert main([*argv, "--resamples", "30"]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (f"cannot write to {outdir}: [Errno 28]" in err if code == EXIT_INVALID
            else "cisim analyze: interrupted" in err)
    assert _analysis(outdir) == old  # the old analysis, whole
    assert _hidden(ishigami_store) == []  # and no temporary beside it
    monkeypatch.setattr(figures, "save_analysis_figures", draw)
    assert main([*argv, "--resamples", "30"]) == EXIT_OK
    new = _analysis(outdir)
    assert new.keys() == old.keys() and new["indices.csv"] != old["indices.csv"]
    assert _resamples_of(outdir) == 30
    assert _hidden(ishigami_store) == []


def test_analyze_replaces_an_earlier_analysis_but_no_other_files(ishigami_store, tmp_path,
                                                                 capsys):
    outdir = tmp_path / "an"
    assert main(["analyze", str(ishigami_store), "--out", str(outdir), "--resamples", "20"]) == 0
    with_figures = _analysis(outdir)
    # a second analysis without figures leaves none of the first one's figures behind
    assert main(["analyze", str(ishigami_store), "--out", str(outdir), "--resamples", "20",
                 "--no-figures"]) == EXIT_OK
    without = _analysis(outdir)
    assert {n for n in with_figures if not n.endswith(".png")} == set(without)
    # an analysis written file by file (no manifest, a temporary left) may be replaced too
    (outdir / "manifest.json").unlink()
    (outdir / ".runs.csv.k3j_h5g6.tmp").write_text("half written")
    assert main(["analyze", str(ishigami_store), "--out", str(outdir), "--resamples", "20",
                 "--no-figures"]) == EXIT_OK
    assert _analysis(outdir) == without
    # a directory with other files is refused before the analysis, and left alone
    (outdir / "notes.txt").write_text("precious")
    capsys.readouterr()
    assert main(["analyze", str(ishigami_store), "--out", str(outdir), "--no-figures"]) == \
        EXIT_USAGE
    err = capsys.readouterr().err
    assert f"--out {outdir}: holds files that are not results of 'cisim analyze'" in err
    assert (outdir / "notes.txt").read_text() == "precious"
    assert {p.name for p in outdir.iterdir()} == set(without) | {"notes.txt"}


@pytest.mark.slow
def test_analyze_killed_while_writing_leaves_old_or_new_analysis(ishigami_store, cisim_process):
    outdir = ishigami_store / "analysis"
    argv = ["analyze", str(ishigami_store), "--discover", "y>5", "--probability", "0.5"]
    assert main([*argv, "--resamples", "20"]) == EXIT_OK
    seen = {"old": 0, "new": 0}
    killed_while_writing = 0
    # kill at several moments after the hidden analysis directory appears (the figures take
    # most of the writing time)
    for k, delay in enumerate([0.0, 0.05, 0.2, 0.5]):
        old = _resamples_of(outdir)
        new = 30 + k
        with cisim_process(*argv, "--resamples", str(new)) as proc:
            deadline = time.time() + 120
            while (time.time() < deadline and proc.poll() is None
                   and not _hidden(ishigami_store)):
                time.sleep(0.005)
            assert proc.poll() is None, f"the analysis ended before writing: {proc.stderr.read()}"
            time.sleep(delay)
            alive = proc.poll() is None
            _kill(proc)
        killed_while_writing += alive and bool(_hidden(ishigami_store))
        now = _resamples_of(outdir)  # complete: every file as the manifest lists it
        assert now in (old, new)
        seen["old" if now == old else "new"] += 1
    assert killed_while_writing >= 2, "too few kills landed while the analysis was written"
    assert seen["old"] >= 1
    # the next analysis removes what the killed ones left
    assert main([*argv, "--resamples", "40", "--no-figures"]) == EXIT_OK
    assert _hidden(ishigami_store) == []
    assert _resamples_of(outdir) == 40


# ---- workers die with the main process -------------------------------------------------------


def _workers_of(proc: subprocess.Popen, at_least: int, within: float) -> list[psutil.Process]:
    """The descendants of ``proc`` once ``at_least`` of them run (fails after ``within`` s)."""
    parent = psutil.Process(proc.pid)
    deadline = time.time() + within
    while time.time() < deadline:
        assert proc.poll() is None, f"ended before its workers started: {proc.stderr.read()}"
        children = parent.children(recursive=True)
        if len(children) >= at_least:
            return children
        time.sleep(0.1)
    pytest.fail(f"fewer than {at_least} worker processes after {within} s")


def _assert_gone_after_kill(proc: subprocess.Popen, workers: list[psutil.Process],
                            within: float = 10.0) -> float:
    """SIGKILL ``proc``; assert every worker exits within ``within`` s; return the seconds."""
    start = time.time()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    try:
        while time.time() - start < within:
            alive = [w for w in workers if pid_alive(w.pid)]
            if not alive:
                return time.time() - start
            time.sleep(0.1)
        pytest.fail(f"workers {[w.pid for w in alive]} still run {within} s after their main "
                    "process was killed")
    finally:
        for w in workers:  # never leave them behind, even when the test fails
            if pid_alive(w.pid):
                w.kill()
    return within


@pytest.mark.slow
def test_run_workers_exit_when_the_run_is_killed(tmp_path, tiny_scenario, cisim_process):
    scenario = tiny_scenario(tmp_path / "big.toml", horizon_years=10, population=20000)
    with cisim_process("run", str(scenario), "-n", "200", "-j", "2",
                       "-o", str(tmp_path / "out")) as proc:
        _workers_of(proc, at_least=2, within=120)
        deadline = time.time() + 120
        busy: list[psutil.Process] = []
        while len(busy) < 2 and time.time() < deadline:  # workers that simulate, not import
            assert proc.poll() is None, proc.stderr.read()
            busy = [w for w in psutil.Process(proc.pid).children(recursive=True)
                    if "loky" in " ".join(w.cmdline()) and w.cpu_times().user > 3]
            time.sleep(0.2)
        assert len(busy) >= 2, "the workers did not start simulating"
        _assert_gone_after_kill(proc, psutil.Process(proc.pid).children(recursive=True))


@pytest.mark.slow
def test_sweep_workers_exit_when_the_sweep_is_killed(tmp_path, ishigami_spec, cisim_process):
    # 128 * 5 points * 4 replications * 20 ms / 2 workers: about 25 s of work
    spec = ishigami_spec(tmp_path / "slow.toml", name="slow", function="slow_ishigami",
                         replications=4, n=128)
    store = tmp_path / "store"
    with cisim_process("sweep", str(spec), "--out", str(store), "--jobs", "2",
                       "--runs-per-task", "5", "--no-progress") as proc:
        workers = _workers_of(proc, at_least=2, within=120)
        # let them compute: the kill lands while they hold tasks
        deadline = time.time() + 60
        while not ResultStore(store).part_files() and time.time() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, "the sweep finished before it could be killed"
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert len(workers) >= 2
        _assert_gone_after_kill(proc, workers)


SLOW_TARGETS = """
[[target]]
id = "ymean"
description = "an observed mean"
role = "calibration"
outcome = "y"
statistic = "mean"
observed = 3.5
scale = 1.0
source = { author = "Tester", title = "A test", year = 2024 }
"""


@pytest.mark.slow
def test_calibrate_workers_exit_when_the_calibration_is_killed(tmp_path, cisim_process):
    (tmp_path / "targets.toml").write_text(SLOW_TARGETS, encoding="utf-8")
    spec = tmp_path / "slow.toml"
    bounds = "bounds = [-3.14159, 3.14159]"
    spec.write_text(f"""
name = "slow"
model = "cisim.sweep.examples:slow_ishigami"
targets = "targets.toml"
population_size = 200
max_generations = 20
replications = 1
seed = 1
backend = "loky"
n_jobs = 2
[[parameters]]
path = "x1"
distribution = "uniform"
{bounds}
[[parameters]]
path = "x2"
distribution = "uniform"
{bounds}
[[parameters]]
path = "x3"
distribution = "uniform"
{bounds}
""", encoding="utf-8")
    with cisim_process("calibrate", str(spec), "--out", str(tmp_path / "out"),
                       "--no-figures") as proc:
        deadline = time.time() + 180
        log = []
        for line in proc.stderr:  # "t: 1," starts generation 1: the workers made generation 0
            log.append(line)
            if line.startswith("ABC INFO: t: 1,") or time.time() > deadline:
                break
        assert proc.poll() is None, f"the calibration ended early: {''.join(log)}"
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert len(workers) >= 2, workers
        _assert_gone_after_kill(proc, workers)


# ---- the store lock of a killed sweep --------------------------------------------------------

HOLDER = r"""
import os, sys, time
from cisim.sweep import ResultStore
from cisim.sweep.store import StoreError

store = sys.argv[1]
for _ in range(int(sys.argv[2])):
    pid = os.fork()
    if pid == 0:
        for _ in range(5000):  # the test may still hold it for a moment after taking it over
            try:
                ResultStore(store).lock()
                break
            except StoreError:
                time.sleep(0.001)
        else:
            os._exit(1)
        print(os.getpid(), flush=True)
        time.sleep(600)
        os._exit(0)
    os.waitpid(pid, 0) if sys.argv[3] == "reap" else time.sleep(3)
"""


@pytest.mark.parametrize("reap", ["reap", "zombie"])
def test_a_killed_lock_holder_is_taken_over_at_once(tmp_path, reap):
    """Three times: a process takes the store's lock and is killed; the lock is free at once.

    With ``zombie`` its parent does not reap it at once (as a shell or a job runner may not),
    so its pid still exists while the lock is taken over.
    """
    store = tmp_path / "store"
    rounds = 3
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(store), str(rounds), reap],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        for _ in range(rounds):
            line = holder.stdout.readline()
            assert line, holder.stderr.read()
            pid = int(line)
            with pytest.raises(StoreError, match=f"being written by process {pid}"):
                ResultStore(store).lock()
            os.kill(pid, signal.SIGKILL)
            start, taken, mine = time.time(), None, ResultStore(store)
            while taken is None and time.time() - start < 1.0:
                try:
                    mine.lock()
                    taken = time.time() - start
                except StoreError:
                    time.sleep(0.001)  # the kernel is still tearing the killed process down
            assert taken is not None, "the killed holder's lock was not taken over within 1 s"
            mine.unlock()
    finally:
        holder.kill()
        holder.wait()
