"""Mixed-precision training: dynamic loss scaling.

A float16 gradient underflows to zero below ``2**-24`` and overflows above 65504.  Loss scaling
multiplies the loss by ``S`` before the backward pass (so every gradient is ``S`` times larger and
clears the underflow threshold) and divides the gradients by ``S`` before the update.  A dynamic
scaler (PyTorch's ``torch.amp.GradScaler``, TensorFlow's ``LossScaleOptimizer``) lowers ``S`` when
a step's gradients overflow (the step is skipped) and raises it after a run of good steps.

:func:`dynamic_loss_scale_step` is that scaler's rule as a pure function; the tutorial's chapter 7
trains with it.  :mod:`numdl.debug` has the precision audit (:func:`numdl.debug.precision_audit`)
that says which tensors would underflow or overflow in each format.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["dynamic_loss_scale_step"]


def dynamic_loss_scale_step(grads_finite: bool | ArrayLike, scale: float, good_steps: int, *,
                            growth_interval: int = 2000, backoff: float = 0.5,
                            growth: float = 2.0, min_scale: float = 1.0,
                            max_scale: float = 2.0**24) -> tuple[bool, float, int]:
    """One update of a dynamic loss scaler (as torch's GradScaler): ``(apply, new_scale, new_good)``.

    ``grads_finite`` is a bool or a sequence of bools (one per gradient tensor).  If any is False
    the step is skipped and the scale multiplied by ``backoff`` (never below ``min_scale``); else
    the step is applied and, after ``growth_interval`` good steps in a row, the scale is
    multiplied by ``growth`` (never above ``max_scale``) and the count restarts.  The defaults are
    GradScaler's (``growth_interval=2000``, ``backoff_factor=0.5``, ``growth_factor=2``).

    Raises
    ------
    ValueError
        If `growth_interval` is below 1.
    """
    if growth_interval < 1:
        raise ValueError(f"growth_interval must be >= 1, got {growth_interval!r}")
    finite = bool(np.all(np.asarray(grads_finite, dtype=bool)))
    if not finite:
        return False, max(scale * backoff, min_scale), 0
    good = good_steps + 1
    if good >= growth_interval:
        return True, min(scale * growth, max_scale), 0
    return True, scale, good
