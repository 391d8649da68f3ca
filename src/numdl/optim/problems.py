"""Test problems for optimization: values, analytic gradients and Hessians, known critical points.

Every problem is a frozen :class:`Problem` with ``value(x)``, ``gradient(x)`` and ``hessian(x)``
written out by hand (no automatic or numerical differentiation), a plotting ``box``, a standard
starting point ``start``, and the critical points known for it in closed form or to full float64
precision.  The formulas use only ``+ - * /`` and powers, so the same code evaluates float32,
float64, complex (for the complex-step check of the derivatives) and ``mpmath`` object arrays (for an
exact reference).

All three methods accept a single point of shape ``(dim,)`` or a batch of shape ``(..., dim)``, e.g.
a grid stacked on the last axis for a contour plot:

>>> import numpy as np
>>> from numdl.optim.problems import himmelblau
>>> p = himmelblau()
>>> X, Y = np.meshgrid(np.linspace(-5, 5, 3), np.linspace(-5, 5, 3))
>>> p.value(np.stack([X, Y], axis=-1)).shape
(3, 3)
>>> float(p.value([3.0, 2.0])), p.gradient([3.0, 2.0]).tolist()
(0.0, [0.0, 0.0])

References
----------
.. [1] H. H. Rosenbrock, "An automatic method for finding the greatest or least value of a
       function", *The Computer Journal* 3(3), 1960.
.. [2] D. M. Himmelblau, *Applied Nonlinear Programming*, McGraw-Hill, 1972.
.. [3] M. Jamil and X.-S. Yang, "A literature survey of benchmark functions for global
       optimization problems", *Int. J. Math. Modelling and Numerical Optimisation* 4(2), 2013
       (Beale, Booth, six-hump camel).
.. [4] F. Mezzadri, "How to generate random matrices from the classical compact groups",
       *Notices of the AMS* 54(5), 2007 (the random orthogonal matrix of :func:`quadratic`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "KINDS",
    "PROBLEMS",
    "CriticalPoint",
    "Kind",
    "Problem",
    "beale",
    "booth",
    "himmelblau",
    "monkey_saddle",
    "quadratic",
    "random_orthogonal",
    "rosenbrock",
    "saddle",
    "six_hump_camel",
    "valley",
]

Kind = Literal["minimum", "maximum", "saddle", "degenerate"]
KINDS: tuple[str, ...] = ("minimum", "maximum", "saddle", "degenerate")
"""The kinds of critical point (:attr:`CriticalPoint.kind`, :class:`Kind`)."""


def _readonly(a: Any, dtype: Any = np.float64) -> np.ndarray:
    out = np.array(a, dtype=dtype)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class CriticalPoint:
    """A point where the gradient vanishes, with its type.

    Attributes
    ----------
    x : numpy.ndarray
        The point, shape ``(dim,)`` (read-only).
    value : float
        The function value there.
    kind : {"minimum", "maximum", "saddle", "degenerate"}
        Its type.  For the known points of a :class:`Problem` this is the true type (the monkey
        saddle's origin is a ``"saddle"`` although its Hessian is zero); for points found by
        :func:`numdl.optim.find_critical_points` it is what the Hessian test decides, which is
        ``"degenerate"`` whenever the test is inconclusive.
    eigenvalues : numpy.ndarray or None
        Hessian eigenvalues, ascending, when they were computed.
    grad_norm : float or None
        Euclidean norm of the gradient at `x`, when it was computed (points found numerically).
    """

    x: np.ndarray
    value: float
    kind: str
    eigenvalues: np.ndarray | None = None
    grad_norm: float | None = None


def _point(x: Any, dim: int, name: str = "x") -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind not in "fcO":
        raise TypeError(f"{name} must be a real, complex or object (mpmath) array, got dtype "
                        f"{arr.dtype}")
    if arr.ndim == 0 or arr.shape[-1] != dim:
        raise ValueError(f"{name} must have shape ({dim},) or (..., {dim}) for this {dim}-D problem, "
                         f"got shape {arr.shape}")
    return arr


def _hess2(hxx: Any, hxy: Any, hyy: Any, x: np.ndarray) -> np.ndarray:
    """Stack the entries of a symmetric 2x2 Hessian into shape ``(..., 2, 2)``, dtype of `x`."""
    shape = x.shape[:-1]
    hxx, hxy, hyy = (np.broadcast_to(np.asarray(v, dtype=x.dtype), shape) for v in (hxx, hxy, hyy))
    return np.stack([np.stack([hxx, hxy], -1), np.stack([hxy, hyy], -1)], -2)


@dataclass(frozen=True, eq=False)
class Problem:
    """A smooth test function with analytic derivatives and its known critical points.

    Attributes
    ----------
    name : str
        Registry name (a key of :data:`PROBLEMS`).
    dim : int
        Number of variables.
    box : tuple of (low, high) pairs
        Plotting bounds, one pair per variable; they contain every listed critical point.
    start : numpy.ndarray
        A standard starting point for optimizers (e.g. ``(-1.2, 1)`` for Rosenbrock).
    critical_points : tuple of CriticalPoint
        Critical points known in closed form or computed once to float64 precision.
    critical_points_complete : bool
        True when `critical_points` lists *every* critical point of the function (inside `box`
        for the 2-D polynomial problems, whose critical points all lie there).
    minimum : CriticalPoint or None
        A global minimizer and the minimum value; ``None`` for functions unbounded below or with no
        isolated minimizer.  Where several points share the global minimum (Himmelblau, six-hump
        camel) this is one of them; all are in `critical_points`.
    params : Mapping
        The parameters the problem was built with (read-only).
    """

    name: str
    dim: int
    box: tuple[tuple[float, float], ...]
    start: np.ndarray
    critical_points: tuple[CriticalPoint, ...]
    critical_points_complete: bool
    minimum: CriticalPoint | None
    params: Mapping[str, Any] = field(default_factory=dict)
    _value: Callable[[np.ndarray], Any] = field(default=None, repr=False)  # type: ignore[assignment]
    _gradient: Callable[[np.ndarray], Any] = field(default=None, repr=False)  # type: ignore[assignment]
    _hessian: Callable[[np.ndarray], Any] = field(default=None, repr=False)  # type: ignore[assignment]

    def value(self, x: ArrayLike) -> float | np.ndarray:
        """f(x) for ``x`` of shape ``(dim,)`` (a scalar) or ``(..., dim)`` (an array ``(...)``)."""
        x = _point(x, self.dim)
        out = self._value(x)
        return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out

    def gradient(self, x: ArrayLike) -> np.ndarray:
        """The analytic gradient, shape ``(..., dim)``."""
        return self._gradient(_point(x, self.dim))

    def hessian(self, x: ArrayLike) -> np.ndarray:
        """The analytic Hessian, shape ``(..., dim, dim)``."""
        return self._hessian(_point(x, self.dim))

    def __call__(self, x: ArrayLike) -> float | np.ndarray:
        """``self.value(x)``."""
        return self.value(x)


def _cp(x: Any, value: float, kind: str) -> CriticalPoint:
    return CriticalPoint(x=_readonly(x), value=float(value), kind=kind)


# -- quadratic -------------------------------------------------------------------------------------


def random_orthogonal(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed random orthogonal matrix of shape ``(dim, dim)``.

    QR of a standard normal matrix, with the columns of Q multiplied by the signs of R's diagonal:
    without that correction the distribution is not uniform on O(n) (Mezzadri 2007).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def quadratic(
    hessian: ArrayLike | None = None,
    *,
    kappa: float | None = None,
    dim: int = 2,
    rng: np.random.Generator | None = None,
    b: ArrayLike | None = None,
) -> Problem:
    """f(x) = x^T H x / 2 - b^T x, from a given Hessian H or a given condition number.

    Parameters
    ----------
    hessian : array_like, shape (n, n), optional
        A symmetric matrix.  Exactly one of `hessian` and `kappa` must be given.
    kappa : float, optional
        Condition number ``lambda_max / lambda_min >= 1``.  The eigenvalues are
        ``geomspace(1, kappa, dim)`` (so ``(1, kappa)`` in 2-D), and ``H = Q diag(lambda) Q^T``.
    dim : int
        Dimension when `kappa` is given (ignored with `hessian`, whose shape decides).
    rng : numpy.random.Generator, optional
        Draws the random orthogonal Q (:func:`random_orthogonal`).  Without it ``Q = I``: the
        Hessian is ``diag(1, ..., kappa)`` and the valley is aligned with the first axis.
    b : array_like, shape (n,), optional
        Linear term; default zero.

    Returns
    -------
    Problem
        Named ``"quadratic"``; ``params`` holds ``hessian``, ``b``, ``eigenvalues`` (ascending).
        Its one critical point ``x* = H^{-1} b`` is a minimum, maximum or saddle by the signs of the
        eigenvalues; a singular H has no isolated critical point and lists none.

    Notes
    -----
    The gradient is ``H x - b`` and the Hessian ``H`` everywhere.  Gradient descent with step
    ``lr`` multiplies the error's component along the eigenvector of ``lambda`` by
    ``1 - lr * lambda`` per step (see :func:`numdl.optim.quadratic_rates`).
    """
    if (hessian is None) == (kappa is None):
        raise ValueError("give exactly one of hessian= and kappa=")
    if hessian is not None:
        H = np.array(hessian, dtype=np.float64)
        if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] == 0:
            raise ValueError(f"hessian must be a square (n, n) matrix, got shape {H.shape}")
        if not np.all(np.isfinite(H)):
            raise ValueError("hessian must be finite")
        scale = max(float(np.max(np.abs(H))), np.finfo(np.float64).tiny)
        if np.max(np.abs(H - H.T)) > 64 * np.finfo(np.float64).eps * scale:
            raise ValueError("hessian must be symmetric")
        H = (H + H.T) / 2
        lam = np.linalg.eigvalsh(H)
        n = H.shape[0]
    else:
        if isinstance(kappa, bool) or not isinstance(kappa, int | float | np.integer | np.floating):
            raise TypeError(f"kappa must be a real number, got {type(kappa).__name__}")
        if not (math.isfinite(kappa) and kappa >= 1):
            raise ValueError(f"kappa must be finite and >= 1, got {kappa}")
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        n = int(dim)
        lam = np.geomspace(1.0, float(kappa), n) if n > 1 else np.array([1.0])
        if rng is None:
            H = np.diag(lam)
        else:
            Q = random_orthogonal(n, rng)
            H = (Q * lam) @ Q.T
            H = (H + H.T) / 2
    bb = np.zeros(n) if b is None else np.array(b, dtype=np.float64)
    if bb.shape != (n,):
        raise ValueError(f"b must have shape ({n},), got {bb.shape}")
    H = _readonly(H)
    bb = _readonly(bb)

    def like(a, x):  # float32 in, float32 out
        return a.astype(x.dtype) if x.dtype.kind in "fc" else a

    def value(x):
        return 0.5 * np.einsum("...i,ij,...j->...", x, like(H, x), x) - x @ like(bb, x)

    def gradient(x):
        return x @ like(H, x) - like(bb, x)  # H is symmetric: x^T H = (H x)^T

    def hessian_(x):
        return np.broadcast_to(H.astype(x.dtype), (*x.shape[:-1], n, n)).copy()

    tol = n * np.finfo(np.float64).eps * max(float(np.max(np.abs(lam))), np.finfo(np.float64).tiny)
    cps: tuple[CriticalPoint, ...] = ()
    minimum = None
    center = np.zeros(n)
    if np.all(np.abs(lam) > tol):
        xstar = np.linalg.solve(H, bb)
        center = xstar
        kind = ("minimum" if lam[0] > 0 else "maximum" if lam[-1] < 0 else "saddle")
        cp = _cp(xstar, value(xstar), kind)
        cps = (cp,)
        minimum = cp if kind == "minimum" else None
    box = tuple((float(c) - 2.0, float(c) + 2.0) for c in center)
    start = center + np.where(np.arange(n) % 2 == 0, -1.5, 1.0)
    return Problem(
        name="quadratic", dim=n, box=box, start=_readonly(start), critical_points=cps,
        critical_points_complete=True, minimum=minimum,
        params=MappingProxyType({"hessian": H, "b": bb, "eigenvalues": _readonly(lam)}),
        _value=value, _gradient=gradient, _hessian=hessian_,
    )


# -- Rosenbrock ------------------------------------------------------------------------------------


def rosenbrock(dim: int = 2, *, a: float = 1.0, b: float = 100.0) -> Problem:
    """The Rosenbrock function f(x) = sum_i b (x_{i+1} - x_i^2)^2 + (a - x_i)^2, i = 0..n-2.

    The global minimum is ``f(a, a^2) = 0`` in 2-D and ``f(1, ..., 1) = 0`` for ``a = 1``; for
    ``n > 2`` and ``a`` other than 0 or 1 the minimizer has no closed form and none is listed.  The
    minimizer lies at the bottom of a curved, flat valley ``x_{i+1} = x_i^2`` whose Hessian at the
    minimum has condition number ~2500 in 2-D.

    Parameters
    ----------
    dim : int
        Number of variables, ``>= 2``.
    a, b : float
        Shape parameters; the classical values are ``a = 1, b = 100``.

    Notes
    -----
    Gradient: ``g_i = -4 b x_i (x_{i+1} - x_i^2) - 2 (a - x_i)`` (for ``i < n-1``)
    ``+ 2 b (x_i - x_{i-1}^2)`` (for ``i > 0``).  The Hessian is tridiagonal with diagonal
    ``12 b x_i^2 - 4 b x_{i+1} + 2`` (``i < n-1``) ``+ 2 b`` (``i > 0``) and off-diagonal
    ``-4 b x_i``.  For ``a = 1`` and ``4 <= dim <= 7`` there is also a local minimum near
    ``(-1, 1, ..., 1)`` (Kok & Sandrock, *Evol. Comput.* 17(3), 2009); it is not listed, so
    ``critical_points_complete`` is False for ``dim >= 4``.  In 2-D and 3-D the minimum is the only
    critical point.
    """
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 2:
        raise ValueError(f"dim must be an integer >= 2, got {dim!r}")
    n = int(dim)
    a, b = float(a), float(b)

    def value(x):
        xi, xn = x[..., :-1], x[..., 1:]
        return np.sum(b * (xn - xi * xi) ** 2 + (a - xi) ** 2, axis=-1)

    def gradient(x):
        xi, xn = x[..., :-1], x[..., 1:]
        r = xn - xi * xi
        g = np.zeros(x.shape, dtype=x.dtype)
        g[..., :-1] += -4 * b * xi * r - 2 * (a - xi)
        g[..., 1:] += 2 * b * r
        return g

    def hessian(x):
        xi, xn = x[..., :-1], x[..., 1:]
        H = np.zeros((*x.shape[:-1], n, n), dtype=x.dtype)
        d = np.zeros(x.shape, dtype=x.dtype)
        d[..., :-1] += 12 * b * xi * xi - 4 * b * xn + 2
        d[..., 1:] += 2 * b
        idx = np.arange(n)
        H[..., idx, idx] = d
        off = -4 * b * xi
        H[..., idx[:-1], idx[1:]] = off
        H[..., idx[1:], idx[:-1]] = off
        return H

    # f = 0 needs x_i = a (i < n-1) and x_{i+1} = x_i^2: (a, a^2) in 2-D, and for n > 2 only
    # a = a^2, i.e. a in {0, 1}.  Otherwise the minimizer has no closed form and is not listed.
    cps: tuple[CriticalPoint, ...] = ()
    if n == 2 or a in (0.0, 1.0):
        xstar = np.full(n, a)
        xstar[-1] = a * a
        cps = (_cp(xstar, value(xstar), "minimum"),)
    start = np.where(np.arange(n) % 2 == 0, -1.2, 1.0)
    box = ((-2.0, 2.0), (-1.0, 3.0)) if n == 2 else tuple((-2.0, 2.0) for _ in range(n))
    return Problem(
        name="rosenbrock", dim=n, box=box, start=_readonly(start), critical_points=cps,
        critical_points_complete=(n <= 3 and a == 1.0 and b == 100.0),
        minimum=cps[0] if cps else None,
        params=MappingProxyType({"a": a, "b": b}),
        _value=value, _gradient=gradient, _hessian=hessian,
    )


# -- 2-D problems ----------------------------------------------------------------------------------


def beale() -> Problem:
    """Beale's function (t1^2 + t2^2 + t3^2), t_k = c_k - x + x y^k, c = (1.5, 2.25, 2.625).

    Global minimum ``f(3, 0.5) = 0`` in a narrow curved valley; a saddle at ``(0, 1)`` where the
    function is constant along the lines ``x = 0`` and ``y = 1`` (``f = 14.203125``), and a saddle
    near ``(0.1005, -2.6445)`` (``f ~ 9.8645``).

    Notes
    -----
    ``g_x = 2 sum_k t_k (y^k - 1)``, ``g_y = 2 sum_k t_k k x y^(k-1)``;
    ``H_xx = 2 sum_k (y^k - 1)^2``,
    ``H_xy = 2 sum_k [k x y^(k-1) (y^k - 1) + k y^(k-1) t_k]``,
    ``H_yy = 2 sum_k [(k x y^(k-1))^2 + k (k-1) x y^(k-2) t_k]``.
    These three are all the critical points in the plane.  ``g_x`` is affine in ``x``:
    ``g_x = 2 (A(y) + x B(y))`` with ``A = sum_k c_k (y^k - 1)``, ``B = sum_k (y^k - 1)^2``.  On
    ``y = 1`` (where ``B = 0``) only ``(0, 1)`` is critical.  Elsewhere ``x = -A / B``, and
    ``g_y = 0`` means ``x = 0`` (then ``A = 0``, only at ``y = 1``) or ``B A' - A B' / 2 = 0``, a
    degree-7 polynomial whose real roots besides the triple root ``y = 1`` are ``0.5`` and
    ``-2.6445...`` (the tests recompute them).
    """
    c = (1.5, 2.25, 2.625)

    def terms(x):
        X, Y = x[..., 0], x[..., 1]
        return X, Y, [(c[k - 1] - X + X * Y**k) for k in (1, 2, 3)]

    def value(x):
        _, _, t = terms(x)
        return t[0] ** 2 + t[1] ** 2 + t[2] ** 2

    def gradient(x):
        X, Y, t = terms(x)
        gx = 2 * (t[0] * (Y - 1) + t[1] * (Y**2 - 1) + t[2] * (Y**3 - 1))
        gy = 2 * (t[0] * X + t[1] * 2 * X * Y + t[2] * 3 * X * Y**2)
        return np.stack([gx, gy], -1)

    def hessian(x):
        X, Y, t = terms(x)
        hxx = 2 * ((Y - 1) ** 2 + (Y**2 - 1) ** 2 + (Y**3 - 1) ** 2)
        hxy = 2 * (X * (Y - 1) + t[0] + 2 * X * Y * (Y**2 - 1) + 2 * Y * t[1]
                   + 3 * X * Y**2 * (Y**3 - 1) + 3 * Y**2 * t[2])
        hyy = 2 * (X**2 + (2 * X * Y) ** 2 + 2 * X * t[1] + (3 * X * Y**2) ** 2 + 6 * X * Y * t[2])
        return _hess2(hxx, hxy, hyy, x)

    mini = _cp([3.0, 0.5], 0.0, "minimum")
    # The second saddle from the polynomial above, polished with mpmath.findroot at 50 digits.
    xs = np.array([0.10053793732415836, -2.644513585023125])
    cps = (mini, _cp(xs, value(xs), "saddle"), _cp([0.0, 1.0], 14.203125, "saddle"))
    return Problem(
        name="beale", dim=2, box=((-4.5, 4.5), (-4.5, 4.5)), start=_readonly([1.0, 1.5]),
        critical_points=cps, critical_points_complete=True, minimum=mini,
        _value=value, _gradient=gradient, _hessian=hessian,
    )


# Himmelblau's nine critical points: roots of g = 0 polished with mpmath.findroot at 50 digits from
# multi-start Newton estimates, rounded to float64 (recipe in tests/optim/test_optim_problems.py).
_HIMMELBLAU_POINTS = (
    ((3.0, 2.0), "minimum"),
    ((-2.805118086952745, 3.131312518250573), "minimum"),
    ((-3.779310253377747, -3.2831859912861696), "minimum"),
    ((3.5844283403304917, -1.8481265269644036), "minimum"),
    ((-0.2708445906673476, -0.9230385564799815), "maximum"),
    ((3.385154183607021, 0.07385187983774928), "saddle"),
    ((0.08667750455539636, 2.884254701174776), "saddle"),
    ((-3.0730257507643897, -0.08135304428796751), "saddle"),
    ((-0.12796134673068008, -1.9537149802445763), "saddle"),
)


def himmelblau() -> Problem:
    """Himmelblau's function f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2.

    Four global minima with ``f = 0`` (one at ``(3, 2)``), a local maximum near
    ``(-0.2708, -0.9230)`` (``f ~ 181.617``) and four saddles: nine critical points, all in
    ``[-5, 5]^2``.

    Notes
    -----
    With ``u = x^2 + y - 11`` and ``v = x + y^2 - 7``: ``g = (4 x u + 2 v, 2 u + 4 y v)``,
    ``H = [[4 u + 8 x^2 + 2, 4 (x + y)], [4 (x + y), 4 v + 8 y^2 + 2]]``.
    """

    def value(x):
        X, Y = x[..., 0], x[..., 1]
        return (X * X + Y - 11) ** 2 + (X + Y * Y - 7) ** 2

    def gradient(x):
        X, Y = x[..., 0], x[..., 1]
        u, v = X * X + Y - 11, X + Y * Y - 7
        return np.stack([4 * X * u + 2 * v, 2 * u + 4 * Y * v], -1)

    def hessian(x):
        X, Y = x[..., 0], x[..., 1]
        u, v = X * X + Y - 11, X + Y * Y - 7
        return _hess2(4 * u + 8 * X * X + 2, 4 * (X + Y), 4 * v + 8 * Y * Y + 2, x)

    cps = tuple(_cp(p, value(np.array(p)), kind) for p, kind in _HIMMELBLAU_POINTS)
    return Problem(
        name="himmelblau", dim=2, box=((-5.0, 5.0), (-5.0, 5.0)), start=_readonly([0.0, 0.0]),
        critical_points=cps, critical_points_complete=True, minimum=cps[0],
        _value=value, _gradient=gradient, _hessian=hessian,
    )


def saddle() -> Problem:
    """The saddle f(x, y) = x^2 - y^2: one critical point, a saddle at the origin; unbounded below.

    ``g = (2x, -2y)``, ``H = diag(2, -2)``.  ``minimum`` is None.  Gradient descent started off the
    x-axis escapes along y; started on it, it converges to the saddle.
    """

    def value(x):
        return x[..., 0] ** 2 - x[..., 1] ** 2

    def gradient(x):
        return np.stack([2 * x[..., 0], -2 * x[..., 1]], -1)

    def hessian(x):
        return _hess2(2.0, 0.0, -2.0, x)

    return Problem(
        name="saddle", dim=2, box=((-2.0, 2.0), (-2.0, 2.0)), start=_readonly([1.5, 1e-3]),
        critical_points=(_cp([0.0, 0.0], 0.0, "saddle"),), critical_points_complete=True,
        minimum=None, _value=value, _gradient=gradient, _hessian=hessian,
    )


def monkey_saddle() -> Problem:
    """The monkey saddle f(x, y) = x^3 - 3 x y^2 (= Re (x + iy)^3): three valleys, three ridges.

    The origin is its only critical point, a saddle of order three: the Hessian
    ``[[6x, -6y], [-6y, -6x]]`` vanishes there, so the second-derivative test is inconclusive and
    :func:`numdl.optim.classify_critical_point` answers ``"degenerate"``, while the listed kind is
    the true one, ``"saddle"``.  ``g = (3x^2 - 3y^2, -6xy)``; unbounded below, ``minimum`` is None.
    """

    def value(x):
        X, Y = x[..., 0], x[..., 1]
        return X**3 - 3 * X * Y**2

    def gradient(x):
        X, Y = x[..., 0], x[..., 1]
        return np.stack([3 * X**2 - 3 * Y**2, -6 * X * Y], -1)

    def hessian(x):
        X, Y = x[..., 0], x[..., 1]
        return _hess2(6 * X, -6 * Y, -6 * X, x)

    return Problem(
        name="monkey_saddle", dim=2, box=((-2.0, 2.0), (-2.0, 2.0)), start=_readonly([1.0, 0.5]),
        critical_points=(_cp([0.0, 0.0], 0.0, "saddle"),), critical_points_complete=True,
        minimum=None, _value=value, _gradient=gradient, _hessian=hessian,
    )


def booth() -> Problem:
    """Booth's function f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2, minimum f(1, 3) = 0.

    A quadratic in disguise: ``g = (10x + 8y - 34, 8x + 10y - 38)``, ``H = [[10, 8], [8, 10]]``
    with eigenvalues 2 and 18 (condition number 9).
    """

    def value(x):
        X, Y = x[..., 0], x[..., 1]
        return (X + 2 * Y - 7) ** 2 + (2 * X + Y - 5) ** 2

    def gradient(x):
        X, Y = x[..., 0], x[..., 1]
        return np.stack([10 * X + 8 * Y - 34, 8 * X + 10 * Y - 38], -1)

    def hessian(x):
        return _hess2(10.0, 8.0, 10.0, x)

    mini = _cp([1.0, 3.0], 0.0, "minimum")
    return Problem(
        name="booth", dim=2, box=((-4.0, 6.0), (-2.0, 8.0)), start=_readonly([-3.0, -1.0]),
        critical_points=(mini,), critical_points_complete=True, minimum=mini,
        _value=value, _gradient=gradient, _hessian=hessian,
    )


# Six-hump camel: all 15 critical points (6 minima, 2 maxima, 7 saddles, found by multi-start Newton
# over [-3, 3] x [-2, 2]), polished with mpmath.findroot at 50 digits and rounded to float64; the
# kinds from the Hessian's eigenvalues (recipe in tests/optim/test_optim_problems.py).
_CAMEL_POINTS = (
    ((0.08984201310031806, -0.7126564030207396), "minimum"),
    ((-0.08984201310031806, 0.7126564030207396), "minimum"),
    ((1.703606714969981, -0.7960835686726251), "minimum"),
    ((-1.703606714969981, 0.7960835686726251), "minimum"),
    ((1.6071047529201972, 0.5686514548841314), "minimum"),
    ((-1.6071047529201972, -0.5686514548841314), "minimum"),
    ((1.2302298765166526, 0.16233458445899496), "maximum"),
    ((-1.2302298765166526, -0.16233458445899496), "maximum"),
    ((0.0, 0.0), "saddle"),
    ((1.1092053368047865, -0.7682680925095399), "saddle"),
    ((-1.1092053368047865, 0.7682680925095399), "saddle"),
    ((1.6380679841897785, 0.22867406904439408), "saddle"),
    ((-1.6380679841897785, -0.22867406904439408), "saddle"),
    ((1.2960702671671092, 0.6050843880386585), "saddle"),
    ((-1.2960702671671092, -0.6050843880386585), "saddle"),
)


def six_hump_camel() -> Problem:
    """The six-hump camel f(x, y) = (4 - 2.1 x^2 + x^4 / 3) x^2 + x y + (4 y^2 - 4) y^2.

    Six local minima, two of them global with ``f ~ -1.0316`` at ``+-(0.0898, -0.7127)``; the
    function is odd-symmetric (``f(-x, -y) = f(x, y)``).

    Notes
    -----
    ``g = (8x - 8.4 x^3 + 2 x^5 + y, x - 8y + 16 y^3)``,
    ``H = [[8 - 25.2 x^2 + 10 x^4, 1], [1, 48 y^2 - 8]]``.  All 15 critical points are listed: six
    minima, two maxima and seven saddles (one at the origin), all inside the plotting box
    ``[-2, 2] x [-1, 1]``.
    """

    def value(x):
        X, Y = x[..., 0], x[..., 1]
        X2, Y2 = X * X, Y * Y
        return (4 - 2.1 * X2 + X2 * X2 / 3) * X2 + X * Y + (4 * Y2 - 4) * Y2

    def gradient(x):
        X, Y = x[..., 0], x[..., 1]
        return np.stack([8 * X - 8.4 * X**3 + 2 * X**5 + Y, X - 8 * Y + 16 * Y**3], -1)

    def hessian(x):
        X, Y = x[..., 0], x[..., 1]
        return _hess2(8 - 25.2 * X**2 + 10 * X**4, 1.0, 48 * Y**2 - 8, x)

    cps = tuple(_cp(p, value(np.array(p)), kind) for p, kind in _CAMEL_POINTS)
    return Problem(
        name="six_hump_camel", dim=2, box=((-2.0, 2.0), (-1.0, 1.0)),
        start=_readonly([-1.5, -0.8]), critical_points=cps, critical_points_complete=True,
        minimum=cps[0], _value=value, _gradient=gradient, _hessian=hessian,
    )


def valley(kappa: float = 100.0, *, curvature: float = 0.5) -> Problem:
    """A curved, ill-conditioned valley f(x, y) = (x^2 + kappa (y - c x^2)^2) / 2.

    The floor of the valley is the parabola ``y = c x^2``; across it the curvature is ``kappa``,
    along it about 1, so the Hessian at the minimum ``(0, 0)`` is ``diag(1, kappa)``.  With
    ``c = 0`` it is the axis-aligned quadratic with condition number `kappa`; with ``c > 0``
    methods that rely on a fixed metric (momentum, Adam) must also follow the bend.

    Parameters
    ----------
    kappa : float
        Curvature across the valley, ``> 0`` (the condition number at the minimum when ``>= 1``).
    curvature : float
        The bend ``c`` of the valley floor.

    Notes
    -----
    With ``r = y - c x^2``: ``g = (x - 2 kappa c x r, kappa r)``,
    ``H = [[1 - 2 kappa c r + 4 kappa c^2 x^2, -2 kappa c x], [-2 kappa c x, kappa]]``.
    ``g_y = 0`` forces ``r = 0`` and then ``g_x = x = 0``: the origin is the only critical point.
    """
    if not (isinstance(kappa, int | float | np.integer | np.floating) and math.isfinite(kappa)
            and kappa > 0):
        raise ValueError(f"kappa must be a finite number > 0, got {kappa!r}")
    k, c = float(kappa), float(curvature)

    def value(x):
        X, Y = x[..., 0], x[..., 1]
        r = Y - c * X * X
        return 0.5 * (X * X + k * r * r)

    def gradient(x):
        X, Y = x[..., 0], x[..., 1]
        r = Y - c * X * X
        return np.stack([X - 2 * k * c * X * r, k * r], -1)

    def hessian(x):
        X, Y = x[..., 0], x[..., 1]
        r = Y - c * X * X
        return _hess2(1 - 2 * k * c * r + 4 * k * c * c * X * X, -2 * k * c * X, k, x)

    mini = _cp([0.0, 0.0], 0.0, "minimum")
    return Problem(
        name="valley", dim=2, box=((-2.5, 2.5), (-1.0, 3.0)), start=_readonly([-2.0, 2.5]),
        critical_points=(mini,), critical_points_complete=True, minimum=mini,
        params=MappingProxyType({"kappa": k, "curvature": c}),
        _value=value, _gradient=gradient, _hessian=hessian,
    )


PROBLEMS: Mapping[str, Callable[..., Problem]] = MappingProxyType({
    "quadratic": functools.partial(quadratic, kappa=10.0),
    "rosenbrock": rosenbrock,
    "beale": beale,
    "himmelblau": himmelblau,
    "booth": booth,
    "six_hump_camel": six_hump_camel,
    "valley": valley,
    "saddle": saddle,
    "monkey_saddle": monkey_saddle,
})
"""Problem factories by name, for the tutorial's dropdowns: ``PROBLEMS[name]()`` builds the default
instance (``"quadratic"`` is ``quadratic(kappa=10.0)``, axis-aligned)."""
