"""gradcheck: correct gradients pass in float64 and float32, a 0.1%-wrong one fails -- the one
that torch.autograd.gradcheck's defaults pass."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.debug import GradcheckResult, gradcheck


def f_sin(x):
    return np.sum(np.sin(x) * x)


def g_sin(x):
    return np.cos(x) * x + np.sin(x)


X = np.array([0.5, 1.0, 2.0, -1.5])


@pytest.mark.parametrize("method", ["auto", "central", "complex"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_correct_gradient_passes(dtype, method):
    res = gradcheck(f_sin, X.astype(dtype), grad=g_sin, method=method)
    assert isinstance(res, GradcheckResult)
    assert res.passed and bool(res) and res.n_mismatched == 0 and res.n_checked == 4
    assert res.dtype == np.dtype(dtype).name
    assert res.method == ("central" if method == "central" else "complex")
    assert "gradcheck PASSED" in res.report


# The detectable relative error, by dtype and method: round-off-derived, so a claim to check,
# not a tolerance to pass.  Central differences resolve ~1e-9 in float64, ~1e-4 in float32.
RESOLUTION = {("float64", "central"): 1e-7, ("float32", "central"): 1e-2,
              ("float64", "complex"): 1e-13, ("float32", "complex"): 1e-5}


@pytest.mark.parametrize("method", ["central", "complex"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_gradient_off_by_a_tenth_of_a_percent_fails(dtype, method):
    res = gradcheck(f_sin, X.astype(dtype), grad=lambda x: 1.001 * g_sin(x), method=method)
    assert res.resolution < RESOLUTION[(np.dtype(dtype).name, method)]
    if dtype == np.float32 and method == "central":
        # Float32 differences cannot see 0.1% on every element; the largest ones they can.
        assert res.resolution < 1e-3 or not res.passed
    else:
        assert not res.passed and res.n_mismatched == 4
    if not res.passed:
        w = res.worst
        assert w.parameter == "x" and w.status == "mismatch"
        rel = 1e-2 if dtype == np.float64 else 5e-2  # float32's own differences are off ~1e-5
        assert w.error / abs(w.numeric) == pytest.approx(1e-3, rel=rel)
        assert "gradcheck FAILED" in res.report and f"worst: x[{w.index[0]}]" in res.report


def test_taylor_test_separates_a_wrong_gradient_from_truncation():
    ok = gradcheck(f_sin, X, grad=g_sin, method="central")
    bad = gradcheck(f_sin, X, grad=lambda x: 1.001 * g_sin(x), method="central")
    # Correct: |D(h) - g| is truncation, c h^2, so it falls 4x per halving of h (order 2) until
    # it reaches the rounding level.
    first_orders = [c.orders[0] for c in ok.checks]
    assert all(1.7 < o < 2.3 for o in first_orders), first_orders
    # Wrong: |D(h) - g| is the constant error of g: order 0.
    assert all(abs(o) < 0.05 for c in bad.checks for o in c.orders)
    assert "does not shrink with the step" in bad.report


def test_numpy_vector_function_checks_a_vector_jacobian_product():
    A = np.random.default_rng(1).standard_normal((5, 3))

    def f(x):
        return np.tanh(A @ x)

    def jac(x):
        return (1 - np.tanh(A @ x) ** 2)[:, None] * A

    x = np.array([0.1, -0.4, 0.3])
    assert gradcheck(f, x, grad=jac).passed
    wrong = jac(x).copy()
    wrong[2, 1] *= 1.01
    res = gradcheck(f, x, grad=wrong)
    assert not res.passed and res.worst.index == (1,)


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="grad is required"):
        gradcheck(f_sin, X)
    with pytest.raises(ValueError, match="method='bogus'"):
        gradcheck(f_sin, X, grad=g_sin, method="bogus")
    with pytest.raises(ValueError, match="must be finite"):
        gradcheck(f_sin, [1.0, np.nan], grad=g_sin)
    with pytest.raises(ValueError, match="shape of x"):
        gradcheck(f_sin, X, grad=lambda x: x[:2])
    with pytest.raises(ValueError, match="complex result"):
        gradcheck(lambda x: np.sum(np.abs(x)), X, grad=np.sign, method="complex")


def test_auto_falls_back_to_central_for_a_non_analytic_function():
    # x * conj(x) = |x|^2 runs on complex input and returns a complex array, but conj is not
    # analytic: the complex step would give 0, not 2x.  "auto" cross-checks and falls back.
    def f(x):
        return np.sum(x * np.conj(x))

    res = gradcheck(f, X, grad=lambda x: 2 * x)
    assert res.method == "central" and res.passed


# -- PyTorch -----------------------------------------------------------------------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _scaled_sin_function(torch, factor):
    class SinTimesX(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.sin(x) * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * (torch.cos(x) * x + torch.sin(x)) * factor

    return SinTimesX.apply


@pytest.mark.torch
def test_torch_gradcheck_defaults_pass_a_gradient_off_by_a_tenth_of_a_percent_numdl_fails(torch):
    # torch.autograd.gradcheck accepts |analytic - numerical| <= atol + rtol |numerical| with
    # atol=1e-5, rtol=1e-3: an analytic gradient of 1.001 x the true one is within rtol *exactly*,
    # whatever its size, so the defaults pass it (float64, the dtype torch recommends).
    wrong = _scaled_sin_function(torch, 1.001)
    x = torch.tensor([0.5, 1.0, 2.0, -1.5, 0.25], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(wrong, (x,)) is True
    assert torch.autograd.gradcheck(wrong, (x,), fast_mode=True) is True
    for method in ("auto", "central"):
        res = gradcheck(wrong, (x,), method=method)
        assert not res.passed and res.n_mismatched == 5
        w = res.worst
        assert w.parameter == "input 0" and w.status == "mismatch"
        assert w.error / abs(w.numeric) == pytest.approx(1e-3, rel=1e-3)
        assert f"worst: input 0[{w.index[0]}]" in res.report
    # The correct backward passes both.
    right = _scaled_sin_function(torch, 1.0)
    assert torch.autograd.gradcheck(right, (x,)) is True
    assert gradcheck(right, (x,)).passed


@pytest.mark.torch
@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
def test_torch_module_correct_gradients_pass(torch, dtype_name):
    dtype = getattr(torch, dtype_name)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(),
                              torch.nn.Linear(6, 2)).to(dtype)
    x = torch.randn(4, 3, dtype=dtype)
    res = gradcheck(net, (x,), max_elements=80)
    assert res.passed and res.dtype == dtype_name and not res.sampled
    assert {c.parameter for c in res.checks} >= {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert res.n_checked == 3 * 6 + 6 + 6 * 2 + 2 + 2  # all elements and 2 directions
    assert res.resolution < (1e-7 if dtype_name == "float64" else 1e-2)


@pytest.mark.torch
def test_torch_module_with_a_wrong_backward_names_the_parameter_and_element(torch):
    class Scale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64))

        def forward(self, x):
            return _Wrong.apply(self.w, x)

    class _Wrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w, x):
            ctx.save_for_backward(w, x)
            return torch.exp(w) * x

        @staticmethod
        def backward(ctx, g):
            w, x = ctx.saved_tensors
            gw = g * torch.exp(w) * x
            gw = gw.clone()
            gw[..., 2] *= 1.001  # wrong in one element only
            return gw.sum(0), g * torch.exp(w)

    x = torch.randn(4, 3, dtype=torch.float64)
    res = gradcheck(Scale(), (x,))
    assert not res.passed
    assert (res.worst.parameter, res.worst.index) == ("w", (2,))
    assert next(c.where for c in res.checks if c.status == "mismatch") == "w[2]"


@pytest.mark.torch
def test_torch_inputs_of_a_plain_function_are_checked(torch):
    a = torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=torch.float64)
    b = torch.tensor([0.3, 0.9], dtype=torch.float64)
    res = gradcheck(lambda a, b: torch.tanh(a @ b), (a, b))
    assert res.passed and {c.parameter for c in res.checks} >= {"input 0", "input 1"}
