"""Chapter 7 (mixed precision): real values in 16- and 8-bit formats, and loss scaling.

What fraction of an MLP's activations and gradients (:func:`mlp_values`) each narrow format
flushes to 0, makes subnormal or overflows (:func:`format_fractions`); a least-squares fit whose
backward pass is stored in float16, without and with (static, dynamic) loss scaling
(:func:`fp16_loss_scaling_run`); and computed cases where bfloat16 or float16 wins
(:func:`bf16_vs_fp16_examples`).  The dynamic scaler is
:func:`numdl.mixed_precision.dynamic_loss_scale_step`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np
from numpy.typing import ArrayLike

from numdl.floats import format_info, ulp
from numdl.mixed_precision import dynamic_loss_scale_step
from numdl.tutorial.simulations._common import check_rng

__all__ = [
    "LOSS_SCALE_MODES",
    "MP_FORMATS",
    "FormatFractions",
    "LossScaleRun",
    "bf16_vs_fp16_examples",
    "format_fractions",
    "fp16_loss_scaling_run",
    "mlp_values",
]

MP_FORMATS = ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2")


@dataclass(frozen=True)
class FormatFractions:
    """Of the nonzero finite values: the fractions that flush to 0, become subnormal, overflow."""

    format: str
    underflow: float
    subnormal: float
    overflow: float


def format_fractions(values: ArrayLike, fmt: str) -> FormatFractions:
    """Round the nonzero finite ``values`` into ``fmt`` and count what happens to them.

    ``underflow``: rounded to 0; ``subnormal``: nonzero but below the smallest normal;
    ``overflow``: rounded to +-inf (or to NaN in float8_e4m3fn, which has no infinity).
    """
    info = format_info(fmt)
    v = np.asarray(values, dtype=np.float32).ravel()
    v = v[np.isfinite(v) & (v != 0)]
    if v.size == 0:
        return FormatFractions(fmt, 0.0, 0.0, 0.0)
    with np.errstate(all="ignore"):
        r = np.abs(v.astype(info.dtype).astype(np.float64))
    over = ~np.isfinite(r)
    zero = r == 0
    sub = (r > 0) & (r < info.smallest_normal)
    n = v.size
    return FormatFractions(fmt, float(zero.sum() / n), float(sub.sum() / n), float(over.sum() / n))


def mlp_values(*, batch: int = 512,
               rng: np.random.Generator) -> dict[str, dict[str, np.ndarray | None]]:
    """Activations and gradients of one float32 step of a 3-layer ReLU MLP (NumPy).

    Inputs are raw pixel-like values in [0, 255] (not normalized), He-initialized layers
    64 -> 128 -> 128 -> 10, softmax cross-entropy averaged over the batch; ``rng`` draws the
    inputs, the labels and the weights.  Returns
    ``{layer: {"activations": array, "gradients": array}}`` where the gradients are those of the
    loss with respect to the layer's output (what the backward pass stores); the input has no
    gradient (None).
    """
    if batch < 1:
        raise ValueError(f"batch={batch!r} must be positive")
    check_rng(rng)
    sizes = (64, 128, 128, 10)
    x = rng.uniform(0, 255, (batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    ws = []
    for i in range(len(sizes) - 1):
        a, b = sizes[i], sizes[i + 1]
        gain = 4 / 255 if i == 0 else 1.0  # the first layer sees inputs of size ~255
        ws.append((rng.standard_normal((a, b)) * np.sqrt(2 / a) * gain).astype(np.float32))
    pre, acts, h = [], [x], x
    for i, w in enumerate(ws):
        z = h @ w
        pre.append(z)
        h = np.maximum(z, 0) if i < len(ws) - 1 else z
        acts.append(h)
    z = acts[-1] - acts[-1].max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    g = p.copy()
    g[np.arange(batch), y] -= 1
    g /= batch
    grads = [None] * len(ws)
    grads[-1] = g.astype(np.float32)
    for i in range(len(ws) - 1, 0, -1):
        gh = grads[i] @ ws[i].T
        grads[i - 1] = (gh * (pre[i - 1] > 0)).astype(np.float32)
    names = ["input", "layer 1", "layer 2", "logits"]
    out = {"input": {"activations": x, "gradients": None}}
    for k in range(1, 4):
        out[names[k]] = {"activations": acts[k], "gradients": grads[k - 1]}
    return out


@dataclass(frozen=True)
class LossScaleRun:
    """A float16-gradient training run.

    ``loss`` (per step, before the update; NaN once the weights are), ``scale`` used at each
    step, ``skipped`` (bool per step), ``zero_fraction`` (of the float16 gradient entries flushed
    to zero where the float32 value was not) and ``overflowed`` (a float16 gradient was inf/nan).
    """

    mode: str
    loss: np.ndarray
    scale: np.ndarray
    skipped: np.ndarray
    zero_fraction: np.ndarray
    overflowed: np.ndarray

    @property
    def n_skipped(self) -> int:
        return int(self.skipped.sum())

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])


LOSS_SCALE_MODES = ("float32", "none", "static", "dynamic")


def fp16_loss_scaling_run(mode: str, *, steps: int = 200, static_scale: float = 2.0**10,
                          init_scale: float = 2.0**15, growth_interval: int = 25, lr: float = 0.05,
                          n: int = 16384, d: int = 16, noise: float = 1e-6,
                          rng: np.random.Generator) -> LossScaleRun:
    """Linear least squares whose backward pass is stored in float16, with loss scaling.

    ``rng`` draws the problem (X, the true weights, the noise) and nothing else, so runs of
    different modes given generators in the same state (``numpy.random.default_rng(7)`` each)
    fit the same problem and differ by their scaling alone.

    The loss is the mean of squared residuals over ``n`` examples, so the gradient with respect
    to each prediction, ``S * 2 r / n``, is tiny; it is rounded to float16 (values below 2^-25
    flush to zero), the weight gradient ``X^T g`` is computed from it and rounded to float16 (where
    it can overflow), then unscaled and applied to float32 master weights.  Modes: ``"float32"``
    (no rounding, the reference), ``"none"`` (S = 1), ``"static"`` (S = ``static_scale``; an
    overflow is applied as is, so inf reaches the weights) and ``"dynamic"`` (start at
    ``init_scale``, skip the step and halve on inf/nan, double after ``growth_interval`` good
    steps: :func:`numdl.mixed_precision.dynamic_loss_scale_step`).
    """
    if mode not in LOSS_SCALE_MODES:
        raise ValueError(f"mode={mode!r} must be one of {LOSS_SCALE_MODES}")
    check_rng(rng)
    x = rng.standard_normal((n, d)).astype(np.float32)
    w_true = rng.standard_normal(d).astype(np.float32) * 3
    y = (x @ w_true + noise * rng.standard_normal(n)).astype(np.float32)
    w = np.zeros(d, np.float32)
    scale = {"float32": 1.0, "none": 1.0, "static": float(static_scale), "dynamic": float(init_scale)}[mode]
    good = 0
    losses, scales, skipped, zeros, over = [], [], [], [], []
    with np.errstate(all="ignore"):
        for _ in range(steps):
            r = x @ w - y
            losses.append(float(np.mean(r.astype(np.float64) ** 2)))
            scales.append(scale)
            g32 = (np.float32(2 * scale / n) * r).astype(np.float32)
            if mode == "float32":
                gw = x.T @ g32
                zeros.append(0.0)
                over.append(False)
            else:
                g16 = g32.astype(np.float16)
                nz = g32 != 0
                zeros.append(float(np.mean(g16[nz] == 0)) if nz.any() else 0.0)
                gw16 = (x.T @ g16.astype(np.float32)).astype(np.float16)
                over.append(not bool(np.all(np.isfinite(gw16)) and np.all(np.isfinite(g16))))
                gw = gw16.astype(np.float32) / np.float32(scale)
            apply = True
            if mode == "dynamic":
                apply, scale, good = dynamic_loss_scale_step(not over[-1], scale, good,
                                                             growth_interval=growth_interval)
            skipped.append(not apply)
            if apply:
                w = (w - np.float32(lr) * gw).astype(np.float32)
    return LossScaleRun(mode, np.array(losses), np.array(scales), np.array(skipped), np.array(zeros),
                        np.array(over))


def bf16_vs_fp16_examples() -> list[dict[str, Any]]:
    """Computed cases where bfloat16 or float16 is the better 16-bit format.

    Each row: ``case``, the exact (float64) value, its float16 and bfloat16 results, and which
    format got it right, and why.
    """
    f16, bf16 = np.float16, ml_dtypes.bfloat16
    i16, ib16 = format_info("float16"), format_info("bfloat16")

    def both(fn: Callable[[type], Any]) -> tuple[float, float]:
        with np.errstate(all="ignore"):
            return float(fn(f16)), float(fn(bf16))

    rows = []

    def add(case: str, exact: float, fn: Callable[[type], Any], better: str, why: str) -> None:
        a, b = both(fn)
        rows.append({"case": case, "exact": exact, "float16": a, "bfloat16": b, "better": better,
                     "why": why})

    add("exp(12)", float(np.exp(12.0)), lambda t: np.exp(np.array(12.0, np.float32)).astype(t),
        "bfloat16", f"above float16's max {i16.max:g}")
    add("300 * 300", 90000.0, lambda t: (np.array(300, t).astype(np.float32) ** 2).astype(t),
        "bfloat16", "a square overflows float16")
    add("gradient 1e-8", 1e-8, lambda t: np.array(1e-8, np.float32).astype(t), "bfloat16",
        f"below half float16's smallest subnormal ({i16.smallest_subnormal:.3g}): flushed to 0")
    add("gradient 1e-6", 1e-6, lambda t: np.array(1e-6, np.float32).astype(t), "bfloat16",
        f"subnormal in float16 (below {i16.smallest_normal:.3g}): few significant bits")
    add("1 + 1/256", 1 + 1 / 256, lambda t: np.array(1, t) + np.array(1 / 256, t), "float16",
        f"bfloat16 has {ib16.precision} significand bits: eps = {ib16.eps:g}")
    add("1000 + 3", 1003.0, lambda t: np.array(1000, t) + np.array(3, t), "float16",
        f"bfloat16's spacing near 1000 is {float(ulp(1000.0, 'bfloat16')):g}")
    add("0.1", 0.1, lambda t: np.array(0.1, np.float32).astype(t), "float16",
        f"relative error at most eps/2: {i16.eps / 2:.3g} against {ib16.eps / 2:.3g}")
    return rows
