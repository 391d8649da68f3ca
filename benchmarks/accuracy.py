"""Accuracy of numdl's stable functions beside NumPy, SciPy, PyTorch (and JAX when installed).

Usage::

    python benchmarks/accuracy.py            # rows up to 10**6 elements
    python benchmarks/accuracy.py --quick    # rows up to 10**5, fewer random rows

Every number is the largest error, in ULPs of the output's format, over the suite's outputs,
against :mod:`numdl.reference` (exact values from the exact binary inputs).  ``inf`` means a NaN or
infinity where the exact result is finite (or a finite value where it is not); ``-`` means the
library has no such function.  Anchors: the textbook formula in NumPy, the usual NumPy max-shift
(``a + log(sum(exp(x - a)))``, in the input's dtype), ``scipy.special``, ``torch`` on CPU, and
``jax.nn`` when JAX is installed.  numdl's claim is checked at the end: at most 1 ULP for
float16/bfloat16/float32 and at most ``2 max(1, kappa)`` ULP for float64, ``kappa`` the relative
condition number of the problem at the input (:func:`numdl.reference.condition_number`); the
float64 rows also show numdl's largest ``error / max(1, kappa)``.  Under each table, the rows numdl
certified for it (narrow formats' logsumexp and logaddexp near a result of 0, see
numdl._engine.certify) and by which path: double-double or the decimal fallback.

This is a benchmark, not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable

import ml_dtypes
import numpy as np
import scipy.special as sp

import numdl
from numdl import naive, reference
from numdl._dtypes import to_numpy
from numdl._engine import certify, config
from numdl.floats import format_info

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - torch is part of the test extra
    torch = None
try:  # pragma: no cover - JAX is optional and not installed in CI
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
except ImportError:
    jax = None

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float16), BF16, np.dtype(np.float32), np.dtype(np.float64)]
ANCHORS = ["numpy naive", "numpy max-shift", "scipy.special", "torch"] + (["jax"] if jax else [])
COLUMNS = [*ANCHORS, "numdl"]


# ---------------------------------------------------------------------------------------------
# Library calls, each on the input's dtype
# ---------------------------------------------------------------------------------------------


def to_torch(x: np.ndarray):
    if x.dtype == BF16:
        return torch.from_numpy(x.view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(x))


def from_torch(t) -> np.ndarray:
    return to_numpy(t)


def to_jax(x: np.ndarray):  # pragma: no cover
    return jnp.asarray(x)


def scipy_cast(fn: Callable) -> Callable:
    """SciPy computes float16/bfloat16 by promoting; the result is cast back to the input's dtype."""

    def call(x, *args, **kwargs):
        out = np.asarray(fn(x, *args, **kwargs))
        return (
            out.astype(x.dtype) if out.dtype != x.dtype and x.dtype != BF16 else _cast_bf16(out, x)
        )

    return call


def _cast_bf16(out: np.ndarray, x: np.ndarray) -> np.ndarray:
    return out.astype(np.float32).astype(x.dtype) if x.dtype == BF16 else out


def max_shift_log_softmax(x):
    with np.errstate(all="ignore"):
        a = np.max(x, axis=-1, keepdims=True)
        return (x - a) - np.log(np.sum(np.exp(x - a), axis=-1, keepdims=True))


def max_shift_logsumexp_rows(x):
    return naive.logsumexp_max_shift(x, axis=-1)


def ce_from_log_softmax(log_softmax: Callable) -> Callable:
    def call(x, t):
        ls = log_softmax(x)
        with np.errstate(all="ignore"):
            return -np.take_along_axis(np.asarray(ls), t[:, None], axis=-1)[:, 0]

    return call


def torch_fn(fn: Callable) -> Callable:
    def call(x, *args):
        return from_torch(
            fn(to_torch(x), *(to_torch(a) if isinstance(a, np.ndarray) else a for a in args))
        )

    return call


def jax_fn(fn: Callable) -> Callable:  # pragma: no cover
    def call(x, *args):
        return np.asarray(
            fn(to_jax(x), *(to_jax(a) if isinstance(a, np.ndarray) else a for a in args))
        )

    return call


def impls(name: str) -> dict[str, Callable | None]:
    """The anchors and numdl for one function; None where a library has no such function."""
    ls_scipy = scipy_cast(lambda x: sp.log_softmax(x, axis=-1))
    table: dict[str, dict[str, Callable | None]] = {
        "logsumexp": {
            "numpy naive": lambda x: naive.logsumexp(x, axis=-1),
            "numpy max-shift": max_shift_logsumexp_rows,
            "scipy.special": scipy_cast(lambda x: sp.logsumexp(x, axis=-1)),
            "torch": torch_fn(lambda t: torch.logsumexp(t, -1)),
            "jax": jax_fn(lambda t: jax.nn.logsumexp(t, axis=-1)) if jax else None,
            "numdl": lambda x: numdl.logsumexp(x, axis=-1),
        },
        "softmax": {
            "numpy naive": naive.softmax,
            "numpy max-shift": naive.softmax_max_shift,
            "scipy.special": scipy_cast(lambda x: sp.softmax(x, axis=-1)),
            "torch": torch_fn(lambda t: torch.softmax(t, -1)),
            "jax": jax_fn(lambda t: jax.nn.softmax(t, axis=-1)) if jax else None,
            "numdl": numdl.softmax,
        },
        "log_softmax": {
            "numpy naive": naive.log_softmax,
            "numpy max-shift": max_shift_log_softmax,
            "scipy.special": ls_scipy,
            "torch": torch_fn(lambda t: torch.log_softmax(t, -1)),
            "jax": jax_fn(lambda t: jax.nn.log_softmax(t, axis=-1)) if jax else None,
            "numdl": numdl.log_softmax,
        },
        "cross_entropy": {
            "numpy naive": lambda x, t: _ce_naive_rows(x, t),
            "numpy max-shift": ce_from_log_softmax(max_shift_log_softmax),
            "scipy.special": ce_from_log_softmax(ls_scipy),
            "torch": lambda x, t: from_torch(
                F.cross_entropy(to_torch(x), torch.from_numpy(t), reduction="none")
            ),
            "jax": ce_from_log_softmax(jax_fn(lambda v: jax.nn.log_softmax(v, axis=-1)))
            if jax
            else None,
            "numdl": lambda x, t: numdl.cross_entropy(x, t, reduction="none"),
        },
        "cross_entropy (probabilities)": {
            "numpy naive": lambda x, p: _ce_naive_probs(x, p, naive.log_softmax),
            "numpy max-shift": lambda x, p: _ce_naive_probs(x, p, max_shift_log_softmax),
            "scipy.special": lambda x, p: _ce_naive_probs(x, p, ls_scipy),
            "torch": lambda x, p: from_torch(
                F.cross_entropy(to_torch(x), to_torch(p.astype(x.dtype)), reduction="none")
            ),
            "jax": None,
            "numdl": lambda x, p: numdl.cross_entropy(x, p, reduction="none"),
        },
        "sigmoid": {
            "numpy naive": naive.sigmoid,
            "numpy max-shift": None,
            "scipy.special": scipy_cast(sp.expit),
            "torch": torch_fn(torch.sigmoid),
            "jax": jax_fn(jax.nn.sigmoid) if jax else None,
            "numdl": numdl.sigmoid,
        },
        "log_sigmoid": {
            "numpy naive": naive.log_sigmoid,
            "numpy max-shift": None,
            "scipy.special": scipy_cast(sp.log_expit),
            "torch": torch_fn(F.logsigmoid),
            "jax": jax_fn(jax.nn.log_sigmoid) if jax else None,
            "numdl": numdl.log_sigmoid,
        },
        "softplus": {
            "numpy naive": naive.softplus,
            "numpy max-shift": lambda x: np.logaddexp(np.zeros_like(x), x),
            "scipy.special": scipy_cast(lambda x: -sp.log_expit(-x)),
            "torch": torch_fn(F.softplus),
            "jax": jax_fn(jax.nn.softplus) if jax else None,
            "numdl": numdl.softplus,
        },
        "logaddexp": {
            "numpy naive": naive.logaddexp,
            "numpy max-shift": np.logaddexp,
            "scipy.special": None,
            "torch": torch_fn(torch.logaddexp),
            "jax": jax_fn(jnp.logaddexp) if jax else None,
            "numdl": numdl.logaddexp,
        },
        "log1mexp": {
            "numpy naive": naive.log1mexp,
            "numpy max-shift": None,
            "scipy.special": None,
            "torch": torch_fn(lambda t: torch.log(-torch.expm1(-t.abs()))),
            "jax": None,
            "numdl": numdl.log1mexp,
        },
        "binary_cross_entropy": {
            "numpy naive": lambda x, y: _bce_naive(x, y),
            # the textbook-stable form of TensorFlow and PyTorch: max(x, 0) - x y + log1p(exp(-|x|))
            "numpy max-shift": lambda x, y: _bce_tf(x, y),
            "scipy.special": lambda x, y: _bce_scipy(x, y),
            "torch": lambda x, y: from_torch(
                F.binary_cross_entropy_with_logits(
                    to_torch(x), to_torch(y.astype(x.dtype)), reduction="none"
                )
            ),
            "jax": None,
            "numdl": lambda x, y: numdl.binary_cross_entropy_with_logits(x, y, reduction="none"),
        },
    }
    out = table[name]
    if torch is None:
        out["torch"] = None
    return {k: v for k, v in out.items() if k in COLUMNS}


def _ce_naive_rows(x, t):
    p = naive.softmax(x)
    with np.errstate(all="ignore"):
        return -np.log(np.take_along_axis(p, t[:, None], axis=-1)[:, 0])


def _ce_naive_probs(x, p, log_softmax):
    ls = np.asarray(log_softmax(x))
    with np.errstate(all="ignore"):
        return (-np.sum(p.astype(x.dtype) * ls, axis=-1)).astype(x.dtype)


def _bce_naive(x, y):
    p = naive.sigmoid(x)
    y = y.astype(x.dtype)
    with np.errstate(all="ignore"):
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _bce_tf(x, y):
    y = y.astype(x.dtype)
    with np.errstate(all="ignore"):
        return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))


def _bce_scipy(x, y):
    x64 = x.astype(np.float64) if x.dtype == BF16 else x
    y = y.astype(x64.dtype)
    out = -(y * sp.log_expit(x64) + (1 - y) * sp.log_expit(-x64))
    return np.asarray(out).astype(x.dtype)


# ---------------------------------------------------------------------------------------------
# Suites
# ---------------------------------------------------------------------------------------------


def exp_limits(dtype: np.dtype) -> tuple[float, float]:
    info = format_info(dtype)
    return info.exp_overflow, info.exp_underflow


def row_suites(
    dtype: np.dtype, quick: bool, rng: np.random.Generator
) -> list[tuple[str, np.ndarray]]:
    """(name, rows) for logsumexp, softmax and log_softmax; rows are reduced along the last axis."""
    over, under = exp_limits(dtype)
    rows = 16 if quick else 64
    out = [(f"random, scale {s}", rng.standard_normal((rows, 32)) * s) for s in (1, 10, 100, 1000)]
    dominant = np.array([0.0, -40, -41, -45, -38, -60, -44, -39])
    out.append(("one dominant, max 0", np.tile(dominant, (4, 1))))
    out.append(("one dominant, max 7.3", np.tile(dominant + 7.3, (4, 1))))
    confident = np.zeros((3, 8))
    confident[:, 0] = [17, 37, 50]
    out.append(("confident class (17, 37, 50)", confident))
    logp = np.asarray(numdl.log_softmax(rng.standard_normal((rows, 16)).astype(dtype)), np.float64)
    out.append(("normalized log-probabilities", logp))
    logp_long = np.asarray(
        numdl.log_softmax(rng.standard_normal((4, 1000)).astype(dtype)), np.float64
    )
    out.append(("normalized log-probs, 1000", logp_long))
    out.append(("near exp overflow", over - rng.random((4, 16)) * 2))
    out.append(
        ("subnormal results", np.array([[0.0, under + 4, under + 2, under + 1, 0.5 * under]]))
    )
    for n in (1, 2, 10, 1000, 100_000) + (() if quick else (1_000_000,)):
        out.append((f"length {n}", rng.standard_normal((1, n)) * 3))
    out.append(("length 100000, all equal", np.full((1, 100_000), 2.0)))
    specials = np.array(
        [
            [np.inf, 1, 2, 3],
            [np.inf, np.inf, 0, 1],
            [np.nan, 1, 2, 3],
            [-np.inf, 0, 1, -np.inf],
            [np.inf, -np.inf, 0, 0],
        ]
    )
    out.append(("+inf, -inf, NaN mixes", specials))
    out.append(("all -inf", np.full((2, 5), -np.inf)))
    return [(name, x.astype(dtype)) for name, x in out]


def ce_suites(
    dtype: np.dtype, quick: bool, rng: np.random.Generator
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rows = 16 if quick else 64
    out = [("random, scale 3", rng.standard_normal((rows, 32)) * 3, rng.integers(0, 32, rows))]
    confident = np.zeros((3, 8))
    confident[:, 0] = [17, 37, 50]
    out.append(("confident class (17, 37, 50)", confident, np.zeros(3, dtype=np.int64)))
    big = 1000 + rng.standard_normal((rows, 16)) * (0.01 if dtype == np.float64 else 1.0)
    if dtype == np.float16:
        big = big - 990  # float16 cannot hold 1000 + 0.01 apart: 10 + noise
    out.append(("large, nearly equal logits", big, rng.integers(0, 16, rows)))
    out.append(("long row 10**5", rng.standard_normal((1, 100_000)) * 3, np.array([7])))
    return [(n, x.astype(dtype), t) for n, x, t in out]


def masked_suite(dtype: np.dtype, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((8, 6)) * 2
    p = rng.dirichlet(np.ones(6), 8)
    x[:, [1, 4]] = -np.inf
    p[:, [1, 4]] = 0.0
    p /= p.sum(axis=1, keepdims=True)
    return x.astype(dtype), p.astype(dtype).astype(np.float64)


def elementwise_inputs(dtype: np.dtype, quick: bool, rng: np.random.Generator) -> np.ndarray:
    n = 300 if quick else 1500
    mags = 10.0 ** rng.uniform(-3, 3, n)  # |x| from 0.001 to 1000
    x = np.concatenate(
        [mags * rng.choice([-1, 1], n), np.linspace(20, 37, 60), -np.linspace(20, 37, 60)]
    )
    return np.concatenate([x, [0.0, np.inf, -np.inf, np.nan]]).astype(dtype)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def errors_against(exact, computed) -> np.ndarray:
    computed = np.asarray(computed)
    if isinstance(exact, reference.ExactArray):
        return exact.ulp_error(computed)
    return np.asarray(reference.ulp_error(computed, exact), dtype=np.float64)


def run_cell(fn: Callable | None, exact, args: tuple, dtype: np.dtype) -> float | None:
    if fn is None:
        return None
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(fn(*args))
    except (TypeError, RuntimeError, ValueError):
        return None
    if out.dtype != dtype:
        out = (
            out.astype(np.float64).astype(dtype)
            if dtype != BF16
            else reference.round_to(out.astype(np.float64), BF16)
        )
    return float(np.max(errors_against(exact, out))) if out.size else 0.0


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf"
    if v < 10:
        return f"{v:.2f}"
    if v < 1e4:
        return f"{v:.0f}"
    return f"{v:.1e}"


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def kernels_in_use() -> str:
    """The row kernels numdl runs here (NUMDL_PURE_NUMPY=1 measures the pure-NumPy one)."""
    compiled = config.settings.kernels
    return f"compiled ({compiled.variant()})" if compiled is not None else "pure NumPy"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="rows up to 10**5, fewer random rows")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(20260501)
    start = time.perf_counter()
    print(
        f"numdl {numdl.__version__}, numpy {np.__version__}, scipy {sp.__name__ and __import__('scipy').__version__}"
        f", torch {torch.__version__ if torch else 'not installed'}, jax {jax.__version__ if jax else 'not installed'}"
        f"; numdl kernels: {kernels_in_use()}"
    )
    print(
        "max error in ULPs of the output dtype against numdl.reference; inf = NaN/inf where the exact value is finite\n"
    )
    claims: list[tuple[str, str, str, float, float]] = []  # (function, suite, dtype, error, limit)
    header = (
        f"{'suite':34s} {'dtype':9s}"
        + "".join(f"{c:>16s}" for c in COLUMNS)
        + f"{'numdl/max(1,k)':>16s}"
    )

    totals = {"rows": 0, "double_double": 0, "decimal": 0}

    def table(title: str, cases: list) -> None:
        print(f"== {title}")
        print(header)
        certify.reset_counts()
        for suite, dtype, fns, exact, call_args, kappa in cases:
            cells = {c: run_cell(fns.get(c), exact, call_args, dtype) for c in COLUMNS}
            ours = cells["numdl"]
            ratio = ""
            if dtype == np.float64:
                k = np.maximum(1.0, np.asarray(kappa, dtype=np.float64))
                out = np.asarray(fns["numdl"](*call_args))
                r = errors_against(exact, out) / np.broadcast_to(k, np.shape(out) or ()).reshape(
                    np.shape(out)
                )
                ratio = fmt(float(np.max(r)) if r.size else 0.0)
                limit_ok = float(np.max(r)) if r.size else 0.0
                claims.append((title, suite, dtype.name, limit_ok, 2.0))
            else:
                claims.append(
                    (title, suite, dtype.name, ours if ours is not None else math.inf, 1.0)
                )
            print(
                f"{suite:34s} {dtype.name:9s}"
                + "".join(f"{fmt(cells[c]):>16s}" for c in COLUMNS)
                + f"{ratio:>16s}"
            )
        c = certify.counts()
        for key in totals:
            totals[key] += c[key]
        print(f"numdl rows certified: {c['rows']} (double-double {c['double_double']}, "
              f"decimal {c['decimal']})\n")

    for name in ("logsumexp", "softmax", "log_softmax"):
        cases = []
        for dtype in DTYPES:
            for suite, x in row_suites(dtype, args.quick, rng):
                big = x.size > 10_000
                if name == "logsumexp":
                    exact = reference.logsumexp(x, axis=-1, rounded="pair")
                    kappa = reference.condition_number("logsumexp", x, axis=-1)
                else:
                    exact = getattr(reference, name)(x, rounded="pair")
                    kappa = reference.condition_number(name, x) if dtype == np.float64 else 0.0
                fns = impls(name)
                if big and name != "logsumexp":
                    fns["numpy naive"] = fns["numpy naive"]  # long rows: every anchor runs
                cases.append((suite, dtype, fns, exact, (x,), kappa))
        table(name, cases)

    cases = []
    for dtype in DTYPES:
        for suite, x, t in ce_suites(dtype, args.quick, rng):
            exact = reference.cross_entropy(x, t, reduction="none", rounded="pair")
            kappa = reference.condition_number("cross_entropy", x, t, reduction="none")
            cases.append((suite, dtype, impls("cross_entropy"), exact, (x, t), kappa))
        x, p = masked_suite(dtype, rng)
        exact = reference.cross_entropy(x, p, reduction="none", rounded="pair")
        kappa = reference.condition_number("cross_entropy", x, p, reduction="none")
        cases.append(
            (
                "masked -inf, target prob 0",
                dtype,
                impls("cross_entropy (probabilities)"),
                exact,
                (x, p),
                kappa,
            )
        )
    table("cross_entropy (per row, reduction='none')", cases)

    for name in ("sigmoid", "log_sigmoid", "softplus", "log1mexp"):
        cases = []
        for dtype in DTYPES:
            x = elementwise_inputs(dtype, args.quick, rng)
            exact = getattr(reference, name)(x, rounded=False)
            kappa = reference.condition_number(name, x)
            cases.append(
                ("|x| from 1e-3 to 1000, +-inf, NaN", dtype, impls(name), exact, (x,), kappa)
            )
        table(name, cases)

    cases = []
    for dtype in DTYPES:
        n = 200 if args.quick else 800
        x1 = (rng.standard_normal(n) * 30).astype(dtype)
        x2 = (rng.standard_normal(n) * 30).astype(dtype)
        cases.append(
            (
                "random, scale 30",
                dtype,
                impls("logaddexp"),
                reference.logaddexp(x1, x2, rounded=False),
                (x1, x2),
                reference.condition_number("logaddexp", x1, x2),
            )
        )
        p = rng.random(n // 4)
        y1, y2 = np.log(p).astype(dtype), np.log1p(-p).astype(dtype)  # results near 0
        cases.append(
            (
                "log p and log(1 - p): near 0",
                dtype,
                impls("logaddexp"),
                reference.logaddexp(y1, y2, rounded=False),
                (y1, y2),
                reference.condition_number("logaddexp", y1, y2),
            )
        )
    table("logaddexp", cases)

    cases = []
    for dtype in DTYPES:
        x = elementwise_inputs(dtype, args.quick, rng)
        x = x[np.isfinite(x.astype(np.float64))]
        for label in (0.0, 1.0):
            y = np.full(x.shape, label)
            exact = reference.binary_cross_entropy_with_logits(
                x, y, reduction="none", rounded=False
            )
            kappa = reference.condition_number(
                "binary_cross_entropy_with_logits", x, y, reduction="none"
            )
            cases.append(
                (
                    f"|x| to 1000, target {label:g}",
                    dtype,
                    impls("binary_cross_entropy"),
                    exact,
                    (x, y),
                    kappa,
                )
            )
        y = rng.random(x.shape)
        exact = reference.binary_cross_entropy_with_logits(x, y, reduction="none", rounded=False)
        kappa = reference.condition_number(
            "binary_cross_entropy_with_logits", x, y, reduction="none"
        )
        cases.append(
            (
                "|x| to 1000, target in (0, 1)",
                dtype,
                impls("binary_cross_entropy"),
                exact,
                (x, y),
                kappa,
            )
        )
    table("binary_cross_entropy_with_logits (reduction='none')", cases)

    print(
        "== numdl's claim: <= 1 ULP (float16, bfloat16, float32); <= 2 max(1, kappa) ULP (float64)"
    )
    failures = [c for c in claims if not c[3] <= c[4]]
    for dtype in [d.name for d in DTYPES]:
        worst = max((c for c in claims if c[2] == dtype), key=lambda c: c[3])
        unit = "ULP" if dtype != "float64" else "x max(1, kappa) ULP"
        print(f"{dtype:9s} worst {fmt(worst[3])} {unit} ({worst[0]}: {worst[1]})")
    print("all within the claim" if not failures else f"OUTSIDE THE CLAIM: {failures}")
    print(f"numdl rows certified in all: {totals['rows']} (double-double "
          f"{totals['double_double']}, decimal {totals['decimal']})")
    print(f"\n{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
