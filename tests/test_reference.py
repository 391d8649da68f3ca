"""numdl.reference: exact values, correct rounding, ULP errors and exact evaluation.

The oracles here are independent of the implementation: Python's ``float(Fraction)`` (correctly
rounded int/int division), NumPy's float64 -> float32/float16 casts, ml_dtypes' casts from float32
(single rounding), and hand-derived boundary values.
"""

from __future__ import annotations

import decimal
import doctest
import math
from fractions import Fraction

import ml_dtypes
import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import numdl.reference
from numdl import _exact
from numdl.floats import FORMATS, format_info, next_after
from numdl.reference import evaluate, exact, exact_sum, round_to, ulp_error

BF16 = np.dtype(ml_dtypes.bfloat16)
E4M3 = np.dtype(ml_dtypes.float8_e4m3fn)
E5M2 = np.dtype(ml_dtypes.float8_e5m2)
ML_DTYPES = (BF16, E4M3, E5M2)
UINT = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}


def as_fraction(v) -> Fraction:
    """Exact value of a finite mpf (or float) as a Fraction."""
    if isinstance(v, float | np.floating):
        return Fraction(float(v))
    sign, man, exp, _ = v._mpf_
    q = Fraction(man) * Fraction(2) ** exp
    return -q if sign else q


def same_floats(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    with np.errstate(invalid="ignore"):
        nan_a, nan_b = np.isnan(a.astype(np.float64)), np.isnan(b.astype(np.float64))
    width = UINT[a.dtype.itemsize * 8]
    return bool(np.all((nan_a & nan_b) | (~nan_a & ~nan_b & (a.view(width) == b.view(width)))))


def midpoints(values: np.ndarray, dtype) -> np.ndarray:
    """Exact midpoints between each finite value of `dtype` and its successor, in float64."""
    v = values.astype(np.float64)
    up = next_after(values, dtype, 1).astype(np.float64)
    keep = np.isfinite(v) & np.isfinite(up)
    return (v[keep] + up[keep]) / 2  # exact: p + 1 <= 53 bits, and no overflow below max


# ---------------------------------------------------------------------------------------------
# exact
# ---------------------------------------------------------------------------------------------


def test_exact_of_point_one():
    assert as_fraction(exact(0.1)) == Fraction(3602879701896397, 2**55)
    assert as_fraction(exact(np.float32(0.1))) == Fraction(13421773, 2**27)
    assert as_fraction(exact(ml_dtypes.bfloat16(0.1))) == Fraction(205, 2**11)


def test_exact_ignores_the_working_precision():
    with mpmath.workprec(8):
        tiny = exact(5e-324)
        near_one = exact(1 + 2.0**-52)
        assert as_fraction(tiny) == Fraction(1, 2**1074)
        assert as_fraction(near_one) == 1 + Fraction(1, 2**52)
    with mpmath.workprec(200):
        assert near_one - 1 == mpmath.mpf(2) ** -52


def test_exact_arrays_keep_shape_and_values():
    x = np.array([[0.1, -3.5, 1e-40], [np.inf, -np.inf, 0.0]], dtype=BF16)
    out = exact(x)
    assert out.dtype == object and out.shape == (2, 3)
    for got, v in zip(out.ravel(), x.astype(np.float64).ravel()):
        if np.isfinite(v):
            assert as_fraction(got) == Fraction(float(v))
    assert out[1, 0] == mpmath.inf and out[1, 1] == -mpmath.inf


def test_exact_special_values_and_types():
    assert exact(math.inf) == mpmath.inf and exact(-math.inf) == -mpmath.inf
    assert mpmath.isnan(exact(math.nan))
    assert exact(-0.0) == 0  # mpmath has no signed zero
    assert as_fraction(exact(2**100 + 1)) == 2**100 + 1
    assert as_fraction(exact(np.int64(-7))) == -7
    assert as_fraction(exact(Fraction(3, 8))) == Fraction(3, 8)
    m = mpmath.mpf(3) / 7
    assert exact(m) is m or exact(m) == m
    assert exact([1.5, 2.5]).tolist() == [mpmath.mpf(1.5), mpmath.mpf(2.5)]


def test_exact_rejects_what_no_float_holds():
    with pytest.raises(ValueError, match="not a binary fraction"):
        exact(Fraction(1, 3))
    with pytest.raises(TypeError, match="not a string"):
        exact("0.1")
    with pytest.raises(TypeError, match="bool"):
        exact(True)
    with pytest.raises(TypeError):
        exact(1 + 2j)


@pytest.mark.torch
def test_exact_of_torch_tensors():
    torch = pytest.importorskip("torch")
    out = exact(torch.tensor([0.1, 2.0], dtype=torch.bfloat16))
    assert [as_fraction(v) for v in out] == [Fraction(205, 2**11), Fraction(2)]


# ---------------------------------------------------------------------------------------------
# round_to: against casts and Python's correctly rounded Fraction -> float
# ---------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.fractions())
def test_round_to_float64_matches_fraction_to_float(q):
    try:
        expected = float(q)  # int / int: correctly rounded, subnormals included
    except OverflowError:
        expected = math.copysign(math.inf, q)
    got = round_to(q, "float64")
    assert type(got) is np.float64
    assert got == expected


@settings(max_examples=100, deadline=None)
@given(st.integers(-(2**1100), 2**1100))
def test_round_to_float64_of_big_integers(n):
    try:
        expected = float(n)
    except OverflowError:
        expected = math.inf if n > 0 else -math.inf
    assert round_to(n, np.float64) == expected


@pytest.mark.parametrize("dtype", [np.dtype(np.float32), np.dtype(np.float16)], ids=str)
@settings(max_examples=60, deadline=None)
@given(patterns=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=50))
def test_round_to_matches_numpy_casts_from_float64(dtype, patterns):
    x = np.array(patterns, dtype=np.uint64).view(np.float64)
    with np.errstate(over="ignore"):
        expected = x.astype(dtype)
    assert same_floats(round_to(x, dtype), expected)
    assert same_floats(np.array([round_to(float(v), dtype) for v in x]), expected)


@pytest.mark.parametrize("dtype", [np.dtype(np.float32), np.dtype(np.float16)], ids=str)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_to_numpy_formats_at_halfway_points(dtype, data):
    width = dtype.itemsize * 8
    patterns = data.draw(st.lists(st.integers(0, 2**width - 1), min_size=1, max_size=30))
    values = np.array(patterns, dtype=UINT[width]).view(dtype)
    mid = midpoints(values, dtype)
    # The midpoints themselves (ties to even) and their float64 neighbours on either side.
    probes = np.concatenate([mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf)])
    with np.errstate(over="ignore"):
        expected = probes.astype(dtype)
    assert same_floats(round_to(probes, dtype), expected)
    assert same_floats(np.array([round_to(float(v), dtype) for v in probes], dtype=dtype), expected)


@pytest.mark.parametrize("dtype", ML_DTYPES, ids=str)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_to_matches_ml_dtypes_casts_from_float32(dtype, data):
    width = dtype.itemsize * 8
    targets = np.array(
        data.draw(st.lists(st.integers(0, 2**width - 1), min_size=1, max_size=30)),
        dtype=UINT[width],
    ).view(dtype)
    random32 = np.array(
        data.draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=30)), dtype=np.uint32
    ).view(np.float32)
    mid = midpoints(targets, dtype).astype(np.float32)  # exact: p + 1 <= 24 bits
    probes = np.concatenate(
        [
            random32,
            mid,
            np.nextafter(mid, np.float32(np.inf)),
            np.nextafter(mid, np.float32(-np.inf)),
        ]
    )
    with np.errstate(all="ignore"):
        expected = probes.astype(dtype)  # ml_dtypes rounds float32 once, correctly
    assert same_floats(round_to(probes, dtype), expected)
    assert same_floats(round_to(probes.astype(np.float64), dtype), expected)
    assert same_floats(np.array([round_to(float(v), dtype) for v in probes], dtype=dtype), expected)


def test_round_to_avoids_ml_dtypes_double_rounding_from_float64():
    # 1 + 2**-8 + 2**-40 is just above the midpoint of the bfloat16 neighbours 1 and 1 + 2**-7.
    # ml_dtypes casts float64 -> float32 -> bfloat16; the first rounding lands on the midpoint and
    # the second ties to even (1.0).  Rounded once, the answer is 1 + 2**-7.
    x = 1 + 2.0**-8 + 2.0**-40
    assert float(round_to(x, "bfloat16")) == 1 + 2.0**-7
    assert float(round_to(np.array([x]), "bfloat16")[0]) == 1 + 2.0**-7
    assert float(round_to(1 + 2.0**-4 + 2.0**-40, "e4m3")) == 1.125  # same story in fp8
    assert float(round_to(1 + 2.0**-3 + 2.0**-40, "e5m2")) == 1.25


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
def test_round_to_boundaries(dtype):
    info = format_info(dtype)
    tiny = Fraction(info.smallest_subnormal)
    top = Fraction(info.max)
    top_ulp = Fraction(info.max) - Fraction(float(next_after(info.max, dtype, -1)))
    r = lambda v: float(round_to(v, dtype))  # noqa: E731
    # Underflow: half the smallest subnormal is a tie with 0 (even); anything above rounds up.
    assert r(tiny / 2) == 0 and not np.signbit(round_to(tiny / 2, dtype))
    assert r(-tiny / 2) == 0 and np.signbit(round_to(-tiny / 2, dtype))
    assert r(tiny / 2 + tiny / 2**40) == info.smallest_subnormal
    assert r(3 * tiny / 2) == 2 * info.smallest_subnormal  # tie: 1 (odd) or 2 (even)
    # Largest subnormal + half a step ties to the even smallest normal.
    largest_sub = Fraction(info.smallest_normal) - tiny
    assert r(largest_sub + tiny / 2) == info.smallest_normal
    assert r(largest_sub + tiny / 2 - tiny / 2**40) == float(largest_sub)
    # Overflow.
    beyond = math.inf if info.has_infinity else math.nan
    halfway = top + top_ulp / 2
    below = r(halfway - top_ulp / 2**40)
    assert below == info.max
    if dtype == E4M3:
        assert r(halfway) == 448.0  # 448 is even, the NaN pattern is odd: the tie stays finite
        assert math.isnan(r(halfway + Fraction(1, 2**20)))
    else:
        assert r(halfway) == math.inf  # max has an odd significand: the tie goes up
    assert math.isnan(r(mpmath.nan))
    assert r(mpmath.inf) == beyond or (math.isnan(beyond) and math.isnan(r(mpmath.inf)))
    assert r(-top * 4) == -beyond or (math.isnan(beyond) and math.isnan(r(-top * 4)))


def test_round_to_e4m3fn_and_e5m2_overflow_thresholds():
    assert float(round_to(464, "e4m3")) == 448 and math.isnan(float(round_to(465, "e4m3")))
    assert float(round_to(61439, "e5m2")) == 57344 and float(round_to(61440, "e5m2")) == math.inf


def test_round_to_is_exact_beyond_float64():
    with mpmath.workprec(400):
        above_tie = mpmath.mpf(1) + mpmath.mpf(2) ** -53 + mpmath.mpf(2) ** -300
    assert round_to(above_tie, "float64") == 1 + 2.0**-52  # float(above_tie) would give 1.0
    assert round_to(1 + Fraction(1, 2**53), "float64") == 1.0  # the tie itself: even
    assert round_to(2**1024 - 2**970, "float64") == math.inf  # max + ulp/2: tie, odd max
    assert round_to(2**1024 - 2**970 - 1, "float64") == np.finfo(np.float64).max
    assert round_to(-(10**400), "float64") == -math.inf


def test_round_to_accepts_many_input_types():
    assert round_to("0.1", "float32") == np.float32(0.1)
    assert round_to(decimal.Decimal("0.1"), "half") == np.float16(0.1)
    assert round_to(Fraction(1, 3), "float32") == np.float32(1 / 3)
    assert np.signbit(round_to("-0.0", "bf16")) and np.signbit(round_to(-0.0, "e5m2"))
    assert np.signbit(round_to("-1e-50", "float32"))
    assert (
        math.isnan(float(round_to("nan", "e5m2"))) and float(round_to("-inf", "half")) == -math.inf
    )
    assert math.isnan(float(round_to("-inf", "e4m3")))  # no infinity in e4m3fn
    assert round_to(np.int64(3), "bf16") == 3
    assert type(round_to(0.1, "bf16")) is ml_dtypes.bfloat16
    out = round_to([[0.1, 0.2], [0.3, 0.4]], "half")
    assert out.dtype == np.float16 and out.shape == (2, 2)
    assert out.tolist() == np.array([[0.1, 0.2], [0.3, 0.4]]).astype(np.float16).tolist()
    objects = np.array([mpmath.mpf(1) / 3, Fraction(2, 3), "0.5"], dtype=object)
    assert round_to(objects, "float32").tolist() == [np.float32(1 / 3), np.float32(2 / 3), 0.5]


def test_round_to_rejects_bad_input():
    with pytest.raises(TypeError, match="must be real"):
        round_to(mpmath.mpc(1, 1), "float32")
    with pytest.raises(TypeError):
        round_to(1 + 1j, "float32")
    with pytest.raises(ValueError, match="value='abc' is not a decimal"):
        round_to("abc", "float32")
    with pytest.raises(ValueError, match="dtype='int8'"):
        round_to(1.0, "int8")


@pytest.mark.torch
def test_round_to_torch_tensor():
    torch = pytest.importorskip("torch")
    t = torch.tensor([0.1, 1 + 2.0**-8 + 2.0**-40], dtype=torch.float64)
    assert round_to(t, "bf16").tolist() == [float(ml_dtypes.bfloat16(0.1)), 1 + 2.0**-7]


# ---------------------------------------------------------------------------------------------
# ulp_error
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
@settings(max_examples=40, deadline=None)
@given(q=st.fractions())
def test_correct_rounding_is_within_half_an_ulp(dtype, q):
    info = format_info(dtype)
    assume(abs(q) <= Fraction(info.max))
    rounded = round_to(q, dtype)
    assume(np.isfinite(float(rounded)))
    err = ulp_error(rounded, q)
    assert isinstance(err, float) and err <= 0.5


def test_ulp_error_known_values():
    one = np.float32(1)
    assert ulp_error(one, 1 + Fraction(1, 2**23)) == 1.0
    assert ulp_error(one, 1 - Fraction(1, 2**25)) == 0.5  # the ULP is taken at the exact value
    assert ulp_error(np.float32(1 - 2.0**-24), 1) == 0.5
    assert ulp_error(np.float32(1 / 3), Fraction(1, 3)) == float(
        abs(Fraction(float(np.float32(1 / 3))) - Fraction(1, 3)) / Fraction(1, 2**25)
    )
    assert ulp_error(np.float64(0.1), "0.1") == float(
        abs(Fraction(0.1) - Fraction(1, 10)) / Fraction(1, 2**56)
    )


def test_ulp_error_subnormal_floor_and_top_cap():
    # Below the smallest normal every ULP is the smallest subnormal, 2**-149 in float32.
    assert ulp_error(np.float32(0), Fraction(1, 2**160)) == 2.0**-11
    assert ulp_error(np.float32(0), 0) == 0.0
    # Above max the ULP stays that of the top binade (2**104), so max for 1e300 is a huge error.
    err = ulp_error(np.float32(np.finfo(np.float32).max), 10**300)
    expected = float((Fraction(10**300) - Fraction(float(np.finfo(np.float32).max))) / 2**104)
    assert err == expected and 1e268 < err < math.inf


NAN, INF = math.nan, math.inf
CONVENTIONS = [
    # (dtype, computed, exact, error)
    ("float32", NAN, mpmath.nan, 0.0),
    ("float32", INF, mpmath.inf, 0.0),
    ("float32", -INF, -mpmath.inf, 0.0),
    ("float32", -INF, mpmath.inf, INF),
    ("float32", 1.0, mpmath.inf, INF),
    ("float32", 1.0, mpmath.nan, INF),
    ("float32", NAN, 1, INF),
    ("float32", INF, 1, INF),
    ("float32", INF, 10**39, 0.0),  # exact overflows float32 too: correctly rounded
    ("float32", -INF, -(10**39), 0.0),
    ("float32", INF, 10**38, INF),
    ("float32", INF, -(10**39), INF),
    ("float8_e4m3fn", NAN, 500, 0.0),  # e4m3fn overflows to NaN
    ("float8_e4m3fn", NAN, mpmath.inf, 0.0),
    ("float8_e4m3fn", NAN, 460, INF),  # 460 rounds to 448
    ("float8_e4m3fn", 448.0, 460, 12 / 32),
    ("float8_e5m2", -0.0, 0, 0.0),
]


@pytest.mark.parametrize(("dtype", "computed", "exact_value", "expected"), CONVENTIONS)
def test_ulp_error_conventions(dtype, computed, exact_value, expected):
    with np.errstate(invalid="ignore"):  # ml_dtypes warns when casting NaN to float8
        c = np.array(computed, dtype=np.float64).astype(np.dtype(dtype))[()]
    assert ulp_error(c, exact_value) == expected


def test_ulp_error_shapes_and_types():
    computed = np.array([1.0, 2.0, 4.0], dtype=np.float16)
    out = ulp_error(computed, np.array([1, 2, 4], dtype=object))
    assert out.dtype == np.float64 and out.shape == (3,) and out.tolist() == [0, 0, 0]
    assert ulp_error(computed, 1).tolist() == [0.0, 1024.0, 3072.0]  # ulp(1) = 2**-10
    assert isinstance(ulp_error(1.0, 1), float)
    with pytest.raises(ValueError, match=r"computed \(shape \(3,\)\) and exact \(shape \(2,\)\)"):
        ulp_error(computed, [1, 2])
    with pytest.raises(TypeError, match="computed must be floats"):
        ulp_error(np.arange(3), [0, 1, 2])
    with pytest.raises(TypeError, match="exact must be a real number"):
        ulp_error(1.0, [object()])


# ---------------------------------------------------------------------------------------------
# evaluate and exact_sum
# ---------------------------------------------------------------------------------------------


def test_evaluate_matches_a_high_precision_computation():
    x = np.array([-104.0, -20.5, 0.0, 1e-3, 1.0, 88.5, 89.0], dtype=np.float32)
    got = evaluate(mpmath.exp, x)
    with mpmath.workprec(600):
        expected = [round_to(mpmath.exp(exact(float(v))), np.float32) for v in x]
    assert got.dtype == np.float32 and got.tolist() == [float(v) for v in expected]
    assert got[0] == 0 and got[-1] == np.inf


def test_evaluate_raises_precision_until_two_evaluations_agree():
    # At the default 146 bits (x + 2**-200) - x cancels to 0; at 292 bits it is 2**-200.
    f = lambda v: (v + mpmath.mpf(2) ** -200) - v  # noqa: E731
    assert evaluate(f, 1.0) == 2.0**-200
    with pytest.raises(ArithmeticError, match="did not settle"):
        evaluate(f, 1.0, max_prec=200)
    # The documented limit of the heuristic: a cancellation beyond twice the working precision
    # is invisible to both evaluations, until dps says more digits.
    g = lambda v: (v + mpmath.mpf(2) ** -400) - v  # noqa: E731
    assert evaluate(g, 1.0) == 0.0
    assert evaluate(g, 1.0, dps=130) == 2.0**-400


def test_evaluate_types_and_shapes():
    x32 = np.array([1.0, 4.0], dtype=np.float32)
    assert evaluate(mpmath.sqrt, x32).dtype == np.float32
    assert evaluate(lambda a, b: a + b, x32, np.ones((3, 1))).shape == (3, 2)  # float64 wins
    assert evaluate(lambda a, b: a + b, x32, np.ones((3, 1))).dtype == np.float64
    assert type(evaluate(mpmath.sqrt, 2.0)) is np.float64
    assert evaluate(mpmath.sqrt, 2.0, dtype="bf16") == ml_dtypes.bfloat16(math.sqrt(2))
    assert evaluate(lambda: mpmath.pi, dtype=np.float32) == np.float32(math.pi)
    exact_vals = evaluate(mpmath.sqrt, x32, rounded=False)
    assert exact_vals.dtype == object and exact_vals[1] == 2
    assert (
        ulp_error(
            evaluate(mpmath.sqrt, np.float32(2.0)),
            evaluate(mpmath.sqrt, np.float32(2.0), rounded=False),
        )
        <= 0.5
    )


def test_evaluate_maps_complex_results_to_nan():
    out = evaluate(mpmath.sqrt, np.array([-1.0, 4.0]))
    assert math.isnan(out[0]) and out[1] == 2.0
    assert math.isnan(evaluate(mpmath.log, -1.0))
    assert evaluate(mpmath.log, 0.0) == -math.inf


def test_evaluate_validates_arguments():
    with pytest.raises(TypeError, match="fn must be callable"):
        evaluate(3.0, 1.0)
    with pytest.raises(TypeError, match="dtype is required"):
        evaluate(mpmath.exp, 1)
    with pytest.raises(ValueError, match="dps must be a positive integer"):
        evaluate(mpmath.exp, 1.0, dps=0)
    with pytest.raises(TypeError, match="no common type"):
        evaluate(lambda a, b: a + b, np.ones(1, dtype=BF16), np.ones(1, dtype=np.float16))


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_exact_sum_is_exact(dtype, data):
    width = dtype.itemsize * 8
    patterns = data.draw(st.lists(st.integers(0, 2**width - 1), max_size=40))
    x = np.array(patterns, dtype=UINT[width]).view(dtype)
    with np.errstate(invalid="ignore"):
        x = x[np.isfinite(x.astype(np.float64))]
    expected = sum((Fraction(float(v)) for v in x.astype(np.float64)), Fraction(0))
    assert as_fraction(exact_sum(x)) == expected


def test_exact_sum_in_chunks():
    rng = np.random.default_rng(3)
    x = np.ldexp(rng.standard_normal(1000), rng.integers(-60, 60, 1000))
    whole = exact_sum(x)
    assert _exact.sum_integer(x, chunk=7) == _exact.sum_integer(x)
    assert as_fraction(whole) == sum((Fraction(v) for v in x.tolist()), Fraction(0))


def test_exact_sum_special_values():
    assert exact_sum(np.array([1.0, np.inf])) == mpmath.inf
    assert exact_sum(np.array([1.0, -np.inf], dtype=np.float16)) == -mpmath.inf
    assert mpmath.isnan(exact_sum(np.array([np.inf, -np.inf])))
    assert mpmath.isnan(exact_sum(np.array([np.nan, 1.0], dtype=BF16)))
    assert exact_sum(np.array([], dtype=np.float32)) == 0
    assert exact_sum(np.array([1e308, 1e308, -1e308])) == mpmath.mpf(1e308)  # fsum overflows here
    with pytest.raises(TypeError, match="dtype int64"):
        exact_sum(np.arange(3))


def test_docstring_examples_run():
    result = doctest.testmod(numdl.reference, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
