"""Chapter 3b's simulation: a critical point's kind, by sampling a small circle."""

from __future__ import annotations

import pytest

from numdl.optim.problems import PROBLEMS
from numdl.tutorial.simulations import ch03b


@pytest.mark.parametrize(("f", "kind"), [
    (lambda v: v[..., 0] ** 2 + v[..., 1] ** 4, "minimum"),
    (lambda v: -(v[..., 0] ** 2) - v[..., 1] ** 4, "maximum"),
    (lambda v: v[..., 0] ** 2 - v[..., 1] ** 4, "saddle"),
    (lambda v: v[..., 0] ** 2 + v[..., 1] ** 3, "saddle"),
    (lambda v: 0.0 * v[..., 0], "flat"),
])
def test_local_kind_settles_degenerate_points(f, kind):
    assert ch03b.local_kind(f, [0.0, 0.0]) == kind


def test_local_kind_agrees_with_the_listed_kinds():
    for name in ("himmelblau", "six_hump_camel", "monkey_saddle"):
        p = PROBLEMS[name]()
        for cp in p.critical_points:
            assert ch03b.local_kind(p.value, cp.x, radius=1e-3) == cp.kind, (name, cp)
    with pytest.raises(ValueError):
        ch03b.local_kind(lambda v: v[..., 0], [0.0, 0.0, 0.0])


@pytest.mark.parametrize("kwargs", [{"radius": 0.0}, {"points": 3}])
def test_local_kind_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="radius > 0 and points >= 4"):
        ch03b.local_kind(lambda v: v[..., 0], [0.0, 0.0], **kwargs)
