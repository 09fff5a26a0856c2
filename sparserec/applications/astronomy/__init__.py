"""Astronomical image deconvolution: PSF handling, FITS I/O, starlet sparse deconvolution, learned deconvolution."""
