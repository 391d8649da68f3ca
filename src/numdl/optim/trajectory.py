"""The trajectory of an iterative method, kept in bounded memory.

:class:`Trajectory` records ``(iteration, x, f)`` after every step and keeps every ``stride``-th
row, doubling the stride whenever more than ``cap`` rows are held, plus the last row: a run of any
length is stored in at most ``cap`` rows, evenly spaced in iterations, ending at the final iterate.
:func:`minimize` and :func:`~numdl.optim.constrained.minimize_constrained` both record their
iterates with it; :func:`trajectory_capacity` is their shared default and check of
``max_trajectory``.

>>> import numpy as np
>>> t = Trajectory(cap=4)
>>> for k in range(10):
...     t.add(k, np.array([float(k)]), float(k * k))
>>> xs, fs, ks = t.arrays(1, np.float64)
>>> ks.tolist(), fs.tolist()
([0, 4, 8, 9], [0.0, 16.0, 64.0, 81.0])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["DEFAULT_MAX_ROWS", "TRAJECTORY_FLOATS", "Trajectory", "trajectory_capacity"]

DEFAULT_MAX_ROWS = 10_000
"""Most rows kept by default, whatever the dimension."""

TRAJECTORY_FLOATS = 2**20
"""Most floats kept by default (8 MiB of float64): ``n``-dimensional iterates get
``TRAJECTORY_FLOATS // n`` rows when that is fewer than :data:`DEFAULT_MAX_ROWS`."""


def trajectory_capacity(max_trajectory: object, n: int) -> int:
    """The number of rows to keep for iterates of size `n`.

    Parameters
    ----------
    max_trajectory : int or None
        The caller's choice, an integer ``>= 2``; None for the default
        ``min(DEFAULT_MAX_ROWS, TRAJECTORY_FLOATS // n)``, at least 2.
    n : int
        The size of one iterate.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If `max_trajectory` is not None and not an integer ``>= 2``.
    """
    if max_trajectory is None:
        return min(DEFAULT_MAX_ROWS, max(2, TRAJECTORY_FLOATS // max(int(n), 1)))
    if isinstance(max_trajectory, bool) or not isinstance(max_trajectory, int | np.integer) or \
            max_trajectory < 2:
        raise ValueError(f"max_trajectory must be an integer >= 2, got {max_trajectory!r}")
    return int(max_trajectory)


class Trajectory:
    """Keeps every ``stride``-th iterate, doubling the stride when more than ``cap`` are held.

    Parameters
    ----------
    cap : int
        The most rows :meth:`arrays` returns (at least 2: the first and the last iterate).
    """

    def __init__(self, cap: int) -> None:
        self.cap = max(2, int(cap))
        self.stride = 1
        self.rows: list[tuple[int, np.ndarray, float]] = []
        self.last: tuple[int, np.ndarray, float] | None = None

    def add(self, k: int, x: ArrayLike, f: float) -> None:
        """Record iterate number `k` (increasing from call to call) with value `f`."""
        self.last = (k, x, f)
        if k % self.stride == 0:
            self.rows.append(self.last)
            while len(self.rows) > self.cap - 1:  # one row is kept free for the final iterate
                self.stride *= 2
                self.rows = [r for r in self.rows if r[0] % self.stride == 0]

    def arrays(self, n: int, dtype: DTypeLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(xs, fs, ks)``: the kept iterates as a read-only ``(k, n)`` array of `dtype`, their
        values (float64) and iteration numbers (int64), the last iterate always included."""
        rows = list(self.rows)
        if self.last is not None and (not rows or rows[-1][0] != self.last[0]):
            rows.append(self.last)
        xs = np.array([r[1] for r in rows], dtype=dtype).reshape(len(rows), n)
        fs = np.array([r[2] for r in rows], dtype=np.float64)
        ks = np.array([r[0] for r in rows], dtype=np.int64)
        for a in (xs, fs, ks):
            a.setflags(write=False)
        return xs, fs, ks
