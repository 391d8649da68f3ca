"""Which frame is the user's: numdl, NumPy, torch and the standard library are skipped, except the
folders registered with register_user_code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import numdl
from numdl.debug import register_user_code
from numdl.debug._common import user_frame


def _frame_from(filename: str):
    namespace = {"sys": sys}
    exec(compile("def f():\n    return sys._getframe()\n", filename, "exec"), namespace)
    return namespace["f"]()


def test_code_inside_numdl_is_internal_unless_registered(tmp_path):
    inside = Path(numdl.__file__).parent / "not_a_module_yet" / "cell.py"
    frame = _frame_from(str(inside))
    assert user_frame(frame) is not frame  # numdl's own frames are skipped
    register_user_code(inside.parent)
    register_user_code(inside.parent)  # twice is harmless
    assert user_frame(frame) is frame


def test_the_tutorial_registers_its_notebooks():
    import numdl.tutorial

    notebook = Path(numdl.tutorial.__file__).parent / "06_debugging.py"
    frame = _frame_from(str(notebook))
    assert user_frame(frame) is frame


def test_register_user_code_checks_its_argument():
    with pytest.raises(TypeError, match="path"):
        register_user_code(3)
