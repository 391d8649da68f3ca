"""First-order optimizers: update formulas, closed forms on quadratics, schedules.

The comparison with torch.optim on the same inputs is in test_optim_torch.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.optim import (
    AdamState,
    adagrad,
    adam,
    adamw,
    apply_updates,
    minimize,
    momentum,
    nesterov,
    quadratic_gd_iterates,
    rmsprop,
    schedules,
    sgd,
)
from numdl.optim.problems import quadratic

EPS = np.finfo(np.float64).eps


def inputs(seed=0, n=7, steps=12):
    rng = np.random.default_rng(seed)
    grads = rng.standard_normal((steps, n)) * np.logspace(-3, 2, n)
    grads[:, 0] = 0.0
    return rng.standard_normal(n), grads


def run_numdl(opt, params, grads):
    state = opt.init(params)
    out = []
    for g in grads:
        updates, state = opt.update(g, state, params)
        params = apply_updates(params, updates)
        out.append(params)
    return np.array(out)


def test_rmsprop_eps_in_sqrt_is_the_optax_placement():
    g = np.array([0.0, 1e-5, 1.0])
    u, _s = rmsprop(1.0, decay=0.5, eps=1e-8, eps_in_sqrt=True).update(
        g, rmsprop(1.0).init(np.zeros(3)))
    np.testing.assert_allclose(u, -g / np.sqrt(0.5 * g * g + 1e-8), rtol=2 * EPS)
    v, _ = rmsprop(1.0, decay=0.5, eps=1e-8).update(g, rmsprop(1.0).init(np.zeros(3)))
    np.testing.assert_allclose(v, -g / (np.sqrt(0.5 * g * g) + 1e-8), rtol=2 * EPS)
    assert abs(u[1]) < 0.1 * abs(v[1])  # inside the root, eps = 1e-8 acts like 1e-4


def test_update_is_pure():
    params, grads = inputs(4)
    opt = adamw()
    state = opt.init(params)
    p0, g0, mu0 = params.copy(), grads[0].copy(), state.mu.copy()
    u1, s1 = opt.update(grads[0], state, params)
    u2, _s2 = opt.update(grads[0], state, params)
    np.testing.assert_array_equal(u1, u2)
    np.testing.assert_array_equal(params, p0)
    np.testing.assert_array_equal(grads[0], g0)
    np.testing.assert_array_equal(state.mu, mu0)
    assert isinstance(s1, AdamState) and s1.count == 1 and state.count == 0


def test_adam_first_step_is_lr_times_sign():
    # bias correction: m_hat = g, v_hat = g^2 at t = 1, so the step is lr * g / (|g| + eps)
    g = np.array([1e-6, -3.0, 250.0])
    u, _ = adam(0.1, eps=0.0).update(g, adam().init(np.zeros(3)))
    np.testing.assert_allclose(u, -0.1 * np.sign(g), rtol=2 * EPS)


def test_float32_parameters_stay_float32():
    p = np.ones(3, dtype=np.float32)
    for opt in (sgd(0.1), momentum(0.1), nesterov(0.1), adagrad(0.1), rmsprop(0.1), adam(),
                adamw()):
        u, _ = opt.update(np.ones(3, dtype=np.float32), opt.init(p), p)
        assert u.dtype == np.float32


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: sgd(-0.1), ValueError, "lr"),
        (lambda: sgd("fast"), TypeError, "lr"),
        (lambda: momentum(0.1, beta=1.0), ValueError, "beta"),
        (lambda: adam(b1=-0.1), ValueError, "b1"),
        (lambda: adam(b2=1.5), ValueError, "b2"),
        (lambda: adam(eps=-1.0), ValueError, "eps"),
        (lambda: rmsprop(0.1, decay=1.0), ValueError, "decay"),
        (lambda: adamw(weight_decay=-1.0), ValueError, "weight_decay"),
        (lambda: adamw().update(np.ones(2), adamw().init(np.ones(2))), ValueError, "params"),
        (lambda: adam().update(np.ones(3), adam().init(np.ones(2))), ValueError, "shape"),
    ],
)
def test_invalid_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# -- closed forms on quadratics --------------------------------------------------------------------


def rotated_quadratic(seed=0):
    rng = np.random.default_rng(seed)
    return quadratic(kappa=50.0, dim=4, rng=rng, b=rng.standard_normal(4))


def test_gradient_descent_follows_the_closed_form():
    q = rotated_quadratic()
    H, b = q.params["hessian"], q.params["b"]
    x0 = np.array([1.0, -2.0, 0.5, 3.0])
    lr = 0.03
    r = minimize(q, x0, method="gd", lr=lr, max_iter=60, tol=0.0)
    closed = quadratic_gd_iterates(H, x0, lr, 60, b=b)
    np.testing.assert_allclose(r.trajectory, closed, rtol=1e-12, atol=1e-12)


def test_heavy_ball_follows_its_linear_recurrence():
    # in the eigenbasis each coordinate obeys [c_{k+1}, v_{k+1}] = M [c_k, v_k] + const with
    # v <- beta v + (lambda c - b~), c <- c - lr v; solve it by matrix powers per eigenvalue
    q = rotated_quadratic(1)
    H, b = q.params["hessian"], q.params["b"]
    lam, Q = np.linalg.eigh(H)
    x0 = np.array([2.0, 1.0, -1.0, 0.5])
    lr, beta, K = 0.02, 0.7, 40
    r = minimize(q, x0, method="momentum", lr=lr, options={"beta": beta}, max_iter=K, tol=0.0)
    c0, bt = Q.T @ x0, Q.T @ b
    cstar = bt / lam
    expected = np.empty((K + 1, 4))
    for i in range(4):
        M = np.array([[1 - lr * lam[i], -lr * beta], [lam[i], beta]])  # on (c - c*, v)
        z = np.array([c0[i] - cstar[i], 0.0])
        for k in range(K + 1):
            expected[k, i] = cstar[i] + (np.linalg.matrix_power(M, k) @ z)[0]
    np.testing.assert_allclose(r.trajectory, expected @ Q.T, rtol=1e-11, atol=1e-11)


def test_nesterov_iterates_are_the_look_ahead_points_of_classical_nag():
    q = rotated_quadratic(2)
    x0 = np.array([1.0, 1.0, -1.0, 2.0])
    lr, mu, K = 0.02, 0.8, 30
    r = minimize(q, x0, method="nesterov", lr=lr, options={"beta": mu}, max_iter=K, tol=0.0)
    theta, V = x0.copy(), np.zeros(4)  # Sutskever et al. 2013, eq. 3-4
    looks = [theta + mu * V]
    for _ in range(K):
        V = mu * V - lr * q.gradient(theta + mu * V)
        theta = theta + V
        looks.append(theta + mu * V)
    np.testing.assert_allclose(r.trajectory, np.array(looks), rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.floats(1e-3, 1e3), st.integers(0, 2**32 - 1))
def test_adam_is_invariant_to_gradient_scale(scale, seed):
    # with eps = 0 Adam's update depends only on the ratios m / sqrt(v): scaling every gradient by
    # c > 0 changes nothing (up to rounding)
    rng = np.random.default_rng(seed)
    params = rng.standard_normal(5)
    grads = rng.standard_normal((6, 5))
    a = run_numdl(adam(0.1, eps=0.0), params, grads)
    b = run_numdl(adam(0.1, eps=0.0), params, grads * scale)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


# -- schedules -------------------------------------------------------------------------------------


def test_schedule_values():
    t = np.arange(0, 25)
    np.testing.assert_array_equal(schedules.constant_schedule(0.3)(t), np.full(25, 0.3))
    assert schedules.step_schedule(1.0, step_size=10, factor=0.5)(25) == 0.25
    assert schedules.exponential_schedule(2.0, decay_rate=0.5, decay_steps=4)(8) == 0.5
    assert schedules.inverse_time_schedule(1.0, decay_rate=0.5)(6) == 0.25
    cos = schedules.cosine_schedule(1.0, decay_steps=10, alpha=0.1)
    assert cos(0) == 1.0 and cos(10) == pytest.approx(0.1) and cos(100) == pytest.approx(0.1)
    assert cos(5) == pytest.approx(0.55)
    w = schedules.warmup_cosine_schedule(1.0, warmup_steps=4, decay_steps=14, init_value=0.2,
                                         end_value=0.1)
    np.testing.assert_allclose(w(np.arange(5)), [0.2, 0.4, 0.6, 0.8, 1.0])
    assert w(9) == pytest.approx(0.55) and w(14) == pytest.approx(0.1) and w(99) == 0.1
    assert isinstance(w(3), float)


def test_inverse_time_schedule_satisfies_robbins_monro_numerically():
    s = schedules.inverse_time_schedule(1.0)
    lr = s(np.arange(100_000))
    assert lr.sum() > 10  # grows like log t
    assert (lr**2).sum() < np.pi**2 / 6 + 1e-9


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: schedules.step_schedule(1.0, step_size=0), "step_size"),
        (lambda: schedules.cosine_schedule(1.0, decay_steps=10, alpha=2.0), "alpha"),
        (lambda: schedules.warmup_cosine_schedule(1.0, warmup_steps=10, decay_steps=5),
         "decay_steps"),
        (lambda: schedules.constant_schedule(-1.0), "value"),
        (lambda: schedules.constant_schedule(1.0)(-1), "count"),
        (lambda: schedules.constant_schedule(1.0)(0.5), "count"),
    ],
)
def test_schedule_invalid_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
