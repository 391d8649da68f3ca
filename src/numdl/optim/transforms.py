"""Gradient clipping, as functions on a list of gradients and as optimizer transforms.

Functions (PyTorch's names, without the in-place underscore):

* :func:`global_norm` -- the 2-norm of all gradients together, accumulated in float64.
* :func:`clip_grad_norm` -- scale every gradient by ``min(1, max_norm / ||g||)``
  (``torch.nn.utils.clip_grad_norm_``), returning a :class:`ClipResult`.
* :func:`clip_grad_value` -- clamp every component to ``[-limit, limit]``
  (``torch.nn.utils.clip_grad_value_``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "ClipResult",
    "clip_grad_norm",
    "clip_grad_value",
    "global_norm",
]


@dataclass(frozen=True)
class ClipResult:
    """Gradients after clipping by global norm (:func:`clip_grad_norm`).

    ``finite`` is False when the total norm is NaN or infinite: the gradients are then returned
    unchanged and the step should be skipped (scaling every gradient by ``max_norm / nan``
    would turn every one of them into NaN).
    """

    grads: list[np.ndarray]
    total_norm: float
    scale: float
    finite: bool


def _positive_limit(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def global_norm(grads: Sequence[ArrayLike]) -> float:
    """The 2-norm of all gradients together, accumulated in float64.

    Squaring float16 or float32 gradients in their own format overflows at |g| ~ 256 (float16)
    or ~ 1.8e19 (float32) although the norm itself fits; float64 squares overflow only beyond
    ~ 1.3e154.  NaN or inf anywhere gives a NaN or inf norm.
    """
    total = 0.0
    for g in grads:
        g64 = np.asarray(g, dtype=np.float64)
        total += float(np.sum(g64 * g64))
    return float(np.sqrt(total))


def clip_grad_norm(grads: Sequence[ArrayLike], max_norm: float, *,
                   error_if_nonfinite: bool = False) -> ClipResult:
    """Scale all gradients by ``min(1, max_norm / ||g||)``, the same factor for every one.

    The direction of the full gradient is kept; only its length is capped.  A non-finite total
    norm is not clipped (``finite=False``, gradients unchanged, step to be skipped), or raises
    ``FloatingPointError`` with ``error_if_nonfinite=True``, like PyTorch's option of that name.

    Raises
    ------
    TypeError
        If `max_norm` is not a real number.
    ValueError
        If `max_norm` is not > 0.
    """
    max_norm = _positive_limit(max_norm, "max_norm")
    arrays = [np.asarray(g) for g in grads]
    total = global_norm(arrays)
    if not np.isfinite(total):
        if error_if_nonfinite:
            raise FloatingPointError(f"the total gradient norm is {total}: not clipping")
        return ClipResult(arrays, total, 1.0, False)
    scale = min(1.0, max_norm / total) if total > 0 else 1.0
    clipped = [(g * scale).astype(g.dtype) if g.dtype.kind == "f" else g * scale for g in arrays]
    return ClipResult(clipped, total, scale, True)


def clip_grad_value(grads: Sequence[ArrayLike], limit: float) -> list[np.ndarray]:
    """Clamp every gradient component to ``[-limit, limit]``.

    Unlike clipping by norm this changes the gradient's direction: components below the limit
    keep their size, large ones shrink.

    Raises
    ------
    TypeError, ValueError
        If `limit` is not a real number > 0.
    """
    limit = _positive_limit(limit, "limit")
    return [np.clip(np.asarray(g), -limit, limit) for g in grads]
