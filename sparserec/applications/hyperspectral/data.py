r"""Scenes, layout converters and the shipped real data (Samson, Sim1, Sim2).

Layout: a cube is ``(H, W, L)`` (rows ``y``, columns ``x``, bands last).  The matrix form used by
the unmixing literature, ``Y`` of shape ``(L, N)``, flattens pixels in **row-major (C) order**:
pixel ``n = i * W + j`` is cube pixel ``(i, j)``; abundance cubes ``(H, W, K)`` flatten the same
way to ``(K, N)``.  The solvers themselves are batch-first and take the cube (or ``(N, L)``)
directly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SHA256",
    "Scene",
    "cube_to_matrix",
    "data_dir",
    "load_samson",
    "load_scene",
    "load_sim",
    "matrix_to_cube",
]

#: sha256 of the shipped files (from ../shared/data/README.md)
SHA256 = {
    "samson/A_true.mat": "d149ce0ff3f7a0b7877e27707e4b38ab4c76984d18541f10500ae7f6ddfda59d",
    "samson/E.mat": "4a1faf067e354704d9a26ff954182b00f604762f12a610a2316ffd6b9d68e690",
    "samson/Y_clean.mat": "6a55839368ebd470ec075ae32ba1676d1fbabc3584cb369d457e16e9a1a531bd",
    "sim1/A_true.mat": "7226e98279222ce8b55b08759cce5aa4e521bf2f5fc12ff9174fcdef60d797b4",
    "sim1/E.mat": "7575ea437eddc913c12d83b1e923e577fa548cda5c5c3adc753e280fad4db07b",
    "sim1/Y_clean.mat": "a7865df05668f9c8bf791f780c3b57415591c618bac63ec6ef5c88067981d7ee",
    "sim2/A_true.mat": "81706087626b7dbec80571687cc5c3c658b16c6fa8db6d109d83cfab62dc22ff",
    "sim2/E.mat": "2dafdb732dc0976e6f34475efb3c854d80b1683ebaef8e156b8a9cebf7b7a19f",
    "sim2/Y_clean.mat": "edef7ba867d1ea70efbc846e2c2d71bdcb8ac607a34617c2f48d8bc170ac22ea",
}

_MATERIALS = {"samson": ("soil", "tree", "water")}


@dataclass
class Scene:
    """A hyperspectral scene with optional ground truth.

    Attributes
    ----------
    Y : numpy.ndarray ``(H, W, L)``
        Cube (bands last).
    E : numpy.ndarray ``(L, K)`` or None
        Endmembers (columns).
    A : numpy.ndarray ``(H, W, K)`` or None
        Abundances.
    name : str
    materials : tuple of str
    wavelengths : numpy.ndarray ``(L,)`` or None
    extras : dict
        E.g. ``clean`` cube, ``corrupted_bands``, ``snr`` for simulated scenes.
    """

    Y: np.ndarray
    E: np.ndarray | None = None
    A: np.ndarray | None = None
    name: str = ""
    materials: tuple[str, ...] = ()
    wavelengths: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """Spatial shape ``(H, W)``."""
        return (int(self.Y.shape[0]), int(self.Y.shape[1]))

    @property
    def n_bands(self) -> int:
        return int(self.Y.shape[-1])

    @property
    def n_endmembers(self) -> int | None:
        return None if self.E is None else int(self.E.shape[1])

    def crop(self, rows: slice, cols: slice) -> Scene:
        """Spatial crop (endmembers unchanged)."""
        return Scene(self.Y[rows, cols], self.E, None if self.A is None else self.A[rows, cols],
                     self.name + "[crop]", self.materials, self.wavelengths, dict(self.extras))


def cube_to_matrix(cube: np.ndarray) -> np.ndarray:
    """``(H, W, L)`` cube to the ``(L, N)`` matrix, pixels in row-major order (``n = i*W + j``)."""
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(f"cube_to_matrix expects (H, W, L), got shape {cube.shape}")
    return cube.reshape(-1, cube.shape[-1]).T


def matrix_to_cube(Y: np.ndarray, H: int, W: int) -> np.ndarray:
    """Inverse of :func:`cube_to_matrix`: ``(L, N)`` to ``(H, W, L)`` (row-major pixels)."""
    Y = np.asarray(Y)
    if Y.ndim != 2 or Y.shape[1] != H * W:
        raise ValueError(f"matrix_to_cube: expected (L, {H * W}), got {Y.shape}")
    return Y.T.reshape(H, W, Y.shape[0])


def data_dir() -> Path | None:
    """Folder holding ``samson/``, ``sim1/``, ``sim2/``: the package copy, else ``../shared/data``."""
    here = Path(__file__).resolve()
    pkg = here.parents[2] / "datasets" / "data" / "hyperspectral"
    if (pkg / "samson").is_dir():
        return pkg
    shared = here.parents[3].parent / "shared" / "data" / "hyperspectral"
    if (shared / "samson").is_dir():
        return shared
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_key(folder: Path, rel: str, verify: bool) -> np.ndarray:
    from scipy.io import loadmat

    path = folder / rel
    if not path.exists():
        raise FileNotFoundError(f"shipped hyperspectral file missing: {path}")
    if verify:
        got = _sha256(path)
        if got != SHA256[rel]:
            raise ValueError(f"{path}: sha256 {got} differs from the pinned {SHA256[rel]} (another "
                             "ground-truth version? use only the shipped copy)")
    key = Path(rel).stem
    return np.asarray(loadmat(str(path))[key], dtype=np.float64)


def load_scene(name: str, *, verify: bool = True) -> Scene:
    """Load a shipped scene (``"samson"``, ``"sim1"``, ``"sim2"``), sha256-verified.

    Returns
    -------
    Scene
        ``Y (H, W, L)``, ``E (L, K)``, ``A (H, W, K)``.

    Raises
    ------
    FileNotFoundError
        When the data are absent (tests skip on it).
    """
    name = name.lower()
    if name not in ("samson", "sim1", "sim2"):
        raise ValueError(f"unknown scene {name!r}; shipped: 'samson', 'sim1', 'sim2'")
    folder = data_dir()
    if folder is None:
        raise FileNotFoundError("hyperspectral data not found (neither sparserec/datasets/data/hyperspectral "
                                "nor ../shared/data/hyperspectral)")
    Y = _load_key(folder, f"{name}/Y_clean.mat", verify)
    E = _load_key(folder, f"{name}/E.mat", verify)
    A = _load_key(folder, f"{name}/A_true.mat", verify)
    mats = _MATERIALS.get(name, tuple(f"em{k}" for k in range(E.shape[1])))
    return Scene(Y=Y, E=E, A=A, name=name, materials=mats,
                 extras={"source": "MiSiCNet repository (Apache-2.0)", "folder": str(folder)})


def load_samson(*, verify: bool = True) -> Scene:
    """The real Samson scene: 95x95 pixels, 156 bands, 3 endmembers (soil, tree, water)."""
    return load_scene("samson", verify=verify)


def load_sim(which: int = 1, *, verify: bool = True) -> Scene:
    """Simulated scene Sim1 or Sim2 (105x105x224, 6 endmembers, no pure pixels, noise-free)."""
    if which not in (1, 2):
        raise ValueError(f"which must be 1 or 2, got {which!r}")
    return load_scene(f"sim{which}", verify=verify)
