"""numdl.testing.assert_ulp_close: passes what is within tolerance, and fails with a report that
says what is wrong where."""

from __future__ import annotations

import doctest
import re
from fractions import Fraction

import ml_dtypes
import mpmath
import numpy as np
import pytest

import numdl.testing
from numdl.reference import evaluate, exact, round_to
from numdl.testing import assert_ulp_close

# Tolerances for kernels made only of correctly rounded operations, by how many roundings a
# result goes through; in ULPs, so one table serves every dtype.
MAX_ULP = {"correctly rounded": 0.5, "two roundings": 1.5}


def test_passes_and_returns_the_errors():
    x = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    errors = assert_ulp_close(x, ["0.1", "0.2", "0.3"], MAX_ULP["correctly rounded"])
    assert errors.dtype == np.float64 and errors.shape == (3,)
    # |float32(k/10) - k/10| / 2**(floor(log2(k/10)) - 23), by hand: 0.2, 0.2 and 0.4 ULP.
    ulps = [Fraction(2) ** -27, Fraction(2) ** -26, Fraction(2) ** -25]
    expected = [
        float(abs(Fraction(float(v)) - Fraction(k, 10)) / u) for k, v, u in zip((1, 2, 3), x, ulps)
    ]
    assert errors.tolist() == expected == [0.2, 0.2, 0.4]


def test_correctly_rounded_results_pass_at_half_an_ulp_in_every_format():
    for dtype in ("float64", "float32", "float16", "bfloat16", "e4m3", "e5m2"):
        x = round_to(np.linspace(0.1, 3.0, 7), dtype)
        exact_sqrt = evaluate(mpmath.sqrt, x, rounded=False)
        rounded = evaluate(mpmath.sqrt, x)
        errors = assert_ulp_close(rounded, exact_sqrt, MAX_ULP["correctly rounded"])
        assert errors.max() <= 0.5


def test_failure_report_counts_and_ranks_the_worst_elements():
    x = np.float32(1) + np.float32(2**-12) * np.arange(1, 6, dtype=np.float32)  # (5,)
    exact_values = evaluate(lambda v: v * v - 1, x, rounded=False)
    assert_ulp_close((x - 1) * (x + 1), exact_values, MAX_ULP["two roundings"])
    with pytest.raises(AssertionError) as info:
        assert_ulp_close(x * x - 1, exact_values, MAX_ULP["two roundings"], err_msg="x*x - 1")
    message = str(info.value)
    assert message.startswith("Not equal to within 1.5 ULP (float32)\n")
    assert "3 of 5 elements exceed max_ulp=1.5 (60%)" in message
    assert "max ulp error: 1024 at index (0,)" in message
    rows = message.split("worst elements:\n")[1].splitlines()
    assert rows[0].split() == ["index", "actual", "exact", "ulp", "error"]
    # Worst first: index 0 (1024 ULP), then 2 (512), then 4 (256); the passing ones are absent.
    assert [row.split()[0] for row in rows[1:4]] == ["(0,)", "(2,)", "(4,)"]
    assert rows[1].split()[1:] == ["0.00048828125", "0.00048834085464", "1024"]
    assert message.endswith("x*x - 1")


def test_failure_report_for_2d_arrays_and_special_values():
    actual = np.array([[1.0, np.nan], [np.inf, 2.0]], dtype=np.float16)
    expected = np.array([[1, 1], [mpmath.inf, 2]], dtype=object)
    with pytest.raises(AssertionError) as info:
        assert_ulp_close(actual, expected, 4)
    message = str(info.value)
    assert "1 of 4 elements exceed max_ulp=4 (25%)" in message
    assert "max ulp error: inf at index (0, 1)" in message
    assert re.search(r"\(0, 1\)\s+nan\s+1\s+inf", message)
    # NaN where the exact value is NaN, and a matching infinity, are 0 ULP.
    errors = assert_ulp_close(np.array([np.nan, -np.inf]), [mpmath.nan, -mpmath.inf], 0)
    assert errors.tolist() == [0.0, 0.0]


def test_report_lists_at_most_ten_rows():
    actual = np.arange(1, 31, dtype=np.float64)
    with pytest.raises(AssertionError) as info:
        assert_ulp_close(actual, actual + 1, 0.5)
    message = str(info.value)
    assert "30 of 30 elements exceed" in message
    assert len(message.split("worst elements:\n")[1].splitlines()) == 1 + 10


def test_shape_mismatch_is_reported_before_values():
    with pytest.raises(AssertionError, match=r"shape mismatch: actual \(3,\), exact \(1, 3\)"):
        assert_ulp_close(np.zeros(3), [[0, 0, 0]], 1)


def test_scalars_and_exact_kinds():
    assert assert_ulp_close(np.float32(1 / 3), Fraction(1, 3), 0.5).shape == ()
    assert assert_ulp_close(0.5, exact(0.5), 0).tolist() == 0.0
    assert_ulp_close(ml_dtypes.bfloat16(3.0), 3, 0)
    with pytest.raises(AssertionError, match=r"max ulp error: 1 at index \(\)"):
        assert_ulp_close(np.float16(1.0), 1 + 2.0**-10, 0.5)


def test_validates_arguments():
    with pytest.raises(ValueError, match="max_ulp must be >= 0, got -1"):
        assert_ulp_close(1.0, 1, -1)
    with pytest.raises(ValueError, match="max_ulp must be >= 0, got nan"):
        assert_ulp_close(1.0, 1, float("nan"))
    with pytest.raises(TypeError, match="max_ulp must be a real number"):
        assert_ulp_close(1.0, 1, "1")
    with pytest.raises(TypeError, match=r"actual must be floating point.*int64"):
        assert_ulp_close(np.arange(3), [0, 1, 2], 1)


@pytest.mark.torch
def test_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    x = torch.linspace(0.5, 2.0, 4, dtype=torch.bfloat16)
    errors = assert_ulp_close(torch.sqrt(x), evaluate(mpmath.sqrt, x, rounded=False), 0.5)
    assert errors.shape == (4,) and errors.max() <= 0.5


def test_docstring_examples_run():
    result = doctest.testmod(numdl.testing, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
