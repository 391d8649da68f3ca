"""numdl's constrained methods against scipy.optimize.minimize (SLSQP, trust-constr).

Usage::

    python benchmarks/constrained.py            # the problems below at their full sizes
    python benchmarks/constrained.py --quick    # smaller sizes

Problems, all with solutions known in closed form or by an exact 1-D solve
(:mod:`numdl.optim.constrained`): a quadratic over a disk; the 2-D linear program
``min -x1 - 2 x2`` over four half-planes; a random equality-constrained quadratic (``n`` variables,
``p`` equations); a quadratic over the probability simplex; ridge regression over a norm ball
``||w||^2 <= C`` (the weight-decay pair, with the mean squared error as loss, so that f is of
order 1 like the absolute tolerances); a disk intersected with a half-plane, both constraints
active.  Constraints are handed to SciPy stacked into one vector inequality and one vector
equality.

Solvers: numdl's augmented Lagrangian, quadratic penalty and (where the feasible set has a
projection) projected gradient, at the default KKT tolerance 1e-6; SciPy's SLSQP (``ftol=1e-10``)
and trust-constr (``gtol=1e-8``, ``xtol=1e-10``), with the same analytic gradients.

Columns: ``status`` (numdl's status, or SciPy's ``success``); ``nfev``/``ngev``: calls of the
objective and its gradient (constraint calls are not counted, for either library); ``|f-f*|``;
``|x-x*|`` (max norm); ``kkt own``: the largest of the four KKT residuals of
:func:`numdl.optim.constrained.kkt_residuals` at the final point with the solver's own
multipliers (numdl's ``multipliers``, SLSQP's ``multipliers``, trust-constr's ``v``);
``kkt LS``: the same with the multipliers of
:func:`~numdl.optim.constrained.estimate_multipliers` (least squares on stationarity over the
constraints active within 1e-6) for every solver alike, so that it measures the points, not the
multiplier estimates -- a point farther than 1e-6 from a constraint that is active at the solution
(an interior-point method's) gets a large stationarity residual there; ``worst``: which condition
sets ``kkt LS``; ``time``.

This is a benchmark, not a test: no number here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.optimize as so

from numdl.optim import constrained as C
from numdl.optim.constrained import (
    ConstrainedProblem,
    Equality,
    estimate_multipliers,
    kkt_residuals,
)


@dataclass
class Row:
    solver: str
    status: str
    nfev: int
    ngev: int
    f_err: float
    x_err: float
    kkt_own: float
    kkt: float
    worst: str
    seconds: float


class Counted:
    def __init__(self, p: ConstrainedProblem) -> None:
        self.p = p
        self.nfev = self.ngev = 0

    def f(self, x):
        self.nfev += 1
        return self.p.fun(np.asarray(x, dtype=float))

    def g(self, x):
        self.ngev += 1
        return self.p.grad(np.asarray(x, dtype=float))


def measure(p: ConstrainedProblem, solver: str, status: str, x, own, c: Counted,
            dt: float) -> Row:
    """`own` is the solver's (lam, nu) in the order of p.constraints, or None."""
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)):
        return Row(solver, status, c.nfev, c.ngev, math.nan, math.nan, math.nan, math.nan, "-", dt)
    lam, nu = estimate_multipliers(p.grad, p.constraints, x)
    r = kkt_residuals(p.grad, p.constraints, x, lam, nu)
    kkt_own = kkt_residuals(p.grad, p.constraints, x, *own).max if own is not None else math.nan
    return Row(solver, status, c.nfev, c.ngev, abs(p.fun(x) - p.value),
               float(np.max(np.abs(x - p.solution))), kkt_own, r.max, r.worst.replace("_", " "),
               dt)


def run_numdl(p: ConstrainedProblem, method: str) -> Row:
    c = Counted(p)
    cons = p.set if p.set is not None else p.constraints
    t = time.perf_counter()
    r = C.minimize_constrained(c.f, p.x0, cons, method=method, grad=c.g)
    dt = time.perf_counter() - t
    short = {"augmented_lagrangian": "aug. Lagrangian", "penalty": "penalty",
             "projected_gradient": "projected grad."}[method]
    own = r.multipliers if r.kkt is not None else None
    return measure(p, f"numdl {short}", r.status.value, r.x, own, c, dt)


def scipy_constraints(p: ConstrainedProblem, method: str) -> tuple[list, int, int]:
    """The constraints stacked into one vector inequality and one vector equality (one
    constraint object per scalar constraint makes trust-constr slower by orders of magnitude)."""
    ineqs = [c for c in p.constraints if not isinstance(c, Equality)]
    eqs = [c for c in p.constraints if isinstance(c, Equality)]
    out = []
    for group, is_eq in ((ineqs, False), (eqs, True)):
        if not group:
            continue

        def fun(x, group=group):
            return np.array([c.value(np.asarray(x, dtype=float)) for c in group])

        def jac(x, group=group):
            return np.array([c.gradient(np.asarray(x, dtype=float)) for c in group])

        if method == "SLSQP":  # SLSQP's inequalities are c(x) >= 0: pass -g
            if is_eq:
                out.append({"type": "eq", "fun": fun, "jac": jac})
            else:
                out.append({"type": "ineq", "fun": lambda x, fun=fun: -fun(x),
                            "jac": lambda x, jac=jac: -jac(x)})
        else:
            out.append(so.NonlinearConstraint(fun, 0.0 if is_eq else -np.inf, 0.0, jac=jac,
                                               hess=so.BFGS()))
    return out, len(ineqs), len(eqs)


def run_scipy(p: ConstrainedProblem, method: str) -> Row:
    c = Counted(p)
    if method == "SLSQP":
        opts = {"ftol": 1e-10, "maxiter": 1000}
    else:
        opts = {"gtol": 1e-8, "xtol": 1e-10, "maxiter": 5000}
    cons, m, k = scipy_constraints(p, method)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # trust-constr warns about delta_grad == 0 with BFGS
        r = so.minimize(c.f, p.x0, jac=c.g, method=method, constraints=cons, options=opts)
    dt = time.perf_counter() - t
    # the solver's multipliers, reordered to p.constraints' order (inequalities come first in
    # every problem here, as in kkt_residuals' (lam, nu))
    if method == "SLSQP":  # equalities first; its Lagrangian is f - mu^T c with c_eq = h
        mult = np.asarray(r.multipliers, dtype=float)
        own = (mult[k:], -mult[:k])
    else:  # one array per constraint object in order; its Lagrangian is f + v^T c
        v = [np.ravel(vi) for vi in r.v]
        own = (v[0] if m else np.zeros(0), v[-1] if k else np.zeros(0))
    status = "success" if r.success else f"fail ({r.status})"
    return measure(p, f"scipy {method}", status, r.x, own, c, dt)


def problems(quick: bool) -> list[tuple[str, ConstrainedProblem]]:
    rng = np.random.default_rng(20250101)
    n_eq, p_eq = (6, 2) if quick else (30, 8)
    n_s = 10 if quick else 50
    m_r, n_r = (30, 5) if quick else (200, 40)
    # scaled by 1/sqrt(m): the loss is the mean squared error, of order 1 like the tolerances
    X = rng.standard_normal((m_r, n_r)) / math.sqrt(m_r)
    y = X @ rng.standard_normal(n_r) + 0.5 * rng.standard_normal(m_r) / math.sqrt(m_r)
    C_half = 0.5 * C.ridge_radius(X, y, 0.0)
    return [
        ("disk, 2-D", C.ball_quadratic((2.0, 1.0), 1.0)),
        ("linear program, 2-D", C.linear_program()),
        (f"equality QP n={n_eq} p={p_eq}", C.equality_quadratic(n_eq, p_eq, rng=rng)),
        (f"simplex QP n={n_s}", C.simplex_quadratic(rng.standard_normal(n_s) * 0.5)),
        (f"ridge ball n={n_r}", C.ridge_ball(X, y, C_half)),
        ("disk & half-plane", C.disk_and_halfplane(0.8)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    args = parser.parse_args(argv)
    head = (f"{'problem':<24} {'solver':<22} {'status':<12} {'nfev':>6} {'ngev':>6} "
            f"{'|f-f*|':>8} {'|x-x*|':>8} {'kkt own':>8} {'kkt LS':>8} {'worst':<24} "
            f"{'time':>8}")
    print(head)
    print("-" * len(head))
    for name, p in problems(args.quick):
        rows = [run_numdl(p, "augmented_lagrangian"), run_numdl(p, "penalty")]
        if p.set is not None:
            rows.append(run_numdl(p, "projected_gradient"))
        rows += [run_scipy(p, "SLSQP"), run_scipy(p, "trust-constr")]
        for r in rows:
            print(f"{name:<24} {r.solver:<22} {r.status:<12} {r.nfev:>6} {r.ngev:>6} "
                  f"{r.f_err:>8.1e} {r.x_err:>8.1e} {r.kkt_own:>8.1e} {r.kkt:>8.1e} {r.worst:<24} "
                  f"{r.seconds * 1e3:>6.0f}ms")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
