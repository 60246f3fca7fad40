"""Worker processes that exit when the process they work for dies.

joblib's loky workers (joblib.readthedocs.io) outlive a main process killed outright (SIGKILL,
the out-of-memory killer, a closed terminal): they finish the tasks they hold and then idle
until joblib's five-minute timeout, holding memory all the while. :func:`watched_workers` gives
a loky executor an initializer that starts, in every worker, a thread watching the main process;
the worker exits within :data:`WATCH_SECONDS` of its death. The ``cisim`` command runs every
subcommand under it; the sweep and calibration pools pass it explicitly.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from cisim.io import pid_alive

__all__ = ["WATCH_SECONDS", "watch_parent", "watched_workers"]

#: Seconds between a worker's checks that the process it works for still runs.
WATCH_SECONDS = 0.5

_watched: int | None = None


def watch_parent(pid: int) -> None:
    """In a worker process: exit as soon as process ``pid`` (the main process) is gone.

    Starts (once per worker) a daemon thread that checks every :data:`WATCH_SECONDS`; a dead
    or zombie main process makes the worker exit at once, so no orphaned worker keeps
    computing runs nobody will store. Does nothing in the main process itself.
    """
    global _watched
    if pid == os.getpid() or _watched == pid:
        return
    _watched = pid

    def watch() -> None:
        while pid_alive(pid):
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="cisim-watch-parent", daemon=True).start()


def watched_workers() -> dict[str, Any]:
    """Keyword arguments that make a loky executor's workers exit when this process dies.

    Pass them to ``joblib.parallel_config(backend="loky", ...)`` or to
    ``joblib.executor.get_memmapping_executor``: every worker then runs :func:`watch_parent`
    on this process's pid when it starts.
    """
    return {"initializer": watch_parent, "initargs": (os.getpid(),)}
