"""Exercises, their cases, and grading with reasons a learner can act on.

An :class:`Exercise` names a function the learner writes, start code, hints, a
worked solution and a list of :class:`Case` objects whose expected values are
computed by the library (never typed in).  :func:`grade` runs the learner's
code in the sandbox (:mod:`numdl.exercises.sandbox`) and compares each answer
in the server.  Every case is shown with pass/fail and, on failure, a reason
that says what came back, what was expected, and why this input is hard, e.g.
``returned 0.0 for p = 0.01 repeated 400 times (float32); expected -1842.07.
The product underflowed to 0 long before the end...``.  No case is hidden: a
learner never sees "all passed" while something failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from numdl.exercises.encoding import Unsupported
from numdl.exercises.sandbox import Limits, SandboxRun, run_function

__all__ = [
    "RTOL",
    "Case",
    "CaseResult",
    "Exercise",
    "Report",
    "close_to",
    "describe",
    "grade",
    "ulp_close",
]


@dataclass(frozen=True)
class Case:
    """One input the learner's function is called with.

    ``label`` describes the input in words; ``expected`` is computed by the
    library; ``why`` explains what makes this input hard and is shown when the
    case fails.
    """

    label: str
    args: tuple
    expected: Any
    why: str = ""
    kwargs: dict = field(default_factory=dict)
    hostile: bool = False


# Relative tolerance by output dtype for answers that may legitimately round
# differently from the reference (a different summation order, say): a few
# units of each format's machine epsilon scaled by a modest growth factor.
RTOL = {
    "float64": 1e-12,
    "float32": 1e-5,
    "float16": 4e-3,
    "bfloat16": 3e-2,
}


def describe(value: Any, max_items: int = 6) -> str:
    """A short text for a value in a report: arrays show dtype and a few entries."""
    if isinstance(value, Unsupported):
        return value.what
    if isinstance(value, np.ndarray | np.generic):
        arr = np.asarray(value)
        dtype = arr.dtype.name
        if arr.ndim == 0:
            return f"{_num(arr[()])} ({dtype})"
        flat = arr.ravel()
        items = ", ".join(_num(v) for v in flat[:max_items])
        more = f", … ({arr.size} values)" if arr.size > max_items else ""
        return f"[{items}{more}] ({dtype}, shape {arr.shape})"
    if isinstance(value, float):
        return _num(value)
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "…"


def _num(v: Any) -> str:
    f = float(v)
    if np.isnan(f):
        return "nan"
    if np.isinf(f):
        return "inf" if f > 0 else "-inf"
    return f"{f:.7g}"


def _form_problem(case: Case, got: Any, check_dtype: bool) -> str | None:
    """What is wrong with the answer's type, shape or dtype, before any value is compared."""
    if isinstance(got, Unsupported):
        return f"returned {got.what}; return a NumPy array or float"
    if got is None:
        return "returned None: did you forget `return`?"
    if not isinstance(got, np.ndarray | np.generic | float | int):
        return f"returned a {type(got).__name__}; return a NumPy array or scalar"
    expected = np.asarray(case.expected)
    got_arr = np.asarray(got)
    if got_arr.shape != expected.shape:
        return f"returned shape {got_arr.shape}, expected shape {expected.shape}"
    dtype = expected.dtype.name
    if check_dtype and isinstance(got, np.ndarray | np.generic) and got_arr.dtype != expected.dtype:
        return (f"returned {got_arr.dtype.name} for a {dtype} problem; keep the input's "
                f"dtype (the point is to compute in {dtype})")
    return None


def _mismatch(got: np.ndarray, expected: np.ndarray, flat: int, extra: str = "") -> str:
    """'returned G at index I; expected E' for the element ``flat`` (no index for scalars)."""
    where = (f" at index {tuple(int(i) for i in np.unravel_index(flat, expected.shape))}"
             if expected.ndim else "")
    return f"returned {_num(got.ravel()[flat])}{where}; expected {_num(expected.ravel()[flat])}{extra}"


def close_to(
    *, rtol: dict[str, float] | None = None, atol: float = 0.0, check_dtype: bool = True
) -> Callable[[Case, Any], str | None]:
    """A checker: the answer must equal ``case.expected`` within a dtype-keyed tolerance.

    NaN matches NaN, an infinity matches the same infinity, and nothing else
    matches a non-finite expectation.  Returns None on success, else the reason.
    """
    table = {**RTOL, **(rtol or {})}

    def check(case: Case, got: Any) -> str | None:
        problem = _form_problem(case, got, check_dtype)
        if problem:
            return problem
        exp_arr = np.asarray(case.expected)
        g = np.asarray(got).astype(np.float64)
        e = exp_arr.astype(np.float64)
        both_nan = np.isnan(g) & np.isnan(e)
        same_inf = np.isinf(e) & (g == e)
        with np.errstate(invalid="ignore"):
            tol = table.get(exp_arr.dtype.name, table["float64"]) * np.abs(e) + atol
            ok = both_nan | same_inf | (np.isfinite(e) & np.isfinite(g) & (np.abs(g - e) <= tol))
        if bool(np.all(ok)):
            return None
        return _mismatch(g, e, int(np.flatnonzero(~ok.ravel())[0]))

    return check


def ulp_close(max_ulp: float, *, check_dtype: bool = True) -> Callable[[Case, Any], str | None]:
    """A checker: within ``max_ulp`` units in the last place of ``case.expected``.

    ``case.expected`` is the correctly rounded reference (from
    :mod:`numdl.reference`); the error is measured in ULPs of its dtype, so the
    tolerance means the same thing in float16 and float64.  Special values
    must match exactly (NaN with NaN, an infinity with the same infinity).
    """
    from numdl.reference import ulp_error

    def check(case: Case, got: Any) -> str | None:
        problem = _form_problem(case, got, check_dtype)
        if problem:
            return problem
        expected = np.asarray(case.expected)
        got_arr = np.asarray(got, dtype=np.float64).astype(expected.dtype)
        errors = np.atleast_1d(np.asarray(ulp_error(got_arr, expected), dtype=np.float64))
        worst = int(np.argmax(np.where(np.isnan(errors), np.inf, errors)))
        if errors[worst] <= max_ulp:
            return None
        ulps = (f", {errors[worst]:.3g} ULP off (allowed: {max_ulp:g})"
                if np.isfinite(errors[worst]) else "")
        return _mismatch(got_arr, expected, worst, ulps)

    return check


@dataclass(frozen=True)
class Exercise:
    """A graded exercise: the learner writes ``function`` so that every case passes."""

    id: str
    title: str
    prompt: str
    function: str
    start_code: str
    solution: str
    hints: tuple[str, ...]
    cases: Callable[[], Sequence[Case]]
    check: Callable[[Case, Any], str | None] = field(default_factory=close_to)
    limits: Limits = field(default_factory=Limits)
    solution_after: int = 3  # failed attempts before the worked solution is offered

    def make_cases(self) -> list[Case]:
        """The cases, computed once per process (references can take a moment)."""
        cached = _CASE_CACHE.get(self.id)
        if cached is None or cached[0] is not self.cases:
            cases = list(self.cases())
            if not cases:
                raise ValueError(f"exercise {self.id!r} has no cases")
            cached = _CASE_CACHE[self.id] = (self.cases, cases)
        return list(cached[1])


_CASE_CACHE: dict[str, tuple[Callable, list[Case]]] = {}


@dataclass(frozen=True)
class CaseResult:
    label: str
    passed: bool
    reason: str  # empty when passed
    got: str
    expected: str
    hostile: bool


@dataclass(frozen=True)
class Report:
    """The outcome of one Check."""

    exercise_id: str
    passed: bool
    results: tuple[CaseResult, ...]
    problem: str | None  # a failure of the whole run: syntax error, timeout, crash...
    output: str
    output_note: str
    elapsed: float

    @property
    def n_passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def summary(self) -> str:
        n = len(self.results)
        if self.passed:
            return f"All {n} cases passed, hostile ones included."
        if self.problem and not any(r.passed for r in self.results):
            return f"0 of {n} cases passed: {self.problem}"
        return f"{self.n_passed} of {n} cases passed."


def _error_text(err: dict) -> str:
    where = f" ({err['where']})" if err.get("where") else ""
    kind = err.get("kind")
    if kind == "memory":
        return f"ran out of memory{where}: the sandbox allows {{mb}} MiB; avoid huge arrays"
    if kind == "exit":
        return f"called sys.exit({err['message']}){where}: return a value instead of exiting"
    if kind == "syntax":
        return f"has a syntax error{where}: {err['message']}"
    if kind == "missing":
        return f"does not define a function named `{err['message']}`"
    msg = f": {err['message']}" if err.get("message") else ""
    return f"raised {err['type']}{msg}{where}"


def grade(exercise: Exercise, code: str, limits: Limits | None = None) -> Report:
    """Run ``code`` against every case of ``exercise`` and explain each result."""
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, not {type(code).__name__}")
    limits = limits or exercise.limits
    cases = exercise.make_cases()
    run: SandboxRun = run_function(code, exercise.function, [(c.args, c.kwargs) for c in cases], limits)
    mb = limits.memory_mb

    problem: str | None = None
    if run.load_error is not None:
        problem = "Your code " + _error_text(run.load_error).replace("{mb}", str(mb)) + "."
    elif run.timed_out:
        done = sum(o is not None for o in run.outcomes)
        problem = (f"Your code did not finish within {limits.seconds:g} s (an endless loop, or far "
                   f"too much work?); {done} of {len(cases)} cases finished before it was stopped.")
    elif run.crashed:
        done = sum(o is not None for o in run.outcomes)
        problem = (f"The Python process running your code ended abruptly (exit code {run.exit_code}: "
                   f"os._exit, or a crash) after {done} of {len(cases)} cases. Return a value instead.")

    results = []
    for case, outcome in zip(cases, run.outcomes):
        exp_text = describe(case.expected)
        if outcome is None:
            reason = "not run: " + ("the run stopped before this case" if run.load_error is None
                                    else "your code did not load")
            results.append(CaseResult(case.label, False, reason, "—", exp_text, case.hostile))
            continue
        if outcome.error is not None:
            reason = (f"For {case.label}: your function "
                      + _error_text(outcome.error).replace("{mb}", str(mb)) + ".")
            if case.why:
                reason += " " + case.why
            results.append(CaseResult(case.label, False, reason, "error", exp_text, case.hostile))
            continue
        verdict = exercise.check(case, outcome.value)
        if verdict is None:
            results.append(CaseResult(case.label, True, "", describe(outcome.value), exp_text, case.hostile))
        else:
            reason = f"For {case.label}: {verdict}."
            if case.why:
                reason += " " + case.why
            results.append(CaseResult(case.label, False, reason, describe(outcome.value), exp_text,
                                      case.hostile))

    output_note = ""
    if run.output_truncated:
        output_note = (f"Your code printed {run.output_chars:,} bytes; only the first "
                       f"{len(run.output):,} are shown.")
    passed = problem is None and all(r.passed for r in results)
    return Report(exercise.id, passed, tuple(results), problem, run.output, output_note, run.elapsed)
