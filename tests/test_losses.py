"""numdl.losses: PyTorch's semantics, accuracy against numdl.reference, the cases where the
textbook formulas and PyTorch fail, tensors and gradients, and errors."""

from __future__ import annotations

import doctest
import math

import ml_dtypes
import mpmath
import numpy as np
import pytest

import numdl
from numdl import losses, naive, reference
from numdl._engine import config
from numdl.reference import condition_number, round_to, ulp_error
from numdl.testing import assert_ulp_close

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16), BF16]


def check(name, computed, *args, **kwargs):
    """1 ULP for the narrow formats, 2 max(1, kappa) ULP for float64 (numdl's claim)."""
    exact = getattr(reference, name)(*args, rounded=False, **kwargs)
    errors = np.asarray(ulp_error(computed, exact), dtype=np.float64)
    dtype = np.asarray(computed).dtype if isinstance(computed, np.ndarray | np.generic) else None
    if dtype is not None and dtype != np.float64:
        limit = 1.0
    else:
        limit = 2 * np.maximum(1.0, condition_number(name, *args, **kwargs))
    assert np.all(errors <= limit), (name, kwargs, errors.max())
    return errors


# ---------------------------------------------------------------------------------------------
# Cross-entropy
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"reduction": "sum"},
        {"reduction": "none"},
        {"label_smoothing": 0.1},
        {"ignore_index": 2, "reduction": "none", "label_smoothing": 0.3},
    ],
    ids=["mean", "sum", "none", "smoothing", "ignore"],
)
@pytest.mark.parametrize("path", ["fast", "general", "kernel"])
def test_cross_entropy_class_targets_within_claim(dtype, kwargs, path):
    """On the small call's fast path, the general small-input path and the row kernel."""
    settings = {}
    if path != "fast":
        settings.update(fast_paths=False)
    if path == "kernel":
        settings.update(small_threshold=0)
    with config.override(**settings):
        _check_class_targets(dtype, kwargs)


def _check_class_targets(dtype, kwargs):
    rng = np.random.default_rng(20)
    x = np.concatenate(
        [
            rng.standard_normal((6, 5)) * 3,
            [[17, 0, 0, 0, 0], [37, 0, 0, 0, 0], [0, -50, -50, -50, -50]],  # confident rows
            rng.standard_normal((2, 5)) * 0.01 + 1000,  # large, nearly equal logits
        ]
    ).astype(dtype)
    t = np.concatenate([rng.integers(0, 5, 6), [0, 0, 0], [1, 2]])
    out = losses.cross_entropy(x, t, **kwargs)
    assert np.asarray(out).dtype == dtype
    check("cross_entropy", out, x, t, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("kwargs", [{}, {"reduction": "none", "label_smoothing": 0.2}])
def test_cross_entropy_probability_targets_within_claim(dtype, kwargs):
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((7, 4)) * 5).astype(dtype)
    p = rng.dirichlet(np.ones(4), 7)
    p[0] = [1.0, 0.0, 0.0, 0.0]
    out = losses.cross_entropy(x, p, **kwargs)
    check("cross_entropy", out, x, p, **kwargs)


def test_cross_entropy_class_axis_and_batch_shapes():
    rng = np.random.default_rng(22)
    x = rng.standard_normal((2, 4, 3))  # PyTorch's (N, C, d1)
    t = rng.integers(0, 4, (2, 3))
    none = losses.cross_entropy(x, t, axis=1, reduction="none")
    assert none.shape == (2, 3)
    np.testing.assert_array_equal(none, reference.cross_entropy(x, t, axis=1, reduction="none"))


def test_confident_class_keeps_its_tiny_loss():
    # 50, not 37: exp(50) ~ 2**72.1 has float64 spacing 2**20, so E + 1 + 1 rounds back to E
    # (2 < 2**19, half a spacing) and the naive p = E / E is exactly 1 whatever exp's last bits;
    # at 37 the spacing is 2, E + 1 is a tie and p = 1 only when np.exp(37) happens to be even.
    logits = np.array([[50.0, 0.0, 0.0]])
    with mpmath.workprec(200):
        exact = round_to(mpmath.log1p(2 * mpmath.exp(-50)), "float64")
        exact32 = round_to(mpmath.log1p(2 * mpmath.exp(-50)), "float32")
    # == holds by construction: 3 logits take the long-double path (64-bit significand, so
    # its error is some 2**-11 float64 ULP), and the exact loss lies 0.16 ULP from its float64
    # and 0.36 ULP from its float32 rounding, far from a rounding boundary
    assert losses.cross_entropy(logits, np.array([0])) == exact
    assert naive.cross_entropy(logits, np.array([0])) == 0.0
    f32 = losses.cross_entropy(logits.astype(np.float32), np.array([0]))
    assert f32 == exact32 > 0


def test_masked_logits_with_zero_probability_contribute_nothing():
    logits = np.array([[1.0, -np.inf, 0.5]])
    probs = np.array([[0.7, 0.0, 0.3]])
    out = losses.cross_entropy(logits, probs)
    check("cross_entropy", out, logits, probs)
    assert np.isnan(naive.cross_entropy_probabilities(logits, probs))
    # a masked class with target weight gives an infinite loss, as it should
    assert losses.cross_entropy(logits, np.array([1])) == np.inf
    assert losses.cross_entropy(logits, np.array([0]), label_smoothing=0.1) == np.inf


def test_ignore_index_and_empty_means():
    x = np.array([[1.0, 2.0], [3.0, 0.0], [0.5, 0.5]])
    t = np.array([0, -100, 1])
    mean = losses.cross_entropy(x, t, ignore_index=-100)
    np.testing.assert_equal(mean, losses.cross_entropy(x[[0, 2]], t[[0, 2]]))
    assert losses.cross_entropy(x, t, ignore_index=-100, reduction="none")[1] == 0
    assert np.isnan(losses.cross_entropy(x[:1], np.array([-100]), ignore_index=-100))
    assert np.isnan(losses.cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int)))


def test_special_rows():
    x = np.array([[np.inf, 0.0], [np.inf, 0.0], [np.nan, 0.0], [-np.inf, -np.inf]])
    out = losses.cross_entropy(x, np.array([0, 1, 0, 0]), reduction="none")
    np.testing.assert_array_equal(out, [0.0, np.inf, np.nan, np.nan])
    np.testing.assert_array_equal(
        out, reference.cross_entropy(x, np.array([0, 1, 0, 0]), reduction="none")
    )


def test_fast_small_path_leaves_the_errors_to_the_general_one():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"labels outside \[0, 3\): \[-1, 3\]"):
        losses.cross_entropy(x, np.array([-1, 3]))
    with pytest.raises(ValueError, match="target has shape"):
        losses.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        losses.cross_entropy(x, np.array([0, 1]), reduction="avg")
    # a row without a finite maximum takes the general path's special-value rules
    assert math.isnan(losses.cross_entropy(np.array([[np.nan, 0.0]]), np.array([1])))


def test_cross_entropy_bad_input():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="reduction='avg'"):
        losses.cross_entropy(x, np.array([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match=r"labels outside \[0, 3\): \[3\]"):
        losses.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match="target has shape"):
        losses.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="target has shape"):
        losses.cross_entropy(x, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.cross_entropy(x, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="ignore_index applies"):
        losses.cross_entropy(x, np.full((2, 3), 1 / 3), ignore_index=0)
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        losses.cross_entropy(x, np.array([0, 1]), axis=2)
    with pytest.raises(TypeError, match="logits must be"):
        losses.cross_entropy(np.zeros((2, 3), dtype=bool), np.array([0, 1]))


# ---------------------------------------------------------------------------------------------
# Binary cross-entropy
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize(
    "kwargs", [{}, {"reduction": "none"}, {"pos_weight": np.array([1.0, 3.0])}]
)
def test_bce_within_claim(dtype, kwargs):
    rng = np.random.default_rng(23)
    x = np.concatenate([rng.uniform(-1000, 1000, (8, 2)), rng.standard_normal((8, 2)) * 10])
    x = np.concatenate([x, [[-40.0, 40.0], [20.0, 37.0]]]).astype(dtype)
    y = np.concatenate([rng.random((16, 2)), [[0.0, 1.0], [1.0, 0.0]]])
    out = losses.binary_cross_entropy_with_logits(x, y, **kwargs)
    assert np.asarray(out).dtype == dtype
    check("binary_cross_entropy_with_logits", out, x, y, **kwargs)


def test_bce_where_pytorch_cancels():
    x, y = np.array([-40.0]), np.array([0.0])
    with mpmath.workprec(200):
        exact = mpmath.log1p(mpmath.exp(-40))
    # The loss is log1p(np.exp(-40)): log1p returns its argument (s**2 / 2 is 0.01 ULP of s), so
    # the error is np.exp's, whose last bit differs between CPUs.  Any faithful exp (either
    # neighbour of e**-40) is within 0.86 ULP of the exact loss: 1 ULP, not ==.
    assert_ulp_close(losses.binary_cross_entropy_with_logits(x, y), exact, 1)
    torch = pytest.importorskip("torch")
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(y))
    assert theirs.item() == 0.0  # (1 - y) x + softplus(-x) cancels


def test_bce_special_values_and_errors():
    x = np.array([np.inf, -np.inf, np.inf, -np.inf, np.nan])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    np.testing.assert_array_equal(
        losses.binary_cross_entropy_with_logits(x, y, reduction="none"),
        [0, 0, np.inf, np.inf, np.nan],
    )
    assert np.isnan(losses.binary_cross_entropy_with_logits(np.zeros(0), np.zeros(0)))
    with pytest.raises(ValueError, match="target has shape"):
        losses.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="pos_weight"):
        losses.binary_cross_entropy_with_logits(
            np.zeros((2, 3)), np.zeros((2, 3)), pos_weight=np.ones(2)
        )
    with pytest.raises(ValueError, match="reduction"):
        losses.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(3), reduction="max")


# ---------------------------------------------------------------------------------------------
# PyTorch tensors: same results as torch where torch is accurate, gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"label_smoothing": 0.2, "reduction": "sum"}, {"ignore_index": 1, "reduction": "none"}],
)
def test_cross_entropy_matches_torch_values_and_gradients(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(24)
    x = torch.tensor(rng.standard_normal((6, 4)) * 2, requires_grad=True)
    t = torch.tensor([0, 1, 2, 3, 1, 2])
    ours = losses.cross_entropy(x, t, **kwargs)
    theirs = torch.nn.functional.cross_entropy(x, t, **kwargs)
    assert isinstance(ours, torch.Tensor) and ours.dtype == torch.float64
    torch.testing.assert_close(ours, theirs, rtol=1e-14, atol=1e-15)
    w = torch.ones_like(ours)
    (g1,) = torch.autograd.grad((ours * w).sum(), x)
    (g2,) = torch.autograd.grad((theirs * w).sum(), x)
    torch.testing.assert_close(g1, g2, rtol=1e-13, atol=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("dtype_name", ["float32", "float16", "bfloat16"])
def test_torch_losses_narrow_dtypes(dtype_name):
    torch = pytest.importorskip("torch")
    dtype = getattr(torch, dtype_name)
    rng = np.random.default_rng(25)
    x = torch.tensor(rng.standard_normal((5, 3)) * 8).to(dtype)
    t = torch.tensor([0, 1, 2, 0, 1])
    out = losses.cross_entropy(x, t, reduction="none")
    assert out.dtype == dtype
    check("cross_entropy", out, x, t.numpy(), reduction="none")
    y = torch.tensor(rng.random((5, 3)))
    out = losses.binary_cross_entropy_with_logits(x, y.to(dtype), reduction="none")
    assert out.dtype == dtype
    check("binary_cross_entropy_with_logits", out, x, y.to(dtype), reduction="none")


@pytest.mark.torch
def test_masked_probability_targets_gradients_are_finite():
    torch = pytest.importorskip("torch")
    x = torch.tensor([[1.0, -math.inf, 0.5]], dtype=torch.float64, requires_grad=True)
    p = torch.tensor([[0.7, 0.0, 0.3]], dtype=torch.float64, requires_grad=True)
    loss = losses.cross_entropy(x, p)
    assert torch.isnan(torch.nn.functional.cross_entropy(x.detach(), p.detach()))  # PyTorch: NaN
    gx, gp = torch.autograd.grad(loss, (x, p))
    assert torch.isfinite(gx).all() and gx[0, 1] == 0
    assert torch.isfinite(gp[0, [0, 2]]).all()


@pytest.mark.torch
def test_bce_matches_torch_and_its_gradient():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(26)
    x = torch.tensor(rng.standard_normal((4, 3)) * 4, requires_grad=True)
    y = torch.tensor(rng.random((4, 3)))
    pw = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    ours = losses.binary_cross_entropy_with_logits(x, y, pos_weight=pw)
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(x, y, pos_weight=pw)
    torch.testing.assert_close(ours, theirs, rtol=1e-14, atol=0)
    (g1,) = torch.autograd.grad(ours, x)
    (g2,) = torch.autograd.grad(theirs, x)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-16)


def test_top_level_exports_and_docstrings():
    assert numdl.cross_entropy is losses.cross_entropy
    assert numdl.binary_cross_entropy_with_logits is losses.binary_cross_entropy_with_logits
    result = doctest.testmod(numdl.losses, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0
