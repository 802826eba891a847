"""Calorimeter showers in the layout of the Fast Calorimeter Simulation Challenge 2022 (CaloChallenge).

A dataset is an HDF5 file with ``incident_energies`` (n, 1) and ``showers`` (n, n_voxels), both in MeV, and a
binning XML file that says how the voxels lie: per layer, radial bin edges ``r_edges`` [mm] and ``n_bin_alpha``
angular bins on [-pi, pi]; within a layer the voxel index runs over r fastest, then alpha (the challenge's
order). A layer with ``r_edges="0"`` has no voxels. The same reader opens the challenge's public files
(``dataset_1_photons_1.hdf5`` with ``binning_dataset_1_photons.xml``, ...) and ours.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepwb.data.errors import HepwbDataError
from hepwb.data.writing import atomic_path


class ShowerFileError(HepwbDataError):
    """A shower file or binning file that is missing, unreadable or not in the CaloChallenge layout."""


@dataclass(frozen=True)
class Binning:
    """The voxels of each layer: radial edges [mm] and the number of angular bins; ``particle`` and ``pid``
    as the XML names them."""

    r_edges: tuple[tuple[float, ...], ...]
    n_alpha: tuple[int, ...]
    particle: str = "photon"
    pid: int = 22

    def __post_init__(self):
        if len(self.r_edges) != len(self.n_alpha) or not self.r_edges:
            raise ValueError("a binning needs one r_edges and one n_alpha per layer")
        for layer, (edges, n_alpha) in enumerate(zip(self.r_edges, self.n_alpha)):
            if list(edges) != sorted(set(edges)) or edges[0] != 0 or n_alpha < 1:
                raise ValueError(f"layer {layer}: r_edges must rise from 0 and n_bin_alpha be >= 1, "
                                 f"got {edges} and {n_alpha}")

    @property
    def n_layers(self) -> int:
        return len(self.r_edges)

    @property
    def voxels_per_layer(self) -> np.ndarray:
        return np.array([(len(e) - 1) * a for e, a in zip(self.r_edges, self.n_alpha)])

    @property
    def n_voxels(self) -> int:
        return int(self.voxels_per_layer.sum())

    @property
    def layer_starts(self) -> np.ndarray:
        """The first voxel of each layer, and the total at the end: (n_layers + 1,)."""
        return np.concatenate([[0], np.cumsum(self.voxels_per_layer)])

    @property
    def relevant_layers(self) -> list[int]:
        """Layers with voxels."""
        return [k for k, n in enumerate(self.voxels_per_layer) if n > 0]

    def layer_energies(self, showers: np.ndarray) -> np.ndarray:
        """Energy per layer (n, n_layers) of showers (n, n_voxels)."""
        showers = check_showers(showers, self)
        starts = self.layer_starts
        return np.stack([showers[:, a:b].sum(axis=1) for a, b in zip(starts[:-1], starts[1:])], axis=1)

    def voxel_centres(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) [mm] of the voxels of ``layer`` as the challenge defines them: r at the bin's middle, alpha at
        the middle of its bin on [-pi, pi] (so x = r and y = 0 in a layer with one angular bin)."""
        edges = np.asarray(self.r_edges[layer], dtype=float)
        r_mid = 0.5 * (edges[1:] + edges[:-1])
        alpha_edges = np.linspace(-np.pi, np.pi, self.n_alpha[layer] + 1)
        alpha_mid = 0.5 * (alpha_edges[1:] + alpha_edges[:-1])
        r, alpha = np.meshgrid(r_mid, alpha_mid)  # (n_alpha, n_r): r runs fastest when flattened
        return (r * np.cos(alpha)).ravel(), (r * np.sin(alpha)).ravel()

    def layer_voxel_index(self, layer: int, r: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The voxel index (global) of points at radius r [mm] and angle alpha [rad] in ``layer``; -1 beyond the
        outermost edge."""
        edges = np.asarray(self.r_edges[layer])
        r_bin = np.searchsorted(edges, r, side="right") - 1
        n_alpha = self.n_alpha[layer]
        a_bin = np.clip(((alpha + np.pi) / (2 * np.pi) * n_alpha).astype(np.int64), 0, n_alpha - 1)
        inside = (r_bin >= 0) & (r_bin < len(edges) - 1)
        return np.where(inside, self.layer_starts[layer] + a_bin * (len(edges) - 1) + r_bin, -1)

    def to_xml(self) -> str:
        lines = ["<Bins>", f'   <Bin pid="{self.pid}" etaMin="0" etaMax="130" name="{self.particle}">']
        for k, (edges, n_alpha) in enumerate(zip(self.r_edges, self.n_alpha)):
            text = ",".join(f"{e:g}" for e in edges)
            lines.append(f'      <Layer id="{k}" r_edges="{text}" n_bin_alpha="{n_alpha}"/>')
        return "\n".join(lines + ["   </Bin>", "</Bins>", ""])


def read_binning(path, particle: str | None = None) -> Binning:
    """A CaloChallenge binning XML file (``<Bins><Bin name=...><Layer id r_edges n_bin_alpha/>``)."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as error:
        raise ShowerFileError(f"{path}: not a readable binning XML file ({error})") from None
    bins = [b for b in root if particle is None or b.attrib.get("name") == particle]
    if not bins:
        names = [b.attrib.get("name") for b in root]
        raise ShowerFileError(f"{path}: no <Bin> for particle {particle!r}; the file has {names}")
    r_edges, n_alpha = [], []
    for layer in bins[0]:
        try:
            r_edges.append(tuple(float(s) for s in layer.attrib["r_edges"].split(",")))
            n_alpha.append(int(layer.attrib["n_bin_alpha"]))
        except (KeyError, ValueError):
            raise ShowerFileError(f"{path}: layer {layer.attrib.get('id')!r} needs r_edges (comma-separated mm) "
                                  f"and n_bin_alpha (an integer), got {dict(layer.attrib)}") from None
    return Binning(tuple(r_edges), tuple(n_alpha), bins[0].attrib.get("name", "photon"),
                   int(bins[0].attrib.get("pid", 22)))


def check_showers(showers, binning: Binning) -> np.ndarray:
    showers = np.asarray(showers)
    if showers.ndim != 2 or showers.shape[1] != binning.n_voxels:
        raise ValueError(f"expected showers (n, {binning.n_voxels}) for this binning, got {showers.shape}")
    return showers


def binning_path(path) -> Path:
    """Where the binning of shower file ``NAME.hdf5`` is written: ``NAME.xml`` beside it."""
    return Path(path).with_suffix(".xml")


def read_showers(path, binning=None, *, max_showers: int | None = None) -> tuple[np.ndarray, np.ndarray, Binning]:
    """(incident energies (n,) [MeV], showers (n, n_voxels) [MeV], binning) of a CaloChallenge HDF5 file.

    ``binning``: a ``Binning`` or the path of its XML file; default the XML file beside the HDF5 file.
    """
    import h5py

    path = Path(path)
    if binning is None:
        binning = binning_path(path)
    if not isinstance(binning, Binning):
        if not Path(binning).exists():
            raise ShowerFileError(f"{path}: no binning file {Path(binning).name} beside it; give the challenge's "
                                  f"binning XML as binning=")
        binning = read_binning(binning)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ShowerFileError(f"{path}: not a readable HDF5 file ({error})") from None
    with handle:
        missing = [k for k in ("incident_energies", "showers") if k not in handle]
        if missing:
            raise ShowerFileError(f"{path}: no dataset {missing[0]!r}; a CaloChallenge file has 'incident_energies' "
                                  f"(n, 1) and 'showers' (n, voxels), found {sorted(handle)}")
        stop = max_showers if max_showers is not None else len(handle["showers"])
        energies = np.asarray(handle["incident_energies"][:stop], dtype=np.float64).reshape(-1)
        showers = np.asarray(handle["showers"][:stop], dtype=np.float32)
    if showers.ndim != 2 or showers.shape[1] != binning.n_voxels or len(energies) != len(showers):
        raise ShowerFileError(f"{path}: showers {showers.shape} and incident_energies ({len(energies)},) do not fit "
                              f"the binning's {binning.n_voxels} voxels")
    return energies, showers, binning


class ShowerWriter:
    """Append showers to a CaloChallenge HDF5 file (gzip-compressed), written under a temporary name and renamed
    when complete; the binning XML beside it.

    >>> with ShowerWriter("showers.hdf5", binning) as writer:
    ...     writer.extend(energies, showers)
    """

    def __init__(self, path, binning: Binning, *, compression_level: int = 6):
        self.path, self.binning, self.level = Path(path), binning, compression_level
        self._context = atomic_path(self.path)
        self.entries = 0

    def __enter__(self):
        import h5py

        self.tmp = self._context.__enter__()
        self._file = h5py.File(self.tmp, "w")
        chunk = (256, self.binning.n_voxels)
        self._energies = self._file.create_dataset("incident_energies", (0, 1), maxshape=(None, 1), dtype="f8",
                                                   chunks=(4096, 1))
        self._showers = self._file.create_dataset("showers", (0, self.binning.n_voxels), maxshape=(None, None),
                                                  dtype="f4", chunks=chunk, compression="gzip",
                                                  compression_opts=self.level, shuffle=True)
        return self

    def extend(self, energies, showers) -> None:
        energies = np.asarray(energies, dtype=np.float64).reshape(-1, 1)
        showers = check_showers(showers, self.binning)
        n = self.entries + len(energies)
        self._energies.resize((n, 1))
        self._showers.resize((n, self.binning.n_voxels))
        self._energies[self.entries:] = energies
        self._showers[self.entries:] = showers
        self.entries = n

    def __exit__(self, exc_type, exc, tb):
        self._file.close()
        if exc_type is None:
            with atomic_path(binning_path(self.path)) as tmp:
                tmp.write_text(self.binning.to_xml())
        return self._context.__exit__(exc_type, exc, tb)
