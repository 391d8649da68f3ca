"""Every chapter's exercises: the worked solution passes, the start code fails a hostile case."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.exercises import exercises_for, grade
from numdl.linalg import hilbert
from numdl.tutorial.catalog import available_chapters

ALL = [ex for ch in available_chapters() for ex in exercises_for(ch.slug)]


def test_every_written_chapter_has_exercises():
    for ch in available_chapters():
        assert exercises_for(ch.slug), ch.slug


@pytest.mark.parametrize("exercise", ALL, ids=[e.id for e in ALL])
def test_solution_passes_every_case(exercise):
    report = grade(exercise, exercise.solution)
    assert report.passed, [r.reason for r in report.results if not r.passed] or report.problem


@pytest.mark.parametrize("exercise", ALL, ids=[e.id for e in ALL])
def test_start_code_fails_a_hostile_case_with_a_reason(exercise):
    report = grade(exercise, exercise.start_code)
    assert not report.passed
    failed = [r for r in report.results if not r.passed]
    assert any(r.hostile for r in failed)
    assert all(r.reason for r in failed)
    assert len(exercise.hints) >= 2 and exercise.id.split(".")[0] in {c.slug for c in available_chapters()}


def test_threshold_reasons_say_which_way_to_step():
    from numdl.exercises.chapter02a import EXP_OVERFLOW

    too_high = "import ml_dtypes\ndef exp_overflow_threshold(name):\n    return np.float16(11.09375) if name == 'float16' else None\n"
    reasons = {r.label: r.reason for r in grade(EXP_OVERFLOW, too_high).results}
    assert "already overflows float16: step down" in reasons["dtype = 'float16'"]
    too_low = "def exp_overflow_threshold(name):\n    return np.float16(11.0)\n"
    reasons = {r.label: r.reason for r in grade(EXP_OVERFLOW, too_low).results}
    assert "still has a finite exp: there are larger answers" in reasons["dtype = 'float16'"]
    assert "returned a float16 number; return a float32 number" in reasons["dtype = 'float32'"]


def test_exact_lstsq_reference_of_chapter05b_is_exact():
    from numdl.exercises.chapter05b import exact_lstsq

    # A problem with an exactly known answer: X = [[1, 0], [0, 1], [1, 1]], y = [1, 2, 4].
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([1.0, 2.0, 4.0])
    # X^T X = [[2, 1], [1, 2]], X^T y = [5, 6]: beta = [4/3, 7/3].
    np.testing.assert_array_equal(exact_lstsq(x, y), [4 / 3, 7 / 3])
    h = hilbert(6)
    beta = exact_lstsq(h, h @ np.ones(6))
    assert np.max(np.abs(beta - 1)) < 1e-9  # the rounded b moves the exact answer by ~kappa u
