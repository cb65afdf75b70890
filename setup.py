"""Build of the compiled kernels; everything else about the package is in pyproject.toml.

``softmax_classifier._kernels`` (``src/softmax_classifier/_kernels.c``) and
``softmax_classifier._cd`` (``_cd.c``) are built by ``pip install`` (``make
install``). They are optional: where no C
compiler is available the package installs without it and runs the NumPy
formulas instead (``softmax_classifier._fused``; ``softmax --version`` says
which kernels run).
"""

import sys

from setuptools import Extension, setup

if sys.platform == "win32":
    compile_args = ["/O2"]
else:
    # -O3 for the vectorised loops; no -ffast-math (NaN and infinity checks
    # must keep their meaning). The AVX2 variant is selected in the source.
    compile_args = ["-O3", "-Wno-psabi"]

setup(
    ext_modules=[
        Extension(
            "softmax_classifier._kernels",
            sources=["src/softmax_classifier/_kernels.c"],
            depends=[
                "src/softmax_classifier/_kernels_body.h",
                "src/softmax_classifier/_kernels_types.h",
            ],
            extra_compile_args=compile_args,
            optional=True,
        ),
        # Coordinate descent for the L1, elastic-net and group penalties
        # (softmax_classifier._coordinate_descent is its NumPy reference).
        Extension(
            "softmax_classifier._cd",
            sources=["src/softmax_classifier/_cd.c"],
            extra_compile_args=compile_args,
            optional=True,
        ),
    ]
)
