"""Chapter 7 computes its quoted values with the library."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from nbutil import control, html_of, load_app

from numdl.tutorial.simulations import ch07


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    import os

    os.environ.setdefault("NUMDL_HOME", str(tmp_path_factory.mktemp("home")))
    return load_app("07_mixed_precision")


def test_mixed_precision_chapter_values(mixed):
    outputs, defs = mixed.run(defs={
        "rng_format": control("float16"), "rng_layer": control("logits"),
        "ls_static": control(10), "ls_interval": control(25),
    })
    ref = ch07.mlp_values(batch=512, rng=np.random.default_rng(70))
    g16 = ch07.format_fractions(ref["logits"]["gradients"], "float16")
    assert defs["rng_fracs"]["gradients"]["float16"] == g16 and g16.underflow > 0.05
    assert defs["rng_fracs"]["gradients"]["bfloat16"].underflow == 0
    runs = defs["ls_runs"]
    assert runs["none"].final_loss > 20 * runs["float32"].final_loss
    assert runs["static"].final_loss < 2 * runs["float32"].final_loss
    direct = ch07.fp16_loss_scaling_run("dynamic", growth_interval=25, rng=np.random.default_rng(7))
    assert runs["dynamic"].n_skipped == direct.n_skipped > 0
    rows = {r["case"]: r for r in defs["bf_rows"]}
    assert rows["exp(12)"]["float16"] == np.inf
    text = html_of(outputs)
    assert "7 · Mixed precision" in text and "Key takeaways" in text


def test_too_large_static_scale_gives_nan(mixed):
    outputs, defs = mixed.run(defs={"ls_static": control(20), "ls_interval": control(25)})
    assert np.isnan(defs["ls_runs"]["static"].final_loss)
    assert "the loss is nan from step" in html_of(outputs)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_precision_audit_flags_float16(mixed):
    _, defs = mixed.run(defs={})
    audit = defs["audit"]
    assert audit.flagged("float16") and not audit.flagged("bfloat16")
