"""numdl.stable: closed forms at the extremes, accuracy against numdl.reference (1 ULP for the narrow
formats, 2 max(1, kappa) ULP for float64) on every code path, properties, special values, PyTorch
tensors and gradients, and errors."""

from __future__ import annotations

import doctest
import math
import os

import ml_dtypes
import mpmath
import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import numdl
from numdl import naive, reference, stable
from numdl._engine import config, numpy_kernel
from numdl.reference import condition_number, round_to, ulp_error
from numdl.testing import assert_ulp_close

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16), BF16]
NARROW = DTYPES[1:]
ROW_FUNCTIONS = ["logsumexp", "softmax", "log_softmax"]
ELEMENTWISE = ["sigmoid", "log_sigmoid", "softplus", "log1mexp"]


def tolerance(dtype, kappa):
    """numdl's accuracy claim in ULPs: 1 for the narrow formats, 2 max(1, kappa) for float64."""
    if np.dtype(dtype) != np.float64:
        return 1.0
    return 2.0 * np.maximum(1.0, kappa)


def check(name, computed, *args, **kwargs):
    """Assert the accuracy claim of stable.`name` at these inputs; return the ULP errors."""
    exact = getattr(reference, name)(*args, rounded=False, **kwargs)
    errors = np.asarray(ulp_error(computed, exact), dtype=np.float64)
    dtype = np.asarray(computed).dtype if not hasattr(computed, "numpy") else computed.dtype
    kappa = condition_number(name, *args, **kwargs)
    limit = tolerance(dtype if isinstance(dtype, np.dtype) else np.float64, kappa)
    assert np.all(errors <= limit), (name, errors.max(), np.max(errors / np.maximum(limit, 1e-300)))
    return errors


# The compiled kernel is a path only where it built (make test requires it: NUMDL_REQUIRE_KERNELS).
PATHS = ["small", "numpy"] + (["compiled"] if config.settings.kernels is not None else [])
if os.environ.get("NUMDL_TEST_VARIANT_RERUN") and config.settings.kernels is not None:
    # a rerun for one instruction-set build (tools/kernel_paths.py): the other two paths do not
    # depend on it, and the main run tested them
    PATHS = ["compiled"]


@pytest.fixture(params=PATHS)
def path(request):
    """Run a test on the long-double small-input path, on the compiled kernel (numdl._kernels)
    and on the blocked pure-NumPy kernel that replaces it where it did not build."""
    settings = {}
    if request.param != "small":
        settings.update(small_threshold=0, long_double=None)
    if request.param == "numpy":
        settings.update(kernels=None)
    with config.override(**settings):
        yield request.param


# ---------------------------------------------------------------------------------------------
# Closed forms at the extremes (mpmath values, correctly rounded)
# ---------------------------------------------------------------------------------------------


def test_logsumexp_closed_forms(path):
    with mpmath.workprec(200):
        log2 = mpmath.log(2)
        assert stable.logsumexp(np.array([1000.0, 1000.0])) == round_to(1000 + log2, "float64")
        assert stable.logsumexp(np.array([-1000.0, -1000.0])) == round_to(-1000 + log2, "float64")
        # log(1 + exp(-40)): the small term survives (naive max-shift rounds it to 0)
        tiny = stable.logsumexp(np.array([0.0, -40.0]))
        exact = mpmath.log1p(mpmath.exp(-40))
        if path == "numpy":
            # log1p(s) returns s here (s**2 / 2 is 0.01 ULP), so the result is np.exp(-40),
            # whose last bit differs between CPUs; a faithful exp is within 0.86 ULP of it
            assert_ulp_close(tiny, exact, 1)
        else:
            # long double / the compiled 2**-58 exp: far below the 0.35 ULP to the midpoint
            assert tiny == round_to(exact, "float64")
        assert naive.logsumexp_max_shift(np.array([0.0, -40.0])) == 0.0
        assert stable.logsumexp(np.float32([88.0, 88.0])) == round_to(88 + log2, "float32")
    assert naive.logsumexp(np.array([1000.0, 1000.0])) == np.inf


def test_float16_long_row_does_not_overflow():
    x = np.zeros(100_000, dtype=np.float16)
    with mpmath.workprec(100):
        assert stable.logsumexp(x) == round_to(mpmath.log(100_000), "float16")
    assert naive.logsumexp_max_shift(x) == np.inf  # the float16 sum of 100000 ones overflows
    sm = stable.softmax(x)
    assert sm.dtype == np.float16 and np.all(sm == round_to(1e-5, "float16"))


def test_log_softmax_keeps_the_confident_class(path):
    x = np.array([[50.0, 0.0], [0.0, -50.0]])
    with mpmath.workprec(200):
        exact = -mpmath.log1p(mpmath.exp(-50))
    out = stable.log_softmax(x)
    if path == "numpy":
        # -log1p(s) is -s here, s = np.exp(-50), whose last bit differs between CPUs: a
        # faithful exp is within 0.85 ULP of the exact value
        assert_ulp_close(out[:, 0], np.array([exact, exact]), 1)
    else:
        # long double / the compiled 2**-58 exp: far below the 0.34 ULP to the midpoint
        assert out[0, 0] == round_to(exact, "float64") and out[1, 0] == round_to(exact, "float64")
    assert naive.log_softmax(x)[0, 0] == 0.0


def test_subnormal_results_are_not_flushed(path):
    with mpmath.workprec(200):
        assert stable.softmax(np.float32([100.0, 0.0]))[1] == round_to(
            mpmath.exp(-100) / (1 + mpmath.exp(-100)), "float32"
        )
        x = np.array([1372.49494681, 2082.39500809, 0.0])  # -exp(-710): a float64 subnormal
        out = stable.log_softmax(x)[1]
        assert out != 0
        if path == "numpy":
            # -log1p(s) is -s = -(e + e dl), e = np.exp(d), whose last bit differs between CPUs:
            # a faithful exp (< 1 ULP, here the subnormal spacing) plus the rounding of e dl
            # (<= 1/2; adding it is exact on the subnormal grid) is within 1.5 ULP
            assert_ulp_close(out, reference.log_softmax(x, rounded=False)[1], 1.5)
        else:
            # long double / the compiled 2**-58 exp: the exact value is 0.09 ULP from its rounding
            assert out == reference.log_softmax(x)[1]


# ---------------------------------------------------------------------------------------------
# Accuracy against the reference on each path and dtype
# ---------------------------------------------------------------------------------------------


def suites(rng, dtype):
    """(name, x) pairs: the inputs the accuracy benchmark calls hard, in small sizes."""
    fmt_max = {np.float16: 11.0, BF16.type: 88.0, np.float32: 88.0, np.float64: 709.0}
    top = fmt_max[np.dtype(dtype).type]
    yield "scale 1", rng.standard_normal((4, 9))
    yield "scale 100", rng.standard_normal((4, 9)) * 100
    yield "dominant", np.tile([0.0, -40.0, -41.0, -45.0, -38.0], (2, 1)) + np.array([[0.0], [7.5]])
    yield "confident", np.array([[17.0, 0, 0, 0], [37.0, 0, 0, 0], [0.0, -50, -50, -50]])
    logp = stable.log_softmax(rng.standard_normal((3, 8)).astype(dtype))
    yield "log-probabilities", logp
    yield "near overflow", top - rng.random((2, 6))
    yield "subnormal results", np.array([[0.0, -100.0, -103.0, -745.0]])
    yield (
        "+inf/-inf/nan",
        np.array([[np.inf, 1, 2], [np.nan, 1, 2], [-np.inf, 0, 1], [np.inf, np.inf, 0]]),
    )
    yield "all -inf", np.full((2, 3), -np.inf)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("name", ROW_FUNCTIONS)
def test_row_functions_within_claim(name, dtype, path):
    rng = np.random.default_rng(7)
    for _, x in suites(rng, dtype):
        x = np.asarray(x).astype(dtype)
        kwargs = {"axis": -1}
        out = getattr(stable, name)(x, **kwargs)
        assert out.dtype == dtype
        check(name, out, x, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_long_rows(dtype):
    """Rows longer than the kernel's block (two passes, chunks on threads)."""
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((1, 3 * numpy_kernel.BLOCK + 17)) * 4).astype(dtype)
    x[0, 5] = -np.inf
    lse = stable.logsumexp(x, axis=1)
    assert_ulp_close(lse, reference.logsumexp(x, axis=1, rounded=False), max_ulp=1.0)
    for name in ("softmax", "log_softmax"):
        out = getattr(stable, name)(x)
        errors = getattr(reference, name)(x, rounded="pair").ulp_error(out)
        kappa = condition_number(name, x) if dtype == np.float64 else 0.0
        assert np.all(errors <= tolerance(dtype, kappa)), (name, errors.max())


def test_threads_and_blocks_agree():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((64, 5000)) * 10
    x[3, 7] = -np.inf
    results = {}
    for threads in (1, 2):
        with config.override(threads=threads):
            results[threads] = [
                stable.softmax(x), stable.log_softmax(x), stable.logsumexp(x, axis=1)
            ]
    for a, b in zip(results[1], results[2], strict=True):
        np.testing.assert_array_equal(a, b)
    kappa = condition_number("softmax", x)
    errors = reference.softmax(x, rounded="pair").ulp_error(results[2][0])
    assert np.all(errors <= tolerance(np.float64, kappa))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_within_claim(name, dtype):
    rng = np.random.default_rng(10)
    x = np.concatenate(
        [rng.uniform(-40, 40, 60), rng.uniform(-1000, 1000, 30), [0.0, 1e-30, -1e-30, 20, 37, -37]]
    )
    x = np.concatenate([x, [np.inf, -np.inf, np.nan]]).astype(dtype)
    out = getattr(stable, name)(x)
    assert out.dtype == dtype
    check(name, out, x)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_logaddexp_within_claim(dtype):
    rng = np.random.default_rng(11)
    x1 = np.concatenate([rng.standard_normal(60) * 10, [np.inf, -np.inf, -np.inf, np.nan, 1000]])
    x2 = np.concatenate([rng.standard_normal(60) * 10, [1.0, 2.0, -np.inf, 1.0, 1000]])
    # results near 0, where max and log1p cancel: logaddexp(log p, log(1 - p))
    p = rng.random(20)
    x1 = np.concatenate([x1, np.log(p)]).astype(dtype)
    x2 = np.concatenate([x2, np.log1p(-p)]).astype(dtype)
    out = stable.logaddexp(x1, x2)
    assert out.dtype == dtype
    check("logaddexp", out, x1, x2)


def test_softplus_where_pytorch_switches_to_x():
    x = np.linspace(20, 37, 200)
    check("softplus", stable.softplus(x), x)


# ---------------------------------------------------------------------------------------------
# Properties (Hypothesis)
# ---------------------------------------------------------------------------------------------

finite64 = st.floats(-300, 300, allow_nan=False, allow_infinity=False)
rows = hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 12)), elements=finite64)


@settings(max_examples=40, deadline=None)
@given(rows)
def test_softmax_rows_sum_to_one_and_match_exp_log_softmax(x):
    sm = stable.softmax(x)
    n = x.shape[1]
    np.testing.assert_allclose(sm.sum(axis=1), 1.0, rtol=0, atol=4 * n * 2.0**-53)
    # exp(log_softmax) = softmax, up to the condition of exp at log_softmax
    ls = stable.log_softmax(x)
    assert np.all(np.abs(np.exp(ls) - sm) <= 4 * 2.0**-53 * (1 + np.abs(ls)) * sm + 1e-300)


@settings(max_examples=40, deadline=None)
@given(rows, st.integers(-64, 64))
def test_shift_invariance(x, k):
    """softmax(x + c) = softmax(x) for a shift c = 2**k * integer that keeps x + c exact."""
    c = float(np.ldexp(3.0, k))
    shifted = x + c
    exact_shift = np.all(shifted - c == x)
    if not exact_shift:
        return
    kappa = condition_number("softmax", shifted)
    errors = ulp_error(stable.softmax(shifted), reference.softmax(x, rounded=False))
    assert np.all(errors <= tolerance(np.float64, kappa))


@settings(max_examples=40, deadline=None)
@given(rows)
def test_logsumexp_bounds_and_reference(x):
    lse = stable.logsumexp(x, axis=1)
    n = x.shape[1]
    assert np.all(lse >= x.max(axis=1))
    assert np.all(lse <= x.max(axis=1) + math.log(n) + 1e-12 * (1 + np.abs(lse)))
    check("logsumexp", lse, x, axis=1)


@settings(max_examples=30, deadline=None)
@given(
    hnp.arrays(
        st.sampled_from([np.float32, np.float16]),
        st.integers(1, 20),
        elements=st.floats(-60, 60, width=16),
    )
)
def test_narrow_formats_within_one_ulp(x):
    for name in ROW_FUNCTIONS:
        out = getattr(stable, name)(x)
        assert_ulp_close(out, getattr(reference, name)(x, rounded=False), max_ulp=1.0)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 30), elements=st.floats(-50, 50)))
def test_logsumexp_is_monotone(x):
    bigger = x.copy()
    bigger[0] = np.nextafter(x[0], np.inf)
    assert stable.logsumexp(bigger) >= stable.logsumexp(x)


# ---------------------------------------------------------------------------------------------
# Special values, shapes, axes, weights
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "lse", "softmax", "log_softmax"),
    [
        ([np.nan, 1.0], np.nan, [np.nan, np.nan], [np.nan, np.nan]),
        ([np.inf, 1.0], np.inf, [1.0, 0.0], [0.0, -np.inf]),
        ([np.inf, np.inf, 1.0], np.inf, [np.nan, np.nan, 0.0], [np.nan, np.nan, -np.inf]),
        ([-np.inf, -np.inf], -np.inf, [np.nan, np.nan], [np.nan, np.nan]),
        ([np.inf, -np.inf], np.inf, [1.0, 0.0], [0.0, -np.inf]),
        ([-np.inf, 0.0], 0.0, [0.0, 1.0], [-np.inf, 0.0]),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_special_values(row, lse, softmax, log_softmax, dtype, path):
    x = np.array(row, dtype=dtype)
    with np.errstate(all="raise"):  # no warnings either
        np.testing.assert_array_equal(stable.logsumexp(x), lse)
        np.testing.assert_array_equal(stable.softmax(x), softmax)
        np.testing.assert_array_equal(stable.log_softmax(x), log_softmax)


def test_empty_and_scalar_inputs():
    assert stable.logsumexp(np.zeros(0)) == -np.inf
    assert stable.logsumexp(np.zeros((3, 0)), axis=1).tolist() == [-np.inf] * 3
    assert stable.softmax(np.zeros((2, 0))).shape == (2, 0)
    assert stable.softmax(np.float32(3.0)) == 1 and stable.log_softmax(2.0) == 0
    assert stable.logsumexp(5.0) == 5.0


def test_axes_keepdims_and_integer_input():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 4))
    assert stable.logsumexp(x, axis=(0, 2)).shape == (3,)
    assert stable.logsumexp(x, axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    assert_ulp_close(
        stable.logsumexp(x, axis=(0, 2)), reference.logsumexp(x, axis=(0, 2), rounded=False), 2
    )
    sm = stable.softmax(x, axis=(0, 2))
    np.testing.assert_array_equal(sm, reference.softmax(x, axis=(0, 2)))
    np.testing.assert_array_equal(stable.log_softmax(x, axis=0), reference.log_softmax(x, axis=0))
    ints = np.array([1, 2, 3])
    assert stable.softmax(ints).dtype == np.float64  # integers are computed as float64, as in SciPy
    assert stable.logsumexp(ints) == reference.logsumexp(ints.astype(np.float64))


def test_weighted_logsumexp_matches_scipy_and_reference():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((5, 6)) * 3
    b = rng.uniform(-1, 2, (5, 6))
    ours, sign = stable.logsumexp(x, axis=1, b=b, return_sign=True)
    theirs, their_sign = scipy.special.logsumexp(x, axis=1, b=b, return_sign=True)
    np.testing.assert_array_equal(sign, their_sign)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13)
    exact = reference.logsumexp(x, axis=1, b=b, return_sign=True, rounded=False)[0]
    assert np.all(ulp_error(ours, exact) <= 4)
    # negative sums without return_sign are NaN; a zero sum is -inf with sign 0
    assert np.isnan(stable.logsumexp([1.0, 2.0], b=[1.0, -1.0]))
    assert stable.logsumexp([3.0, 3.0], b=[1.0, -1.0], return_sign=True) == (-np.inf, 0.0)
    assert stable.logsumexp([np.inf, 0.0], b=[0.0, 1.0]) == 0.0  # weight 0 drops inf (SciPy)
    assert stable.logsumexp(np.float32([1, 2]), b=np.float64([1, 1])).dtype == np.float64
    # NumPy's promotion, as SciPy: integer weights are int64, result_type(float32, int64) = float64
    assert stable.logsumexp(np.float32([1, 2]), b=[1, 1]).dtype == np.float64
    assert stable.logsumexp(np.int64([1, 2]), b=np.float32([1, 1])).dtype == np.float64
    with mpmath.workprec(200):  # a tiny remainder next to the largest term is kept
        got = stable.logsumexp([0.0, -40.0], b=[2.0, 1.0])
        assert got == round_to(mpmath.log(2 + mpmath.exp(-40)), "float64")


def test_weighted_keepdims_and_sign_shapes():
    x = np.ones((2, 3))
    out, sign = stable.logsumexp(x, axis=1, b=np.ones(3), keepdims=True, return_sign=True)
    assert out.shape == sign.shape == (2, 1)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_bad_input_raises_clear_errors():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"axis=2 is out of range for a 2-D array"):
        stable.softmax(x, axis=2)
    with pytest.raises(ValueError, match=r"axis=-3 is out of range"):
        stable.logsumexp(x, axis=-3)
    with pytest.raises(ValueError, match="repeats"):
        stable.logsumexp(x, axis=(1, -1))
    with pytest.raises(TypeError, match="axis must be an int"):
        stable.log_softmax(x, axis=1.0)
    with pytest.raises(TypeError, match="x must be a real floating-point array"):
        stable.softmax(np.array([True, False]))
    with pytest.raises(TypeError, match="x must be a real floating-point array"):
        stable.softmax(np.array([1 + 2j]))  # complex: logsumexp and logaddexp only
    with pytest.raises(TypeError, match="x1 must be"):
        stable.logaddexp(np.array(["a"]), 1.0)
    with pytest.raises(ValueError, match=r"b \(shape \(2,\)\) does not broadcast"):
        stable.logsumexp(x, b=np.ones(2))


def test_top_level_exports():
    for name in ["logsumexp", "softmax", "log_softmax", "logaddexp", "log1mexp", "sigmoid"]:
        assert getattr(numdl, name) is getattr(stable, name)
    assert numdl.reference is reference
    assert stable.one_minus_cos_ratio(0.0) == 0.5


def test_docstring_examples_run():
    result = doctest.testmod(numdl.stable, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


# ---------------------------------------------------------------------------------------------
# PyTorch tensors
# ---------------------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("dtype_name", ["float64", "float32", "float16", "bfloat16"])
def test_torch_tensors_in_and_out(dtype_name):
    torch = pytest.importorskip("torch")
    dtype = getattr(torch, dtype_name)
    rng = np.random.default_rng(14)
    x = torch.tensor(rng.standard_normal((5, 7)) * 20).to(dtype)
    x[0, 1] = -math.inf
    for name in ROW_FUNCTIONS + ELEMENTWISE:
        kwargs = {"axis": 1} if name == "logsumexp" else {}
        out = getattr(stable, name)(x, **kwargs)
        assert isinstance(out, torch.Tensor) and out.dtype == dtype
        check(name, out, x, **kwargs)
    out = stable.logaddexp(x, x.flip(0))
    assert out.dtype == dtype
    check("logaddexp", out, x, x.flip(0))


@pytest.mark.torch
def test_torch_special_rows_and_weights():
    torch = pytest.importorskip("torch")
    x = torch.tensor([[math.inf, 1, 2], [math.nan, 1, 2], [-math.inf, -math.inf, -math.inf]])
    np.testing.assert_array_equal(stable.softmax(x).numpy(), reference.softmax(x.numpy()))
    np.testing.assert_array_equal(stable.log_softmax(x).numpy(), reference.log_softmax(x.numpy()))
    np.testing.assert_array_equal(
        stable.logsumexp(x, axis=1).numpy(), [math.inf, math.nan, -math.inf]
    )
    xb = torch.tensor([1.0, 2.0], dtype=torch.float64)
    value, sign = stable.logsumexp(
        xb, b=torch.tensor([1.0, -1.0], dtype=torch.float64), return_sign=True
    )
    assert sign.item() == -1 and value.item() == pytest.approx(math.log(math.e**2 - math.e))


@pytest.mark.torch
def test_torch_gradients_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(15)
    x = torch.tensor(rng.standard_normal((4, 6)) * 3, requires_grad=True)
    weights = torch.tensor(rng.standard_normal((4, 6)))
    cases = [
        (lambda t: stable.logsumexp(t, axis=1), lambda t: torch.logsumexp(t, 1)),
        (stable.softmax, lambda t: torch.softmax(t, -1)),
        (stable.log_softmax, lambda t: torch.log_softmax(t, -1)),
    ]
    for ours, theirs in cases:
        w = weights if ours is not cases[0][0] else weights[:, 0]
        (g1,) = torch.autograd.grad((ours(x) * w).sum(), x)
        (g2,) = torch.autograd.grad((theirs(x) * w).sum(), x)
        torch.testing.assert_close(g1, g2, rtol=1e-13, atol=1e-15)
    z = torch.tensor(
        [-800.0, -30.0, -1.0, 0.0, 1.0, 30.0, 800.0], dtype=torch.float64, requires_grad=True
    )
    derivative = torch.sigmoid(z.detach())
    for ours, expected in [
        (stable.sigmoid, derivative * torch.sigmoid(-z.detach())),
        (stable.softplus, derivative),
        (stable.log_sigmoid, torch.sigmoid(-z.detach())),
    ]:
        (g,) = torch.autograd.grad(ours(z).sum(), z)
        torch.testing.assert_close(g, expected, rtol=1e-14, atol=1e-300)
    a = torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(stable.log1mexp(a).sum(), a)
    torch.testing.assert_close(g, 1 / torch.expm1(a.detach()))
    # -inf entries get gradient 0, not NaN
    m = torch.tensor([-math.inf, 0.0, 1.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(stable.logsumexp(m), m)
    assert torch.isfinite(g).all() and g[0] == 0


@pytest.mark.torch
def test_torch_gradcheck():
    torch = pytest.importorskip("torch")
    x = torch.randn(
        3, 5, dtype=torch.float64, requires_grad=True, generator=torch.Generator().manual_seed(0)
    )
    assert torch.autograd.gradcheck(lambda t: stable.log_softmax(t), (x,))
    assert torch.autograd.gradcheck(lambda t: stable.softmax(t * 3), (x,))
    assert torch.autograd.gradcheck(lambda t: stable.logaddexp(t, t.flip(1)), (x,))


@pytest.mark.torch
def test_torch_certified_rows_keep_their_gradient():
    """float32 logsumexp near 0 is recomputed exactly; the gradient still flows."""
    torch = pytest.importorskip("torch")
    p = np.random.default_rng(16).dirichlet(np.ones(50), 4)
    logp = torch.tensor(np.log(p), dtype=torch.float32, requires_grad=True)
    lse = stable.logsumexp(logp, axis=1)
    assert_ulp_close(lse.detach(), reference.logsumexp(logp.detach(), axis=1, rounded=False), 1.0)
    (g,) = torch.autograd.grad(lse.sum(), logp)
    torch.testing.assert_close(g, torch.softmax(logp.detach(), 1))


# -- regressions: broadcasting of two arrays, 0-D input ------------------------------------------


@pytest.mark.parametrize("axis", [-1, -2, 0, 1, None, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_b_with_more_dimensions_than_x(axis, keepdims):
    """x (4,) and b (3, 4): broadcast first, axis counts the broadcast axes (SciPy's rule); before,
    axis=-1 silently reduced axis 0 of the result and axis=-2 raised."""
    x = np.arange(4.0)
    b = np.arange(12.0).reshape(3, 4) + 1
    got = stable.logsumexp(x, b=b, axis=axis, keepdims=keepdims)
    want = scipy.special.logsumexp(x, b=b, axis=axis, keepdims=keepdims)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=4 * 2.0**-52)
    exact = reference.logsumexp(np.broadcast_to(x, b.shape), b=b, axis=axis, keepdims=keepdims)
    assert np.max(ulp_error(got, exact)) <= 1


def test_logsumexp_x_with_more_dimensions_than_b():
    x = np.arange(12.0).reshape(3, 4)
    b = np.array([1.0, 0.0, 2.0, 1.0])
    np.testing.assert_allclose(stable.logsumexp(x, b=b, axis=-1),
                               scipy.special.logsumexp(x, b=b, axis=-1), rtol=4 * 2.0**-52)


def test_logaddexp_broadcasts_like_numpy():
    x1, x2 = np.zeros(4), np.linspace(-3, 3, 12).reshape(3, 4)
    np.testing.assert_allclose(stable.logaddexp(x1, x2), np.logaddexp(x1, x2), rtol=4 * 2.0**-52)
    with pytest.raises(ValueError):
        stable.logaddexp(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("fn", [stable.softmax, stable.log_softmax])
@pytest.mark.parametrize("axis", [0, -1, None])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_of_a_0d_array(fn, axis, dtype):
    """A 0-D input is one element along axis 0 (SciPy, PyTorch): softmax 1, log_softmax 0; it
    raised IndexError before."""
    got = fn(np.array(1.5, dtype=dtype), axis=axis)
    assert np.ndim(got) == 0 and np.asarray(got).dtype == dtype
    assert float(got) == (1.0 if fn is stable.softmax else 0.0)
    assert math.isnan(float(fn(np.array(np.nan, dtype=dtype), axis=axis)))
    with pytest.raises(ValueError, match="axis"):
        fn(np.array(1.0), axis=1)


# -- softplus(beta, threshold): torch.nn.functional.softplus's options ---------------------------


@pytest.mark.parametrize("beta", [0.5, 2.0, 10.0, -1.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_softplus_beta_is_accurate(beta, dtype):
    x = np.concatenate([np.linspace(-60, 60, 241), [-1e4, 1e4, 0.0, 1e-30]]).astype(dtype)
    got = stable.softplus(x, beta=beta)
    exact = reference.softplus(x, beta=beta, rounded=False)
    if dtype == np.float64:
        # the claim for beta = 1 is 2 max(1, kappa) ULP; forming beta x adds a relative 2**-53
        # (half an ULP) that the condition number kappa = |bx| sigmoid(bx) / softplus(bx) <=
        # max(1, |bx|) amplifies: 2.5 max(1, |bx|) ULP in all
        kappa = np.maximum(1.0, np.abs(beta * x.astype(np.float64)))
        assert np.all(ulp_error(got, exact) <= 2.5 * kappa + 1)
    else:
        assert np.max(ulp_error(got, exact)) <= 1  # float64 work, one rounding at the end


def test_softplus_threshold_switches_like_torch():
    torch = pytest.importorskip("torch")
    x = np.linspace(-30, 30, 601)
    for beta, threshold in [(1.0, 20.0), (2.0, 5.0), (0.5, 1.0)]:
        want = torch.nn.functional.softplus(torch.from_numpy(x), beta=beta, threshold=threshold)
        got = stable.softplus(x, beta=beta, threshold=threshold)
        np.testing.assert_allclose(got, want.numpy(), rtol=4 * 2.0**-52, atol=0)
        switched = beta * x > threshold
        np.testing.assert_array_equal(got[switched], x[switched])  # exactly x where it switches
        t = torch.from_numpy(x.copy()).requires_grad_(True)
        stable.softplus(t, beta=beta, threshold=threshold).sum().backward()
        s = torch.from_numpy(x.copy()).requires_grad_(True)
        torch.nn.functional.softplus(s, beta=beta, threshold=threshold).sum().backward()
        np.testing.assert_allclose(t.grad.numpy(), s.grad.numpy(), rtol=1e-14, atol=1e-300)


def test_softplus_default_keeps_the_exact_value_where_torch_switches():
    x = np.array([25.0, 40.0])
    np.testing.assert_array_equal(stable.softplus(x), stable.softplus(x, beta=1.0))
    assert stable.softplus(x)[0] > 25.0  # torch's switch at 20 returns 25 exactly
    assert float(stable.softplus(np.array(np.inf), beta=-2.0)) == 0.0
    assert float(stable.softplus(np.array(-np.inf), beta=-2.0)) == -np.inf


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"beta": 0.0}, ValueError, "beta"),
    ({"beta": np.inf}, ValueError, "beta"),
    ({"beta": "2"}, TypeError, "beta"),
    ({"threshold": np.nan}, ValueError, "threshold"),
    ({"threshold": [20]}, TypeError, "threshold"),
])
def test_softplus_options_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        stable.softplus(np.zeros(2), **kwargs)


# -- where= (JAX's masks) ------------------------------------------------------------------------


def _rows_with_mask():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((6, 9)) * 30
    keep = rng.random((6, 9)) < 0.6
    keep[1] = False  # a fully masked row
    keep[2] = True
    x[~keep & (rng.random((6, 9)) < 0.5)] = np.nan  # masked NaN and inf must not leak
    x[0, ~keep[0]] = np.inf
    return x, keep


def test_logsumexp_where_is_the_logsumexp_of_the_kept_elements():
    x, keep = _rows_with_mask()
    got = stable.logsumexp(x, axis=-1, where=keep)
    # the same values as on the kept elements alone, to the accuracy claim (the two calls may take
    # different paths: a row of 9 with -inf in it, or a short row)
    for r in range(x.shape[0]):
        want = stable.logsumexp(x[r][keep[r]]) if keep[r].any() else -np.inf
        np.testing.assert_allclose(got[r], want, rtol=4 * 2.0**-52)
    assert got[1] == -np.inf  # the empty sum
    np.testing.assert_allclose(stable.logsumexp(x, axis=None, where=keep),
                               stable.logsumexp(x[keep]), rtol=4 * 2.0**-52)


@pytest.mark.parametrize("fn", [stable.softmax, stable.log_softmax])
def test_softmax_where_masks_like_jax(fn):
    x, keep = _rows_with_mask()
    got = fn(x, axis=-1, where=keep)
    masked_value = 0.0 if fn is stable.softmax else -np.inf
    assert np.all(got[~keep] == masked_value)  # NaN and inf under the mask give nothing
    assert np.all(got[1] == masked_value)  # fully masked: JAX's 0 / -inf, not NaN
    for r in (0, 2, 3, 4, 5):
        np.testing.assert_allclose(got[r][keep[r]], fn(x[r][keep[r]]), rtol=8 * 2.0**-52,
                                   atol=2.0**-1074)


def test_where_broadcasts_to_x_and_is_checked():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(stable.softmax(x, where=np.array([True, False, True])),
                                  stable.softmax(x, where=np.array([[True, False, True]] * 2)))
    with pytest.raises(TypeError, match="where"):
        stable.softmax(x, where=np.ones(3))
    with pytest.raises(ValueError, match="where"):
        stable.logsumexp(np.zeros(3), where=np.ones((2, 3), bool))


def test_where_on_torch_gives_no_nan_gradient():
    torch = pytest.importorskip("torch")
    x, keep = _rows_with_mask()
    t = torch.tensor(x, requires_grad=True)
    y = stable.log_softmax(t, axis=-1, where=torch.tensor(keep))
    # the array-API path computes the same formulas as the NumPy kernel, not the same roundings
    np.testing.assert_allclose(y.detach().numpy(), stable.log_softmax(x, axis=-1, where=keep),
                               rtol=8 * 2.0**-52, atol=2.0**-1074)
    y[keep].sum().backward()
    assert torch.isfinite(t.grad).all() and (t.grad[torch.tensor(~keep)] == 0).all()
    lse = stable.logsumexp(torch.tensor(x), axis=-1, where=torch.tensor(keep))
    np.testing.assert_allclose(lse.numpy(), stable.logsumexp(x, axis=-1, where=keep),
                               rtol=8 * 2.0**-52)


# -- dtype= (PyTorch's): cast first, compute and return in that dtype ----------------------------


@pytest.mark.parametrize("fn", [stable.softmax, stable.log_softmax])
def test_dtype_casts_first_like_torch(fn):
    x16 = np.array([[1.0, 2.0, 3.0], [-8.0, 0.5, 11.0]], dtype=np.float16)
    got = fn(x16, dtype="float32")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, fn(x16.astype(np.float32)))
    narrowed = fn(np.array([0.1, 0.2, 0.7]), dtype=ml_dtypes.bfloat16)  # inputs rounded first
    np.testing.assert_array_equal(narrowed, fn(np.array([0.1, 0.2, 0.7]).astype(ml_dtypes.bfloat16)))
    torch = pytest.importorskip("torch")
    t = torch.tensor(x16.astype(np.float32), dtype=torch.float16)
    tfn = torch.softmax if fn is stable.softmax else torch.log_softmax
    y = fn(t, dtype=torch.float32)
    assert y.dtype == torch.float32
    np.testing.assert_allclose(y.numpy(), tfn(t, -1, dtype=torch.float32).numpy(), rtol=2e-7,
                               atol=1e-7)


def test_dtype_must_be_floating_and_of_the_inputs_library():
    with pytest.raises(ValueError, match="dtype"):
        stable.softmax(np.zeros(3), dtype="int32")
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="dtype"):
        stable.log_softmax(torch.zeros(3), dtype=torch.int64)
    with pytest.raises(TypeError, match="dtype"):
        stable.softmax(torch.zeros(3), dtype=np.float32)


# -- complex input (SciPy's logsumexp) -----------------------------------------------------------


def _complex_cases():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((5, 7)) * 20 + 1j * rng.standard_normal((5, 7)) * 3
    z[0] += 700  # exp would overflow without the shift
    return z


@pytest.mark.parametrize("kwargs", [{}, {"axis": -1}, {"axis": 0, "keepdims": True},
                                    {"axis": -1, "return_sign": True}])
def test_complex_logsumexp_is_scipys_and_exact(kwargs):
    z = _complex_cases()
    got = stable.logsumexp(z, **kwargs)
    want = scipy.special.logsumexp(z, **kwargs)
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=1e-13)
    # against mpmath at 50 digits, row by row (principal branch; rows do not cancel here)
    rows = stable.logsumexp(z, axis=-1)
    with mpmath.workdps(50):
        for r in range(z.shape[0]):
            exact = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpc(v)) for v in z[r]))
            assert abs(complex(exact) - rows[r]) <= 4 * 2.0**-52 * abs(complex(exact))


def test_complex_weights_dtypes_and_logaddexp():
    z = _complex_cases()[1:3]
    b = np.array([1.0, -1.0, 2.0, 0.0, 1.0, 3.0, 1.0])
    np.testing.assert_allclose(stable.logsumexp(z, axis=-1, b=b),
                               scipy.special.logsumexp(z, axis=-1, b=b), rtol=1e-13)
    assert stable.logsumexp(z.astype(np.complex64), axis=-1).dtype == np.complex64
    assert stable.logsumexp(np.array([-np.inf + 0j, -np.inf + 0j])) == -np.inf
    x1, x2 = z[0], z[1]
    want = np.log(np.exp(x1 - 50) + np.exp(x2 - 50)) + 50
    np.testing.assert_allclose(stable.logaddexp(x1, x2), want, rtol=1e-13)
    assert stable.logaddexp(np.complex64(1 + 1j), np.float32(0.0)).dtype == np.complex64


@pytest.mark.parametrize("fn", [stable.logsumexp, stable.softmax, stable.log_softmax,
                                stable.sigmoid, stable.log_sigmoid, stable.softplus,
                                stable.log1mexp, lambda x: stable.logaddexp(x, x),
                                lambda x: numdl.cross_entropy(x[None], np.array([0])),
                                lambda x: numdl.binary_cross_entropy_with_logits(x, x * 0)])
def test_longdouble_is_a_clear_type_error(fn):
    """numdl computes narrow formats in float64 and float64 with error-free transforms; a long
    double input would silently lose its extra bits, so it is refused (convert it explicitly)."""
    x = np.array([1.0, 2.0], dtype=np.longdouble)
    if np.finfo(np.longdouble).nmant == 52:  # long double is float64 here (MSVC, Apple arm64)
        assert np.all(np.isfinite(fn(x)))
        return
    with pytest.raises(TypeError, match=r"float(80|96|128)|longdouble"):
        fn(x)


def test_one_minus_cos_ratio_computes_in_long_double():
    """The one function that computes in its input's own dtype supports long double too."""
    x = np.array([1e-12, 1e-3, 0.5, 2.0, 30.0], dtype=np.longdouble)
    got = stable.one_minus_cos_ratio(x)
    assert got.dtype == np.longdouble
    eps = float(np.finfo(np.longdouble).eps)
    with mpmath.workdps(40):
        for xi, gi in zip(x, got):
            v = mpmath.mpf(xi.as_integer_ratio()[0]) / xi.as_integer_ratio()[1]
            exact = 2 * mpmath.sin(v / 2) ** 2 / v**2  # no cancellation at any precision
            assert abs(mpmath.mpf(gi.as_integer_ratio()[0]) / gi.as_integer_ratio()[1] - exact) \
                <= 8 * eps * abs(exact)


@pytest.mark.parametrize("axis", [-1, -2, None])
def test_logsumexp_b_with_more_dimensions_than_x_on_torch(axis):
    torch = pytest.importorskip("torch")
    x, b = np.arange(4.0), np.arange(12.0).reshape(3, 4) + 1
    got = stable.logsumexp(torch.from_numpy(x), b=torch.from_numpy(b), axis=axis)
    want = scipy.special.logsumexp(x, b=b, axis=axis)
    assert tuple(got.shape) == np.shape(want)
    np.testing.assert_allclose(got.numpy(), want, rtol=4 * 2.0**-52)
