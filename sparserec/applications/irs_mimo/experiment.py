r"""IRS channel-estimation experiment: NMSE and SER vs SNR for several estimators.

Run ``python -m sparserec.applications.irs_mimo.experiment --snr 4 8 12 16 20 --trials 50``
(defaults: the paper's configuration N_B = 16, N_M = 6, N_I = 256, G = 18, L = 3, K1 = 3, K2 = 6
and the three Kronecker methods).  Options may also come from a TOML file (``--config``) whose keys
are the long option names (``snr``, ``trials``, ``methods``, ``n_bs``, ...).  Results go to an
xarray Dataset in HDF5 (``--out``, dims ``method x snr x trial``; variables ``nmse`` (squared),
``nmse_unsquared``, ``ser``, ``seconds``, ``n_iter``) with provenance attributes, and a PNG plot of
mean NMSE and SER vs SNR (``--plot``).

Each trial draws one channel realisation and training design (seeded by ``(seed, trial)``); all
methods and SNRs see the same realisation (common random numbers), and the noise of each SNR is
seeded by ``(seed, trial, snr)``.  ``--device cuda`` solves the Kronecker methods on the GPU;
``--shared-training`` draws one training design for all realisations so that each method solves
an SNR's realisations as one batch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import asdict
from typing import Any

import numpy as np

from .estimators import METHODS, estimate_channel
from .metrics import channel_nmse, qpsk_ser
from .model import received_signal, true_sparse
from .system import Channels, IRSSystem, Training, design_training, simulate_channels

__all__ = ["main", "run_experiment"]


def run_experiment(system: IRSSystem | None = None, snrs: Any = (4, 8, 12, 16, 20), trials: int = 50,
                   methods: Any = ("svd-krosbl", "am-krosbl", "pc-krosbl"), seed: int = 0,
                   n_symbols: int = 100_000, method_params: dict[str, dict[str, Any]] | None = None,
                   progress: bool = False, device: Any = None, shared_training: bool = False) -> Any:
    """Run the experiment and return an ``xarray.Dataset`` (see the module docstring).

    ``device`` (e.g. ``"cuda"``) solves the Kronecker methods on torch tensors there (the other
    methods stay on the host).  ``shared_training=True`` gives every realisation the same
    training design (drawn once, seeded by ``(seed, 1)``; the paper draws one per realisation),
    so that each method solves all realisations of an SNR as one batch: the configuration for
    a GPU.  The channels and the noise are those of the default run either way.
    """
    import xarray as xr

    system = system or IRSSystem()
    snrs = [float(s) for s in snrs]
    methods = list(methods)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; choose from {METHODS}")
    if trials < 1:
        raise ValueError("trials must be >= 1")
    kron = ("svd-krosbl", "am-krosbl", "pc-krosbl")
    shape = (len(methods), len(snrs), trials)
    nmse = np.full(shape, np.nan)
    nmse_u = np.full(shape, np.nan)
    ser = np.full(shape, np.nan)
    secs = np.full(shape, np.nan)
    iters = np.zeros(shape, np.int64)
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=trials * len(snrs) * len(methods), desc="irs experiment")
        except ImportError:  # pragma: no cover
            bar = None
    t_start = time.time()
    chans = [simulate_channels(system, 1, seed=[seed, t, 0]) for t in range(trials)]
    if shared_training:
        stacked = Channels(*(np.concatenate([getattr(c, f.name) for c in chans])
                             for f in dataclasses.fields(Channels)))
        tr_all = design_training(system, stacked, seed=[seed, 1], shared=True)
        trains = [Training(tr_all.theta[t:t + 1], tr_all.S[t:t + 1]) for t in range(trials)]
    else:
        trains = [design_training(system, chans[t], seed=[seed, t, 1]) for t in range(trials)]
    Hs = [np.einsum("rbi,rki,rim->rkbm", ch.H_bi, tr.theta, ch.H_im) for ch, tr in zip(chans, trains)]
    sups = [np.abs(true_sparse(system, ch)) > 0 for ch in chans]
    # one solver call per (method, SNR) for all trials when they share the design, else per trial
    blocks = [np.arange(trials)] if shared_training else [np.array([t]) for t in range(trials)]
    for blk in blocks:
        tr = Training(np.concatenate([trains[t].theta for t in blk]), np.concatenate([trains[t].S for t in blk]))
        H = np.concatenate([Hs[t] for t in blk])
        support = np.concatenate([sups[t] for t in blk])
        for j, snr in enumerate(snrs):
            ys, nvs = [], []
            for t in blk:
                y1, _, nv1 = received_signal(system, chans[t], trains[t], snr,
                                             seed=[seed, t, 2, int(round(snr * 100))])
                ys.append(y1)
                nvs.append(nv1)
            y, nv = np.concatenate(ys), np.concatenate(nvs)
            for i, m in enumerate(methods):
                import warnings

                kw = dict((method_params or {}).get(m, {}))
                if device is not None and m in kron:
                    kw["device"] = device
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est = estimate_channel(y, system, tr, m, noise_var=nv, support=support, **kw)
                nmse[i, j, blk] = channel_nmse(est.H, H)
                nmse_u[i, j, blk] = channel_nmse(est.H, H, squared=False)
                for k, t in enumerate(blk):
                    ser[i, j, t] = qpsk_ser(est.H[k:k + 1], H[k:k + 1], nv[k:k + 1], n_symbols=n_symbols,
                                            seed=[seed, t, 3])[0]
                secs[i, j, blk] = est.seconds
                iters[i, j, blk] = est.n_iter
                if bar is not None:
                    bar.update(len(blk))
    if bar is not None:
        bar.close()
    from ... import __version__

    coords = {"method": methods, "snr": snrs, "trial": np.arange(trials)}
    dims = ("method", "snr", "trial")
    return xr.Dataset(
        {"nmse": (dims, nmse), "nmse_unsquared": (dims, nmse_u), "ser": (dims, ser),
         "seconds": (dims, secs), "n_iter": (dims, iters)},
        coords=coords,
        attrs={"sparserec_version": __version__, "system": json.dumps(asdict(system)), "seed": seed,
               "n_symbols": n_symbols, "nmse_definition": "mean over IRS configurations of "
               "||H_hat_k - H_k||_F^2 / ||H_k||_F^2 (squared); nmse_unsquared without the square",
               "noise": "known noise variance given to every estimator",
               "wall_seconds": time.time() - t_start,
               "method_params": json.dumps(method_params or {})})


def _plot(ds: Any, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for m in ds.method.values:
        ax[0].semilogy(ds.snr, ds.nmse.sel({"method": m}).mean("trial"), "o-", label=str(m))
        ax[1].semilogy(ds.snr, np.maximum(ds.ser.sel({"method": m}).mean("trial"), 1e-6), "o-", label=str(m))
    ax[0].set(xlabel="SNR (dB)", ylabel="mean NMSE (squared)", title="channel NMSE")
    ax[1].set(xlabel="SNR (dB)", ylabel="SER (floored at 1e-6)", title="QPSK symbol error rate")
    ax[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sparserec.applications.irs_mimo.experiment",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--config", help="TOML file with any of the options below")
    p.add_argument("--snr", type=float, nargs="+")
    p.add_argument("--trials", type=int)
    p.add_argument("--methods", nargs="+", choices=METHODS)
    p.add_argument("--seed", type=int)
    p.add_argument("--symbols", type=int, help="QPSK symbols per configuration for the SER (default 1e5)")
    for f in ("n_bs", "n_ms", "n_irs", "grid", "n_paths", "n_pilots", "n_configs"):
        p.add_argument(f"--{f.replace('_', '-')}", dest=f, type=int)
    p.add_argument("--out", default="irs_results.h5", help="HDF5 output (xarray, h5netcdf engine)")
    p.add_argument("--plot", default="irs_results.png", help="PNG plot path ('' to skip)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--device", help="solve the Kronecker methods on torch tensors on this device (e.g. cuda)")
    p.add_argument("--shared-training", dest="shared_training", action="store_true", default=None,
                   help="one training design for every realisation: each method solves an SNR's "
                        "realisations as one batch (for a GPU)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cfg: dict[str, Any] = {}
    if args.config:
        import tomllib

        with open(args.config, "rb") as f:
            cfg = tomllib.load(f)
    def get(name: str, default: Any) -> Any:
        v = getattr(args, name, None)
        return v if v is not None else cfg.get(name, default)

    sysd = {f: get(f, getattr(IRSSystem(), f)) for f in ("n_bs", "n_ms", "n_irs", "grid", "n_paths",
                                                          "n_pilots", "n_configs")}
    import os

    if os.path.exists(args.out) and not args.overwrite:
        print(f"{args.out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    ds = run_experiment(IRSSystem(**sysd), get("snr", [4, 8, 12, 16, 20]), get("trials", 50),
                        get("methods", ["svd-krosbl", "am-krosbl", "pc-krosbl"]), get("seed", 0),
                        get("symbols", 100_000), cfg.get("method_params"), progress=True,
                        device=get("device", None), shared_training=bool(get("shared_training", False)))
    tmp = args.out + ".tmp"
    ds.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, args.out)
    summary = ds[["nmse", "ser", "seconds"]].mean("trial").to_dataframe()
    print(summary.to_string())
    print(f"wall time {ds.attrs['wall_seconds']:.1f} s; results in {args.out}")
    if args.plot:
        _plot(ds, args.plot)
        print(f"plot in {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
