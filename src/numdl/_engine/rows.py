"""Row layout: every reduction is computed on ``(R, n)`` rows, the reduced axes moved last and
flattened, then put back in the input's shape; :class:`Stats` holds the kernels' per-row
results."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Stats", "np_rows", "np_unrows", "rows_shape", "scalar_or_array"]


def rows_shape(
    shape: tuple[int, ...], axes: tuple[int, ...]
) -> tuple[list[int], tuple[int, ...], int]:
    """``(permutation, kept shape, row length)`` that moves `axes` last and flattens them."""
    kept = [i for i in range(len(shape)) if i not in axes]
    batch = tuple(shape[i] for i in kept)
    n = math.prod(shape[i] for i in axes)
    return kept + list(axes), batch, n


def np_rows(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...], list[int]]:
    """Move `axes` last and flatten them: ``(R, n)`` rows (a view when possible), the kept shape
    and the permutation (for :func:`np_unrows`)."""
    if x.ndim == 0:
        return x.reshape(1, 1), (), [0]
    perm, batch, n = rows_shape(x.shape, axes)
    moved = x if perm == list(range(x.ndim)) else np.transpose(x, perm)
    return moved.reshape(math.prod(batch), n), batch, perm


def np_unrows(y2: np.ndarray, shape: tuple[int, ...], perm: list[int]) -> np.ndarray:
    """The inverse of :func:`np_rows` for an output of the input's `shape`."""
    if len(shape) == 0:
        return y2.reshape(())
    moved = y2.reshape(tuple(shape[i] for i in perm))
    return moved if perm == list(range(len(shape))) else np.transpose(moved, np.argsort(perm))


def scalar_or_array(y: np.ndarray) -> Any:
    """A NumPy scalar for a 0-D result (as NumPy's own reductions return), else the array."""
    return y[()] if y.ndim == 0 else y


@dataclass
class Stats:
    """Per-row results of the max-shift kernels (NumPy and compiled): the maximum ``a`` (NaN in a
    row with NaN), its first index ``k``, and ``s = sum_{j != k} exp(x_j - a)``.  Optional:
    ``dsum = sum_j (x_j - a)`` and ``wdsum = sum_j w_j (x_j - a)`` over ``w_j != 0`` (for the
    losses)."""

    a: np.ndarray
    k: np.ndarray
    s: np.ndarray
    dsum: np.ndarray | None = None
    wdsum: np.ndarray | None = None
