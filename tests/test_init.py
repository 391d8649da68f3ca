"""numdl.init: initialization scales."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.init import INITS, init_std


def test_init_std_matches_the_schemes():
    assert init_std("normal", 100, 100) == 1.0
    assert init_std("xavier", 100, 300) == pytest.approx(np.sqrt(2 / 400))
    assert init_std("he", 50, 10) == pytest.approx(np.sqrt(2 / 50))
    assert INITS == ("normal", "xavier", "he")


def test_matches_torch_init():
    torch = pytest.importorskip("torch")
    w = torch.empty(400, 300)
    torch.manual_seed(0)
    torch.nn.init.xavier_normal_(w)
    assert float(w.std()) == pytest.approx(init_std("xavier", 300, 400), rel=0.01)
    torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")
    assert float(w.std()) == pytest.approx(init_std("he", 300, 400), rel=0.01)


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="init="):
        init_std("lecun", 1, 1)
    with pytest.raises(ValueError, match="fan_in"):
        init_std("he", 0, 1)
