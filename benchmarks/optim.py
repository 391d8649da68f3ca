"""numdl's Newton, BFGS and L-BFGS against scipy.optimize.minimize (Newton-CG, BFGS, L-BFGS-B).

Usage::

    python benchmarks/optim.py            # Rosenbrock in 2, 10, 100 dims; quadratics 10 and 100 dims
    python benchmarks/optim.py --quick    # Rosenbrock 2 and 10, quadratic 10

For each problem and solver pair it prints iterations and calls of f, g, H for a run to a tight
tolerance, the final error ``max_i |x_i - x*_i|``, and -- the number that compares fairly -- the
calls of ``(f, g)`` needed to first reach an error of ``1e-6`` and ``1e-9`` (read off a counter at
every iterate, through each library's callback; a "call" is the larger of the f and g counts).
The line-search methods of both libraries evaluate f and g together at each trial, so
``nfev == ngev`` for them.  ``ratio`` is numdl / scipy; "-" means the target was not reached.
numdl's Newton solves with the full Hessian (Cholesky), SciPy's Newton-CG with conjugate gradients
on Hessian-vector products from the same Hessian: their iteration counts differ by design.

Problems: Rosenbrock from (-1.2, 1) in 2-D and from 0 in 10 and 100 dims (from the alternating
(-1.2, 1, ...) start both libraries can end in the local minimum near (-1, 1, ..., 1)); quadratics
``x^T H x / 2 - b^T x`` with a random rotation and condition number 1e4 (10-D) and 1e6 (100-D),
``b`` random, from 0.

This is a benchmark, not a test: no number here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import scipy.optimize as so

from numdl.optim import minimize
from numdl.optim.problems import Problem, quadratic, rosenbrock

TARGETS = (1e-6, 1e-9)
PAIRS = (("bfgs", "BFGS"), ("lbfgs", "L-BFGS-B"), ("newton", "Newton-CG"))


@dataclass
class Run:
    library: str
    method: str
    nit: int
    nfev: int
    ngev: int
    nhev: int
    error: float
    to_target: dict[float, int | None]
    seconds: float


class Counted:
    """f and g with call counters and a log of (evaluations so far, error) at each iterate."""

    def __init__(self, problem: Problem, xstar: np.ndarray) -> None:
        self.p, self.xstar = problem, xstar
        self.nfev = self.ngev = self.nhev = 0
        self.log: list[tuple[int, float]] = []

    def f(self, x):
        self.nfev += 1
        return self.p.value(x)

    def g(self, x):
        self.ngev += 1
        return self.p.gradient(x)

    def h(self, x):
        self.nhev += 1
        return self.p.hessian(x)

    def mark(self, x) -> None:
        self.log.append((max(self.nfev, self.ngev), float(np.max(np.abs(x - self.xstar)))))

    def to_target(self, target: float) -> int | None:
        return next((k for k, e in self.log if e <= target), None)


def run_numdl(problem: Problem, xstar: np.ndarray, x0: np.ndarray, method: str) -> Run:
    c = Counted(problem, xstar)
    c.mark(x0)  # the first evaluation is counted by the first mark after it
    c.log[0] = (1, c.log[0][1])
    t = time.perf_counter()
    r = minimize(c.f, x0, method=method, grad=c.g, hess=c.h if method == "newton" else None,
                 tol=1e-10, max_iter=20_000, callback=lambda info: c.mark(info.x))
    dt = time.perf_counter() - t
    return Run("numdl", method, r.nit, c.nfev, c.ngev, c.nhev, float(np.max(np.abs(r.x - xstar))),
               {tt: c.to_target(tt) for tt in TARGETS}, dt)


def run_scipy(problem: Problem, xstar: np.ndarray, x0: np.ndarray, method: str) -> Run:
    c = Counted(problem, xstar)
    c.mark(x0)
    c.log[0] = (1, c.log[0][1])
    opts: dict = {"maxiter": 20_000}
    kw: dict = {}
    if method == "BFGS":
        opts["gtol"] = 1e-10
    elif method == "L-BFGS-B":
        opts.update(gtol=1e-10, ftol=1e-16)
    else:
        kw["hess"] = c.h
        opts["xtol"] = 1e-12
    t = time.perf_counter()
    r = so.minimize(c.f, x0, jac=c.g, method=method, callback=lambda xk: c.mark(xk),
                    options=opts, **kw)
    dt = time.perf_counter() - t
    return Run("scipy", method, int(r.nit), c.nfev, c.ngev, c.nhev, float(np.max(np.abs(r.x - xstar))),
               {tt: c.to_target(tt) for tt in TARGETS}, dt)


def problems(quick: bool) -> list[tuple[str, Problem, np.ndarray]]:
    rng = np.random.default_rng(20240611)
    out = []
    for n in (2, 10) if quick else (2, 10, 100):
        p = rosenbrock(n)
        out.append((f"rosenbrock-{n}", p, p.start if n == 2 else np.zeros(n)))
    for n, kappa in ((10, 1e4),) if quick else ((10, 1e4), (100, 1e6)):
        b = rng.standard_normal(n)
        p = quadratic(kappa=kappa, dim=n, rng=rng, b=b)
        out.append((f"quadratic-{n} k={kappa:.0e}", p, np.zeros(n)))
    return out


def fmt(v: int | None) -> str:
    return "-" if v is None else str(v)


def ratio(a: int | None, b: int | None) -> str:
    if a is None or b is None:
        return "-"
    return f"{a / b:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    args = parser.parse_args(argv)
    head = (f"{'problem':<22} {'solver':<16} {'nit':>5} {'nfev':>5} {'ngev':>5} {'nhev':>4} "
            f"{'error':>8} "
            + " ".join(f"{'to ' + format(t, '.0e'):>8} {'ratio':>5}" for t in TARGETS)
            + f" {'time':>7}")
    print(head)
    print("-" * len(head))
    worst: dict[str, float] = {}
    for name, p, x0 in problems(args.quick):
        xstar = p.minimum.x
        for ours, theirs in PAIRS:
            a = run_numdl(p, xstar, x0, ours)
            b = run_scipy(p, xstar, x0, theirs)
            for r in (a, b):
                is_ours = r is a
                cells = []
                for t in TARGETS:
                    cells.append(f"{fmt(r.to_target[t]):>8} "
                                 f"{ratio(a.to_target[t], b.to_target[t]) if is_ours else '':>5}")
                    if is_ours and a.to_target[t] and b.to_target[t] and ours != "newton":
                        worst[ours] = max(worst.get(ours, 0.0), a.to_target[t] / b.to_target[t])
                    if is_ours and ours != "newton" and a.to_target[t] is None and \
                            b.to_target[t] is not None:
                        worst[ours] = math.inf
                label = f"{r.library} {r.method}"
                print(f"{name:<22} {label:<16} {r.nit:>5} {r.nfev:>5} {r.ngev:>5} {r.nhev:>4} "
                      f"{r.error:>8.1e} " + " ".join(cells) + f" {r.seconds * 1e3:>5.0f}ms")
        print()
    for m, w in worst.items():
        verdict = "within" if w <= 1.5 else "NOT within"
        print(f"numdl {m}: worst evaluations ratio to scipy {w:.2f} ({verdict} 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
