import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="6 · Best practices and debugging")


@app.cell(hide_code=True)
def _():
    import warnings

    import marimo as mo
    import numpy as np
    import plotly.graph_objects as go

    import numdl
    from numdl import naive
    from numdl.debug import NonfiniteError, gradcheck, nonfinite_guard, trace_nonfinite
    from numdl.exercises import chapter06
    from numdl.floats import format_info
    from numdl.init import INITS, init_std
    from numdl.optim import transforms
    from numdl.testing import named_extremes
    from numdl.tutorial.simulations import ch02c, ch06
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
        INITS,
        NO_TORCH,
        NonfiniteError,
        ch02c,
        ch06,
        chapter06,
        format_info,
        go,
        gradcheck,
        init_std,
        mo,
        naive,
        named_extremes,
        nonfinite_guard,
        np,
        numdl,
        show_source,
        takeaways,
        torch,
        trace_nonfinite,
        transforms,
        warnings,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 6 · Best practices and debugging

    The earlier chapters each took one failure apart. This one collects the habits that prevent
    them, and the tools that find the one you did not prevent: the first operation that made a
    `nan`, the layer where the signal died, the backward pass that is 0.1% wrong.

    **By the end of this chapter you will be able to**

    - choose an epsilon for a denominator knowing the bias it adds and the format it must survive;
    - clip gradients by norm or by value, and say what each does to a NaN and to the direction;
    - pick Xavier or He initialization and see vanishing and exploding signals per layer;
    - find the first non-finite operation with `nonfinite_guard` (NumPy) or `trace_nonfinite` and
      `detect_anomaly` (PyTorch), and bisect a threshold by doubling and halving;
    - check a gradient numerically, and test a function at the extreme values of its format;
    - recognise the six common numerical pitfalls and the fix for each.
    """)
    return


@app.cell(hide_code=True)
def _(mo, naive, np, numdl):
    _x = np.array([1000.0, 0.0])
    stable_naive = naive.log_softmax(_x)
    stable_numdl = numdl.log_softmax(_x)
    mo.md(f"""
    ## Prevention 1: stable implementations

    Do not write softmax, log-sum-exp or cross-entropy by hand: use the stable versions of
    chapters 4 and 5a. For the logits [1000, 0], `log(softmax(x))` gives
    **{stable_naive.tolist()}**, `numdl.log_softmax` gives **{stable_numdl.tolist()}**.
    In PyTorch the same functions are `F.log_softmax` and `F.cross_entropy` (which takes logits,
    never probabilities).
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Prevention 2: epsilon in denominators, and what it costs

    Adding $\varepsilon$ to a denominator, $x / (y + \varepsilon)$, protects against $y = 0$, but it
    is not free: the relative error it adds is

    $$\frac{x/(y+\varepsilon) - x/y}{x/y} = -\frac{\varepsilon}{y + \varepsilon} \approx -\frac{\varepsilon}{y},$$

    so it biases every result whose $y$ is not much larger than $\varepsilon$. The usual advice,
    "add a small constant", leaves out two things: the bias (an $\varepsilon$ of the size of real
    denominators changes real results) and the format (an $\varepsilon$ below the format's
    smallest subnormal is stored as 0 and protects nothing; one below $y \cdot$ eps of the format
    is absorbed by $y$). Pick $\varepsilon$ against the scale of $y$ and the format; or better,
    avoid the division (work in the log domain, or return a status when $y = 0$).
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    eps_exp = mo.ui.slider(-12, -1, step=1, value=-8, label="ε = 10^", show_value=True)
    eps_dtype = mo.ui.dropdown(["float16", "float32", "float64"], value="float16", label="format")
    mo.hstack([eps_exp, eps_dtype], justify="start", gap=2)
    return eps_dtype, eps_exp


@app.cell(hide_code=True)
def _(eps_dtype, eps_exp, mo, np):
    _dt = np.dtype(eps_dtype.value)
    eps_stored = float(np.asarray(10.0**eps_exp.value, dtype=_dt))
    eps_rows = []
    with np.errstate(all="ignore"):
        for _y in (0.0, 1e-6, 1e-3, 1.0):
            _yd = np.asarray(_y, dtype=_dt)
            _q = float(np.asarray(1.0, _dt) / (_yd + np.asarray(eps_stored, _dt)))
            _bias = ("protects (y = 0)" if _y == 0 else "1 / y overflows the format" if not np.isfinite(_q)
                     else f"{(_q - 1 / float(_yd)) / (1 / float(_yd)):+.2e}")
            eps_rows.append(f"| {float(_yd):.3g} | {_q:.6g} | {_bias} |")
    mo.md(
        f"ε = 1e{eps_exp.value} is stored in {eps_dtype.value} as **{eps_stored:.3g}**"
        + (" — it is 0, and 1 / (0 + ε) is inf." if eps_stored == 0 else ".")
        + "\n\n| y | 1 / (y + ε) | relative bias |\n|---|---|---|\n" + "\n".join(eps_rows)
        + "\n\nTry float16 with ε = 1e-8 (stored as 0), then ε = 1e-3 (biases y = 1e-3 by half)."
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Prevention 3: gradient clipping

    **By norm**: scale all gradients together by $\min(1, c / \|g\|)$, so the step keeps its
    direction and its length is capped at $c$. **By value**: clamp each component to $[-c, c]$;
    the large components shrink and the small ones do not, so the *direction* changes.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    clip_g1 = mo.ui.slider(-20, 20, step=0.5, value=12, label="gradient component 1", show_value=True)
    clip_g2 = mo.ui.slider(-20, 20, step=0.5, value=1, label="gradient component 2", show_value=True)
    clip_c = mo.ui.slider(0.5, 10, step=0.5, value=2, label="threshold c", show_value=True)
    mo.hstack([clip_g1, clip_g2, clip_c], justify="start", gap=2, wrap=True)
    return clip_c, clip_g1, clip_g2


@app.cell(hide_code=True)
def _(clip_c, clip_g1, clip_g2, np, transforms):
    _g = np.array([clip_g1.value, clip_g2.value], dtype=np.float64)
    clip_norm = transforms.clip_grad_norm([_g], clip_c.value)
    clip_value = transforms.clip_grad_value([_g], clip_c.value)[0]

    def _angle(a, b):
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        return 0.0 if na == 0 or nb == 0 else float(np.degrees(np.arccos(np.clip(a @ b / (na * nb), -1, 1))))

    clip_turn_norm = _angle(_g, clip_norm.grads[0])
    clip_turn_value = _angle(_g, clip_value)
    clip_vectors = {"gradient": _g, "clipped by norm": clip_norm.grads[0], "clipped by value": clip_value}
    return clip_norm, clip_turn_norm, clip_turn_value, clip_vectors


@app.cell(hide_code=True)
def _(
    clip_c,
    clip_norm,
    clip_turn_norm,
    clip_turn_value,
    clip_vectors,
    go,
    mo,
    np,
):
    _fig = go.Figure()
    for (_name, _v), _color in zip(clip_vectors.items(), ("black", "#1f77b4", "#d62728"), strict=True):
        _fig.add_trace(go.Scatter(x=[0, _v[0]], y=[0, _v[1]], mode="lines+markers", name=_name,
                                  line=dict(color=_color, width=3)))
    _c = clip_c.value
    _fig.add_trace(go.Scatter(x=[-_c, _c, _c, -_c, -_c], y=[-_c, -_c, _c, _c, -_c], mode="lines",
                              name="value box", line=dict(color="#d62728", dash="dot")))
    _t = np.linspace(0, 2 * np.pi, 200)
    _fig.add_trace(go.Scatter(x=_c * np.cos(_t), y=_c * np.sin(_t), mode="lines", name="norm ball",
                              line=dict(color="#1f77b4", dash="dot")))
    _fig.update_layout(height=380, xaxis_title="component 1", yaxis_title="component 2",
                       yaxis_scaleanchor="x", margin=dict(l=10, r=10, t=20, b=10))
    mo.vstack([_fig, mo.md(
        f"The gradient has norm **{clip_norm.total_norm:.4g}**. Clipped by norm it is "
        f"{np.round(clip_vectors['clipped by norm'], 4).tolist()} (turned by **{clip_turn_norm:.2g}°**); "
        f"clipped by value it is {clip_vectors['clipped by value'].tolist()} (turned by "
        f"**{clip_turn_value:.3g}°**)."
    )])
    return


@app.cell(hide_code=True)
def _(show_source, transforms):
    show_source(transforms.global_norm, transforms.clip_grad_norm)
    return


@app.cell(hide_code=True)
def _(NO_TORCH, mo, torch):
    if torch is None:
        clip_torch = None
        _out = NO_TORCH
    else:
        _w1 = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
        _w2 = torch.nn.Parameter(torch.tensor([1.0]))
        _w1.grad = torch.tensor([3.0, 4.0])
        _w2.grad = torch.tensor([float("nan")])
        _total = torch.nn.utils.clip_grad_norm_([_w1, _w2], max_norm=1.0)
        try:
            torch.nn.utils.clip_grad_norm_([_w1, _w2], max_norm=1.0, error_if_nonfinite=True)
            _err = "no error"
        except RuntimeError as _e:
            _err = " ".join(str(_e).split())[:160]
        clip_torch = {"total": float(_total), "w1": _w1.grad.tolist(), "err": _err}
        _out = mo.md(f"""
    **One NaN gradient, in PyTorch.** Two parameters with gradients [3, 4] and [nan]:
    `torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)` returns a total norm of
    **{clip_torch['total']}** and multiplies every gradient by max_norm / (total + 1e-6): the
    healthy gradient [3, 4] becomes **{clip_torch['w1']}**. One bad parameter has poisoned all of
    them, and the optimizer will write NaN into every weight. With `error_if_nonfinite=True` it
    raises instead: *"{clip_torch['err']}"*. Check the returned norm (`torch.isfinite(total)`)
    and skip the step, as `numdl.optim.transforms.clip_grad_norm` does (`finite=False`) and as the dynamic
    loss scalers of mixed precision do.
    """)
    _out
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Prevention 4: initialization

    A layer $h_l = \phi(h_{l-1} W_l)$ with width $n$ and weights of variance $\sigma^2$ multiplies
    the variance of its input by about $n\sigma^2$ (times a factor of $\phi$: 1/2 for ReLU). Over
    $L$ layers that is $(n\sigma^2)^L$: unless $n\sigma^2 \approx 1$ the signal explodes or
    vanishes exponentially, forward and backward. **Xavier** sets
    $\sigma^2 = 2/(n_\text{in} + n_\text{out})$ (for tanh and linear layers); **He** sets
    $\sigma^2 = 2/n_\text{in}$, which undoes ReLU's halving. The naive $N(0, 1)$ gives
    $n\sigma^2 = n$.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    init_depth = mo.ui.slider(2, 50, step=1, value=30, label="depth", show_value=True)
    init_act = mo.ui.dropdown(["relu", "tanh"], value="relu", label="activation")
    init_scheme = mo.ui.dropdown(["normal", "xavier", "he"], value="xavier", label="initialization")
    mo.hstack([init_depth, init_act, init_scheme], justify="start", gap=2)
    return init_act, init_depth, init_scheme


@app.cell(hide_code=True)
def _(INITS, ch06, init_act, init_depth, np):
    init_runs = {s: ch06.mlp_signal_scales(init_depth.value, init_act.value, s, width=128,
                                             rng=np.random.default_rng(6))
                 for s in INITS}
    return (init_runs,)


@app.cell(hide_code=True)
def _(go, init_act, init_runs, init_scheme, mo, np):
    _run = init_runs[init_scheme.value]
    _layers = np.arange(1, _run.depth + 1)
    _floor, _ceil = 1e-30, 1e38

    def _plot(values, title):
        # inf/nan drawn at the ceiling, 0 at the floor (see the axis title)
        _fig = go.Figure()
        for _name, _r in init_runs.items():
            _vv = getattr(_r, values)
            _vv = np.where(np.isfinite(_vv), np.clip(_vv, _floor, _ceil), _ceil)
            _fig.add_trace(go.Scatter(x=_layers, y=_vv, name=_name, mode="lines+markers",
                                      line=dict(width=4 if _name == init_scheme.value else 1.5)))
        _fig.update_layout(yaxis_type="log", height=320, title=title, xaxis_title="layer",
                           yaxis_title="std (inf at 1e38, 0 at 1e-30)", margin=dict(l=10, r=10, t=40, b=10))
        return _fig

    def _verdict(v):
        if not np.isfinite(v[-1]):
            return "overflowed float32 to inf"
        ratio = v[-1] / v[0] if v[0] > 0 else np.inf
        return "exploded" if ratio > 100 else "vanished" if ratio < 1e-2 else "stayed within a factor 100"

    init_summary = {s: (_r.activation_std[-1], _r.gradient_std[0], _r.gradient_std[-1]) for s, _r in init_runs.items()}
    mo.vstack([
        mo.hstack([_plot("activation_std", "activations per layer"),
                   _plot("gradient_std", "weight gradients per layer")], widths="equal"),
        mo.md(f"With {init_act.value} and **{init_scheme.value}** init over {_run.depth} layers of "
              f"width 128 (float32), the activation std goes from {_run.activation_std[0]:.3g} at "
              f"layer 1 to **{_run.activation_std[-1]:.3g}** at the last layer "
              f"({_verdict(_run.activation_std)}); the weight-gradient std is "
              f"**{_run.gradient_std[0]:.3g}** at layer 1 and {_run.gradient_std[-1]:.3g} at the last. "
              "Try relu with he, relu with normal at depth 50, tanh with normal."),
    ])
    return


@app.cell(hide_code=True)
def _(ch06, init_std, show_source):
    show_source(init_std, ch06.mlp_signal_scales)
    return


@app.cell(hide_code=True)
def _(mo, naive, np):
    _rng = np.random.default_rng(7)
    _x = (1e4 + _rng.standard_normal(1000)).astype(np.float32)  # true variance ~1
    var_naive32 = float(naive.variance(_x))
    var_naive64 = float(naive.variance(_x.astype(np.float64)))
    var_numdl32 = float(np.var(_x))
    _raw = np.column_stack([np.ones(200), _rng.uniform(0, 1, 200), _rng.uniform(0, 1000, 200)])
    _std = (_raw[:, 1:] - _raw[:, 1:].mean(0)) / _raw[:, 1:].std(0)
    cond_raw = float(np.linalg.cond(_raw.T @ _raw))
    cond_std = float(np.linalg.cond(np.column_stack([np.ones(200), _std]).T @ np.column_stack([np.ones(200), _std])))
    mo.md(f"""
    ## Prevention 5 and 6: double precision where it matters, normalized inputs

    **Double precision** is for the few computations whose error float32 cannot absorb: sums of
    many terms, one-pass statistics, ill-conditioned solves, and reference values in tests. For
    1000 samples of $10^4 + N(0,1)$, the one-pass variance $E[x^2] - E[x]^2$ gives
    **{var_naive32:.4g}** in float32 and {var_naive64:.4g} in float64; the two-pass `np.var` in
    float32 gives {var_numdl32:.4g}. A better algorithm usually beats more bits.

    **Normalizing inputs** fixes the conditioning an optimizer sees. Features on scales 1 and
    1000 (with a bias column) give $\\kappa(X^TX)$ = **{cond_raw:.3g}**; standardized to mean 0,
    std 1 it is **{cond_std:.3g}**: gradient descent needs about $\\kappa$ times fewer steps
    (chapter 3a).
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Debugging 1: watch for NaN and Inf, and find the first one

    A `nan` loss tells you nothing about where it started: NaN propagates through every later
    operation. Ask where it was *produced*. In NumPy, `numdl.debug.nonfinite_guard()` turns the
    first overflow, invalid operation or division by zero into an exception naming the line, the
    operation and its inputs (it is `np.errstate(all="raise")` plus the diagnosis):
    """)
    return


@app.cell(hide_code=True)
def _(NonfiniteError, mo, nonfinite_guard, np):
    def _entropy(p):
        return -np.sum(p * np.log(p))  # the planted bug: 0 * log 0

    _p = np.array([0.5, 0.5, 0.0])
    with np.errstate(all="ignore"):
        guard_plain = float(_entropy(_p))
    try:
        with nonfinite_guard():
            _entropy(_p)
        guard_report = "no error"
    except NonfiniteError as _e:
        guard_report = str(_e)
    mo.md(f"`-np.sum(p * np.log(p))` for p = [0.5, 0.5, 0] returns **{guard_plain}** silently. "
          f"Under `nonfinite_guard()`:\n\n```\n{guard_report}\n```")
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    In PyTorch, `torch.autograd.detect_anomaly()` checks the **backward** pass for NaN and names
    the backward function that returned it, with the traceback of the forward operation that
    created it. `numdl.debug.trace_nonfinite` checks forward and backward, NaN and Inf, and
    reports the first *producer* (inputs finite, output not) with its inputs and a fix. The
    planted bug below: a row's L2 norm computed as `sqrt(sum(h**2))`, where a dead ReLU row makes
    the sum 0, and $\frac{d}{dx}\sqrt{x} = \infty$ at 0.
    """)
    return


@app.cell(hide_code=True)
def _(NO_TORCH, mo, torch, trace_nonfinite, warnings):
    if torch is None:
        anomaly_text = trace_text = None
        _out = NO_TORCH
    else:
        torch.manual_seed(0)
        _model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())

        def _loss(x):
            h = _model(x)
            norm = torch.sqrt((h**2).sum(dim=1))  # 0 for a row where every unit is dead
            return norm.mean()

        _x = torch.randn(6, 4)
        with torch.no_grad():
            _model[0].bias[:] = -50.0  # every unit dead for these inputs: the sum is 0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # its "enabled" notice and forward traceback
                with torch.autograd.detect_anomaly(check_nan=True):
                    _loss(_x).backward()
            anomaly_text = "no error"
        except RuntimeError as _e:
            anomaly_text = str(_e)
        _model.zero_grad()
        with trace_nonfinite(_model) as _tr:
            _loss(_x).backward()
        trace_text = _tr.report
        _out = mo.md(f"**detect_anomaly** raises:\n\n```\n{anomaly_text}\n```\n\n"
                     f"**trace_nonfinite** reports:\n\n```\n{trace_text}\n```\n\n"
                     "detect_anomaly looks for NaN only, so it names the node where the infinite "
                     "gradient of sqrt was first multiplied by 0 (a propagator); the tracer also "
                     "watches infinities and names the producer, the backward of sqrt at 0.")
    _out
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Debugging 2: monitor gradient ranges, and bisect by doubling and halving

    Log the norm (or the max and min magnitude) of each layer's gradient every few hundred
    steps: a ratio between the first and last layers that grows by orders of magnitude is the
    initialization plot above, happening during training. When a computation breaks only for
    some inputs, scale the input: **double** it until the result is not finite, then **halve**
    the bracket until you know the threshold to the last bit. The threshold usually names the
    cause ($\log$ of the format's max: an `exp` overflows; $\sqrt{\text{max}}$: a square overflows).
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    bis_fn = mo.ui.dropdown(["naive softmax", "sum of squares"], value="naive softmax", label="computation")
    bis_dtype = mo.ui.dropdown(["float16", "float32", "float64"], value="float32", label="format")
    mo.hstack([bis_fn, bis_dtype], justify="start", gap=2)
    return bis_dtype, bis_fn


@app.cell(hide_code=True)
def _(bis_dtype, bis_fn, ch06, format_info, mo, naive, np):
    _dt = np.dtype(bis_dtype.value)
    if bis_fn.value == "naive softmax":
        def _f(s):
            return naive.softmax(np.array([s, 0.0, -s], dtype=_dt))
        _expect, _name = np.log(float(format_info(_dt).max)), "log(max)"
    else:
        def _f(s):
            _v = np.full(4, s, dtype=_dt)
            return np.sum(_v * _v)
        _expect, _name = np.sqrt(float(format_info(_dt).max) / 4), "sqrt(max / 4)"
    bisect = ch06.nonfinite_threshold(_f)
    mo.md(f"Doubling from 1: {', '.join(f'{d:g}' for d in bisect.doublings)} (first non-finite). "
          f"After {bisect.bisections} halvings the {bis_fn.value} of scale s breaks between "
          f"s = **{bisect.last_finite:.10g}** and {bisect.first_nonfinite:.10g}; {_name} of "
          f"{bis_dtype.value} is {_expect:.10g}.")
    return


@app.cell(hide_code=True)
def _(ch06, show_source):
    show_source(ch06.nonfinite_threshold)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Debugging 3: gradient checking

    A hand-written backward pass that is slightly wrong trains, just worse. Compare it with
    finite differences: central differences have error $O(h^2)$ plus round-off $O(\varepsilon/h)$,
    so a fixed tolerance is either too loose or too strict; `numdl.debug.gradcheck` derives its
    tolerance from the measured noise of the function (and uses the complex step where it can).
    Here the backward of $\sum_i \sin(x_i)\,x_i$ is wrong by a factor **(1 + error)**:
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    gc_err = mo.ui.dropdown(["0", "1e-9", "1e-6", "1e-3"], value="1e-3", label="relative error of the backward")
    gc_err
    return (gc_err,)


@app.cell(hide_code=True)
def _(gc_err, gradcheck, mo, np, torch):
    _e = float(gc_err.value)
    _x = np.array([0.5, 1.0, 2.0, -1.5])
    gc_result = gradcheck(lambda x: np.sum(np.sin(x) * x), _x,
                          grad=lambda x: (1 + _e) * (np.cos(x) * x + np.sin(x)))
    if torch is not None:
        class _Wrong(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return torch.sin(x) * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * (1 + _e) * (torch.cos(x) * x + torch.sin(x))

        gc_torch = bool(torch.autograd.gradcheck(_Wrong.apply, (torch.tensor(_x, requires_grad=True),),
                                                 raise_exception=False))
        _torch_line = (f"`torch.autograd.gradcheck` (fixed atol 1e-5, rtol 1e-3, float64): "
                       f"**{'passed' if gc_torch else 'FAILED'}**."
                       + (" Its fixed relative tolerance lets this wrong backward through; the "
                          "noise-aware tolerance does not." if gc_torch and not gc_result.passed else ""))
    else:
        gc_torch = None
        _torch_line = "(torch not installed: `pip install 'numdl[torch]'` to compare with torch.autograd.gradcheck)"
    mo.md(f"`numdl.debug.gradcheck`: **{'passed' if gc_result.passed else 'FAILED'}**\n\n"
          f"```\n{gc_result.report}\n```\n\n{_torch_line}")
    return


@app.cell(hide_code=True)
def _(mo, naive, named_extremes, np, numdl):
    _vals = named_extremes(np.float32)
    ext_rows, ext_bad = [], {"naive": 0, "numdl": 0}
    with np.errstate(all="ignore"):
        for _k, _v in _vals.items():
            _x = np.array([_v, np.float32(0.0)], dtype=np.float32)
            _a, _b = naive.softmax(_x), numdl.softmax(_x)
            _ok_a = bool(np.all(np.isfinite(_a)) or np.isnan(_v))
            _ok_b = bool(np.all(np.isfinite(_b)) or np.isnan(_v))
            ext_bad["naive"] += not _ok_a
            ext_bad["numdl"] += not _ok_b
            if not _ok_a or not _ok_b:
                ext_rows.append(f"| {_k} | {_a.tolist()} | {_b.tolist()} |")
    mo.md(
        "## Debugging 4: unit tests at extreme values\n\n"
        f"`numdl.testing.extremes(dtype)` lists the values a format's corner cases live at "
        f"({len(_vals)} for float32: ±0, subnormals, eps, ±max, log(max), ±inf, nan, ...). "
        f"Feeding each as x in softmax([x, 0]) (a NaN input excused), the naive softmax returns a "
        f"non-finite row for **{ext_bad['naive']}** of them, `numdl.softmax` for "
        f"**{ext_bad['numdl']}**:\n\n| x | naive | numdl |\n|---|---|---|\n" + "\n".join(ext_rows)
        + "\n\n(For x = +inf the exact answer is [1, 0]; numdl treats the infinite maximum "
        "separately.) In pytest, `numdl.testing.floats_with_extremes` gives Hypothesis strategies "
        "that always include these values."
    )
    return


@app.cell(hide_code=True)
def _(ch02c, format_info, mo, np):
    _rows = []
    for _n in ("float16", "bfloat16", "float32", "float64"):
        _i = format_info(_n)
        _rows.append(f"| {_n} | {_i.eps:.3g} | {_i.smallest_normal:.3g} | {_i.max:.3g} |")
    _sv = ch02c.solve_vs_inverse([1e12], n=50, repeats=3, rng=np.random.default_rng(8))
    solve_err, inv_err = float(_sv.backward_solve[0]), float(_sv.backward_inv[0])
    mo.md(
        """
    ## Framework tips

    **PyTorch**: `F.log_softmax`, `F.cross_entropy` (logits in), `F.binary_cross_entropy_with_logits`;
    `torch.autograd.detect_anomaly()` for a backward NaN (shown above, slow: debugging only);
    `torch.nn.utils.clip_grad_norm_(..., error_if_nonfinite=True)` or check its returned norm.

    **TensorFlow** (not installed here, so shown as code only):

    ```python
    log_p = tf.nn.log_softmax(logits)              # not tf.math.log(tf.nn.softmax(logits))
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    x = tf.debugging.check_numerics(x, "after layer 3")   # raises on NaN/Inf, names the tensor
    tf.debugging.enable_check_numerics()           # the same for every op (TF 2.x)
    ```

    Eager execution is the default in TF 2, so a Python debugger works on every line.

    **NumPy**: `np.finfo(dtype).eps` is the spacing at 1, the unit of relative rounding error in
    each format (below); `np.errstate(all="raise")` or `nonfinite_guard()` turns silent `nan`/`inf`
    into exceptions; `np.linalg.solve` and `np.linalg.lstsq` instead of forming an inverse.

    | format | eps | smallest normal | max |
    |---|---|---|---|
    """
        + "\n".join(_rows)
        + f"\n\nFor random 50 × 50 systems with κ = 1e12, the backward error |b - Ax| / (|A| |x|) "
        f"of `solve` is **{solve_err:.2g}** (a few units of float64's eps), that of `inv(A) @ b` "
        f"**{inv_err:.2g}**: the inverse returns the exact answer to no nearby problem."
    )
    return


@app.cell(hide_code=True)
def _(ch02c, format_info, mo, naive, np, numdl):
    with np.errstate(all="ignore"):
        _z = np.array([800.0, 0.0])
        _p = (naive.softmax(_z)[1], float(numdl.log_softmax(_z)[1]))
        _l0 = (float(np.log(np.float64(0.0))), float(np.float32(1.0) / np.float32(0.0)))
        _h = np.float16(300.0)
        _f16 = (float(_h * _h), float(np.float32(_h) * np.float32(_h)))
        _eps32 = float(np.float32(1.0) + np.float32(1e-8) - np.float32(1.0))
        _eps16 = float(np.float16(1e-8))
        _x = np.array([1e4 + 1, 1e4 + 2, 1e4 + 3], dtype=np.float32)
        _var = (float(naive.variance(_x)), float(np.var(_x.astype(np.float64))))
        _sv = ch02c.solve_vs_inverse([1e14], n=20, repeats=3, rng=np.random.default_rng(9))
        _inv, _sol = float(_sv.backward_inv[0]), float(_sv.backward_solve[0])
    pitfalls = {"softmax_p": float(_p[0]), "log_softmax": _p[1], "f16_square": _f16[0],
                "var_naive": _var[0], "var_exact": _var[1]}
    _max16 = format_info("float16").max
    mo.md(f"""
    ## Six common pitfalls, each computed

    | pitfall | what happens | fix |
    |---|---|---|
    | 1. log of a probability | softmax([800, 0])[1] = {_p[0]}, so its log is -inf | log_softmax gives {_p[1]:g} |
    | 2. log(0), division by 0 | log(0) = {_l0[0]}, 1/0 = {_l0[1]} in float32 | stay in the log domain; guard and report y = 0 |
    | 3. float16 overflow | 300 × 300 = {_f16[0]} in float16 (max {_max16:g}) | compute in float32 ({_f16[1]:g}), or loss scaling (chapter 7) |
    | 4. too-small / mismatched eps | 1 + 1e-8 - 1 = {_eps32} in float32; 1e-8 in float16 = {_eps16} | eps relative to the scale and the format |
    | 5. cancellation in a variance | E[x²] - E[x]² of [1e4+1, 1e4+2, 1e4+3] (float32) = {_var[0]:g}, exact {_var[1]:.4g} | subtract the mean first (np.var, Welford) |
    | 6. inverting instead of solving | backward error of inv(A) @ b: {_inv:.2g}, of solve: {_sol:.2g} (20 × 20, κ = 1e14) | np.linalg.solve, lstsq, Cholesky |
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercises
    """)
    return


@app.cell(hide_code=True)
def _(ExercisePanel, chapter06, mo):
    ex1 = ExercisePanel(chapter06.FIRST_NONFINITE_LAYER)
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
def _(ExercisePanel, chapter06, mo):
    ex2 = ExercisePanel(chapter06.CLIP_GLOBAL_NORM)
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
        "Use the stable library functions (log_softmax, cross-entropy on logits); never the log of "
        "a computed probability.",
        "An epsilon biases every result by about eps / y and must be representable in the format; "
        "1e-8 is 0 in float16.",
        "Clip by global norm to keep the direction; check the norm is finite and skip the step if "
        "not: one NaN gradient makes every clipped gradient NaN.",
        "Initialize with Xavier (tanh, linear) or He (ReLU): n sigma^2 near 1 per layer keeps "
        "activations and gradients from exploding or vanishing.",
        "Find the first producer of a NaN (nonfinite_guard, trace_nonfinite, detect_anomaly), not "
        "the loss where it ends; bisect thresholds by doubling and halving.",
        "Check gradients against finite differences with noise-aware tolerances, and unit-test at "
        "the extreme values of each format.",
    )
    return


if __name__ == "__main__":
    app.run()
