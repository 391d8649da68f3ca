import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="5b · Linear least squares")


@app.cell(hide_code=True)
def _():
    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from numdl import linalg
    from numdl.exercises import chapter05b
    from numdl.linalg import least_squares_problem
    from numdl.tutorial.simulations import ch05b
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways


    METHODS = linalg.LSTSQ_METHODS
    METHOD_COLORS = {"normal_inv": "#d62728", "normal_solve": "#ff7f0e", "cholesky": "#8c564b",
                     "qr": "#1f77b4", "svd": "#2ca02c", "lapack": "#9467bd"}
    METHOD_DASH = {"normal_inv": "solid", "normal_solve": "dot", "cholesky": "dash",
                   "qr": "solid", "svd": "dot", "lapack": "dash"}
    return (
        ExercisePanel,
        METHODS,
        METHOD_COLORS,
        METHOD_DASH,
        ch05b,
        chapter05b,
        go,
        least_squares_problem,
        linalg,
        make_subplots,
        mo,
        np,
        show_source,
        takeaways,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 5b · Linear least squares

    Fitting a linear model $X\beta \approx y$ with more equations than unknowns ($X$ is
    $m \times n$, $m > n$) means finding

    $$\hat\beta = \arg\min_\beta \lVert y - X\beta\rVert_2 .$$

    Linear regression, the last layer of a network fitted in closed form, polynomial fits and
    Gauss-Newton steps are all this problem. Algebra offers one formula for $\hat\beta$;
    floating point offers several algorithms with very different accuracy. How much accuracy
    is at stake is set by the condition number of $X$ (chapter 2c),
    $\kappa(X) = \sigma_{\max}/\sigma_{\min}$.

    **By the end of this chapter you will be able to**

    - explain why the normal equations lose twice as many digits as QR or the SVD, and measure it;
    - recognise the failure of Cholesky on $X^T X$ and read a solver's diagnostics;
    - say what the `rcond` argument of a least-squares solver does, and choose it;
    - write the best-practice solve: a library `lstsq`, or QR with a triangular solve (never
      `inv(R)`).
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Six ways to solve the same problem

    Setting the gradient of $\lVert y - X\beta\rVert^2$ to zero gives the **normal equations**
    $X^T X\,\beta = X^T y$, so $\hat\beta = (X^T X)^{-1} X^T y$. Written literally, as many
    tutorials do, that is `np.linalg.inv(X.T @ X) @ (X.T @ y)`. The trouble is not the inverse
    alone: **forming** $X^T X$ squares the condition number, $\kappa(X^T X) = \kappa(X)^2$, and
    rounding it already costs a relative error of about $\kappa^2 u$ before anything is solved.
    The methods of `numdl.linalg.lstsq`:

    | method | what it computes | relative error, roughly |
    |---|---|---|
    | `normal_inv` | `inv(X.T @ X) @ (X.T @ y)` | $\kappa^2 u$ |
    | `normal_solve` | `solve(X.T @ X, X.T @ y)` (LU, no inverse) | $\kappa^2 u$ |
    | `cholesky` | $X^T X = L L^T$, two triangular solves | $\kappa^2 u$, breaks down once $\kappa^2 u \approx 1$ |
    | `qr` | Householder $X = QR$, then $R\beta = Q^T y$ by back substitution | $\kappa u$ |
    | `svd` | $X = U\Sigma V^T$, $\beta = V\Sigma^{+}U^T y$ | $\kappa u$ |
    | `lapack` | LAPACK `gelsd` (what `np.linalg.lstsq` calls) | $\kappa u$ |

    QR and the SVD never form $X^T X$: they are *backward stable*, returning the exact solution
    for data within a few $u$ of yours, so their error is the conditioning's $\kappa u$. (For a
    problem whose residual $r = y - X\hat\beta$ is large, theory adds a term
    $\kappa^2 u \tan\theta$, $\sin\theta = \lVert r\rVert/\lVert y\rVert$, to every method: the
    problem itself is then that sensitive. The experiments below use consistent problems,
    $r = 0$, where the difference between the two families is cleanest.)
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    ls_dtype = mo.ui.dropdown(["float64", "float32"], value="float64", label="format")
    mo.vstack([
        mo.md(r"""
    ## Forward error against κ: slopes 2 and 1

    Each point solves a random $100 \times 10$ problem whose $X$ has a prescribed condition
    number (singular values spaced geometrically from 1 to $1/\kappa$) and $y = X\beta_{\text{true}}$;
    the error is $\lVert\beta - \beta_{\text{true}}\rVert / \lVert\beta_{\text{true}}\rVert$, the median of 5
    problems. On a log-log plot an error $c\,\kappa^p u$ is a straight line of slope $p$.
    """),
        ls_dtype,
    ])
    return (ls_dtype,)


@app.cell(hide_code=True)
def _(METHODS, METHOD_COLORS, METHOD_DASH, ch05b, go, ls_dtype, np):
    _top = 12 if ls_dtype.value == "float64" else 6
    sweep = ch05b.lstsq_sweep(np.logspace(0, _top, 4 * _top + 1), ls_dtype.value, repeats=5,
                              rng=np.random.default_rng(0))
    slopes = {m: sweep.slope(m) for m in METHODS}
    _u = sweep.unit_roundoff
    _fig = go.Figure()
    _floor, _ceil = _u / 10, 1e3
    for _m in METHODS:
        _e = sweep.errors[_m]
        _fig.add_trace(go.Scatter(
            x=sweep.realized, y=np.clip(np.where(np.isnan(_e), _ceil, _e), _floor, _ceil),
            name=_m, mode="lines+markers",
            line=dict(color=METHOD_COLORS[_m], dash=METHOD_DASH[_m]),
            marker=dict(size=5, symbol=["x" if t else "circle" for t in sweep.truncated[_m]])))
    for _p, _name in ((1, "κ u"), (2, "κ² u")):
        _fig.add_trace(go.Scatter(x=sweep.realized, y=np.clip(sweep.realized**_p * _u, _floor, _ceil),
                                  name=_name, line=dict(color="#7f7f7f", dash="dash", width=1)))
    _fig.update_layout(xaxis_type="log", yaxis_type="log", height=420,
                       xaxis_exponentformat="power", yaxis_exponentformat="power",
                       xaxis_title="κ(X) of the stored matrix",
                       yaxis_title="relative error (failed: drawn at 1e3)",
                       margin=dict(l=10, r=10, t=20, b=10))
    _fig
    return slopes, sweep


@app.cell(hide_code=True)
def _(METHODS, mo, np, slopes, sweep):
    _rows = "\n".join(
        f"| `{m}` | **{slopes[m]:.2f}** | {2 if m in ('normal_inv', 'normal_solve', 'cholesky') else 1} |"
        for m in METHODS
    )
    _fail = [k for k, s in zip(sweep.realized, sweep.statuses["cholesky"]) if s == "failed"]
    _cut = [k for k, t in zip(sweep.realized, sweep.truncated["lapack"]) if t]
    _notes = []
    if _fail:
        _notes.append(f"Cholesky breaks down from κ ≈ {_fail[0]:.1e} on (drawn at the top): "
                      f"$\\kappa^2 u$ = {_fail[0]**2 * sweep.unit_roundoff:.1g} there.")
    if _cut:
        _notes.append(f"From κ ≈ {_cut[0]:.1e} on, `svd` and `lapack` drop a singular value "
                      f"(crosses): their default `rcond` = eps · max(m, n) = "
                      f"{2 * sweep.unit_roundoff * 100:.1e} treats σ_min as zero, and they solve "
                      f"a different, lower-rank problem (see *What rcond does*).")
    mo.vstack([
        mo.md(
            f"Slopes fitted live ({sweep.dtype}) to the points between 100u and 0.1, where "
            f"the κ-dependent error dominates:\n\n"
            "| method | fitted slope | theory |\n|---|---|---|\n" + _rows
        ),
        mo.md(
            f"At κ ≈ {sweep.realized[np.argmin(np.abs(np.log10(sweep.realized) - 4))]:.0e} the "
            f"normal equations are off by "
            f"{sweep.errors['normal_solve'][np.argmin(np.abs(np.log10(sweep.realized) - 4))]:.1e} "
            f"and QR by {sweep.errors['qr'][np.argmin(np.abs(np.log10(sweep.realized) - 4))]:.1e}. "
            + " ".join(_notes)
        ),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Where Cholesky fails

    $X^T X$ is symmetric positive definite in exact arithmetic, so Cholesky, $X^T X = LL^T$,
    is the textbook way to solve the normal equations. In floating point the computed $X^T X$
    carries errors of size $u\lVert X\rVert^2 = u\,\sigma_{\max}^2$, which swamp its smallest
    eigenvalue $\sigma_{\min}^2$ once $\kappa^2 u$ nears 1: the rounded matrix is no longer
    positive definite and the factorization meets a negative pivot. `numdl.linalg.lstsq`
    reports that in its diagnostics instead of raising, so every method can be compared on
    the same problem:
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    chol_kappa = mo.ui.slider(0.0, 12.0, step=0.5, value=9.0, label="log10 κ(X)", show_value=True)
    chol_dtype = mo.ui.dropdown(["float64", "float32"], value="float64", label="format")
    mo.hstack([chol_kappa, chol_dtype], justify="start", gap=2)
    return chol_dtype, chol_kappa


@app.cell(hide_code=True)
def _(METHODS, chol_dtype, chol_kappa, least_squares_problem, linalg, mo, np):
    _x, _y, _beta = least_squares_problem(100, 10, 10.0**chol_kappa.value,
                                                dtype=chol_dtype.value,
                                                rng=np.random.default_rng(3))
    chol_results = {}
    for _m in METHODS:
        _sol, _diag = linalg.lstsq(_x, _y, method=_m)
        _err = np.linalg.norm(_sol.astype(np.float64) - _beta) / np.linalg.norm(_beta)
        chol_results[_m] = (_diag, float(_err))
    _u = chol_results["qr"][0].unit_roundoff
    _kappa = chol_results["qr"][0].kappa_estimate
    _rows = "\n".join(
        f"| `{m}` | {d.status} | "
        + ("NaN returned | (none) |" if d.status == "failed"
           else f"{e:.1e} | {d.forward_error_bound:.1e} |")
        for m, (d, e) in chol_results.items()
    )
    _chol = chol_results["cholesky"][0]
    mo.vstack([
        mo.md(f"κ(X) = {_kappa:.2e} in {chol_dtype.value}: κu = {_kappa * _u:.1e}, "
              f"κ²u = {_kappa**2 * _u:.1e}. Cholesky is expected to break down near "
              f"κ = 1/√u = {1 / np.sqrt(_u):.1e}."),
        mo.md("| method | status | relative error | predicted error |\n|---|---|---|---|\n"
              + _rows),
        mo.callout(mo.md(f"**cholesky**, status `{_chol.status}`: {_chol.message}"),
                   kind="danger" if _chol.status == "failed" else
                   "warn" if _chol.status != "success" else "success"),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## What `rcond` does

    When $\sigma_{\min}$ is at the level of rounding noise, the data cannot tell its direction
    apart from noise, and dividing by it (as any full-rank solve does) fills the solution with
    huge, cancelling coefficients. SVD-based solvers take a relative tolerance `rcond`:
    singular values $\sigma_i \le \text{rcond}\cdot\sigma_{\max}$ count as zero, and the
    solver returns the **minimum-norm** solution of the lower-rank problem that is left,
    $\beta = \sum_{\sigma_i > \text{rcond}\,\sigma_{\max}} v_i\,(u_i^T y)/\sigma_i$.
    NumPy's `lstsq(X, y, rcond=None)` and `numdl.linalg.lstsq` use eps · max(m, n); SciPy's
    `lstsq` uses eps.

    The example: three features $a$, $b$ and $c = a + b + \text{noise}$, with
    $y = a + 2b$ plus a measurement error of $10^{-3}$. Its third singular value is about the
    noise level. Move `rcond` across it:
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    rc_rcond = mo.ui.slider(-17, -2, step=1, value=-14, label="log10 rcond", show_value=True)
    rc_noise = mo.ui.slider(-16, -4, step=1, value=-12, label="log10 noise in c", show_value=True)
    mo.hstack([rc_rcond, rc_noise], justify="start", gap=2)
    return rc_noise, rc_rcond


@app.cell(hide_code=True)
def _(ch05b, go, linalg, mo, np, rc_noise, rc_rcond):
    _x, _y = ch05b.collinear_problem(40, 10.0**rc_noise.value, rng=np.random.default_rng(4))
    rc_sol, rc_diag = linalg.lstsq(_x, _y, method="svd", rcond=10.0**rc_rcond.value)
    _default_sol, _default = linalg.lstsq(_x, _y, method="lapack")
    _keep, _keep_diag = linalg.lstsq(_x, _y, method="svd", rcond=0.0)
    _drop, _drop_diag = linalg.lstsq(_x, _y, method="svd", rcond=1e-2)
    rc_sigma = np.linalg.svd(_x, compute_uv=False)
    _thr = rc_diag.rcond * rc_sigma[0]
    _fig = go.Figure()
    _fig.add_trace(go.Bar(x=["sigma 1", "sigma 2", "sigma 3"], y=rc_sigma, name="singular values",
                          marker_color=["#1f77b4" if s > _thr else "#d62728" for s in rc_sigma]))
    _fig.add_hline(y=_thr, line=dict(color="#7f7f7f", dash="dash"),
                   annotation_text="rcond × sigma_max", annotation_position="top right")
    _lo = np.log10(min(rc_sigma[-1], _thr)) - 1
    _fig.update_layout(yaxis_type="log", yaxis_exponentformat="power", height=300,
                       yaxis_range=[_lo, np.log10(rc_sigma[0]) + 0.5],
                       yaxis_title="singular value (red: dropped)", showlegend=False,
                       margin=dict(l=10, r=10, t=20, b=10))
    _fmt = lambda v: ", ".join(f"{c:.4g}" for c in v)  # noqa: E731
    mo.vstack([
        _fig,
        mo.md(
            "| solver | rank used | coefficients β | norm of β | residual norm |\n"
            "|---|---|---|---|---|\n"
            f"| `svd`, rcond = {rc_diag.rcond:.0e} | {rc_diag.rank} | {_fmt(rc_sol)} | "
            f"{np.linalg.norm(rc_sol):.3g} | {rc_diag.residual_norm:.6g} |\n"
            f"| `lapack`, default rcond = {_default.rcond:.1e} | {_default.rank} | "
            f"{_fmt(_default_sol)} | {np.linalg.norm(_default_sol):.3g} | "
            f"{_default.residual_norm:.6g} |"
        ),
        mo.md(
            f"Here σ₃/σ₁ = {rc_sigma[2] / rc_sigma[0]:.1e}. Kept (rcond = 0), it costs "
            f"coefficients of norm {np.linalg.norm(_keep):.3g} and buys a residual of "
            f"{_keep_diag.residual_norm:.6g}; dropped, the minimum-norm solution has norm "
            f"{np.linalg.norm(_drop):.3g} and residual {_drop_diag.residual_norm:.6g}: "
            f"{abs(_drop_diag.residual_norm / _keep_diag.residual_norm - 1):.1%} worse on the "
            f"training data, but with huge cancelling coefficients the fit is useless wherever "
            f"$a + b - c$ is not tiny. The default rcond ({_default.rcond:.1e}) "
            f"{'drops' if _default.truncated else 'keeps'} σ₃ here: a default cannot know how "
            f"noisy your features are. Slider's status: {rc_diag.message}."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Best practice: never `inv(R)`

    The QR route is often written `np.linalg.inv(R) @ Q.T @ y`. Python evaluates that left to
    right: it inverts $R$, multiplies the inverse by $Q^T$ (an explicit $n \times m$
    pseudo-inverse of $X$) and only then touches $y$. $R$ is upper triangular, and a triangular
    system is solved by **back substitution** (`scipy.linalg.solve_triangular`): $n^2$ flops
    instead of $n^3$, and backward stable by theorem (the computed $\beta$ solves
    $(R + \Delta R)\beta = Q^T y$ with $\lVert\Delta R\rVert \le n u\lVert R\rVert$). The three
    variants on the same problems:
    """)
    return


@app.cell(hide_code=True)
def _(ch05b, go, make_subplots, mo, np):
    tri = ch05b.qr_inverse_vs_triangular(np.logspace(0, 12, 13), rng=np.random.default_rng(0))
    _colors = dict(zip(ch05b.TRIANGULAR_VARIANTS, ("#d62728", "#ff7f0e", "#1f77b4")))
    _fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                         subplot_titles=("forward error", "backward error of R x = Q^T y"))
    for _v in ch05b.TRIANGULAR_VARIANTS:
        for _col, _y in ((1, tri.errors[_v]), (2, tri.backward[_v])):
            _fig.add_trace(go.Scatter(x=tri.kappas, y=_y, name=_v, mode="lines+markers",
                                      line=dict(color=_colors[_v]), legendgroup=_v,
                                      showlegend=_col == 1), row=1, col=_col)
    _fig.update_xaxes(type="log", title_text="κ(X)", exponentformat="power")
    _fig.update_yaxes(type="log", exponentformat="power")
    _fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10),
                       legend=dict(orientation="h", y=-0.25))
    _lit, _half, _tri = ch05b.TRIANGULAR_VARIANTS
    mo.vstack([
        _fig,
        mo.md(
            f"At κ = {tri.kappas[-1]:.0e}: forward errors {tri.errors[_lit][-1]:.1e} "
            f"(`{_lit}`), {tri.errors[_half][-1]:.1e} and {tri.errors[_tri][-1]:.1e} "
            f"(back substitution); backward errors {tri.backward[_lit][-1]:.1e}, "
            f"{tri.backward[_half][-1]:.1e} and {tri.backward[_tri][-1]:.1e}. The literal "
            f"formula is {tri.errors[_lit][-1] / tri.errors[_tri][-1]:.1f} times less accurate "
            f"and not backward stable; inverting only $R$ is close to back substitution here "
            f"(triangular inverses are computed accurately), but it still costs an $n^3$ "
            f"inverse for nothing."
        ),
        mo.md(r"""
    In practice, use the library:

    ```python
    beta = np.linalg.lstsq(X, y, rcond=None)[0]        # SVD-based (gelsd), handles rank deficiency
    # or, with a QR you want to keep (several right-hand sides, updates):
    Q, R = np.linalg.qr(X)                              # reduced QR: Q is m x n
    beta = scipy.linalg.solve_triangular(R, Q.T @ y)    # back substitution, never inv(R)
    ```
    """),
        mo.md(
            "Form $X^T X$ only when $\\kappa(X)^2 u$ is comfortably small (well-conditioned, "
            "standardized features in float64), and remember that float32 reaches "
            f"$\\kappa^2 u = 1$ already at κ = {1 / np.sqrt(np.finfo(np.float32).eps / 2):.0f}."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(ch05b, linalg, show_source):
    show_source(linalg.solve_normal_inv, linalg.solve_cholesky, linalg.solve_qr,
                linalg.solve_svd, ch05b.lstsq_sweep)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter05b, mo):
    ex1 = ExercisePanel(chapter05b.ACCURATE_LSTSQ)
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
def _(ExercisePanel, chapter05b, mo):
    ex2 = ExercisePanel(chapter05b.TRUNCATED_LSTSQ)
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
def _(np, takeaways):
    _u32 = float(np.finfo(np.float32).eps) / 2
    _u64 = float(np.finfo(np.float64).eps) / 2
    takeaways(
        "The normal equations square the condition number: their error grows like κ²u "
        "(slope 2 on a log-log plot), QR's and the SVD's like κu (slope 1).",
        f"Cholesky on X^T X breaks down once κ²u nears 1: κ ≈ {1 / _u64**0.5:.0e} in float64, "
        f"only {1 / _u32**0.5:.0e} in float32. Read the solver's status; do not assume success.",
        "rcond drops singular values below rcond · σ_max and returns the minimum-norm solution: "
        "small, stable coefficients instead of huge cancelling ones; the defaults differ between "
        "libraries (NumPy eps · max(m, n), SciPy eps).",
        "Use np.linalg.lstsq / scipy.linalg.lstsq, or QR followed by solve_triangular; never "
        "inv(X.T @ X), never inv(R).",
    )
    return


if __name__ == "__main__":
    app.run()
