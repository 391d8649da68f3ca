"""The three methods of :func:`minimize_constrained`: augmented Lagrangian, quadratic penalty,
projected gradient.

``"augmented_lagrangian"``
    Any constraints.  Minimizes ``f + sum_j (nu_j h_j + mu/2 h_j^2) +
    1/(2 mu) sum_i (max(0, lam_i + mu g_i)^2 - lam_i^2)`` with BFGS, then updates
    ``lam <- max(0, lam + mu g)``, ``nu <- nu + mu h``, and multiplies ``mu`` by 10 only when the
    violation did not halve (Hestenes 1969, Powell 1969; Rockafellar 1973 for inequalities; the
    update rule of Birgin & Martinez 2014).  The multipliers converge, so ``mu`` stays moderate
    and each subproblem stays well conditioned.
``"penalty"``
    Any constraints.  The quadratic penalty ``f + mu/2 (sum h^2 + sum max(0, g)^2)`` with ``mu``
    multiplied by 10 after each subproblem; the multiplier estimates are ``mu max(0, g)`` and
    ``mu h``.  Feasibility to ``tol`` needs ``mu`` near ``lam / tol``: the subproblems become
    ill conditioned (Nocedal & Wright §17.1).  Kept as the baseline the augmented Lagrangian fixes.
``"projected_gradient"``
    A set with a projection (:mod:`~numdl.optim.constrained.sets`, or a projection function), not
    general constraints: ``x <- x + alpha (P(x - t g) - x)`` with a Barzilai-Borwein trial step
    ``t`` and an Armijo backtracking ``alpha`` (the spectral projected gradient of Birgin, Martinez
    & Raydan 2000, monotone version).  Every iterate is feasible.  The multipliers, which the
    method never needs, are estimated at each iterate by least squares on the stationarity
    condition over the active constraints (closed forms for the four sets).

The first two share :func:`penalty_outer_loop`.  Every run returns a :class:`ConstrainedResult`
whose status comes from :data:`numdl.optim.MESSAGES`; nothing raises except bad arguments.

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, §17.1
       (quadratic penalty), §17.3-17.4 (augmented Lagrangian).
.. [2] R. T. Rockafellar, "The multiplier method of Hestenes and Powell applied to convex
       programming", *J. Optim. Theory Appl.* 12(6), 1973.
.. [3] E. G. Birgin and J. M. Martinez, *Practical Augmented Lagrangian Methods for Constrained
       Optimization*, SIAM, 2014.
.. [4] E. G. Birgin, J. M. Martinez and M. Raydan, "Nonmonotone spectral projected gradient
       methods on convex sets", *SIAM J. Optim.* 10(4), 2000.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim import derivatives
from numdl.optim.constrained.constraints import (
    Constraint,
    Equality,
    Inequality,
    constraint_jacobian,
)
from numdl.optim.constrained.kkt import KKTResiduals, kkt_residuals_from_values
from numdl.optim.constrained.sets import ConvexSet, scaled_norm, split_constraints
from numdl.optim.driver import (
    DEFAULT_TOL,
    DIVERGENCE_FACTOR,
    MESSAGES,
    OptimizeResult,
    Status,
    minimize,
)
from numdl.optim.trajectory import Trajectory, trajectory_capacity
from numdl.optim.validation import (
    multipliers_or_zeros,
    nonnegative_int,
    real_number,
    tolerance,
    vector,
)

__all__ = [
    "CONSTRAINED_METHODS",
    "DEFAULT_MAX_ITER",
    "ConstrainedResult",
    "minimize_constrained",
    "penalty_outer_loop",
]

CONSTRAINED_METHODS: tuple[str, ...] = ("augmented_lagrangian", "projected_gradient", "penalty")

DEFAULT_MAX_ITER = {"augmented_lagrangian": 100, "penalty": 100, "projected_gradient": 10_000}
"""Outer iterations (subproblems) for the penalty methods; iterations for projected gradient."""

_F64 = np.dtype(np.float64)


@dataclass(frozen=True)
class ConstrainedResult(OptimizeResult):
    """The outcome of :func:`minimize_constrained`: an :class:`~numdl.optim.OptimizeResult` plus
    the multipliers and the KKT residuals (arrays are read-only).

    The inherited fields mean what they mean for :func:`~numdl.optim.minimize`, except:
    ``grad`` is the gradient of f (not of the Lagrangian) and ``grad_norm`` its norm, which need
    not be small at a constrained minimum; ``nit`` counts inner iterations (BFGS steps summed over
    the subproblems, or projected-gradient steps); ``nfev``/``ngev`` count calls of the objective
    and its gradient only (constraint calls are not counted); ``nhev`` is 0; ``tol`` is the KKT
    tolerance and ``success`` means ``kkt.max <= tol``.

    Attributes
    ----------
    multipliers : tuple of numpy.ndarray
        ``(lam, nu)`` at `x`, one per inequality and equality in the order of the constraints.
        Augmented Lagrangian: ``max(0, lam + mu g(x))`` and ``nu + mu h(x)``; penalty:
        ``mu max(0, g(x))`` and ``mu h(x)``; projected gradient:
        :func:`estimate_multipliers` (empty arrays for a bare projection function).
    kkt : KKTResiduals or None
        The residuals at `x` with `multipliers`; None only for projected gradient with a bare
        projection function (no constraint description to measure against).
    penalty : float
        The final penalty parameter ``mu`` (NaN for projected gradient).
    nouter : int
        Subproblems solved (augmented Lagrangian, penalty); equals `nit` for projected gradient.
    trajectory_kkt : numpy.ndarray, shape (k, 4)
        The residuals at each row of `trajectory`, columns in the order of :data:`CONDITIONS`;
        at an inner iterate of the penalty methods the multipliers are the estimates above with
        the subproblem's ``lam``, ``nu`` and ``mu`` (so stationarity is the subproblem's gradient
        norm).  NaN for a bare projection function.
    trajectory_lam, trajectory_nu : numpy.ndarray, shapes (k, m) and (k, p)
        The multiplier estimates at each row.
    trajectory_outer : numpy.ndarray of int, shape (k,)
        The subproblem each row belongs to (0 for the start); the iteration for projected gradient.
    """

    multipliers: tuple[np.ndarray, np.ndarray]
    kkt: KKTResiduals | None
    penalty: float
    nouter: int
    trajectory_kkt: np.ndarray
    trajectory_lam: np.ndarray
    trajectory_nu: np.ndarray
    trajectory_outer: np.ndarray


# -- the driver -------------------------------------------------------------------------------------


class _Evaluator:
    """Counts calls of f and grad f; evaluates constraints; caches the last few points."""

    def __init__(self, fun: Callable, grad: Callable | None, ineqs: tuple, eqs: tuple,
                 n: int) -> None:
        self.fun, self.grad, self.ineqs, self.eqs, self.n = fun, grad, ineqs, eqs, n
        self.nfev = self.ngev = 0
        self.cache: dict[bytes, tuple] = {}

    def f(self, x: np.ndarray) -> float:
        self.nfev += 1
        v = np.asarray(self.fun(x))
        if v.size != 1 or v.dtype.kind not in "biuf":
            raise ValueError(f"fun must return a real scalar, got {v.dtype} of shape {v.shape}")
        return float(v.reshape(()))

    def gf(self, x: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(x)):
            return np.full(self.n, np.nan)
        if self.grad is None:
            return derivatives.gradient(self.f, x, method="central")
        self.ngev += 1
        g = np.asarray(self.grad(x), dtype=np.float64)
        if g.size != self.n:
            raise ValueError(f"grad must return an array with {self.n} entries, got shape {g.shape}")
        return g.reshape(self.n)

    def all(self, x: np.ndarray) -> tuple:
        """(f, grad f, g, h, Jg, Jh) at x, from the cache when x was just evaluated."""
        key = x.tobytes()
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        with np.errstate(all="ignore"):
            f = self.f(x)
            gf = self.gf(x)
            g = np.array([c.value(x) for c in self.ineqs], dtype=np.float64)
            h = np.array([c.value(x) for c in self.eqs], dtype=np.float64)
            Jg, Jh = constraint_jacobian(self.ineqs, x), constraint_jacobian(self.eqs, x)
        out = (f, gf, g, h, Jg, Jh)
        if len(self.cache) > 16:
            self.cache.clear()
        self.cache[key] = out
        return out


def _finite(*arrays: Any) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


class _Rows:
    """The trajectory with its residuals and multipliers, thinned like minimize's."""

    def __init__(self, cap: int, n: int, m: int, p: int) -> None:
        self.t = Trajectory(cap)
        self.n, self.m, self.p = n, m, p

    def add(self, k: int, x: np.ndarray, f: float, kkt: np.ndarray, lam: np.ndarray,
            nu: np.ndarray, outer: int) -> None:
        self.t.add(k, np.concatenate([x, kkt, lam, nu, [outer]]), f)

    def arrays(self) -> dict[str, np.ndarray]:
        n, m, p = self.n, self.m, self.p
        packed, fs, ks = self.t.arrays(n + 4 + m + p + 1, np.float64)
        parts = {
            "trajectory": packed[:, :n], "trajectory_kkt": packed[:, n:n + 4],
            "trajectory_lam": packed[:, n + 4:n + 4 + m],
            "trajectory_nu": packed[:, n + 4 + m:n + 4 + m + p],
            "trajectory_outer": packed[:, -1].astype(np.int64),
        }
        out = {}
        for k, v in parts.items():
            v = np.ascontiguousarray(v)
            v.setflags(write=False)
            out[k] = v
        out["trajectory_fun"], out["trajectory_iter"] = fs, ks
        return out


def _names(cs: Sequence[Constraint], prefix: str, idx: Sequence[int]) -> str:
    return ", ".join(cs[i].name or f"{prefix}{i + 1}" for i in idx)


def _diagnose_infeasible(g, h, Jg, Jh, ineqs, eqs, tol) -> tuple[str, str]:
    """'inconsistent' when two or more violated constraints pull against each other (the
    gradient of the total violation cancels between them), else 'infeasible'."""
    vi = np.flatnonzero(g > tol)
    ve = np.flatnonzero(np.abs(h) > tol)
    names = ", ".join(filter(None, [_names(ineqs, "g", vi), _names(eqs, "h", ve)]))
    terms = [g[i] * Jg[i] for i in vi] + [h[j] * Jh[j] for j in ve]
    if len(terms) >= 2:
        total = np.sum(terms, axis=0)
        scale = sum(float(np.linalg.norm(t)) for t in terms)
        if scale > 0 and float(np.linalg.norm(total)) <= 1e-3 * scale:
            return "inconsistent", names
    return "infeasible", names


def _message(reason: str, **details: Any) -> tuple[Status, str]:
    status, template = MESSAGES[reason]
    fields = {"grad_norm": math.nan, "tol": math.nan, "max_iter": 0, "nit": 0,
              "factor": DIVERGENCE_FACTOR, "change": math.nan, "kkt": math.nan, "worst": "",
              "violation": math.nan, "penalty": math.nan, "names": "", "why": ""}
    fields.update(details)
    return status, template.format(**fields)


def minimize_constrained(
    fun: Callable[[np.ndarray], Any],
    x0: ArrayLike,
    constraints: ConvexSet | Constraint | Sequence[Constraint] | Callable[[np.ndarray], ArrayLike],
    *,
    method: str = "augmented_lagrangian",
    grad: Callable[[np.ndarray], Any] | None = None,
    tol: float | None = None,
    max_iter: int | None = None,
    lam0: ArrayLike | None = None,
    nu0: ArrayLike | None = None,
    penalty: float = 10.0,
    penalty_growth: float = 10.0,
    max_penalty: float = 1e12,
    inner_max_iter: int = 1000,
    lr: float | None = None,
    active_tol: float | None = None,
    max_trajectory: int | None = None,
) -> ConstrainedResult:
    """Minimize ``fun`` subject to constraints; report how the run ended in a status, never by
    raising (bad arguments excepted).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float`` for ``x`` of shape ``(n,)``.
    x0 : array_like, shape (n,)
        Start point (any real dtype; the run is in float64).  It need not be feasible; projected
        gradient starts from its projection.
    constraints : sequence of Inequality/Equality, a ConvexSet, or (projected gradient) a callable
        For ``"augmented_lagrangian"`` and ``"penalty"``: constraint objects, or a set, which
        stands for its constraints.  For ``"projected_gradient"``: a :class:`ConvexSet`
        (:class:`Box`, :class:`Ball`, :class:`Simplex`, :class:`Affine`) or a projection function
        ``P(x) -> x`` onto a closed convex set -- not general constraints, which have no cheap
        projection.  With a bare function the multipliers and KKT residuals are not available and
        the run stops when ``||P(x - g) - x|| <= tol``.
    method : {"augmented_lagrangian", "projected_gradient", "penalty"}
    grad : callable, optional
        ``grad(x) -> (n,)``; default central differences (``2n`` calls of `fun`, counted in nfev).
    tol : float, optional
        Converged when every KKT residual is ``<= tol``; default ``1e-6``.
    max_iter : int, optional
        Subproblems for the penalty methods (default 100), iterations for projected gradient
        (default 10 000).
    lam0, nu0 : array_like, optional
        Initial multipliers of the augmented Lagrangian (default zeros).
    penalty, penalty_growth, max_penalty : float
        The penalty parameter ``mu``: initial value (10), growth factor (10) and cap (1e12).
    inner_max_iter : int
        Iteration budget of each BFGS subproblem (default 1000).
    lr : float, optional
        Projected gradient only: a fixed step ``x <- P(x - lr g)`` instead of the spectral step with
        backtracking (converges for ``lr < 2 / L`` with ``L`` the gradient's Lipschitz constant).
    active_tol : float, optional
        Tolerance for an inequality to count as active (:func:`kkt_residuals`); default 1e-6.
    max_trajectory : int, optional
        Most rows kept in the trajectory (default ``min(10_000, 2**20 // n)``).

    Returns
    -------
    ConstrainedResult

    Raises
    ------
    TypeError, ValueError
        For bad arguments only (named in the message): how the run ended is its ``status``.

    Notes
    -----
    Outcomes (:data:`numdl.optim.MESSAGES`): ``"kkt_converged"``; ``"kkt_max_iter"``;
    ``"nonfinite"``, ``"nonfinite_constraints"``, ``"exploded"`` (``DIVERGED``: non-finite f or
    gradient, non-finite constraint values, or f unbounded below); ``"empty_set"`` (a set that
    is empty, or equations ``A x = b`` with no solution); ``"infeasible"`` and ``"inconsistent"`` (``INFEASIBLE``: the violation stopped
    decreasing over three successive increases of the penalty, so x is a stationary point of the
    total violation -- "inconsistent" when two or more violated constraints pull against each
    other); ``"no_step"`` / ``"line_search"`` (``STALLED``).  Every loop is bounded, so a run always
    ends.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.optim.constrained import Ball, minimize_constrained
    >>> f = lambda x: 0.5 * np.sum((x - np.array([2.0, 1.0])) ** 2)
    >>> g = lambda x: x - np.array([2.0, 1.0])
    >>> r = minimize_constrained(f, [0.0, 0.0], Ball(1.0), grad=g)
    >>> r.status.value, bool(np.allclose(r.x, np.array([2, 1]) / np.sqrt(5), atol=1e-6))
    ('converged', True)
    >>> r.kkt.active.tolist(), round(float(r.multipliers[0][0]), 6)  # (sqrt(5) - 1) / 2
    ([True], 0.618034)
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {type(fun).__name__}")
    if not isinstance(method, str) or method not in CONSTRAINED_METHODS:
        raise ValueError(f"method={method!r} is not one of {CONSTRAINED_METHODS}")
    if grad is not None and not callable(grad):
        raise TypeError("grad must be callable or None")
    x = vector(x0, "x0")
    n = x.size
    tol_ = DEFAULT_TOL[_F64] if tol is None else real_number(tol, "tol", lo=0.0)
    max_iter_ = DEFAULT_MAX_ITER[method] if max_iter is None else nonnegative_int(max_iter, "max_iter")
    atol = tolerance(active_tol, "active_tol", DEFAULT_TOL[_F64])
    cap = trajectory_capacity(max_trajectory, n)

    if method == "projected_gradient":
        if lam0 is not None or nu0 is not None:
            raise ValueError("lam0 and nu0 are for the penalty methods, not projected_gradient")
        if isinstance(constraints, ConvexSet):
            the_set, projection = constraints, constraints.project
        elif callable(constraints) and not isinstance(constraints, Constraint):
            the_set, projection = None, constraints
        else:
            raise TypeError("method='projected_gradient' needs constraints= a set (Box, Ball, "
                            "Simplex, Affine) or a projection function P(x), not general "
                            "constraints; use method='augmented_lagrangian' for those")
        step = None if lr is None else real_number(lr, "lr", positive=True)
        return _projected_gradient(fun, grad, x, the_set, projection, step, tol_, max_iter_, atol,
                                   cap)

    if lr is not None:
        raise ValueError(f"lr is for method='projected_gradient', not {method!r}")
    if callable(constraints) and not isinstance(constraints, Constraint | ConvexSet):
        raise TypeError(f"method={method!r} needs constraints= Inequality/Equality objects or a "
                        "set, not a projection function")
    mu0 = real_number(penalty, "penalty", positive=True)
    growth = real_number(penalty_growth, "penalty_growth", lo=1.0)
    if not growth > 1:
        raise ValueError(f"penalty_growth must be > 1, got {penalty_growth!r}")
    mu_max = real_number(max_penalty, "max_penalty", lo=mu0)
    inner = nonnegative_int(inner_max_iter, "inner_max_iter")
    ineqs, eqs, the_set = split_constraints(constraints, n)
    lam = multipliers_or_zeros(lam0, len(ineqs), "lam0", "Inequality")
    nu = multipliers_or_zeros(nu0, len(eqs), "nu0", "Equality")
    if method == "penalty" and (lam0 is not None or nu0 is not None):
        raise ValueError("lam0 and nu0 are for the augmented Lagrangian; the penalty method "
                         "starts from zero multipliers by definition")
    if np.any(lam < 0):
        raise ValueError("lam0 must be >= 0 (multipliers of inequalities)")
    return penalty_outer_loop(fun, grad, x, ineqs, eqs, method=method, lam0=lam, nu0=nu, tol=tol_,
                              max_iter=max_iter_, penalty=mu0, penalty_growth=growth,
                              max_penalty=mu_max, inner_max_iter=inner, active_tol=atol,
                              max_trajectory=cap, the_set=the_set)


def _finish(method, ev, x, f, gf, nit, reason, details, rows, lam, nu, kkt, mu, nouter, tol):
    gf = np.array(gf, dtype=np.float64)
    gn = scaled_norm(gf) if np.all(np.isfinite(gf)) else math.nan
    status, message = _message(reason, tol=tol, nit=nit, grad_norm=gn, **details)
    lam, nu = np.array(lam, dtype=np.float64), np.array(nu, dtype=np.float64)
    x = np.array(x, dtype=np.float64)
    for a in (gf, lam, nu, x):
        a.setflags(write=False)
    return ConstrainedResult(
        x=x, fun=float(f), grad=gf, grad_norm=gn, nit=nit, nfev=ev.nfev, ngev=ev.ngev, nhev=0,
        status=status, reason=reason, message=message, success=status is Status.CONVERGED,
        method=method, tol=tol, multipliers=(lam, nu), kkt=kkt, penalty=float(mu), nouter=nouter,
        **rows.arrays(),
    )


def penalty_outer_loop(
    fun: Callable[[np.ndarray], Any],
    grad: Callable[[np.ndarray], Any] | None,
    x0: ArrayLike,
    inequalities: Sequence[Inequality],
    equalities: Sequence[Equality],
    *,
    method: str = "augmented_lagrangian",
    lam0: ArrayLike | None = None,
    nu0: ArrayLike | None = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    penalty: float = 10.0,
    penalty_growth: float = 10.0,
    max_penalty: float = 1e12,
    inner_max_iter: int = 1000,
    active_tol: float = 1e-6,
    max_trajectory: int | None = None,
    the_set: ConvexSet | None = None,
) -> ConstrainedResult:
    """The outer loop of the quadratic penalty and the augmented Lagrangian.

    Each outer iteration (1) minimizes the subproblem
    ``phi(x) = f + sum_j (nu_j h_j + mu/2 h_j^2) + 1/(2 mu) sum_i (max(0, lam_i + mu g_i)^2 -
    lam_i^2)`` with BFGS (:func:`~numdl.optim.minimize`) from the last point, to a tenth of the
    current KKT error; (2) estimates the multipliers ``max(0, lam + mu g)`` and ``nu + mu h`` and
    measures the KKT residuals there; (3) for the augmented Lagrangian, takes those estimates as
    the next ``lam``, ``nu`` (the penalty method keeps them at 0, so its ``phi`` is
    ``f + mu/2 (sum h^2 + sum max(0, g)^2)``); (4) multiplies ``mu`` by `penalty_growth` --
    always for the penalty method, only when the violation did not halve for the augmented
    Lagrangian (Birgin & Martinez 2014).  It stops when every residual is ``<= tol``, after
    `max_iter` subproblems, when three subproblems with a growing penalty left the violation where
    it was (``INFEASIBLE``), on non-finite values or an unbounded f (``DIVERGED``), or when BFGS
    cannot move twice in a row (``STALLED``).

    :func:`minimize_constrained` validates its arguments and calls this with
    ``method="augmented_lagrangian"`` or ``"penalty"``; called directly, the arguments must have
    the meanings and ranges stated there.

    Parameters
    ----------
    fun, grad : callable
        The objective and its gradient (None: central differences).
    x0 : array_like, shape (n,)
        The start.
    inequalities, equalities : sequences of Inequality and Equality
        The constraints, as split by :func:`~numdl.optim.constrained.split_constraints`.
    method : {"augmented_lagrangian", "penalty"}
    lam0, nu0 : array_like, optional
        Initial multipliers (augmented Lagrangian; default zeros).
    tol, max_iter, penalty, penalty_growth, max_penalty, inner_max_iter, active_tol
        As for :func:`minimize_constrained` (``tol`` and ``active_tol`` resolved to numbers).
    max_trajectory : int, optional
        Most rows of the trajectory (default as for :func:`~numdl.optim.minimize`).
    the_set : ConvexSet, optional
        The set the constraints came from, if any: an empty one ends the run at once.

    Returns
    -------
    ConstrainedResult

    Raises
    ------
    ValueError
        If `method` is not one of the two, the multipliers have the wrong size or ``lam0 < 0``.
    """
    if method not in ("augmented_lagrangian", "penalty"):
        raise ValueError(f"method={method!r} is not 'augmented_lagrangian' or 'penalty'")
    x, ineqs, eqs = vector(x0, "x0"), tuple(inequalities), tuple(equalities)
    lam = multipliers_or_zeros(lam0, len(ineqs), "lam0", "Inequality")
    nu = multipliers_or_zeros(nu0, len(eqs), "nu0", "Equality")
    if np.any(lam < 0):
        raise ValueError("lam0 must be >= 0 (multipliers of inequalities)")
    mu, growth, mu_max = float(penalty), float(penalty_growth), float(max_penalty)
    atol, cap = float(active_tol), trajectory_capacity(max_trajectory, x.size)
    n, m, p = x.size, len(ineqs), len(eqs)
    ev = _Evaluator(fun, grad, ineqs, eqs, n)
    rows = _Rows(cap, n, m, p)
    al = method == "augmented_lagrangian"
    zeros_m, zeros_p = np.zeros(m), np.zeros(p)
    nan4 = np.full(4, np.nan)
    if the_set is not None:
        why = the_set.empty_reason(n)
        if why is not None:
            rows.add(0, x, math.nan, nan4, zeros_m, zeros_p, 0)
            return _finish(method, ev, x, math.nan, np.full(n, np.nan), 0, "empty_set",
                           {"why": why}, rows, zeros_m, zeros_p, None, mu, 0, tol)

    def estimates(g, h, lam_k, nu_k, mu_k):
        with np.errstate(all="ignore"):
            return np.maximum(0.0, lam_k + mu_k * g), nu_k + mu_k * h

    f, gf, g, h, Jg, Jh = ev.all(x)
    lam_e, nu_e = (estimates(g, h, lam, nu, mu) if al else (zeros_m, zeros_p))
    kkt = kkt_residuals_from_values(gf, g, h, Jg, Jh, lam_e, nu_e, atol) if _finite(f, gf, g, h, Jg, Jh) else None
    rows.add(0, x, f, nan4 if kkt is None else kkt.as_array(), lam_e, nu_e, 0)
    if kkt is None:
        reason = "nonfinite_constraints" if _finite(f, gf, x) else "nonfinite"
        return _finish(method, ev, x, f, gf, 0, reason, {}, rows, lam_e, nu_e, None, mu, 0, tol)
    f0 = f
    nit = nouter = 0
    prev_violation = prev_primal = math.inf
    prev_mu = mu
    stuck = stalls = 0
    reason, details = None, {}
    while True:
        if kkt.max <= tol:
            reason = "kkt_converged"
            break
        if nouter >= max_iter:
            reason = "kkt_max_iter"
            break
        lam_k, nu_k, mu_k = (lam, nu, mu) if al else (zeros_m, zeros_p, mu)

        def phi(v, lam_k=lam_k, nu_k=nu_k, mu_k=mu_k):
            fv, gfv, gv, hv, Jgv, Jhv = ev.all(v)
            with np.errstate(all="ignore"):
                shifted = np.maximum(0.0, lam_k + mu_k * gv)
                value = (fv + float(np.dot(nu_k, hv)) + 0.5 * mu_k * float(np.dot(hv, hv))
                         + (float(np.dot(shifted, shifted)) - float(np.dot(lam_k, lam_k)))
                         / (2.0 * mu_k))
                gradient = gfv + shifted @ Jgv + (nu_k + mu_k * hv) @ Jhv
            return value, gradient

        def record(info, lam_k=lam_k, nu_k=nu_k, mu_k=mu_k, base=nit, outer_no=nouter + 1):
            xv = np.asarray(info.x)
            fv, gfv, gv, hv, Jgv, Jhv = ev.all(xv)
            le, ne = estimates(gv, hv, lam_k, nu_k, mu_k)
            ok = _finite(fv, gfv, gv, hv, Jgv, Jhv)
            r = kkt_residuals_from_values(gfv, gv, hv, Jgv, Jhv, le, ne, atol).as_array() if ok else nan4
            rows.add(base + info.nit, xv, fv, r, le, ne, outer_no)

        # Solve each subproblem to a tenth of the current KKT error, never below tol / 10: an
        # early subproblem solved to full accuracy is wasted once the multipliers move.
        inner_tol = max(0.1 * tol, min(0.1, 0.1 * kkt.max))
        res = minimize(phi, x, method="bfgs", grad=True, tol=inner_tol, max_iter=inner_max_iter,
                       callback=record)
        nit += res.nit
        nouter += 1
        x_new = np.array(res.x)
        values = ev.all(x_new)
        if res.status is Status.DIVERGED or not _finite(*values):
            if res.status is Status.DIVERGED:
                reason = res.reason
            else:
                reason = "nonfinite_constraints" if _finite(*values[:2], x_new) else "nonfinite"
            if reason == "exploded":
                details = {"change": abs(res.fun - float(res.trajectory_fun[0]))}
            if _finite(*values):  # the last finite inner iterate, with its own residuals
                x, (f, gf, g, h, Jg, Jh) = x_new, values
                kkt = kkt_residuals_from_values(gf, g, h, Jg, Jh, *estimates(g, h, lam_k, nu_k, mu_k), atol)
            break
        x, (f, gf, g, h, Jg, Jh) = x_new, values
        if abs(f - f0) > DIVERGENCE_FACTOR * max(abs(f0), 1.0):
            reason, details = "exploded", {"change": abs(f - f0)}
            break
        lam_new, nu_new = estimates(g, h, lam_k, nu_k, mu_k)
        kkt = kkt_residuals_from_values(gf, g, h, Jg, Jh, lam_new, nu_new, atol)
        if al:
            lam = np.minimum(lam_new, 1e20)  # safeguard: an unbounded multiplier means trouble
            nu = np.clip(nu_new, -1e20, 1e20)
        if kkt.max <= tol:
            continue
        stalls = stalls + 1 if (res.status is Status.STALLED and res.nit == 0) else 0
        if stalls >= 2:  # BFGS cannot move from x twice in a row: the limit of precision
            reason = res.reason
            break
        primal = kkt.primal_feasibility
        # Infeasibility: three subproblems in a row, each with a larger (or the largest) penalty
        # than the one before, left the violation where it was.  x is then a stationary point
        # of the total violation, which for a feasible problem would be 0.
        pushed = mu_k > prev_mu or mu_k >= mu_max
        if pushed and primal > tol and primal > 0.99 * prev_primal:
            stuck += 1
        else:
            stuck = 0
        if stuck >= 3:
            reason, names = _diagnose_infeasible(g, h, Jg, Jh, ineqs, eqs, tol)
            details = {"violation": primal, "penalty": mu, "names": names}
            break
        # Progress measure of Birgin & Martinez: an inequality counts as far as it is violated,
        # or as far as it is from releasing its multiplier.
        with np.errstate(all="ignore"):
            sigma = np.maximum(g, -lam_k / mu_k)
            violation = float(np.max(np.abs(np.concatenate([h, sigma])))) if m + p else 0.0
        prev_mu, prev_primal = mu_k, primal
        if not al or violation > 0.5 * prev_violation:
            mu = min(mu * growth, mu_max)
        prev_violation = violation

    if reason in ("nonfinite", "nonfinite_constraints", "exploded"):
        # report the last finite subproblem solution's residuals, if any
        return _finish(method, ev, x, f, gf, nit, reason, details, rows, kkt.lam, kkt.nu, kkt,
                       mu, nouter, tol)
    details = {**details, "kkt": kkt.max, "worst": kkt.worst.replace("_", " "),
               "max_iter": max_iter}
    return _finish(method, ev, x, f, gf, nit, reason, details, rows, kkt.lam, kkt.nu, kkt, mu,
                   nouter, tol)


def _projected_gradient(fun, grad, x0, the_set, projection, step, tol, max_iter, atol, cap):
    n = x0.size
    method = "projected_gradient"
    ineqs, eqs, _ = split_constraints(the_set, n)
    m, p = len(ineqs), len(eqs)
    ev = _Evaluator(fun, grad, ineqs, eqs, n)
    rows = _Rows(cap, n, m, p)
    nan4 = np.full(4, np.nan)
    zeros_m, zeros_p = np.zeros(m), np.zeros(p)
    why = the_set.empty_reason(n) if the_set is not None else None
    if why is not None or not np.all(np.isfinite(x0)):
        rows.add(0, x0, math.nan, nan4, zeros_m, zeros_p, 0)
        reason, details = ("empty_set", {"why": why}) if why is not None else ("nonfinite", {})
        return _finish(method, ev, x0, math.nan, np.full(n, np.nan), 0, reason, details, rows,
                       zeros_m, zeros_p, None, math.nan, 0, tol)

    def project(v: np.ndarray) -> np.ndarray:
        out = np.asarray(projection(v), dtype=np.float64)
        if out.size != n:
            raise ValueError(f"the projection must return an array with {n} entries, got shape "
                             f"{out.shape}")
        return out.reshape(n)

    def measure(x, gf):
        """(residuals (4,), lam, nu, kkt or None, converged)."""
        if the_set is None:
            gm = scaled_norm(project(x - gf) - x)
            return nan4, zeros_m, zeros_p, None, gm <= tol
        lam, nu = the_set.multipliers(x, gf, atol)
        g = np.array([c.value(x) for c in ineqs], dtype=np.float64)
        h = np.array([c.value(x) for c in eqs], dtype=np.float64)
        kkt = kkt_residuals_from_values(gf, g, h, constraint_jacobian(ineqs, x), constraint_jacobian(eqs, x), lam, nu, atol)
        return kkt.as_array(), lam, nu, kkt, kkt.max <= tol

    x = project(x0)
    with np.errstate(all="ignore"):
        f, gf = ev.f(x), ev.gf(x)
    f0 = f
    t = 1.0
    if step is None and _finite(f, gf):
        dmax = float(np.max(np.abs(project(x - gf) - x)))
        t = min(max(1.0 / dmax, 1e-10), 1e10) if dmax > 0 else 1.0
    nit = 0
    best = None  # the last iterate with finite values
    reason, details = None, {}
    kkt = None
    lam, nu = zeros_m, zeros_p
    while True:
        if not _finite(f, gf, x):
            reason = "nonfinite"
            rows.add(nit, x, f, nan4, zeros_m, zeros_p, nit)
            break
        if abs(f - f0) > DIVERGENCE_FACTOR * max(abs(f0), 1.0):
            reason, details = "exploded", {"change": abs(f - f0)}
            break
        r, lam, nu, kkt, done = measure(x, gf)
        rows.add(nit, x, f, r, lam, nu, nit)
        best = (x, f, gf, lam, nu, kkt)
        if done:
            reason = "kkt_converged"
            break
        if nit >= max_iter:
            reason = "kkt_max_iter"
            break
        with np.errstate(all="ignore"):
            d = project(x - (step if step is not None else t) * gf) - x
            gd = float(np.dot(gf, d))
            if not np.any(d != 0) or not gd < 0:  # P(x - t g) = x: nothing left to do at x
                reason = "no_step"
                break
            alpha = 1.0
            if step is not None:
                x_new = x + d
                f_new = ev.f(x_new)
            else:
                for _ in range(60):
                    x_new = x + alpha * d
                    if np.array_equal(x_new, x):  # the step is below the resolution of x
                        break
                    f_new = ev.f(x_new)
                    if f_new <= f + 1e-4 * alpha * gd:  # Armijo; False for NaN
                        break
                    # safeguarded quadratic interpolation of f along d
                    denom = f_new - f - alpha * gd
                    trial = -gd * alpha**2 / (2 * denom) if denom > 0 else 0.0
                    alpha = trial if 0.1 * alpha <= trial <= 0.5 * alpha else 0.5 * alpha
                else:
                    reason = "line_search"
                    break
                if np.array_equal(x_new, x):
                    reason = "no_step"
                    break
            g_new = ev.gf(x_new)
            s = x_new - x
            y = g_new - gf
            sy = float(np.dot(s, y))
            # Barzilai-Borwein step s.s / s.y; non-positive curvature: the longest step
            t = min(max(float(np.dot(s, s)) / sy, 1e-10), 1e10) if sy > 0 else 1e10
        x, f, gf = x_new, f_new, g_new
        nit += 1

    if reason == "nonfinite" and best is not None:
        x, f, gf, lam, nu, kkt = best
    if kkt is not None:
        details = {**details, "kkt": kkt.max, "worst": kkt.worst.replace("_", " ")}
    else:
        gm = scaled_norm(project(x - gf) - x) if _finite(x, gf) else math.nan
        details = {**details, "kkt": gm, "worst": "gradient mapping ||P(x - g) - x||"}
    details["max_iter"] = max_iter
    return _finish(method, ev, x, f, gf, nit, reason, details, rows, lam, nu, kkt, math.nan, nit,
                   tol)
