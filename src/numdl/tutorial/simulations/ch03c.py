"""Chapter 3c (Newton's method and quasi-Newton methods): where runs end and what Newton costs.

:func:`nearest_critical_point` names the critical point a run ended at; :func:`newton_cost` times
the pieces of one Newton step on this machine and :func:`power_law_fit` extrapolates them;
:func:`state_floats` counts the memory each optimizer keeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim import CriticalPoint, Problem, derivatives
from numdl.optim.problems import rosenbrock
from numdl.tutorial.simulations._common import check_rng

__all__ = ["NewtonCost", "nearest_critical_point", "newton_cost", "power_law_fit", "state_floats"]


def nearest_critical_point(problem: Problem, x: ArrayLike) -> tuple[CriticalPoint, float]:
    """The listed critical point of `problem` closest to `x`, and its distance."""
    pts = problem.critical_points
    if not pts:
        raise ValueError(f"{problem.name} lists no critical points")
    d = [float(np.linalg.norm(np.asarray(x, dtype=np.float64) - p.x)) for p in pts]
    i = int(np.argmin(d))
    return pts[i], d[i]


@dataclass(frozen=True)
class NewtonCost:
    """Median wall-clock seconds of the pieces of one Newton step, on this machine.

    The function is Rosenbrock in ``n`` dimensions; its gradient costs O(n), as backpropagation
    costs about one forward pass.  Forming the Hessian takes ``2n`` gradients (central
    differences of the gradient, :func:`numdl.optim.derivatives.jacobian`); solving ``H p = -g``
    with a dense LU factorization (``numpy.linalg.solve``) takes O(n^3) operations.
    """

    n: np.ndarray
    gradient: np.ndarray
    form: np.ndarray
    solve: np.ndarray
    hessian_bytes: np.ndarray  # 8 n^2: the float64 Hessian


def newton_cost(ns: ArrayLike, *, repeats: int = 3, rng: np.random.Generator) -> NewtonCost:
    """Time one gradient, forming the Hessian and solving with it for each ``n`` in `ns`.

    The point is drawn from `rng`.  Medians of `repeats` runs of :func:`time.perf_counter`
    intervals after one untimed warm-up call; a measurement, so it varies between machines and
    runs.
    """
    ns = np.asarray(ns, dtype=np.int64)
    if ns.ndim != 1 or ns.size == 0 or np.any(ns < 2) or repeats < 1:
        raise ValueError(f"ns must be integers >= 2 (got {ns!r}) and repeats >= 1 (got {repeats!r})")
    check_rng(rng)

    def median_time(fn: Callable[[], object]) -> float:
        fn()  # warm-up, untimed: first calls pay for allocation and thread start-up
        times = []
        for _ in range(int(repeats)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    grad_t, form_t, solve_t = [], [], []
    for n in ns:
        p = rosenbrock(dim=int(n))
        x = rng.uniform(-1.0, 1.0, int(n))
        g = p.gradient(x)
        H = derivatives.jacobian(p.gradient, x)
        # a positive definite matrix of the same size: the Hessian at a random point is
        # indefinite, and the cost of LU does not depend on the values
        H = H @ H.T / int(n) + np.eye(int(n))
        grad_t.append(median_time(lambda p=p, x=x: p.gradient(x)))
        form_t.append(median_time(lambda p=p, x=x: derivatives.jacobian(p.gradient, x)))
        solve_t.append(median_time(lambda H=H, g=g: np.linalg.solve(H, -g)))
    return NewtonCost(ns, np.array(grad_t), np.array(form_t), np.array(solve_t),
                      8.0 * ns.astype(np.float64) ** 2)


def power_law_fit(n: ArrayLike, seconds: ArrayLike, power: float) -> float:
    """The constant ``c`` of ``seconds ~ c * n**power``, a least-squares fit of the logs.

    ``log c = mean(log t_i - power log n_i)``: fitting the constant only, with the exponent fixed by
    the operation count (3 for a dense solve), keeps the extrapolation honest about its model.
    """
    n = np.asarray(n, dtype=np.float64)
    t = np.asarray(seconds, dtype=np.float64)
    if n.shape != t.shape or n.size == 0 or np.any(n <= 0) or np.any(t <= 0):
        raise ValueError("n and seconds must be non-empty positive arrays of the same shape")
    return float(np.exp(np.mean(np.log(t) - power * np.log(n))))


def state_floats(method: str, n: int, memory: int = 10) -> int:
    """Floats an optimizer keeps besides ``x`` and ``g`` for ``n`` parameters.

    gd: 0; momentum/nesterov: n (velocity); adagrad/rmsprop: n; adam: 2n (two moments);
    newton: n^2 (the Hessian); bfgs: n^2 (the inverse Hessian approximation); lbfgs: 2 m n (the
    last ``m`` pairs ``(s, y)``).
    """
    table = {"gd": 0, "momentum": n, "nesterov": n, "adagrad": n, "rmsprop": n, "adam": 2 * n,
             "adamw": 2 * n, "newton": n * n, "bfgs": n * n, "lbfgs": 2 * memory * n}
    if method not in table:
        raise ValueError(f"method={method!r}; choose one of {', '.join(table)}")
    return int(table[method])
