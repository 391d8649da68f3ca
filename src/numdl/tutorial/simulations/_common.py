"""Argument checks shared by the chapter simulations (not part of any chapter's story)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from numdl.floats import as_dtype

__all__ = ["SIM_FORMATS", "check_rng", "sim_dtype"]

# The formats the simulations train and compute in (fp8 has too little precision for them).
SIM_FORMATS = ("float64", "float32", "float16", "bfloat16")


def sim_dtype(dtype: DTypeLike) -> np.dtype:
    """``numdl.floats.as_dtype``, restricted to :data:`SIM_FORMATS`."""
    dt = as_dtype(dtype)
    if dt.name not in SIM_FORMATS:
        raise ValueError(f"dtype={dt.name!r}; choose one of {', '.join(SIM_FORMATS)}")
    return dt


def check_rng(rng: Any) -> np.random.Generator:
    """``rng`` itself if it is a ``numpy.random.Generator``; a TypeError naming it otherwise.

    A seed (an int) is refused too: a simulation draws from the stream it is given, so two
    calls that must see the same numbers get two generators made from the same seed.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    return rng
