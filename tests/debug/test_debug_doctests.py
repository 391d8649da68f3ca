"""The examples in the docstrings of numdl.debug run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["numdl.debug.gradcheck", "numdl.debug.guard"]
TORCH_MODULES = ["numdl.debug.trace", "numdl.debug.audit"]


def _run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} doctest failure(s) in {name}"


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    _run(name)


@pytest.mark.torch
@pytest.mark.parametrize("name", TORCH_MODULES)
def test_doctests_with_torch(name):
    pytest.importorskip("torch")
    _run(name)
