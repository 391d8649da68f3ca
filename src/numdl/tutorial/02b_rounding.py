import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="2b · Rounding errors")


@app.cell(hide_code=True)
def _():
    from fractions import Fraction

    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go

    from numdl import naive, stable
    from numdl.exercises import chapter02b
    from numdl.floats import FORMATS, as_dtype, decompose, format_info, summation
    from numdl.reference import round_to
    from numdl.tutorial.simulations import ch02b
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    NAMES = [np.dtype(d).name for d in FORMATS]
    FOUR = NAMES[:4]
    METHOD_COLORS = {"naive": "#d62728", "pairwise": "#ff7f0e", "kahan": "#2ca02c",
                     "neumaier": "#1f77b4"}
    return (
        ExercisePanel,
        FOUR,
        Fraction,
        METHOD_COLORS,
        NAMES,
        as_dtype,
        ch02b,
        chapter02b,
        decompose,
        format_info,
        go,
        mo,
        naive,
        np,
        round_to,
        show_source,
        stable,
        summation,
        takeaways,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 2b · Rounding errors

    Every floating-point operation returns the representable number nearest to the exact
    result. One rounding is tiny, at most the *unit roundoff* $u = \varepsilon/2$ in relative
    terms. But roundings can be *exposed* by a subtraction, *reordered* by a change of
    parenthesization, and *accumulated* over millions of operations. This chapter shows each
    effect live and then the fix.

    **By the end of this chapter you will be able to**

    - explain why `0.1` is not one tenth and why `(a + b) + c` differs from `a + (b + c)`;
    - predict catastrophic cancellation and rewrite a formula to avoid it;
    - measure errors in ULPs against an exact reference;
    - choose a summation method (naive, pairwise, Kahan, Neumaier) and order terms sensibly.
    """)
    return


@app.cell(hide_code=True)
def _(Fraction, decompose, mo):
    _x = 0.9999999999999999
    _d = decompose(_x, "float64")
    _computed = 1 - _x
    _exact_stored = 1 - Fraction(_x)
    _intended = 1 - Fraction("0.9999999999999999")
    _rel = abs(Fraction(_computed) - _intended) / _intended
    mo.md(f"""
    ## One rounding, exposed

    `1 - 0.9999999999999999` evaluates to `{_computed!r}`, not `1e-16`: an error of
    **{float(_rel):.1%}**. The subtraction itself is exact (two floats this close subtract
    without rounding); the damage was done earlier, when `0.9999999999999999` was stored. The
    nearest float64 is exactly

    `{_d.exact_decimal}`

    and 1 minus that is exactly `{float(_exact_stored)!r}`. A rounding of relative size $10^{{-16}}$
    in the input became a relative error of {float(_rel):.2g} in the output, because the
    subtraction removed all the leading digits the two numbers shared. That is *cancellation*.
    (You may read that this expression prints `0.0`: it does not. float64 has numbers this
    close to 1, and it is the *input* that was rounded, not the subtraction.)
    """)
    return


@app.cell(hide_code=True)
def _(FOUR, mo):
    assoc_a = mo.ui.text(value="0.1", label="a")
    assoc_b = mo.ui.text(value="0.2", label="b")
    assoc_c = mo.ui.text(value="0.3", label="c")
    mo.vstack([
        mo.md(r"""
    ## Addition is not associative

    Each addition rounds, so the grouping decides which roundings happen. Change the three
    numbers; each format evaluates both groupings (the decimal you type is rounded once to the
    format first):
    """),
        mo.hstack([assoc_a, assoc_b, assoc_c], justify="start", gap=2),
        mo.md(f"Formats compared: {', '.join(FOUR)}."),
    ])
    return assoc_a, assoc_b, assoc_c


@app.cell(hide_code=True)
def _(FOUR, Fraction, as_dtype, assoc_a, assoc_b, assoc_c, mo, np, round_to):
    try:
        _vals = [Fraction(v.value.strip()) for v in (assoc_a, assoc_b, assoc_c)]
        _error = None
    except (ValueError, ZeroDivisionError):
        _vals, _error = None, "Type three decimal numbers, e.g. 0.1, 0.2, 0.3 or 1e16, -1e16, 1."
    assoc_rows = {}
    if _vals:
        for _name in FOUR:
            _dt = as_dtype(_name)
            _a, _b, _c = (np.asarray(round_to(v, _name), dtype=_dt) for v in _vals)
            with np.errstate(all="ignore"):
                _left = (_a + _b) + _c
                _right = _a + (_b + _c)
            _exact = sum(Fraction(float(v)) for v in (_a, _b, _c))
            assoc_rows[_name] = (float(_left), float(_right), float(round_to(_exact, _name)))
    if _error:
        _out = mo.callout(mo.md(_error), kind="warn")
    else:
        _lines = [
            f"| {n} | `{l!r}` | `{r!r}` | `{e!r}` | {'same' if l == r else '**different**'} |"
            for n, (l, r, e) in assoc_rows.items()
        ]
        _out = mo.md("| format | (a + b) + c | a + (b + c) | exact sum, rounded once | |\n"
                     "|---|---|---|---|---|\n" + "\n".join(_lines))
    _out
    return


@app.cell(hide_code=True)
def _(Fraction, NAMES, decompose, mo):
    _rows = []
    for _name in NAMES:
        _d = decompose(Fraction(1, 10), _name)
        _err = (Fraction(_d.exact_fraction) - Fraction(1, 10)) / Fraction(1, 10)
        _rows.append(f"| {_name} | `{_d.exact_decimal}` | {float(_err):+.3g} |")
    mo.md(
        "## The exact value of 0.1 in each format\n\n"
        "One tenth has no finite binary expansion (0.000110011001100...), so every format stores "
        "a nearby binary fraction. Here is exactly what each one stores when you write `0.1`:\n\n"
        "| format | exact value stored | relative error |\n|---|---|---|\n" + "\n".join(_rows)
        + "\n\nThe relative error is at most the unit roundoff u: half of machine epsilon."
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Catastrophic cancellation

    When $a \approx b$, the difference $a - b$ is computed exactly, but $a$ and $b$ already carry
    rounding errors of size $u|a|$. Relative to the small result, that error is
    $u\,|a| / |a - b|$: it grows without bound as $a \to b$. A classic case is

    $$f(x) = \frac{1 - \cos x}{x^2} \;\xrightarrow[x \to 0]{}\; \frac12 ,$$

    where $\cos x \approx 1$ for small $x$. Its algebraically equal rewrite
    $1 - \cos x = 2 \sin^2(x/2)$ has no subtraction:

    $$f(x) = \frac{1}{2}\left(\frac{\sin(x/2)}{x/2}\right)^{2}.$$

    The plot measures both against the exact value (mpmath on the exact binary input), in
    **units in the last place** (ULP) of the format: 0.5 ULP is the best possible, a correctly
    rounded answer.
    """)
    return


@app.cell(hide_code=True)
def _(FOUR, mo):
    canc_dtype = mo.ui.dropdown(FOUR[:3], value="float64", label="format")
    canc_range = mo.ui.range_slider(-12, 3, step=1, value=[-10, 2], label="log10 x from, to",
                                    show_value=True)
    mo.hstack([canc_dtype, canc_range], justify="start", gap=2)
    return canc_dtype, canc_range


@app.cell(hide_code=True)
def _(canc_dtype, canc_range, ch02b, go, np):
    _lo, _hi = canc_range.value
    canc = ch02b.cancellation_errors(np.logspace(_lo, _hi, 400), canc_dtype.value)
    _cap = 1e17
    _fig = go.Figure()
    for _name, _color in (("naive", "#d62728"), ("stable", "#1f77b4")):
        _e = np.where(np.isfinite(canc[_name]), canc[_name], _cap)
        _fig.add_trace(go.Scatter(x=canc["x"], y=np.maximum(_e, 1e-2), mode="markers",
                                  marker=dict(size=4, color=_color), name=_name))
    _fig.update_layout(xaxis_type="log", yaxis_type="log", xaxis_title="x",
                       yaxis_title="error in ULP (nan or inf drawn at 1e17)",
                       height=360, margin=dict(l=10, r=10, t=20, b=10))
    _fig
    return (canc,)


@app.cell(hide_code=True)
def _(canc, canc_dtype, mo, np):
    # The x below which every naive result is more than 1000 ULP off.
    _ok = canc["naive"] <= 1e3
    _first = canc["x"][int(np.argmax(_ok))] if _ok.any() and not _ok[0] else None
    _stable_max = float(np.nanmax(canc["stable"]))
    _naive_max = float(np.nanmax(np.where(np.isfinite(canc["naive"]), canc["naive"], np.nan)))
    mo.md(f"""
    In **{canc_dtype.value}** on this range, the naive formula is off by up to
    {_naive_max:.3g} ULP{'' if _first is None else f' (over 1000 ULP for every x below about {_first:.2g})'};
    the rewrite stays within **{_stable_max:.2f} ULP** everywhere. Below roughly $\\sqrt{{u}}$,
    `cos(x)` rounds to exactly 1 and the naive result is 0: every digit is lost. The same
    cancellation hides in `log(1 + x)` and `exp(x) - 1` for small x, which is why NumPy has
    `log1p` and `expm1`.
    """)
    return


@app.cell(hide_code=True)
def _(mo, np):
    _x = np.array([1e-5, 1e-10, 1e-15])
    _rows = "\n".join(
        f"| {x:g} | `{float(np.log(1 + x))!r}` | `{float(np.log1p(x))!r}` | `{float(np.exp(x) - 1)!r}` "
        f"| `{float(np.expm1(x))!r}` |"
        for x in _x
    )
    mo.md("| x | log(1 + x) | log1p(x) | exp(x) - 1 | expm1(x) |\n|---|---|---|---|---|\n" + _rows
          + "\n\nThe true values are x - x²/2 and x + x²/2: `log1p` and `expm1` get every digit, the "
          "naive forms keep only the digits of x that survived the rounding of 1 + x.")
    return


@app.cell(hide_code=True)
def _(naive, show_source, stable):
    show_source(naive.one_minus_cos_ratio, stable.one_minus_cos_ratio)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Accumulation of small errors

    Summing $n$ numbers one after another rounds $n - 1$ times. In the worst case the errors
    add up to about $n u$ relative to $\sum |x_i|$; typically they grow like $\sqrt{n}\,u$. Worse,
    once the running total is large, small terms are partly or entirely rounded away: float16
    stops growing at 2048 when adding 1s. Better methods:

    - **pairwise** summation adds in a balanced tree: error about $u \log_2 n$;
    - **Kahan** summation carries the rounded-away part $c = ((s + x) - s) - x$ into the next step:
      error about $2u$, independent of $n$;
    - **Neumaier**'s variant also handles a term larger than the running sum.

    Choose a sequence and a format; every method sums the same (already rounded) terms, and the
    error is measured against their exact sum.
    """)
    return


@app.cell(hide_code=True)
def _(FOUR, ch02b, mo):
    acc_kind = mo.ui.dropdown(list(ch02b.SEQUENCES), value="0.1 repeated", label="sequence")
    acc_dtype = mo.ui.dropdown(FOUR, value="float32", label="format")
    acc_max = mo.ui.slider(3, 6, step=1, value=5, label="log10 of the largest n", show_value=True)
    mo.hstack([acc_kind, acc_dtype, acc_max], justify="start", gap=2)
    return acc_dtype, acc_kind, acc_max


@app.cell(hide_code=True)
def _(METHOD_COLORS, acc_dtype, acc_kind, acc_max, ch02b, format_info, go, np):
    # float16's range ends at 65504: keep the exact sum in range so errors stay meaningful.
    _top = acc_max.value if acc_dtype.value != "float16" else min(acc_max.value, 4)
    acc_ns = np.unique(np.logspace(1, _top, 13).astype(int))
    acc = ch02b.accumulation_errors(acc_kind.value, acc_dtype.value, acc_ns,
                                    rng=np.random.default_rng(0))
    _u = format_info(acc_dtype.value).eps / 2
    _fig = go.Figure()
    for _m, _err in acc.items():
        _fig.add_trace(go.Scatter(x=acc_ns, y=np.maximum(_err, _u / 100), mode="lines+markers",
                                  name=_m, line=dict(color=METHOD_COLORS[_m])))
    _fig.add_trace(go.Scatter(x=acc_ns, y=acc_ns * _u, name="n·u (worst-case naive bound)",
                              line=dict(color="gray", dash="dash")))
    _fig.add_trace(go.Scatter(x=acc_ns, y=np.full(len(acc_ns), _u), name="u",
                              line=dict(color="black", dash="dot")))
    _fig.update_layout(xaxis_type="log", yaxis_type="log", xaxis_title="number of terms n",
                       yaxis_title="relative error (0 drawn at u/100)", height=380,
                       margin=dict(l=10, r=10, t=20, b=10))
    _fig
    return acc, acc_ns


@app.cell(hide_code=True)
def _(acc, acc_dtype, acc_kind, acc_ns, mo):
    _n = int(acc_ns[-1])
    _lines = "\n".join(f"| {m} | {e[-1]:.3g} |" for m, e in acc.items())
    mo.md(f"""
    Summing {_n:,} terms of *{acc_kind.value}* in **{acc_dtype.value}**:

    | method | relative error |
    |---|---|
    {_lines}

    """.replace("\n    |", "\n|"))
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Order of operations

    The order of a sum changes which terms meet a large running total. The harmonic series
    $\sum_{k=1}^{n} 1/k$ summed naively in float32, largest terms first or smallest first:
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    order_n = mo.ui.slider(3, 7, step=1, value=6, label="log10 n", show_value=True)
    order_n
    return (order_n,)


@app.cell(hide_code=True)
def _(ch02b, mo, order_n):
    order = ch02b.harmonic_orders(10**order_n.value, "float32")
    mo.md(f"""
    | order | result | relative error |
    |---|---|---|
    | largest first (k = 1, 2, ...) | {order['largest first']:.9g} | {order['largest first error']:.3g} |
    | smallest first (k = n, ..., 1) | {order['smallest first']:.9g} | {order['smallest first error']:.3g} |
    | exact sum of the same terms | {order['exact']:.9g} | |

    Smallest first is **{order['largest first error'] / max(order['smallest first error'], 1e-300):.3g}
    times** more accurate here: small terms add up among themselves before they meet the large
    total, instead of being rounded away one by one. (Sorting costs time; compensated or
    pairwise summation buys the same accuracy without it.)
    """)
    return


@app.cell(hide_code=True)
def _(ch02b, show_source, summation):
    show_source(ch02b.accumulation_errors, summation)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter02b, mo):
    ex1 = ExercisePanel(chapter02b.COMPENSATED_SUM)
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
def _(ExercisePanel, chapter02b, mo):
    ex2 = ExercisePanel(chapter02b.STABLE_COS_RATIO)
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
        "Every operation rounds to the nearest representable number; the relative error of one "
        "rounding is at most u = eps/2.",
        "Decimal constants like 0.1 are rounded on the way in, and the grouping of a sum decides "
        "which roundings happen: floating-point addition is not associative.",
        "Subtracting nearly equal numbers exposes earlier rounding errors (catastrophic "
        "cancellation): rewrite the formula (half-angle identities, log1p, expm1).",
        "Measure errors in ULPs against an exact reference, not against another float answer.",
        "Long sums accumulate error: use pairwise or compensated (Kahan/Neumaier) summation, or "
        "add small terms first.",
    )
    return


if __name__ == "__main__":
    app.run()
