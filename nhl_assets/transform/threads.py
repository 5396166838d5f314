"""Independent model fits side by side in threads, each on one OpenMP thread (pure: no Dagster, no I/O).

Why threads of one OpenMP thread each, and not scikit-learn's own OpenMP threads: its gradient-boosting
code runs many short parallel regions whose threads spin-wait at every barrier, so beside a busy process
(another run, the test suite, another user of the machine's 2 cores) two OpenMP threads made a fit several
times slower (the shots-on-goal model on the whole simulated history: 107-129 s against 19-20 s on one
thread, measured beside two busy processes). Two independent fits in two Python threads use two cores
without any barrier: the tree code releases the GIL.

Why the results do not change: scikit-learn's histogram gradient boosting fits the same trees whatever its
thread count (each feature's histogram is summed by one thread; the gradients are per row) and predicts each
row alone, so a model fitted or rows scored here equal those of a fit or a prediction on any thread count.
The one difference is the thread count the fitted model records (`_bin_mapper.n_threads`).

OpenMP's thread count is per thread (`omp_set_num_threads` sets the calling thread's), so each worker limits
its own; OpenBLAS's is global to the process and left to the caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController


@cache
def _controller() -> ThreadpoolController:
    """The process's thread pools, found once (finding them costs 4 ms, a limit through it almost nothing),
    on first use: scikit-learn is imported first, so that its OpenMP runtime is loaded when they are looked
    for (and not at import: see `transform.model`)."""
    import sklearn.ensemble  # noqa: F401

    return ThreadpoolController()


_preloading: threading.Thread | None = None


def preload() -> None:
    """Start importing scikit-learn (and finding its thread pools) in a daemon thread; once per process.

    Why: the first gold step that needs scikit-learn (the xG model's fit, or unpickling that model to score
    every shot) otherwise starts with 2.2-2.4 s of imports (SciPy included). A backfill calls this first,
    so the import runs while its bronze runs wait on the API; an import the main thread asks for meanwhile
    simply waits for this one (Python's per-module import locks).
    """
    global _preloading
    if _preloading is None:
        _preloading = threading.Thread(target=_controller, name="preload-sklearn", daemon=True)
        _preloading.start()


def _one_openmp_thread(fn: Callable[[], Any]) -> Any:
    with _controller().limit(limits=1, user_api="openmp"):
        return fn()


def side_by_side(*calls: Callable[[], Any]) -> list[Any]:
    """The results of `calls` in order, the first run in this thread and each other in a thread of its own,
    every one on one OpenMP thread; an exception of any of them is raised here, once all have ended."""
    if len(calls) == 1:
        return [_one_openmp_thread(calls[0])]
    with ThreadPoolExecutor(max_workers=len(calls) - 1, thread_name_prefix="fit") as pool:
        others = [pool.submit(_one_openmp_thread, fn) for fn in calls[1:]]
        first = _one_openmp_thread(calls[0])  # should it raise, leaving the block still waits for the others
        return [first, *(f.result() for f in others)]


#: Fewer rows are scored in this thread alone (starting a thread would cost more than it saves).
SPLIT_ROWS = 20_000


def by_halves(score: Callable[[np.ndarray], np.ndarray], x: np.ndarray, split_rows: int = SPLIT_ROWS) -> np.ndarray:
    """`score(x)` for a function of each row alone (a fitted model's predictions): the two halves of `x`
    side by side, each on one OpenMP thread, concatenated (every row's result is the one `score(x)` gives);
    fewer than `split_rows` rows in this thread alone."""
    if len(x) < split_rows:
        return side_by_side(lambda: score(x))[0]
    mid = len(x) // 2
    return np.concatenate(side_by_side(lambda: score(x[:mid]), lambda: score(x[mid:])))
