"""Chapter 5c (batch normalization): epsilon, noisy batch statistics, running variance, eval mode.

What eps does to a normalized feature in each format (:func:`eps_effect`, :func:`eps_shrinkage`),
how widely the batch variance scatters at small batch sizes (:func:`batch_variance_quantiles`),
the naive running variance against Welford/Chan (:func:`running_variance_stream`), and one input
normalized in training and in eval mode (:func:`train_eval_mismatch`).  Normalization is
:func:`numdl.norm.batch_norm`; running statistics are :class:`numdl.norm.RunningStats`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from numdl.norm import RunningBuffers, RunningStats, batch_norm
from numdl.tutorial.simulations._common import check_rng, sim_dtype

__all__ = [
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


def _eps_effect_of_draw(z: np.ndarray, feature_std: float, eps: float, dt: np.dtype,
                        offset: float) -> EpsEffect:
    """:func:`eps_effect` of the feature ``offset + feature_std * z`` (``z`` already drawn)."""
    x = (offset + feature_std * z).astype(dt)
    y, _ = batch_norm(x[:, None], None, None, eps=eps)
    x64 = x.astype(np.float64)
    var = float(np.mean((x64 - x64.mean()) ** 2))
    eps_stored = float(np.asarray(eps, dtype=np.float64).astype(dt))
    with np.errstate(divide="ignore"):
        scale = float(1.0 / np.sqrt(var + eps))
    return EpsEffect(dt.name, float(eps), eps_stored, x, y[:, 0], var, scale)


def _check_std(feature_std: float) -> float:
    if not feature_std >= 0:
        raise ValueError(f"feature_std={feature_std!r} must be >= 0")
    return float(feature_std)


def eps_effect(feature_std: float, eps: float, dtype: DTypeLike = "float32", *, batch: int = 32,
               offset: float = 0.5, rng: np.random.Generator) -> EpsEffect:
    """Normalize a feature ``offset + feature_std * N(0, 1)`` (``feature_std = 0``: constant).

    ``rng`` draws the ``batch`` values.  The batch is stored in ``dtype`` and passed to
    :func:`numdl.norm.batch_norm`, which adds eps in that dtype: in float16 an eps below about
    3e-8 rounds to 0, and a constant feature then gives 0/0 = nan.
    """
    dt = sim_dtype(dtype)
    feature_std = _check_std(feature_std)
    check_rng(rng)
    return _eps_effect_of_draw(rng.standard_normal(batch), feature_std, eps, dt, offset)


def eps_shrinkage(stds: ArrayLike, eps: float, dtype: DTypeLike = "float32", *, batch: int = 256,
                  rng: np.random.Generator) -> np.ndarray:
    """Output standard deviation of batch-normalized features of each standard deviation in ``stds``.

    One batch of ``N(0, 1)`` values is drawn from ``rng`` and every feature is ``0.5 + std *``
    that same draw (as :func:`eps_effect` builds it): the curve then shows what eps does alone,
    not the sampling noise of one batch per point, and it is monotone.  The ideal is 1, and eps
    shrinks it to ``sqrt(var / (var + eps))``: features whose variance is below eps are scaled
    down, not normalized.  Returns shape ``(len(stds),)``.
    """
    dt = sim_dtype(dtype)
    stds = [_check_std(float(s)) for s in np.atleast_1d(np.asarray(stds, dtype=np.float64))]
    check_rng(rng)
    z = rng.standard_normal(batch)
    return np.array([_eps_effect_of_draw(z, s, eps, dt, 0.5).output_std for s in stds])


_DISTRIBUTIONS: dict[str, tuple[Callable[[np.random.Generator, tuple[int, int]], np.ndarray], float]] = {
    "normal": (lambda rng, shape: rng.standard_normal(shape), 1.0),
    "uniform": (lambda rng, shape: rng.uniform(-1.0, 1.0, shape), 1.0 / 3.0),
    "heavy-tailed (Student t, 5 dof)": (lambda rng, shape: rng.standard_t(5, shape), 5.0 / 3.0),
}
DISTRIBUTIONS = tuple(_DISTRIBUTIONS)


def batch_variance_quantiles(sizes: Sequence[int], trials: int = 2000, dist: str = "normal", *,
                             qs: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
                             rng: np.random.Generator) -> np.ndarray:
    """Quantiles of the biased batch variance (what batch norm divides by), over the true variance.

    ``trials`` batches of each size are drawn from ``rng`` (one stream for all sizes).  Returns
    shape ``(len(sizes), len(qs))``.  For normal data the ratio follows ``chi2(B - 1) / B``: its
    mean is ``(B - 1)/B`` and its relative spread about ``sqrt(2 / (B - 1))``; heavy tails widen it.
    """
    if dist not in _DISTRIBUTIONS:
        raise ValueError(f"dist={dist!r}; choose one of {', '.join(_DISTRIBUTIONS)}")
    if trials < 1:
        raise ValueError(f"trials={trials!r} must be positive")
    for b in sizes:
        if int(b) < 2:
            raise ValueError(f"batch size {b!r} must be at least 2")
    check_rng(rng)
    draw, true_var = _DISTRIBUTIONS[dist]
    out = np.empty((len(sizes), len(qs)))
    for i, b in enumerate(sizes):
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
                            n_batches: int = 100, dtype: DTypeLike = "float32", *,
                            rng: np.random.Generator) -> VarianceStream:
    """Feed batches of ``offset + std * N(0, 1)`` (stored in ``dtype``) to two running variances.

    ``rng`` draws the ``(n_batches, batch)`` samples.  The naive running variance keeps the
    running sums of x and x**2 in ``dtype`` and returns
    ``E[x^2] - E[x]^2``: two numbers of size ``offset**2`` cancel to give one of
    size ``std**2``, losing ``log10(offset**2 / std**2)`` digits; in float16 the
    sum of squares also overflows.  :class:`numdl.norm.RunningStats` merges each
    batch's mean and squared deviations (Chan et al.), never forming
    ``offset**2``.  The exact value is the float64 two-pass variance of the same
    stored samples (relative error about ``(offset/std) * 1e-16``).
    """
    dt = sim_dtype(dtype)
    if batch < 1 or n_batches < 1:
        raise ValueError(f"batch={batch!r} and n_batches={n_batches!r} must be positive")
    check_rng(rng)
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
                        rng: np.random.Generator) -> TrainEval:
    """Train running statistics on ``N(3, 2^2)`` batches, then normalize a test input both ways.

    ``rng`` draws the training batches, then the test batches.  Training
    (:func:`numdl.norm.batch_norm`, PyTorch's running-average update
    with ``momentum``) sees batches of ``batch_size``.  The test data are
    ``N(3 + 2 * shift, 2^2)`` (``shift`` > 0: a distribution shift) and the test
    input is half a standard deviation above their mean.  In training mode its
    output depends on the rest of its batch: noisy for small batches, exactly
    +-1 (up to eps) for a batch of 2.  In eval mode it is fixed, but computed
    from the training distribution, so a shift moves it.
    """
    if batch_size < 2:
        raise ValueError(f"batch_size={batch_size!r}: training mode needs at least 2 values per "
                         "feature (the unbiased variance of one value divides by 0)")
    if trials < 1 or train_batches < 1:
        raise ValueError(f"trials={trials!r} and train_batches={train_batches!r} must be positive")
    check_rng(rng)
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
