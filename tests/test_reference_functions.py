"""numdl.reference's exact values of the stable functions, checked against mpmath at high
precision (an evaluation independent of the double-double kernels), closed forms and PyTorch's
definitions of the losses."""

from __future__ import annotations

import math

import ml_dtypes
import mpmath
import numpy as np
import pytest

from numdl import reference
from numdl.reference import (
    _dd_row_sum,
    _exp_dd,
    _expm1_dd,
    _log1p_dd,
    _mp_row,
    condition_number,
    round_to,
    ulp_error,
)

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16), BF16]


def mp(h, lo=0.0, k=0):
    with mpmath.workprec(400):
        return mpmath.ldexp(mpmath.mpf(float(h)) + mpmath.mpf(float(lo)), int(k))


def rel_err(got, exact):
    with mpmath.workprec(400):
        return float(abs(got / exact - 1)) if exact != 0 else float(abs(got))


# ---------------------------------------------------------------------------------------------
# Double-double kernels against mpmath at 400 bits
# ---------------------------------------------------------------------------------------------


def test_exp_dd_relative_error_below_bound():
    rng = np.random.default_rng(0)
    h = np.concatenate(
        [
            rng.uniform(-800, 710, 400),
            rng.uniform(-1e-3, 1e-3, 50),
            -(10.0 ** rng.uniform(3, 6, 20)),
            [0.0, -0.5 * math.log(2), 0.5 * math.log(2), -(2.0**20)],
        ]
    )
    lo = h * rng.uniform(-1, 1, h.size) * 2.0**-53
    eh, el, k = _exp_dd(h, lo)
    with mpmath.workprec(400):
        worst = max(
            rel_err(mp(eh[i], el[i], k[i]), mpmath.exp(mp(h[i], lo[i]))) for i in range(h.size)
        )
    assert worst <= reference._DD_EXP_ERR
    assert np.all((eh >= 0.7) & (eh <= 1.42))


def test_exp_dd_minus_inf_is_zero():
    eh, el, _ = _exp_dd(np.array([-np.inf]))
    assert eh[0] == 0 and el[0] == 0


def test_expm1_and_log1p_dd_relative_error():
    rng = np.random.default_rng(1)
    h = np.concatenate([rng.uniform(-40, 40, 200), 10.0 ** rng.uniform(-280, -1, 100)])
    lo = h * rng.uniform(-1, 1, h.size) * 2.0**-53
    mh, ml = _expm1_dd(h, lo)
    with mpmath.workprec(400):
        worst = max(rel_err(mp(mh[i], ml[i]), mpmath.expm1(mp(h[i], lo[i]))) for i in range(h.size))
    assert worst <= reference._DD_EXP_ERR
    s = np.concatenate([rng.uniform(0, 1e7, 100), 10.0 ** rng.uniform(-280, 280, 200), [0.0]])
    sl = s * rng.uniform(-1, 1, s.size) * 2.0**-53
    yh, yl = _log1p_dd(s, sl)
    with mpmath.workprec(400):
        worst = max(rel_err(mp(yh[i], yl[i]), mpmath.log1p(mp(s[i], sl[i]))) for i in range(s.size))
    assert worst <= 2 * reference._DD_EXP_ERR


@pytest.mark.parametrize("n", [3, 5000])
def test_dd_row_sum_is_within_its_bound(n):
    rng = np.random.default_rng(n)
    th = rng.standard_normal((2, n)) * 10.0 ** rng.uniform(-5, 5, (2, n))
    tl = th * rng.uniform(-1, 1, th.shape) * 2.0**-53
    sh, sl, err = _dd_row_sum(th, tl)
    for r in range(2):
        exact = reference.exact_sum(np.concatenate([th[r], tl[r]]))
        assert float(abs(mp(sh[r], sl[r]) - exact)) <= err[r]


# ---------------------------------------------------------------------------------------------
# Row functions: double-double path against mpmath, every dtype
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_row_functions_are_correctly_rounded(dtype):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((12, 7)) * 10.0 ** rng.uniform(-1, 3, (12, 1))).astype(dtype)
    x[0, :3] = x[0, 3]  # ties at the maximum
    x[1, 2] = -np.inf
    lse = reference.logsumexp(x, axis=1)
    sm, ls = reference.softmax(x), reference.log_softmax(x)
    for r in range(x.shape[0]):
        m_lse, m_ls, m_sm = _mp_row(x[r].astype(np.float64), 600)
        assert lse[r] == round_to(m_lse, dtype)
        for j in range(x.shape[1]):
            assert ls[r, j] == round_to(m_ls[j], dtype)
            assert sm[r, j] == round_to(m_sm[j], dtype)
    assert lse.dtype == sm.dtype == ls.dtype == dtype


def test_unrounded_values_and_pairs_agree_with_mpmath():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 9)) * 30
    unrounded = reference.softmax(x, rounded=False)
    pair = reference.softmax(x, rounded="pair")
    computed = reference.softmax(x)
    for r in range(3):
        _, _, m_sm = _mp_row(x[r], 600)
        for j in range(9):
            assert rel_err(unrounded[r, j], m_sm[j]) < 2.0**-90
    np.testing.assert_allclose(pair.ulp_error(computed), ulp_error(computed, unrounded), atol=1e-9)
    assert pair.ulp_error(computed).max() <= 0.5


def test_closed_forms():
    with mpmath.workprec(200):
        assert reference.logsumexp(np.array([1000.0, 1000.0])) == round_to(
            1000 + mpmath.log(2), "float64"
        )
        assert reference.log_softmax(np.array([50.0, 0.0]))[0] == round_to(
            -mpmath.log1p(mpmath.exp(-50)), "float64"
        )
        # exp(-100) / (1 + exp(-100)) is a float32 subnormal, kept with its digits
        assert reference.softmax(np.float32([100.0, 0.0]))[1] == round_to(
            mpmath.exp(-100) / (1 + mpmath.exp(-100)), "float32"
        )
        # the max's log-probability far below the normal range of float64: -exp(-710)
        x = np.array([1372.49494681, 2082.39500809, 0.0])
        expected = -mpmath.log1p(mpmath.exp(mpmath.mpf(x[0]) - mpmath.mpf(x[1])))
        assert reference.log_softmax(x)[1] == round_to(expected, "float64")
        assert reference.logsumexp(np.zeros(100_000, np.float16)) == round_to(
            mpmath.log(100_000), "float16"
        )


def test_long_rows_are_fast_and_exact():
    n = 300_000
    x = (np.arange(n) - n // 2) * 2.0**-16  # an exact arithmetic progression from -2.29
    pair = reference.log_softmax(x, rounded="pair")
    lse = reference.logsumexp(x, rounded=False)
    with mpmath.workprec(120):
        # the sum of exp over an arithmetic progression is a geometric series
        h = mpmath.mpf(2) ** -16
        exact = mpmath.mpf(x[0]) + mpmath.log(mpmath.expm1(n * h) / mpmath.expm1(h))
        assert abs(lse - exact) < mpmath.mpf(2) ** -100
    assert pair.shape == (n,)
    assert np.all(pair.err < 2.0**-80 * np.abs(pair.hi))


@pytest.mark.parametrize(
    ("row", "lse", "softmax", "log_softmax"),
    [
        ([np.nan, 1.0], np.nan, [np.nan, np.nan], [np.nan, np.nan]),
        ([np.inf, 1.0], np.inf, [1.0, 0.0], [0.0, -np.inf]),
        ([np.inf, np.inf, 1.0], np.inf, [np.nan, np.nan, 0.0], [np.nan, np.nan, -np.inf]),
        ([-np.inf, -np.inf], -np.inf, [np.nan, np.nan], [np.nan, np.nan]),
        ([np.inf, -np.inf], np.inf, [1.0, 0.0], [0.0, -np.inf]),
        ([-np.inf, 0.0], 0.0, [0.0, 1.0], [-np.inf, 0.0]),
    ],
)
def test_special_values(row, lse, softmax, log_softmax):
    x = np.array(row)
    np.testing.assert_array_equal(reference.logsumexp(x), lse)
    np.testing.assert_array_equal(reference.softmax(x), softmax)
    np.testing.assert_array_equal(reference.log_softmax(x), log_softmax)


def test_empty_rows():
    assert reference.logsumexp(np.zeros(0)) == -np.inf
    assert reference.softmax(np.zeros((2, 0))).shape == (2, 0)


def test_axes_and_keepdims():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 4))
    assert reference.logsumexp(x, axis=(0, 2)).shape == (3,)
    assert reference.logsumexp(x, axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    sm = reference.softmax(x, axis=(0, 2))
    # n = 8 correctly rounded probabilities (eps/2 each relative, eps/2 in all since they sum to
    # 1) added by np.sum, whose order depends on the SIMD width ((n - 1) eps/2 in any order):
    # n eps/2 at most; n eps leaves a factor 2
    n = x.shape[0] * x.shape[2]
    np.testing.assert_allclose(sm.sum(axis=(0, 2)), 1, rtol=0, atol=n * np.finfo(np.float64).eps)
    with pytest.raises(ValueError, match="axis=3 is out of range"):
        reference.softmax(x, axis=3)


# ---------------------------------------------------------------------------------------------
# Weighted logsumexp
# ---------------------------------------------------------------------------------------------


def test_weighted_logsumexp():
    with mpmath.workprec(200):
        value, sign = reference.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)
        assert value == round_to(mpmath.log(mpmath.e**2 - mpmath.e), "float64") and sign == -1
        assert np.isnan(reference.logsumexp([1.0, 2.0], b=[1.0, -1.0]))
        # the weights of equal x are summed exactly: a zero total is an exact -inf
        assert reference.logsumexp([3.0, 3.0, 1.0], b=[1.0, -1.0, 0.0], return_sign=True) == (
            -np.inf,
            0.0,
        )
        # a tiny remainder next to the largest term is kept (log1p, not log(1 + r))
        got = reference.logsumexp([0.0, -745.0], b=[1.0, 1.0], rounded=False)
        assert abs(got - mpmath.exp(-745)) < mpmath.exp(-745) * mpmath.mpf(2) ** -100
    # b = 0 drops a term even if it is inf or NaN (SciPy)
    assert reference.logsumexp([np.inf, np.nan, 0.0], b=[0.0, 0.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="does not broadcast"):
        reference.logsumexp(np.zeros(3), b=np.zeros(2))


# ---------------------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------------------


def test_elementwise_closed_forms_and_special_values():
    with mpmath.workprec(200):
        assert reference.softplus(0.0) == round_to(mpmath.log(2), "float64")
        assert reference.log1mexp(math.log(2)) == round_to(-mpmath.log(2), "float64")
        assert reference.sigmoid(np.float16(-12.0)) == round_to(1 / (1 + mpmath.exp(12)), "float16")
        assert reference.log_sigmoid(40.0) == round_to(-mpmath.log1p(mpmath.exp(-40)), "float64")
        assert reference.logaddexp(np.float32(100.0), np.float32(100.0)) == round_to(
            100 + mpmath.log(2), "float32"
        )
    x = np.array([np.inf, -np.inf, np.nan, 0.0])
    np.testing.assert_array_equal(reference.sigmoid(x), [1.0, 0.0, np.nan, 0.5])
    np.testing.assert_array_equal(reference.softplus(x[:3]), [np.inf, 0.0, np.nan])
    np.testing.assert_array_equal(reference.log_sigmoid(x[:3]), [0.0, -np.inf, np.nan])
    np.testing.assert_array_equal(reference.log1mexp(x), [0.0, 0.0, np.nan, -np.inf])
    np.testing.assert_array_equal(
        reference.logaddexp(
            np.array([np.inf, -np.inf, -np.inf, np.nan]), np.array([1, 2, -np.inf, 1.0])
        ),
        [np.inf, 2.0, -np.inf, np.nan],
    )
    assert reference.sigmoid(np.float32(1)).dtype == np.float32
    assert reference.sigmoid(np.array([1.0]), dtype="bfloat16").dtype == BF16


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def mp_cross_entropy(x, w):
    with mpmath.workprec(300):
        xs = [mpmath.mpf(float(v)) for v in x]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in xs))
        return -mpmath.fsum(wc * (v - lse) for wc, v in zip(w, xs, strict=True) if wc != 0)


def test_cross_entropy_matches_mpmath_definition():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 4)) * 4
    t = np.array([0, 1, 2, 3, 2])
    eps = 0.25
    none = reference.cross_entropy(x, t, reduction="none", label_smoothing=eps)
    for r in range(5):
        w = [mpmath.mpf(eps) / 4] * 4
        w[t[r]] += 1 - mpmath.mpf(eps)
        assert none[r] == round_to(mp_cross_entropy(x[r], w), "float64")
    p = rng.dirichlet(np.ones(4), 5)
    mean = reference.cross_entropy(x, p)
    with mpmath.workprec(300):
        total = mpmath.fsum(
            mp_cross_entropy(x[r], [mpmath.mpf(float(v)) for v in p[r]]) for r in range(5)
        )
    assert mean == round_to(total / 5, "float64")


def test_cross_entropy_semantics():
    x = np.array([[37.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    t = np.array([0, 1])
    with mpmath.workprec(200):
        tiny = mpmath.log1p(2 * mpmath.exp(-37))
    assert reference.cross_entropy(x[:1], t[:1]) == round_to(tiny, "float64")
    assert reference.cross_entropy(x, t, ignore_index=1) == reference.cross_entropy(x[:1], t[:1])
    assert np.isnan(reference.cross_entropy(x, np.array([1, 1]), ignore_index=1))
    masked = np.array([[1.0, -np.inf, 0.5]])
    assert np.isfinite(reference.cross_entropy(masked, np.array([[0.7, 0.0, 0.3]])))
    assert reference.cross_entropy(masked, np.array([1])) == np.inf
    assert reference.cross_entropy(masked, np.array([0]), label_smoothing=0.1) == np.inf
    with pytest.raises(ValueError, match="outside"):
        reference.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match="reduction"):
        reference.cross_entropy(x, t, reduction="avg")


def test_binary_cross_entropy_reference():
    with mpmath.workprec(200):
        assert reference.binary_cross_entropy_with_logits(
            np.array([-40.0]), np.array([0.0])
        ) == round_to(mpmath.log1p(mpmath.exp(-40)), "float64")
    x = np.array([np.inf, -np.inf, np.inf, -np.inf])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(
        reference.binary_cross_entropy_with_logits(x, y, reduction="none"), [0, 0, np.inf, np.inf]
    )


def test_losses_agree_with_torch_definitions():
    torch = pytest.importorskip("torch")
    f = torch.nn.functional
    rng = np.random.default_rng(6)
    x = rng.standard_normal((6, 5)) * 3
    t = rng.integers(0, 5, 6)
    y = rng.random((6, 5))
    for kw in ({}, {"label_smoothing": 0.2, "reduction": "none"}, {"ignore_index": 2}):
        expected = f.cross_entropy(torch.tensor(x), torch.tensor(t), **kw).numpy()
        np.testing.assert_allclose(reference.cross_entropy(x, t, **kw), expected, rtol=1e-14)
    pw = np.arange(1.0, 6.0)
    expected = f.binary_cross_entropy_with_logits(
        torch.tensor(x), torch.tensor(y), pos_weight=torch.tensor(pw)
    ).numpy()
    np.testing.assert_allclose(
        reference.binary_cross_entropy_with_logits(x, y, pos_weight=pw), expected, rtol=1e-14
    )


def test_condition_numbers():
    assert condition_number("logsumexp", np.array([1000.0, 1000.0])) == pytest.approx(
        1000 / (1000 + math.log(2))
    )
    # the confident class: kappa = 50 (the largest entry), not the 0 of 1 - p rounded
    np.testing.assert_allclose(condition_number("log_softmax", np.array([50.0, 0.0])), [50, 1])
    assert condition_number("cross_entropy", np.array([[37.0, 0.0, 0.0]]), np.array([0])) == 37
    assert condition_number("sigmoid", np.array([0.0]))[0] == 0
    with pytest.raises(ValueError, match="not one of"):
        condition_number("tanh", np.zeros(1))
