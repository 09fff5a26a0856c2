"""Astronomy benchmark: deconvolution of the real HST galaxy at ground-based resolution.

Rows (format in ``benchmarks/README.md``):

a. Accuracy and time of each method of :func:`sparserec.applications.astronomy.deconvolve` on
   the real-galaxy setting (:func:`~sparserec.applications.astronomy.real_galaxy_setting`: HST
   COSMOS 147246 convolved with the real SDSS PSF, 0.12"/px, 135x135, peak SNR 50 and 20,
   seed 0).  The peer column holds the Tikhonov baseline; ``ratio`` is the NMSE gain
   ``NMSE_tikhonov / NMSE_method`` at the target resolution (Gaussian FWHM 0.24"), target
   ">= 1x" (the method beats Tikhonov).  Notes: NMSE, PSNR, SSIM at the target resolution, flux
   error, time.
b. Starlet transform (forward + adjoint, 5 scales) batched over 64 images vs a Python loop over
   the same images (target >= 5x, issue 9); 256x256 (128x128 in quick mode).
c. Starlet transform vs lenstronomy's ``starlets_util`` (target >= 3x) when lenstronomy is
   installed; otherwise the row records that the peer is absent.

Quick mode: SNR 50 only, 150 Condat–Vũ iterations, smaller starlet sizes.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _row(case: str, t_sr: float, peer: str, t_peer: float | None, ratio: float | None, target: float | None,
         notes: str) -> dict[str, Any]:
    return {"benchmark": "astronomy", "case": case, "sparserec_s": t_sr, "peer": peer, "peer_s": t_peer,
            "ratio": ratio, "target": f">= {target:g}x" if target is not None else "",
            "met": (ratio >= target) if (target is not None and ratio is not None) else None, "notes": notes}


def _accuracy_rows(quick: bool) -> list[dict[str, Any]]:
    from sparserec.applications.astronomy import (
        deconvolve,
        flux_error,
        nmse,
        psf_to_otf,
        psnr,
        real_galaxy_setting,
        ssim,
    )

    rows = []
    methods: list[tuple[str, dict[str, Any]]] = [("tikhonov", {}), ("wiener", {}),
                                                  ("starlet", {"max_iter": 150 if quick else 300})]
    try:
        import torch

        from sparserec.applications.astronomy.learned import default_weights_path

        torch.set_num_threads(1)
        if default_weights_path().exists():
            methods += [("learned", {"debias_step": False}), ("learned", {"debias_step": True})]
    except ImportError:
        pass
    for snr in ((50.0,) if quick else (50.0, 20.0)):
        R = real_galaxy_setting(snr, seed=0)
        g = R["target_psf"]

        def at_target(img: np.ndarray, g: np.ndarray = g) -> np.ndarray:
            return np.fft.irfft2(np.fft.rfft2(img) * psf_to_otf(g, img.shape), img.shape)

        res = {}
        for name, kw in methods:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                r = deconvolve(R["y"], R["psf"], name, sigma=R["sigma"], **kw)
                t = time.perf_counter() - t0
            label = name + ("+debias" if kw.get("debias_step") else "")
            e = at_target(r.image)
            res[label] = (t, nmse(e, R["x_target"]), psnr(e, R["x_target"]), ssim(e, R["x_target"]),
                          flux_error(r.image, R["x_true"]))
        t_tk, e_tk = res["tikhonov"][0], res["tikhonov"][1]
        for label, (t, e, p, s, f) in res.items():
            rows.append(_row(f"real galaxy 135x135 SNR {snr:g}: {label}", t, "tikhonov (lam=9e-3)", t_tk,
                             e_tk / e, 1.0 if label != "tikhonov" else None,
                             f"NMSE(target) {e:.4f} (tikhonov {e_tk:.4f}); PSNR {p:.2f} dB; SSIM {s:.3f}; "
                             f"flux error {f:+.3f}"))
    return rows


def _starlet_rows(quick: bool) -> list[dict[str, Any]]:
    from sparserec.operators import Starlet

    n = 128 if quick else 256
    B = 64
    W = Starlet((n, n), n_scales=5)
    x = np.random.default_rng(0).standard_normal((B, n, n))
    t_b, _ = _best(lambda: W.adjoint(W.apply(x)), 2)
    t_l, _ = _best(lambda: [W.adjoint(W.apply(x[i])) for i in range(B)], 2)
    rows = [_row(f"starlet fwd+adj, 5 scales, {B} x {n}x{n}: batched vs loop", t_b, "python loop (sparserec)", t_l,
                 t_l / t_b, 5.0, "same operator; the loop applies it image by image")]
    try:
        from lenstronomy.LightModel.Profiles import starlets_util  # type: ignore[import-not-found]
    except ImportError:
        rows.append(_row(f"starlet transform {n}x{n}, 5 scales vs lenstronomy", _best(lambda: W.apply(x[0]), 3)[0],
                         "lenstronomy (not installed)", None, None, 3.0, "peer not installed in this run"))
        return rows
    t_s, _ = _best(lambda: W.apply(x[0]), 3)
    t_p, _ = _best(lambda: starlets_util.transform(x[0], 6, second_gen=False), 3)
    rows.append(_row(f"starlet transform {n}x{n}, 5 scales vs lenstronomy", t_s, "lenstronomy starlets_util", t_p,
                     t_p / t_s, 3.0, "forward analysis only"))
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    return _accuracy_rows(quick) + _starlet_rows(quick)


if __name__ == "__main__":  # pragma: no cover
    import json

    for r in run(quick=True):
        print(json.dumps(r))
