"""``minimize``: one driver for every method, one result record, one table of statuses.

:func:`newton`, :func:`bfgs` and :func:`lbfgs` are shorthands for it (they live here, not in
:mod:`~numdl.optim.second_order`, so that the directions and line search there import nothing of
the driver).  A first-order method is named (``method="adam"``, with ``lr=``) or given as a
:class:`~numdl.optim.transforms.GradientTransformation` (``method=chain(...)``).

>>> import numpy as np
>>> from numdl.optim import minimize
>>> from numdl.optim.problems import rosenbrock
>>> p = rosenbrock()
>>> res = minimize(p.value, p.start, method="bfgs", grad=p.gradient)
>>> res.status, res.success, bool(np.allclose(res.x, [1, 1], atol=1e-6))
(<Status.CONVERGED: 'converged'>, True, True)

Divergence is a status, not an exception: gradient descent on ``x^2 / 2 + 50 y^2`` (largest
curvature 100) is stable below ``lr = 2/100`` and explodes above it.

>>> from numdl.optim.problems import quadratic
>>> q = quadratic([[1.0, 0.0], [0.0, 100.0]])
>>> minimize(q, [1.0, 1.0], method="gd", lr=0.019, max_iter=2000).status.value
'converged'
>>> r = minimize(q, [1.0, 1.0], method="gd", lr=0.021, max_iter=2000)
>>> r.status.value, r.reason, r.nit < 2000
('diverged', 'exploded', True)

An optimizer composed of :mod:`~numdl.optim.transforms` runs like a named one:

>>> from numdl.optim.transforms import chain, clip_by_global_norm, scale_by_learning_rate, trace
>>> opt = chain(clip_by_global_norm(1.0), trace(0.9), scale_by_learning_rate(0.01))
>>> r = minimize(q, [1.0, 1.0], method=opt, max_iter=2000)
>>> r.status.value, r.method
('converged', 'gradient_transformation')
"""

from __future__ import annotations

import enum
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim import derivatives
from numdl.optim.first_order import OPTIMIZERS
from numdl.optim.problems import Problem
from numdl.optim.second_order import (
    DAMPINGS,
    bfgs_update,
    lbfgs_direction,
    newton_direction,
    wolfe_line_search,
)
from numdl.optim.trajectory import Trajectory, trajectory_capacity
from numdl.optim.transforms import GradientTransformation

__all__ = [
    "DEFAULT_MAX_ITER",
    "DEFAULT_TOL",
    "DIVERGENCE_FACTOR",
    "FIRST_ORDER_METHODS",
    "MESSAGES",
    "METHODS",
    "SECOND_ORDER_METHODS",
    "TRANSFORMATION_METHOD",
    "IterationInfo",
    "OptimizeResult",
    "Status",
    "bfgs",
    "lbfgs",
    "minimize",
    "newton",
]


class Status(enum.Enum):
    """How a run of :func:`minimize` (or :func:`~numdl.optim.constrained.minimize_constrained`)
    ended.  ``success`` is ``status is Status.CONVERGED``.  ``INFEASIBLE`` is only reported by
    constrained runs: no point satisfies the constraints (as far as the method can tell)."""

    CONVERGED = "converged"
    MAX_ITER = "max_iter"
    DIVERGED = "diverged"
    STALLED = "stalled"
    CALLBACK = "callback"
    INFEASIBLE = "infeasible"


DIVERGENCE_FACTOR = 1e12
"""A run has diverged when ``|f - f0| > DIVERGENCE_FACTOR * max(|f0|, 1)`` (or f, g, x non-finite)."""

MESSAGES: Mapping[str, tuple[Status, str]] = MappingProxyType({
    "converged": (Status.CONVERGED, "gradient norm {grad_norm:.3g} <= tol = {tol:.3g}"),
    "max_iter": (Status.MAX_ITER,
                 "reached max_iter = {max_iter} with gradient norm {grad_norm:.3g} > tol = {tol:.3g}"),
    "nonfinite": (Status.DIVERGED, "f, its gradient or x is not finite (inf or nan) at iteration "
                                   "{nit}"),
    "exploded": (Status.DIVERGED, "|f - f0| = {change:.3g} exceeds {factor:.0e} * max(|f0|, 1) at "
                                  "iteration {nit}: the iteration is unstable (step too large) or f "
                                  "is unbounded below"),
    "no_step": (Status.STALLED, "the update no longer changes x at iteration {nit} (the step is "
                                "below the resolution of x)"),
    "line_search": (Status.STALLED, "the line search found no point with sufficient decrease at "
                                    "iteration {nit} (limit of precision, or an inaccurate "
                                    "gradient); gradient norm {grad_norm:.3g}"),
    "singular": (Status.STALLED, "the Hessian is singular or not finite at iteration {nit} "
                                 "(undamped Newton); try damping='levenberg'"),
    "not_descent": (Status.STALLED, "the undamped Newton direction points uphill at iteration "
                                    "{nit} (Hessian not positive definite); try "
                                    "damping='levenberg' or line_search=False"),
    "callback": (Status.CALLBACK, "the callback asked to stop at iteration {nit}"),
    # constrained runs (numdl.optim.constrained.minimize_constrained)
    "kkt_converged": (Status.CONVERGED, "every KKT residual <= tol = {tol:.3g} (largest: {worst} "
                                        "{kkt:.3g})"),
    "kkt_max_iter": (Status.MAX_ITER, "reached max_iter = {max_iter} with the KKT residual {worst} "
                                      "= {kkt:.3g} > tol = {tol:.3g}"),
    "infeasible": (Status.INFEASIBLE, "the constraints cannot be satisfied: the violation "
                                      "{violation:.3g} stopped decreasing while the penalty grew to "
                                      "{penalty:.3g} (x is a stationary point of the total "
                                      "violation); the feasible set is probably empty"),
    "inconsistent": (Status.INFEASIBLE, "the constraints {names} are inconsistent: they pull "
                                        "against each other (their violations' gradients cancel) "
                                        "and the violation {violation:.3g} stopped decreasing while "
                                        "the penalty grew to {penalty:.3g}"),
    "empty_set": (Status.INFEASIBLE, "the set is empty ({why}): no point satisfies the "
                                     "constraints"),
    "nonfinite_constraints": (Status.DIVERGED, "a constraint's value or gradient is not finite "
                                               "(inf or nan) at iteration {nit}"),
})
"""The one table of outcomes: ``reason -> (status, message template)``."""

FIRST_ORDER_METHODS: tuple[str, ...] = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                                        "adamw")
SECOND_ORDER_METHODS: tuple[str, ...] = ("newton", "bfgs", "lbfgs")
METHODS: tuple[str, ...] = FIRST_ORDER_METHODS + SECOND_ORDER_METHODS
TRANSFORMATION_METHOD = "gradient_transformation"
"""``OptimizeResult.method`` of a run whose `method` was a :class:`GradientTransformation`."""

DEFAULT_TOL: Mapping[np.dtype, float] = MappingProxyType({
    np.dtype(np.float64): 1e-6,
    np.dtype(np.float32): 1e-3,
})
"""Default gradient-norm tolerance by dtype of ``x0``.  An absolute tolerance, so it assumes f and
x of order 1; float32 gradients carry rounding errors near ``1e-7 |H| |x|``."""

DEFAULT_MAX_ITER = 1000


class IterationInfo(NamedTuple):
    """What the callback receives after each iteration (`x` and `grad` are read-only)."""

    nit: int
    x: np.ndarray
    fun: float
    grad: np.ndarray
    grad_norm: float


@dataclass(frozen=True)
class OptimizeResult:
    """The outcome of :func:`minimize` (arrays are read-only).

    Attributes
    ----------
    x : numpy.ndarray
        Final iterate (the last finite one if the run diverged to non-finite values).
    fun : float
        ``f(x)``.
    grad : numpy.ndarray
        Gradient at `x`.
    grad_norm : float
        Euclidean norm of `grad`; the convergence test is ``grad_norm <= tol``.
    nit : int
        Iterations (accepted steps).
    nfev, ngev, nhev : int
        Calls of ``fun``, ``grad`` and ``hess``.  With ``grad=None`` the finite-difference
        evaluations are counted in ``nfev`` and ``ngev`` is 0; with ``grad=True`` (``fun`` returns
        ``(f, g)``) ``ngev == nfev``.
    status : Status
        One of :class:`Status`.
    reason : str
        Key of :data:`MESSAGES` giving the finer cause (e.g. ``"exploded"`` or ``"nonfinite"``
        for ``DIVERGED``).
    message : str
        Human-readable, from the :data:`MESSAGES` template.
    success : bool
        ``status is Status.CONVERGED``; checked after the non-finite test, so a NaN result is never
        a success.
    method : str
        The method used (``"gradient_transformation"`` for an optimizer given as an object).
    tol : float
        The gradient-norm tolerance used.
    trajectory : numpy.ndarray, shape (k, n)
        Iterates (flattened: ``n = x0.size``), from ``x0`` to the last iterate -- which is `x`,
        except after a divergence to inf/nan, where it is the non-finite point and `x` the last
        finite one.  At most ``max_trajectory`` rows: when
        a run has more iterates, every ``s``-th is kept (``s`` doubling as needed) plus the last.
    trajectory_fun : numpy.ndarray, shape (k,)
        ``f`` at the rows of `trajectory`.
    trajectory_iter : numpy.ndarray of int, shape (k,)
        Iteration number of each row.
    """

    x: np.ndarray
    fun: float
    grad: np.ndarray
    grad_norm: float
    nit: int
    nfev: int
    ngev: int
    nhev: int
    status: Status
    reason: str
    message: str
    success: bool
    method: str
    tol: float
    trajectory: np.ndarray
    trajectory_fun: np.ndarray
    trajectory_iter: np.ndarray


class _Objective:
    """Counts calls, casts results to the working dtype, supplies missing derivatives."""

    def __init__(self, fun: Callable, grad: Any, hess: Any, dtype: np.dtype, shape: tuple,
                 fd_method: str) -> None:
        self.fun, self.grad, self.hess = fun, grad, hess
        self.dtype, self.shape, self.fd_method = dtype, shape, fd_method
        self.nfev = self.ngev = self.nhev = 0

    def _scalar(self, value: Any) -> float:
        v = np.asarray(value)
        if v.size != 1:
            raise ValueError(f"fun must return a scalar, got an array of shape {v.shape}")
        if v.dtype.kind == "c":
            raise TypeError("fun returned a complex value; minimize needs a real function")
        return float(v.reshape(()))

    def _vector(self, value: Any, what: str) -> np.ndarray:
        v = np.asarray(value)
        if v.size != math.prod(self.shape):
            raise ValueError(f"{what} must return an array with the shape of x0, {self.shape}, got "
                             f"{v.shape}")
        return np.array(v, dtype=self.dtype).reshape(self.shape)  # a copy: it is made read-only

    def f(self, x: np.ndarray) -> float:
        self.nfev += 1
        out = self.fun(x)
        if self.grad is True:
            self.ngev += 1
            out = out[0]
        return self._scalar(out)

    def fg(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            if self.grad is True:
                self.nfev += 1
                self.ngev += 1
                f, g = self.fun(x)
                return self._scalar(f), self._vector(g, "fun (with grad=True)")
            if self.grad is None:
                f = self.f(x)
                g = derivatives.gradient(self.f, x, method=self.fd_method) if np.all(
                    np.isfinite(x)) else np.full(self.shape, np.nan, dtype=self.dtype)
                return f, self._vector(g, "the finite-difference gradient")
            f = self.f(x)
            self.ngev += 1
            return f, self._vector(self.grad(x), "grad")

    def g(self, x: np.ndarray) -> np.ndarray:
        if self.grad is None or self.grad is True:
            return self.fg(x)[1]
        self.ngev += 1
        return self._vector(self.grad(x), "grad")

    def h(self, x: np.ndarray) -> np.ndarray:
        n = math.prod(self.shape)
        with np.errstate(all="ignore"):
            if self.hess is not None:
                self.nhev += 1
                H = np.asarray(self.hess(x))
            elif not np.all(np.isfinite(x)):
                H = np.full((n, n), np.nan)
            elif self.grad is None:
                H = derivatives.hessian(lambda v: self.f(v.reshape(self.shape)), x.ravel(),
                                        method="central")
            else:
                # differences of the gradient: one order of accuracy better than second
                # differences of f, at 2n gradient calls
                J = derivatives.jacobian(lambda v: self.g(v.reshape(self.shape)).ravel(), x.ravel(),
                                         method="central")
                H = (J + J.T) / 2
        if H.shape != (n, n):
            raise ValueError(f"hess must return an ({n}, {n}) array, got shape {H.shape}")
        return H.astype(self.dtype, copy=False)


# -- steppers: one iteration of each method --------------------------------------------------------
# A stepper's step(x, f, g, nit) returns (x, f, g) of the next iterate, or a reason (str) to stop.


class _FirstOrder:
    def __init__(self, opt: Any, obj: _Objective, x0: np.ndarray) -> None:
        self.opt, self.obj = opt, obj
        self.state = opt.init(x0)

    def step(self, x, f, g, nit):
        updates, self.state = self.opt.update(g, self.state, x)
        x_new = (x + updates).astype(x.dtype, copy=False)
        if np.array_equal(x_new, x):
            return "no_step"
        f_new, g_new = self.obj.fg(x_new)
        return x_new, f_new, g_new


class _LineSearchStepper:
    c1 = 1e-4
    c2 = 0.9
    max_evals = 30

    def __init__(self, obj: _Objective, options: dict) -> None:
        self.obj = obj
        self.c1 = float(options.pop("c1", self.c1))
        self.c2 = float(options.pop("c2", self.c2))
        if not 0 < self.c1 < self.c2 < 1:
            raise ValueError(f"options c1={self.c1}, c2={self.c2} must satisfy 0 < c1 < c2 < 1")

    def search(self, x, f, g, p, alpha0):
        ls = wolfe_line_search(self.obj.fg, x, p, f0=f, g0=g, alpha0=alpha0, c1=self.c1,
                               c2=self.c2, max_evals=self.max_evals)
        if ls.alpha == 0:
            return None
        return ls


def _first_alpha(g: np.ndarray) -> float:
    """Initial step of a steepest-descent first iteration: a step of length ~1 (as SciPy's BFGS and
    L-BFGS-B do), not a step of length |g|, which can be arbitrarily wrong in scale."""
    gn = float(np.linalg.norm(g))
    return min(1.0, 1.0 / gn) if gn > 0 else 1.0


class _BFGS(_LineSearchStepper):
    """BFGS on the inverse Hessian approximation ``H``, starting from ``H0 = I``.

    Two choices here were measured (``benchmarks/optim.py``), not taken on faith:

    * ``H0 = I``, not N&W's scaled ``H0 = (y^T s / y^T y) I`` (eq. 6.20).  The scaled start is an
      average inverse curvature, too small along flat directions: the steps are short, a unit
      step already passes the loose (``c2 = 0.9``) curvature test, and the line search never
      corrects them.  From ``H0 = I`` the early steps are too long along every direction of
      curvature above 1, the line search interpolates back close to the minimizer along the
      line, and with near-exact line searches BFGS learns a quadratic's curvature in about ``n``
      steps.  On quadratics with condition numbers 1e4 and 1e6 (smallest eigenvalue 0.01, 1 or
      100) the scaled start took 2.5-8 times more evaluations; on Rosenbrock ~25% fewer.
      ``H0 = I`` is not invariant to rescaling f (neither is SciPy's BFGS, which makes the same
      choice).
    * The first trial step ``min(1, 1.01 * 2 (f_k - f_{k-1}) / g^T p)`` (N&W eq. 3.60, as SciPy),
      with ``f_{-1} = f_0 + |g_0| / 2`` (a first step of length about 1).  While ``H`` is still a
      poor model, this predicts the step from the last decrease instead of trying 1, and the
      interpolating line search then lands near the minimizer along ``p``.
    """

    def __init__(self, obj, options, n):
        super().__init__(obj, options)
        self.H = np.eye(n)
        self.f_prev: float | None = None

    def step(self, x, f, g, nit):
        shape = x.shape
        gf = g.ravel()
        p = -(self.H @ gf).astype(x.dtype, copy=False)
        dphi0 = float(np.dot(p, gf))
        if not dphi0 < 0:  # H lost positive definiteness to rounding: restart from I
            self.H = np.eye(self.H.shape[0])
            p = -gf
            dphi0 = float(np.dot(p, gf))
        f_prev = f + float(np.linalg.norm(gf)) / 2 if self.f_prev is None else self.f_prev
        alpha0 = min(1.0, 1.01 * 2 * (f - f_prev) / dphi0)
        if not (alpha0 > 0 and math.isfinite(alpha0)):
            alpha0 = 1.0
        self.f_prev = f
        ls = self.search(x, f, g, p.reshape(shape), alpha0)
        if ls is None:
            return "line_search"
        s = (ls.x - x).ravel()
        y = (ls.grad - g).ravel()
        # Skip the update when the curvature condition failed (a fallback step without the Wolfe
        # curvature condition): updating with y^T s <= 0 would destroy positive definiteness.
        if float(np.dot(s, y)) > np.finfo(x.dtype).eps * float(np.linalg.norm(s) *
                                                              np.linalg.norm(y)):
            self.H = bfgs_update(self.H, s.astype(np.float64), y.astype(np.float64))
        return ls.x, ls.fun, ls.grad


class _LBFGS(_LineSearchStepper):
    def __init__(self, obj, options):
        m = options.pop("memory", 10)
        if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
            raise ValueError(f"options memory={m!r} must be a positive integer")
        super().__init__(obj, options)
        self.m = int(m)
        self.s: list[np.ndarray] = []
        self.y: list[np.ndarray] = []

    def step(self, x, f, g, nit):
        shape = x.shape
        gf = g.ravel()
        p = lbfgs_direction(gf, self.s, self.y)
        if not float(np.dot(p, gf)) < 0:
            self.s, self.y, p = [], [], -gf
        ls = self.search(x, f, g, p.reshape(shape), 1.0 if self.s else _first_alpha(g))
        if ls is None:
            return "line_search"
        s = (ls.x - x).ravel()
        y = (ls.grad - g).ravel()
        if float(np.dot(s, y)) > np.finfo(x.dtype).eps * float(np.linalg.norm(s) * np.linalg.norm(y)):
            self.s.append(s)
            self.y.append(y)
            if len(self.s) > self.m:
                del self.s[0], self.y[0]
        return ls.x, ls.fun, ls.grad


class _Newton(_LineSearchStepper):
    def __init__(self, obj, options):
        damping = options.pop("damping", "levenberg")
        if damping not in DAMPINGS:
            raise ValueError(f"options damping={damping!r} is not one of {DAMPINGS}")
        self.damping = damping
        self.line_search = bool(options.pop("line_search", True))
        super().__init__(obj, options)

    def step(self, x, f, g, nit):
        H = self.obj.h(x)
        p = newton_direction(H, g.ravel(), damping=self.damping).direction
        if p is None:
            return "singular"
        p = p.reshape(x.shape).astype(x.dtype, copy=False)
        if not self.line_search:
            x_new = x + p
            f_new, g_new = self.obj.fg(x_new)
            return x_new, f_new, g_new
        if not float(np.dot(p.ravel(), g.ravel())) < 0:
            return "not_descent"
        ls = self.search(x, f, g, p, 1.0)
        if ls is None:
            return "line_search"
        return ls.x, ls.fun, ls.grad


# -- the driver ------------------------------------------------------------------------------------


def _check_options(factory: Callable, options: dict, method: str) -> None:
    allowed = [k for k in inspect.signature(factory).parameters if k != "lr"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"options {unknown} are not known for method={method!r} (known: {allowed})")


def minimize(
    fun: Callable[[np.ndarray], Any] | Problem,
    x0: ArrayLike,
    *,
    method: str | GradientTransformation,
    grad: Callable[[np.ndarray], Any] | bool | None = None,
    hess: Callable[[np.ndarray], Any] | None = None,
    lr: float | Callable[[int], float] | None = None,
    schedule: Callable[[int], float] | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float | None = None,
    callback: Callable[[IterationInfo], Any] | None = None,
    options: Mapping[str, Any] | None = None,
    max_trajectory: int | None = None,
    fd_method: str = "central",
) -> OptimizeResult:
    """Minimize a smooth function from `x0`; report how the run ended in a status, never by raising.

    Parameters
    ----------
    fun : callable or Problem
        ``fun(x) -> float`` for ``x`` with the shape of `x0`.  A :class:`~numdl.optim.Problem`
        supplies its analytic gradient and Hessian unless `grad`/`hess` are given.
    x0 : array_like
        Start point, float32 or float64 (integers become float64); the run keeps its dtype.
    method : str or GradientTransformation
        ``"gd"`` (plain gradient descent), ``"momentum"``, ``"nesterov"``, ``"adagrad"``,
        ``"rmsprop"``, ``"adam"``, ``"adamw"`` (the optimizers of
        :mod:`numdl.optim.first_order`, one update per iteration, no line search), or
        ``"newton"``, ``"bfgs"``, ``"lbfgs"`` (with a strong Wolfe line search).  Or an optimizer
        itself: any :class:`~numdl.optim.transforms.GradientTransformation` whose updates are to
        be added to x, e.g. ``chain(clip_by_global_norm(1.0), scale_by_adam(),
        scale_by_learning_rate(0.01))`` or ``adam(0.01)`` (:mod:`numdl.optim.transforms`); its
        hyperparameters are its own, so `lr`, `schedule` and `options` are refused, and the
        result's ``method`` is ``"gradient_transformation"``.
    grad : callable, True or None
        ``grad(x) -> array`` shaped like `x0`; ``True`` if `fun` returns ``(f, g)``; ``None`` for
        central finite differences (:func:`numdl.optim.derivatives.gradient`, method
        `fd_method`), whose ``2n`` calls per gradient count in ``nfev``.
    hess : callable or None
        ``hess(x) -> (n, n) array`` for ``"newton"``; default: central differences of `grad`
        (``2n`` gradient calls), or second differences of `fun` without `grad`.
    lr : float or schedule
        Learning rate of the first-order methods (required for them; rejected by the others).
    schedule : callable, optional
        A learning-rate schedule (:mod:`numdl.optim.schedules`) instead of `lr`.
    max_iter : int
        Iteration budget (default 1000).
    tol : float, optional
        Converged when the Euclidean gradient norm is ``<= tol``; default :data:`DEFAULT_TOL` by
        dtype (1e-6 for float64, 1e-3 for float32).
    callback : callable, optional
        ``callback(IterationInfo)`` after each iteration; a true return value stops the run with
        status ``CALLBACK``.
    options : mapping, optional
        Method options: the optimizer's hyperparameters for first-order methods (``beta``,
        ``b1``, ``b2``, ``eps``, ``decay``, ``weight_decay``...); ``c1``, ``c2`` (line search) for
        the others; ``memory`` (default 10) for ``"lbfgs"``; ``damping`` (``"levenberg"`` default,
        ``"eigen"``, or ``None``) and ``line_search`` (default True) for ``"newton"``.
    max_trajectory : int, optional
        Largest number of rows of ``trajectory``; default ``min(10_000, 2**20 // n)`` (at most
        8 MiB of float64), and at least 2 (:func:`~numdl.optim.trajectory.trajectory_capacity`).
    fd_method : str
        Finite-difference method when `grad` is None.

    Returns
    -------
    OptimizeResult

    Raises
    ------
    TypeError, ValueError
        For bad arguments only (named in the message): how the run ended is its ``status``.

    Notes
    -----
    Each iteration: (1) stop as ``DIVERGED`` if f, g or x is not finite or
    ``|f - f0| > 1e12 max(|f0|, 1)`` (:data:`DIVERGENCE_FACTOR`); (2) stop as ``CONVERGED`` if
    ``||g|| <= tol``; (3) take a step -- a method that cannot make one stops as ``STALLED`` (see
    :data:`MESSAGES` for the causes); (4) call the callback.  After `max_iter` steps the final point
    is tested as in (1)-(2) before ``MAX_ITER`` is reported, so the NaN test always comes before
    success.  Overflow inside `fun` during a divergent run is expected and does not warn: it is
    reported by the status.
    """
    problem = fun if isinstance(fun, Problem) else None
    if problem is not None:
        fun = problem.value
        grad = problem.gradient if grad is None else grad
        hess = problem.hessian if hess is None else hess
    if not callable(fun):
        raise TypeError(f"fun must be callable or a Problem, got {type(fun).__name__}")
    transformation = isinstance(method, GradientTransformation)
    if not transformation and (not isinstance(method, str) or method not in METHODS):
        raise ValueError(f"method={method!r} is not one of {METHODS} or a GradientTransformation")
    if not (grad is None or grad is True or callable(grad)):
        raise TypeError("grad must be callable, True (fun returns (f, g)) or None")
    if hess is not None and not callable(hess):
        raise TypeError("hess must be callable or None")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter!r}")
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable or None")
    if fd_method not in derivatives.METHODS:
        raise ValueError(f"fd_method={fd_method!r} is not one of {derivatives.METHODS}")

    x = np.array(x0)
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)
    if x.dtype not in DEFAULT_TOL:
        raise TypeError(f"x0 must be a float32 or float64 array (or integers), got dtype {x.dtype}")
    if x.size == 0:
        raise ValueError("x0 must not be empty")
    dtype = x.dtype
    n = x.size
    if tol is None:
        tol = DEFAULT_TOL[dtype]
    elif isinstance(tol, bool) or not isinstance(tol, int | float | np.integer | np.floating) or \
            not tol >= 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    tol = float(tol)
    cap = trajectory_capacity(max_trajectory, n)
    opts = dict(options or {})

    obj = _Objective(fun, grad, hess, dtype, x.shape, fd_method)
    if transformation:
        if lr is not None or schedule is not None or opts:
            raise ValueError("method=<a GradientTransformation> carries its own learning rate and "
                             "hyperparameters; lr, schedule and options are for a method name")
        stepper: Any = _FirstOrder(method, obj, x)
        method = TRANSFORMATION_METHOD
    elif method in FIRST_ORDER_METHODS:
        if lr is not None and schedule is not None:
            raise ValueError("give lr or schedule, not both")
        rate = schedule if schedule is not None else lr
        if rate is None:
            raise ValueError(f"method={method!r} needs lr= (a float or a schedule) or schedule=")
        factory = OPTIMIZERS["sgd" if method == "gd" else method]
        _check_options(factory, opts, method)
        stepper = _FirstOrder(factory(rate, **opts), obj, x)
    else:
        if lr is not None or schedule is not None:
            raise ValueError(f"method={method!r} chooses its steps by line search; lr and schedule "
                             "are for the first-order methods")
        if method == "newton":
            stepper = _Newton(obj, opts)
        elif method == "bfgs":
            stepper = _BFGS(obj, opts, n)
        else:
            stepper = _LBFGS(obj, opts)
        if opts:
            raise ValueError(f"options {sorted(opts)} are not known for method={method!r}")

    traj = Trajectory(cap)
    f, g = obj.fg(x)
    f0 = f
    x.setflags(write=False)
    traj.add(0, x, f)
    nit = 0
    reason = None
    details: dict[str, Any] = {}

    def check(x, f, g) -> str | None:
        if not (math.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(x))):
            return "nonfinite"
        change = abs(f - f0)
        if change > DIVERGENCE_FACTOR * max(abs(f0), 1.0):
            details["change"] = change
            return "exploded"
        if float(np.linalg.norm(g)) <= tol:
            return "converged"
        return None

    best = (x, f, g)  # last finite iterate, reported when the run ends in non-finite values
    while True:
        reason = check(x, f, g)
        if reason is not None:
            break
        if nit >= max_iter:
            reason = "max_iter"
            break
        best = (x, f, g)
        with np.errstate(all="ignore"):
            out = stepper.step(x, f, g, nit)
        if isinstance(out, str):
            reason = out
            break
        x, f, g = out
        x = np.asarray(x)
        x.setflags(write=False)
        g.setflags(write=False)
        nit += 1
        traj.add(nit, x, f)
        if callback is not None and callback(IterationInfo(nit, x, f, g, float(np.linalg.norm(g)))):
            reason = check(x, f, g) or "callback"
            break

    if reason == "nonfinite" and nit > 0:
        x, f, g = best
    status, template = MESSAGES[reason]
    grad_norm = float(np.linalg.norm(g))
    message = template.format(grad_norm=grad_norm, tol=tol, max_iter=max_iter, nit=nit,
                              factor=DIVERGENCE_FACTOR, change=details.get("change", math.nan))
    xs, fs, ks = traj.arrays(n, dtype)
    g = np.array(g)
    g.setflags(write=False)
    return OptimizeResult(
        x=x, fun=float(f), grad=g, grad_norm=grad_norm, nit=nit, nfev=obj.nfev, ngev=obj.ngev,
        nhev=obj.nhev, status=status, reason=reason, message=message,
        success=status is Status.CONVERGED, method=method, tol=tol, trajectory=xs,
        trajectory_fun=fs, trajectory_iter=ks,
    )


# -- shorthands ------------------------------------------------------------------------------------


def newton(fun: Callable[[np.ndarray], Any] | Problem, x0: ArrayLike,
           **kwargs: Any) -> OptimizeResult:
    """``minimize(fun, x0, method="newton", **kwargs)``; see :func:`minimize`."""
    return minimize(fun, x0, method="newton", **kwargs)


def bfgs(fun: Callable[[np.ndarray], Any] | Problem, x0: ArrayLike,
         **kwargs: Any) -> OptimizeResult:
    """``minimize(fun, x0, method="bfgs", **kwargs)``; see :func:`minimize`."""
    return minimize(fun, x0, method="bfgs", **kwargs)


def lbfgs(fun: Callable[[np.ndarray], Any] | Problem, x0: ArrayLike,
          **kwargs: Any) -> OptimizeResult:
    """``minimize(fun, x0, method="lbfgs", **kwargs)``; see :func:`minimize`."""
    return minimize(fun, x0, method="lbfgs", **kwargs)
