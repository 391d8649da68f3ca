"""Run the test suite as it would run on other x86-64 CPUs and BLAS builds, on this machine.

A test that passes here can fail on a machine whose CPU lacks AVX-512 (many AMD EPYC and
desktop CPUs), or lacks AVX2 too: NumPy's exp/log/tanh, OpenBLAS's kernels, PyTorch's
vectorized loops, glibc's libm and numdl's compiled kernels all pick a code path at run time
by CPU feature, and the paths round differently in the last bits.  Each of those libraries
can be told to take a lower path, so one machine can run the suite as older CPUs would:

    python tools/cpu_profiles.py                    # every profile this CPU can emulate
    python tools/cpu_profiles.py avx2 -- -m "not browser" tests/optim

A profile is a set of environment variables (printed before each run); the suite runs once
per profile, with CI=1 so that Hypothesis draws the examples CI draws.  This is a developer
tool, not part of ``make test``: the profiles change what every library computes, which is
the point, and they take the suite's time once per profile.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

# NumPy's dispatch names (numpy >= 2.4 groups features into x86-64 levels):
_NO_AVX512 = "X86_V4 AVX512_ICL AVX512_SPR"
_NO_AVX2 = "X86_V3 " + _NO_AVX512

PROFILES: dict[str, tuple[str, str, dict[str, str]]] = {
    # name: (what it emulates, CPU flag the host needs, environment)
    "native": ("this CPU, every library on its best path", "", {}),
    "avx2": (
        "AVX2 + FMA without AVX-512 (AMD Zen 1-3, Intel Haswell to Skylake client)",
        "avx2",
        {
            "NPY_DISABLE_CPU_FEATURES": _NO_AVX512,
            "OPENBLAS_CORETYPE": "Haswell",
            "ATEN_CPU_CAPABILITY": "avx2",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2",
            "NUMDL_KERNEL_VARIANT": "avx2",
        },
    ),
    "sse": (
        "x86-64-v2: SSE4.2, no AVX, no FMA (NumPy's minimum; numdl's generic kernels)",
        "sse4_2",
        {
            "NPY_DISABLE_CPU_FEATURES": _NO_AVX2,
            "OPENBLAS_CORETYPE": "Prescott",  # OpenBLAS's oldest x86-64 kernels
            "ATEN_CPU_CAPABILITY": "default",
            "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
            "NUMDL_KERNEL_VARIANT": "generic",
            # glibc's libm has FMA builds of exp/log/pow/sin: take the plain ones
            "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F",
        },
    ),
    "avx": (
        "AVX without FMA or AVX2 (Intel Sandy Bridge, Ivy Bridge; AMD before Zen)",
        "avx",
        {
            "NPY_DISABLE_CPU_FEATURES": _NO_AVX2,
            "OPENBLAS_CORETYPE": "Sandybridge",
            "ATEN_CPU_CAPABILITY": "default",
            "MKL_ENABLE_INSTRUCTIONS": "AVX",
            "NUMDL_KERNEL_VARIANT": "generic",
            "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F",
        },
    ),
    "threads": (
        "one BLAS thread and one numdl thread (a one-core machine, a data-loader worker)",
        "",
        {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "NUMDL_NUM_THREADS": "1"},
    ),
    "threads4": (
        "four BLAS and numdl threads (a bigger machine's blocking and reduction order)",
        "",
        {"OPENBLAS_NUM_THREADS": "4", "OMP_NUM_THREADS": "4", "NUMDL_NUM_THREADS": "4"},
    ),
}


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profiles", nargs="*",
                        help=f"profiles to run (default: all of {', '.join(PROFILES)}); "
                        "arguments after -- go to pytest")
    argv = sys.argv[1:] if argv is None else argv
    cut = argv.index("--") if "--" in argv else len(argv)
    args, pytest_args = parser.parse_args(argv[:cut]), argv[cut + 1:]
    flags = _cpu_flags()
    names = args.profiles or list(PROFILES)
    unknown = [n for n in names if n not in PROFILES]
    if unknown:
        parser.error(f"unknown profile(s) {unknown}; choose from {list(PROFILES)}")
    summary = []
    for name in names:
        what, needs, env = PROFILES[name]
        if needs and needs not in flags:
            print(f"== {name}: skipped, this CPU has no {needs}")
            summary.append((name, "not run", 0.0))
            continue
        print(f"== {name}: {what}")
        for key, value in env.items():
            print(f"   {key}={value}")
        started = time.monotonic()
        rc = subprocess.call([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *pytest_args],
                             env={**os.environ, "CI": "1", **env})
        summary.append((name, "passed" if rc == 0 else f"FAILED (exit {rc})", time.monotonic() - started))
    print("\nprofile    result            seconds")
    for name, result, seconds in summary:
        print(f"{name:<10} {result:<17} {seconds:7.0f}")
    return 0 if all(r in ("passed", "not run") for _, r, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
