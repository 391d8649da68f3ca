"""Chapter 3c's experiments: where runs end, what Newton costs, what each optimizer stores."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.optim.problems import himmelblau, quadratic
from numdl.tutorial.simulations import ch03c


def test_nearest_critical_point():
    p = himmelblau()
    cp, d = ch03c.nearest_critical_point(p, [3.3, 0.1])
    assert cp.kind == "saddle" and d == pytest.approx(np.linalg.norm(cp.x - [3.3, 0.1]))
    cp, d = ch03c.nearest_critical_point(p, [3.0, 2.0])
    assert cp.kind == "minimum" and d == 0.0
    singular = quadratic(np.zeros((2, 2)))  # no isolated critical point: none listed
    with pytest.raises(ValueError, match="lists no critical points"):
        ch03c.nearest_critical_point(singular, [0.0, 0.0])


def test_newton_cost_reports_medians_and_hessian_memory():
    cost = ch03c.newton_cost([4, 16, 64], repeats=2, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(cost.n, [4, 16, 64])
    np.testing.assert_array_equal(cost.hessian_bytes, 8.0 * np.array([16, 256, 4096]))
    for t in (cost.gradient, cost.form, cost.solve):
        assert t.shape == (3,) and np.all(t > 0)
    with pytest.raises(ValueError, match="ns must be"):
        ch03c.newton_cost([1], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="repeats >= 1"):
        ch03c.newton_cost([4], repeats=0, rng=np.random.default_rng(0))


@pytest.mark.parametrize("bad", [0, None, np.random.RandomState(0)])
def test_newton_cost_rng_must_be_a_generator(bad):
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch03c.newton_cost([4], rng=bad)


def test_power_law_fit_recovers_the_constant():
    n = np.array([100.0, 200.0, 400.0])
    assert ch03c.power_law_fit(n, 2e-9 * n**3, 3) == pytest.approx(2e-9, rel=1e-12)
    # noise multiplies: the fit is the geometric mean of the per-point constants
    t = 1e-9 * n**3 * np.array([0.5, 1.0, 2.0])
    assert ch03c.power_law_fit(n, t, 3) == pytest.approx(1e-9, rel=1e-12)
    with pytest.raises(ValueError):
        ch03c.power_law_fit([1.0], [0.0], 3)
    with pytest.raises(ValueError, match="same shape"):
        ch03c.power_law_fit([1.0, 2.0], [1.0], 3)


def test_state_floats():
    n = 1000
    assert ch03c.state_floats("gd", n) == 0
    assert ch03c.state_floats("adam", n) == 2 * n
    assert ch03c.state_floats("newton", n) == ch03c.state_floats("bfgs", n) == n * n
    assert ch03c.state_floats("lbfgs", n, memory=5) == 10 * n
    with pytest.raises(ValueError, match="method="):
        ch03c.state_floats("sgd!", n)
