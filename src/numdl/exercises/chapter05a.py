"""Exercise of chapter 5a: cross-entropy from logits, graded on hostile batches."""

from __future__ import annotations

import numpy as np

from numdl import reference
from numdl.exercises.grading import Case, Exercise, ulp_close

__all__ = ["EXERCISES", "STABLE_CROSS_ENTROPY"]


def _cases() -> list[Case]:
    def case(label, logits, target, why, hostile=True):
        logits = np.asarray(logits, dtype=np.float64)
        return Case(label, (logits, np.asarray(target)),
                    np.asarray(reference.cross_entropy(logits, np.asarray(target), reduction="none")),
                    why, hostile=hostile)

    rng = np.random.default_rng(6)
    big = rng.standard_normal((64, 1000)) * 30
    return [
        case("logits [[1, 2, 3], [3, 2, 1]], targets [2, 0]", [[1, 2, 3], [3, 2, 1]], [2, 0], "",
             hostile=False),
        case("logits [[1000, 0]], target 0", [[1000, 0]], [0],
             "exp(1000) overflows: softmax gives nan, and so does its log. The loss is "
             "logsumexp(z) - z_t, computed with the max-shift."),
        case("logits [[0, -1000]], target 1 (confidently wrong)", [[0, -1000]], [1],
             "softmax underflows to exactly 0 for the target and -log(0) = inf; the loss is 1000."),
        case("logits [[50, 0, 0]], target 0 (confidently right)", [[50, 0, 0]], [0],
             "The loss is log(1 + 2e^-50) ≈ 3.9e-22: tiny, not 0. With z_t the maximum, the loss is "
             "log1p(sum of e^(z_j - z_t) over the other classes)."),
        case("logits [[30, 29.9, -5]], target 1", [[30, 29.9, -5]], [1],
             "Large, nearly equal logits: subtract the maximum before exponentiating."),
        case("64 examples, 1000 classes, logits of scale 30", big, rng.integers(0, 1000, 64),
             "A realistic batch with large logits: no nan, no inf, every loss within 16 ULP.",
             hostile=True),
    ]


STABLE_CROSS_ENTROPY = Exercise(
    id="05a_cross_entropy.cross_entropy",
    title="Cross-entropy from logits",
    prompt=(
        "Write `cross_entropy(logits, target)` for a 2-D array of logits (examples × classes, "
        "float64) and integer class targets, returning the **per-example** losses "
        "$-\\log \\operatorname{softmax}(z)_t$ as a 1-D array, each within 16 ULP of the exact "
        "value: huge logits, a confidently wrong and a confidently right prediction included."
    ),
    function="cross_entropy",
    start_code=(
        "def cross_entropy(logits, target):\n"
        "    p = np.exp(logits) / np.sum(np.exp(logits), axis=1, keepdims=True)\n"
        "    return -np.log(p[np.arange(len(target)), target])\n"
    ),
    solution=(
        "def cross_entropy(logits, target):\n"
        "    rows = np.arange(len(target))\n"
        "    a = np.max(logits, axis=1, keepdims=True)\n"
        "    z = logits - a                          # every entry <= 0, the max is 0\n"
        "    zt = z[rows, target]\n"
        "    e = np.exp(z)\n"
        "    top = np.argmax(logits, axis=1)\n"
        "    e[rows, top] = 0                       # sum_j e^{z_j} = 1 + s\n"
        "    s = np.sum(e, axis=1)\n"
        "    # loss = log(sum_j e^{z_j}) - z_t = log1p(s) - z_t: log1p keeps a tiny s\n"
        "    # (a confident, correct prediction) instead of rounding log(1 + s) to 0.\n"
        "    return np.log1p(s) - zt\n"
    ),
    hints=(
        "-log softmax(z)_t = logsumexp(z) - z_t: never compute the probability first.",
        "Use the max-shift: logsumexp(z) = a + log(sum e^(z - a)) with a = max z. Which case still "
        "fails?",
        "For a confident, correct prediction the sum is 1 + s with a tiny s: log(1 + s) rounds to 0, "
        "np.log1p(s) does not.",
    ),
    cases=_cases,
    check=ulp_close(16.0),
)

EXERCISES = (STABLE_CROSS_ENTROPY,)
