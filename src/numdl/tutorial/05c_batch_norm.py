import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="5c · Batch normalization")


@app.cell(hide_code=True)
def _():
    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go

    from numdl import naive, norm
    from numdl.exercises import chapter05c
    from numdl.tutorial.simulations import ch05c
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    EPS_CHOICES = {"0": 0.0, "1e-8": 1e-8, "1e-5": 1e-5, "1e-3": 1e-3}
    BLUE, RED, GREEN, GRAY, ORANGE = "#1f77b4", "#d62728", "#2ca02c", "#7f7f7f", "#ff7f0e"
    return (
        BLUE,
        EPS_CHOICES,
        ExercisePanel,
        GRAY,
        GREEN,
        ORANGE,
        RED,
        ch05c,
        chapter05c,
        go,
        mo,
        naive,
        norm,
        np,
        show_source,
        takeaways,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 5c · Batch normalization

    Batch normalization rescales each feature of a layer's input to zero mean and unit
    variance over the current batch $B$, then lets the network choose its own scale $\gamma$
    and shift $\beta$:

    $$\hat x_i = \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \varepsilon}}, \qquad
      y_i = \gamma\,\hat x_i + \beta, \qquad
      \mu_B = \frac1{|B|}\sum_{i\in B} x_i,\quad \sigma_B^2 = \frac1{|B|}\sum_{i\in B}(x_i - \mu_B)^2 .$$

    Four numerical questions hide in that formula: what $\varepsilon$ really does, how
    reliable a variance from a small batch is, how to accumulate the running statistics used
    at inference without cancellation, and what happens when training and inference use
    different statistics. Everything below runs `numdl.norm.batch_norm`, which follows
    PyTorch's `BatchNorm1d` (biased variance to normalize, unbiased for the running estimate,
    momentum 0.1).

    **By the end of this chapter you will be able to**

    - explain what $\varepsilon$ does to features of small variance, and choose it per format;
    - quantify how noisy batch statistics are at a given batch size;
    - accumulate a running mean and variance with Welford/Chan updates instead of
      $E[x^2] - E[x]^2$;
    - diagnose a train/eval mismatch (tiny batches, distribution shift).
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## What ε does

    $\varepsilon$ is usually introduced as a guard against dividing by zero, and it is one: a
    constant feature has $\sigma_B^2 = 0$ and would give $0/0$. But it is not free. It sits
    under the square root *with* the variance, so a feature of variance $\sigma^2$ comes out
    with standard deviation

    $$\operatorname{std}(\hat x) = \sqrt{\frac{\sigma^2}{\sigma^2 + \varepsilon}},$$

    1 only when $\sigma^2 \gg \varepsilon$. Features whose variance is near or below
    $\varepsilon$ are shrunk instead of normalized: $\varepsilon$ is a bias, and choosing it
    means choosing below which variance a feature counts as noise. It must also survive the
    format it is added in. Below, one feature $0.5 + \sigma\,\mathcal N(0, 1)$, a batch of 32,
    stored and normalized in the chosen format:
    """)
    return


@app.cell(hide_code=True)
def _(EPS_CHOICES, mo):
    eps_std = mo.ui.slider(-6.0, 0.0, step=0.5, value=-2.5, label="log10 of the feature's std σ",
                           show_value=True)
    eps_const = mo.ui.switch(value=False, label="constant feature (σ = 0)")
    eps_eps = mo.ui.dropdown(list(EPS_CHOICES), value="1e-5", label="ε")
    eps_dtype = mo.ui.dropdown(["float64", "float32", "float16"], value="float32", label="format")
    mo.hstack([eps_std, eps_const, eps_eps, eps_dtype], justify="start", gap=2, wrap=True)
    return eps_const, eps_dtype, eps_eps, eps_std


@app.cell(hide_code=True)
def _(EPS_CHOICES, ch05c, eps_const, eps_dtype, eps_eps, eps_std, mo, np):
    _sigma = 0.0 if eps_const.value else 10.0**eps_std.value
    eps_run = ch05c.eps_effect(_sigma, EPS_CHOICES[eps_eps.value], eps_dtype.value,
                               rng=np.random.default_rng(0))
    _distinct = np.unique(eps_run.x).size
    if eps_run.has_nan:
        _kind = "danger"
        _var_stored = float(np.asarray(eps_run.batch_var).astype(eps_run.dtype))
        _var_text = ("the feature is constant" if eps_run.batch_var == 0 else
                     f"its variance {eps_run.batch_var:.2g} rounds to {_var_stored:.2g} in "
                     f"{eps_run.dtype}")
        _what = (f"the output is **nan**: {_var_text} and ε is {eps_run.eps_stored:g} there, so "
                 f"the deviations are divided by √0 = 0 (and 0/0 = nan where they are 0).")
    elif eps_run.output_std < 0.9:
        _kind = "warn"
        _what = (f"the output std is only **{eps_run.output_std:.3g}**: the variance "
                 f"{eps_run.batch_var:.2g} is not large against ε = {eps_run.eps_stored:.2g}, so "
                 f"the feature is shrunk (formula: "
                 f"{np.sqrt(eps_run.batch_var / (eps_run.batch_var + eps_run.eps)) if eps_run.batch_var + eps_run.eps > 0 else float('nan'):.3g}).")
    else:
        _kind = "success"
        _what = (f"the output std is **{eps_run.output_std:.4g}**: the variance "
                 f"{eps_run.batch_var:.2g} dominates ε, and the feature is normalized "
                 f"(its deviations were multiplied by {eps_run.scale:.3g}).")
    mo.callout(mo.md(
        f"In **{eps_run.dtype}**, ε = {eps_run.eps:g} is stored as `{eps_run.eps_stored!r}`. The "
        f"stored feature has {_distinct} distinct value{'s' if _distinct != 1 else ''} out of 32 and "
        f"variance {eps_run.batch_var:.3g}; {_what}"
    ), kind=_kind)
    return (eps_run,)


@app.cell(hide_code=True)
def _(
    BLUE,
    EPS_CHOICES,
    GRAY,
    GREEN,
    ORANGE,
    ch05c,
    eps_dtype,
    eps_run,
    go,
    mo,
    np,
):
    _stds = np.logspace(-6, 0, 25)
    _fig = go.Figure()
    eps_curves = {}
    for _name, _color in (("1e-8", GREEN), ("1e-5", BLUE), ("1e-3", ORANGE)):
        _e = EPS_CHOICES[_name]
        # a fresh generator per eps: every curve normalizes the same batch
        eps_curves[_name] = ch05c.eps_shrinkage(_stds, _e, eps_dtype.value,
                                                rng=np.random.default_rng(0))
        _y = np.where(np.isnan(eps_curves[_name]), -0.05, eps_curves[_name])
        _fig.add_trace(go.Scatter(x=_stds, y=_y, mode="markers+lines", name=f"measured, eps = {_name}",
                                  line=dict(color=_color)))
        _fig.add_trace(go.Scatter(x=_stds, y=np.sqrt(_stds**2 / (_stds**2 + _e)),
                                  name=f"sqrt(var / (var + eps)), eps = {_name}",
                                  line=dict(color=_color, dash="dot", width=1), showlegend=False))
    if not eps_run.has_nan and eps_run.batch_var > 0:
        _fig.add_trace(go.Scatter(x=[np.sqrt(eps_run.batch_var)], y=[eps_run.output_std],
                                  mode="markers", name="the batch above",
                                  marker=dict(size=14, color=GRAY, symbol="diamond")))
    _fig.update_layout(xaxis_type="log", xaxis_exponentformat="power", xaxis_dtick=1, height=360,
                       xaxis_title="standard deviation of the feature",
                       yaxis_title="std of the normalized output (nan drawn at -0.05)",
                       margin=dict(l=10, r=10, t=20, b=10))
    _f16_tiny = float(np.finfo(np.float16).smallest_subnormal)
    _half = {n: _stds[np.argmin(np.abs(c - 1 / np.sqrt(2)))] for n, c in eps_curves.items()
             if np.isfinite(c).any()}
    mo.vstack([
        _fig,
        mo.md(
            f"Measured in {eps_dtype.value} (dots; the dotted lines are the formula). The output "
            f"std falls to 1/√2 where σ² = ε: at σ ≈ "
            + ", ".join(f"{v:.1e} for ε = {n}" for n, v in _half.items())
            + ". A learned γ can scale a shrunk feature back up, but only if it is not pure "
            f"noise. In float16 any ε up to {_f16_tiny / 2:.2g} (half the smallest subnormal, "
            f"{_f16_tiny:.2g}) rounds to 0, and the library's float16 path adds ε in float16, "
            "as a layer computed entirely in float16 would. PyTorch computes the statistics in "
            "float32 for float16 inputs, which is also the fix in the second exercise."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Small batches, noisy statistics

    $\mu_B$ and $\sigma_B^2$ are estimates from $|B|$ samples, and every sample of the batch is
    divided by the same $\sqrt{\sigma_B^2 + \varepsilon}$: when the estimate is off by a factor,
    the whole batch's output is scaled by its square root. For Gaussian data
    $|B|\,\sigma_B^2/\sigma^2$ follows a $\chi^2$ distribution with $|B| - 1$ degrees of freedom:
    the estimate is biased low by $(|B|-1)/|B|$ and its relative spread is about
    $\sqrt{2/(|B|-1)}$. Here 2000 batches are drawn at each size and the spread of their
    variance estimates (divided by the true variance) is measured:
    """)
    return


@app.cell(hide_code=True)
def _(ch05c, mo):
    bv_dist = mo.ui.dropdown(list(ch05c.DISTRIBUTIONS), value="normal", label="data")
    bv_dist
    return (bv_dist,)


@app.cell(hide_code=True)
def _(BLUE, GRAY, bv_dist, ch05c, go, mo, np):
    bv_sizes = np.array([2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
    bv_q = ch05c.batch_variance_quantiles(bv_sizes, 2000, bv_dist.value,
                                          rng=np.random.default_rng(0))  # (sizes, 5 quantiles)
    _fig = go.Figure()
    _fig.add_trace(go.Scatter(x=bv_sizes, y=bv_q[:, 4], mode="lines", line=dict(width=0),
                              showlegend=False, hoverinfo="skip"))
    _fig.add_trace(go.Scatter(x=bv_sizes, y=bv_q[:, 0], mode="lines", fill="tonexty",
                              name="5% to 95%", line=dict(width=0),
                              fillcolor="rgba(31,119,180,0.2)"))
    _fig.add_trace(go.Scatter(x=bv_sizes, y=bv_q[:, 3], mode="lines", line=dict(width=0),
                              showlegend=False, hoverinfo="skip"))
    _fig.add_trace(go.Scatter(x=bv_sizes, y=bv_q[:, 1], mode="lines", fill="tonexty",
                              name="25% to 75%", line=dict(width=0),
                              fillcolor="rgba(31,119,180,0.4)"))
    _fig.add_trace(go.Scatter(x=bv_sizes, y=bv_q[:, 2], name="median", line=dict(color=BLUE)))
    _fig.add_trace(go.Scatter(x=bv_sizes, y=(bv_sizes - 1) / bv_sizes, name="mean of the estimate, (B - 1)/B",
                              line=dict(color=GRAY, dash="dash")))
    _fig.update_layout(xaxis_type="log", xaxis_dtick=1, height=360, xaxis_title="batch size B",
                       yaxis_title="batch variance / true variance",
                       margin=dict(l=10, r=10, t=20, b=10))
    _i = int(np.flatnonzero(bv_sizes == 8)[0])
    _lo, _hi = bv_q[_i, 0], bv_q[_i, 4]
    _j = int(np.flatnonzero(bv_sizes == 256)[0])
    mo.vstack([
        _fig,
        mo.md(
            f"With {bv_dist.value} data and batches of 8, 90% of the variance estimates lie "
            f"between **{_lo:.2f}** and **{_hi:.2f}** times the truth, so the normalized "
            f"outputs of a batch are scaled by a factor between {1 / np.sqrt(_hi):.2f} and "
            f"{1 / np.sqrt(_lo):.2f}, batch after batch. At 256 the band is "
            f"{bv_q[_j, 0]:.2f} to {bv_q[_j, 4]:.2f}. This noise is part of what the network "
            f"learns with (it acts as a regularizer), but below a few samples per feature it "
            f"dominates; that is why small-batch training uses group or layer normalization, "
            f"whose statistics do not depend on the batch."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Running statistics: $E[x^2] - E[x]^2$ against Welford and Chan

    For inference, batch norm needs the mean and variance of the whole training stream, so
    they are accumulated batch by batch. The tempting way keeps two running sums,
    $S_1 = \sum x$ and $S_2 = \sum x^2$, and returns $S_2/n - (S_1/n)^2$. Both terms are about
    $\text{mean}^2$, their difference is the variance, and the subtraction loses
    $\log_{10}(\text{mean}^2/\text{var})$ digits: the relative error is about
    $u\,\text{mean}^2/\text{var}$. The stable way keeps the count, the mean and
    $M_2 = \sum (x - \text{mean})^2$, and merges each batch's own mean and $M_2$ (Chan, Golub and
    LeVeque's update; for one value per batch it is Welford's):

    $$\delta = \mu_b - \mu, \qquad \mu \leftarrow \mu + \delta\,\frac{n_b}{n + n_b}, \qquad
      M_2 \leftarrow M_2 + M_{2,b} + \delta^2\,\frac{n\,n_b}{n + n_b}.$$

    Nothing of size $\text{mean}^2$ is ever formed. The stream below is
    $\text{offset} + \mathcal N(0, 1)$, stored in the chosen format; the exact variance is
    computed in float64 from the same stored values.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    rv_dtype = mo.ui.dropdown(["float32", "float16"], value="float32", label="format")
    rv_offset = mo.ui.slider(0.0, 7.0, step=0.5, value=4.0, label="log10 offset", show_value=True)
    rv_batch = mo.ui.slider(1, 256, step=1, value=64, label="batch size", show_value=True)
    mo.hstack([rv_dtype, rv_offset, rv_batch], justify="start", gap=2)
    return rv_batch, rv_dtype, rv_offset


@app.cell(hide_code=True)
def _(BLUE, RED, ch05c, go, mo, naive, np, rv_batch, rv_dtype, rv_offset):
    # Beyond 1e3 float16's spacing (8 at 1e4) would round the N(0, 1) part away entirely.
    _log_off = rv_offset.value if rv_dtype.value == "float32" else min(rv_offset.value, 3.0)
    _capped = _log_off < rv_offset.value
    stream = ch05c.running_variance_stream(10.0**_log_off, 1.0, int(rv_batch.value), 100,
                                           rv_dtype.value, rng=np.random.default_rng(0))
    _fig = go.Figure()
    _cap = 1e3
    for _name, _est, _color in (("naive sums, E[x^2] - E[x]^2", stream.naive, RED),
                                ("Welford/Chan (numdl.norm.RunningStats)", stream.welford, BLUE)):
        with np.errstate(invalid="ignore", divide="ignore"):
            _rel = np.abs(_est - stream.exact) / stream.exact
        _y = np.clip(np.where(np.isfinite(_rel), _rel, _cap), 1e-9, _cap)
        _neg = _est < 0
        _fig.add_trace(go.Scatter(x=stream.counts, y=_y, name=_name, mode="lines+markers",
                                  line=dict(color=_color),
                                  marker=dict(size=[9 if n else 4 for n in _neg],
                                              symbol=["x" if n else "circle" for n in _neg])))
    _fig.update_layout(xaxis_type="log", yaxis_type="log", height=380, xaxis_dtick=1,
                       xaxis_exponentformat="power", yaxis_exponentformat="power",
                       xaxis_title="values seen",
                       yaxis_title="relative error (nan/inf at 1e3, x: negative)",
                       margin=dict(l=10, r=10, t=20, b=10))
    _all = (10.0**_log_off + np.random.default_rng(0).standard_normal((100, int(rv_batch.value)))
            ).astype(rv_dtype.value)
    with np.errstate(all="ignore"):
        stream_oneshot = float(naive.variance(_all.ravel()))
    _n_neg = int(np.sum(stream.naive < 0))
    _n_bad = int(np.sum(~np.isfinite(stream.naive)))
    mo.vstack([
        _fig,
        mo.md(
            "| after all 100 batches | variance |\n|---|---|\n"
            f"| exact (float64, two-pass) | {stream.exact[-1]:.6g} |\n"
            f"| Welford/Chan, state in {stream.state_dtype} | {stream.welford[-1]:.6g} |\n"
            f"| naive running sums in {stream.dtype} | {stream.naive[-1]:.6g} |\n"
            f"| `numdl.naive.variance` of all values at once | {stream_oneshot:.6g} |"
        ),
        mo.md(
            (f"(float16 is capped at offset 1e3: its spacing at 1e4 is "
             f"{float(np.spacing(np.float16(1e4))):g}, which would round the N(0, 1) part of "
             f"the data away.) " if _capped else "")
            + f"Offset {10.0**_log_off:.0e} in {stream.dtype}: the naive estimate was negative "
            f"after {_n_neg} of 100 batches and "
            + (f"nan or inf after {_n_bad}" if _n_bad else "never nan or inf")
            + "; Welford/Chan's worst "
            f"relative error was "
            f"{np.max(np.abs(stream.welford - stream.exact) / stream.exact):.1e}. "
            + (f"In float16, x² overflows {float(np.finfo(np.float16).max):g} once |x| > "
               f"{float(np.sqrt(np.finfo(np.float16).max)):.0f}, and the sum of squares "
               "overflows even sooner; `RunningStats` keeps float16 data's statistics in "
               "float32, as PyTorch does. " if stream.dtype == "float16" else "")
            + "A negative variance is not a curiosity: its square root, the standard deviation "
            "that batch norm divides by, is nan."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(naive, norm, show_source):
    show_source(naive.variance, norm.RunningStats.update, norm.RunningStats.combine)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Train mode against eval mode

    In training, each sample is normalized with its own batch's statistics; in evaluation,
    with the running averages (PyTorch: an exponential moving average with momentum 0.1, of
    the batch means and of the *unbiased* batch variances). The two agree only when batches
    are large and the test data look like the training data. Below, running statistics are
    trained on $\mathcal N(3, 2^2)$ batches; then one test input, half a standard deviation
    above the test data's mean, is normalized in 400 random test batches in training mode,
    and once in eval mode.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    te_batch = mo.ui.slider(2, 64, step=1, value=4, label="batch size", show_value=True)
    te_shift = mo.ui.slider(0.0, 3.0, step=0.25, value=0.0,
                            label="shift of the test data (in training std)", show_value=True)
    mo.hstack([te_batch, te_shift], justify="start", gap=2)
    return te_batch, te_shift


@app.cell(hide_code=True)
def _(BLUE, GREEN, RED, ch05c, go, mo, np, te_batch, te_shift):
    te = ch05c.train_eval_mismatch(int(te_batch.value), float(te_shift.value),
                                   rng=np.random.default_rng(0))
    _fig = go.Figure()
    _counts, _edges = np.histogram(te.train_outputs, bins=60)
    _fig.add_trace(go.Histogram(x=te.train_outputs, name="training mode (400 batches)",
                                xbins=dict(start=_edges[0], end=_edges[-1],
                                           size=_edges[1] - _edges[0]),
                                marker_color=BLUE, opacity=0.7))
    _top = 1.05 * float(_counts.max())
    for _x, _name, _line in ((te.eval_output, "eval mode (running statistics)",
                              dict(color=RED, width=3)),
                             (te.ideal_output, "its standard score in the test data",
                              dict(color=GREEN, dash="dash", width=2))):
        _fig.add_trace(go.Scatter(x=[_x, _x], y=[0, _top], mode="lines", name=_name, line=_line))
    _fig.update_layout(height=340, xaxis_title="normalized output of the same test input",
                       yaxis_title="batches", margin=dict(l=10, r=10, t=20, b=10))
    mo.vstack([
        _fig,
        mo.md(
            f"Batch size {te_batch.value}: in training mode the same input comes out anywhere "
            f"from {np.quantile(te.train_outputs, 0.05):.2f} to "
            f"{np.quantile(te.train_outputs, 0.95):.2f} (5% to 95%), mean "
            f"{np.mean(te.train_outputs):.2f}, depending on its batch-mates"
            + (" — with 2 values per batch every output is ±1 (up to ε): only the sign of "
               "the difference survives" if te_batch.value == 2 else "")
            + f". In eval mode it gets **{te.eval_output:.2f}**, from running statistics mean "
            f"{te.running_mean:.2f} and variance {te.running_var:.2f} (truth: 3 and 4; an "
            f"exponential average with momentum 0.1 has the noise of a plain average of "
            f"(2 - 0.1)/0.1 = {(2 - 0.1) / 0.1:.0f} batches, so small batches leave them noisy "
            f"too). Its standard score in the test data is {te.ideal_output:.2f}"
            + (f"; shifted test data move the eval-mode output by about {te_shift.value:g}, "
               "while training mode recentres on whatever batch it sees" if te_shift.value
               else "")
            + "."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter05c, mo):
    ex1 = ExercisePanel(chapter05c.RUNNING_VARIANCE)
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
def _(ExercisePanel, chapter05c, mo):
    ex2 = ExercisePanel(chapter05c.BATCH_NORM_FP16)
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
        "ε prevents 0/0 on constant features but biases every feature: the output std is "
        "sqrt(var / (var + ε)), so features with variance near ε are shrunk, not normalized.",
        "ε must be representable where it is added: 1e-8 is 0 in float16, and a constant feature "
        "then gives nan. Compute batch-norm statistics in float32 for float16 activations.",
        "Batch statistics are estimates: with a handful of samples the variance is off by large "
        "factors, and every output of the batch with it.",
        "Never accumulate E[x^2] - E[x]^2 over a stream: with a large mean it returns garbage, "
        "negative values and nan. Merge (count, mean, M2) with Welford/Chan updates.",
        "Training mode and eval mode normalize differently; tiny batches and distribution shift "
        "make them disagree, so check both.",
    )
    return


if __name__ == "__main__":
    app.run()
