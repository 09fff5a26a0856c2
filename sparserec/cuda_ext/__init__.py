"""GPU kernels (Triton and CUDA C++) with a pure-torch reference for each; compiled lazily at first use, never at import."""
