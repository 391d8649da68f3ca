"""Assertions for testing floating-point kernels against the exact reference.

``assert_ulp_close`` is the test helper numdl uses on itself and offers to anyone testing their own
kernels: compare results with exact values (:mod:`numdl.reference`) in units in the last place of
the result's format, so that one tolerance means the same thing in float64 and in bfloat16.

Examples
--------
>>> import mpmath, numpy as np
>>> from numdl.reference import evaluate
>>> from numdl.testing import assert_ulp_close

``x*x - 1`` near ``x = 1`` cancels the rounding error of ``x*x`` into the leading digits;
``(x - 1) * (x + 1)`` has an exact ``x - 1`` (Sterbenz) and stays within an ULP and a half:

>>> x = np.float32(1) + np.float32(2**-12) * np.arange(1, 6, dtype=np.float32)
>>> exact = evaluate(lambda v: v * v - 1, x, rounded=False)
>>> errors = assert_ulp_close((x - 1) * (x + 1), exact, max_ulp=1.5)
>>> assert_ulp_close(x * x - 1, exact, max_ulp=1.5)
Traceback (most recent call last):
    ...
AssertionError: Not equal to within 1.5 ULP (float32)
3 of 5 elements exceed max_ulp=1.5 (60%)
max ulp error: 1024 at index (0,)
worst elements:
  index  actual         exact             ulp error
  (0,)   0.00048828125  0.00048834085464  1024
  (2,)   0.0014653206   0.0014653801918   512
  (4,)   0.0024428368   0.0024428963661   256
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import mpmath
import numpy as np

from numdl import reference
from numdl._dtypes import format_of, is_format_dtype, to_numpy

__all__ = ["assert_ulp_close"]

_WORST_SHOWN = 10


def _exact_str(value: Any, digits: int) -> str:
    if hasattr(value, "_mpf_"):
        return mpmath.nstr(value, digits)
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def assert_ulp_close(actual: Any, exact: Any, max_ulp: float, *, err_msg: str = "") -> np.ndarray:
    """Assert that every element of `actual` is within `max_ulp` ULPs of `exact`.

    Parameters
    ----------
    actual : array_like, NumPy/ml_dtypes scalar or torch.Tensor
        Computed values; their dtype (float64 for Python floats) sets the unit, one ULP of that
        format at the exact value (:func:`numdl.reference.ulp_error`).
    exact : array_like
        Exact values, same shape as `actual`: an object array of ``mpmath.mpf`` (e.g. from
        ``numdl.reference.evaluate(..., rounded=False)``), floats, ints, Fractions or decimal
        strings.  Prefer unrounded values: against a rounded reference the error is off by up to
        half an ULP.
    max_ulp : float
        Largest allowed error, ``>= 0``.  A correctly rounded result has error ``<= 0.5``.
    err_msg : str
        Appended to the failure message.

    Returns
    -------
    numpy.ndarray of float64
        The ULP error of every element (shape of `actual`), for further checks or reporting.

    Raises
    ------
    AssertionError
        If the shapes differ, or if any element's error exceeds `max_ulp`.  The message gives the
        format, how many elements exceed, the largest error and its index, and a table of the worst
        elements (index, actual, exact, error), so that a failure is readable without a debugger.
    TypeError, ValueError
        For an `actual` that is not floating point, or a `max_ulp` that is not a number ``>= 0``.

    Notes
    -----
    Special values follow :func:`numdl.reference.ulp_error`: NaN where the exact value is NaN is
    0 ULP, as is an infinity that the exact value also rounds to; NaN or an infinity anywhere else
    is an infinite error and always fails.  Shapes must match exactly (no broadcasting), so that a
    reference that was computed for the wrong input is caught.
    """
    if isinstance(max_ulp, bool) or not isinstance(max_ulp, numbers.Real):
        raise TypeError(f"max_ulp must be a real number, got {max_ulp!r}")
    if math.isnan(max_ulp) or max_ulp < 0:
        raise ValueError(f"max_ulp must be >= 0, got {max_ulp!r}")
    actual_arr = to_numpy(actual)
    if not is_format_dtype(actual_arr.dtype):
        raise TypeError(
            f"actual must be floating point of a supported format, got dtype {actual_arr.dtype}"
        )
    exact_arr = to_numpy(exact)
    header = f"Not equal to within {max_ulp} ULP ({actual_arr.dtype.name})"
    suffix = f"\n{err_msg}" if err_msg else ""
    if actual_arr.shape != exact_arr.shape:
        raise AssertionError(
            f"{header}\nshape mismatch: actual {actual_arr.shape}, exact {exact_arr.shape}{suffix}"
        )
    errors = np.asarray(reference.ulp_error(actual_arr, exact_arr), dtype=np.float64)
    bad = errors > max_ulp
    if not bad.any():
        return errors
    n_bad = int(bad.sum())
    flat_errors = errors.ravel()
    # Stable sort on -error: the worst first, ties in index order.
    worst = np.argsort(-flat_errors, kind="stable")[: min(_WORST_SHOWN, n_bad)]
    digits = format_of(actual_arr.dtype).precision * 30103 // 100000 + 4
    rows = []
    for flat in worst.tolist():
        index = np.unravel_index(flat, errors.shape) if errors.ndim else ()
        rows.append(
            (
                str(tuple(int(i) for i in index)),
                str(actual_arr[index]),
                _exact_str(exact_arr[index], digits),
                f"{flat_errors[flat]:.4g}",
            )
        )
    titles = ("index", "actual", "exact", "ulp error")
    widths = [max(len(t), *(len(r[k]) for r in rows)) for k, t in enumerate(titles)]
    lines = [
        ("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths))).rstrip() for r in (titles, *rows)
    ]
    worst_index = tuple(int(i) for i in np.unravel_index(int(worst[0]), errors.shape))
    message = (
        f"{header}\n"
        f"{n_bad} of {errors.size} elements exceed max_ulp={max_ulp} "
        f"({100 * n_bad / errors.size:.3g}%)\n"
        f"max ulp error: {flat_errors[worst[0]]:.4g} at index {worst_index}\n"
        f"worst elements:\n" + "\n".join(lines) + suffix
    )
    raise AssertionError(message)
