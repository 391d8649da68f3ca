"""The exercise panel's logic, outside a browser: grading, saving, hints and the solution."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from numdl.exercises import Case, Exercise, Limits, ProgressStore
from numdl.exercises.chapter01 import SEQUENCE_LOG_PROB
from numdl.tutorial.widgets import ExercisePanel, home_table, render_report, show_source, takeaways


def plain(h) -> str:
    """The text of a marimo Html, with nested outputs' escaping undone and tags removed."""
    import html as _html
    import re

    text = h.text
    for _ in range(3):
        text = _html.unescape(text)
        text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
        text = text.replace('\\"', '"')
    return text


def no_tags(h) -> str:
    import re

    return re.sub(r"<[^>]+>", "", plain(h))


class FakeState:
    def __init__(self, value):
        self.value = value

    def __call__(self, update):
        self.value = update(self.value) if callable(update) else update


def ui(code="", check=0, hint=0, solution=0):
    return SimpleNamespace(value={"code": code, "check": check, "hint": hint, "solution": solution})


def test_grade_and_save_records_progress_and_hands_back_the_report(tmp_path):
    panel = ExercisePanel(SEQUENCE_LOG_PROB, ProgressStore(tmp_path))
    state = FakeState(panel.initial_state())
    assert state.value["status"] == "new"
    panel._grade_and_save(SEQUENCE_LOG_PROB.solution, state)
    assert state.value["status"] == "done" and state.value["report"].passed
    assert state.value["attempts"] == 1 and state.value["passed"]
    saved = ProgressStore(tmp_path).get(SEQUENCE_LOG_PROB.id)
    assert saved.passed and saved.code == SEQUENCE_LOG_PROB.solution
    # Reopening the chapter restores the code in the editor and the verdict.
    reopened = ExercisePanel(SEQUENCE_LOG_PROB, ProgressStore(tmp_path))
    assert reopened.initial_state()["status"] == "restored"
    assert reopened.controls()["code"].value == SEQUENCE_LOG_PROB.solution


def test_a_grader_bug_is_shown_not_swallowed(tmp_path):
    def broken_check(case, got):
        raise RuntimeError("checker exploded")

    ex = Exercise(id="t.broken", title="t", prompt="", function="f", start_code="", solution="",
                  hints=(), cases=lambda: [Case("x", (), np.float64(1.0))], check=broken_check,
                  limits=Limits(seconds=3))
    panel = ExercisePanel(ex, ProgressStore(tmp_path))
    state = FakeState(panel.initial_state())
    panel._grade_and_save("def f():\n    return 1.0\n", state)
    assert state.value["status"] == "error"
    assert state.value["error"] == "RuntimeError: checker exploded"
    assert "checker exploded" in plain(panel.view(ui(), state.value))


def test_hints_come_one_at_a_time_and_the_solution_after_three_failures(tmp_path):
    panel = ExercisePanel(SEQUENCE_LOG_PROB, ProgressStore(tmp_path))
    state = panel.initial_state()
    text = plain(panel.view(ui(hint=1), state))
    assert "Hints" in text and "2 more hint(s)" in text
    assert "Worked solution" not in text
    text = plain(panel.view(ui(hint=3), state))
    assert "more hint" not in text
    failing = {**state, "attempts": SEQUENCE_LOG_PROB.solution_after, "passed": False}
    assert "offered after 3 attempts" in plain(panel.view(ui(), failing))
    assert "Worked solution" in plain(panel.view(ui(solution=1), state))


def test_report_table_marks_each_case(tmp_path):
    from numdl.exercises import grade

    report = grade(SEQUENCE_LOG_PROB, SEQUENCE_LOG_PROB.start_code)
    html = plain(render_report(report))
    assert html.count("data-passed='false'") == len(report.results) - report.n_passed
    assert "✗ fail" in html and "underflows to 0" in html


def test_home_table_and_helpers(tmp_path):
    from numdl.exercises import exercises_for
    from numdl.tutorial.catalog import CHAPTERS

    store = ProgressStore(tmp_path)
    store.record(SEQUENCE_LOG_PROB.id, "x", passed=False)
    html = plain(home_table(CHAPTERS, store, exercises_for))
    assert "0/2 passed (1 tried)" in html
    assert "Key takeaways" in plain(takeaways("a", "b"))
    from numdl.tutorial.simulations import ch01

    assert "def running_product" in no_tags(show_source(ch01.running_product))
