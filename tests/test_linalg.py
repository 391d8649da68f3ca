"""numdl.linalg: condition numbers, test matrices and six least-squares methods, checked against
mpmath solutions of the stored problems, SciPy, and the error slopes theory predicts."""

from __future__ import annotations

import dataclasses
import doctest
import math

import mpmath
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

import numdl.linalg
from numdl.linalg import (
    LSTSQ_METHODS,
    LSTSQ_STATUS,
    LstsqDiagnostics,
    condition_number,
    hilbert,
    least_squares_problem,
    lstsq,
    matrix_with_condition,
    vandermonde,
)

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
U64_LINALG = float(np.finfo(np.float64).eps) / 2
NORMAL = ("normal_inv", "normal_solve", "cholesky")
STABLE = ("qr", "svd", "lapack")

# At kappa = 10 every method's predicted error is sqrt(n) u kappa**2 at most: 3.7e-5 in float32
# and 7e-14 in float64 for n = 12; the tables allow a factor of about 3 beyond that.
RECOVERY_RTOL = {F32: 1e-4, F64: 2e-13}

# How far above lstsq's predicted forward_error_bound an observed error may go.  In calibration
# runs (random X, 30 <= m <= 100, 3 <= n <= 20, both dtypes, tan(theta) in {0, 1e-3, 1}) the ratio
# error / bound stayed below 1.3 except for normal_inv, whose multiplication by an explicit inverse
# reached 12 once; the factor is the same for all methods so that it cannot hide a wrong slope.
BOUND_SLACK = 20.0


def exact_lstsq(X, y, dps=50):
    """The least-squares solution of the stored (binary) problem, by mpmath's QR at `dps` digits."""
    with mpmath.workdps(dps):
        A = mpmath.matrix(np.asarray(X, dtype=np.float64).tolist())
        cols = np.asarray(y, dtype=np.float64).reshape(len(X), -1)
        out = []
        for j in range(cols.shape[1]):
            x, _ = mpmath.qr_solve(A, mpmath.matrix(cols[:, j].tolist()))
            out.append([float(v) for v in x])
    result = np.array(out).T
    return result[:, 0] if np.ndim(y) == 1 else result


def rel_error(x, x_exact):
    return float(np.linalg.norm(x.astype(np.float64) - x_exact) / np.linalg.norm(x_exact))


def problem(rng, m, n, kappa, dtype=F64, k=None, tan_theta=0.0):
    """X with condition number kappa and y = X x_true + r, r orthogonal to range(X) (in float64)
    with ||r|| = tan_theta ||X x_true||; X and y rounded to dtype."""
    X = matrix_with_condition(m, n, kappa, rng=rng, dtype=dtype)
    shape = (n,) if k is None else (n, k)
    x_true = rng.standard_normal(shape)
    b = X.astype(np.float64) @ x_true
    if tan_theta:
        q = np.linalg.qr(X.astype(np.float64), mode="complete")[0][:, n:]
        r = q @ rng.standard_normal((m - n, *shape[1:]))
        r *= tan_theta * np.linalg.norm(b, axis=0) / np.linalg.norm(r, axis=0)
        b = b + r
    return X, b.astype(dtype)


# ---------------------------------------------------------------------------------------------
# Condition numbers and test matrices
# ---------------------------------------------------------------------------------------------


def test_condition_number_closed_forms_and_numpy():
    assert condition_number(np.diag([4.0, 2.0, 0.5])) == 8.0
    assert condition_number(np.eye(3, dtype=np.float32)) == 1.0
    assert condition_number([[1, 0], [0, 1e-3]]) == pytest.approx(1e3, rel=1e-15)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6))
    for p in (None, 2, -2, 1, -1, np.inf, -np.inf, "fro"):
        assert condition_number(A, p) == pytest.approx(np.linalg.cond(A, p), rel=1e-12)
    # Rectangular: sigma_max / sigma_min over min(m, n) singular values.
    B = rng.standard_normal((7, 3))
    s = np.linalg.svd(B, compute_uv=False)
    assert condition_number(B) == pytest.approx(s[0] / s[-1], rel=1e-14)


def test_condition_number_special_values():
    assert condition_number(np.zeros((2, 2))) == math.inf
    assert condition_number(np.zeros((2, 2)), p=-2) == 0.0
    assert condition_number([[1.0, 1.0], [1.0, 1.0]], p=1) == math.inf
    assert condition_number([[1.0, 1.0], [1.0, 1.0]], p="fro") == math.inf
    # Singular in exact arithmetic: rounding leaves sigma_min ~ 1e-16 (huge, as numpy says), or
    # exactly 0 with another BLAS kernel (inf).
    assert condition_number([[1.0, 2.0], [2.0, 4.0]]) > 1e15
    assert math.isnan(condition_number([[1.0, np.nan], [0.0, 1.0]]))
    assert math.isnan(condition_number([[1.0, np.inf], [0.0, 1.0]], p=1))


def test_condition_number_of_float32_matrix_is_computed_in_float64():
    # A float32 matrix of condition ~1e6 as stored: float32's own SVD cannot resolve sigma_min to
    # better than u32 * sigma_max ~ 6e-8, so its estimate is off; the float64 one is accurate.
    A = matrix_with_condition(30, 30, 1e6, rng=np.random.default_rng(1), dtype=F32)
    exact = condition_number(A.astype(np.float64))
    assert condition_number(A) == exact
    assert abs(exact / 1e6 - 1) < 0.2


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        ((np.ones(3),), ValueError, r"A must be a 2-D matrix, got an array of shape \(3,\)"),
        ((np.ones((0, 2)),), ValueError, "A must not be empty"),
        ((np.ones((2, 3)), 1), ValueError, r"p=1 needs a square matrix"),
        ((np.eye(2), 3), ValueError, "p=3 is not a supported norm order"),
        ((np.eye(2), "nuc"), ValueError, "p='nuc' is not a supported norm order"),
        ((np.eye(2), True), ValueError, "p=True is not a supported norm order"),
        ((np.array([["a"]]),), TypeError, "A must be a real numeric array"),
    ],
)
def test_condition_number_validation(args, exc, match):
    with pytest.raises(exc, match=match):
        condition_number(*args)


def hilbert_kappa_exact(n):
    """kappa_2 of the exact (rational) Hilbert matrix: ratio of its extreme eigenvalues (SPD)."""
    with mpmath.workdps(60):
        H = mpmath.matrix(n, n)
        for i in range(n):
            for j in range(n):
                H[i, j] = mpmath.mpf(1) / (i + j + 1)
        eig = mpmath.eigsy(H, eigvals_only=True)
        return float(max(eig) / min(eig))


def test_hilbert_entries_and_condition_numbers():
    H = hilbert(4)
    assert H[0, 0] == 1.0 and H[1, 2] == 0.25 and H[2, 1] == 0.25
    assert H[0, 2] == np.float64(1 / 3) and hilbert(4, dtype=np.float32)[0, 2] == np.float32(1 / 3)
    np.testing.assert_array_equal(H, H.T)
    np.testing.assert_array_equal(H, scipy.linalg.hilbert(4))
    # kappa of the exact Hilbert matrix, from mpmath: 1.5514e4 (n = 4), 4.7661e5 (n = 5), 1.6025e13
    # (n = 10).  The stored float64 matrix differs by rounding: relative change ~ kappa * u.
    for n in (4, 5, 8, 10):
        exact = hilbert_kappa_exact(n)
        assert condition_number(hilbert(n)) == pytest.approx(exact, rel=max(1e-10, 100 * exact * 2**-53))
    assert hilbert_kappa_exact(5) == pytest.approx(476607.25, rel=1e-7)
    with pytest.raises(ValueError, match="n must be >= 1"):
        hilbert(0)
    with pytest.raises(TypeError, match="n must be an integer"):
        hilbert(2.0)


def test_vandermonde_increasing_powers():
    V = vandermonde([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(V, [[1, 1, 1], [1, 2, 4], [1, 3, 9]])
    np.testing.assert_array_equal(vandermonde(np.arange(4), 2), [[1, 0], [1, 1], [1, 2], [1, 3]])
    assert vandermonde(np.arange(4)).dtype == np.float64
    assert vandermonde(np.ones(3, dtype=np.float32), 5).dtype == np.float32
    x = np.linspace(0, 1, 20)
    np.testing.assert_array_equal(vandermonde(x, 8), np.vander(x, 8, increasing=True))
    assert condition_number(vandermonde(x, 8)) > 1e5  # the ill-conditioned polynomial basis
    with pytest.raises(ValueError, match="x must be a non-empty 1-D array"):
        vandermonde(np.ones((2, 2)))
    with pytest.raises(ValueError, match="n must be >= 1"):
        vandermonde([1.0], 0)


@pytest.mark.parametrize(("m", "n"), [(40, 8), (8, 40), (10, 10)])
def test_matrix_with_condition_singular_values_and_factors(m, n):
    rng = np.random.default_rng(2)
    A = matrix_with_condition(m, n, 1e4, rng=rng)
    k = min(m, n)
    s = np.linalg.svd(A, compute_uv=False)
    # float64 rounding moves singular values by ~ u sqrt(mn) absolutely: relative 1e-10 suffices.
    np.testing.assert_allclose(s, np.geomspace(1, 1e-4, k), rtol=1e-10)
    assert A.shape == (m, n) and A.dtype == np.float64
    # Same generator state -> same matrix.
    np.testing.assert_array_equal(A, matrix_with_condition(m, n, 1e4, rng=np.random.default_rng(2)))


def test_matrix_with_condition_float32_realized_kappa():
    rng = np.random.default_rng(3)
    u32 = 2.0**-24
    for kappa in (1e2, 1e4):
        A = matrix_with_condition(50, 10, kappa, rng=rng, dtype=F32)
        assert A.dtype == np.float32
        # Weyl: rounding moves sigma_min by <= ||E||_2 <= ||E||_F ~ u sqrt(mn) max|a_ij|, so the
        # realized kappa changes relatively by about kappa * u * sqrt(mn).
        change = abs(condition_number(A) / kappa - 1)
        assert change <= 10 * kappa * u32 * math.sqrt(50 * 10)
    # Asked for 1e12, a float32 matrix cannot hold it: the realized kappa is near 1 / u32.
    A = matrix_with_condition(50, 10, 1e12, rng=rng, dtype=F32)
    assert 1e5 < condition_number(A) < 1e10


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"kappa": 0.5}, ValueError, "kappa must be finite and >= 1"),
        ({"kappa": math.inf}, ValueError, "kappa must be finite and >= 1"),
        ({"m": 0}, ValueError, "m must be >= 1"),
        ({"n": 2.5}, TypeError, "n must be an integer"),
        ({"rng": 0}, TypeError, "rng must be a numpy.random.Generator"),
        ({"dtype": np.float16}, TypeError, "dtype must be float32 or float64"),
        ({"m": 1, "kappa": 10.0}, ValueError, "one singular value"),
    ],
)
def test_matrix_with_condition_validation(kwargs, exc, match):
    args = {"m": 5, "n": 3, "kappa": 10.0, "rng": np.random.default_rng(0)} | kwargs
    with pytest.raises(exc, match=match):
        matrix_with_condition(args.pop("m"), args.pop("n"), args.pop("kappa"), **args)


# ---------------------------------------------------------------------------------------------
# lstsq: accuracy
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [F64, F32])
@pytest.mark.parametrize("method", LSTSQ_METHODS)
@pytest.mark.parametrize("k", [None, 3])
def test_every_method_recovers_the_solution_at_kappa_10(dtype, method, k):
    rng = np.random.default_rng(4)
    X, y = problem(rng, 40, 12, 10.0, dtype, k=k)
    x_exact = exact_lstsq(X, y)
    x, diag = lstsq(X, y, method=method)
    assert x.dtype == dtype and x.shape == x_exact.shape
    assert diag.status == "success" and diag.success and diag.message == LSTSQ_STATUS["success"]
    assert diag.dtype == dtype.name and diag.rank == 12 and not diag.rank_deficient
    assert diag.truncated == 0 and diag.method == method
    assert diag.kappa_estimate == pytest.approx(condition_number(X), rel=1e-12)
    assert abs(diag.kappa_estimate / 10 - 1) < (1e-3 if dtype == F32 else 1e-10)
    err = rel_error(x, x_exact)
    assert err <= RECOVERY_RTOL[dtype]
    bound = np.max(diag.forward_error_bound)
    assert err <= BOUND_SLACK * bound
    if k is None:
        assert isinstance(diag.residual_norm, float) and isinstance(diag.forward_error_bound, float)
    else:
        assert diag.residual_norm.shape == (3,) and diag.tan_theta.shape == (3,)
    # Consistent problem: the residual is rounding-level.
    assert np.all(np.asarray(diag.residual_norm) <= 100 * diag.unit_roundoff * np.linalg.norm(y))


def test_error_slopes_against_kappa_float64():
    """log10(error) against log10(kappa) on consistent problems: slope 2 for the normal equations,
    1 for QR/SVD/gelsd.  The fits use the geometric mean of 3 problems per kappa, over kappa = 1e1
    .. 1e7 for the normal equations (at 1e8, kappa**2 u ~ 1 and they break down) and 1e2 .. 1e8
    for the stable methods (at kappa = 10 their error, ~1e-15, sits on the floor of a few u and
    flattens the fit).  Each slope must lie within +-0.3 of the prediction; observed on three seeds:
    1.88 .. 2.02 and 0.87 .. 0.99."""
    rng = np.random.default_rng(5)
    exponents = range(1, 9)
    errors = {method: {} for method in LSTSQ_METHODS}
    for e in exponents:
        for _ in range(3):
            X, y = problem(rng, 40, 8, 10.0**e)
            x_exact = exact_lstsq(X, y, dps=40)
            for method in LSTSQ_METHODS:
                if (method in NORMAL and e > 7) or (method in STABLE and e < 2):
                    continue
                x, diag = lstsq(X, y, method=method)
                assert diag.status == "success", (method, e, diag.message)
                err = rel_error(x, x_exact)
                assert err <= BOUND_SLACK * diag.forward_error_bound
                errors[method].setdefault(e, []).append(math.log10(err))
    for method in LSTSQ_METHODS:
        log_kappa = sorted(errors[method])
        log_err = [np.mean(errors[method][e]) for e in log_kappa]
        slope = np.polyfit(log_kappa, log_err, 1)[0]
        expected = 2.0 if method in NORMAL else 1.0
        assert len(log_kappa) == 7 and abs(slope - expected) <= 0.3, (method, slope)


def test_qr_error_grows_with_kappa_squared_times_tan_theta():
    # With a large residual the backward-stable methods pay kappa**2 u tan(theta) too, and the
    # bound says so: at kappa = 1e6, tan(theta) = 1 the bound is ~1e3 times the consistent one.
    rng = np.random.default_rng(6)
    X, y = problem(rng, 40, 8, 1e6, k=8, tan_theta=1.0)
    x_exact = exact_lstsq(X, y)
    _, consistent = lstsq(X, X @ rng.standard_normal(8), method="qr")
    for method in STABLE:
        x, diag = lstsq(X, y, method=method)
        # one tan(theta) and one bound per right-hand side
        np.testing.assert_allclose(diag.tan_theta, 1.0, rtol=1e-6)
        assert np.all(diag.forward_error_bound > 1e5 * consistent.forward_error_bound)
        errs = [rel_error(x[:, j], x_exact[:, j]) for j in range(8)]
        assert np.all(errs <= BOUND_SLACK * diag.forward_error_bound)
        # That the error is large is a statement about rounding errors, which differ between
        # BLAS kernels (FMA or not): one column's error can land 2x above the consistent bound
        # or 30x.  Their geometric mean over 8 right-hand sides is far steadier (~1e3 x here).
        mean = math.exp(np.mean(np.log(errs)))
        assert mean > 30 * consistent.forward_error_bound, mean / consistent.forward_error_bound


@pytest.mark.parametrize("dtype", [F64, F32])
def test_agreement_with_scipy_lstsq(dtype):
    rng = np.random.default_rng(7)
    X, y = problem(rng, 50, 10, 100.0, dtype, k=2, tan_theta=0.3)
    ref, residues, rank, _ = scipy.linalg.lstsq(X, y)
    assert rank == 10
    for method in LSTSQ_METHODS:
        x, diag = lstsq(X, y, method=method)
        # Both are within their error bounds of the exact solution, hence of each other.
        tol = 2 * BOUND_SLACK * np.max(diag.forward_error_bound)
        assert rel_error(x, ref.astype(np.float64)) <= tol, method
        np.testing.assert_allclose(
            diag.residual_norm, np.sqrt(residues.astype(np.float64)), rtol=RECOVERY_RTOL[dtype]
        )
        np.testing.assert_allclose(diag.tan_theta, 0.3, rtol=RECOVERY_RTOL[dtype] * 10)


def test_float32_stays_float32_and_loses_digits():
    rng = np.random.default_rng(8)
    X, y = problem(rng, 60, 10, 1e3, F32, k=8)
    x_exact = exact_lstsq(X, y)
    x_qr, d_qr = lstsq(X, y, method="qr")
    x_ne, _ = lstsq(X, y, method="normal_solve")
    assert x_qr.dtype == x_ne.dtype == np.float32
    assert d_qr.unit_roundoff == 2.0**-24 and d_qr.rcond == pytest.approx(2.0**-23 * 60)
    # kappa**2 u32 = 0.06: the normal equations keep about one digit, QR about four.  How many
    # one right-hand side loses is rounding luck (1e-3 to 1e-2 here, by the BLAS kernel), so
    # the normal equations' errors are judged by their geometric mean over 8 of them (~1e-2).
    ne = [rel_error(x_ne[:, j], x_exact[:, j]) for j in range(8)]
    qr = [rel_error(x_qr[:, j], x_exact[:, j]) for j in range(8)]
    assert math.exp(np.mean(np.log(ne))) > 1e-3 > 10 * max(qr)
    # Mixed dtypes compute in the common type, as np.result_type says.
    x_mixed, d_mixed = lstsq(X, y.astype(np.float64), method="qr")
    assert x_mixed.dtype == np.float64 and d_mixed.dtype == "float64"


# ---------------------------------------------------------------------------------------------
# lstsq: breakdowns, rank deficiency, wide problems
# ---------------------------------------------------------------------------------------------


def test_ill_conditioned_status_when_no_digit_is_predicted():
    rng = np.random.default_rng(13)
    X, y = problem(rng, 40, 8, 1e9)  # float64, kappa**2 u ~ 1e2: no correct digit expected
    x_exact = exact_lstsq(X, y)
    for method in ("normal_inv", "normal_solve"):
        x, diag = lstsq(X, y, method=method)
        assert diag.status == "ill_conditioned" and diag.success and not diag.rank_deficient
        assert diag.forward_error_bound >= 1 and "no correct digit" in diag.message
        assert "method='qr'" in diag.message
        assert rel_error(x, x_exact) > 1e-3  # indeed (observed ~1 .. 10)
    x, diag = lstsq(X, y, method="qr")
    assert diag.status == "success" and rel_error(x, x_exact) < 1e-5
    # A stable method is ill-conditioned too once kappa**2 tan(theta) u reaches 1.
    X, y = problem(rng, 40, 8, 1e9, tan_theta=1.0)
    _, diag = lstsq(X, y, method="qr")
    assert diag.status == "ill_conditioned" and "tan(theta) = 1.0e+00" in diag.message


def test_cholesky_breakdown_is_a_status_not_an_exception():
    rng = np.random.default_rng(9)
    # kappa**2 u32 ~ 6e8: the rounded X^T X is indefinite.  (At kappa = 1e4, where kappa**2 u32 ~ 6,
    # Cholesky fails on about a third of random problems, at 1e6 on nearly all.)
    X, y = problem(rng, 40, 8, 1e8, F32)
    x, diag = lstsq(X, y, method="cholesky")
    assert diag.status == "failed" and not diag.success
    assert "Cholesky" in diag.message and "positive definite" in diag.message
    assert x.shape == (8,) and x.dtype == np.float32 and np.isnan(x).all()
    assert math.isnan(diag.residual_norm) and math.isnan(diag.tan_theta)
    assert math.isnan(diag.forward_error_bound)
    # The realized kappa (~1e7) is beyond float32's rank tolerance 40 * eps32 = 4.8e-6: QR solves
    # but flags the rank deficiency, SVD truncates and says how much.
    _, d_qr = lstsq(X, y, method="qr")
    assert d_qr.status == "rank_deficient" and "does not truncate" in d_qr.message
    _, d_svd = lstsq(X, y, method="svd")
    assert d_svd.status == "rank_deficient" and d_svd.truncated >= 1
    assert d_svd.rank + d_svd.truncated == 8


def test_rank_deficient_svd_and_lapack_give_the_minimum_norm_solution():
    rng = np.random.default_rng(10)
    B = rng.standard_normal((30, 4))
    X = np.column_stack([B, B[:, 0] + B[:, 1]])  # exact rank 4, n = 5 (the sum is exact-ish)
    y = rng.standard_normal(30)
    x_pinv = np.linalg.pinv(X) @ y
    for method in ("svd", "lapack"):
        x, diag = lstsq(X, y, method=method)
        assert diag.status == "rank_deficient" and diag.success
        assert diag.rank == 4 and diag.truncated == 1 and diag.rank_deficient
        assert "minimum-norm" in diag.message and "rank 4 < min(m, n) = 5" in diag.message
        np.testing.assert_allclose(x, x_pinv, rtol=1e-12, atol=1e-12)
        assert diag.kappa_estimate > 1e14
        assert math.isfinite(diag.forward_error_bound)  # uses sigma_1 / sigma_4
    ref = scipy.linalg.lstsq(X, y)[0]
    np.testing.assert_allclose(lstsq(X, y, method="lapack")[0], ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["normal_inv", "normal_solve", "cholesky", "qr"])
def test_rank_deficient_non_truncating_methods_are_never_silent(method):
    rng = np.random.default_rng(11)
    B = rng.standard_normal((30, 4))
    X = np.column_stack([B, B[:, 0] + B[:, 1]])
    x, diag = lstsq(X, rng.standard_normal(30), method=method)
    assert diag.status in ("rank_deficient", "failed") and diag.rank_deficient
    assert diag.rank == 4 and diag.truncated == 0
    assert "svd" in diag.message
    if diag.status == "failed":
        assert np.isnan(x).all() and math.isnan(diag.forward_error_bound)
    else:
        assert diag.forward_error_bound == math.inf


def test_exactly_singular_normal_matrix_fails_cleanly():
    X = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])  # X^T X = [[3, 3], [3, 3]] exactly
    y = np.array([1.0, 2.0, 3.0])
    for method in ("normal_inv", "normal_solve", "cholesky"):
        x, diag = lstsq(X, y, method=method)
        assert diag.status == "failed" and np.isnan(x).all(), method
    # Householder QR of X rounds R[1, 1] to exactly 0 or to a few eps, depending on the BLAS
    # kernel's order of operations: either way the result must say X is rank deficient.
    x, diag = lstsq(X, y, method="qr")
    assert diag.status in ("failed", "rank_deficient"), diag.status
    if diag.status == "failed":
        assert np.isnan(x).all()
    else:
        assert diag.forward_error_bound == math.inf and diag.rank == 1
    x, diag = lstsq(X, y, method="svd")
    # min-norm: mean 2 split evenly; an SVD solve of a 3x2 problem is good to a few ULP
    np.testing.assert_allclose(x, [1.0, 1.0], rtol=8 * np.finfo(float).eps)
    assert diag.rank == 1 and diag.status == "rank_deficient"


def test_rcond_truncation_is_reported():
    X = np.diag([1.0, 1e-3, 1e-8])
    y = np.ones(3)
    x, diag = lstsq(X, y, method="svd", rcond=1e-6)
    assert diag.truncated == 1 and diag.rank == 2 and diag.rcond == 1e-6
    np.testing.assert_allclose(x, [1.0, 1e3, 0.0])
    x, diag = lstsq(X, y, method="lapack", rcond=1e-6)
    assert diag.truncated == 1 and diag.status == "rank_deficient"
    np.testing.assert_allclose(x, [1.0, 1e3, 0.0])
    x, diag = lstsq(X, y, method="qr", rcond=1e-6)  # qr solves exactly and reports the rank
    assert diag.truncated == 0 and diag.rank == 2 and diag.status == "rank_deficient"
    np.testing.assert_allclose(x, [1.0, 1e3, 1e8])
    x, diag = lstsq(X, y, method="svd", rcond=0)
    assert diag.truncated == 0 and diag.status == "success"


def test_wide_problems():
    rng = np.random.default_rng(12)
    X = rng.standard_normal((4, 9))
    y = rng.standard_normal(4)
    for method in ("svd", "lapack"):
        x, diag = lstsq(X, y, method=method)
        assert x.shape == (9,) and diag.status == "success" and "minimum-norm" in diag.message
        np.testing.assert_allclose(x, np.linalg.pinv(X) @ y, rtol=1e-12)
        np.testing.assert_allclose(X @ x, y, rtol=1e-13, atol=1e-14)
        assert diag.rank == 4 and diag.tan_theta < 1e-14
    for method in ("normal_inv", "normal_solve", "cholesky", "qr"):
        with pytest.raises(ValueError, match=rf"method='{method}' needs m >= n, but X has shape \(4, 9\)"):
            lstsq(X, y, method=method)


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "exc", "match"),
    [
        (np.ones(3), np.ones(3), {}, ValueError, r"X must be a 2-D matrix, got an array of shape \(3,\)"),
        (np.ones((2, 2, 2)), np.ones(2), {}, ValueError, "X must be a 2-D matrix"),
        (np.ones((0, 2)), np.ones(0), {}, ValueError, "X must not be empty"),
        (np.ones((3, 2)), np.ones(4), {}, ValueError, r"y has 4 rows but X has m=3"),
        (np.ones((3, 2)), np.ones((3, 1, 1)), {}, ValueError, r"y must have shape \(m,\) or \(m, k\)"),
        (np.ones((3, 2)), np.ones((3, 0)), {}, ValueError, "y must have at least one column"),
        (np.ones((3, 2)), np.ones(3), {"method": "magic"}, ValueError, "method='magic' is not one of"),
        (np.ones((3, 2)), np.ones(3), {"rcond": -1.0}, ValueError, r"rcond must be in \[0, 1\)"),
        (np.ones((3, 2)), np.ones(3), {"rcond": "tiny"}, TypeError, "rcond must be a real number"),
        (np.ones((3, 2), np.float16), np.ones(3, np.float16), {}, TypeError, "float32 or float64"),
        (np.array([[1.0, np.nan], [0, 1]]), np.ones(2), {}, ValueError, "X contains NaN or inf"),
        (np.eye(2), np.array([1.0, np.inf]), {}, ValueError, "y contains NaN or inf"),
        (np.eye(2), np.array(["a", "b"]), {}, TypeError, "y must be a real numeric array"),
    ],
)
def test_lstsq_validation(X, y, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        lstsq(X, y, **kwargs)


def test_zero_matrix():
    for method in ("svd", "lapack"):
        x, diag = lstsq(np.zeros((3, 2)), np.ones(3), method=method)
        np.testing.assert_array_equal(x, [0.0, 0.0])  # the minimum-norm solution
        assert diag.rank == 0 and diag.truncated == 2 and diag.status == "rank_deficient"
        assert diag.kappa_estimate == math.inf and diag.tan_theta == math.inf
    for method in ("normal_inv", "normal_solve", "cholesky", "qr"):
        x, diag = lstsq(np.zeros((3, 2)), np.ones(3), method=method)
        assert diag.status == "failed" and np.isnan(x).all()


def test_diagnostics_record_is_frozen_and_integer_input_works():
    x, diag = lstsq(np.array([[1, 0], [0, 2], [0, 0]]), np.array([1, 4, 0]))
    np.testing.assert_allclose(x, [1.0, 2.0])
    assert isinstance(diag, LstsqDiagnostics) and diag.dtype == "float64"
    with pytest.raises(dataclasses.FrozenInstanceError):
        diag.rank = 0  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    log_kappa=st.floats(0.5, 6),
    method=st.sampled_from(LSTSQ_METHODS),
    m_extra=st.integers(0, 10),
)
def test_row_permutation_and_power_of_two_scaling_within_bound(seed, log_kappa, method, m_extra):
    """Permuting the equations leaves the least-squares solution unchanged, and scaling y by 2**k
    scales it by 2**k; both only up to rounding, i.e. within the predicted error (twice: each
    computed solution is within its bound of the same exact one)."""
    rng = np.random.default_rng(seed)
    n = 5
    X, y = problem(rng, n + m_extra, n, 10.0**log_kappa, tan_theta=0.1 if m_extra else 0.0)
    x, diag = lstsq(X, y, method=method)
    perm = rng.permutation(len(y))
    x_perm, _ = lstsq(X[perm], y[perm], method=method)
    x_scaled, _ = lstsq(X, y * 2.0**-7, method=method)
    # The textbook inverse is not backward stable: its error is not bounded by the
    # normal-equation estimate with a fixed constant (observed up to ~25x on n=5 problems).
    slack = BOUND_SLACK * (20 if method == "normal_inv" else 1)
    tol = 2 * slack * diag.forward_error_bound
    assert rel_error(x_perm, x.astype(np.float64)) <= tol
    assert rel_error(x_scaled * 2.0**7, x.astype(np.float64)) <= tol
    # The residual of a least-squares solution is orthogonal to range(X), to rounding.
    r = y - X @ x
    assert np.linalg.norm(X.T @ r) <= slack * diag.forward_error_bound * np.linalg.norm(X.T @ y) + (
        1e-12 * np.linalg.norm(X) * np.linalg.norm(r)
    )


def test_doctests():
    result = doctest.testmod(numdl.linalg, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("tan_theta", [0.0, 0.5])
def test_least_squares_problem_has_the_prescribed_kappa_and_residual(tan_theta):
    x, y, beta = least_squares_problem(60, 5, 1e4, tan_theta=tan_theta, rng=np.random.default_rng(0))
    assert condition_number(x) == pytest.approx(1e4, rel=1e-8)
    r = y - x @ beta
    assert np.linalg.norm(x.T @ r) <= 1e-13 * np.linalg.norm(y)  # beta is the minimizer
    assert np.linalg.norm(r) == pytest.approx(tan_theta * np.linalg.norm(x @ beta), abs=1e-14)
    x32, y32, _ = least_squares_problem(20, 3, 10.0, dtype="float32", rng=np.random.default_rng(1))
    assert x32.dtype == y32.dtype == np.float32


def test_least_squares_problem_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="float32 or float64"):
        least_squares_problem(10, 2, 1.0, dtype="float16", rng=rng)
    with pytest.raises(ValueError, match="tan_theta"):
        least_squares_problem(10, 2, 1.0, tan_theta=-1.0, rng=rng)
    with pytest.raises(ValueError, match="kappa"):
        least_squares_problem(10, 2, 0.5, rng=rng)


@pytest.mark.parametrize("name", ["normal_inv", "normal_solve", "cholesky", "qr", "svd", "lapack"])
def test_each_public_solver_is_lstsqs_method(name):
    import numdl.linalg as L

    x, y, beta = least_squares_problem(40, 4, 10.0, rng=np.random.default_rng(2))
    solution, info = getattr(L, f"solve_{name}")(x, y, 1e-12)
    np.testing.assert_array_equal(solution, lstsq(x, y, method=name)[0])
    assert (info is None) == (name not in ("svd", "lapack"))
    assert np.abs(solution - beta).max() <= 100 * 10.0**2 * U64_LINALG


def test_a_breakdown_is_a_linalg_error():
    import numdl.linalg as L

    singular = np.ones((5, 2))
    with pytest.raises(np.linalg.LinAlgError):
        L.solve_cholesky(singular, np.ones(5), 1e-12)
    assert issubclass(L.LstsqBreakdown, np.linalg.LinAlgError)
