"""numdl.losses with PyTorch's ``weight=`` (per-class weights of cross_entropy, per-element weights
and ``pos_weight`` of binary_cross_entropy_with_logits): PyTorch's semantics for every combination
of reduction, ignore_index and label_smoothing, accuracy against numdl.reference on hostile
inputs, gradients, errors, and ``weight=None`` unchanged."""

from __future__ import annotations

import itertools
import math

import ml_dtypes
import numpy as np
import pytest

from numdl import losses, reference
from numdl._engine import config
from numdl.reference import ulp_error
from test_losses import check  # 1 ULP narrow, 2 max(1, kappa) float64

pytestmark = pytest.mark.kernels  # every check below runs on each kernel path

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16), BF16]
PATHS = {"fast": {}, "general": {"fast_paths": False}, "kernel": {"small_threshold": 0}}
REDUCTIONS = ["mean", "sum", "none"]

# Agreement with PyTorch by dtype.  PyTorch forms log_softmax = x - lse in the input's dtype
# (float32 accumulation for float16/bfloat16): a loss is off by a few eps times the logits' scale
# max|x| (absolute, so a small loss can be off by much more than eps relative), times its weight,
# and the sums over a batch of 12 add log2(12) < 4 eps relative; TORCH_RTOL[d] relative plus
# TORCH_RTOL[d] * max|x| * max(weight) absolute covers both with a margin.  numdl itself is
# checked against the exact value (1 ULP, or 2 max(1, kappa) ULP in float64).
TORCH_RTOL = {
    "float64": 64 * 2.0**-52,
    "float32": 64 * 2.0**-23,
    "float16": 16 * 2.0**-10,
    "bfloat16": 16 * 2.0**-7,
}


def _batch(rng, rows=12, classes=5, scale=3.0):
    x = rng.standard_normal((rows, classes)) * scale
    t = rng.integers(0, classes, rows)
    t[[1, 4]] = 2  # ignore_index=2 below ignores these (and any other 2)
    return x, t


def _torch_kwargs(ignore_index):
    # numdl's default ignores nothing; torch's default -100 never matches a label here
    return {"ignore_index": -100 if ignore_index is None else ignore_index}


# ---------------------------------------------------------------------------------------------
# Cross-entropy against PyTorch, every combination
# ---------------------------------------------------------------------------------------------

COMBOS = list(itertools.product(REDUCTIONS, [None, 2], [0.0, 0.25]))


@pytest.mark.torch
@pytest.mark.parametrize(("reduction", "ignore_index", "eps"), COMBOS)
@pytest.mark.parametrize("kind", ["numpy", "tensor"])
@pytest.mark.parametrize("dtype_name", ["float64", "float32", "float16", "bfloat16"])
def test_class_weight_matches_torch(reduction, ignore_index, eps, kind, dtype_name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(40)
    x, t = _batch(rng)
    w = rng.uniform(0.1, 4.0, 5)
    w[3] = 0.0  # a class that does not count
    tdt = getattr(torch, dtype_name)
    xt = torch.tensor(x).to(tdt)
    theirs = torch.nn.functional.cross_entropy(
        xt,
        torch.tensor(t),
        weight=torch.tensor(w).to(tdt),
        reduction=reduction,
        label_smoothing=eps,
        **_torch_kwargs(ignore_index),
    )
    kw = {"reduction": reduction, "label_smoothing": eps, "ignore_index": ignore_index}
    if kind == "tensor":
        ours = losses.cross_entropy(xt, torch.tensor(t), weight=torch.tensor(w).to(tdt), **kw)
        assert ours.dtype == tdt
        ours_np = ours.double().numpy()
    else:
        xn = xt.double().numpy().astype(BF16 if dtype_name == "bfloat16" else dtype_name)
        ours = losses.cross_entropy(xn, t, weight=w, **kw)
        assert np.asarray(ours).dtype == xn.dtype
        ours_np = np.asarray(ours, dtype=np.float64)
        check("cross_entropy", ours, xn, t, weight=w, **kw)
    rtol = TORCH_RTOL[dtype_name]
    atol = rtol * np.abs(x).max() * w.max()
    np.testing.assert_allclose(ours_np, theirs.double().numpy(), rtol=rtol, atol=atol)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.0, 0.25])
@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
def test_probability_targets_weight_matches_torch(reduction, eps, dtype_name):
    """torch: ``-sum_c weight_c p_c log_softmax_c``, and the mean divides by N, not the weights."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(41)
    x = (rng.standard_normal((9, 4)) * 3).astype(dtype_name)
    p = rng.dirichlet(np.ones(4), 9)
    p[0] = [0.0, 1.0, 0.0, 0.0]
    w = np.array([0.5, 2.0, 1e-3, 7.0])
    kw = {"reduction": reduction, "label_smoothing": eps}
    ours = losses.cross_entropy(x, p, weight=w, **kw)
    theirs = torch.nn.functional.cross_entropy(
        torch.tensor(x).double(), torch.tensor(p), weight=torch.tensor(w), **kw
    )
    np.testing.assert_allclose(
        np.asarray(ours, dtype=np.float64), theirs.numpy(), rtol=TORCH_RTOL[dtype_name]
    )
    check("cross_entropy", ours, x, p, weight=w, **kw)
    ours_t = losses.cross_entropy(torch.tensor(x).double(), torch.tensor(p), weight=w, **kw)
    torch.testing.assert_close(ours_t, theirs, rtol=TORCH_RTOL["float64"], atol=0)
    if reduction == "mean":  # by N: the weighted sum over 9 rows, not over sum(weight)
        total = losses.cross_entropy(x, p, weight=w, reduction="sum", label_smoothing=eps)
        np.testing.assert_allclose(ours, total / 9, rtol=4 * np.finfo(x.dtype).eps)


@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_mean_divides_by_the_weights_of_the_counted_targets(eps):
    rng = np.random.default_rng(42)
    x, t = _batch(rng)
    w = np.array([1.0, 2.0, 4.0, 8.0, 0.5])
    kw = {"label_smoothing": eps, "ignore_index": 2}
    total = losses.cross_entropy(x, t, weight=w, reduction="sum", **kw)
    denom = math.fsum(w[t[t != 2]])
    # the sum of the per-row losses, the denominator formed exactly (all weights are dyadic)
    mean = losses.cross_entropy(x, t, weight=w, **kw)
    np.testing.assert_allclose(mean, total / denom, rtol=4 * 2.0**-52)
    none = losses.cross_entropy(x, t, weight=w, reduction="none", **kw)
    assert np.all(none[t == 2] == 0)
    np.testing.assert_allclose(math.fsum(none), total, rtol=4 * 2.0**-52)


# ---------------------------------------------------------------------------------------------
# Accuracy against the oracle on hostile inputs
# ---------------------------------------------------------------------------------------------


def _hostile_rows(rng, dtype):
    big = 1e4 if dtype != np.float16 else 6e4
    x = np.concatenate(
        [
            rng.standard_normal((5, 5)) * 3,
            [[17, 0, 0, 0, 0], [37, 0, 0, 0, 0], [0, -50, -50, -50, -50]],  # confident rows
            [[big, -big, 0, big / 2, -1], [-big, big, big, 0, 0]],  # huge logits
            rng.standard_normal((2, 5)) * 0.01 + 1000,  # large, nearly equal logits
            [[1.0, -np.inf, 0.5, 0.0, 2.0]],  # a masked class
        ]
    ).astype(dtype)
    t = np.array([0, 1, 2, 3, 4, 0, 0, 0, 0, 2, 1, 4, 3])
    return x, t


HOSTILE_WEIGHTS = np.array([1e-8, 3.0, 1e8, 0.0, 0.37])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(("reduction", "ignore_index", "eps"), COMBOS)
def test_class_weight_within_claim_on_hostile_inputs(dtype, path, reduction, ignore_index, eps):
    rng = np.random.default_rng(43)
    x, t = _hostile_rows(rng, dtype)
    if eps:  # the masked class then carries weight in every row: keep it out of this test
        x, t = x[:-1], t[:-1]
    kw = {"reduction": reduction, "label_smoothing": eps, "ignore_index": ignore_index}
    with config.override(**PATHS[path]):
        out = losses.cross_entropy(x, t, weight=HOSTILE_WEIGHTS, **kw)
    assert np.asarray(out).dtype == dtype
    check("cross_entropy", out, x, t, weight=HOSTILE_WEIGHTS, **kw)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("path", ["general", "kernel"])
@pytest.mark.parametrize("kwargs", [{}, {"reduction": "none", "label_smoothing": 0.2}])
def test_probability_weight_within_claim_on_hostile_inputs(dtype, path, kwargs):
    rng = np.random.default_rng(44)
    x, _ = _hostile_rows(rng, dtype)
    x = x[:-1]
    p = rng.dirichlet(np.ones(5), x.shape[0])
    p[0] = [1.0, 0.0, 0.0, 0.0, 0.0]
    with config.override(**PATHS[path]):
        out = losses.cross_entropy(x, p, weight=HOSTILE_WEIGHTS, **kwargs)
    check("cross_entropy", out, x, p, weight=HOSTILE_WEIGHTS, **kwargs)


def test_zero_weight_and_masked_target():
    """A target of weight 0 contributes 0 even where its logit is -inf (PyTorch: 0 * inf = NaN)."""
    x = np.array([[1.0, -np.inf, 0.5], [0.0, 1.0, 2.0]])
    w = np.array([1.0, 0.0, 2.0])
    none = losses.cross_entropy(x, np.array([1, 2]), weight=w, reduction="none")
    assert none[0] == 0.0
    np.testing.assert_array_equal(
        none, reference.cross_entropy(x, np.array([1, 2]), weight=w, reduction="none")
    )
    # with a weight, a masked target class is an infinite loss, as without
    assert losses.cross_entropy(x, np.array([1, 2]), weight=np.ones(3)) == np.inf
    # all weights of the counted targets zero, or everything ignored: 0 / 0 = NaN, as in PyTorch
    assert math.isnan(losses.cross_entropy(x, np.array([1, 1]), weight=w))
    assert math.isnan(losses.cross_entropy(x, np.array([1, 1]), weight=np.ones(3), ignore_index=1))
    assert math.isnan(reference.cross_entropy(x, np.array([1, 1]), weight=w))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_weight_and_pos_weight_within_claim(dtype, reduction):
    """No overflow for |logits| up to 1e4 in any format; weights from 1e-8 to 1e8, and 0 (a
    weighted loss beyond the format's range is inf, as its exact value rounds)."""
    rng = np.random.default_rng(45)
    x = np.concatenate(
        [
            rng.uniform(-1e4, 1e4, (6, 4)),
            rng.standard_normal((6, 4)) * 10,
            [[-40.0, 40.0, 1e4, -1e4], [20.0, 37.0, -1e4, 1e4]],
        ]
    ).astype(dtype)
    y = np.concatenate([rng.random((12, 4)), [[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]]])
    weight = rng.choice([1e-8, 0.3, 1.0, 1e8, 0.0], (14, 1))  # one per row, broadcast
    pos_weight = np.array([1.0, 3.0, 1e-8, 1e8])
    plain = losses.binary_cross_entropy_with_logits(x, y, reduction=reduction)
    if reduction != "sum":  # a float16 sum of 56 losses of some 5000 is beyond 65504
        assert np.all(np.isfinite(plain))
    check("binary_cross_entropy_with_logits", plain, x, y, reduction=reduction)
    kw = {"reduction": reduction, "weight": weight, "pos_weight": pos_weight}
    out = losses.binary_cross_entropy_with_logits(x, y, **kw)
    assert np.asarray(out).dtype == dtype
    check("binary_cross_entropy_with_logits", out, x, y, **kw)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype_name", ["float64", "float32", "float16", "bfloat16"])
def test_bce_weight_matches_torch(reduction, dtype_name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(46)
    tdt = getattr(torch, dtype_name)
    x = torch.tensor(rng.standard_normal((6, 3)) * 4).to(tdt)
    y = torch.tensor(rng.random((6, 3))).to(tdt)
    w = torch.tensor(rng.uniform(0.1, 3, (6, 1))).to(tdt)
    pw = torch.tensor([1.0, 2.0, 0.5]).to(tdt)
    kw = {"reduction": reduction, "weight": w, "pos_weight": pw}
    ours = losses.binary_cross_entropy_with_logits(x, y, **kw)
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(x, y, **kw)
    assert ours.dtype == tdt
    rtol = TORCH_RTOL[dtype_name]
    atol = rtol * x.double().abs().max().item() * w.double().max().item()
    np.testing.assert_allclose(ours.double().numpy(), theirs.double().numpy(), rtol=rtol, atol=atol)
    xn = x.double().numpy().astype(BF16 if dtype_name == "bfloat16" else dtype_name)
    np_kw = {
        "reduction": reduction,
        "weight": w.double().numpy(),
        "pos_weight": pw.double().numpy(),
    }
    out = losses.binary_cross_entropy_with_logits(xn, y.double().numpy(), **np_kw)
    check("binary_cross_entropy_with_logits", out, xn, y.double().numpy(), **np_kw)


def test_bce_zero_weight_hides_an_infinite_loss():
    x, y = np.array([np.inf, 1.0]), np.array([0.0, 0.0])
    out = losses.binary_cross_entropy_with_logits(
        x, y, weight=np.array([0.0, 2.0]), reduction="none"
    )
    assert out[0] == 0.0  # PyTorch: 0 * inf = NaN
    np.testing.assert_array_equal(
        out,
        reference.binary_cross_entropy_with_logits(
            x, y, weight=np.array([0.0, 2.0]), reduction="none"
        ),
    )


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize(("reduction", "ignore_index", "eps"), COMBOS)
def test_class_weight_gradients_match_torch(reduction, ignore_index, eps):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(47)
    x0, t0 = _batch(rng)
    x = torch.tensor(x0, requires_grad=True)
    t, w = torch.tensor(t0), torch.tensor(rng.uniform(0.1, 4.0, 5))
    kw = {"reduction": reduction, "label_smoothing": eps}
    ours = losses.cross_entropy(x, t, weight=w, ignore_index=ignore_index, **kw)
    theirs = torch.nn.functional.cross_entropy(x, t, weight=w, **kw, **_torch_kwargs(ignore_index))
    up = torch.tensor(rng.standard_normal(tuple(ours.shape)))
    (g1,) = torch.autograd.grad((ours * up).sum(), x)
    (g2,) = torch.autograd.grad((theirs * up).sum(), x)
    # gradients p_j sum(v) - v_j of moderate logits: torch's own rounding, some 10 eps
    torch.testing.assert_close(g1, g2, rtol=64 * 2.0**-52, atol=64 * 2.0**-52)


@pytest.mark.torch
@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_weight_gradients(eps):
    """PyTorch differentiates `weight` for probability targets (and refuses for class indices);
    numdl's gradients flow to it in both cases and match torch's where torch has one."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(48)
    x = torch.tensor(rng.standard_normal((6, 4)) * 2)
    p = torch.tensor(rng.dirichlet(np.ones(4), 6))
    w = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    ours = losses.cross_entropy(x, p, weight=w, label_smoothing=eps)
    theirs = torch.nn.functional.cross_entropy(x, p, weight=w, label_smoothing=eps)
    (g1,) = torch.autograd.grad(ours, w)
    (g2,) = torch.autograd.grad(theirs, w)
    torch.testing.assert_close(g1, g2, rtol=64 * 2.0**-52, atol=0)
    # class indices: d(sum of losses)/d weight_c = sum over rows of class c of their unweighted loss
    t = torch.tensor([0, 1, 1, 3, 3, 3])
    (gw,) = torch.autograd.grad(losses.cross_entropy(x, t, weight=w, reduction="sum"), w)
    plain = losses.cross_entropy(x, t, reduction="none").detach()
    expected = torch.zeros(4, dtype=torch.float64).index_add_(0, t, plain)
    torch.testing.assert_close(gw, expected, rtol=4 * 2.0**-52, atol=0)


@pytest.mark.torch
def test_zero_weight_gradients_are_finite():
    torch = pytest.importorskip("torch")
    x = torch.tensor([[1.0, -math.inf, 0.5], [0.0, 1.0, 2.0]], requires_grad=True)
    w = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float32)
    loss = losses.cross_entropy(x, torch.tensor([1, 2]), weight=w)
    (g,) = torch.autograd.grad(loss, x)
    assert torch.isfinite(g).all() and torch.all(g[0] == 0)
    xb = torch.tensor([math.inf, 1.0], requires_grad=True)
    bce = losses.binary_cross_entropy_with_logits(
        xb, torch.tensor([0.0, 0.0]), weight=torch.tensor([0.0, 2.0])
    )
    (gb,) = torch.autograd.grad(bce, xb)
    assert torch.isfinite(gb).all() and gb[0] == 0


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weight", [np.ones(3), np.ones((2, 2)), np.ones(5), np.float64(1.0)], ids=str
)
def test_weight_of_the_wrong_shape(weight):
    with pytest.raises(ValueError, match=r"weight has shape .*one weight per class, shape \(4,\)"):
        losses.cross_entropy(np.zeros((2, 4)), np.array([0, 1]), weight=weight)
    with pytest.raises(ValueError, match=r"weight has shape .*shape \(4,\)"):
        losses.cross_entropy(np.zeros((2, 4)), np.full((2, 4), 0.25), weight=weight)
    with pytest.raises(ValueError, match=r"weight shape"):
        reference.cross_entropy(np.zeros((2, 4)), np.array([0, 1]), weight=weight)


@pytest.mark.parametrize("weight", [np.ones(4, dtype=bool), np.ones(4, dtype=complex), ["a"] * 4])
def test_weight_of_the_wrong_type(weight):
    with pytest.raises(TypeError, match="weight must be"):
        losses.cross_entropy(np.zeros((2, 4)), np.array([0, 1]), weight=weight)


@pytest.mark.torch
def test_tensor_weight_errors():
    torch = pytest.importorskip("torch")
    x, t = torch.zeros((2, 4)), torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r"weight has shape \(3,\)"):
        losses.cross_entropy(x, t, weight=torch.ones(3))
    with pytest.raises(TypeError, match="weight must be"):
        losses.cross_entropy(x, t, weight=torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"weight .* does not broadcast"):
        losses.binary_cross_entropy_with_logits(x, x, weight=torch.ones(3))
    # a weight of another float dtype (torch: "expected scalar type Float") is accepted
    out = losses.cross_entropy(x, t, weight=torch.ones(4, dtype=torch.float64))
    assert out.dtype == torch.float32 and out.item() == pytest.approx(math.log(4), rel=1e-6)
    # a NumPy or list weight with tensor logits
    assert losses.cross_entropy(x, t, weight=[1.0, 1.0, 1.0, 1.0]).item() == out.item()


def test_negative_and_nan_weights_are_computed_as_in_torch():
    """PyTorch accepts any real weight; so does numdl (no accuracy claim for negative ones)."""
    x = np.array([[1.0, 0.0, 2.0], [0.5, 0.5, 0.0]])
    t = np.array([0, 2])
    plain = losses.cross_entropy(x, t, reduction="none")
    out = losses.cross_entropy(x, t, weight=np.array([-1.0, 1.0, 2.0]), reduction="none")
    np.testing.assert_array_equal(out, [-plain[0], 2 * plain[1]])
    assert math.isnan(losses.cross_entropy(x, t, weight=np.array([np.nan, 1.0, 1.0])))


def test_bce_shapes_must_match():
    """(N, 1) logits against (N,) targets would broadcast to (N, N) silently: PyTorch raises,
    and so does numdl, naming both arrays."""
    with pytest.raises(
        ValueError, match=r"target has shape \(4,\); it must have the logits' shape"
    ):
        losses.binary_cross_entropy_with_logits(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ValueError, match=r"target has shape \(4, 1\)"):
        losses.binary_cross_entropy_with_logits(np.zeros(4), np.zeros((4, 1)))
    # weights broadcast to the target's shape but may not enlarge it (PyTorch multiplies in place)
    for name in ("weight", "pos_weight"):
        with pytest.raises(ValueError, match=rf"{name} \(shape \(2, 4, 3\)\) does not broadcast"):
            losses.binary_cross_entropy_with_logits(
                np.zeros((4, 3)), np.zeros((4, 3)), **{name: np.ones((2, 4, 3))}
            )
        with pytest.raises(ValueError, match=rf"{name} \(shape \(2,\)\) does not broadcast"):
            losses.binary_cross_entropy_with_logits(
                np.zeros((4, 3)), np.zeros((4, 3)), **{name: np.ones(2)}
            )
    with pytest.raises(TypeError, match="weight must be"):
        losses.binary_cross_entropy_with_logits(
            np.zeros(3), np.zeros(3), weight=np.ones(3, dtype=bool)
        )


# ---------------------------------------------------------------------------------------------
# weight=None is today's code
# ---------------------------------------------------------------------------------------------


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("shape", [(8, 10), (40, 300)])
def test_weight_none_and_unit_weights_are_bit_identical(dtype, path, shape):
    """``weight=None`` is the unweighted code; unit weights without smoothing give the same bits
    (multiplying by 1 and adding the zero terms of the other classes are exact).  Checked once
    against the code before ``weight=`` existed: bit-identical on every path and dtype."""
    rng = np.random.default_rng(49)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    t = rng.integers(0, shape[1], shape[0])
    p = rng.dirichlet(np.ones(shape[1]), shape[0])
    ones = np.ones(shape[1])
    with config.override(**PATHS[path]):
        for reduction in REDUCTIONS:
            plain = losses.cross_entropy(x, t, reduction=reduction)
            assert _same_bits(losses.cross_entropy(x, t, reduction=reduction, weight=None), plain)
            assert _same_bits(losses.cross_entropy(x, t, reduction=reduction, weight=ones), plain)
            plain_p = losses.cross_entropy(x, p, reduction=reduction, label_smoothing=0.1)
            assert _same_bits(
                losses.cross_entropy(x, p, reduction=reduction, label_smoothing=0.1, weight=ones),
                plain_p,
            )
            y = rng.random(shape)
            bce = losses.binary_cross_entropy_with_logits(x, y, reduction=reduction)
            assert _same_bits(
                losses.binary_cross_entropy_with_logits(x, y, reduction=reduction, weight=None),
                bce,
            )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_reference_pair_form_with_weight(reduction):
    """``rounded="pair"`` gives the exact weighted values as an ExactArray (measured in ULPs)."""
    rng = np.random.default_rng(50)
    x, t = _hostile_rows(rng, np.float32)
    kw = {"reduction": reduction, "weight": HOSTILE_WEIGHTS, "ignore_index": 2}
    out = losses.cross_entropy(x, t, **kw)
    pair = reference.cross_entropy(x, t, rounded="pair", **kw)
    assert isinstance(pair, reference.ExactArray)
    errors = pair.ulp_error(out)
    np.testing.assert_array_less(errors, 1.0 + 2.0**-30)
    exact = reference.cross_entropy(x, t, rounded=False, **kw)
    np.testing.assert_allclose(
        errors, np.asarray(ulp_error(out, exact), dtype=float), atol=2.0**-30
    )
