"""Chapter 5a's margin sweep (rerun on every kernel path: tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.tutorial.simulations import ch05a


def test_margin_sweep_shows_the_confident_class_lost_by_max_shift():
    s = ch05a.cross_entropy_margin_sweep([-800.0, 0.0, 60.0], 10, "float64")
    assert s["numdl ulp"].max() <= 1
    assert s["max-shift"][2] == 0 and s["exact"][2] > 0
    assert np.isinf(s["naive"][0])  # the target's probability underflowed: -log 0


def test_margin_sweep_needs_two_classes():
    with pytest.raises(ValueError, match="n_classes=1"):
        ch05a.cross_entropy_margin_sweep([1.0], 1)
