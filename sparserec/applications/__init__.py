"""Application modules: IRS-aided MIMO channel estimation, hyperspectral unmixing, astronomical
deconvolution and scATAC-seq tokenization."""
