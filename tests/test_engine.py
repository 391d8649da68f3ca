"""numdl._engine: its configuration point, the error-free transformations, and the certified
rounding of the narrow formats' logsumexp and logaddexp (double-double, then decimal) against
numdl.reference, with the counters of how often each runs; and that numdl.stable needs neither
mpmath nor numdl.reference."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from fractions import Fraction

import ml_dtypes
import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl import losses, reference, stable
from numdl._dtypes import format_of
from numdl._engine import certify, compiled, config, eft, small
from numdl.reference import condition_number, ulp_error

BF16 = np.dtype(ml_dtypes.bfloat16)
NARROW = [np.dtype(np.float32), np.dtype(np.float16), BF16]


@pytest.fixture
def counted():
    """The certification counters from 0, restored to what they held."""
    before = certify.counts()
    certify.reset_counts()
    yield
    certify.reset_counts()
    certify._count(before["rows"], before["double_double"], before["decimal"])


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def test_override_sets_and_restores():
    before = (config.settings.small_threshold, config.settings.kernels, config.settings.threads)
    with config.override(small_threshold=0, kernels=None, threads=1) as s:
        assert s is config.settings
        assert (s.small_threshold, s.kernels, s.threads) == (0, None, 1)
        with config.override(threads=3):
            assert config.settings.threads == 3 and config.settings.small_threshold == 0
        assert config.settings.threads == 1
    assert (config.settings.small_threshold, config.settings.kernels, config.settings.threads) == (
        before
    )
    with pytest.raises(RuntimeError), config.override(small_threshold=7):
        raise RuntimeError  # restored on the way out of an exception too
    assert config.settings.small_threshold == before[0]


def test_override_rejects_unknown_names_and_bad_values():
    with pytest.raises(TypeError, match=r"unknown setting.*small_treshold"):
        with config.override(small_treshold=0):
            pass
    for name, value in [("threads", 0), ("small_threshold", -1), ("certify", "mpmath"),
                        ("segment_min", 1.5), ("fast_paths", 1)]:
        with pytest.raises(ValueError, match=name):
            with config.override(**{name: value}):
                pass


def test_override_changes_the_path_taken():
    """A small input takes the long-double path by default, the kernels when the threshold is 0;
    the compiled kernels only while they are configured.  Every path is within the claim."""
    x = np.array([[0.5, -1.25, 3.0]])
    assert small.applies(x.size) == (config.LONG_DOUBLE is not None)
    results = [stable.softmax(x)]
    with config.override(small_threshold=0):
        assert not small.applies(x.size)
        results.append(stable.softmax(x))
        with config.override(kernels=None):
            assert not compiled.applies(x, None, None, False)
            results.append(stable.softmax(x))
    exact = reference.softmax(x, rounded=False)
    for out in results:
        assert np.all(ulp_error(out, exact) <= 2 * np.maximum(1, condition_number("softmax", x)))


# ---------------------------------------------------------------------------------------------
# Error-free transformations
# ---------------------------------------------------------------------------------------------

doubles = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)
moderate = st.floats(-1e150, 1e150, allow_nan=False, allow_infinity=False).filter(
    lambda v: v == 0 or abs(v) > 1e-140
)


@settings(max_examples=200, deadline=None)
@given(doubles, doubles)
def test_two_sum_is_exact(a, b):
    s, e = eft.two_sum(a, b)
    if np.isfinite(s):
        assert Fraction(s) + Fraction(e) == Fraction(a) + Fraction(b) and s == a + b


@settings(max_examples=200, deadline=None)
@given(moderate, moderate)
def test_two_prod_is_exact(a, b):
    p, e = eft.two_prod(a, b)
    assert Fraction(p) + Fraction(e) == Fraction(a) * Fraction(b) and p == a * b


def test_double_double_operations_to_2_pow_minus_100():
    rng = np.random.default_rng(0)
    ah, bh = rng.standard_normal(200), rng.standard_normal(200)
    al, bl = ah * 2.0**-54 * rng.random(200), bh * 2.0**-54 * rng.random(200)
    ops = {
        "add": (eft.dd_add, lambda a, b: a + b),
        "mul": (eft.dd_mul, lambda a, b: a * b),
        "div": (eft.dd_div, lambda a, b: a / b),
    }
    for name, (dd, exact) in ops.items():
        hi, lo = dd(ah, al, bh, bl)
        for i in range(200):
            a = Fraction(ah[i]) + Fraction(al[i])
            b = Fraction(bh[i]) + Fraction(bl[i])
            want = exact(a, b)
            assert abs(Fraction(hi[i]) + Fraction(lo[i]) - want) <= 2.0**-100 * abs(want), name


# ---------------------------------------------------------------------------------------------
# The double-double kernels within their documented bounds
# ---------------------------------------------------------------------------------------------


def test_dd_exp_within_its_bound():
    rng = np.random.default_rng(1)
    d = np.concatenate([-rng.uniform(0, 700, 300), -rng.exponential(1, 300),
                        -rng.uniform(0, 1e-3, 100), [0.0, -700.0, -1e-300, -np.log(2) / 8192]])
    dl = np.where(rng.random(d.size) < 0.5, d * 2.0**-54 * rng.uniform(-1, 1, d.size), 0.0)
    hi, lo = certify.dd_exp(d, dl)
    with mpmath.workprec(300):
        for i in range(d.size):
            exact = mpmath.exp(mpmath.mpf(d[i]) + mpmath.mpf(dl[i]))
            err = abs(mpmath.mpf(hi[i]) + mpmath.mpf(lo[i]) - exact)
            rel = 2.0**-101 + 2.0**-111 * abs(d[i]) + 2.0**-51 * abs(dl[i])
            assert err <= rel * exact + 2.0**-1074, d[i]  # lo is subnormal below 2**-969


def test_dd_expm1_small_keeps_relative_accuracy():
    rng = np.random.default_rng(2)
    r = rng.uniform(-1, 1, 400) * 2.0**-13.5 * 10.0 ** -rng.uniform(0, 30, 400)
    hi, lo = certify.dd_expm1_small(r, np.zeros_like(r))
    with mpmath.workprec(300):
        for i in range(r.size):
            exact = mpmath.expm1(mpmath.mpf(r[i]))
            rel = abs((mpmath.mpf(hi[i]) + mpmath.mpf(lo[i]) - exact) / exact)
            assert rel <= 2.0**-100 + 2.0**-52 * abs(r[i]) ** 3, r[i]


def test_dd_log1p_within_its_bound():
    rng = np.random.default_rng(3)
    s = np.concatenate([10.0 ** rng.uniform(-40, 6, 400), [0.0, 2.0**-14, 2.0**-14 * 1.001]])
    sl = s * 2.0**-54 * rng.uniform(-1, 1, s.size)
    hi, lo, err = certify.dd_log1p(s, sl)
    assert np.all(err <= 2.0**-98 * hi + 2.0**-100)
    with mpmath.workprec(300):
        for i in range(s.size):
            exact = mpmath.log1p(mpmath.mpf(s[i]) + mpmath.mpf(sl[i]))
            assert abs(mpmath.mpf(hi[i]) + mpmath.mpf(lo[i]) - exact) <= err[i], s[i]


# ---------------------------------------------------------------------------------------------
# Certified rows: correctly rounded, on hostile rows that trigger the certification
# ---------------------------------------------------------------------------------------------


def hostile_rows(rng, dtype):
    """Rows whose logsumexp is near 0, where float64's a + log1p(s) cancels."""
    logits = rng.standard_normal((40, 30)) * 3
    confident = rng.standard_normal((10, 30))
    confident[:, 0] += 25.0  # p_max ~ 1 - 1e-10: a ~ -1e-10, s ~ 1e-10
    dominant = np.full((5, 12), -18.0)
    dominant[:, 0] = 0.0
    cases = [
        np.asarray(stable.log_softmax(logits.astype(dtype)), dtype=np.float64),
        np.asarray(stable.log_softmax(confident.astype(dtype)), dtype=np.float64),
        np.asarray(stable.log_softmax(dominant.astype(dtype)), dtype=np.float64),
        np.log(rng.dirichlet(np.ones(50), 20)),
    ]
    p = rng.random(30)
    cases.append(np.stack([np.log(p), np.log1p(-p)], axis=1))  # log(p + (1 - p)) = 0
    width = max(c.shape[1] for c in cases)  # padded with -inf, which adds exp(-inf) = 0
    rows = np.concatenate([np.pad(c, ((0, 0), (0, width - c.shape[1])), constant_values=-np.inf)
                           for c in cases])
    return rows.astype(dtype)


@pytest.mark.parametrize("dtype", NARROW, ids=lambda d: d.name)
@pytest.mark.parametrize("path", ["double_double", "decimal"])
def test_certified_rows_are_correctly_rounded(dtype, path, counted):
    x = hostile_rows(np.random.default_rng(4), dtype)
    want = reference.logsumexp(x, axis=1)
    with config.override(certify=path):
        got = certify.lse_rows(x.astype(np.float64), dtype)
    np.testing.assert_array_equal(got, want.astype(np.float64))
    c = certify.counts()
    assert c["rows"] == len(x)
    assert c[path] == len(x), c  # the double-double interval decides every one of these rows


@pytest.mark.parametrize("dtype", NARROW, ids=lambda d: d.name)
def test_public_functions_certify_within_one_ulp(dtype, counted):
    """Through numdl.stable, on each kernel path: logsumexp of the hostile rows and logaddexp
    near 0 within 1 ULP (certified rows correctly rounded, the others within 0.75 ULP)."""
    rng = np.random.default_rng(5)
    x = hostile_rows(rng, dtype)
    exact = reference.logsumexp(x, axis=1, rounded=False)
    certified = []
    for path in ({}, {"small_threshold": 0, "long_double": None},
                 {"small_threshold": 0, "kernels": None}):
        certify.reset_counts()
        with config.override(**path):
            assert np.all(ulp_error(stable.logsumexp(x, axis=1), exact) <= 1.0)
        c = certify.counts()
        assert c["double_double"] == c["rows"] and c["decimal"] == 0, (path, c)
        certified.append(c["rows"])
    # Only float32 has the bits for these rows to be uncertain: float16's ULP is at least 2**-24
    # (its smallest subnormal), and bfloat16's 8 bits leave a + log1p(s) some 2**-9 of log1p(s)
    # from 0, far above float64's error bound.  (certify.lse_rows is tested on them directly.)
    if dtype == np.float32:
        assert min(certified) > 0
    p = rng.random(200)
    x1, x2 = np.log(p).astype(dtype), np.log1p(-p).astype(dtype)
    certify.reset_counts()
    got = stable.logaddexp(x1, x2)
    assert np.all(ulp_error(got, reference.logaddexp(x1, x2, rounded=False)) <= 1.0)
    c = certify.counts()
    assert c["double_double"] == c["rows"] and c["decimal"] == 0, c
    if dtype == np.float32:
        assert c["rows"] > 0


@pytest.mark.torch
def test_torch_rows_are_certified_too(counted):
    torch = pytest.importorskip("torch")
    x = hostile_rows(np.random.default_rng(6), np.float32)
    got = stable.logsumexp(torch.from_numpy(x), axis=1)
    assert np.all(ulp_error(got.numpy(), reference.logsumexp(x, axis=1, rounded=False)) <= 1.0)
    assert certify.counts()["double_double"] > len(x) // 2


def test_rows_without_a_finite_maximum_and_tiny_results():
    x = np.array([[np.nan, 1.0], [np.inf, 1.0], [-np.inf, -np.inf], [0.0, -np.inf],
                  [-2.0**-30, -30.0]])
    got = certify.lse_rows(x, np.float32)
    want = reference.logsumexp(x.astype(np.float32), axis=1).astype(np.float64)
    np.testing.assert_array_equal(got, want)
    with config.override(certify="decimal"):
        np.testing.assert_array_equal(certify.lse_rows(x, np.float32), want)


@pytest.mark.parametrize("dtype", NARROW, ids=lambda d: d.name)
def test_decimal_fallback_on_its_own(dtype):
    """The fallback's three branches of log1p (s = 0, series for tiny s, ln) and results in the
    subnormal range, each against the oracle."""
    fmt = format_of(dtype)
    tiny = float(np.ldexp(1.0, fmt.emin - 3))  # below the smallest normal
    rows = [
        np.array([1.5]),
        np.array([0.0, -40.0, -45.0]),  # s ~ 4e-18: series
        np.array([-1e-3, -7.0, -8.5, -1e-3]),  # s ~ 1: ln
        np.array([-tiny, -60.0]),  # a tiny negative maximum: the result is near 0
        np.array([0.25, 0.25, -3.0]),
    ]
    for row in rows:
        x = row.astype(dtype).astype(np.float64)
        want = float(reference.logsumexp(x.astype(dtype)))
        got = certify._decimal_lse(x, fmt)
        assert got == want and np.signbit(got) == np.signbit(want), (row, got, want)


def test_counts_are_thread_safe(counted):
    x = hostile_rows(np.random.default_rng(7), np.float32).astype(np.float64)
    threads = [threading.Thread(target=certify.lse_rows, args=(x, np.float32)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c = certify.counts()
    assert c["rows"] == 4 * len(x) and c["double_double"] + c["decimal"] == 4 * len(x)


# ---------------------------------------------------------------------------------------------
# How often each path runs on realistic data
# ---------------------------------------------------------------------------------------------


def test_decimal_is_never_needed_on_realistic_data(counted):
    """float32 logits of shape (1024, 1000): their logsumexp (far from 0: nothing to certify),
    and the logsumexp of their log_softmax (near 0: every row certified, by double-double)."""
    rng = np.random.default_rng(8)
    logits = rng.standard_normal((1024, 1000)).astype(np.float32)
    stable.logsumexp(logits, axis=-1)
    losses.cross_entropy(logits, rng.integers(0, 1000, 1024))
    assert certify.counts() == {"rows": 0, "double_double": 0, "decimal": 0}
    logp = stable.log_softmax(logits)
    stable.logsumexp(logp, axis=-1)
    confident = stable.log_softmax((rng.standard_normal((256, 1000)) * 8).astype(np.float32))
    stable.logsumexp(confident, axis=-1)
    c = certify.counts()
    assert c["decimal"] == 0, c
    assert c["double_double"] == c["rows"] >= 1024, c


# ---------------------------------------------------------------------------------------------
# No oracle in the library
# ---------------------------------------------------------------------------------------------

# (Every module's __all__, these included, is checked by tests/test_layers.py.)


def test_stable_and_losses_load_neither_mpmath_nor_the_reference():
    """In a fresh interpreter, certified rows included."""
    code = """if True:
        import json, sys
        import numpy as np
        import numdl.stable, numdl.losses
        from numdl._engine import certify

        def oracle():
            return [m for m in sys.modules if m.split(".")[0] == "mpmath" or m == "numdl.reference"]

        loaded = oracle()
        x = np.random.default_rng(0).standard_normal((16, 1000)).astype(np.float32)
        numdl.stable.logsumexp(numdl.stable.log_softmax(x), axis=-1)
        numdl.stable.logaddexp(np.float32([-0.1]), np.float32(np.log1p(-np.exp(-0.1))))
        print(json.dumps([loaded, oracle(), certify.counts()]))
    """
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    loaded, after, counts = json.loads(proc.stdout)
    assert loaded == [] and after == []
    assert counts["rows"] >= 16  # the certified path did run
