import marimo

__generated_with = "0.25.2"
app = marimo.App(
    width="medium",
    app_title="1 · Why numerical computation matters",
)


@app.cell(hide_code=True)
def _():
    import marimo as mo
    import ml_dtypes
    import numpy as np
    import plotly.graph_objects as go

    from numdl import naive
    from numdl.exercises import chapter01
    from numdl.tutorial.simulations import ch01
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    DTYPES = ["float64", "float32", "float16", "bfloat16"]
    COLORS = {"float64": "#1f77b4", "float32": "#2ca02c", "float16": "#d62728", "bfloat16": "#9467bd"}
    return (
        COLORS,
        DTYPES,
        ExercisePanel,
        ch01,
        chapter01,
        go,
        ml_dtypes,
        mo,
        naive,
        np,
        show_source,
        takeaways,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 1 · Why numerical computation matters

    Every formula in a deep-learning paper is written for the real numbers, where
    $\exp$ never overflows, $\log p$ exists for every $p > 0$ and $(a + b) + c = a + (b + c)$.
    The computer that runs it has only finitely many numbers, each stored in 64, 32, 16 or
    even 8 bits. This chapter shows, with experiments you can push until they break, why that
    gap matters and why deep learning falls into it more often than most fields.

    **By the end of this chapter you will be able to**

    - explain why an algorithm that is correct on real numbers can fail on floats;
    - recognize underflow, overflow, sensitivity to small changes and accumulated rounding;
    - say why deep learning (long products, exponentials, tiny probabilities) is exposed;
    - name the *silent* ways numerical failures show up in training;
    - replace a product of probabilities by a sum of logs, and prove it on hostile inputs.
    """)
    return


@app.cell(hide_code=True)
def _(mo, np):
    _a = np.float64(0.1) + np.float64(0.2)
    _exact_tenth = __import__("decimal").Decimal(0.1)
    mo.md(
        rf"""
        ## Real numbers, finite representations

        A float stores a sign, an exponent and a fixed number of significant bits, so almost
        every real number is replaced by its nearest representable neighbour. `0.1` is not
        one tenth: in float64 it is exactly

        `{_exact_tenth}`

        and so `0.1 + 0.2` evaluates to `{_a!r}`, and `0.1 + 0.2 == 0.3` is
        **{bool(_a == 0.3)}**. Each operation rounds its result to the format's precision;
        the relative size of that rounding is at most the *unit roundoff*
        $u = \varepsilon / 2$. The formats used in deep learning differ enormously:
        """
    )
    return


@app.cell(hide_code=True)
def _(DTYPES, ml_dtypes, mo, np):
    _rows = []
    for _name in DTYPES:
        _fi = ml_dtypes.finfo(np.dtype(_name) if _name != "bfloat16" else ml_dtypes.bfloat16)
        _rows.append(
            f"| {_name} | {_fi.bits} | {float(_fi.eps):.3g} | {float(_fi.smallest_normal):.3g} "
            f"| {float(_fi.max):.3g} | {_fi.precision} |"
        )
    mo.md(
        "| format | bits | machine epsilon | smallest normal | largest | decimal digits |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(_rows)
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Experiment 1: the probability of a long sequence

    A language model scores a sentence by multiplying the probabilities of its tokens,
    $P = \prod_{i=1}^{n} p_i$. Each factor is a perfectly ordinary number, but the product
    shrinks geometrically: $0.01^{400} = 10^{-800}$, far below the smallest positive float64.
    The computed product *underflows* to exactly 0, and every later step (a log, a division,
    a comparison between sentences) is ruined. The fix is to stay in the log domain:
    $\log P = \sum_i \log p_i$ is an ordinary number for any length.

    Move the controls. The dashed line is the true $\log_{10} P$; each coloured line is the
    product computed directly in one format, one rounding per token, until it hits 0.
    """)
    return


@app.cell(hide_code=True)
def _(DTYPES, mo):
    seq_p = mo.ui.slider(0.01, 0.99, step=0.01, value=0.1, label="token probability p",
                         show_value=True)
    seq_n = mo.ui.slider(10, 3000, step=10, value=400, label="sequence length n", show_value=True)
    seq_dtype = mo.ui.dropdown(DTYPES, value="float32", label="format")
    mo.hstack([seq_p, seq_n, seq_dtype], justify="start", gap=2)
    return seq_dtype, seq_n, seq_p


@app.cell(hide_code=True)
def _(DTYPES, ch01, np, seq_dtype, seq_n, seq_p):
    runs = {name: ch01.running_product(seq_p.value, seq_n.value, name) for name in DTYPES}
    chosen_run = runs[seq_dtype.value]
    log10_true = chosen_run.log_sum / np.log(10.0)
    return chosen_run, log10_true, runs


@app.cell(hide_code=True)
def _(COLORS, go, log10_true, np, runs, seq_dtype):
    _fig = go.Figure()
    _k = np.arange(1, len(log10_true) + 1)
    for _name, _run in runs.items():
        _y = _run.log10_product.copy()
        _y[~np.isfinite(_y)] = np.nan  # log10(0) = -inf cannot be drawn: the line stops there
        _fig.add_trace(go.Scatter(x=_k, y=_y, name=f"product in {_name}",
                                  line=dict(color=COLORS[_name],
                                            width=4 if _name == seq_dtype.value else 1.5)))
        if _run.underflow_at:
            _fig.add_trace(go.Scatter(x=[_run.underflow_at], y=[_y[_run.underflow_at - 2]],
                                      mode="markers", marker=dict(symbol="x", size=12,
                                                                  color=COLORS[_name]),
                                      showlegend=False, hovertext=f"{_name}: 0 from here"))
    _fig.add_trace(go.Scatter(x=_k, y=log10_true, name="sum of logs (exact)",
                              line=dict(color="black", dash="dash")))
    _fig.update_layout(xaxis_title="sequence length", yaxis_title="log10 of the probability",
                       height=380, margin=dict(l=10, r=10, t=30, b=10),
                       legend=dict(orientation="h", y=1.12))
    _fig
    return


@app.cell(hide_code=True)
def _(chosen_run, log10_true, mo, np, seq_n, seq_p):
    _first = chosen_run.underflow_at
    _final = chosen_run.product[-1]
    if _first is None:
        _verdict = (f"In **{chosen_run.dtype}** the product of {seq_n.value} tokens is still "
                    f"representable: {float(_final):.4g}.")
    else:
        _verdict = (f"In **{chosen_run.dtype}** the product of tokens of probability "
                    f"{seq_p.value:g} becomes exactly **0 at length {_first}**, and "
                    f"`log` of it is `{float(np.log(np.float64(_final))) if _final else '-inf'}`.")
    mo.md(
        f"""
        {_verdict} The sum of logs gives $\\log_{{10}} P = {log10_true[-1]:.2f}$ at length
        {seq_n.value}, an ordinary number in every format.
        """
    )
    return


@app.cell(hide_code=True)
def _(ch01, naive, show_source):
    show_source(ch01.running_product, naive.log_of_product)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Experiment 2: small changes in, large changes out

    Some problems amplify any error in their input, whatever algorithm solves them. Solve
    $A x = b$ with

    $$A = \begin{pmatrix} 1 & 1 \\ 1 & 1 + \delta \end{pmatrix},$$

    whose rows become parallel as $\delta \to 0$. Perturb $b$ by a relative amount far below
    any measurement error, and the solution moves by up to the *condition number*
    $\kappa(A)$ times as much:

    $$\frac{\lVert \Delta x \rVert}{\lVert x \rVert} \le \kappa(A)\,
      \frac{\lVert \Delta b \rVert}{\lVert b \rVert}.$$
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    cond_delta = mo.ui.slider(-12, -1, step=1, value=-6, label="log10 δ", show_value=True)
    cond_pert = mo.ui.slider(-14, -4, step=1, value=-10, label="log10 relative change of b",
                             show_value=True)
    mo.hstack([cond_delta, cond_pert], justify="start", gap=2)
    return cond_delta, cond_pert


@app.cell(hide_code=True)
def _(ch01, cond_delta, cond_pert, mo, np):
    solve = ch01.sensitive_solve(10.0 ** cond_delta.value, 10.0 ** cond_pert.value,
                                  rng=np.random.default_rng(1))
    mo.md(
        f"""
        | quantity | value |
        |---|---|
        | condition number κ(A) | {solve.condition:.3g} |
        | relative change of b | {solve.rel_change_b:.3g} |
        | relative change of x | {solve.rel_change_x:.3g} |
        | amplification | **{solve.amplification:.3g}** (bound: κ = {solve.condition:.3g}) |
        | x before → after | ({solve.x[0]:.6g}, {solve.x[1]:.6g}) → ({solve.x_perturbed[0]:.6g}, {solve.x_perturbed[1]:.6g}) |

        A relative change of b of {solve.rel_change_b:.1g} moved x by {solve.rel_change_x:.2g}.
        Rounding b to float64 alone is a relative change of about 1e-16; with κ near
        {solve.condition:.0g} that leaves roughly {max(0.0, 16 - np.log10(solve.condition)):.0f}
        trustworthy digits in x. Chapter 2c measures this properly.
        """
    )
    return


@app.cell(hide_code=True)
def _(mo, np):
    _n = 1_000_000
    _seq = np.add.accumulate(np.full(_n, 0.1, dtype=np.float32))[-1]
    _seq64 = np.add.accumulate(np.full(_n, 0.1))[-1]
    mo.md(
        rf"""
        ## Rounding, noise and measurement error

        Every operation adds a relative error of up to $u$, and errors accumulate. Adding
        `0.1` to a running total one million times gives **{float(_seq):.2f}** in float32 and
        **{float(_seq64):.10f}** in float64, against the exact $10^5$ (for the float32 `0.1`,
        which is itself not one tenth). Rounding is not the only error: data come from
        measurements with their own noise, often $10^{{-3}}$ or worse, and training uses noisy
        minibatch gradients. A useful question is always *which* error dominates: in float64,
        rounding is usually negligible next to noise; in float16 (epsilon about $10^{{-3}}$) it is
        the same size; in 8-bit formats it dominates.
        """
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Hard landscapes in many dimensions

    Training minimizes a loss over millions of parameters. At a critical point
    ($\nabla f = 0$) the Hessian decides its type: a minimum needs **every** eigenvalue to be
    positive. For a random symmetric matrix that becomes exponentially unlikely as the
    dimension grows, so most critical points of a high-dimensional landscape are saddles,
    where gradient methods slow to a crawl. The plot samples random symmetric "Hessians"
    and counts how often all eigenvalues are positive.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    land_dim = mo.ui.slider(1, 10, step=1, value=4, label="dimension", show_value=True)
    land_dim
    return (land_dim,)


@app.cell(hide_code=True)
def _(ch01, go, land_dim, mo, np):
    _dims = np.arange(1, 11)
    _fractions = [ch01.fraction_of_minima(int(d), 20_000, rng=np.random.default_rng(int(d)))
                  for d in _dims]
    _fig = go.Figure(go.Scatter(x=_dims, y=np.maximum(_fractions, 1e-5), mode="lines+markers",
                                name="fraction of minima"))
    _chosen = _fractions[land_dim.value - 1]
    _fig.add_trace(go.Scatter(x=[land_dim.value], y=[max(_chosen, 1e-5)], mode="markers",
                              marker=dict(size=14, color="crimson"), name="chosen dimension"))
    _fig.update_layout(yaxis_type="log", xaxis_title="dimension",
                       yaxis_title="fraction with all eigenvalues > 0 (floored at 1e-5)",
                       height=320, margin=dict(l=10, r=10, t=20, b=10))
    mo.vstack([
        _fig,
        mo.md(f"In **{land_dim.value}** dimensions, {_chosen:.4%} of 20,000 random critical "
              f"points are minima; the rest are saddles or maxima."),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Why deep learning is especially exposed

    - **Long chains of multiplications.** A deep network multiplies its input by one weight
      matrix per layer, and backpropagation multiplies gradients the same way. If each layer
      scales the signal by a factor $g$, after $L$ layers it is scaled by $g^L$: it *vanishes*
      to 0 or *explodes* to inf, and the narrow formats get there first.
    - **Exponentials everywhere.** Softmax, sigmoid, log-likelihoods and attention all
      exponentiate; $e^{x}$ overflows float16 already at $x \approx 11.1$.
    - **Tiny probabilities.** A confident classifier assigns $10^{-30}$ to wrong classes; a
      sequence model multiplies thousands of probabilities (Experiment 1).
    - **Low precision on purpose.** float16, bfloat16 and fp8 are used for speed and memory,
      shrinking both range and precision.
    """)
    return


@app.cell(hide_code=True)
def _(DTYPES, mo):
    chain_depth = mo.ui.slider(5, 100, step=5, value=50, label="depth L", show_value=True)
    chain_gain = mo.ui.slider(0.5, 2.0, step=0.05, value=1.5, label="gain per layer g",
                              show_value=True)
    chain_dtype = mo.ui.dropdown(DTYPES, value="float16", label="format")
    mo.hstack([chain_depth, chain_gain, chain_dtype], justify="start", gap=2)
    return chain_depth, chain_dtype, chain_gain


@app.cell(hide_code=True)
def _(ch01, chain_depth, chain_dtype, chain_gain, go, mo, np):
    _scales = ch01.activation_scales(chain_depth.value, chain_gain.value, dtype=chain_dtype.value,
                                      rng=np.random.default_rng(0))
    _ref = ch01.activation_scales(chain_depth.value, chain_gain.value, dtype="float64",
                                   rng=np.random.default_rng(0))
    _layers = np.arange(1, chain_depth.value + 1)
    _shown = np.where(np.isfinite(_scales) & (_scales > 0), _scales, np.nan)
    _fig = go.Figure([
        go.Scatter(x=_layers, y=_ref, name="float64", line=dict(color="black", dash="dash")),
        go.Scatter(x=_layers, y=_shown, name=chain_dtype.value, mode="lines+markers"),
    ])
    _fig.update_layout(yaxis_type="log", xaxis_title="layer", yaxis_title="RMS activation",
                       height=320, margin=dict(l=10, r=10, t=20, b=10))
    _bad = np.flatnonzero(~np.isfinite(_scales) | (_scales == 0))
    if _bad.size:
        _what = "inf or nan" if not np.isfinite(_scales[_bad[0]]) else "exactly 0"
        _msg = (f"In {chain_dtype.value} the activations become **{_what} at layer "
                f"{_bad[0] + 1}**; float64 still holds {_ref[_bad[0]]:.3g} there.")
    else:
        _msg = (f"In {chain_dtype.value} the activations stay in range: the last layer's RMS is "
                f"{_scales[-1]:.3g} (float64: {_ref[-1]:.3g}).")
    mo.vstack([_fig, mo.md(_msg)])
    return


@app.cell(hide_code=True)
def _(mo, naive, np):
    _rows = []
    for _s in (1.0, 10.0, 11.0, 12.0, 100.0, 1000.0):
        _x16 = naive.softmax(np.full(3, _s, dtype=np.float16))
        _x64 = naive.softmax(np.full(3, _s))
        _rows.append(f"| {_s:g} | {float(_x16[0]):.6g} | {float(_x64[0]):.6g} |")
    _table = "| s | float16 | float64 |\n|---|---|---|\n" + "\n".join(_rows)
    mo.md(
        r"The textbook softmax $e^{x_i} / \sum_j e^{x_j}$ of three equal scores $[s, s, s]$ "
        r"should be $1/3$ for every $s$. Computed as written, `naive.softmax` gives:"
        + "\n\n" + _table + "\n\n"
        + r"It returns `nan` as soon as $e^s$ overflows (and in float16 the sum overflows first, "
        r"giving 0). Chapter 4 derives the fix."
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Failures are silent

    Numerical failures rarely raise exceptions. They show up as:

    - **NaN or Inf** in a loss or a weight, which then spreads to everything it touches;
    - **zero or undefined gradients**: an underflowed probability, a saturated sigmoid, a
      `log(0)` whose gradient is infinite;
    - **divergence**: a loss that grows until it overflows;
    - **training that looks converged while learning nothing**: the loss curve flattens,
      nothing warns, and the model is far from its optimum.

    The last one is the hardest to spot. Below, gradient descent fits a linear regression
    whose weights are *stored* in the chosen formats (the gradient is computed in float32).
    The weights are near 100, where float16's spacing is 0.0625 and bfloat16's is 0.5: once
    `lr * gradient` is less than half that spacing, the update rounds away and the weight
    does not move.
    """)
    return


@app.cell(hide_code=True)
def _(DTYPES, mo):
    train_lr = mo.ui.slider(0.002, 0.2, step=0.002, value=0.01, label="learning rate",
                            show_value=True)
    train_dtypes = mo.ui.multiselect(DTYPES, value=["float32", "float16", "bfloat16"],
                                     label="weights stored in")
    mo.hstack([train_lr, train_dtypes], justify="start", gap=2)
    return train_dtypes, train_lr


@app.cell(hide_code=True)
def _(COLORS, ch01, go, mo, np, train_dtypes, train_lr):
    training = {
        _name: ch01.train_linear_regression(_name, train_lr.value, 400, rng=np.random.default_rng(3))
        for _name in (train_dtypes.value or ["float32"])
    }
    _fig = go.Figure()
    for _name, _run in training.items():
        _fig.add_trace(go.Scatter(y=_run.losses, name=_name, line=dict(color=COLORS[_name])))
    _fig.update_layout(yaxis_type="log", xaxis_title="step", yaxis_title="mean squared error",
                       height=340, margin=dict(l=10, r=10, t=20, b=10))
    _lines = [
        f"| {_name} | {_run.final_loss:.4g} | {np.mean(_run.lost_updates[-50:]):.0%} |"
        for _name, _run in training.items()
    ]
    mo.vstack([
        _fig,
        mo.md("| weights in | loss after 400 steps | updates rounded away (last 50 steps) |\n"
              "|---|---|---|\n" + "\n".join(_lines)),
    ])
    return (training,)


@app.cell(hide_code=True)
def _(mo, training):
    _finals = {name: run.final_loss for name, run in training.items()}
    _best = min(_finals, key=_finals.get)
    _worst = max(_finals, key=_finals.get)
    mo.md(
        f"""
        With this learning rate, weights stored in **{_worst}** stop at a loss of
        {_finals[_worst]:.3g}, {_finals[_worst] / max(_finals[_best], 1e-300):.2g} times the
        {_best} result ({_finals[_best]:.3g}). No NaN appeared and no warning was raised: the
        loss curve simply went flat. (When float32 itself stops improving, it has reached the
        limit of its precision near the true minimum, which is a different story.) This is why
        mixed-precision training keeps a float32 *master copy* of the weights (chapter 7).
        """
    )
    return


@app.cell(hide_code=True)
def _(ch01, show_source):
    show_source(ch01.train_linear_regression)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Why it matters in practice

    - **Debugging.** A NaN at step 30,000 usually started as an overflow or a `log(0)` in
      one operation; knowing the failure modes tells you where to look (chapter 6).
    - **Performance.** Lower precision is faster and smaller, but only if the numbers still
      fit; choosing formats is a numerical decision (chapter 7).
    - **Convergence.** Conditioning decides how fast gradient descent can go, and rounding
      decides how close it can get (chapters 2c and 3).
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises

    Each exercise runs your code in a separate process on every case below the editor,
    hostile inputs included, and tells you which cases fail and why. Hints come one at a
    time; the worked solution is offered after three attempts, or at once if you ask.
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter01, mo):
    ex1 = ExercisePanel(chapter01.SEQUENCE_LOG_PROB)
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
def _(ExercisePanel, chapter01, mo):
    ex2 = ExercisePanel(chapter01.PERPLEXITY)
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
        "Floats are a finite subset of the reals: every operation rounds, and range is limited "
        "at both ends (overflow to inf, underflow to 0).",
        "Products of many probabilities underflow; sums of logs do not. Work in the log domain.",
        "Some problems amplify input errors by their condition number, whatever the algorithm.",
        "Deep learning is exposed because it chains many multiplications, exponentiates "
        "constantly, handles tiny probabilities and uses low-precision formats on purpose.",
        "Failures are usually silent: NaN spreading, zero gradients, divergence, or a loss "
        "that goes flat far from the optimum because updates round away.",
    )
    return


if __name__ == "__main__":
    app.run()
