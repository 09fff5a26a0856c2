r"""Readers and writers for hyperspectral scenes and unmixing results.

* MATLAB ``.mat`` (scipy.io; MATLAB v7.3/HDF5 files through h5py), in the HySUPP key layout
  (``Y (L, N), E (L, p), A (p, N), H, W, p, L, N``, optional ``D, M, index, labels``) or the
  MiSiCNet layout (``Y_clean``/``Y`` cube ``(H, W, L)``, ``E``, ``A_true`` cube);
* HDF5 / NetCDF through xarray (h5netcdf engine) with named dimensions ``y, x, band``;
* ENVI images and spectral libraries (``.hdr`` + raw binary, BSQ/BIL/BIP, either byte order).

xarray and h5py are imported only inside the functions that need them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .data import Scene, cube_to_matrix, matrix_to_cube

__all__ = [
    "load_hysupp_mat",
    "read_cube",
    "read_envi",
    "read_envi_library",
    "read_mat",
    "save_hysupp_mat",
    "write_cube",
    "write_envi",
    "write_unmixing",
]


# ----------------------------------------------------------------------------------------- .mat
def read_mat(path: str | os.PathLike, keys: Any = None) -> dict[str, Any]:
    """Read a MATLAB file (v4-v7 with scipy, v7.3 with h5py) into a ``{key: array}`` dict.

    v7.3 arrays are transposed back to MATLAB's axis order (HDF5 stores them reversed).
    """
    from scipy.io import loadmat

    path = os.fspath(path)
    try:
        d = loadmat(path)
        out = {k: v for k, v in d.items() if not k.startswith("__")}
    except (NotImplementedError, ValueError):
        import h5py

        out = {}
        with h5py.File(path, "r") as f:
            for k in f:
                if k.startswith("#"):
                    continue
                obj = f[k]
                if isinstance(obj, h5py.Dataset):
                    a = np.asarray(obj[()])
                    out[k] = a.T if a.ndim >= 2 else a
    if keys is not None:
        missing = [k for k in keys if k not in out]
        if missing:
            raise KeyError(f"{path}: missing keys {missing}; found {sorted(out)}")
        out = {k: out[k] for k in keys}
    return out


def _scalar(v: Any) -> int:
    return int(np.asarray(v).reshape(-1)[0])


def load_hysupp_mat(path: str | os.PathLike, *, check: bool = True) -> Scene:
    r"""Load a scene from a HySUPP-layout (or MiSiCNet-layout) ``.mat`` file.

    HySUPP layout: ``Y (L, N)``, ``H``, ``W`` (and ``p, L, N``), optional ground truth
    ``E (L, p)``, ``A (p, N)``; pixels in row-major order (see :mod:`.data`).  MiSiCNet layout:
    ``Y_clean`` or ``Y`` as an ``(H, W, L)`` cube, ``E (L, p)``, ``A_true (H, W, p)``.

    Parameters
    ----------
    check : bool, default True
        HySUPP's checks: ``Y.shape == (L, N)``, ASC of ``A`` within 1e-3, ``A, E >= -1e-10``.

    Raises
    ------
    ValueError
        Shape mismatches or failed checks.
    """
    d = read_mat(path)
    extras: dict[str, Any] = {}
    if "H" in d and "W" in d and "Y" in d and np.asarray(d["Y"]).ndim == 2:
        H, W = _scalar(d["H"]), _scalar(d["W"])
        Y = np.asarray(d["Y"], dtype=np.float64)
        L = _scalar(d["L"]) if "L" in d else Y.shape[0]
        N = _scalar(d["N"]) if "N" in d else H * W
        if check and (Y.shape != (L, N) or N != H * W):
            raise ValueError(f"{path}: Y has shape {Y.shape}, expected (L, N) = ({L}, {N}) with N = H*W = {H * W}")
        cube = matrix_to_cube(Y, H, W)
        E = np.asarray(d["E"], dtype=np.float64) if "E" in d else None
        A = None
        if "A" in d:
            Am = np.asarray(d["A"], dtype=np.float64)
            if Am.shape[1] != H * W:
                raise ValueError(f"{path}: A has shape {Am.shape}, expected (p, {H * W})")
            A = Am.T.reshape(H, W, Am.shape[0])
        for k in ("D", "M", "index", "labels"):
            if k in d:
                extras[k] = d[k]
    else:
        ykey = "Y_clean" if "Y_clean" in d else "Y"
        if ykey not in d:
            raise ValueError(f"{path}: neither the HySUPP (Y, H, W, ...) nor the MiSiCNet (Y_clean/Y cube) layout")
        cube = np.asarray(d[ykey], dtype=np.float64)
        if cube.ndim != 3:
            raise ValueError(f"{path}: {ykey} must be an (H, W, L) cube, got {cube.shape}")
        E = np.asarray(d["E"], dtype=np.float64) if "E" in d else None
        akey = "A_true" if "A_true" in d else ("A" if "A" in d else None)
        A = np.asarray(d[akey], dtype=np.float64) if akey else None
    if E is not None and E.shape[0] != cube.shape[-1]:
        raise ValueError(f"{path}: E has {E.shape[0]} bands, the cube {cube.shape[-1]}")
    if check and A is not None:
        if np.abs(A.sum(axis=-1) - 1).max() > 1e-3:
            raise ValueError(f"{path}: abundances violate sum-to-one by more than 1e-3")
        if A.min() < -1e-10:
            raise ValueError(f"{path}: negative abundances")
    if check and E is not None and E.min() < -1e-10:
        raise ValueError(f"{path}: negative endmembers")
    if "labels" in extras:
        labels = tuple(str(x).strip() for x in np.asarray(extras["labels"]).reshape(-1))
    else:
        labels = ()
    return Scene(Y=cube, E=E, A=A, name=Path(path).stem, materials=labels, extras=extras)


def save_hysupp_mat(path: str | os.PathLike, scene: Scene, **extra: Any) -> None:
    """Write a scene in the HySUPP key layout (``Y (L, N)``, ``E``, ``A (p, N)``, ``H, W, p, L, N``).

    ``extra`` (e.g. ``D``, ``index``, ``labels``) is stored as given.
    """
    from scipy.io import savemat

    H, W, L = scene.Y.shape
    d: dict[str, Any] = {"Y": cube_to_matrix(scene.Y), "H": H, "W": W, "L": L, "N": H * W}
    if scene.E is not None:
        d["E"] = np.asarray(scene.E)
        d["p"] = scene.E.shape[1]
    if scene.A is not None:
        d["A"] = cube_to_matrix(scene.A)
        d["p"] = scene.A.shape[-1]
    if scene.materials and "labels" not in extra:
        d["labels"] = np.array(scene.materials, dtype=object)
    d.update(extra)
    savemat(os.fspath(path), d)


# ------------------------------------------------------------------------------ HDF5 / NetCDF
_DIM_ALIASES = {"y": ("y", "row", "rows", "line", "lines", "lat"),
                "x": ("x", "col", "cols", "column", "sample", "samples", "lon"),
                "band": ("band", "bands", "wavelength", "channel", "lambda")}


def read_cube(path: str | os.PathLike, variable: str | None = None) -> Scene:
    """Read a cube from HDF5/NetCDF with named dimensions ``y, x, band`` (xarray, h5netcdf).

    Dimension aliases (``row/line``, ``col/sample``, ``wavelength/channel``) are accepted; the cube
    is returned as ``(y, x, band)`` with the ``band`` coordinate as wavelengths when numeric.  An
    HDF5 file without dimension scales falls back to h5py with the dataset read as ``(H, W, L)``.
    """
    path = os.fspath(path)
    try:
        import xarray as xr

        ds = xr.open_dataset(path, engine="h5netcdf")
    except Exception:  # plain HDF5 without NetCDF metadata
        import h5py

        with h5py.File(path, "r") as f:
            names = [k for k in f if isinstance(f[k], h5py.Dataset) and f[k].ndim == 3]
            name = variable or (names[0] if names else None)
            if name is None:
                raise ValueError(f"{path}: no 3-D dataset found") from None
            return Scene(Y=np.asarray(f[name][()], dtype=np.float64), name=name)
    with ds:
        if variable is None:
            cands = [v for v in ds.data_vars if ds[v].ndim == 3]
            if not cands:
                raise ValueError(f"{path}: no 3-D variable; variables: {list(ds.data_vars)}")
            variable = cands[0]
        da = ds[variable]
        ren = {}
        for d in da.dims:
            for std, al in _DIM_ALIASES.items():
                if str(d).lower() in al:
                    ren[d] = std
        da = da.rename(ren)
        if set(da.dims) != {"y", "x", "band"}:
            raise ValueError(f"{path}:{variable}: dims {da.dims}, expected y, x, band")
        da = da.transpose("y", "x", "band")
        wl = None
        if "band" in da.coords and np.issubdtype(da["band"].dtype, np.number):
            wl = np.asarray(da["band"].values, dtype=np.float64)
        return Scene(Y=np.asarray(da.values, dtype=np.float64), name=str(variable), wavelengths=wl,
                     extras={"attrs": dict(da.attrs)})


def write_cube(path: str | os.PathLike, cube: np.ndarray, *, wavelengths: Any = None,
               name: str = "reflectance", attrs: dict[str, Any] | None = None) -> None:
    """Write an ``(H, W, L)`` cube to NetCDF-4/HDF5 with dims ``y, x, band`` (xarray, h5netcdf)."""
    import xarray as xr

    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(f"write_cube expects (H, W, L), got {cube.shape}")
    coords = {"band": np.asarray(wavelengths, dtype=np.float64)} if wavelengths is not None else {}
    ds = xr.Dataset({name: (("y", "x", "band"), cube)}, coords=coords, attrs=dict(attrs or {}))
    ds.to_netcdf(os.fspath(path), engine="h5netcdf")


def write_unmixing(path: str | os.PathLike, ds: Any, **provenance_extra: Any) -> None:
    """Write an unmixing result (the ``xarray.Dataset`` returned by :func:`unmix`) to NetCDF/HDF5.

    Provenance (package version, solver, parameters, times, host) is added as attributes if the
    dataset does not already carry it; ``provenance_extra`` adds more attributes.
    """
    from ...io.provenance import provenance

    ds = ds.copy()
    if "sparserec_version" not in ds.attrs:
        ds.attrs.update(provenance(str(ds.attrs.get("method", "unmix")), {}))
    extra = provenance("", {}, **provenance_extra)
    for k in provenance_extra:
        ds.attrs[k] = extra[k]
    ds.to_netcdf(os.fspath(path), engine="h5netcdf")


# ---------------------------------------------------------------------------------------- ENVI
_ENVI_DTYPES = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 12: "u2", 13: "u4", 14: "i8", 15: "u8"}
_ENVI_CODES = {np.dtype(v).str[1:]: k for k, v in _ENVI_DTYPES.items()}


def _parse_hdr(text: str) -> dict[str, Any]:
    if not text.lstrip().upper().startswith("ENVI"):
        raise ValueError("not an ENVI header (first line must be 'ENVI')")
    out: dict[str, Any] = {}
    body = text.split("\n", 1)[1] if "\n" in text else ""
    for m in re.finditer(r"^\s*([^=\n]+?)\s*=\s*(\{[^}]*\}|[^\n]*)", body, flags=re.M):
        key, val = m.group(1).strip().lower(), m.group(2).strip()
        if val.startswith("{"):
            val = [v.strip() for v in val[1:-1].replace("\n", " ").split(",")]
        out[key] = val
    return out


def _hdr_and_data(path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix.lower() == ".hdr":
        hdr = p
        for ext in ("", ".img", ".dat", ".bin", ".raw", ".sli", ".bsq", ".bil", ".bip"):
            cand = p.with_suffix(ext)
            if cand.exists() and cand != hdr:
                return hdr, cand
        raise FileNotFoundError(f"no binary file found next to {p}")
    for hdr in (Path(str(p) + ".hdr"), p.with_suffix(".hdr")):
        if hdr.exists():
            return hdr, p
    raise FileNotFoundError(f"no ENVI header for {p}")


def read_envi(path: str | os.PathLike, *, memmap: bool = False) -> Scene:
    """Read an ENVI image (header + binary; BSQ, BIL or BIP; either byte order) as ``(H, W, L)``.

    ``path`` may be the header or the binary file.  ``memmap=True`` maps the file instead of
    reading it (the returned cube is then a read-only view in the file's interleave).
    """
    hdr, dat = _hdr_and_data(path)
    h = _parse_hdr(hdr.read_text(errors="replace"))
    lines, samples, bands = int(h["lines"]), int(h["samples"]), int(h.get("bands", 1))
    code = int(h.get("data type", 4))
    if code not in _ENVI_DTYPES:
        raise ValueError(f"{hdr}: unsupported ENVI data type {code}")
    dt = np.dtype(_ENVI_DTYPES[code]).newbyteorder(">" if int(h.get("byte order", 0)) == 1 else "<")
    offset = int(h.get("header offset", 0))
    inter = str(h.get("interleave", "bsq")).lower()
    shape = {"bsq": (bands, lines, samples), "bil": (lines, bands, samples), "bip": (lines, samples, bands)}
    if inter not in shape:
        raise ValueError(f"{hdr}: unknown interleave {inter!r}")
    if memmap:
        raw = np.memmap(dat, dtype=dt, mode="r", offset=offset, shape=shape[inter])
    else:
        raw = np.fromfile(dat, dtype=dt, count=lines * samples * bands, offset=offset).reshape(shape[inter])
    cube = {"bsq": lambda a: a.transpose(1, 2, 0), "bil": lambda a: a.transpose(0, 2, 1),
            "bip": lambda a: a}[inter](raw)
    if not memmap:
        cube = np.ascontiguousarray(cube, dtype=np.float64)
        if "reflectance scale factor" in h:
            cube = cube / float(h["reflectance scale factor"])
    wl = None
    if isinstance(h.get("wavelength"), list):
        try:
            wl = np.array([float(v) for v in h["wavelength"]])
        except ValueError:
            wl = None
    return Scene(Y=cube, name=hdr.stem, wavelengths=wl, extras={"header": h})


def read_envi_library(path: str | os.PathLike) -> tuple[np.ndarray, list[str], np.ndarray | None]:
    """Read an ENVI spectral library (``.sli`` + ``.hdr``).

    Returns
    -------
    spectra : numpy.ndarray ``(L, n_spectra)``
        One spectrum per column (the endmember layout).
    names : list of str
    wavelengths : numpy.ndarray ``(L,)`` or None
    """
    sc = read_envi(path)
    h = sc.extras["header"]
    S = sc.Y[:, :, 0]  # (lines = spectra, samples = bands)
    names = h.get("spectra names", [f"s{i}" for i in range(S.shape[0])])
    return np.ascontiguousarray(S.T), list(names), sc.wavelengths


def write_envi(path: str | os.PathLike, cube: np.ndarray, *, wavelengths: Any = None, interleave: str = "bsq",
               description: str = "written by sparserec") -> Path:
    """Write an ``(H, W, L)`` cube as ENVI (``path`` = binary file; ``path + '.hdr'`` = header)."""
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(f"write_envi expects (H, W, L), got {cube.shape}")
    if cube.dtype.str[1:] not in _ENVI_CODES:
        cube = cube.astype(np.float64)
    H, W, L = cube.shape
    order = {"bsq": (2, 0, 1), "bil": (0, 2, 1), "bip": (0, 1, 2)}
    if interleave not in order:
        raise ValueError(f"interleave must be bsq, bil or bip, got {interleave!r}")
    p = Path(path)
    data = np.ascontiguousarray(cube.transpose(order[interleave])).astype(cube.dtype.newbyteorder("<"))
    data.tofile(p)
    lines = ["ENVI", f"description = {{{description}}}", f"samples = {W}", f"lines = {H}", f"bands = {L}",
             "header offset = 0", "file type = ENVI Standard", f"data type = {_ENVI_CODES[cube.dtype.str[1:]]}",
             f"interleave = {interleave}", "byte order = 0"]
    if wavelengths is not None:
        lines.append("wavelength = {" + ", ".join(f"{float(v):g}" for v in wavelengths) + "}")
    hdr = Path(str(p) + ".hdr")
    hdr.write_text("\n".join(lines) + "\n")
    return hdr
