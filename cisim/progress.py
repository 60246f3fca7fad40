"""Progress bars for long work: one tqdm bar on stderr fed by a ``progress(done, total)`` callback.

Ensembles, comparisons and sweeps all report progress through the same callback shape; this is
the one bar that shows it (runs done, rate and ETA).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Progress = Callable[[int, int], None]


@contextmanager
def tqdm_progress(desc: str, total: int = 0, *, leave: bool = True) -> Iterator[Progress]:
    """A tqdm bar on stderr showing runs done, rate and ETA, fed by ``progress(done, total)``.

    Args:
        desc: Label of the bar.
        total: Runs expected, if known before the first callback.
        leave: Keep the finished bar on screen.

    Yields:
        The callback. Runs already done at its first call (a resumed sweep) are shown but do
        not count toward the rate.
    """
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="run", file=sys.stderr, dynamic_ncols=True,
               leave=leave)
    started = False

    def update(done: int, total: int) -> None:
        nonlocal started
        if total != bar.total:
            bar.total = total
        if not started:
            bar.n = done
            bar.last_print_n = done
            bar.start_t = bar._time()
            started = True
            bar.refresh()
            return
        bar.update(max(0, done - bar.n))

    try:
        yield update
    finally:
        bar.close()
