"""Forward error of least-squares solvers against the condition number, with the predicted bounds.

Usage::

    python benchmarks/lstsq.py                  # kappa = 1e1 .. 1e12, X 200 x 20, 3 problems each
    python benchmarks/lstsq.py --quick          # kappa = 1e1, 1e3, .. 1e11, X 60 x 10, 1 problem
    python benchmarks/lstsq.py --tan-theta 1e-2 # an inconsistent problem: ||r|| = 0.01 ||X x||

For float32 and float64 it builds ``X = matrix_with_condition(m, n, kappa)`` (rounded to the dtype,
so its *realized* condition number -- the ``kappa(X)`` column -- departs from the requested one
once ``kappa u`` nears 1) and ``y = X x_true`` (+ a residual orthogonal to ``range(X)`` of relative
size ``tan(theta)``), rounded to the dtype.  The reference is the exact least-squares solution of
the *stored* ``X`` and ``y``, from mpmath's QR at 60 digits; each cell is the median relative error
``||x - x_exact|| / ||x_exact||`` over the problems.  Solvers: numdl's six :func:`numdl.linalg.lstsq`
methods, ``numpy.linalg.lstsq``, ``scipy.linalg.lstsq`` (both LAPACK ``gelsd``) and
``torch.linalg.lstsq`` (CPU default driver ``gelsy``, QR with column pivoting), all with their
default rank tolerances (``eps * max(m, n)`` for numdl, NumPy and PyTorch, ``eps`` for SciPy, which
therefore truncates later).  All compute in the input dtype except NumPy, whose ``linalg`` promotes
float32 to float64 internally and rounds the result back: its float32 column shows float64
accuracy (~u32), not what float32 arithmetic can do.  The last two columns are numdl's predicted errors,
``sqrt(n) u kappa**2`` (normal equations) and ``sqrt(n) u (kappa + kappa**2 tan(theta))`` (QR, SVD),
from the realized ``kappa``.

Marks: ``failed`` -- numdl reported status "failed" (e.g. Cholesky on an indefinite ``X^T X``; NaN
returned); ``*`` -- the solver found ``X`` rank deficient at its tolerance (numdl status
"rank_deficient"; for numpy/scipy/torch a returned rank below n), so svd/lapack/numpy/scipy/torch
returned the minimum-norm solution of a truncated problem, whose error against the full-rank
solution is ~1; ``!`` -- numdl status "ill_conditioned" (full rank, but predicted error >= 1).

This is a benchmark, not a test: no number here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable

import mpmath
import numpy as np
import scipy.linalg

from numdl.linalg import LSTSQ_METHODS, condition_number, lstsq, matrix_with_condition

try:
    import torch
except ImportError:  # torch is an optional extra
    torch = None

SHORT = {
    "normal_inv": "n_inv",
    "normal_solve": "n_solve",
    "cholesky": "chol",
    "qr": "qr",
    "svd": "svd",
    "lapack": "lapack",
}


def exact_solution(X: np.ndarray, y: np.ndarray, dps: int = 60) -> np.ndarray:
    with mpmath.workdps(dps):
        x, _ = mpmath.qr_solve(
            mpmath.matrix(X.astype(np.float64).tolist()), mpmath.matrix(y.astype(np.float64).tolist())
        )
        return np.array([float(v) for v in x])


def make_problem(rng, m, n, kappa, dtype, tan_theta):
    X = matrix_with_condition(m, n, kappa, rng=rng, dtype=dtype)
    x_true = rng.standard_normal(n)
    b = X.astype(np.float64) @ x_true
    if tan_theta:
        q = np.linalg.qr(X.astype(np.float64), mode="complete")[0][:, n:]
        r = q @ rng.standard_normal(m - n)
        b = b + r * (tan_theta * np.linalg.norm(b) / np.linalg.norm(r))
    return X, b.astype(dtype)


def external_solvers() -> dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, int]]]:
    """Each returns (solution, rank it used)."""

    def numpy_solver(X, y):
        x, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
        return x, int(rank)

    def scipy_solver(X, y):
        x, _, rank, _ = scipy.linalg.lstsq(X, y, lapack_driver="gelsd")
        return x, int(rank)

    solvers = {"numpy": numpy_solver, "scipy": scipy_solver}
    if torch is not None:

        def torch_solver(X, y):
            out = torch.linalg.lstsq(torch.from_numpy(X), torch.from_numpy(y)[:, None])
            return out.solution[:, 0].numpy(), int(out.rank)

        solvers["torch"] = torch_solver
    return solvers


def rel_error(x: np.ndarray, x_exact: np.ndarray) -> float:
    return float(np.linalg.norm(x.astype(np.float64) - x_exact) / np.linalg.norm(x_exact))


def fmt(values: list[float], marks: set[str]) -> str:
    if "failed" in marks:
        return "failed"
    value = statistics.median(values)
    text = f"{value:.1e}" if math.isfinite(value) else "nan"
    return text + ("*" if "rank" in marks else "") + ("!" if "ill" in marks else "")


def run_dtype(dtype, kappas, m, n, repeats, tan_theta, seed) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    ext = external_solvers()
    names = [SHORT[mth] for mth in LSTSQ_METHODS] + list(ext)
    rows = []
    for kappa in kappas:
        errors: dict[str, list[float]] = {name: [] for name in names}
        marks: dict[str, set[str]] = {name: set() for name in names}
        realized, pred_ne, pred_qr = [], [], []
        for _ in range(repeats):
            X, y = make_problem(rng, m, n, kappa, dtype, tan_theta)
            x_exact = exact_solution(X, y)
            realized.append(condition_number(X))
            for method in LSTSQ_METHODS:
                x, diag = lstsq(X, y, method=method)
                name = SHORT[method]
                if diag.status == "failed":
                    marks[name].add("failed")
                elif diag.status == "rank_deficient":
                    marks[name].add("rank")
                elif diag.status == "ill_conditioned":
                    marks[name].add("ill")
                errors[name].append(rel_error(x, x_exact))
                if method == "normal_solve":
                    pred_ne.append(math.sqrt(n) * diag.unit_roundoff * diag.kappa_estimate**2)
                if method == "qr":
                    u, k = diag.unit_roundoff, diag.kappa_estimate
                    pred_qr.append(math.sqrt(n) * u * (k + k**2 * diag.tan_theta))
            for name, solver in ext.items():
                x, rank = solver(X, y)
                if rank < n:
                    marks[name].add("rank")
                errors[name].append(rel_error(x, x_exact))
        row = [f"{kappa:.0e}", f"{statistics.median(realized):.1e}"]
        row += [fmt(errors[name], marks[name]) for name in names]
        row += [f"{statistics.median(pred_ne):.1e}", f"{statistics.median(pred_qr):.1e}"]
        rows.append(row)
    return [["kappa", "kappa(X)", *names, "pred NE", "pred QR"], *rows]


def print_table(title: str, table: list[list[str]]) -> None:
    widths = [max(len(row[j]) for row in table) for j in range(len(table[0]))]
    print(title)
    for i, row in enumerate(table):
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 kappas, X 60 x 10, 1 problem each")
    parser.add_argument("--tan-theta", type=float, default=0.0, help="||r|| / ||X x|| (default 0)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.tan_theta < 0:
        parser.error("--tan-theta must be >= 0")
    if args.quick:
        kappas, m, n, repeats = [10.0**e for e in range(1, 13, 2)], 60, 10, 1
    else:
        kappas, m, n, repeats = [10.0**e for e in range(1, 13)], 200, 20, 3
    start = time.perf_counter()
    print(
        f"Least squares, X {m} x {n}, tan(theta) = {args.tan_theta:g}, median of {repeats} "
        f"problem(s) per row; relative forward error against mpmath's solution of the stored data."
    )
    print(
        "* = rank deficient at the solver's tolerance; ! = numdl status 'ill_conditioned' "
        "(predicted error >= 1);\nfailed = numdl status 'failed' (NaN returned); pred = numdl's "
        "predicted error; numpy computes float32 in float64\n"
    )
    for dtype in (np.float32, np.float64):
        table = run_dtype(np.dtype(dtype), kappas, m, n, repeats, args.tan_theta, args.seed)
        u = np.finfo(dtype).eps / 2
        print_table(f"{np.dtype(dtype).name} (u = {u:.1e})", table)
    print(f"({time.perf_counter() - start:.1f} s; torch {'absent' if torch is None else torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
