import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="7 · Mixed precision")


@app.cell(hide_code=True)
def _():
    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go

    from numdl.debug import plot_precision_audit, precision_audit
    from numdl.exercises import chapter07
    from numdl.floats import format_info
    from numdl.mixed_precision import dynamic_loss_scale_step
    from numdl.tutorial.simulations import ch07
    from numdl.tutorial.widgets import ExercisePanel, show_source, takeaways

    try:  # optional: the PyTorch parts run when the torch extra is installed
        import torch
        import torch.nn.functional as F
    except ImportError:
        torch = F = None
    NO_TORCH = mo.callout(mo.md("PyTorch is not installed: install the torch extra "
                                "(`pip install 'numdl[torch]'`) to run this."), kind="warn")
    return (
        ExercisePanel,
        F,
        NO_TORCH,
        ch07,
        chapter07,
        dynamic_loss_scale_step,
        format_info,
        go,
        mo,
        np,
        plot_precision_audit,
        precision_audit,
        show_source,
        takeaways,
        torch,
    )


@app.cell(hide_code=True)
def _(format_info, mo, np):
    _f16 = format_info("float16")
    _flush = int(np.log2(_f16.smallest_subnormal)) - 1  # below half the smallest subnormal: 0
    mo.md(rf"""
    # 7 · Mixed precision

    Training in 16 bits halves the memory of activations and doubles (or more) the arithmetic
    throughput of a GPU. The price is range and precision: float16 stops at {_f16.max:g} and flushes
    values below $2^{{{_flush}}}$ to zero, bfloat16 keeps float32's range with 8 significand bits, and
    the 8-bit formats have even less of both. Mixed precision keeps master weights and the
    delicate reductions in float32 and moves the rest to 16 (or 8) bits.

    **By the end of this chapter you will be able to**

    - place a network's activations and gradients against the range of float16, bfloat16 and fp8;
    - explain why float16 gradients underflow, and fix it with static and dynamic loss scaling;
    - implement a dynamic loss scaler that skips steps on overflow;
    - read a precision audit of a network and say which operations do not fit float16;
    - choose between float16 and bfloat16.
    """)
    return


@app.cell(hide_code=True)
def _(format_info, mo):
    _rows = []
    for _n in ("float32", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2"):
        _i = format_info(_n)
        _rows.append(f"| {_n} | {_i.bits} | {_i.precision} | {_i.eps:.3g} | {_i.smallest_subnormal:.3g} "
                     f"| {_i.smallest_normal:.3g} | {_i.max:.6g} | {'yes' if _i.has_infinity else 'no (NaN)'} |")
    mo.md(
        "## The formats and a real network's values\n\n"
        "| format | bits | precision p | eps | smallest subnormal | smallest normal | max | inf |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(_rows)
        + "\n\nBelow: one float32 step of a 3-layer ReLU MLP (64 → 128 → 128 → 10, He init, "
        "softmax cross-entropy averaged over 512 examples) on inputs in [0, 255]. The histogram "
        "shows log2 |value| of a layer's activations and of the gradients of the loss with "
        "respect to them, against the chosen format's limits."
    )
    return


@app.cell(hide_code=True)
def _(ch07, mo):
    rng_format = mo.ui.dropdown(list(ch07.MP_FORMATS), value="float16", label="format")
    rng_layer = mo.ui.dropdown(["layer 1", "layer 2", "logits"], value="logits", label="layer")
    mo.hstack([rng_format, rng_layer], justify="start", gap=2)
    return rng_format, rng_layer


@app.cell(hide_code=True)
def _(ch07, np, rng_layer):
    mlp = ch07.mlp_values(batch=512, rng=np.random.default_rng(70))
    rng_fracs = {kind: {f: ch07.format_fractions(mlp[rng_layer.value][kind], f) for f in ch07.MP_FORMATS}
                 for kind in ("activations", "gradients")}
    return mlp, rng_fracs


@app.cell(hide_code=True)
def _(ch07, format_info, go, mlp, mo, np, rng_format, rng_fracs, rng_layer):
    _info = format_info(rng_format.value)
    _fig = go.Figure()
    for _kind, _color in (("activations", "#1f77b4"), ("gradients", "#d62728")):
        _v = np.abs(mlp[rng_layer.value][_kind].ravel().astype(np.float64))
        _v = _v[_v > 0]
        _fig.add_trace(go.Histogram(x=np.log2(_v), name=_kind, opacity=0.6, marker_color=_color,
                                    xbins=dict(size=0.5)))
    for _val, _what, _dash in ((_info.smallest_subnormal, "smallest subnormal", "dot"),
                               (_info.smallest_normal, "smallest normal", "dash"),
                               (_info.max, "max", "solid")):
        _fig.add_vline(x=float(np.log2(_val)), line_dash=_dash, line_color="black",
                       annotation_text=f"{_what} 2^{np.log2(_val):.0f}", annotation_textangle=-90,
                       annotation_font_size=10)
    _fig.update_layout(barmode="overlay", height=380, xaxis_title="log2 |value| (zeros left out)",
                       yaxis_title="count", margin=dict(l=10, r=10, t=30, b=10),
                       title=f"{rng_layer.value}, against {rng_format.value}")
    _rows = []
    for _f in ch07.MP_FORMATS:
        _a, _g = rng_fracs["activations"][_f], rng_fracs["gradients"][_f]
        _rows.append(f"| {_f} | {100 * _a.underflow:.3g}% | {100 * _a.overflow:.3g}% "
                     f"| {100 * _g.underflow:.3g}% | {100 * _g.subnormal:.3g}% | {100 * _g.overflow:.3g}% |")
    _g16 = rng_fracs["gradients"]["float16"]
    mo.vstack([_fig, mo.md(
        f"Of the nonzero values of **{rng_layer.value}**, the fraction that each format would "
        "flush to zero, leave subnormal, or overflow (to inf; to NaN in float8_e4m3fn):\n\n"
        "| format | activations → 0 | activations overflow | gradients → 0 | gradients subnormal "
        "| gradients overflow |\n|---|---|---|---|---|---|\n" + "\n".join(_rows)
        + f"\n\nThe activations fit every 16-bit format; the gradients are the problem. In float16, "
        f"**{100 * _g16.underflow:.3g}%** of this layer's gradients become 0 and "
        f"{100 * _g16.subnormal:.3g}% more are subnormal (fewer significant bits); in bfloat16, "
        f"{100 * rng_fracs['gradients']['bfloat16'].underflow:.3g}%. The gradients sit far below "
        "float16's max: multiplying them by a constant would move them into range. That is loss "
        "scaling."
    )])
    return


@app.cell(hide_code=True)
def _(ch07, show_source):
    show_source(ch07.mlp_values, ch07.format_fractions)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Loss scaling

    Multiply the loss by $S$ before the backward pass: by the chain rule every gradient is
    multiplied by $S$ too, so the small ones move above float16's underflow threshold. Divide the
    weight gradients by $S$ (in float32) before the update. Too large an $S$ pushes the largest
    gradients past float16's largest number to inf. **Static** scaling picks one $S$; **dynamic** scaling starts
    high ($2^{15}$), and on any inf/nan gradient *skips the step* and halves $S$; after $N$ good
    steps in a row it doubles $S$, probing upward again.

    The experiment: least squares on 16384 examples and 16 features, the loss the mean of squared
    residuals, so the gradient with respect to each prediction is $S \cdot 2r_i / 16384$. That
    gradient is stored in float16, the weight gradient $X^T g$ is computed from it and stored in
    float16, then unscaled and applied to float32 master weights. The float32 run is the
    reference.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    ls_static = mo.ui.slider(0, 20, step=1, value=10, label="static scale S = 2^", show_value=True)
    ls_interval = mo.ui.slider(5, 100, step=5, value=25, label="dynamic: double after N good steps",
                               show_value=True)
    mo.hstack([ls_static, ls_interval], justify="start", gap=2)
    return ls_interval, ls_static


@app.cell(hide_code=True)
def _(ch07, ls_interval, ls_static, np):
    # a fresh generator per mode: all four fit the same problem
    ls_runs = {
        "float32": ch07.fp16_loss_scaling_run("float32", rng=np.random.default_rng(7)),
        "none": ch07.fp16_loss_scaling_run("none", rng=np.random.default_rng(7)),
        "static": ch07.fp16_loss_scaling_run("static", static_scale=2.0**ls_static.value,
                                             rng=np.random.default_rng(7)),
        "dynamic": ch07.fp16_loss_scaling_run("dynamic", growth_interval=ls_interval.value,
                                              rng=np.random.default_rng(7)),
    }
    return (ls_runs,)


@app.cell(hide_code=True)
def _(go, ls_runs, ls_static, mo, np):
    _names = {"float32": "float32 (reference)", "none": "float16, no scaling",
              "static": f"float16, static S = 2^{ls_static.value}", "dynamic": "float16, dynamic scaling"}
    _fig = go.Figure()
    for _k, _r in ls_runs.items():
        _fig.add_trace(go.Scatter(y=_r.loss, mode="lines", name=_names[_k],
                                  line=dict(dash="dot" if _k == "float32" else "solid")))
    _fig.update_layout(yaxis_type="log", height=360, xaxis_title="step",
                       yaxis_title="loss (nan not drawn: the line stops)", title="loss per step",
                       margin=dict(l=10, r=10, t=40, b=10))
    _d = ls_runs["dynamic"]
    _steps = np.arange(len(_d.scale))
    _sfig = go.Figure(go.Scatter(x=_steps, y=np.log2(_d.scale), mode="lines", name="log2 S"))
    _sfig.add_trace(go.Scatter(x=_steps[_d.skipped], y=np.log2(_d.scale[_d.skipped]), mode="markers",
                               name="skipped step (inf/nan gradient)",
                               marker=dict(color="#d62728", symbol="x", size=10)))
    _sfig.update_layout(height=360, xaxis_title="step", yaxis_title="log2 of the loss scale",
                        title="dynamic loss scale", margin=dict(l=10, r=10, t=40, b=10))
    _st = ls_runs["static"]
    _nan_at = int(np.flatnonzero(~np.isfinite(_st.loss))[0]) if not np.all(np.isfinite(_st.loss)) else None
    _none = ls_runs["none"]
    _static_line = (
        f"With static S = 2^{ls_static.value} the weight gradient overflowed float16 at step "
        f"**{int(np.flatnonzero(_st.overflowed)[0])}**; nothing checks it, the inf reaches the "
        f"weights and the loss is nan from step **{_nan_at}** on."
        if _nan_at is not None else
        f"With static S = 2^{ls_static.value} the final loss is **{_st.final_loss:.3g}** "
        f"({100 * _st.zero_fraction[-1]:.3g}% of the gradients still flushed at the end). "
        "Raise S until the gradient overflows (the line stops: nan)."
    )
    mo.vstack([
        mo.hstack([_fig, _sfig], widths="equal"),
        mo.md(
            "| run | final loss | gradients flushed to 0 at the last step | skipped steps |\n"
            "|---|---|---|---|\n"
            + "\n".join(f"| {_names[_k]} | {_r.final_loss:.3g} | {100 * _r.zero_fraction[-1]:.3g}% "
                        f"| {_r.n_skipped} |" for _k, _r in ls_runs.items())
            + f"\n\nWithout scaling the loss stalls at **{_none.final_loss:.3g}**, "
            f"{_none.final_loss / ls_runs['float32'].final_loss:.3g} times the float32 loss "
            f"{ls_runs['float32'].final_loss:.3g}: as the residuals shrink, "
            f"**{100 * _none.zero_fraction[-1]:.3g}%** of the float16 gradients are 0 and the "
            f"update is made of the few that are not. {_static_line} Dynamic scaling skipped "
            f"**{_d.n_skipped}** steps (at steps {np.flatnonzero(_d.skipped).tolist()}), backing off "
            f"from 2^15 to 2^{np.log2(_d.scale[_d.n_skipped]):.0f}, and ended at "
            f"S = 2^{np.log2(_d.scale[-1]):.0f} with final loss **{_d.final_loss:.3g}**."
        ),
    ])
    return


@app.cell(hide_code=True)
def _(ch07, dynamic_loss_scale_step, show_source):
    show_source(dynamic_loss_scale_step, ch07.fp16_loss_scaling_run)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    In PyTorch, `torch.amp.GradScaler` is this scaler (initial scale $2^{16}$, growth interval
    2000): `scaler.scale(loss).backward()`, `scaler.step(optimizer)` (which unscales, checks for
    inf/nan and skips), `scaler.update()`. With bfloat16 it is not needed.

    ## The precision audit

    `numdl.debug.precision_audit` runs one float32 step of a torch model and records, per
    operation, the range of the values it produced and of the gradients it passed back, and what
    fraction of them would overflow or flush to zero in each format, with the interval of loss
    scales that would make float16 gradients fit. Here: an MLP on unnormalized inputs in
    [0, 255], regressing targets in [0, 1000] with a mean-squared error.
    """)
    return


@app.cell(hide_code=True)
def _(F, NO_TORCH, mo, plot_precision_audit, precision_audit, torch):
    if torch is None:
        audit = None
        _out = NO_TORCH
    else:
        torch.manual_seed(0)
        _model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                                     torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 1))
        _x = torch.rand(512, 64) * 255
        _t = torch.rand(512, 1) * 1000
        audit = precision_audit(_model, _x, lambda y: F.mse_loss(y, _t))
        _over16 = [e.label for e in audit.flagged("float16")]
        _under16 = [e.label for e in audit.flagged("float16", "underflow")]
        _bf = audit.flagged("bfloat16") + audit.flagged("bfloat16", "underflow")
        _out = mo.vstack([
            mo.md(f"```\n{audit.report}\n```"),
            plot_precision_audit(audit),
            mo.md(
                f"Reading it off: in float16, **{len(_over16)}** entries overflow "
                f"({', '.join(_over16) or 'none'}) and **{len(_under16)}** flush values to zero "
                f"({', '.join(_under16) or 'none'}); in bfloat16, {len(_bf)} entries do not fit. "
                f"The float16 loss scale interval for the gradients: "
                f"**{audit.loss_scale.message}**. The overflows start at the loss (squared errors of "
                "hundreds, from unnormalized inputs and targets) and the large gradients it sends "
                "back into the last layer: normalize the inputs and targets, and keep the loss in "
                "float32, as autocast does. bfloat16's range holds all of it."
            ),
        ])
    _out
    return


@app.cell(hide_code=True)
def _(ch07, format_info, mo):
    bf_rows = ch07.bf16_vs_fp16_examples()
    _f16, _bf = format_info("float16"), format_info("bfloat16")
    mo.md(
        "## When bfloat16 is the better choice\n\n"
        "| computation | exact | float16 | bfloat16 | better | why |\n|---|---|---|---|---|---|\n"
        + "\n".join(f"| {r['case']} | {r['exact']:.10g} | {r['float16']:.10g} | {r['bfloat16']:.10g} "
                    f"| {r['better']} | {r['why']} |" for r in bf_rows)
        + f"\n\nbfloat16 has float32's exponent (max {_bf.max:.3g}, smallest normal "
        f"{_bf.smallest_normal:.3g}) and 8 significand bits (eps {_bf.eps:g}); float16 has 11 "
        f"(eps {_f16.eps:g}) but a range of only {_f16.smallest_subnormal:.3g} to {_f16.max:g}. "
        "**The rule:** bfloat16 needs no loss scaling, since every gradient float32 can hold it "
        "can hold too, so prefer it where the hardware has it (A100, H100, TPUs) for training. "
        "float16 keeps 8 times more precision (3 more bits), so it is better for values of known, "
        "moderate range (inference activations, well-normalized layers), and for training on "
        "hardware without bfloat16, with a loss scaler."
    )
    return


@app.cell(hide_code=True)
def _(ch07, show_source):
    show_source(ch07.bf16_vs_fp16_examples)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercise
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter07, mo):
    ex1 = ExercisePanel(chapter07.UPDATE_SCALE)
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
        "Activations usually fit float16; gradients are small and a large share of them flush to "
        "zero or become subnormal in float16, and more in fp8.",
        "Loss scaling multiplies every gradient by S so the small ones fit; unscale in float32 "
        "before the update. Too large an S overflows to inf.",
        "A dynamic scaler skips the step and halves S on inf/nan, and doubles S after N good "
        "steps; count the skipped steps, a few at the start are normal.",
        "Audit a model's ranges per operation before trusting a low-precision format: losses, "
        "squares and unnormalized inputs are the usual overflows.",
        "bfloat16 has float32's range and needs no loss scaling; float16 has 3 more bits of "
        "precision but needs a scaler for training.",
    )
    return


if __name__ == "__main__":
    app.run()
