"""The import rules of docs/ARCHITECTURE.md: each layer imports only the layers below it.

Layers, bottom to top (a module may import its own layer and those below, never above; inside a
layer the imports form no cycle):

0. ``_dtypes``, ``_exact``, ``_procs``: dtypes, exact values, process helpers (no mpmath)
1. ``floats``, ``naive``
2. ``_engine``, ``_kernels``: the private kernel engine
3. ``stable``, ``losses``, ``norm``, ``linalg``, ``optim``, ``mixed_precision``, ``init``
4. ``debug``
5. ``reference`` (mpmath, the oracle), ``testing``, ``testing_plugin``
6. ``tutorial``, ``exercises``, ``cli``

Every import counts, at module level or inside a function: a lazy import of a higher layer is
still a dependency.  Third-party rules: no module below the tutorial imports marimo; plotly only in
:func:`numdl.debug.plot_precision_audit`, lazily; mpmath only in the oracle layer and above, plus
the places listed in ``LAZY_MPMATH`` where it is imported only when the caller hands over or asks
for an mpmath value.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

import numdl

SRC = Path(numdl.__file__).parent

LAYERS = {
    "numdl._dtypes": 0, "numdl._exact": 0, "numdl._procs": 0,
    "numdl.floats": 1, "numdl.naive": 1,
    "numdl._engine": 2, "numdl._kernels": 2,
    "numdl.stable": 3, "numdl.losses": 3, "numdl.norm": 3, "numdl.linalg": 3, "numdl.optim": 3,
    "numdl.mixed_precision": 3, "numdl.init": 3,
    "numdl.debug": 4,
    "numdl.reference": 5, "numdl.testing": 5, "numdl.testing_plugin": 5,
    "numdl.tutorial": 6, "numdl.exercises": 6, "numdl.cli": 6,
}
# The package itself re-exports layer 3 (``import numdl.floats`` runs numdl/__init__.py first).
PACKAGE_LAYER = 3
CORE = 4  # layers below this one are "the library": no mpmath, marimo or plotly when imported

# (module, function) pairs allowed to import mpmath lazily, with the reason.
LAZY_MPMATH = {
    ("numdl._exact", "_mpf_parts"): "reads an mpmath value the caller passed (mpmath is loaded)",
    ("numdl.optim.derivatives", "_mpmath_gradient"): 'the opt-in exact="mpmath" derivative',
}
LAZY_PLOTLY = {("numdl.debug.audit", "plot_precision_audit"): "returns a plotly figure"}


def module_files() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        # the notebooks (NN_name.py) are marimo apps, not modules anything imports
        if name.startswith("numdl.tutorial.") and parts[-1][:1].isdigit():
            continue
        out[name] = path
    return out


MODULES = module_files()


def layer_of(module: str) -> int | None:
    if module == "numdl":
        return PACKAGE_LAYER
    best = None
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    return None if best is None else best[1]


def imports(module: str) -> list[tuple[str, str | None, int]]:
    """(imported module, enclosing function or None, line) for every import in `module`."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []

    def visit(node: ast.AST, func: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            f = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else func
            if isinstance(child, ast.Import):
                found.extend((a.name, func, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[: len(base) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module
                found.append((target, func, child.lineno))
                # "from numdl import stable" imports the submodule numdl.stable
                for a in child.names:
                    if f"{target}.{a.name}" in MODULES:
                        found.append((f"{target}.{a.name}", func, child.lineno))
            visit(child, f)

    visit(tree, None)
    return found


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if layer_of(m) is None]
    assert not missing, f"modules with no layer in LAYERS: {missing}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down(module):
    mine = layer_of(module)
    bad = []
    for target, func, line in imports(module):
        top = target.split(".")[0]
        where = f"{MODULES[module].name}:{line}" + (f" (in {func})" if func else "")
        if top == "numdl":
            theirs = layer_of(target)
            if theirs is not None and theirs > mine and target != "numdl":
                bad.append(f"{where}: layer {mine} imports {target} (layer {theirs})")
        elif mine < CORE:
            if top == "mpmath" and (module, func) not in LAZY_MPMATH:
                bad.append(f"{where}: the library imports mpmath")
            if top == "plotly" and (module, func) not in LAZY_PLOTLY:
                bad.append(f"{where}: the library imports plotly")
            if top == "marimo":
                bad.append(f"{where}: the library imports marimo")
        elif top == "marimo" and mine < 6:
            bad.append(f"{where}: below the tutorial, marimo is imported")
    assert not bad, "\n".join(bad)


def test_no_cycles_inside_a_layer():
    graph = {m: {t for t, _, _ in imports(m) if t in MODULES and t != m and t != "numdl"}
             for m in MODULES}
    # a package's __init__ importing its own submodules is re-exporting, not depending
    for m, targets in graph.items():
        if MODULES[m].name == "__init__.py":
            graph[m] = {t for t in targets if not t.startswith(m + ".")}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def dfs(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                path = [*stack, node]
                cycle.extend([*path[path.index(nxt):], nxt])
                return True
            if state.get(nxt) is None and dfs(nxt, [*stack, node]):
                return True
        state[node] = 2
        return False

    for m in sorted(graph):
        if state.get(m) is None and dfs(m, []):
            break
    assert not cycle, " -> ".join(cycle)


FORBIDDEN = ("mpmath", "marimo", "plotly", "numdl.reference", "numdl.tutorial", "numdl.exercises")
CORE_MODULES = sorted(m for m in MODULES if (layer_of(m) or 0) < CORE and m != "numdl._kernels")


def test_importing_the_library_loads_no_oracle_and_no_tutorial():
    """Each library module imported alone, in a fresh interpreter: none of FORBIDDEN appears."""
    code = (
        "import importlib, json, sys\n"
        f"forbidden = {FORBIDDEN!r}\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    before = set(sys.modules)\n"
        "    importlib.import_module(name)\n"
        "    out[name] = sorted(m for m in sys.modules if m.split('.')[0] in forbidden or "
        "any(m == f or m.startswith(f + '.') for f in forbidden))\n"
        "print(json.dumps(out))\n"
    )
    loaded = {}
    for name in CORE_MODULES:  # one interpreter per module: what each pulls in on its own
        proc = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True,
                              timeout=120, check=True)
        loaded.update(json.loads(proc.stdout))
    bad = {name: mods for name, mods in loaded.items() if mods}
    assert not bad, bad


def _defined_public_names(module: str) -> set[str]:
    """The names a module's source binds at top level (def, class, assignment), not imports."""
    names = set()
    for node in ast.parse(MODULES[module].read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "numdl._kernels"))
def test_all_is_true(module):
    """``__all__`` lists names that exist, and every public name the module defines (functions,
    classes, constants); every module says in a docstring what it is for."""
    mod = importlib.import_module(module)
    assert mod.__doc__ and mod.__doc__.strip(), f"{module} has no docstring"
    exported = getattr(mod, "__all__", None)
    assert exported is not None, f"{module} has no __all__"
    assert len(set(exported)) == len(exported), f"{module}.__all__ has duplicates"
    missing = [n for n in exported if not hasattr(mod, n)]
    assert not missing, f"{module}.__all__ names what it does not have: {missing}"
    unlisted = sorted(_defined_public_names(module) - set(exported))
    assert not unlisted, f"{module} defines public names missing from __all__: {unlisted}"


def _module_aliases(module: str) -> dict[str, str]:
    """Local names bound to numdl modules by ``import x as y`` / ``from package import module``."""
    aliases = {}
    for target, _, _ in imports(module):
        if target in MODULES and target != module:
            aliases[target.rsplit(".", 1)[-1]] = target
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            aliases.update({a.asname: a.name for a in node.names
                            if a.asname and a.name.startswith("numdl")})
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.asname and f"{node.module}.{a.name}" in MODULES:
                    aliases[a.asname] = f"{node.module}.{a.name}"
    return aliases


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_reaches_into_anothers_private_names(module):
    """What one module uses of another is that module's public interface (a private module such
    as ``numdl._engine.rows`` is fine; a ``_name`` inside another module is not)."""
    bad = []
    tree = ast.parse(MODULES[module].read_text())
    aliases = _module_aliases(module)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("numdl"):
            bad += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names
                    if a.name.startswith("_") and f"{node.module}.{a.name}" not in MODULES
                    and a.name != "_kernels"]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id in aliases and node.attr.startswith("_")
              and not node.attr.startswith("__")):
            bad.append(f"line {node.lineno}: {aliases[node.value.id]}.{node.attr}")
    assert not bad, "\n".join(bad)


def _public_functions(module: str):
    mod = importlib.import_module(module)
    for name in getattr(mod, "__all__", ()):
        obj = getattr(mod, name)
        if inspect.isfunction(obj) and obj.__module__ == module:
            yield name, obj
        elif inspect.isclass(obj) and obj.__module__ == module:
            for attr, member in vars(obj).items():
                if inspect.isfunction(member) and not attr.startswith("_"):
                    yield f"{name}.{attr}", member


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "numdl._kernels"))
def test_public_functions_are_typed(module):
    """Every public function and method has annotated parameters and return."""
    bad = []
    for qualname, fn in _public_functions(module):
        sig = inspect.signature(fn)
        unannotated = [p for p in sig.parameters if p not in ("self", "cls")
                       and sig.parameters[p].annotation is inspect.Parameter.empty]
        if unannotated or sig.return_annotation is inspect.Signature.empty:
            bad.append(f"{qualname}: parameters {unannotated}, return "
                       f"{'missing' if sig.return_annotation is inspect.Signature.empty else 'ok'}")
    assert not bad, "\n".join(bad)
