"""Convex and greedy solvers: ISTA/FISTA, ADMM, Condat-Vu, OMP/IHT/Kronecker OMP, PCP robust PCA, and CVXPY reference formulations."""
