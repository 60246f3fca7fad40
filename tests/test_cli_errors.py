"""Bad command lines: a message naming the option, file or field, the documented exit code, and
never a traceback.

Each case runs in this process through :func:`cisim.cli.main` (fast: every one fails before
any simulation). The exit codes are those documented in :mod:`cisim.cli._common`:
``EXIT_USAGE`` (2) for bad input, ``EXIT_INVALID`` (1) for a scenario ``validate`` finds
invalid. At the end, the one mapping of exceptions to exit codes
(:func:`cisim.cli._common.run_command`) and the messages of run, sweep and calibrate that say
what went wrong and how to continue.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cisim.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE, UsageError, main
from cisim.cli._common import DEBUG_ENV, EXIT_ERROR, EXIT_INTERRUPTED, ResultsError, run_command
from cisim.scenario import ScenarioError

#: A TOML file nested 5,000 levels deep (Python's TOML reader recurses once a level).
DEEP = "a = " + "[" * 5000 + "]" * 5000 + "\n"


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def files(tmp_path: Path, tiny_scenario, ishigami_spec) -> dict[str, str]:
    """Input files, by placeholder name."""
    tiny_scenario(tmp_path / "tiny.toml")
    ishigami_spec(tmp_path / "ish.toml")
    (tmp_path / "deep.toml").write_text(DEEP, encoding="utf-8")
    (tmp_path / "badutf.toml").write_bytes(b'name = "caf\xff"\n')
    (tmp_path / "afile").write_text("just a file\n", encoding="utf-8")
    (tmp_path / "garbage.csv").write_bytes(b"\x00\x01\x02 not,a\nsample\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "nested").mkdir()
    tiny_scenario(tmp_path / "nested" / "x.toml")
    return {name: str(tmp_path / name) for name in
            ("tiny.toml", "ish.toml", "deep.toml", "badutf.toml", "afile", "garbage.csv",
             "adir", "missing.toml", "missing.csv")} | {"port": str(_closed_port()),
                                                       "tmp": str(tmp_path)}


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run ``cisim ARGV`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def check(argv: list[str], code: int, *named: str, where: str = "err") -> str:
    """Run ``argv``; assert the exit code, no traceback, and every ``named`` text in the message.

    Returns:
        The message (stderr, or stdout for ``validate``'s report).
    """
    got, out, err = run_cli(argv)
    assert "Traceback" not in err and "Traceback" not in out, err
    assert "unexpected error" not in err, err  # the last guard is for bugs, not for bad input
    message = err if where == "err" else out
    assert got == code, f"exit {got}, expected {code}: {err or out}"
    for text in named:
        assert text in message, f"{text!r} not in: {message}"
    return message


# (argv with {placeholders}, exit code, texts the message must name)
CASES = {
    # negative seeds, zero and bad counts: refused by the option's type, naming it
    "run --seed -1": (["run", "{tiny.toml}", "--seed", "-1"], EXIT_USAGE, ["--seed", "-1"]),
    "compare --seed -1": (["compare", "{tiny.toml}", "{tiny.toml}", "--seed", "-1"],
                          EXIT_USAGE, ["--seed"]),
    "report --seed -1": (["report", "{tiny.toml}", "--seed", "-1"], EXIT_USAGE, ["--seed"]),
    "run -j 0": (["run", "{tiny.toml}", "-j", "0"], EXIT_USAGE, ["-j/--jobs", "0"]),
    "report -j 0": (["report", "{tiny.toml}", "-j", "0"], EXIT_USAGE, ["-j/--jobs"]),
    "run -j -2": (["run", "{tiny.toml}", "-j", "-2"], EXIT_USAGE, ["-j/--jobs", "-2"]),
    "run -n abc": (["run", "{tiny.toml}", "-n", "abc"], EXIT_USAGE,
                   ["--replications", "'abc'"]),
    "compare -n 0": (["compare", "{tiny.toml}", "-n", "0"], EXIT_USAGE, ["--replications"]),
    "sweep -j 0": (["sweep", "{ish.toml}", "-j", "0"], EXIT_USAGE, ["--jobs"]),
    "sweep --runs-per-task 0": (["sweep", "{ish.toml}", "--runs-per-task", "0"], EXIT_USAGE,
                                ["--runs-per-task"]),
    "analyze --probability 1.5": (["analyze", "{adir}", "--probability", "1.5"], EXIT_USAGE,
                                  ["--probability", "1.5"]),
    "analyze --resamples 0": (["analyze", "{adir}", "--resamples", "0"], EXIT_USAGE,
                              ["--resamples"]),
    "app --port 70000": (["app", "--port", "70000"], EXIT_USAGE, ["--port", "70000"]),
    "app --port abc": (["app", "--port", "abc"], EXIT_USAGE, ["--port", "'abc'"]),
    "compile extra": (["compile", "extra"], EXIT_USAGE, ["extra"]),
    # --set: strict typing, paths checked against the scenario schema
    "--set through a value": (["run", "{tiny.toml}", "--set", "horizon_years.x=1"], EXIT_USAGE,
                              ["--set", "horizon_years.x", "is a value, not a section"]),
    "--set bool for a number": (["run", "{tiny.toml}", "--set", "horizon_years=true"],
                                EXIT_USAGE, ["--set", "horizon_years", "valid number"]),
    "--set 1.5 for an int": (["run", "{tiny.toml}", "--set", "population.size=1.5"],
                             EXIT_USAGE, ["--set", "population.size", "valid integer"]),
    "--set unknown path": (["run", "{tiny.toml}", "--set", "nosuch.path=1"], EXIT_USAGE,
                           ["--set", "nosuch.path", "unknown field 'nosuch'"]),
    "--set number for a table": (["run", "{tiny.toml}", "--set", "partner_generation.counts=5"],
                                 EXIT_USAGE, ["--set", "partner_generation.counts"]),
    "--set no equals": (["run", "{tiny.toml}", "--set", "horizon_years"], EXIT_USAGE,
                        ["--set", "PATH=VALUE"]),
    "compare --set bool": (["compare", "{tiny.toml}", "--set", "population.size=true"],
                           EXIT_USAGE, ["--set", "population.size"]),
    "report --set on results dir": (["report", "{adir}", "--set", "horizon_years=3"],
                                    EXIT_USAGE, ["--set", "applies to a scenario file"]),
    "compare --what-if malformed": (["compare", "{tiny.toml}", "--what-if", "noequals"],
                                    EXIT_USAGE, ["'noequals'", "PATH=VALUE"]),
    # files: missing, a directory, too deeply nested, not UTF-8
    "run missing file": (["run", "{missing.toml}"], EXIT_USAGE,
                         ["missing.toml", "no such file"]),
    "run a directory": (["run", "{adir}"], EXIT_USAGE, ["adir", "cannot be read"]),
    "run deep TOML": (["run", "{deep.toml}"], EXIT_USAGE, ["deep.toml", "nested too deeply"]),
    "run not UTF-8": (["run", "{badutf.toml}"], EXIT_USAGE, ["badutf.toml", "cannot be read"]),
    "report missing file": (["report", "{missing.toml}"], EXIT_USAGE, ["missing.toml"]),
    "report deep TOML": (["report", "{deep.toml}"], EXIT_USAGE, ["deep.toml"]),
    "report not a results dir": (["report", "{adir}"], EXIT_USAGE,
                                 ["trajectories.parquet", "no such file"]),
    "compare one missing": (["compare", "{tiny.toml}", "{missing.toml}"], EXIT_USAGE,
                            ["missing.toml", "no such file"]),
    "compare deep TOML": (["compare", "{tiny.toml}", "{deep.toml}"], EXIT_USAGE, ["deep.toml"]),
    "sweep missing spec": (["sweep", "{missing.toml}"], EXIT_USAGE, ["missing.toml"]),
    "sweep deep spec": (["sweep", "{deep.toml}"], EXIT_USAGE, ["deep.toml", "nested too"]),
    "sweep a scenario as spec": (["sweep", "{tiny.toml}"], EXIT_USAGE,
                                 ["tiny.toml", "parameters", "sampler"]),
    "sweep a directory as spec": (["sweep", "{adir}"], EXIT_USAGE, ["adir"]),
    "calibrate missing spec": (["calibrate", "{missing.toml}"], EXIT_USAGE, ["missing.toml"]),
    "calibrate deep spec": (["calibrate", "{deep.toml}"], EXIT_USAGE, ["deep.toml"]),
    "calibrate a scenario as spec": (["calibrate", "{tiny.toml}"], EXIT_USAGE,
                                     ["tiny.toml", "targets"]),
    "calibrate a directory as spec": (["calibrate", "{adir}"], EXIT_USAGE, ["adir"]),
    # output places and extra input files
    "run -o a file": (["run", "{tiny.toml}", "-o", "{afile}"], EXIT_USAGE,
                      ["-o/--out", "afile", "not a directory"]),
    "run --parameters missing": (["run", "{tiny.toml}", "--parameters", "{missing.csv}"],
                                 EXIT_USAGE, ["--parameters", "missing.csv"]),
    "run --parameters garbage": (["run", "{tiny.toml}", "--parameters", "{garbage.csv}"],
                                 EXIT_USAGE, ["garbage.csv"]),
    "sweep --out a file": (["sweep", "{ish.toml}", "--out", "{afile}", "-j", "1",
                            "--no-progress"], EXIT_USAGE, ["afile", "not a directory"]),
    "sweep --scheduler without dask": (["sweep", "{ish.toml}", "--scheduler", "tcp://h:1"],
                                       EXIT_USAGE, ["--scheduler", "--backend dask"]),
    "sweep malformed scheduler": (["sweep", "{ish.toml}", "--out", "{tmp}/s", "--backend",
                                   "dask", "--scheduler", "nonsense::"], EXIT_USAGE,
                                  ["--scheduler nonsense::", "tcp://HOST:PORT"]),
    "analyze not a store": (["analyze", "{adir}"], EXIT_USAGE, ["adir", "not a sweep store"]),
    "analyze missing store": (["analyze", "{tmp}/nostore"], EXIT_USAGE, ["nostore"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_command_line(case, files):
    argv, code, named = CASES[case]
    check([_fill(a, files) for a in argv], code, *named)


def _fill(arg: str, files: dict[str, str]) -> str:
    for key, value in files.items():
        arg = arg.replace("{" + key + "}", value)
    return arg


@pytest.mark.parametrize("name, named", [
    ("deep.toml", ["deep.toml", "nested too deeply"]),
    ("adir", ["adir", "cannot be read"]),
    ("missing.toml", ["missing.toml", "no such file"]),
    ("badutf.toml", ["badutf.toml"]),
])
def test_validate_reports_a_bad_file_and_exits_1(name, named, files):
    check(["validate", files[name]], EXIT_INVALID, *named, where="out")


def test_unreachable_dask_scheduler_fails_fast(files, tmp_path):
    address = f"tcp://127.0.0.1:{files['port']}"
    store = tmp_path / "store"
    start = time.perf_counter()
    check(["sweep", files["ish.toml"], "--out", str(store), "--backend", "dask",
           "--scheduler", address, "--no-progress"], EXIT_USAGE, f"--scheduler {address}",
          "cannot connect")
    assert time.perf_counter() - start < 5
    assert not store.exists()  # reported before the store is made


# ---- a sweep store damaged on disk -----------------------------------------------------------


@pytest.fixture
def store(files, tmp_path) -> Path:
    path = tmp_path / "store"
    code, _, err = run_cli(["sweep", files["ish.toml"], "--out", str(path), "-j", "1",
                            "--runs-per-task", "8", "--no-progress"])
    assert code == EXIT_OK, err
    return path


def test_resume_sets_aside_a_corrupt_part_and_reruns_its_runs(files, store):
    parts = sorted((store / "parts").glob("*.parquet"))
    assert len(parts) == 10  # 8 points x 5 (Sobol) x 2 replications / 8 runs a task
    victim = parts[3]
    victim.write_bytes(b"garbage, not Parquet" * 10)
    code, out, err = run_cli(["sweep", files["ish.toml"], "--out", str(store), "--resume",
                              "-j", "1", "--no-progress"])
    assert code == EXIT_OK, err
    assert "Traceback" not in err
    assert f"{victim} could not be read; moved aside to {victim.name}.corrupt" in err
    assert "80 runs" in out
    assert victim.with_name(victim.name + ".corrupt").exists()


def test_analyze_names_a_corrupt_part(store):
    victim = sorted((store / "parts").glob("*.parquet"))[0]
    victim.write_bytes(b"PAR1 then garbage")
    message = check(["analyze", str(store), "--no-figures"], EXIT_USAGE, victim.name)
    assert "--resume" in message


def test_resume_with_a_corrupt_sample_is_refused(files, store):
    (store / "sample.parquet").write_bytes(b"not parquet")
    check(["sweep", files["ish.toml"], "--out", str(store), "--resume", "-j", "1",
           "--no-progress"], EXIT_USAGE, "sample.parquet")


def test_analyze_a_part_with_a_wrong_column_type(store):
    victim = sorted((store / "parts").glob("*.parquet"))[0]
    pq.write_table(pa.table({"point": ["a"], "replication": ["b"]}), victim)
    check(["analyze", str(store), "--no-figures"], EXIT_USAGE, victim.name)


@pytest.mark.parametrize("rule, named", [
    ("y>abc", ["--discover", "'abc' is not a number"]),
    ("nothing", ["--discover", "OUTCOME>VALUE"]),
    (">1", ["--discover", "no outcome"]),
    ("nosuch>1", ["nosuch"]),
])
def test_analyze_bad_discovery_rule(store, rule, named):
    check(["analyze", str(store), "--discover", rule, "--no-figures"], EXIT_USAGE, *named)


def test_sweep_existing_store_without_resume(files, store):
    check(["sweep", files["ish.toml"], "--out", str(store), "-j", "1", "--no-progress"],
          EXIT_USAGE, str(store), "--resume")


def test_resume_sets_aside_a_part_with_a_wrong_column_type(files, store):
    victim = sorted((store / "parts").glob("*.parquet"))[0]
    pq.write_table(pa.table({"point": ["a"], "replication": ["b"]}), victim)
    code, out, err = run_cli(["sweep", files["ish.toml"], "--out", str(store), "--resume",
                              "-j", "1", "--no-progress"])
    assert code == EXIT_OK, err
    assert f"{victim} could not be read; moved aside" in err
    assert "80 runs" in out


# ---- one mapping of exceptions to exit codes --------------------------------------------------


class _OwnError(Exception):
    """A command's own bad-input error."""


@pytest.mark.parametrize("raised, code, message", [
    (ScenarioError("spec.toml", [("sampler.n", "must be a power of two")]), EXIT_USAGE,
     "spec.toml: 1 problem(s)\n  spec.toml: sampler.n: must be a power of two\n"),
    (UsageError("--out x: exists"), EXIT_USAGE, "cisim thing: --out x: exists\n"),
    (_OwnError("store.toml: seed differs"), EXIT_USAGE, "cisim thing: store.toml: seed differs\n"),
    (ResultsError("cannot write to out: disk full"), EXIT_INVALID,
     "cisim thing: cannot write to out: disk full\n"),
    (KeyboardInterrupt(), EXIT_INTERRUPTED, "cisim thing: interrupted; continue with: again\n"),
])
def test_run_command_maps_each_exception_to_its_exit_code(raised, code, message, capsys):
    def body() -> int:
        raise raised

    args = argparse.Namespace(command="thing", debug=False)
    assert run_command(args, body, prefix="cisim thing", bad_input=(_OwnError,),
                       interrupted=lambda: "continue with: again") == code
    assert capsys.readouterr().err == message


def test_run_command_returns_the_body_s_code_and_leaves_other_errors_to_the_last_guard(
        capsys, monkeypatch):
    args = argparse.Namespace(command="thing", debug=False)
    assert run_command(args, lambda: EXIT_INVALID) == EXIT_INVALID
    assert capsys.readouterr().err == ""

    def bug() -> int:
        raise _OwnError("a bug")  # not declared bad input here

    monkeypatch.delenv(DEBUG_ENV, raising=False)
    assert run_command(args, bug) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("cisim thing: unexpected error: _OwnError: a bug\n")
    assert "Traceback" not in err
    assert run_command(argparse.Namespace(command="thing", debug=True), bug) == EXIT_ERROR
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv(DEBUG_ENV, "1")
    assert run_command(args, bug) == EXIT_ERROR
    assert "Traceback" in capsys.readouterr().err


def test_an_unexpected_error_in_a_command_exits_3(files, monkeypatch):
    def boom(*_args, **_kw):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("cisim.cli.run.load_scenario", boom)
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    code, _, err = run_cli(["run", files["tiny.toml"]])
    assert code == EXIT_ERROR
    assert "cisim run: unexpected error: RuntimeError: boom\n" in err
    assert "second line" not in err and "Traceback" not in err
    code, _, err = run_cli(["--debug", "run", files["tiny.toml"]])
    assert code == EXIT_ERROR and "Traceback" in err


def test_sweep_interrupted_or_unwritable_says_how_to_resume(files, monkeypatch):
    store = f"{files['tmp']}/s"
    argv = ["sweep", files["ish.toml"], "--out", store, "-j", "1", "--no-progress"]
    resume = f"cisim sweep {files['ish.toml']} --resume --out {store}"

    def interrupt(*_args, **_kw):
        raise KeyboardInterrupt

    monkeypatch.setattr("cisim.sweep.execute.run_sweep", interrupt)
    code, _, err = run_cli(argv)
    assert code == EXIT_INTERRUPTED
    assert err == f"cisim sweep: interrupted; continue with: {resume}\n"

    def disk_full(*_args, **_kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cisim.sweep.execute.run_sweep", disk_full)
    code, _, err = run_cli(argv)
    assert code == EXIT_INVALID
    assert err == (f"cisim sweep: cannot write the store {store}: [Errno 28] No space left on "
                   f"device; continue later with: {resume}\n")


def test_calibrate_interrupted_says_how_to_resume(files, monkeypatch):
    spec = files["tiny.toml"]
    out = f"{files['tmp']}/cal"

    def interrupt(*_args, **_kw):
        raise KeyboardInterrupt

    monkeypatch.setattr("cisim.calibrate.spec.load_calibration",
                        lambda _spec, output=None: SimpleNamespace(
                            output=Path(output or "d"), spec=SimpleNamespace(epsilons=[1.0])))
    monkeypatch.setattr("cisim.calibrate.run.calibrate", interrupt)
    hint = ("cisim calibrate: interrupted; finished generations (rejection ABC: batches) are "
            f"kept. Continue with: cisim calibrate {spec} --resume")
    code, _, err = run_cli(["calibrate", spec, "--out", out, "--quiet"])
    assert code == EXIT_INTERRUPTED
    assert err == f"{hint} --out {out}\n"
    code, _, err = run_cli(["calibrate", spec, "--quiet"])
    assert code == EXIT_INTERRUPTED
    assert err == f"{hint}\n"


def test_run_with_unwritable_results_exits_1(files, monkeypatch):
    out = f"{files['tmp']}/out"

    def disk_full(*_args, **_kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cisim.io.write_directory", disk_full)
    code, stdout, err = run_cli(["run", files["tiny.toml"], "-n", "1", "-j", "1",
                                 "--no-figures", "-o", out])
    assert code == EXIT_INVALID
    assert err.endswith(f"cisim: cannot write results to {out}: [Errno 28] No space left on "
                        "device\n")
    assert stdout == ""
