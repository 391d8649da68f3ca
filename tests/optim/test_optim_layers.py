"""The layering of numdl.optim, read from the source (ast): only the package ``__init__`` files
import the package, the second-order pieces are leaves, ``constrained`` re-exports its parts, and
the names exported before the split still import from the same places (the rules every module
keeps are in tests/test_layers.py)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import numdl.optim

ROOT = Path(numdl.optim.__file__).parent
PACKAGE = "numdl.optim"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
TREES: dict[str, ast.Module] = {m: ast.parse(p.read_text(), str(p)) for m, p in MODULES.items()}


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute module name of ``from <node.module> import ...`` written in `module`."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import in `module`, at module
    level or inside functions alike."""
    out = []
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            out += [(source, a.name, node.lineno) for a in node.names]
    return out


def _edges(module: str) -> set[str]:
    """The numdl.optim modules that `module` imports.  ``from numdl.optim import derivatives``
    imports the submodule; ``from numdl.optim import minimize`` imports the package itself."""
    targets = set()
    for source, name, _ in _imports(module):
        if name is not None and f"{source}.{name}" in MODULES:
            targets.add(f"{source}.{name}")
        elif source in MODULES:
            targets.add(source)
    targets.discard(module)
    return targets


def _graph() -> dict[str, set[str]]:
    return {m: _edges(m) for m in MODULES}


def test_every_module_is_seen():
    assert {"numdl.optim.driver", "numdl.optim.second_order", "numdl.optim.trajectory",
            "numdl.optim.transforms", "numdl.optim.constrained",
            "numdl.optim.constrained.solvers"} <= set(MODULES)


def test_only_the_package_inits_import_the_package():
    # a submodule importing a name from numdl.optim itself would import everything (and cycle)
    for module, targets in _graph().items():
        if not _is_package(module):
            assert PACKAGE not in targets, module


def test_second_order_and_trajectory_are_leaves():
    graph = _graph()
    assert graph["numdl.optim.second_order"] == set()
    assert graph["numdl.optim.trajectory"] == set()
    assert "numdl.optim.driver" in graph["numdl.optim.constrained.solvers"]
    assert "numdl.optim.trajectory" in graph["numdl.optim.driver"]
    assert "numdl.optim.trajectory" in graph["numdl.optim.constrained.solvers"]


# The rules for every module of numdl (no cycle, no private names used across modules, a true
# __all__, a docstring, typed public functions, light imports) are in tests/test_layers.py; here
# is what is particular to numdl.optim.


def test_constrained_reexports_every_public_name_of_its_submodules():
    from numdl.optim import constrained

    names = set()
    for module in MODULES:
        if module.startswith("numdl.optim.constrained."):
            names |= set(importlib.import_module(module).__all__)
    assert names == set(constrained.__all__)


# The public names as they were before numdl.optim was layered (constrained one module, newton /
# bfgs / lbfgs in second_order): every one must still import from the same place, except the three
# shorthands, which moved from second_order to driver (second_order no longer imports driver).
BEFORE = {
    "numdl.optim": [
        "AdagradState", "AdamState", "Affine", "Ball", "Box", "CONSTRAINED_METHODS",
        "Classification", "ConstrainedResult", "ConvexSet", "CriticalPoint", "DEFAULT_TOL",
        "DIVERGENCE_FACTOR", "Equality", "GradientTransformation", "Inequality", "IterationInfo",
        "KKTResiduals", "LineSearchResult", "MESSAGES", "METHODS", "MomentumState",
        "NewtonDirection", "OPTIMIZERS", "OptimizeResult", "PROBLEMS", "Problem", "QuadraticRates",
        "RmspropState", "Schedule", "SgdState", "Simplex", "Status", "adagrad", "adam", "adamw",
        "apply_updates", "bfgs", "bfgs_update", "classify_critical_point", "constant_schedule",
        "constrained", "cosine_schedule", "derivatives", "estimate_multipliers",
        "exponential_schedule", "find_critical_points", "inverse_time_schedule", "kkt_residuals",
        "lbfgs", "lbfgs_direction", "minimize", "minimize_constrained", "momentum", "nesterov",
        "newton", "newton_direction", "optimal_gradient_step", "problems", "project_ball",
        "project_box", "project_simplex", "quadratic_gd_iterates", "quadratic_rates",
        "ridge_penalty_for_radius", "ridge_radius", "ridge_solution", "rmsprop", "schedules", "sgd",
        "step_schedule", "warmup_cosine_schedule", "wolfe_line_search",
    ],
    "numdl.optim.constrained": [
        "Affine", "Ball", "Box", "CONDITIONS", "CONSTRAINED_METHODS", "ConstrainedProblem",
        "ConstrainedResult", "ConvexSet", "DEFAULT_MAX_ITER", "Equality", "Inequality",
        "KKTResiduals", "Simplex", "WeightDecayPair", "ball_quadratic", "disk_and_halfplane",
        "equality_quadratic", "estimate_multipliers", "kkt_residuals", "linear_program",
        "minimize_constrained", "project_ball", "project_box", "project_simplex",
        "ridge_as_constrained", "ridge_ball", "ridge_penalty_for_radius", "ridge_radius",
        "ridge_solution", "simplex_quadratic",
    ],
    "numdl.optim.critical": ["Classification", "classify_critical_point", "find_critical_points"],
    "numdl.optim.derivatives": ["METHODS", "StepErrorCurve", "default_step", "gradient",
                                "hessian", "jacobian", "step_error_curve"],
    "numdl.optim.driver": ["DEFAULT_TOL", "DIVERGENCE_FACTOR", "IterationInfo", "MESSAGES",
                           "METHODS", "OptimizeResult", "Status", "minimize"],
    "numdl.optim.first_order": [
        "AdagradState", "AdamState", "GradientTransformation", "MomentumState", "OPTIMIZERS",
        "RmspropState", "SgdState", "adagrad", "adam", "adamw", "apply_updates", "momentum",
        "nesterov", "rmsprop", "sgd",
    ],
    "numdl.optim.problems": ["CriticalPoint", "PROBLEMS", "Problem", "beale", "booth", "himmelblau",
                             "monkey_saddle", "quadratic", "random_orthogonal", "rosenbrock",
                             "saddle", "six_hump_camel", "valley"],
    "numdl.optim.rates": ["QuadraticRates", "optimal_gradient_step", "quadratic_gd_iterates",
                          "quadratic_rates"],
    "numdl.optim.schedules": ["Schedule", "constant_schedule", "cosine_schedule",
                              "exponential_schedule", "inverse_time_schedule", "step_schedule",
                              "warmup_cosine_schedule"],
    "numdl.optim.second_order": ["DAMPINGS", "LineSearchResult", "NewtonDirection", "bfgs_update",
                                 "lbfgs_direction", "newton_direction", "wolfe_line_search"],
    "numdl.optim.transforms": ["ClipResult", "clip_grad_norm", "clip_grad_value", "global_norm"],
}


@pytest.mark.parametrize("module", sorted(BEFORE))
def test_names_exported_before_still_import_from_the_same_place(module):
    mod = importlib.import_module(module)
    missing = [n for n in BEFORE[module] if not hasattr(mod, n)]
    assert not missing


def test_the_shorthands_moved_to_the_driver():
    from numdl.optim import driver

    assert numdl.optim.newton is driver.newton and numdl.optim.bfgs is driver.bfgs
    assert numdl.optim.lbfgs is driver.lbfgs


def test_the_mpmath_path_still_works():
    import numpy as np

    from numdl.optim import derivatives

    curve = derivatives.step_error_curve(lambda v: v[0] * v[0] * v[0], np.array([2.0]), "central",
                                         [1e-4], exact="mpmath")
    assert curve.exact_source == "mpmath" and curve.exact[0] == 12.0
