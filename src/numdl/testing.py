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

import functools
import math
import numbers
from typing import Any, NamedTuple

import mpmath
import numpy as np

from numdl import reference
from numdl._dtypes import format_of, is_format_dtype, to_numpy

__all__ = [
    "EXTREME_DTYPES",
    "ExtremeValue",
    "arrays_with_extremes",
    "assert_ulp_close",
    "extremes",
    "floats_with_extremes",
    "named_extremes",
]

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


# ---------------------------------------------------------------------------------------------
# Extreme values: lists, Hypothesis strategies and (in numdl.testing_plugin) a pytest fixture
# ---------------------------------------------------------------------------------------------

#: The dtypes the ``extreme_value`` fixture of :mod:`numdl.testing_plugin` covers by default.
EXTREME_DTYPES: tuple[str, ...] = ("float16", "bfloat16", "float32", "float64")


class ExtremeValue(NamedTuple):
    """One extreme value of one format: what the ``extreme_value`` fixture yields."""

    dtype: np.dtype
    name: str
    value: Any


@functools.cache
def _named_extremes(dtype: np.dtype) -> tuple[tuple[str, Any], ...]:
    from numdl.floats import format_info, next_after

    info = format_info(dtype)
    t = dtype.type

    def v(x: Any) -> Any:
        return np.asarray(x, dtype=dtype)[()]

    largest_subnormal = next_after(t(info.smallest_normal), dtype, -1)
    items = [
        ("+0", v(0.0)),
        ("-0", v(-0.0)),
        ("+smallest_subnormal", v(info.smallest_subnormal)),
        ("-smallest_subnormal", v(-info.smallest_subnormal)),
        ("+largest_subnormal", v(largest_subnormal)),
        ("-largest_subnormal", v(-largest_subnormal)),
        ("+smallest_normal", v(info.smallest_normal)),
        ("-smallest_normal", v(-info.smallest_normal)),
        ("+eps", v(info.eps)),
        ("1-ulp", next_after(t(1.0), dtype, -1)),
        ("+1", v(1.0)),
        ("-1", v(-1.0)),
        ("1+eps", v(1.0 + info.eps)),
        ("+max", v(info.max)),
        ("-max", v(-info.max)),
        ("log_max", v(info.exp_overflow)),  # the largest x whose exp is finite
        ("log_max+ulp", next_after(t(info.exp_overflow), dtype, 1)),  # exp overflows
        ("-log_max", v(-info.exp_overflow)),
        ("log_tiny", v(info.exp_underflow)),  # the smallest x whose exp is not 0
        ("log_tiny-ulp", next_after(t(info.exp_underflow), dtype, -1)),  # exp underflows to 0
    ]
    if info.has_infinity:
        items += [("+inf", v(math.inf)), ("-inf", v(-math.inf))]
    items.append(("nan", v(math.nan)))
    return tuple(items)


def named_extremes(dtype: Any) -> dict[str, Any]:
    """The extreme values of a format by name, as NumPy (or ml_dtypes) scalars of that dtype.

    ``+0``, ``-0``; the smallest and largest subnormals and the smallest normal, with both signs;
    ``+eps``, ``1-ulp``, ``+1``, ``-1``, ``1+eps``; ``+max``, ``-max``; ``log_max`` (the largest
    ``x`` whose ``exp`` is finite) and ``log_max+ulp`` (the smallest whose ``exp`` overflows),
    ``-log_max``; ``log_tiny`` (the smallest ``x`` whose ``exp`` is not 0) and ``log_tiny-ulp``;
    ``+inf`` and ``-inf`` where the format has them (not float8_e4m3fn); ``nan``.

    Parameters
    ----------
    dtype : dtype-like
        Any of the six formats of :mod:`numdl.floats` (names, NumPy, ml_dtypes or torch dtypes).

    Examples
    --------
    >>> from numdl.testing import named_extremes
    >>> e = named_extremes("float16")
    >>> float(e["+max"]), float(e["+smallest_subnormal"]), float(e["log_max"])
    (65504.0, 5.960464477539063e-08, 11.0859375)
    """
    from numdl.floats import as_dtype

    return dict(_named_extremes(as_dtype(dtype)))


def extremes(dtype: Any) -> list[Any]:
    """The values of :func:`named_extremes` as a list, in the same order.

    >>> import numpy as np
    >>> from numdl.testing import extremes
    >>> values = extremes(np.float32)
    >>> any(np.isnan(v) for v in values), any(np.signbit(v) and v == 0 for v in values)
    (True, True)
    """
    return list(named_extremes(dtype).values())


def _hypothesis() -> Any:
    try:
        import hypothesis.strategies as st
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the numdl.testing strategies need Hypothesis (pip install "
                          "'numdl[test]')") from exc
    return st


def _keep(x: Any, info: Any, min_value: Any, max_value: Any, allow_nan: bool,
          allow_infinity: bool, allow_subnormal: bool) -> bool:
    f = float(x)
    if math.isnan(f):
        return allow_nan and min_value is None and max_value is None
    if math.isinf(f) and not allow_infinity:
        return False
    if not allow_subnormal and f != 0 and abs(f) < info.smallest_normal:
        return False
    if min_value is not None and not f >= min_value:
        return False
    return max_value is None or f <= max_value


def floats_with_extremes(dtype: Any = "float32", *, min_value: float | None = None,
                         max_value: float | None = None, allow_nan: bool | None = None,
                         allow_infinity: bool | None = None, allow_subnormal: bool = True) -> Any:
    """A Hypothesis strategy for scalars of `dtype` that draws its extremes half of the time.

    The other half is spread over the whole format: ``hypothesis.strategies.floats`` of the
    right width for float16/float32/float64, and uniformly random bit patterns for bfloat16 and
    the float8 formats (every binade about equally likely); with bounds, a uniform choice among
    the values of the format that lie within them.

    Parameters
    ----------
    dtype : dtype-like
        The format (see :func:`named_extremes`).
    min_value, max_value : float, optional
        Bounds (inclusive); with either set, NaN is excluded.
    allow_nan, allow_infinity : bool, optional
        Default: allowed unless a bound excludes them.
    allow_subnormal : bool
        Whether subnormal values may be drawn.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of NumPy (or ml_dtypes) scalars of `dtype`.

    Notes
    -----
    Hypothesis is imported when this is called, not with :mod:`numdl.testing`: it is a test
    dependency only.
    """
    from numdl.floats import as_dtype, format_info

    st = _hypothesis()
    dt = as_dtype(dtype)
    info = format_info(dt)
    bounded = min_value is not None or max_value is not None
    nan_ok = (not bounded) if allow_nan is None else bool(allow_nan)
    if nan_ok and bounded:
        raise ValueError("allow_nan=True cannot be combined with min_value or max_value")
    if allow_infinity is None:
        inf_ok = info.has_infinity and (min_value is None or max_value is None)
    else:
        inf_ok = bool(allow_infinity) and info.has_infinity

    def keep(x: Any) -> bool:
        return _keep(x, info, min_value, max_value, nan_ok, inf_ok, allow_subnormal)

    chosen = [x for x in extremes(dt) if keep(x)]
    for bound in (min_value, max_value):
        if bound is not None and math.isfinite(bound):
            b = np.asarray(bound, dtype=dt)[()]
            if keep(b) and not any(float(b) == float(c) and np.signbit(b) == np.signbit(c)
                                   for c in chosen):
                chosen.append(b)
    width = {"float16": 16, "float32": 32, "float64": 64}.get(dt.name)
    if width is not None:
        # Hypothesis wants bounds representable at the width: round them inwards.
        lo = hi = None
        if min_value is not None:
            lo = dt.type(min_value)
            if float(lo) < min_value:
                lo = np.nextafter(lo, dt.type(math.inf))
            lo = float(lo)
        if max_value is not None:
            hi = dt.type(max_value)
            if float(hi) > max_value:
                hi = np.nextafter(hi, dt.type(-math.inf))
            hi = float(hi)
        general = st.floats(
            min_value=lo, max_value=hi, allow_nan=nan_ok,
            allow_infinity=inf_ok and (lo is None or hi is None),
            allow_subnormal=None if allow_subnormal else False, width=width,
        ).map(dt.type)
    elif bounded:
        # At most 2**16 bit patterns: list those in bounds rather than reject most draws.
        every = np.arange(2 ** (8 * dt.itemsize), dtype=np.uint32).astype(
            f"u{dt.itemsize}").view(dt)
        inside = [x for x in every if keep(x)]
        if not inside:
            raise ValueError(f"no {dt.name} value satisfies min_value={min_value!r}, "
                             f"max_value={max_value!r} and the allow_* settings")
        general = st.sampled_from(inside)
    else:
        uint = np.dtype(f"u{dt.itemsize}")
        general = st.integers(0, 2 ** (8 * dt.itemsize) - 1).map(
            lambda n: np.asarray(n, dtype=uint).view(dt)[()])
    general = general.filter(keep)
    return st.one_of(st.sampled_from(chosen), general) if chosen else general


def arrays_with_extremes(dtype: Any = "float32", shape: Any = None, *, elements: Any = None,
                         **kwargs: Any) -> Any:
    """A Hypothesis strategy for NumPy arrays of `dtype` whose elements include the extremes.

    Parameters
    ----------
    dtype : dtype-like
    shape : int, tuple of int or strategy, optional
        Default: ``hypothesis.extra.numpy.array_shapes(min_dims=1, max_dims=2, max_side=6)``.
    elements : strategy, optional
        Default: ``floats_with_extremes(dtype, **kwargs)``.
    **kwargs
        Passed to :func:`floats_with_extremes`.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of ``numpy.ndarray`` of `dtype` (ml_dtypes arrays for bfloat16 and float8).
    """
    from numdl.floats import as_dtype

    st = _hypothesis()
    dt = as_dtype(dtype)
    if elements is None:
        elements = floats_with_extremes(dt, **kwargs)
    if shape is None:
        from hypothesis.extra.numpy import array_shapes

        shapes = array_shapes(min_dims=1, max_dims=2, max_side=6)
    elif isinstance(shape, int | tuple):
        shapes = st.just((shape,) if isinstance(shape, int) else tuple(shape))
    else:
        shapes = shape

    def build(shp: tuple[int, ...]) -> Any:
        n = math.prod(shp)
        return st.lists(elements, min_size=n, max_size=n).map(
            lambda vs: np.array(vs, dtype=dt).reshape(shp))

    return shapes.flatmap(build)
