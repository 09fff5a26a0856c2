"""Sparse Bayesian learning: SBL (EM), M-SBL, Kronecker SBL (AM, SVD, pattern-coupled), Turbo-VBI and Pyro models."""
