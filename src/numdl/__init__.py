"""numdl: numerical computation for deep learning, taught and tested.

The library is the single source of truth for the tutorial: every chapter in
``numdl.tutorial`` imports what it shows from here.

The stable functions are exported at the top level (``numdl.logsumexp``, ``numdl.softmax``, ...);
:mod:`numdl.naive` has the textbook formulas they replace and :mod:`numdl.reference` (imported on
first use: it loads mpmath) their exact values.
"""

from __future__ import annotations

from typing import Any

from numdl import losses, naive, stable
from numdl.losses import binary_cross_entropy_with_logits, cross_entropy
from numdl.stable import (
    log1mexp,
    log_sigmoid,
    log_softmax,
    logaddexp,
    logsumexp,
    one_minus_cos_ratio,
    sigmoid,
    softmax,
    softplus,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "log1mexp",
    "log_sigmoid",
    "log_softmax",
    "logaddexp",
    "logsumexp",
    "losses",
    "naive",
    "one_minus_cos_ratio",
    "sigmoid",
    "softmax",
    "softplus",
    "stable",
]


def __getattr__(name: str) -> Any:
    # numdl.reference loads mpmath: import it when first asked for, not with numdl.
    if name == "reference":
        import importlib

        return importlib.import_module("numdl.reference")
    raise AttributeError(f"module 'numdl' has no attribute {name!r}")
