"""Chapter 2a's simulation: e^x in every format."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.floats import format_info
from numdl.tutorial.simulations import ch02a


def test_exp_in_formats_matches_the_thresholds():
    rows = {r.dtype: r for r in ch02a.exp_in_formats(1000.0)}
    assert rows["float64"].outcome == "overflow to inf"
    assert rows["float8_e4m3fn"].outcome == "input not representable (nan)"
    for r in ch02a.exp_in_formats(-20.0):
        info = format_info(r.dtype)
        expect_zero = -20.0 < info.exp_underflow
        assert (r.computed == 0) == expect_zero, r.dtype


def test_exp_in_formats_finite_values_are_correctly_rounded_references():
    (row,) = ch02a.exp_in_formats(1.0, ["float64"])
    assert row.outcome == "finite" and row.x_stored == 1.0
    assert row.correctly_rounded == float(np.e)  # e rounded once to float64
    assert row.exact_log10 == pytest.approx(1 / np.log(10.0), rel=1e-15)


def test_exp_in_formats_rejects_an_unknown_format():
    with pytest.raises(TypeError):
        ch02a.exp_in_formats(1.0, ["no such format"])
