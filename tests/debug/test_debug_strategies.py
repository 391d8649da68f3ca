"""numdl.testing extremes: lists, Hypothesis strategies and the pytest plugin."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.floats import format_info
from numdl.testing import (
    ExtremeValue,
    arrays_with_extremes,
    extremes,
    floats_with_extremes,
    named_extremes,
)
from numdl.testing_plugin import extreme_values

FORMATS = ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2")


def _kinds(values) -> set[str]:
    """Which kinds of extreme a collection of scalars contains."""
    kinds = set()
    for v in values:
        f = float(v)
        info = format_info(np.asarray(v).dtype)
        if math.isnan(f):
            kinds.add("nan")
        elif math.isinf(f):
            kinds.add("+inf" if f > 0 else "-inf")
        elif f == 0:
            kinds.add("-0" if np.signbit(f) else "+0")
        elif abs(f) < info.smallest_normal:
            kinds.add("subnormal")
        elif abs(f) == info.max:
            kinds.add("max" if f > 0 else "-max")
        if math.isfinite(f) and f == info.exp_overflow:
            kinds.add("log_max")
    return kinds


@pytest.mark.parametrize("dtype", FORMATS)
def test_extremes_contain_zeros_subnormals_max_inf_nan_and_log_max(dtype):
    values = extremes(dtype)
    info = format_info(dtype)
    assert all(np.asarray(v).dtype == info.dtype for v in values)
    expected = {"+0", "-0", "subnormal", "max", "-max", "nan", "log_max"}
    if info.has_infinity:
        expected |= {"+inf", "-inf"}
    assert _kinds(values) >= expected
    named = named_extremes(dtype)
    assert float(named["+smallest_subnormal"]) == info.smallest_subnormal
    assert float(named["+smallest_normal"]) == info.smallest_normal
    assert float(named["+max"]) == info.max
    # log_max: exp finite; the next float up: exp overflows.  Exactly, with mpmath: exp(x) rounds
    # to a finite value iff it is below max + ulp(max)/2 (the tie is never hit: exp(x) of a
    # nonzero rational is irrational).
    top = mpmath.mpf(info.max) + mpmath.mpf(info.eps) * 2 ** math.floor(math.log2(info.max)) / 2
    with mpmath.workdps(40):
        assert mpmath.exp(mpmath.mpf(float(named["log_max"]))) < top
        assert mpmath.exp(mpmath.mpf(float(named["log_max+ulp"]))) > top
    assert ("+inf" in named) == info.has_infinity


def test_float8_e4m3fn_has_no_infinity_among_its_extremes():
    assert not any(np.isinf(float(v)) for v in extremes("float8_e4m3fn"))
    assert float(named_extremes("e4m3")["+max"]) == 448.0


@pytest.mark.parametrize("dtype", FORMATS)
def test_floats_with_extremes_draws_every_kind_of_extreme(dtype):
    seen = []

    @settings(max_examples=400, derandomize=True, database=None, deadline=None)
    @given(floats_with_extremes(dtype))
    def collect(x):
        assert np.asarray(x).dtype == format_info(dtype).dtype
        seen.append(x)

    collect()
    expected = {"+0", "-0", "subnormal", "max", "nan"}
    if format_info(dtype).has_infinity:
        expected |= {"+inf", "-inf"}
    assert _kinds(seen) >= expected
    # ... and values that are not extremes.
    assert len({float(x) for x in seen if math.isfinite(float(x))}) > 30


@settings(max_examples=100, derandomize=True, database=None, deadline=None)
@given(floats_with_extremes("float16", min_value=0.1, max_value=20.0))
def test_bounds_exclude_nan_and_values_outside(x):
    assert 0.1 <= float(x) <= 20.0


@settings(max_examples=100, derandomize=True, database=None, deadline=None)
@given(floats_with_extremes("float8_e5m2", min_value=-1.0, max_value=0.5))
def test_bounds_hold_for_bit_pattern_formats(x):
    assert -1.0 <= float(x) <= 0.5


@settings(max_examples=100, derandomize=True, database=None, deadline=None)
@given(floats_with_extremes("bfloat16", allow_nan=False, allow_infinity=False,
                            allow_subnormal=False))
def test_exclusions_hold_for_bit_pattern_formats(x):
    f = float(x)
    assert math.isfinite(f) and (f == 0 or abs(f) >= format_info("bfloat16").smallest_normal)


@settings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(st.data())
def test_arrays_with_extremes_have_the_dtype_and_shape(data):
    dtype = data.draw(st.sampled_from(FORMATS))
    a = data.draw(arrays_with_extremes(dtype, (2, 3)))
    assert a.shape == (2, 3) and a.dtype == format_info(dtype).dtype
    b = data.draw(arrays_with_extremes(dtype))
    assert 1 <= b.ndim <= 2 and b.dtype == format_info(dtype).dtype


def test_import_numdl_testing_works_without_hypothesis():
    code = textwrap.dedent("""
        import sys
        sys.modules["hypothesis"] = None  # importing it now raises ImportError
        import numdl.testing as t
        assert len(t.extremes("float32")) == 23
        try:
            t.floats_with_extremes("float32")
        except ImportError as e:
            print("ImportError:", e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "ImportError: the numdl.testing strategies need Hypothesis" in out.stdout


def test_pytest_plugin_parametrizes_extreme_value(tmp_path):
    assert all(isinstance(v, ExtremeValue) for v in extreme_values(("float16",)))
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["numdl.testing_plugin"]\n')
    (tmp_path / "test_user.py").write_text(textwrap.dedent("""
        import numpy as np
        import pytest

        def test_default(extreme_value):
            assert np.asarray(extreme_value.value).dtype == extreme_value.dtype

        @pytest.mark.extreme_dtypes("float8_e4m3fn")
        def test_e4m3(extreme_value):
            assert extreme_value.dtype.name == "float8_e4m3fn"
    """))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--strict-markers", "-p", "no:cacheprovider",
         str(tmp_path), "--collect-only"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    n_default = sum(len(extremes(d)) for d in ("float16", "bfloat16", "float32", "float64"))
    assert f"{n_default + len(extremes('float8_e4m3fn'))} tests collected" in out.stdout
    assert "test_default[float16-+max]" in out.stdout
    assert "test_e4m3[float8_e4m3fn-nan]" in out.stdout
