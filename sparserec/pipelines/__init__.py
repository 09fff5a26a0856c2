"""Chunked, resumable HDF5 dataset processing, the Dask backend and the sparserec command line."""
