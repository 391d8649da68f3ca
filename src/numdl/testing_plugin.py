"""A pytest plugin with an ``extreme_value`` fixture: each test runs once per extreme of each dtype.

Enable it in a ``conftest.py`` at the root of your tests::

    pytest_plugins = ["numdl.testing_plugin"]

(or ``pytest -p numdl.testing_plugin``).  A test that takes ``extreme_value`` then runs for every
value of :func:`numdl.testing.named_extremes` of float16, bfloat16, float32 and float64 -- ``+0``,
``-0``, subnormals, ``max``, values next to ``log(max)``, ``+-inf``, NaN, ... -- with ids such as
``test_f[float16-+max]``.  ``extreme_value`` is a :class:`numdl.testing.ExtremeValue`
``(dtype, name, value)``.  Choose the dtypes with a marker::

    @pytest.mark.extreme_dtypes("bfloat16", "float8_e4m3fn")
    def test_rounding(extreme_value):
        ...

Example
-------
::

    def test_softplus_is_finite_or_nan_at_the_extremes(extreme_value):
        x = np.asarray(extreme_value.value, dtype=extreme_value.dtype)
        y = numdl.softplus(x)
        assert np.isnan(x) == np.isnan(y)
"""

from __future__ import annotations

from typing import Any

from numdl.testing import EXTREME_DTYPES, ExtremeValue, named_extremes

__all__ = ["extreme_values", "pytest_configure", "pytest_generate_tests"]


def extreme_values(dtypes: Any = EXTREME_DTYPES) -> list[ExtremeValue]:
    """Every :class:`ExtremeValue` of the given dtypes, in order."""
    from numdl.floats import as_dtype

    out = []
    for d in dtypes:
        dt = as_dtype(d)
        out += [ExtremeValue(dt, name, value) for name, value in named_extremes(dt).items()]
    return out


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers",
        "extreme_dtypes(*dtypes): dtypes for the extreme_value fixture of numdl.testing_plugin "
        f"(default {', '.join(EXTREME_DTYPES)})",
    )


def pytest_generate_tests(metafunc: Any) -> None:
    if "extreme_value" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("extreme_dtypes")
    dtypes = marker.args if marker is not None and marker.args else EXTREME_DTYPES
    values = extreme_values(dtypes)
    metafunc.parametrize("extreme_value", values,
                         ids=[f"{v.dtype.name}-{v.name}" for v in values])
