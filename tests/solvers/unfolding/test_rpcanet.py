"""RPCANet / RPCANet++ modules: parameter counts, shapes, gradients, ConvLSTM memory, bad input."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparserec.solvers.unfolding import (  # noqa: E402
    ConvLSTMCell,
    RPCANet,
    RPCANetPP,
    build_model,
    segment,
    stage_diagnostics,
)

torch.set_num_threads(1)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_rpcanet_parameter_count():
    net = RPCANet()
    assert net.num_parameters() == 679_896
    st = net.stages[0]
    assert (n_params(st.bam), n_params(st.oem), n_params(st.irm)) == (28_609, 56_098, 28_609)


@pytest.mark.parametrize("stages, pruned, full", [(3, 1_434_551, 1_480_791), (6, 2_915_342, 2_961_582),
                                                   (9, 4_396_133, 4_442_373)])
def test_rpcanetpp_parameter_counts(stages, pruned, full):
    assert RPCANetPP(stages=stages).num_parameters() == pruned
    assert RPCANetPP(stages=stages, prune_unused=False).num_parameters() == full
    assert full - pruned == 46_240  # the five stage-1 gate convolutions never evaluated


def test_rpcanetpp_per_stage_breakdown():
    st = RPCANetPP(stages=2).stages[1]
    assert n_params(st.bam) == 111_649
    assert n_params(st.oem) == 353_339
    assert n_params(st.oem.contrast) == 297_241
    assert st.oem.contrast.contrast.conv.weight.numel() == 295_936
    assert n_params(st.irm) == 28_609


@pytest.mark.parametrize("cls", [RPCANet, RPCANetPP])
@pytest.mark.parametrize("hw", [(16, 16), (17, 23)])
def test_forward_shapes_train_and_eval(cls, hw):
    torch.manual_seed(0)
    net = cls(stages=2, channels=4)
    x = torch.rand(3, 1, *hw)
    net.train()
    d, o = net(x)
    assert d.shape == o.shape == x.shape
    net.eval()
    o2 = net(x)
    assert isinstance(o2, torch.Tensor) and o2.shape == x.shape
    out = net.forward_stages(x)
    assert len(out.background) == len(out.objects) == len(out.restored) == 2


@pytest.mark.parametrize("cls", [RPCANet, RPCANetPP])
def test_gradients_reach_every_stage(cls):
    torch.manual_seed(0)
    net = cls(stages=3, channels=4)
    x = torch.rand(2, 1, 16, 16)
    d, o = net(x)
    (o.square().mean() + d.square().mean()).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    for k, st in enumerate(net.stages):
        g = sum(float(p.grad.abs().sum()) for p in st.parameters())
        assert g > 0, f"no gradient in stage {k + 1}"
        assert float(st.oem.eps.grad.abs()) > 0


def test_unpruned_model_has_dead_gates_only_in_stage_one():
    torch.manual_seed(0)
    net = RPCANetPP(stages=2, channels=4, prune_unused=False)
    d, o = net(torch.rand(2, 1, 12, 12))
    (d.sum() + o.sum()).backward()
    dead = sorted(n for n, p in net.named_parameters() if p.grad is None)
    assert all(n.startswith("stages.0.bam.cell.") for n in dead)
    assert len({n.rsplit(".", 1)[0] for n in dead}) == 5


def test_pruned_and_unpruned_give_identical_outputs():
    torch.manual_seed(0)
    full = RPCANetPP(stages=2, channels=4, prune_unused=False).eval()
    pruned = RPCANetPP(stages=2, channels=4).eval()
    sd = {k: v for k, v in full.state_dict().items() if k in pruned.state_dict()}
    pruned.load_state_dict(sd)
    x = torch.rand(2, 1, 12, 12)
    torch.testing.assert_close(full(x), pruned(x))


def test_convlstm_state_is_carried_across_stages():
    torch.manual_seed(0)
    net = RPCANetPP(stages=3, channels=4).eval()
    last = net.stages[-1].bam
    seen = {}

    def hook(mod, args, out):
        seen["x"], seen["state"], seen["b"] = args[0].detach(), args[1], out[0].detach()

    h = last.register_forward_hook(hook)
    x = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        net(x)
        assert seen["state"] is not None
        b_k = seen["b"]
        # the same BAM input without the memory gives another output: the state matters
        b_fresh, _ = last(seen["x"], None)
        assert (b_fresh - b_k).abs().max() > 1e-6
        # changing the stage-1 input changes the stage-K BAM output
        x2 = x.clone()
        x2[:, :, 4:8, 4:8] += 0.5
        net(x2)
    h.remove()
    assert (seen["b"] - b_k).abs().max() > 1e-6


def test_convlstm_first_step_rule():
    torch.manual_seed(0)
    cell = ConvLSTMCell(3)
    x = torch.randn(1, 3, 8, 8)
    h, (h2, c) = cell(x)
    i = torch.sigmoid(cell.conv_xi(x))
    o = torch.sigmoid(cell.conv_xo(x))
    j = torch.tanh(cell.conv_xj(x))
    torch.testing.assert_close(c, i * j)
    torch.testing.assert_close(h, o * c)  # no tanh on c at the first step
    h3, (_, c3) = cell(x, (h, c))
    assert h3.shape == h.shape and c3.shape == c.shape
    with pytest.raises(RuntimeError, match="first=True"):
        ConvLSTMCell(3, first=True)(x, (h, c))


def test_contrast_layer_cancels_on_flat_input():
    from sparserec.solvers.unfolding.layers import ContrastLayer

    torch.manual_seed(0)
    layer = ContrastLayer(2, kernel_size=5)

    class One(torch.nn.Module):
        def forward(self, x):
            return torch.ones(x.shape[0], x.shape[1], 1, 1)

    layer.attention = One()  # theta = 1
    out = layer(torch.ones(1, 2, 12, 12))
    assert out[..., 2:-2, 2:-2].abs().max() < 1e-5  # centre minus surround = 0 away from the border


def test_config_round_trip():
    net = RPCANetPP(stages=2, channels=4, contrast_kernel=5)
    net2 = build_model(net.config)
    assert type(net2) is RPCANetPP and net2.config == net.config
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model({"arch": "unet"})


def test_bad_input():
    net = RPCANet(stages=1, channels=2)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        net(torch.rand(1, 16, 16))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        net(torch.rand(1, 3, 16, 16))
    with pytest.raises(TypeError, match="floating"):
        net(torch.ones(1, 1, 8, 8, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        net(np.zeros((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="2-D grey image"):
        segment(net, np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match="positive integer"):
        RPCANetPP(stages=0)


def test_segment_and_diagnostics():
    torch.manual_seed(0)
    net = RPCANetPP(stages=2, channels=4, contrast_kernel=5)
    img = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    lg = segment(net, img)
    assert lg.shape == img.shape and net.training  # mode restored
    assert segment(net, img[0]).shape == (16, 16)
    d = stage_diagnostics(net, img)
    assert d["singular_values"].shape == (3, 16)
    np.testing.assert_allclose(d["singular_values"][:, 0], 1.0)
    assert d["effective_rank"].shape == (3,) and d["sparsity"].shape == (2,)
    assert np.all((d["sparsity"] >= 0) & (d["sparsity"] <= 1))
