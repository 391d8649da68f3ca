"""numdl._exact: exact values, correct rounding and exp/log without mpmath, checked against mpmath."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numdl import _exact, reference
from numdl.floats import FORMATS, format_info


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
def test_exp_rounded_is_the_correctly_rounded_exp(dtype):
    info = format_info(dtype)
    rng = np.random.default_rng(0)
    xs = np.concatenate([
        rng.uniform(info.exp_underflow * 1.1, info.exp_overflow * 1.1, 300),
        rng.standard_normal(100) * 1e-3, [0.0, -0.0, 1.0, -1.0, info.exp_overflow,
                                          info.exp_underflow],
    ])
    xs = xs.astype(dtype).astype(np.float64)  # values of the format, as its users pass them
    for x in xs:
        got = _exact.exp_rounded(float(x), dtype)
        want = float(reference.evaluate(mpmath.exp, float(x), dtype=dtype))
        assert got == want or (math.isnan(got) and math.isnan(want)), (x, got, want)


def test_exp_rounded_special_values():
    assert _exact.exp_rounded(float("inf"), "float32") == math.inf
    assert _exact.exp_rounded(float("-inf"), "float32") == 0.0
    assert math.isnan(_exact.exp_rounded(float("nan"), "float32"))
    assert math.isnan(_exact.exp_rounded(float("inf"), "float8_e4m3fn"))  # no infinity there
    assert _exact.exp_rounded(Fraction(1, 3), "float64") == float(
        reference.evaluate(mpmath.exp, mpmath.mpf(1) / 3, dtype="float64"))


@given(st.floats(min_value=1e-300, max_value=1e300), st.integers(20, 80))
def test_ln_decimal_is_correctly_rounded(x, digits):
    got = _exact.ln_decimal(Fraction(x), digits)
    with mpmath.workdps(digits + 30):
        want = mpmath.log(mpmath.mpf(x))
        assert abs(mpmath.mpf(str(got)) - want) <= mpmath.mpf(10) ** (got.adjusted() - digits + 1) / 2


def test_ln_decimal_rejects_nonpositive():
    with pytest.raises(ValueError, match="log"):
        _exact.ln_decimal(Fraction(0))


@pytest.mark.parametrize("value", [0.1, -0.0, 5e-324, float("inf"), float("-inf"), 3, -7,
                                   Fraction(3, 8), Decimal("0.1"), "-inf", np.float32(0.1)])
def test_round_to_is_the_oracles(value):
    """reference.round_to is this function, and it rounds the value mpmath holds (signed zeros and
    NaN aside: mpmath has neither a signed zero nor a NaN payload)."""
    assert reference.round_to is _exact.round_to
    p = _exact.parts(value)
    for dtype in ("float64", "float32", "bfloat16", "float8_e5m2"):
        direct = float(_exact.round_to(value, dtype))
        if p[0] != "finite":
            assert math.isinf(direct) or math.isnan(direct)
            continue
        q = _exact.parts_to_fraction(p)
        with mpmath.workprec(300):  # exact for the binary values, 2**-300 off for 0.1
            held = mpmath.mpf(q.numerator) / q.denominator
        assert direct == float(_exact.round_to(held, dtype))


def test_parts_reads_mpmath_values_without_importing_it_itself():
    assert _exact.parts(mpmath.mpf("0.5")) == ("finite", False, 1, 1, -1)
    assert _exact.parts(mpmath.mpf("-inf")) == ("inf", True)
    assert _exact.parts(mpmath.nan) == ("nan",)
    with pytest.raises(TypeError, match="complex"):
        _exact.parts(mpmath.mpc(1, 2), "x")


@pytest.mark.parametrize("bad", [True, None, [1.0], "abc", 1j])
def test_parts_rejects_non_reals(bad):
    with pytest.raises((TypeError, ValueError), match="x"):
        _exact.parts(bad, "x")


def test_sum_integer_chunk_bounds():
    with pytest.raises(ValueError, match="chunk"):
        _exact.sum_integer(np.ones(3), chunk=0)
