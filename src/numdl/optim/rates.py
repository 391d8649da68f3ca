"""Gradient descent on a quadratic, in closed form: stability limit, best step, rates.

On ``f(x) = x^T H x / 2 - b^T x`` with ``H = Q diag(lambda) Q^T``, gradient descent with a fixed
step ``lr`` is a linear iteration: the error's component along the eigenvector ``q_i`` is multiplied
by ``1 - lr lambda_i`` at every step.  Hence

* it converges iff ``|1 - lr lambda_i| < 1`` for all i, i.e. ``0 < lr < 2 / lambda_max``;
* the step minimizing ``max_i |1 - lr lambda_i|`` is ``2 / (lambda_min + lambda_max)``, with
  contraction factor ``(kappa - 1) / (kappa + 1)``, ``kappa = lambda_max / lambda_min``;
* the error shrinks by ``e^-1`` every ``~kappa / 2`` steps: ill conditioning is slowness.

Heavy-ball momentum with ``lr = 4 / (sqrt(L) + sqrt(mu))^2`` and
``beta = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2`` contracts by ``(sqrt(kappa) - 1) /
(sqrt(kappa) + 1)`` per step (asymptotically): ``~sqrt(kappa)`` instead of ``~kappa`` steps.

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, §3.3
       (steepest descent on a quadratic, eq. 3.26 for the exact line search step).
.. [2] B. T. Polyak, *Introduction to Optimization*, Optimization Software, 1987, §3.2.1
       (heavy ball).
.. [3] I. Goodfellow, Y. Bengio and A. Courville, *Deep Learning*, MIT Press, 2016, §4.3.1
       (the optimal step ``g^T g / g^T H g``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["QuadraticRates", "optimal_gradient_step", "quadratic_gd_iterates", "quadratic_rates"]


def _symmetric(hessian: Any, name: str = "hessian") -> np.ndarray:
    H = np.array(hessian, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] == 0:
        raise ValueError(f"{name} must be a square (n, n) matrix, got shape {H.shape}")
    if not np.all(np.isfinite(H)):
        raise ValueError(f"{name} must be finite")
    scale = max(float(np.max(np.abs(H))), np.finfo(np.float64).tiny)
    if float(np.max(np.abs(H - H.T))) > 64 * np.finfo(np.float64).eps * scale:
        raise ValueError(f"{name} must be symmetric")
    return (H + H.T) / 2


@dataclass(frozen=True)
class QuadraticRates:
    """Step sizes and rates of gradient descent (and heavy ball) on a quadratic with Hessian H.

    Attributes
    ----------
    eigenvalues : numpy.ndarray
        Eigenvalues of H, ascending.
    lambda_min, lambda_max : float
        Extreme eigenvalues ``mu`` and ``L``.
    kappa : float
        Condition number ``L / mu``.
    stability_limit : float
        ``2 / L``: gradient descent diverges for ``lr > 2 / L`` (from almost every start).
    best_step : float
        ``2 / (mu + L)``, the fixed step with the smallest worst-case contraction.
    rate : float
        ``(kappa - 1) / (kappa + 1)``: the error contraction per step at `best_step`.
    steps_per_digit : float
        ``-1 / log10(rate)``: iterations per decimal digit of accuracy at `best_step`
        (``inf`` when ``kappa`` is so large that `rate` rounds to 1).
    momentum_lr, momentum_beta, momentum_rate : float
        Polyak's optimal heavy-ball parameters ``4 / (sqrt(L) + sqrt(mu))^2``,
        ``((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2`` and its rate
        ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)``.
    optimal_step : float or None
        ``g^T g / g^T H g``, the exact minimizer along ``-g`` (only when `g` was given).
    """

    eigenvalues: np.ndarray
    lambda_min: float
    lambda_max: float
    kappa: float
    stability_limit: float
    best_step: float
    rate: float
    steps_per_digit: float
    momentum_lr: float
    momentum_beta: float
    momentum_rate: float
    optimal_step: float | None = None


def optimal_gradient_step(hessian: ArrayLike, g: ArrayLike) -> float:
    """``g^T g / g^T H g``: the step along ``-g`` minimizing a quadratic with Hessian H exactly.

    Along ``x - t g`` the quadratic is ``f(x) - t g^T g + t^2 g^T H g / 2``, minimized at this
    ``t``.  Returns ``inf`` if ``g^T H g <= 0`` (no minimum along ``-g``) and ``0`` for ``g = 0``.

    >>> optimal_gradient_step([[1.0, 0.0], [0.0, 10.0]], [1.0, 0.0])
    1.0
    """
    H = _symmetric(hessian)
    gg = np.array(g, dtype=np.float64)
    if gg.shape != (H.shape[0],):
        raise ValueError(f"g must have shape ({H.shape[0]},), got {gg.shape}")
    num = float(gg @ gg)
    if num == 0:
        return 0.0
    den = float(gg @ H @ gg)
    return num / den if den > 0 else math.inf


def quadratic_rates(hessian: ArrayLike, g: ArrayLike | None = None) -> QuadraticRates:
    """Stability limit, best fixed step and convergence rates of gradient descent for Hessian H.

    Parameters
    ----------
    hessian : array_like, shape (n, n)
        Symmetric positive definite.
    g : array_like, shape (n,), optional
        A gradient, to also compute :func:`optimal_gradient_step`.

    Returns
    -------
    QuadraticRates

    Raises
    ------
    ValueError
        If `hessian` is not symmetric positive definite (the rates do not exist: gradient descent
        diverges along a direction of non-positive curvature).

    Examples
    --------
    >>> r = quadratic_rates([[1.0, 0.0], [0.0, 100.0]])
    >>> r.stability_limit, r.best_step, round(r.rate, 6), round(r.momentum_rate, 6)
    (0.02, 0.019801980198019802, 0.980198, 0.818182)
    """
    H = _symmetric(hessian)
    lam = np.linalg.eigvalsh(H)
    mu, L = float(lam[0]), float(lam[-1])
    if not mu > 0:
        raise ValueError(f"hessian must be positive definite for these rates; its smallest "
                         f"eigenvalue is {mu!r}")
    kappa = L / mu
    rate = (kappa - 1) / (kappa + 1)
    sk = math.sqrt(kappa)
    mrate = (sk - 1) / (sk + 1)
    lam.setflags(write=False)
    return QuadraticRates(
        eigenvalues=lam, lambda_min=mu, lambda_max=L, kappa=kappa, stability_limit=2 / L,
        best_step=2 / (mu + L), rate=rate,
        steps_per_digit=(-1 / math.log10(rate)) if 0 < rate < 1 else (0.0 if rate == 0 else
                                                                        math.inf),
        momentum_lr=4 / (math.sqrt(L) + math.sqrt(mu)) ** 2, momentum_beta=mrate**2,
        momentum_rate=mrate,
        optimal_step=None if g is None else optimal_gradient_step(H, g),
    )


def quadratic_gd_iterates(hessian: ArrayLike, x0: ArrayLike, lr: float, n_steps: int, *,
                          b: ArrayLike | None = None) -> np.ndarray:
    """Gradient-descent iterates on ``x^T H x / 2 - b^T x`` in closed form.

    In the eigenbasis ``c = Q^T x``, ``c_{k+1} = (1 - lr lambda) c_k + lr (Q^T b)``, so
    ``c_k = (1 - lr lambda)^k c_0 + (Q^T b / lambda) (1 - (1 - lr lambda)^k)``, and
    ``c_k = c_0 + k lr (Q^T b)`` where ``lambda = 0``.  Valid for any symmetric H (indefinite and
    singular included).  Used by the tests to check ``minimize(method="gd")`` step by step.

    Parameters
    ----------
    hessian : array_like, shape (n, n)
        Symmetric matrix.
    x0 : array_like, shape (n,)
        Start.
    lr : float
        Step size.
    n_steps : int
        Number of steps.
    b : array_like, shape (n,), optional
        Linear term (default 0).

    Returns
    -------
    numpy.ndarray, shape (n_steps + 1, n)
        ``x_0, ..., x_{n_steps}``.
    """
    H = _symmetric(hessian)
    n = H.shape[0]
    x = np.array(x0, dtype=np.float64)
    if x.shape != (n,):
        raise ValueError(f"x0 must have shape ({n},), got {x.shape}")
    bb = np.zeros(n) if b is None else np.array(b, dtype=np.float64)
    if bb.shape != (n,):
        raise ValueError(f"b must have shape ({n},), got {bb.shape}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    lr = float(lr)
    lam, Q = np.linalg.eigh(H)
    c0, bt = Q.T @ x, Q.T @ bb
    k = np.arange(n_steps + 1)[:, None]  # (K, 1)
    r = 1 - lr * lam  # (n,)
    with np.errstate(over="ignore", invalid="ignore"):
        rk = r**k  # (K, n)
        safe = np.where(lam != 0, lam, 1.0)
        drift = np.where(lam != 0, (bt / safe) * (1 - rk), k * lr * bt)
        c = rk * c0 + drift
    return c @ Q.T
