"""The sweep result store: a directory of Parquet files written as tasks finish.

Layout (everything written atomically through :func:`cisim.io.write_atomic`)::

    STORE/
      spec.toml            the sweep spec as run (base path made absolute)
      base_scenario.toml   the base scenario with the fixed overrides (cisim sweeps)
      sample.parquet       one row per run: point, replication, seed, parameter values, u:<name>
      parts/part-<point>-<replication>.parquet
                           one file per finished task, named by its first run
      sweep.lock           host and pid of the process writing the store, held with
                           ``fcntl.flock`` (the OS releases it when that process dies)

A run is done exactly when a part file holding it exists: a part is renamed into place whole or
not at all, so a sweep killed at any point loses at most the tasks in flight, and ``--resume``
runs exactly the rest. A resumed sweep removes the temporaries a killed one left behind and moves
aside (``*.corrupt``) any part that cannot be read, so its runs are run again.
:meth:`ResultStore.read` consolidates the parts into one frame sorted by
point and replication, with the outcome columns in a canonical order, so an interrupted and
resumed sweep reads the same as one left alone. Apache Parquet via pyarrow.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cisim.io import pid_alive, remove_stale_temporaries, write_atomic, write_text_atomic
from cisim.schema import loads_toml
from cisim.sweep.spec import SweepSpec, SweepSpecError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the pid check alone
    fcntl = None  # type: ignore[assignment]

__all__ = ["RUN_COLUMNS", "ResultStore", "StoreError"]

#: Columns every result row starts with.
RUN_COLUMNS = ["point", "replication", "seed", "error"]


class StoreError(Exception):
    """A result store that cannot be used as asked (exists, busy, or from another spec)."""


#: What reading a damaged Parquet file raises (pyarrow, or the OS).
_READ_ERRORS = (pa.ArrowException, OSError, ValueError)


class ResultStore:
    """A sweep's result directory.

    Args:
        path: The store directory.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock_fd: int | None = None
        #: Damaged parts that the last resume moved aside (their runs were run again).
        self.set_aside: list[Path] = []

    # ---- files ----------------------------------------------------------------------------

    @property
    def parts_dir(self) -> Path:
        """Directory of the part files."""
        return self.path / "parts"

    @property
    def spec_path(self) -> Path:
        """The stored spec."""
        return self.path / "spec.toml"

    @property
    def sample_path(self) -> Path:
        """The stored sample."""
        return self.path / "sample.parquet"

    def exists(self) -> bool:
        """Whether the store has been created (its spec and sample are written)."""
        return self.spec_path.is_file() and self.sample_path.is_file()

    def part_files(self) -> list[Path]:
        """Finished part files, sorted by name."""
        if not self.parts_dir.is_dir():
            return []
        return sorted(p for p in self.parts_dir.glob("part-*.parquet") if p.is_file())

    # ---- creation -------------------------------------------------------------------------

    def create(self, spec: SweepSpec, sample: pd.DataFrame, base_toml: str | None) -> None:
        """Write the spec, the base scenario and the sample of a new sweep."""
        _mkdir(self.parts_dir)
        if base_toml is not None:
            write_text_atomic(self.path / "base_scenario.toml", base_toml)
        write_atomic(self.sample_path, lambda p: sample.to_parquet(p, index=False))
        # the spec last: a store is complete only when its spec is there
        write_text_atomic(self.spec_path, spec.to_toml())

    def spec(self) -> SweepSpec:
        """The stored spec."""
        try:
            data = loads_toml(self.spec_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"{self.path}: not a sweep store (no spec.toml)") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise StoreError(f"{self.spec_path}: cannot be read: {err}") from None
        try:
            return SweepSpec.from_dict(data, source=str(self.spec_path))
        except SweepSpecError as err:
            raise StoreError(str(err)) from None

    def base_toml(self) -> str | None:
        """The stored base scenario as TOML (None for a function sweep)."""
        p = self.path / "base_scenario.toml"
        return p.read_text(encoding="utf-8") if p.is_file() else None

    def sample(self) -> pd.DataFrame:
        """The stored sample: one row per run."""
        if not self.sample_path.is_file():
            raise StoreError(f"{self.path}: not a sweep store (no sample.parquet)")
        try:
            return pd.read_parquet(self.sample_path)
        except _READ_ERRORS as err:
            raise StoreError(f"{self.sample_path}: cannot be read ({err}); the store is damaged: "
                             "run the sweep again into a new --out") from None

    def points(self) -> pd.DataFrame:
        """One row per design point: ``point``, parameter values and unit values."""
        s = self.sample()
        return (s.drop(columns=["replication", "seed"]).drop_duplicates("point")
                .sort_values("point").reset_index(drop=True))

    # ---- parts ----------------------------------------------------------------------------

    def done(self) -> set[tuple[int, int]]:
        """The (point, replication) pairs already stored.

        Raises:
            StoreError: A part file cannot be read.
        """
        pairs: set[tuple[int, int]] = set()
        for f in self.part_files():
            t = _read_part(f, lambda f: pq.read_table(f, columns=["point", "replication"]))
            _check_part(f, t.schema)
            pairs.update(zip(t.column("point").to_pylist(), t.column("replication").to_pylist(),
                             strict=True))
        return pairs

    def write_part(self, frame: pd.DataFrame) -> Path:
        """Write one finished task's rows atomically; return the part's path."""
        first = frame.iloc[0]
        name = f"part-{int(first['point']):09d}-{int(first['replication']):06d}.parquet"
        path = self.parts_dir / name
        if path.exists():
            raise StoreError(f"{path} exists: run ({int(first['point'])}, "
                             f"{int(first['replication'])}) was already stored")
        write_atomic(path, lambda p: frame.to_parquet(p, index=False))
        return path

    def read(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """All stored runs, one row each, sorted by point and replication.

        Args:
            columns: Outcome columns to read (the run columns always come first); all if None.

        Raises:
            StoreError: A run stored twice (two sweeps wrote the same store).
        """
        frames = []
        for f in self.part_files():
            schema = _read_part(f, pq.read_schema)
            _check_part(f, schema)
            schema_names = schema.names
            cols = None if columns is None else [
                c for c in [*RUN_COLUMNS, *columns] if c in schema_names]
            frames.append(_read_part(f, lambda f, cols=cols: pd.read_parquet(f, columns=cols)))
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype="int64") for c in RUN_COLUMNS[:3]}
                                | {"error": pd.Series(dtype="object")})
        frame = pd.concat(frames, ignore_index=True, sort=False)
        if frame.duplicated(["point", "replication"]).any():
            dup = frame.loc[frame.duplicated(["point", "replication"]),
                            ["point", "replication"]].iloc[0]
            raise StoreError(f"{self.path}: run (point {dup['point']}, replication "
                             f"{dup['replication']}) is stored twice")
        outcome_cols = sorted((c for c in frame.columns if c not in RUN_COLUMNS), key=column_key)
        frame = frame[[*RUN_COLUMNS, *outcome_cols]]
        for c in outcome_cols:
            frame[c] = frame[c].astype("float64")
        frame["error"] = frame["error"].fillna("").astype(str)
        return frame.sort_values(["point", "replication"], kind="stable").reset_index(drop=True)

    def outcome_columns(self) -> list[str]:
        """Outcome columns present in any part, in canonical order."""
        names: set[str] = set()
        for f in self.part_files():
            names.update(n for n in _read_part(f, lambda f: pq.read_schema(f).names)
                         if n not in RUN_COLUMNS)
        return sorted(names, key=column_key)

    # ---- repair ---------------------------------------------------------------------------

    def repair(self) -> list[Path]:
        """Make a store left by a killed sweep ready to resume (call while holding the lock).

        Removes the temporaries of writes that never finished and moves every part file that
        cannot be read (or is not a sweep's part) aside as ``<name>.corrupt``, so that its runs
        count as not done.

        Returns:
            The parts moved aside.
        """
        remove_stale_temporaries(self.path)
        remove_stale_temporaries(self.parts_dir)
        moved = []
        for f in self.part_files():
            try:
                _check_part(f, pq.read_table(f, columns=["point", "replication"]).schema)
            except (*_READ_ERRORS, StoreError):
                target = f.with_name(f.name + ".corrupt")
                os.replace(f, target)
                moved.append(target)
        return moved

    # ---- lock -----------------------------------------------------------------------------

    def lock(self) -> None:
        """Take the store for this process (creating its directory).

        The lock is an ``fcntl.flock`` on ``sweep.lock``, which the OS releases when the holder
        dies however it dies, so a killed sweep never blocks its own resume. Where ``flock`` is
        not available the file's host and pid are checked instead (a dead or zombie pid is
        stale and taken over).

        Raises:
            StoreError: Another live process holds the store, or the directory cannot be made.
        """
        if self._lock_fd is not None:
            return
        _mkdir(self.path)
        path = self.path / "sweep.lock"
        host = socket.gethostname()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise StoreError(f"{path}: cannot be created: {err.strerror}") from None
        try:
            if fcntl is not None and _flock(fd, self.path):
                pass
            else:
                other_host, pid = _owner(path)
                if other_host == host and pid != os.getpid() and pid_alive(pid):
                    raise StoreError(f"{self.path} is being written by process {pid}; wait for "
                                     "it or stop it before resuming")
            os.ftruncate(fd, 0)
            os.write(fd, f"{host} {os.getpid()}\n".encode())
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release the store (the lock file stays: removing it could let two writers in)."""
        if self._lock_fd is None:
            return
        fd, self._lock_fd = self._lock_fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # releases the flock


def _flock(fd: int, where: Path) -> bool:
    """Take an exclusive flock on fd: True if taken, False if flock is not supported here.

    Raises:
        StoreError: Another process holds it.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            text = os.pread(fd, 200, 0).decode(errors="replace").strip()
        except OSError:
            text = ""
        who = f"process {text.split()[-1]} on {text.split()[0]}" if len(text.split()) == 2 \
            else "another process"
        raise StoreError(f"{where} is being written by {who}; wait for it or stop it "
                         "before resuming") from None
    except OSError:  # e.g. a network file system without flock
        return False
    return True


def _owner(path: Path) -> tuple[str, int]:
    try:
        other_host, pid_text = path.read_text(encoding="utf-8").split()
        return other_host, int(pid_text)
    except (ValueError, OSError):
        return "", -1


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StoreError(f"{path} exists and is not a directory; choose another --out") from None
    except OSError as err:
        raise StoreError(f"cannot create the store directory {path}: {err.strerror}") from None


def _check_part(file: Path, schema: pa.Schema) -> None:
    """Refuse a part whose run columns are missing or not whole numbers (not a sweep's part)."""
    for name in ("point", "replication"):
        kind = schema.field(name).type if name in schema.names else None
        if kind is None or not pa.types.is_integer(kind):
            what = "has no column" if kind is None else f"has {kind} values in column"
            raise StoreError(f"{file}: {what} {name!r}, not a part a sweep wrote; resume the "
                             "sweep with --resume to set it aside and run its runs again")


def _read_part(file: Path, read: Any) -> Any:
    try:
        return read(file)
    except _READ_ERRORS as err:
        raise StoreError(f"{file}: cannot be read ({err}); resume the sweep with --resume to "
                         "set the damaged part aside and run its runs again") from None


_AT = re.compile(r"^(.*)@(-?\d+(?:\.\d+)?)$")


def column_key(name: str) -> tuple[str, float]:
    """Sort key of outcome columns: by name, then trajectory element ``@t`` numerically."""
    m = _AT.match(name)
    if m:
        return (m.group(1), float(m.group(2)))
    return (name, -1.0)


def trajectory_groups(columns: Iterable[str]) -> dict[str, list[tuple[float, str]]]:
    """Group ``name@t`` columns by name: ``{name: [(t, column), ...]}`` sorted by t."""
    groups: dict[str, list[tuple[float, str]]] = {}
    for c in columns:
        m = _AT.match(c)
        if m:
            groups.setdefault(m.group(1), []).append((float(m.group(2)), c))
    return {k: sorted(v) for k, v in groups.items()}


def describe(store: ResultStore) -> dict[str, Any]:
    """Counts of a store: points, runs expected, runs done."""
    sample = store.sample()
    return {
        "points": int(sample["point"].nunique()),
        "runs": len(sample),
        "done": len(store.done()),
    }
