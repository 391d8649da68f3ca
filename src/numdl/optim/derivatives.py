"""Derivatives of a Python function by finite differences and the complex step.

Four methods, each with a default step chosen for the dtype of ``x`` so that the truncation error
(which shrinks with the step ``h``) and the rounding error (which grows like ``eps / h^k``) are
balanced.  With ``s_i = max(1, |x_i|)`` the step on coordinate ``i`` is ``h * s_i``, with ``h``:

==============  ==============================  =====================  ===========================
method          gradient / jacobian             error                  hessian (default step)
==============  ==============================  =====================  ===========================
``forward``     (f(x + h e_i) - f(x)) / h       O(h) + O(eps / h)      ``eps**(1/3)``
                ``h = eps**(1/2)``
``central``     (f(x + h) - f(x - h)) / (2h)    O(h^2) + O(eps / h)    ``eps**(1/4)``
                ``h = eps**(1/3)``
``richardson``  (4 D(h/2) - D(h)) / 3 with D    O(h^4) + O(eps / h)    ``eps**(1/6)``
                central; ``h = eps**(1/5)``
``complex``     Im f(x + i h e_i) / h           O(h^2), no             ``eps**(1/3)`` (see below)
                ``h = eps``                     cancellation
==============  ==============================  =====================  ===========================

The complex step (Squire & Trapp 1998) subtracts nothing, so its step can be tiny and its result is
accurate to a few ULPs -- provided ``f`` is *analytic*: written with ``+ - * /``, powers and
analytic ufuncs (``np.exp``, ``np.sin``...), and with no ``abs``, ``np.maximum``, comparisons,
``np.real`` or ``conj`` on the path from ``x`` to the value.  A function that returns a real result
for a complex input cannot be complex-stepped; :func:`gradient` raises ``ValueError`` then.

Hessians: ``forward`` uses ``[f(x+h_i+h_j) - f(x+h_i) - f(x+h_j) + f(x)] / (h_i h_j)``,
``central`` the four-point formula (three points on the diagonal), ``richardson`` extrapolates
``central`` from ``h`` and ``h/2``.  There is no purely complex-step Hessian of a real function
without hyper-dual numbers; ``complex`` takes the complex step for the first derivative and a
central difference for the second, ``H_ij = Im[f(x + i h_i e_i + h_j e_j) - f(x + i h_i e_i - h_j
e_j)] / (2 h_i h_j)`` (Lai & Crassidis 2008), whose error is O(h^2) + O(eps / h) -- hence the step
``eps**(1/3)``.  Every Hessian is returned symmetrized, ``(H + H^T) / 2``.

Real steps are made exactly representable, ``h_i = (x_i + h_i) - x_i``, so that the denominator is
the step actually taken (Press et al., *Numerical Recipes*, 3rd ed., §5.7).

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, §8.1.
.. [2] W. Squire and G. Trapp, "Using complex variables to estimate derivatives of real
       functions", *SIAM Review* 40(1), 1998.
.. [3] J. R. R. A. Martins, P. Sturdza and J. J. Alonso, "The complex-step derivative
       approximation", *ACM TOMS* 29(3), 2003.
.. [4] K.-L. Lai and J. L. Crassidis, "Extensions of the first and second complex-step derivative
       approximations", *J. Comput. Appl. Math.* 219(1), 2008.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = [
    "METHODS",
    "StepErrorCurve",
    "default_step",
    "gradient",
    "hessian",
    "jacobian",
    "step_error_curve",
]

METHODS: tuple[str, ...] = ("forward", "central", "richardson", "complex")

# Exponent k of the default step eps**k: the step that balances truncation and rounding error.
_FIRST_ORDER_EXPONENT = {"forward": 1 / 2, "central": 1 / 3, "richardson": 1 / 5, "complex": 1.0}
_SECOND_ORDER_EXPONENT = {"forward": 1 / 3, "central": 1 / 4, "richardson": 1 / 6, "complex": 1 / 3}

_COMPLEX = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}


def _check_method(method: Any) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {METHODS}")
    return method


def _as_x(x: Any) -> np.ndarray:
    arr = np.array(x)
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    if arr.dtype not in _COMPLEX:
        raise TypeError(f"x must be a float32 or float64 array (or integers), got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError("x must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError("x must be finite")
    return arr


def default_step(method: str, dtype: DTypeLike = np.float64, *, order: int = 1) -> float:
    """The default relative step ``eps**k`` of `method` for derivatives of the given `order`.

    See the table in the module docstring: ``k = 1/2, 1/3, 1/5, 1`` for first derivatives with
    forward, central, Richardson and complex step; ``k = 1/3, 1/4, 1/6, 1/3`` for Hessians.

    >>> round(default_step("central"), 9)
    6.055e-06

    Raises
    ------
    ValueError
        If `method` is unknown or `order` is not 1 or 2.
    TypeError
        If `dtype` is not float32 or float64.
    """
    _check_method(method)
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    dtype = np.dtype(dtype)
    if dtype not in _COMPLEX:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    eps = float(np.finfo(dtype).eps)
    k = (_FIRST_ORDER_EXPONENT if order == 1 else _SECOND_ORDER_EXPONENT)[method]
    return eps**k


def _steps(x: np.ndarray, method: str, step: Any, order: int) -> np.ndarray:
    """Per-coordinate steps ``h * max(1, |x_i|)``, exactly representable for real methods."""
    if step is None:
        h = default_step(method, x.dtype, order=order)
    else:
        if isinstance(step, bool) or not isinstance(step, int | float | np.integer | np.floating):
            raise TypeError(f"step must be a positive number, got {type(step).__name__}")
        h = float(step)
        if not (np.isfinite(h) and h > 0):
            raise ValueError(f"step must be finite and > 0, got {step!r}")
    hs = (h * np.maximum(1.0, np.abs(x))).astype(x.dtype)
    if method != "complex" or order == 2:
        # The step actually taken, so that (x + h) - x == h exactly.  A step below half an ULP of
        # x_i becomes 0 and the difference 0/0: the error curve shows that as inf, not a guess.
        hs = (x + hs) - x
    return hs


def _evaluate(f: Callable, x: np.ndarray) -> np.ndarray:
    return np.asarray(f(x))


def _complex_out(out: np.ndarray) -> np.ndarray:
    if not np.iscomplexobj(out):
        raise ValueError(
            "method='complex' needs f to accept complex input and return a complex result; f "
            "returned a real one (does it use abs, maximum, comparisons, real or a cast?)"
        )
    return out


def jacobian(f: Callable[[np.ndarray], Any], x: ArrayLike, *, method: str = "central",
             step: float | None = None) -> np.ndarray:
    """The Jacobian ``J[..., i] = d f(x)[...] / d x_i`` by finite differences or complex step.

    Parameters
    ----------
    f : callable
        ``f(x) -> array_like`` of any shape.  For ``method="complex"`` it must accept complex
        input and be analytic (see the module docstring).
    x : array_like
        Point, float32 or float64 (integers become float64), any shape.
    method : {"forward", "central", "richardson", "complex"}
        Difference formula.
    step : float, optional
        Relative step ``h``; coordinate ``i`` moves by ``h * max(1, |x_i|)``.  Default: the
        dtype-dependent step of the module table.

    Returns
    -------
    numpy.ndarray
        Shape ``f(x).shape + x.shape``; for ``f: R^n -> R^m`` the usual ``(m, n)`` matrix.

    Raises
    ------
    ValueError
        If `method` is unknown, `x` is empty or not finite, `step` is not a number > 0, or (complex
        step) `f` returned a real result for a complex input.
    TypeError
        If `x` is not float32, float64 or integer.

    Notes
    -----
    This is the engine of :func:`gradient` too: one column ``df/dx_i`` per coordinate, from
    ``x +- h_i e_i`` (the real steps made exactly representable) or ``x + i h e_i``.  Costs ``n + 1`` (forward), ``2n`` (central), ``4n`` (Richardson) or ``n`` (complex) calls of
    `f`.  The Hessian of a function whose gradient you have is ``jacobian(grad, x)``; symmetrize it
    with ``(J + J.T) / 2``.

    Examples
    --------
    >>> import numpy as np
    >>> J = jacobian(lambda v: np.array([v[0] * v[1], np.sin(v[0])]), [1.0, 2.0], method="complex")
    >>> np.allclose(J, [[2.0, 1.0], [np.cos(1.0), 0.0]], rtol=1e-15)
    True
    """
    _check_method(method)
    x = _as_x(x)
    flat = x.ravel()
    n = flat.size
    hs = _steps(flat, method, step, order=1)

    def at(v: np.ndarray) -> np.ndarray:
        return _evaluate(f, v.reshape(x.shape))

    cols = []
    f0 = at(flat) if method == "forward" else None
    for i in range(n):
        h = hs[i]
        if method == "complex":
            v = flat.astype(_COMPLEX[x.dtype])
            v[i] += 1j * h
            cols.append(_complex_out(at(v)).imag / h)
            continue

        def central(h: Any, i: int = i) -> np.ndarray:
            vp, vm = flat.copy(), flat.copy()
            vp[i] += h
            vm[i] -= h
            hp, hm = vp[i] - flat[i], flat[i] - vm[i]  # exact steps, possibly unequal by an ULP
            return (at(vp) - at(vm)) / (hp + hm)

        if method == "forward":
            v = flat.copy()
            v[i] += h
            cols.append((at(v) - f0) / h)
        elif method == "central":
            cols.append(central(h))
        else:  # richardson: D(h) = f' + c h^2 + O(h^4), so (4 D(h/2) - D(h)) / 3 = f' + O(h^4)
            cols.append((4 * central(h / 2) - central(h)) / 3)
    out = np.stack([np.asarray(c) for c in cols], axis=-1)
    return out.reshape(out.shape[:-1] + x.shape)


def gradient(f: Callable[[np.ndarray], Any], x: ArrayLike, *, method: str = "central",
             step: float | None = None) -> np.ndarray:
    """The gradient of a scalar function by finite differences or complex step.

    Parameters are those of :func:`jacobian`; `f` must return a scalar (or a size-1 array).

    Returns
    -------
    numpy.ndarray
        Same shape as `x`.

    Raises
    ------
    ValueError, TypeError
        As for :func:`jacobian`; also ``ValueError`` if `f` does not return a scalar.

    Examples
    --------
    A forward difference with a tiny step is all rounding: ``e^(1+h)`` and ``e`` agree in all but
    their last few bits, and their difference over ``h`` keeps only those.  The complex step
    subtracts nothing, so the same step is harmless:

    >>> import numpy as np
    >>> g = gradient(np.exp, [1.0], method="forward", step=1e-15)
    >>> bool(abs(g[0] / np.e - 1) > 0.01)  # 2.8 here; 2.4 or 3.2 with another CPU's exp
    True
    >>> gradient(np.exp, [1.0], method="complex", step=1e-15)
    array([2.71828183])

    The central difference loses about a third of the digits; the complex step loses none:

    >>> import numpy as np
    >>> f = lambda v: np.exp(v[0]) * np.sin(v[1])
    >>> x = np.array([1.0, 2.0])
    >>> exact = np.array([np.exp(1.0) * np.sin(2.0), np.exp(1.0) * np.cos(2.0)])
    >>> bool(np.max(np.abs(gradient(f, x) - exact)) < 1e-9)
    True
    >>> bool(np.max(np.abs(gradient(f, x, method="complex") - exact)) < 1e-15)
    True
    """
    _check_method(method)
    xx = _as_x(x)
    out = jacobian(f, xx, method=method, step=step)
    if out.shape != xx.shape:
        if out.size == xx.size:
            return out.reshape(xx.shape)
        raise ValueError(f"f must return a scalar for gradient(); it returned shape "
                         f"{out.shape[: out.ndim - xx.ndim]} (use jacobian)")
    return out


def hessian(f: Callable[[np.ndarray], Any], x: ArrayLike, *, method: str = "central",
            step: float | None = None) -> np.ndarray:
    """The Hessian of a scalar function of a vector by second differences.

    Parameters
    ----------
    f : callable
        ``f(x) -> scalar`` for ``x`` of shape ``(n,)``.
    x : array_like, shape (n,)
        Point, float32 or float64.
    method : {"forward", "central", "richardson", "complex"}
        See the module docstring; ``"complex"`` is complex step then central difference.
    step : float, optional
        Relative step; default ``eps**(1/3)``, ``eps**(1/4)``, ``eps**(1/6)``, ``eps**(1/3)``.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Symmetric.

    Raises
    ------
    ValueError, TypeError
        As for :func:`jacobian`; also ``ValueError`` if `x` is not a vector or `f` does not return
        a scalar.

    Notes
    -----
    Calls of `f`: ``(n^2 + 3n)/2 + 1`` (forward), ``2n^2 + 1`` (central, symmetry used),
    twice that (Richardson), ``2 n^2`` (complex).  The attainable accuracy is much worse than for
    gradients -- about ``eps**(1/3)`` relative for forward, ``eps**(1/2)`` for central -- because
    the second difference divides a cancellation by ``h^2``.
    """
    _check_method(method)
    xx = _as_x(x)
    if xx.ndim != 1:
        raise ValueError(f"x must be a vector of shape (n,) for hessian(), got shape {xx.shape}")
    n = xx.size
    hs = _steps(xx, method, step, order=2)

    def fv(v: np.ndarray) -> Any:
        out = _evaluate(f, v)
        if out.size != 1:
            raise ValueError(f"f must return a scalar for hessian(); it returned shape {out.shape}")
        return out.reshape(())[()]

    def shifted(d: dict[int, Any], dtype: Any = None) -> np.ndarray:
        v = xx.astype(dtype) if dtype is not None else xx.copy()
        for i, h in d.items():
            v[i] += h
        return v

    def central(hs: np.ndarray) -> np.ndarray:
        H = np.empty((n, n), dtype=xx.dtype)
        f0 = fv(xx)
        for i in range(n):
            hi = hs[i]
            H[i, i] = (fv(shifted({i: hi})) - 2 * f0 + fv(shifted({i: -hi}))) / (hi * hi)
            for j in range(i + 1, n):
                hj = hs[j]
                H[i, j] = H[j, i] = (
                    fv(shifted({i: hi, j: hj})) - fv(shifted({i: hi, j: -hj}))
                    - fv(shifted({i: -hi, j: hj})) + fv(shifted({i: -hi, j: -hj}))
                ) / (4 * hi * hj)
        return H

    if method == "forward":
        H = np.empty((n, n), dtype=xx.dtype)
        f0 = fv(xx)
        fi = [fv(shifted({i: hs[i]})) for i in range(n)]
        for i in range(n):
            for j in range(i, n):
                # on the diagonal x + h_i e_i + h_i e_i = x + 2 h_i e_i
                fij = fv(shifted({i: 2 * hs[i]} if i == j else {i: hs[i], j: hs[j]}))
                H[i, j] = H[j, i] = (fij - fi[i] - fi[j] + f0) / (hs[i] * hs[j])
    elif method == "central":
        H = central(hs)
    elif method == "richardson":
        H = (4 * central(hs / 2) - central(hs)) / 3
    else:
        ctype = _COMPLEX[xx.dtype]
        H = np.empty((n, n), dtype=xx.dtype)
        for i in range(n):
            for j in range(n):
                ih = 1j * hs[i]
                if i == j:
                    # Im f(x + (h + ih) e_i) - Im f(x + (-h + ih) e_i) over 2 h^2
                    up, dn = {i: hs[i] + ih}, {i: -hs[i] + ih}
                else:
                    up, dn = {i: ih, j: hs[j]}, {i: ih, j: -hs[j]}
                fu = _complex_out(np.asarray(fv(shifted(up, ctype))))
                fd = _complex_out(np.asarray(fv(shifted(dn, ctype))))
                H[i, j] = (fu.imag - fd.imag) / (2 * hs[i] * hs[j])
    return (H + H.T) / 2


# -- the V-shaped error curve ----------------------------------------------------------------------


@dataclass(frozen=True)
class StepErrorCurve:
    """Error of a finite-difference gradient as a function of the step.

    Attributes
    ----------
    method : str
        The difference method.
    steps : numpy.ndarray
        The relative steps ``h`` tried (ascending as given).
    errors : numpy.ndarray
        ``max_i |g_h - g|_i / max_i |g_i|`` for each step (absolute when the exact gradient is 0);
        ``inf`` where the difference was not finite.
    relative : bool
        Whether `errors` are relative (the exact gradient is nonzero).
    exact : numpy.ndarray
        The reference gradient.
    exact_source : {"given", "callable", "complex", "mpmath"}
        Where `exact` came from.
    default_step : float
        The method's default step for the dtype of `x`.
    best_step : float
        The step of the smallest error among `steps`.
    """

    method: str
    steps: np.ndarray
    errors: np.ndarray
    relative: bool
    exact: np.ndarray
    exact_source: str
    default_step: float
    best_step: float


def _mpmath_gradient(f: Callable, x: np.ndarray, dps: int = 40) -> np.ndarray:
    """Gradient by mpmath.diff on an object array of mpf (f must use operators/mpmath only)."""
    import mpmath  # only here: ``import numdl.optim`` must not pay for mpmath

    flat = x.astype(np.float64).ravel()
    out = np.empty(flat.size)
    with mpmath.workdps(dps):
        base = [mpmath.mpf(float(v)) for v in flat]
        for i in range(flat.size):
            def fi(t: Any, i: int = i) -> Any:
                v = np.array(base, dtype=object)
                v[i] = t
                r = f(v.reshape(x.shape))
                return r.reshape(())[()] if isinstance(r, np.ndarray) else r
            out[i] = float(mpmath.diff(fi, base[i]))
    return out.reshape(x.shape)


def step_error_curve(f: Callable[[np.ndarray], Any], x: ArrayLike, method: str, steps: ArrayLike, *,
                     exact: ArrayLike | Callable[[np.ndarray], Any] | str | None = None
                     ) -> StepErrorCurve:
    """The error of :func:`gradient` against the step size: the V of truncation and rounding.

    For large steps the truncation error dominates and falls like ``h``, ``h^2`` or ``h^4``; for
    small steps the rounding error of the difference, ``~ eps |f| / h``, dominates and grows.  The
    bottom of the V sits near the method's default step.  The complex step has no rounding branch:
    its error stays at a few ULPs for every small step.

    Parameters
    ----------
    f : callable
        Scalar function of `x`.
    x : array_like
        The point (its dtype sets the arithmetic of the differences).
    method : {"forward", "central", "richardson", "complex"}
        Difference method.
    steps : array_like of float
        Relative steps ``h > 0`` to try.
    exact : array_like, callable, "complex" or "mpmath", optional
        The true gradient at `x`: an array, an analytic gradient function (called at `x` in
        float64), ``"complex"`` (complex step in complex128: a few ULPs of float64, far below any
        finite-difference error), or ``"mpmath"`` (``mpmath.diff`` at 40 digits; `f` must then
        work on object arrays of ``mpmath.mpf``, i.e. use only operators and mpmath functions).
        Default: ``"complex"``, falling back to ``"mpmath"`` when `f` cannot take complex input.

    Returns
    -------
    StepErrorCurve

    Raises
    ------
    ValueError
        If `steps` is empty or not all finite and ``> 0``, `exact` is an unknown string or an
        array of the wrong shape, or ``exact="complex"`` and `f` cannot take complex input.

    Examples
    --------
    >>> import numpy as np
    >>> curve = step_error_curve(np.exp, np.array([1.0]), "forward", np.logspace(-14, -1, 14))
    >>> bool(1e-10 < curve.best_step < 1e-6)  # near sqrt(eps) = 1.5e-8
    True
    """
    _check_method(method)
    xx = _as_x(x)
    hs = np.asarray(steps, dtype=np.float64).ravel()
    if hs.size == 0 or not np.all(np.isfinite(hs) & (hs > 0)):
        raise ValueError("steps must be a non-empty array of finite numbers > 0")
    x64 = xx.astype(np.float64)
    if exact is None or (isinstance(exact, str) and exact == "complex"):
        try:
            with np.errstate(all="ignore"):
                ref = gradient(f, x64, method="complex", step=1e-30)
            source = "complex"
        except (TypeError, ValueError):
            if exact is not None:
                raise
            ref, source = _mpmath_gradient(f, x64), "mpmath"
    elif isinstance(exact, str):
        if exact != "mpmath":
            raise ValueError(f"exact={exact!r} must be an array, a callable, 'complex' or 'mpmath'")
        ref, source = _mpmath_gradient(f, x64), "mpmath"
    elif callable(exact):
        ref, source = np.asarray(exact(x64), dtype=np.float64).reshape(xx.shape), "callable"
    else:
        ref, source = np.asarray(exact, dtype=np.float64), "given"
        if ref.shape != xx.shape:
            raise ValueError(f"exact must have the shape of x, {xx.shape}, got {ref.shape}")
    scale = float(np.max(np.abs(ref)))
    relative = scale > 0
    errors = np.empty(hs.size)
    with np.errstate(all="ignore"):
        for k, h in enumerate(hs):
            g = gradient(f, xx, method=method, step=float(h)).astype(np.float64)
            err = float(np.max(np.abs(g - ref)))
            errors[k] = err / scale if relative else err
    errors = np.where(np.isfinite(errors), errors, np.inf)
    return StepErrorCurve(
        method=method, steps=hs, errors=errors, relative=relative, exact=ref,
        exact_source=source, default_step=default_step(method, xx.dtype),
        best_step=float(hs[int(np.argmin(errors))]),
    )
