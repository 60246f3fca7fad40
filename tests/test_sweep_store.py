"""Sweep execution and storage: same store whatever the workers, backend or interruptions."""

from __future__ import annotations

import math
import signal
import time

import pandas as pd
import pytest

from cisim.sweep import ResultStore, StoreError, run_sweep, sweep_function
from cisim.sweep.examples import noisy_ishigami
from cisim.sweep.samplers import run_seed

PI = math.pi
SPACE = {"x1": [-PI, PI], "x2": [-PI, PI], "x3": [-PI, PI]}


def sweep(path, **kw):
    args = {"sampler": "latin", "n": 40, "replications": 3, "seed": 7, "runs_per_task": 9}
    args.update(kw)
    return sweep_function(noisy_ishigami, SPACE, path, **args)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return sweep(tmp_path_factory.mktemp("ref") / "store").read()


def test_store_rows_and_seeds(reference, tmp_path):
    assert len(reference) == 120
    assert list(reference[["point", "replication"]].itertuples(index=False)) == [
        (p, r) for p in range(40) for r in range(3)]
    assert reference["seed"].tolist() == [run_seed(7, p, r) for p in range(40) for r in range(3)]
    assert reference["seed"].nunique() == 120
    # the seed really drives the run: recompute one row by hand
    store = ResultStore(tmp_path / "again")
    sweep(store.path)
    row = store.points().iloc[5]
    params = {k: row[k] for k in SPACE}
    expect = noisy_ishigami(params, run_seed(7, 5, 2))["y"]
    got = reference.query("point == 5 and replication == 2")["y"].item()
    assert got == expect
    # trajectories are stored as name@t columns
    assert [c for c in reference.columns if c.startswith("traj@")] == [f"traj@{t}" for t in
                                                                      range(4)]


@pytest.mark.slow  # loky workers import cisim (numba cache): ~10-25 s on a busy 2-core machine
def test_same_store_with_two_loky_workers_and_other_task_size(reference, tmp_path):
    other = sweep(tmp_path / "two", jobs=2, runs_per_task=4).read()
    pd.testing.assert_frame_equal(reference, other)


def test_same_store_with_two_dask_workers(reference, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        other = sweep(tmp_path / "dask", backend="dask", client=client, runs_per_task=5).read()
    pd.testing.assert_frame_equal(reference, other)


def test_existing_store_needs_resume_and_same_spec(tmp_path):
    path = tmp_path / "s"
    sweep(path)
    with pytest.raises(StoreError, match="already holds a sweep"):
        sweep(path)
    with pytest.raises(StoreError, match=r"different spec .*seed"):
        sweep(path, resume=True, seed=8)
    # resuming a complete store runs nothing and changes nothing
    before = sorted(p.name for p in ResultStore(path).part_files())
    sweep(path, resume=True)
    assert sorted(p.name for p in ResultStore(path).part_files()) == before


def test_killed_sweep_resumes_to_the_same_store(tmp_path, ishigami_spec, cisim_process):
    spec = ishigami_spec(tmp_path / "spec.toml", name="killme", function="slow_ishigami",
                         n=16)
    killed = tmp_path / "killed"
    with cisim_process("sweep", str(spec), "--out", str(killed), "--jobs", "1",
                       "--runs-per-task", "6", "--no-progress") as proc:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if len(ResultStore(killed).part_files()) >= 4:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    store = ResultStore(killed)
    n_parts = len(store.part_files())
    assert 4 <= n_parts < 160 / 6
    assert 0 < len(store.done()) < 160
    # resumed (with another task size) in this process ...
    run_sweep(spec, killed, resume=True, runs_per_task=11)
    # ... reads the same as a sweep left alone
    alone = run_sweep(spec, tmp_path / "alone", runs_per_task=6)
    resumed = store.read()
    assert len(resumed) == 160
    pd.testing.assert_frame_equal(resumed, alone.read())
