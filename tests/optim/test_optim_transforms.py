"""numdl.optim.transforms: gradient clipping on lists of gradients, and the gradient
transformations that compose into optimizers (optax's design).

The optimizers that became chains are checked bit for bit against their code as it was before
(``_legacy`` below), and clipping + SGD / momentum / Adam against torch's ``clip_grad_norm_``
followed by the torch optimizer's step, with the tolerance that torch's ``+ 1e-6`` in the clip
factor accounts for.
"""

from __future__ import annotations

import numpy as np
import pytest

from numdl.optim import (
    OPTIMIZERS,
    AdamState,
    adam,
    adamw,
    minimize,
    momentum,
    nesterov,
    rmsprop,
    schedules,
    sgd,
)
from numdl.optim import transforms as T
from numdl.optim.problems import quadratic


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


# -- gradient transformations: the optax-style pieces ---------------------------------------------

EPS64 = np.finfo(np.float64).eps


def _run(opt, params, grads, *, with_params=True):
    """Apply `opt` along the gradient sequence; the iterates and the final state."""
    state = opt.init(params)
    out = []
    for g in grads:
        updates, state = opt.update(g, state, params if with_params else None)
        params = T.apply_updates(params, updates)
        out.append(params)
    return np.array(out), state


def _inputs(seed=0, n=7, steps=50, dtype=np.float64):
    rng = np.random.default_rng(seed)
    grads = rng.standard_normal((steps, n)) * np.logspace(-3, 2, n)
    grads[:, 0] = 0.0  # a coordinate whose gradients are all 0: eps matters there
    return rng.standard_normal(n).astype(dtype), grads.astype(dtype)


# The optimizers exactly as first_order wrote them before they became chains (the commit that
# introduced numdl.optim.transforms' composable pieces), kept here as the bit-for-bit reference.


def _legacy(kind, lr, **kw):
    lr_fn = lr if callable(lr) else (lambda count, v=float(lr): v)

    def eta(count, dtype):
        return np.asarray(lr_fn(count), dtype=dtype)[()]

    def zeros(p):
        p = np.asarray(p)
        return np.zeros(p.shape, dtype=p.dtype if p.dtype.kind in "fc" else np.float64)

    if kind == "sgd":
        def init(p):
            return (0,)

        def update(g, s, p=None):
            g = np.asarray(g)
            return -eta(s[0], g.dtype) * g, (s[0] + 1,)
    elif kind in ("momentum", "nesterov"):
        beta = kw.get("beta", 0.9)

        def init(p):
            return (0, zeros(p))

        def update(g, s, p=None):
            g = np.asarray(g)
            v = beta * s[1] + g
            d = g + beta * v if kind == "nesterov" else v
            return -eta(s[0], g.dtype) * d, (s[0] + 1, v)
    else:  # adam, adamw
        b1, b2, eps = kw.get("b1", 0.9), kw.get("b2", 0.999), kw.get("eps", 1e-8)
        wd = kw.get("weight_decay") if kind == "adamw" else None

        def init(p):
            z = zeros(p)
            return (0, z, z.copy())

        def update(g, s, p=None):
            g = np.asarray(g)
            t = s[0] + 1
            mu = b1 * s[1] + (1 - b1) * g
            nu = b2 * s[2] + (1 - b2) * g * g
            mu_hat = mu / np.asarray(1 - b1**t, dtype=g.dtype)
            nu_hat = nu / np.asarray(1 - b2**t, dtype=g.dtype)
            d = mu_hat / (np.sqrt(nu_hat) + eps)
            if wd is not None:
                d = d + wd * np.asarray(p, dtype=g.dtype)
            return -eta(s[0], g.dtype) * d, (t, mu, nu)

    return T.GradientTransformation(init, update)


SCHEDULE = schedules.warmup_cosine_schedule(0.05, warmup_steps=5, decay_steps=40)
LEGACY_CASES = [
    ("sgd", {}),
    ("momentum", {"beta": 0.8}),
    ("nesterov", {"beta": 0.8}),
    ("adam", {"b1": 0.8, "b2": 0.99, "eps": 1e-6}),
    ("adamw", {"b1": 0.8, "b2": 0.99, "eps": 1e-6, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lr", [0.01, SCHEDULE], ids=["float", "schedule"])
@pytest.mark.parametrize(("kind", "kw"), LEGACY_CASES, ids=[c[0] for c in LEGACY_CASES])
def test_the_chained_optimizers_are_bit_for_bit_the_old_ones(kind, kw, lr, dtype):
    params, grads = _inputs(dtype=dtype)
    new, new_state = _run(OPTIMIZERS[kind](lr, **kw), params, grads)
    old, old_state = _run(_legacy(kind, lr, **kw), params, grads)
    assert new.dtype == old.dtype == dtype
    np.testing.assert_array_equal(new, old)
    assert new_state.count == old_state[0] == len(grads)
    for a, b in zip(new_state[1:], old_state[1:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("kind", "kw"), LEGACY_CASES[:4], ids=[c[0] for c in LEGACY_CASES[:4]])
def test_float32_gradients_on_float64_parameters_differ_only_by_the_rounding_of_lr(kind, kw):
    # the old code rounded lr to the gradients' dtype (float32) before multiplying the float64
    # step; the chain rounds it to the step's dtype.  Given the float32-rounded lr, the chain
    # reproduces the old bits exactly.
    params = np.linspace(-1.0, 1.0, 7)
    grads = _inputs(8)[1].astype(np.float32)
    old = _run(_legacy(kind, 0.01, **kw), params, grads)[0]
    new = _run(OPTIMIZERS[kind](float(np.float32(0.01)), **kw), params, grads)[0]
    assert old.dtype == new.dtype == np.float64
    np.testing.assert_array_equal(new, old)


@pytest.mark.parametrize("lr", [0.01, SCHEDULE], ids=["float", "schedule"])
def test_adamw_is_exactly_its_chain(lr):
    params, grads = _inputs(1)
    wd = 0.05
    a, sa = _run(adamw(lr, b1=0.8, b2=0.99, eps=1e-6, weight_decay=wd), params, grads)
    opt = T.chain(T.scale_by_adam(0.8, 0.99, 1e-6), T.add_decayed_weights(wd),
                  T.scale_by_learning_rate(lr))
    b, sb = _run(opt, params, grads)
    np.testing.assert_array_equal(a, b)
    # the chain's state is the tuple of the inner states, each a named record
    adam_s, decay_s, lr_s = sb
    assert isinstance(sb, tuple) and len(sb) == 3
    assert isinstance(adam_s, T.ScaleByAdamState) and isinstance(decay_s, T.EmptyState)
    assert isinstance(lr_s, T.ScaleByScheduleState) and lr_s.count == adam_s.count == 50
    assert isinstance(sa, AdamState)
    np.testing.assert_array_equal(sa.mu, adam_s.mu)
    np.testing.assert_array_equal(sa.nu, adam_s.nu)


def test_the_other_optimizers_are_exactly_their_chains():
    params, grads = _inputs(2)
    pairs = [
        (sgd(0.1), T.scale_by_learning_rate(0.1)),
        (sgd(0.1), T.chain(T.scale(-0.1))),
        (momentum(0.05, beta=0.7), T.chain(T.trace(0.7), T.scale_by_learning_rate(0.05))),
        (nesterov(0.05, beta=0.7),
         T.chain(T.trace(0.7, nesterov=True), T.scale_by_learning_rate(0.05))),
        (adam(0.01), T.chain(T.scale_by_adam(), T.scale_by_learning_rate(0.01))),
        (sgd(SCHEDULE), T.chain(T.scale_by_schedule(SCHEDULE), T.scale(-1.0))),
    ]
    for named, chained in pairs:
        np.testing.assert_array_equal(_run(named, params, grads)[0], _run(chained, params, grads)[0])


def test_rmsprop_as_a_chain_differs_at_most_in_the_last_bit():
    # rmsprop computes (-lr g) / denom, the chain -lr (g / denom): one rounding apart per step
    params, grads = _inputs(3)
    a = _run(rmsprop(0.01, decay=0.95, eps=1e-6), params, grads)[0]
    b = _run(T.chain(T.scale_by_rms(0.95, 1e-6), T.scale_by_learning_rate(0.01)), params, grads)[0]
    steps = np.arange(1, len(grads) + 1)[:, None]
    # each step moves a coordinate by <= lr / sqrt(1 - decay); one ULP of it per step, accumulated
    np.testing.assert_allclose(a, b, rtol=0, atol=float(np.max(steps)) * 2 * EPS64 * 0.01 / np.sqrt(0.05)
                               + 4 * EPS64 * np.max(np.abs(a)))
    c = _run(T.chain(T.scale_by_rms(0.9, 1e-8, eps_in_sqrt=True), T.scale_by_learning_rate(0.01)),
             params, grads)[0]
    d = _run(rmsprop(0.01, eps_in_sqrt=True), params, grads)[0]
    np.testing.assert_allclose(c, d, rtol=0, atol=50 * 2 * EPS64 * 0.01 / np.sqrt(0.1)
                               + 4 * EPS64 * np.max(np.abs(c)))


def test_chain_of_nothing_is_the_identity_and_chains_nest():
    g = np.array([1.0, -2.0])
    u, s = T.chain().update(g, T.chain().init(g))
    np.testing.assert_array_equal(u, g)
    assert s == ()
    inner = T.chain(T.clip(1.5), T.scale(2.0))
    outer = T.chain(inner, T.scale_by_learning_rate(0.5))
    u, s = outer.update(g, outer.init(g))
    np.testing.assert_array_equal(u, [-1.0, 1.5])  # -0.5 * 2 * clip(g, 1.5)
    assert s[0] == (T.EmptyState(), T.EmptyState()) and s[1] == T.ScaleByScheduleState(1)


def test_clip_by_global_norm_is_clip_grad_norm_on_one_array():
    g = np.array([3.0, 0.0, 4.0])
    opt = T.clip_by_global_norm(1.0)
    u, s = opt.update(g, opt.init(g))
    np.testing.assert_array_equal(u, T.clip_grad_norm([g], 1.0).grads[0])
    assert s == T.ClipByGlobalNormState(total_norm=5.0, scale=0.2, finite=True, nonfinite_count=0)
    small, s2 = opt.update(g / 10, s)
    np.testing.assert_array_equal(small, g / 10)
    assert s2.scale == 1.0 and s2.total_norm == 0.5
    np.testing.assert_array_equal(g, [3.0, 0.0, 4.0])  # inputs untouched


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_nonfinite_gradient_passes_through_clip_by_global_norm_flagged(bad):
    opt = T.chain(T.clip_by_global_norm(1.0), T.scale_by_learning_rate(0.1))
    params = np.zeros(3)
    state = opt.init(params)
    g = np.array([1e3, bad, -2e3])
    u, new = opt.update(g, state, params)
    clip_state = new[0]
    ref = T.clip_grad_norm([g], 1.0)
    assert not ref.finite and not clip_state.finite and clip_state.nonfinite_count == 1
    assert clip_state.scale == ref.scale == 1.0
    assert np.isnan(clip_state.total_norm) == np.isnan(ref.total_norm)
    # unchanged: the finite entries are not scaled (by max_norm / inf = 0 or by nan), only the
    # learning rate multiplies them
    np.testing.assert_array_equal(u, -0.1 * g)
    # a later finite gradient is clipped again and clears the flag; the count stays
    u2, newer = opt.update(np.array([3.0, 4.0, 0.0]), new, params)
    assert newer[0].finite and newer[0].nonfinite_count == 1
    np.testing.assert_allclose(u2, [-0.06, -0.08, 0.0], rtol=2 * EPS64)


def test_the_skip_pattern_keeps_adam_state_clean():
    opt = T.chain(T.clip_by_global_norm(1.0), T.scale_by_adam(), T.scale_by_learning_rate(0.1))
    params, grads = _inputs(4, steps=6)
    grads[3, 2] = np.nan
    state = opt.init(params)
    clean = []
    for g in grads:
        with np.errstate(invalid="ignore"):
            updates, new = opt.update(g, state, params)
        if not new[0].finite:  # skip: neither the updates nor the new state are kept
            continue
        params, state = T.apply_updates(params, updates), new
        clean.append(params)
    assert np.all(np.isfinite(clean)) and len(clean) == 5 and state[1].count == 5
    expected = _run(opt, _inputs(4, steps=6)[0], np.delete(grads, 3, axis=0))[0]
    np.testing.assert_array_equal(np.array(clean), expected)


def test_clip_and_scale_and_weight_decay():
    g = np.array([10.0, -0.5, 3.0])
    p = np.array([1.0, 2.0, -4.0])
    u, _ = T.clip(1.0).update(g, T.clip(1.0).init(p))
    np.testing.assert_array_equal(u, T.clip_grad_value([g], 1.0)[0])
    u, _ = T.scale(-0.5).update(g, T.EmptyState())
    np.testing.assert_array_equal(u, -0.5 * g)
    u, _ = T.add_decayed_weights(0.1).update(g, T.EmptyState(), p)
    np.testing.assert_array_equal(u, g + 0.1 * p)
    sched = schedules.step_schedule(1.0, step_size=2, factor=0.5)
    opt = T.scale_by_schedule(sched)
    s = opt.init(p)
    factors = []
    for _ in range(5):
        u, s = opt.update(np.ones(3), s)
        factors.append(float(u[0]))
    assert factors == [1.0, 1.0, 0.5, 0.5, 0.25]


def test_trace_and_scale_by_rms_formulas():
    gs = [np.array([1.0, -1.0]), np.array([2.0, 0.0]), np.array([0.5, 3.0])]
    opt, nes = T.trace(0.5), T.trace(0.5, nesterov=True)
    s, sn = opt.init(gs[0]), nes.init(gs[0])
    v = np.zeros(2)
    for g in gs:
        u, s = opt.update(g, s)
        un, sn = nes.update(g, sn)
        v = 0.5 * v + g
        np.testing.assert_array_equal(u, v)
        np.testing.assert_array_equal(un, g + 0.5 * v)
    assert isinstance(s, T.TraceState)
    np.testing.assert_array_equal(s.trace, v)
    rms = T.scale_by_rms(0.9, 0.0)
    u, s = rms.update(np.array([2.0, -3.0]), rms.init(np.zeros(2)))
    np.testing.assert_allclose(u, np.sign([2.0, -3.0]) / np.sqrt(0.1), rtol=2 * EPS64)
    assert isinstance(s, T.ScaleByRmsState)


def test_scale_by_adam_first_step_is_the_sign():
    opt = T.scale_by_adam(eps=0.0)
    g = np.array([1e-6, -3.0, 250.0])
    u, s = opt.update(g, opt.init(np.zeros(3)))
    np.testing.assert_allclose(u, np.sign(g), rtol=2 * EPS64)
    assert s.count == 1


def test_transforms_keep_float32():
    p = np.ones(3, dtype=np.float32)
    g = np.array([0.5, -2.0, 4.0], dtype=np.float32)
    for t in (T.clip_by_global_norm(1.0), T.clip(1.0), T.add_decayed_weights(0.1), T.scale(0.3),
              T.scale_by_learning_rate(0.1), T.scale_by_schedule(SCHEDULE), T.trace(0.9),
              T.scale_by_adam(), T.scale_by_rms()):
        u, _ = t.update(g, t.init(p), p)
        assert u.dtype == np.float32, t


def test_updates_are_pure():
    p = np.array([1.0, 2.0])
    g = np.array([0.3, -0.4])
    opt = T.chain(T.clip_by_global_norm(0.1), T.trace(0.9), T.add_decayed_weights(0.1),
                  T.scale_by_adam(), T.scale_by_learning_rate(0.1))
    s0 = opt.init(p)
    u1, s1 = opt.update(g, s0, p)
    u2, _ = opt.update(g, s0, p)
    np.testing.assert_array_equal(u1, u2)
    np.testing.assert_array_equal(p, [1.0, 2.0])
    np.testing.assert_array_equal(g, [0.3, -0.4])
    np.testing.assert_array_equal(s0[1].trace, [0.0, 0.0])
    assert s0[3].count == 0 and s1[3].count == 1


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: T.clip_by_global_norm(0.0), ValueError, "max_norm"),
        (lambda: T.clip_by_global_norm("1"), TypeError, "max_norm"),
        (lambda: T.clip(-1.0), ValueError, "limit"),
        (lambda: T.add_decayed_weights(-0.1), ValueError, "weight_decay"),
        (lambda: T.scale(float("inf")), ValueError, "step_size"),
        (lambda: T.scale(True), TypeError, "step_size"),
        (lambda: T.scale_by_learning_rate(-1.0), ValueError, "lr"),
        (lambda: T.scale_by_learning_rate("fast"), TypeError, "lr"),
        (lambda: T.scale_by_schedule(0.1), TypeError, "schedule"),
        (lambda: T.trace(1.0), ValueError, "decay"),
        (lambda: T.scale_by_adam(b1=1.0), ValueError, "b1"),
        (lambda: T.scale_by_adam(b2=-0.1), ValueError, "b2"),
        (lambda: T.scale_by_adam(eps=-1.0), ValueError, "eps"),
        (lambda: T.scale_by_rms(decay=1.5), ValueError, "decay"),
        (lambda: T.chain(T.scale(1.0), "sgd"), TypeError, r"transforms\[1\]"),
        (lambda: T.chain(T.scale(1.0)).update(np.ones(2), ()), ValueError, "tuple of 1"),
        (lambda: T.add_decayed_weights(0.1).update(np.ones(2), T.EmptyState()), ValueError,
         "params"),
        (lambda: T.add_decayed_weights(0.1).update(np.ones(2), T.EmptyState(), np.ones(3)),
         ValueError, "shape"),
        (lambda: T.trace(0.5).update(np.ones(3), T.trace(0.5).init(np.ones(2))), ValueError,
         "shape"),
    ],
)
def test_bad_arguments_name_themselves(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# -- against torch: clip_grad_norm_ then the optimizer's step -------------------------------------


def _torch_clipped(make_opt, params, grads, max_norm, split):
    """torch with the parameters in two tensors (sizes `split`, n - split), clip_grad_norm_ over
    both, then the step; returns the concatenated iterates."""
    torch = pytest.importorskip("torch")
    a = torch.tensor(params[:split], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(params[split:], dtype=torch.float64, requires_grad=True)
    opt = make_opt([a, b])
    out = []
    for g in grads:
        a.grad = torch.tensor(g[:split], dtype=torch.float64)
        b.grad = torch.tensor(g[split:], dtype=torch.float64)
        torch.nn.utils.clip_grad_norm_([a, b], max_norm)
        opt.step()
        out.append(np.concatenate([a.detach().numpy(), b.detach().numpy()]))
    return np.array(out)


def _clip_tolerance(grads, max_norm, lr, per_unit):
    # torch scales by max_norm / (||g|| + 1e-6), numdl by max_norm / ||g||: a relative difference
    # of 1e-6 / ||g|| in each clipped gradient, hence in each step of size <= per_unit * lr; summed
    # over the steps, plus rounding of the parameter scale
    norms = np.linalg.norm(grads, axis=1)
    return float(np.sum(per_unit * lr * 1e-6 / norms[norms > max_norm]))


def test_sgd_with_clipping_matches_torch():
    torch = pytest.importorskip("torch")
    params, grads = _inputs(5, steps=50)  # gradient norms ~ 100-400: every step is clipped
    max_norm, lr = 1.0, 0.1
    ours = _run(T.chain(T.clip_by_global_norm(max_norm), sgd(lr)), params, grads)[0]
    theirs = _torch_clipped(lambda ps: torch.optim.SGD(ps, lr=lr), params, grads, max_norm, 3)
    atol = _clip_tolerance(grads, max_norm, lr, max_norm) + 64 * EPS64 * np.max(np.abs(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)
    assert np.max(np.abs(ours - params)) > 1.0  # the runs went somewhere


def test_momentum_with_clipping_matches_torch():
    torch = pytest.importorskip("torch")
    params, grads = _inputs(6, steps=50)
    grads[::3] *= 1e-3  # some steps below the threshold, left alone by both
    max_norm, lr, beta = 2.0, 0.05, 0.9
    ours = _run(T.chain(T.clip_by_global_norm(max_norm), momentum(lr, beta)), params, grads)[0]
    theirs = _torch_clipped(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=beta), params, grads,
                            max_norm, 4)
    # a velocity sums up to 1 / (1 - beta) gradients
    atol = (_clip_tolerance(grads, max_norm, lr, max_norm / (1 - beta))
            + 64 * EPS64 * np.max(np.abs(theirs)))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)


def test_adam_with_clipping_matches_torch():
    torch = pytest.importorskip("torch")
    params, grads = _inputs(7, steps=50)
    max_norm, lr = 1.0, 0.01
    opt = T.chain(T.clip_by_global_norm(max_norm), adam(lr, b1=0.8, b2=0.99, eps=1e-6))
    ours = _run(opt, params, grads)[0]
    theirs = _torch_clipped(lambda ps: torch.optim.Adam(ps, lr=lr, betas=(0.8, 0.99), eps=1e-6),
                            params, grads, max_norm, 2)
    # Adam's step is a ratio of moments: relative changes of 1e-6 / ||g|| in its inputs change a
    # step of size ~lr by a few times that
    atol = _clip_tolerance(grads, max_norm, lr, 4.0) + 64 * EPS64 * np.max(np.abs(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)
    # the whole chain spelled out: the same bits as with adam()
    spelled = T.chain(T.clip_by_global_norm(max_norm), T.scale_by_adam(0.8, 0.99, 1e-6),
                      T.scale_by_learning_rate(lr))
    np.testing.assert_array_equal(_run(spelled, params, grads)[0], ours)


# -- minimize takes a transformation ----------------------------------------------------------------


def test_minimize_runs_a_gradient_transformation():
    q = quadratic([[1.0, 0.0], [0.0, 10.0]])
    named = minimize(q, [1.0, 1.0], method="adam", lr=0.01, max_iter=300, tol=0.0)
    given = minimize(q, [1.0, 1.0], method=adam(0.01), max_iter=300, tol=0.0)
    np.testing.assert_array_equal(named.trajectory, given.trajectory)
    assert given.method == "gradient_transformation" and named.method == "adam"
    opt = T.chain(T.clip_by_global_norm(0.5), T.trace(0.9), T.scale_by_learning_rate(0.02))
    r = minimize(q, [3.0, -2.0], method=opt, max_iter=5000)
    assert r.success and np.allclose(r.x, 0.0, atol=1e-5)
    # the first step is clipped to length 0.5 * lr
    assert np.linalg.norm(r.trajectory[1] - r.trajectory[0]) == pytest.approx(0.5 * 0.02, rel=1e-12)


def test_minimize_refuses_hyperparameters_with_a_transformation():
    q = quadratic([[1.0, 0.0], [0.0, 10.0]])
    with pytest.raises(ValueError, match="lr, schedule and options"):
        minimize(q, [1.0, 1.0], method=sgd(0.1), lr=0.1)
    with pytest.raises(ValueError, match="lr, schedule and options"):
        minimize(q, [1.0, 1.0], method=sgd(0.1), options={"beta": 0.5})
    with pytest.raises(ValueError, match="GradientTransformation"):
        minimize(q, [1.0, 1.0], method="sgd-ish")


def test_the_transforms_are_exported_from_numdl_optim():
    import numdl.optim as O

    for name in ("chain", "clip_by_global_norm", "clip", "add_decayed_weights", "scale",
                 "scale_by_learning_rate", "scale_by_schedule", "trace", "scale_by_adam",
                 "scale_by_rms", "ClipByGlobalNormState", "ScaleByAdamState", "TraceState"):
        assert getattr(O, name) is getattr(T, name)
    assert O.GradientTransformation is T.GradientTransformation
    assert O.apply_updates is T.apply_updates
