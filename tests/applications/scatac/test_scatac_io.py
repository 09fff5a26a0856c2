"""scATAC readers: the real PBMC fixture (T7), 10x .h5 layouts (T6), fragments (T9), BED, bad input."""

from __future__ import annotations

import collections
import hashlib
import os

import h5py
import numpy as np
import pytest
import scipy.sparse as sp

from sparserec.applications.scatac import (
    H5ADReader,
    PeakTable,
    count_fragments,
    detokenize,
    map_peaks,
    parse_peak_name,
    planted_clusters,
    read_10x_h5,
    read_bed,
    read_h5ad,
    synthetic_peaks,
    tokenize,
    write_fragments,
    write_h5ad,
)

FIXTURE_SHA = "58b808beabb45c1f3104ebcd8fb2ee83d45ed715da476ba9a171b5cbba8d9c41"


@pytest.fixture
def pbmc(shared_data):
    path = shared_data / "scatac" / "pbmc_hg38.h5ad"
    if not path.exists():
        pytest.skip(f"real scATAC fixture {path} is absent")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == FIXTURE_SHA
    return str(path)


# ----------------------------------------------------------------------------- T7
def test_t7_real_h5ad_fixture(pbmc):
    with H5ADReader(pbmc) as r:
        assert r.shape == (20, 1000) and r.format == "csr"
        X = r.read_X()
        assert X.nnz == 1035
        vals, counts = np.unique(X.data, return_counts=True)
        assert dict(zip(vals.tolist(), counts.tolist())) == {1: 243, 2: 602, 3: 54, 4: 136}
        ct = collections.Counter(r.obs["cell_type"])
        assert ct == {"BCell": 5, "CD4+": 3, "Dendritic_cell": 5, "Erythrocyte": 2, "NK_Cell": 2,
                      "Normoblast": 3}
        assert set(r.obs["sample"]) == {"10X_PBMC"}
        pt = r.peak_table()
        assert len(pt) == 1000 and np.all(pt.end - pt.start == 500)
        assert not pt.is_sorted()  # var order is not genomic
    t = tokenize(X, pt, mode="nonzero", order="var")
    assert (detokenize(t, pt) != X).nnz == 0
    g = tokenize(X, pt, mode="nonzero", order="genomic")
    assert (detokenize(g, pt) != X).nnz == 0
    assert not np.array_equal(t.peak, g.peak)


def test_t7_anndata_agrees_and_reads_our_writer(pbmc, tmp_path):
    anndata = pytest.importorskip("anndata")
    ad = anndata.read_h5ad(pbmc)
    ours = read_h5ad(pbmc)
    assert (sp.csr_array(ad.X) != ours["X"]).nnz == 0
    assert list(ad.obs["cell_type"].astype(str)) == list(ours["obs"]["cell_type"])
    assert np.array_equal(ad.var["start"].to_numpy(), ours["var"]["start"])
    out = tmp_path / "copy.h5ad"
    write_h5ad(str(out), ours["X"], obs={k: v for k, v in ours["obs"].items()},
               var={k: v for k, v in ours["var"].items()})
    back = anndata.read_h5ad(out)
    assert (sp.csr_array(back.X) != ours["X"]).nnz == 0
    assert list(back.obs["cell_type"].astype(str)) == list(ours["obs"]["cell_type"])
    assert list(back.var["chr"].astype(str)) == list(ours["var"]["chr"])


def test_iter_cells_streams_and_refuses_csc(tmp_path):
    X, _, pk = planted_clusters(50, 200, 3, seed=1)
    path = tmp_path / "a.h5ad"
    write_h5ad(str(path), X, var={"chr": pk.chrom, "start": pk.start, "end": pk.end})
    with H5ADReader(str(path)) as r:
        parts = [c for _, c in r.iter_cells(7)]
        assert (sp.vstack(parts) != X).nnz == 0
    # rewrite X as CSC
    with h5py.File(path, "r+") as f:
        Xc = sp.csc_array(X)
        del f["X"]
        g = f.create_group("X")
        g.attrs["encoding-type"] = "csc_matrix"
        g.attrs["encoding-version"] = "0.1.0"
        g.attrs["shape"] = np.array(X.shape)
        g["data"], g["indices"], g["indptr"] = Xc.data, Xc.indices, Xc.indptr
    with H5ADReader(str(path)) as r:
        assert (r.read_X() != X).nnz == 0
        with pytest.raises(ValueError, match="CSC"):
            next(r.iter_cells(10))


def test_bad_h5ad_inputs(tmp_path):
    trunc = tmp_path / "t.h5ad"
    X, _, pk = planted_clusters(30, 100, 2, seed=2)
    write_h5ad(str(trunc), X)
    data = trunc.read_bytes()
    trunc.write_bytes(data[: len(data) // 3])
    with pytest.raises(OSError, match="truncated or corrupt"):
        H5ADReader(str(trunc))
    bad = tmp_path / "b.h5ad"
    write_h5ad(str(bad), X)
    with h5py.File(bad, "r+") as f:
        ip = f["X/indptr"][()]
        ip[5] = ip[6] + 3  # not monotone
        f["X/indptr"][...] = ip
    with H5ADReader(str(bad)) as r, pytest.raises(ValueError, match="inconsistent sparse X"):
        r.read_rows(0, 10)
    with pytest.raises(FileExistsError):
        write_h5ad(str(bad), X)
    flt = tmp_path / "f.h5ad"
    Y = X.astype(np.float32)
    Y.data[0] = 1.5
    write_h5ad(str(flt), Y)
    with H5ADReader(str(flt)) as r, pytest.raises(ValueError, match="non-integer"):
        r.read_rows(0, 30, integer=True)


# ----------------------------------------------------------------------------- T6
def _write_10x(path, X, names, *, arc=False, legacy=False, dtypes=("int32", "int64", "int64")):
    Xc = sp.csc_array(X.T)  # features x barcodes CSC == cells x features CSR arrays
    n_bc = X.shape[0]
    with h5py.File(path, "w") as f:
        g = f.create_group("GRCh38" if legacy else "matrix")
        g["barcodes"] = np.array([f"BC{i:05d}-1".encode() for i in range(n_bc)])
        g["data"] = Xc.data.astype(dtypes[0])
        g["indices"] = Xc.indices.astype(dtypes[1])
        g["indptr"] = Xc.indptr.astype(dtypes[2])
        g["shape"] = np.array([X.shape[1], n_bc], dtype=np.int32)
        ids = np.array([n.encode() for n in names])
        if legacy:
            g["genes"] = ids
            g["gene_names"] = ids
            return
        fe = g.create_group("features")
        fe["id"] = ids
        fe["name"] = ids
        ft = np.array([b"Peaks"] * len(names))
        if arc:
            ft[::5] = b"Gene Expression"
            fe["interval"] = ids
        fe["feature_type"] = ft
        fe["genome"] = np.array([b"GRCh38"] * len(names))
        fe["_all_tag_keys"] = np.array([b"genome", b"interval"])


@pytest.mark.parametrize("variant", ["modern", "arc", "legacy", "uint32"])
def test_t6_10x_reader(tmp_path, variant):
    X, _, pk = planted_clusters(40, 120, 3, seed=3)
    names = pk.names
    path = tmp_path / f"{variant}.h5"
    _write_10x(path, X, names, arc=variant == "arc", legacy=variant == "legacy",
               dtypes=("uint32", "int64", "int64") if variant == "uint32" else ("int32", "int32", "int64"))
    m = read_10x_h5(str(path))
    keep = np.arange(120) if variant != "arc" else np.setdiff1d(np.arange(120), np.arange(0, 120, 5))
    expect = sp.csr_array(X)[:, keep]
    assert m.X.shape == (40, keep.size)
    assert (m.X != expect).nnz == 0
    assert m.barcodes[0] == "BC00000-1" and isinstance(m.barcodes[0], str)
    assert m.peaks.names == [names[i] for i in keep]
    # agrees with the h5ad path on the same matrix
    h5ad = tmp_path / "same.h5ad"
    write_h5ad(str(h5ad), m.X, var={"_index": np.array(m.peaks.names, dtype=object)})
    with H5ADReader(str(h5ad)) as r:
        assert (r.read_X() != m.X).nnz == 0
        assert r.peak_table().names == m.peaks.names


def test_t6_peak_name_forms():
    for s in ("chr1:100-600", "chr1-100-600", "chr1_100_600"):
        assert parse_peak_name(s) == ("chr1", 100, 600)
    for bad in ("chr1:600-100", "chr1", "chr1:a-b", "chr1:100"):
        with pytest.raises(ValueError):
            parse_peak_name(bad)


# ----------------------------------------------------------------------------- T9
def _brute(frag_rows, peaks, strategy):
    counts = collections.Counter()
    for c, s, e, bc in frag_rows:
        for j in range(len(peaks)):
            if peaks.chrom[j] != c:
                continue
            ps, pe = peaks.start[j], peaks.end[j]
            if strategy == "fragment":
                hit = int(s < pe and ps < e)
            else:
                cuts = [(s, s + 1), (e - 1, e)]
                n = sum(int(a < pe and ps < b) for a, b in cuts)
                hit = n if strategy == "insertion" else int(n > 0)
            if hit:
                counts[(bc, j)] += hit
    return counts


@pytest.mark.parametrize("strategy", ["insertion", "paired-insertion", "fragment"])
def test_t9_fragments_match_brute_force(tmp_path, strategy):
    X, _, pk = planted_clusters(15, 60, 2, seed=4)
    path = tmp_path / "fragments.tsv.gz"
    bcs = write_fragments(str(path), X, pk, seed=5, extra_contigs={"chrM": 4})
    sizes = {c: 10**9 for c in set(pk.chrom)}
    wl = bcs[:10]
    M, names, rep = count_fragments(str(path), pk, barcodes=wl, chrom_sizes=sizes, strategy=strategy)
    import gzip

    rows = []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith("#"):
                continue
            c, s, e, bc, _ = line.split("\t")
            if c in sizes and bc in wl:
                rows.append((c, int(s), int(e), bc))
    ref = _brute(rows, pk, strategy)
    got = {(names[i], j): int(v) for (i, j), v in sp.dok_array(M).items()}
    assert got == dict(ref)
    assert rep["n_unknown_contig"] == {"chrM": 4}
    assert rep["n_outside_whitelist"] > 0
    assert list(names) == wl


def test_tile_counting(tmp_path):
    path = tmp_path / "f.tsv"
    path.write_text("#h\nchr1\t10\t600\tA\t1\nchr1\t990\t1200\tB\t2\nchr2\t5\t20\tA\t1\n")
    M, names, rep = count_fragments(str(path), tile_size=500, chrom_sizes={"chr1": 1500, "chr2": 100},
                                    strategy="insertion")
    # tiles chr1: [0,500) [500,1000) [1000,1500); chr2: [0,100)
    assert M.shape == (2, 4)
    assert M.toarray().tolist() == [[1, 1, 0, 2], [0, 1, 1, 0]]


# ----------------------------------------------------------------------------- T11, BED
def test_t11_overlap_mapper():
    A = PeakTable(np.array(["chr1", "chr1", "chr2", "chr1"], dtype=object), np.array([0, 100, 50, 1000]),
                  np.array([100, 250, 80, 1100]))
    B = PeakTable(np.array(["chr1", "chr1", "chr2"], dtype=object), np.array([100, 200, 0]),
                  np.array([150, 400, 60]))
    m, unmapped = map_peaks(A, B)
    assert m.toarray().tolist() == [[0, 0, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert unmapped.tolist() == [0, 3]  # [0,100) only touches [100,150): no overlap
    m2, _ = map_peaks(A, B)
    assert (m2 != m).nnz == 0
    pk = synthetic_peaks(300, seed=1)
    ident, un = map_peaks(pk, pk)
    assert (ident != sp.eye_array(300)).nnz == 0 and un.size == 0


def test_bed_reader_and_vocab(tmp_path):
    p = tmp_path / "peaks.bed"
    p.write_text("# header\nchr1\t10\t20\nchrM\t5\t9\n2\t30\t40\nchrUn_KI270302v1\t1\t5\n")
    with pytest.raises(ValueError, match="non-canonical"):
        read_bed(str(p))
    pt = read_bed(str(p), drop_noncanonical=True)
    assert pt.chrom_ids.tolist() == [1, 2] and pt.report["n_dropped"] == 2
    assert pt.report["dropped_contigs"] == {"chrM": 1, "chrUn_KI270302v1": 1}
    p.write_text("chr1\t10\tx\n")
    with pytest.raises(ValueError, match=":1: non-integer"):
        read_bed(str(p))
    with pytest.raises(ValueError, match="start >= end"):
        PeakTable(np.array(["chr1"], dtype=object), np.array([5]), np.array([5]))
    unsorted = PeakTable(np.array(["chr2", "chr1"], dtype=object), np.array([0, 0]), np.array([10, 10]))
    with pytest.raises(ValueError, match="not sorted"):
        unsorted.check_sorted_nonoverlapping()
    ov = PeakTable(np.array(["chr1", "chr1"], dtype=object), np.array([0, 5]), np.array([10, 20]))
    with pytest.raises(ValueError, match="overlap"):
        ov.check_sorted_nonoverlapping()
    assert os.path.exists(p)
