"""Exact JSON encoding of the values that cross the sandbox boundary.

Learner code runs in a child process (see :mod:`numdl.exercises.sandbox`), so its
inputs and outputs travel as text.  Pickle is never used: unpickling what an
untrusted process wrote would run its code in the server.  Floats are written
with ``float.hex`` so that a value comes back bit for bit, NaN and infinities
included (arrays travel as their raw bits), and every array keeps its dtype (float16, bfloat16, fp8 too).
"""

from __future__ import annotations

import math
from typing import Any

import ml_dtypes  # noqa: F401  (registers bfloat16 and fp8 with NumPy)
import numpy as np

__all__ = ["Unsupported", "decode", "encode"]

_MAX_ELEMENTS = 1_000_000


def _float_to_text(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(v).hex()


def _text_to_float(s: str) -> float:
    if s in ("nan", "inf", "-inf"):
        return float(s)
    return float.fromhex(s)


def encode(value: Any) -> Any:
    """Turn ``value`` into JSON-safe data that :func:`decode` restores exactly.

    Supported: None, bool, int, float, str, NumPy scalars and arrays of bool,
    integer and float dtypes (including ml_dtypes' bfloat16 and fp8), and
    lists, tuples and str-keyed dicts of those.  Anything else (a torch tensor,
    an arbitrary object) is described by its type name so the grader can say
    what came back instead of crashing.
    """
    if value is None or isinstance(value, bool | str):
        return value
    # NumPy scalars first: np.float64 is a subclass of float, and its dtype must survive.
    if isinstance(value, np.generic | np.ndarray):
        arr = np.asarray(value)
        if arr.size > _MAX_ELEMENTS:
            return {"__unsupported__": f"array with {arr.size} elements"}
        kind = arr.dtype.kind
        if arr.dtype == np.bool_:
            data: list[Any] = arr.ravel().tolist()
        elif kind in "iu":
            data = [str(v) for v in arr.ravel().tolist()]
        elif kind == "f" or arr.dtype.name in _ML_FLOAT_NAMES:
            # The raw bits: exact for every format, NaN payloads and -0.0 included.
            data = np.ascontiguousarray(arr).view(f"u{arr.dtype.itemsize}").ravel().tolist()
        else:
            return {"__unsupported__": f"array of dtype {arr.dtype}"}
        return {
            "__array__": True,
            "dtype": arr.dtype.name,
            "shape": list(arr.shape),
            "scalar": isinstance(value, np.generic),
            "data": data,
        }
    if isinstance(value, int):
        return {"__int__": str(value)}
    if isinstance(value, float):
        return {"__float__": _float_to_text(value)}
    if isinstance(value, list | tuple):
        return {"__seq__": type(value).__name__, "items": [encode(v) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode(v) for k, v in value.items()}}
    return {"__unsupported__": type(value).__module__ + "." + type(value).__qualname__}


_ML_FLOAT_NAMES = {"bfloat16", "float8_e4m3fn", "float8_e5m2"}


class Unsupported:
    """Stands for a value the sandbox could not send back (named by ``what``)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"<{self.what}>"


def decode(data: Any) -> Any:
    """Inverse of :func:`encode`."""
    if data is None or isinstance(data, bool | str):
        return data
    if isinstance(data, list):  # only produced by plain JSON, not by encode
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        raise ValueError(f"cannot decode {type(data).__name__}")
    if "__int__" in data:
        return int(data["__int__"])
    if "__float__" in data:
        return _text_to_float(data["__float__"])
    if data.get("__array__"):
        dtype = np.dtype(data["dtype"])
        raw = data["data"]
        if dtype == np.bool_:
            flat = np.array(raw, dtype=bool)
        elif dtype.kind in "iu":
            flat = np.array([int(v) for v in raw], dtype=dtype)
        else:
            flat = np.array(raw, dtype=f"u{dtype.itemsize}").view(dtype)
        arr = flat.reshape(data["shape"])
        return arr[()] if data.get("scalar") else arr
    if "__seq__" in data:
        items = [decode(v) for v in data["items"]]
        return tuple(items) if data["__seq__"] == "tuple" else items
    if "__dict__" in data:
        return {k: decode(v) for k, v in data["__dict__"].items()}
    if "__unsupported__" in data:
        return Unsupported(str(data["__unsupported__"]))
    raise ValueError(f"cannot decode {sorted(data)}")
