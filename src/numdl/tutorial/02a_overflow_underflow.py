import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="2a · Overflow and underflow")


@app.cell(hide_code=True)
def _():
    from fractions import Fraction

    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go

    from numdl import naive
    from numdl.exercises import chapter02a
    from numdl.floats import FORMATS, as_dtype, decompose, format_info, next_after
    from numdl.reference import round_to
    from numdl.tutorial.simulations import ch02a
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    NAMES = [np.dtype(d).name for d in FORMATS]
    COLORS = {
        "float64": "#1f77b4", "float32": "#2ca02c", "float16": "#d62728",
        "bfloat16": "#9467bd", "float8_e4m3fn": "#ff7f0e", "float8_e5m2": "#8c564b",
    }
    return (
        COLORS,
        ExercisePanel,
        Fraction,
        NAMES,
        as_dtype,
        ch02a,
        chapter02a,
        decompose,
        format_info,
        go,
        mo,
        naive,
        next_after,
        np,
        round_to,
        show_source,
        takeaways,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 2a · Overflow and underflow

    A floating-point format has a largest finite number and a smallest positive one. A result
    beyond the largest **overflows** to $\infty$; a nonzero result below the smallest
    **underflows** to 0. Exponentials cross both limits with ordinary inputs, which is why
    this chapter follows $e^x$ through every format deep learning uses, from float64 down to
    8-bit floats.

    **By the end of this chapter you will be able to**

    - predict where $e^x$ overflows and underflows in float64, float32, float16, bfloat16 and fp8;
    - read a float's bits: sign, exponent, significand, and the gap to the next float;
    - explain why the textbook softmax returns `nan` for large or very negative inputs;
    - explain why underflow is catastrophic before a division or a logarithm;
    - rewrite an expression so that its intermediate values stay in range.
    """)
    return


@app.cell(hide_code=True)
def _(ch02a, mo):
    def _table(x):
        rows = [
            f"| {r.dtype} | {r.x_stored:g} | {r.computed:g} | {r.correctly_rounded:g} | {r.outcome} |"
            for r in ch02a.exp_in_formats(x)
        ]
        return ("| format | x as stored | exp(x) computed | exact, rounded | outcome |\n"
                "|---|---|---|---|---|\n" + "\n".join(rows))

    mo.vstack([
        mo.md(r"""
    ## $e^{1000}$ and $e^{-1000}$

    $e^{1000} \approx 10^{434}$ and $e^{-1000} \approx 10^{-435}$ are ordinary real numbers, but
    no format here can hold them. Computed in each format, next to the exact value rounded once
    to that format:
    """),
        mo.md(_table(1000.0)),
        mo.md(_table(-1000.0)),
        mo.md(r"""
    The computed and the correctly rounded results agree: this is not a bug in `exp`, the answers
    simply do not exist in these formats. float8_e4m3fn cannot even store the input 1000 (its
    largest number is 448) and has no infinity at all: out-of-range values become `nan`.
    """),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Where $e^x$ leaves each format

    $e^x$ overflows once $x > \ln(\text{max})$ and underflows (to 0, after passing through the
    subnormal numbers) once $x < \ln(\text{smallest subnormal}/2)$. The thresholds below are
    computed exactly: each is the largest (or smallest) number **of that format** whose
    exponential, correctly rounded, is still finite (or nonzero).
    """)
    return


@app.cell(hide_code=True)
def _(NAMES, format_info, mo):
    _rows = []
    for _name in NAMES:
        _fi = format_info(_name)
        _rows.append(f"| {_name} | {_fi.exp_overflow!r} | {_fi.exp_underflow!r} | {_fi.max:.4g} "
                     f"| {_fi.smallest_subnormal:.4g} |")
    mo.md(
        "| format | largest x with finite e^x | smallest x with nonzero e^x | max | smallest subnormal |\n"
        "|---|---|---|---|---|\n" + "\n".join(_rows)
    )
    return


@app.cell(hide_code=True)
def _(NAMES, mo):
    exp_formats = mo.ui.multiselect(NAMES, value=["float64", "float32", "float16", "bfloat16"],
                                    label="formats")
    exp_span = mo.ui.slider(10, 800, step=10, value=120, label="x range ±", show_value=True)
    mo.hstack([exp_formats, exp_span], justify="start", gap=2)
    return exp_formats, exp_span


@app.cell(hide_code=True)
def _(COLORS, exp_formats, exp_span, format_info, go, np):
    _x = np.linspace(-exp_span.value, exp_span.value, 1201)
    _fig = go.Figure()
    _fig.add_trace(go.Scatter(x=_x, y=_x / np.log(10.0), name="exact", line=dict(color="black", dash="dash")))
    for _name in exp_formats.value:
        _fi = format_info(_name)
        with np.errstate(all="ignore"):
            _e = np.exp(_x.astype(_fi.dtype)).astype(np.float64)
            _y = np.where((_e > 0) & np.isfinite(_e), np.log10(_e), np.nan)
        _fig.add_trace(go.Scatter(x=_x, y=_y, name=_name, line=dict(color=COLORS[_name], width=3)))
        for _t in (_fi.exp_overflow, _fi.exp_underflow):
            if abs(_t) <= exp_span.value:
                _fig.add_vline(x=_t, line=dict(color=COLORS[_name], dash="dot", width=1))
    _fig.update_layout(xaxis_title="x", yaxis_title="log10 of exp(x) (missing: inf or 0)",
                       height=380, margin=dict(l=10, r=10, t=20, b=10))
    _fig
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    Each coloured line stops where its format gives up: on the right at overflow, on the left
    at underflow. float16 holds $e^x$ only for $x$ between about $-17$ and $11$, and the fp8
    formats for a still narrower band. bfloat16 keeps float32's exponent range (8 exponent
    bits) but only 8 significant bits; float16 spends more bits on precision and fewer on range.

    ## The naive softmax of $[s, s, s]$

    Three equal scores should get probability $1/3$ each, whatever $s$. The textbook formula
    $\operatorname{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}$ computes $e^s$ first:
    """)
    return


@app.cell(hide_code=True)
def _(NAMES, mo):
    soft_s = mo.ui.slider(-1200, 1200, step=1, value=1000, label="s", show_value=True)
    soft_dtype = mo.ui.dropdown(NAMES[:4], value="float64", label="format")
    mo.hstack([soft_s, soft_dtype], justify="start", gap=2)
    return soft_dtype, soft_s


@app.cell(hide_code=True)
def _(format_info, mo, naive, np, soft_dtype, soft_s):
    _fi = format_info(soft_dtype.value)
    soft_x = np.full(3, soft_s.value, dtype=np.float64).astype(_fi.dtype)
    with np.errstate(all="ignore"):
        soft_exp = np.exp(soft_x)
        soft_sum = np.sum(soft_exp)
    soft_out = naive.softmax(soft_x)
    if np.isnan(soft_out).any():
        _why = ("`nan`: " + ("every $e^s$ is inf, and inf / inf is undefined." if np.isinf(soft_exp[0])
                             else "every $e^s$ underflowed to 0, and 0 / 0 is undefined."))
        _kind = "danger"
    elif np.any(soft_out == 0):
        _why = ("0 for every class (the probabilities no longer sum to 1): each $e^s$ fits, but "
                "their sum overflows to inf.")
        _kind = "warn"
    else:
        _why = "correct: nothing left the format's range."
        _kind = "success"
    mo.callout(mo.md(
        f"""
        In **{_fi.name}**: $e^{{s}}$ = `{float(soft_exp[0]):g}`, the sum = `{float(soft_sum):g}`,
        naive softmax = `{[float(v) for v in soft_out]}`. The result is {_why}

        In {_fi.name} this happens once $s$ exceeds {_fi.exp_overflow!r} (or the sum's threshold
        just below it) or falls below {_fi.exp_underflow!r}.
        """
    ), kind=_kind)
    return


@app.cell(hide_code=True)
def _(COLORS, NAMES, as_dtype, go, naive, np):
    _s = np.linspace(-1200, 1200, 4801)
    _fig = go.Figure()
    for _name in NAMES[:4]:
        _x = np.repeat(_s[:, None], 3, axis=1).astype(as_dtype(_name))
        _p = naive.softmax(_x, axis=1)[:, 0].astype(np.float64)
        _fig.add_trace(go.Scatter(x=_s, y=np.where(np.isnan(_p), -0.1, _p), name=_name,
                                  line=dict(color=COLORS[_name])))
    _fig.update_layout(xaxis_title="s", yaxis_title="naive softmax([s, s, s])[0]  (nan drawn at -0.1)",
                       height=320, margin=dict(l=10, r=10, t=20, b=10), yaxis_range=[-0.15, 0.4])
    _fig
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    The plot scans $s$ for four formats: the right answer $1/3$ survives only in a window
    around 0, narrowest in float16. Chapter 4 derives the fix (subtract the maximum first);
    here the point is where the failure starts.

    ## A float-format explorer

    Type any number. Each row shows how one format stores it: the bits (sign | exponent |
    significand), the value actually stored, its exact decimal expansion (every binary float
    has a finite one), the gap to the next float, and what went wrong on the way in. Use
    *steps* to walk to neighbouring floats.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    explore_text = mo.ui.text(value="0.1", label="number", full_width=False)
    explore_steps = mo.ui.number(start=-1000, stop=1000, step=1, value=0, label="steps to the next float")
    mo.hstack([explore_text, explore_steps], justify="start", gap=2)
    return explore_steps, explore_text


@app.cell(hide_code=True)
def _(
    Fraction,
    NAMES,
    decompose,
    explore_steps,
    explore_text,
    mo,
    next_after,
    round_to,
):
    try:
        _text = explore_text.value.strip().replace("_", "")
        # Parse the decimal exactly (0.1 is one tenth, not float64's 0.1), so every
        # format, float64 included, shows its own rounding of what was typed.
        explore_value = Fraction(_text) if _text.lower().lstrip("+-") not in ("inf", "nan", "infinity") else float(_text)
        _error = None
    except (ValueError, ZeroDivisionError):
        explore_value, _error = None, f"`{explore_text.value}` is not a number: try 0.1, 1e-40, 70000, inf or nan."
    if _error:
        _out = mo.callout(mo.md(_error), kind="warn")
    else:
        _rows = []
        for _name in NAMES:
            _v = explore_value
            if explore_steps.value:
                _v = float(next_after(round_to(_v, _name), _name, int(explore_steps.value)))
            _d = decompose(_v, _name)
            _flags = [f for f, on in (("overflow", _d.overflow), ("underflow to 0", _d.underflow),
                                      ("subnormal", _d.subnormal), ("rounded", _d.inexact)) if on]
            _rows.append(
                f"<tr data-format='{_name}'><td>{_name}</td>"
                f"<td class='bits'><span class='s'>{_d.sign}</span> <span class='e'>{_d.exponent_bits}</span> "
                f"<span class='m'>{_d.significand_bits}</span></td><td>{_d.value!r}</td>"
                f"<td class='exact'>{_d.exact_decimal}</td><td>{_d.ulp:.4g}</td><td>{_d.category}</td>"
                f"<td>{', '.join(_flags) or 'exact'}</td></tr>"
            )
        _out = mo.Html(
            "<style>.numdl-explorer{border-collapse:collapse;width:100%;font-size:0.9em}"
            ".numdl-explorer td,.numdl-explorer th{text-align:left;vertical-align:top;padding:.35em .5em;"
            "border-bottom:1px solid #8883}.numdl-explorer .bits,.numdl-explorer .exact{font-family:monospace;"
            "word-break:break-all;max-width:22em}.numdl-explorer .s{color:#b42318}.numdl-explorer .e{color:#175cd3}"
            ".numdl-explorer .m{color:#067647}</style>"
            "<table class='numdl-explorer' data-testid='float-explorer'><thead><tr><th>format</th>"
            "<th>sign exponent significand</th><th>stored</th><th>exact value of the bits</th>"
            "<th>gap to next</th><th>class</th><th>notes</th></tr></thead><tbody>"
            + "".join(_rows) + "</tbody></table>"
        )
    _out
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    Try `65520` (float16 rounds it up to inf: it is past the halfway point to the next binade),
    `1e-7` (subnormal in float16), `3.4e38` (fine in float32 and bfloat16, inf in float16),
    `1000` (nan in e4m3fn, which has no inf), and `0.1` with steps 1 and -1.

    ## Range and precision of each format

    Each bar spans a format's positive range on a log scale: the light part is the subnormal
    range (fewer significant bits the closer to 0), the dark part the normal range. The label
    gives machine epsilon: the relative gap between 1 and the next float.
    """)
    return


@app.cell(hide_code=True)
def _(COLORS, NAMES, format_info, go, np):
    _fig = go.Figure()
    for _name in reversed(NAMES):
        _fi = format_info(_name)
        _lo, _mid, _hi = (np.log10(_fi.smallest_subnormal), np.log10(_fi.smallest_normal),
                          np.log10(_fi.max))
        _fig.add_trace(go.Bar(y=[_name], x=[_mid - _lo], base=[_lo], orientation="h",
                              marker=dict(color=COLORS[_name], opacity=0.35), showlegend=False,
                              hovertext=f"subnormals from {_fi.smallest_subnormal:.3g}"))
        _fig.add_trace(go.Bar(y=[_name], x=[_hi - _mid], base=[_mid], orientation="h",
                              marker=dict(color=COLORS[_name]), showlegend=False,
                              text=f"eps = {_fi.eps:.3g}, {_fi.precision} significant bits",
                              textposition="auto", cliponaxis=False))
    _fig.update_layout(barmode="overlay", xaxis_title="log10 of magnitude", xaxis_range=[-340, 420],
                       height=330, margin=dict(l=10, r=10, t=20, b=10))
    _fig
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Why underflow is catastrophic

    Overflow is loud: an `inf` propagates and usually ends as `nan`. Underflow is quiet: the
    result is 0, a perfectly respectable number, and the damage appears only when something
    divides by it or takes its logarithm. A likelihood $p = e^{x}$ for a very negative
    log-likelihood $x$ is the typical case:
    """)
    return


@app.cell(hide_code=True)
def _(NAMES, mo):
    under_x = mo.ui.slider(-1000, -1, step=1, value=-120, label="log-likelihood x", show_value=True)
    under_dtype = mo.ui.dropdown(NAMES[:4], value="float32", label="format")
    mo.hstack([under_x, under_dtype], justify="start", gap=2)
    return under_dtype, under_x


@app.cell(hide_code=True)
def _(format_info, mo, np, under_dtype, under_x):
    _fi = format_info(under_dtype.value)
    _x = np.asarray(under_x.value, dtype=np.float64).astype(_fi.dtype)
    with np.errstate(all="ignore"):
        under_p = np.exp(_x)
        under_inv = np.asarray(1, dtype=_fi.dtype) / under_p
        under_log = np.log(under_p)
    _state = ("underflowed to **0**" if under_p == 0 else
              "is **subnormal** (fewer significant bits)" if abs(float(under_p)) < _fi.smallest_normal
              else "is a normal number")
    mo.md(
        f"""
        | quantity | computed in {_fi.name} | exact |
        |---|---|---|
        | p = exp(x) | `{float(under_p):.6g}` ({_state}) | e^{under_x.value} ≈ 10^{under_x.value / np.log(10):.1f} |
        | 1 / p | `{float(under_inv):.6g}` | e^{-under_x.value} |
        | log p | `{float(under_log):.6g}` | {under_x.value} |

        Once p underflows, 1/p is `inf` and log p is `-inf`: the information that x was
        {under_x.value} is gone. Keeping the log-likelihood x itself (never exponentiating it until
        the very end, if at all) avoids the problem entirely: that is the *log domain*, and
        chapter 4 builds on it. Subnormals soften the edge (gradual underflow) but lose relative
        precision as they shrink: near the bottom of the range, p keeps only a bit or two.
        """
    )
    return


@app.cell(hide_code=True)
def _(ch02a, show_source):
    show_source(ch02a.exp_in_formats)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter02a, mo):
    ex1 = ExercisePanel(chapter02a.EXP_OVERFLOW)
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
def _(ExercisePanel, chapter02a, mo):
    ex2 = ExercisePanel(chapter02a.EXP_RATIO)
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
        "Every format has a largest finite number and a smallest positive one; e^x leaves float16 "
        "outside about [-17.3, 11.1], float32 outside [-104, 88.7], float64 outside [-745, 709.8].",
        "bfloat16 has float32's range with far less precision; float16 the opposite trade; fp8 "
        "formats have very little of either, and e4m3fn turns overflow into nan (no inf).",
        "The textbook softmax fails by overflow (inf / inf = nan) and by underflow (0 / 0 = nan) on "
        "ordinary-looking inputs.",
        "Underflow is silent until a division or a log: keep quantities like likelihoods in the log "
        "domain.",
        "Rewrite expressions so intermediate values stay in range: e^a / e^b = e^(a - b).",
    )
    return


if __name__ == "__main__":
    app.run()
