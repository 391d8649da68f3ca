"""Numerical debugging: where a NaN or an infinity came from, whether a gradient is right, and
which formats a model's values fit.

=========================  ===================================================================
:func:`trace_nonfinite`    PyTorch, forward and backward: the first operation whose inputs were
                           finite and whose output was not, with module, line, input statistics
                           and a fix (dispatch mode, or a cheaper module mode)
:func:`nonfinite_guard`    NumPy: the first overflow, invalid operation or division by zero
                           becomes an exception naming the operation, the line and the inputs
:func:`gradcheck`          finite differences (or complex step) against a NumPy or PyTorch
                           gradient, with round-off-based tolerances and a Taylor test
:func:`precision_audit`    one float32 step: ranges, headroom against float16, bfloat16 and the
                           two float8 formats, and a feasible float16 loss scale
=========================  ===================================================================

The tools name the user's line: the innermost frame outside numdl, NumPy, torch and the standard
library (:func:`register_user_code` adds folders that count as the user's although they sit inside
one of those).  PyTorch is imported only when a PyTorch tool is used, plotly only by
:func:`plot_precision_audit`.
"""

from __future__ import annotations

from numdl.debug._common import (
    NonfiniteError,
    SourceLocation,
    ValueSummary,
    register_user_code,
)
from numdl.debug.audit import (
    AUDIT_FORMATS,
    AuditEntry,
    FormatFit,
    LossScale,
    PrecisionAudit,
    plot_precision_audit,
    precision_audit,
)
from numdl.debug.gradcheck import ElementCheck, GradcheckResult, gradcheck
from numdl.debug.guard import GuardFinding, nonfinite_guard
from numdl.debug.trace import Finding, NonfiniteTrace, trace_nonfinite

__all__ = [
    "AUDIT_FORMATS",
    "AuditEntry",
    "ElementCheck",
    "Finding",
    "FormatFit",
    "GradcheckResult",
    "GuardFinding",
    "LossScale",
    "NonfiniteError",
    "NonfiniteTrace",
    "PrecisionAudit",
    "SourceLocation",
    "ValueSummary",
    "gradcheck",
    "nonfinite_guard",
    "plot_precision_audit",
    "precision_audit",
    "register_user_code",
    "trace_nonfinite",
]
