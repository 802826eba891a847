"""Calorimeter showers as arrays, and the invertible preprocessing the shower generators learn in.

``load`` reads the ``showers`` dataset (or any CaloChallenge file) into a ``ShowerSample``; ``ShowerTransform``
maps showers to the two tables of a CaloFlow-style generator and back: the layer table (n, n_layers),
log(E_layer / E_inc) standardised, and the voxel table (n, n_voxels), each voxel's share of its layer's energy
through a logit. ``conditions`` is log10(E_inc / 1 GeV).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepwb import data
from hepwb.data.calochallenge import Binning, read_showers
from hepwb.samples.base import Sample

#: the readout's noise threshold [MeV]: voxels below it read 0, in the simulated and the generated showers alike
READOUT_THRESHOLD_MEV = 0.01


@dataclass
class ShowerSample(Sample):
    """Showers (n, n_voxels) [MeV] and their incident energies (n,) [MeV], with the binning of the voxels."""

    energies: np.ndarray
    showers: np.ndarray
    binning: Binning = None
    source: str = ""


def load(source="showers", *, max_showers: int | None = None, binning=None,
         threshold_MeV: float = READOUT_THRESHOLD_MEV) -> ShowerSample:
    """Showers from a dataset name or a CaloChallenge HDF5 file; voxels below ``threshold_MeV`` set to 0."""
    path = data.resolve(source)
    energies, showers, binning = read_showers(path, binning, max_showers=max_showers)
    showers = np.where(showers < threshold_MeV, 0.0, showers).astype(np.float32)
    return ShowerSample(energies, showers, binning, data.shown_path(path))


def conditions(energies) -> np.ndarray:
    """The generators' condition (n, 1): log10(E_inc / 1 GeV)."""
    return (np.log10(np.asarray(energies, dtype=np.float64).reshape(-1, 1)) - 3.0).astype(np.float32)


class ShowerTransform:
    """Showers <-> the generators' tables. ``fit`` on training showers; ``noise_MeV``: uniform noise added to
    every voxel before taking shares (dequantisation: a flow cannot learn the spike of empty voxels), whose
    level is the threshold below which generated voxels read 0; ``alpha``: the logit's margin."""

    def __init__(self, binning: Binning, *, noise_MeV: float = READOUT_THRESHOLD_MEV, alpha: float = 1e-6,
                 seed: int = 7):
        self.binning, self.noise, self.alpha, self.seed = binning, noise_MeV, alpha, seed
        self.layer_mean = self.layer_std = None

    def _layer_logs(self, energies, showers) -> np.ndarray:
        layers = self.binning.layer_energies(showers)[:, self.binning.relevant_layers]
        return np.log((layers + self.noise) / np.asarray(energies).reshape(-1, 1))

    def fit(self, sample: ShowerSample) -> ShowerTransform:
        logs = self._layer_logs(sample.energies, sample.showers)
        self.layer_mean, self.layer_std = logs.mean(axis=0), logs.std(axis=0) + 1e-6
        return self

    def layer_table(self, energies, showers) -> np.ndarray:
        if self.layer_mean is None:
            raise RuntimeError("fit the transform on training showers first")
        return ((self._layer_logs(energies, showers) - self.layer_mean) / self.layer_std).astype(np.float32)

    def voxel_table(self, showers, *, seed: int | None = None) -> np.ndarray:
        rng = np.random.default_rng(self.seed if seed is None else seed)
        noisy = np.asarray(showers, np.float64) + rng.uniform(0, self.noise, np.shape(showers))
        shares = np.empty_like(noisy)
        starts = self.binning.layer_starts
        for k in self.binning.relevant_layers:
            a, b = starts[k], starts[k + 1]
            shares[:, a:b] = noisy[:, a:b] / noisy[:, a:b].sum(axis=1, keepdims=True)
        u = self.alpha + (1 - 2 * self.alpha) * shares
        return np.log(u / (1 - u)).astype(np.float32)

    def layer_energies(self, energies, layer_table) -> np.ndarray:
        """Layer energies (n, n_layers) [MeV] from a layer table."""
        logs = np.asarray(layer_table, np.float64) * self.layer_std + self.layer_mean
        return np.clip(np.exp(logs) * np.asarray(energies).reshape(-1, 1) - self.noise, 0.0, None)

    def inverse(self, energies, layer_table, voxel_table) -> np.ndarray:
        """Showers (n, n_voxels) [MeV]: each layer's shares (sigmoid, renormalised) times its energy plus the noise
        the shares were taken with (n_voxels * noise / 2 on average), less each voxel's average noise; voxels below
        the noise level read 0."""
        layers = self.layer_energies(energies, layer_table)
        shares = 1.0 / (1.0 + np.exp(-np.clip(np.asarray(voxel_table, np.float64), -30, 30)))
        showers = np.empty_like(shares)
        starts = self.binning.layer_starts
        for j, k in enumerate(self.binning.relevant_layers):
            a, b = starts[k], starts[k + 1]
            part = shares[:, a:b] / shares[:, a:b].sum(axis=1, keepdims=True)
            showers[:, a:b] = part * (layers[:, j:j + 1] + (b - a) * self.noise / 2) - self.noise / 2
        return np.where(showers < self.noise, 0.0, showers).astype(np.float32)
