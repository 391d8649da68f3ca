"""numdl.floats: format parameters, bits, spacing and summation, checked against closed forms,
NumPy/ml_dtypes and the exact reference."""

from __future__ import annotations

import dataclasses
import doctest
import math
from fractions import Fraction

import ml_dtypes
import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numdl.floats
from numdl import reference
from numdl.floats import (
    FORMATS,
    SUMMATION_METHODS,
    as_dtype,
    decompose,
    format_info,
    next_after,
    summation,
    ulp,
)

BF16 = np.dtype(ml_dtypes.bfloat16)
E4M3 = np.dtype(ml_dtypes.float8_e4m3fn)
E5M2 = np.dtype(ml_dtypes.float8_e5m2)
NUMPY_NATIVE = (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16))
UINT = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}

# (precision p, emin, emax) from the IEEE 754 / OCP FP8 specifications, written out independently
# of the implementation's table.
SPEC = {
    "float64": (53, -1022, 1023),
    "float32": (24, -126, 127),
    "float16": (11, -14, 15),
    "bfloat16": (8, -126, 127),
    "float8_e4m3fn": (4, -6, 8),
    "float8_e5m2": (3, -14, 15),
}

# The exp thresholds, derived by hand: log(max + ulp(max)/2) and log(smallest_subnormal / 2)
# rounded into the format, then the neighbouring float on the correct side.
EXP_THRESHOLDS = {
    "float64": (709.782712893384, -745.1332191019411),
    "float32": (88.72283172607422, -103.97207641601562),
    "float16": (11.0859375, -17.328125),
    "bfloat16": (88.5, -92.5),
    "float8_e4m3fn": (6.0, -6.5),
    "float8_e5m2": (10.0, -10.0),
}


def bits_of(x) -> np.ndarray:
    arr = np.asarray(x)
    return arr.view(UINT[arr.dtype.itemsize * 8])


def same_floats(a, b) -> bool:
    """Bitwise equal, with every NaN equal to every NaN."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    nan_a = np.isnan(a.astype(np.float64))
    nan_b = np.isnan(b.astype(np.float64))
    return bool(np.all((nan_a & nan_b) | (~nan_a & ~nan_b & (bits_of(a) == bits_of(b)))))


def all_values(dtype) -> np.ndarray:
    """Every bit pattern of an 8- or 16-bit format."""
    width = np.dtype(dtype).itemsize * 8
    return np.arange(2**width, dtype=np.uint64).astype(UINT[width]).view(dtype)


def hostile(dtype) -> dict[str, float]:
    p, emin, emax = SPEC[np.dtype(dtype).name]
    if np.dtype(dtype) == E4M3:
        largest = 448.0
    else:
        largest = (2 - 2.0 ** (1 - p)) * 2.0**emax
    return {
        "zero": 0.0,
        "negative zero": -0.0,
        "smallest subnormal": 2.0 ** (emin - p + 1),
        "largest subnormal": (2.0 ** (p - 1) - 1) * 2.0 ** (emin - p + 1),
        "smallest normal": 2.0**emin,
        "one": 1.0,
        "max": largest,
        "-max": -largest,
        "inf": math.inf,
        "-inf": -math.inf,
        "nan": math.nan,
    }


# ---------------------------------------------------------------------------------------------
# dtype resolution
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("float64", np.float64),
        ("double", np.float64),
        ("fp64", np.float64),
        (float, np.float64),
        ("single", np.float32),
        ("fp32", np.float32),
        ("FLOAT32", np.float32),
        (np.float32, np.float32),
        (np.dtype("f4"), np.float32),
        ("half", np.float16),
        ("float16", np.float16),
        ("bf16", ml_dtypes.bfloat16),
        ("bfloat16", ml_dtypes.bfloat16),
        (ml_dtypes.bfloat16, ml_dtypes.bfloat16),
        ("fp8_e4m3", ml_dtypes.float8_e4m3fn),
        ("float8_e4m3fn", ml_dtypes.float8_e4m3fn),
        ("e4m3", ml_dtypes.float8_e4m3fn),
        ("e5m2", ml_dtypes.float8_e5m2),
        ("torch.float8_e5m2", ml_dtypes.float8_e5m2),
    ],
)
def test_as_dtype_accepts_names_and_types(spec, expected):
    assert as_dtype(spec) == np.dtype(expected)


@pytest.mark.torch
def test_as_dtype_accepts_torch_dtypes():
    torch = pytest.importorskip("torch")
    assert as_dtype(torch.float32) == np.float32
    assert as_dtype(torch.half) == np.float16
    assert as_dtype(torch.bfloat16) == BF16
    assert as_dtype(torch.float8_e4m3fn) == E4M3
    assert as_dtype(torch.float8_e5m2) == E5M2
    with pytest.raises(ValueError, match=r"dtype=torch\.int32"):
        as_dtype(torch.int32)


@pytest.mark.parametrize("bad", ["int32", np.int32, np.longdouble, np.complex64, "fp4", "e4m3fnuz"])
def test_as_dtype_rejects_unsupported_formats_naming_the_argument(bad):
    with pytest.raises(ValueError, match=r"dtype=.*not a supported.*bfloat16.*half"):
        as_dtype(bad)


@pytest.mark.parametrize("bad", [None, 3, 2.5, [np.float32]])
def test_as_dtype_rejects_non_dtypes(bad):
    with pytest.raises(TypeError, match="dtype must be a dtype"):
        as_dtype(bad)


def test_dtype_errors_name_the_callers_argument():
    with pytest.raises(ValueError, match="dtype='float128'"):
        format_info("float128")
    with pytest.raises(TypeError, match=r"x has dtype int64; pass dtype"):
        ulp(np.arange(3))


def test_formats_are_the_six_in_decreasing_width():
    assert [d.name for d in FORMATS] == list(SPEC)
    widths = [d.itemsize for d in FORMATS]
    assert widths == sorted(widths, reverse=True)


# ---------------------------------------------------------------------------------------------
# format_info
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
def test_format_info_matches_finfo(dtype):
    info = format_info(dtype)
    finfo = ml_dtypes.finfo(dtype) if dtype not in NUMPY_NATIVE else np.finfo(dtype)
    assert info.name == dtype.name
    assert info.dtype == dtype
    assert info.bits == finfo.bits == 8 * dtype.itemsize
    assert info.exponent_bits == finfo.nexp
    assert info.precision == finfo.nmant + 1
    assert info.eps == float(finfo.eps)
    assert info.max == float(finfo.max)
    assert info.smallest_normal == float(finfo.smallest_normal)
    assert info.smallest_subnormal == float(finfo.smallest_subnormal)
    if dtype in NUMPY_NATIVE or dtype == BF16:
        assert info.decimal_digits == finfo.precision
    else:
        # ml_dtypes hard-codes precision=1 for float8; floor(-log10(eps)) is 0 (documented).
        assert finfo.precision == 1
        assert info.decimal_digits == 0


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
def test_format_info_closed_forms(dtype):
    info = format_info(dtype)
    p, emin, emax = SPEC[dtype.name]
    assert info.precision == p
    assert info.eps == 2.0 ** (1 - p)
    assert info.smallest_normal == 2.0**emin
    assert info.smallest_subnormal == 2.0 ** (emin - p + 1)
    assert info.decimal_digits == math.floor(-math.log10(2.0 ** (1 - p)))
    if dtype == E4M3:
        # S.1111.111 is NaN, so the top binade ends one step early: 1.110 * 2**8.
        assert info.max == 448.0
        assert not info.has_infinity
    else:
        assert info.max == (2 - 2.0 ** (1 - p)) * 2.0**emax
        assert info.has_infinity
    # The largest finite value's bits: all ones but the lowest exponent bit (IEEE) / lowest
    # significand bit (e4m3fn).
    assert float(np.array(info.max, dtype=np.float64).astype(dtype)) == info.max


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
def test_exp_thresholds_known_values(dtype):
    info = format_info(dtype)
    assert (info.exp_overflow, info.exp_underflow) == EXP_THRESHOLDS[dtype.name]


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
def test_exp_thresholds_are_the_boundaries(dtype):
    info = format_info(dtype)
    hi = np.array(info.exp_overflow, dtype=np.float64).astype(dtype)
    lo = np.array(info.exp_underflow, dtype=np.float64).astype(dtype)
    assert float(hi) == info.exp_overflow and float(lo) == info.exp_underflow  # in the format
    exp = lambda v: float(reference.evaluate(mpmath.exp, v, dtype=dtype))  # noqa: E731
    assert math.isfinite(exp(hi))
    assert not math.isfinite(exp(next_after(hi)))  # inf, or NaN in e4m3fn
    assert exp(lo) > 0
    assert exp(next_after(lo, steps=-1)) == 0


def test_exp_thresholds_agree_with_libm_in_float64():
    info = format_info("float64")
    assert math.isfinite(math.exp(info.exp_overflow))
    with pytest.raises(OverflowError):
        math.exp(math.nextafter(info.exp_overflow, math.inf))
    assert math.exp(info.exp_underflow) == 5e-324
    assert math.exp(math.nextafter(info.exp_underflow, -math.inf)) == 0.0


def test_exp_thresholds_float32_near_textbook_values():
    info = format_info(np.float32)
    # log(FLT_MAX) = 88.7228..., log(2**-150) = -103.9720... (subnormals extend the range from
    # log(FLT_MIN) = -87.34).
    assert abs(info.exp_overflow - 88.7228) < 1e-4
    assert abs(info.exp_underflow - (-103.9721)) < 1e-4
    assert abs(format_info("half").exp_overflow - 11.09) < 0.01


def test_format_info_is_cached_and_frozen():
    assert format_info("float32") is format_info(np.float32)
    with pytest.raises(dataclasses.FrozenInstanceError):
        format_info("float32").eps = 1.0


# ---------------------------------------------------------------------------------------------
# decompose
# ---------------------------------------------------------------------------------------------


def test_decompose_exact_decimal_of_point_one():
    assert (
        decompose(0.1, "float64").exact_decimal
        == "0.1000000000000000055511151231257827021181583404541015625"
    )
    d32 = decompose(0.1, "float32")
    assert d32.exact_decimal == "0.100000001490116119384765625"
    assert d32.exact_fraction == "13421773/134217728"
    assert d32.bit_string == "00111101110011001100110011001101"
    assert d32.bits == 0x3DCCCCCD
    assert (d32.sign, d32.exponent_bits, d32.significand_bits) == (
        0,
        "01111011",
        "10011001100110011001101",
    )
    assert (d32.biased_exponent, d32.exponent, d32.category) == (123, -4, "normal")
    assert d32.inexact and not (d32.overflow or d32.underflow or d32.subnormal)
    assert d32.ulp == 2.0**-27


def test_decompose_one_and_exact_integers():
    d = decompose(1.0, "bfloat16")
    assert (d.bit_string, d.exponent, d.exact_decimal, d.exact_fraction) == (
        "0011111110000000",
        0,
        "1",
        "1",
    )
    assert not d.inexact
    big = decompose(2.0**70, "float32")
    assert big.exact_decimal == str(2**70) and big.exact_fraction == str(2**70)


HOSTILE_KINDS = list(hostile(np.float64))
HOSTILE_CASES = [
    (dtype, kind)
    for dtype in FORMATS
    for kind in HOSTILE_KINDS
    # float8_e4m3fn has no infinity (test_decompose_e4m3fn_overflow covers what inf becomes).
    if not (dtype == E4M3 and kind in ("inf", "-inf"))
]


@pytest.mark.parametrize(("dtype", "kind"), HOSTILE_CASES, ids=lambda v: str(v))
def test_decompose_hostile_values(dtype, kind):
    value = hostile(dtype)[kind]
    p, emin, _ = SPEC[dtype.name]
    d = decompose(value, dtype)
    expected_category = {
        "zero": "zero",
        "negative zero": "zero",
        "smallest subnormal": "subnormal",
        "largest subnormal": "subnormal",
        "inf": "inf",
        "-inf": "inf",
        "nan": "nan",
    }.get(kind, "normal")
    assert d.category == expected_category
    assert d.subnormal == (expected_category == "subnormal")
    assert not d.inexact and not d.overflow and not d.underflow
    assert d.sign == (1 if kind in ("negative zero", "-max", "-inf") else 0)
    # Round trip: the bits stand for the value.
    stored = np.array([d.bits], dtype=UINT[dtype.itemsize * 8]).view(dtype)
    assert same_floats(stored, np.array([value], dtype=np.float64).astype(dtype))
    assert d.bit_string == format(d.bits, f"0{dtype.itemsize * 8}b")
    assert d.bit_string == str(d.sign) + d.exponent_bits + d.significand_bits
    assert len(d.significand_bits) == p - 1
    assert d.biased_exponent == int(d.exponent_bits, 2)
    if expected_category in ("zero", "subnormal"):
        assert d.biased_exponent == 0 and d.exponent == emin
    if expected_category == "nan":
        assert math.isnan(d.value) and d.exact_decimal == "nan" and d.exponent is None
        assert math.isnan(d.ulp)
    elif expected_category == "inf":
        assert d.value == value and d.exact_decimal == str(value) and d.ulp == math.inf
    else:
        assert d.value == value and math.copysign(1, d.value) == math.copysign(1, value)
        sign = "-" if d.sign else ""
        assert Fraction(d.exact_fraction) == Fraction(value)
        assert Fraction(d.exact_decimal) == Fraction(value)
        assert d.exact_decimal.startswith(sign)
        assert d.ulp == float(ulp(value, dtype))


def test_decompose_subnormal_exact_decimal_is_every_digit():
    d = decompose(5e-324, "float64")
    assert d.exact_decimal.startswith("0.000") and d.exact_decimal.endswith("5")
    assert Fraction(d.exact_decimal) == Fraction(1, 2**1074)
    assert len(d.exact_decimal) == 2 + 1074  # 2**-1074 has exactly 1074 decimal places


def test_decompose_flags():
    over = decompose(1e39, "float32")
    assert over.overflow and over.inexact and over.category == "inf"
    assert not decompose(65519, "half").overflow  # below 65504 + 16: rounds to max
    assert decompose(65520, "half").overflow  # the tie rounds to even: inf
    under = decompose(1e-46, "float32")
    assert under.underflow and under.category == "zero" and under.inexact
    sub = decompose(1e-40, "float32")
    assert sub.subnormal and sub.inexact and not sub.underflow
    exact_sub = decompose(2.0**-140, "float32")
    assert exact_sub.subnormal and not exact_sub.inexact
    assert decompose(-0.0, "bf16").exact_decimal == "-0"


def test_decompose_e4m3fn_overflow():
    d = decompose(500, "fp8_e4m3")
    assert d.category == "nan" and d.overflow and d.bits == 0x7F
    assert decompose(464, "fp8_e4m3").value == 448  # the tie goes to the even 448
    assert decompose(math.inf, "fp8_e4m3").category == "nan"


def test_decompose_rounds_exact_input_once():
    # 1 + 2**-24 + 2**-60 lies above the float32 midpoint 1 + 2**-24.  As a Python float it is
    # already rounded onto the midpoint, which then ties to even: the double rounding that an
    # exact Fraction input avoids.
    q = Fraction(2**60 + 2**36 + 1, 2**60)
    assert decompose(q, "float32").value == 1 + 2.0**-23
    assert decompose(float(q), "float32").value == 1.0
    assert decompose(str(q), "float32").value == 1 + 2.0**-23


def test_decompose_keeps_nan_payload_of_scalars_in_format():
    payload = np.array([0x7FC1], dtype=np.uint16).view(np.float16)[0]
    assert decompose(payload, np.float16).bits == 0x7FC1


def test_decompose_rejects_arrays_and_garbage():
    with pytest.raises(TypeError, match="single number"):
        decompose(np.zeros(2), "float32")
    with pytest.raises(ValueError, match="x='one'"):
        decompose("one", "float32")
    with pytest.raises(TypeError, match="bool"):
        decompose(True, "float32")


def test_decompose_str_shows_fields():
    text = str(decompose("0.1", "float32"))
    assert "0 01111011 10011001100110011001101 (0x3DCCCCCD)" in text
    assert "0.100000001490116119384765625" in text and "inexact" in text


# ---------------------------------------------------------------------------------------------
# ulp and next_after
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
def test_ulp_special_points(dtype):
    info = format_info(dtype)
    v = hostile(dtype)
    assert float(ulp(1.0, dtype)) == info.eps
    assert float(ulp(0.0, dtype)) == info.smallest_subnormal
    assert float(ulp(-0.0, dtype)) == info.smallest_subnormal
    assert float(ulp(v["largest subnormal"], dtype)) == info.smallest_subnormal
    assert float(ulp(v["smallest normal"], dtype)) == info.smallest_subnormal
    top_spacing = info.max - float(next_after(info.max, dtype, -1))
    assert float(ulp(info.max, dtype)) == float(ulp(-info.max, dtype)) == top_spacing
    assert math.isnan(float(ulp(math.nan, dtype)))
    if info.has_infinity:
        assert float(ulp(math.inf, dtype)) == math.inf
    assert ulp(np.zeros(3), dtype).dtype == dtype


def test_ulp_e4m3fn_top():
    assert float(ulp(448, "e4m3")) == 32.0 == 448 - float(next_after(448, "e4m3", -1))


def test_ulp_scalar_and_array_types():
    assert type(ulp(np.float32(3))) is np.float32
    assert type(ulp(1.0)) is np.float64
    assert ulp(np.ones((2, 3), dtype=BF16)).shape == (2, 3)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_ulp_is_numpy_spacing_magnitude_in_float64(x):
    if abs(x) == np.finfo(np.float64).max:
        return  # np.spacing(max) is inf: the documented difference
    assert ulp(x) == abs(np.spacing(x))


@pytest.mark.parametrize("dtype", [np.dtype(np.float16), BF16, E4M3, E5M2], ids=str)
def test_ulp_and_next_after_exhaustively(dtype):
    values = all_values(dtype)
    with np.errstate(invalid="ignore"):  # ml_dtypes warns when casting its NaNs
        wide = values.astype(np.float64)
    finite = np.isfinite(wide)
    # Every finite value, in increasing order, with -0 dropped (the two zeros are one point).
    ordered = np.unique(wide[finite])
    ladder = ordered.astype(dtype)
    up = next_after(ladder, dtype, 1)
    assert np.array_equal(up[:-1].astype(np.float64), ordered[1:])
    down = next_after(ladder, dtype, -1)
    assert np.array_equal(down[1:].astype(np.float64), ordered[:-1])
    # The gap away from zero for everything below max.
    positive = ordered[ordered >= 0]
    assert np.array_equal(ulp(positive[:-1].astype(dtype)).astype(np.float64), np.diff(positive))
    # k steps at once equal k single steps.
    jump = next_after(ladder[:-7], dtype, 7)
    assert np.array_equal(jump.astype(np.float64), ordered[7:])


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
def test_next_after_hostile_points(dtype):
    info = format_info(dtype)
    tiny = info.smallest_subnormal
    step = lambda x, k=1: float(next_after(x, dtype, k))  # noqa: E731
    assert step(0.0) == tiny and step(-0.0) == tiny
    assert step(0.0, -1) == -tiny
    minus_zero = step(-tiny)
    assert minus_zero == 0 and math.copysign(1, minus_zero) == -1  # IEEE nextUp(-tiny) = -0
    plus_zero = step(tiny, -1)
    assert plus_zero == 0 and math.copysign(1, plus_zero) == 1
    assert step(tiny, -2) == -tiny
    assert step(info.smallest_normal, -1) == info.smallest_normal - tiny
    assert step(0.0, 0) == 0.0 and math.copysign(1, step(-0.0, 0)) == -1
    assert math.isnan(step(math.nan)) and math.isnan(step(math.nan, -3))
    if info.has_infinity:
        assert step(info.max) == math.inf
        assert step(info.max, 5) == math.inf  # saturates
        assert step(math.inf, -1) == info.max
        assert step(-math.inf, 1) == -info.max
        assert step(-info.max, -1) == -math.inf
        assert step(0.0, np.iinfo(np.int64).max) == math.inf
        assert step(0.0, np.iinfo(np.int64).min) == -math.inf
    else:
        assert math.isnan(step(info.max)) and math.isnan(step(-info.max, -1))
        assert math.isnan(step(0.0, 10**6))


@pytest.mark.parametrize("dtype", NUMPY_NATIVE, ids=str)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_next_after_matches_numpy_nextafter(dtype, data):
    width = dtype.itemsize * 8
    pattern = data.draw(st.integers(0, 2**width - 1))
    x = np.array([pattern], dtype=UINT[width]).view(dtype)
    assert same_floats(next_after(x, dtype, 1), np.nextafter(x, dtype.type(np.inf)))
    assert same_floats(next_after(x, dtype, -1), np.nextafter(x, dtype.type(-np.inf)))


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_next_after_round_trips(dtype, data):
    width = dtype.itemsize * 8
    pattern = data.draw(st.integers(0, 2**width - 1))
    k = data.draw(st.integers(-1000, 1000))
    x = np.array([pattern], dtype=UINT[width]).view(dtype)
    info = format_info(dtype)
    wide = float(x[0])
    there = next_after(x, dtype, k)
    if math.isfinite(wide) and math.isfinite(float(there[0])):
        back = next_after(there, dtype, -k)
        if wide != 0:
            assert same_floats(back, x)
        else:
            assert float(back[0]) == 0
        # ulp(x) * k bounds the move when it stays in one binade: monotone in k.
        if k > 0:
            assert float(there[0]) > wide
        elif k < 0:
            assert float(there[0]) < wide
    assert abs(float(there[0])) <= info.max or not math.isfinite(float(there[0]))


def test_next_after_counts_bits_and_broadcasts():
    assert float(next_after(np.float32(1), steps=2**23)) == 2.0
    assert float(next_after(0.0, steps=2**62)) == 2.0  # 2**62 is the bit pattern of 2.0
    out = next_after(np.array([1.0, 2.0], dtype=np.float16), steps=np.array([[1], [-1]]))
    assert out.shape == (2, 2) and out.dtype == np.float16
    assert out[0].tolist() == [1 + 2**-10, 2 + 2**-9] and out[1].tolist() == [
        1 - 2**-11,
        2 - 2**-10,
    ]
    # A float64 input is rounded (correctly) to the format first.
    # (ml_dtypes' own cast goes through float32 and gives 1.0.)
    assert float(next_after(1 + 2.0**-8 + 2.0**-40, "bf16", 0)) == 1 + 2.0**-7


@pytest.mark.parametrize("steps", [1.0, True, "1", np.array([0.5])])
def test_next_after_rejects_non_integer_steps(steps):
    with pytest.raises(TypeError, match="steps must be an integer"):
        next_after(1.0, None, steps)


@pytest.mark.torch
def test_ulp_and_next_after_accept_torch_tensors():
    torch = pytest.importorskip("torch")
    t = torch.tensor([1.0, 2.0], dtype=torch.bfloat16)
    assert ulp(t).tolist() == [2**-7, 2**-6] and ulp(t).dtype == BF16
    assert next_after(t).tolist() == [1 + 2**-7, 2 + 2**-6]


# ---------------------------------------------------------------------------------------------
# summation
# ---------------------------------------------------------------------------------------------

# First-order error bounds from the summation docstring, as multiples of u * sum|x_i| (naive and
# pairwise: of the stated gamma_k), checked with a little slack for the O(u**2) terms.
SLACK = 1.01


def exact_fraction_sum(x) -> Fraction:
    return sum((Fraction(float(v)) for v in np.asarray(x).astype(np.float64).ravel()), Fraction(0))


def python_naive(x):
    s = x.dtype.type(-0.0)
    for v in x:
        s = s + v
    return s


def python_pairwise(x):
    level = list(x)
    while len(level) > 1:
        h = len(level) // 2
        nxt = [level[i] + level[i + h] for i in range(h)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def python_neumaier(x):
    s = c = x.dtype.type(0)
    for v in x:
        t = s + v
        c += (s - t) + v if abs(s) >= abs(v) else (v - t) + s
        s = t
    return s + c


def python_kahan(x):
    s = c = x.dtype.type(0)
    for v in x:
        y = v - c
        t = s + y
        c = (t - s) - y
        s = t
    return s


def random_terms(rng, n, dtype, spread):
    """Mixed signs and magnitudes over 2**spread, rounded to the format."""
    mags = np.exp2(rng.uniform(-spread / 2, spread / 2, n)) * rng.choice([-1.0, 1.0], n)
    return reference.round_to(mags, dtype)


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
@pytest.mark.parametrize("method", SUMMATION_METHODS)
def test_summation_empty_single_and_type(dtype, method):
    empty = summation(np.array([], dtype=dtype), method)
    assert type(empty) is dtype.type and float(empty) == 0 and not np.signbit(empty)
    one = summation(np.array([1.5], dtype=dtype), method)
    assert type(one) is dtype.type and float(one) == 1.5
    neg_zero = summation(np.full(100, -0.0, dtype=dtype), method)
    assert float(neg_zero) == 0 and np.signbit(neg_zero)  # IEEE: all -0 sums to -0
    mixed_zero = summation(np.array([-0.0, 0.0, -0.0], dtype=dtype), method)
    assert float(mixed_zero) == 0 and not np.signbit(mixed_zero)


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
def test_naive_and_pairwise_match_python_loops(dtype):
    rng = np.random.default_rng(7)
    for n in (2, 3, 7, 64, 129):
        x = random_terms(rng, n, dtype, spread=6)
        assert same_floats(summation(x, "naive"), python_naive(x))
        assert same_floats(summation(x, "pairwise"), python_pairwise(x))


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
def test_compensated_short_sums_match_python_loops(dtype):
    rng = np.random.default_rng(8)
    for n in (2, 5, 33, 64):
        x = random_terms(rng, n, dtype, spread=8)
        assert same_floats(summation(x, "kahan"), python_kahan(x))
        assert same_floats(summation(x, "neumaier"), python_neumaier(x))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False),
        max_size=60,
    )
)
def test_exact_summation_matches_fsum_in_float64(values):
    x = np.array(values, dtype=np.float64)
    assert summation(x, "exact") == math.fsum(values)


@pytest.mark.parametrize("dtype", FORMATS, ids=str)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_exact_summation_is_the_correctly_rounded_sum(dtype, data):
    width = dtype.itemsize * 8
    patterns = data.draw(st.lists(st.integers(0, 2**width - 1), max_size=40))
    x = np.array(patterns, dtype=UINT[width]).view(dtype)
    x = x[np.isfinite(x.astype(np.float64))]
    expected = reference.round_to(exact_fraction_sum(x), dtype)
    got = summation(x, "exact")
    if exact_fraction_sum(x) == 0:
        assert float(got) == 0
    else:
        assert same_floats(got, expected)


def test_exact_summation_avoids_double_rounding():
    # 1 + 2**-24 + 2**-60: fsum rounds to float64 first, landing on the float32 midpoint
    # 1 + 2**-24, and the cast then ties to even (1.0).  Rounded once: 1 + 2**-23.
    x = np.array([1.0, 2.0**-24, 2.0**-60], dtype=np.float32)
    assert np.float32(math.fsum(x.tolist())) == 1.0
    assert summation(x, "exact") == np.float32(1 + 2.0**-23)


@pytest.mark.parametrize("dtype", [np.dtype(np.float64), np.dtype(np.float32), BF16], ids=str)
@pytest.mark.parametrize("n", [100, 5000])
def test_summation_error_bounds(dtype, n):
    rng = np.random.default_rng(n)
    x = random_terms(rng, n, dtype, spread=20)
    u = Fraction(format_info(dtype).eps) / 2
    s = exact_fraction_sum(x)
    total = exact_fraction_sum(np.abs(x))

    def gamma(k):
        return k * u / (1 - k * u)

    err = {m: abs(Fraction(float(summation(x, m))) - s) for m in SUMMATION_METHODS}
    if (n - 1) * u < 1:  # beyond that the bound says nothing (bfloat16, n = 5000)
        assert err["naive"] <= gamma(n - 1) * total
    assert err["pairwise"] <= gamma(math.ceil(math.log2(n))) * total
    # Kahan in lanes: 2 (L + 1) u S to first order, with L <= 2 lane stages for these n.
    assert err["kahan"] <= 2 * (2 + 1) * u * total * Fraction(SLACK)
    # Neumaier: u|s| plus a second-order term; the lanes keep (m u)**2 <= u * 2**(-p/2).
    assert (
        err["neumaier"]
        <= u * abs(s)
        + 4 * u * u * total
        + u * Fraction(2.0 ** -(format_info(dtype).precision // 2)) * total
    )
    assert err["exact"] <= u * abs(s)


def test_point_one_ten_million_times_in_float32():
    x = np.full(10**7, 0.1, dtype=np.float32)
    exact = reference.exact_sum(x)  # 10**7 * float32(0.1) = 1000000.0149...
    errors = {m: reference.ulp_error(summation(x, m), exact) for m in SUMMATION_METHODS}
    naive = float(summation(x, "naive"))
    assert abs(naive - 1e6) / 1e6 > 0.05  # stalls: float32's 24 bits cannot hold the 0.1s
    assert errors["naive"] > 1e5
    # Pairwise: within its ceil(log2 n) u S bound (S = s here), i.e. 12 ULP of the result.
    assert errors["pairwise"] <= 12
    assert errors["kahan"] <= 2
    assert errors["neumaier"] <= 0.5 + 1e-6
    assert errors["exact"] <= 0.5
    assert float(summation(x, "exact")) == 1e6


def test_kahan_fails_where_neumaier_succeeds():
    x = np.array([1.0, 1e100, 1.0, -1e100])
    assert summation(x, "naive") == 0.0
    assert summation(x, "kahan") == 0.0  # the 1 absorbed by 1e100 is lost when 1e100 leaves
    assert summation(x, "neumaier") == 2.0
    assert summation(x, "exact") == 2.0


def test_big_small_pattern_in_float32():
    # [M, 1, -M, 1] * 16 with M = 2**30: every 1 that meets a running sum near M is lost
    # (ulp(M) = 128); the last 1 survives.  Exact sum 32.
    x = np.tile(np.array([2.0**30, 1.0, -(2.0**30), 1.0], dtype=np.float32), 16)
    assert summation(x, "naive") == 1.0
    assert summation(x, "kahan") < 32
    assert summation(x, "neumaier") == 32.0
    assert summation(x, "exact") == 32.0


def test_alternating_big_and_small_terms():
    # [-M, 1, M, 1] * 5000 with M = 1e8 (ulp(M) = 8 in float32): the 1s next to an M are lost by
    # naive summation, and Kahan loses them too (its compensation is dropped when M leaves the
    # running sum: the [1, 1e100, 1, -1e100] failure, here in its lanes and sequentially).
    x = np.empty(20000, dtype=np.float32)
    x[0::2] = 1e8
    x[1::2] = 1.0
    x[0::4] *= -1
    assert python_kahan(x[:2000]) == 1.0  # sequential Kahan: all but the last 1 lost
    exact = reference.exact_sum(x)
    assert exact == 10000
    errs = {m: reference.ulp_error(summation(x, m), exact) for m in SUMMATION_METHODS}
    assert summation(x, "naive") == 1.0
    assert errs["kahan"] > 1000
    assert errs["neumaier"] == 0 and errs["exact"] == 0


def test_alternating_signs_hurt_pairwise_not_naive():
    # x_i = (-1)**i (1e8 + i): in order, neighbours cancel and naive partial sums stay small and
    # exact.  Pairwise first adds x_i + x_{i+n/2} (same sign), builds sums near 1e12 and cancels
    # them at the end: its error is within ceil(log2 n) u sum|x_i| but huge relative to |s| = 1e4.
    i = np.arange(20000)
    x = ((-1.0) ** i * (1e8 + i)).astype(np.float32)
    exact = reference.exact_sum(x)
    errs = {m: reference.ulp_error(summation(x, m), exact) for m in SUMMATION_METHODS}
    assert errs["naive"] == 0
    assert errs["pairwise"] > 1000
    u = Fraction(format_info(np.float32).eps) / 2
    bound = math.ceil(math.log2(x.size)) * u * exact_fraction_sum(np.abs(x))
    assert abs(Fraction(float(summation(x, "pairwise"))) - Fraction(int(exact))) <= bound
    assert errs["kahan"] <= 1 and errs["neumaier"] <= 0.5 and errs["exact"] == 0


def test_float16_ones_stall_at_2048():
    x = np.ones(4096, dtype=np.float16)
    assert summation(x, "naive") == 2048  # 2048 + 1 ties to the even 2048
    for method in ("pairwise", "kahan", "neumaier", "exact"):
        assert summation(x, method) == 4096, method
    small = np.full(10**5, 0.001, dtype=np.float16)
    assert summation(small, "naive") == 4  # ulp(4) / 2 = 2**-9 > 0.001: nothing more sticks
    exact = reference.exact_sum(small)
    assert reference.ulp_error(summation(small, "neumaier"), exact) <= 0.5
    assert reference.ulp_error(summation(small, "kahan"), exact) <= 1


@pytest.mark.parametrize("method", SUMMATION_METHODS)
def test_summation_special_values(method):
    inf, nan = np.inf, np.nan
    assert summation(np.array([1.0, inf, 2.0]), method) == inf
    assert summation(np.array([1.0, -inf]), method) == -inf
    assert np.isnan(summation(np.array([inf, 1.0, -inf]), method))
    assert np.isnan(summation(np.array([1.0, nan]), method))
    # Long inputs take the vectorised paths; an infinite term must not turn into NaN through
    # inf - inf in a compensation term.
    long = np.ones(10**4, dtype=np.float32)
    long[1234] = np.inf
    assert summation(long, method) == np.inf
    assert summation(np.array([np.inf, 1.0], dtype=E4M3), method) != 0  # e4m3fn: inf is NaN
    assert np.isnan(summation(np.array([np.inf, 1.0], dtype=E4M3), method))


@pytest.mark.parametrize("method", ["naive", "pairwise", "kahan", "neumaier"])
def test_overflow_of_finite_terms_gives_inf_not_nan(method):
    x = np.full(1000, 60000, dtype=np.float16)
    assert summation(x, method) == np.inf
    assert summation(-x, method) == -np.inf
    assert summation(x[:3], method) == np.inf
    assert np.isnan(summation(np.full(1000, 400, dtype=E4M3), method))  # no inf in e4m3fn


def test_exact_summation_overflows_only_when_the_sum_does():
    x = np.array([60000, 60000, -60000], dtype=np.float16)
    assert summation(x, "exact") == 60000
    assert summation(x, "naive") == np.inf
    assert summation(np.full(3, 60000, dtype=np.float16), "exact") == np.inf


def test_summation_validates_input():
    with pytest.raises(
        ValueError, match="method='fast' is not one of naive, pairwise, kahan, neumaier, exact"
    ):
        summation(np.ones(3), "fast")
    with pytest.raises(ValueError, match="method=None"):
        summation(np.ones(3), None)
    with pytest.raises(TypeError, match="x has dtype int64; summation needs a floating-point"):
        summation(np.arange(3), "naive")
    with pytest.raises(TypeError, match="x has dtype complex128"):
        summation(np.ones(3, dtype=complex))
    with pytest.raises(TypeError, match="x has dtype bool"):
        summation([True, False])
    assert type(summation([0.5, 0.25])) is np.float64


def test_summation_sums_every_element_of_any_shape():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]  # non-contiguous
    for method in SUMMATION_METHODS:
        assert summation(x, method) == 30.0


@pytest.mark.torch
def test_summation_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    t = torch.ones(4096, dtype=torch.bfloat16)
    assert summation(t, "naive") == 256  # bfloat16 has 8 bits: 256 + 1 ties to 256
    assert summation(t, "neumaier") == 4096


def test_docstring_examples_run():
    result = doctest.testmod(numdl.floats, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
