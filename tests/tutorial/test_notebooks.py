"""Every notebook runs headless without error, and its key computed values are right.

Under ``marimo run`` a cell that raises shows nothing at all, so these runs are
what catch errors; the browser tests check that the outputs appear.
"""

from __future__ import annotations

import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest
from nbutil import control, default_run, html_of, load_app

from numdl.tutorial.catalog import CHAPTERS, HOME_SLUG, available_chapters, notebook_dir

NOTEBOOKS = [HOME_SLUG] + [c.slug for c in available_chapters()]




# Under `marimo run` a cell that raises shows nothing, so every notebook runs headless with its
# defaults (default_run: once per process, shared with the value tests that read that run).
@pytest.mark.parametrize("slug", NOTEBOOKS)
def test_notebook_runs_headless_with_its_defaults(slug):
    outputs, _ = default_run(slug)
    # the last section: every cell before it ran
    assert ("your progress" if slug == HOME_SLUG else "Key takeaways") in html_of(outputs)


def test_a_chapter_runs_as_a_script(numdl_home):
    """`python NN_slug.py`, the way a learner checks a notebook (its __main__ entry point)."""
    env = dict(os.environ, NUMDL_HOME=str(numdl_home))
    proc = subprocess.run([sys.executable, str(notebook_dir() / "01_why_numerics.py")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_every_catalogued_notebook_has_a_title_objectives_exercises_and_takeaways():
    for chapter in available_chapters():
        source = chapter.path.read_text()
        assert f"# {chapter.number} · {chapter.title}" in source, chapter.slug
        assert "By the end of this chapter you will be able to" in source, chapter.slug
        assert "ExercisePanel(" in source and "takeaways(" in source, chapter.slug
        assert "mo.ui." in source, f"{chapter.slug} has no live controls"


def _smallest_subnormal_exponent(name: str) -> int:
    dt = np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)
    return int(-np.log2(float(ml_dtypes.finfo(dt).smallest_subnormal)))


def test_chapter1_underflow_lengths_match_each_format():
    app = load_app("01_why_numerics")
    # p = 1/2: the product 2^-k is exact until it falls below the smallest
    # subnormal 2^-m; 2^-(m+1) is a tie that rounds to even, i.e. to 0.
    _, defs = app.run(defs={"seq_p": control(0.5), "seq_n": control(2000), "seq_dtype": control("float32")})
    for name, run in defs["runs"].items():
        assert run.underflow_at == _smallest_subnormal_exponent(name) + 1, name
    assert defs["log10_true"][-1] == pytest.approx(-2000 * np.log10(2.0), rel=1e-12)


def test_chapter1_conditioning_amplification_is_near_kappa():
    app = load_app("01_why_numerics")
    _, defs = app.run(defs={"cond_delta": control(-8), "cond_pert": control(-12)})
    solve = defs["solve"]
    assert solve.condition == pytest.approx(4e8, rel=1e-3)  # ~4/delta for small delta
    assert solve.rel_change_b == pytest.approx(1e-12)
    assert 1e-3 * solve.condition < solve.amplification <= solve.condition * 1.01


def test_chapter1_low_precision_weights_stall(numdl_home):
    app = load_app("01_why_numerics")
    _, defs = app.run(defs={"train_lr": control(0.01),
                            "train_dtypes": control(["float32", "float16", "bfloat16"])})
    finals = {k: r.final_loss for k, r in defs["training"].items()}
    assert finals["float32"] < 0.1 * finals["float16"] < 0.1 * finals["bfloat16"]
    assert np.mean(defs["training"]["bfloat16"].lost_updates[-50:]) == 1.0


def test_home_page_shows_progress(numdl_home):
    from numdl.exercises import ProgressStore
    from numdl.exercises.chapter01 import SEQUENCE_LOG_PROB

    ProgressStore().record(SEQUENCE_LOG_PROB.id, SEQUENCE_LOG_PROB.solution, passed=True)
    outputs, _ = load_app(HOME_SLUG).run()
    text = html_of(outputs)
    assert "<tr data-chapter='1'>" in text and "1/2 passed" in text
    assert "href='?file=01_why_numerics.py'" in text
    assert text.count("in preparation") == sum(1 for c in CHAPTERS if not c.available)


def test_chapter2a_naive_softmax_fails_where_the_thresholds_say():
    from numdl.floats import format_info

    app = load_app("02a_overflow_underflow")
    _, defs = app.run(defs={"soft_s": control(1000), "soft_dtype": control("float64")})
    assert np.all(np.isnan(defs["soft_out"]))
    # float16: e^10 fits (10 < 11.09) but the sum of three does not: every share is 0.
    assert format_info("float16").exp_overflow > 10
    _, defs = app.run(defs={"soft_s": control(10), "soft_dtype": control("float16")})
    assert np.all(defs["soft_out"] == 0)
    _, defs = app.run(defs={"soft_s": control(5), "soft_dtype": control("float16")})
    np.testing.assert_allclose(defs["soft_out"].astype(float), 1 / 3, rtol=1e-3)


def test_chapter2a_underflow_breaks_division_and_log():
    app = load_app("02a_overflow_underflow")
    _, defs = app.run(defs={"under_x": control(-120), "under_dtype": control("float32")})
    assert defs["under_p"] == 0 and np.isinf(defs["under_inv"]) and defs["under_log"] == -np.inf
    _, defs = app.run(defs={"under_x": control(-100), "under_dtype": control("float32")})
    assert 0 < defs["under_p"] < np.finfo(np.float32).tiny  # subnormal, not yet 0
    assert defs["under_log"] == pytest.approx(-100, abs=0.02)


def test_chapter2a_explorer_rounds_what_was_typed_in_every_format():
    app = load_app("02a_overflow_underflow")
    outputs, _ = app.run(defs={"explore_text": control("65520"), "explore_steps": control(0)})
    text = html_of(outputs)
    row16 = text.split("data-format='float16'")[1].split("</tr>")[0]
    assert "inf" in row16 and "overflow" in row16
    outputs, _ = app.run(defs={"explore_text": control("0.1"), "explore_steps": control(0)})
    row64 = html_of(outputs).split("data-format='float64'")[1].split("</tr>")[0]
    assert "0.1000000000000000055511151231257827021181583404541015625" in row64 and "rounded" in row64


def test_chapter2b_values():
    app = load_app("02b_rounding")
    _, defs = app.run(defs={"canc_dtype": control("float64"), "canc_range": control([-10, 2]),
                            "acc_kind": control("0.1 repeated"), "acc_dtype": control("float32"),
                            "acc_max": control(5), "order_n": control(6)})
    left, right, exact = defs["assoc_rows"]["float64"]
    assert (left, right, exact) == (0.6000000000000001, 0.6, 0.6)
    assert np.max(defs["canc"]["stable"]) <= 4 and np.max(defs["canc"]["naive"]) > 1e15
    acc = defs["acc"]
    assert acc["neumaier"][-1] < 1e-7 < 1e-5 < acc["naive"][-1]
    order = defs["order"]
    assert order["smallest first error"] < order["largest first error"] / 100


def test_chapter4_confident_class_and_epsilon():
    app = load_app("04_stable_softmax")
    _, defs = app.run(defs={"cmp_kind": control("log_softmax"), "cmp_preset": control("confident class"),
                            "cmp_magnitude": control(40), "cmp_dtype": control("float64"),
                            "eps_logp": control(-12), "eps_value": control("1e-8"),
                            "eps_dtype": control("float16")})
    c = defs["comparison"]
    assert c.ulp_errors["numdl"] == 0 and c.ulp_errors["max-shift"] > 1e15
    assert c.outputs["max-shift"][0] == 0 and c.exact[0] < 0
    # In float16, eps = 1e-8 is below the smallest subnormal: it rounds to 0.
    assert defs["eps_stored"] == 0 and defs["eps_result"] == -np.inf
    assert len(defs["STEPS"]) == 5


def test_chapter4_sweep_numdl_is_correctly_rounded_where_max_shift_fails():
    app = load_app("04_stable_softmax")
    _, defs = app.run(defs={"cmp_kind": control("softmax"), "cmp_preset": control("random"),
                            "cmp_magnitude": control(100), "cmp_dtype": control("float64")})
    sweep = defs["sweep"]
    assert np.max(sweep["numdl"]) <= 1 and np.max(sweep["max-shift"]) > 10


def test_chapter5a_losses():
    app = load_app("05a_cross_entropy")
    _, defs = app.run(defs={"ce_margin": control(50), "ce_classes": control(10), "ce_dtype": control("float64"),
                            "bce_x": control(-40), "bce_y": control("0"),
                            "ls_eps": control(0.1), "ls_margin": control(800)})
    point = defs["ce_point"]
    assert point["numdl"][0] == point["exact"][0] > 0 and point["max-shift"][0] == 0
    assert defs["bce_numdl"] == pytest.approx(defs["bce_exact"]) and defs["bce_exact"] > 0
    assert np.isfinite(defs["ls_numdl"]) and np.isnan(defs["ls_naive"])
    assert defs["mask_numdl"] == pytest.approx(defs["mask_exact"]) and np.isnan(defs["mask_naive"])
