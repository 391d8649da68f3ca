"""Exercises of chapter 6: finding the first broken layer, clipping by global norm with NaN."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.exercises.grading import RTOL, Case, Exercise
from numdl.optim.transforms import clip_grad_norm
from numdl.tutorial.simulations.ch06 import first_nonfinite_layer

__all__ = ["CLIP_GLOBAL_NORM", "EXERCISES", "FIRST_NONFINITE_LAYER"]

F16, F32, F64 = np.float16, np.float32, np.float64


def _check_index(case: Case, got: Any) -> str | None:
    """The answer must be exactly the expected layer index, or None."""
    if case.expected is None:
        return None if got is None else f"returned {got!r}; every layer is finite, so return None"
    if isinstance(got, bool) or not isinstance(got, int | np.integer):
        return f"returned {got!r}; return the layer's index as an int"
    return None if int(got) == case.expected else f"returned {int(got)}, expected {case.expected}"


def _layer_cases() -> list[Case]:
    def case(label, acts, why, hostile=True):
        return Case(label, (acts,), first_nonfinite_layer(acts), why, hostile=hostile)

    rng = np.random.default_rng(60)
    ok = [rng.standard_normal((8, 16)).astype(F32) for _ in range(3)]
    return [
        case("three finite layers, then nan in layer 3", [*ok, np.array([[1.0, np.nan]], F32)], "",
             hostile=False),
        case("all layers finite", ok, "Nothing is broken: return None.", hostile=False),
        case("layer 1 holds +inf, layer 2 -inf and nan", [ok[0], np.array([np.inf, 1.0], F32),
                                                          np.array([-np.inf, np.nan], F32)],
             "An infinity is non-finite too: np.isnan misses it."),
        case("float16 layer of 60000s (finite), then an inf", [np.full((4, 4), 60000, F16),
                                                              np.array([np.inf], F16)],
             "Every entry of layer 0 is finite, but their float16 sum overflows to inf: test the "
             "entries (np.isfinite), not a sum."),
        case("+inf and -inf in the same layer, found by a sum?", [ok[0], np.array([np.inf, -np.inf], F64)],
             "inf + (-inf) = nan, so a sum catches this one; the float16 case is the one sums miss."),
        case("a 0-d nan in layer 2, an empty layer 0", [np.array([], F32), ok[1], np.array(np.nan)],
             "An empty array has no non-finite entry; a 0-d array is one value."),
    ]


FIRST_NONFINITE_LAYER = Exercise(
    id="06_debugging.first_nonfinite_layer",
    title="The first layer whose activations are not finite",
    prompt=(
        "Write `first_nonfinite_layer(activations)`: given a list of NumPy arrays (one per layer, "
        "any shape, any float dtype), return the index of the first array with a NaN or an "
        "infinite entry, or `None` if every array is finite. This is the first question to ask "
        "of a loss that became `nan`: which layer broke first?"
    ),
    function="first_nonfinite_layer",
    start_code=(
        "def first_nonfinite_layer(activations):\n"
        "    for i, a in enumerate(activations):\n"
        "        if not np.isfinite(np.sum(a)):   # one number per layer: cheap\n"
        "            return i\n"
        "    return None\n"
    ),
    solution=(
        "def first_nonfinite_layer(activations):\n"
        "    for i, a in enumerate(activations):\n"
        "        # test every entry: the sum of finite float16 values can overflow to inf\n"
        "        if not np.all(np.isfinite(a)):\n"
        "            return i\n"
        "    return None\n"
    ),
    hints=(
        "The start code is cheap, but is np.sum(a) finite whenever every entry of a is?",
        "In float16, four entries of 60000 sum to 240000 > 65504: inf. Check the entries.",
        "np.all(np.isfinite(a)) is True exactly when no entry is nan, +inf or -inf (and for an "
        "empty array).",
    ),
    cases=_layer_cases,
    check=_check_index,
)


def _check_clipped(case: Case, got: Any) -> str | None:
    """None where the norm is not finite (skip the step); else every array within rtol."""
    if case.expected is None:
        return None if got is None else ("the total norm is not finite: return None (skip the "
                                         "step); scaling by max_norm / nan makes every gradient nan")
    if got is None:
        return "returned None, but the total norm is finite: clip and return the gradients"
    if not isinstance(got, list | tuple) or len(got) != len(case.expected):
        return f"return a list of {len(case.expected)} arrays"
    for i, (e, g) in enumerate(zip(case.expected, got, strict=True)):
        g = np.asarray(g)
        if g.shape != e.shape:
            return f"gradient {i} has shape {g.shape}, expected {e.shape}"
        if g.dtype != e.dtype:
            return f"gradient {i} is {g.dtype}, expected {e.dtype} (keep each gradient's dtype)"
        rtol = RTOL[e.dtype.name]
        if not np.allclose(g.astype(F64), e.astype(F64), rtol=rtol, atol=0, equal_nan=False):
            return f"gradient {i} is {np.asarray(g).ravel()[:4]}..., expected {e.ravel()[:4]}..."
    return None


def _clip_cases() -> list[Case]:
    def case(label, grads, max_norm, why, hostile=True):
        r = clip_grad_norm(grads, max_norm)
        return Case(label, (grads, max_norm), r.grads if r.finite else None, why, hostile=hostile)

    rng = np.random.default_rng(61)
    return [
        case("[3, 0] and [4], max_norm 1", [np.array([3.0, 0.0]), np.array([4.0])], 1.0, "",
             hostile=False),
        case("a small gradient, max_norm 10", [np.array([0.3, -0.4])], 10.0,
             "The norm 0.5 is below max_norm: leave the gradient as it is.", hostile=False),
        case("one nan component", [np.array([1.0, np.nan]), np.array([2.0])], 1.0,
             "The total norm is nan: clipping would multiply everything by nan. Return None."),
        case("an inf component", [np.array([np.inf], F32), np.ones(3, F32)], 1.0,
             "The total norm is inf and max_norm / inf = 0 would zero every gradient silently."),
        case("float32 gradients of 1e20", [np.full(4, 1e20, F32)], 1.0,
             "Squared in float32, 1e20 overflows to inf although the norm 2e20 fits: accumulate the "
             "squares in float64."),
        case("float16 gradients of 300 (norm 600 fits float16)", [np.full(4, 300, F16)], 60.0,
             "300^2 = 90000 overflows float16 (max 65504). Keep the output dtype float16."),
        case("three layers of random gradients", [rng.standard_normal(s) * 5 for s in (10, (3, 4), 1)],
             2.0, "The same factor for every array: the direction of the whole gradient is kept."),
        case("all-zero gradients", [np.zeros(3)], 1.0,
             "A zero norm: max_norm / 0 is inf. Nothing to clip."),
    ]


CLIP_GLOBAL_NORM = Exercise(
    id="06_debugging.clip_global_norm",
    title="Clip by global norm, and refuse a NaN",
    prompt=(
        "Write `clip_grads(grads, max_norm)` for a list of float arrays: with "
        "$\\|g\\| = \\sqrt{\\sum_k \\sum_i g_{k,i}^2}$ over **all** arrays, return the list scaled by "
        "$\\min(1, \\text{max\\_norm} / \\|g\\|)$, each array in its own dtype. If $\\|g\\|$ is NaN "
        "or infinite, return `None`: the caller skips the step instead of writing NaN into "
        "every weight."
    ),
    function="clip_grads",
    start_code=(
        "def clip_grads(grads, max_norm):\n"
        "    total = np.sqrt(sum(np.sum(g * g) for g in grads))\n"
        "    scale = min(1.0, max_norm / total)\n"
        "    return [g * scale for g in grads]\n"
    ),
    solution=(
        "def clip_grads(grads, max_norm):\n"
        "    # squares in float64: g * g overflows float16 at 256 and float32 at ~1.8e19\n"
        "    total = float(np.sqrt(sum(np.sum(np.square(np.asarray(g, np.float64))) for g in grads)))\n"
        "    if not np.isfinite(total):\n"
        "        return None                     # nan/inf somewhere: skip this step\n"
        "    scale = min(1.0, max_norm / total) if total > 0 else 1.0\n"
        "    return [(g * scale).astype(g.dtype) for g in grads]\n"
    ),
    hints=(
        "What is total when one entry is nan? Python's min(1.0, nan) is 1.0, so the nan gradients "
        "go through unchanged into the optimizer.",
        "Check np.isfinite(total) before scaling and return None when it fails.",
        "Accumulate the squares in float64 (np.asarray(g, np.float64)) and cast the result back "
        "with .astype(g.dtype).",
    ),
    cases=_clip_cases,
    check=_check_clipped,
)

EXERCISES = (FIRST_NONFINITE_LAYER, CLIP_GLOBAL_NORM)
