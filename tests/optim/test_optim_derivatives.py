"""Finite differences and complex step: accuracy keyed by method and dtype, and the V-shaped curve."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.optim import derivatives as d


def f_exp_sin(v):
    return np.exp(v[0]) * np.sin(v[1]) + v[0] ** 3 * v[1]


def grad_exp_sin(v):
    return np.array([np.exp(v[0]) * np.sin(v[1]) + 3 * v[0] ** 2 * v[1],
                     np.exp(v[0]) * np.cos(v[1]) + v[0] ** 3])


def hess_exp_sin(v):
    e, s, c = np.exp(v[0]), np.sin(v[1]), np.cos(v[1])
    return np.array([[e * s + 6 * v[0] * v[1], e * c + 3 * v[0] ** 2],
                     [e * c + 3 * v[0] ** 2, -e * s]])


# Relative error bounds, in powers of eps: the truncation/rounding balance predicts
# forward ~ eps^(1/2), central ~ eps^(2/3), Richardson ~ eps^(4/5), complex ~ eps (module table),
# with a constant factor of up to ~100 for this function's higher derivatives.
GRADIENT_BOUND = {"forward": 1 / 2, "central": 2 / 3, "richardson": 4 / 5, "complex": 1.0}
HESSIAN_BOUND = {"forward": 1 / 3, "central": 1 / 2, "richardson": 2 / 3, "complex": 2 / 3}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("method", d.METHODS)
def test_gradient_accuracy_by_method_and_dtype(method, dtype):
    eps = float(np.finfo(dtype).eps)
    x = np.array([0.7, -1.3], dtype=dtype)
    exact = grad_exp_sin(x.astype(np.float64))
    g = d.gradient(f_exp_sin, x, method=method)
    assert g.dtype == dtype
    err = np.max(np.abs(g - exact)) / np.max(np.abs(exact))
    # the float32 input itself is exact; only the differencing is in float32
    assert err <= 100 * eps ** GRADIENT_BOUND[method] + (2 * eps if method == "complex" else 0)


@pytest.mark.parametrize("method", d.METHODS)
def test_hessian_accuracy_by_method(method):
    eps = float(np.finfo(np.float64).eps)
    x = np.array([0.7, -1.3])
    H = d.hessian(f_exp_sin, x, method=method)
    np.testing.assert_array_equal(H, H.T)
    exact = hess_exp_sin(x)
    err = np.max(np.abs(H - exact)) / np.max(np.abs(exact))
    assert err <= 100 * eps ** HESSIAN_BOUND[method]


def test_complex_step_is_exact_to_a_few_ulps():
    x = np.array([0.7, -1.3])
    g = d.gradient(f_exp_sin, x, method="complex")
    np.testing.assert_allclose(g, grad_exp_sin(x), rtol=4 * np.finfo(float).eps)


def test_jacobian_shape_and_values():
    def f(v):
        return np.array([v[0] * v[1] * v[2], np.sin(v[0]) + v[2] ** 2])

    x = np.array([1.0, 2.0, 3.0])
    exact = np.array([[6.0, 3.0, 2.0], [np.cos(1.0), 0.0, 6.0]])
    for method in d.METHODS:
        J = d.jacobian(f, x, method=method)
        assert J.shape == (2, 3)
        np.testing.assert_allclose(J, exact, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(d.jacobian(f, x, method="complex"), exact, rtol=1e-15, atol=0)


def test_gradient_of_a_matrix_argument_keeps_its_shape():
    W = np.arange(6.0).reshape(2, 3) / 10
    g = d.gradient(lambda w: np.sum(w**3), W, method="complex")
    assert g.shape == (2, 3)
    # at w = 0 the O(h^2) truncation term shows: Im (ih)^3 / h = -h^2 = -eps^2
    np.testing.assert_allclose(g, 3 * W**2, rtol=1e-15, atol=np.finfo(float).eps ** 2)


def test_default_steps_follow_the_table():
    eps64, eps32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps
    assert d.default_step("forward") == pytest.approx(eps64 ** 0.5)
    assert d.default_step("central") == pytest.approx(eps64 ** (1 / 3))
    assert d.default_step("richardson") == pytest.approx(eps64 ** 0.2)
    assert d.default_step("complex") == eps64
    assert d.default_step("central", np.float32) == pytest.approx(eps32 ** (1 / 3))
    assert d.default_step("central", order=2) == pytest.approx(eps64 ** 0.25)
    assert d.default_step("richardson", order=2) == pytest.approx(eps64 ** (1 / 6))


def test_step_scales_with_x():
    # at x = 1e8 the relative step is what matters: an absolute 6e-6 step would be below 1 ULP
    x = np.array([1e8])
    g = d.gradient(lambda v: v[0] ** 2, x)
    assert g[0] == pytest.approx(2e8, rel=1e-9)


def test_complex_step_of_a_non_analytic_function_is_refused():
    with pytest.raises(ValueError, match="complex"):
        d.gradient(lambda v: np.real(v[0]) ** 2, np.array([1.0]), method="complex")


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: d.gradient(np.sum, [1.0], method="backward"), ValueError, "method"),
        (lambda: d.gradient(np.sum, [1.0], step=0.0), ValueError, "step"),
        (lambda: d.gradient(np.sum, [1.0], step="big"), TypeError, "step"),
        (lambda: d.gradient(np.sum, [np.nan]), ValueError, "finite"),
        (lambda: d.gradient(np.sum, []), ValueError, "empty"),
        (lambda: d.gradient(np.sum, ["a"]), TypeError, "x must"),
        (lambda: d.gradient(lambda v: v, [1.0, 2.0]), ValueError, "scalar"),
        (lambda: d.hessian(np.sum, np.ones((2, 2))), ValueError, "vector"),
        (lambda: d.default_step("central", order=3), ValueError, "order"),
        (lambda: d.step_error_curve(np.sum, [1.0], "central", []), ValueError, "steps"),
        (lambda: d.step_error_curve(np.sum, [1.0], "central", [1e-3], exact="exact"),
         ValueError, "exact"),
    ],
)
def test_invalid_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# -- the V-shaped error curve ----------------------------------------------------------------------


# Rounding bound of each difference quotient for f = f' = exp at x = 1, relative to f'(x), in
# units of eps / h: every evaluation of exp is within 1 ULP (<= eps |f|), the subtraction of two
# nearby values is exact.  forward: two evaluations, plus the step actually taken, fl(x + h) - x,
# off h by up to eps/2 -> 2.5; central: two evaluations over 2h, with the exact step -> 1;
# richardson (4 D(h/2) - D(h)) / 3: 4/3 * 2 + 1/3 -> 3.
ROUNDING_BOUND = {"forward": 2.5, "central": 1.0, "richardson": 3.0}


def _fitted_slope(steps, errors):
    return np.polyfit(np.log10(steps), np.log10(errors), 1)[0]


def test_step_error_curve_is_v_shaped_with_the_predicted_slopes():
    # The rounding branch is noise: which side of the exact value each exp lands on differs
    # between CPUs (NumPy's AVX-512, AVX2 and libm exps), so no single point of it, nor a slope
    # through two of its points, is portable.  What holds on every CPU is the bound
    # c * eps / h on every point and the trend of a least-squares fit over the whole branch.
    x = np.array([1.0])
    eps = np.finfo(np.float64).eps
    steps = np.logspace(-15, -1, 29)
    slopes = {"forward": 1, "central": 2, "richardson": 4}
    for method, order in slopes.items():
        c = d.step_error_curve(np.exp, x, method, steps)
        assert c.exact_source == "complex" and c.relative
        np.testing.assert_allclose(c.exact, [np.e], rtol=4 * eps)  # complex step: a few ULPs
        assert c.best_step == steps[int(np.argmin(c.errors))]
        # The bottom of the V is near the default step.  The smallest error is one lucky
        # rounding (it can sit decades away), so the bottom is taken where the largest of three
        # neighbouring errors is smallest: within 1.7 decades over 151 points x in [0.95, 1.05]
        # and three CPU profiles, so a factor 100 is allowed.
        smooth = np.lib.stride_tricks.sliding_window_view(c.errors, 3).max(axis=1)
        k = int(np.argmin(smooth)) + 1
        assert abs(np.log10(steps[k] / c.default_step)) <= 2.0, method
        # the left branch (rounding) falls and the right (truncation) rises
        assert c.errors[0] > 100 * smooth[k - 1] and c.errors[-1] > 100 * smooth[k - 1], method
        left, right = steps < c.default_step / 30, steps > c.default_step * 30
        assert left.sum() >= 8 and right.sum() >= 2, method
        # rounding: under the bound on every point (twice it, for the truncation error h^order
        # that is left at the branch's large end), and ~1/h over the branch as a whole
        bound = 2 * ROUNDING_BOUND[method] * eps / steps[left]
        assert np.all(c.errors[left] <= bound), (method, c.errors[left] / bound)
        assert -1.4 <= _fitted_slope(steps[left], c.errors[left]) <= -0.6, method
        # truncation: error ~ h^order, smooth (no rounding in it), so the fit is tight
        assert _fitted_slope(steps[right], c.errors[right]) == pytest.approx(order, abs=0.3), method


def test_complex_step_curve_has_no_rounding_branch():
    c = d.step_error_curve(np.exp, np.array([1.0]), "complex", np.logspace(-300, -4, 20))
    assert np.all(c.errors[:-1] <= 2 * np.finfo(float).eps)


def test_step_error_curve_in_float32_bottoms_out_higher():
    steps = np.logspace(-8, -1, 15)
    c64 = d.step_error_curve(np.exp, np.array([1.0]), "central", steps)
    c32 = d.step_error_curve(np.exp, np.array([1.0], dtype=np.float32), "central", steps)
    assert c32.best_step > c64.best_step
    assert np.min(c32.errors) > 1e3 * np.min(c64.errors)
    assert c32.default_step == pytest.approx(np.finfo(np.float32).eps ** (1 / 3))


def test_step_error_curve_exact_sources_agree():
    def f(v):  # operators only: works on floats, complex numbers and mpmath numbers
        return v[0] ** 3 * v[1] + v[1] ** 2 / (1 + v[0] ** 2)

    def g(v):
        return np.array([3 * v[0] ** 2 * v[1] - 2 * v[0] * v[1] ** 2 / (1 + v[0] ** 2) ** 2,
                         v[0] ** 3 + 2 * v[1] / (1 + v[0] ** 2)])

    x = np.array([0.3, 1.7])
    steps = np.logspace(-10, -2, 5)
    curves = [d.step_error_curve(f, x, "central", steps, exact=e)
              for e in (None, "mpmath", g, g(x))]
    assert [c.exact_source for c in curves] == ["complex", "mpmath", "callable", "given"]
    for c in curves[1:]:
        np.testing.assert_allclose(c.exact, curves[0].exact, rtol=1e-15)
        # the references differ by an ULP or so: visible only at the bottom of the V
        np.testing.assert_allclose(c.errors, curves[0].errors, rtol=1e-4)


def test_step_error_curve_falls_back_to_mpmath_for_functions_that_refuse_complex():
    def f(v):
        if np.iscomplexobj(v):
            raise TypeError("real input only")
        return v[0] ** 2 * mpmath.mpf(1) if v.dtype == object else v[0] ** 2

    c = d.step_error_curve(f, np.array([1.5]), "forward", [1e-6])
    assert c.exact_source == "mpmath"
    assert c.exact[0] == pytest.approx(3.0, rel=1e-15)


@settings(max_examples=30, deadline=None)
@given(st.floats(-3, 3), st.floats(-3, 3))
def test_central_gradient_of_a_cubic_is_accurate_everywhere(a, b):
    # property: for a polynomial the central difference error is bounded by the rounding term
    x = np.array([a, b])
    g = d.gradient(lambda v: v[0] ** 3 - 2 * v[0] * v[1] ** 2 + v[1], x)
    exact = np.array([3 * a * a - 2 * b * b, -4 * a * b + 1])
    scale = 1 + 3 * 9 + 2 * 9 * 3
    assert np.max(np.abs(g - exact)) <= 1e-9 * scale
