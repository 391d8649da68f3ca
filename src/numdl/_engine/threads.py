"""The engine's thread pool: large inputs are split between threads, since NumPy's loops and the
compiled kernels release the GIL.  The number of threads is ``config.settings.threads``; how an
input is split never depends on it, so neither does any result."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from numdl._engine import config

__all__ = ["PARALLEL_MIN", "pool", "run_parallel"]

# Inputs of at least this many elements are split between threads.
PARALLEL_MIN = 1 << 18

_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """The pool, started on first use with ``config.settings.threads`` workers (and started again
    if that setting changed since)."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        size = config.settings.threads
        if _POOL is None or _POOL_SIZE != size:
            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL = ThreadPoolExecutor(max_workers=size, thread_name_prefix="numdl")
            _POOL_SIZE = size
        return _POOL


def _forget_pool() -> None:
    """A forked child has none of its parent's threads: it starts its own pool when it needs one."""
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run_parallel(tasks: list[Callable[[], Any]]) -> list[Any]:
    """Run zero-argument callables, on the thread pool when there are several (and threads)."""
    if len(tasks) <= 1 or config.settings.threads == 1:
        return [t() for t in tasks]
    return [f.result() for f in [pool().submit(t) for t in tasks]]
