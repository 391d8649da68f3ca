"""numdl.norm: batch/layer normalization against a float64 formula, PyTorch and finite differences;
RunningStats against exact sums (numdl.reference, fractions), where the naive variance fails."""

from __future__ import annotations

import dataclasses
import doctest
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numdl.norm
from numdl import naive, reference
from numdl.norm import (
    NormCache,
    RunningBuffers,
    RunningStats,
    batch_norm,
    batch_norm_backward,
    layer_norm,
    layer_norm_backward,
)

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)

# Agreement of a normalized output (values O(1), a handful of roundings per element, plus the
# statistics' rounding amplified by |x - mean| / std <= ~4 on these inputs) with another
# implementation, as a multiple of the dtype's eps: 64 eps is 1.4e-14 in float64, 7.6e-6 in float32,
# 0.0625 in float16 (where the mean and the variance are rounded to float16 before use).
FORWARD_TOL = {F64: 64 * np.finfo(F64).eps, F32: 64 * np.finfo(F32).eps, F16: 64 * np.finfo(F16).eps}

# Central differences with step h on a float64 loss of size ~10: truncation error ~ h**2 |L'''| and
# rounding error ~ eps |L| / h; with h = 1e-5 both are below 1e-9, so 1e-7 relative to the largest
# gradient entry leaves a margin of 100.
FD_STEP = 1e-5
FD_RTOL = 1e-7


@pytest.fixture
def torch():
    """PyTorch (the ``torch`` extra, installed in the dev environment, where these tests run)."""
    return pytest.importorskip("torch")


def torch_tensor(torch, a, dtype=F64, grad=False):
    torch_dtype = {F32: torch.float32, F64: torch.float64}[dtype]
    return torch.tensor(np.asarray(a, dtype=dtype), dtype=torch_dtype, requires_grad=grad)


def reference_norm(x, gamma, beta, eps, axes):
    """The textbook formula in float64 on the exact (upcast) input."""
    x64 = np.asarray(x, dtype=np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x64 - mean) / np.sqrt(var + eps) * gamma + beta


# ---------------------------------------------------------------------------------------------
# batch_norm forward
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [F64, F32, F16])
def test_batch_norm_forward_matches_float64_reference(dtype):
    rng = np.random.default_rng(0)
    x = (0.5 + 2 * rng.standard_normal((64, 5))).astype(dtype)
    gamma = rng.uniform(0.5, 2, 5).astype(dtype)
    beta = rng.standard_normal(5).astype(dtype)
    y, cache = batch_norm(x, gamma, beta)
    assert y.dtype == dtype and y.shape == x.shape
    expected = reference_norm(x, gamma.astype(np.float64), beta.astype(np.float64), 1e-5, (0,))
    np.testing.assert_allclose(y.astype(np.float64), expected, rtol=0, atol=FORWARD_TOL[dtype] * 4)
    # The normalized batch has mean 0 and (biased) variance var / (var + eps) per feature.
    x_hat = cache.x_hat.astype(np.float64)
    np.testing.assert_allclose(x_hat.mean(axis=0), 0, atol=FORWARD_TOL[dtype])
    var = x.astype(np.float64).var(axis=0)
    np.testing.assert_allclose(x_hat.var(axis=0), var / (var + 1e-5), atol=FORWARD_TOL[dtype] * 4)


def test_batch_norm_three_dim_axis_tuple_matches_reference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 3, 6))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    y, cache = batch_norm(x, gamma, beta, axis=(0, 2))
    expected = reference_norm(x, gamma[None, :, None], beta[None, :, None], 1e-5, (0, 2))
    np.testing.assert_allclose(y, expected, rtol=0, atol=FORWARD_TOL[F64])
    assert cache.count == 48 and cache.param_shape == (3,) and cache.stat_axes == (0, 2)


def test_batch_norm_offset_data_is_accurate_in_float32():
    # 1e4 + N(0, 1): the two-pass variance keeps its digits where E[x^2] - E[x]^2 has none.
    rng = np.random.default_rng(2)
    x = (1e4 + rng.standard_normal((4096, 2))).astype(np.float32)
    y, _ = batch_norm(x, None, None)
    expected = reference_norm(x, 1.0, 0.0, 1e-5, (0,))
    # float32's spacing near 1e4 is 2**-10, the rounding of the mean to float32 moves every x - mean
    # by up to 2**-11, i.e. 5e-4 of one standard deviation.
    np.testing.assert_allclose(y, expected, rtol=0, atol=2**-10)
    assert np.all(np.abs(naive.variance(x) - x.astype(np.float64).var(axis=0)) > 0.5)


def test_batch_norm_eps_inside_sqrt_and_constant_feature():
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    y, _ = batch_norm(x, None, None, eps=1.0)
    # feature 0: var 1, x - mean = -1, 1 -> -1/sqrt(2), 1/sqrt(2); constant feature -> 0.
    np.testing.assert_allclose(y, [[-1 / math.sqrt(2), 0.0], [1 / math.sqrt(2), 0.0]], rtol=1e-15)


def test_batch_norm_float16_pitfalls():
    x = np.array([[1.0, 10.0], [3.0, 10.0]], dtype=np.float16)
    # eps = 1e-8 rounds to 0 in float16: the constant feature is 0 * inf = NaN.
    assert np.float16(1e-8) == 0
    y, _ = batch_norm(x, None, None, eps=1e-8)
    assert np.isnan(y[:, 1]).all() and np.allclose(y[:, 0], [-1, 1], atol=1e-3)
    # eps = 1e-5 is subnormal in float16 but not zero: the constant feature gives 0.
    y, _ = batch_norm(x, None, None, eps=1e-5)
    assert y.dtype == np.float16 and (y[:, 1] == 0).all()
    # The same eps = 1e-8 in float32 is fine.
    y32, _ = batch_norm(x.astype(np.float32), None, None, eps=1e-8)
    assert (y32[:, 1] == 0).all()
    # A variance above 65504 (std 1000) overflows float16: inv_std = 0 and the output is beta.
    big = np.array([[-1000.0], [1000.0]], dtype=np.float16)
    y, cache = batch_norm(big, None, np.array([0.25], dtype=np.float16))
    assert np.isinf(cache.inv_std).sum() == 0 and (cache.inv_std == 0).all()
    assert (y == np.float16(0.25)).all()
    y32, _ = batch_norm(big.astype(np.float32), None, None)
    np.testing.assert_allclose(y32[:, 0], [-1, 1], rtol=1e-6)


def test_batch_norm_near_zero_variance_amplifies_rounding_noise():
    # A feature that "should" be the constant 8 but carries one-ULP rounding noise: 8 and 8 + ulp
    # alternate.  Exactly, var = (ulp/2)**2 and the outputs are +-(ulp/2) / sqrt(var + eps): +-0.78
    # for float16's ulp(8) = 2**-7 -- normalization turns rounding noise into signal.  Computed in
    # float16 it is worse: the mean 8 + ulp/2 is a tie and rounds to 8, so the outputs are 0 and
    # ulp / sqrt(var + eps) = 1.55, and the normalized feature does not even have mean 0.
    pattern = np.array([0.0, 1.0] * 8)[:, None]
    eps = 1e-5

    def exact_output(ulp, step):  # step / sqrt(var + eps) with var = (ulp / 2)**2
        return step / math.sqrt((ulp / 2) ** 2 + eps)

    x16 = (8 + 2.0**-7 * pattern).astype(np.float16)
    y64, _ = batch_norm(x16.astype(np.float64), None, None, eps=eps)
    np.testing.assert_allclose(
        y64[:, 0], exact_output(2.0**-7, 2.0**-8) * (2 * pattern[:, 0] - 1), rtol=1e-12
    )
    assert abs(y64[0, 0]) > 0.77
    y16, _ = batch_norm(x16, None, None, eps=eps)
    # float16 rounds var + eps and the quotient: 4 float16 roundings, rtol 4 * eps16.
    np.testing.assert_allclose(
        y16[:, 0].astype(np.float64), exact_output(2.0**-7, 2.0**-7) * pattern[:, 0], rtol=4e-3
    )
    assert y16[1, 0] > 1.5
    # float32 has the same tie at its own scale (ulp(8) = 2**-20), with outputs 0 and 3.0e-4.
    y32, _ = batch_norm((8 + 2.0**-20 * pattern).astype(np.float32), None, None, eps=eps)
    np.testing.assert_allclose(
        y32[:, 0].astype(np.float64), exact_output(2.0**-20, 2.0**-20) * pattern[:, 0], rtol=1e-6
    )


def test_batch_norm_special_values():
    x = np.array([[1.0, 2.0], [np.nan, 4.0], [3.0, 8.0]])
    y, _ = batch_norm(x, None, None)
    assert np.isnan(y[:, 0]).all() and np.isfinite(y[:, 1]).all()
    x[1, 0] = np.inf
    y, _ = batch_norm(x, None, None)
    assert np.isnan(y[:, 0]).all()
    with pytest.raises(ValueError, match="no values along axis"):
        batch_norm(np.zeros((0, 3)), None, None)


def test_batch_norm_integer_input_becomes_float64():
    y, _ = batch_norm(np.array([[1, 2], [3, 6]]), None, None, eps=0.0)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[-1.0, -1.0], [1.0, 1.0]])


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"axis": 2}, ValueError, r"axis=2 is out of range for a 2-D array"),
        ({"axis": (0, 0)}, ValueError, "repeats"),
        ({"axis": 0.5}, TypeError, "axis must be an int"),
        ({"eps": -1.0}, ValueError, "eps must be finite and >= 0"),
        ({"eps": "small"}, TypeError, "eps must be a real number"),
        ({"momentum": 1.5}, ValueError, r"momentum must be in \[0, 1\]"),
        ({"training": False}, ValueError, "pass running"),
        ({"running": (np.zeros(3), np.ones(3))}, TypeError, "running must be a RunningBuffers"),
        ({"running": RunningBuffers.initial(4)}, ValueError, r"running.mean must have the feature"),
    ],
)
def test_batch_norm_validation(kwargs, exc, match):
    x = np.ones((4, 3))
    with pytest.raises(exc, match=match):
        batch_norm(x, None, None, **kwargs)


def test_batch_norm_parameter_shapes_and_types_are_checked():
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\), got \(4,\)"):
        batch_norm(x, np.ones(4), None)
    with pytest.raises(ValueError, match=r"beta must have shape \(3,\)"):
        batch_norm(x, None, np.ones((1, 3)))
    with pytest.raises(TypeError, match="x must be a real numeric array"):
        batch_norm(np.array(["a", "b"]), None, None)
    with pytest.raises(TypeError, match="x must be a real numeric array"):
        batch_norm(np.ones((2, 2), dtype=np.complex128), None, None)
    if np.dtype(np.longdouble) != F64:
        with pytest.raises(TypeError, match="x must be float16, float32 or float64"):
            batch_norm(np.ones((2, 2), dtype=np.longdouble), None, None)
    with pytest.raises(ValueError, match="more than one value per feature"):
        batch_norm(np.ones((1, 3)), None, None)


# ---------------------------------------------------------------------------------------------
# PyTorch semantics
# ---------------------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [F64, F32])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batch_norm_running_stats_match_torch_batchnorm1d(torch, dtype, momentum):
    rng = np.random.default_rng(4)
    c, eps = 4, 1e-3
    gamma = rng.uniform(0.5, 2, c).astype(dtype)
    beta = rng.standard_normal(c).astype(dtype)
    bn = torch.nn.BatchNorm1d(c, eps=eps, momentum=momentum, dtype=torch_tensor(torch, 0, dtype).dtype)
    with torch.no_grad():
        bn.weight.copy_(torch_tensor(torch, gamma, dtype))
        bn.bias.copy_(torch_tensor(torch, beta, dtype))
    buffers = RunningBuffers.initial(c, dtype=dtype)
    bn.train()
    for step in range(4):
        x = (3 + 2 * rng.standard_normal((16 + step, c))).astype(dtype)
        y, _ = batch_norm(x, gamma, beta, eps=eps, running=buffers, momentum=momentum)
        y_t = bn(torch_tensor(torch, x, dtype)).detach().numpy()
        np.testing.assert_allclose(y, y_t, rtol=0, atol=FORWARD_TOL[dtype])
        np.testing.assert_allclose(buffers.mean, bn.running_mean.numpy(), rtol=FORWARD_TOL[dtype])
        np.testing.assert_allclose(buffers.var, bn.running_var.numpy(), rtol=FORWARD_TOL[dtype])
        assert buffers.num_batches_tracked == int(bn.num_batches_tracked) == step + 1
        assert buffers.mean.dtype == dtype
    # Eval mode uses the running statistics and leaves them alone.
    bn.eval()
    x = (3 + 2 * rng.standard_normal((5, c))).astype(dtype)
    before = (buffers.mean.copy(), buffers.var.copy(), buffers.num_batches_tracked)
    y, cache = batch_norm(x, gamma, beta, eps=eps, running=buffers, training=False)
    np.testing.assert_allclose(
        y, bn(torch_tensor(torch, x, dtype)).detach().numpy(), rtol=0, atol=FORWARD_TOL[dtype]
    )
    np.testing.assert_array_equal(buffers.mean, before[0])
    np.testing.assert_array_equal(buffers.var, before[1])
    assert buffers.num_batches_tracked == before[2] and not cache.batch_stats


@pytest.mark.torch
def test_batch_norm_three_dim_matches_torch_and_its_gradients(torch):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3, 5))
    gamma, beta = rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    dy = rng.standard_normal(x.shape)
    bn = torch.nn.BatchNorm1d(3, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch_tensor(torch, gamma))
        bn.bias.copy_(torch_tensor(torch, beta))
    xt = torch_tensor(torch, x, grad=True)
    yt = bn(xt)
    yt.backward(torch_tensor(torch, dy))
    buffers = RunningBuffers.initial(3)
    y, cache = batch_norm(x, gamma, beta, axis=(0, 2), running=buffers)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=FORWARD_TOL[F64])
    np.testing.assert_allclose(buffers.var, bn.running_var.numpy(), rtol=FORWARD_TOL[F64])
    dx, dgamma, dbeta = batch_norm_backward(dy, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=FORWARD_TOL[F64])
    # Sums of 30 terms that cancel: the tolerance scales with the sum of their magnitudes.
    sum_tol = FORWARD_TOL[F64] * float(np.abs(dy).sum(axis=(0, 2)).max()) * 4
    np.testing.assert_allclose(dgamma, bn.weight.grad.numpy(), rtol=0, atol=sum_tol)
    np.testing.assert_allclose(dbeta, bn.bias.grad.numpy(), rtol=0, atol=sum_tol)


@pytest.mark.torch
def test_layer_norm_matches_torch_forward_and_backward(torch):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3, 5)) * 3 + 1
    gamma, beta = rng.uniform(0.5, 2, (3, 5)), rng.standard_normal((3, 5))
    dy = rng.standard_normal(x.shape)
    xt = torch_tensor(torch, x, grad=True)
    gt, bt = torch_tensor(torch, gamma, grad=True), torch_tensor(torch, beta, grad=True)
    yt = torch.nn.functional.layer_norm(xt, (3, 5), gt, bt, eps=1e-5)
    yt.backward(torch_tensor(torch, dy))
    y, cache = layer_norm(x, gamma, beta, axis=(1, 2))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=FORWARD_TOL[F64])
    dx, dgamma, dbeta = layer_norm_backward(dy, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=FORWARD_TOL[F64])
    sum_tol = FORWARD_TOL[F64] * float(np.abs(dy).sum(axis=0).max()) * 4
    np.testing.assert_allclose(dgamma, gt.grad.numpy(), rtol=0, atol=sum_tol)
    np.testing.assert_allclose(dbeta, bt.grad.numpy(), rtol=0, atol=sum_tol)


@pytest.mark.parametrize("dtype", [F32, F16])
def test_layer_norm_forward_matches_float64_reference(dtype):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((10, 32)) * 2 - 1).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, 32).astype(dtype)
    y, _ = layer_norm(x, gamma, None)
    assert y.dtype == dtype
    expected = reference_norm(x, gamma.astype(np.float64), 0.0, 1e-5, (1,))
    np.testing.assert_allclose(y.astype(np.float64), expected, rtol=0, atol=4 * FORWARD_TOL[dtype])


def test_layer_norm_special_values_and_size_one():
    y, _ = layer_norm(np.array([[1.0, np.nan], [1.0, 2.0]]), None, None)
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()
    y, _ = layer_norm(np.array([[7.0], [-3.0]]), None, np.array([0.5]))
    np.testing.assert_array_equal(y, [[0.5], [0.5]])
    with pytest.raises(ValueError, match=r"gamma must have shape \(2,\)"):
        layer_norm(np.ones((3, 2)), np.ones(3), None)


# ---------------------------------------------------------------------------------------------
# Backward: finite differences
# ---------------------------------------------------------------------------------------------


def finite_difference(f, a, h=FD_STEP):
    """Central differences of the scalar f at every entry of a (float64)."""
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        saved = a[idx]
        a[idx] = saved + h
        plus = f()
        a[idx] = saved - h
        minus = f()
        a[idx] = saved
        grad[idx] = (plus - minus) / (2 * h)
    return grad


def assert_gradient(analytic, numeric):
    scale = np.max(np.abs(numeric))
    np.testing.assert_allclose(analytic, numeric, rtol=0, atol=FD_RTOL * scale)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_backward_passes_finite_difference_check(training):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 3, 4)) + 2
    gamma, beta = rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    w = rng.standard_normal(x.shape)
    buffers = RunningBuffers(rng.standard_normal(3), rng.uniform(0.5, 2, 3))

    def loss():
        y, _ = batch_norm(
            x, gamma, beta, axis=(0, 2), training=training, running=None if training else buffers
        )
        return float(np.sum(w * y))

    _, cache = batch_norm(
        x, gamma, beta, axis=(0, 2), training=training, running=None if training else buffers
    )
    dx, dgamma, dbeta = batch_norm_backward(w, cache)
    assert_gradient(dx, finite_difference(loss, x))
    assert_gradient(dgamma, finite_difference(loss, gamma))
    assert_gradient(dbeta, finite_difference(loss, beta))


def test_layer_norm_backward_passes_finite_difference_check():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 6)) * 2
    gamma, beta = rng.uniform(0.5, 2, 6), rng.standard_normal(6)
    w = rng.standard_normal(x.shape)

    def loss():
        return float(np.sum(w * layer_norm(x, gamma, beta)[0]))

    dx, dgamma, dbeta = layer_norm_backward(w, layer_norm(x, gamma, beta)[1])
    assert_gradient(dx, finite_difference(loss, x))
    assert_gradient(dgamma, finite_difference(loss, gamma))
    assert_gradient(dbeta, finite_difference(loss, beta))


def test_backward_without_gamma_and_validation():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((6, 2))
    _, cache = batch_norm(x, None, None)
    dx, dgamma, dbeta = batch_norm_backward(np.ones_like(x), cache)
    assert dgamma is None
    np.testing.assert_array_equal(dbeta, [6.0, 6.0])
    # The gradient of sum(y) is 0: the output of batch norm always sums to 0 per feature.
    np.testing.assert_allclose(dx, 0, atol=FORWARD_TOL[F64])
    with pytest.raises(ValueError, match=r"dy must have the shape of x"):
        batch_norm_backward(np.ones((6, 3)), cache)
    with pytest.raises(ValueError, match="cache comes from batch_norm, not layer_norm"):
        layer_norm_backward(np.ones_like(x), cache)
    with pytest.raises(TypeError, match="cache must be the NormCache"):
        batch_norm_backward(np.ones_like(x), {"x_hat": x})
    assert isinstance(cache, NormCache)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cache.count = 3  # type: ignore[misc]


def test_backward_keeps_float32():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    _, cache = batch_norm(x, np.ones(3, np.float32), None)
    dx, dgamma, dbeta = batch_norm_backward(rng.standard_normal((8, 3)).astype(np.float32), cache)
    assert dx.dtype == dgamma.dtype == dbeta.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# RunningStats
# ---------------------------------------------------------------------------------------------


def mpf_to_fraction(value) -> Fraction:
    sign, man, exp, _ = value._mpf_
    q = Fraction(man) * Fraction(2) ** exp
    return -q if sign else q


def exact_moments(x) -> tuple[Fraction, Fraction]:
    """Exact mean and population variance of float data, as Fractions."""
    xs = [Fraction(v) for v in np.asarray(x, dtype=np.float64).ravel().tolist()]
    n = len(xs)
    s, q = sum(xs), sum(v * v for v in xs)
    return s / n, (n * q - s * s) / (n * n)


def test_running_stats_offset_float32_exact_within_bound_naive_fails():
    # float32 data 1e4 + N(0, 1): kappa = sqrt(1 + mean**2 / var) ~ 1e4.
    x = (1e4 + np.random.default_rng(0).standard_normal(4096)).astype(np.float32)
    n, k = x.size, 16
    # Exact moments from numdl.reference: float32 squares are exact in float64 (48 <= 53 bits).
    x64 = x.astype(np.float64)
    s = mpf_to_fraction(reference.exact_sum(x64))
    q = mpf_to_fraction(reference.exact_sum(x64 * x64))
    mean, var = s / n, (n * q - s * s) / (n * n)
    assert (mean, var) == exact_moments(x)

    stats = RunningStats()
    for batch in np.split(x, k):
        assert stats.update(batch) is stats
    assert stats.count == n and stats.mean.dtype == np.float32
    u = 2.0**-24
    kappa = math.sqrt(1 + float(mean) ** 2 / float(var))
    # Chan, Golub & LeVeque: relative error of the variance <= (k + log2 n) kappa u = 1.7e-2 here;
    # observed ~3e-5.  The mean: within (k + log2 n) u relative.
    bound = (k + math.log2(n)) * kappa * u
    assert abs(Fraction(float(stats.var)) - var) / var <= bound
    assert abs(Fraction(float(stats.mean)) - mean) / mean <= (k + math.log2(n)) * u
    # The naive E[x^2] - E[x]^2 in the same float32 has no correct digit (error 100% or more) ...
    v_naive = naive.variance(x)
    assert v_naive.dtype == np.float32
    assert abs(Fraction(float(v_naive)) - var) / var >= 1
    # ... and on these data goes negative: its square root, a standard deviation, is NaN.
    assert v_naive < 0
    with np.errstate(invalid="ignore"):
        assert np.isnan(np.sqrt(v_naive))


def test_naive_variance_fails_per_feature_where_running_stats_does_not():
    x = (1e4 + np.random.default_rng(13).standard_normal((1000, 8))).astype(np.float32)
    exact = np.array([float(exact_moments(x[:, j])[1]) for j in range(8)])
    v_naive = naive.variance(x, axis=0)
    assert v_naive.shape == (8,) and np.all(np.abs(v_naive - exact) > 1)
    assert np.any(v_naive < 0)
    stats = RunningStats().update(x[:500]).update(x[500:])
    np.testing.assert_allclose(stats.var, exact, rtol=1e-3)


def test_running_stats_single_sample_updates_are_welford():
    rng = np.random.default_rng(14)
    x = 5 + rng.standard_normal(300)
    one_by_one = RunningStats()
    for v in x:
        one_by_one.update(v)
    mean, var = exact_moments(x)
    u = 2.0**-53
    kappa = math.sqrt(1 + float(mean) ** 2 / float(var))
    # Welford's bound: n kappa u relative.
    assert abs(Fraction(float(one_by_one.var)) - var) / var <= x.size * kappa * u
    assert one_by_one.count == 300 and isinstance(one_by_one.count, int)
    np.testing.assert_allclose(one_by_one.sample_var, np.var(x, ddof=1), rtol=1e-13)


def test_running_stats_special_cases():
    stats = RunningStats()
    assert stats.count == 0 and math.isnan(stats.mean) and math.isnan(stats.var)
    stats.update(np.zeros((0,)))
    assert stats.count == 0
    stats.update(3.0)
    assert stats.count == 1 and stats.mean == 3.0 and stats.var == 0.0
    assert math.isnan(stats.sample_var)
    stats.update([np.nan, 1.0])
    assert math.isnan(stats.mean) and math.isnan(stats.var)
    feats = RunningStats().update(np.arange(12.0).reshape(4, 3))
    np.testing.assert_array_equal(feats.mean, [4.5, 5.5, 6.5])
    np.testing.assert_array_equal(feats.var, [11.25, 11.25, 11.25])
    with pytest.raises(ValueError, match=r"feature shape \(2,\) does not match"):
        feats.update(np.ones((2, 2)))
    with pytest.raises(TypeError, match="other must be a RunningStats"):
        feats.merge(np.ones(3))
    with pytest.raises(TypeError, match="batch must be a real numeric array"):
        feats.update(np.array(["x"]))
    assert RunningStats().update(np.arange(4, dtype=np.float16)).mean.dtype == np.float32
    assert RunningStats().update(np.arange(4)).mean.dtype == np.float64
    assert "count=4" in repr(RunningStats().update(np.arange(4)))


def test_running_stats_merge_with_empty_and_self():
    a = RunningStats().update(np.array([1.0, 2.0, 3.0]))
    a.merge(RunningStats())
    assert a.count == 3 and a.mean == 2.0
    b = RunningStats().merge(a)
    assert b.count == 3 and b.var == a.var
    a.merge(a)  # the same samples twice: mean unchanged, population variance unchanged
    assert a.count == 6 and a.mean == 2.0 and a.var == pytest.approx(2 / 3, rel=1e-15)


def data_batches(rng, offset, scale, sizes):
    return [offset + scale * rng.standard_normal(s) for s in sizes]


def variance_bound(x, k):
    """(k + log2 n) kappa u for float64 data (Chan, Golub & LeVeque), with a floor for kappa = 1."""
    mean, var = exact_moments(x)
    kappa = math.sqrt(1 + float(mean * mean / var)) if var else 1.0
    return (k + math.log2(len(x)) + 2) * kappa * 2.0**-53


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    offset=st.floats(-1e6, 1e6),
    scale=st.floats(1e-3, 1e3),
    sizes_a=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    sizes_b=st.lists(st.integers(1, 40), min_size=1, max_size=4),
)
def test_merge_equals_update_on_concatenation(seed, offset, scale, sizes_a, sizes_b):
    rng = np.random.default_rng(seed)
    batches_a = data_batches(rng, offset, scale, sizes_a)
    batches_b = data_batches(rng, offset, scale, sizes_b)
    a, b, whole = RunningStats(), RunningStats(), RunningStats()
    for batch in batches_a:
        a.update(batch)
    for batch in batches_b:
        b.update(batch)
    merged = a.merge(b)
    x = np.concatenate(batches_a + batches_b)
    whole.update(x)
    assert merged.count == whole.count == x.size
    mean, var = exact_moments(x)
    bound = variance_bound(x, len(sizes_a) + len(sizes_b))
    for stats in (merged, whole):
        assert abs(Fraction(float(stats.var)) - var) <= bound * var
        assert abs(Fraction(float(stats.mean)) - mean) <= bound * math.sqrt(float(var)) + abs(
            mean
        ) * 2.0**-50
    assert abs(merged.var - whole.var) <= 2 * bound * float(var)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    offset=st.floats(-1e4, 1e4),
    sizes=st.lists(st.integers(1, 30), min_size=2, max_size=6),
    data=st.data(),
)
def test_update_order_invariant_within_bound(seed, offset, sizes, data):
    rng = np.random.default_rng(seed)
    batches = data_batches(rng, offset, 1.0, sizes)
    order = data.draw(st.permutations(range(len(batches))))
    forward, permuted = RunningStats(), RunningStats()
    for batch in batches:
        forward.update(batch)
    for i in order:
        permuted.update(batches[i])
    x = np.concatenate(batches)
    _, var = exact_moments(x)
    bound = variance_bound(x, len(sizes))
    assert forward.count == permuted.count
    assert abs(forward.var - permuted.var) <= 2 * bound * float(var)
    assert abs(forward.mean - permuted.mean) <= 2 * bound * (abs(offset) + math.sqrt(float(var)))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.floats(-100, 100), log_scale=st.integers(-4, 4))
def test_batch_norm_invariant_to_shift_and_power_of_two_scale(seed, shift, log_scale):
    # (a x + b) normalizes like x (eps = 0); with a a power of two and a small shift the input
    # rounding is exact or tiny, so the outputs agree to a few eps.
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 3))
    y, _ = batch_norm(x, None, None, eps=0.0)
    y2, _ = batch_norm(x * 2.0**log_scale + shift, None, None, eps=0.0)
    tol = FORWARD_TOL[F64] * (1 + abs(shift) * 2.0**-log_scale)
    np.testing.assert_allclose(y2, y, rtol=0, atol=tol)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=FORWARD_TOL[F64])


def test_doctests():
    result = doctest.testmod(numdl.norm, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_combine_is_the_pairwise_update_behind_update_and_merge():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((30, 3)) + 1e6, rng.standard_normal((50, 3)) + 1e6
    by_update = RunningStats().update(a).update(b)
    by_combine = RunningStats().update(a).combine(
        50, b.mean(axis=0), ((b - b.mean(axis=0)) ** 2).sum(axis=0))
    np.testing.assert_allclose(by_combine.mean, by_update.mean, rtol=1e-15)
    np.testing.assert_allclose(by_combine.var, by_update.var, rtol=1e-10)
    # the offset 1e6 costs no digits: the pooled two-pass variance agrees to rounding
    np.testing.assert_allclose(by_update.var, np.concatenate([a, b]).var(axis=0), rtol=1e-9)
    assert RunningStats().combine(0, np.zeros(3), np.zeros(3)).count == 0


@pytest.mark.parametrize(("args", "error", "match"), [
    ((1.5, np.zeros(2), np.zeros(2)), TypeError, "n_b"),
    ((-1, np.zeros(2), np.zeros(2)), ValueError, "n_b"),
    ((2, np.zeros(2), np.zeros(3)), ValueError, "m2_b"),
])
def test_combine_checks_its_arguments(args, error, match):
    with pytest.raises(error, match=match):
        RunningStats().combine(*args)
