r"""Sparse-recovery and embedding tools for scATAC count matrices (streamed where possible).

* :func:`tfidf` — Signac's TF-IDF methods 1–4 with peak statistics from a streaming pass.
* :func:`lsi` — TF-IDF + randomized truncated SVD on streamed CSR chunks (two passes per power
  iteration, never more than one chunk in memory); the first component (depth) dropped by default.
* :func:`nmf` — non-negative matrix factorisation (multiplicative updates, Frobenius or KL loss)
  for imputation/denoising.
* :func:`knn_smooth` — ChromFound's "deepen" kNN smoothing on an embedding.
* :func:`rpca` — low-rank + sparse decomposition by PCP (offered, not field practice).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LSIResult", "PeakStats", "knn_smooth", "lsi", "nmf", "peak_stats", "rpca", "tfidf"]


def _chunks(source: Any, chunk_size: int) -> Callable[[], Iterator[Any]]:
    """A re-iterable over CSR chunks from a matrix or an ``H5ADReader``."""
    import scipy.sparse as sp

    if hasattr(source, "iter_cells"):
        return lambda: (c for _, c in source.iter_cells(chunk_size))
    X = sp.csr_array(source)
    return lambda: (X[a:a + chunk_size] for a in range(0, X.shape[0], chunk_size))


@dataclass
class PeakStats:
    """Per-peak statistics from one streaming pass: total counts, cells open, number of cells."""

    counts: np.ndarray
    n_open: np.ndarray
    n_cells: int


def peak_stats(source: Any, chunk_size: int = 20_000) -> PeakStats:
    """One streaming pass computing per-peak counts and document frequencies."""
    counts = None
    n_open = None
    n = 0
    for c in _chunks(source, chunk_size)():
        cs = np.asarray(c.sum(axis=0)).ravel().astype(np.float64)
        no = np.bincount(c.indices[c.data != 0], minlength=c.shape[1]).astype(np.int64)
        counts = cs if counts is None else counts + cs
        n_open = no if n_open is None else n_open + no
        n += c.shape[0]
    if counts is None:
        raise ValueError("empty input: no cells")
    return PeakStats(counts, n_open, n)


def tfidf(X: Any, stats: PeakStats | None = None, method: int = 1, scale_factor: float = 1e4) -> Any:
    r"""TF-IDF of a cells x peaks CSR chunk, Signac's methods.

    With :math:`\mathrm{TF}_{ij} = x_{ij} / \sum_j x_{ij}` and
    :math:`\mathrm{IDF}_j = n_{\text{cells}} / \sum_i x_{ij}`:

    1. :math:`\log(1 + s\,\mathrm{TF}\cdot\mathrm{IDF})` (Stuart et al. 2019);
    2. :math:`\mathrm{TF}\cdot\log(1 + \mathrm{IDF})` (Cusanovich et al. 2018);
    3. :math:`\log(1 + s\,\mathrm{TF})\cdot\log(1 + \mathrm{IDF})`;
    4. :math:`x\cdot\mathrm{IDF}` (no TF normalisation, 10x).

    ``stats`` (from :func:`peak_stats`) supplies the global IDF when ``X`` is a chunk.
    Peaks with no counts get IDF 0.
    """
    import scipy.sparse as sp

    if method not in (1, 2, 3, 4):
        raise ValueError(f"method must be 1, 2, 3 or 4, got {method}")
    X = sp.csr_array(X, dtype=np.float64)
    st = stats if stats is not None else peak_stats(X)
    if st.counts.shape[0] != X.shape[1]:
        raise ValueError("peak statistics do not match the number of columns")
    idf = np.where(st.counts > 0, st.n_cells / np.maximum(st.counts, 1e-300), 0.0)
    rs = np.asarray(X.sum(axis=1)).ravel()
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    tf = X.data / np.where(rs[rows] > 0, rs[rows], 1.0)
    j = X.indices
    if method == 1:
        v = np.log1p(scale_factor * tf * idf[j])
    elif method == 2:
        v = tf * np.log1p(idf[j])
    elif method == 3:
        v = np.log1p(scale_factor * tf) * np.log1p(idf[j])
    else:
        v = X.data * idf[j]
    return sp.csr_array((v, X.indices.copy(), X.indptr.copy()), shape=X.shape)


@dataclass
class LSIResult:
    """LSI output: ``embedding`` (cells x k, U·S), ``loadings`` (peaks x k), ``singular_values``
    and the ``stats`` used for TF-IDF (apply to new cells with :meth:`transform`)."""

    embedding: np.ndarray
    loadings: np.ndarray
    singular_values: np.ndarray
    stats: PeakStats
    method: int
    dropped_first: bool

    def transform(self, X: Any) -> np.ndarray:
        """Project new cells (CSR chunk) onto the LSI components."""
        T = tfidf(X, self.stats, self.method)
        return np.asarray(T @ self.loadings)


def lsi(source: Any, n_components: int = 30, *, method: int = 1, drop_first: bool = True,
        n_oversamples: int = 10, n_power_iter: int = 2, chunk_size: int = 20_000, seed: int = 0,
        return_embedding: bool = True) -> LSIResult:
    r"""TF-IDF + randomized truncated SVD, streamed over chunks of cells.

    Parameters
    ----------
    source : CSR matrix or H5ADReader
    n_components : int
        Components kept (after dropping the first if ``drop_first``).
    method : int
        TF-IDF method (see :func:`tfidf`).
    n_oversamples, n_power_iter : int
        Randomized SVD settings (Halko et al. 2011): sketch width ``k + n_oversamples``.
    seed : int

    Notes
    -----
    The sketch targets the row space (peaks): with :math:`T` the TF-IDF matrix and
    :math:`\Omega` a Gaussian peaks x l matrix, each pass accumulates
    :math:`Y \leftarrow \sum_c T_c^\top (T_c Q)` over chunks :math:`c` (one pass computes
    :math:`T^\top T Q`), orthonormalised between passes.  A last pass forms :math:`B = T Q`
    (cells x l) and the SVD of the small :math:`l\times l` Gram :math:`B^\top B` gives the
    singular values and right vectors; the embedding is :math:`U\Sigma = B V`.  Memory: one
    chunk, the peaks x l sketch and the cells x l output.
    """
    st = peak_stats(source, chunk_size)
    p = st.counts.shape[0]
    k = n_components + (1 if drop_first else 0)
    ell = min(k + n_oversamples, p)
    if k > min(st.n_cells, p):
        raise ValueError(f"n_components={n_components} too large for {st.n_cells} cells x {p} peaks")
    it = _chunks(source, chunk_size)
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((p, ell)))[0]
    for _ in range(max(1, n_power_iter)):
        Y = np.zeros((p, ell))
        for c in it():
            T = tfidf(c, st, method)
            Y += np.asarray(T.T @ np.asarray(T @ Q))
        Q = np.linalg.qr(Y)[0]
    Bs = []
    G = np.zeros((ell, ell))
    for c in it():
        B = np.asarray(tfidf(c, st, method) @ Q)
        G += B.T @ B
        if return_embedding:
            Bs.append(B)
    w, V = np.linalg.eigh(G)
    o = np.argsort(w)[::-1][:k]
    s = np.sqrt(np.maximum(w[o], 0))
    V = V[:, o]
    load = Q @ V
    emb = np.vstack(Bs) @ V if return_embedding else np.zeros((0, k))
    # deterministic sign: largest |loading| positive
    sign = np.sign(load[np.abs(load).argmax(0), np.arange(k)])
    sign[sign == 0] = 1
    load, emb = load * sign, emb * sign
    sl = slice(1, None) if drop_first else slice(None)
    return LSIResult(emb[:, sl], load[:, sl], s[sl], st, method, drop_first)


def nmf(X: Any, n_components: int = 20, *, loss: str = "frobenius", max_iter: int = 200,
        tol: float = 1e-4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Non-negative factorisation :math:`X \approx W H` by multiplicative updates.

    ``loss="frobenius"`` minimises :math:`\|X - WH\|_F^2`; ``loss="kl"`` the generalised KL
    divergence (the Poisson / PLSA analogue suited to counts).  Returns ``(W, H)`` with W cells x
    k and H k x peaks; the imputed matrix is ``W @ H``.
    """
    import scipy.sparse as sp

    if loss not in ("frobenius", "kl"):
        raise ValueError(f"loss must be 'frobenius' or 'kl', got {loss!r}")
    X = sp.csr_array(X, dtype=np.float64)
    if X.nnz and X.data.min() < 0:
        raise ValueError("NMF needs a non-negative matrix")
    n, p = X.shape
    rng = np.random.default_rng(seed)
    scale = np.sqrt(X.sum() / (n * p * n_components)) if X.nnz else 1.0
    W = rng.random((n, n_components)) * scale + 1e-4
    H = rng.random((n_components, p)) * scale + 1e-4
    eps = 1e-12
    prev = np.inf
    rows = np.repeat(np.arange(n), np.diff(X.indptr))
    for _it in range(max_iter):
        if loss == "frobenius":
            H *= np.asarray(X.T @ W).T / (W.T @ W @ H + eps)
            W *= np.asarray(X @ H.T) / (W @ (H @ H.T) + eps)
            cost = X.power(2).sum() - 2 * np.sum(np.asarray(X @ H.T) * W) + np.sum((W.T @ W) * (H @ H.T))
        else:
            wh = np.einsum("ij,ji->i", W[rows], H[:, X.indices])
            R = sp.csr_array((X.data / (wh + eps), X.indices, X.indptr), shape=X.shape)
            H *= np.asarray(R.T @ W).T / (W.sum(0)[:, None] + eps)
            wh = np.einsum("ij,ji->i", W[rows], H[:, X.indices])
            R = sp.csr_array((X.data / (wh + eps), X.indices, X.indptr), shape=X.shape)
            W *= np.asarray(R @ H.T) / (H.sum(1)[None, :] + eps)
            wh = np.einsum("ij,ji->i", W[rows], H[:, X.indices])
            cost = np.sum(X.data * np.log((X.data + eps) / (wh + eps))) - X.sum() + W.sum(0) @ H.sum(1)
        if (_it + 1) % 10 == 0:  # compare with the cost 10 iterations earlier (plateaus are long)
            if abs(prev - cost) <= tol * max(abs(prev), 1.0):
                break
            prev = cost
    return W, H


def knn_smooth(X: Any, embedding: Any, k: int = 10, metric: str = "cosine",
               include_self: bool = True) -> Any:
    r"""kNN smoothing ("deepen" in ChromFound): each cell's counts replaced by the sum over itself
    and its ``k`` nearest neighbours in ``embedding`` (cosine by default).

    Deterministic (all k neighbours, no sampling).  Returns a CSR matrix.
    """
    import scipy.sparse as sp

    E = np.asarray(embedding, np.float64)
    if metric == "cosine":
        E = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    elif metric != "euclidean":
        raise ValueError("metric must be 'cosine' or 'euclidean'")
    n = E.shape[0]
    k = min(k, n - 1)
    sq = (E**2).sum(1)
    rows, cols = [], []
    for a in range(0, n, 2048):
        D = sq[a:a + 2048, None] + sq[None, :] - 2 * E[a:a + 2048] @ E.T
        D[np.arange(D.shape[0]), np.arange(a, a + D.shape[0])] = np.inf
        nn = np.argpartition(D, k - 1, axis=1)[:, :k] if k > 0 else np.zeros((D.shape[0], 0), int)
        rows.append(np.repeat(np.arange(a, a + D.shape[0]), nn.shape[1]))
        cols.append(nn.ravel())
    r, c = np.concatenate(rows), np.concatenate(cols)
    G = sp.csr_array((np.ones(r.size), (r, c)), shape=(n, n))
    if include_self:
        G = G + sp.eye_array(n, format="csr")
    return sp.csr_array(G @ sp.csr_array(X, dtype=np.float64))


def rpca(X: Any, lam: float | None = None, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Low-rank + sparse decomposition ``X = L + S`` by PCP (dense; for <= ~1e5 cells x small
    peak sets).  Uses :func:`sparserec.solvers.convex.pcp.pcp`; returns ``(L, S)``."""
    import scipy.sparse as sp

    from ...solvers.convex.pcp import pcp

    D = sp.csr_array(X).toarray() if sp.issparse(X) else np.asarray(X, np.float64)
    res = pcp(D, lam=lam, **kwargs)
    return np.asarray(res.x), np.asarray(res.extras["sparse"])


