"""Interrupted commands: processes killed outright (SIGKILL) leave nothing half done behind.

- ``cisim run`` killed while it writes its results leaves the old complete results directory or
  the new complete one, never a mix, and the next run leaves no hidden temporary.
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

from cisim.cli import main
from cisim.cli.run import run_owned
from cisim.io import check_manifest, pid_alive
from cisim.sweep import ResultStore, StoreError

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
