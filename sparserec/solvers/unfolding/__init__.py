"""Deep-unfolded solvers as torch modules: RPCANet-style unfolded robust PCA and LISTA."""
