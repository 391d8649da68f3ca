"""Side-by-side measurements used by chapters 4 and 5a."""

from __future__ import annotations

import numpy as np
import pytest

from numdl import comparisons


@pytest.mark.parametrize("preset", comparisons.PRESETS)
@pytest.mark.parametrize("kind", list(comparisons.FUNCTIONS))
def test_numdl_is_within_one_ulp_on_every_preset(kind, preset):
    for magnitude in (1.0, 40.0, 1000.0):
        c = comparisons.compare(kind, comparisons.preset_input(preset, magnitude, 5, "float64"))
        # 1 ULP from the correctly rounded value (the float next to it), not the 2 max(1, kappa)
        # claim: by construction where np.longdouble has at least 64 significand bits (x86-64
        # with GCC or Clang; not MSVC or arm64 macOS, where it is float64).  Inputs of <= 512
        # elements then take the long-double path: the shifts x_i - max are exact for these
        # presets (integers, or values within 11 binades of each other), and expl/log1pl, the
        # sum and the quotient err by a few 2**-64 (whatever the CPU makes of expl's last bit),
        # some 2**-11 float64 ULP, so rounding to float64 gives the correctly rounded value or,
        # within that of a midpoint, its neighbour.  The margin sweep below (cross_entropy of 10
        # classes) takes the same path.
        assert c.ulp_errors["numdl"] <= 1, (kind, preset, magnitude)


def test_naive_fails_where_the_chapter_says():
    c = comparisons.compare("softmax", comparisons.preset_input("equal large", 1000, 3))
    assert np.isinf(c.ulp_errors["naive"]) and c.ulp_errors["max-shift"] == 0
    c = comparisons.compare("log_softmax", comparisons.preset_input("confident class", 50, 3))
    assert c.ulp_errors["max-shift"] > 1e15 and c.outputs["max-shift"][0] == 0


def test_preset_inputs_and_errors():
    x = comparisons.preset_input("one dominant", 100.0, 3, "float32")
    assert x.dtype == np.float32 and x.tolist() == [100.0, 60.0, 20.0]
    with pytest.raises(ValueError, match="preset="):
        comparisons.preset_input("nope", 1.0)
    with pytest.raises(ValueError, match="kind="):
        comparisons.compare("nope", [1.0])
    with pytest.raises(ValueError, match="1-D"):
        comparisons.compare("softmax", np.zeros((2, 2)))


def test_margin_sweep_shows_the_confident_class_lost_by_max_shift():
    s = comparisons.cross_entropy_margin_sweep([-800.0, 0.0, 60.0], 10, "float64")
    assert s["numdl ulp"].max() <= 1
    assert s["max-shift"][2] == 0 and s["exact"][2] > 0
    assert np.isinf(s["naive"][0])  # the target's probability underflowed: -log 0
