"""numdl's private computation engine, under the public :mod:`numdl.stable` and
:mod:`numdl.losses` (which only check and dispatch).  Each module owns one thing:

* :mod:`~numdl._engine.config` -- the one configuration point: what the environment chooses
  (compiled kernels and their variant, threads) and what tests and benchmarks change
  (``config.override(...)``);
* :mod:`~numdl._engine.inputs` -- which library an input belongs to, its dtype and axes, and the
  one rounding of a float64 result to the input's format;
* :mod:`~numdl._engine.rows` -- the ``(R, n)`` row layout of every reduction;
* :mod:`~numdl._engine.eft` -- error-free transformations (TwoSum, Dekker's product) and
  double-double arithmetic;
* :mod:`~numdl._engine.threads` -- the thread pool that large inputs are split over;
* :mod:`~numdl._engine.numpy_kernel` -- the blocked NumPy max-shift kernel (every dtype);
* :mod:`~numdl._engine.compiled` -- the compiled kernels ``numdl._kernels`` (float32/float64);
* :mod:`~numdl._engine.small` -- the long-double path for inputs of at most 512 elements;
* :mod:`~numdl._engine.reductions` -- logsumexp (plain and weighted), softmax and log_softmax of
  NumPy input on those paths;
* :mod:`~numdl._engine.elementwise` -- the elementwise formulas (sigmoid, softplus, ...,
  logaddexp), for NumPy and any array namespace;
* :mod:`~numdl._engine.xp` -- the array-API path (PyTorch, JAX): the same formulas in the
  tensor's own library, autograd included;
* :mod:`~numdl._engine.certify` -- the error bounds of the narrow formats' logsumexp and
  logaddexp, and the correctly rounded value of the rows they leave uncertain (double-double,
  then :mod:`decimal`), with counters of how often each runs.

None of it imports :mod:`numdl.reference` or mpmath.
"""

__all__: list[str] = []
