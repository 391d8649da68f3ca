"""Chapter 3a (gradient descent and the learning rate): step sizes, schedules and the race.

Gradient descent on a quadratic beside its predicted rate (:func:`gd_on_quadratic`,
:func:`contraction_per_step`), steepest descent with the exact second-order step
(:func:`exact_step_descent`), learning-rate schedules under gradient noise
(:func:`schedule_catalog`, :func:`noisy_descent`), and first-order methods racing on Rosenbrock
and Beale at tuned steps (:func:`optimizer_race`, :data:`RACE_LR`, :func:`learning_rate_grid`).
:func:`grid_values` samples a 2-D problem for the contour plots of chapters 3a to 3c.

The optimizers, problems and rates come from :mod:`numdl.optim`; these functions only run them
the way the chapter shows them and measure what the prose quotes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim import (
    OptimizeResult,
    Problem,
    QuadraticRates,
    Schedule,
    Status,
    minimize,
    optimal_gradient_step,
    quadratic_rates,
    sgd,
)
from numdl.optim import schedules as s
from numdl.optim.problems import PROBLEMS, quadratic
from numdl.tutorial.simulations._common import check_rng

__all__ = [
    "RACE_LR",
    "RACE_METHODS",
    "ExactStepRun",
    "QuadraticGDRun",
    "contraction_per_step",
    "exact_step_descent",
    "gd_on_quadratic",
    "grid_values",
    "learning_rate_grid",
    "noisy_descent",
    "optimizer_race",
    "schedule_catalog",
]


def contraction_per_step(errors: ArrayLike, iterations: ArrayLike | None = None, *,
                         floor: float = 1e-13) -> float:
    """The measured factor by which an error shrinks (or grows) per step, late in a run.

    ``(e_j / e_i) ** (1 / (j - i))`` over the second half of the iterations whose error is finite
    and above ``floor * e_0`` (below that, rounding rather than the iteration sets the error).
    On a quadratic this tends to the largest ``|1 - lr lambda|`` once the other components have
    died out.  Returns 0.0 when the error hits exactly 0 (one step solved it) and nan when there
    are fewer than two usable errors (unless the second is already at the rounding floor: then
    the one-step ratio).
    """
    e = np.asarray(errors, dtype=np.float64)
    k = np.arange(e.size) if iterations is None else np.asarray(iterations, dtype=np.float64)
    if e.ndim != 1 or e.size == 0 or k.shape != e.shape:
        raise ValueError(f"errors must be a non-empty 1-D array (got shape {e.shape}) matching "
                         f"iterations (shape {k.shape})")
    usable = np.isfinite(e) & (e > floor * e[0])
    n = int(np.argmin(usable)) if not usable.all() else e.size  # length of the usable prefix
    if n < e.size and e[n] == 0:
        return 0.0
    if n == 1 and e.size > 1 and np.isfinite(e[1]):  # at the rounding floor after one step
        return float((e[1] / e[0]) ** (1.0 / (k[1] - k[0])))
    if n < 2:
        return float("nan")
    i, j = n // 2 if n > 2 else 0, n - 1
    if i == j:
        i = j - 1
    return float((e[j] / e[i]) ** (1.0 / (k[j] - k[i])))


@dataclass(frozen=True)
class QuadraticGDRun:
    """Gradient descent with a fixed step on a 2-D quadratic, beside what theory predicts.

    ``regime`` is ``"too small"`` (``lr`` below the best step: the flat direction, factor
    ``1 - lr lambda_min``, sets the pace), ``"best"`` (within 1% of ``2 / (lambda_min +
    lambda_max)``), ``"too large"`` (the steep direction overshoots, flipping sign every step, and
    sets the pace) or ``"diverges"`` (``lr >= 2 / lambda_max``: ``|1 - lr lambda_max| >= 1``).
    """

    problem: Problem
    rates: QuadraticRates
    lr: float
    result: OptimizeResult
    errors: np.ndarray  # ||x_k - x*|| at each row of result.trajectory
    factors: np.ndarray  # |1 - lr lambda_i|, lambda ascending
    predicted: float  # max |1 - lr lambda_i|: the asymptotic contraction per step
    measured: float  # contraction_per_step of the run
    regime: str


def gd_on_quadratic(kappa: float, lr: float, *, steps: int = 1000, tol: float = 1e-10,
                    rng: np.random.Generator | None = None) -> QuadraticGDRun:
    """Run gradient descent on ``x^T H x / 2`` with eigenvalues ``(1, kappa)`` and compare with theory.

    The quadratic is :func:`numdl.optim.problems.quadratic`, rotated by a random orthogonal
    matrix drawn from `rng` so the valley is not aligned with an axis (``rng=None``: not rotated,
    nothing is drawn), started from its standard point; the run is :func:`numdl.optim.minimize`
    with ``method="gd"``.  The error along the eigenvector of ``lambda`` is multiplied by
    ``1 - lr lambda`` every step, so the predicted contraction is ``max |1 - lr lambda|`` and the
    measured one is :func:`contraction_per_step` of the errors.
    """
    if not lr > 0:
        raise ValueError(f"lr={lr!r} must be positive")
    if rng is not None:
        check_rng(rng)
    problem = quadratic(kappa=float(kappa), rng=rng)
    rates = quadratic_rates(problem.params["hessian"])
    result = minimize(problem, problem.start, method="gd", lr=float(lr), max_iter=int(steps),
                      tol=tol, max_trajectory=max(2, int(steps) + 2))
    xstar = problem.minimum.x
    with np.errstate(all="ignore"):
        errors = np.linalg.norm(result.trajectory - xstar, axis=1)
    factors = np.abs(1 - float(lr) * rates.eigenvalues)
    if lr >= rates.stability_limit:
        regime = "diverges"
    elif abs(lr / rates.best_step - 1) <= 0.01:
        regime = "best"
    else:
        regime = "too small" if lr < rates.best_step else "too large"
    return QuadraticGDRun(problem, rates, float(lr), result, errors, factors, float(factors.max()),
                          contraction_per_step(errors, result.trajectory_iter), regime)


@dataclass(frozen=True)
class ExactStepRun:
    """Steepest descent where every step is the second-order optimum ``g^T g / g^T H g``."""

    iterates: np.ndarray  # (k + 1, n)
    values: np.ndarray  # f at each iterate
    steps: np.ndarray  # (k,) the step size used at each iteration


def exact_step_descent(problem: Problem, x0: ArrayLike, n_steps: int) -> ExactStepRun:
    """Steepest descent with the step ``eps* = g^T g / g^T H g`` from the Hessian at each iterate.

    The second-order Taylor model ``f(x - eps g) ~ f(x) - eps g^T g + eps^2 g^T H g / 2`` is
    minimized by ``eps*`` (:func:`numdl.optim.optimal_gradient_step`); on a quadratic the model is
    exact, so this is steepest descent with an exact line search, the zigzag of Cauchy's method.
    Stops early when the gradient is 0 or ``g^T H g <= 0`` (no minimum along ``-g``).
    """
    x = np.array(x0, dtype=np.float64)
    xs, fs, steps = [x.copy()], [float(problem.value(x))], []
    for _ in range(int(n_steps)):
        g = problem.gradient(x)
        eps = optimal_gradient_step(problem.hessian(x), g)
        if eps == 0 or not np.isfinite(eps):
            break
        x = x - eps * g
        xs.append(x.copy())
        fs.append(float(problem.value(x)))
        steps.append(eps)
    return ExactStepRun(np.array(xs), np.array(fs), np.array(steps))


def schedule_catalog(peak: float, steps: int) -> dict[str, Schedule]:
    """The learning-rate schedules of :mod:`numdl.optim.schedules`, each starting at (or warming
    up to) `peak` and set up for a run of `steps` updates.

    ``step`` drops by 10x at a third and two thirds of the run; ``exponential`` and
    ``inverse time`` end at 1% and 10% of `peak`; ``cosine`` anneals to 0; ``warmup + cosine``
    warms up linearly over the first 10%.
    """
    if not (peak > 0 and steps >= 10):
        raise ValueError(f"peak={peak!r} must be > 0 and steps={steps!r} >= 10")
    steps = int(steps)
    return {
        "constant": s.constant_schedule(peak),
        "step": s.step_schedule(peak, step_size=max(1, steps // 3), factor=0.1),
        "exponential": s.exponential_schedule(peak, decay_rate=0.01, decay_steps=steps),
        "inverse time": s.inverse_time_schedule(peak, decay_rate=9.0, decay_steps=steps),
        "cosine": s.cosine_schedule(peak, decay_steps=steps),
        "warmup + cosine": s.warmup_cosine_schedule(peak, warmup_steps=steps // 10,
                                                    decay_steps=steps),
    }


def noisy_descent(problem: Problem, x0: ArrayLike, lr: float | Schedule, steps: int, *,
                  noise: float, runs: int = 1, rng: np.random.Generator) -> np.ndarray:
    """Mean excess loss ``f(x_k) - f*`` over `runs` SGD runs whose gradients carry Gaussian noise.

    Each gradient is ``problem.gradient(x) + noise * N(0, I)`` (the noise drawn from `rng`), the
    stand-in for a minibatch gradient; `lr` is a float or a schedule (:func:`numdl.optim.sgd`).
    With a constant step the iterates settle into a cloud around the minimum whose mean excess
    loss grows with ``lr * noise^2``; a decaying schedule shrinks the cloud.  The runs are
    independent and advanced together (a batch of shape ``(runs, dim)``).  Returns ``steps + 1``
    values (inf once a run overflows).
    """
    if runs < 1 or steps < 0 or not noise >= 0:
        raise ValueError(f"runs={runs!r} must be >= 1, steps={steps!r} >= 0 and noise={noise!r} >= 0")
    check_rng(rng)
    opt = sgd(lr)
    x = np.tile(np.asarray(x0, dtype=np.float64), (int(runs), 1))  # (R, n)
    state = opt.init(x)
    fmin = problem.minimum.value if problem.minimum is not None else 0.0
    out = np.empty(int(steps) + 1)
    with np.errstate(all="ignore"):
        out[0] = float(np.mean(problem.value(x))) - fmin
        for k in range(int(steps)):
            g = problem.gradient(x) + noise * rng.standard_normal(x.shape)
            u, state = opt.update(g, state)
            x = x + u
            out[k + 1] = float(np.mean(problem.value(x))) - fmin
    return np.where(np.isfinite(out), out, np.inf)


RACE_METHODS = ("gd", "momentum", "adagrad", "rmsprop", "adam")
RACE_LR = {
    # log10 of the learning rate with the lowest f after 2000 steps from problem.start, on the grid
    # 10**(-4, -3.5, ..., 0) (tests/tutorial/simulations/test_ch03a.py re-runs the search).
    "rosenbrock": {"gd": -3.0, "momentum": -2.5, "nesterov": -3.0, "adagrad": 0.0, "rmsprop": -2.5,
                   "adam": -1.0},
    "beale": {"gd": -1.5, "momentum": -2.5, "nesterov": -2.5, "adagrad": 0.0, "rmsprop": -2.5,
              "adam": 0.0},
}


def optimizer_race(problem_name: str, methods: Sequence[str] = RACE_METHODS, *, steps: int = 2000,
                   lr_scale: float = 1.0) -> dict[str, OptimizeResult]:
    """Run first-order methods from the same start on a 2-D problem, each at its tuned step.

    Each method's learning rate is ``lr_scale * 10**RACE_LR[problem_name][method]``.  Returns
    ``{method: OptimizeResult}`` (:func:`numdl.optim.minimize`, full trajectories).
    """
    if problem_name not in RACE_LR:
        raise ValueError(f"problem_name={problem_name!r}; choose one of {', '.join(RACE_LR)}")
    if not lr_scale > 0:
        raise ValueError(f"lr_scale={lr_scale!r} must be positive")
    problem = PROBLEMS[problem_name]()
    out = {}
    for m in methods:
        if m not in RACE_LR[problem_name]:
            raise ValueError(f"method {m!r} has no tuned learning rate for {problem_name}")
        lr = lr_scale * 10.0 ** RACE_LR[problem_name][m]
        out[m] = minimize(problem, problem.start, method=m, lr=lr, max_iter=int(steps),
                          max_trajectory=int(steps) + 2)
    return out


def learning_rate_grid(problem_name: str, method: str, exponents: ArrayLike, *,
                       steps: int = 2000) -> np.ndarray:
    """Final ``f`` of ``method`` from ``problem.start`` after `steps` steps, for each
    ``lr = 10**e`` in `exponents` (``inf`` where the run diverged): the search behind
    :data:`RACE_LR`."""
    if problem_name not in PROBLEMS:
        raise ValueError(f"problem_name={problem_name!r}; choose one of {', '.join(PROBLEMS)}")
    problem = PROBLEMS[problem_name]()
    out = []
    for e in np.asarray(exponents, dtype=np.float64):
        res = minimize(problem, problem.start, method=method, lr=float(10.0**e), max_iter=int(steps))
        out.append(np.inf if res.status is Status.DIVERGED else res.fun)
    return np.array(out)


def grid_values(problem: Problem, box: tuple[tuple[float, float], tuple[float, float]] | None = None,
                points: int = 121) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xs, ys, Z)`` for a contour or surface plot of a 2-D problem: ``Z[i, j] = f(xs[j], ys[i])``
    on a `points` x `points` grid over `box` (default ``problem.box``)."""
    if problem.dim != 2:
        raise ValueError(f"grid_values needs a 2-D problem, {problem.name} has dim={problem.dim}")
    (x0, x1), (y0, y1) = problem.box if box is None else box
    xs, ys = np.linspace(x0, x1, points), np.linspace(y0, y1, points)
    X, Y = np.meshgrid(xs, ys)
    return xs, ys, problem.value(np.stack([X, Y], axis=-1))
