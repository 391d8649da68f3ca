import marimo

__generated_with = "0.25.2"
app = marimo.App(
    width="medium",
    app_title="3b · Critical points, Jacobian and Hessian",
)


@app.cell(hide_code=True)
def _():
    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go

    from numdl.exercises import chapter03b
    from numdl.optim import classify_critical_point, derivatives
    from numdl.optim.problems import PROBLEMS
    from numdl.tutorial.simulations import ch01, ch03a, ch03b
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    KIND_COLORS = {"minimum": "#2ca02c", "maximum": "#d62728", "saddle": "#ff7f0e",
                   "degenerate": "#7f7f7f"}
    METHOD_COLORS = {"forward": "#d62728", "central": "#1f77b4", "richardson": "#2ca02c",
                     "complex": "#9467bd"}
    CP_PROBLEMS = ["himmelblau", "six_hump_camel", "beale", "monkey_saddle", "saddle", "rosenbrock"]
    # f spans many decades on these: the surface shows log10(1 + f), which has the same critical
    # points of the same kinds (a monotone transform of f >= 0)
    LOG_SURFACE = {"beale", "rosenbrock"}
    SURFACE_BOX = {"beale": ((-1.0, 4.5), (-3.5, 2.0))}

    # exp(x) sin(y) is not a polynomial: every method has a truncation error. Rosenbrock is a
    # polynomial of degree 4, whose fifth derivatives vanish: Richardson's error is rounding only.
    FD_FUNCTIONS = {
        "exp(x) sin(y)": (lambda v: np.exp(v[..., 0]) * np.sin(v[..., 1]),
                          lambda v: np.stack([np.exp(v[..., 0]) * np.sin(v[..., 1]),
                                              np.exp(v[..., 0]) * np.cos(v[..., 1])], -1)),
        "rosenbrock (degree-4 polynomial)": (PROBLEMS["rosenbrock"]().value,
                                             PROBLEMS["rosenbrock"]().gradient),
    }

    from numdl.tutorial.widgets import figure_layout as layout

    return (
        CP_PROBLEMS,
        ExercisePanel,
        FD_FUNCTIONS,
        KIND_COLORS,
        LOG_SURFACE,
        METHOD_COLORS,
        PROBLEMS,
        SURFACE_BOX,
        ch01,
        ch03a,
        ch03b,
        chapter03b,
        classify_critical_point,
        derivatives,
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
    # 3b · Critical points, Jacobian and Hessian

    Gradient descent stops where the gradient vanishes. Such a **critical point** can be a
    minimum, a maximum, or a **saddle**: downhill in some directions, uphill in others. The
    gradient cannot tell them apart; the second derivatives, collected in the **Hessian**
    matrix, can. This chapter reads critical points from the Hessian's eigenvalues, shows why
    saddles outnumber minima in high dimensions, and computes Jacobians and Hessians
    numerically, where the step size of a finite difference decides how many digits survive.

    **By the end of this chapter you will be able to**

    - classify a critical point from the signs of its Hessian's eigenvalues, and recognize when
      the test is inconclusive;
    - treat a computed eigenvalue near zero with a tolerance instead of its sign;
    - explain why almost every critical point of a high-dimensional function is a saddle;
    - define the Jacobian and the Hessian and compute them by finite differences or the
      complex step;
    - choose a finite-difference step from the balance of truncation and rounding error.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Minimum, maximum, saddle

    At a critical point $x^*$ ($\nabla f(x^*) = 0$) the first-order term of Taylor's expansion
    vanishes and the second-order term decides:

    $$f(x^* + d) \approx f(x^*) + \tfrac12\, d^\top H d
      = f(x^*) + \tfrac12 \sum_i \lambda_i\, (q_i^\top d)^2,$$

    with $H = \sum_i \lambda_i q_i q_i^\top$ the eigendecomposition of the symmetric Hessian.
    Moving along the eigenvector $q_i$ changes $f$ by $\tfrac12 \lambda_i t^2$:

    | eigenvalues of $H$ | the point is | written |
    |---|---|---|
    | all $> 0$ | a strict local **minimum** | $\nabla f = 0,\ H \succ 0$ |
    | all $< 0$ | a strict local **maximum** | $\nabla f = 0,\ H \prec 0$ |
    | both signs | a **saddle** | $\nabla f = 0,\ H$ indefinite |
    | some $= 0$, the rest one sign | *the test is inconclusive* | $H$ singular |

    Pick a test function and one of its critical points (all of them are known for these
    functions; the markers are coloured by kind).
    """)
    return


@app.cell(hide_code=True)
def _(CP_PROBLEMS, mo):
    cp_problem = mo.ui.dropdown(CP_PROBLEMS, value="himmelblau", label="function")
    cp_problem
    return (cp_problem,)


@app.cell(hide_code=True)
def _(PROBLEMS, cp_problem, mo):
    _options = {f"{_i + 1}. {_c.kind} at ({_c.x[0]:.4g}, {_c.x[1]:.4g})": _i
                for _i, _c in enumerate(PROBLEMS[cp_problem.value]().critical_points)}
    cp_point = mo.ui.dropdown(_options, value=next(iter(_options)), label="critical point")
    cp_point
    return (cp_point,)


@app.cell(hide_code=True)
def _(PROBLEMS, classify_critical_point, cp_point, cp_problem, np):
    cp_fn = PROBLEMS[cp_problem.value]()
    cp = cp_fn.critical_points[cp_point.value]
    cp_hessian = cp_fn.hessian(cp.x)
    cp_class = classify_critical_point(cp_hessian)
    cp_lam, cp_vec = np.linalg.eigh(cp_hessian)
    cp_grad_norm = float(np.linalg.norm(cp_fn.gradient(cp.x)))
    return cp, cp_class, cp_fn, cp_grad_norm, cp_hessian, cp_lam, cp_vec


@app.cell(hide_code=True)
def _(KIND_COLORS, LOG_SURFACE, SURFACE_BOX, ch03a, cp, cp_fn, go, layout, np):
    _box = SURFACE_BOX.get(cp_fn.name, cp_fn.box)
    _log = cp_fn.name in LOG_SURFACE
    _tf = (lambda v: np.log10(1 + v)) if _log else (lambda v: v)
    _xs, _ys, _z = ch03a.grid_values(cp_fn, _box, points=61)
    _fig = go.Figure(go.Surface(x=_xs, y=_ys, z=_tf(_z), colorscale="Viridis", showscale=False,
                                opacity=0.9, hoverinfo="skip"))
    for _kind in ("minimum", "maximum", "saddle"):
        _pts = [c for c in cp_fn.critical_points if c.kind == _kind]
        if _pts:
            _p = np.array([c.x for c in _pts])
            _fig.add_trace(go.Scatter3d(x=_p[:, 0], y=_p[:, 1],
                                        z=_tf(np.array([c.value for c in _pts])),
                                        mode="markers", name=_kind,
                                        marker=dict(size=5, color=KIND_COLORS[_kind])))
    _fig.add_trace(go.Scatter3d(x=[cp.x[0]], y=[cp.x[1]], z=[_tf(cp.value)], mode="markers",
                                name="chosen point",
                                marker=dict(size=9, color="black", symbol="diamond")))
    layout(_fig, height=460, scene=dict(xaxis_title="x", yaxis_title="y",
                                        zaxis_title="log10(1 + f)" if _log else "f"),
           legend=dict(orientation="h", y=1.05))
    _fig
    return


@app.cell(hide_code=True)
def _(KIND_COLORS, ch03a, cp, cp_fn, cp_lam, cp_vec, go, layout, mo, np):
    _box = cp_fn.box
    _xs, _ys, _z = ch03a.grid_values(cp_fn, _box, points=121)
    _span = min(_box[0][1] - _box[0][0], _box[1][1] - _box[1][0])
    _zc = np.sign(_z) * np.log10(1 + np.abs(_z))
    _con = go.Figure(go.Contour(x=_xs, y=_ys, z=_zc, colorscale="Viridis", ncontours=30,
                                showscale=False, contours=dict(coloring="lines"), hoverinfo="skip"))
    for _c in cp_fn.critical_points:
        _con.add_trace(go.Scatter(x=[_c.x[0]], y=[_c.x[1]], mode="markers", showlegend=False,
                                  marker=dict(size=9, color=KIND_COLORS[_c.kind])))
    _len = 0.12 * _span
    _tol = 1e-9 * max(1.0, float(np.max(np.abs(cp_lam))))
    for _i in range(2):
        _q = cp_vec[:, _i]
        _col = "#2ca02c" if cp_lam[_i] > _tol else "#d62728" if cp_lam[_i] < -_tol else "#7f7f7f"
        _seg = np.array([cp.x - _len * _q, cp.x + _len * _q])
        _con.add_trace(go.Scatter(x=_seg[:, 0], y=_seg[:, 1], mode="lines", line=dict(color=_col, width=5),
                                  name=f"eigenvector {_i + 1}: λ = {cp_lam[_i]:.4g}"))
    layout(_con, height=400, xaxis=dict(range=list(_box[0]), title="x"),
           yaxis=dict(range=list(_box[1]), title="y"),
           legend=dict(orientation="h", y=1.12))
    _t = np.linspace(-0.25 * _span, 0.25 * _span, 201)
    _prof = go.Figure()
    _model_max, _true_max = 0.0, 0.0
    for _i, _col in enumerate(("#1f77b4", "#ff7f0e")):
        _true = cp_fn.value(cp.x + _t[:, None] * cp_vec[:, _i]) - cp.value
        _model = 0.5 * cp_lam[_i] * _t**2
        _model_max = max(_model_max, float(np.max(np.abs(_model))))
        _true_max = max(_true_max, float(np.max(np.abs(_true))))
        _prof.add_trace(go.Scatter(x=_t, y=_true, name=f"f along q{_i + 1}",
                                   line=dict(color=_col, width=3)))
        _prof.add_trace(go.Scatter(x=_t, y=_model, name=f"½ λ{_i + 1} t²",
                                   line=dict(color=_col, dash="dash")))
    _lim = 1.3 * (_model_max or _true_max or 1.0)  # the model's range; f's if the model is flat
    layout(_prof, height=400, xaxis_title="t (distance along the eigenvector)",
           yaxis_title="f(x* + t q) - f(x*)", yaxis_range=[-_lim, _lim],
           legend=dict(orientation="h", y=1.12))
    mo.hstack([_con, _prof], widths="equal")
    return


@app.cell(hide_code=True)
def _(ch03b, cp, cp_class, cp_fn, cp_grad_norm, cp_hessian, mo):
    _h = cp_hessian
    _lam = ", ".join(f"{v:.6g}" for v in cp_class.eigenvalues)
    _sampled = ch03b.local_kind(cp_fn.value, cp.x, radius=1e-3)
    _agree = cp_class.kind == cp.kind
    _verdict = (
        f"The test says **{cp_class.kind}**, which is what this point is."
        if _agree else
        f"The test says **{cp_class.kind}**: it cannot decide. The point is in fact a "
        f"**{cp.kind}** (sampled on a circle of radius 0.001 around it, f goes "
        f"{'both up and down' if _sampled == 'saddle' else 'up' if _sampled == 'minimum' else 'down'})."
    )
    mo.callout(mo.md(
        f"""
        At ({cp.x[0]:.6g}, {cp.x[1]:.6g}): f = {cp.value:.6g}, |∇f| = {cp_grad_norm:.2g}, and

        | H | | eigenvalues |
        |---|---|---|
        | {_h[0, 0]:.6g} | {_h[0, 1]:.6g} | {_lam} |
        | {_h[1, 0]:.6g} | {_h[1, 1]:.6g} | (zero below {cp_class.tol:.2g}) |

        {_verdict}
        """
    ), kind="success" if _agree else "warn")
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    On the right, each solid line is $f$ along one eigenvector and the dashed line its
    quadratic model $\tfrac12\lambda t^2$: they agree near $t = 0$, which is all the test uses.
    Choose the **monkey saddle** $x^3 - 3xy^2$: its Hessian at the origin is the zero matrix, both
    model lines are flat, and $f$ is cubic along every direction.

    ## When the second-derivative test is inconclusive

    A zero eigenvalue means the quadratic term is flat along its eigenvector, and the
    cubic or quartic terms decide. Three functions with the *same* Hessian
    $\operatorname{diag}(2, 0)$ at the origin:
    """)
    return


@app.cell(hide_code=True)
def _(PROBLEMS, ch03b, classify_critical_point, derivatives, mo, np):
    _fns = {
        "x² + y⁴": lambda v: v[..., 0] ** 2 + v[..., 1] ** 4,
        "x² − y⁴": lambda v: v[..., 0] ** 2 - v[..., 1] ** 4,
        "x² + y³": lambda v: v[..., 0] ** 2 + v[..., 1] ** 3,
        "x³ − 3xy² (monkey saddle)": PROBLEMS["monkey_saddle"]().value,
    }
    _zero = np.zeros(2)
    degenerate_rows = {}
    _lines = []
    for _name, _f in _fns.items():
        _h = derivatives.hessian(_f, _zero, method="central")
        _exact = classify_critical_point(_h, tol=1e-6 * max(1.0, float(np.max(np.abs(_h))))).kind
        _naive = classify_critical_point(_h).kind
        _truth = ch03b.local_kind(_f, _zero)
        _lam = np.linalg.eigvalsh(_h)
        degenerate_rows[_name] = (_lam, _naive, _exact, _truth)
        _lines.append(f"| {_name} | {_lam[0]:.3g}, {_lam[1]:.3g} | {_naive} | {_exact} | {_truth} |")
    mo.md(
        "| f(x, y) | eigenvalues of the finite-difference Hessian at 0 | test, default tolerance "
        "| test, tolerance 1e-6 | sampled around 0 |\n|---|---|---|---|---|\n" + "\n".join(_lines)
        + "\n\nThe exact Hessians have a zero eigenvalue, but a **computed** eigenvalue is rarely "
        "exactly zero: for x² ± y⁴ the central difference leaves "
        f"{abs(degenerate_rows['x² + y⁴'][0][0]):.2g} (2h², the truncation error) where the "
        "exact value is 0. With the tolerance meant for exact Hessians (n·ε·max|λ|) that "
        "noise decides the sign and the test answers confidently, and by luck. With a tolerance "
        "matched to the finite-difference error the test says *degenerate*, the honest answer; "
        "only looking further (here: sampling f around the point) tells a flat minimum from a "
        "saddle."
    )
    return


@app.cell(hide_code=True)
def _(classify_critical_point, show_source):
    show_source(classify_critical_point)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Why saddles dominate in high dimensions

    A minimum needs **every** eigenvalue of the Hessian to be positive. If the $n$ signs were
    independent coin flips, the chance would be $2^{-n}$; for a random symmetric matrix the
    eigenvalues repel each other and it is far smaller, falling like $e^{-c n^2}$. So at a
    critical point of a function of millions of parameters, almost surely some direction goes
    down: a saddle. Gradient descent slows near saddles (the gradient is small there) but is not
    attracted to them; Newton's method is (chapter 3c).

    The plot samples random symmetric matrices $(G + G^\top)/2$ with Gaussian $G$ and counts how
    many have only positive eigenvalues.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    hd_trials = mo.ui.slider(steps=[1000, 2000, 5000, 10000, 20000], value=20000,
                             label="random matrices per dimension", show_value=True)
    hd_max_dim = mo.ui.slider(4, 12, step=1, value=10, label="largest dimension", show_value=True)
    mo.hstack([hd_trials, hd_max_dim], justify="start", gap=2)
    return hd_max_dim, hd_trials


@app.cell(hide_code=True)
def _(ch01, hd_max_dim, hd_trials, np):
    hd_dims = np.arange(1, hd_max_dim.value + 1)
    hd_frac = np.array([ch01.fraction_of_minima(int(d), hd_trials.value,
                                                 rng=np.random.default_rng(100 + int(d)))
                        for d in hd_dims])
    _seen = hd_frac > 0
    # log fraction ~ a - c n^2: a straight line against n^2 through the dimensions with hits
    hd_c, hd_a = np.polyfit(hd_dims[_seen] ** 2.0, np.log(hd_frac[_seen]), 1) if _seen.sum() >= 2 \
        else (np.nan, np.nan)
    return hd_a, hd_c, hd_dims, hd_frac


@app.cell(hide_code=True)
def _(go, hd_a, hd_c, hd_dims, hd_frac, hd_trials, layout, mo, np):
    _floor = 0.5 / hd_trials.value
    _fig = go.Figure([
        go.Scatter(x=hd_dims, y=np.where(hd_frac > 0, hd_frac, _floor), mode="lines+markers",
                   name="sampled fraction with all eigenvalues > 0", line=dict(width=3)),
        go.Scatter(x=hd_dims, y=0.5 ** hd_dims, name="2^-n (independent signs)",
                   line=dict(dash="dash", color="gray")),
        go.Scatter(x=hd_dims, y=np.exp(hd_a + hd_c * hd_dims**2.0), name="fit exp(a - c n²)",
                   line=dict(dash="dot", color="black")),
    ])
    layout(_fig, height=360, yaxis_type="log", xaxis_title="dimension n",
           yaxis_title=f"fraction of minima (none seen: drawn at {_floor:.1g})",
           legend=dict(orientation="h", y=1.15))
    _last = int(hd_dims[-1])
    _seen = hd_dims[hd_frac > 0]
    _hits = int(_seen[-1]) if _seen.size else 0
    _log10_100 = (hd_a + hd_c * 100.0**2) / np.log(10.0)
    mo.vstack([_fig, mo.md(
        f"In {_hits} dimensions {hd_frac[_hits - 1]:.3%} of {hd_trials.value:,} random critical "
        f"points are minima (2^-{_hits} would give {0.5 ** _hits:.3%}); beyond that, none of the "
        f"samples was a minimum up to n = {_last}. The fit gives c = {-hd_c:.3f}; extrapolated "
        f"to n = 100 the fraction is about 10^{_log10_100:.0f}."
    )])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## The Jacobian and the Hessian

    For a vector function $f: \mathbb{R}^n \to \mathbb{R}^m$ the **Jacobian** collects every
    first derivative, and for a scalar function the **Hessian** every second derivative:

    $$J_{ij} = \frac{\partial f_i}{\partial x_j} \quad (m \times n), \qquad
      H_{ij} = \frac{\partial^2 f}{\partial x_i\, \partial x_j} \quad (n \times n).$$

    The Hessian is the Jacobian of the gradient $\nabla f: \mathbb{R}^n \to \mathbb{R}^n$, and it
    is symmetric when the second derivatives are continuous. Without an analytic formula (or
    automatic differentiation) both are computed by **finite differences**, one coordinate at a
    time:

    | method | derivative of f along $x_j$ | error |
    |---|---|---|
    | forward | $[f(x + h e_j) - f(x)] / h$ | $O(h) + O(\varepsilon/h)$ |
    | central | $[f(x + h e_j) - f(x - h e_j)] / 2h$ | $O(h^2) + O(\varepsilon/h)$ |
    | Richardson | $[4 D(h/2) - D(h)] / 3$, $D$ central | $O(h^4) + O(\varepsilon/h)$ |
    | complex step | $\operatorname{Im} f(x + i h e_j) / h$ | $O(h^2)$, no subtraction |

    The first term is **truncation** (the Taylor terms the formula drops), the second
    **rounding**: $f(x+h)$ and $f(x)$ agree in their leading digits, and their difference keeps
    only the rest, divided by a small $h$. Pick a function, a point and a method:
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    jac_problem = mo.ui.dropdown(["himmelblau", "six_hump_camel", "beale", "rosenbrock"],
                                 value="rosenbrock", label="function")
    jac_x = mo.ui.slider(-2.0, 2.0, step=0.05, value=-1.2, label="x", show_value=True)
    jac_y = mo.ui.slider(-2.0, 2.0, step=0.05, value=1.0, label="y", show_value=True)
    jac_method = mo.ui.dropdown(["forward", "central", "richardson", "complex"], value="central",
                                label="method")
    mo.hstack([jac_problem, jac_x, jac_y, jac_method], justify="start", gap=2, wrap=True)
    return jac_method, jac_problem, jac_x, jac_y


@app.cell(hide_code=True)
def _(PROBLEMS, derivatives, jac_method, jac_problem, jac_x, jac_y, np):
    jac_fn = PROBLEMS[jac_problem.value]()
    jac_point = np.array([jac_x.value, jac_y.value])
    jac_exact = jac_fn.hessian(jac_point)
    jac_of_grad = derivatives.jacobian(jac_fn.gradient, jac_point, method=jac_method.value)
    jac_second = derivatives.hessian(jac_fn.value, jac_point, method=jac_method.value)
    _scale = float(np.max(np.abs(jac_exact))) or 1.0
    jac_err_j = float(np.max(np.abs(jac_of_grad - jac_exact))) / _scale
    jac_err_h = float(np.max(np.abs(jac_second - jac_exact))) / _scale
    return (
        jac_err_h,
        jac_err_j,
        jac_exact,
        jac_fn,
        jac_of_grad,
        jac_point,
        jac_second,
    )


@app.cell(hide_code=True)
def _(
    jac_err_h,
    jac_err_j,
    jac_exact,
    jac_fn,
    jac_method,
    jac_of_grad,
    jac_point,
    jac_second,
    mo,
):
    def _m(a):
        return "[[{:.10g}, {:.10g}], [{:.10g}, {:.10g}]]".format(*a.ravel())

    mo.md(
        f"""
        | Hessian of {jac_fn.name} at ({jac_point[0]:g}, {jac_point[1]:g}) | value | max error / max entry |
        |---|---|---|
        | analytic | `{_m(jac_exact)}` | |
        | {jac_method.value} Jacobian of the analytic gradient | `{_m(jac_of_grad)}` | {jac_err_j:.2g} |
        | {jac_method.value} second differences of f | `{_m(jac_second)}` | {jac_err_h:.2g} |

        Differencing the gradient (one derivative taken numerically) keeps more digits than
        differencing f twice: the second difference divides a cancellation by h², so its rounding
        error grows like ε/h². That is why optimizers with a gradient but no Hessian build the
        Hessian from gradients.
        """
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Finite-difference error against the step: the V

    Shrinking $h$ shrinks the truncation error and inflates the rounding error, so the total
    error against $h$ is a V on log axes. The bottom sits where the two balance: for central
    differences $h^2 \sim \varepsilon / h$, so $h \sim \varepsilon^{1/3}$ with an error of about
    $\varepsilon^{2/3}$. The complex step subtracts nothing, so it has no rounding branch: its
    error stays at a few units of $\varepsilon$ for every small step. The curves are the error
    of the gradient at the point chosen above, against the analytic gradient; the diamonds mark
    each method's default step.
    """)
    return


@app.cell(hide_code=True)
def _(FD_FUNCTIONS, mo):
    fd_fn = mo.ui.dropdown(list(FD_FUNCTIONS), value="exp(x) sin(y)", label="function")
    fd_dtype = mo.ui.dropdown(["float64", "float32"], value="float64", label="precision")
    mo.hstack([fd_fn, fd_dtype], justify="start", gap=2)
    return fd_dtype, fd_fn


@app.cell(hide_code=True)
def _(FD_FUNCTIONS, derivatives, fd_dtype, fd_fn, jac_x, jac_y, np):
    fd_steps = np.logspace(-16, 0, 81)
    _f, _grad = FD_FUNCTIONS[fd_fn.value]
    _x = np.array([jac_x.value, jac_y.value]).astype(fd_dtype.value)
    fd_curves = {_m: derivatives.step_error_curve(_f, _x, _m, fd_steps, exact=_grad)
                 for _m in derivatives.METHODS}
    return (fd_curves,)


@app.cell(hide_code=True)
def _(METHOD_COLORS, derivatives, fd_curves, fd_dtype, go, layout, mo, np):
    _floor = 1e-17
    _fig = go.Figure()
    for _m, _c in fd_curves.items():
        _e = np.where(np.isfinite(_c.errors), np.maximum(_c.errors, _floor), np.nan)
        _fig.add_trace(go.Scatter(x=_c.steps, y=_e, name=_m, line=dict(color=METHOD_COLORS[_m])))
        _k = int(np.argmin(np.abs(np.log(_c.steps / _c.default_step))))
        _fig.add_trace(go.Scatter(x=[_c.steps[_k]], y=[max(_c.errors[_k], _floor)], mode="markers",
                                  marker=dict(symbol="diamond", size=11, color=METHOD_COLORS[_m],
                                              line=dict(color="black", width=1)),
                                  showlegend=False, hovertext=f"{_m}: default step"))
    layout(_fig, height=400, xaxis_type="log", yaxis_type="log", xaxis_title="relative step h",
           yaxis_title="relative error of the gradient (0 drawn at 1e-17; gaps: 0/0)",
           legend=dict(orientation="h", y=1.12))
    _order = {"forward": "h + ε/h", "central": "h² + ε/h", "richardson": "h⁴ + ε/h",
              "complex": "h² (no rounding term)"}
    _rows = []
    for _m, _c in fd_curves.items():
        _k = int(np.argmin(np.abs(np.log(_c.steps / _c.default_step))))
        _rows.append(f"| {_m} | {_order[_m]} | {_c.default_step:.2g} | {_c.errors[_k]:.2g} | "
                     f"{_c.best_step:.2g} | {float(np.min(_c.errors)):.2g} |")
    _eps = float(np.finfo(fd_dtype.value).eps)
    mo.vstack([_fig, mo.md(
        f"In {fd_dtype.value} (ε = {_eps:.3g}):\n\n"
        "| method | error | default step | error there | best step on the curve | "
        "smallest error |\n|---|---|---|---|---|---|\n" + "\n".join(_rows)
        + f"\n\nThe central difference's best error is near ε^(2/3) = {_eps ** (2 / 3):.2g}, the "
        f"forward difference's near ε^(1/2) = {_eps ** 0.5:.2g}: a finite difference keeps at best "
        "two thirds of the digits, which is why gradient checks (chapter 6) use float64 and "
        "relative tolerances far above ε. The default steps "
        f"(eps^(1/2), eps^(1/3), eps^(1/5) and eps for {', '.join(derivatives.METHODS)}) sit "
        "near the bottoms of the Vs. (The very smallest error on a curve can be a lucky "
        "cancellation of rounding errors at one step; the error at the default step is what to "
        "expect.)"
    )])
    return


@app.cell(hide_code=True)
def _(derivatives, show_source):
    show_source(derivatives.jacobian, derivatives.default_step)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter03b, mo):
    ex1 = ExercisePanel(chapter03b.CLASSIFY)
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
def _(ExercisePanel, chapter03b, mo):
    ex2 = ExercisePanel(chapter03b.FD_STEP)
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
        "At a critical point the Hessian's eigenvalues decide: all positive, a minimum; all "
        "negative, a maximum; both signs, a saddle.",
        "A zero eigenvalue makes the test inconclusive (x² + y⁴, x² + y³ and the monkey saddle "
        "share a singular Hessian); computed eigenvalues are rarely exactly zero, so compare them "
        "with a tolerance that matches how the Hessian was computed.",
        "For random symmetric Hessians the fraction with all eigenvalues positive falls like "
        "exp(-c n²): in high dimensions critical points are overwhelmingly saddles.",
        "The Hessian is the Jacobian of the gradient; differencing a gradient keeps more digits "
        "than differencing f twice.",
        "Finite-difference error is truncation plus rounding: the best step balances them "
        "(about ε^(1/3) for central differences); the complex step has no rounding term.",
    )
    return


if __name__ == "__main__":
    app.run()
