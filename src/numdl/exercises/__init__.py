"""Graded exercises: sandboxed execution, grading with reasons, saved progress.

The tutorial's chapters build their exercise panels from this package (through
:mod:`numdl.tutorial.widgets`); the exercises themselves live beside it, one
module per chapter (:mod:`numdl.exercises.chapter01`, ...), and
:data:`REGISTRY` lists them by chapter for the home page's progress column.
"""

from __future__ import annotations

from numdl.exercises.grading import (
    Case,
    CaseResult,
    Exercise,
    Report,
    close_to,
    describe,
    grade,
    ulp_close,
)
from numdl.exercises.progress import ExerciseProgress, ProgressStore, data_dir
from numdl.exercises.sandbox import Limits, run_function

__all__ = [
    "Case",
    "CaseResult",
    "Exercise",
    "ExerciseProgress",
    "Limits",
    "ProgressStore",
    "Report",
    "close_to",
    "data_dir",
    "describe",
    "exercises_for",
    "grade",
    "run_function",
    "ulp_close",
]


def exercises_for(chapter: str) -> tuple[Exercise, ...]:
    """The exercises of one chapter (by its slug, e.g. ``"01_why_numerics"``)."""
    from importlib import import_module

    from numdl.tutorial.catalog import chapter_by_slug

    chapter_info = chapter_by_slug(chapter)
    if chapter_info.exercises_module is None:
        return ()
    module = import_module(chapter_info.exercises_module)
    return tuple(module.EXERCISES)
