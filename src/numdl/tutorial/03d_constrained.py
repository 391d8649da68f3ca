import marimo

__generated_with = "0.25.2"
app = marimo.App(
    width="medium",
    app_title="3d · Constrained optimization and KKT",
)


@app.cell(hide_code=True)
def _():
    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go

    from numdl.exercises import chapter03d
    from numdl.optim import constrained
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    CONDITION_COLORS = {"stationarity": "#1f77b4", "primal_feasibility": "#d62728",
                        "dual_feasibility": "#2ca02c", "complementary_slackness": "#9467bd"}
    METHOD_NAMES = {"augmented_lagrangian": "augmented Lagrangian",
                    "projected_gradient": "projected gradient", "penalty": "quadratic penalty"}
    FLOOR = 1e-17  # exact zeros are drawn here on log axes

    from functools import partial

    from numdl.tutorial.simulations import ch03d
    from numdl.tutorial.widgets import figure_layout

    layout = partial(figure_layout, height=380)

    def arrow(fig, start, vec, color, width=3, dash=False, text="", above=True):
        """An arrow from `start` along `vec` in data coordinates, labelled at its tip."""
        tip = (start[0] + vec[0], start[1] + vec[1])
        fig.add_annotation(x=tip[0], y=tip[1], ax=start[0], ay=start[1], xref="x", yref="y",
                           axref="x", ayref="y", showarrow=True, text="",
                           arrowhead=3 if not dash else 0, arrowsize=1.2, arrowwidth=width,
                           arrowcolor=color, opacity=0.6 if dash else 1.0)
        if text:  # the text of an arrow annotation sits at its tail: label the tip separately
            fig.add_annotation(x=tip[0], y=tip[1], xref="x", yref="y", showarrow=False,
                               text=text, font=dict(color=color, size=14), xshift=18 * (
                                   1 if vec[0] >= 0 else -1), yshift=10 if above else -12)

    return (
        CONDITION_COLORS,
        ExercisePanel,
        FLOOR,
        METHOD_NAMES,
        arrow,
        ch03d,
        chapter03d,
        constrained,
        go,
        layout,
        mo,
        np,
        show_source,
        takeaways,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 3d · Constrained optimization and KKT

    Many training problems come with conditions on the parameters: probabilities that must be
    non-negative and sum to 1, a norm that must stay below a bound, a budget. Gradient descent
    knows nothing about them. This chapter is about minimizing under constraints: the
    conditions a constrained minimum satisfies (the **Karush-Kuhn-Tucker conditions**), three
    algorithms that find it, and weight decay seen as a constraint on the norm of the weights.

    **By the end of this chapter you will be able to**

    - write the generalized Lagrangian of a problem with equality and inequality constraints
      and state the four KKT conditions;
    - read a constrained minimum geometrically: $-\nabla f$ is a non-negative combination of
      the normals of the active constraints;
    - tell an active constraint ($g = 0$, $\lambda \ge 0$) from an inactive one
      ($g < 0$, $\lambda = 0$), and check a computed point against the KKT conditions with a
      tolerance;
    - explain what the penalty, augmented-Lagrangian and projected-gradient methods do, and
      why the penalty method becomes ill conditioned;
    - show that L2 regularization with strength $\lambda$ and the constraint
      $\lVert w\rVert^2 \le C$ give the same weights, with $\lambda$ as the multiplier;
    - explain why AdamW's decoupled weight decay is not the same as an L2 penalty in Adam.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## The generalized Lagrangian and the KKT conditions

    The problem is

    $$\min_x f(x) \quad\text{subject to}\quad g_i(x) \le 0 \;(i = 1..m), \qquad
    h_j(x) = 0 \;(j = 1..p).$$

    Give every constraint a multiplier, $\lambda_i$ for the inequalities and $\nu_j$ for the
    equalities, and form the **generalized Lagrangian**

    $$L(x, \lambda, \nu) = f(x) + \sum_{i=1}^m \lambda_i\, g_i(x) + \sum_{j=1}^p \nu_j\, h_j(x).$$

    At a constrained minimum $x^*$ (under a mild regularity condition, e.g. linearly
    independent gradients of the active constraints) there are multipliers with

    1. **stationarity**: $\nabla_x L = \nabla f(x^*) + \sum_i \lambda_i \nabla g_i(x^*) + \sum_j \nu_j \nabla h_j(x^*) = 0$;
    2. **primal feasibility**: $g_i(x^*) \le 0$ and $h_j(x^*) = 0$;
    3. **dual feasibility**: $\lambda_i \ge 0$;
    4. **complementary slackness**: $\lambda_i\, g_i(x^*) = 0$ for every $i$.

    Stationarity says $-\nabla f = \sum_i \lambda_i \nabla g_i + \sum_j \nu_j \nabla h_j$: the
    downhill direction is balanced by the constraints pushing back along their normals.
    Dual feasibility says an inequality can only push *inward* (a negative $\lambda_i$ would
    mean that moving into the feasible region lowers $f$, so $x^*$ is not a minimum).
    Complementary slackness says an inequality either is **active** ($g_i = 0$, on its
    boundary, and may push: $\lambda_i \ge 0$) or is **inactive** ($g_i < 0$, slack, and does
    not push: $\lambda_i = 0$).

    On a computer none of these holds exactly, so each becomes a **residual**, a non-negative
    number that is 0 when the condition holds, and a point passes when every residual is below a
    tolerance:

    | condition | residual |
    |---|---|
    | stationarity | $\lVert \nabla_x L \rVert_2$ |
    | primal feasibility | $\max\big(\max_i \max(g_i, 0),\ \max_j \lvert h_j\rvert\big)$ |
    | dual feasibility | $\max_i \max(-\lambda_i, 0)$ |
    | complementary slackness | $\max_i \lvert \lambda_i g_i\rvert$ |

    ### A disk and a half-plane

    Take $f(x) = \tfrac12\lVert x - c\rVert^2$ (the squared distance to a point $c$, so the
    solution is the feasible point nearest to $c$), with two constraints: the disk
    $g_1(x) = \lVert x\rVert^2 - r^2 \le 0$ and the half-plane $g_2(x) = a^\top x - b \le 0$.
    Move the half-plane with $b$ and watch which constraints are active and what their
    multipliers do. The arrows start at the solution (drawn at twice their length): black is
    $-\nabla f$, which points at $c$; blue and orange are $\lambda_1\nabla g_1$ and
    $\lambda_2\nabla g_2$, which add up to it; the thin ones are the directions of the active
    constraints' normals.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    kkt_offset = mo.ui.slider(-0.4, 2.0, step=0.02, value=1.0,
                              label="half-plane offset b (a·x ≤ b)", show_value=True)
    kkt_offset
    return (kkt_offset,)


@app.cell(hide_code=True)
def _(constrained, kkt_offset):
    kkt_problem = constrained.disk_and_halfplane(kkt_offset.value)
    kkt_res = kkt_problem.kkt()
    kkt_run = constrained.minimize_constrained(kkt_problem.fun, kkt_problem.x0,
                                               kkt_problem.constraints, grad=kkt_problem.grad)
    return kkt_problem, kkt_res, kkt_run


@app.cell(hide_code=True)
def _(arrow, go, kkt_problem, kkt_res, layout, np):
    _p = kkt_problem.params
    _c, _r, _a, _b = _p["center"], _p["radius"], _p["normal"], _p["offset"]
    _box = kkt_problem.box
    _xs = np.linspace(*_box[0], 121)
    _ys = np.linspace(*_box[1], 121)
    _X, _Y = np.meshgrid(_xs, _ys)
    _fig = go.Figure(go.Contour(x=_xs, y=_ys, z=np.hypot(_X - _c[0], _Y - _c[1]),
                                showscale=False, colorscale="Greys", ncontours=16,
                                contours=dict(coloring="lines"), line=dict(width=1),
                                hoverinfo="skip", name="f"))
    # the feasible region: the part of the disk on the half-plane's side, as a polygon
    _t = np.linspace(0, 2 * np.pi, 721)
    _circle = _r * np.stack([np.cos(_t), np.sin(_t)], axis=1)
    _inside = _circle[_circle @ _a <= _b]
    _na = float(np.linalg.norm(_a))
    _foot = _b * _a / _na**2
    _tan = np.array([-_a[1], _a[0]]) / _na
    _corners = []
    if float(_foot @ _foot) < _r**2:  # the line cuts the circle: the chord's two ends
        _half = np.sqrt(_r**2 - float(_foot @ _foot))
        _corners = [_foot + _half * _tan, _foot - _half * _tan]
    _region = np.vstack([_inside, *_corners])
    _mid = _region.mean(axis=0)
    _region = _region[np.argsort(np.arctan2(_region[:, 1] - _mid[1], _region[:, 0] - _mid[0]))]
    _fig.add_trace(go.Scatter(x=np.append(_region[:, 0], _region[0, 0]),
                              y=np.append(_region[:, 1], _region[0, 1]), fill="toself",
                              fillcolor="rgba(44,160,44,0.18)", line=dict(color="#2ca02c"),
                              name="feasible region", hoverinfo="skip"))
    _fig.add_trace(go.Scatter(x=_circle[:, 0], y=_circle[:, 1], mode="lines",
                              line=dict(color="#1f77b4", dash="dot", width=1),
                              name="disk boundary, g1 = 0"))
    _ends = np.array([_foot - 6 * _tan, _foot + 6 * _tan])
    _fig.add_trace(go.Scatter(x=_ends[:, 0], y=_ends[:, 1], mode="lines",
                              line=dict(color="#ff7f0e", dash="dot", width=1),
                              name="half-plane boundary, g2 = 0"))
    _x = kkt_problem.solution
    _fig.add_trace(go.Scatter(x=[_c[0]], y=[_c[1]], mode="markers+text", text=["c"],
                              textposition="top right", marker=dict(size=9, color="black"),
                              name="c (unconstrained minimum)"))
    _fig.add_trace(go.Scatter(x=[_x[0]], y=[_x[1]], mode="markers",
                              marker=dict(symbol="star", size=15, color="gold",
                                          line=dict(color="black", width=1)),
                              name="constrained minimum x*"))
    _lam = kkt_problem.lam
    _s = 2.0  # every arrow at twice its length, so that the sum stays visible
    _grads = [2 * _x, _a]
    _push = [_s * _lam[0] * _grads[0], _s * _lam[1] * _grads[1]]
    arrow(_fig, _x, -_s * kkt_problem.grad(_x), "black", text="-∇f", above=False)
    for _i, _col in ((0, "#1f77b4"), (1, "#ff7f0e")):
        if kkt_res.active[_i]:
            # the constraint's normal (dotted), and lam_i times it (solid)
            arrow(_fig, _x, 0.5 * _grads[_i] / np.linalg.norm(_grads[_i]), _col, width=1,
                  dash=True)
            if _lam[_i] > 0:
                arrow(_fig, _x, _push[_i], _col, text=f"λ{_i + 1}∇g{_i + 1}")
    if kkt_res.active.all():  # complete the parallelogram: lam1 grad g1 + lam2 grad g2 = -grad f
        arrow(_fig, _x + _push[0], _push[1], "#ff7f0e", width=1, dash=True)
    layout(_fig, height=560, xaxis=dict(range=list(_box[0]), title="x1", scaleanchor="y"),
           yaxis=dict(range=list(_box[1]), title="x2"),
           legend=dict(orientation="h", y=-0.14, font=dict(size=11)),
           margin=dict(l=10, r=10, t=10, b=10))
    kkt_fig = _fig
    return (kkt_fig,)


@app.cell(hide_code=True)
def _(kkt_fig, kkt_offset, kkt_problem, kkt_res, kkt_run, mo, np):
    _names = ["g1 (disk)", "g2 (half-plane)"]
    _rows = []
    for _i in range(2):
        _state = "**active**" if kkt_res.active[_i] else "inactive"
        _lg = kkt_problem.lam[_i] * kkt_res.g[_i] + 0.0  # + 0.0 turns -0.0 into 0.0
        _rows.append(f"| {_names[_i]} | {kkt_res.g[_i]:.2e} | {kkt_problem.lam[_i]:.6f} | "
                     f"{_lg:.1e} | {_state} |")
    _active = [n.split(" ")[0] for n, a in zip(_names, kkt_res.active) if a]
    _which = {0: "no constraint is", 1: f"only {_active[0] if _active else ''} is",
              2: "both constraints are"}[len(_active)]
    _err = float(np.max(np.abs(kkt_run.x - kkt_problem.solution)))
    _side = mo.vstack([
        mo.md("| constraint | g(x*) | λ | λ·g | |\n|---|---|---|---|---|\n"
              + "\n".join(_rows)
              + "\n\nActive: g = 0 and λ ≥ 0. Inactive: g < 0 and λ = 0."),
        mo.callout(mo.md(
            f"At b = {kkt_offset.value:.2f}, {_which} active. The KKT residuals of the exact "
            f"solution are stationarity {kkt_res.stationarity:.1e}, primal feasibility "
            f"{kkt_res.primal_feasibility:.1e}, dual feasibility {kkt_res.dual_feasibility:.1e}, "
            f"complementary slackness {kkt_res.complementary_slackness:.1e}. The augmented "
            f"Lagrangian (next section) finds x* = ({kkt_run.x[0]:.6f}, {kkt_run.x[1]:.6f}) to "
            f"within {_err:.1e}, with multipliers ({kkt_run.multipliers[0][0]:.6f}, "
            f"{kkt_run.multipliers[0][1]:.6f}). Move b up until the half-plane no longer cuts "
            "the disk near c, and down until the disk stops mattering: each time a multiplier "
            "reaches 0 its constraint leaves the boundary."
        ), kind="info"),
    ])
    mo.hstack([kkt_fig, _side], widths=[5, 4], align="start")
    return


@app.cell(hide_code=True)
def _(constrained, show_source):
    show_source(constrained.kkt_residuals, constrained.kkt_residuals_from_values,
                constrained.disk_and_halfplane)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Three ways to solve it, with the KKT residuals live

    **Quadratic penalty.** Replace the constraints by a price for violating them and minimize
    without constraints:

    $$\min_x\ f(x) + \frac{\mu}{2}\Big(\sum_j h_j(x)^2 + \sum_i \max(0, g_i(x))^2\Big),$$

    then multiply $\mu$ by 10 and solve again. The minimizer violates an active constraint by
    about $\lambda/\mu$ (the price $\mu g$ must balance the pull $\lambda$), so feasibility to a
    tolerance $\varepsilon$ needs $\mu \approx \lambda/\varepsilon$: the subproblems get a
    curvature of order $\mu$ across the constraint and ~1 along it, a condition number that
    grows without bound. The multiplier estimate is $\mu \max(0, g)$.

    **Augmented Lagrangian.** Keep the penalty but add the multiplier term, for equalities
    $f + \sum_j \nu_j h_j + \tfrac{\mu}{2}\sum_j h_j^2$ (and the analogous
    $\tfrac{1}{2\mu}\sum_i \big(\max(0, \lambda_i + \mu g_i)^2 - \lambda_i^2\big)$ for
    inequalities). After each subproblem update $\nu \leftarrow \nu + \mu h$,
    $\lambda \leftarrow \max(0, \lambda + \mu g)$. Once the multipliers are right the
    subproblem's minimizer is feasible *without* $\mu \to \infty$, so $\mu$ stays moderate.

    **Projected gradient.** When the feasible set has a cheap exact projection $P$ (a box:
    clip; a ball: rescale; the probability simplex: a sort), take a gradient step and project
    back: $x \leftarrow P(x - t\nabla f(x))$. Every iterate is feasible. The method never needs
    multipliers; numdl estimates them at each iterate by least squares on the stationarity
    condition over the active constraints.

    The problem below is the **norm-ball least-squares problem** of the next section in 2-D:
    $\min_w \lVert Xw - y\rVert^2$ subject to $\lVert w\rVert^2 \le C$, whose solution and
    multiplier are known exactly. Pick a method and step through its stored iterates; the
    residual curves are those of each stored iterate (for the penalty methods, at every inner
    BFGS step, with the current subproblem's multiplier estimates).
    """)
    return


@app.cell(hide_code=True)
def _(METHOD_NAMES, mo):
    lv_method = mo.ui.dropdown({v: k for k, v in METHOD_NAMES.items()},
                               value="augmented Lagrangian", label="method")
    lv_frac = mo.ui.slider(0.05, 0.95, step=0.05, value=0.3,
                           label="C as a fraction of ‖w_LS‖²", show_value=True)
    mo.hstack([lv_method, lv_frac], justify="start", gap=2, wrap=True)
    return lv_frac, lv_method


@app.cell(hide_code=True)
def _(constrained, lv_frac, lv_method, np):
    _rng = np.random.default_rng(3)
    lv_X = _rng.standard_normal((20, 2)) * np.array([1.0, 0.35]) @ np.array([[0.8, 0.6],
                                                                               [-0.6, 0.8]])
    lv_y = lv_X @ np.array([1.6, -1.2]) + 0.2 * _rng.standard_normal(20)
    lv_C = lv_frac.value * constrained.ridge_radius(lv_X, lv_y, 0.0)
    lv_problem = constrained.ridge_ball(lv_X, lv_y, lv_C)
    lv_run = constrained.minimize_constrained(
        lv_problem.fun, np.array([-1.5, 1.5]),
        lv_problem.set if lv_method.value == "projected_gradient" else lv_problem.constraints,
        method=lv_method.value, grad=lv_problem.grad)
    return lv_X, lv_problem, lv_run, lv_y


@app.cell(hide_code=True)
def _(lv_run, mo):
    lv_step = mo.ui.slider(0, len(lv_run.trajectory) - 1, value=len(lv_run.trajectory) - 1,
                           label="stored iterate shown", show_value=True, full_width=True)
    lv_step
    return (lv_step,)


@app.cell(hide_code=True)
def _(
    CONDITION_COLORS,
    FLOOR,
    go,
    layout,
    lv_X,
    lv_problem,
    lv_run,
    lv_step,
    lv_y,
    mo,
    np,
):
    _k = lv_step.value
    _traj = lv_run.trajectory
    _ws = lv_problem.solution
    _R = float(np.sqrt(lv_problem.params["C"]))
    _wls = np.linalg.lstsq(lv_X, lv_y, rcond=None)[0]
    _lo = np.minimum(np.minimum(_wls, -_R), _traj.min(axis=0)) - 0.4
    _hi = np.maximum(np.maximum(_wls, _R), _traj.max(axis=0)) + 0.4
    _xs, _ys = np.linspace(_lo[0], _hi[0], 101), np.linspace(_lo[1], _hi[1], 101)
    _W = np.stack(np.meshgrid(_xs, _ys), axis=-1)  # (101, 101, 2)
    _Z = np.sum((_W @ lv_X.T - lv_y) ** 2, axis=-1)
    _fig = go.Figure(go.Contour(x=_xs, y=_ys, z=np.sqrt(_Z - _Z.min()), showscale=False,
                                colorscale="Greys", ncontours=18, contours=dict(coloring="lines"),
                                line=dict(width=1), hoverinfo="skip"))
    _t = np.linspace(0, 2 * np.pi, 361)
    _fig.add_trace(go.Scatter(x=_R * np.cos(_t), y=_R * np.sin(_t), fill="toself",
                              fillcolor="rgba(44,160,44,0.15)", line=dict(color="#2ca02c"),
                              name="‖w‖² ≤ C"))
    _fig.add_trace(go.Scatter(x=_traj[: _k + 1, 0], y=_traj[: _k + 1, 1], mode="lines+markers",
                              marker=dict(size=4, color="crimson"), line=dict(color="crimson"),
                              name="iterates"))
    _fig.add_trace(go.Scatter(x=[_traj[_k, 0]], y=[_traj[_k, 1]], mode="markers",
                              marker=dict(size=13, color="crimson", line=dict(color="black",
                                                                               width=1)),
                              name=f"iterate {_k}"))
    _fig.add_trace(go.Scatter(x=[_ws[0]], y=[_ws[1]], mode="markers",
                              marker=dict(symbol="star", size=15, color="gold",
                                          line=dict(color="black", width=1)), name="solution"))
    _fig.add_trace(go.Scatter(x=[_wls[0]], y=[_wls[1]], mode="markers",
                              marker=dict(symbol="x", size=10, color="black"),
                              name="unconstrained minimum"))
    layout(_fig, height=470, xaxis=dict(range=[_lo[0], _hi[0]], title="w1", scaleanchor="y"),
           yaxis=dict(range=[_lo[1], _hi[1]], title="w2"),
           legend=dict(orientation="h", y=-0.18, font=dict(size=11)))
    _it = lv_run.trajectory_iter
    _res = go.Figure([
        go.Scatter(x=_it, y=np.maximum(lv_run.trajectory_kkt[:, _j], FLOOR),
                   name=_name.replace("_", " "), line=dict(color=CONDITION_COLORS[_name]))
        for _j, _name in enumerate(CONDITION_COLORS)
    ])
    _res.add_hline(y=lv_run.tol, line=dict(color="black", dash="dash"), annotation_text="tol")
    _res.add_vline(x=int(_it[_k]), line=dict(color="crimson", dash="dot"))
    layout(_res, height=470, yaxis_type="log", xaxis_title="iteration (inner steps)",
           yaxis_title="KKT residual (0 drawn at 1e-17)",
           legend=dict(orientation="h", y=-0.18, font=dict(size=11)))
    mo.hstack([_fig, _res], widths="equal")
    return


@app.cell(hide_code=True)
def _(CONDITION_COLORS, METHOD_NAMES, lv_problem, lv_run, lv_step, mo):
    _k = lv_step.value
    _r = lv_run.trajectory_kkt[_k]
    _lam = float(lv_run.trajectory_lam[_k, 0])
    _cells = " | ".join(f"{_v:.2e}" for _v in _r)
    _head = " | ".join(n.replace("_", " ") for n in CONDITION_COLORS)
    _lam_exact = float(lv_problem.lam[0])
    _outer = (f", subproblem {int(lv_run.trajectory_outer[_k])}"
              if lv_run.method != "projected_gradient" else "")
    _penalty = (f" The penalty parameter ended at μ = {lv_run.penalty:.0e}."
                if lv_run.method != "projected_gradient" else "")
    _subproblems = (f" ({lv_run.nouter} subproblems)"
                    if lv_run.method != "projected_gradient" else "")
    mo.vstack([
        mo.md(f"Iterate {_k} (iteration {int(lv_run.trajectory_iter[_k])}{_outer}): "
              f"multiplier estimate λ = {_lam:.6f} (exact {_lam_exact:.6f}).\n\n"
              f"| {_head} |\n|---|---|---|---|\n| {_cells} |"),
        mo.callout(mo.md(
            f"**{METHOD_NAMES[lv_run.method]}** ended as `{lv_run.status.value}` after "
            f"{lv_run.nit} iterations{_subproblems}, {lv_run.nfev} evaluations "
            f"of f: {lv_run.message}. Final multiplier {lv_run.multipliers[0][0]:.8f}, exact "
            f"{_lam_exact:.8f}.{_penalty}"
        ), kind="success" if lv_run.success else "warn"),
    ])
    return


@app.cell(hide_code=True)
def _(constrained, lv_frac, lv_problem, mo):
    _runs = {_m: constrained.minimize_constrained(
        lv_problem.fun, [-1.5, 1.5],
        lv_problem.set if _m == "projected_gradient" else lv_problem.constraints, method=_m,
        grad=lv_problem.grad) for _m in constrained.CONSTRAINED_METHODS}
    _rows = [f"| {_m.replace('_', ' ')} | {_r.status.value} | {_r.nit} | {_r.nfev} | "
             f"{_r.kkt.max:.1e} | {_r.penalty:.0e} |" for _m, _r in _runs.items()]
    mo.md(
        f"All three on the same problem (C = {lv_frac.value:g} ‖w_LS‖²):\n\n"
        "| method | status | iterations | evaluations of f | largest KKT residual | final μ |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(_rows)
        + f"\n\nThe penalty method reaches feasibility only by driving μ up, here to "
        f"{_runs['penalty'].penalty:.0e} (λ/tol = {lv_problem.lam[0] / _runs['penalty'].tol:.0e}); "
        f"the augmented Lagrangian ends with μ = {_runs['augmented_lagrangian'].penalty:.0e} "
        "because the multiplier update does the work; projected gradient stays feasible at "
        "every step and needs no μ at all (shown as nan)."
    )
    return


@app.cell(hide_code=True)
def _(constrained, show_source):
    show_source(constrained.penalty_outer_loop, constrained.project_ball,
                constrained.project_simplex, constrained.Ball.multipliers)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Weight decay is a norm constraint

    L2 regularization (weight decay) adds $\lambda\lVert w\rVert^2$ to the loss. The syllabus
    states it as constrained optimization: minimize the loss subject to a bound on the norm of the
    weights. For least squares, with no factor $\tfrac12$ anywhere:

    $$\text{penalized:}\ \min_w \lVert Xw - y\rVert^2 + \lambda\lVert w\rVert^2 \qquad
    \text{constrained:}\ \min_w \lVert Xw - y\rVert^2\ \text{ s.t. }\ \lVert w\rVert^2 - C \le 0.$$

    The penalized minimizer $w_\lambda$ makes $2X^\top(Xw - y) + 2\lambda w = 0$. That is
    exactly the stationarity condition of the constrained problem's Lagrangian
    $\lVert Xw - y\rVert^2 + \lambda(\lVert w\rVert^2 - C)$ with multiplier $\lambda$. Choose
    $C = \lVert w_\lambda\rVert^2$: then $w_\lambda$ is feasible, the constraint is active,
    $\lambda \ge 0$, and all four KKT conditions hold. So **the same weights solve both
    problems, and the penalty is the multiplier**. (With the loss $\tfrac12\lVert Xw-y\rVert^2$
    and the penalty $\tfrac{\lambda}{2}\lVert w\rVert^2$ the weights are the same but the
    multiplier of $\lVert w\rVert^2 - C \le 0$ is $\lambda/2$: factors matter.)

    The map $\lambda \mapsto C(\lambda) = \lVert w_\lambda\rVert^2$ is decreasing, so it can be
    inverted: numdl finds $\lambda$ for a given $C$ with a safeguarded Newton iteration on the
    SVD form $\lVert w_\lambda\rVert^2 = \sum_i \big(s_i c_i/(s_i^2 + \lambda)\big)^2$. Below,
    the penalized problem is solved by the SVD and the constrained one, independently, by the
    augmented Lagrangian with the constraint $\lVert w\rVert^2 \le C$.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    wd_lam = mo.ui.slider(steps=[0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0,
                                 500.0, 1000.0], value=5.0, label="penalty λ", show_value=True)
    wd_lam
    return (wd_lam,)


@app.cell(hide_code=True)
def _(constrained, np, wd_lam):
    _rng = np.random.default_rng(0)
    _X = _rng.standard_normal((30, 5))
    _y = _X @ _rng.standard_normal(5) + 0.5 * _rng.standard_normal(30)
    wd_pair = constrained.ridge_as_constrained(_X, _y, wd_lam.value)
    wd_lams = np.geomspace(1e-2, 1e4, 121)
    wd_radii = np.array([constrained.ridge_radius(_X, _y, _l) for _l in wd_lams])
    wd_c0 = constrained.ridge_radius(_X, _y, 0.0)
    return wd_c0, wd_lams, wd_pair, wd_radii


@app.cell(hide_code=True)
def _(go, layout, mo, np, wd_c0, wd_lams, wd_pair, wd_radii):
    _fig = go.Figure([
        go.Scatter(x=wd_lams, y=wd_radii, name="C(λ) = ‖w_λ‖²", line=dict(color="#1f77b4")),
        go.Scatter(x=[wd_pair.lam], y=[wd_pair.radius], mode="markers", name="your λ",
                   marker=dict(size=12, color="crimson")),
    ])
    _fig.add_hline(y=wd_c0, line=dict(color="black", dash="dot"),
                   annotation_text="‖w_LS‖² (λ = 0)")
    layout(_fig, height=360, xaxis_type="log", yaxis_type="log", xaxis_title="penalty λ",
           yaxis_title="radius C = ‖w_λ‖²", legend=dict(orientation="h", y=1.15))
    _rows = [f"| w{_i + 1} | {_a:+.8f} | {_b:+.8f} |"
             for _i, (_a, _b) in enumerate(zip(wd_pair.w_penalized, wd_pair.w_constrained))]
    _diff = float(np.max(np.abs(wd_pair.w_penalized - wd_pair.w_constrained)))
    _table = mo.md(
        "| | penalized (SVD) | constrained (augmented Lagrangian) |\n|---|---|---|\n"
        + "\n".join(_rows)
        + f"\n| radius C | — | {wd_pair.radius:.8f} |"
        + f"\n| λ / multiplier | {wd_pair.lam:g} | {wd_pair.multiplier:.8f} |"
    )
    _rel = abs(wd_pair.multiplier - wd_pair.lam) / wd_pair.lam
    mo.vstack([
        mo.hstack([_fig, _table], widths=[3, 2]),
        mo.md(
            f"With λ = {wd_pair.lam:g}, C = ‖w_λ‖² = {wd_pair.radius:.6g}. The constrained run "
            f"(`{wd_pair.result.status.value}`, {wd_pair.result.nouter} subproblems) returns "
            f"weights within {_diff:.1e} of the penalized ones and the multiplier "
            f"{wd_pair.multiplier:.8f}, a relative difference of {_rel:.1e} from λ. Going back, "
            f"the penalty whose solution has this radius is "
            f"{wd_pair.lam_from_radius:.10g}. Large λ means a small ball; as λ → 0 the ball "
            f"grows to ‖w_LS‖² = {wd_c0:.4g}, beyond which the constraint is inactive and its "
            "multiplier 0."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(constrained, show_source):
    show_source(constrained.ridge_penalty_for_radius, constrained.ridge_as_constrained)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Weight decay in Adam: an L2 penalty is not decoupled decay

    With plain gradient descent, adding $\tfrac{\mathrm{wd}}{2}\lVert w\rVert^2$ to the loss and
    shrinking the weights by $(1 - \alpha\,\mathrm{wd})$ each step are the same thing. With Adam
    they are not. Adam divides each coordinate's step by $\sqrt{\hat v}$, the running size of
    that coordinate's gradient. The L2 term's gradient $\mathrm{wd}\, w$ goes through the same
    division: a coordinate whose gradients are large has a large $\sqrt{\hat v}$ and is barely
    decayed, one whose gradients are tiny is decayed at full speed. **AdamW** (Loshchilov &
    Hutter) decouples the decay from the adaptive step:

    $$w \leftarrow w - \alpha\Big(\frac{\hat m}{\sqrt{\hat v} + \epsilon} + \mathrm{wd}\, w\Big),$$

    so every coordinate shrinks by the same factor $(1 - \alpha\,\mathrm{wd})$ per step.

    The experiment: five weights whose loss gradients are pure noise of very different scales
    (0.01 to 100), so the decay is the only systematic force and should treat them alike. Both
    optimizers start at $w = 1$ with the same noise, learning rate 0.01, averaged over 32 runs.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    ad_wd = mo.ui.slider(steps=[0.01, 0.02, 0.05, 0.1, 0.2, 0.5], value=0.1,
                         label="weight decay wd", show_value=True)
    ad_steps = mo.ui.slider(200, 2000, step=200, value=1000, label="steps", show_value=True)
    mo.hstack([ad_wd, ad_steps], justify="start", gap=2)
    return ad_steps, ad_wd


@app.cell(hide_code=True)
def _(ad_steps, ad_wd, ch03d, np):
    ad_run = ch03d.decoupled_decay_experiment(
        (0.01, 0.1, 1.0, 10.0, 100.0), weight_decay=ad_wd.value, lr=1e-2, steps=ad_steps.value,
        runs=32, rng=np.random.default_rng(0))
    return (ad_run,)


@app.cell(hide_code=True)
def _(ad_run, go, layout, mo):
    _colors = ["#d62728", "#ff7f0e", "#2ca02c", "#1f77b4", "#9467bd"]
    _figs = []
    for _name, _w in (("Adam + L2 penalty", ad_run.adam_l2), ("AdamW (decoupled)", ad_run.adamw)):
        _f = go.Figure([go.Scatter(x=ad_run.steps, y=_w[:, _i], name=f"gradient scale {_s:g}",
                                   line=dict(color=_colors[_i]))
                        for _i, _s in enumerate(ad_run.scales)])
        _f.add_trace(go.Scatter(x=ad_run.steps, y=ad_run.uniform, name="(1 - lr·wd)^t",
                                line=dict(color="black", dash="dash", width=3)))
        layout(_f, height=380, title=_name, xaxis_title="step",
               yaxis_title="mean w(t) / w(0)", yaxis_range=[-0.1, 1.05],
               legend=dict(orientation="h", y=-0.2), showlegend=_name.startswith("AdamW"))
        _figs.append(_f)
    mo.hstack(_figs, widths="equal")
    return


@app.cell(hide_code=True)
def _(ad_run, mo):
    _l2, _w = ad_run.adam_l2[-1], ad_run.adamw[-1]
    _rows = [f"| {_s:g} | {_a:.3f} | {_b:.3f} |" for _s, _a, _b in zip(ad_run.scales, _l2, _w)]
    mo.md(
        f"After {int(ad_run.steps[-1])} steps with wd = {ad_run.weight_decay:g}, every "
        f"coordinate should have shrunk to (1 - lr·wd)^t = **{ad_run.uniform[-1]:.3f}** of its "
        f"start. AdamW's coordinates lie between {_w.min():.3f} and {_w.max():.3f} (the spread is "
        f"Monte Carlo noise); Adam with the L2 penalty ranges from {_l2.min():.3f} to "
        f"{_l2.max():.3f}: the coordinates with small gradients are driven to 0, those with large "
        f"gradients are hardly regularized.\n\n"
        "| gradient scale | Adam + L2 | AdamW |\n|---|---|---|\n" + "\n".join(_rows)
        + "\n\nThis is why the two are not interchangeable: with Adam, the L2 penalty's strength "
        "depends on each weight's gradient history, and the constrained-optimization reading of "
        "the previous section (one λ, one ball) no longer describes what the optimizer does."
    )
    return


@app.cell(hide_code=True)
def _(ch03d, show_source):
    show_source(ch03d.decoupled_decay_experiment)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter03d, mo):
    ex1 = ExercisePanel(chapter03d.KKT_CHECK)
    ex1_get, ex1_set = mo.state(ex1.initial_state())
    ex1_ui = ex1.controls()
    ex1.layout(ex1_ui)
    return ex1, ex1_get, ex1_set, ex1_ui


@app.cell(hide_code=True)
def _(ex1, ex1_set, ex1_ui):
    ex1.on_check(ex1_ui, ex1_set)
    return


@app.cell(hide_code=True)
def _(ex1, ex1_get, ex1_ui):
    ex1.view(ex1_ui, ex1_get())
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter03d, mo):
    ex2 = ExercisePanel(chapter03d.FIND_MULTIPLIER)
    ex2_get, ex2_set = mo.state(ex2.initial_state())
    ex2_ui = ex2.controls()
    ex2.layout(ex2_ui)
    return ex2, ex2_get, ex2_set, ex2_ui


@app.cell(hide_code=True)
def _(ex2, ex2_set, ex2_ui):
    ex2.on_check(ex2_ui, ex2_set)
    return


@app.cell(hide_code=True)
def _(ex2, ex2_get, ex2_ui):
    ex2.view(ex2_ui, ex2_get())
    return


@app.cell(hide_code=True)
def _(takeaways):
    takeaways(
        "The generalized Lagrangian L = f + Σ λ_i g_i + Σ ν_j h_j turns a constrained minimum "
        "into four conditions: stationarity of L, primal feasibility, λ ≥ 0, and λ_i g_i = 0.",
        "At a solution -∇f is a non-negative combination of the active constraints' normals; an "
        "inactive constraint (g < 0) has λ = 0, an active one (g = 0) may have λ > 0.",
        "On a computer each condition is a residual compared with a tolerance: an exact test "
        "λg == 0 or g <= 0 rejects every computed solution.",
        "The quadratic penalty needs μ ≈ λ/tol and ill-conditions its subproblems; the augmented "
        "Lagrangian updates the multipliers instead; projected gradient stays feasible when the "
        "set has an exact projection (box, ball, simplex).",
        "L2 regularization with strength λ and the constraint ‖w‖² ≤ ‖w_λ‖² give the same "
        "weights, and λ is the constraint's multiplier (mind the factors of 1/2).",
        "In Adam an L2 penalty is divided by √v, so it regularizes weights unevenly; AdamW's "
        "decoupled decay shrinks every weight by the same factor per step.",
    )
    return


if __name__ == "__main__":
    app.run()
