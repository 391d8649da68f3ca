"""Chapter 7's simulations: format fractions, the MLP's values, the float16 loss-scaling runs."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from numdl.floats import format_info
from numdl.tutorial.simulations import ch07


def test_format_fractions_counts_each_fate():
    info = format_info("float16")
    v = np.array([1.0, 1e5, info.smallest_subnormal / 4, 1e-6, 0.0, np.nan], np.float32)
    f = ch07.format_fractions(v, "float16")
    assert (f.underflow, f.subnormal, f.overflow) == (0.25, 0.25, 0.25)  # 0 and nan left out
    e4 = ch07.format_fractions(np.array([500.0, 1.0], np.float32), "float8_e4m3fn")
    assert e4.overflow == 0.5  # rounds to NaN: no infinity in e4m3fn
    assert ch07.format_fractions(np.array([1e-8, 1e30], np.float32), "bfloat16").overflow == 0
    assert ch07.format_fractions([], "float16").underflow == 0


def test_mlp_values_shapes_and_gradient_range():
    v = ch07.mlp_values(batch=64, rng=np.random.default_rng(0))
    assert list(v) == ["input", "layer 1", "layer 2", "logits"]
    assert v["logits"]["gradients"].shape == (64, 10)
    g = v["logits"]["gradients"]
    assert np.allclose(g.sum(axis=1), 0, atol=1e-7)  # softmax minus one-hot, per row
    assert np.abs(g).max() <= 1 / 64 + 1e-7
    with pytest.raises(ValueError, match="batch=0"):
        ch07.mlp_values(batch=0, rng=np.random.default_rng(0))


@pytest.fixture(scope="module")
def runs():
    # a generator in the same state per mode: every mode fits the same problem
    return {m: ch07.fp16_loss_scaling_run(m, rng=np.random.default_rng(7))
            for m in ch07.LOSS_SCALE_MODES}


def test_no_scaling_stalls_and_scaling_recovers(runs):
    ref = runs["float32"].final_loss
    assert runs["none"].final_loss > 20 * ref
    assert runs["none"].zero_fraction[-1] > 0.9
    assert runs["static"].final_loss < 2 * ref and runs["dynamic"].final_loss < 2 * ref


def test_every_mode_starts_from_the_same_problem(runs):
    # w = 0 at the first step: the loss is mean(y^2), the same y for every mode
    assert len({r.loss[0] for r in runs.values()}) == 1


def test_dynamic_skips_overflowing_steps_and_grows(runs):
    d = runs["dynamic"]
    assert d.n_skipped >= 1 and np.array_equal(d.skipped, d.overflowed)
    assert d.scale[0] == 2.0**15 and d.scale[-1] > d.scale[d.n_skipped]
    assert np.all(np.isfinite(d.loss))


def test_too_large_static_scale_overflows():
    r = ch07.fp16_loss_scaling_run("static", static_scale=2.0**20, steps=5,
                                   rng=np.random.default_rng(7))
    assert r.overflowed[0] and np.isnan(r.loss[-1]) and r.n_skipped == 0
    with pytest.raises(ValueError, match="mode='fp8'"):
        ch07.fp16_loss_scaling_run("fp8", rng=np.random.default_rng(7))


@pytest.mark.parametrize("bad", [7, None, np.random.RandomState(7)])
def test_rng_must_be_a_generator(bad):
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch07.fp16_loss_scaling_run("float32", steps=1, rng=bad)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch07.mlp_values(rng=bad)


def test_bf16_vs_fp16_examples():
    rows = {r["case"]: r for r in ch07.bf16_vs_fp16_examples()}
    assert rows["exp(12)"]["float16"] == np.inf and np.isfinite(rows["exp(12)"]["bfloat16"])
    assert rows["1 + 1/256"]["bfloat16"] == 1.0 and rows["1 + 1/256"]["float16"] == 1 + 1 / 256
    assert rows["gradient 1e-8"]["float16"] == 0 and rows["gradient 1e-8"]["bfloat16"] > 0
    assert float(ml_dtypes.finfo(ml_dtypes.bfloat16).tiny) < 1e-8
