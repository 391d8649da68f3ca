"""Weight initialization: the standard deviations that keep signals from vanishing or exploding.

A layer ``h' = act(h W)`` with ``W`` of i.i.d. entries of standard deviation ``sigma`` multiplies
the variance of its input by ``fan_in sigma^2`` (times the activation's gain): over many layers
the signal grows or shrinks geometrically unless ``fan_in sigma^2`` is about 1.

References
----------
.. [1] X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward neural
       networks", AISTATS 2010.
.. [2] K. He, X. Zhang, S. Ren and J. Sun, "Delving deep into rectifiers", ICCV 2015.
"""

from __future__ import annotations

import numpy as np

__all__ = ["INITS", "init_std"]

INITS: tuple[str, ...] = ("normal", "xavier", "he")
"""The schemes :func:`init_std` knows."""


def init_std(init: str, fan_in: int, fan_out: int) -> float:
    """The weight standard deviation of an initialization scheme.

    ``"normal"``: 1 (the naive N(0, 1)); ``"xavier"`` (Glorot & Bengio 2010): sqrt(2 / (fan_in +
    fan_out)), which keeps the variance of a linear or tanh layer's output and of its gradient
    (``torch.nn.init.xavier_normal_``); ``"he"`` (He et al. 2015): sqrt(2 / fan_in), which
    compensates for ReLU zeroing half its inputs (``torch.nn.init.kaiming_normal_``).

    Raises
    ------
    ValueError
        If `init` is not one of :data:`INITS`, or a fan is below 1.
    """
    for name, fan in (("fan_in", fan_in), ("fan_out", fan_out)):
        if not fan >= 1:
            raise ValueError(f"{name} must be >= 1, got {fan!r}")
    if init == "normal":
        return 1.0
    if init == "xavier":
        return float(np.sqrt(2.0 / (fan_in + fan_out)))
    if init == "he":
        return float(np.sqrt(2.0 / fan_in))
    raise ValueError(f"init={init!r} is not one of {INITS}")
