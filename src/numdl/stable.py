"""Numerically stable formulations of expressions that naive code gets wrong.

Each function states the identity it uses, the failure it avoids and its special values;
:mod:`numdl.naive` holds the textbook versions for comparison and :mod:`numdl.reference` the exact
values they are tested against.

How they are computed
---------------------
* **One rounding.**  float16, bfloat16 and float32 inputs are computed in float64 and rounded once
  to the input's format, so that the result is within 1 ULP of the exact value (the float64 error
  is some 2**-50 relative, far below the format's half ULP).  Where the float64 value still loses
  digits to cancellation -- :func:`logsumexp` and :func:`logaddexp` near a result of 0 -- an error
  bound is checked and the few uncertain results are certified: recomputed in double-double
  arithmetic with a rigorous error bound and correctly rounded (the standard library's
  :mod:`decimal` settles the rare result whose bound still straddles a rounding boundary).
* **float64 inputs** are computed in float64 with the max-shift written so that it loses nothing
  of its own: the shift ``x_i - a`` carries its rounding error (TwoSum) into the exponential, and
  the largest term of a sum is kept out of it (``log1p``), so that the error is a few ULP times
  the problem's condition number.
* **Arrays.**  NumPy float32/float64 input runs through the compiled kernels of
  ``numdl._kernels`` (the same method in C: one pass over a cache-sized block where NumPy needs
  twenty, and an exp accurate to 2**-58; see docs/ARCHITECTURE.md), split between up to
  ``os.cpu_count()`` threads (at most 8; ``NUMDL_NUM_THREADS`` sets the number) for large
  inputs.  Where that extension did not build, or ``NUMDL_PURE_NUMPY=1`` is set, and for
  float16/bfloat16 and the losses' weighted sums, blocked NumPy kernels keep their float64
  temporaries in the CPU cache (NumPy releases the GIL in its loops, so they are threaded too).
  Inputs of at most 512 elements take a short path in x86 long double (64-bit significand),
  where one NumPy call per step costs a few microseconds.  PyTorch tensors (and JAX
  arrays, when JAX is installed; enable ``jax_enable_x64`` for the float64 working precision) run
  the same formulas with their own library's operations (``xp = array_namespace(x)``), so results
  stay on the input's device and autograd differentiates through them.  The result has the
  input's dtype; integer NumPy input is computed as float64, as in SciPy (tensors: see "Dtype
  promotion" below).  One difference on JAX: XLA on the CPU flushes subnormal float32 results
  to 0, so a float32 softmax that NumPy returns as a subnormal is 0 there.

References
----------
.. [1] P. Blanchard, D. J. Higham and N. J. Higham, "Accurately computing the log-sum-exp and
       softmax functions", *IMA J. Numer. Anal.* 41(4), 2021, doi:10.1093/imanum/draa038.
.. [2] M. Maechler, "Accurately computing log(1 - exp(-|a|)), assessed by the Rmpfr package",
       CRAN vignette, 2012.
.. [3] N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM, 2002.

Dtype promotion
---------------
Each backend follows its own library's rule.  NumPy input: NumPy's, as SciPy (integers are
float64, so ``logsumexp(int64, b=float32)`` is float64).  PyTorch: ``torch.result_type`` (int64
with float32 is float32; Python numbers do not promote a tensor), integer-only input in
``torch.get_default_dtype()``.  JAX: ``jax.numpy.result_type`` and its default float (float32,
float64 under ``jax_enable_x64``).  Other array-API libraries (array-api-strict): their
``result_type``, which may refuse to mix kinds (a :class:`TypeError` naming the arguments).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numdl._dtypes import as_dtype
from numdl._engine.elementwise import (
    log1mexp64,
    log_sigmoid64,
    logaddexp64,
    np_elementwise,
    np_logaddexp,
    np_one_minus_cos_ratio,
    scaled_softplus64,
    sigmoid64,
    softplus64,
)
from numdl._engine.inputs import is_numpy_input, namespace
from numdl._engine.reductions import (
    is_complex_input,
    np_logsumexp,
    np_logsumexp_complex,
    np_softmax_family,
)
from numdl._engine.small import fast_small
from numdl._engine.xp import xp_elementwise, xp_logsumexp, xp_one_minus_cos_ratio, xp_softmax_family

__all__ = [
    "Array",
    "Axis",
    "log1mexp",
    "log_sigmoid",
    "log_softmax",
    "logaddexp",
    "logsumexp",
    "one_minus_cos_ratio",
    "sigmoid",
    "softmax",
    "softplus",
]

# What the functions return: a NumPy array or scalar for NumPy input (and lists, scalars), a
# tensor of the input's library, device and dtype for a PyTorch tensor or JAX array.
Array = Any
Axis = int | tuple[int, ...] | None


def one_minus_cos_ratio(x: ArrayLike) -> Array:
    """(1 - cos x) / x^2 without cancellation, via 1 - cos x = 2 sin^2(x / 2).

    The naive numerator subtracts two nearly equal numbers when |x| is small and
    loses every digit below |x| ~ sqrt(eps); the half-angle form has no
    subtraction, so it keeps full relative accuracy: within a few ULP of the
    exact value for every finite x (checked against :mod:`numdl.reference`).

    Special values: x = 0 gives the limit 1/2; x = +-inf and NaN give NaN (cos
    has no limit at infinity).  The result has x's floating dtype.

    References
    ----------
    N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
    SIAM 2002, section 1.7 (cancellation), problem 1.1.
    """
    if not is_numpy_input(x):
        return xp_one_minus_cos_ratio(x)
    return np_one_minus_cos_ratio(x)

def logsumexp(
    x: ArrayLike | Array,
    axis: Axis = None,
    *,
    b: ArrayLike | Array | None = None,
    keepdims: bool = False,
    return_sign: bool = False,
    where: ArrayLike | Array | None = None,
) -> Array | tuple[Array, Array]:
    """``log(sum(b * exp(x)))`` over `axis`, without overflow and without losing the small terms.

    The identity: with ``a = max x`` attained at index ``k``,
    ``logsumexp(x) = a + log1p(sum_{j != k} exp(x_j - a))``.

    The naive ``log(sum(exp(x)))`` overflows to ``inf`` once any ``x`` exceeds the format's exp
    threshold (709.78 in float64, 88.72 in float32, 11.09 in float16) and gives ``-inf`` when every
    ``exp`` underflows.  The shift by ``a`` removes both; keeping the largest term, which is exactly
    1, out of the sum and using ``log1p`` keeps the small terms: ``logsumexp([0, -40])`` is
    ``4.2e-18``, not the ``0`` of ``log(1 + 4.2e-18)``.  float16/bfloat16/float32 are summed in
    float64 (a float16 sum of 10**5 terms of 1 would overflow at 65504) and rounded once; float64
    shifts carry their rounding error (see the module notes).

    Parameters
    ----------
    x : array_like, torch.Tensor or jax.Array
        Input; integer arrays are computed as float64.  Complex NumPy input (complex64,
        complex128) is computed as SciPy does, ``a + log(sum(b exp(x - a)))`` with ``a`` the
        largest real part, in complex128 (principal branch; with `return_sign`, ``log|sum|`` and
        the unit complex ``sum / |sum|``); it is not certified, since a complex sum may cancel.
    axis : None, int or tuple of ints
        Axes to reduce (default: all).
    b : array_like, optional
        Weights broadcastable to `x` (SciPy's semantics): ``log(sum(b * exp(x)))``; terms with
        ``b = 0`` are dropped even where ``x`` is ``inf`` or NaN; negative weights subtract.
        Weighted rows are computed in float64 without the blocked kernel.
    keepdims : bool
        Keep the reduced axes with length 1.
    return_sign : bool
        Also return the sign of the sum (1, 0 or -1); without it a negative sum gives NaN.
    where : boolean array_like, optional
        Which elements take part (JAX's ``where``; broadcast to `x`'s shape): a masked element
        does not contribute, whatever its value (NaN and ``inf`` included); a fully masked
        row gives ``-inf``, the logarithm of an empty sum.

    Returns
    -------
    The input's dtype (``result_type(x, b)`` when `b` is floating), and kind: NumPy scalar or
    array, tensor.  With `return_sign`, a pair ``(log|sum|, sign)``.

    Notes
    -----
    Special values, per reduced slice: NaN anywhere gives NaN; otherwise ``+inf`` anywhere gives
    ``+inf``; all entries ``-inf`` gives ``-inf`` (``log 0``), as does an empty slice; ``-inf``
    entries among finite ones contribute ``exp(-inf) = 0``.

    Accuracy (measured against :mod:`numdl.reference` by ``benchmarks/accuracy.py``):
    float16/bfloat16/float32 within 1 ULP (a float64 error bound is checked, and the rare rows
    where cancellation near a result of 0 leaves it too large are correctly rounded); float64
    within ``2 max(1, kappa)`` ULP, ``kappa = sum_i |x_i| softmax(x)_i / |logsumexp(x)|``.

    References
    ----------
    Blanchard, Higham & Higham (2021), algorithm 2 ("shift and log1p").

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([1000.0, 1000.0])
    >>> naive.logsumexp(x), stable.logsumexp(x)  # exp(1000) overflows; the exact value is 1000 + log 2
    (np.float64(inf), np.float64(1000.6931471805599))
    >>> y = np.array([0.0, -40.0])
    >>> naive.logsumexp(y - y.max()) + y.max(), stable.logsumexp(y)  # log(1 + 4e-18) rounds to 0
    (np.float64(0.0), np.float64(4.248354255291589e-18))
    """
    if where is not None:
        x, _ = _mask(x, where, -np.inf)
    if b is None and not keepdims and not return_sign and x is not None:
        fast = fast_small(x, axis, "lse") if type(x) is np.ndarray and x.dtype == np.float64 \
            else None
        if fast is not None:
            return fast
    if not is_numpy_input(x, b):
        return xp_logsumexp(x, axis, b, keepdims, return_sign)
    return np_logsumexp(x, axis, b, keepdims, return_sign)

def softmax(x: ArrayLike | Array, axis: Axis = -1, *, where: ArrayLike | Array | None = None,
            dtype: Any = None) -> Array:
    """``exp(x_i) / sum_j exp(x_j)`` along `axis`, without overflow, underflow or lost digits.

    The identity: ``softmax(x)_i = exp(x_i - a) / (1 + s)``, ``a = max x``,
    ``s = sum_{j != argmax} exp(x_j - a)``.

    The naive quotient overflows to ``inf / inf = nan`` once ``x`` exceeds the exp threshold and
    gives ``0 / 0 = nan`` when every ``exp`` underflows; the shift by ``a`` removes both.  For
    float64 input the shift itself rounds (``u |x_i - a|``, hundreds of ULP at scale 100) unless
    its error is carried into the exponential, as here.

    Parameters
    ----------
    x : array_like, torch.Tensor or jax.Array
    axis : int or tuple of ints
        Axes that sum to 1 (default: the last).
    where : boolean array_like, optional
        Which elements take part (JAX's ``where``, broadcast to `x`'s shape); masked elements
        give 0 whatever their value, and a fully masked row gives zeros (not NaN).
    dtype : dtype, optional
        PyTorch's ``dtype``: `x` is cast to it first, and the result has it (a float16 input with
        ``dtype=float32`` is computed and returned in float32).  A dtype of the input's own
        library (any of numdl's formats, or a name, for NumPy input).

    Returns
    -------
    Same shape, dtype and kind as `x` (float64 for integer input).

    Notes
    -----
    Special values, per slice along `axis`: NaN anywhere gives NaN everywhere; all ``-inf``
    (no finite maximum) gives NaN (the limit depends on how the entries go to ``-inf``); ``-inf``
    entries among finite ones give 0; one ``+inf`` gives 1 there and 0 elsewhere (the limit);
    several ``+inf`` give NaN at those and 0 elsewhere.  An empty slice gives an empty result.
    Subnormal results are computed in float64 and rounded once, so float32's ``exp(-100) ~
    3.8e-44`` is not flushed to 0.

    Accuracy: float16/bfloat16/float32 within 1 ULP; float64 within ``2 max(1, kappa)`` ULP with
    ``kappa_i = |x_i| (1 - p_i) + sum_{j != i} |x_j| p_j`` (``p = softmax(x)``).

    References
    ----------
    Blanchard, Higham & Higham (2021), algorithm 3.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([1000.0, 0.0])
    >>> naive.softmax(x), stable.softmax(x)
    (array([nan,  0.]), array([1., 0.]))
    """
    if dtype is not None:
        x = _cast(x, dtype)
    if where is not None:
        masked, keep = _mask(x, where, -np.inf)
        return _masked_result(softmax(masked, axis), keep, 0.0)
    fast = fast_small(x, axis, "softmax")
    if fast is not None:
        return fast
    if not is_numpy_input(x):
        return xp_softmax_family(x, axis, "softmax")
    return np_softmax_family(x, axis, "softmax")

def log_softmax(x: ArrayLike | Array, axis: Axis = -1, *,
                where: ArrayLike | Array | None = None, dtype: Any = None) -> Array:
    """``x_i - logsumexp(x)`` along `axis`, keeping the confident class's tiny log-probability.

    The identity: ``log_softmax(x)_i = (x_i - a) - log1p(sum_{j != argmax} exp(x_j - a))``,
    ``a = max x``.

    ``log(softmax(x))`` gives ``-inf`` where softmax underflows (``x = [0, -1000]``), and
    ``x - logsumexp(x)`` rounds ``logsumexp`` to ``a`` before subtracting, so the largest entry's
    log-probability ``-log1p(s)`` -- about ``-1.9e-22`` for ``[50, 0]`` -- becomes exactly 0 (the
    ``0 - 0`` of every framework).  Subtracting ``a`` first and ``log1p(s)`` second keeps it.

    Parameters
    ----------
    x : array_like, torch.Tensor or jax.Array
    axis : int or tuple of ints
        Default: the last.
    where : boolean array_like, optional
        Which elements take part (JAX's ``where``); masked elements give ``-inf``, and so does
        every element of a fully masked row.
    dtype : dtype, optional
        PyTorch's ``dtype``: `x` is cast to it first, and the result has it.

    Returns
    -------
    Same shape, dtype and kind as `x` (float64 for integer input).

    Notes
    -----
    Special values, per slice: NaN anywhere, or all entries ``-inf``, give NaN everywhere;
    ``-inf`` entries among finite ones give ``-inf``; one ``+inf`` gives 0 there and ``-inf``
    elsewhere; several ``+inf`` give NaN at those and ``-inf`` elsewhere.  Empty gives empty.

    Accuracy: float16/bfloat16/float32 within 1 ULP; float64 within ``2 max(1, kappa)`` ULP,
    ``kappa_i = (|x_i| (1 - p_i) + sum_{j != i} |x_j| p_j) / |log_softmax(x)_i|``.

    References
    ----------
    Blanchard, Higham & Higham (2021), section 5.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([50.0, 0.0])
    >>> naive.log_softmax(x), stable.log_softmax(x)  # the true first entry is -exp(-50) = -1.9e-22
    (array([  0., -50.]), array([-1.92874985e-22, -5.00000000e+01]))
    """
    if dtype is not None:
        x = _cast(x, dtype)
    if where is not None:
        masked, keep = _mask(x, where, -np.inf)
        return _masked_result(log_softmax(masked, axis), keep, -np.inf)
    fast = fast_small(x, axis, "log_softmax")
    if fast is not None:
        return fast
    if not is_numpy_input(x):
        return xp_softmax_family(x, axis, "log_softmax")
    return np_softmax_family(x, axis, "log_softmax")


def _cast(x: Any, dtype: Any) -> Any:
    """`x` cast to the floating dtype `dtype` of its own library (PyTorch's ``dtype=``)."""
    if is_numpy_input(x):
        return np.asarray(x).astype(as_dtype(dtype))
    xp = namespace(x)
    try:
        floating = xp.isdtype(dtype, "real floating")
    except (TypeError, ValueError, AttributeError):
        floating = False
    if not floating:
        raise TypeError(f"dtype must be a real floating dtype of {xp.__name__.split('.')[-1]} "
                        f"(the input's library), got {dtype!r}")
    return xp.astype(x, dtype)


def _mask(x: Any, where: Any, fill: float) -> tuple[Any, Any]:
    """`x` with the elements `where` leaves out replaced by `fill`, and the mask broadcast to x's
    shape.  The mask must be boolean and broadcast to x's shape (not the other way round)."""
    if is_numpy_input(x, where):
        xa, keep = np.asarray(x), np.asarray(where)
        if keep.dtype != np.bool_:
            raise TypeError(f"where must be a boolean array, got dtype {keep.dtype}")
        try:
            keep = np.broadcast_to(keep, xa.shape)
        except ValueError:
            raise ValueError(f"where (shape {keep.shape}) does not broadcast to the shape of x "
                             f"{xa.shape}") from None
        if xa.dtype.kind in "biu":
            xa = xa.astype(np.float64)  # as the functions compute integer input
        return np.where(keep, xa, xa.dtype.type(fill)), keep
    xp = namespace(x, where)
    keep = where if hasattr(where, "dtype") else xp.asarray(where)
    if keep.dtype != xp.bool:
        raise TypeError(f"where must be a boolean array, got dtype {keep.dtype}")
    shape = tuple(x.shape)
    try:
        if tuple(np.broadcast_shapes(tuple(keep.shape), shape)) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"where (shape {tuple(keep.shape)}) does not broadcast to the shape of x "
                         f"{shape}") from None
    keep = xp.broadcast_to(keep, shape)
    return xp.where(keep, x, fill), keep


def _masked_result(y: Any, keep: Any, fill: float) -> Any:
    """`y` with the masked elements set to `fill` (0 for softmax, -inf for log_softmax), which also
    turns a fully masked row's NaN into that value."""
    if isinstance(keep, np.ndarray):
        out = np.where(keep, y, np.asarray(y).dtype.type(fill))
        return out[()] if out.ndim == 0 else out
    return namespace(y).where(keep, y, fill)

def sigmoid(x: ArrayLike | Array) -> Array:
    """The logistic function ``1 / (1 + exp(-x))``, without overflow.

    The identity: ``sigmoid(x) = 1 / (1 + exp(-x))`` for ``x >= 0`` and ``exp(x) / (1 + exp(x))``
    for ``x < 0``, so ``exp`` only ever sees ``-|x|``.

    The naive form overflows ``exp(-x)`` for ``x < -709.78`` in float64 (``-88.72`` in float32),
    which is harmless (``1/inf = 0``), but in ``exp(x) / (1 + exp(x))`` the same overflow gives
    ``inf / inf = nan``; and ``1 - sigmoid(x)`` for large ``x`` is 0 although the value is
    ``exp(-x)``: use ``sigmoid(-x)`` instead.

    Notes
    -----
    Special values: ``sigmoid(+inf) = 1``, ``sigmoid(-inf) = 0``, NaN gives NaN.  Subnormal
    results are not flushed: float32 ``sigmoid(-100)`` is ``3.8e-44``.  Accuracy: 1 ULP for
    float16/bfloat16/float32, ``2 max(1, kappa)`` ULP for float64, ``kappa = |x| (1 - sigmoid(x))``.

    References
    ----------
    Blanchard, Higham & Higham (2021), section 6 (softmax of two entries).

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([-800.0, 0.0, 800.0])
    >>> naive.sigmoid_ratio(x), stable.sigmoid(x)
    (array([0. , 0.5, nan]), array([0. , 0.5, 1. ]))
    >>> naive.sigmoid(np.float16(-12.0)), stable.sigmoid(np.float16(-12.0))  # exp(12) overflows float16
    (np.float16(0.0), np.float16(6.14e-06))
    """
    if not is_numpy_input(x):
        return xp_elementwise(sigmoid64, (x, "x"))
    return np_elementwise(sigmoid64, (x, "x"))[0]

def log_sigmoid(x: ArrayLike | Array) -> Array:
    """``log(sigmoid(x)) = -softplus(-x)``, without ``log(0)``.

    The identity: ``log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|))``.

    ``log(sigmoid(x))`` is ``log(0) = -inf`` once ``sigmoid`` underflows (``x < -745`` in float64,
    ``x < -103`` in float32), although the value is about ``x``; and for large ``x`` it is
    ``log(1) = 0`` although the value is ``-exp(-x)``.

    Notes
    -----
    Special values: ``log_sigmoid(+inf) = 0``, ``log_sigmoid(-inf) = -inf``, NaN gives NaN.
    Accuracy: 1 ULP for narrow formats, ``2 max(1, kappa)`` ULP for float64,
    ``kappa = |x| sigmoid(-x) / |log_sigmoid(x)|``.

    References
    ----------
    Maechler (2012), section 3 (``log1pexp``).

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([-1000.0, 40.0])
    >>> naive.log_sigmoid(x), stable.log_sigmoid(x)
    (array([-inf,   0.]), array([-1.00000000e+03, -4.24835426e-18]))
    """
    if not is_numpy_input(x):
        return xp_elementwise(log_sigmoid64, (x, "x"))
    return np_elementwise(log_sigmoid64, (x, "x"))[0]

def softplus(x: ArrayLike | Array, *, beta: float = 1.0, threshold: float | None = None) -> Array:
    """``log(1 + exp(beta x)) / beta``, without overflow and without losing ``exp(x)`` for very
    negative x.

    The identity: ``softplus(x) = max(x, 0) + log1p(exp(-|x|))``.

    Parameters
    ----------
    x : array_like or tensor
        Input.
    beta : float, optional
        PyTorch's ``beta`` (``torch.nn.Softplus``): a finite nonzero real; ``beta x`` is formed in
        float64 (one extra rounding, at most half a float64 ULP of the argument).
    threshold : float or None, optional
        PyTorch's ``threshold``: where ``beta x > threshold`` the result is ``x`` itself.  The
        default ``None`` never switches (the accurate value is computed everywhere); pass ``20``
        for ``torch.nn.functional.softplus``'s switch (decided here on ``beta x`` in float64,
        where torch forms it in the input's dtype).

    ``log(1 + exp(x))`` overflows to ``inf`` for ``x > 709.78`` (float64) and rounds
    ``1 + exp(x)`` to 1 for ``x < -37``, giving 0 instead of ``exp(x)``; ``log1p`` fixes the
    second, the max-shift the first.  (PyTorch switches to ``x`` above a threshold of 20, which
    loses up to ``exp(-20) / 2**-48`` ULP in float64: the two terms here are added instead.)

    Notes
    -----
    Special values: ``softplus(+inf) = +inf``, ``softplus(-inf) = 0``, NaN gives NaN.
    Accuracy: 1 ULP for narrow formats, ``2 max(1, kappa)`` ULP for float64,
    ``kappa = |x| sigmoid(x) / softplus(x)``.

    References
    ----------
    Maechler (2012), section 3.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([-40.0, 1000.0])
    >>> naive.softplus(x), stable.softplus(x)
    (array([ 0., inf]), array([4.24835426e-18, 1.00000000e+03]))
    """
    fn = softplus64
    if beta != 1.0 or threshold is not None:
        fn = scaled_softplus64(_real(beta, "beta", nonzero=True),
                               None if threshold is None else _real(threshold, "threshold"))
    if not is_numpy_input(x):
        return xp_elementwise(fn, (x, "x"))
    return np_elementwise(fn, (x, "x"))[0]


def _real(value: Any, name: str, *, nonzero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if np.isnan(v) or (nonzero and (v == 0 or not np.isfinite(v))):
        raise ValueError(f"{name} must be {'finite and nonzero' if nonzero else 'a number'}, "
                         f"got {value!r}")
    return v

def log1mexp(x: ArrayLike | Array) -> Array:
    """``log(1 - exp(-|x|))``, accurate for every ``x`` (Maechler's method).

    The identity: ``log(-expm1(-a))`` for ``a = |x| <= log 2`` and ``log1p(-exp(-a))`` for
    ``a > log 2``.

    ``log(1 - exp(-a))`` cancels in ``1 - exp(-a)`` for small ``a`` (``a = 1e-20`` gives
    ``log(0) = -inf``, not ``-46.05``) and rounds ``1 - exp(-a)`` to 1 for large ``a`` (``a = 40``
    gives 0, not ``-4.2e-18``).  Each branch is accurate where it is used, and the switch at
    ``log 2`` is where both are.

    Notes
    -----
    Special values: ``log1mexp(0) = -inf``, ``log1mexp(±inf) = 0``, NaN gives NaN; the function is
    even (it uses ``|x|``).  Accuracy: 1 ULP for narrow formats, ``2 max(1, kappa)`` ULP for
    float64, ``kappa = |x| / ((exp(|x|) - 1) |log1mexp(x)|)``.

    References
    ----------
    Maechler (2012), "Accurately computing log(1 - exp(-|a|))".

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([1e-20, 40.0])
    >>> naive.log1mexp(x), stable.log1mexp(x)
    (array([-inf,   0.]), array([-4.60517019e+01, -4.24835426e-18]))
    """
    if not is_numpy_input(x):
        return xp_elementwise(log1mexp64, (x, "x"))
    return np_elementwise(log1mexp64, (x, "x"))[0]

def logaddexp(x1: ArrayLike | Array, x2: ArrayLike | Array) -> Array:
    """``log(exp(x1) + exp(x2))``, elementwise with broadcasting.

    The identity: ``max(x1, x2) + log1p(exp(-|x1 - x2|))``.

    The naive form overflows for large arguments and gives ``-inf`` when both exponentials
    underflow; ``numpy.logaddexp`` is already stable in float64 but computes float16 in float16.
    Here narrow formats are computed in float64 and rounded once; near a result of 0 (where
    ``max`` and the ``log1p`` term cancel) an error bound is checked and the uncertain elements are
    correctly rounded, so they stay within 1 ULP.

    Complex NumPy input gives the principal branch of ``log(exp(x1) + exp(x2))`` (the complex
    logsumexp of the pair, see :func:`logsumexp`).

    Notes
    -----
    Special values: NaN in either gives NaN; ``+inf`` with anything else gives ``+inf``;
    ``-inf`` with ``y`` gives ``y`` (``-inf`` with ``-inf`` gives ``-inf``).  Accuracy: 1 ULP for
    narrow formats, ``2 max(1, kappa)`` ULP for float64,
    ``kappa = (|x1| p1 + |x2| p2) / |logaddexp(x1, x2)|``, ``p = softmax([x1, x2])``.

    References
    ----------
    Blanchard, Higham & Higham (2021).

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> naive.logaddexp(np.float32(100.0), np.float32(100.0)), stable.logaddexp(np.float32(100.0), np.float32(100.0))
    (np.float32(inf), np.float32(100.693146))
    """
    if not is_numpy_input(x1, x2):
        return xp_elementwise(logaddexp64, (x1, "x1"), (x2, "x2"))
    if is_complex_input(x1, x2):
        pair = np.stack(np.broadcast_arrays(np.asarray(x1), np.asarray(x2)), axis=-1)
        return np_logsumexp_complex(pair, -1, None, False, False)
    return np_logaddexp(x1, x2)
