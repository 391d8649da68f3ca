"""numdl.mixed_precision: the dynamic loss scaler's rule."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.mixed_precision import dynamic_loss_scale_step


@pytest.mark.parametrize(("finite", "scale", "good", "interval", "expected"), [
    (True, 2.0**15, 3, 2000, (True, 2.0**15, 4)),
    (False, 2.0**15, 3, 2000, (False, 2.0**14, 0)),
    (True, 2.0**15, 1999, 2000, (True, 2.0**16, 0)),
    (False, 1.0, 0, 10, (False, 1.0, 0)),
    (True, 2.0**24, 9, 10, (True, 2.0**24, 0)),
    ([True, False], 4.0, 1, 10, (False, 2.0, 0)),
    (np.array([True, True]), 4.0, 1, 10, (True, 4.0, 2)),
])
def test_dynamic_loss_scale_step(finite, scale, good, interval, expected):
    assert dynamic_loss_scale_step(finite, scale, good, growth_interval=interval) == expected


def test_dynamic_loss_scale_step_rejects_bad_interval():
    with pytest.raises(ValueError, match="growth_interval"):
        dynamic_loss_scale_step(True, 1.0, 0, growth_interval=0)


def test_the_rule_is_torchs_grad_scaler():
    """The same sequence of overflow/no-overflow steps moves torch's GradScaler the same way."""
    torch = pytest.importorskip("torch")
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.0)
    scale, good = 2.0**10, 0
    for finite in [True, True, True, False, True, False, False, True, True, True, True]:
        opt.zero_grad()
        loss = scaler.scale((p * (1.0 if finite else float("inf"))).sum())
        loss.backward()
        scaler.step(opt)
        scaler.update()
        _, scale, good = dynamic_loss_scale_step(finite, scale, good, growth_interval=3)
        assert scale == scaler.get_scale()
