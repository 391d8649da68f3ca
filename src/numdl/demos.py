"""Small, tested simulations behind the tutorial's live experiments.

Each function computes one experiment of a chapter from its controls and
returns plain arrays and numbers; the notebook only draws them.  Keeping them
here means the figures quoted in the prose are computed by tested code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numdl import linalg
from numdl.floats import as_dtype
from numdl.init import INITS, init_std
from numdl.mixed_precision import dynamic_loss_scale_step

__all__ = [
    "SEQUENCES",
    "ExpInFormat",
    "ProductRun",
    "SensitiveSolve",
    "TrainingRun",
    "accumulation_errors",
    "activation_scales",
    "cancellation_errors",
    "exp_in_formats",
    "fraction_of_minima",
    "harmonic_orders",
    "make_sequence",
    "running_product",
    "sensitive_solve",
    "train_linear_regression",
]

# The formats these simulations train and compute in (fp8 has too little precision for them).
_DEMO_FORMATS = ("float64", "float32", "float16", "bfloat16")


def _dtype(dtype) -> np.dtype:
    """``numdl.floats.as_dtype``, restricted to the formats the demos support."""
    dt = as_dtype(dtype)
    if dt.name not in _DEMO_FORMATS:
        raise ValueError(f"dtype={dt.name!r}; choose one of {', '.join(_DEMO_FORMATS)}")
    return dt


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


def running_product(p: float, n: int, dtype="float32") -> ProductRun:
    """Multiply ``n`` copies of probability ``p`` one at a time in ``dtype``.

    Each partial product is rounded to ``dtype`` as a real program would do, so
    the run shows the length at which it underflows to 0 (gradually through the
    subnormals), next to the sum of logs, which never leaves range.
    """
    dt = _dtype(dtype)
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


def sensitive_solve(delta: float, rel_perturbation: float, *, rng: np.random.Generator) -> SensitiveSolve:
    """A = [[1, 1], [1, 1 + delta]]: the rows become parallel as delta -> 0.

    b is chosen so that x = (1, 1); then b is perturbed by ``rel_perturbation``
    in a random direction.  The relative change of x is bounded by cond(A) times
    the relative change of b, and the bound is nearly attained.
    """
    if not delta > 0:
        raise ValueError(f"delta={delta!r} must be positive")
    if not rel_perturbation > 0:
        raise ValueError(f"rel_perturbation={rel_perturbation!r} must be positive")
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
    orthogonal ensemble matrices that fraction falls like exp(-c dim^2), so in
    high dimensions almost every critical point is a saddle.
    """
    if dim < 1 or trials < 1:
        raise ValueError(f"dim={dim!r} and trials={trials!r} must be positive")
    g = rng.standard_normal((trials, dim, dim))
    h = (g + np.swapaxes(g, 1, 2)) / 2.0
    smallest = np.linalg.eigvalsh(h)[:, 0]
    return float(np.mean(smallest > 0))


def activation_scales(depth: int, gain: float, width: int = 64, dtype="float32", *,
                      rng: np.random.Generator) -> np.ndarray:
    """RMS of the activations after each of ``depth`` random linear layers, in ``dtype``.

    Weights are N(0, gain^2 / width): each layer multiplies the scale by about
    ``gain``, so after L layers it is gain^L: it explodes to inf or vanishes to 0
    in the narrow formats long before float64 notices.
    """
    dt = _dtype(dtype)
    if depth < 1 or width < 1:
        raise ValueError(f"depth={depth!r} and width={width!r} must be positive")
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


def train_linear_regression(dtype="float16", lr: float = 0.01, steps: int = 400, *,
                            rng: np.random.Generator) -> TrainingRun:
    """Fit y = X w with gradient descent, storing the weights in ``dtype``.

    The gradient is computed in float32, but each update is rounded into the
    stored weights.  The target weights are near 100, where float16's spacing is
    0.0625 and bfloat16's is 0.5: once lr * gradient is below half that spacing,
    w + update rounds back to w, and the loss stops falling although it is far
    from its minimum.  Nothing is NaN, nothing warns.
    """
    dt = _dtype(dtype)
    if not lr > 0:
        raise ValueError(f"lr={lr!r} must be positive")
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


@dataclass(frozen=True)
class ExpInFormat:
    """exp(x) in one format: the input as stored, what the format computes, the exact value."""

    dtype: str
    x_stored: float
    computed: float
    correctly_rounded: float
    exact_log10: float  # log10 of the true e^x (of the stored input), for scale

    @property
    def outcome(self) -> str:
        if np.isnan(self.x_stored):
            return "input not representable (nan)"
        if np.isnan(self.computed):
            return "nan (this format has no inf)"
        if np.isinf(self.computed):
            return "overflow to inf"
        if self.computed == 0:
            return "underflow to 0"
        return "finite"


def exp_in_formats(x: float, formats=None) -> list[ExpInFormat]:
    """Evaluate e^x in each format (float64 down to fp8), next to the correctly rounded value.

    The input is first rounded to the format (e4m3fn cannot even store 1000:
    it becomes NaN), then exp is computed by NumPy/ml_dtypes in that format and
    compared with the exact e^x of the stored input rounded once.
    """
    import mpmath

    from numdl.floats import FORMATS
    from numdl.reference import evaluate

    rows = []
    for dt in formats or FORMATS:
        dt = np.dtype(dt)
        stored = np.asarray(x, dtype=np.float64).astype(dt)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            computed = float(np.exp(stored))
        if np.isnan(float(stored)):
            rounded, log10 = float("nan"), float("nan")
        else:
            rounded = float(evaluate(mpmath.exp, stored))
            log10 = float(stored) / float(np.log(10.0))
        rows.append(ExpInFormat(dt.name, float(stored), computed, rounded, log10))
    return rows


def cancellation_errors(x, dtype="float64") -> dict[str, np.ndarray]:
    """ULP errors of the naive and the stable (1 - cos x) / x^2 at each x, in ``dtype``.

    The exact value comes from :mod:`numdl.reference` (mpmath on the exact binary
    inputs), so the plot shows real errors, not differences between two
    floating-point answers.
    """
    import mpmath

    from numdl import naive, stable
    from numdl.floats import as_dtype
    from numdl.reference import evaluate, ulp_error

    dt = as_dtype(dtype)
    xs = np.asarray(x, dtype=np.float64).astype(dt)
    def ratio(t):
        # The half-angle identity, evaluated in mpmath: written as 1 - cos t it
        # would cancel even at 146 bits once t is below about 1e-22.
        if t == 0:
            return mpmath.mpf(0.5)  # the limit
        return 2 * mpmath.sin(t / 2) ** 2 / (t * t)

    exact = evaluate(ratio, xs, rounded=False)
    return {
        "x": xs.astype(np.float64),
        "naive": np.asarray(ulp_error(naive.one_minus_cos_ratio(xs), exact), dtype=np.float64),
        "stable": np.asarray(ulp_error(stable.one_minus_cos_ratio(xs), exact), dtype=np.float64),
    }


SEQUENCES = ("0.1 repeated", "uniform [0, 1)", "±100 plus uniform [0, 1)")


def make_sequence(kind: str, n: int, dtype="float32", *, rng: np.random.Generator) -> np.ndarray:
    """Test sequences for summation: constant, random positive, and cancelling."""
    from numdl.floats import as_dtype

    dt = as_dtype(dtype)
    if kind == "0.1 repeated":
        x = np.full(n, 0.1)
    elif kind == "uniform [0, 1)":
        x = rng.random(n)
    elif kind == "±100 plus uniform [0, 1)":
        # Large terms that cancel in pairs hide a small positive drift: every
        # addition rounds at the scale of 100, the sum itself grows like n / 2.
        k = np.arange(n)
        x = np.where(k % 2 == 0, 100.0, -100.0) + rng.random(n)
    else:
        raise ValueError(f"kind={kind!r}; choose one of {', '.join(SEQUENCES)}")
    return x.astype(dt)


def accumulation_errors(kind: str, dtype, ns, methods=("naive", "pairwise", "kahan", "neumaier"),
                        *, seed: int = 0) -> dict[str, np.ndarray]:
    """Relative error of each summation method on the first n terms, for each n in ``ns``.

    The error is measured against the correctly rounded exact sum of the same
    (already rounded) terms, so it is the error of the summation alone.
    """
    from numdl.floats import summation
    from numdl.reference import exact_sum

    ns = [int(n) for n in ns]
    x = make_sequence(kind, max(ns), dtype, rng=np.random.default_rng(seed))
    out: dict[str, np.ndarray] = {}
    exacts = [float(exact_sum(x[:n])) for n in ns]
    for method in methods:
        errs = []
        for n, ex in zip(ns, exacts):
            got = float(summation(x[:n], method))
            errs.append(abs(got - ex) / abs(ex) if ex != 0 else abs(got))
        out[method] = np.array(errs)
    return out


def harmonic_orders(n: int, dtype="float32") -> dict[str, float]:
    """Sum 1/k for k = 1..n in ``dtype`` naively, largest terms first and smallest first.

    Returns each order's relative error against the exact sum of the same rounded
    terms: adding small terms first lets them accumulate before they meet the
    large running total, so it is more accurate.
    """
    from numdl.floats import as_dtype, summation
    from numdl.reference import exact_sum

    dt = as_dtype(dtype)
    if n < 1:
        raise ValueError(f"n={n!r} must be positive")
    terms = (1.0 / np.arange(1, n + 1)).astype(dt)
    exact = float(exact_sum(terms))
    result = {"exact": exact}
    for name, seq in (("largest first", terms), ("smallest first", terms[::-1].copy())):
        got = float(summation(seq, "naive"))
        result[name] = got
        result[name + " error"] = abs(got - exact) / exact
    return result


# ---------------------------------------------------------------------------------------------
# Chapter 2c: poor conditioning
# ---------------------------------------------------------------------------------------------


def _rotation(degrees: float) -> np.ndarray:
    t = np.deg2rad(degrees)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def _check_kappa(kappa) -> float:
    if not (np.isfinite(kappa) and kappa >= 1):
        raise ValueError(f"kappa={kappa!r} must be finite and >= 1")
    return float(kappa)


@dataclass(frozen=True)
class EllipseMap:
    """A 2x2 matrix, the unit circle and its image, and the SVD that explains the image."""

    matrix: np.ndarray  # (2, 2)
    circle: np.ndarray  # (2, k) points of the unit circle
    ellipse: np.ndarray  # (2, k) their images matrix @ circle
    u: np.ndarray  # (2, 2) left singular vectors, as columns: the ellipse's axes
    sigma: np.ndarray  # (2,) singular values, largest first: the semi-axes' lengths
    v: np.ndarray  # (2, 2) right singular vectors, as columns: the circle points mapped onto the axes

    @property
    def kappa(self) -> float:
        return float(self.sigma[0] / self.sigma[1])


def circle_to_ellipse(kappa: float, angle: float = 30.0, points: int = 361) -> EllipseMap:
    """``A = R(angle) diag(1, 1/kappa) R(angle - 75 deg)^T`` applied to the unit circle.

    Every matrix maps the unit circle to an ellipse: the right singular vector
    ``v_i`` lands on the semi-axis ``sigma_i u_i``.  The ratio of the longest to
    the shortest semi-axis is the condition number; the SVD is recomputed from
    the matrix (not read off the construction) so the figure shows what NumPy
    finds.
    """
    kappa = _check_kappa(kappa)
    if points < 3:
        raise ValueError(f"points={points!r} must be at least 3")
    a = _rotation(angle) @ np.diag([1.0, 1.0 / kappa]) @ _rotation(angle - 75.0).T
    t = np.linspace(0.0, 2.0 * np.pi, points)
    circle = np.vstack([np.cos(t), np.sin(t)])
    u, s, vt = np.linalg.svd(a)
    # Sign convention for the figure: each v_i points into the upper half-plane (u_i follows).
    flip = np.where(vt[:, 1] < 0, -1.0, 1.0)
    return EllipseMap(a, circle, a @ circle, u * flip, s, (vt * flip[:, None]).T)


@dataclass(frozen=True)
class AmplificationSweep:
    """Measured amplification ``(|dx|/|x|) / (|db|/|b|)`` of random perturbations of b."""

    kappas: np.ndarray  # (K,) requested condition numbers
    condition: np.ndarray  # (K,) condition numbers of the matrices as built
    amplification: np.ndarray  # (K, trials)
    rel_perturbation: float
    worst_case_x: bool


def amplification_sweep(kappas, rel_perturbation: float = 1e-10, trials: int = 200, *,
                        worst_case_x: bool = False, n: int = 2,
                        rng: np.random.Generator) -> AmplificationSweep:
    """Solve ``A x = b`` and ``A x' = b + db`` for random ``db`` of relative size ``rel_perturbation``.

    For each ``kappa`` a random ``n x n`` matrix with that condition number is
    built (:func:`numdl.linalg.matrix_with_condition`).  The relative change of
    x is at most ``kappa`` times the relative change of b; the bound is attained
    when x lies along the top right singular vector ``v_1`` (so ``|b| = sigma_1
    |x|`` is as large as possible) and db along the bottom left one ``u_n``.
    With ``worst_case_x`` x is ``v_1``, otherwise a random vector.  Both solves
    are real float64 solves, so for ``rel_perturbation`` near the unit roundoff
    their own rounding errors (also amplified by up to kappa) join the
    measurement.
    """
    from numdl.linalg import condition_number, matrix_with_condition

    if not rel_perturbation > 0:
        raise ValueError(f"rel_perturbation={rel_perturbation!r} must be positive")
    if trials < 1:
        raise ValueError(f"trials={trials!r} must be positive")
    kappas = np.asarray(kappas, dtype=np.float64)
    amp = np.empty((kappas.size, trials))
    cond = np.empty(kappas.size)
    for i, kappa in enumerate(kappas):
        a = matrix_with_condition(n, n, float(_check_kappa(kappa)), rng=rng)
        cond[i] = condition_number(a)
        x = np.linalg.svd(a)[2][0] if worst_case_x else rng.standard_normal(n)
        b = a @ x
        x0 = np.linalg.solve(a, b)
        db = rng.standard_normal((trials, n))  # (T, n) random directions
        db *= rel_perturbation * np.linalg.norm(b) / np.linalg.norm(db, axis=1, keepdims=True)
        x1 = np.linalg.solve(a, (b + db).T).T  # (T, n): one solve per perturbed b
        rel_x = np.linalg.norm(x1 - x0, axis=1) / np.linalg.norm(x0)
        amp[i] = rel_x / (np.linalg.norm(db, axis=1) / np.linalg.norm(b))
    return AmplificationSweep(kappas, cond, amp, float(rel_perturbation), bool(worst_case_x))


def _hilbert_inverse_exact(n: int) -> list[list[int]]:
    """The exact inverse of the n x n Hilbert matrix: integers (Choi 1983, eq. for (H^-1)_ij)."""
    from math import comb

    return [[(-1) ** (i + j) * (i + j - 1) * comb(n + i - 1, n - j) * comb(n + j - 1, n - i)
             * comb(i + j - 2, i - 1) ** 2 for j in range(1, n + 1)] for i in range(1, n + 1)]


@dataclass(frozen=True)
class HilbertRow:
    """Solving ``H_n x = H_n @ ones`` in float64, by LU solve and by the explicit inverse."""

    n: int
    kappa_exact: float  # of the exact Hilbert matrix
    kappa_computed: float  # numdl.linalg.condition_number of the rounded matrix, in float64
    error_solve: float  # |x - 1| / |1|, x = solve(H, b)
    error_inv: float  # the same for x = inv(H) @ b
    backward_solve: float  # |b - H x| / (|H| |x|), normwise backward error
    backward_inv: float

    @property
    def digits_lost(self) -> float:
        return float(np.log10(self.kappa_exact))


def hilbert_study(ns) -> list[HilbertRow]:
    """Condition numbers of Hilbert matrices and the accuracy of float64 solves with them.

    The exact condition number comes from the exact integer inverse:
    ``kappa = lambda_max(H) * lambda_max(H^-1)`` (H is symmetric positive
    definite), each largest eigenvalue computed in float64 to nearly full
    relative accuracy.  The computed condition number of the *rounded* matrix
    stops growing near ``1/u`` (n >= 13): its smallest singular value is lost in
    rounding noise of size ``u * |H|``.
    """
    from numdl.linalg import condition_number, hilbert

    rows = []
    for n in ns:
        n = int(n)
        h = hilbert(n)
        inv_exact = np.array(_hilbert_inverse_exact(n), dtype=np.float64)
        kappa = float(np.linalg.eigvalsh(h)[-1] * np.linalg.eigvalsh(inv_exact)[-1])
        ones = np.ones(n)
        b = h @ ones
        norm_h = np.linalg.norm(h, 2)
        with np.errstate(all="ignore"):
            x_solve = np.linalg.solve(h, b)
            x_inv = np.linalg.inv(h) @ b
        errs = [float(np.linalg.norm(x - ones) / np.linalg.norm(ones)) for x in (x_solve, x_inv)]
        back = [float(np.linalg.norm(b - h @ x) / (norm_h * np.linalg.norm(x))) for x in (x_solve, x_inv)]
        rows.append(HilbertRow(n, kappa, condition_number(h), errs[0], errs[1], back[0], back[1]))
    return rows


@dataclass(frozen=True)
class SolveVsInverse:
    """Forward and backward errors of ``solve(A, b)`` and ``inv(A) @ b`` against kappa."""

    kappas: np.ndarray  # (K,)
    error_solve: np.ndarray  # (K,) median relative forward error |x - x_true| / |x_true|
    error_inv: np.ndarray
    backward_solve: np.ndarray  # (K,) median |b - A x| / (|A| |x|)
    backward_inv: np.ndarray


def solve_vs_inverse(kappas, n: int = 50, repeats: int = 3, *,
                     rng: np.random.Generator) -> SolveVsInverse:
    """Median errors of LU ``solve`` and of the explicit inverse over ``repeats`` random systems.

    Both solutions have a forward error up to about ``kappa * u`` (the
    conditioning of the problem allows no better).  The difference is the
    backward error: LU with partial pivoting returns the exact solution of a
    system within a few ``u`` of yours, whatever kappa; ``inv(A) @ b`` does not,
    its residual grows like ``kappa * u`` (Higham 2002, section 14.1).
    """
    from numdl.linalg import matrix_with_condition

    kappas = np.asarray(kappas, dtype=np.float64)
    out = np.empty((4, kappas.size, repeats))
    for i, kappa in enumerate(kappas):
        for r in range(repeats):
            a = matrix_with_condition(n, n, float(_check_kappa(kappa)), rng=rng)
            x_true = rng.standard_normal(n)
            b = a @ x_true
            norm_a = np.linalg.norm(a, 2)
            for j, x in enumerate((np.linalg.solve(a, b), np.linalg.inv(a) @ b)):
                out[j, i, r] = np.linalg.norm(x - x_true) / np.linalg.norm(x_true)
                out[2 + j, i, r] = np.linalg.norm(b - a @ x) / (norm_a * np.linalg.norm(x))
    med = np.median(out, axis=2)
    return SolveVsInverse(kappas, med[0], med[1], med[2], med[3])


@dataclass(frozen=True)
class DescentRun:
    """Gradient descent (or Newton's method) on ``f(x) = x^T H x / 2`` from ``x0``."""

    kappa: float
    lr: float
    path: np.ndarray  # (steps + 1, 2) iterates, x0 first
    converged_at: int | None  # first k with |x_k| <= tol |x_0|, or None
    diverged: bool

    @property
    def hessian(self) -> np.ndarray:
        return quadratic_hessian(self.kappa)


def quadratic_hessian(kappa: float) -> np.ndarray:
    """The 2x2 Hessian with eigenvalues 1 and 1/kappa, its axes turned by 30 degrees."""
    kappa = _check_kappa(kappa)
    r = _rotation(30.0)
    return r @ np.diag([1.0, 1.0 / kappa]) @ r.T


def descend_quadratic(kappa: float, lr: float, steps: int = 200, *, tol: float = 1e-6,
                      newton: bool = False) -> DescentRun:
    """Run ``x <- x - lr * H x`` (or ``x <- x - lr * H^{-1} H x``, Newton) from ``x0 = (-2, 1.2)``.

    ``f(x) = x^T H x / 2`` has its minimum at 0 and Hessian H with eigenvalues
    ``L = 1`` and ``mu = 1/kappa``.  Along each eigenvector gradient descent
    multiplies the error by ``1 - lr * lambda``: it converges for ``0 < lr <
    2/L`` and at best (``lr = 2/(L + mu)``) shrinks the error by ``(kappa - 1) /
    (kappa + 1)`` per step, so it needs about ``kappa/2 * ln(1/tol)`` steps;
    Newton's step ``H^{-1} grad`` removes the curvature and lands on the
    minimum in one step (lr = 1).  Stops early once converged or diverged
    (``|x| > 1e6 |x0|``).
    """
    if not lr > 0:
        raise ValueError(f"lr={lr!r} must be positive")
    h = quadratic_hessian(kappa)
    x = np.array([-2.0, 1.2])
    norm0 = float(np.linalg.norm(x))
    path = [x]
    converged = None
    diverged = False
    for k in range(1, steps + 1):
        g = h @ x
        step = np.linalg.solve(h, g) if newton else g
        x = x - lr * step
        path.append(x)
        size = float(np.linalg.norm(x))
        if size <= tol * norm0:
            converged = k
            break
        if not np.isfinite(size) or size > 1e6 * norm0:
            diverged = True
            break
    return DescentRun(float(kappa), float(lr), np.array(path), converged, diverged)


def descent_iterations(kappas, rule: str = "optimal", *, tol: float = 1e-6,
                       max_steps: int = 100_000) -> np.ndarray:
    """Steps gradient descent needs on :func:`quadratic_hessian` (kappa) to shrink |x| by ``tol``.

    ``rule``: ``"optimal"`` (lr = 2/(L + mu)), ``"1/L"`` (lr = 1/L, the usual
    safe choice) or ``"newton"``.  All kappas run together as one batch of
    2-vectors, each iteration a plain gradient step; a kappa that does not
    converge within ``max_steps`` gets NaN.
    """
    rules = ("optimal", "1/L", "newton")
    if rule not in rules:
        raise ValueError(f"rule={rule!r}; choose one of {', '.join(rules)}")
    kappas = np.asarray(kappas, dtype=np.float64)
    if kappas.ndim != 1 or not np.all(np.isfinite(kappas) & (kappas >= 1)):
        raise ValueError("kappas must be a 1-D array of finite values >= 1")
    h = np.stack([quadratic_hessian(k) for k in kappas])  # (K, 2, 2)
    lr = {"optimal": 2.0 / (1.0 + 1.0 / kappas), "1/L": np.ones_like(kappas),
          "newton": np.ones_like(kappas)}[rule]
    x = np.tile([-2.0, 1.2], (kappas.size, 1))  # (K, 2)
    norm0 = np.linalg.norm(x[0])
    steps = np.full(kappas.size, np.nan)
    active = np.ones(kappas.size, dtype=bool)
    for k in range(1, max_steps + 1):
        g = np.einsum("kij,kj->ki", h[active], x[active])  # (K_active, 2) gradients H x
        if rule == "newton":
            g = np.linalg.solve(h[active], g[..., None])[..., 0]
        x[active] -= lr[active, None] * g
        done = active & (np.linalg.norm(x, axis=1) <= tol * norm0)
        steps[done] = k
        active &= ~done
        if not active.any():
            break
    return steps

__all__ += [
    "AmplificationSweep",
    "DescentRun",
    "EllipseMap",
    "HilbertRow",
    "SolveVsInverse",
    "amplification_sweep",
    "circle_to_ellipse",
    "descend_quadratic",
    "descent_iterations",
    "hilbert_study",
    "quadratic_hessian",
    "solve_vs_inverse",
]


# ---------------------------------------------------------------------------------------------
# Chapter 5b: linear least squares
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LstsqSweep:
    """Forward error of every :func:`numdl.linalg.lstsq` method against kappa."""

    dtype: str
    kappas: np.ndarray  # (K,) requested
    realized: np.ndarray  # (K,) median condition number of the stored X (float32 rounding moves it)
    errors: dict  # method -> (K,) median relative error |x - x_true| / |x_true| (NaN: failed)
    statuses: dict  # method -> list of K statuses (the worst over the repeats)
    truncated: dict  # method -> (K,) bool: a singular value was cut (rcond) in some repeat
    unit_roundoff: float

    def slope(self, method: str, *, lo_ulps: float = 100.0, hi: float = 0.1) -> float:
        """Fitted log-log slope of ``method``'s error against kappa, from ``lo_ulps * u`` up to
        ``hi``, leaving out truncated solves (their error is that of another problem)."""
        keep = ~self.truncated[method]
        return loglog_slope(self.realized[keep], self.errors[method][keep],
                            lo=lo_ulps * self.unit_roundoff, hi=hi)


_STATUS_RANK = {"success": 0, "ill_conditioned": 1, "rank_deficient": 2, "failed": 3}


def lstsq_sweep(kappas, dtype="float64", *, m: int = 100, n: int = 10, tan_theta: float = 0.0,
                repeats: int = 3, methods=None, seed: int = 0) -> LstsqSweep:
    """Solve :func:`numdl.linalg.least_squares_problem` at each kappa by each method; median of ``repeats``.

    A failed solve (Cholesky breaking down) counts as an infinite error in the
    median, so the median is NaN-free only where most repeats succeeded; its
    entry is then NaN.
    """
    from numdl.linalg import LSTSQ_METHODS, lstsq

    methods = tuple(methods or LSTSQ_METHODS)
    rng = np.random.default_rng(seed)
    kappas = np.asarray(kappas, dtype=np.float64)
    errs = {mth: np.empty((kappas.size, repeats)) for mth in methods}
    stats = {mth: [] for mth in methods}
    cut = {mth: np.zeros(kappas.size, dtype=bool) for mth in methods}
    realized = np.empty((kappas.size, repeats))
    u = 0.0
    for i, kappa in enumerate(kappas):
        worst = dict.fromkeys(methods, "success")
        for r in range(repeats):
            x, y, x_true = linalg.least_squares_problem(m, n, float(kappa), tan_theta=tan_theta,
                                                 dtype=dtype, rng=rng)
            for mth in methods:
                sol, diag = lstsq(x, y, method=mth)
                u = diag.unit_roundoff
                realized[i, r] = diag.kappa_estimate
                err = np.linalg.norm(sol.astype(np.float64) - x_true) / np.linalg.norm(x_true)
                errs[mth][i, r] = err if np.isfinite(err) else np.inf
                cut[mth][i] |= diag.truncated > 0
                if _STATUS_RANK[diag.status] > _STATUS_RANK[worst[mth]]:
                    worst[mth] = diag.status
        for mth in methods:
            stats[mth].append(worst[mth])
    med = {mth: np.median(e, axis=1) for mth, e in errs.items()}
    med = {mth: np.where(np.isfinite(e), e, np.nan) for mth, e in med.items()}
    return LstsqSweep(_dtype(dtype).name, kappas, np.median(realized, axis=1), med, stats, cut, u)


def loglog_slope(x, y, *, lo: float = 0.0, hi: float = np.inf) -> float:
    """Least-squares slope of ``log10 y`` against ``log10 x`` over the points with ``lo <= y <= hi``.

    Points with a non-finite or non-positive ``y`` are left out; NaN if fewer
    than three points remain (no slope worth quoting).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(y) & (y > 0) & (y >= lo) & (y <= hi) & (x > 0)
    if keep.sum() < 3:
        return float("nan")
    return float(np.polyfit(np.log10(x[keep]), np.log10(y[keep]), 1)[0])


def collinear_problem(m: int = 40, noise: float = 1e-12, *, rng: np.random.Generator):
    """Features ``a``, ``b`` and ``c = a + b + noise * e``: X is numerically rank 2 of 3.

    ``y = a + 2 b`` plus a small measurement error (1e-3).  The third singular
    value of X is about ``noise`` (times ``sqrt(m)``); a solver that keeps it
    must use huge, cancelling coefficients ``(1 - t, 2 - t, t)`` to fit the
    measurement error along ``e``, a truncating one (singular values below
    ``rcond * sigma_max`` dropped) returns the small minimum-norm solution.
    Returns ``(X, y)`` in float64.
    """
    if not noise >= 0:
        raise ValueError(f"noise={noise!r} must be >= 0")
    a = rng.standard_normal(m)
    b = rng.standard_normal(m)
    c = a + b + noise * rng.standard_normal(m)
    x = np.column_stack([a, b, c])  # (m, 3)
    y = a + 2.0 * b + 1e-3 * rng.standard_normal(m)
    return x, y


TRIANGULAR_VARIANTS = ("inv(R) @ Q.T @ y", "inv(R) @ (Q.T @ y)", "solve_triangular(R, Q.T @ y)")


@dataclass(frozen=True)
class TriangularStudy:
    """The last step of a QR least-squares solve done three ways (see :data:`TRIANGULAR_VARIANTS`)."""

    kappas: np.ndarray  # (K,)
    errors: dict  # variant -> (K,) median |x - x_true| / |x_true|
    backward: dict  # variant -> (K,) median |c - R x| / (|R| |x|), c = Q^T y


def qr_inverse_vs_triangular(kappas, dtype="float64", *, m: int = 100, n: int = 10,
                             repeats: int = 5, seed: int = 0) -> TriangularStudy:
    """``x`` from ``X = QR`` by the explicit inverse of R, or by back substitution.

    ``inv(R) @ Q.T @ y`` evaluates left to right: it forms ``inv(R) @ Q.T``, an
    explicit ``n x m`` pseudo-inverse of X, before touching y.  ``inv(R) @ (Q.T
    @ y)`` inverts only R.  Back substitution (``solve_triangular``) is backward
    stable: the computed x solves ``(R + dR) x = c`` with ``|dR| <= n u |R|``
    (Higham 2002, theorem 8.5), whatever kappa, and costs ``n**2`` flops against
    the ``n**3`` of an inverse.  The backward error is measured as the residual
    of ``R x = c`` relative to ``|R| |x|``, in float64.
    """
    import scipy.linalg

    rng = np.random.default_rng(seed)
    kappas = np.asarray(kappas, dtype=np.float64)
    errs = np.empty((3, kappas.size, repeats))
    back = np.empty((3, kappas.size, repeats))
    for i, kappa in enumerate(kappas):
        for r in range(repeats):
            x, y, x_true = linalg.least_squares_problem(m, n, float(kappa), dtype=dtype, rng=rng)
            q, rr = np.linalg.qr(x)
            c = q.T @ y
            r64, c64 = rr.astype(np.float64), c.astype(np.float64)
            norm_r = np.linalg.norm(r64, 2)
            sols = (np.linalg.inv(rr) @ q.T @ y, np.linalg.inv(rr) @ c,
                    scipy.linalg.solve_triangular(rr, c))
            for j, sol in enumerate(sols):
                s64 = sol.astype(np.float64)
                errs[j, i, r] = np.linalg.norm(s64 - x_true) / np.linalg.norm(x_true)
                back[j, i, r] = np.linalg.norm(c64 - r64 @ s64) / (norm_r * np.linalg.norm(s64))
    return TriangularStudy(
        kappas,
        {v: np.median(errs[j], axis=1) for j, v in enumerate(TRIANGULAR_VARIANTS)},
        {v: np.median(back[j], axis=1) for j, v in enumerate(TRIANGULAR_VARIANTS)},
    )

__all__ += [
    "TRIANGULAR_VARIANTS",
    "LstsqSweep",
    "TriangularStudy",
    "collinear_problem",
    "loglog_slope",
    "lstsq_sweep",
    "qr_inverse_vs_triangular",
]


# ---------------------------------------------------------------------------------------------
# Chapter 5c: batch normalization
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpsEffect:
    """One feature of a batch normalized by :func:`numdl.norm.batch_norm` with a given eps."""

    dtype: str
    eps: float  # as requested
    eps_stored: float  # eps rounded to dtype: what is actually added to the variance
    x: np.ndarray  # (B,) the feature as stored in dtype
    y: np.ndarray  # (B,) its normalized values, in dtype
    batch_var: float  # biased variance of the stored values (float64, two-pass)
    scale: float  # 1 / sqrt(batch_var + eps): how much the deviations are multiplied by

    @property
    def output_std(self) -> float:
        """Standard deviation of y; nan if y has a nan.  Ideally 1; eps makes it
        ``sqrt(var / (var + eps))``."""
        return float(np.std(self.y.astype(np.float64)))

    @property
    def has_nan(self) -> bool:
        return bool(np.isnan(self.y.astype(np.float64)).any())


def eps_effect(feature_std: float, eps: float, dtype="float32", *, batch: int = 32,
               offset: float = 0.5, seed: int = 0) -> EpsEffect:
    """Normalize a feature ``offset + feature_std * N(0, 1)`` (``feature_std = 0``: constant).

    The batch is stored in ``dtype`` and passed to :func:`numdl.norm.batch_norm`,
    which adds eps in that dtype: in float16 an eps below about 3e-8 rounds to 0,
    and a constant feature then gives 0/0 = nan.
    """
    from numdl.norm import batch_norm

    dt = _dtype(dtype)
    if not feature_std >= 0:
        raise ValueError(f"feature_std={feature_std!r} must be >= 0")
    rng = np.random.default_rng(seed)
    x = (offset + feature_std * rng.standard_normal(batch)).astype(dt)
    y, _ = batch_norm(x[:, None], None, None, eps=eps)
    x64 = x.astype(np.float64)
    var = float(np.mean((x64 - x64.mean()) ** 2))
    eps_stored = float(np.asarray(eps, dtype=np.float64).astype(dt))
    with np.errstate(divide="ignore"):
        scale = float(1.0 / np.sqrt(var + eps))
    return EpsEffect(dt.name, float(eps), eps_stored, x, y[:, 0], var, scale)


def eps_shrinkage(stds, eps: float, dtype="float32", *, batch: int = 256,
                  seed: int = 0) -> np.ndarray:
    """Output standard deviation of batch-normalized features of each standard deviation in ``stds``.

    Each is measured with :func:`eps_effect` on the same random draw; the ideal
    is 1, and eps shrinks it to ``sqrt(var / (var + eps))``: features whose
    variance is below eps are scaled down, not normalized.
    """
    return np.array([eps_effect(float(s), eps, dtype, batch=batch, seed=seed).output_std
                     for s in stds])


_DISTRIBUTIONS = {
    "normal": (lambda rng, shape: rng.standard_normal(shape), 1.0),
    "uniform": (lambda rng, shape: rng.uniform(-1.0, 1.0, shape), 1.0 / 3.0),
    "heavy-tailed (Student t, 5 dof)": (lambda rng, shape: rng.standard_t(5, shape), 5.0 / 3.0),
}
DISTRIBUTIONS = tuple(_DISTRIBUTIONS)


def batch_variance_quantiles(sizes, trials: int = 2000, dist: str = "normal", *,
                             qs=(0.05, 0.25, 0.5, 0.75, 0.95), seed: int = 0) -> np.ndarray:
    """Quantiles of the biased batch variance (what batch norm divides by), over the true variance.

    Returns shape ``(len(sizes), len(qs))``.  For normal data the ratio follows
    ``chi2(B - 1) / B``: its mean is ``(B - 1)/B`` and its relative spread
    about ``sqrt(2 / (B - 1))``; heavy tails widen it.
    """
    if dist not in _DISTRIBUTIONS:
        raise ValueError(f"dist={dist!r}; choose one of {', '.join(_DISTRIBUTIONS)}")
    draw, true_var = _DISTRIBUTIONS[dist]
    rng = np.random.default_rng(seed)
    out = np.empty((len(sizes), len(qs)))
    for i, b in enumerate(sizes):
        if int(b) < 2:
            raise ValueError(f"batch size {b!r} must be at least 2")
        x = draw(rng, (trials, int(b)))  # (T, B)
        var = np.var(x, axis=1)  # two-pass, biased: batch norm's statistic
        out[i] = np.quantile(var / true_var, qs)
    return out


@dataclass(frozen=True)
class VarianceStream:
    """Running variance of a stream of batches: naive sums, Welford/Chan, exact."""

    dtype: str
    counts: np.ndarray  # (K,) samples seen after each batch
    naive: np.ndarray  # (K,) S2/n - (S1/n)^2 with S1, S2 accumulated in dtype
    welford: np.ndarray  # (K,) numdl.norm.RunningStats.var
    exact: np.ndarray  # (K,) population variance of the stored samples, float64 two-pass
    state_dtype: str  # the dtype RunningStats keeps its state in


def running_variance_stream(offset: float, std: float = 1.0, batch: int = 64,
                            n_batches: int = 100, dtype="float32", *,
                            seed: int = 0) -> VarianceStream:
    """Feed batches of ``offset + std * N(0, 1)`` (stored in ``dtype``) to two running variances.

    The naive one keeps the running sums of x and x**2 in ``dtype`` and returns
    ``E[x^2] - E[x]^2``: two numbers of size ``offset**2`` cancel to give one of
    size ``std**2``, losing ``log10(offset**2 / std**2)`` digits; in float16 the
    sum of squares also overflows.  :class:`numdl.norm.RunningStats` merges each
    batch's mean and squared deviations (Chan et al.), never forming
    ``offset**2``.  The exact value is the float64 two-pass variance of the same
    stored samples (relative error about ``(offset/std) * 1e-16``).
    """
    from numdl.norm import RunningStats

    dt = _dtype(dtype)
    rng = np.random.default_rng(seed)
    data = (offset + std * rng.standard_normal((n_batches, batch))).astype(dt)
    stats = RunningStats()
    s1 = dt.type(0)
    s2 = dt.type(0)
    counts = np.arange(1, n_batches + 1) * batch
    naive = np.empty(n_batches)
    welford = np.empty(n_batches)
    exact = np.empty(n_batches)
    with np.errstate(over="ignore", invalid="ignore"):
        for k, b in enumerate(data):
            s1 = dt.type(s1 + np.sum(b, dtype=dt))
            s2 = dt.type(s2 + np.sum(b * b, dtype=dt))
            n = dt.type(counts[k])
            naive[k] = float(s2 / n - (s1 / n) ** 2)
            welford[k] = float(stats.update(b).var)
            seen = data[: k + 1].astype(np.float64).ravel()
            exact[k] = float(np.mean((seen - seen.mean()) ** 2))
    return VarianceStream(dt.name, counts, naive, welford, exact, np.asarray(stats.mean).dtype.name)


@dataclass(frozen=True)
class TrainEval:
    """One test input normalized in training mode (batch statistics) and in eval mode (running ones)."""

    x_star: float  # the test input
    train_outputs: np.ndarray  # (trials,) its output in random batches of the test data
    eval_output: float  # its output with the running statistics
    ideal_output: float  # (x_star - test mean) / test std: what the network was trained to see
    running_mean: float
    running_var: float


def train_eval_mismatch(batch_size: int, shift: float = 0.0, *, trials: int = 400,
                        train_batches: int = 300, momentum: float = 0.1,
                        seed: int = 0) -> TrainEval:
    """Train running statistics on ``N(3, 2^2)`` batches, then normalize a test input both ways.

    Training (:func:`numdl.norm.batch_norm`, PyTorch's running-average update
    with ``momentum``) sees batches of ``batch_size``.  The test data are
    ``N(3 + 2 * shift, 2^2)`` (``shift`` > 0: a distribution shift) and the test
    input is half a standard deviation above their mean.  In training mode its
    output depends on the rest of its batch: noisy for small batches, exactly
    +-1 (up to eps) for a batch of 2.  In eval mode it is fixed, but computed
    from the training distribution, so a shift moves it.
    """
    from numdl.norm import RunningBuffers, batch_norm

    if batch_size < 2:
        raise ValueError(f"batch_size={batch_size!r}: training mode needs at least 2 values per "
                         "feature (the unbiased variance of one value divides by 0)")
    rng = np.random.default_rng(seed)
    mu, sigma = 3.0, 2.0
    buffers = RunningBuffers.initial(1)
    for _ in range(train_batches):
        batch = mu + sigma * rng.standard_normal((batch_size, 1))
        batch_norm(batch, None, None, running=buffers, momentum=momentum)
    test_mu = mu + shift * sigma
    x_star = test_mu + 0.5 * sigma
    outs = np.empty(trials)
    for t in range(trials):
        batch = np.concatenate([[x_star], test_mu + sigma * rng.standard_normal(batch_size - 1)])
        outs[t] = batch_norm(batch[:, None], None, None)[0][0, 0]
    y_eval = batch_norm(np.array([[x_star]]), None, None, running=buffers, training=False)[0]
    return TrainEval(x_star, outs, float(y_eval[0, 0]), 0.5, float(buffers.mean[0]),
                     float(buffers.var[0]))

__all__ += [
    "DISTRIBUTIONS",
    "EpsEffect",
    "TrainEval",
    "VarianceStream",
    "batch_variance_quantiles",
    "eps_effect",
    "eps_shrinkage",
    "running_variance_stream",
    "train_eval_mismatch",
]


# ---------------------------------------------------------------------------------------------
# Chapters 3a-3c: gradient descent, critical points, Newton and quasi-Newton
# ---------------------------------------------------------------------------------------------
# The experiments of chapters 3a-3c.  The optimizers, problems and rates come from numdl.optim; these
# functions only run them the way a chapter shows them and measure what the prose quotes.


def contraction_per_step(errors, iterations=None, *, floor: float = 1e-13) -> float:
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

    problem: object  # numdl.optim.Problem
    rates: object  # numdl.optim.QuadraticRates
    lr: float
    result: object  # numdl.optim.OptimizeResult
    errors: np.ndarray  # ||x_k - x*|| at each row of result.trajectory
    factors: np.ndarray  # |1 - lr lambda_i|, lambda ascending
    predicted: float  # max |1 - lr lambda_i|: the asymptotic contraction per step
    measured: float  # contraction_per_step of the run
    regime: str


def gd_on_quadratic(kappa: float, lr: float, *, steps: int = 1000, tol: float = 1e-10,
                    rng: np.random.Generator | None = None) -> QuadraticGDRun:
    """Run gradient descent on ``x^T H x / 2`` with eigenvalues ``(1, kappa)`` and compare with theory.

    The quadratic is :func:`numdl.optim.problems.quadratic` (rotated by `rng` if given, so the
    valley is not aligned with an axis), started from its standard point; the run is
    :func:`numdl.optim.minimize` with ``method="gd"``.  The error along the eigenvector of
    ``lambda`` is multiplied by ``1 - lr lambda`` every step, so the predicted contraction is
    ``max |1 - lr lambda|`` and the measured one is :func:`contraction_per_step` of the errors.
    """
    from numdl.optim import minimize, quadratic_rates
    from numdl.optim.problems import quadratic

    if not lr > 0:
        raise ValueError(f"lr={lr!r} must be positive")
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


def exact_step_descent(problem, x0, n_steps: int) -> ExactStepRun:
    """Steepest descent with the step ``eps* = g^T g / g^T H g`` from the Hessian at each iterate.

    The second-order Taylor model ``f(x - eps g) ~ f(x) - eps g^T g + eps^2 g^T H g / 2`` is
    minimized by ``eps*`` (:func:`numdl.optim.optimal_gradient_step`); on a quadratic the model is
    exact, so this is steepest descent with an exact line search, the zigzag of Cauchy's method.
    Stops early when the gradient is 0 or ``g^T H g <= 0`` (no minimum along ``-g``).
    """
    from numdl.optim import optimal_gradient_step

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


def schedule_catalog(peak: float, steps: int) -> dict:
    """The learning-rate schedules of :mod:`numdl.optim.schedules`, each starting at (or warming
    up to) `peak` and set up for a run of `steps` updates.

    ``step`` drops by 10x at a third and two thirds of the run; ``exponential`` and
    ``inverse time`` end at 1% and 10% of `peak`; ``cosine`` anneals to 0; ``warmup + cosine``
    warms up linearly over the first 10%.
    """
    from numdl.optim import schedules as s

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


def noisy_descent(problem, x0, lr, steps: int, *, noise: float, runs: int = 1,
                  rng: np.random.Generator) -> np.ndarray:
    """Mean excess loss ``f(x_k) - f*`` over `runs` SGD runs whose gradients carry Gaussian noise.

    Each gradient is ``problem.gradient(x) + noise * N(0, I)``, the stand-in for a minibatch
    gradient; `lr` is a float or a schedule (:func:`numdl.optim.sgd`).  With a constant step the
    iterates settle into a cloud around the minimum whose mean excess loss grows with
    ``lr * noise^2``; a decaying schedule shrinks the cloud.  The runs are independent and
    advanced together (a batch of shape ``(runs, dim)``).  Returns ``steps + 1`` values (inf once
    a run overflows).
    """
    from numdl.optim import sgd

    if runs < 1 or steps < 0 or not noise >= 0:
        raise ValueError(f"runs={runs!r} must be >= 1, steps={steps!r} >= 0 and noise={noise!r} >= 0")
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
    # 10**(-4, -3.5, ..., 0) (tests/test_demos_optim.py re-runs the search).
    "rosenbrock": {"gd": -3.0, "momentum": -2.5, "nesterov": -3.0, "adagrad": 0.0, "rmsprop": -2.5,
                   "adam": -1.0},
    "beale": {"gd": -1.5, "momentum": -2.5, "nesterov": -2.5, "adagrad": 0.0, "rmsprop": -2.5,
              "adam": 0.0},
}


def optimizer_race(problem_name: str, methods=RACE_METHODS, *, steps: int = 2000,
                   lr_scale: float = 1.0) -> dict:
    """Run first-order methods from the same start on a 2-D problem, each at its tuned step.

    Each method's learning rate is ``lr_scale * 10**RACE_LR[problem_name][method]``.  Returns
    ``{method: OptimizeResult}`` (:func:`numdl.optim.minimize`, full trajectories).
    """
    from numdl.optim import minimize
    from numdl.optim.problems import PROBLEMS

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


def nearest_critical_point(problem, x):
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


def newton_cost(ns, *, repeats: int = 3, rng: np.random.Generator) -> NewtonCost:
    """Time one gradient, forming the Hessian and solving with it for each ``n`` in `ns`.

    Medians of `repeats` runs of :func:`time.perf_counter` intervals after one untimed warm-up
    call; a measurement, so it varies between machines and runs.
    """
    import time

    from numdl.optim import derivatives
    from numdl.optim.problems import rosenbrock

    ns = np.asarray(ns, dtype=np.int64)
    if ns.ndim != 1 or ns.size == 0 or np.any(ns < 2) or repeats < 1:
        raise ValueError(f"ns must be integers >= 2 (got {ns!r}) and repeats >= 1 (got {repeats!r})")

    def median_time(fn) -> float:
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


def power_law_fit(n, seconds, power: float) -> float:
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


__all__ += [
    "RACE_LR",
    "RACE_METHODS",
    "ExactStepRun",
    "NewtonCost",
    "QuadraticGDRun",
    "contraction_per_step",
    "exact_step_descent",
    "gd_on_quadratic",
    "nearest_critical_point",
    "newton_cost",
    "noisy_descent",
    "optimizer_race",
    "power_law_fit",
    "schedule_catalog",
    "state_floats",
]


def learning_rate_grid(problem_name: str, method: str, exponents, *, steps: int = 2000) -> np.ndarray:
    """Final ``f`` of ``method`` from ``problem.start`` after `steps` steps, for each
    ``lr = 10**e`` in `exponents` (``inf`` where the run diverged): the search behind
    :data:`RACE_LR`."""
    from numdl.optim import Status, minimize
    from numdl.optim.problems import PROBLEMS

    problem = PROBLEMS[problem_name]()
    out = []
    for e in np.asarray(exponents, dtype=np.float64):
        res = minimize(problem, problem.start, method=method, lr=float(10.0**e), max_iter=int(steps))
        out.append(np.inf if res.status is Status.DIVERGED else res.fun)
    return np.array(out)


def grid_values(problem, box=None, points: int = 121):
    """``(xs, ys, Z)`` for a contour or surface plot of a 2-D problem: ``Z[i, j] = f(xs[j], ys[i])``
    on a `points` x `points` grid over `box` (default ``problem.box``)."""
    if problem.dim != 2:
        raise ValueError(f"grid_values needs a 2-D problem, {problem.name} has dim={problem.dim}")
    (x0, x1), (y0, y1) = problem.box if box is None else box
    xs, ys = np.linspace(x0, x1, points), np.linspace(y0, y1, points)
    X, Y = np.meshgrid(xs, ys)
    return xs, ys, problem.value(np.stack([X, Y], axis=-1))


__all__ += ["grid_values", "learning_rate_grid"]


def local_kind(f, x, *, radius: float = 1e-2, points: int = 720) -> str:
    """What a 2-D function does around `x`, judged by sampling ``f`` on a small circle.

    ``"minimum"`` if ``f`` is above ``f(x)`` at every sampled point, ``"maximum"`` if below,
    ``"saddle"`` if both occur (the point is neither), ``"flat"`` if ``f`` does not change.  Not a
    proof, but it needs no Hessian, so it settles the cases where the second-derivative test is
    inconclusive (``x^2 + y^4``, ``x^2 + y^3``, the monkey saddle), for radii small enough that no
    other critical point is inside the circle.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (2,) or not radius > 0 or points < 4:
        raise ValueError(f"x must have shape (2,) (got {x.shape}), radius > 0 and points >= 4")
    t = np.linspace(0.0, 2 * np.pi, int(points), endpoint=False)
    ring = x + radius * np.stack([np.cos(t), np.sin(t)], axis=-1)  # (points, 2)
    d = np.asarray(f(ring), dtype=np.float64) - float(f(x))
    up, down = bool(np.any(d > 0)), bool(np.any(d < 0))
    return "saddle" if up and down else "minimum" if up else "maximum" if down else "flat"


__all__ += ["local_kind"]


# -- chapter 6: best practices and debugging ------------------------------------------------

ACTIVATIONS = ("tanh", "relu")


@dataclass(frozen=True)
class SignalScales:
    """Per-layer standard deviations of a deep MLP's activations and weight gradients.

    ``activation_std[l]`` and ``gradient_std[l]`` belong to layer ``l + 1``; a value that
    overflowed is ``inf`` (or ``nan``), one that vanished is 0.
    """

    depth: int
    activation: str
    init: str
    weight_std: float
    activation_std: np.ndarray  # (depth,)
    gradient_std: np.ndarray  # (depth,)


def mlp_signal_scales(depth: int, activation: str = "tanh", init: str = "xavier", *, width: int = 128,
                      batch: int = 64, dtype="float32", rng: np.random.Generator) -> SignalScales:
    """Forward and backward through ``depth`` square layers ``h = act(h W)``; the std at each layer.

    Inputs are N(0, 1).  The backward pass starts from a N(0, 1) cotangent on the last
    activation (the gradient of a random linear loss), and ``gradient_std[l]`` is the std of
    the gradient of that loss with respect to layer ``l + 1``'s weights: the numbers an
    optimizer would receive.  With N(0, 1) weights the pre-activations have std ~ sqrt(width):
    ReLU activations explode (by sqrt(width / 2) per layer) and tanh saturates, so its
    derivative, and with it the gradient, vanishes.  Overflow is allowed to happen (``inf``).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is not one of {ACTIVATIONS}")
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    dt = _dtype(dtype)
    std = init_std(init, width, width)
    weights = [(rng.standard_normal((width, width)) * std).astype(dt) for _ in range(depth)]
    h = rng.standard_normal((batch, width)).astype(dt)
    inputs, pre = [], []  # each layer's input h and pre-activation a, for the backward pass
    act_std = np.empty(depth)
    with np.errstate(all="ignore"):  # overflow to inf is what this experiment shows
        for layer, w in enumerate(weights):
            inputs.append(h)
            a = h @ w  # (B, W)
            pre.append(a)
            h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0)
            act_std[layer] = float(np.std(h.astype(np.float64)))
        g = rng.standard_normal(h.shape).astype(dt)  # dL/dh at the output
        grad_std = np.empty(depth)
        for layer in reversed(range(depth)):
            a = pre[layer]
            # dL/da = dL/dh * act'(a); tanh' = 1 - tanh^2, relu' = [a > 0]
            da = g * (1 - np.tanh(a) ** 2) if activation == "tanh" else g * (a > 0)
            grad_std[layer] = float(np.std((inputs[layer].T @ da).astype(np.float64)))  # dL/dW
            g = da @ weights[layer].T
    return SignalScales(depth, activation, init, std, act_std, grad_std)


@dataclass(frozen=True)
class ThresholdSearch:
    """Where a function of one scale stops being finite, found by doubling and then halving.

    ``doublings`` lists the scales tried while doubling (the last is the first non-finite one);
    ``last_finite`` and ``first_nonfinite`` bracket the threshold after ``bisections`` halvings.
    """

    doublings: tuple[float, ...]
    last_finite: float
    first_nonfinite: float
    bisections: int
    found: bool


def nonfinite_threshold(f, start: float = 1.0, *, max_doublings: int = 2100,
                        bisections: int = 60) -> ThresholdSearch:
    """Double ``s`` from ``start`` until ``f(s)`` is not finite, then bisect the bracket.

    ``f(s)`` is an array or scalar; "not finite" means any entry is NaN or inf.  Doubling finds
    the order of magnitude in log2(threshold / start) steps, bisection the threshold to
    ``bisections`` halvings of the bracket: the debugging technique of scaling an input until
    a computation breaks, automated.
    """
    if not start > 0:
        raise ValueError(f"start must be > 0, got {start}")

    def ok(s):
        with np.errstate(all="ignore"):
            return bool(np.all(np.isfinite(np.asarray(f(s), dtype=np.float64))))

    if not ok(start):
        return ThresholdSearch((start,), 0.0, start, 0, False)
    tried, lo = [start], start
    for _ in range(max_doublings):
        hi = lo * 2
        tried.append(hi)
        if not ok(hi):
            break
        lo = hi
    else:
        return ThresholdSearch(tuple(tried), lo, np.inf, 0, False)
    for _ in range(bisections):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return ThresholdSearch(tuple(tried), lo, hi, bisections, True)


def first_nonfinite_layer(activations) -> int | None:
    """Index of the first array in ``activations`` with a NaN or infinite entry, or None.

    Tests every entry (``np.isfinite``), never a sum: the sum of finite float16 values can
    overflow, and a sum of +inf and -inf is NaN either way.
    """
    for i, a in enumerate(activations):
        if not np.all(np.isfinite(np.asarray(a))):
            return i
    return None


__all__ += ["ACTIVATIONS", "SignalScales", "ThresholdSearch",
            "first_nonfinite_layer", "mlp_signal_scales",
            "nonfinite_threshold"]


# ---------------------------------------------------------------------------------------------
# Chapter 7: mixed precision
# ---------------------------------------------------------------------------------------------

MP_FORMATS = ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2")


@dataclass(frozen=True)
class FormatFractions:
    """Of the nonzero finite values: the fractions that flush to 0, become subnormal, overflow."""

    format: str
    underflow: float
    subnormal: float
    overflow: float


def format_fractions(values, fmt: str) -> FormatFractions:
    """Round the nonzero finite ``values`` into ``fmt`` and count what happens to them.

    ``underflow``: rounded to 0; ``subnormal``: nonzero but below the smallest normal;
    ``overflow``: rounded to +-inf (or to NaN in float8_e4m3fn, which has no infinity).
    """
    from numdl.floats import format_info

    info = format_info(fmt)
    v = np.asarray(values, dtype=np.float32).ravel()
    v = v[np.isfinite(v) & (v != 0)]
    if v.size == 0:
        return FormatFractions(fmt, 0.0, 0.0, 0.0)
    with np.errstate(all="ignore"):
        r = np.abs(v.astype(info.dtype).astype(np.float64))
    over = ~np.isfinite(r)
    zero = r == 0
    sub = (r > 0) & (r < info.smallest_normal)
    n = v.size
    return FormatFractions(fmt, float(zero.sum() / n), float(sub.sum() / n), float(over.sum() / n))


def mlp_values(*, batch: int = 512, rng: np.random.Generator) -> dict:
    """Activations and gradients of one float32 step of a 3-layer ReLU MLP (NumPy).

    Inputs are raw pixel-like values in [0, 255] (not normalized), He-initialized layers
    64 -> 128 -> 128 -> 10, softmax cross-entropy averaged over the batch.  Returns
    ``{layer: {"activations": array, "gradients": array}}`` where the gradients are those of the
    loss with respect to the layer's output (what the backward pass stores).
    """
    sizes = (64, 128, 128, 10)
    x = rng.uniform(0, 255, (batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    ws = []
    for i in range(len(sizes) - 1):
        a, b = sizes[i], sizes[i + 1]
        gain = 4 / 255 if i == 0 else 1.0  # the first layer sees inputs of size ~255
        ws.append((rng.standard_normal((a, b)) * np.sqrt(2 / a) * gain).astype(np.float32))
    pre, acts, h = [], [x], x
    for i, w in enumerate(ws):
        z = h @ w
        pre.append(z)
        h = np.maximum(z, 0) if i < len(ws) - 1 else z
        acts.append(h)
    z = acts[-1] - acts[-1].max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    g = p.copy()
    g[np.arange(batch), y] -= 1
    g /= batch
    grads = [None] * len(ws)
    grads[-1] = g.astype(np.float32)
    for i in range(len(ws) - 1, 0, -1):
        gh = grads[i] @ ws[i].T
        grads[i - 1] = (gh * (pre[i - 1] > 0)).astype(np.float32)
    names = ["input", "layer 1", "layer 2", "logits"]
    out = {"input": {"activations": x, "gradients": None}}
    for k in range(1, 4):
        out[names[k]] = {"activations": acts[k], "gradients": grads[k - 1]}
    return out


@dataclass(frozen=True)
class LossScaleRun:
    """A float16-gradient training run.

    ``loss`` (per step, before the update; NaN once the weights are), ``scale`` used at each
    step, ``skipped`` (bool per step), ``zero_fraction`` (of the float16 gradient entries flushed
    to zero where the float32 value was not) and ``overflowed`` (a float16 gradient was inf/nan).
    """

    mode: str
    loss: np.ndarray
    scale: np.ndarray
    skipped: np.ndarray
    zero_fraction: np.ndarray
    overflowed: np.ndarray

    @property
    def n_skipped(self) -> int:
        return int(self.skipped.sum())

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])


LOSS_SCALE_MODES = ("float32", "none", "static", "dynamic")


def fp16_loss_scaling_run(mode: str, *, steps: int = 200, static_scale: float = 2.0**10,
                          init_scale: float = 2.0**15, growth_interval: int = 25, lr: float = 0.05,
                          n: int = 16384, d: int = 16, noise: float = 1e-6, seed: int = 7) -> LossScaleRun:
    """Linear least squares whose backward pass is stored in float16, with loss scaling.

    The loss is the mean of squared residuals over ``n`` examples, so the gradient with respect
    to each prediction, ``S * 2 r / n``, is tiny; it is rounded to float16 (values below 2^-25
    flush to zero), the weight gradient ``X^T g`` is computed from it and rounded to float16 (where
    it can overflow), then unscaled and applied to float32 master weights.  Modes: ``"float32"``
    (no rounding, the reference), ``"none"`` (S = 1), ``"static"`` (S = ``static_scale``; an
    overflow is applied as is, so inf reaches the weights) and ``"dynamic"`` (start at
    ``init_scale``, skip the step and halve on inf/nan, double after ``growth_interval`` good
    steps: :func:`numdl.mixed_precision.dynamic_loss_scale_step`).
    """
    if mode not in LOSS_SCALE_MODES:
        raise ValueError(f"mode={mode!r} must be one of {LOSS_SCALE_MODES}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    w_true = rng.standard_normal(d).astype(np.float32) * 3
    y = (x @ w_true + noise * rng.standard_normal(n)).astype(np.float32)
    w = np.zeros(d, np.float32)
    scale = {"float32": 1.0, "none": 1.0, "static": float(static_scale), "dynamic": float(init_scale)}[mode]
    good = 0
    losses, scales, skipped, zeros, over = [], [], [], [], []
    with np.errstate(all="ignore"):
        for _ in range(steps):
            r = x @ w - y
            losses.append(float(np.mean(r.astype(np.float64) ** 2)))
            scales.append(scale)
            g32 = (np.float32(2 * scale / n) * r).astype(np.float32)
            if mode == "float32":
                gw = x.T @ g32
                zeros.append(0.0)
                over.append(False)
            else:
                g16 = g32.astype(np.float16)
                nz = g32 != 0
                zeros.append(float(np.mean(g16[nz] == 0)) if nz.any() else 0.0)
                gw16 = (x.T @ g16.astype(np.float32)).astype(np.float16)
                over.append(not bool(np.all(np.isfinite(gw16)) and np.all(np.isfinite(g16))))
                gw = gw16.astype(np.float32) / np.float32(scale)
            apply = True
            if mode == "dynamic":
                apply, scale, good = dynamic_loss_scale_step(not over[-1], scale, good,
                                                             growth_interval=growth_interval)
            skipped.append(not apply)
            if apply:
                w = (w - np.float32(lr) * gw).astype(np.float32)
    return LossScaleRun(mode, np.array(losses), np.array(scales), np.array(skipped), np.array(zeros),
                        np.array(over))


def bf16_vs_fp16_examples() -> list[dict]:
    """Computed cases where bfloat16 or float16 is the better 16-bit format.

    Each row: ``case``, the exact (float64) value, its float16 and bfloat16 results, and which
    format got it right.
    """
    import ml_dtypes

    from numdl.floats import format_info, ulp

    f16, bf16 = np.float16, ml_dtypes.bfloat16
    i16, ib16 = format_info("float16"), format_info("bfloat16")

    def both(fn):
        with np.errstate(all="ignore"):
            return float(fn(f16)), float(fn(bf16))

    rows = []

    def add(case, exact, fn, better, why):
        a, b = both(fn)
        rows.append({"case": case, "exact": exact, "float16": a, "bfloat16": b, "better": better,
                     "why": why})

    add("exp(12)", float(np.exp(12.0)), lambda t: np.exp(np.array(12.0, np.float32)).astype(t),
        "bfloat16", f"above float16's max {i16.max:g}")
    add("300 * 300", 90000.0, lambda t: (np.array(300, t).astype(np.float32) ** 2).astype(t),
        "bfloat16", "a square overflows float16")
    add("gradient 1e-8", 1e-8, lambda t: np.array(1e-8, np.float32).astype(t), "bfloat16",
        f"below half float16's smallest subnormal ({i16.smallest_subnormal:.3g}): flushed to 0")
    add("gradient 1e-6", 1e-6, lambda t: np.array(1e-6, np.float32).astype(t), "bfloat16",
        f"subnormal in float16 (below {i16.smallest_normal:.3g}): few significant bits")
    add("1 + 1/256", 1 + 1 / 256, lambda t: np.array(1, t) + np.array(1 / 256, t), "float16",
        f"bfloat16 has {ib16.precision} significand bits: eps = {ib16.eps:g}")
    add("1000 + 3", 1003.0, lambda t: np.array(1000, t) + np.array(3, t), "float16",
        f"bfloat16's spacing near 1000 is {float(ulp(1000.0, 'bfloat16')):g}")
    add("0.1", 0.1, lambda t: np.array(0.1, np.float32).astype(t), "float16",
        f"relative error at most eps/2: {i16.eps / 2:.3g} against {ib16.eps / 2:.3g}")
    return rows


__all__ += ["LOSS_SCALE_MODES", "MP_FORMATS", "FormatFractions", "LossScaleRun", "bf16_vs_fp16_examples",
            "format_fractions", "fp16_loss_scaling_run", "mlp_values"]
