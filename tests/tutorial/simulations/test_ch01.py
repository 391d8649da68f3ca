"""Chapter 1's simulations compute what the prose says they do."""

from __future__ import annotations

import itertools
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from numdl.tutorial.simulations import ch01

BAD_RNGS = [0, None, np.random.RandomState(0)]  # a seed, nothing, the legacy generator


@pytest.mark.parametrize("name", ["float64", "float32", "float16", "bfloat16"])
def test_running_product_underflows_where_exact_arithmetic_says(name):
    dt = np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)
    run = ch01.running_product(0.3, 3000, name)
    tiny = Fraction(float(ml_dtypes.finfo(dt).smallest_subnormal))
    p = Fraction(float(np.asarray(0.3, dtype=dt)))
    # Each step rounds, so the exact power only brackets the answer: the product
    # must reach 0 no later than where p^k falls below half the smallest subnormal.
    k_exact = next(k for k in range(1, 3001) if p**k < tiny / 2)
    assert run.underflow_at is not None and run.underflow_at <= k_exact + 1
    assert run.product[run.underflow_at - 2] > 0 and np.all(run.product[run.underflow_at - 1:] == 0)
    assert run.log_sum[-1] == pytest.approx(3000 * np.log(float(p)), rel=1e-12)
    assert run.product.dtype == dt


def test_running_product_without_underflow_and_bad_arguments():
    assert ch01.running_product(0.99, 100, "float64").underflow_at is None
    with pytest.raises(ValueError, match="p=0"):
        ch01.running_product(0.0, 10)
    with pytest.raises(ValueError, match="n="):
        ch01.running_product(0.5, 0)
    with pytest.raises(ValueError, match="dtype='int8'"):
        ch01.running_product(0.5, 10, "int8")
    with pytest.raises(ValueError, match="dtype='float8_e4m3fn'"):  # too little precision
        ch01.running_product(0.5, 10, "float8_e4m3fn")


def test_sensitive_solve_amplification_is_bounded_by_kappa():
    for delta in (1e-2, 1e-5, 1e-8):
        s = ch01.sensitive_solve(delta, 1e-12, rng=np.random.default_rng(0))
        assert s.condition == pytest.approx(np.linalg.cond([[1, 1], [1, 1 + delta]]))
        assert s.amplification <= s.condition * (1 + 1e-6)
        assert s.amplification > 0.01 * s.condition  # a random direction nearly attains it
    with pytest.raises(ValueError, match="delta"):
        ch01.sensitive_solve(0.0, 1e-3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="rel_perturbation"):
        ch01.sensitive_solve(1e-3, -1e-3, rng=np.random.default_rng(0))


def test_fraction_of_minima_matches_one_dimension_and_falls_fast():
    rng = np.random.default_rng(0)
    assert ch01.fraction_of_minima(1, 40_000, rng=rng) == pytest.approx(0.5, abs=0.01)
    fractions = [ch01.fraction_of_minima(d, 20_000, rng=rng) for d in (2, 3, 4, 6)]
    assert all(a > b for a, b in itertools.pairwise(fractions))
    assert fractions[-1] < 1e-3
    with pytest.raises(ValueError, match="dim=0"):
        ch01.fraction_of_minima(0, 10, rng=rng)


def test_activation_scales_explode_in_float16_but_not_float64():
    s16 = ch01.activation_scales(60, 2.0, dtype="float16", rng=np.random.default_rng(0))
    s64 = ch01.activation_scales(60, 2.0, dtype="float64", rng=np.random.default_rng(0))
    assert not np.all(np.isfinite(s16)) and np.all(np.isfinite(s64))
    # The scale grows like gain^L: about log10(2) decades per layer.
    slope = np.polyfit(np.arange(60), np.log10(s64), 1)[0]
    assert slope == pytest.approx(np.log10(2.0), abs=0.05)
    vanish = ch01.activation_scales(60, 0.5, dtype="float16", rng=np.random.default_rng(0))
    assert vanish[-1] == 0.0
    with pytest.raises(ValueError, match="depth=0"):
        ch01.activation_scales(0, 1.0, rng=np.random.default_rng(0))


def test_training_stalls_when_updates_round_away():
    runs = {d: ch01.train_linear_regression(d, 0.01, 400, rng=np.random.default_rng(3))
            for d in ("float32", "float16", "bfloat16")}
    assert runs["float32"].final_loss < 0.01
    assert runs["float16"].final_loss > 100 * runs["float32"].final_loss
    assert runs["bfloat16"].final_loss > 10 * runs["float16"].final_loss
    assert runs["bfloat16"].lost_updates[-1] == 1.0
    assert np.all(np.isfinite(runs["bfloat16"].losses))  # silent: nothing is nan
    # The stall is at the scale of the format's spacing near 100: 0.5 for bfloat16.
    w_err = np.abs(runs["bfloat16"].weights - runs["float32"].weights)
    assert np.max(w_err) > 0.5
    with pytest.raises(ValueError, match="lr="):
        ch01.train_linear_regression("float32", 0.0, rng=np.random.default_rng(3))
    with pytest.raises(ValueError, match="steps="):
        ch01.train_linear_regression("float32", 0.01, 0, rng=np.random.default_rng(3))


@pytest.mark.parametrize("bad", BAD_RNGS)
@pytest.mark.parametrize("call", [
    lambda rng: ch01.sensitive_solve(1e-3, 1e-6, rng=rng),
    lambda rng: ch01.fraction_of_minima(2, 10, rng=rng),
    lambda rng: ch01.activation_scales(3, 1.0, rng=rng),
    lambda rng: ch01.train_linear_regression("float32", rng=rng),
], ids=["sensitive_solve", "fraction_of_minima", "activation_scales", "train_linear_regression"])
def test_rng_must_be_a_generator(call, bad):
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        call(bad)
