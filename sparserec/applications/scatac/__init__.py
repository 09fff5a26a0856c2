"""scATAC-seq: 10x .h5 / .h5ad / fragments readers, genome-aware tokenizer, LSI and sparse-recovery tools."""
