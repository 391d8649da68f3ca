"""The pieces of numdl.optim.constrained made public by the split into submodules: the KKT
arithmetic on values, the penalty methods' outer loop, splitting and stacking constraints,
least-squares multipliers and the scaled norm.  The methods end to end are in
test_optim_constrained.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from numdl.optim import constrained as C
from numdl.optim.constrained import constraints, kkt, sets, solvers

EPS = np.finfo(np.float64).eps


def test_each_name_lives_in_its_topic():
    assert C.Inequality is constraints.Inequality and C.Ball is sets.Ball
    assert C.kkt_residuals is kkt.kkt_residuals and C.minimize_constrained is solvers.minimize_constrained
    assert C.disk_and_halfplane.__module__ == "numdl.optim.constrained.problems"
    assert C.ridge_as_constrained.__module__ == "numdl.optim.constrained.ridge"


def test_kkt_residuals_from_values_is_kkt_residuals_on_the_same_values():
    p = C.disk_and_halfplane(0.8)
    x, lam = np.array(p.solution), np.array([0.3, -0.2])  # a wrong multiplier, to see every term
    ineqs, eqs = C.partition_constraints(p.constraints)
    g = np.array([c.value(x) for c in ineqs])
    Jg = C.constraint_jacobian(ineqs, x)
    h, Jh = np.zeros(0), C.constraint_jacobian(eqs, x)
    direct = C.kkt_residuals(p.grad, p.constraints, x, lam)
    from_values = C.kkt_residuals_from_values(p.grad(x), g, h, Jg, Jh, lam, np.zeros(0), 1e-6)
    np.testing.assert_array_equal(direct.as_array(), from_values.as_array())
    np.testing.assert_array_equal(from_values.lagrangian_grad, p.grad(x) + lam @ Jg)
    assert from_values.dual_feasibility == 0.2
    assert from_values.complementary_slackness == pytest.approx(float(np.max(np.abs(lam * g))))
    # the caller's arrays are copied, not frozen
    assert g.flags.writeable and lam.flags.writeable and not from_values.g.flags.writeable


def test_kkt_residuals_from_values_checks_shapes():
    with pytest.raises(ValueError, match="shapes do not fit"):
        C.kkt_residuals_from_values(np.zeros(2), np.zeros(1), np.zeros(0), np.zeros((1, 3)),
                                    np.zeros((0, 2)), np.zeros(1), np.zeros(0), 1e-6)


def test_kkt_residuals_from_values_special_values():
    # no constraints: only stationarity; a NaN gradient is a NaN residual, never satisfied
    r = C.kkt_residuals_from_values([3.0, 4.0], [], [], np.zeros((0, 2)), np.zeros((0, 2)), [], [],
                                    1e-6)
    assert r.as_array().tolist() == [5.0, 0.0, 0.0, 0.0]
    r = C.kkt_residuals_from_values([np.nan, 0.0], [], [], np.zeros((0, 2)), np.zeros((0, 2)), [],
                                    [], 1e-6)
    assert math.isnan(r.stationarity) and not r.satisfied(1.0)
    # the stationarity norm is scaled: 1e200-sized gradients do not overflow
    r = C.kkt_residuals_from_values([3e200, 4e200], [], [], np.zeros((0, 2)), np.zeros((0, 2)),
                                    [], [], 1e-6)
    assert r.stationarity == pytest.approx(5e200, rel=4 * EPS)


@pytest.mark.parametrize("method", ["augmented_lagrangian", "penalty"])
def test_the_outer_loop_is_what_minimize_constrained_runs(method):
    p = C.disk_and_halfplane(0.8)
    via = C.minimize_constrained(p.fun, p.x0, p.constraints, method=method, grad=p.grad)
    ineqs, eqs = C.partition_constraints(p.constraints)
    direct = C.penalty_outer_loop(p.fun, p.grad, p.x0, ineqs, eqs, method=method)
    assert direct.status is via.status and direct.nit == via.nit and direct.nfev == via.nfev
    np.testing.assert_array_equal(direct.x, via.x)
    np.testing.assert_array_equal(direct.multipliers[0], via.multipliers[0])
    np.testing.assert_array_equal(direct.trajectory_kkt, via.trajectory_kkt)


def test_the_outer_loop_checks_what_it_can():
    p = C.ball_quadratic()
    ineqs, eqs = C.partition_constraints(p.constraints)
    with pytest.raises(ValueError, match="projected_gradient"):
        C.penalty_outer_loop(p.fun, p.grad, p.x0, ineqs, eqs, method="projected_gradient")
    with pytest.raises(ValueError, match="lam0 must be >= 0"):
        C.penalty_outer_loop(p.fun, p.grad, p.x0, ineqs, eqs, lam0=[-1.0])
    with pytest.raises(ValueError, match="lam0 must have 1"):
        C.penalty_outer_loop(p.fun, p.grad, p.x0, ineqs, eqs, lam0=[1.0, 2.0])
    # an empty set ends the run before any evaluation
    r = C.penalty_outer_loop(p.fun, p.grad, p.x0, ineqs, eqs, the_set=C.Ball(-1.0))
    assert r.reason == "empty_set" and r.nfev == 0


def test_partition_and_split_constraints():
    g1 = C.Inequality.linear([1.0, 0.0], 1.0)
    h1 = C.Equality.linear([1.0, 1.0], 0.0)
    g2 = C.Inequality.linear([0.0, 1.0], 2.0)
    assert C.partition_constraints([g1, h1, g2]) == ((g1, g2), (h1,))
    assert C.partition_constraints(h1) == ((), (h1,)) and C.partition_constraints(None) == ((), ())
    with pytest.raises(TypeError, match=r"constraints\[1\]"):
        C.partition_constraints([g1, "x <= 1"])
    with pytest.raises(TypeError, match="sequence"):
        C.partition_constraints(lambda x: x)
    ineqs, eqs, the_set = C.split_constraints(C.Simplex(1.0), 3)
    assert len(ineqs) == 3 and len(eqs) == 1 and isinstance(the_set, C.Simplex)
    assert C.split_constraints([g1, h1], 2) == ((g1,), (h1,), None)


def test_constraint_jacobian_and_least_squares_multipliers():
    x = np.array([0.6, 0.8])
    disk = C.Ball(1.0).constraints(2)[0]
    line = C.Equality.linear([1.0, -1.0], -0.2)
    J = C.constraint_jacobian([disk, line], x)
    np.testing.assert_array_equal(J, [[1.2, 1.6], [1.0, -1.0]])
    assert C.constraint_jacobian([], x).shape == (0, 2)
    # grad f = -(2 lam x + nu (1, -1)) with lam = 0.5, nu = 0.25
    gf = -(0.5 * J[0] + 0.25 * J[1])
    lam, nu = C.least_squares_multipliers(gf, [disk, line], x, 1e-9)
    np.testing.assert_allclose(lam, [0.5], rtol=8 * EPS)
    np.testing.assert_allclose(nu, [0.25], rtol=8 * EPS)
    # an inactive inequality gets 0 whatever the gradient
    lam, nu = C.least_squares_multipliers(gf, [disk, line], x * 0.5, 1e-9)
    assert lam.tolist() == [0.0]


def test_scaled_norm_neither_overflows_nor_underflows():
    assert C.scaled_norm(np.array([3e200, 4e200])) == pytest.approx(5e200, rel=4 * EPS)
    assert C.scaled_norm(np.array([3e-200, 4e-200])) == pytest.approx(5e-200, rel=4 * EPS)
    assert C.scaled_norm(np.zeros(0)) == 0.0 and C.scaled_norm(np.zeros(3)) == 0.0
    assert C.scaled_norm(np.array([1.0, np.inf])) == np.inf
    with np.errstate(over="ignore", under="ignore"):
        assert float(np.sqrt(np.sum(np.array([3e-200, 4e-200]) ** 2))) == 0.0  # the naive form
