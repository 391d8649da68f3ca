"""The engine's one configuration point: what the environment chooses, and what tests change.

Read once at import, from the environment:

* ``NUMDL_PURE_NUMPY=1``: ignore the compiled kernels (``numdl._kernels``); the NumPy kernel
  computes everything;
* ``NUMDL_KERNEL_VARIANT`` (``generic``, ``avx2``, ``avx512``): an instruction-set build of the
  compiled kernels other than the best the CPU runs;
* ``NUMDL_NUM_THREADS``: threads for large inputs (default: the CPU count, at most 8).

Every other engine module reads :data:`settings` when it runs, never a copy, so that
:func:`override` changes what the next call computes with::

    from numdl._engine import config

    with config.override(small_threshold=0, long_double=None, kernels=None):
        ...  # the blocked NumPy kernel, whatever the input's size

``override`` is process-wide (like the environment it stands in for): it is meant for tests and
benchmarks, not for threads that want different settings at the same time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

__all__ = [
    "CERTIFY_PATHS",
    "LONG_DOUBLE",
    "SEGMENT_MIN",
    "SMALL_THRESHOLD",
    "Settings",
    "load_kernels",
    "override",
    "settings",
    "thread_count",
]

# Inputs of at most this many elements take the small-input path (x86 long double, one NumPy call
# per step): below it, NumPy's per-call overhead is what costs, not the arithmetic.
SMALL_THRESHOLD = 512
# A row at least this long is computed by the compiled kernels in segments, which the threads
# share (by length alone, so that the thread count never changes a result).
SEGMENT_MIN = 1 << 18
# Where long double is only float64 (Windows, macOS on ARM) the blocked kernels serve every size.
LONG_DOUBLE: Any = np.longdouble if np.finfo(np.longdouble).nmant >= 63 else None
# How numdl._engine.certify decides the rows it certifies: double-double first (falling back to
# the decimal module where its interval straddles a rounding boundary), or decimal for all (to
# test the fallback itself).
CERTIFY_PATHS = ("double_double", "decimal")


def thread_count() -> int:
    """Threads for large inputs: ``NUMDL_NUM_THREADS`` if set (1 turns threading off, e.g. in
    data-loader worker processes), else the CPU count, at most 8."""
    value = os.environ.get("NUMDL_NUM_THREADS", "").strip()
    if value:
        try:
            count = int(value)
        except ValueError:
            count = 0
        if count < 1:
            raise ValueError(f"NUMDL_NUM_THREADS must be a positive integer, got {value!r}")
        return count
    return max(1, min(os.cpu_count() or 1, 8))


def load_kernels() -> Any:
    """numdl._kernels, or None where it did not build (the NumPy kernel serves everything) or
    ``NUMDL_PURE_NUMPY=1`` asks for the NumPy kernel.

    ``NUMDL_KERNEL_VARIANT`` (``generic``, ``avx2`` or ``avx512``) picks an instruction-set build
    other than the best the CPU runs: the test suite runs once per variant, and it shows what an
    older CPU computes.  A variant the CPU or the build lacks is a ValueError naming the variable.
    """
    if os.environ.get("NUMDL_PURE_NUMPY", "") not in ("", "0"):
        return None
    try:
        from numdl import _kernels
    except ImportError:
        return None
    variant = os.environ.get("NUMDL_KERNEL_VARIANT", "").strip()
    if variant:
        try:
            _kernels.set_variant(variant)
        except ValueError:
            raise ValueError(
                f"NUMDL_KERNEL_VARIANT={variant!r} is not one of the variants this CPU and build "
                f"run: {', '.join(_kernels.variants())}"
            ) from None
    return _kernels


@dataclass(slots=True)
class Settings:
    """What the engine computes with (one instance: :data:`settings`).

    Attributes
    ----------
    small_threshold : int
        Inputs of at most this many elements take the long-double small-input path (0: never).
    long_double : type or None
        The long-double type of that path (``numpy.longdouble`` where it has a 64-bit
        significand); None turns the path off.
    kernels : module or None
        The compiled kernels (``numdl._kernels``); None: the NumPy kernel serves everything.
    threads : int
        Threads for large inputs (1: none).
    segment_min : int
        Rows at least this long are computed by the compiled kernels in segments.
    fast_paths : bool
        The shortcuts for the common small call (a 1-D or 2-D float32/float64 array reduced along
        its last axis, and its cross-entropy); False sends those calls down the general path.
    certify : str
        One of :data:`CERTIFY_PATHS`: how certified rows are decided.
    """

    small_threshold: int
    long_double: Any
    kernels: Any
    threads: int
    segment_min: int
    fast_paths: bool = True
    certify: str = "double_double"


settings = Settings(SMALL_THRESHOLD, LONG_DOUBLE, load_kernels(), thread_count(), SEGMENT_MIN)

_NAMES = tuple(f.name for f in fields(Settings))


def _check(name: str, value: Any) -> None:
    if name in ("small_threshold", "segment_min", "threads"):
        if isinstance(value, bool) or not isinstance(value, int) or value < (name == "threads"):
            raise ValueError(f"{name} must be an int >= {int(name == 'threads')}, got {value!r}")
    elif name == "certify" and value not in CERTIFY_PATHS:
        raise ValueError(f"certify must be one of {CERTIFY_PATHS}, got {value!r}")
    elif name == "fast_paths" and not isinstance(value, bool):
        raise ValueError(f"fast_paths must be a bool, got {value!r}")


@contextlib.contextmanager
def override(**changes: Any) -> Iterator[Settings]:
    """Change some :class:`Settings` for the duration of a ``with`` block (restored on exit,
    exceptions included).  Unknown names are a TypeError, invalid values a ValueError."""
    unknown = sorted(set(changes) - set(_NAMES))
    if unknown:
        raise TypeError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(_NAMES)}")
    for name, value in changes.items():
        _check(name, value)
    saved = {name: getattr(settings, name) for name in changes}
    for name, value in changes.items():
        setattr(settings, name, value)
    try:
        yield settings
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)
