"""Textbook formulas, exactly as written on the board, kept to show how they fail.

Nothing here is for use in real code: each function is the direct transcription
of a formula, and its docstring says which inputs break it.  The stable
versions live in :mod:`numdl.stable` and :mod:`numdl.losses`; the tutorial puts
the two side by side.  Every function computes in its input's dtype (float16 in
float16), as code written from the formula does, and silences NumPy's warnings
so that the failure shows in the values.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "binary_cross_entropy",
    "cross_entropy",
    "cross_entropy_probabilities",
    "log1mexp",
    "log_of_product",
    "log_sigmoid",
    "log_softmax",
    "logaddexp",
    "logsumexp",
    "logsumexp_max_shift",
    "one_minus_cos_ratio",
    "sigmoid",
    "sigmoid_ratio",
    "softmax",
    "softmax_max_shift",
    "softplus",
]


def _floats(x: ArrayLike) -> np.ndarray:
    x = np.asarray(x)
    return x.astype(np.float64) if x.dtype.kind in "iub" else x


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j), with no shift.

    Fails: exp overflows to inf once x exceeds the dtype's exp threshold
    (about 709.8 in float64, 88.7 in float32, 11.1 in float16), and inf / inf is
    nan; when every x_i is below about -745 (float64) every exp underflows to 0
    and 0 / 0 is nan.
    """
    x = np.asarray(x)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(x)
        return e / np.sum(e, axis=axis, keepdims=True)


def log_of_product(p: ArrayLike, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """log(prod_i p_i), multiplying first.

    Fails: the product of many probabilities underflows to 0 (0.01^400 = 1e-800)
    and log(0) = -inf, although the sum of the logs is an ordinary number.
    """
    p = np.asarray(p)
    with np.errstate(under="ignore", divide="ignore"):
        return np.log(np.prod(p, axis=axis))


def one_minus_cos_ratio(x: ArrayLike) -> np.ndarray:
    """(1 - cos x) / x^2, as written.

    Fails: for |x| below about sqrt(eps) (1.5e-8 in float64, 3.5e-4 in float32)
    cos x rounds to 1 and the numerator cancels to exactly 0, although the true
    value is close to 1/2; somewhat larger x keep only a few correct digits
    (catastrophic cancellation: the subtraction exposes the rounding error of cos).
    x = 0 gives 0/0 = nan.
    """
    x = np.asarray(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (1 - np.cos(x)) / (x * x)


def logsumexp(x: ArrayLike, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """log(sum_i exp(x_i)), as written.

    Fails: exp overflows once any x_i exceeds the exp threshold (709.8 in float64,
    88.7 in float32, 11.1 in float16), giving inf; when every exp underflows (all
    x_i below -745 in float64, -103.3 in float32) the sum is 0 and the log -inf.
    """
    x = _floats(x)
    with np.errstate(all="ignore"):
        return np.log(np.sum(np.exp(x), axis=axis))


def logsumexp_max_shift(x: ArrayLike, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """a + log(sum_i exp(x_i - a)), a = max x: the usual fix, without log1p.

    No overflow, but: the sum (at least 1) is formed in the input's dtype, so a
    float16 row of more than 65504 equal entries overflows to inf; and
    log(1 + s) rounds 1 + s to 1 when s is below eps/2, so [0, -40] gives 0
    instead of 4.2e-18; a row of all -inf gives nan (-inf - -inf).
    """
    x = _floats(x)
    with np.errstate(all="ignore"):
        a = np.max(x, axis=axis, keepdims=True)
        s = np.sum(np.exp(x - a), axis=axis, keepdims=True)
        return (
            np.squeeze(a + np.log(s), axis=axis)
            if axis is not None
            else (a + np.log(s)).reshape(())[()]
        )


def softmax_max_shift(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """exp(x_i - a) / sum_j exp(x_j - a), a = max x: the usual fix, in the input's dtype.

    No overflow, but: in float64 the shift x_i - a rounds, and exp turns the
    argument's absolute error u |x_i - a| into a relative error of the result
    (hundreds of ULP at scale 100); float16 sums overflow for long rows; a row of
    all -inf gives nan.
    """
    x = _floats(x)
    with np.errstate(all="ignore"):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """log(softmax(x)), with the unshifted softmax above.

    Fails: wherever softmax fails (nan from overflow) and wherever a probability
    underflows to 0 (x = [0, -1000]: log 0 = -inf instead of -1000); and the
    largest entry's log-probability, -log1p(s) with s = sum of the others'
    exp(x_j - a), rounds to log(1) = 0 once s < eps/2 ([50, 0] gives 0 instead of
    -1.9e-22).
    """
    with np.errstate(all="ignore"):
        return np.log(softmax(_floats(x), axis=axis))


def logaddexp(x1: ArrayLike, x2: ArrayLike) -> np.ndarray:
    """log(exp(x1) + exp(x2)), as written.

    Fails: exp overflows above the exp threshold (both arguments 100 in float32 give
    inf), and both exponentials underflow below it (-800 and -800 in float64 give
    -inf instead of -799.3).
    """
    x1, x2 = _floats(x1), _floats(x2)
    with np.errstate(all="ignore"):
        return np.log(np.exp(x1) + np.exp(x2))


def log1mexp(x: ArrayLike) -> np.ndarray:
    """log(1 - exp(-|x|)), as written.

    Fails: for small |x|, 1 - exp(-|x|) cancels (x = 1e-20: exp rounds to 1, the
    log of 0 is -inf instead of -46.05); for large |x| (above 37 in float64),
    exp(-|x|) is lost against 1 and the result is 0 instead of -exp(-|x|).
    """
    x = _floats(x)
    with np.errstate(all="ignore"):
        return np.log(1 - np.exp(-np.abs(x)))


def sigmoid(x: ArrayLike) -> np.ndarray:
    """1 / (1 + exp(-x)), as written.

    Fails: exp(-x) overflows for x below minus the exp threshold, and the result is
    0 although the exact value is representable: float16 sigmoid(-12) is 6.1e-6
    (the overflow starts at -11.1), float32 sigmoid(-100) is 3.8e-44.
    """
    x = _floats(x)
    with np.errstate(all="ignore"):
        return 1 / (1 + np.exp(-x))


def sigmoid_ratio(x: ArrayLike) -> np.ndarray:
    """exp(x) / (1 + exp(x)), the other textbook form.

    Fails: exp(x) overflows for x above the exp threshold and inf / inf is nan
    (x = 800 in float64, 89 in float32, 12 in float16).
    """
    x = _floats(x)
    with np.errstate(all="ignore"):
        e = np.exp(x)
        return e / (1 + e)


def log_sigmoid(x: ArrayLike) -> np.ndarray:
    """log(1 / (1 + exp(-x))), as written.

    Fails: for very negative x, exp(-x) overflows and the result is log(0) = -inf
    instead of about x (x = -1000); for large x, 1 + exp(-x) rounds to 1 and the
    result is 0 instead of -exp(-x) (x = 40 in float64).
    """
    with np.errstate(all="ignore"):
        return np.log(sigmoid(x))


def softplus(x: ArrayLike) -> np.ndarray:
    """log(1 + exp(x)), as written.

    Fails: exp(x) overflows for x above the exp threshold (inf instead of x); for
    x below about -37 (float64) 1 + exp(x) rounds to 1 and the result is 0
    instead of exp(x).
    """
    x = _floats(x)
    with np.errstate(all="ignore"):
        return np.log(1 + np.exp(x))


def cross_entropy(logits: ArrayLike, target: ArrayLike, axis: int = -1) -> np.ndarray:
    """Mean of -log(softmax(logits)[target]) over the batch, from probabilities.

    `target` holds class indices (the logits' shape without `axis`).  Fails:
    every failure of the unshifted softmax (nan for logits above the exp
    threshold); a probability that underflows gives log 0 and an infinite loss
    (logits [0, -1000] with target 1 give inf instead of 1000); and a confident
    correct prediction gives log(1) = 0, so the loss and its gradient signal are
    lost (logits [50, 0], target 0: 0 instead of 1.9e-22).
    """
    x = _floats(logits)
    p = softmax(x, axis=axis)
    t = np.expand_dims(np.asarray(target), axis)
    with np.errstate(all="ignore"):
        return np.mean(-np.log(np.take_along_axis(p, t, axis=axis)))


def binary_cross_entropy(logits: ArrayLike, target: ArrayLike) -> np.ndarray:
    """Mean of -(y log p + (1 - y) log(1 - p)), p = sigmoid(logits), from probabilities.

    Fails: p rounds to exactly 1 for logits above about 37 (float64), 17 (float32)
    or 9 (float16), so log(1 - p) = -inf and a target of 0 gives an infinite loss
    (and 0 * -inf = nan for a target of 1); p underflows to 0 for very negative
    logits, with the same result on the other side.
    """
    x, y = _floats(logits), _floats(target)
    p = sigmoid(x)
    with np.errstate(all="ignore"):
        return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))


__all__ += ["variance"]


def variance(x: ArrayLike, axis: int | tuple[int, ...] | None = 0) -> np.ndarray:
    """Population variance as E[x^2] - E[x]^2, the one-pass textbook formula.

    Computed in x's dtype (NumPy's means; integers as float64).  Fails: the two
    terms are both about mean^2 and their difference is var, so the subtraction
    loses log10(mean^2 / var) digits -- relative error about u * mean^2 / var.
    For float32 data 1e4 + N(0, 1) that is 6e-8 * 1e8 = 6: no digit survives,
    the result is a multiple of the float32 spacing near 1e8 (8) such as -8.0,
    0.0 or 24.0, often negative, and its sqrt (a standard deviation) is NaN.
    Stable: :class:`numdl.norm.RunningStats`, or the two-pass
    mean((x - mean(x))**2) that :func:`numdl.norm.batch_norm` uses.
    """
    x = np.asarray(x)
    if x.dtype.kind in "iub":
        x = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.mean(x * x, axis=axis) - np.mean(x, axis=axis) ** 2


def cross_entropy_probabilities(logits: ArrayLike, probs: ArrayLike, axis: int = -1) -> np.ndarray:
    """Mean of -sum_c p_c log(softmax(logits)_c), from probabilities.

    Fails as :func:`cross_entropy`, and a masked class (logit -inf, so
    softmax gives 0) with target probability 0 contributes 0 * log(0) =
    0 * -inf = nan, which poisons the whole loss.
    """
    x, p = _floats(logits), _floats(probs)
    with np.errstate(all="ignore"):
        return np.mean(-np.sum(p * np.log(softmax(x, axis=axis)), axis=axis))
