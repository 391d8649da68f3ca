"""Chapter 3b (critical points, Jacobian and Hessian): telling a critical point's kind by sampling.

:func:`local_kind` samples a function on a small circle around a point, which settles the cases
where the second-derivative test is inconclusive.  (The chapter's fraction of random critical
points that are minima is :func:`numdl.tutorial.simulations.ch01.fraction_of_minima`, and its
contour grids :func:`numdl.tutorial.simulations.ch03a.grid_values`.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["local_kind"]


def local_kind(f: Callable[[np.ndarray], ArrayLike], x: ArrayLike, *, radius: float = 1e-2,
               points: int = 720) -> str:
    """What a 2-D function does around `x`, judged by sampling ``f`` on a small circle.

    ``"minimum"`` if ``f`` is above ``f(x)`` at every sampled point, ``"maximum"`` if below,
    ``"saddle"`` if both occur (the point is neither), ``"flat"`` if ``f`` does not change.  Not a
    proof, but it needs no Hessian, so it settles the cases where the second-derivative test is
    inconclusive (``x^2 + y^4``, ``x^2 + y^3``, the monkey saddle), for radii small enough that no
    other critical point is inside the circle.  ``f`` takes points of shape ``(..., 2)``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (2,) or not radius > 0 or points < 4:
        raise ValueError(f"x must have shape (2,) (got {x.shape}), radius > 0 and points >= 4")
    t = np.linspace(0.0, 2 * np.pi, int(points), endpoint=False)
    ring = x + radius * np.stack([np.cos(t), np.sin(t)], axis=-1)  # (points, 2)
    d = np.asarray(f(ring), dtype=np.float64) - float(f(x))
    up, down = bool(np.any(d > 0)), bool(np.any(d < 0))
    return "saddle" if up and down else "minimum" if up else "maximum" if down else "flat"
