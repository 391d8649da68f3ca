"""Small, tested simulations behind the tutorial's live experiments.

Each function computes one experiment of a chapter from its controls and
returns plain arrays and numbers; the notebook only draws them.  Keeping them
here means the figures quoted in the prose are computed by tested code.
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np

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

_DTYPES = {
    "float64": np.dtype(np.float64),
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}


def _dtype(dtype) -> np.dtype:
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype={dtype!r}; choose one of {', '.join(_DTYPES)}")
        return _DTYPES[dtype]
    dt = np.dtype(dtype)
    if dt not in _DTYPES.values():
        raise ValueError(f"dtype={dt.name!r}; choose one of {', '.join(_DTYPES)}")
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
