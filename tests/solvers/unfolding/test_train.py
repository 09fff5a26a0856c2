"""Training loop, safe checkpoints, resume, shipped weights and the CPU acceptance test."""

from __future__ import annotations

import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparserec.solvers.unfolding import (  # noqa: E402
    RPCANet,
    RPCANetPP,
    adaptive_threshold,
    available_pretrained,
    evaluate,
    iou,
    load_checkpoint,
    load_pretrained,
    make_small_targets,
    save_checkpoint,
    segment,
    tophat_scores,
    train,
)

torch.set_num_threads(1)


def _tiny():
    return RPCANetPP(stages=1, channels=2, s_layers=1, m_layers=1, contrast_kernel=3)


def _data(n=16, size=16, seed=0):
    return make_small_targets(n, shape=size, seed=seed)


def test_train_checkpoint_and_resume_reproduce_uninterrupted_run(tmp_path):
    data = _data()
    torch.manual_seed(0)
    ref = _tiny()
    init = {k: v.clone() for k, v in ref.state_dict().items()}
    r_full = train(ref, data, epochs=3, batch_size=8, lr=1e-2, device="cpu", seed=1, augment=True)
    assert r_full.epochs == 3 and r_full.iterations == 6 and len(r_full.history["loss"]) == 3
    assert r_full.history["lr"][-1] < 1e-2

    net = _tiny()
    net.load_state_dict(init)
    ck = tmp_path / "run" / "ckpt.pt"
    r1 = train(net, data, epochs=3, batch_size=8, lr=1e-2, device="cpu", seed=1, augment=True,
               checkpoint=ck, callback=lambda epoch, hist: epoch == 1)  # "interrupted" after epoch 1
    assert r1.epochs == 1 and ck.is_file()
    net2 = _tiny()  # fresh process: new weights, resumed from the checkpoint
    r2 = train(net2, data, epochs=3, batch_size=8, lr=1e-2, device="cpu", seed=1, augment=True,
               checkpoint=ck, resume=True)
    assert r2.epochs == 3 and r2.iterations == 6
    np.testing.assert_allclose(r2.history["loss"], r_full.history["loss"], rtol=1e-5)
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(net2.state_dict()[k], v, rtol=1e-5, atol=1e-6)
    ckd = torch.load(ck, weights_only=True)
    assert ckd["epoch"] == 3 and ckd["config"]["arch"] == "rpcanet++"


def test_load_checkpoint_safe_and_architecture_checked(tmp_path):
    torch.manual_seed(0)
    net = _tiny()
    p = save_checkpoint(tmp_path / "a.pt", net, epoch=0)
    m2, ck = load_checkpoint(p)  # rebuilt from the stored config
    assert type(m2) is RPCANetPP and not m2.training
    for k, v in net.state_dict().items():
        torch.testing.assert_close(m2.state_dict()[k], v)
    with pytest.raises(ValueError, match="architecture 'rpcanet\\+\\+'"):
        load_checkpoint(p, RPCANet(stages=1, channels=2))
    with pytest.raises(ValueError, match="different configuration"):
        load_checkpoint(p, RPCANetPP(stages=1, channels=4, s_layers=1, m_layers=1, contrast_kernel=3))
    # a plain state dict, or a file with pickled objects, is refused with a clear message
    torch.save(net.state_dict(), tmp_path / "raw.pt")
    with pytest.raises(ValueError, match="not a sparserec unfolding checkpoint"):
        load_checkpoint(tmp_path / "raw.pt")
    torch.save({"format": "sparserec-unfolding-v1", "config": net.config, "obj": object()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="weights_only"):
        load_checkpoint(tmp_path / "evil.pt")
    # a checkpoint whose tensors do not match its declared architecture
    bad = torch.load(p, weights_only=True)
    bad["state_dict"].pop(next(iter(bad["state_dict"])))
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="does not match"):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.pt")


def test_train_bad_input():
    net = _tiny()
    with pytest.raises(ValueError, match="empty dataset"):
        train(net, (np.zeros((0, 8, 8)), np.zeros((0, 8, 8))), epochs=1)
    with pytest.raises(ValueError, match="shape of the images"):
        train(net, (np.zeros((2, 8, 8)), np.zeros((2, 9, 8))), epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        train(net, _data(4), epochs=0)
    with pytest.raises(ValueError, match="resume"):
        train(net, _data(4), epochs=1, resume=True)
    with pytest.raises(TypeError, match="Dataset"):
        train(net, np.zeros((2, 8, 8)), epochs=1)


def test_shipped_checkpoint_loads_and_detects():
    names = available_pretrained()
    assert names, "no shipped checkpoint in sparserec/datasets/data/rpcanet/"
    net = load_pretrained(names[0])
    assert not net.training
    with pytest.raises(ValueError, match="available"):
        load_pretrained("nope")
    x, m = make_small_targets(16, shape=32, seed=123)
    assert evaluate(net, (x, m))["iou"] > 0.3
    assert segment(net, x[0]).shape == (32, 32)


def test_acceptance_small_rpcanetpp_beats_untrained_and_tophat():
    """CPU acceptance (fixed seed, small budget): trained RPCANet++ > untrained net and top-hat on IoU."""
    xtr, mtr = make_small_targets(64, shape=32, seed=0)
    xte, mte = make_small_targets(64, shape=32, seed=1)
    torch.manual_seed(0)
    net = RPCANetPP(stages=3, channels=8, contrast_kernel=9)
    untrained = evaluate(net, (xte, mte))
    t0 = time.perf_counter()
    res = train(net, (xtr, mtr), epochs=15, batch_size=8, lr=3e-3, device="cpu", seed=0, augment=True)
    elapsed = time.perf_counter() - t0
    trained = evaluate(net, (xte, mte))
    # top-hat: structuring element and k tuned on the training set
    best = max(((s, k) for s in (3, 5, 7) for k in (2, 3, 4)),
               key=lambda sk: iou(adaptive_threshold(tophat_scores(xtr, sk[0]), sk[1]), mtr))
    th_iou = iou(adaptive_threshold(tophat_scores(xte, best[0]), best[1]), mte)
    print(f"\ntrain {elapsed:.1f}s  loss {res.history['loss'][0]:.3f}->{res.history['loss'][-1]:.3f}  "
          f"IoU trained {trained['iou']:.3f} untrained {untrained['iou']:.3f} top-hat{best} {th_iou:.3f}  "
          f"Pd {trained['pd']:.3f} Fa {trained['fa']:.2e}")
    assert res.history["loss"][-1] < 0.6 * res.history["loss"][0]
    assert trained["iou"] > untrained["iou"] + 0.2
    assert trained["iou"] > th_iou + 0.03
    assert trained["pd"] > 0.8


@pytest.mark.slow
def test_spec_smoke_training_64px():
    """Spec C.13: 64 images 64x64, RPCANet++ 3 stages 8 channels, 200 Adam steps."""
    xtr, mtr = make_small_targets(64, shape=64, seed=0)
    xte, mte = make_small_targets(32, shape=64, seed=1)
    torch.manual_seed(0)
    net = RPCANetPP(stages=3, channels=8)
    res = train(net, (xtr, mtr), epochs=25, batch_size=8, lr=3e-3, device="cpu", seed=0, augment=True)
    assert res.iterations == 200
    assert res.history["loss"][-1] <= 0.5 * res.history["loss"][0]
    assert evaluate(net, (xte, mte))["iou"] > 0.5


def test_train_synthetic_writes_a_safe_checkpoint(tmp_path):
    from sparserec.solvers.unfolding import train_synthetic

    res = train_synthetic(8, 16, stages=1, channels=2, contrast_kernel=3, epochs=1, device="cpu", verbose=True,
                          checkpoint=tmp_path / "s.pt")
    net, ck = load_checkpoint(res.checkpoint)
    assert ck["recipe"]["n_train"] == 8 and "optimizer" not in ck
    assert net.config == res.model.config
