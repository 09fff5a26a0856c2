"""scATAC-seq: h5py readers (10x ``.h5``, ``.h5ad``, BED, fragments), a ChromFound-compatible
genome-aware tokenizer with an exact inverse, and sparse-recovery tools (TF-IDF, LSI, NMF, kNN
smoothing, PCP) with clustering and imputation metrics.

Needs the ``bio`` extra (h5py); the torch ``Dataset``/collate need the ``torch`` extra.
"""

from .data import pbmc_fixture_path
from .io import H5ADReader, TenXMatrix, count_fragments, read_10x_h5, read_h5ad, write_h5ad
from .metrics import (
    adjusted_mutual_info,
    adjusted_rand_index,
    average_precision,
    fowlkes_mallows,
    kmeans,
    knn_purity,
    mask_and_recover,
    normalized_mutual_info,
    roc_auc,
    silhouette,
    sparse_lookup,
)
from .peaks import CHROM_VOCAB, PeakTable, chrom_id, format_peak, map_peaks, parse_peak_name, read_bed
from .recover import LSIResult, PeakStats, knn_smooth, lsi, nmf, peak_stats, rpca, tfidf
from .synthetic import planted_clusters, synthetic_peaks, write_fragments, write_synthetic_h5ad
from .tokenize import (
    TokenDataset,
    Tokens,
    collate_tokens,
    coordinate_encoding,
    detokenize,
    iter_tokenize,
    mask_tokens,
    tokenize,
)

__all__ = [
    "CHROM_VOCAB",
    "H5ADReader",
    "LSIResult",
    "PeakStats",
    "PeakTable",
    "TenXMatrix",
    "TokenDataset",
    "Tokens",
    "adjusted_mutual_info",
    "adjusted_rand_index",
    "average_precision",
    "chrom_id",
    "collate_tokens",
    "coordinate_encoding",
    "count_fragments",
    "detokenize",
    "format_peak",
    "fowlkes_mallows",
    "iter_tokenize",
    "kmeans",
    "knn_purity",
    "knn_smooth",
    "lsi",
    "map_peaks",
    "mask_and_recover",
    "mask_tokens",
    "nmf",
    "normalized_mutual_info",
    "parse_peak_name",
    "pbmc_fixture_path",
    "peak_stats",
    "planted_clusters",
    "read_10x_h5",
    "read_bed",
    "read_h5ad",
    "roc_auc",
    "rpca",
    "silhouette",
    "sparse_lookup",
    "synthetic_peaks",
    "tfidf",
    "tokenize",
    "write_fragments",
    "write_h5ad",
    "write_synthetic_h5ad",
]
