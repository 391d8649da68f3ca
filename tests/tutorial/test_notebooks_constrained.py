"""Chapter 3d: the values the notebook computes and quotes agree with numdl.optim.constrained.

Each test runs the notebook with ``app.run(defs=...)``, its controls replaced by fixed values, and
checks the computed objects against the library's closed forms.
"""

from __future__ import annotations

import numpy as np
import pytest
from nbutil import control, default_run, html_of, load_app

from numdl.optim import Status
from numdl.optim import constrained as C

SLUG = "03d_constrained"




@pytest.fixture(scope="module")
def app():
    return load_app(SLUG)


@pytest.fixture(scope="module")
def default_view():
    return default_run(SLUG)


@pytest.mark.parametrize(("offset", "active", "words"), [
    (0.0, [False, True], "only g2 is active"),
    (1.0, [True, True], "both constraints are active"),
    (1.8, [True, False], "only g1 is active"),
])
def test_moving_the_half_plane_switches_complementary_slackness(app, offset, active, words):
    outputs, defs = app.run(defs={"kkt_offset": control(offset)})
    p, res, run = defs["kkt_problem"], defs["kkt_res"], defs["kkt_run"]
    expected = C.disk_and_halfplane(offset)
    np.testing.assert_array_equal(p.solution, expected.solution)
    assert res.active.tolist() == active
    lam = p.lam
    inactive = ~np.array(active)
    assert np.all(lam[inactive] == 0.0) and np.all(res.g[inactive] < -0.01)  # lam = 0, g < 0
    assert np.all(lam[~inactive] > 0.01) and np.all(np.abs(res.g[~inactive]) < 1e-12)  # g = 0
    assert res.max <= 1e-12
    # the augmented Lagrangian run agrees with the closed form
    assert run.status is Status.CONVERGED
    assert np.max(np.abs(run.x - p.solution)) <= 1e-5
    np.testing.assert_allclose(run.multipliers[0], lam, atol=1e-4)
    page = html_of(outputs)
    assert words in page
    for v in lam:
        assert f"{v:.6f}" in page


@pytest.mark.parametrize("method", C.CONSTRAINED_METHODS)
def test_each_method_on_the_norm_ball_reaches_the_exact_solution(app, method):
    outputs, defs = app.run(defs={"lv_method": control(method), "lv_frac": control(0.3)})
    run, p = defs["lv_run"], defs["lv_problem"]
    assert p.params["C"] == pytest.approx(0.3 * C.ridge_radius(defs["lv_X"], defs["lv_y"], 0.0))
    assert run.method == method
    if method == "penalty" and not run.success:
        # The pure penalty method ends at mu = 1e9 to 1e12, where BFGS's line search on the
        # subproblem (Hessian condition ~mu) meets the rounding of f: whether it still sees a
        # decrease depends on the BLAS kernel (it stalls with OpenBLAS's Prescott kernels).
        # It must say so, and its point must still be the solution.
        assert run.status is Status.STALLED and run.reason == "line_search", run.message
        assert run.trajectory_kkt[-1][1] <= run.tol  # feasible
        # its multiplier is then as good as its stationarity: grad f + lam grad g = r moves lam
        # by |r| / |grad g|, grad g = 2x (1.5e-3 with OpenBLAS's Prescott kernels)
        lam_tol = 1e-4 * p.lam[0] + run.trajectory_kkt[-1][0] / (2 * np.linalg.norm(run.x))
    else:
        assert run.success, run.message
        assert run.trajectory_kkt[-1].max() <= run.tol
        lam_tol = 1e-4 * p.lam[0]
    assert np.max(np.abs(run.x - p.solution)) <= 1e-5
    assert abs(run.multipliers[0][0] - p.lam[0]) <= lam_tol
    if method == "projected_gradient":
        assert np.all(np.sum(run.trajectory**2, axis=1) <= p.params["C"] * (1 + 1e-12))
    # the default iterate shown is the last one, and its numbers are on the page
    last = len(run.trajectory) - 1
    page = html_of(outputs)
    assert f"Iterate {last} (iteration {int(run.trajectory_iter[last])}" in page
    assert f"multiplier estimate λ = {run.trajectory_lam[last, 0]:.6f}" in page


def test_stepping_back_through_the_stored_iterates(app, default_view):
    run = default_view[1]["lv_run"]
    outputs, _ = app.run(defs={"lv_step": control(3)})
    page = html_of(outputs)
    assert f"Iterate 3 (iteration {int(run.trajectory_iter[3])}" in page
    for value in run.trajectory_kkt[3]:
        assert f"{value:.2e}" in page


def test_the_comparison_shows_the_penalty_parameter_each_method_needed(default_view):
    outputs, defs = default_view
    p = defs["lv_problem"]
    page = html_of(outputs)
    pen = C.minimize_constrained(p.fun, [-1.5, 1.5], p.constraints, method="penalty", grad=p.grad)
    al = C.minimize_constrained(p.fun, [-1.5, 1.5], p.constraints, grad=p.grad)
    assert pen.penalty >= 100 * al.penalty  # the point of the multiplier update
    assert f"here to {pen.penalty:.0e}" in page and f"ends with μ = {al.penalty:.0e}" in page


@pytest.mark.parametrize("lam", [0.5, 50.0])
def test_penalized_and_constrained_weight_decay_agree(app, lam):
    outputs, defs = app.run(defs={"wd_lam": control(lam)})
    pair = defs["wd_pair"]
    assert pair.lam == lam and pair.result.success
    assert pair.multiplier == pytest.approx(lam, rel=1e-4)  # the multiplier is the penalty
    assert pair.lam_from_radius == pytest.approx(lam, rel=1e-9)
    assert np.max(np.abs(pair.w_penalized - pair.w_constrained)) <= 1e-5
    assert float(pair.w_penalized @ pair.w_penalized) == pytest.approx(pair.radius, rel=1e-14)
    assert np.all(np.diff(defs["wd_radii"]) < 0)  # C(lam) decreases
    assert defs["wd_c0"] > pair.radius
    page = html_of(outputs)
    assert f"{pair.multiplier:.8f}" in page and f"{pair.radius:.8f}" in page


def test_adam_l2_shrinks_unevenly_and_adamw_uniformly(app):
    outputs, defs = app.run(defs={"ad_wd": control(0.1), "ad_steps": control(1000)})
    d = defs["ad_run"]
    assert d.uniform[-1] == pytest.approx((1 - 1e-2 * 0.1) ** 1000, rel=1e-12)
    np.testing.assert_allclose(d.adamw[-1], d.uniform[-1], atol=0.05)
    assert np.all(np.abs(d.adam_l2[-1][:2]) < 0.05)  # gradient scales 0.01, 0.1: decayed to 0
    assert np.all(d.adam_l2[-1][3:] > 0.8)  # scales 10, 100: hardly decayed
    page = html_of(outputs)
    assert f"{d.uniform[-1]:.3f}" in page
    assert f"between {d.adamw[-1].min():.3f} and {d.adamw[-1].max():.3f}" in page
