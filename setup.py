"""Build hook for the optional compiled CUDA extension of ``sparserec.cuda_ext``.

A plain ``pip install .`` compiles nothing: all metadata lives in ``pyproject.toml``.  With
``SPARSEREC_BUILD_EXT=1`` (and torch with a CUDA toolkit available) the CUDA C++ kernels in
``sparserec/cuda_ext/csrc`` are built ahead of time; otherwise they are compiled lazily with
``torch.utils.cpp_extension.load`` on first use on a CUDA machine.
"""

import os

from setuptools import setup

ext_modules = []
cmdclass = {}
if os.environ.get("SPARSEREC_BUILD_EXT", "0") == "1":
    from torch.utils.cpp_extension import BuildExtension, CUDAExtension

    src = os.path.join("sparserec", "cuda_ext", "csrc")
    sources = sorted(os.path.join(src, f) for f in os.listdir(src) if f.endswith((".cpp", ".cu"))) \
        if os.path.isdir(src) else []
    if not sources:
        raise SystemExit(
            "SPARSEREC_BUILD_EXT=1 but sparserec/cuda_ext/csrc has no CUDA C++ sources: the GPU kernels "
            "of this release are Triton kernels, compiled lazily at first use (no build step needed)")
    ext_modules = [CUDAExtension("sparserec.cuda_ext._C", sources)]
    cmdclass = {"build_ext": BuildExtension}

setup(ext_modules=ext_modules, cmdclass=cmdclass)
