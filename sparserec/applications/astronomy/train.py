r"""Train the Swin-U-Net denoiser of the learned two-step deconvolution on simulated galaxies.

Usage (CPU, a few minutes)::

    python -m sparserec.applications.astronomy.train --steps 600 --out my_weights.pt

Data: :func:`~.simulate.simulate_pairs` bulge + disc (+ clumps) Sérsic galaxies on 64x64 stamps
at 0.12"/px, convolved with the real SDSS PSF or a random Moffat PSF (``psf="mixed"``), Gaussian
noise at a peak SNR log-uniform in [20, 100].  Step 1 (Tikhonov, λ = 9e-3, Laplacian) gives the
network input; both input and target are divided by the input's noise standard deviation
(:func:`~.learned.tikhonov_noise_gain`).  Random crops, 90° rotations and flips (the same for
input and target), L1 loss, Adam (0.9, 0.999) with a cosine learning-rate decay after a short
warm-up, as in the published recipe (scaled down).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np
import torch

from .deconv import tikhonov
from .learned import LearnedDeconvolver, SwinUNet, SwinUNetConfig, _n_params, tikhonov_noise_gain
from .simulate import simulate_pairs

__all__ = ["make_training_set", "train"]


def make_training_set(n: int, *, shape: int = 64, psf: str = "mixed", snr: Any = (20.0, 100.0),
                      lam: float = 9e-3, r_scale: float = 6.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Simulated pairs turned into normalised (input, target) arrays ``(n, 1, H, W)`` float32."""
    d = simulate_pairs(n, shape, psf=psf, snr=snr, r_scale=r_scale, rng=seed)
    inp = np.empty_like(d["y"])
    scale = np.empty(n)
    for i in range(n):
        inp[i] = tikhonov(d["y"][i], d["psf"][i], lam)
        scale[i] = d["sigma"][i] * tikhonov_noise_gain(d["psf"][i], d["y"].shape, lam)
    s = scale[:, None, None]
    return {"input": (inp / s)[:, None].astype(np.float32), "target": (d["x"] / s)[:, None].astype(np.float32),
            "scale": scale, "y": d["y"], "x": d["x"], "psf": d["psf"], "sigma": d["sigma"]}


def _augment(a: torch.Tensor, b: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    k = int(torch.randint(0, 4, (1,), generator=g))
    a, b = torch.rot90(a, k, (-2, -1)), torch.rot90(b, k, (-2, -1))
    if bool(torch.randint(0, 2, (1,), generator=g)):
        a, b = torch.flip(a, (-1,)), torch.flip(b, (-1,))
    return a, b


def train(config: SwinUNetConfig | None = None, *, n_train: int = 256, steps: int = 400, batch_size: int = 8,
          crop: int = 32, lr: float = 2e-3, warmup: int = 20, seed: int = 0, max_seconds: float | None = None,
          lam: float = 9e-3, psf: str = "mixed", data: dict[str, np.ndarray] | None = None,
          verbose: bool = False) -> tuple[LearnedDeconvolver, dict[str, Any]]:
    """Train a :class:`~.learned.SwinUNet` denoiser; returns the deconvolver and a history dict
    (``loss`` per step, ``steps``, ``seconds``, ``n_params``, settings)."""
    cfg = config or SwinUNetConfig()
    if crop % cfg.multiple:
        raise ValueError(f"crop must be a multiple of {cfg.multiple}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    if data is None:
        data = make_training_set(n_train, psf=psf, lam=lam, seed=seed + 12345)
    X = torch.from_numpy(data["input"])
    Y = torch.from_numpy(data["target"])
    n, _, H, W = X.shape
    model = SwinUNet(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999))

    def lr_at(i: int) -> float:
        if i < warmup:
            return lr * (i + 1) / warmup
        t = (i - warmup) / max(1, steps - warmup)
        return 1e-5 + 0.5 * (lr - 1e-5) * (1 + math.cos(math.pi * min(t, 1.0)))

    losses = []
    t0 = time.perf_counter()
    model.train()
    for it in range(int(steps)):
        for pg in opt.param_groups:
            pg["lr"] = lr_at(it)
        idx = torch.randint(0, n, (batch_size,), generator=g)
        r = int(torch.randint(0, H - crop + 1, (1,), generator=g))
        c = int(torch.randint(0, W - crop + 1, (1,), generator=g))
        a, b = _augment(X[idx, :, r:r + crop, c:c + crop], Y[idx, :, r:r + crop, c:c + crop], g)
        loss = torch.nn.functional.l1_loss(model(a), b)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if verbose and (it % 20 == 0 or it == steps - 1):
            print(f"step {it:5d}  loss {np.mean(losses[-20:]):.4f}  lr {lr_at(it):.2e}  "
                  f"{time.perf_counter() - t0:.0f}s", flush=True)
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            break
    hist = {"loss": np.asarray(losses), "steps": len(losses), "seconds": time.perf_counter() - t0,
            "n_params": _n_params(model), "n_train": int(n), "batch_size": batch_size, "crop": crop,
            "lr": lr, "seed": seed, "psf": psf, "lam": lam}
    meta = {"name": "SwinUNet-small", "config": str(cfg.to_dict()), "steps": len(losses), "n_train": int(n),
            "batch_size": batch_size, "crop": crop, "lr": lr, "seed": seed, "psf": psf,
            "seconds": round(hist["seconds"], 1), "torch": str(torch.__version__)}
    return LearnedDeconvolver(model.eval(), lam, meta), hist


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output weight file (.pt)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--n-train", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-seconds", type=float, default=None)
    p.add_argument("--embed-dim", type=int, default=16)
    p.add_argument("--depths", type=int, nargs="+", default=[2, 2, 2])
    p.add_argument("--heads", type=int, nargs="+", default=[2, 4, 8])
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--psf", default="mixed", choices=["mixed", "sdss"])
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = SwinUNetConfig(embed_dim=a.embed_dim, depths=tuple(a.depths), num_heads=tuple(a.heads), window_size=a.window)
    model, hist = train(cfg, n_train=a.n_train, steps=a.steps, batch_size=a.batch_size, crop=a.crop, lr=a.lr,
                        seed=a.seed, max_seconds=a.max_seconds, psf=a.psf, verbose=True)
    model.save(a.out)
    print(f"saved {a.out}: {hist['n_params']} parameters, {hist['steps']} steps, {hist['seconds']:.0f} s")


if __name__ == "__main__":  # pragma: no cover
    main()
