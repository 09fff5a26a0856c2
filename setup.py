"""Build hook for the optional compiled CUDA extension of ``sparserec.cuda_ext``.

All metadata lives in ``pyproject.toml``; without ``SPARSEREC_BUILD_EXT=1`` this file is a plain
setuptools shim and ``pip install [-e] .`` compiles nothing.  With ``SPARSEREC_BUILD_EXT=1`` the
CUDA C++ kernels in ``sparserec/cuda_ext/csrc`` are built ahead of time into
``sparserec.cuda_ext._C``; this needs torch with CUDA and ``nvcc`` in the build environment, so use
``SPARSEREC_BUILD_EXT=1 pip install --no-build-isolation -e .``.  Without it the extension is
compiled lazily with ``torch.utils.cpp_extension.load`` on first use of ``impl="cuda"`` on a CUDA
machine (see ``sparserec/cuda_ext/_cpp.py``).
"""

import os

from setuptools import setup

ext_modules = []
cmdclass = {}
if os.environ.get("SPARSEREC_BUILD_EXT", "0") == "1":
    try:
        from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CUDAExtension
    except ImportError as exc:
        raise SystemExit(
            "SPARSEREC_BUILD_EXT=1 needs torch in the build environment: install torch first and build with "
            "pip install --no-build-isolation") from exc
    if CUDA_HOME is None:
        raise SystemExit(
            "SPARSEREC_BUILD_EXT=1 needs a CUDA build of torch and the CUDA toolkit (nvcc; set CUDA_HOME); "
            "unset it to install without the compiled extension (the Triton kernels need no build step)")
    src = os.path.join("sparserec", "cuda_ext", "csrc")
    sources = [os.path.join(src, f) for f in ("binding.cpp", "prox_grad_step.cu")]
    missing = [s for s in sources if not os.path.isfile(s)]
    if missing:
        raise SystemExit(f"SPARSEREC_BUILD_EXT=1 but the CUDA C++ sources are missing: {', '.join(missing)}")
    ext_modules = [CUDAExtension("sparserec.cuda_ext._C", sources, include_dirs=[os.path.abspath(src)],
                                 extra_compile_args={"cxx": ["-O3"], "nvcc": ["-O3"]})]
    cmdclass = {"build_ext": BuildExtension}

setup(ext_modules=ext_modules, cmdclass=cmdclass)
