"""What a chapter shows with show_source is a public, documented function of numdl (a notebook
that shows a private helper would make it public in effect)."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

from numdl.tutorial.catalog import available_chapters, notebook_dir


def _bindings(tree: ast.Module) -> dict[str, object]:
    """Names the notebook's imports bind, resolved to the objects they name."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("numdl"):
            module = importlib.import_module(node.module)
            for a in node.names:
                # "from numdl import linalg" names a submodule, imported by the statement itself
                value = getattr(module, a.name, None)
                if value is None:
                    value = importlib.import_module(f"{node.module}.{a.name}")
                out[a.asname or a.name] = value
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("numdl"):
                    out[a.asname or a.name.split(".")[0]] = importlib.import_module(
                        a.name if a.asname else a.name.split(".")[0])
    return out


def _chain(node: ast.expr) -> list[str] | None:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(names)]


def _shown(slug_file: str) -> list[tuple[int, list[str]]]:
    tree = ast.parse((notebook_dir() / slug_file).read_text())
    shown = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "show_source"):
            shown += [(node.lineno, _chain(arg)) for arg in node.args]
    return shown


CHAPTERS = [c for c in available_chapters() if any(True for _ in _shown(c.filename))]


def test_chapters_show_code():
    assert len(CHAPTERS) >= 12


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.slug)
def test_shown_code_is_public_and_documented(chapter):
    tree = ast.parse((notebook_dir() / chapter.filename).read_text())
    bindings = _bindings(tree)
    bad = []
    for line, chain in _shown(chapter.filename):
        where = f"{chapter.filename}:{line}"
        if chain is None:
            bad.append(f"{where}: show_source of an expression")
            continue
        if any(part.startswith("_") for part in chain):
            bad.append(f"{where}: {'.'.join(chain)} is private")
            continue
        obj = bindings.get(chain[0])
        assert obj is not None, f"{where}: {chain[0]} is not imported from numdl"
        for part in chain[1:]:
            obj = getattr(obj, part)
        if not (inspect.getdoc(obj) or "").strip():
            bad.append(f"{where}: {'.'.join(chain)} has no docstring")
        # the function (or its class) is in its module's __all__
        owner = obj
        if inspect.isfunction(obj) and "." in obj.__qualname__:
            owner = getattr(importlib.import_module(obj.__module__),
                            obj.__qualname__.split(".")[0])
        module = importlib.import_module(owner.__module__)
        if owner.__name__ not in getattr(module, "__all__", ()):
            bad.append(f"{where}: {owner.__module__}.{owner.__name__} is not in __all__")
    assert not bad, "\n".join(bad)
