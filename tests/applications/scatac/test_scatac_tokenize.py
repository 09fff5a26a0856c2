"""Tokenizer acceptance tests T1–T5 (round trip, dense mode, ordering/vocab, ChromFound compat,
determinism) plus position encoding, masking and the torch dataset."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from sparserec.applications.scatac import (
    CHROM_VOCAB,
    PeakTable,
    Tokens,
    chrom_id,
    coordinate_encoding,
    detokenize,
    mask_tokens,
    planted_clusters,
    synthetic_peaks,
    tokenize,
    write_h5ad,
)
from sparserec.applications.scatac.io import H5ADReader
from sparserec.applications.scatac.tokenize import iter_tokenize


@pytest.fixture(scope="module")
def synth():
    rng = np.random.default_rng(11)
    n, p = 2000, 20000
    X = sp.random_array((n, p), density=0.02, format="csr", rng=rng, dtype=np.float32)
    X.data = np.round(X.data * 4 + 1).astype(np.float32)
    pk = synthetic_peaks(p, seed=3)
    perm = rng.permutation(p)  # a random (non-genomic) column order
    pk = PeakTable(pk.chrom[perm], pk.start[perm], pk.end[perm])
    return sp.csr_array(X), pk


def test_t1_nonzero_round_trip(synth):
    X, pk = synth
    t = tokenize(X, pk, mode="nonzero", order="genomic", max_length=None)
    Y = detokenize(t, pk)  # via (chrom id, start, end) lookups: a miss raises
    assert Y.shape == X.shape
    assert np.array_equal(Y.indptr, X.indptr) and np.array_equal(Y.indices, X.indices)
    assert np.allclose(Y.data, X.data)
    names = pk.names
    again = PeakTable.from_names(names)
    assert again.names == names


def test_t2_dense_mode(synth):
    X, pk = synth
    Xs = X[:20]
    for L in (500, 20000, 25000):
        t = tokenize(Xs, pk, mode="dense", order="var", max_length=L)
        P = t.padded(L)
        assert P["value"].shape == (20, L)
        k = min(L, X.shape[1])
        assert np.array_equal(P["value"][:, :k], Xs[:, :k].toarray())
        if L > X.shape[1]:
            assert np.all(P["value"][:, k:] == -1) and np.all(P["chrom"][:, k:] == 0)
            assert np.all(P["start"][:, k:] == 0) and np.all(P["end"][:, k:] == 0)
            nz = P["value"] > 0
            assert nz.sum() == Xs.nnz
            assert (detokenize(t, pk) != Xs).nnz == 0


def test_t3_order_and_vocabulary(synth):
    X, pk = synth
    t = tokenize(X[:50], pk, mode="nonzero", order="genomic")
    for i in range(50):
        c = t.cell(i)
        key = np.stack([c["chrom"].astype(np.int64), c["start"], c["end"]], 1)
        assert np.all(np.diff(key[:, 0]) >= 0)
        same = np.diff(key[:, 0]) == 0
        assert np.all(np.diff(key[:, 1])[same] >= 0)
    names = ("chr1", "1", "chr22", "chrX", "X", "chrY", "Y")
    assert [chrom_id(c) for c in names] == [1, 1, 22, 23, 23, 24, 24]
    assert CHROM_VOCAB["pad"] == 0
    for bad in ("chrM", "chr1_KI270706v1_random", "chrUn_GL000195v1", "KI270728.1", "GL000220.1"):
        assert chrom_id(bad) == -1
    pt = PeakTable(np.array(["chr1", "chrM", "GL000220.1", "2"], dtype=object), np.arange(4) * 10,
                   np.arange(4) * 10 + 5, drop_noncanonical=True)
    assert len(pt) == 2 and pt.report["n_dropped"] == 2


def _chromfound_reference(row_dense, chrom_str, start, end, L):
    """Reference of ChromFound's released per-cell processing, written from spec §1.2."""
    vocab = {"pad": 0, **{f"chr{i}": i for i in range(1, 23)}, "chrX": 23, "chrY": 24}
    n = row_dense.shape[0]
    ids = np.array([vocab[c] for c in chrom_str])
    if n >= L:
        return row_dense[:L], ids[:L], start[:L], end[:L]
    pad = L - n
    return (np.r_[row_dense, np.full(pad, -1.0)], np.r_[ids, np.zeros(pad, int)],
            np.r_[start, np.zeros(pad, int)], np.r_[end, np.zeros(pad, int)])


@pytest.mark.parametrize("L", [64, 300, 1000])
def test_t4_chromfound_compatibility(L):
    rng = np.random.default_rng(5)
    n_cells, n_peaks = 7, 300
    X = sp.random_array((n_cells, n_peaks), density=0.1, format="csr", rng=rng, dtype=np.float32)
    chrom = np.array([f"chr{c}" for c in rng.choice(["1", "2", "X", "Y", "7"], size=n_peaks)], dtype=object)
    start = rng.integers(0, 10**8, size=n_peaks)
    end = start + 500
    var = {"#Chromosome": chrom, "hg38_Start": start, "hg38_End": end}
    pt = PeakTable(var["#Chromosome"], var["hg38_Start"], var["hg38_End"])
    P = tokenize(X, pt, mode="dense", order="var", max_length=L).padded(L)
    for i in range(n_cells):
        v, c, s, e = _chromfound_reference(X[[i]].toarray()[0], chrom, start, end, L)
        assert np.array_equal(P["value"][i], v.astype(np.float32))
        assert np.array_equal(P["chrom"][i], c) and np.array_equal(P["start"][i], s)
        assert np.array_equal(P["end"][i], e)


def test_t4_coordinate_encoding():
    p = np.array([0, 12345, 248_000_000])
    pe = coordinate_encoding(p, 1e5, 128)
    assert pe.shape == (3, 128)
    i = np.arange(64)
    ang = p[:, None] / (1e5 * 10000 ** (2 * i / 128))
    assert np.allclose(pe[:, 0::2], np.sin(ang), atol=1e-6)
    assert np.allclose(pe[:, 1::2], np.cos(ang), atol=1e-6)


def test_t5_determinism_across_chunks_and_processes(tmp_path, synth):
    X, pk = synth
    X = X[:300]
    path = tmp_path / "d.h5ad"
    write_h5ad(str(path), X, var={"chr": pk.chrom, "start": pk.start, "end": pk.end})
    digests = set()
    for cs in (1, 7, 1000, 300):
        with H5ADReader(str(path)) as r:
            parts = [t for _, t in iter_tokenize(r, pk, chunk_size=cs, mode="nonzero", order="genomic",
                                                 zero_sampling=1, seed=3)]
        digests.add(Tokens.concat(parts).digest())
    assert len(digests) == 1
    code = (
        "import sys; from sparserec.applications.scatac.io import H5ADReader;"
        "from sparserec.applications.scatac.tokenize import iter_tokenize, Tokens;"
        "from sparserec.applications.scatac import PeakTable;"
        f"r=H5ADReader({str(path)!r}); pk=r.peak_table();"
        "print(Tokens.concat([t for _,t in iter_tokenize(r,pk,chunk_size=50,mode='nonzero',order='genomic',"
        "zero_sampling=1,seed=3)]).digest())"
    )
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip() for _ in range(2)}
    assert outs == digests
    with H5ADReader(str(path)) as r:
        other = Tokens.concat([t for _, t in iter_tokenize(r, pk, chunk_size=50, mode="nonzero",
                                                           order="genomic", zero_sampling=1, seed=4)])
        base = Tokens.concat([t for _, t in iter_tokenize(r, pk, chunk_size=50, mode="nonzero",
                                                          order="genomic", zero_sampling=1, seed=3)])
    assert other.digest() != base.digest()
    # only the sampled zeros change
    assert np.array_equal(detokenize(other, pk).toarray(), detokenize(base, pk).toarray())


def test_value_desc_and_zero_sampling(synth):
    X, pk = synth
    t = tokenize(X[:10], pk, mode="nonzero", order="value_desc", zero_sampling=2, seed=0)
    for i in range(10):
        c = t.cell(i)
        nz = c["value"] != 0
        assert nz.sum() == X[[i]].nnz and (~nz).sum() == min(2 * nz.sum(), X.shape[1] - nz.sum())
        assert np.all(np.diff(c["value"]) <= 0)
    assert (detokenize(t, pk) != X[:10]).nnz == 0


def test_budget_guard_and_bad_input(synth):
    X, pk = synth
    with pytest.raises(MemoryError, match="budget"):
        tokenize(X, pk, mode="dense", budget_bytes=1e6)
    with pytest.raises(ValueError, match="peak table"):
        tokenize(X[:, :10], pk)
    with pytest.raises(ValueError, match="value_desc"):
        tokenize(X[:2], pk, mode="dense", order="value_desc")
    Y = X[:3].copy()
    Y.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tokenize(Y, pk)
    t = tokenize(X[:3], pk)
    t.start[0] += 1
    with pytest.raises(KeyError, match="matches no peak"):
        detokenize(t, pk)


def test_mask_tokens():
    rng = np.random.default_rng(0)
    v = np.where(rng.random((64, 200)) < 0.1, rng.integers(1, 5, (64, 200)), 0).astype(np.float32)
    valid = np.ones_like(v, bool)
    valid[:, 180:] = False
    v[~valid] = -1
    out, sel = mask_tokens(v, valid, prob=0.15, seed=1)
    assert np.all(out[~valid] == -1) and not sel[~valid].any()
    frac = sel[valid].mean()
    assert abs(frac - 0.15) < 0.01
    was_zero = (v == 0) & sel
    assert np.all(np.isin(out[was_zero], np.unique(v[(v > 0)])))
    assert np.all(out[(v > 0) & sel] == 0)
    with pytest.raises(ValueError):
        mask_tokens(v, valid, prob=1.5)


def test_torch_dataset_and_collate(tmp_path):
    torch = pytest.importorskip("torch")
    from sparserec.applications.scatac import TokenDataset, collate_tokens

    X, lab, pk = planted_clusters(30, 400, 3, seed=9)
    path = tmp_path / "t.h5ad"
    write_h5ad(str(path), X, obs={"cell_type": np.array([f"t{i}" for i in lab], dtype=object)},
               var={"chr": pk.chrom, "start": pk.start, "end": pk.end})
    ds = TokenDataset(str(path), labels="cell_type", mode="nonzero", order="genomic")
    dl = torch.utils.data.DataLoader(ds, batch_size=8, collate_fn=collate_tokens)
    b = next(iter(dl))
    assert b["value"].shape[0] == 8 and b["mask"].dtype == torch.bool
    lens = b["mask"].sum(1).numpy()
    assert np.array_equal(lens, np.diff(X.indptr)[:8])
    assert np.all(b["value"][~b["mask"]].numpy() == -1)
    assert b["label"].tolist() == lab[:8].tolist()
