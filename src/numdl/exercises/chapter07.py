"""Exercise of chapter 7: one step of a dynamic loss scaler."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.exercises.grading import Case, Exercise
from numdl.mixed_precision import dynamic_loss_scale_step

__all__ = ["EXERCISES", "MAX_SCALE", "UPDATE_SCALE"]

MAX_SCALE = 2.0**24


def _check_update(case: Case, got: Any) -> str | None:
    """``(apply_step, new_scale, new_good_steps)`` must match exactly, with a reason per part."""
    if not isinstance(got, tuple | list) or len(got) != 3:
        return f"returned {got!r}; return a tuple (apply_step, new_scale, new_good_steps)"
    apply, scale, good = got
    e_apply, e_scale, e_good = case.expected
    if not isinstance(apply, bool | np.bool_):
        return f"apply_step is {apply!r}; return True or False"
    if bool(apply) != e_apply:
        return (f"apply_step is {bool(apply)}, expected {e_apply}: "
                + ("some gradient is inf/nan, so the step must be skipped" if not e_apply
                   else "every gradient is finite, so the step is applied"))
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        return f"new_scale is {scale!r}; return a number"
    if scale != e_scale:
        return f"new_scale is {scale:g}, expected {e_scale:g}"
    if isinstance(good, bool) or not isinstance(good, int | np.integer) or int(good) != e_good:
        return f"new_good_steps is {good!r}, expected {e_good}"
    return None


def _cases() -> list[Case]:
    def case(label, finite, scale, good, interval, why, hostile=True):
        exp = dynamic_loss_scale_step(finite, scale, good, growth_interval=interval,
                                            min_scale=1.0, max_scale=MAX_SCALE)
        return Case(label, (finite, scale, good, interval), exp, why, hostile=hostile)

    return [
        case("finite, 3 good steps of 2000", True, 2.0**15, 3, 2000, "", hostile=False),
        case("overflow at scale 2^15", False, 2.0**15, 7, 2000,
             "An inf/nan gradient: skip the step, halve the scale, restart the count.", hostile=False),
        case("the 2000th good step in a row", True, 2.0**15, 1999, 2000,
             "After growth_interval good steps the scale doubles and the count restarts at 0."),
        case("growth_interval 1", True, 8.0, 0, 1, "With an interval of 1 every good step doubles."),
        case("overflow at scale 1", False, 1.0, 0, 2000,
             "The scale never goes below 1: halving it forever would divide the gradients to 0."),
        case("overflow at scale 1.5", False, 1.5, 4, 2000, "Halved to 0.75, then floored at 1."),
        case("growth at the cap 2^24", True, 2.0**24, 99, 100,
             "Never above 2^24: an unbounded scale would itself overflow to inf."),
        case("per-tensor flags [True, False, True]", [True, False, True], 2.0**10, 5, 2000,
             "A non-empty list is truthy: `not flags` is False although one tensor overflowed. Use all()."),
        case("NumPy flags array([True, True])", np.array([True, True]), 2.0**10, 5, 2000,
             "`if not array` raises for an array of two: reduce it with np.all first."),
        case("NumPy bool_ False", np.bool_(False), 2.0**10, 5, 2000, "A NumPy scalar, not a Python bool."),
    ]


UPDATE_SCALE = Exercise(
    id="07_mixed_precision.update_scale",
    title="One step of a dynamic loss scaler",
    prompt=(
        "Write `update_scale(grads_finite, scale, good_steps, growth_interval)` returning "
        "`(apply_step, new_scale, new_good_steps)`. `grads_finite` is a bool, or a sequence (list or "
        "NumPy array) of bools, one per gradient tensor. If any gradient is not finite: skip the "
        "step (`apply_step = False`), halve the scale, and restart the count at 0. Otherwise apply "
        "the step and count it; when the count reaches `growth_interval`, double the scale and "
        "restart the count at 0. The scale never goes below 1 nor above $2^{24}$."
    ),
    function="update_scale",
    start_code=(
        "def update_scale(grads_finite, scale, good_steps, growth_interval):\n"
        "    if not grads_finite:\n"
        "        return False, scale / 2, 0\n"
        "    good_steps += 1\n"
        "    if good_steps == growth_interval:\n"
        "        return True, scale * 2, 0\n"
        "    return True, scale, good_steps\n"
    ),
    solution=(
        "def update_scale(grads_finite, scale, good_steps, growth_interval):\n"
        "    finite = bool(np.all(np.asarray(grads_finite, dtype=bool)))  # one flag per tensor\n"
        "    if not finite:\n"
        "        return False, max(scale / 2, 1.0), 0          # skip, back off, floor at 1\n"
        "    good_steps = int(good_steps) + 1\n"
        "    if good_steps >= growth_interval:\n"
        "        return True, min(scale * 2, 2.0**24), 0       # grow, capped\n"
        "    return True, scale, good_steps\n"
    ),
    hints=(
        "What does `not [True, False, True]` give? And `not np.array([True, True])`?",
        "Reduce the flags to one bool with np.all(np.asarray(grads_finite, dtype=bool)).",
        "Clamp the new scale: max(scale / 2, 1.0) after an overflow, min(scale * 2, 2.0**24) on growth.",
    ),
    cases=_cases,
    check=_check_update,
)

EXERCISES = (UPDATE_SCALE,)
