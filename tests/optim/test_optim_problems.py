"""Test problems: analytic derivatives against complex step and finite differences, critical points."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from numdl.optim import classify_critical_point, derivatives
from numdl.optim.problems import (
    PROBLEMS,
    Problem,
    beale,
    himmelblau,
    quadratic,
    random_orthogonal,
    rosenbrock,
    six_hump_camel,
)

EPS = np.finfo(np.float64).eps


def all_problems() -> list[Problem]:
    rng = np.random.default_rng(0)
    out = [factory() for factory in PROBLEMS.values()]
    out += [rosenbrock(5), rosenbrock(3, a=0.5, b=10.0),
            quadratic(kappa=1e3, dim=4, rng=rng, b=rng.standard_normal(4))]
    return out


PROBS = all_problems()
IDS = [f"{p.name}-{p.dim}" for p in PROBS]


def points_in_box(p: Problem, rng: np.random.Generator, k: int = 5) -> np.ndarray:
    box = np.array(p.box)
    return box[:, 0] + (box[:, 1] - box[:, 0]) * rng.random((k, p.dim))


@pytest.mark.parametrize("p", PROBS, ids=IDS)
def test_gradient_matches_complex_step_and_central_differences(p):
    rng = np.random.default_rng(1)
    for x in points_in_box(p, rng):
        g = p.gradient(x)
        scale = max(1.0, float(np.max(np.abs(g))))
        # complex step: no cancellation, so agreement to a few ULPs of the gradient's scale
        gc = derivatives.gradient(p.value, x, method="complex")
        assert np.max(np.abs(g - gc)) <= 64 * EPS * scale * max(1.0, float(np.max(np.abs(x))))**3
        gd = derivatives.gradient(p.value, x, method="central")
        assert np.max(np.abs(g - gd)) <= 1e-7 * max(scale, abs(float(p.value(x))))


@pytest.mark.parametrize("p", PROBS, ids=IDS)
def test_hessian_matches_complex_step_of_gradient_and_second_differences(p):
    rng = np.random.default_rng(2)
    for x in points_in_box(p, rng):
        H = p.hessian(x)
        assert H.shape == (p.dim, p.dim)
        np.testing.assert_array_equal(H, H.T)
        scale = max(1.0, float(np.max(np.abs(H))))
        Hc = derivatives.jacobian(p.gradient, x, method="complex")
        assert np.max(np.abs(H - Hc)) <= 1e-13 * scale * max(1.0, float(np.max(np.abs(x))))**2
        Hd = derivatives.hessian(p.value, x, method="central")
        fscale = max(scale, abs(float(p.value(x))))
        assert np.max(np.abs(H - Hd)) <= 1e-5 * fscale


@pytest.mark.parametrize("p", PROBS, ids=IDS)
def test_batched_evaluation_matches_pointwise(p):
    rng = np.random.default_rng(3)
    X = points_in_box(p, rng, 6).reshape(2, 3, p.dim)
    v, g, H = p.value(X), p.gradient(X), p.hessian(X)
    assert v.shape == (2, 3) and g.shape == (2, 3, p.dim) and H.shape == (2, 3, p.dim, p.dim)
    # equal up to the summation order of a batched matrix product (quadratic): an entry that
    # cancels to near 0 keeps an absolute error of a few eps times the gradient's scale
    # (0.8 eps seen with OpenBLAS's Haswell kernels)
    atol = 8 * EPS * float(np.abs(g).max())
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(v[i, j], p.value(X[i, j]), rtol=4 * EPS)
            np.testing.assert_allclose(g[i, j], p.gradient(X[i, j]), rtol=4 * EPS, atol=atol)
            np.testing.assert_array_equal(H[i, j], p.hessian(X[i, j]))


@pytest.mark.parametrize("p", PROBS, ids=IDS)
def test_float32_in_float32_out(p):
    x = np.asarray(p.start, dtype=np.float32)
    assert np.asarray(p.value(x)).dtype == np.float32
    assert p.gradient(x).dtype == np.float32
    assert p.hessian(x).dtype == np.float32


@pytest.mark.parametrize("p", PROBS, ids=IDS)
def test_known_critical_points(p):
    box = np.array(p.box)
    for cp in p.critical_points:
        H = p.hessian(cp.x)
        scale = max(1.0, float(np.max(np.abs(H))) * max(1.0, float(np.max(np.abs(cp.x)))))
        assert np.linalg.norm(p.gradient(cp.x)) <= 64 * EPS * scale
        assert cp.value == p.value(cp.x)
        assert np.all(cp.x >= box[:, 0]) and np.all(cp.x <= box[:, 1])
        expected = "degenerate" if p.name == "monkey_saddle" else cp.kind
        assert classify_critical_point(H).kind == expected
    if p.minimum is not None:
        assert p.minimum.kind == "minimum"
        assert all(cp.value >= p.minimum.value - 1e-12 for cp in p.critical_points)
        rng = np.random.default_rng(4)
        assert np.all(p.value(points_in_box(p, rng, 1000)) >= p.minimum.value - 1e-12)


def test_registry_builds_every_problem_with_its_name():
    assert set(PROBLEMS) >= {"quadratic", "rosenbrock", "beale", "himmelblau", "saddle",
                             "monkey_saddle", "booth", "six_hump_camel", "valley"}
    for name, factory in PROBLEMS.items():
        p = factory()
        assert isinstance(p, Problem) and p.name == name
        assert len(p.box) == p.dim and p.start.shape == (p.dim,)
    with pytest.raises(TypeError):
        PROBLEMS["new"] = rosenbrock  # read-only mapping


def test_problems_are_frozen():
    p = rosenbrock()
    with pytest.raises(AttributeError):
        p.dim = 3
    with pytest.raises(ValueError):
        p.start[0] = 0.0


def test_counts_of_critical_points():
    assert [c.kind for c in himmelblau().critical_points].count("minimum") == 4
    kinds = [c.kind for c in six_hump_camel().critical_points]
    assert (kinds.count("minimum"), kinds.count("maximum"), kinds.count("saddle")) == (6, 2, 7)
    assert himmelblau().critical_points_complete and six_hump_camel().critical_points_complete
    assert not rosenbrock(4).critical_points_complete


def test_rosenbrock_minimum_for_other_parameters():
    p = rosenbrock(2, a=2.0, b=5.0)
    np.testing.assert_array_equal(p.minimum.x, [2.0, 4.0])
    assert p.value(p.minimum.x) == 0.0
    assert rosenbrock(3, a=2.0).minimum is None  # no closed form for n > 2, a not in {0, 1}
    np.testing.assert_array_equal(rosenbrock(100).minimum.x, np.ones(100))


def test_quadratic_with_kappa():
    rng = np.random.default_rng(5)
    p = quadratic(kappa=1e4, dim=5, rng=rng)
    H = p.params["hessian"]
    np.testing.assert_array_equal(H, H.T)
    lam = np.linalg.eigvalsh(H)
    np.testing.assert_allclose(lam, np.geomspace(1, 1e4, 5), rtol=1e-11)
    assert lam[-1] / lam[0] == pytest.approx(1e4, rel=1e-11)
    np.testing.assert_array_equal(p.params["eigenvalues"], np.geomspace(1, 1e4, 5))
    # the same seed gives the same matrix; no rng gives the diagonal one
    again = quadratic(kappa=1e4, dim=5, rng=np.random.default_rng(5)).params["hessian"]
    np.testing.assert_array_equal(H, again)
    np.testing.assert_array_equal(quadratic(kappa=10.0).params["hessian"], np.diag([1.0, 10.0]))


def test_quadratic_with_hessian_and_b():
    H = np.array([[2.0, 1.0], [1.0, 3.0]])
    b = np.array([1.0, -1.0])
    p = quadratic(H, b=b)
    xstar = np.linalg.solve(H, b)
    np.testing.assert_allclose(p.minimum.x, xstar, rtol=1e-15)
    assert p.value(xstar) == pytest.approx(-0.5 * b @ xstar, rel=1e-15)
    np.testing.assert_allclose(p.gradient([1.0, 2.0]), H @ [1.0, 2.0] - b, rtol=0)
    assert quadratic([[1.0, 0.0], [0.0, -1.0]]).critical_points[0].kind == "saddle"
    assert quadratic([[-1.0, 0.0], [0.0, -1.0]]).critical_points[0].kind == "maximum"
    singular = quadratic([[1.0, 0.0], [0.0, 0.0]])
    assert singular.critical_points == () and singular.minimum is None


def test_random_orthogonal_is_orthogonal():
    Q = random_orthogonal(6, np.random.default_rng(6))
    np.testing.assert_allclose(Q.T @ Q, np.eye(6), atol=1e-14)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: quadratic(), ValueError, "exactly one"),
        (lambda: quadratic([[1.0, 0.0]]), ValueError, "square"),
        (lambda: quadratic([[1.0, 2.0], [0.0, 1.0]]), ValueError, "symmetric"),
        (lambda: quadratic(kappa=0.5), ValueError, "kappa"),
        (lambda: quadratic(kappa="big"), TypeError, "kappa"),
        (lambda: quadratic(kappa=10.0, dim=0), ValueError, "dim"),
        (lambda: quadratic(kappa=10.0, rng=42), TypeError, "rng"),
        (lambda: quadratic(kappa=10.0, b=[1.0]), ValueError, "b must"),
        (lambda: rosenbrock(1), ValueError, "dim"),
        (lambda: rosenbrock().value([1.0, 2.0, 3.0]), ValueError, r"shape \(2,\)"),
        (lambda: rosenbrock().value(1.0), ValueError, "x must"),
        (lambda: rosenbrock().value(["a", "b"]), TypeError, "x must"),
    ],
)
def test_invalid_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_mpmath_object_arrays_evaluate_exactly():
    # the formulas use only + - * / and powers, so mpmath numbers pass through unchanged
    x = np.array([mpmath.mpf(3), mpmath.mpf("0.5")], dtype=object)
    assert beale().value(x) == 0
    assert himmelblau().value(np.array([mpmath.mpf(3), mpmath.mpf(2)], dtype=object)) == 0


# -- the recipes of the tabulated critical points --------------------------------------------------


def _polish(grad_mp, x):
    with mpmath.workdps(50):
        r = mpmath.findroot(lambda a, b: grad_mp(a, b), (mpmath.mpf(x[0]), mpmath.mpf(x[1])))
        return np.array([float(r[0]), float(r[1])])


def test_himmelblau_table_is_mpmath_root_rounded():
    def g(X, Y):
        u, v = X * X + Y - 11, X + Y * Y - 7
        return (4 * X * u + 2 * v, 2 * u + 4 * Y * v)

    for cp in himmelblau().critical_points:
        np.testing.assert_allclose(_polish(g, cp.x), cp.x, rtol=4 * EPS, atol=4 * EPS)


def test_six_hump_camel_table_is_mpmath_root_rounded():
    def g(X, Y):
        return (8 * X - mpmath.mpf("8.4") * X**3 + 2 * X**5 + Y, X - 8 * Y + 16 * Y**3)

    for cp in six_hump_camel().critical_points:
        np.testing.assert_allclose(_polish(g, cp.x), cp.x, rtol=4 * EPS, atol=4 * EPS)


def test_beale_has_exactly_three_critical_points():
    # g_x = 2 (A + x B); off y = 1 the critical y are the real roots of B A' - A B' / 2
    P = np.polynomial.Polynomial
    y = P([0.0, 1.0])
    c = (1.5, 2.25, 2.625)
    A = sum(ck * (y**k - 1) for k, ck in zip((1, 2, 3), c))
    B = sum((y**k - 1) ** 2 for k in (1, 2, 3))
    roots = (B * A.deriv() - A * B.deriv() / 2).roots()
    real = np.sort(roots[np.abs(roots.imag) < 1e-4].real)
    np.testing.assert_allclose(real, [-2.644513585023125, 0.5, 1.0, 1.0, 1.0], atol=1e-4)
    ys = [r for r in real if abs(r - 1) > 1e-3]
    xs = [-A(r) / B(r) for r in ys]
    table = sorted(tuple(cp.x) for cp in beale().critical_points)
    found = sorted([(0.0, 1.0), *list(zip(xs, ys))])
    np.testing.assert_allclose(np.array(found), np.array(table), atol=1e-9)
