"""Atomic writing: an interrupted run never leaves a half-written file or a mixed directory.

A file is written to a hidden temporary sibling and renamed into place (POSIX ``rename`` is
atomic). A results directory is written whole the same way: into a fresh hidden sibling
directory, which is then exchanged with the old directory in one step (Linux ``renameat2`` with
``RENAME_EXCHANGE``; elsewhere two renames) and the old one removed. Its ``manifest.json`` lists
every file with its size and SHA-256, so a reader can refuse a directory whose files do not all
come from one write. Temporaries carry their writer's pid and host, so the next writer removes
those a killed process left behind (and, where two renames were needed, puts back an old
directory a writer killed between them had moved away). A process killed at any moment thus
leaves the directory either old and complete or new and complete.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

__all__ = [
    "MANIFEST",
    "check_manifest",
    "holds_only",
    "is_temporary",
    "pid_alive",
    "remove_stale_temporaries",
    "write_atomic",
    "write_directory",
    "write_manifest",
    "write_text_atomic",
]

#: The file listing a results directory's files.
MANIFEST = "manifest.json"


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def _tmp_prefix(name: str) -> str:
    return f".{name}.{_host_tag()}-{os.getpid()}."


_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<host>[0-9a-f]{6})-(?P<pid>\d+)\.[^.]+\.tmp$")


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file through a temporary sibling, then rename it into place.

    Args:
        path: The final file.
        write: Writes the content to the temporary path it is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path.name), suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to a file atomically (UTF-8)."""
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


#: The temporaries of earlier versions of :func:`write_atomic`: ``.NAME.XXXXXXXX.tmp``.
_OLD_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def is_temporary(name: str) -> bool:
    """Whether a name is a temporary of :func:`write_atomic` or :func:`write_directory`.

    Temporaries of any process and host count, and those of cisim versions whose temporary
    names did not carry the writer's pid.
    """
    return _TMP.match(name) is not None or _OLD_TMP.match(name) is not None


def pid_alive(pid: int) -> bool:
    """Whether a process of this host runs (a zombie, dead but not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return True
    return "\nState:\tZ" not in status


def remove_stale_temporaries(directory: Path, name: str | None = None) -> list[Path]:
    """Remove the temporaries (files or directories) that dead writers left in a directory.

    Only temporaries made by :func:`write_atomic` or :func:`write_directory` on this host whose
    process no longer runs are removed; a live writer's are left alone.

    Args:
        directory: Where to look.
        name: Only the temporaries of this final name (all when None).

    Returns:
        The paths removed.
    """
    removed: list[Path] = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    host = _host_tag()
    for entry in entries:
        m = _TMP.match(entry.name)
        if not m or (name is not None and m["name"] != name) or m["host"] != host:
            continue
        if pid_alive(int(m["pid"])):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        removed.append(entry)
    return removed


# --------------------------------------------------------------------------------------------
# Whole directories
# --------------------------------------------------------------------------------------------


@contextmanager
def write_directory(path: Path, replaceable: Callable[[Path], bool]) -> Iterator[Path]:
    """Write a directory whole: yield a fresh temporary sibling, then swap it into place.

    On success the temporary directory becomes ``path`` in one step and the old directory (if
    any) is removed; on any exception, Ctrl-C or SIGTERM turned into an exception, the
    temporary directory is removed and ``path`` is untouched. A writer killed outright (SIGKILL)
    leaves its hidden temporary directory beside ``path``, which the next call removes; ``path``
    itself is then the old or the new directory, each complete (on a file system without
    ``RENAME_EXCHANGE``, a kill between the two renames leaves no ``path`` until the next call
    puts the old directory back).

    A symbolic link at ``path`` is kept: the directory it points to is replaced.

    Example::

        with write_directory(out, lambda d: True) as tmp:
            (tmp / "a.csv").write_text("...")
            write_manifest(tmp)

    Args:
        path: The final directory.
        replaceable: Says whether an existing directory at ``path`` may be replaced; checked
            before anything is written.

    Yields:
        The temporary directory to write into.

    Raises:
        FileExistsError: ``path`` exists and is not a directory, or ``replaceable`` refused it.
        OSError: The parent cannot be created or written.
    """
    path = Path(os.path.abspath(path))  # "." or "a/.." name a directory through its parent
    if path.is_symlink():  # replace the directory it points to, keep the link
        path = path.resolve()
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a directory")
    if path.is_dir() and not replaceable(path):
        raise FileExistsError(f"{path} exists and does not hold cisim results")
    path.parent.mkdir(parents=True, exist_ok=True)
    _restore_moved_away(path)
    remove_stale_temporaries(path.parent, path.name)
    tmp = path.parent / f"{_tmp_prefix(path.name)}{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.is_dir() and _exchange(tmp, path):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old directory
        else:
            if path.is_dir():
                old = path.parent / f"{_tmp_prefix(path.name)}{_MOVED}{secrets.token_hex(4)}.tmp"
                os.rename(path, old)
                os.rename(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def holds_only(directory: Path, owned: Callable[[str], bool]) -> bool:
    """Whether a directory may be replaced whole: it holds only its writer's files.

    Its ``manifest.json`` and temporaries of interrupted writes (of any process) count as the
    writer's; so does an empty directory.

    Args:
        directory: The existing directory.
        owned: Says whether a file name (relative, POSIX) is one the writer writes.
    """
    for file in Path(directory).rglob("*"):
        if file.is_dir() or is_temporary(file.name):
            continue
        rel = file.relative_to(directory).as_posix()
        if not (rel == MANIFEST or owned(rel)):
            return False
    return True


#: Marks the temporary name an old directory is moved away to where two renames replace it.
_MOVED = "moved-away-"


def _restore_moved_away(path: Path) -> None:
    """Put back an old directory a killed writer moved away but did not replace.

    Without an atomic exchange, replacing a directory takes two renames; a writer killed
    between them leaves no ``path``, only the old directory under a marked temporary name (and
    its complete new one, which the stale clean-up then removes).
    """
    if path.exists():
        return
    host = _host_tag()
    for entry in sorted(path.parent.glob(f".{glob_escape(path.name)}.*{_MOVED}*.tmp")):
        m = _TMP.match(entry.name)
        if m and m["name"] == path.name and m["host"] == host and not pid_alive(int(m["pid"])):
            os.rename(entry, path)
            return


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


# --------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------


def _digest(file: Path) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(directory: Path, info: dict[str, Any] | None = None) -> Path:
    """List every file under a directory with its size and SHA-256 in ``manifest.json``.

    Args:
        directory: The directory (its files are all written).
        info: Extra fields recorded beside the files (what wrote them, the seed ...).

    Returns:
        The manifest's path.
    """
    directory = Path(directory)
    files = {}
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = file.relative_to(directory).as_posix()
        if rel == MANIFEST or _TMP.match(file.name):
            continue
        files[rel] = {"bytes": file.stat().st_size, "sha256": _digest(file)}
    path = directory / MANIFEST
    write_text_atomic(path, json.dumps({**(info or {}), "files": files}, indent=1) + "\n")
    return path


def check_manifest(directory: Path, owned: Callable[[str], bool]) -> list[str] | None:
    """Compare a directory with its manifest.

    Args:
        directory: The directory.
        owned: Says whether a file name (relative, POSIX) is one the writer of the directory
            writes. Only such files are compared: one that differs from its listing, is listed
            but missing, or is present but not listed came from another write. Other files
            (a report added later, say) may change freely.

    Returns:
        None when there is no manifest; otherwise the problems (empty when the files match).
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        return None
    try:
        listed = json.loads(path.read_text(encoding="utf-8"))["files"]
        assert isinstance(listed, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as err:
        return [f"{MANIFEST} cannot be read: {err}"]
    problems = []
    for rel, meta in listed.items():
        file = directory / rel
        if not owned(rel):
            continue
        if not file.is_file():
            problems.append(f"{rel} is listed but missing")
        elif file.stat().st_size != meta.get("bytes") or _digest(file) != meta.get("sha256"):
            problems.append(f"{rel} differs from the file written with the others")
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = file.relative_to(directory).as_posix()
        if rel != MANIFEST and rel not in listed and owned(rel):
            problems.append(f"{rel} is not listed (left by another run?)")
    return problems
