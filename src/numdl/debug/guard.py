"""Turn NumPy's first overflow, invalid operation or division by zero into a precise exception.

NumPy already raises on floating-point errors under ``np.errstate(all="raise")``, but its message
(``FloatingPointError: overflow encountered in exp``) names neither the line nor the values that
caused it, and the warning it gives by default is easily lost.  :func:`nonfinite_guard` installs
NumPy's ``"call"`` error mode with a handler that, at the first error:

1. reads the kind of error (``"overflow"``, ``"invalid value"``, ``"divide by zero"``) from the
   flag NumPy passes;
2. walks the stack to the user's frame -- the innermost one outside NumPy, numdl and the standard
   library -- and takes its source line and, from Python's position tables (3.11+), the exact
   sub-expression being evaluated (``np.exp(x)`` in ``y = np.exp(x) * 2``);
3. names the operation from that sub-expression (the function called, or the operator);
4. summarizes the operands it can see: the names in the sub-expression that are arrays or numbers
   in the frame's locals or globals (min, max, negatives, zeros, non-finite values);
5. raises :class:`NonfiniteError` (a ``FloatingPointError``) with all of it.

What is and is not available
----------------------------
NumPy's error callback receives only the kind of error and a bit mask -- not the ufunc, not its
operands, not its output.  The operation is therefore read from the user's source, and operands
are shown only when they are plain names (``x``, ``self.w``) in that frame; operands that are
themselves expressions (``np.exp(a - b)``) are shown as the names they use (``a``, ``b``), which
is often what one needs.  For an in-place operation (``x *= 1e300``) the operands are shown
*after* the operation, since NumPy has already written them.  Inside a NumPy function written in
Python (``np.sum``, ``np.linalg.norm``) the user's line is the call of that function.  Code run
from ``python -c`` or the interactive prompt has no source to show.

Errors that IEEE 754 does not flag are not caught: a NaN *passed on* by an operation (only its
producer raises the invalid flag), and integer overflow.  Underflow is ignored by default (it is
usually harmless); pass ``underflow=True`` to catch it too.

State, nesting and threads
--------------------------
NumPy 2 keeps the error state (modes and callback) in a context variable, so the guard is
restored on exit, nests (the inner guard's settings win inside it), and is local to the thread
(and asyncio task) that entered it: other threads keep their own settings, and threads started
inside the block do not inherit the guard.

Examples
--------
>>> import numpy as np
>>> from numdl.debug import nonfinite_guard, NonfiniteError
>>> x = np.array([1.0, 800.0])
>>> try:
...     with nonfinite_guard():
...         y = np.exp(x)
... except NonfiniteError as err:
...     print(err.finding.operation, err.finding.kind)
exp overflow
"""

from __future__ import annotations

import ast
import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from numdl.debug._common import (
    NonfiniteError,
    SourceLocation,
    ValueSummary,
    fix_for,
    location_of,
    summarize_numpy,
    user_frame,
)

__all__ = ["GuardFinding", "nonfinite_guard"]

# NumPy's error flags (numpy/_core/_ufunc_config.py): bit -> name.
_FLAGS = ((1, "divide by zero"), (2, "overflow"), (4, "underflow"), (8, "invalid value"))
_KINDS = {"divide by zero": "divide by zero", "overflow": "overflow", "underflow": "underflow",
          "invalid": "invalid value", "invalid value": "invalid value"}
_OPERATORS = {
    ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide",
    ast.FloorDiv: "floor_divide", ast.Mod: "remainder", ast.Pow: "power",
    ast.MatMult: "matmul",
}
_MAX_OPERANDS = 4


@dataclass(frozen=True)
class GuardFinding:
    """The first floating-point error inside :func:`nonfinite_guard`.

    Attributes
    ----------
    kind : str
        ``"overflow"``, ``"invalid value"``, ``"divide by zero"`` or ``"underflow"``: the error
        that triggered the handler.
    flags : tuple of str
        Every error the operation raised (``np.log([-1, 0])`` raises both invalid and divide).
    operation : str
        The function or operator, read from the source (``"exp"``, ``"multiply"``,
        ``"np.linalg.norm"``); ``"?"`` when the source is not available.
    expression : str
        The sub-expression being evaluated (``"np.exp(x)"``), or ``""``.
    location : SourceLocation or None
        The user's line.
    operands : tuple of ValueSummary
        Arrays and numbers named in `expression` (see the module docstring for what can be shown).
    suggestion : str
        A fix for this kind of operation, when one is known.
    """

    kind: str
    flags: tuple[str, ...]
    operation: str
    expression: str
    location: SourceLocation | None
    operands: tuple[ValueSummary, ...]
    suggestion: str

    @property
    def report(self) -> str:
        """Readable text: what, where, with which values, and a fix."""
        op = self.operation if self.operation != "?" else "a NumPy operation"
        lines = [f"{self.kind} in {op}" + (f" ({', '.join(self.flags)})"
                                             if len(self.flags) > 1 else "")]
        if self.location is not None:
            lines.append(f"  line:    {self.location}")
        if self.expression:
            lines.append(f"  in:      {self.expression}")
        for s in self.operands:
            lines.append(f"  operand: {s.describe()}")
        if not self.operands:
            lines.append("  operand: (not available: operands are shown when they are names)")
        if self.suggestion:
            lines.append(f"  fix:     {self.suggestion}")
        return "\n".join(lines)


def _names_in(node: ast.AST) -> list[str]:
    """Dotted names used in an expression, outermost first (``self.w``, ``x``), no duplicates."""
    found: list[str] = []

    def dotted(n: ast.AST) -> str | None:
        if isinstance(n, ast.Name):
            return n.id
        if isinstance(n, ast.Attribute):
            base = dotted(n.value)
            return f"{base}.{n.attr}" if base else None
        return None

    def visit(n: ast.AST, in_func: bool = False) -> None:
        if isinstance(n, ast.Call):
            for a in [*n.args, *(k.value for k in n.keywords)]:
                visit(a)
            return
        name = dotted(n)
        if name is not None:
            if name not in found:
                found.append(name)
            return
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return found


def _operation(expr: ast.AST | None) -> str:
    if isinstance(expr, ast.Call):
        func = ast.unparse(expr.func)
        for prefix in ("numpy.", "np."):
            if func.startswith(prefix) and func.count(".") == 1:
                return func[len(prefix):]
        return func
    if isinstance(expr, ast.BinOp):
        return _OPERATORS.get(type(expr.op), type(expr.op).__name__.lower())
    if isinstance(expr, ast.AugAssign):
        return _OPERATORS.get(type(expr.op), type(expr.op).__name__.lower()) + " (in place)"
    if isinstance(expr, ast.UnaryOp):
        return type(expr.op).__name__.lower()
    return "?"


def _lookup(frame: Any, dotted: str) -> Any:
    head, *rest = dotted.split(".")
    if head in frame.f_locals:
        value = frame.f_locals[head]
    elif head in frame.f_globals:
        value = frame.f_globals[head]
    else:
        raise LookupError(dotted)
    for attr in rest:
        value = getattr(value, attr)  # plain attribute access, as the user's code did
    return value


def _parse(segment: str) -> ast.AST | None:
    text = segment.strip()
    if not text:
        return None
    for candidate in (text, f"({text})"):
        try:
            tree = ast.parse(candidate, mode="exec")
        except SyntaxError:
            continue
        if tree.body:
            stmt = tree.body[0]
            return stmt.value if isinstance(stmt, ast.Expr) else stmt
    return None


def _finding(kind: str, flag: int) -> GuardFinding:
    frame = user_frame(sys._getframe(2))
    location = location_of(frame)
    segment = location.segment if location else ""
    expr = _parse(segment) if segment else None
    if expr is None and location is not None and location.line:
        expr = _parse(location.line)
        if isinstance(expr, ast.Assign):
            expr = expr.value
        segment = segment or (ast.unparse(expr) if expr is not None else "")
    operation = _operation(expr)
    operands: list[ValueSummary] = []
    if expr is not None and frame is not None:
        target = expr.value if isinstance(expr, ast.AugAssign) else expr
        names = _names_in(target)
        if isinstance(expr, ast.AugAssign):
            names = [n for n in _names_in(expr.target) if n not in names] + names
        for name in names:
            if len(operands) >= _MAX_OPERANDS:
                break
            try:
                value = _lookup(frame, name)
            except (LookupError, AttributeError):
                continue
            if isinstance(value, np.ndarray | np.generic | float | int) and not isinstance(
                    value, bool):
                summary = summarize_numpy(name, value)
                if summary is not None:
                    operands.append(summary)
    flags = tuple(name for bit, name in _FLAGS if flag & bit) or (kind,)
    base = operation.rsplit(".", 1)[-1]
    suggestion = fix_for(base, dtype=operands[0].dtype if operands else "the dtype")
    if not suggestion and kind == "divide by zero":
        suggestion = fix_for("div")
    return GuardFinding(
        kind=kind, flags=flags, operation=operation, expression=segment, location=location,
        operands=tuple(operands), suggestion=suggestion,
    )


def _handler(err: str, flag: int) -> None:
    kind = _KINDS.get(err, err)
    finding = _finding(kind, flag)
    raise NonfiniteError(finding.report, finding)


@contextlib.contextmanager
def nonfinite_guard(*, overflow: bool = True, invalid: bool = True, divide: bool = True,
                    underflow: bool = False) -> Iterator[None]:
    """Raise :class:`NonfiniteError` at the first NumPy floating-point error in the block.

    Parameters
    ----------
    overflow, invalid, divide, underflow : bool
        Which IEEE exceptions to catch (underflow is off by default: flushing to zero or to a
        subnormal is usually harmless).  Those not caught keep the surrounding setting.

    Raises
    ------
    NonfiniteError
        With ``.finding``, a :class:`GuardFinding`: the kind of error, the operation, the user's
        line and sub-expression, summaries of the operands, a fix.  ``str(error)`` is the report.

    Notes
    -----
    See the module docstring for how the operation and operands are found, what cannot be shown,
    and the behaviour under nesting and threads (NumPy's error state is a context variable).
    """
    modes = {}
    for key, on in (("over", overflow), ("invalid", invalid), ("divide", divide),
                    ("under", underflow)):
        if on:
            modes[key] = "call"
    with np.errstate(call=_handler, **modes):
        yield
