"""Gradient clipping (numdl.optim.transforms): the functions on lists of gradients."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.optim import transforms as T


def test_clip_grad_norm_keeps_the_direction_and_caps_the_length():
    g = [np.array([3.0, 0.0]), np.array([4.0])]
    r = T.clip_grad_norm(g, 1.0)
    assert r.total_norm == 5.0 and r.scale == pytest.approx(0.2) and r.finite
    np.testing.assert_allclose(np.concatenate(r.grads), [0.6, 0.0, 0.8])
    assert T.clip_grad_norm(g, 10.0).scale == 1.0


def test_clip_grad_norm_squares_in_float64():
    g = [np.full(4, 1e20, dtype=np.float32)]  # float32 squares overflow; the norm is 2e20
    r = T.clip_grad_norm(g, 1.0)
    assert r.total_norm == pytest.approx(2e20, rel=1e-6) and r.finite
    np.testing.assert_allclose(r.grads[0], 0.5, rtol=1e-6)
    assert r.grads[0].dtype == np.float32
    assert T.global_norm(g) == pytest.approx(2e20, rel=1e-6)


def test_a_nan_gradient_is_reported_not_spread():
    g = [np.array([1.0, np.nan]), np.array([2.0])]
    r = T.clip_grad_norm(g, 1.0)
    assert not r.finite and np.isnan(r.total_norm)
    np.testing.assert_array_equal(r.grads[1], [2.0])  # untouched, not nan
    with pytest.raises(FloatingPointError, match="nan"):
        T.clip_grad_norm(g, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_changes_direction():
    (c,) = T.clip_grad_value([np.array([10.0, 1.0])], 1.0)
    np.testing.assert_array_equal(c, [1.0, 1.0])


def test_clipping_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5) * 10]
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g.copy())
    total = torch.nn.utils.clip_grad_norm_(params, 2.0)
    r = T.clip_grad_norm(grads, 2.0)
    assert r.total_norm == pytest.approx(float(total), rel=1e-14)
    for p, c in zip(params, r.grads):
        # torch scales by max_norm / (total + 1e-6); numdl by max_norm / total exactly
        np.testing.assert_allclose(p.grad.numpy(), c, rtol=1e-6)
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_value_(params, 0.5)
    for p, c in zip(params, T.clip_grad_value(grads, 0.5)):
        np.testing.assert_array_equal(p.grad.numpy(), c)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_limits_must_be_positive(bad):
    with pytest.raises(ValueError, match="max_norm"):
        T.clip_grad_norm([np.ones(2)], bad)
    with pytest.raises(ValueError, match="limit"):
        T.clip_grad_value([np.ones(2)], bad)


def test_limits_must_be_numbers():
    with pytest.raises(TypeError, match="max_norm"):
        T.clip_grad_norm([np.ones(2)], "1")
    with pytest.raises(TypeError, match="limit"):
        T.clip_grad_value([np.ones(2)], None)
