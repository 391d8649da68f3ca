"""pytest plugin: SciPy's own logsumexp/softmax/log_softmax tests, run on numdl's functions.

numdl's softmax and log_softmax reduce the last axis by default (PyTorch and JAX); SciPy's reduce
every axis, so SciPy's default is passed explicitly."""
from numdl import stable


def pytest_collection_modifyitems(session, config, items):
    import scipy.special.tests.test_logsumexp as t
    t.logsumexp = stable.logsumexp
    t.softmax = lambda x, axis=None: stable.softmax(x, axis=axis)
    t.log_softmax = lambda x, axis=None: stable.log_softmax(x, axis=axis)
