"""The peers' own test cases, run against numdl: SciPy's tests of logsumexp, softmax and
log_softmax (scipy/special/tests/test_logsumexp.py, shipped with SciPy) with numdl's functions
put in place of SciPy's (tests/peers/numdl_as_scipy.py).  A user porting SciPy code gets SciPy's
answers, dtypes and shapes (numdl's softmax reduces the last axis by default, as PyTorch and JAX
do; the plugin passes SciPy's default, axis=None, explicitly)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import scipy

PEERS = Path(__file__).parent / "peers"


def test_scipys_logsumexp_and_softmax_tests_pass_on_numdl():
    suite = Path(scipy.__file__).parent / "special" / "tests" / "test_logsumexp.py"
    assert suite.exists(), suite
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PEERS), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider",
         "-p", "numdl_as_scipy", "-W", "ignore"],
        capture_output=True, text=True, timeout=300, env=env, cwd=PEERS,
    )
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 300 and "failed" not in summary, summary
