r"""Clustering, embedding and recovery metrics for scATAC (numpy only).

ARI, NMI (arithmetic normalisation), FMI and the silhouette agree exactly with
``sklearn.metrics``; AMI delegates to scikit-learn (its expected-mutual-information term is
long to write and already standard).  :func:`mask_and_recover` is the held-out non-zero
harness (AUROC/AUPR of imputed scores on held-out positives vs true zeros).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "adjusted_rand_index",
    "average_precision",
    "fowlkes_mallows",
    "kmeans",
    "knn_purity",
    "mask_and_recover",
    "normalized_mutual_info",
    "roc_auc",
    "silhouette",
    "sparse_lookup",
]


def _contingency(a: Any, b: Any) -> np.ndarray:
    _, ia = np.unique(np.asarray(a), return_inverse=True)
    _, ib = np.unique(np.asarray(b), return_inverse=True)
    if ia.size != ib.size:
        raise ValueError(f"label vectors differ in length: {ia.size} and {ib.size}")
    c = np.zeros((ia.max(initial=-1) + 1, ib.max(initial=-1) + 1), np.int64)
    np.add.at(c, (ia, ib), 1)
    return c


def adjusted_rand_index(labels_true: Any, labels_pred: Any) -> float:
    """Adjusted Rand index (Hubert & Arabie)."""
    c = _contingency(labels_true, labels_pred)
    n = c.sum()
    comb = lambda x: x * (x - 1) / 2.0  # noqa: E731
    s_ij = comb(c).sum()
    a = comb(c.sum(1)).sum()
    b = comb(c.sum(0)).sum()
    expected = a * b / comb(n) if n > 1 else 0.0
    mx = (a + b) / 2.0
    if mx == expected:
        return 1.0
    return float((s_ij - expected) / (mx - expected))


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def normalized_mutual_info(labels_true: Any, labels_pred: Any) -> float:
    """NMI with arithmetic-mean normalisation (``average_method='arithmetic'``)."""
    c = _contingency(labels_true, labels_pred).astype(np.float64)
    n = c.sum()
    ha, hb = _entropy(c.sum(1)), _entropy(c.sum(0))
    if ha == 0 and hb == 0:
        return 1.0
    nz = c > 0
    pij = c[nz] / n
    pi = (c.sum(1)[:, None] / n * np.ones_like(c))[nz]
    pj = (c.sum(0)[None, :] / n * np.ones_like(c))[nz]
    mi = float((pij * (np.log(pij) - np.log(pi) - np.log(pj))).sum())
    denom = (ha + hb) / 2.0
    return float(max(mi, 0.0) / denom) if denom > 0 else 0.0


def fowlkes_mallows(labels_true: Any, labels_pred: Any) -> float:
    """Fowlkes–Mallows index."""
    c = _contingency(labels_true, labels_pred).astype(np.float64)
    n = c.sum()
    tk = (c**2).sum() - n
    pk = (c.sum(0) ** 2).sum() - n
    qk = (c.sum(1) ** 2).sum() - n
    return float(np.sqrt(tk / pk) * np.sqrt(tk / qk)) if tk != 0 else 0.0


def adjusted_mutual_info(labels_true: Any, labels_pred: Any) -> float:
    """AMI (arithmetic), via scikit-learn."""
    try:
        from sklearn.metrics import adjusted_mutual_info_score
    except ImportError as e:  # pragma: no cover
        raise ImportError("AMI needs scikit-learn: pip install 'sparserec[sklearn]'") from e
    return float(adjusted_mutual_info_score(labels_true, labels_pred))


def silhouette(X: Any, labels: Any, rescale: bool = False) -> float:
    """Mean silhouette (Euclidean); ``rescale=True`` gives ``(s + 1) / 2`` (scib's ASW)."""
    X = np.asarray(X, np.float64)
    lab = np.asarray(labels)
    u, inv = np.unique(lab, return_inverse=True)
    if not 2 <= u.size <= X.shape[0] - 1:
        raise ValueError("silhouette needs 2 <= n_labels <= n_samples - 1")
    sq = (X**2).sum(1)
    s = np.empty(X.shape[0])
    for a in range(0, X.shape[0], 2048):
        D = np.sqrt(np.maximum(sq[a:a + 2048, None] + sq[None, :] - 2 * X[a:a + 2048] @ X.T, 0))
        sums = np.zeros((D.shape[0], u.size))
        for k in range(u.size):
            sums[:, k] = D[:, inv == k].sum(1)
        cnt = np.bincount(inv, minlength=u.size).astype(np.float64)
        own = inv[a:a + 2048]
        n_own = cnt[own] - 1
        ai = np.where(n_own > 0, sums[np.arange(D.shape[0]), own] / np.maximum(n_own, 1), 0.0)
        other = sums / cnt[None, :]
        other[np.arange(D.shape[0]), own] = np.inf
        bi = other.min(1)
        si = np.where(n_own > 0, (bi - ai) / np.maximum(ai, bi), 0.0)
        s[a:a + 2048] = si
    m = float(s.mean())
    return (m + 1) / 2 if rescale else m


def kmeans(X: Any, k: int, seed: int = 0, n_init: int = 4, max_iter: int = 300) -> np.ndarray:
    """Seeded k-means++ / Lloyd clustering (best of ``n_init`` by inertia)."""
    X = np.asarray(X, np.float64)
    rng = np.random.default_rng(seed)
    best, best_in = None, np.inf
    for _ in range(n_init):
        C = [X[rng.integers(X.shape[0])]]
        d2 = ((X - C[0]) ** 2).sum(1)
        for _ in range(1, k):
            p = d2 / d2.sum() if d2.sum() > 0 else None
            C.append(X[rng.choice(X.shape[0], p=p)])
            d2 = np.minimum(d2, ((X - C[-1]) ** 2).sum(1))
        C = np.array(C)
        lab = np.zeros(X.shape[0], np.int64)
        for _ in range(max_iter):
            D = (X**2).sum(1)[:, None] + (C**2).sum(1)[None] - 2 * X @ C.T
            new = D.argmin(1)
            if np.array_equal(new, lab) and _ > 0:
                break
            lab = new
            for j in range(k):
                if np.any(lab == j):
                    C[j] = X[lab == j].mean(0)
        inertia = float(D[np.arange(X.shape[0]), lab].sum())
        if inertia < best_in:
            best, best_in = lab.copy(), inertia
    return best  # type: ignore[return-value]


def knn_purity(X: Any, labels: Any, k: int = 15) -> float:
    """Mean fraction of each cell's ``k`` nearest neighbours (Euclidean) sharing its label."""
    X = np.asarray(X, np.float64)
    lab = np.asarray(labels)
    sq = (X**2).sum(1)
    out = []
    for a in range(0, X.shape[0], 2048):
        D = sq[a:a + 2048, None] + sq[None, :] - 2 * X[a:a + 2048] @ X.T
        D[np.arange(D.shape[0]), np.arange(a, a + D.shape[0])] = np.inf
        nn = np.argpartition(D, k, axis=1)[:, :k]
        out.append((lab[nn] == lab[a:a + 2048, None]).mean(1))
    return float(np.concatenate(out).mean())


def roc_auc(y_true: Any, score: Any) -> float:
    """Area under the ROC curve (ties get half credit; equals ``sklearn.metrics.roc_auc_score``)."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, np.float64)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        raise ValueError("roc_auc needs both positives and negatives")
    from scipy.stats import rankdata

    r = rankdata(s)
    return float((r[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def average_precision(y_true: Any, score: Any) -> float:
    """Average precision (AUPR, step-wise; equals ``sklearn.metrics.average_precision_score``)."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, np.float64)
    o = np.argsort(-s, kind="mergesort")
    y, s = y[o], s[o]
    distinct = np.r_[np.nonzero(np.diff(s))[0], y.size - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    prec = tps / (tps + fps)
    rec = tps / max(y.sum(), 1)
    rec_prev = np.r_[0.0, rec[:-1]]
    return float(((rec - rec_prev) * prec).sum())


def sparse_lookup(S: Any, rows: Any, cols: Any) -> np.ndarray:
    """Values ``S[rows[i], cols[i]]`` of a sparse matrix, vectorised (zeros where absent)."""
    import scipy.sparse as sp

    S = sp.csr_array(S)
    S.sum_duplicates()
    r = np.repeat(np.arange(S.shape[0], dtype=np.int64), np.diff(S.indptr))
    keys = r * S.shape[1] + S.indices
    q = np.asarray(rows, np.int64) * S.shape[1] + np.asarray(cols, np.int64)
    pos = np.minimum(np.searchsorted(keys, q), max(keys.size - 1, 0))
    hit = keys[pos] == q if keys.size else np.zeros(q.shape, bool)
    return np.where(hit, S.data[pos] if keys.size else 0.0, 0.0)


def mask_and_recover(X: Any, recover: Callable[[Any], Any], frac: float = 0.1, seed: int = 0,
                     n_negatives: int | None = None) -> dict[str, float]:
    """Hold out ``frac`` of the non-zeros of ``X`` (set to 0), run ``recover(X_masked)`` (returning
    a dense score matrix or a callable ``(rows, cols) -> scores``), and report AUROC/AUPR of
    the scores on held-out positives vs an equal number (default) of true zeros."""
    import scipy.sparse as sp

    if not 0 < frac < 1:
        raise ValueError("frac must be in (0, 1)")
    X = sp.coo_array(X)
    rng = np.random.default_rng(seed)
    nnz = X.nnz
    held = rng.random(nnz) < frac
    Xm = sp.csr_array((X.data[~held], (X.row[~held], X.col[~held])), shape=X.shape)
    pos_r, pos_c = X.row[held], X.col[held]
    k = n_negatives or int(held.sum())
    n_cols = X.shape[1]
    occupied = np.unique(X.row.astype(np.int64) * n_cols + X.col)
    total = X.shape[0] * n_cols
    if total - occupied.size < k:
        raise ValueError("not enough zero entries to sample negatives from")
    picked = np.zeros(0, np.int64)
    while picked.size < k:
        cand = rng.integers(0, total, size=2 * (k - picked.size) + 16)
        pos = np.minimum(np.searchsorted(occupied, cand), occupied.size - 1)
        cand = cand[occupied[pos] != cand]
        picked = np.unique(np.r_[picked, cand])  # sorted, distinct
    picked = rng.permutation(picked)[:k]
    neg_r, neg_c = picked // n_cols, picked % n_cols
    rows = np.r_[pos_r, neg_r].astype(np.int64)
    cols = np.r_[pos_c, neg_c].astype(np.int64)
    y = np.r_[np.ones(pos_r.size, bool), np.zeros(k, bool)]
    S = recover(Xm)
    scores = S(rows, cols) if callable(S) else np.asarray(S)[rows, cols]
    return {"auroc": roc_auc(y, scores), "aupr": average_precision(y, scores),
            "n_heldout": int(pos_r.size)}
