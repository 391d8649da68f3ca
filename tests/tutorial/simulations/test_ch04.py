"""Chapter 4's side-by-side measurements (rerun on every kernel path: tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.tutorial.simulations import ch04


@pytest.mark.parametrize("preset", ch04.PRESETS)
@pytest.mark.parametrize("kind", list(ch04.FUNCTIONS))
def test_numdl_is_within_one_ulp_on_every_preset(kind, preset):
    for magnitude in (1.0, 40.0, 1000.0):
        c = ch04.compare(kind, ch04.preset_input(preset, magnitude, 5, "float64",
                                                 rng=np.random.default_rng(0)))
        # 1 ULP from the correctly rounded value (the float next to it), not the 2 max(1, kappa)
        # claim: by construction where np.longdouble has at least 64 significand bits (x86-64
        # with GCC or Clang; not MSVC or arm64 macOS, where it is float64).  Inputs of <= 512
        # elements then take the long-double path: the shifts x_i - max are exact for these
        # presets (integers, or values within 11 binades of each other), and expl/log1pl, the
        # sum and the quotient err by a few 2**-64 (whatever the CPU makes of expl's last bit),
        # some 2**-11 float64 ULP, so rounding to float64 gives the correctly rounded value or,
        # within that of a midpoint, its neighbour.  The margin sweep of test_ch05a.py
        # (cross_entropy of 10 classes) takes the same path.
        assert c.ulp_errors["numdl"] <= 1, (kind, preset, magnitude)


def test_naive_fails_where_the_chapter_says():
    c = ch04.compare("softmax", ch04.preset_input("equal large", 1000, 3))
    assert np.isinf(c.ulp_errors["naive"]) and c.ulp_errors["max-shift"] == 0
    c = ch04.compare("log_softmax", ch04.preset_input("confident class", 50, 3))
    assert c.ulp_errors["max-shift"] > 1e15 and c.outputs["max-shift"][0] == 0


def test_preset_inputs_and_errors():
    x = ch04.preset_input("one dominant", 100.0, 3, "float32")
    assert x.dtype == np.float32 and x.tolist() == [100.0, 60.0, 20.0]
    with pytest.raises(ValueError, match="preset="):
        ch04.preset_input("nope", 1.0)
    with pytest.raises(ValueError, match="n=0"):
        ch04.preset_input("equal large", 1.0, 0)
    with pytest.raises(ValueError, match="kind="):
        ch04.compare("nope", [1.0])
    with pytest.raises(ValueError, match="1-D"):
        ch04.compare("softmax", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="kind="):
        ch04.error_sweep("nope", "equal large", [1.0])


def test_the_random_preset_draws_from_rng_and_the_sweep_scales_one_draw():
    x = ch04.preset_input("random", 3.0, 4, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(x, 3.0 * np.random.default_rng(0).standard_normal(4))
    sweep = ch04.error_sweep("logsumexp", "random", [1.0, 3.0], 4, rng=np.random.default_rng(0))
    at3 = ch04.compare("logsumexp", x).ulp_errors
    assert all(sweep[name][1] == at3[name] for name in ch04.FUNCTIONS["logsumexp"])
    np.testing.assert_array_equal(sweep["magnitude"], [1.0, 3.0])


@pytest.mark.parametrize("bad", [0, None, np.random.RandomState(0)])
def test_rng_must_be_a_generator_for_the_random_preset(bad):
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch04.preset_input("random", 1.0, rng=bad)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch04.error_sweep("softmax", "random", [1.0], rng=bad)


def test_a_deterministic_preset_refuses_a_wrong_rng_too():
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch04.preset_input("equal large", 1.0, rng=0)
