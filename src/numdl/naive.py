"""Textbook formulas, exactly as written on the board, kept to show how they fail.

Nothing here is for use in real code: each function is the direct transcription
of a formula, and its docstring says which inputs break it.  The stable
versions live in :mod:`numdl.stable` and friends; the tutorial puts the two side
by side.
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_of_product", "one_minus_cos_ratio", "softmax"]


def softmax(x, axis: int = -1):
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


def log_of_product(p, axis=None):
    """log(prod_i p_i), multiplying first.

    Fails: the product of many probabilities underflows to 0 (0.01^400 = 1e-800)
    and log(0) = -inf, although the sum of the logs is an ordinary number.
    """
    p = np.asarray(p)
    with np.errstate(under="ignore", divide="ignore"):
        return np.log(np.prod(p, axis=axis))


def one_minus_cos_ratio(x):
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
