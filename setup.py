"""Build of numdl's one compiled module, ``numdl._kernels`` (everything else is in pyproject.toml).

The module is optional: where it does not compile (no C compiler, an unusual platform), the
install goes on with a warning and ``numdl.stable`` uses its pure-NumPy kernel, which computes
the same results more slowly.  ``-ffp-contract=off`` is required: the kernels rely on error-free
transformations (TwoSum, Dekker's product) that a compiler-fused multiply-add would break.
"""

import platform

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

UNIX_FLAGS = [
    "-O3",
    "-std=c11",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fopenmp-simd",
]
# Tuning only (the instruction set stays the baseline; _kernels.c adds AVX2 and AVX-512 builds of
# the kernels and picks one at import): GCC's generic tuning never emits gather instructions, so
# the exp table lookups would keep the main loops scalar.
X86_TUNING = ["-mtune=haswell"]
MSVC_FLAGS = ["/O2", "/fp:precise"]


class BuildExt(build_ext):
    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            flags = MSVC_FLAGS
        elif platform.machine().lower() in ("x86_64", "amd64"):
            flags = UNIX_FLAGS + X86_TUNING
        else:
            flags = UNIX_FLAGS
        for ext in self.extensions:
            ext.extra_compile_args = flags
        super().build_extensions()


setup(
    ext_modules=[
        Extension(
            "numdl._kernels",
            sources=["src/numdl/_kernels.c"],
            depends=["src/numdl/_kernels_impl.h", "src/numdl/_exp_table.h"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildExt},
)
