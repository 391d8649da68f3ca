import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="5a · Stable cross-entropy")


@app.cell(hide_code=True)
def _():
    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go

    import numdl
    from numdl import naive, reference
    from numdl.exercises import chapter05a
    from numdl.tutorial.simulations import ch05a
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    IMPL_COLORS = {"naive": "#d62728", "max-shift": "#ff7f0e", "numdl": "#1f77b4"}
    try:  # optional: shown beside numdl when installed
        import torch
        import torch.nn.functional as F
    except ImportError:
        torch = F = None
    return (
        ExercisePanel,
        F,
        IMPL_COLORS,
        ch05a,
        chapter05a,
        go,
        mo,
        naive,
        np,
        numdl,
        reference,
        show_source,
        takeaways,
        torch,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 5a · Stable cross-entropy

    Cross-entropy is the loss of nearly every classifier and language model. It is a
    logarithm of a softmax, so it inherits every failure of chapter 4, and adds its own:
    the loss of a confidently **wrong** prediction becomes `inf`, the loss of a confidently
    **right** one becomes exactly 0, and a masked class turns the whole batch into `nan`.

    **By the end of this chapter you will be able to**

    - write cross-entropy in terms of logits and say why probabilities must never be formed first;
    - compute binary cross-entropy from logits without overflow, underflow or `0 * log 0`;
    - explain label smoothing and compute it stably;
    - handle masked (-inf) logits so that they contribute exactly 0;
    - measure a loss implementation against the exact value across the full range of margins.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## From probabilities, or from logits

    For logits $z$ and a true class $t$, the loss is
    $\;L = -\log \operatorname{softmax}(z)_t = \operatorname{logsumexp}(z) - z_t .$
    The first form computes a probability and then its log: a probability that underflowed
    gives $-\log 0 = \infty$, one that rounded to 1 gives exactly 0. The second form never
    forms the probability. With $a = \max z$ it is $(a - z_t) + \log \sum_j e^{z_j - a}$,
    and when $t$ is the top class it is $\operatorname{log1p}\big(\sum_{j \ne t} e^{z_j - z_t}\big)$,
    which keeps a tiny loss tiny instead of 0.

    Below, the true class leads all other logits by a *margin* (negative: it trails them).
    The exact loss is $\log(1 + (n - 1)e^{-\text{margin}})$.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    ce_margin = mo.ui.slider(-1000, 1000, step=1, value=50, label="margin of the true class", show_value=True)
    ce_classes = mo.ui.slider(2, 1000, step=1, value=10, label="classes", show_value=True)
    ce_dtype = mo.ui.dropdown(["float64", "float32"], value="float64", label="format")
    mo.hstack([ce_margin, ce_classes, ce_dtype], justify="start", gap=2, wrap=True)
    return ce_classes, ce_dtype, ce_margin


@app.cell(hide_code=True)
def _(ce_classes, ce_dtype, ce_margin, ch05a, mo, np):
    ce_point = ch05a.cross_entropy_margin_sweep([ce_margin.value], ce_classes.value, ce_dtype.value)

    def _cell(name):
        v, e = ce_point[name][0], ce_point[name + " ulp"][0]
        verdict = "correctly rounded" if e == 0 else ("wrong: nan/inf/0" if not np.isfinite(e) or e > 1e6 else f"{e:.3g} ULP off")
        return f"| {name} | {v:.6g} | {verdict} |"

    mo.md(
        f"With margin {ce_margin.value} over {ce_classes.value} classes in {ce_dtype.value}, the "
        f"exact loss is **{ce_point['exact'][0]:.6g}**.\n\n"
        "| implementation | loss | accuracy |\n|---|---|---|\n"
        + "\n".join(_cell(n) for n in ("naive", "max-shift", "numdl"))
        + "\n\n*naive* takes the log of the softmax probability; *max-shift* computes "
        "logsumexp(z) - z_t with the usual shift; *numdl* is `numdl.cross_entropy`."
    )
    return


@app.cell(hide_code=True)
def _(IMPL_COLORS, ce_classes, ce_dtype, ch05a, go, np):
    _m = np.linspace(-1000, 1000, 401)
    ce_sweep = ch05a.cross_entropy_margin_sweep(_m, ce_classes.value, ce_dtype.value)
    _fig = go.Figure()
    _fig.add_trace(go.Scatter(x=_m, y=np.maximum(ce_sweep["exact"], 1e-320), name="exact",
                              line=dict(color="black", dash="dash")))
    for _name, _color in IMPL_COLORS.items():
        _y = ce_sweep[_name]
        _y = np.where(np.isfinite(_y) & (_y > 0), _y, np.nan)
        _fig.add_trace(go.Scatter(x=_m, y=_y, name=_name, mode="lines", line=dict(color=_color)))
    _fig.update_layout(yaxis_type="log", xaxis_title="margin of the true class",
                       yaxis_title="loss (gaps: 0, nan or inf)", height=380,
                       margin=dict(l=10, r=10, t=20, b=10))
    _fig
    return (ce_sweep,)


@app.cell(hide_code=True)
def _(ce_dtype, ce_sweep, mo, np):
    def _first_wrong(name):
        bad = (ce_sweep[name + " ulp"] > 1e6) | ~np.isfinite(ce_sweep[name + " ulp"])
        good_margin = ce_sweep["margin"][(ce_sweep["margin"] > 0) & bad]
        return f"{good_margin.min():.0f}" if good_margin.size else "never"

    mo.md(f"""
    On this sweep ({ce_dtype.value}), a confidently right prediction is reported as a loss of 0
    (or `nan`) from margin **{_first_wrong('naive')}** by the naive loss and from margin
    **{_first_wrong('max-shift')}** by the max-shift; numdl stays within
    **{float(np.max(ce_sweep['numdl ulp'])):.0f} ULP** of the exact loss at every margin.
    The naive loss also becomes `inf` for
    confidently wrong predictions (where the plot's red line is missing on the left). A loss of
    exactly 0 is not harmless: its gradient is 0, so the example stops teaching the model
    anything about its confidence.
    """)
    return


@app.cell(hide_code=True)
def _(ch05a, show_source):
    show_source(ch05a.cross_entropy_margin_sweep)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Binary cross-entropy with logits

    For a logit $x$ and a target $y \in [0, 1]$, with $p = \sigma(x) = 1/(1 + e^{-x})$,
    $L = -y \log p - (1 - y)\log(1 - p)$. Computed from $p$: $\sigma(x)$ rounds to exactly 1 for
    $x \gtrsim 37$ in float64 (17 in float32), so $\log(1 - p) = -\infty$; and $0 \cdot (-\infty)$
    is `nan`. In terms of the logit it is

    $$L = \operatorname{softplus}(x) - y\,x = \max(x, 0) - y\,x + \operatorname{log1p}(e^{-|x|}),$$

    which has no overflow, no $\log 0$ and no cancellation for $|x|$ up to the largest float.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    bce_x = mo.ui.slider(-1000, 1000, step=1, value=-40, label="logit x", show_value=True)
    bce_y = mo.ui.dropdown(["0", "0.5", "1"], value="0", label="target y")
    mo.hstack([bce_x, bce_y], justify="start", gap=2)
    return bce_x, bce_y


@app.cell(hide_code=True)
def _(F, bce_x, bce_y, mo, naive, np, numdl, reference, torch):
    _x = np.array([float(bce_x.value)])
    _y = np.array([float(bce_y.value)])
    bce_exact = float(np.asarray(reference.binary_cross_entropy_with_logits(_x, _y, reduction="none"))[0])
    bce_numdl = float(np.asarray(numdl.binary_cross_entropy_with_logits(_x, _y, reduction="none"))[0])
    bce_naive = float(naive.binary_cross_entropy(_x, _y))
    _rows = [f"| exact | {bce_exact:.6g} |", f"| from sigmoid probabilities | {bce_naive:.6g} |",
             f"| numdl.binary_cross_entropy_with_logits | {bce_numdl:.6g} |"]
    if torch is not None:
        _t = float(F.binary_cross_entropy_with_logits(torch.tensor(_x), torch.tensor(_y), reduction="none")[0])
        _rows.append(f"| torch binary_cross_entropy_with_logits | {_t:.6g} |")
    else:
        _rows.append("| torch | (not installed: `pip install torch==2.13.0`) |")
    mo.md("| implementation | loss |\n|---|---|\n" + "\n".join(_rows)
          + "\n\nTry x = -40, y = 0: the exact loss is about 4e-18; PyTorch's fused loss returns 0 "
          "there (somewhere in its formula 1 + 4e-18 rounds to 1 before a logarithm), numdl returns "
          "the exact value. Try x = 40, y = 0 and x = 1000: the probability form gives inf or nan.")
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Label smoothing

    Label smoothing trains against a softened target: the true class gets $1 - \varepsilon$ and
    every class (true one included) gets $\varepsilon / K$ more. The loss becomes
    $(1 - \varepsilon)\,L_{\text{CE}} + \frac{\varepsilon}{K}\sum_{c} \big(-\log \operatorname{softmax}(z)_c\big)$.
    The second term needs the log-probabilities of **every** class, including very unlikely
    ones: computed as `log(softmax)` they are $-\infty$ as soon as a probability underflows, and
    the whole loss is `inf`. From `log_softmax` they are ordinary numbers. The loss of a
    perfectly confident prediction no longer goes to 0: smoothing puts a floor under it.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    ls_eps = mo.ui.slider(0.0, 0.3, step=0.01, value=0.1, label="smoothing ε", show_value=True)
    ls_margin = mo.ui.slider(0, 2000, step=10, value=800, label="margin of the true class", show_value=True)
    mo.hstack([ls_eps, ls_margin], justify="start", gap=2)
    return ls_eps, ls_margin


@app.cell(hide_code=True)
def _(ls_eps, ls_margin, mo, naive, np, numdl, reference):
    _z = np.zeros((1, 5))
    _z[0, 0] = ls_margin.value
    _t = np.array([0])
    ls_numdl = float(numdl.cross_entropy(_z, _t, label_smoothing=ls_eps.value))
    ls_exact = float(reference.cross_entropy(_z, _t, label_smoothing=ls_eps.value))
    _k = _z.shape[1]
    _smooth = np.full((1, _k), ls_eps.value / _k)
    _smooth[0, 0] += 1 - ls_eps.value
    ls_naive = float(naive.cross_entropy_probabilities(_z, _smooth))
    mo.md(f"""
    | implementation | smoothed loss |
    |---|---|
    | exact | {ls_exact:.6g} |
    | numdl.cross_entropy(..., label_smoothing={ls_eps.value:g}) | {ls_numdl:.6g} |
    | from probabilities, with the smoothed target | {ls_naive:.6g} |

    With 5 classes and a margin of {ls_margin.value}, the smoothed loss is about
    ε·(K-1)/K·margin = {ls_eps.value * 4 / 5 * ls_margin.value:.4g}: the model is penalized for
    confidence beyond what the smoothed target allows.
    """)
    return


@app.cell(hide_code=True)
def _(F, mo, naive, np, numdl, reference, torch):
    _z = np.array([[2.0, -np.inf, 1.0], [0.5, 0.1, -np.inf]])
    _p = np.array([[0.7, 0.0, 0.3], [0.5, 0.5, 0.0]])
    mask_numdl = float(numdl.cross_entropy(_z, _p))
    mask_exact = float(reference.cross_entropy(_z, _p))
    mask_naive = float(naive.cross_entropy_probabilities(_z, _p))
    _torch_loss = (f"{float(F.cross_entropy(torch.tensor(_z), torch.tensor(_p))):.6g}"
                   if torch is not None else "(torch not installed)")
    mo.md(rf"""
    ## Masked logits

    Attention masks and constrained decoding set forbidden logits to $-\infty$, so their
    probability is exactly 0. With a probability target that gives those classes weight 0, the
    loss term is $0 \cdot \log 0 = 0 \cdot (-\infty)$, which IEEE arithmetic makes `nan`, and one
    `nan` poisons the mean of the batch. The right value is 0: the limit of $p \log p$.
    For the batch of logits `[[2, -inf, 1], [0.5, 0.1, -inf]]` with targets
    `[[0.7, 0, 0.3], [0.5, 0.5, 0]]`:

    | implementation | mean loss |
    |---|---|
    | exact | {mask_exact:.6g} |
    | numdl.cross_entropy | {mask_numdl:.6g} |
    | from probabilities | {mask_naive} |
    | torch cross_entropy | {_torch_loss} |
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercise
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter05a, mo):
    ex1 = ExercisePanel(chapter05a.STABLE_CROSS_ENTROPY)
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
def _(takeaways):
    takeaways(
        "Compute cross-entropy from logits: logsumexp(z) - z_t. Never take the log of a computed "
        "probability.",
        "A confidently right prediction has a tiny, nonzero loss: log1p of the other classes' "
        "terms keeps it; the usual max-shift returns exactly 0.",
        "Binary cross-entropy from logits: max(x, 0) - y x + log1p(e^-|x|).",
        "Label smoothing needs every class's log-probability: use log_softmax, not log(softmax).",
        "A masked (-inf) logit with zero target weight must contribute 0, not 0 * -inf = nan.",
    )
    return


if __name__ == "__main__":
    app.run()
