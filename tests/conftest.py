"""Shared fixtures: every test gets its own NUMDL_HOME, so no test touches real progress."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def numdl_home(tmp_path, monkeypatch):
    home = tmp_path / "numdl-home"
    monkeypatch.setenv("NUMDL_HOME", str(home))
    return home
