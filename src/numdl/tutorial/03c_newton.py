import marimo

__generated_with = "0.25.2"
app = marimo.App(
    width="medium",
    app_title="3c · Newton's method and quasi-Newton methods",
)


@app.cell(hide_code=True)
def _():
    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go

    from numdl.exercises import chapter03c
    from numdl.optim import (
        bfgs_update,
        classify_critical_point,
        lbfgs_direction,
        minimize,
        newton_direction,
        quadratic_gd_iterates,
        quadratic_rates,
    )
    from numdl.optim.problems import PROBLEMS, quadratic, rosenbrock
    from numdl.tutorial.simulations import ch03a, ch03c
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    COLORS = {"gd": "#7f7f7f", "newton": "#d62728", "bfgs": "#1f77b4", "lbfgs": "#2ca02c",
              "adam": "#ff7f0e"}
    KIND_COLORS = {"minimum": "#2ca02c", "maximum": "#d62728", "saddle": "#ff7f0e"}
    NEWTON_VARIANTS = {
        "undamped Newton": {"damping": None, "line_search": False},
        "Levenberg-damped Newton": {"damping": "levenberg"},
        "saddle-free Newton (absolute eigenvalues)": {"damping": "eigen"},
    }
    VARIANT_COLORS = dict(zip(NEWTON_VARIANTS, ("#d62728", "#1f77b4", "#2ca02c")))

    from numdl.tutorial.widgets import figure_layout as layout

    return (
        COLORS,
        ExercisePanel,
        KIND_COLORS,
        NEWTON_VARIANTS,
        PROBLEMS,
        VARIANT_COLORS,
        bfgs_update,
        ch03a,
        ch03c,
        chapter03c,
        classify_critical_point,
        go,
        layout,
        lbfgs_direction,
        minimize,
        mo,
        newton_direction,
        np,
        quadratic,
        quadratic_gd_iterates,
        quadratic_rates,
        rosenbrock,
        show_source,
        takeaways,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 3c · Newton's method and quasi-Newton methods

    Gradient descent uses only the slope, so its step is too long across a steep valley and too
    short along it (chapter 3a). **Newton's method** also uses the curvature: it jumps to the
    minimum of the local quadratic model. Near a minimum that is spectacularly fast; away from
    one it can climb to a saddle, and for a network with millions of parameters the Hessian
    cannot even be stored. **Quasi-Newton** methods (BFGS, L-BFGS) learn the curvature from
    gradients instead.

    **By the end of this chapter you will be able to**

    - derive the Newton step and compute it with a linear solve, not an inverse;
    - recognize quadratic convergence (the number of correct digits doubles per step) on a log
      plot;
    - explain why undamped Newton converges to saddles and how damping or $|\lambda|$ fixes it;
    - estimate the cost of forming and solving with a Hessian as the dimension grows;
    - say what BFGS and L-BFGS store and compute, and when each method fits deep learning.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## One Newton step against many gradient steps

    Newton's method minimizes the second-order model at the current point,
    $f(x + d) \approx f(x) + g^\top d + \tfrac12 d^\top H d$. Setting its gradient $g + H d$ to
    zero gives the **Newton step**

    $$H d = -g, \qquad \theta_{t+1} = \theta_t - H^{-1} \nabla f(\theta_t).$$

    The formula has an inverse, the computation must not: $d$ is the solution of a linear
    system (`np.linalg.solve`, or a Cholesky factorization), which is cheaper and backward
    stable. On a quadratic the model *is* the function, so one Newton step lands on the minimum
    whatever the condition number; gradient descent, even at its best fixed step, needs a number
    of steps proportional to $\kappa$.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    nq_kappa = mo.ui.slider(steps=[2, 10, 100, 1000, 10000], value=100, label="condition number κ",
                            show_value=True)
    nq_kappa
    return (nq_kappa,)


@app.cell(hide_code=True)
def _(
    minimize,
    np,
    nq_kappa,
    quadratic,
    quadratic_gd_iterates,
    quadratic_rates,
):
    nq_problem = quadratic(kappa=float(nq_kappa.value), rng=np.random.default_rng(4))
    _H = nq_problem.params["hessian"]
    nq_rates = quadratic_rates(_H)
    nq_newton = minimize(nq_problem, nq_problem.start, method="newton", tol=1e-10)
    # gradient descent at its best fixed step, in closed form (identical to running it) until the
    # error has dropped by 1e-10
    nq_needed = int(np.ceil(np.log(1e-10) / np.log(nq_rates.rate)))
    _iters = quadratic_gd_iterates(_H, nq_problem.start, nq_rates.best_step, nq_needed)
    nq_gd_err = np.linalg.norm(_iters, axis=1)
    nq_gd_path = _iters[:300]
    nq_gd_steps = int(np.argmax(nq_gd_err <= 1e-10 * nq_gd_err[0]))
    nq_newton_err = np.linalg.norm(nq_newton.trajectory - nq_problem.minimum.x, axis=1)
    return (
        nq_gd_err,
        nq_gd_path,
        nq_gd_steps,
        nq_newton,
        nq_newton_err,
        nq_problem,
        nq_rates,
    )


@app.cell(hide_code=True)
def _(
    COLORS,
    ch03a,
    go,
    layout,
    mo,
    np,
    nq_gd_err,
    nq_gd_path,
    nq_newton,
    nq_newton_err,
    nq_problem,
):
    _xs, _ys, _z = ch03a.grid_values(nq_problem, points=101)
    _con = go.Figure(go.Contour(x=_xs, y=_ys, z=np.sqrt(2 * _z), showscale=False, ncontours=14,
                                colorscale="Blues", contours=dict(coloring="lines"),
                                hoverinfo="skip"))
    _con.add_trace(go.Scatter(x=nq_gd_path[:, 0], y=nq_gd_path[:, 1], mode="lines+markers",
                              marker=dict(size=4), name="gradient descent (first 300 steps)",
                              line=dict(color=COLORS["gd"])))
    _t = nq_newton.trajectory
    _con.add_trace(go.Scatter(x=_t[:, 0], y=_t[:, 1], mode="lines+markers", name="Newton",
                              line=dict(color=COLORS["newton"], width=3), marker=dict(size=9)))
    layout(_con, height=380, xaxis=dict(range=list(nq_problem.box[0]), title="x1"),
           yaxis=dict(range=list(nq_problem.box[1]), title="x2"),
           legend=dict(orientation="h", y=1.12))
    _k = np.arange(nq_gd_err.size)
    _err = go.Figure([
        go.Scatter(x=_k + 1, y=nq_gd_err, name="gradient descent, best fixed step",
                   line=dict(color=COLORS["gd"], width=3)),
        go.Scatter(x=np.arange(nq_newton_err.size) + 1, y=np.maximum(nq_newton_err, 1e-17),
                   name="Newton", mode="lines+markers",
                   line=dict(color=COLORS["newton"], width=3), marker=dict(size=9)),
    ])
    layout(_err, height=380, xaxis_type="log", yaxis_type="log",
           xaxis_title="iteration + 1 (log scale)", yaxis_title="distance to the minimum (floored at 1e-17)",
           legend=dict(orientation="h", y=1.12))
    mo.hstack([_con, _err], widths="equal")
    return


@app.cell(hide_code=True)
def _(mo, nq_gd_steps, nq_newton, nq_newton_err, nq_rates):
    mo.md(
        f"""
        With κ = {nq_rates.kappa:,.4g}, **Newton reaches the minimum in {nq_newton.nit} step**
        (error {nq_newton_err[-1]:.2g}, status `{nq_newton.status.value}`). Gradient descent at
        its best fixed step 2/(λ_min + λ_max) = {nq_rates.best_step:.4g} contracts the error by
        (κ - 1)/(κ + 1) = {nq_rates.rate:.6f} per step and needs **{nq_gd_steps:,} steps** to
        shrink it by 10^10. One Newton step costs a solve with the Hessian; whether that is a
        bargain depends on n, as the cost section below measures.
        """
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Quadratic convergence on Rosenbrock

    On a function that is not quadratic, Newton's model is only accurate near the current point,
    so far from the minimum it takes many damped steps (with a line search). Close to a minimum
    with a positive definite Hessian the model error is $O(|e|^3)$ and Newton converges
    **quadratically**: $|e_{k+1}| \le C |e_k|^2$, so the number of correct digits roughly
    doubles at every step. Gradient descent converges *linearly*, $|e_{k+1}| \approx r |e_k|$,
    adding a fixed number of digits per step. On a log plot of the error, linear convergence is
    a straight line and quadratic convergence a cliff.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    rb_start = mo.ui.dropdown({"(-1.2, 1), the classical start": (-1.2, 1.0),
                               "(-1.5, 2.5)": (-1.5, 2.5), "(1.5, -0.5)": (1.5, -0.5),
                               "(0, 0)": (0.0, 0.0)},
                              value="(-1.2, 1), the classical start", label="start")
    rb_start
    return (rb_start,)


@app.cell(hide_code=True)
def _(minimize, np, rb_start, rosenbrock):
    rb_problem = rosenbrock()
    _x0 = np.array(rb_start.value)
    rb_runs = {
        "newton": minimize(rb_problem, _x0, method="newton", tol=1e-12),
        "bfgs": minimize(rb_problem, _x0, method="bfgs", tol=1e-12),
        "gd": minimize(rb_problem, _x0, method="gd", lr=1e-3, max_iter=5000, tol=1e-12),
    }
    rb_err = {m: np.linalg.norm(r.trajectory - rb_problem.minimum.x, axis=1)
              for m, r in rb_runs.items()}
    return rb_err, rb_runs


@app.cell(hide_code=True)
def _(COLORS, go, layout, mo, np, rb_err, rb_runs):
    _names = {"newton": "Newton (quadratic)", "bfgs": "BFGS (superlinear)",
              "gd": "gradient descent, lr = 1e-3 (linear)"}
    _fig = go.Figure([
        go.Scatter(x=rb_runs[m].trajectory_iter, y=np.maximum(e, 1e-17), name=_names[m],
                   mode="lines+markers" if m != "gd" else "lines",
                   line=dict(color=COLORS[m], width=3))
        for m, e in rb_err.items()
    ])
    layout(_fig, height=380, yaxis_type="log", xaxis_title="iteration",
           yaxis_title="distance to the minimum (1, 1), floored at 1e-17",
           xaxis_range=[0, 1.3 * max(rb_runs["newton"].nit, rb_runs["bfgs"].nit)],
           legend=dict(orientation="h", y=1.12))
    _e = rb_err["newton"]
    _rows = []
    for _k in range(max(1, _e.size - 6), _e.size):
        if _e[_k] > 0:
            _rows.append(f"| {_k} | {_e[_k]:.3g} | {-np.log10(_e[_k]):.1f} | "
                         f"{_e[_k] / _e[_k - 1] ** 2:.3g} |")
        else:
            _rows.append(f"| {_k} | 0 | all: exactly (1, 1) | — |")
    mo.vstack([_fig, mo.md(
        "Newton's last steps:\n\n"
        "| iteration k | error e_k | correct digits | e_k / e_(k-1)² |\n|---|---|---|---|\n"
        + "\n".join(_rows)
        + f"\n\nThe ratio e_k / e_(k-1)² stays bounded while the digits double: quadratic "
        f"convergence. Newton needed {rb_runs['newton'].nit} iterations, BFGS "
        f"{rb_runs['bfgs'].nit}; gradient descent ended after {rb_runs['gd'].nit:,} at a "
        f"distance of {rb_err['gd'][-1]:.3g} (status `{rb_runs['gd'].status.value}`)."
    )])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Newton is attracted to saddles

    Newton's method looks for a zero of the gradient, and a saddle or a maximum is a zero too.
    In the eigenbasis of $H$ the step is $d_i = -g_i/\lambda_i$: along a direction of negative
    curvature ($\lambda_i < 0$) it goes *uphill*, towards the critical point, not away from it.
    Two repairs make every step a descent direction:

    - **Levenberg damping**: solve $(H + \tau I) d = -g$ with the smallest $\tau \ge 0$ that
      makes $H + \tau I$ positive definite (found by trying a Cholesky factorization);
    - **saddle-free Newton**: replace each $\lambda_i$ by $|\lambda_i|$, keeping the step's length
      along each eigenvector but reversing it on negative curvature.

    Both are combined with a line search. Start near a saddle and compare:
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    sd_problem = mo.ui.dropdown(["himmelblau", "six_hump_camel"], value="himmelblau",
                                label="function")
    sd_x = mo.ui.slider(-2.0, 4.0, step=0.05, value=3.2, label="start x", show_value=True)
    sd_y = mo.ui.slider(-2.0, 3.0, step=0.05, value=0.3, label="start y", show_value=True)
    mo.hstack([sd_problem, sd_x, sd_y], justify="start", gap=2, wrap=True)
    return sd_problem, sd_x, sd_y


@app.cell(hide_code=True)
def _(
    NEWTON_VARIANTS,
    PROBLEMS,
    ch03c,
    minimize,
    newton_direction,
    np,
    sd_problem,
    sd_x,
    sd_y,
):
    sd_fn = PROBLEMS[sd_problem.value]()
    sd_start = np.array([sd_x.value, sd_y.value])
    sd_runs = {_name: minimize(sd_fn, sd_start, method="newton", options=dict(_opts))
               for _name, _opts in NEWTON_VARIANTS.items()}
    sd_end = {_name: ch03c.nearest_critical_point(sd_fn, _r.x) for _name, _r in sd_runs.items()}
    _H, _g = sd_fn.hessian(sd_start), sd_fn.gradient(sd_start)
    sd_start_lam = np.linalg.eigvalsh(_H)
    _d = newton_direction(_H, _g).direction
    sd_start_slope = float(_g @ _d) if _d is not None else float("nan")
    return sd_end, sd_fn, sd_runs, sd_start, sd_start_lam, sd_start_slope


@app.cell(hide_code=True)
def _(
    KIND_COLORS,
    VARIANT_COLORS,
    ch03a,
    go,
    layout,
    np,
    sd_fn,
    sd_runs,
    sd_start,
):
    _box = ((-2.0, 4.0), (-2.0, 3.0)) if sd_fn.name == "himmelblau" else sd_fn.box
    _xs, _ys, _z = ch03a.grid_values(sd_fn, _box, points=141)
    _fig = go.Figure(go.Contour(x=_xs, y=_ys, z=np.sign(_z) * np.log10(1 + np.abs(_z)),
                                showscale=False, colorscale="Blues", ncontours=30,
                                contours=dict(coloring="lines"), line=dict(width=1),
                                hoverinfo="skip"))
    for _c in sd_fn.critical_points:
        _fig.add_trace(go.Scatter(x=[_c.x[0]], y=[_c.x[1]], mode="markers", showlegend=False,
                                  marker=dict(size=11, color=KIND_COLORS[_c.kind],
                                              symbol="x" if _c.kind == "saddle" else "circle"),
                                  hovertext=_c.kind))
    for _name, _r in sd_runs.items():
        _t = _r.trajectory
        _fig.add_trace(go.Scatter(x=_t[:, 0], y=_t[:, 1], mode="lines+markers", name=_name,
                                  line=dict(color=VARIANT_COLORS[_name], width=3)))
    _fig.add_trace(go.Scatter(x=[sd_start[0]], y=[sd_start[1]], mode="markers", name="start",
                              marker=dict(size=12, color="black", symbol="diamond")))
    layout(_fig, height=440, xaxis=dict(range=list(_box[0]), title="x"),
           yaxis=dict(range=list(_box[1]), title="y"),
           legend=dict(orientation="h", y=1.1))
    _fig
    return


@app.cell(hide_code=True)
def _(mo, sd_end, sd_runs, sd_start, sd_start_lam, sd_start_slope):
    _rows = []
    for _name, _r in sd_runs.items():
        _cp, _d = sd_end[_name]
        _where = (f"a **{_cp.kind}** at ({_cp.x[0]:.4g}, {_cp.x[1]:.4g})" if _d < 1e-5
                  else f"({_r.x[0]:.4g}, {_r.x[1]:.4g}), no critical point")
        _rows.append(f"| {_name} | {_r.nit} | `{_r.status.value}` | {_where} | {_r.fun:.4g} |")
    _curv = ("indefinite" if sd_start_lam[0] < 0 < sd_start_lam[-1] else
             "negative definite" if sd_start_lam[-1] < 0 else "positive definite")
    _slope = ("downhill" if sd_start_slope < 0 else "**uphill**") if sd_start_slope == sd_start_slope \
        else "undefined (H singular)"
    mo.md(
        "| method | iterations | status | ends at | f there |\n|---|---|---|---|---|\n"
        + "\n".join(_rows)
        + f"\n\nAt the start ({sd_start[0]:g}, {sd_start[1]:g}) the Hessian's eigenvalues are "
        f"{sd_start_lam[0]:.4g} and {sd_start_lam[1]:.4g} ({_curv}), and the undamped Newton "
        f"direction points {_slope} (gᵀd = {sd_start_slope:.3g}); either way, along an "
        "eigenvector of negative curvature it moves towards the critical point, not away from "
        "it. Note the status: undamped "
        "Newton reports `converged` at a saddle, because a zero gradient is all the stopping test "
        "checks. In high dimensions, where saddles are the rule (chapter 3b), this is why plain "
        "Newton is not used to train networks."
    )
    return


@app.cell(hide_code=True)
def _(newton_direction, show_source):
    show_source(newton_direction)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## The cost of the Hessian as n grows

    For $n$ parameters the Hessian has $n^2$ entries. Forming it takes about $n$ gradient
    evaluations (automatic differentiation computes one Hessian-vector product for about the
    cost of a gradient; here, central differences of the gradient use $2n$), and solving
    $H d = -g$ with a dense factorization takes about $\tfrac23 n^3$ floating-point operations.
    The timings below are **measured on this machine**, now, with `time.perf_counter` (medians
    of 3 runs), on Rosenbrock's function in $n$ dimensions, whose gradient costs $O(n)$; the
    solve times are then extrapolated with a fitted $c\, n^3$.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    cost_button = mo.ui.run_button(label="Measure up to n = 2048 (a few seconds)", kind="success")
    cost_button
    return (cost_button,)


@app.cell(hide_code=True)
def _(ch03c, cost_button, np):
    cost_ns = [16, 32, 64, 128, 256, 512] + ([1024, 2048] if cost_button.value else [])
    cost = ch03c.newton_cost(cost_ns, repeats=3, rng=np.random.default_rng(0))
    _big = cost.n >= cost.n[-1] / 4  # fit the largest sizes, where O(n^3) dominates overheads
    cost_c3 = ch03c.power_law_fit(cost.n[_big], cost.solve[_big], 3.0)
    cost_c2 = ch03c.power_law_fit(cost.n[_big], cost.form[_big], 2.0)
    return cost, cost_c2, cost_c3


@app.cell(hide_code=True)
def _(cost, cost_c2, cost_c3, go, layout, mo, np):
    _n = cost.n.astype(float)
    _ext = np.geomspace(_n[0], 1e4, 50)
    _fig = go.Figure([
        go.Scatter(x=_n, y=cost.gradient, mode="lines+markers", name="one gradient"),
        go.Scatter(x=_n, y=cost.form, mode="lines+markers", name="form H (2n gradients)"),
        go.Scatter(x=_n, y=cost.solve, mode="lines+markers", name="solve H d = -g"),
        go.Scatter(x=_ext, y=cost_c3 * _ext**3, name=f"fit {cost_c3:.2g} n³",
                   line=dict(dash="dash", color="black")),
        go.Scatter(x=_ext, y=cost_c2 * _ext**2, name=f"fit {cost_c2:.2g} n²",
                   line=dict(dash="dot", color="gray")),
    ])
    layout(_fig, height=380, xaxis_type="log", yaxis_type="log", xaxis_title="n (parameters)",
           yaxis_title="seconds on this machine (median of 3)", legend=dict(orientation="h", y=1.15))

    def _human(s):
        for _unit, _size in (("years", 3.156e7), ("days", 86400.0), ("hours", 3600.0),
                             ("minutes", 60.0), ("s", 1.0), ("ms", 1e-3)):
            if s >= _size:
                return f"{s / _size:.3g} {_unit}"
        return f"{s * 1e6:.3g} µs"

    def _bytes(b):
        for _unit, _size in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
            if b >= _size:
                return f"{b / _size:.3g} {_unit}"
        return f"{b / 1e3:.3g} kB"

    _rows = [f"| {_m:,} | {_bytes(8.0 * _m * _m)} | {_human(cost_c3 * float(_m) ** 3)} |"
             for _m in (10**4, 10**5, 10**6, 10**9)]
    mo.vstack([_fig, mo.md(
        f"Largest size measured: n = {int(_n[-1]):,}, a solve took {_human(cost.solve[-1])} and "
        f"forming H {_human(cost.form[-1])}. Extrapolated with the fitted solve time "
        f"{cost_c3:.3g} n³ s (the flop count grows exactly like n³; this machine's speed is the "
        "fitted constant):\n\n"
        "| n | memory for H (float64) | one solve (extrapolated) |\n|---|---|---|\n"
        + "\n".join(_rows)
        + "\n\nA model with 10⁹ parameters is small by today's standards; its Hessian would not "
        "fit in any computer's memory, and one solve would take far longer than any training run."
    )])
    return


@app.cell(hide_code=True)
def _(ch03c, show_source):
    show_source(ch03c.newton_cost)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## BFGS and L-BFGS: curvature from gradients

    Quasi-Newton methods never form $H$. After each step $s = x_{k+1} - x_k$ they observe how
    the gradient changed, $y = g_{k+1} - g_k$; for a quadratic $y = H s$ exactly, so
    $(s, y)$ is a measurement of the curvature along $s$. **BFGS** keeps an approximation $B$
    of the *inverse* Hessian and updates it so that $B y = s$ (the secant equation):

    $$B^+ = (I - \rho\, s y^\top)\, B\, (I - \rho\, y s^\top) + \rho\, s s^\top,
      \qquad \rho = 1/(y^\top s).$$

    The direction $-B g$ costs $O(n^2)$ and no solve; $B$ stays positive definite as long as
    $y^\top s > 0$, which a Wolfe line search guarantees. **L-BFGS** stores only the last $m$
    pairs $(s, y)$ and applies $B$ with a two-loop recursion in $O(mn)$ operations and $2mn$
    numbers, without ever forming an $n \times n$ matrix. Compare them on Rosenbrock's function
    in $n$ dimensions:
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    qn_dim = mo.ui.slider(steps=[2, 5, 10, 20, 50], value=10, label="dimension n", show_value=True)
    qn_memory = mo.ui.slider(1, 20, step=1, value=10, label="L-BFGS memory m", show_value=True)
    mo.hstack([qn_dim, qn_memory], justify="start", gap=2)
    return qn_dim, qn_memory


@app.cell(hide_code=True)
def _(minimize, np, qn_dim, qn_memory, rosenbrock):
    qn_problem = rosenbrock(dim=qn_dim.value)
    _x0 = qn_problem.start
    qn_runs = {
        "gd": minimize(qn_problem, _x0, method="gd", lr=1e-3, max_iter=5000),
        "newton": minimize(qn_problem, _x0, method="newton"),
        "bfgs": minimize(qn_problem, _x0, method="bfgs"),
        "lbfgs": minimize(qn_problem, _x0, method="lbfgs", options={"memory": qn_memory.value}),
    }
    qn_grad_norms = {m: np.linalg.norm(qn_problem.gradient(r.trajectory), axis=-1)
                     for m, r in qn_runs.items()}
    return qn_grad_norms, qn_problem, qn_runs


@app.cell(hide_code=True)
def _(
    COLORS,
    ch03c,
    classify_critical_point,
    go,
    layout,
    mo,
    np,
    qn_dim,
    qn_grad_norms,
    qn_memory,
    qn_problem,
    qn_runs,
):
    _names = {"gd": "gradient descent (lr = 1e-3)", "newton": "Newton", "bfgs": "BFGS",
              "lbfgs": f"L-BFGS (m = {qn_memory.value})"}
    _fig = go.Figure([
        go.Scatter(x=qn_runs[m].trajectory_iter, y=np.maximum(g, 1e-17), name=_names[m],
                   line=dict(color=COLORS[m], width=3))
        for m, g in qn_grad_norms.items()
    ])
    layout(_fig, height=360, xaxis_type="log", yaxis_type="log",
           xaxis_title="iteration (log scale; iteration 0 not shown)",
           yaxis_title="gradient norm (floored at 1e-17)", legend=dict(orientation="h", y=1.15))
    _n = qn_dim.value
    _rows = []
    for _m, _r in qn_runs.items():
        _floats = ch03c.state_floats(_m, _n, memory=qn_memory.value)
        _rows.append(
            f"| {_names[_m]} | {_r.nit:,} | {_r.nfev:,} | {_r.ngev:,} | {_r.nhev:,} | "
            f"{_floats:,} | {_r.fun:.3g} | {np.linalg.norm(_r.x - 1):.3g} | `{_r.status.value}` |")
    _local = [m for m, r in qn_runs.items() if r.success and np.linalg.norm(r.x - 1) > 1e-3]
    _kinds = {m: classify_critical_point(qn_problem.hessian(qn_runs[m].x)).kind for m in _local}
    _note = (
        " " + "; ".join(f"{_names[m]} converged to another critical point, a {_kinds[m]} with "
                        f"f = {qn_runs[m].fun:.3g}, near ({qn_runs[m].x[0]:.2f}, "
                        f"{qn_runs[m].x[1]:.2f}, …)" for m in _local)
        + ". Rosenbrock in more than 3 dimensions has a second local minimum near "
        "(-1, 1, …, 1), and a local method finds the minimum whose basin it starts in."
        if _local else ""
    )
    mo.vstack([_fig, mo.md(
        "| method | iterations | f evals | gradient evals | Hessian evals | numbers stored "
        "besides x, g | final f | distance to (1, …, 1) | status |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(_rows) + "\n\n"
        f"With n = {_n}, Newton stores {ch03c.state_floats('newton', _n):,} numbers and solves an "
        f"n × n system per step; BFGS stores as many but only multiplies; L-BFGS stores "
        f"{ch03c.state_floats('lbfgs', _n, memory=qn_memory.value):,}. At n = 10⁹ that is "
        f"{8 * ch03c.state_floats('bfgs', 10**9) / 1e18:.0f} EB for BFGS against "
        f"{8 * ch03c.state_floats('lbfgs', 10**9, memory=qn_memory.value) / 1e9:.0f} GB for "
        f"L-BFGS and {8 * ch03c.state_floats('adam', 10**9) / 1e9:.0f} GB for Adam." + _note
    )])
    return


@app.cell(hide_code=True)
def _(bfgs_update, lbfgs_direction, show_source):
    show_source(bfgs_update, lbfgs_direction)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Which method when, in deep learning

    - **Newton's method** is the method of choice for small, smooth problems (up to a few
      thousand parameters) when the Hessian is available: a handful of steps reach full
      precision. With a line search and damping it is robust; undamped it is attracted to
      saddles.
    - **BFGS** needs no Hessian, only gradients, and converges superlinearly; its $n^2$ matrix
      limits it to tens of thousands of parameters.
    - **L-BFGS** scales to millions of parameters with full-batch, deterministic gradients:
      classical machine learning (logistic regression, CRFs), style transfer, fitting a small
      network exactly, physics-informed networks. Its line search and curvature pairs assume the
      gradient is exact: minibatch noise corrupts $y = g_{k+1} - g_k$.
    - **Stochastic first-order methods** (SGD with momentum, Adam, AdamW) train large networks:
      each step costs one minibatch gradient, they tolerate noise, and the memory is a small
      multiple of the parameters. Curvature enters only through per-parameter scaling (Adam's
      $\sqrt{\hat v}$) or preconditioners that approximate the Hessian by blocks (K-FAC,
      Shampoo).
    - **Hessian-vector products** ($Hv$ for the cost of about one gradient) give curvature
      without the matrix: the largest eigenvalue by power iteration (the stability limit of the
      learning rate, chapter 3a), or Newton-CG, which solves $Hd = -g$ with conjugate gradients.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter03c, mo):
    ex1 = ExercisePanel(chapter03c.NEWTON_STEP)
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
def _(ExercisePanel, chapter03c, mo):
    ex2 = ExercisePanel(chapter03c.BFGS_UPDATE)
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
        "The Newton step solves H d = -g (a linear solve, never inv(H)); on a quadratic it "
        "reaches the minimum in one step whatever the condition number.",
        "Near a minimum Newton converges quadratically: the number of correct digits doubles per "
        "step, a cliff on a log plot where gradient descent draws a straight line.",
        "Undamped Newton converges to saddles and maxima as readily as to minima; Levenberg "
        "damping or |λ| (saddle-free Newton) plus a line search makes every step go downhill.",
        "The Hessian costs n² memory and about n³ operations per solve: out of reach for "
        "networks with millions of parameters.",
        "BFGS learns the inverse Hessian from gradient differences (n² memory, no solve); "
        "L-BFGS keeps only m pairs (2mn numbers). Large networks are trained with stochastic "
        "first-order methods, with curvature only through per-parameter scaling.",
    )
    return


if __name__ == "__main__":
    app.run()
