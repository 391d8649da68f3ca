"""The guard names the operation when code was compiled with its indentation removed.

marimo compiles a notebook cell's body dedented, under the notebook's file name, so the
column offsets in the code object are 4 (or 8) columns left of the text in the file.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from numdl.debug import NonfiniteError, nonfinite_guard


def test_guard_finds_the_operation_in_dedented_code(tmp_path):
    source = "def cell():\n    def entropy(p):\n        return -np.sum(p * np.log(p))\n    return entropy\n"
    path = tmp_path / "notebook.py"
    path.write_text(source)
    # As marimo compiles a cell: the body dedented, under the file's name; a blank first line
    # keeps the line numbers those of the file.
    body = "\n" + textwrap.dedent("".join(source.splitlines(keepends=True)[1:3]))
    namespace = {"np": np}
    exec(compile(body, str(path), "exec"), namespace)
    entropy = namespace["entropy"]
    with pytest.raises(NonfiniteError) as info, nonfinite_guard():
        entropy(np.array([0.5, 0.5, 0.0]))
    finding = info.value.finding
    assert finding.expression == "np.log(p)"
    assert "divide by zero in log" in str(info.value)
    assert finding.location.lineno == 3
