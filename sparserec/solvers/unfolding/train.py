r"""Training, evaluation and checkpoints of the unfolded RPCA networks.

Checkpoints are plain dictionaries written with :func:`torch.save` and read back with
``torch.load(..., weights_only=True)`` (no pickled code is executed):

``{"format": "sparserec-unfolding-v1", "config": model.config, "state_dict": ...,
"optimizer": ..., "epoch": int, "iteration": int, "total_iterations": int, "train_args": dict,
"history": dict of lists}``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .data import ArrayDataset
from .losses import rpcanet_loss
from .metrics import SegmentationMetrics
from .rpcanet import _UnfoldedRPCA, build_model

__all__ = [
    "TrainResult",
    "available_pretrained",
    "evaluate",
    "load_checkpoint",
    "load_pretrained",
    "save_checkpoint",
    "train",
    "train_synthetic",
]

CHECKPOINT_FORMAT = "sparserec-unfolding-v1"


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    model : torch.nn.Module
        The trained network (in evaluation mode).
    history : dict of list
        ``loss`` (mean training loss per epoch), ``lr`` (learning rate at the end of each
        epoch), ``epoch_time`` (s) and, with validation data, ``val_iou``, ``val_niou``,
        ``val_pd``, ``val_fa``.
    epochs : int
        Epochs completed (including those of a resumed run).
    iterations : int
        Optimiser steps completed.
    elapsed : float
        Wall-clock time of this call (s).
    checkpoint : pathlib.Path or None
        Last checkpoint written.
    """

    model: nn.Module
    history: dict[str, list[float]] = field(default_factory=dict)
    epochs: int = 0
    iterations: int = 0
    elapsed: float = 0.0
    checkpoint: Path | None = None


def _device(device: Any) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _as_dataset(data: Any, augment: bool = False) -> Dataset:
    if isinstance(data, Dataset):
        if len(data) == 0:  # type: ignore[arg-type]
            raise ValueError("empty dataset: no images")
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return ArrayDataset(data[0], data[1], augment=augment)
    raise TypeError("data must be a torch Dataset of (image, mask) pairs or a tuple (images, masks) of arrays "
                    f"of shape (N, H, W), got {type(data).__name__}")


def save_checkpoint(path: str | os.PathLike, model: _UnfoldedRPCA, optimizer: torch.optim.Optimizer | None = None,
                    **state: Any) -> Path:
    """Write a checkpoint (a plain dict) atomically; extra keyword arguments are stored as they are."""
    if not hasattr(model, "config"):
        raise TypeError("model must be an RPCANet / RPCANetPP (it needs a .config)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {"format": CHECKPOINT_FORMAT, "config": dict(model.config),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    if optimizer is not None:
        ckpt["optimizer"] = optimizer.state_dict()
    ckpt.update(state)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)
    return path


def _read(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # unpickling refused or corrupt file
        raise ValueError(f"{path} is not a readable sparserec checkpoint (safe loading, weights_only=True): {e}") \
            from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or "config" not in ckpt:
        raise ValueError(f"{path} is not a sparserec unfolding checkpoint (expected a dict with "
                         f"format={CHECKPOINT_FORMAT!r}, 'config' and 'state_dict')")
    return ckpt


def load_checkpoint(path: str | os.PathLike, model: _UnfoldedRPCA | None = None, map_location: Any = "cpu"
                    ) -> tuple[_UnfoldedRPCA, dict[str, Any]]:
    """Load a checkpoint safely (``weights_only=True``).

    Parameters
    ----------
    path : path
    model : RPCANet or RPCANetPP, optional
        Network to load into; its :attr:`config` must equal the checkpoint's.  ``None``
        rebuilds the network from the stored configuration.
    map_location : default "cpu"

    Returns
    -------
    (model, checkpoint) : tuple
        The network (evaluation mode) and the checkpoint dictionary.

    Raises
    ------
    ValueError
        Not a sparserec checkpoint, or a checkpoint of another architecture / configuration.
    """
    ckpt = _read(path, map_location)
    cfg = dict(ckpt["config"])
    if model is None:
        model = build_model(cfg)
    elif dict(model.config) != cfg:
        diff = {k: (cfg.get(k), model.config.get(k)) for k in set(cfg) | set(model.config)
                if cfg.get(k) != model.config.get(k)}
        raise ValueError(f"checkpoint {path} was saved for architecture {cfg.get('arch')!r} with a different "
                         f"configuration: (checkpoint, model) = {diff}")
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise ValueError(f"checkpoint {path} does not match the {cfg.get('arch')!r} architecture: {e}") from e
    model.eval()
    return model, ckpt


@torch.no_grad()
def evaluate(model: nn.Module, data: Any, batch_size: int = 16, device: Any = None) -> dict[str, float]:
    """Metrics of a network on a dataset (see :func:`~sparserec.solvers.unfolding.metrics.segmentation_metrics`).

    Parameters
    ----------
    model : RPCANet or RPCANetPP
    data : Dataset or (images, masks)
        Images may have different sizes (consecutive equal-size images are batched).
    batch_size : int, default 16
    device : optional
        Defaults to the device of the model's parameters.

    Returns
    -------
    dict
        ``iou`` (pooled), ``niou``, ``f1``, ``pd``/``fa`` (README convention),
        ``pd_centroid``/``fa_centroid`` (BasicIRSTD convention).
    """
    ds = _as_dataset(data)
    dev = next(model.parameters()).device if device is None else _device(device)
    was = model.training
    model.eval()
    acc = SegmentationMetrics(logits=True)
    xs: list[torch.Tensor] = []
    ms: list[torch.Tensor] = []

    def flush() -> None:
        if xs:
            acc.update(model(torch.stack(xs).to(dev)).cpu(), torch.stack(ms))
            xs.clear()
            ms.clear()

    try:
        for i in range(len(ds)):  # type: ignore[arg-type]
            x, m = ds[i]
            if xs and (x.shape != xs[0].shape or len(xs) == batch_size):
                flush()  # batches of equal-size images (SIRST images have various sizes)
            xs.append(torch.as_tensor(x))
            ms.append(torch.as_tensor(m))
        flush()
    finally:
        model.train(was)
    return acc.compute()


def train(model: _UnfoldedRPCA, train_data: Any, *, val_data: Any = None, epochs: int = 10, batch_size: int = 8,
          lr: float = 1e-4, poly_power: float = 0.9, mse_weight: float = 0.01, weight_decay: float = 0.0,
          augment: bool = False, device: Any = None, seed: int = 42, checkpoint: str | os.PathLike | None = None,
          save_every: int = 1, resume: bool = False, eval_every: int = 1, verbose: bool = False,
          num_workers: int = 0, callback: Callable[[int, dict[str, list[float]]], bool | None] | None = None
          ) -> TrainResult:
    r"""Train an unfolded RPCA network with Adam and the "poly" learning-rate schedule.

    Parameters
    ----------
    model : RPCANet or RPCANetPP
    train_data : Dataset or (images, masks)
        ``(image, mask)`` pairs of shape ``(1, H, W)``, or arrays ``(N, H, W)``.
    val_data : Dataset or (images, masks), optional
        Evaluated every ``eval_every`` epochs (history ``val_*``).
    epochs : int, default 10
        Total number of epochs (including those already done when resuming).
    batch_size : int, default 8
    lr : float, default 1e-4
        Base learning rate :math:`\eta_0`.
    poly_power : float, default 0.9
        :math:`\eta_t = \eta_0 (1 - t/T)^{p}` with :math:`T` = epochs × batches per epoch.
    mse_weight : float, default 0.01
        Weight of the restoration MSE in :func:`~sparserec.solvers.unfolding.losses.rpcanet_loss`.
    weight_decay : float, default 0
    augment : bool, default False
        Flip/transpose augmentation for array data.
    device : str or torch.device, optional
        Default ``"cuda"`` when available, else ``"cpu"``.
    seed : int, default 42
        Seeds initial shuffling and augmentation; epoch :math:`e` uses seed ``seed + e``, so a
        resumed run reproduces an uninterrupted one.
    checkpoint : path, optional
        File written every ``save_every`` epochs and at the end.
    save_every : int, default 1
    resume : bool, default False
        Continue from ``checkpoint`` if it exists (weights, optimiser, epoch, history).  A
        checkpoint of another architecture raises ``ValueError``.
    eval_every : int, default 1
    verbose : bool, default False
        tqdm progress bar over the iterations.
    num_workers : int, default 0
        DataLoader workers.
    callback : callable, optional
        ``callback(epoch, history) -> bool | None`` after each epoch (and its checkpoint);
        returning True stops training (resume later with ``resume=True``).

    Returns
    -------
    TrainResult

    Notes
    -----
    Loss: :math:`1 - \mathrm{softIoU}(\sigma(O^K), M) + 0.01\,\|D^K - D\|^2/N`.  The
    published recipe (SIRST, NUDT-SIRST, IRSTD-1k) is ``lr=1e-4``, batch 8, 800 epochs at
    256×256 with flips; small CPU runs on 32–64 px synthetic images need a larger
    learning rate (``1e-3`` to ``5e-3``) and tens of epochs.
    """
    for name, v in (("epochs", epochs), ("batch_size", batch_size), ("save_every", save_every),
                    ("eval_every", eval_every)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint path")
    dev = _device(device)
    ds = _as_dataset(train_data, augment=augment)
    vds = _as_dataset(val_data) if val_data is not None else None
    torch.manual_seed(seed)
    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    n_batches = (len(ds) + batch_size - 1) // batch_size  # type: ignore[arg-type]
    total = epochs * n_batches
    history: dict[str, list[float]] = {"loss": [], "lr": [], "epoch_time": []}
    start_epoch, it = 0, 0
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt_path is not None and ckpt_path.is_file():
        _, ck = load_checkpoint(ckpt_path, model, map_location=dev)
        if "optimizer" in ck:
            opt.load_state_dict(ck["optimizer"])
        start_epoch, it = int(ck.get("epoch", 0)), int(ck.get("iteration", 0))
        history = {k: list(v) for k, v in ck.get("history", history).items()}
    model.train()
    t0 = time.perf_counter()
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=it, desc=f"train {model.config.get('arch', '')}")
    train_args = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "poly_power": poly_power,
                  "mse_weight": mse_weight, "seed": seed, "augment": augment}

    def save(epoch: int) -> None:
        if ckpt_path is not None:
            save_checkpoint(ckpt_path, model, opt, epoch=epoch, iteration=it, total_iterations=total,
                            train_args=train_args, history=history)

    try:
        for epoch in range(start_epoch, epochs):
            te = time.perf_counter()
            gen = torch.Generator().manual_seed(seed + epoch)
            torch.manual_seed(seed + epoch)
            loader = DataLoader(ds, batch_size=batch_size, shuffle=True, generator=gen, num_workers=num_workers)
            run_loss, n_seen = 0.0, 0
            cur_lr = lr
            for x, m in loader:
                cur_lr = lr * max(0.0, 1.0 - it / total) ** poly_power
                for g in opt.param_groups:
                    g["lr"] = cur_lr
                x, m = x.to(dev), m.to(dev)
                restored, logits = model(x)
                loss = rpcanet_loss(restored, logits, x, m, mse_weight)
                if not torch.isfinite(loss.detach()):
                    raise FloatingPointError(f"non-finite training loss at iteration {it}; lower lr")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                it += 1
                run_loss += float(loss.detach()) * len(x)
                n_seen += len(x)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{float(loss.detach()):.4f}", epoch=epoch + 1)
            history["loss"].append(run_loss / max(n_seen, 1))
            history["lr"].append(cur_lr)
            history["epoch_time"].append(time.perf_counter() - te)
            if vds is not None and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs):
                met = evaluate(model, vds, batch_size=max(batch_size, 16))
                model.train()
                for k in ("iou", "niou", "pd", "fa"):
                    history.setdefault(f"val_{k}", []).append(met[k])
            if (epoch + 1) % save_every == 0 or epoch + 1 == epochs:
                save(epoch + 1)
            if callback is not None and callback(epoch + 1, history):
                break
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    return TrainResult(model=model, history=history, epochs=len(history["loss"]), iterations=it,
                       elapsed=time.perf_counter() - t0, checkpoint=ckpt_path)


def train_synthetic(n_train: int = 256, shape: int = 32, *, stages: int = 3, channels: int = 8,
                    contrast_kernel: int = 9, epochs: int = 20, batch_size: int = 8, lr: float = 3e-3,
                    seed: int = 0, device: Any = None, checkpoint: str | os.PathLike | None = None,
                    verbose: bool = False, **train_kwargs: Any) -> TrainResult:
    r"""Train a small RPCANet++ on the synthetic generator (the CPU-feasible configuration).

    Parameters
    ----------
    n_train : int, default 256
        Training images from :func:`~sparserec.solvers.unfolding.make_small_targets`
        (``seed=seed``, other generator settings at their defaults).
    shape : int, default 32
        Image size.
    stages, channels, contrast_kernel : int, default 3, 8, 9
        Network size (:class:`~sparserec.solvers.unfolding.RPCANetPP`).
    epochs, batch_size, lr : default 20, 8, 3e-3
    seed : int, default 0
        Seeds the data, the initial weights and the training order.
    device, verbose, **train_kwargs
        Passed to :func:`train` (flip/transpose augmentation is on).
    checkpoint : path, optional
        Where to write the final weights (without optimiser state) with the recipe.

    Returns
    -------
    TrainResult
    """
    from .data import make_small_targets
    from .rpcanet import RPCANetPP

    x, m = make_small_targets(n_train, shape=shape, seed=seed)
    torch.manual_seed(seed)
    model = RPCANetPP(stages=stages, channels=channels, contrast_kernel=contrast_kernel)
    train_kwargs.setdefault("augment", True)
    res = train(model, (x, m), epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device,
                verbose=verbose, **train_kwargs)
    if checkpoint is not None:
        recipe = {"function": "sparserec.solvers.unfolding.train_synthetic", "n_train": n_train, "shape": shape,
                  "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
                  "train_seconds": res.elapsed, "torch": str(torch.__version__)}
        res.checkpoint = save_checkpoint(checkpoint, res.model.cpu(), None, epoch=res.epochs,
                                         iteration=res.iterations, recipe=recipe,
                                         history={k: list(v) for k, v in res.history.items()})
    return res


# --------------------------------------------------------------------------- shipped weights
def _pretrained_dir() -> Any:
    return resources.files("sparserec.datasets") / "data" / "rpcanet"


def available_pretrained() -> list[str]:
    """Names of the checkpoints shipped in ``sparserec/datasets/data/rpcanet/``."""
    d = _pretrained_dir()
    try:
        return sorted(p.name[:-3] for p in d.iterdir() if p.name.endswith(".pt"))
    except FileNotFoundError:  # pragma: no cover
        return []


def load_pretrained(name: str = "rpcanetpp_s3_c8_synth32", device: Any = "cpu") -> _UnfoldedRPCA:
    """Load a small network shipped with sparserec (evaluation mode).

    Parameters
    ----------
    name : str, default "rpcanetpp_s3_c8_synth32"
        Checkpoint name (see :func:`available_pretrained` and the README of
        ``sparserec/datasets/data/rpcanet/``, which says how each was produced).
    device : default "cpu"

    Returns
    -------
    RPCANet or RPCANetPP
    """
    names = available_pretrained()
    if name not in names:
        raise ValueError(f"no shipped checkpoint named {name!r}; available: {names}")
    with resources.as_file(_pretrained_dir() / f"{name}.pt") as p:
        model, _ = load_checkpoint(p, map_location=device)
    return model.to(device)
