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
    np.testing.assert_allclose(
        stable.one_minus_cos_ratio(x), [0.5, 0.5 - 1e-8 / 24, 0.4896697524], rtol=1e-9
    )
    assert stable.one_minus_cos_ratio(0.0) == 0.5
    assert stable.one_minus_cos_ratio(np.float32(0)).dtype == np.float32
    assert np.isnan(naive.one_minus_cos_ratio(0.0))
    assert np.all(np.isnan(stable.one_minus_cos_ratio(np.array([np.inf, -np.inf, np.nan]))))
    assert stable.one_minus_cos_ratio(np.array([5e-324]))[0] == 0.5


def test_naive_logsumexp_overflows_and_the_max_shift_loses_small_terms():
    assert naive.logsumexp(np.array([1000.0, 1000.0])) == np.inf
    assert naive.logsumexp(np.array([-1000.0, -1000.0])) == -np.inf
    assert naive.logsumexp(np.array([1.0, 2.0])) == pytest.approx(np.log(np.e + np.e**2))
    assert naive.logsumexp_max_shift(np.array([0.0, -40.0])) == 0.0  # exact: 4.2e-18
    assert naive.logsumexp_max_shift(np.zeros(100_000, np.float16)) == np.inf
    assert np.isnan(naive.logsumexp_max_shift(np.full(2, -np.inf)))


def test_naive_softmax_max_shift_and_log_softmax_fail_as_documented():
    assert np.all(np.isnan(naive.softmax_max_shift(np.full(3, -np.inf))))
    np.testing.assert_allclose(naive.softmax_max_shift(np.array([1000.0, 1000.0])), [0.5, 0.5])
    assert naive.log_softmax(np.array([0.0, -1000.0]))[1] == -np.inf  # exact: -1000
    assert naive.log_softmax(np.array([50.0, 0.0]))[0] == 0.0  # exact: -1.9e-22


def test_naive_elementwise_failures():
    assert naive.logaddexp(np.float32(100), np.float32(100)) == np.inf
    assert naive.logaddexp(-800.0, -800.0) == -np.inf
    assert naive.log1mexp(1e-20) == -np.inf and naive.log1mexp(40.0) == 0.0
    assert naive.sigmoid(np.float16(-12.0)) == 0  # exact: 6.1e-6, a float16 number
    assert np.isnan(naive.sigmoid_ratio(800.0))
    assert naive.log_sigmoid(-1000.0) == -np.inf and naive.log_sigmoid(40.0) == 0.0
    assert naive.softplus(1000.0) == np.inf and naive.softplus(-40.0) == 0.0
    assert naive.softplus(1.0) == pytest.approx(np.log1p(np.e))


def test_naive_losses_fail_as_documented():
    assert naive.cross_entropy(np.array([[50.0, 0.0]]), np.array([0])) == 0.0
    assert naive.cross_entropy(np.array([[0.0, -1000.0]]), np.array([1])) == np.inf
    assert np.isnan(naive.cross_entropy(np.array([[1000.0, 0.0]]), np.array([0])))
    masked = np.array([[1.0, -np.inf, 0.5]]), np.array([[0.7, 0.0, 0.3]])
    assert np.isnan(naive.cross_entropy_probabilities(*masked))
    assert naive.binary_cross_entropy(np.array([40.0]), np.array([0.0])) == np.inf
    assert np.isnan(naive.binary_cross_entropy(np.array([40.0]), np.array([1.0])))
