"""Chapter 1 (why numerical computation matters): the four failures the chapter opens with.

A product of probabilities underflowing to 0 (:func:`running_product`), a nearly singular solve
amplifying a tiny change of its input (:func:`sensitive_solve`), random critical points being
saddles (:func:`fraction_of_minima`, also chapter 3b's), activations exploding or vanishing
through depth (:func:`activation_scales`), and training that stalls silently because its updates
round away in float16 (:func:`train_linear_regression`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike

from numdl.tutorial.simulations._common import check_rng, sim_dtype

__all__ = [
    "ProductRun",
    "SensitiveSolve",
    "TrainingRun",
    "activation_scales",
    "fraction_of_minima",
    "running_product",
    "sensitive_solve",
    "train_linear_regression",
]


@dataclass(frozen=True)
class ProductRun:
    """The probability of a growing sequence, multiplied directly and summed in logs."""

    dtype: str
    product: np.ndarray  # running product p^k computed in dtype, k = 1..n
    log_sum: np.ndarray  # running sum of log p in float64 (natural log)
    underflow_at: int | None  # first length whose product is exactly 0, or None

    @property
    def log10_product(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log10(self.product.astype(np.float64))


def running_product(p: float, n: int, dtype: DTypeLike = "float32") -> ProductRun:
    """Multiply ``n`` copies of probability ``p`` one at a time in ``dtype``.

    Each partial product is rounded to ``dtype`` as a real program would do, so
    the run shows the length at which it underflows to 0 (gradually through the
    subnormals), next to the sum of logs, which never leaves range.
    """
    dt = sim_dtype(dtype)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p={p!r} must be in (0, 1]")
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise ValueError(f"n={n!r} must be a positive integer")
    factors = np.full(int(n), p, dtype=dt)
    product = np.multiply.accumulate(factors, dtype=dt)  # sequential: one rounding per step
    log_sum = np.cumsum(np.full(int(n), np.log(float(factors[0]))))
    zeros = np.flatnonzero(product == 0)
    return ProductRun(dt.name, product, log_sum, int(zeros[0]) + 1 if zeros.size else None)


@dataclass(frozen=True)
class SensitiveSolve:
    """Solving A x = b and A x' = b + db for a nearly singular 2x2 A."""

    condition: float
    x: np.ndarray
    x_perturbed: np.ndarray
    rel_change_b: float
    rel_change_x: float

    @property
    def amplification(self) -> float:
        return self.rel_change_x / self.rel_change_b


def sensitive_solve(delta: float, rel_perturbation: float, *,
                    rng: np.random.Generator) -> SensitiveSolve:
    """A = [[1, 1], [1, 1 + delta]]: the rows become parallel as delta -> 0.

    b is chosen so that x = (1, 1); then b is perturbed by ``rel_perturbation``
    in a random direction (drawn from ``rng``).  The relative change of x is
    bounded by cond(A) times the relative change of b, and the bound is nearly
    attained.
    """
    if not delta > 0:
        raise ValueError(f"delta={delta!r} must be positive")
    if not rel_perturbation > 0:
        raise ValueError(f"rel_perturbation={rel_perturbation!r} must be positive")
    check_rng(rng)
    a = np.array([[1.0, 1.0], [1.0, 1.0 + delta]])
    x = np.array([1.0, 1.0])
    b = a @ x
    direction = rng.standard_normal(2)
    db = rel_perturbation * np.linalg.norm(b) * direction / np.linalg.norm(direction)
    x_solved = np.linalg.solve(a, b)
    x_pert = np.linalg.solve(a, b + db)
    rel_b = float(np.linalg.norm(db) / np.linalg.norm(b))
    rel_x = float(np.linalg.norm(x_pert - x_solved) / np.linalg.norm(x_solved))
    return SensitiveSolve(float(np.linalg.cond(a)), x_solved, x_pert, rel_b, rel_x)


def fraction_of_minima(dim: int, trials: int, *, rng: np.random.Generator) -> float:
    """Fraction of random symmetric "Hessians" whose eigenvalues are all positive.

    A critical point of a random landscape in ``dim`` dimensions is a minimum
    only if every eigenvalue of its Hessian is positive; for Gaussian
    orthogonal ensemble matrices (drawn from ``rng``) that fraction falls like
    exp(-c dim^2), so in high dimensions almost every critical point is a saddle.
    """
    if dim < 1 or trials < 1:
        raise ValueError(f"dim={dim!r} and trials={trials!r} must be positive")
    check_rng(rng)
    g = rng.standard_normal((trials, dim, dim))
    h = (g + np.swapaxes(g, 1, 2)) / 2.0
    smallest = np.linalg.eigvalsh(h)[:, 0]
    return float(np.mean(smallest > 0))


def activation_scales(depth: int, gain: float, width: int = 64, dtype: DTypeLike = "float32", *,
                      rng: np.random.Generator) -> np.ndarray:
    """RMS of the activations after each of ``depth`` random linear layers, in ``dtype``.

    Weights are N(0, gain^2 / width) (drawn from ``rng``, like the input): each
    layer multiplies the scale by about ``gain``, so after L layers it is gain^L:
    it explodes to inf or vanishes to 0 in the narrow formats long before float64
    notices.  Returns shape ``(depth,)``.
    """
    dt = sim_dtype(dtype)
    if depth < 1 or width < 1:
        raise ValueError(f"depth={depth!r} and width={width!r} must be positive")
    check_rng(rng)
    h = rng.standard_normal(width).astype(dt)
    scales = np.empty(depth)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for layer in range(depth):
            w = (rng.standard_normal((width, width)) * (gain / np.sqrt(width))).astype(dt)
            h = (w @ h).astype(dt)
            scales[layer] = float(np.sqrt(np.mean(np.square(h.astype(np.float64)))))
    return scales


@dataclass(frozen=True)
class TrainingRun:
    """Loss per step of gradient descent with weights stored in one dtype."""

    dtype: str
    losses: np.ndarray
    lost_updates: np.ndarray  # per step: fraction of weights whose update rounded away
    weights: np.ndarray

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])


def train_linear_regression(dtype: DTypeLike = "float16", lr: float = 0.01, steps: int = 400, *,
                            rng: np.random.Generator) -> TrainingRun:
    """Fit y = X w with gradient descent, storing the weights in ``dtype``.

    ``rng`` draws X and the target weights.  The gradient is computed in
    float32, but each update is rounded into the stored weights.  The target
    weights are near 100, where float16's spacing is 0.0625 and bfloat16's is
    0.5: once lr * gradient is below half that spacing, w + update rounds back
    to w, and the loss stops falling although it is far from its minimum.
    Nothing is NaN, nothing warns.
    """
    dt = sim_dtype(dtype)
    if not lr > 0:
        raise ValueError(f"lr={lr!r} must be positive")
    if not (isinstance(steps, int | np.integer) and steps >= 1):
        raise ValueError(f"steps={steps!r} must be a positive integer")
    check_rng(rng)
    n, d = 256, 8
    x = rng.standard_normal((n, d)).astype(np.float32)
    w_true = (100.0 + 10.0 * rng.standard_normal(d)).astype(np.float32)
    y = x @ w_true
    w = np.full(d, 90.0, dtype=dt)
    losses = np.empty(steps)
    lost = np.empty(steps)
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps):
            w32 = w.astype(np.float32)
            residual = x @ w32 - y
            losses[step] = float(np.mean(residual.astype(np.float64) ** 2))
            grad = (2.0 / n) * (x.T @ residual)
            update = (lr * grad).astype(np.float32)
            new_w = (w32 - update).astype(dt)
            lost[step] = float(np.mean((new_w == w) & (update != 0)))
            w = new_w
    return TrainingRun(dt.name, losses, lost, w.astype(np.float64))
