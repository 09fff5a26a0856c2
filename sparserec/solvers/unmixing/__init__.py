"""Hyperspectral unmixing solvers: FCLS, SUnSAL/CLSUnSAL, VCA, NMF and robust l2,1/lp unmixing
with a guidance map."""
