"""The textbook formulas fail exactly where their docstrings say."""

from __future__ import annotations

import numpy as np
import pytest

from numdl import naive


def test_naive_softmax_nan_on_overflow_and_underflow():
    assert np.all(np.isnan(naive.softmax(np.full(3, 1000.0))))
    assert np.all(np.isnan(naive.softmax(np.full(3, -1000.0))))
    np.testing.assert_allclose(naive.softmax(np.full(3, 1.0)), np.full(3, 1 / 3))
    assert np.all(np.isnan(naive.softmax(np.full(3, 12.0, dtype=np.float16))))
    # float16: exp(10) fits but the sum of three overflows, so each share is 0.
    assert np.all(naive.softmax(np.full(3, 10.0, dtype=np.float16)) == 0)


def test_naive_log_of_product_underflows():
    assert naive.log_of_product(np.full(400, 0.01)) == -np.inf
    assert naive.log_of_product(np.array([0.5, 0.25])) == pytest.approx(np.log(0.125))


def test_one_minus_cos_ratio_naive_cancels_stable_does_not():
    from numdl import stable

    x = np.array([1e-9, 1e-4, 0.5])
    assert naive.one_minus_cos_ratio(x)[0] == 0.0
    np.testing.assert_allclose(stable.one_minus_cos_ratio(x), [0.5, 0.5 - 1e-8 / 24, 0.4896697524], rtol=1e-9)
    assert stable.one_minus_cos_ratio(0.0) == 0.5
    assert stable.one_minus_cos_ratio(np.float32(0)).dtype == np.float32
    assert np.isnan(naive.one_minus_cos_ratio(0.0))
    assert np.all(np.isnan(stable.one_minus_cos_ratio(np.array([np.inf, -np.inf, np.nan]))))
    assert stable.one_minus_cos_ratio(np.array([5e-324]))[0] == 0.5
