"""Chapter 6 (best practices and debugging): signal scales through depth, and finding where it breaks.

:func:`mlp_signal_scales` measures the activations and weight gradients of a deep MLP layer by
layer under each initialization of :data:`numdl.init.INITS`; :func:`nonfinite_threshold` scales
an input until a computation stops being finite, then bisects; :func:`first_nonfinite_layer` is
the reference answer of the chapter's first exercise.  (The chapter's solve-against-inverse
numbers are :func:`numdl.tutorial.simulations.ch02c.solve_vs_inverse`.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from numdl.init import init_std
from numdl.tutorial.simulations._common import check_rng, sim_dtype

__all__ = [
    "ACTIVATIONS",
    "SignalScales",
    "ThresholdSearch",
    "first_nonfinite_layer",
    "mlp_signal_scales",
    "nonfinite_threshold",
]

ACTIVATIONS = ("tanh", "relu")


@dataclass(frozen=True)
class SignalScales:
    """Per-layer standard deviations of a deep MLP's activations and weight gradients.

    ``activation_std[l]`` and ``gradient_std[l]`` belong to layer ``l + 1``; a value that
    overflowed is ``inf`` (or ``nan``), one that vanished is 0.
    """

    depth: int
    activation: str
    init: str
    weight_std: float
    activation_std: np.ndarray  # (depth,)
    gradient_std: np.ndarray  # (depth,)


def mlp_signal_scales(depth: int, activation: str = "tanh", init: str = "xavier", *,
                      width: int = 128, batch: int = 64, dtype: DTypeLike = "float32",
                      rng: np.random.Generator) -> SignalScales:
    """Forward and backward through ``depth`` square layers ``h = act(h W)``; the std at each layer.

    ``rng`` draws the weights (std :func:`numdl.init.init_std` of ``init``), then the N(0, 1)
    inputs, then the cotangent.  The backward pass starts from a N(0, 1) cotangent on the last
    activation (the gradient of a random linear loss), and ``gradient_std[l]`` is the std of
    the gradient of that loss with respect to layer ``l + 1``'s weights: the numbers an
    optimizer would receive.  With N(0, 1) weights the pre-activations have std ~ sqrt(width):
    ReLU activations explode (by sqrt(width / 2) per layer) and tanh saturates, so its
    derivative, and with it the gradient, vanishes.  Overflow is allowed to happen (``inf``).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is not one of {ACTIVATIONS}")
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    dt = sim_dtype(dtype)
    check_rng(rng)
    std = init_std(init, width, width)
    weights = [(rng.standard_normal((width, width)) * std).astype(dt) for _ in range(depth)]
    h = rng.standard_normal((batch, width)).astype(dt)
    inputs, pre = [], []  # each layer's input h and pre-activation a, for the backward pass
    act_std = np.empty(depth)
    with np.errstate(all="ignore"):  # overflow to inf is what this experiment shows
        for layer, w in enumerate(weights):
            inputs.append(h)
            a = h @ w  # (B, W)
            pre.append(a)
            h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0)
            act_std[layer] = float(np.std(h.astype(np.float64)))
        g = rng.standard_normal(h.shape).astype(dt)  # dL/dh at the output
        grad_std = np.empty(depth)
        for layer in reversed(range(depth)):
            a = pre[layer]
            # dL/da = dL/dh * act'(a); tanh' = 1 - tanh^2, relu' = [a > 0]
            da = g * (1 - np.tanh(a) ** 2) if activation == "tanh" else g * (a > 0)
            grad_std[layer] = float(np.std((inputs[layer].T @ da).astype(np.float64)))  # dL/dW
            g = da @ weights[layer].T
    return SignalScales(depth, activation, init, std, act_std, grad_std)


@dataclass(frozen=True)
class ThresholdSearch:
    """Where a function of one scale stops being finite, found by doubling and then halving.

    ``doublings`` lists the scales tried while doubling (the last is the first non-finite one);
    ``last_finite`` and ``first_nonfinite`` bracket the threshold after ``bisections`` halvings.
    """

    doublings: tuple[float, ...]
    last_finite: float
    first_nonfinite: float
    bisections: int
    found: bool


def nonfinite_threshold(f: Callable[[float], ArrayLike], start: float = 1.0, *,
                        max_doublings: int = 2100, bisections: int = 60) -> ThresholdSearch:
    """Double ``s`` from ``start`` until ``f(s)`` is not finite, then bisect the bracket.

    ``f(s)`` is an array or scalar; "not finite" means any entry is NaN or inf.  Doubling finds
    the order of magnitude in log2(threshold / start) steps, bisection the threshold to
    ``bisections`` halvings of the bracket: the debugging technique of scaling an input until
    a computation breaks, automated.
    """
    if not start > 0:
        raise ValueError(f"start must be > 0, got {start}")

    def ok(s: float) -> bool:
        with np.errstate(all="ignore"):
            return bool(np.all(np.isfinite(np.asarray(f(s), dtype=np.float64))))

    if not ok(start):
        return ThresholdSearch((start,), 0.0, start, 0, False)
    tried, lo = [start], start
    for _ in range(max_doublings):
        hi = lo * 2
        tried.append(hi)
        if not ok(hi):
            break
        lo = hi
    else:
        return ThresholdSearch(tuple(tried), lo, np.inf, 0, False)
    for _ in range(bisections):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return ThresholdSearch(tuple(tried), lo, hi, bisections, True)


def first_nonfinite_layer(activations: Iterable[ArrayLike]) -> int | None:
    """Index of the first array in ``activations`` with a NaN or infinite entry, or None.

    Tests every entry (``np.isfinite``), never a sum: the sum of finite float16 values can
    overflow, and a sum of +inf and -inf is NaN either way.
    """
    for i, a in enumerate(activations):
        if not np.all(np.isfinite(np.asarray(a))):
            return i
    return None
