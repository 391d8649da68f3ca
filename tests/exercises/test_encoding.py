"""Values cross the sandbox boundary bit for bit, with their dtype, and never by pickle."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numdl.exercises.encoding import Unsupported, decode, encode

DTYPES = [np.float64, np.float32, np.float16]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(DTYPES).flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(max_dims=3, max_side=5))))
def test_float_arrays_round_trip_bit_for_bit(arr):
    back = decode(encode(arr))
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back.view(np.uint8), arr.view(np.uint8))


@pytest.mark.parametrize("dtype", [ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2])
def test_ml_dtypes_round_trip(dtype):
    arr = np.array([0.0, -0.0, 1.5, -3.0, 0.015625], dtype=dtype)
    back = decode(encode(arr))
    assert back.dtype == arr.dtype
    np.testing.assert_array_equal(back.view(np.uint8), arr.view(np.uint8))


def test_scalars_ints_and_containers():
    value = {"a": (np.float32(0.1), 2**70, -0.0, float("nan")), "b": [True, None, "s"]}
    back = decode(encode(value))
    assert back["a"][0].dtype == np.float32 and back["a"][0] == np.float32(0.1)
    assert back["a"][1] == 2**70 and str(back["a"][2]) == "-0.0" and np.isnan(back["a"][3])
    assert back["b"] == [True, None, "s"]


def test_unknown_objects_are_described_not_sent():
    back = decode(encode(object()))
    assert isinstance(back, Unsupported) and back.what == "builtins.object"
    assert decode(encode(np.array(["a"]))).what == "array of dtype <U1"


def test_numpy_float64_scalar_keeps_its_dtype():
    back = decode(encode(np.float64(0.1)))
    assert isinstance(back, np.float64) and back == 0.1
    assert isinstance(decode(encode(0.1)), float) and not isinstance(decode(encode(0.1)), np.generic)
