r"""Data for small-target segmentation: a seeded synthetic infrared generator and folder loaders.

* :func:`make_small_targets`: cluttered backgrounds (smooth random fields, polynomial
  gradients, oriented stripes, cloud-like multi-scale fields, blurred edges) plus 1–3
  Gaussian / elliptical targets of 1–9 px with a controlled local signal-to-clutter ratio,
  and their binary masks.
* :class:`ArrayDataset`: in-memory ``(images, masks)`` as a torch dataset (with the SIRST
  flip/transpose augmentation).
* :class:`SIRSTFolder`: user datasets in the SIRST / NUDT-SIRST / IRSTD-1k layout
  (``images/`` + ``masks/`` + split index files).  Nothing is shipped or downloaded.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch.utils.data import Dataset

__all__ = ["ArrayDataset", "SIRSTFolder", "load_grey_image", "make_small_targets"]

IMAGE_EXTENSIONS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".npy")


# --------------------------------------------------------------------------- synthetic generator
def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / max(f.std(), 1e-12)


def _background(rng: np.random.Generator, shape: tuple[int, int], clutter: float) -> np.ndarray:
    H, W = shape
    yy, xx = np.mgrid[0:H, 0:W] / max(H, W) - 0.5
    c = rng.normal(0, 1, 6)
    bg = c[0] * xx + c[1] * yy + 0.7 * c[2] * xx * yy + 0.7 * c[3] * xx**2 + 0.7 * c[4] * yy**2
    bg = bg + 0.6 * _smooth_field(rng, shape, max(H, W) / rng.uniform(4, 10))
    kind = rng.integers(0, 4)
    if kind == 0:  # oriented stripes (structured texture, e.g. fields / sea waves)
        th = rng.uniform(0, np.pi)
        freq = rng.uniform(2, 8) / max(H, W)
        bg += clutter * 0.5 * np.sin(2 * np.pi * freq * (np.cos(th) * xx + np.sin(th) * yy) * max(H, W)
                                     + rng.uniform(0, 2 * np.pi))
    elif kind == 1:  # cloud: multi-scale 1/f-like field
        for s in (1.5, 3.0, 6.0):
            bg += clutter * 0.35 * (s / 6.0) ** 0.5 * _smooth_field(rng, shape, s)
    elif kind == 2:  # blurred edges / horizon and rectangles (buildings)
        th = rng.uniform(0, np.pi)
        off = rng.uniform(-0.3, 0.3)
        bg += clutter * 0.8 * (np.cos(th) * xx + np.sin(th) * yy > off)
        for _ in range(rng.integers(1, 4)):
            y0, x0 = rng.integers(0, H), rng.integers(0, W)
            h, w = rng.integers(3, max(4, H // 4)), rng.integers(3, max(4, W // 4))
            bg[y0:y0 + h, x0:x0 + w] += clutter * rng.uniform(-0.8, 0.8)
        bg = ndimage.gaussian_filter(bg, rng.uniform(0.7, 1.5))
    else:  # fine-grained texture
        bg += clutter * 0.4 * _smooth_field(rng, shape, rng.uniform(0.8, 1.5))
    lo, hi = bg.min(), bg.max()
    a, b = rng.uniform(0.05, 0.35), rng.uniform(0.5, 0.8)
    return a + (b - a) * (bg - lo) / max(hi - lo, 1e-12)


def make_small_targets(n_images: int, shape: int | tuple[int, int] = (64, 64), n_targets: tuple[int, int] = (1, 3),
                       target_size: tuple[float, float] = (1.0, 9.0), snr: tuple[float, float] = (3.0, 8.0),
                       clutter: float = 1.0, noise: float = 0.01, seed: int | np.random.Generator | None = 0,
                       dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    r"""Synthetic infrared small-target images and masks (seeded).

    Parameters
    ----------
    n_images : int
        Number of images :math:`N \ge 1`.
    shape : int or (int, int), default (64, 64)
        Image size (at least 16×16).
    n_targets : (int, int), default (1, 3)
        Inclusive range of the number of targets per image.
    target_size : (float, float), default (1, 9)
        Range of the target size in pixels, the full width at half maximum of the major axis.
    snr : (float, float), default (3, 8)
        Range of the local signal-to-clutter ratio: peak amplitude / standard deviation of the
        background (including noise) in the 15×15 window around the target.
    clutter : float, default 1
        Strength of the structured textures (stripes, clouds, edges, fine texture).
    noise : float, default 0.01
        Standard deviation of the additive white noise (image range ≈ [0, 1]).
    seed : int, Generator or None, default 0
    dtype : numpy dtype, default float32

    Returns
    -------
    images : numpy.ndarray of shape ``(N, H, W)``
        Grey images in [0, 1].
    masks : numpy.ndarray of bool, shape ``(N, H, W)``
        Pixels where a target exceeds half its peak (at least the peak pixel).

    Notes
    -----
    Background: a random low-order polynomial and a smooth Gaussian random field, plus one
    structured texture per image, rescaled to a random sub-range of [0.05, 0.8]; then white
    noise.  A target is an elliptical Gaussian

    .. math:: a \exp\bigl(-\tfrac12 (u^2/\sigma_1^2 + v^2/\sigma_2^2)\bigr),\quad
              \sigma_1 = s/2.355,\ \sigma_2 = \sigma_1 \rho,\ \rho \sim U(0.5, 1),

    at a random orientation and sub-pixel position, with :math:`a = \mathrm{SNR}\cdot
    \sigma_{\mathrm{local}}`.  Targets are at least 8 px apart and 4 px from the border.

    Examples
    --------
    >>> from sparserec.solvers.unfolding import make_small_targets
    >>> x, m = make_small_targets(4, shape=32, seed=1)
    >>> x.shape, m.dtype, bool(m.any(axis=(1, 2)).all())
    ((4, 32, 32), dtype('bool'), True)
    """
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 1:
        raise ValueError(f"n_images must be a positive integer, got {n_images!r}")
    H, W = (shape, shape) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if H < 16 or W < 16:
        raise ValueError(f"shape must be at least 16x16, got {(H, W)}")
    lo_n, hi_n = (int(v) for v in n_targets)
    if not 0 <= lo_n <= hi_n:
        raise ValueError(f"n_targets must be a range (lo, hi) with 0 <= lo <= hi, got {n_targets}")
    smin, smax = (float(v) for v in target_size)
    if not 0 < smin <= smax:
        raise ValueError(f"target_size must satisfy 0 < lo <= hi, got {target_size}")
    if not 0 <= snr[0] <= snr[1]:
        raise ValueError(f"snr must satisfy 0 <= lo <= hi, got {snr}")
    if noise < 0 or clutter < 0:
        raise ValueError("noise and clutter must be non-negative")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    images = np.empty((n_images, H, W), dtype=dtype)
    masks = np.zeros((n_images, H, W), dtype=bool)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    for i in range(n_images):
        bg = _background(rng, (H, W), clutter) + noise * rng.standard_normal((H, W))
        img = bg.copy()
        centres: list[tuple[float, float]] = []
        k = int(rng.integers(lo_n, hi_n + 1))
        tries = 0
        while len(centres) < k and tries < 200:
            tries += 1
            cy, cx = rng.uniform(4, H - 5), rng.uniform(4, W - 5)
            if any((cy - a) ** 2 + (cx - b) ** 2 < 64 for a, b in centres):
                continue
            centres.append((cy, cx))
            s1 = rng.uniform(smin, smax) / 2.355
            s2 = s1 * rng.uniform(0.5, 1.0)
            th = rng.uniform(0, np.pi)
            u = np.cos(th) * (xx - cx) + np.sin(th) * (yy - cy)
            v = -np.sin(th) * (xx - cx) + np.cos(th) * (yy - cy)
            prof = np.exp(-0.5 * ((u / s1) ** 2 + (v / s2) ** 2))
            iy, ix = int(round(cy)), int(round(cx))
            win = bg[max(0, iy - 7):iy + 8, max(0, ix - 7):ix + 8]
            amp = rng.uniform(*snr) * max(float(win.std()), noise, 1e-3)
            img += amp * prof
            m = prof > 0.5 * prof.max()
            m[int(np.clip(iy, 0, H - 1)), int(np.clip(ix, 0, W - 1))] = True
            masks[i] |= m
        images[i] = np.clip(img, 0.0, 1.0)
    return images, masks


# --------------------------------------------------------------------------- datasets
def _augment(img: torch.Tensor, mask: torch.Tensor, gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    r = torch.rand(3, generator=gen)
    if r[0] < 0.5:
        img, mask = img.flip(-1), mask.flip(-1)
    if r[1] < 0.5:
        img, mask = img.flip(-2), mask.flip(-2)
    if r[2] < 0.5 and img.shape[-1] == img.shape[-2]:
        img, mask = img.transpose(-1, -2), mask.transpose(-1, -2)
    return img.contiguous(), mask.contiguous()


class ArrayDataset(Dataset):
    """In-memory images and masks as a torch dataset of ``(image, mask)`` pairs.

    Parameters
    ----------
    images : array of shape ``(N, H, W)``
        Grey images (already scaled, e.g. /255).
    masks : array of shape ``(N, H, W)``
        Binary masks (non-zero = target).
    augment : bool, default False
        Random horizontal/vertical flips and transpose (p = 0.5 each), the SIRST recipe.

    Items are ``float32`` tensors of shape ``(1, H, W)``.
    """

    def __init__(self, images: Any, masks: Any, augment: bool = False) -> None:
        x = np.asarray(images, dtype=np.float32)
        m = np.asarray(masks)
        if x.ndim == 2:
            x, m = x[None], m[None] if m.ndim == 2 else m
        if x.ndim != 3:
            raise ValueError(f"images must be a stack of 2-D grey images (N, H, W), got shape {x.shape}")
        if x.shape[0] == 0:
            raise ValueError("empty dataset: no images")
        if m.shape != x.shape:
            raise ValueError(f"masks must have the shape of the images {x.shape}, got {m.shape}")
        if not np.isfinite(x).all():
            raise ValueError("images contain NaN or Inf")
        self.images = torch.from_numpy(np.ascontiguousarray(x))
        self.masks = torch.from_numpy(np.ascontiguousarray(m != 0).astype(np.float32))
        self.augment = augment

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img, mask = self.images[i][None], self.masks[i][None]
        if self.augment:
            img, mask = _augment(img, mask, None)
        return img, mask


def load_grey_image(path: str | os.PathLike) -> np.ndarray:
    """Read a grey image as a float array scaled to [0, 1].

    PNG/BMP/JPEG/TIFF are read with Pillow (colour images converted to grey with the ITU-R
    601 luma, 8-bit data divided by 255, 16-bit by 65535); ``.npy`` arrays are returned as
    they are and must be 2-D.

    Raises
    ------
    ValueError
        The file does not hold a single 2-D image (e.g. a multi-channel ``.npy`` array or a
        multi-page TIFF).
    """
    p = Path(path)
    if p.suffix.lower() == ".npy":
        a = np.load(p, allow_pickle=False)
        if a.ndim != 2:
            raise ValueError(f"{p}: expected a 2-D grey image, got an array of shape {a.shape}")
        return a.astype(np.float32)
    from PIL import Image

    with Image.open(p) as im:
        if getattr(im, "n_frames", 1) > 1:
            raise ValueError(f"{p}: expected a single 2-D image, got {im.n_frames} frames")
        if im.mode in ("I;16", "I;16B", "I;16L"):
            a = np.asarray(im, dtype=np.float32) / 65535.0
        elif im.mode in ("I", "F"):
            a = np.asarray(im, dtype=np.float32)
        else:
            a = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    if a.ndim != 2:
        raise ValueError(f"{p}: expected a 2-D grey image, got shape {a.shape}")
    return a


def _find_file(folder: Path, stem: str, suffixes: Sequence[str] = ("",)) -> Path | None:
    for suf in suffixes:
        for ext in IMAGE_EXTENSIONS:
            for e in (ext, ext.upper()):
                f = folder / f"{stem}{suf}{e}"
                if f.is_file():
                    return f
    return None


class SIRSTFolder(Dataset):
    r"""A user dataset in the SIRST / NUDT-SIRST / IRSTD-1k folder layout.

    Parameters
    ----------
    root : str or path
        Dataset folder.  Images are in ``images/`` (or ``IRSTD1k_Img/``), masks in ``masks/``
        (or ``IRSTD1k_Label/``); a mask is matched by the image stem, optionally with the
        SIRST suffix ``_pixels0``.
    split : str or None, default "test"
        Name of the split.  The index file (one image id per line) is searched as
        ``root/{split}.txt``, ``root/idx_*/{split}.txt``, ``root/img_idx/{split}*.txt`` and
        ``root/{split}*.txt``.  ``None`` takes every image of the image folder.
    split_file : path, optional
        Explicit index file (overrides ``split``).
    image_dir, mask_dir : str, optional
        Explicit sub-folder names.
    base_size : int or (int, int), optional
        Resize images (bilinear) and masks (nearest) to this size, as the 256×256 ISTD recipe.
    augment : bool, default False
        Random flips and transpose (p = 0.5 each).

    Items are ``(image, mask)`` float32 tensors of shape ``(1, H, W)``: images in [0, 1]
    (grey, /255), masks in {0, 1}.

    Raises
    ------
    FileNotFoundError
        Missing folder, split file, image or mask.
    ValueError
        Empty dataset; an image that is not 2-D; a mask whose size differs from its image
        (raised when the item is read).
    """

    def __init__(self, root: str | os.PathLike, split: str | None = "test", split_file: str | os.PathLike | None = None,
                 image_dir: str | None = None, mask_dir: str | None = None,
                 base_size: int | tuple[int, int] | None = None, augment: bool = False) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset folder {self.root} does not exist")
        self.image_dir = self._pick(image_dir, ("images", "IRSTD1k_Img", "imgs", "Images"), "image")
        self.mask_dir = self._pick(mask_dir, ("masks", "IRSTD1k_Label", "labels", "Masks"), "mask")
        if split_file is not None:
            ids = self._read_ids(Path(split_file))
        elif split is not None:
            ids = self._read_ids(self._find_split(split))
        else:
            ids = sorted(p.stem for p in self.image_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not ids:
            raise ValueError(f"empty dataset: no image ids found in {self.root} (split={split!r})")
        self.ids = ids
        self.files: list[tuple[Path, Path]] = []
        missing = []
        for i in ids:
            img = _find_file(self.image_dir, i)
            msk = _find_file(self.mask_dir, i, ("", "_pixels0", "_mask"))
            if img is None or msk is None:
                missing.append(i)
            else:
                self.files.append((img, msk))
        if missing:
            raise FileNotFoundError(f"{len(missing)} image/mask pair(s) not found in {self.image_dir} / "
                                    f"{self.mask_dir}, e.g. {missing[:5]}")
        if base_size is not None and isinstance(base_size, (int, np.integer)):
            base_size = (int(base_size), int(base_size))
        self.base_size = base_size
        self.augment = augment

    def _pick(self, given: str | None, candidates: Sequence[str], what: str) -> Path:
        if given is not None:
            p = self.root / given
            if not p.is_dir():
                raise FileNotFoundError(f"{what} folder {p} does not exist")
            return p
        for c in candidates:
            if (self.root / c).is_dir():
                return self.root / c
        raise FileNotFoundError(f"no {what} folder in {self.root}: expected one of {list(candidates)}")

    def _find_split(self, split: str) -> Path:
        pats = [str(self.root / f"{split}.txt"), str(self.root / "idx_*" / f"{split}.txt"),
                str(self.root / "img_idx" / f"{split}*.txt"), str(self.root / f"{split}*.txt")]
        for pat in pats:
            hits = sorted(glob.glob(pat))
            if hits:
                return Path(hits[0])
        raise FileNotFoundError(f"no split file for split {split!r} in {self.root} (looked for {pats}); "
                                "pass split_file=... or split=None to use every image")

    @staticmethod
    def _read_ids(path: Path) -> list[str]:
        if not path.is_file():
            raise FileNotFoundError(f"split file {path} does not exist")
        with open(path, encoding="utf-8") as fh:
            return [Path(line.strip()).stem if Path(line.strip()).suffix.lower() in IMAGE_EXTENSIONS
                    else line.strip() for line in fh if line.strip()]

    def __len__(self) -> int:
        return len(self.files)

    def load_pair(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Image (float, [0, 1]) and boolean mask of item ``i`` as numpy arrays, at full size."""
        fi, fm = self.files[i]
        img = load_grey_image(fi)
        mask = load_grey_image(fm) > 0
        if mask.shape != img.shape:
            raise ValueError(f"mask {fm.name} has size {mask.shape}, image {fi.name} has size {img.shape}")
        return img, mask

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img, mask = self.load_pair(i)
        x = torch.from_numpy(img)[None]
        m = torch.from_numpy(mask.astype(np.float32))[None]
        if self.base_size is not None and tuple(x.shape[-2:]) != tuple(self.base_size):
            x = torch.nn.functional.interpolate(x[None], size=self.base_size, mode="bilinear",
                                                align_corners=False)[0]
            m = torch.nn.functional.interpolate(m[None], size=self.base_size, mode="nearest")[0]
        if self.augment:
            x, m = _augment(x, m, None)
        return x, m
