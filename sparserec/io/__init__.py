"""HDF5 and xarray adapters: named dimensions to operator shapes, results with provenance."""
