"""Chapter 5a (stable cross-entropy): the loss of a confident class, from probabilities and from logits.

:func:`cross_entropy_margin_sweep` computes the per-example cross-entropy when the true class
leads every other logit by a margin, by the naive route (softmax, then -log), by the max-shift
and by :func:`numdl.losses.cross_entropy`, each against the exact loss in ULPs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from numdl import naive, reference
from numdl.floats import as_dtype
from numdl.losses import cross_entropy
from numdl.reference import ulp_error

__all__ = ["cross_entropy_margin_sweep"]


def _max_shift_cross_entropy(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    # logsumexp(z) - z_t with the usual max-shift: per-example losses.
    lse = naive.logsumexp_max_shift(logits, axis=-1)
    return lse - np.take_along_axis(logits, target[:, None], axis=-1)[:, 0]


def _naive_ce_per_example(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    p = naive.softmax(logits, axis=-1)
    with np.errstate(all="ignore"):
        return -np.log(np.take_along_axis(p, target[:, None], axis=-1)[:, 0])


def cross_entropy_margin_sweep(margins: ArrayLike, n_classes: int = 10,
                               dtype: DTypeLike = "float64") -> dict[str, np.ndarray]:
    """Per-example cross-entropy when the true class leads every other logit by ``margin``.

    Logits are [margin, 0, ..., 0] with target 0: the exact loss is
    log(1 + (n - 1) e^(-margin)), tiny but nonzero for a large margin and about
    |margin| for a large negative one.  Returns the loss of each implementation
    (``naive``: from probabilities; ``max-shift``; ``numdl``), the exact loss and
    each implementation's error in ULPs (``"<name> ulp"``), beside ``"margin"``.
    """
    if n_classes < 2:
        raise ValueError(f"n_classes={n_classes!r} must be at least 2")
    dt = as_dtype(dtype)
    margins = np.asarray(margins, dtype=np.float64)
    logits = np.zeros((len(margins), n_classes))
    logits[:, 0] = margins
    logits = logits.astype(dt)
    target = np.zeros(len(margins), dtype=np.int64)
    exact = np.asarray(reference.cross_entropy(logits, target, reduction="none"))
    with np.errstate(all="ignore"):
        losses = {
            "naive": _naive_ce_per_example(logits, target).astype(dt),
            "max-shift": _max_shift_cross_entropy(logits, target).astype(dt),
            "numdl": np.asarray(cross_entropy(logits, target, reduction="none")),
        }
    out: dict[str, np.ndarray] = {"margin": margins, "exact": exact.astype(np.float64)}
    for name, loss in losses.items():
        out[name] = loss.astype(np.float64)
        out[name + " ulp"] = np.asarray(ulp_error(loss, exact), dtype=np.float64)
    return out
