"""Chapter 6 computes its quoted values with the library."""

from __future__ import annotations

import numpy as np
import pytest
from nbutil import control, html_of, load_app

from numdl.tutorial.simulations import ch06


@pytest.fixture(scope="module")
def debugging(tmp_path_factory):
    import os

    os.environ.setdefault("NUMDL_HOME", str(tmp_path_factory.mktemp("home")))
    return load_app("06_debugging")


def test_debugging_chapter_values(debugging):
    outputs, defs = debugging.run(defs={
        "eps_exp": control(-8), "eps_dtype": control("float16"),
        "clip_g1": control(12.0), "clip_g2": control(1.0), "clip_c": control(2.0),
        "init_depth": control(50), "init_act": control("relu"), "init_scheme": control("normal"),
        "bis_fn": control("naive softmax"), "bis_dtype": control("float32"),
        "gc_err": control("1e-3"),
    })
    assert defs["eps_stored"] == 0.0  # 1e-8 is below float16's smallest subnormal
    assert defs["clip_norm"].total_norm == pytest.approx(np.hypot(12, 1))
    assert defs["clip_turn_norm"] < 1e-6 and defs["clip_turn_value"] > 20
    ref = ch06.mlp_signal_scales(50, "relu", "normal", width=128, rng=np.random.default_rng(6))
    assert not np.isfinite(defs["init_summary"]["normal"][0]) and not np.isfinite(ref.activation_std[-1])
    # float32 exp overflows within two float32 spacings of log(float32 max), by the CPU's exp
    slack = 2 * float(np.spacing(np.float32(88.7)))
    assert defs["bisect"].last_finite == pytest.approx(np.log(np.finfo(np.float32).max), abs=slack)
    assert not defs["gc_result"].passed and defs["gc_torch"] is True  # torch rtol=1e-3 lets 0.1% through
    assert "divide by zero in log" in defs["guard_report"]
    assert defs["ext_bad"]["numdl"] == 0 and defs["ext_bad"]["naive"] > 0
    assert defs["cond_raw"] > 1e4 * defs["cond_std"]
    assert defs["inv_err"] > 1e4 * defs["solve_err"]  # backward errors at kappa 1e12
    assert defs["pitfalls"]["var_exact"] == pytest.approx(2 / 3)
    assert defs["clip_torch"]["total"] != defs["clip_torch"]["total"]  # nan
    assert all(np.isnan(defs["clip_torch"]["w1"]))
    assert "PowBackward0" in defs["anomaly_text"] and "sqrt" in defs["trace_text"].lower()
    assert defs["pitfalls"]["f16_square"] == np.inf and defs["pitfalls"]["var_naive"] != 1.0
    text = html_of(outputs)
    assert "6 · Best practices and debugging" in text


def test_debugging_he_init_keeps_relu_signal(debugging):
    _, defs = debugging.run(defs={"init_depth": control(30), "init_act": control("relu"),
                                  "init_scheme": control("he")})
    act_last, g_first, g_last = defs["init_summary"]["he"]
    assert 0.3 < act_last < 3 and 0.1 < g_first / g_last < 10
    assert defs["init_summary"]["xavier"][0] < 1e-3
