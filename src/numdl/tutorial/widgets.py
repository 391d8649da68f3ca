"""marimo building blocks shared by every chapter: the graded-exercise panel.

An exercise takes three short cells in a notebook::

    # cell 1: controls (shows the prompt, the editor and the buttons)
    ex1 = ExercisePanel(chapter01.SEQUENCE_LOG_PROB)
    ex1_get, ex1_set = mo.state(ex1.initial_state())
    ex1_ui = ex1.controls()
    ex1.layout(ex1_ui)

    # cell 2: grading (starts a background grader when Check is pressed)
    ex1.on_check(ex1_ui, ex1_set)

    # cell 3: the report, hints and solution
    ex1.view(ex1_ui, ex1_get())

Grading runs the learner's code in a separate, resource-limited process
(:mod:`numdl.exercises.sandbox`) from a ``mo.Thread``, so the kernel stays free:
sliders elsewhere in the chapter keep updating while an endless loop is timed
out.  The thread hands the report back through marimo state, which re-runs only
the report cell.  Progress is saved after every Check and restored (last code,
attempts, passed) when the chapter opens.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import marimo as mo

from numdl.exercises import Exercise, ProgressStore, Report, grade
from numdl.tutorial.catalog import Chapter

if TYPE_CHECKING:
    import plotly.graph_objects as go

# Tables in reports and on the home page: left-aligned, roomy rows (touch-friendly).
_CSS = """<style>
table.numdl-report, table.numdl-syllabus { border-collapse: collapse; width: 100%; }
table.numdl-report th, table.numdl-report td, table.numdl-syllabus th, table.numdl-syllabus td {
  text-align: left; vertical-align: top; padding: 0.45em 0.6em; border-bottom: 1px solid #8883; }
.numdl-reason { color: #b42318; margin-top: 0.25em; }
.numdl-pass { color: #067647; font-weight: 600; white-space: nowrap; }
.numdl-fail { color: #b42318; font-weight: 600; white-space: nowrap; }
td.numdl-progress { white-space: nowrap; }
table.numdl-syllabus a { color: #175cd3; text-decoration: underline; font-weight: 600; }
</style>"""

__all__ = ["ExercisePanel", "figure_layout", "home_table", "render_report", "show_source", "takeaways"]


class ExercisePanel:
    """The editor, buttons, report, hints and solution of one exercise."""

    def __init__(self, exercise: Exercise, store: ProgressStore | None = None) -> None:
        if not isinstance(exercise, Exercise):
            raise TypeError(f"exercise must be an Exercise, not {type(exercise).__name__}")
        self.exercise = exercise
        self.store = store or ProgressStore()
        try:
            self.saved = self.store.get(exercise.id)
        except OSError:
            self.saved = None
        self._checks_seen = 0
        self._lock = threading.Lock()

    # -- cell 1 -----------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        saved = self.saved
        return {
            "status": "restored" if saved else "new",
            "report": None,
            "attempts": saved.attempts if saved else 0,
            "passed": bool(saved and saved.passed),
            "summary": saved.summary if saved else "",
        }

    def controls(self) -> mo.ui.dictionary:
        ex = self.exercise
        code = self.saved.code if self.saved else ex.start_code
        return mo.ui.dictionary(
            {
                "code": mo.ui.code_editor(value=code, language="python", min_height=160),
                "check": mo.ui.button(value=0, on_click=lambda n: n + 1, label="Check",
                                      kind="success", tooltip="Run your code on every case"),
                "hint": mo.ui.button(value=0, on_click=lambda n: n + 1, label="Show a hint",
                                     disabled=not ex.hints),
                "solution": mo.ui.button(value=0, on_click=lambda n: n + 1,
                                         label="Show the worked solution", kind="warn"),
            }
        )

    def layout(self, ui: mo.ui.dictionary) -> mo.Html:
        ex = self.exercise
        restored = ""
        if self.saved:
            state = "passed" if self.saved.passed else "not passed yet"
            restored = (f"\n\n*Restored your last answer ({state}, {self.saved.attempts} "
                        f"check{'s' if self.saved.attempts != 1 else ''}).*")
        return mo.vstack(
            [
                mo.md(f"### Exercise: {ex.title}\n\n{ex.prompt}{restored}"),
                ui["code"],
                mo.hstack([ui["check"], ui["hint"], ui["solution"]], justify="start"),
            ]
        )

    # -- cell 2 -----------------------------------------------------------------
    def on_check(self, ui: mo.ui.dictionary, set_state: Callable[[Any], None]) -> None:
        """Start grading in the background when Check was pressed since the last run."""
        clicks = int(ui.value["check"])
        with self._lock:
            if clicks <= self._checks_seen:
                return None  # this run was caused by an edit, not by Check
            self._checks_seen = clicks
        code = ui.value["code"]
        set_state(lambda s: {**s, "status": "grading"})
        mo.Thread(target=self._grade_and_save, args=(code, set_state), daemon=True).start()
        return None

    def _grade_and_save(self, code: str, set_state) -> None:
        try:
            report = grade(self.exercise, code)
        except Exception as exc:  # a grader bug must show up in the page, not vanish in a thread
            message = f"{type(exc).__name__}: {exc}"  # `exc` is unbound once the block ends
            set_state(lambda s: {**s, "status": "error", "error": message})
            return
        try:
            entry = self.store.record(self.exercise.id, code, report.passed, report.summary)
            attempts, passed, save_error = entry.attempts, entry.passed, None
        except OSError as exc:
            attempts, passed = None, report.passed
            save_error = f"Progress could not be saved: {exc}"
        set_state(lambda s: {
            **s,
            "status": "done",
            "report": report,
            "attempts": attempts if attempts is not None else s["attempts"] + 1,
            "passed": passed or s["passed"],
            "save_error": save_error,
        })

    # -- cell 3 -----------------------------------------------------------------
    def view(self, ui: mo.ui.dictionary, state: dict[str, Any]) -> mo.Html:
        ex = self.exercise
        parts: list[Any] = []
        status = state.get("status")
        if status == "grading":
            parts.append(mo.callout(mo.md("Grading… your code is running in a separate process."),
                                    kind="info"))
        elif status == "error":
            parts.append(mo.callout(mo.md(f"The grader failed: `{state.get('error')}`"), kind="danger"))
        elif state.get("report") is not None:
            parts.append(render_report(state["report"]))
        elif status == "restored":
            verdict = "passed" if state["passed"] else "did not pass yet"
            parts.append(mo.md(f"Last time your answer {verdict}: {state.get('summary', '')}"))
        if state.get("save_error"):
            parts.append(mo.callout(mo.md(state["save_error"]), kind="warn"))

        n_hints = min(int(ui.value["hint"]), len(ex.hints))
        if n_hints:
            items = "\n".join(f"{i + 1}. {h}" for i, h in enumerate(ex.hints[:n_hints]))
            more = (f"\n\n*{len(ex.hints) - n_hints} more hint(s): press the button again.*"
                    if n_hints < len(ex.hints) else "")
            parts.append(mo.md(f"**Hints**\n\n{items}{more}"))

        failed_attempts = state["attempts"] if not state["passed"] else 0
        asked = int(ui.value["solution"]) > 0
        if asked or failed_attempts >= ex.solution_after or state["passed"]:
            solution = mo.md(f"```python\n{ex.solution.strip()}\n```")
            title = "Worked solution" if asked else (
                "Worked solution (compare with yours)" if state["passed"]
                else f"Worked solution (offered after {ex.solution_after} attempts)")
            parts.append(mo.accordion({title: solution}) if not asked
                         else mo.vstack([mo.md(f"**{title}**"), solution]))
        return mo.vstack(parts) if parts else mo.md("")


def render_report(report: Report) -> mo.Html:
    """The per-case table of a grading report, with reasons on failures."""
    kind = "success" if report.passed else "danger"
    head = f"**{html.escape(report.summary)}**"
    if report.problem and report.n_passed:
        head += f"\n\n{html.escape(report.problem)}"
    rows = []
    for r in report.results:
        mark = ("<span class='numdl-pass'>✓ pass</span>" if r.passed
                else "<span class='numdl-fail'>✗ fail</span>")
        detail = "" if r.passed else f"<div class='numdl-reason'>{html.escape(r.reason)}</div>"
        rows.append(
            f"<tr data-passed='{str(r.passed).lower()}'><td>{mark}</td>"
            f"<td>{html.escape(r.label)}{' <em>(hostile)</em>' if r.hostile else ''}{detail}</td>"
            f"<td><code>{html.escape(r.got)}</code></td><td><code>{html.escape(r.expected)}</code></td></tr>"
        )
    table = (
        _CSS + "<table class='numdl-report' data-testid='grading-report'>"
        "<thead><tr><th></th><th>case</th><th>your answer</th><th>expected</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    output = ""
    if report.output:
        note = f"<p><em>{html.escape(report.output_note)}</em></p>" if report.output_note else ""
        output = f"<details><summary>What your code printed</summary><pre>{html.escape(report.output)}</pre>{note}</details>"
    return mo.callout(mo.vstack([mo.md(head), mo.Html(table + output)]), kind=kind)


def takeaways(*points: str) -> mo.Html:
    """The closing "key takeaways" box of a chapter."""
    if not points:
        raise ValueError("takeaways needs at least one point")
    items = "\n".join(f"- {p}" for p in points)
    return mo.callout(mo.md(f"## Key takeaways\n\n{items}"), kind="success")


def home_table(chapters: Sequence[Chapter], store: ProgressStore,
               exercises_for: Callable[[str], Sequence[Exercise]]) -> mo.Html:
    """The home page's syllabus: chapter, what it teaches, link, exercise progress."""
    try:
        saved = store.all()
    except OSError:
        saved = {}
    rows = []
    for ch in chapters:
        if ch.available:
            exercises = exercises_for(ch.slug)
            done = sum(1 for e in exercises if e.id in saved and saved[e.id].passed)
            tried = sum(1 for e in exercises if e.id in saved)
            progress = f"{done}/{len(exercises)} passed" + (f" ({tried} tried)" if tried > done else "")
            title = f"<a href='?file={ch.filename}' target='_self'>{html.escape(ch.title)}</a>"
        else:
            progress = "in preparation"
            title = f"{html.escape(ch.title)}"
        rows.append(
            f"<tr data-chapter='{ch.number}'><td>{ch.number}</td><td>{title}</td>"
            f"<td>{html.escape(ch.summary)}</td><td class='numdl-progress'>{progress}</td></tr>"
        )
    return mo.Html(
        _CSS + "<table class='numdl-syllabus' data-testid='syllabus'>"
        "<thead><tr><th>#</th><th>chapter</th><th>what it teaches</th><th>your progress</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def show_source(*objects: Any, title: str | None = None) -> mo.Html:
    """A collapsed panel with the library source behind an experiment.

    The tutorial never re-implements the library; this shows the learner the
    very code that computed what they see.
    """
    import inspect

    if not objects:
        raise ValueError("show_source needs at least one function or class")
    blocks = []
    names = []
    for obj in objects:
        names.append(f"{obj.__module__}.{obj.__qualname__}")
        blocks.append(f"```python\n{inspect.getsource(obj).rstrip()}\n```")
    label = title or ("Code: " + ", ".join(names))
    return mo.accordion({label: mo.md("\n\n".join(blocks))})


def figure_layout(fig: go.Figure, height: int = 360, **kw: Any) -> go.Figure:
    """The chapters' common plotly layout: compact margins, powers of ten written as powers."""
    kw.setdefault("margin", dict(l=10, r=10, t=30, b=10))
    fig.update_layout(height=height, **kw)
    fig.update_xaxes(exponentformat="power")
    fig.update_yaxes(exponentformat="power")
    return fig
