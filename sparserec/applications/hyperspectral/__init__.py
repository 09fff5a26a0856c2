"""Hyperspectral unmixing application: scene loaders (.mat, HDF5, ENVI), simulators, metrics (SAD, RMSE)."""
