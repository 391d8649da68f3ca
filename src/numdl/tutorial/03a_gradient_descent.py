import marimo

__generated_with = "0.25.2"
app = marimo.App(
    width="medium",
    app_title="3a · Gradient descent and the learning rate",
)


@app.cell(hide_code=True)
def _():
    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go

    from numdl.exercises import chapter03a
    from numdl.optim import first_order, optimal_gradient_step, quadratic_gd_iterates
    from numdl.optim.problems import PROBLEMS, quadratic
    from numdl.tutorial.simulations import ch03a
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    METHOD_COLORS = {"gd": "#7f7f7f", "momentum": "#1f77b4", "nesterov": "#17becf",
                     "adagrad": "#2ca02c", "rmsprop": "#ff7f0e", "adam": "#d62728"}
    SCHEDULE_COLORS = {"constant": "#7f7f7f", "step": "#1f77b4", "exponential": "#2ca02c",
                       "inverse time": "#9467bd", "cosine": "#ff7f0e", "warmup + cosine": "#d62728"}
    # plotting windows of the race: the interesting part of each landscape
    RACE_BOX = {"rosenbrock": ((-2.0, 2.0), (-1.0, 3.0)), "beale": ((-1.0, 4.5), (-1.5, 2.5))}

    from numdl.optim import transforms
    from numdl.tutorial.widgets import figure_layout as layout

    return (
        ExercisePanel,
        METHOD_COLORS,
        PROBLEMS,
        RACE_BOX,
        SCHEDULE_COLORS,
        ch03a,
        chapter03a,
        first_order,
        go,
        layout,
        mo,
        np,
        optimal_gradient_step,
        quadratic,
        quadratic_gd_iterates,
        show_source,
        takeaways,
        transforms,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 3a · Gradient descent and the learning rate

    Training a network means minimizing a loss $J(\theta)$ over millions of parameters, and
    almost every method in use is a variant of one rule: take a small step downhill,

    $$\theta_{t+1} = \theta_t - \alpha\, \nabla_\theta J(\theta_t).$$

    Everything in this chapter is about the one number in that rule, the **learning rate**
    $\alpha$: what happens when it is too small, too large or right, how the curvature of the
    loss sets its limits, why it is decayed during training, and how adaptive methods choose a
    step per parameter.

    **By the end of this chapter you will be able to**

    - predict, from the Hessian's extreme eigenvalues, the learning rate at which gradient
      descent diverges, the best fixed learning rate and the rate of convergence;
    - explain ill conditioning as slowness: why the error shrinks only by $(\kappa-1)/(\kappa+1)$
      per step;
    - derive the second-order step $\varepsilon^* = g^\top g / g^\top H g$ and say when it fails;
    - choose a learning-rate schedule and explain what it buys with noisy gradients;
    - write an Adam step, bias correction included, and compare AdaGrad, RMSprop and Adam.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Too small, too large, right: gradient descent on a quadratic

    Near a minimum $x^*$ every smooth loss looks like a quadratic,
    $f(x) \approx f(x^*) + \tfrac12 (x - x^*)^\top H (x - x^*)$, and on a quadratic gradient
    descent can be solved exactly. The gradient is $H(x - x^*)$, so the error
    $e_t = x_t - x^*$ obeys

    $$e_{t+1} = (I - \alpha H)\, e_t .$$

    Along the eigenvector $q_i$ of $H$ (eigenvalue $\lambda_i$) the error is multiplied by
    $1 - \alpha\lambda_i$ at every step. Three consequences follow:

    - it **converges** only if $|1 - \alpha \lambda_i| < 1$ for every $i$, that is
      $0 < \alpha < 2/\lambda_{\max}$ — the *stability limit*;
    - the slowest factor $\max_i |1 - \alpha\lambda_i|$ is smallest at
      $\alpha^* = 2/(\lambda_{\min} + \lambda_{\max})$, where the flat direction's factor
      $1 - \alpha\lambda_{\min}$ and the steep direction's $\alpha\lambda_{\max} - 1$ are equal;
    - there the error shrinks by $\dfrac{\kappa - 1}{\kappa + 1}$ per step, with the
      condition number $\kappa = \lambda_{\max}/\lambda_{\min}$.

    The quadratic below has eigenvalues $1$ and $\kappa$, turned so the valley is not aligned
    with an axis. Choose $\kappa$ and the learning rate (as a fraction of the stability limit).
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    gd_kappa = mo.ui.slider(steps=[1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], value=10,
                            label="condition number κ", show_value=True)
    gd_frac = mo.ui.slider(0.02, 1.2, step=0.01, value=0.5,
                           label="learning rate, as a fraction of 2/λ_max", show_value=True)
    gd_steps = mo.ui.slider(100, 3000, step=100, value=1000, label="max steps", show_value=True)
    mo.hstack([gd_kappa, gd_frac, gd_steps], justify="start", gap=2, wrap=True)
    return gd_frac, gd_kappa, gd_steps


@app.cell(hide_code=True)
def _(ch03a, gd_frac, gd_kappa, gd_steps, np):
    gd_lr = gd_frac.value * 2.0 / gd_kappa.value  # the eigenvalues are 1 and kappa
    gd_run = ch03a.gd_on_quadratic(gd_kappa.value, gd_lr, steps=gd_steps.value,
                                   rng=np.random.default_rng(0))
    gd_rates = gd_run.rates
    return gd_lr, gd_rates, gd_run


@app.cell(hide_code=True)
def _(ch03a, gd_run, go, layout, mo, np):
    _p = gd_run.problem
    _xs, _ys, _z = ch03a.grid_values(_p, points=101)
    _path = gd_run.result.trajectory[:80]
    _con = go.Figure(go.Contour(x=_xs, y=_ys, z=np.sqrt(2 * _z), showscale=False,
                                colorscale="Blues", contours=dict(coloring="lines"),
                                ncontours=14, hoverinfo="skip"))
    _con.add_trace(go.Scatter(x=_path[:, 0], y=_path[:, 1], mode="lines+markers",
                              name="iterates (first 80)", marker=dict(size=5, color="crimson"),
                              line=dict(color="crimson", width=1.5)))
    _con.add_trace(go.Scatter(x=[0], y=[0], mode="markers", name="minimum",
                              marker=dict(symbol="star", size=14, color="black")))
    layout(_con, height=380, xaxis=dict(range=list(_p.box[0]), title="x1"),
           yaxis=dict(range=list(_p.box[1]), title="x2"),
           legend=dict(orientation="h", y=1.12))
    _k = gd_run.result.trajectory_iter
    _e = np.where(np.isfinite(gd_run.errors) & (gd_run.errors > 0), gd_run.errors, np.nan)
    _err = go.Figure([
        go.Scatter(x=_k, y=_e, name="measured error", line=dict(color="crimson", width=3)),
        go.Scatter(x=_k, y=gd_run.errors[0] * gd_run.predicted ** _k.astype(float),
                   name="predicted: e0 · (max factor)^k", line=dict(color="black", dash="dash")),
    ])
    layout(_err, height=380, yaxis_type="log", xaxis_title="step k",
           yaxis_title="distance to the minimum (gaps: 0 or overflow)",
           legend=dict(orientation="h", y=1.12))
    mo.hstack([_con, _err], widths="equal")
    return


@app.cell(hide_code=True)
def _(gd_lr, gd_rates, go, layout, np):
    _a = np.linspace(0, 1.25 * gd_rates.stability_limit, 400)
    _fmin, _fmax = np.abs(1 - _a * gd_rates.lambda_min), np.abs(1 - _a * gd_rates.lambda_max)
    _v = go.Figure([
        go.Scatter(x=_a, y=_fmin, name="|1 - α λ_min| (flat)", line=dict(color="#2ca02c")),
        go.Scatter(x=_a, y=_fmax, name="|1 - α λ_max| (steep)", line=dict(color="#9467bd")),
        go.Scatter(x=_a, y=np.maximum(_fmin, _fmax), name="slowest factor",
                   line=dict(color="black", width=3)),
    ])
    for _x, _name, _c in ((gd_rates.best_step, "best", "#2ca02c"),
                          (gd_rates.stability_limit, "2/λ_max", "#d62728"),
                          (gd_lr, "your α", "crimson")):
        _v.add_vline(x=_x, line=dict(color=_c, dash="dot"), annotation_text=_name)
    layout(_v, height=300, xaxis_title="learning rate α", yaxis_title="factor per step",
           yaxis_range=[0, 1.5], legend=dict(orientation="h", y=1.18))
    _v
    return


@app.cell(hide_code=True)
def _(gd_lr, gd_rates, gd_run, mo):
    _res = gd_run.result
    _flat, _steep = gd_run.factors[0], 1 - gd_lr * gd_rates.lambda_max
    _text = {
        "too small": (f"α = {gd_lr:.4g} is below the best step {gd_rates.best_step:.4g}: the flat "
                      f"direction shrinks by only 1 - αλ_min = {_flat:.4f} per step and sets the "
                      f"pace. It **crawls**.", "info"),
        "best": (f"α = {gd_lr:.4g} is the best fixed step: both directions shrink by "
                 f"{gd_run.predicted:.4f} per step.", "success"),
        "too large": (f"α = {gd_lr:.4g} is above the best step {gd_rates.best_step:.4g}: the steep "
                      f"direction's factor 1 - αλ_max = {_steep:.4f} flips its sign every step (the "
                      f"zigzag) and its size sets the pace. It **oscillates**.", "warn"),
        "diverges": (f"α = {gd_lr:.4g} is above the stability limit 2/λ_max = "
                     f"{gd_rates.stability_limit:.4g}: |1 - αλ_max| = {abs(_steep):.4f} > 1, so the "
                     f"steep component grows every step. It **diverges**.", "danger"),
    }[gd_run.regime]
    mo.callout(mo.md(
        f"{_text[0]}\n\n"
        f"Predicted contraction per step, max |1 - αλ_i| = **{gd_run.predicted:.6f}**; measured over "
        f"the run = **{gd_run.measured:.6f}**. The run ended as `{_res.status.value}` after "
        f"{_res.nit} steps: {_res.message}."
    ), kind=_text[1])
    return


@app.cell(hide_code=True)
def _(gd_rates, mo):
    mo.md(
        "| quantity | formula | value for this quadratic |\n|---|---|---|\n"
        f"| smallest, largest eigenvalue | λ_min, λ_max | {gd_rates.lambda_min:.6g}, "
        f"{gd_rates.lambda_max:.6g} |\n"
        f"| condition number | κ = λ_max / λ_min | {gd_rates.kappa:.6g} |\n"
        f"| stability limit | 2 / λ_max | {gd_rates.stability_limit:.6g} |\n"
        f"| best fixed step | 2 / (λ_min + λ_max) | {gd_rates.best_step:.6g} |\n"
        f"| contraction at the best step | (κ - 1) / (κ + 1) | {gd_rates.rate:.6g} |\n"
        f"| steps per decimal digit | -1 / log10(rate) | {gd_rates.steps_per_digit:.4g} |"
    )
    return


@app.cell(hide_code=True)
def _(ch03a, mo, np):
    _rows = []
    for _kappa in (10, 100, 1000, 10_000):
        _r = ch03a.gd_on_quadratic(_kappa, 2.0 / (1 + _kappa), steps=2, rng=np.random.default_rng(0))
        _rows.append(f"| {_kappa:,} | {_r.rates.rate:.6f} | {_r.rates.steps_per_digit:,.0f} |")
    mo.md(
        "Ill conditioning *is* slowness. Even at its best step, gradient descent gains a decimal "
        "digit only every so many steps, and that number grows in proportion to κ:\n\n"
        "| κ | best contraction per step | steps per digit |\n|---|---|---|\n" + "\n".join(_rows)
        + "\n\nThe learning rate cannot fix this: it is capped by the steepest direction "
        "(2/λ_max) while progress is set by the flattest. Setting it from λ_max alone, "
        "α = 1/λ_max, is the usual safe choice; it is slower than α* by a factor of about 2."
    )
    return


@app.cell(hide_code=True)
def _(ch03a, show_source):
    show_source(ch03a.gd_on_quadratic, ch03a.contraction_per_step)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## The second-order view of one step

    Where does the best step come from when the loss is not a quadratic? Expand $f$ to second
    order along the negative gradient $-g$, with the Hessian $H$ at the current point:

    $$f(x - \varepsilon g) \approx f(x) - \varepsilon\, g^\top g + \tfrac12 \varepsilon^2\, g^\top H g .$$

    The first-order term always decreases $f$; the second-order term pushes back if the
    curvature along $g$ is positive. The model is smallest at

    $$\varepsilon^* = \frac{g^\top g}{g^\top H g}.$$

    The ratio $g^\top H g / g^\top g$ lies between $\lambda_{\min}$ and $\lambda_{\max}$, so
    $1/\lambda_{\max} \le \varepsilon^* \le 1/\lambda_{\min}$: a gradient along a steep
    direction gets a short step, one along a flat direction a long one. If
    $g^\top H g \le 0$ (negative curvature along $g$) the model has no minimum and the formula
    fails: the quadratic model says "go forever".

    Below, every step of steepest descent uses $\varepsilon^*$ on the same quadratic as above
    (on a quadratic the model is exact, so this is an *exact line search*), next to the best
    fixed step from the same start. How fast the exact steps go depends on where they start.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    ls_start = mo.ui.dropdown(["the worst case", "the start above", "on the flat eigenvector"],
                              value="the worst case", label="start")
    ls_start
    return (ls_start,)


@app.cell(hide_code=True)
def _(
    ch03a,
    gd_kappa,
    gd_rates,
    ls_start,
    np,
    optimal_gradient_step,
    quadratic,
    quadratic_gd_iterates,
):
    ls_problem = quadratic(kappa=float(gd_kappa.value), rng=np.random.default_rng(0))
    _H = ls_problem.params["hessian"]
    _lam, _Q = np.linalg.eigh(_H)
    # Kantorovich's worst case: error components proportional to 1 / lambda_i
    _x0 = {"the worst case": _Q @ (1 / _lam), "the start above": ls_problem.start,
           "on the flat eigenvector": _Q[:, 0]}[ls_start.value]
    ls_x0 = 1.8 * _x0 / np.linalg.norm(_x0)
    ls_run = ch03a.exact_step_descent(ls_problem, ls_x0, 40)
    _g = ls_problem.gradient(ls_x0)
    ls_first = optimal_gradient_step(_H, _g)
    ls_rayleigh = float(_g @ _H @ _g / (_g @ _g))
    ls_fixed = quadratic_gd_iterates(_H, ls_x0, gd_rates.best_step, 40)
    ls_rate = ch03a.contraction_per_step(np.linalg.norm(ls_run.iterates, axis=1))
    ls_fixed_rate = ch03a.contraction_per_step(np.linalg.norm(ls_fixed, axis=1))
    return (
        ls_first,
        ls_fixed,
        ls_fixed_rate,
        ls_problem,
        ls_rate,
        ls_rayleigh,
        ls_run,
    )


@app.cell(hide_code=True)
def _(ch03a, go, layout, ls_fixed, ls_problem, ls_run, mo, np):
    _xs, _ys, _z = ch03a.grid_values(ls_problem, points=101)
    _fig = go.Figure(go.Contour(x=_xs, y=_ys, z=np.sqrt(2 * _z), showscale=False,
                                colorscale="Blues", contours=dict(coloring="lines"),
                                ncontours=14, hoverinfo="skip"))
    _fig.add_trace(go.Scatter(x=ls_run.iterates[:, 0], y=ls_run.iterates[:, 1],
                              mode="lines+markers", name="step ε* = gᵀg / gᵀHg",
                              line=dict(color="#d62728")))
    _fig.add_trace(go.Scatter(x=ls_fixed[:, 0], y=ls_fixed[:, 1], mode="lines+markers",
                              name="best fixed step", line=dict(color="#1f77b4", dash="dot")))
    layout(_fig, height=420, xaxis=dict(range=list(ls_problem.box[0]), title="x1"),
           yaxis=dict(range=list(ls_problem.box[1]), title="x2"),
           legend=dict(orientation="h", y=1.1))
    _steps = ", ".join(f"{s:.4g}" for s in ls_run.steps[:6])
    mo.hstack([_fig, mo.md(
        f"The first six steps ε*: {_steps}.\n\nEach exact step ends where the new gradient is "
        "orthogonal to the last one, so in two dimensions the directions alternate: the zigzag "
        "of Cauchy's method."
    )], widths=[3, 2], align="center")
    return


@app.cell(hide_code=True)
def _(gd_rates, ls_first, ls_fixed_rate, ls_rate, ls_rayleigh, ls_start, mo):
    _verdict = (
        "no faster than the best fixed step"
        + (": this is the worst start, where both contract by exactly (κ - 1)/(κ + 1)"
           if ls_start.value == "the worst case" else "")
        + ". The line search adapts the length of each step, not its direction, and the "
        "direction -g is what ill conditioning spoils. Chapter 3c changes the direction."
        if ls_rate >= 0.9 * ls_fixed_rate else
        "much faster than the best fixed step: this start is a lucky one, with the gradient "
        "close to an eigenvector, where one exact step removes most of the error. Choose "
        "*the worst case* to see the limit."
    )
    mo.md(
        f"""
        At this start ({ls_start.value}) the Rayleigh quotient gᵀHg / gᵀg = {ls_rayleigh:.4g}
        lies between λ_min = {gd_rates.lambda_min:.4g} and λ_max = {gd_rates.lambda_max:.4g}, so
        the first step ε* = {ls_first:.4g} lies between 1/λ_max = {1 / gd_rates.lambda_max:.4g}
        and 1/λ_min = {1 / gd_rates.lambda_min:.4g}. The exact steps contract the error by
        **{ls_rate:.4f}** per step, the best fixed step by **{ls_fixed_rate:.4f}**
        ((κ - 1)/(κ + 1) = {gd_rates.rate:.4f}): exact steps are {_verdict}
        """
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Learning-rate schedules

    On a deterministic quadratic a fixed step below the stability limit converges, so why do
    deep-learning recipes decay the learning rate? Because their gradients are **noisy**: a
    minibatch gradient is the true gradient plus noise. With a constant step the noise keeps
    kicking the iterate, and it settles into a cloud around the minimum whose size grows with
    $\alpha$. Shrinking $\alpha$ over time shrinks the cloud. Robbins and Monro's conditions
    $\sum_t \alpha_t = \infty$ (enough total movement to arrive) and
    $\sum_t \alpha_t^2 < \infty$ (the noise's total effect stays bounded) guarantee
    convergence; $\alpha_t \propto 1/t$ satisfies both.

    | schedule | α(t) |
    |---|---|
    | constant | $\alpha_0$ |
    | step | $\alpha_0 \cdot 0.1^{\lfloor t/s \rfloor}$ |
    | exponential | $\alpha_0 \cdot r^{t/T}$ |
    | inverse time | $\alpha_0 / (1 + r\,t/T)$ |
    | cosine | $\alpha_0 \cdot \tfrac12(1 + \cos(\pi t/T))$ |
    | warmup + cosine | linear from 0 to $\alpha_0$, then cosine to 0 |

    Below, 100 independent runs of gradient descent with Gaussian noise added to every gradient,
    on the quadratic with κ = 10, for each schedule with the same peak learning rate.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    sched_peak = mo.ui.slider(0.05, 0.95, step=0.05, value=0.5,
                              label="peak learning rate, as a fraction of 2/λ_max", show_value=True)
    sched_noise = mo.ui.slider(0.0, 3.0, step=0.1, value=1.0, label="gradient noise (std)",
                               show_value=True)
    sched_steps = mo.ui.slider(100, 1000, step=50, value=400, label="steps", show_value=True)
    mo.hstack([sched_peak, sched_noise, sched_steps], justify="start", gap=2, wrap=True)
    return sched_noise, sched_peak, sched_steps


@app.cell(hide_code=True)
def _(ch03a, np, quadratic, sched_noise, sched_peak, sched_steps):
    _q = quadratic(kappa=10.0, rng=np.random.default_rng(0))
    sched_lr = sched_peak.value * 2.0 / 10.0
    schedules = ch03a.schedule_catalog(sched_lr, sched_steps.value)
    sched_loss = {
        _name: ch03a.noisy_descent(_q, _q.start, _s, sched_steps.value, noise=sched_noise.value,
                                   runs=100, rng=np.random.default_rng(7))
        for _name, _s in schedules.items()
    }
    return sched_loss, sched_lr, schedules


@app.cell(hide_code=True)
def _(SCHEDULE_COLORS, go, layout, mo, np, sched_loss, sched_steps, schedules):
    _t = np.arange(sched_steps.value)
    _lr = go.Figure([go.Scatter(x=_t, y=_s(_t), name=_n, line=dict(color=SCHEDULE_COLORS[_n]))
                     for _n, _s in schedules.items()])
    layout(_lr, height=330, xaxis_title="step", yaxis_title="learning rate",
           legend=dict(orientation="h", y=1.2))
    _loss = go.Figure([
        go.Scatter(y=np.maximum(_l, 1e-12), name=_n, line=dict(color=SCHEDULE_COLORS[_n]))
        for _n, _l in sched_loss.items()
    ])
    layout(_loss, height=330, yaxis_type="log", xaxis_title="step",
           yaxis_title="mean f - f* (floored at 1e-12)", showlegend=False)
    mo.hstack([_lr, _loss], widths="equal")
    return


@app.cell(hide_code=True)
def _(mo, sched_loss, sched_lr, sched_noise):
    _const = sched_loss["constant"][-1]
    _rows = [f"| {_n} | {_l[-1]:.3g} | {_l[-1] / _const:.3g} |" for _n, _l in sched_loss.items()]
    _best = min(sched_loss, key=lambda n: sched_loss[n][-1])
    _note = (
        f"With noise std {sched_noise.value:g} and peak α = {sched_lr:.3g}, the constant step ends "
        f"at a mean excess loss of {_const:.3g}, the floor its noise cloud allows; **{_best}** ends "
        f"lowest, at {sched_loss[_best][-1]:.3g}."
        if sched_noise.value > 0 else
        "Without noise every schedule only slows convergence down: the constant step, never "
        "smaller, is the fastest. Schedules pay off when gradients are noisy."
    )
    mo.md(
        "| schedule | final mean f - f* | relative to constant |\n|---|---|---|\n"
        + "\n".join(_rows) + "\n\n" + _note
    )
    return


@app.cell(hide_code=True)
def _(ch03a, show_source):
    show_source(ch03a.noisy_descent, ch03a.schedule_catalog)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Adaptive methods: a step size per parameter

    A single learning rate must suit every parameter, but curvatures differ by orders of
    magnitude between parameters. Adaptive methods divide each coordinate's step by a running
    measure of its gradient's size, elementwise ($g^2$ is the elementwise square):

    | method | state | update |
    |---|---|---|
    | AdaGrad | $s \leftarrow s + g^2$ | $-\alpha\, g / (\sqrt{s} + \epsilon)$ |
    | RMSprop | $s \leftarrow \rho s + (1 - \rho) g^2$ | $-\alpha\, g / (\sqrt{s} + \epsilon)$ |
    | Adam | $m \leftarrow \beta_1 m + (1 - \beta_1) g$, $v \leftarrow \beta_2 v + (1 - \beta_2) g^2$ | $-\alpha\, \hat m / (\sqrt{\hat v} + \epsilon)$ |

    with Adam's bias corrections $\hat m = m / (1 - \beta_1^t)$, $\hat v = v / (1 - \beta_2^t)$.
    AdaGrad's sum only grows, so its steps only shrink; RMSprop forgets old gradients;
    Adam adds momentum ($m$) and corrects both averages for starting at zero. All three make
    the step about $\alpha$ per coordinate *whatever the gradient's scale*.

    The race below starts every method from the same point on Rosenbrock's banana valley or
    Beale's function, each at the learning rate that did best on a grid (see the search at the
    end of this section).
    """)
    return


@app.cell(hide_code=True)
def _(ch03a, mo):
    race_problem = mo.ui.dropdown(list(ch03a.RACE_LR), value="rosenbrock", label="problem")
    race_methods = mo.ui.multiselect(list(ch03a.RACE_METHODS), value=list(ch03a.RACE_METHODS),
                                     label="methods")
    race_scale = mo.ui.slider(steps=[0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0], value=1.0,
                              label="learning rates × (1 = tuned)", show_value=True)
    race_steps = mo.ui.slider(200, 4000, step=200, value=2000, label="steps", show_value=True)
    mo.hstack([race_problem, race_methods, race_scale, race_steps], justify="start", gap=2,
              wrap=True)
    return race_methods, race_problem, race_scale, race_steps


@app.cell(hide_code=True)
def _(PROBLEMS, ch03a, race_methods, race_problem, race_scale, race_steps):
    race = ch03a.optimizer_race(race_problem.value, race_methods.value or ["adam"],
                                steps=race_steps.value, lr_scale=race_scale.value)
    race_target = PROBLEMS[race_problem.value]()
    return race, race_target


@app.cell(hide_code=True)
def _(METHOD_COLORS, RACE_BOX, ch03a, go, layout, mo, np, race, race_target):
    _box = RACE_BOX[race_target.name]
    _xs, _ys, _z = ch03a.grid_values(race_target, _box, points=141)
    _fig = go.Figure(go.Contour(x=_xs, y=_ys, z=np.log10(_z + 1e-3), showscale=False,
                                colorscale="Blues", ncontours=25, contours=dict(coloring="lines"),
                                line=dict(width=1), hoverinfo="skip"))
    for _m, _r in race.items():
        _t = _r.trajectory
        _fig.add_trace(go.Scatter(x=_t[:, 0], y=_t[:, 1], mode="lines", name=_m,
                                  line=dict(color=METHOD_COLORS[_m], width=2)))
    _s, _m0 = race_target.start, race_target.minimum.x
    _fig.add_trace(go.Scatter(x=[_s[0]], y=[_s[1]], mode="markers", name="start",
                              marker=dict(size=10, color="black")))
    _fig.add_trace(go.Scatter(x=[_m0[0]], y=[_m0[1]], mode="markers", name="minimum",
                              marker=dict(symbol="star", size=14, color="gold",
                                          line=dict(color="black", width=1))))
    layout(_fig, height=420, xaxis=dict(range=list(_box[0]), title="x"),
           yaxis=dict(range=list(_box[1]), title="y"), legend=dict(orientation="h", y=1.1))
    _loss = go.Figure([
        go.Scatter(x=_r.trajectory_iter, y=np.maximum(_r.trajectory_fun, 1e-16), name=_m,
                   line=dict(color=METHOD_COLORS[_m]))
        for _m, _r in race.items()
    ])
    layout(_loss, height=420, yaxis_type="log", xaxis_title="step",
           yaxis_title="f (floored at 1e-16; contours: log10 f)", showlegend=False)
    mo.hstack([_fig, _loss], widths=[3, 2])
    return


@app.cell(hide_code=True)
def _(ch03a, mo, np, race, race_problem, race_scale, race_target):
    _rows = []
    for _m, _r in race.items():
        _lr = race_scale.value * 10 ** ch03a.RACE_LR[race_problem.value][_m]
        _below = np.flatnonzero(_r.trajectory_fun < 1e-6)
        _first = f"{int(_r.trajectory_iter[_below[0]]):,}" if _below.size else "never"
        _dist = float(np.linalg.norm(_r.x - race_target.minimum.x))
        _rows.append(f"| {_m} | {_lr:.3g} | {_r.fun:.3g} | {_dist:.3g} | {_first} | "
                     f"{_r.status.value} |")
    _winner = min(race, key=lambda m: race[m].fun)
    _done = [m for m, r in race.items() if r.success] or ["none"]
    _open = [m for m, r in race.items() if not r.success] or ["none"]
    mo.md(
        "| method | learning rate | final f | distance to the minimum | first step with f < 1e-6 "
        "| status |\n|---|---|---|---|---|---|\n" + "\n".join(_rows)
        + f"\n\nLowest final loss: **{_winner}** ({race[_winner].fun:.3g}). Converged "
        f"(gradient norm ≤ {race[_winner].tol:g}): {', '.join(_done)}; not converged: "
        f"{', '.join(_open)}.\n\n"
        "Plain gradient descent must keep its step below the stability limit of the steepest "
        "curvature it meets, so where the valley floor is flat it crawls. Momentum builds up "
        "speed along a direction the gradients keep agreeing on. AdaGrad's sum of squares only "
        "grows, so its steps keep shrinking; RMSprop forgets old gradients, so its steps stay "
        "about α per coordinate and can keep bouncing across a narrow valley; Adam adds "
        "momentum to RMSprop's scaling. Push the learning-rate factor up and down: the tuned "
        "rates sit close to the edge of divergence."
    )
    return


@app.cell(hide_code=True)
def _(first_order, show_source, transforms):
    show_source(transforms.scale_by_adam, first_order.adam_chain, first_order.rmsprop,
                first_order.adagrad)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ### Where the tuned learning rates come from

    Each method's learning rate in the race is the one with the lowest loss after 2000 steps
    among $10^{-4}, 10^{-3.5}, \dots, 10^{0}$. The search runs 9 learning rates for each of 6
    methods on the chosen problem, a few seconds, so it waits for the button.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    tune_button = mo.ui.run_button(label="Search the learning-rate grid now", kind="success")
    tune_button
    return (tune_button,)


@app.cell(hide_code=True)
def _(ch03a, mo, np, race_problem, tune_button):
    tune_grid = np.arange(-4.0, 0.01, 0.5)
    if tune_button.value:
        tune = {_m: ch03a.learning_rate_grid(race_problem.value, _m, tune_grid)
                for _m in ch03a.RACE_LR[race_problem.value]}
    else:
        tune = None
    if tune is None:
        _out = mo.md("*Press the button to run the search for the problem chosen above.*")
    else:
        _head = "| method | " + " | ".join(f"1e{_e:g}" for _e in tune_grid) + " | best | in the race |"
        _rule = "|---" * (len(tune_grid) + 3) + "|"
        _rows = []
        for _m, _f in tune.items():
            _cells = " | ".join("diverged" if not np.isfinite(_v) else f"{_v:.1e}" for _v in _f)
            _best = tune_grid[int(np.argmin(_f))]
            _rows.append(f"| {_m} | {_cells} | 1e{_best:g} | "
                         f"1e{ch03a.RACE_LR[race_problem.value][_m]:g} |")
        _out = mo.md(f"Final f after 2000 steps on **{race_problem.value}**:\n\n"
                     + "\n".join([_head, _rule, *_rows]))
    _out
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter03a, mo):
    ex1 = ExercisePanel(chapter03a.BEST_LEARNING_RATE)
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
def _(ExercisePanel, chapter03a, mo):
    ex2 = ExercisePanel(chapter03a.ADAM_STEP)
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
        "On a quadratic, gradient descent multiplies the error along each eigenvector by "
        "1 - αλ: it diverges for α > 2/λ_max, and the best fixed step 2/(λ_min + λ_max) "
        "contracts the error by (κ - 1)/(κ + 1) per step.",
        "Too small a step leaves the flat directions crawling; too large a step makes the steep "
        "directions oscillate, then diverge. Ill conditioning means slowness, whatever α.",
        "The second-order model gives ε* = gᵀg / gᵀHg along -g, between 1/λ_max and 1/λ_min; "
        "with negative curvature along g it has no minimum.",
        "Schedules decay α so that noisy gradients stop kicking the iterate around the minimum.",
        "AdaGrad, RMSprop and Adam scale each coordinate's step by its gradient history; Adam's "
        "bias correction matters for the first steps (and v's for thousands of them).",
    )
    return


if __name__ == "__main__":
    app.run()
