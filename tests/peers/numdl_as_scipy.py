"""pytest plugin: SciPy's own logsumexp/softmax/log_softmax tests, run on numdl's functions.

numdl's softmax and log_softmax reduce the last axis by default (PyTorch and JAX); SciPy's reduce
every axis, so SciPy's default is passed explicitly.  The plugin says in the run's summary that
it put numdl in place, so a run where it did not (SciPy renamed something) cannot pass unnoticed.
"""
from numdl import stable

PATCHED = "numdl_as_scipy: scipy.special.tests.test_logsumexp runs numdl.stable"
_patched = []


def pytest_collection_modifyitems(session, config, items):
    import scipy.special.tests.test_logsumexp as t

    for name in ("logsumexp", "softmax", "log_softmax"):
        if not hasattr(t, name):
            raise RuntimeError(f"SciPy's test module no longer imports {name}")
    t.logsumexp = stable.logsumexp
    t.softmax = lambda x, axis=None: stable.softmax(x, axis=axis)
    t.log_softmax = lambda x, axis=None: stable.log_softmax(x, axis=axis)
    _patched.append(t)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _patched and _patched[0].logsumexp is stable.logsumexp:
        terminalreporter.write_line(PATCHED)
