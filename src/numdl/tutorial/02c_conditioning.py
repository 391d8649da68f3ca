import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="2c · Poor conditioning")


@app.cell(hide_code=True)
def _():
    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from numdl.exercises import chapter02c
    from numdl.tutorial.simulations import ch02c
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    U64 = float(np.finfo(np.float64).eps) / 2
    BLUE, RED, GREEN, GRAY = "#1f77b4", "#d62728", "#2ca02c", "#7f7f7f"
    return (
        BLUE,
        ExercisePanel,
        GRAY,
        GREEN,
        RED,
        U64,
        ch02c,
        chapter02c,
        go,
        make_subplots,
        mo,
        np,
        show_source,
        takeaways,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 2c · Poor conditioning

    Chapters 2a and 2b were about the errors an *algorithm* makes. This chapter is about the
    *problem*. A problem is **well conditioned** if small changes of its input make small
    changes of its output, and **poorly conditioned** if they can make large ones, whatever
    algorithm solves it. For a linear system $A x = b$ the amplification is measured by the
    condition number

    $$\kappa(A) = \frac{\sigma_{\max}(A)}{\sigma_{\min}(A)},$$

    the ratio of the largest to the smallest singular value. Since every input carries a
    rounding error of relative size $u$, a solution can only be trusted to about
    $\kappa(A)\,u$: roughly $\log_{10}\kappa$ of its digits are lost before any arithmetic
    happens.

    **By the end of this chapter you will be able to**

    - read $\kappa$ off the picture of a matrix acting on the unit circle;
    - predict how far a perturbation of $b$ can move the solution of $A x = b$, and measure it;
    - recognise near-singular matrices (Hilbert matrices) and count the digits they cost;
    - explain why `solve(A, b)` beats `inv(A) @ b` even though both lose $\log_{10}\kappa$ digits;
    - connect the condition number of a Hessian to slow gradient descent, the bridge to chapter 3.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## A matrix turns the unit circle into an ellipse

    Every matrix has a singular value decomposition $A = U \Sigma V^T$: orthonormal input
    directions $v_i$, orthonormal output directions $u_i$ and stretch factors
    $\sigma_1 \ge \sigma_2 \ge 0$, with $A v_i = \sigma_i u_i$. So $A$ maps the unit circle to an
    ellipse whose semi-axes are $\sigma_1 u_1$ and $\sigma_2 u_2$, and $\kappa$ is the ratio of
    its axes. Solving $A x = b$ runs the map backwards: it stretches the direction $u_2$ by
    $1/\sigma_2$. Make the ellipse thinner and watch what the inverse has to undo.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    ell_kappa = mo.ui.slider(0.0, 3.0, step=0.1, value=1.0, label="log10 κ", show_value=True)
    ell_angle = mo.ui.slider(0, 180, step=5, value=30, label="rotation of the ellipse (degrees)",
                             show_value=True)
    mo.hstack([ell_kappa, ell_angle], justify="start", gap=2)
    return ell_angle, ell_kappa


@app.cell(hide_code=True)
def _(BLUE, GRAY, RED, ch02c, ell_angle, ell_kappa, go, mo):
    ellipse = ch02c.circle_to_ellipse(10.0**ell_kappa.value, angle=float(ell_angle.value))
    _fig = go.Figure()
    _fig.add_trace(go.Scatter(x=ellipse.circle[0], y=ellipse.circle[1], name="unit circle",
                              line=dict(color=GRAY, dash="dot")))
    _fig.add_trace(go.Scatter(x=ellipse.ellipse[0], y=ellipse.ellipse[1], name="its image A x",
                              line=dict(color=BLUE, width=3)))
    for _i, _dash in ((0, "solid"), (1, "solid")):
        _v, _su = ellipse.v[:, _i], ellipse.sigma[_i] * ellipse.u[:, _i]
        _fig.add_trace(go.Scatter(x=[0, _v[0]], y=[0, _v[1]], mode="lines+markers",
                                  name=f"v{_i + 1} (input direction)",
                                  line=dict(color=GRAY, dash="dash"), marker=dict(size=[0, 8])))
        _fig.add_trace(go.Scatter(x=[0, _su[0]], y=[0, _su[1]], mode="lines+markers",
                                  name=f"sigma{_i + 1} u{_i + 1} = A v{_i + 1}",
                                  line=dict(color=RED if _i else BLUE, width=3),
                                  marker=dict(size=[0, 10])))
    _fig.update_layout(height=420, margin=dict(l=10, r=10, t=20, b=10),
                       xaxis=dict(range=[-1.3, 1.3], title="first coordinate"),
                       yaxis=dict(range=[-1.3, 1.3], scaleanchor="x", title="second coordinate"))
    mo.vstack([
        _fig,
        mo.md(
            f"Here $\\sigma_1$ = {ellipse.sigma[0]:.4g} and $\\sigma_2$ = {ellipse.sigma[1]:.4g}, "
            f"so κ = **{ellipse.kappa:.4g}**. $A$ squeezes $v_2$ to length {ellipse.sigma[1]:.3g}; "
            f"solving $A x = b$ must multiply any error of $b$ along $u_2$ by "
            f"1/σ₂ = {1 / ellipse.sigma[1]:.4g}, while an error along $u_1$ is multiplied by "
            f"only {1 / ellipse.sigma[0]:.3g}. The SVD is computed from the matrix by NumPy: "
            f"the red arrow is exactly $A v_2$."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Small changes in $b$, large changes in $x$

    Perturb $b$ to $b + \Delta b$. The solution moves by $\Delta x = A^{-1} \Delta b$, and

    $$\frac{\lVert \Delta x \rVert}{\lVert x \rVert} \;\le\; \kappa(A)\,
      \frac{\lVert \Delta b \rVert}{\lVert b \rVert}.$$

    The bound is attained when $b$ is as long as it can be for its $x$ ($x$ along $v_1$, so
    $\lVert b\rVert = \sigma_1 \lVert x\rVert$) and $\Delta b$ points along $u_2$. Below, for 2×2
    matrices with κ from 1 to $10^{12}$, $b$ is perturbed 200 times in random directions and
    both systems are solved in float64; each dot is one measured amplification
    $(\lVert \Delta x\rVert/\lVert x\rVert) / (\lVert \Delta b\rVert/\lVert b\rVert)$.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    amp_pert = mo.ui.slider(-14, -4, step=1, value=-10, label="log10 relative size of Δb",
                            show_value=True)
    amp_worst = mo.ui.switch(value=False, label="x along v1 (the worst case)")
    mo.hstack([amp_pert, amp_worst], justify="start", gap=2)
    return amp_pert, amp_worst


@app.cell(hide_code=True)
def _(BLUE, GRAY, amp_pert, amp_worst, ch02c, go, mo, np):
    amp = ch02c.amplification_sweep(np.logspace(0, 12, 13), 10.0**amp_pert.value, 200,
                                     worst_case_x=bool(amp_worst.value),
                                     rng=np.random.default_rng(0))
    amp_ratio = amp.amplification / amp.condition[:, None]  # measured / bound
    _fig = go.Figure()
    _kx = np.repeat(amp.condition, amp.amplification.shape[1])
    _fig.add_trace(go.Scatter(x=_kx, y=amp.amplification.ravel(), mode="markers", name="measured",
                              marker=dict(size=4, color=BLUE, opacity=0.25)))
    _fig.add_trace(go.Scatter(x=amp.condition, y=amp.condition, name="bound: κ",
                              line=dict(color=GRAY, dash="dash")))
    _fig.update_layout(xaxis_type="log", yaxis_type="log", height=380,
                       xaxis_exponentformat="power", yaxis_exponentformat="power",
                       xaxis_title="condition number κ(A)",
                       yaxis_title="amplification of the relative error",
                       margin=dict(l=10, r=10, t=20, b=10))
    _big = amp.condition >= 10  # at kappa = 1 every direction gives exactly 1
    _where = ("x along the top right singular vector v1" if amp.worst_case_x
              else "a random x (one per matrix)")
    mo.vstack([
        _fig,
        mo.md(
            f"With {_where} and perturbations of relative size {amp.rel_perturbation:.0e}: for "
            f"κ ≥ 10 the largest measured amplification is **{amp_ratio[_big].max():.4f} κ**, "
            f"the median {np.median(amp_ratio[_big]):.3f} κ. The bound holds. How close a "
            f"measurement comes depends on two directions: only the component of Δb along "
            f"$u_2$ is amplified by $1/\\sigma_2$, and the full factor κ needs "
            f"$\\lVert b\\rVert = \\sigma_1 \\lVert x\\rVert$, i.e. x along $v_1$ (switch on the "
            f"worst case). At κ = $10^{{12}}$ a relative change of {amp.rel_perturbation:.0e} in "
            f"b moved x by up to {amp.amplification[-1].max() * amp.rel_perturbation:.2g} "
            f"relative."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Near-singular matrices: the Hilbert matrix

    A matrix is singular when $\sigma_{\min} = 0$; *near* singular when $\sigma_{\min}$ is tiny
    compared with $\sigma_{\max}$. Nothing in the entries needs to look alarming. The Hilbert
    matrix $H_{ij} = 1/(i + j - 1)$ is symmetric, positive definite, with entries between 0 and
    1, and its condition number grows like $e^{3.5 n}$. Below, $H_n x = b$ is solved in float64
    with $b = H_n \mathbf{1}$, so the right answer is all ones. The exact κ comes from the
    exact (integer) inverse of $H_n$; "computed κ" is NumPy's SVD of the rounded matrix.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    hil_n = mo.ui.slider(2, 15, step=1, value=10, label="n", show_value=True)
    hil_n
    return (hil_n,)


@app.cell(hide_code=True)
def _(BLUE, GRAY, GREEN, RED, U64, ch02c, go, hil_n, mo, np):
    hilbert_rows = ch02c.hilbert_study(range(2, 16))
    _ns = [r.n for r in hilbert_rows]
    _fig = go.Figure()
    _fig.add_trace(go.Scatter(x=_ns, y=[r.kappa_exact for r in hilbert_rows], name="κ, exact",
                              line=dict(color=BLUE, width=3)))
    _fig.add_trace(go.Scatter(x=_ns, y=[r.kappa_computed for r in hilbert_rows],
                              name="κ, computed in float64", line=dict(color=GREEN, dash="dot")))
    _fig.add_trace(go.Scatter(x=_ns, y=[max(r.error_solve, U64) / U64 for r in hilbert_rows],
                              name="error of solve(H, b), in units of u", mode="lines+markers",
                              line=dict(color=RED)))
    _fig.add_trace(go.Scatter(x=_ns, y=[1 / U64] * len(_ns), name="1/u",
                              line=dict(color=GRAY, dash="dash")))
    _fig.update_layout(yaxis_type="log", yaxis_exponentformat="power", height=380, xaxis_title="n",
                       yaxis_title="κ, and the relative error / u",
                       margin=dict(l=10, r=10, t=20, b=10))
    _r = hilbert_rows[hil_n.value - 2]
    _digits_left = -np.log10(_r.error_solve) if _r.error_solve > 0 else 16
    mo.vstack([
        _fig,
        mo.md(
            f"For n = {_r.n}: κ = {_r.kappa_exact:.3g}, so about **{_r.digits_lost:.1f} digits** "
            f"are lost to conditioning, and $-\\log_{{10}}(\\kappa u)$ = "
            f"{max(-np.log10(_r.kappa_exact * U64), 0):.1f} are guaranteed. The solve's relative "
            f"error is {_r.error_solve:.2g}: {max(_digits_left, 0):.1f} correct digits (κu is an "
            f"upper bound; this right-hand side is kinder than the worst). The red line "
            f"stays below κ until κ passes 1/u, where nothing is "
            f"left; there the computed κ (green) stops growing too, because the rounded matrix's "
            f"smallest singular value drowns in rounding noise of size u σ_max."
        ),
    ])
    return (hilbert_rows,)


@app.cell(hide_code=True)
def _(hilbert_rows, mo, np):
    _lines = "\n".join(
        f"| {r.n} | {r.kappa_exact:.3g} | {r.digits_lost:.1f} | {r.error_solve:.1e} "
        f"| {max(-np.log10(max(r.error_solve, 1e-17)), 0):.1f} | {r.error_inv:.1e} |"
        for r in hilbert_rows
    )
    mo.md(
        "| n | κ(H_n) | digits lost, log10 κ | error of solve | correct digits | error of inv(H) @ b |\n"
        "|---|---|---|---|---|---|\n" + _lines
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Why not invert: `solve(A, b)` against `inv(A) @ b`

    Conditioning limits *every* method: no algorithm can promise more than about $\kappa u$
    relative accuracy, because rounding $A$ and $b$ to floats already moved the true answer that
    much. What separates methods is **backward stability**: LU factorization with partial
    pivoting (`np.linalg.solve`) returns the exact solution of a system within a few $u$ of
    yours, so its residual $\lVert b - A x\rVert / (\lVert A\rVert \lVert x\rVert)$ stays near
    $u$ for any κ. Multiplying by a computed inverse does not: `inv(A)` carries an error of
    about $\kappa u$ relative to itself, and the residual grows with κ. (It also costs three
    times the flops.) The sweep solves random systems with κ from 1 to $10^{14}$ both ways.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    inv_n = mo.ui.dropdown(["10", "50", "200"], value="50", label="matrix size n")
    inv_n
    return (inv_n,)


@app.cell(hide_code=True)
def _(BLUE, GRAY, RED, U64, ch02c, go, inv_n, make_subplots, mo, np):
    inv = ch02c.solve_vs_inverse(np.logspace(0, 14, 15), n=int(inv_n.value),
                                 rng=np.random.default_rng(1))
    _fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                         subplot_titles=("forward error |x - x_true| / |x_true|",
                                         "backward error |b - A x| / (|A| |x|)"))
    for _name, _fw, _bw, _color in (("solve(A, b)", inv.error_solve, inv.backward_solve, BLUE),
                                    ("inv(A) @ b", inv.error_inv, inv.backward_inv, RED)):
        for _col, _y in ((1, _fw), (2, _bw)):
            _fig.add_trace(go.Scatter(x=inv.kappas, y=_y, name=_name, mode="lines+markers",
                                      line=dict(color=_color), legendgroup=_name,
                                      showlegend=_col == 1), row=1, col=_col)
    _fig.add_trace(go.Scatter(x=inv.kappas, y=inv.kappas * U64, name="κ u",
                              line=dict(color=GRAY, dash="dash")), row=1, col=1)
    _fig.update_xaxes(type="log", title_text="κ(A)", exponentformat="power")
    _fig.update_yaxes(type="log", exponentformat="power")
    _fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10))
    _k = int(np.argmin(np.abs(np.log10(inv.kappas) - 12)))
    mo.vstack([
        _fig,
        mo.md(
            f"At κ = {inv.kappas[_k]:.0e} (n = {inv_n.value}): the forward errors are "
            f"{inv.error_solve[_k]:.1e} (solve) and {inv.error_inv[_k]:.1e} (inverse), both "
            f"near κu = {inv.kappas[_k] * U64:.1e}; the backward errors are "
            f"**{inv.backward_solve[_k]:.1e}** and **{inv.backward_inv[_k]:.1e}**, a factor "
            f"{inv.backward_inv[_k] / inv.backward_solve[_k]:.1e} apart. The solve's x is the "
            f"exact answer to a question a rounding away from yours; the inverse's is not. That "
            f"is what the textbook warning \"inversion amplifies errors\" means."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(ch02c, show_source):
    show_source(ch02c.amplification_sweep, ch02c.hilbert_study, ch02c.solve_vs_inverse)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Conditioning slows gradient descent

    Near a minimum a loss looks like a quadratic $f(x) = \tfrac12 x^T H x$ whose Hessian $H$ has
    eigenvalues $L = \lambda_{\max}$ and $\mu = \lambda_{\min}$, and condition number
    $\kappa(H) = L/\mu$. Gradient descent $x \leftarrow x - \eta\, H x$ multiplies the error along
    each eigenvector by $1 - \eta\lambda$. It diverges once $\eta > 2/L$, so the steep direction
    caps the learning rate, and with $\eta \le 2/L$ the flat direction shrinks by only
    $1 - \eta\mu \ge 1 - 2/\kappa$ per step: the level sets are elongated valleys and the
    iterates zig-zag across them. The best fixed rate, $\eta = 2/(L + \mu)$, needs about
    $\tfrac{\kappa}{2}\ln(1/\text{tol})$ steps. Newton's method steps by $H^{-1}\nabla f$, which
    undoes the curvature: one step on a quadratic. Here $L = 1$ and $\mu = 1/\kappa$.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    gd_kappa = mo.ui.slider(0.0, 3.0, step=0.25, value=1.5, label="log10 κ(H)", show_value=True)
    gd_lr = mo.ui.slider(0.1, 2.1, step=0.05, value=1.8, label="learning rate η (2/L = 2)",
                         show_value=True)
    gd_steps = mo.ui.slider(10, 500, step=10, value=100, label="steps", show_value=True)
    mo.hstack([gd_kappa, gd_lr, gd_steps], justify="start", gap=2)
    return gd_kappa, gd_lr, gd_steps


@app.cell(hide_code=True)
def _(BLUE, GREEN, ch02c, gd_kappa, gd_lr, gd_steps, go, mo, np):
    gd_run = ch02c.descend_quadratic(10.0**gd_kappa.value, float(gd_lr.value), int(gd_steps.value))
    _newton = ch02c.descend_quadratic(10.0**gd_kappa.value, 1.0, 5, newton=True)
    _g = np.linspace(-2.5, 2.5, 121)
    _xx, _yy = np.meshgrid(_g, _g)
    _h = gd_run.hessian
    _f = 0.5 * (_h[0, 0] * _xx**2 + 2 * _h[0, 1] * _xx * _yy + _h[1, 1] * _yy**2)
    _fig = go.Figure()
    _fig.add_trace(go.Contour(x=_g, y=_g, z=np.log10(_f + 1e-6), showscale=False,
                              colorscale="Greys", opacity=0.5, ncontours=25,
                              contours=dict(coloring="lines"), name="log10 f"))
    _path = np.clip(gd_run.path, -2.5, 2.5)
    _fig.add_trace(go.Scatter(x=_path[:, 0], y=_path[:, 1], mode="lines+markers",
                              name="gradient descent", line=dict(color=BLUE),
                              marker=dict(size=4)))
    _fig.add_trace(go.Scatter(x=_newton.path[:, 0], y=_newton.path[:, 1], mode="lines+markers",
                              name="Newton", line=dict(color=GREEN, width=3)))
    _fig.update_layout(height=420, margin=dict(l=10, r=10, t=20, b=10),
                       xaxis=dict(range=[-2.5, 2.5], title="x1"),
                       yaxis=dict(range=[-2.5, 2.5], scaleanchor="x", title="x2 (path clipped to the box)"))
    if gd_run.diverged:
        _verdict = (f"**diverged** after {len(gd_run.path) - 1} steps: η = {gd_run.lr:g} exceeds "
                    f"2/L = 2, so the steep direction grows by |1 - η| = {abs(1 - gd_run.lr):.2f} "
                    f"per step.")
        _kind = "danger"
    elif gd_run.converged_at is not None:
        _verdict = (f"**converged** (|x| below 1e-6 of its start) after **{gd_run.converged_at} "
                    f"steps**.")
        _kind = "success"
    else:
        _dist = np.linalg.norm(gd_run.path[-1]) / np.linalg.norm(gd_run.path[0])
        _verdict = (f"after {gd_steps.value} steps still at {_dist:.2g} of the starting "
                    f"distance: the flat direction shrinks by only "
                    f"{abs(1 - gd_run.lr / gd_run.kappa):.4f} per step.")
        _kind = "warn"
    mo.vstack([
        _fig,
        mo.callout(mo.md(f"κ(H) = {gd_run.kappa:.3g}, η = {gd_run.lr:g}: gradient descent "
                         f"{_verdict} Newton's method: {_newton.converged_at} step."), kind=_kind),
    ])
    return


@app.cell(hide_code=True)
def _(BLUE, GRAY, GREEN, RED, ch02c, go, mo, np):
    gd_kappas = np.logspace(0, 3, 13)
    gd_iters = {rule: ch02c.descent_iterations(gd_kappas, rule) for rule in ("optimal", "1/L", "newton")}
    gd_slope = ch02c.loglog_slope(gd_kappas[4:], gd_iters["optimal"][4:])
    _fig = go.Figure()
    for _rule, _name, _color in (("1/L", "gradient descent, η = 1/L", RED),
                                 ("optimal", "gradient descent, η = 2/(L + μ)", BLUE),
                                 ("newton", "Newton", GREEN)):
        _fig.add_trace(go.Scatter(x=gd_kappas, y=gd_iters[_rule], name=_name, mode="lines+markers",
                                  line=dict(color=_color)))
    _pred = np.log(1e6) / np.log((gd_kappas + 1) / np.maximum(gd_kappas - 1, 1e-300))
    _fig.add_trace(go.Scatter(x=gd_kappas[1:], y=_pred[1:], name="predicted, (κ/2) ln(1e6)",
                              line=dict(color=GRAY, dash="dash")))
    _fig.update_layout(xaxis_type="log", yaxis_type="log", height=360, xaxis_dtick=1,
                       yaxis_dtick=1, xaxis_exponentformat="power", yaxis_exponentformat="power",
                       xaxis_title="condition number of the Hessian",
                       yaxis_title="steps to shrink |x| by 1e6",
                       margin=dict(l=10, r=10, t=20, b=10))
    mo.vstack([
        _fig,
        mo.md(
            f"Counted live: at κ = {gd_kappas[-1]:.0f}, gradient descent needs "
            f"{gd_iters['optimal'][-1]:.0f} steps with the best rate and "
            f"{gd_iters['1/L'][-1]:.0f} with η = 1/L; Newton needs "
            f"{gd_iters['newton'][-1]:.0f}. The fitted slope of steps against κ is "
            f"**{gd_slope:.2f}**: the cost of gradient descent grows in proportion to the "
            f"condition number. Chapter 3 takes this up: learning-rate choice (3a), the "
            f"Hessian's eigenvalues (3b), and Newton and quasi-Newton methods (3c), which buy "
            f"back the lost steps by estimating $H^{{-1}}$."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(ch02c, show_source):
    show_source(ch02c.descend_quadratic, ch02c.descent_iterations)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter02c, mo):
    ex1 = ExercisePanel(chapter02c.CONDITION_DIGITS)
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
def _(ExercisePanel, chapter02c, mo):
    ex2 = ExercisePanel(chapter02c.STABLE_SOLVE)
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
def _(U64, hilbert_rows, takeaways):
    _first = next(r for r in hilbert_rows if r.kappa_exact > 1 / U64)
    takeaways(
        "κ(A) = σ_max / σ_min is the ratio of the axes of the ellipse A makes of the unit circle; "
        "a relative change of b can move x by up to κ times as much, and rounding alone costs "
        "about log10 κ digits.",
        f"Near-singular matrices can look harmless: the Hilbert matrix of order {_first.n} "
        f"already has κ = {_first.kappa_exact:.1e}, above 1/u, and its computed condition "
        "number is itself unreliable there.",
        "No algorithm beats the conditioning; a good one adds nothing to it. Use np.linalg.solve "
        "(backward stable), not inv(A) @ b, whose residual grows with κ.",
        "A small determinant does not mean ill-conditioned, nor a large one well-conditioned: "
        "measure κ with the singular values.",
        "An ill-conditioned Hessian makes gradient descent slow (steps grow like κ, the rate is "
        "capped by the steepest direction); Newton-type methods remove the dependence.",
    )
    return


if __name__ == "__main__":
    app.run()
