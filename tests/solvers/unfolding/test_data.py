"""Synthetic small-target generator and the SIRST-style folder loader (incl. bad input)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

from scipy import ndimage  # noqa: E402

from sparserec.solvers.unfolding import ArrayDataset, SIRSTFolder, load_grey_image, make_small_targets  # noqa: E402


def test_generator_is_seeded_and_well_formed():
    x, m = make_small_targets(6, shape=(40, 48), seed=3)
    x2, m2 = make_small_targets(6, shape=(40, 48), seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(m, m2)
    assert x.shape == m.shape == (6, 40, 48) and x.dtype == np.float32 and m.dtype == bool
    assert x.min() >= 0 and x.max() <= 1
    for mi in m:
        _, n = ndimage.label(mi, structure=np.ones((3, 3)))
        assert 1 <= n <= 3
    x3, _ = make_small_targets(6, shape=(40, 48), seed=4)
    assert not np.array_equal(x, x3)


def test_generator_target_sizes_and_snr():
    _, m = make_small_targets(20, shape=64, n_targets=(1, 1), target_size=(1, 1), seed=0)
    assert m.sum(axis=(1, 2)).max() <= 4  # 1-px targets: the peak pixel (and at most a few neighbours)
    _, mb = make_small_targets(20, shape=64, n_targets=(1, 1), target_size=(9, 9), seed=0)
    assert mb.sum(axis=(1, 2)).mean() > 10 * m.sum(axis=(1, 2)).mean() / 2
    lo, mk = make_small_targets(10, shape=64, snr=(1, 1), noise=0.0, seed=5)
    hi, _ = make_small_targets(10, shape=64, snr=(10, 10), noise=0.0, seed=5)
    assert (hi - lo)[mk].mean() > 0  # brighter targets at higher SNR, same backgrounds


@pytest.mark.parametrize("kw, match", [({"n_images": 0}, "positive integer"), ({"shape": 8}, "at least 16"),
                                       ({"n_targets": (3, 1)}, "n_targets"), ({"target_size": (0, 2)}, "target_size"),
                                       ({"snr": (5, 1)}, "snr")])
def test_generator_bad_arguments(kw, match):
    args = {"n_images": 2, **kw}
    with pytest.raises(ValueError, match=match):
        make_small_targets(**args)


def test_array_dataset_and_bad_input():
    x, m = make_small_targets(3, shape=16, seed=0)
    ds = ArrayDataset(x, m, augment=True)
    a, b = ds[1]
    assert a.shape == b.shape == (1, 16, 16) and a.dtype == torch.float32
    assert float(b.sum()) == float(m[1].sum())
    with pytest.raises(ValueError, match="shape of the images"):
        ArrayDataset(x, m[:, :8])
    with pytest.raises(ValueError, match="empty dataset"):
        ArrayDataset(np.zeros((0, 8, 8)), np.zeros((0, 8, 8)))
    with pytest.raises(ValueError, match="2-D grey images"):
        ArrayDataset(np.zeros((2, 3, 8, 8)), np.zeros((2, 3, 8, 8)))


def _write_dataset(root, n=3, size=(20, 24), mask_suffix="_pixels0"):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    ids = [f"Misc_{i}" for i in range(n)]
    for i in ids:
        img = (rng.random(size + (3,)) * 255).astype(np.uint8)  # colour image -> grey
        Image.fromarray(img).save(root / "images" / f"{i}.png")
        mk = np.zeros(size, np.uint8)
        mk[5:8, 6:9] = 255
        Image.fromarray(mk).save(root / "masks" / f"{i}{mask_suffix}.png")
    (root / "idx_427").mkdir()
    (root / "idx_427" / "trainval.txt").write_text("\n".join(ids[:2]) + "\n")
    (root / "idx_427" / "test.txt").write_text(ids[2] + "\n")
    return ids


def test_folder_loader(tmp_path):
    ids = _write_dataset(tmp_path)
    tr = SIRSTFolder(tmp_path, split="trainval")
    te = SIRSTFolder(tmp_path, split="test")
    assert len(tr) == 2 and len(te) == 1 and te.ids == [ids[2]]
    x, m = tr[0]
    assert x.shape == m.shape == (1, 20, 24)
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    assert float(m.sum()) == 9
    rs = SIRSTFolder(tmp_path, split=None, base_size=16, augment=True)
    assert len(rs) == 3 and rs[0][0].shape == (1, 16, 16)
    assert set(np.unique(rs[0][1].numpy())) <= {0.0, 1.0}
    (tmp_path / "custom.txt").write_text(ids[1] + ".png\n")
    assert SIRSTFolder(tmp_path, split_file=tmp_path / "custom.txt").ids == [ids[1]]


def test_folder_loader_bad_input(tmp_path):
    ids = _write_dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SIRSTFolder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no split file"):
        SIRSTFolder(tmp_path, split="val")
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ValueError, match="empty dataset"):
        SIRSTFolder(tmp_path, split_file=tmp_path / "empty.txt")
    (tmp_path / "missing.txt").write_text("nothere\n")
    with pytest.raises(FileNotFoundError, match="not found"):
        SIRSTFolder(tmp_path, split_file=tmp_path / "missing.txt")
    # a mask of another size: clear error when the item is read
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "masks" / f"{ids[0]}_pixels0.png")
    ds = SIRSTFolder(tmp_path, split="trainval")
    with pytest.raises(ValueError, match="has size"):
        ds[0]
    # a non-2-D image
    np.save(tmp_path / "cube.npy", np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="2-D grey image"):
        load_grey_image(tmp_path / "cube.npy")
    empty = tmp_path / "e"
    (empty / "images").mkdir(parents=True)
    (empty / "masks").mkdir()
    with pytest.raises(ValueError, match="empty dataset"):
        SIRSTFolder(empty, split=None)


def test_evaluate_on_a_folder_with_images_of_several_sizes(tmp_path):
    from sparserec.solvers.unfolding import RPCANet, evaluate

    _write_dataset(tmp_path / "a", n=3, size=(16, 16))
    Image.fromarray(np.zeros((20, 24), np.uint8)).save(tmp_path / "a" / "images" / "big.png")
    Image.fromarray(np.zeros((20, 24), np.uint8)).save(tmp_path / "a" / "masks" / "big.png")
    ds = SIRSTFolder(tmp_path / "a", split=None)
    assert len(ds) == 4
    torch.manual_seed(0)
    out = evaluate(RPCANet(stages=1, channels=2), ds, batch_size=4)
    assert 0 <= out["iou"] <= 1 and 0 <= out["fa"] <= 1
