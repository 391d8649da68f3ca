import marimo

__generated_with = "0.25.2"
app = marimo.App(
    width="medium",
    app_title="4 · Softmax, log-sum-exp and the log domain",
)


@app.cell(hide_code=True)
def _():
    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go

    import numdl
    from numdl import naive
    from numdl.exercises import chapter04
    from numdl.floats import as_dtype
    from numdl.tutorial.simulations import ch04
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    FOUR = ["float64", "float32", "float16", "bfloat16"]
    IMPL_COLORS = {"naive": "#d62728", "max-shift": "#ff7f0e", "numdl": "#1f77b4"}
    return (
        ExercisePanel,
        FOUR,
        IMPL_COLORS,
        as_dtype,
        ch04,
        chapter04,
        go,
        mo,
        naive,
        np,
        numdl,
        show_source,
        takeaways,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 4 · Softmax, log-sum-exp and the log domain

    Softmax turns scores into probabilities, and its logarithm is the heart of every
    classification and language-model loss. Written as in the textbook, both fail on ordinary
    inputs. This chapter derives the standard fix, shows where even the standard fix loses
    accuracy, and measures every version against the exact answer.

    **By the end of this chapter you will be able to**

    - explain why $\sum_i e^{z_i}$ is the most common unstable expression in deep learning;
    - derive the log-sum-exp identity and say why the shift $a = \max_i z_i$ is the right one;
    - compute softmax and log_softmax stably, and log_softmax directly rather than as log(softmax);
    - work in the log domain instead of multiplying probabilities;
    - say when adding an epsilon helps and what bias it introduces.
    """)
    return


@app.cell(hide_code=True)
def _(mo, np):
    with np.errstate(all="ignore"):
        _big = np.sum(np.exp(np.array([1000.0, 0.0])))
        _small = np.sum(np.exp(np.array([-1000.0, -1001.0])))
        _log_small = np.log(_small)
    mo.md(rf"""
    ## The most common unstable expression

    $S = \sum_i e^{{z_i}}$ appears in softmax, log-likelihoods, attention, mixture models and
    partition functions. **One** large $z_i$ overflows it: for $z = [1000, 0]$, NumPy gives
    $S$ = `{float(_big)}`. **All** very negative $z_i$ underflow it: for $z = [-1000, -1001]$,
    $S$ = `{float(_small)}` and $\log S$ = `{float(_log_small)}`, although
    $\log S \approx -999.69$ is an ordinary number.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    derive_next = mo.ui.button(value=0, on_click=lambda n: n + 1, label="Show the next step")
    derive_next
    return (derive_next,)


@app.cell(hide_code=True)
def _(derive_next, mo):
    STEPS = [
        r"Start from the sum: $\displaystyle \sum_i e^{z_i}$.",
        r"Multiply and divide each term by $e^{a}$, for any number $a$: "
        r"$\displaystyle \sum_i e^{z_i} = \sum_i e^{a}\, e^{z_i - a}$.",
        r"$e^{a}$ does not depend on $i$, so it factors out: "
        r"$\displaystyle \sum_i e^{z_i} = e^{a} \sum_i e^{z_i - a}$.",
        r"Take logarithms of both sides; the log of a product is the sum of the logs: "
        r"$\displaystyle \log \sum_i e^{z_i} = \log e^{a} + \log \sum_i e^{z_i - a}$.",
        r"Since $\log e^{a} = a$: $\displaystyle \log \sum_i e^{z_i} = a + \log \sum_i e^{z_i - a}$. "
        r"This holds for **every** $a$; the choice $a = \max_i z_i$ makes it safe (next section).",
    ]
    _shown = min(derive_next.value + 1, len(STEPS))
    _items = "\n".join(f"{k + 1}. {s}" for k, s in enumerate(STEPS[:_shown]))
    _more = "" if _shown == len(STEPS) else f"\n\n*Step {_shown} of {len(STEPS)}: press the button.*"
    mo.md("## The log-sum-exp identity, step by step\n\n" + _items + _more)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Why the shift is the maximum

    With $a = \max_i z_i$, every exponent $z_i - a$ is $\le 0$, so every term $e^{z_i - a}$ is
    in $(0, 1]$: **nothing overflows**. The largest term is exactly $e^0 = 1$, so the sum is at
    least 1: it **cannot underflow to 0**, and its logarithm is between 0 and $\log n$. Terms
    that do underflow are at most $e^{-745}$ times the largest one in float64: they could not
    have changed the sum anyway. Type any scores:
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    shift_text = mo.ui.text(value="1000, 999, 990, -50", label="scores z", full_width=True)
    shift_text
    return (shift_text,)


@app.cell(hide_code=True)
def _(mo, naive, np, numdl, shift_text):
    try:
        shift_z = np.array([float(v) for v in shift_text.value.replace(";", ",").split(",") if v.strip()])
        _err = None if shift_z.size else "type at least one number"
    except ValueError:
        shift_z, _err = np.array([0.0]), f"`{shift_text.value}` is not a list of numbers"
    if _err:
        _out = mo.callout(mo.md(_err), kind="warn")
    else:
        _a = np.max(shift_z)
        with np.errstate(all="ignore"):
            _terms = np.exp(shift_z - _a)
            _naive = naive.logsumexp(shift_z)
        _rows = "\n".join(f"| {z:g} | {z - _a:g} | {t:.6g} |" for z, t in zip(shift_z, _terms))
        _out = mo.md(
            f"a = max z = {_a:g}\n\n| z_i | z_i - a | e^(z_i - a) |\n|---|---|---|\n{_rows}\n\n"
            f"The shifted sum is **{float(np.sum(_terms)):.6g}** (between 1 and {shift_z.size}); "
            f"a + log(sum) = **{float(numdl.logsumexp(shift_z))!r}**, while the unshifted "
            f"log(sum(exp(z))) gives `{float(_naive)}`."
        )
    _out
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Stable softmax, and log_softmax computed directly

    The same factor cancels from softmax's numerator and denominator:

    $$\operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}
      = \frac{e^{a} e^{z_i - a}}{e^{a} \sum_j e^{z_j - a}}
      = \frac{e^{z_i - a}}{\sum_j e^{z_j - a}} .$$

    For the loss we need $\log \operatorname{softmax}$. Taking the log of a computed softmax is
    a mistake: a probability that underflowed to 0 gives $-\infty$, and a probability that
    rounded to 1 gives exactly 0. Instead,

    $$\log \operatorname{softmax}(z)_i = z_i - \log \sum_j e^{z_j} = (z_i - a) - \log \sum_j e^{z_j - a}.$$

    One case still fails: a **confident** prediction. If $z = [40, 0, 0]$, the top class has
    $\log p = -\log(1 + 2e^{-40}) \approx -8.5 \times 10^{-18}$, and $\log(1 + 8.5\times10^{-18})$
    rounds to $\log(1) = 0$: the loss of a confident, correct prediction is reported as exactly
    0 and its gradient information is gone. numdl writes the sum as $1 + s$ with
    $s = \sum_{j \ne \arg\max} e^{z_j - a}$ and uses $\operatorname{log1p}(s)$, which keeps
    every digit of a tiny $s$ (Blanchard, Higham and Higham, 2021).
    """)
    return


@app.cell(hide_code=True)
def _(FOUR, ch04, mo):
    cmp_kind = mo.ui.dropdown(list(ch04.FUNCTIONS), value="log_softmax", label="function")
    cmp_preset = mo.ui.dropdown(list(ch04.PRESETS), value="confident class", label="input")
    cmp_magnitude = mo.ui.slider(1, 1200, step=1, value=40, label="magnitude", show_value=True)
    cmp_dtype = mo.ui.dropdown(FOUR, value="float64", label="format")
    mo.vstack([
        mo.md(r"""
    ## Side by side against the exact answer

    Choose a function, an input family and its magnitude, and a format. Each implementation's
    output is shown next to the exact value (mpmath on the exact binary inputs, rounded once),
    with its worst error in ULPs: **0 is the correctly rounded answer**, 1 the float next to it.
    *naive* is the textbook formula, *max-shift* the usual fix (as in most tutorials), *numdl*
    the library.
    """),
        mo.hstack([cmp_kind, cmp_preset, cmp_magnitude, cmp_dtype], justify="start", gap=2, wrap=True),
    ])
    return cmp_dtype, cmp_kind, cmp_magnitude, cmp_preset


@app.cell(hide_code=True)
def _(ch04, cmp_dtype, cmp_kind, cmp_magnitude, cmp_preset, mo, np):
    cmp_x = ch04.preset_input(cmp_preset.value, cmp_magnitude.value, 4, cmp_dtype.value,
                              rng=np.random.default_rng(0))
    comparison = ch04.compare(cmp_kind.value, cmp_x)

    def _fmt(v):
        v = np.atleast_1d(np.asarray(v, dtype=np.float64))
        return "[" + ", ".join(f"{e:.6g}" for e in v) + "]"

    _rows = [f"| exact | {_fmt(comparison.exact)} | 0 |"]
    for _name, _out in comparison.outputs.items():
        _e = comparison.ulp_errors[_name]
        _rows.append(f"| {_name} | {_fmt(_out)} | {'inf (wrong nan/inf/0)' if not np.isfinite(_e) else f'{_e:.3g}'} |")
    mo.md(
        f"input x = {_fmt(cmp_x)} ({cmp_x.dtype.name})\n\n"
        "| implementation | output | worst error (ULP) |\n|---|---|---|\n" + "\n".join(_rows)
    )
    return


@app.cell(hide_code=True)
def _(IMPL_COLORS, ch04, cmp_dtype, cmp_kind, cmp_preset, go, np):
    _mags = np.unique(np.round(np.logspace(0, np.log10(1200), 60)))
    # the same draw as the input above ("random"), scaled by each magnitude
    sweep = ch04.error_sweep(cmp_kind.value, cmp_preset.value, _mags, 4, cmp_dtype.value,
                             rng=np.random.default_rng(0))
    _cap = 1e17
    _fig = go.Figure()
    for _name, _color in IMPL_COLORS.items():
        _e = np.where(np.isfinite(sweep[_name]), sweep[_name], _cap)
        _fig.add_trace(go.Scatter(x=sweep["magnitude"], y=np.maximum(_e, 0.1), mode="lines+markers",
                                  name=_name, line=dict(color=_color)))
    _fig.update_layout(xaxis_type="log", yaxis_type="log", xaxis_title="magnitude",
                       yaxis_title="worst error in ULP (0 drawn at 0.1; nan/inf at 1e17)",
                       title=f"{cmp_kind.value} on '{cmp_preset.value}' inputs, {cmp_dtype.value}",
                       height=380, margin=dict(l=10, r=10, t=40, b=10))
    _fig
    return (sweep,)


@app.cell(hide_code=True)
def _(cmp_dtype, cmp_kind, cmp_preset, mo, np, sweep):
    def _worst(name):
        e = sweep[name]
        return "fails (nan, inf or 0 where the answer is finite)" if not np.all(np.isfinite(e)) else f"{np.max(e):.3g} ULP"

    mo.md(f"""
    Across magnitudes 1 to 1200 of *{cmp_preset.value}* inputs in {cmp_dtype.value}, the worst
    error of {cmp_kind.value} is: naive {_worst('naive')}; max-shift {_worst('max-shift')};
    numdl {_worst('numdl')}. Try *random* inputs with softmax: the max-shift loses accuracy as
    the magnitude grows, because $z_i - a$ is rounded before it is exponentiated, and an
    absolute error $\\delta$ in an exponent is a relative error $\\delta$ in the result.
    """)
    return


@app.cell(hide_code=True)
def _(ch04, show_source):
    show_source(ch04.compare, ch04.preset_input)
    return


@app.cell(hide_code=True)
def _(mo, np, numdl):
    _la, _lb = -1000.0, -1001.0
    with np.errstate(all="ignore"):
        _naive = np.log(np.exp(_la) + np.exp(_lb))
    _good = numdl.logaddexp(_la, _lb)
    _chain = np.full(5000, np.log(0.3))
    mo.md(rf"""
    ## The log domain

    Probabilities of long sequences, likelihoods of large datasets and posterior weights are
    stored as **log-probabilities**: products become sums ($\log pq = \log p + \log q$, never
    underflowing — chapter 1's sequence of {len(_chain):,} tokens has log-probability
    {float(np.sum(_chain)):.1f}), and sums become log-sum-exps:
    $\log(p + q) = \operatorname{{logaddexp}}(\log p, \log q)$. Adding $p = e^{{-1000}}$ and
    $q = e^{{-1001}}$ naively gives `{float(_naive)}`; `numdl.logaddexp` gives
    `{float(_good)!r}`. Exponentiate only at the very end, if at all.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Epsilon: where it helps and what it costs

    A common patch is `log(p + eps)` or `x / (s + eps)`. It does prevent $\log 0$ and division
    by 0, but it changes the answer: $\log(p + \varepsilon) \ne \log p$, badly so when $p$ is
    near or below $\varepsilon$, and its gradient $1/(p + \varepsilon)$ saturates at
    $1/\varepsilon$ exactly where the loss should push hardest. And in a narrow format the eps
    may not exist at all.
    """)
    return


@app.cell(hide_code=True)
def _(FOUR, mo):
    eps_logp = mo.ui.slider(-40, 0, step=1, value=-12, label="log10 p (the true probability)", show_value=True)
    eps_value = mo.ui.dropdown(["1e-12", "1e-8", "1e-7", "1e-5", "1e-3"], value="1e-8", label="eps")
    eps_dtype = mo.ui.dropdown(FOUR[:3], value="float32", label="format")
    mo.hstack([eps_logp, eps_value, eps_dtype], justify="start", gap=2, wrap=True)
    return eps_dtype, eps_logp, eps_value


@app.cell(hide_code=True)
def _(as_dtype, eps_dtype, eps_logp, eps_value, mo, np):
    _dt = as_dtype(eps_dtype.value)
    _p = np.asarray(10.0 ** eps_logp.value, dtype=np.float64).astype(_dt)
    eps_stored = np.asarray(float(eps_value.value), dtype=np.float64).astype(_dt)
    with np.errstate(all="ignore"):
        eps_result = np.log(_p + eps_stored)
        _plain = np.log(_p)
    _true = eps_logp.value * np.log(10.0)
    _bias = float(eps_result) - _true
    _note = ("" if eps_stored != 0 else
             f" In {_dt.name}, eps = {eps_value.value} **rounds to 0**: the patch does nothing, and "
             f"log(0) = -inf is back whenever p underflows.")
    mo.md(f"""
    | quantity | value |
    |---|---|
    | p stored in {_dt.name} | {float(_p):.4g} |
    | eps stored in {_dt.name} | {float(eps_stored):.4g} |
    | log p (exact) | {_true:.4f} |
    | log(p) computed | {float(_plain):.4f} |
    | log(p + eps) computed | {float(eps_result):.4f} (bias {_bias:+.4f}) |
    | gradient 1/p vs 1/(p + eps) | {10.0 ** -eps_logp.value:.3g} vs {1.0 / (float(_p) + float(eps_stored)) if (float(_p) + float(eps_stored)) > 0 else float('inf'):.3g} |

    {_note} The better practice: never form the probability you are about to take the log of.
    Compute `log_softmax` from logits (or the loss from logits, chapter 5a), and reserve eps for
    denominators that are genuinely near zero, with an eps chosen for the format.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter04, mo):
    ex1 = ExercisePanel(chapter04.STABLE_SOFTMAX)
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
def _(ExercisePanel, chapter04, mo):
    ex2 = ExercisePanel(chapter04.STABLE_LOGSUMEXP)
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
def _(ExercisePanel, chapter04, mo):
    ex3 = ExercisePanel(chapter04.STABLE_LOG_SOFTMAX)
    ex3_get, ex3_set = mo.state(ex3.initial_state())
    ex3_ui = ex3.controls()
    ex3.layout(ex3_ui)
    return ex3, ex3_get, ex3_set, ex3_ui


@app.cell(hide_code=True)
def _(ex3, ex3_set, ex3_ui):
    ex3.on_check(ex3_ui, ex3_set)
    return


@app.cell(hide_code=True)
def _(ex3, ex3_get, ex3_ui):
    ex3.view(ex3_ui, ex3_get())
    return


@app.cell(hide_code=True)
def _(takeaways):
    takeaways(
        "A sum of exponentials overflows if one term is large and underflows if all are very "
        "negative: never evaluate it as written.",
        "log sum e^z = a + log sum e^(z - a) for any a; with a = max z every term is at most 1 and "
        "the sum is at least 1.",
        "softmax(z) = softmax(z - max z); compute log_softmax directly as z - logsumexp(z), never "
        "as log(softmax(z)).",
        "Even the max-shift rounds a confident class's log-probability to 0: log1p of the other "
        "terms keeps it; measure against an exact reference to see such losses.",
        "Work in the log domain (sums of logs, logaddexp); an epsilon biases results and can "
        "round to 0 in float16.",
    )
    return


if __name__ == "__main__":
    app.run()
