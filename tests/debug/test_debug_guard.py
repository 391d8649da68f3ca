"""nonfinite_guard: NumPy's first overflow / invalid / divide-by-zero, with the user's line."""

from __future__ import annotations

import inspect
import threading

import numpy as np
import pytest

from numdl.debug import GuardFinding, NonfiniteError, nonfinite_guard


def line_of(fragment: str) -> int:
    lines = inspect.getsource(inspect.getmodule(line_of)).splitlines()
    hits = [k + 1 for k, line in enumerate(lines) if line.rstrip().endswith(fragment)]
    assert len(hits) == 1, fragment
    return hits[0]


def softmax_naive(z):
    e = np.exp(z)  # tag: exp
    return e / e.sum()


def test_overflow_names_exp_the_line_and_the_operand():
    z = np.array([1.0, 800.0, -3.0])
    with pytest.raises(NonfiniteError) as info, nonfinite_guard():
        softmax_naive(z)
    err = info.value
    assert isinstance(err, FloatingPointError)
    f = err.finding
    assert isinstance(f, GuardFinding)
    assert (f.kind, f.operation, f.expression) == ("overflow", "exp", "np.exp(z)")
    assert f.location.lineno == line_of("# tag: exp")
    assert f.location.line == "e = np.exp(z)  # tag: exp"
    assert f.location.function == "softmax_naive"
    (z_summary,) = f.operands
    assert (z_summary.name, z_summary.max, z_summary.n_negative) == ("z", 800.0, 1)
    assert "subtract the maximum" in f.suggestion
    text = str(err)
    assert text.startswith("overflow in exp\n")
    assert "line:" in text and "operand: z: float64[3] in [-3, 800], 1 negative" in text


def test_log_of_zero_and_negative_reports_both_flags():
    p = np.array([0.5, 0.0, -0.25])
    with pytest.raises(NonfiniteError) as info, nonfinite_guard():
        np.log(p)  # tag: log
    f = info.value.finding
    assert f.operation == "log" and set(f.flags) == {"divide by zero", "invalid value"}
    assert f.location.lineno == line_of("# tag: log")
    assert (f.operands[0].n_zero, f.operands[0].n_negative) == (1, 1)


def test_division_operator_and_attribute_operands():
    class Layer:
        def __init__(self):
            self.scale = np.array([2.0, 0.0])

    layer = Layer()
    x = np.array([1.0, 1.0])
    with pytest.raises(NonfiniteError) as info, nonfinite_guard():
        x / layer.scale  # tag: div
    f = info.value.finding
    assert (f.kind, f.operation) == ("divide by zero", "divide")
    assert [s.name for s in f.operands] == ["x", "layer.scale"]
    assert f.operands[1].n_zero == 1
    assert f.location.lineno == line_of("# tag: div")


def test_overflow_inside_a_numpy_function_points_at_the_users_call():
    big = np.array([1e308, 1e308])
    with pytest.raises(NonfiniteError) as info, nonfinite_guard():
        np.sum(big)  # tag: sum
    f = info.value.finding
    assert f.operation == "sum" and f.location.lineno == line_of("# tag: sum")
    assert "fromnumeric" not in f.location.filename


def test_state_is_restored_nests_and_stays_in_its_thread():
    before = np.geterr(), np.geterrcall()
    with nonfinite_guard(overflow=False):
        assert np.geterr()["over"] == before[0]["over"]  # not caught: the surrounding setting
        assert np.geterr()["invalid"] == "call"
        with nonfinite_guard():
            assert np.geterr()["over"] == "call"
        assert np.geterr()["over"] == before[0]["over"]
        with np.errstate(over="ignore"):
            assert np.isinf(np.exp(np.array([1000.0]))).all()  # overflow not guarded here
        seen = {}
        worker = threading.Thread(target=lambda: seen.update(np.geterr()))
        worker.start()
        worker.join()
        assert seen["invalid"] != "call"  # threads do not inherit the guard
    assert (np.geterr(), np.geterrcall()) == before


def test_underflow_is_off_by_default_and_can_be_caught():
    tiny = np.array([1e-300])
    with nonfinite_guard():
        assert (tiny * tiny == 0).all()
    with pytest.raises(NonfiniteError, match="underflow in multiply"), \
            nonfinite_guard(underflow=True):
        tiny * tiny


def test_no_error_no_exception_and_nan_propagation_is_not_an_error():
    x = np.array([np.nan, 1.0])
    with nonfinite_guard():
        y = x * 2 + 1  # a NaN passed on raises no IEEE flag: only its producer does
    assert np.isnan(y[0]) and y[1] == 3.0
