"""Chapter 3d's simulation: Adam + L2 against AdamW."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.tutorial.simulations.ch03d import decoupled_decay_experiment


def test_adamw_decays_every_coordinate_alike_and_adam_l2_does_not():
    d = decoupled_decay_experiment((0.01, 0.1, 1.0, 10.0, 100.0), weight_decay=0.1, lr=1e-2,
                                   steps=1000, runs=32, rng=np.random.default_rng(0))
    uniform = d.uniform[-1]
    assert uniform == pytest.approx((1 - 1e-3) ** 1000, rel=1e-12)
    np.testing.assert_allclose(d.adamw[-1], uniform, atol=0.05)  # Monte Carlo error ~ 0.015
    assert np.all(np.abs(d.adam_l2[-1][:2]) < 0.05)  # tiny gradients: decayed to 0
    assert d.adam_l2[-1][-1] > 0.9 and d.adam_l2[-1][-2] > 0.8  # huge gradients: barely
    assert d.steps[0] == 0 and d.steps[-1] == 1000 and d.adam_l2.shape == (len(d.steps), 5)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"scales": ()}, ValueError, "scales"),
    ({"scales": (1.0, -1.0)}, ValueError, "scales"),
    ({"lr": 0.0}, ValueError, "lr"),
    ({"weight_decay": float("nan")}, ValueError, "weight_decay"),
    ({"steps": 1.5}, TypeError, "steps"),
    ({"runs": 0}, ValueError, "runs"),
])
def test_bad_arguments_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        decoupled_decay_experiment(**kwargs, rng=np.random.default_rng(0))


@pytest.mark.parametrize("bad", [0, None, np.random.RandomState(0)])
def test_rng_must_be_a_generator(bad):
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        decoupled_decay_experiment(steps=2, rng=bad)
