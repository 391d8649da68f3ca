"""Chapters 2c, 5b and 5c: their key computed values, with controls set, agree with the library.

(That each notebook runs headless is checked by ``test_notebooks.py``, parametrized over the
catalog.)
"""

from __future__ import annotations

import numpy as np
import pytest
from nbutil import control, html_of, load_app

from numdl import naive
from numdl.linalg import lstsq
from numdl.tutorial.simulations import ch02c, ch05b

U64 = float(np.finfo(np.float64).eps) / 2




# -- 2c · Poor conditioning ----------------------------------------------------------------------


def test_chapter2c_ellipse_and_amplification():
    app = load_app("02c_conditioning")
    _, defs = app.run(defs={"ell_kappa": control(2.0), "ell_angle": control(60),
                            "amp_pert": control(-8), "amp_worst": control(True)})
    assert defs["ellipse"].kappa == pytest.approx(100.0, rel=1e-10)
    amp = defs["amp"]
    assert amp.rel_perturbation == pytest.approx(1e-8) and amp.worst_case_x
    ratio = defs["amp_ratio"]
    assert np.all(ratio <= 1 + 1e-5) and np.all(ratio.max(axis=1) >= 0.99)
    _, defs = app.run(defs={"amp_pert": control(-10), "amp_worst": control(False)})
    assert np.all(defs["amp_ratio"] <= 1 + 1e-5)
    assert np.median(defs["amp_ratio"][1:]) < 0.9  # a random x rarely lies along v1


def test_chapter2c_hilbert_inverse_and_descent():
    app = load_app("02c_conditioning")
    outputs, defs = app.run(defs={"hil_n": control(8), "inv_n": control("10"),
                                  "gd_kappa": control(2.0), "gd_lr": control(2.1),
                                  "gd_steps": control(200)})
    rows = defs["hilbert_rows"]
    expected = ch02c.hilbert_study(range(2, 16))
    assert [r.kappa_exact for r in rows] == [r.kappa_exact for r in expected]
    text = html_of(outputs)
    assert f"For n = 8: κ = {expected[6].kappa_exact:.3g}" in text
    inv = defs["inv"]
    assert np.all(inv.backward_solve <= 10 * 10 * U64)
    assert inv.backward_inv[-1] > 1e4 * inv.backward_solve[-1]
    assert defs["gd_run"].diverged  # eta = 2.1 > 2/L
    assert defs["gd_slope"] == pytest.approx(1.0, abs=0.05)
    assert np.all(defs["gd_iters"]["newton"] == 1)
    _, defs = app.run(defs={"gd_kappa": control(2.0), "gd_lr": control(1.0),
                            "gd_steps": control(500)})
    # eta = 1 = 1/L kills the steep direction at once; the flat one needs ln(1e6)/-ln(1 - 1/100).
    run = defs["gd_run"]
    assert not run.diverged and run.converged_at is None  # 500 steps are not enough
    assert np.linalg.norm(run.path[-1]) / np.linalg.norm(run.path[0]) == pytest.approx(
        abs(np.array([-2.0, 1.2]) @ np.array([-np.sin(np.pi / 6), np.cos(np.pi / 6)]))
        * 0.99**500 / np.linalg.norm([-2.0, 1.2]), rel=1e-6)


# -- 5b · Linear least squares -------------------------------------------------------------------


def test_chapter5b_slopes_are_two_and_one():
    app = load_app("05b_least_squares")
    outputs, defs = app.run(defs={"ls_dtype": control("float64")})
    slopes = defs["slopes"]
    for m in ("normal_inv", "normal_solve", "cholesky"):
        assert slopes[m] == pytest.approx(2.0, abs=0.15), m
    for m in ("qr", "svd", "lapack"):
        assert slopes[m] == pytest.approx(1.0, abs=0.1), m
    sweep = defs["sweep"]
    assert slopes == {m: sweep.slope(m) for m in slopes}
    text = html_of(outputs)
    assert all(f"{slopes[m]:.2f}" in text for m in slopes)
    _, defs = app.run(defs={"ls_dtype": control("float32")})
    assert defs["sweep"].dtype == "float32"
    assert defs["slopes"]["normal_solve"] > 1.5 and defs["slopes"]["qr"] < 1.3
    assert defs["sweep"].truncated["lapack"][-1]  # default rcond drops sigma_min in float32


def test_chapter5b_cholesky_fails_where_kappa_squared_u_reaches_one():
    app = load_app("05b_least_squares")
    _, defs = app.run(defs={"chol_kappa": control(9.0), "chol_dtype": control("float64")})
    res = defs["chol_results"]
    assert res["cholesky"][0].status == "failed" and "not numerically positive definite" in res["cholesky"][0].message
    assert res["qr"][0].status == "success" and res["qr"][1] < 1e-6
    _, defs = app.run(defs={"chol_kappa": control(6.0), "chol_dtype": control("float64")})
    assert defs["chol_results"]["cholesky"][0].status == "success"
    _, defs = app.run(defs={"chol_kappa": control(4.5), "chol_dtype": control("float32")})
    assert defs["chol_results"]["cholesky"][0].status == "failed"


def test_chapter5b_rcond_and_triangular_solve():
    app = load_app("05b_least_squares")
    _, defs = app.run(defs={"rc_rcond": control(-14), "rc_noise": control(-12)})
    assert defs["rc_diag"].rank == 3 and np.linalg.norm(defs["rc_sol"]) > 1e6
    _, defs = app.run(defs={"rc_rcond": control(-8), "rc_noise": control(-12)})
    assert defs["rc_diag"].rank == 2 and defs["rc_diag"].truncated == 1
    x, y = ch05b.collinear_problem(40, 1e-12, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(defs["rc_sol"], lstsq(x, y, method="svd", rcond=1e-8)[0])
    tri = defs["tri"]
    lit, _, back = ch05b.TRIANGULAR_VARIANTS
    assert tri.backward[lit][-1] > 1e4 * tri.backward[back][-1]


# -- 5c · Batch normalization --------------------------------------------------------------------


def test_chapter5c_eps_in_float16():
    app = load_app("05c_batch_norm")
    _, defs = app.run(defs={"eps_dtype": control("float16"), "eps_eps": control("1e-8"),
                            "eps_const": control(True), "eps_std": control(-2.0)})
    assert defs["eps_run"].eps_stored == 0.0 and defs["eps_run"].has_nan
    _, defs = app.run(defs={"eps_dtype": control("float32"), "eps_eps": control("1e-8"),
                            "eps_const": control(True), "eps_std": control(-2.0)})
    assert not defs["eps_run"].has_nan
    _, defs = app.run(defs={"eps_dtype": control("float64"), "eps_eps": control("1e-5"),
                            "eps_const": control(False), "eps_std": control(-2.5)})
    run = defs["eps_run"]
    assert run.output_std == pytest.approx(np.sqrt(run.batch_var / (run.batch_var + 1e-5)))
    curve = defs["eps_curves"]["1e-5"]
    assert curve[0] < 0.01 and curve[-1] > 0.99


def test_chapter5c_batch_variance_and_running_statistics():
    app = load_app("05c_batch_norm")
    _, defs = app.run(defs={"bv_dist": control("normal"), "rv_dtype": control("float32"),
                            "rv_offset": control(4.0), "rv_batch": control(64)})
    q, sizes = defs["bv_q"], defs["bv_sizes"]
    assert q[-1, 2] == pytest.approx(1.0, abs=0.02)  # B = 1024: median near 1
    assert np.all(np.diff(q[:, 4] - q[:, 0]) < 0)  # the band narrows with B
    assert sizes[0] == 2
    s = defs["stream"]
    assert np.any(s.naive < 0)
    assert np.max(np.abs(s.welford - s.exact) / s.exact) < 1e-3
    data = (1e4 + np.random.default_rng(0).standard_normal((100, 64))).astype(np.float32)
    assert defs["stream_oneshot"] == float(naive.variance(data.ravel()))
    _, defs = app.run(defs={"rv_dtype": control("float16"), "rv_offset": control(6.0),
                            "rv_batch": control(32)})
    s = defs["stream"]  # the offset is capped at 1e3 in float16
    assert s.dtype == "float16" and not np.all(np.isfinite(s.naive))
    assert np.max(np.abs(s.welford - s.exact) / s.exact) < 1e-3


def test_chapter5c_train_eval_mismatch():
    app = load_app("05c_batch_norm")
    _, defs = app.run(defs={"te_batch": control(2), "te_shift": control(0.0)})
    te = defs["te"]
    assert np.median(np.abs(te.train_outputs)) > 0.9999 and np.all(np.abs(te.train_outputs) <= 1)
    _, defs = app.run(defs={"te_batch": control(64), "te_shift": control(2.0)})
    te = defs["te"]
    assert te.eval_output == pytest.approx(2.5, abs=0.25)  # 0.5 plus the shift
    assert np.mean(te.train_outputs) == pytest.approx(0.5, abs=0.05)
