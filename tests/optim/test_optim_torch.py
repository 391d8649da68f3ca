"""First-order optimizers against torch.optim on the same inputs (float64).

``make test`` sets NUMDL_REQUIRE_TORCH, so there a missing torch is an error, not a skip
(tests/conftest.py).  Where numdl's conventions differ from torch's (RMSprop's default decay), the
difference is asserted too.
"""

from __future__ import annotations

import numpy as np
import pytest

from numdl.optim import (
    adagrad,
    adam,
    adamw,
    apply_updates,
    momentum,
    nesterov,
    rmsprop,
    schedules,
    sgd,
)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

EPS = np.finfo(np.float64).eps


def run_numdl(opt, params, grads):
    state = opt.init(params)
    out = []
    for g in grads:
        updates, state = opt.update(g, state, params)
        params = apply_updates(params, updates)
        out.append(params)
    return np.array(out)


def inputs(seed=0, n=7, steps=12):
    rng = np.random.default_rng(seed)
    # gradients over several orders of magnitude, one coordinate always 0 (eps matters there)
    grads = rng.standard_normal((steps, n)) * np.logspace(-3, 2, n)
    grads[:, 0] = 0.0
    return rng.standard_normal(n), grads


def run_torch(make, params, grads):
    p = torch.tensor(params, dtype=torch.float64, requires_grad=True)
    opt = make([p])
    out = []
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.array(out)


MATCHING = {
    "sgd": (sgd(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "momentum": (momentum(0.05, beta=0.8), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8)),
    "nesterov": (nesterov(0.05, beta=0.8),
                 lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    "adagrad": (adagrad(0.3, eps=1e-10), lambda p: torch.optim.Adagrad(p, lr=0.3, eps=1e-10)),
    "adagrad-initial": (adagrad(0.3, initial_accumulator=0.5),
                        lambda p: torch.optim.Adagrad(p, lr=0.3, initial_accumulator_value=0.5)),
    "rmsprop": (rmsprop(0.01, decay=0.95, eps=1e-6),
                lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.95, eps=1e-6)),
    "adam": (adam(0.01, b1=0.8, b2=0.99, eps=1e-6),
             lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    "adamw": (adamw(0.01, b1=0.8, b2=0.99, eps=1e-6, weight_decay=0.1),
              lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6,
                                          weight_decay=0.1)),
}


@pytest.mark.parametrize("name", list(MATCHING))
def test_matches_torch_optim(name):
    ours, theirs = MATCHING[name]
    params, grads = inputs()
    a = run_numdl(ours, params, grads)
    b = run_torch(theirs, params, grads)
    # same formulas, different association of the operations: agreement to a few ULPs of the
    # accumulated parameter scale
    np.testing.assert_allclose(a, b, rtol=0, atol=64 * EPS * np.max(np.abs(b)))


def test_default_hyperparameters_match_torch_where_they_agree():
    params, grads = inputs(1)
    for ours, theirs in [(adam(), lambda p: torch.optim.Adam(p)),
                         (adamw(), lambda p: torch.optim.AdamW(p)),
                         (adagrad(0.01), lambda p: torch.optim.Adagrad(p, lr=0.01))]:
        np.testing.assert_allclose(run_numdl(ours, params, grads), run_torch(theirs, params, grads),
                                   rtol=0, atol=64 * EPS * 4)


def test_rmsprop_defaults_differ_from_torch_as_documented():
    params, grads = inputs(2)
    ours = run_numdl(rmsprop(0.01), params, grads)  # decay 0.9 (Hinton); torch alpha 0.99
    torch_default = run_torch(lambda p: torch.optim.RMSprop(p, lr=0.01), params, grads)
    torch_09 = run_torch(lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9), params, grads)
    assert np.max(np.abs(ours - torch_default)) > 1e-3
    np.testing.assert_allclose(ours, torch_09, rtol=0, atol=64 * EPS * 4)


def test_schedule_matches_torch_lambda_lr():
    params, grads = inputs(3)
    sched = schedules.warmup_cosine_schedule(0.05, warmup_steps=3, decay_steps=10)
    ours = run_numdl(adam(sched), params, grads)
    p = torch.tensor(params, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=1.0)
    lam = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: sched(t))
    theirs = []
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        lam.step()
        theirs.append(p.detach().numpy().copy())
    np.testing.assert_allclose(ours, np.array(theirs), rtol=0, atol=64 * EPS * 4)
    assert np.array_equal(ours[0], params)  # lr(0) = 0: the first update is zero


