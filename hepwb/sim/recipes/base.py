"""What every recipe is made of: the Recipe and Branch records, the Variation of a test set, and the
steps all datasets share (candidates as four-vectors for FastJet, missing ET, matching by ΔR, filling
a chunk to exactly its size, compact storage).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import awkward as ak
import numpy as np
import vector

from hepwb.sim import detector as det

vector.register_awkward()


@dataclass(frozen=True)
class Branch:
    """One stored branch: name, unit ('' when dimensionless) and meaning."""

    name: str
    unit: str
    description: str


@dataclass(frozen=True)
class Recipe:
    """How a dataset is generated and what it holds."""

    name: str
    tree: str
    description: str
    samples: tuple[str, ...]  # independent generator streams (e.g. one per jet class)
    processes: dict[str, tuple[str, ...]]  # sample -> Pythia settings
    options: dict  # physics options (cuts, pileup), recorded in the manifest
    branches: tuple[Branch, ...]
    make_chunk: Callable[..., dict]
    chunk_size: int = 500  # selected events per chunk; fixed so results do not depend on workers
    labels: tuple[str, ...] = field(default_factory=tuple)
    fractions: dict[str, float] | None = None  # sample -> share of the events (None: equal shares)
    detector_description: dict | None = None  # the manifest's "detector" when not the calorimeter detector's
    file_format: str = "root"  # "root" (a TTree or RNTuple) or "calochallenge" (HDF5 + binning XML)


@dataclass(frozen=True)
class Variation:
    """A changed world to test taggers in: detector parameters, extra Pythia settings, or no detector.

    ``detector``: fields of ``hepwb.sim.detector.Detector`` and their new values, e.g.
    ``{"calorimeter_energy_scale": 1.05}``; ``pythia``: settings applied after the process's own, e.g.
    ``("Tune:pp = 21",)``; ``particle_level``: skip the detector (generated particles are the candidates).
    """

    detector: dict = field(default_factory=dict)
    pythia: tuple[str, ...] = ()
    particle_level: bool = False

    def __post_init__(self):
        fields = {f.name: f.type for f in dataclasses.fields(det.Detector) if f.name != "version"}
        unknown = sorted(set(self.detector) - set(fields))
        if unknown:
            raise ValueError(f"unknown detector parameter(s) {unknown}; the detector has {sorted(fields)}")
        if self.particle_level and self.detector:
            raise ValueError("a particle-level sample has no detector to change; drop the detector changes")
        for name, value in self.detector.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"detector parameter {name} must be a number, got {value!r}")

    def make_detector(self) -> det.Detector | None:
        """The detector to simulate (None at particle level); its version string marks the change."""
        if self.particle_level:
            return None
        if not self.detector:
            return det.DEFAULT
        changes = ", ".join(f"{k}={v}" for k, v in sorted(self.detector.items()))
        return dataclasses.replace(det.DEFAULT, **self.detector, version=f"{det.VERSION} with {changes}")

    def describe(self) -> dict:
        return {"detector": dict(self.detector), "pythia": list(self.pythia), "particle_level": self.particle_level}


NOMINAL = Variation()

MET_BRANCHES = (Branch("met", "GeV", "missing transverse energy from all reconstructed candidates"),
                Branch("met_phi", "rad", "azimuth of the missing transverse momentum"))


def momenta(candidates: ak.Array) -> ak.Array:
    """Reconstructed candidates (fields pt, eta, phi, energy) as vector ``Momentum4D`` records with
    Cartesian fields px, py, pz, E: what FastJet clusters and ``features.hls4ml_features`` takes."""
    p = vector.zip({"pt": candidates.pt, "eta": candidates.eta, "phi": candidates.phi, "energy": candidates.energy})
    return vector.zip({"px": p.px, "py": p.py, "pz": p.pz, "E": p.E})


def directions(objects: ak.Array) -> ak.Array:
    """Objects with fields eta, phi and pT (jets, candidates, hard partons; pT 1 where there is none, as for
    trigger towers) as vector ``Momentum3D`` records, for vector's ``deltaR`` and ``deltaphi``."""
    pt = objects.pt if "pt" in ak.fields(objects) else ak.ones_like(objects.eta)
    return vector.zip({"pt": pt, "eta": objects.eta, "phi": objects.phi})


def missing_et(candidates: ak.Array):
    """Missing ET [GeV] and its azimuth: minus the vector sum of all candidates' transverse momenta."""
    p = momenta(candidates)
    missing = vector.zip({"px": -ak.sum(p.px, axis=1), "py": -ak.sum(p.py, axis=1)})
    return missing.rho, missing.phi


def by_decreasing_pt(jets) -> ak.Array:
    """FastJet's jets (vector records) as records (pt, eta, phi), by decreasing pT."""
    out = ak.zip({"pt": jets.pt, "eta": jets.eta, "phi": jets.phi})
    return out[ak.argsort(out.pt, ascending=False)]


def nearest(jets: ak.Array, others: ak.Array, max_dr: float):
    """For each jet (jagged, fields eta/phi), the index of the nearest of ``others`` in its event
    within ``max_dr`` (None if there is none)."""
    pairs = ak.cartesian({"j": directions(jets), "o": directions(others)}, nested=True)
    dr = pairs.j.deltaR(pairs.o)
    best = ak.argmin(dr, axis=2, keepdims=True)
    best_dr = ak.firsts(dr[best], axis=2)
    return ak.mask(ak.firsts(best, axis=2), ak.fill_none(best_dr < max_dr, False))


def _compact_leaf(layout, **kwargs):
    if layout.is_numpy and layout.dtype in (np.float64, np.int64):
        return ak.contents.NumpyArray(layout.data.astype(np.float32 if layout.dtype == np.float64 else np.int32))
    return None


def as_stored(arrays: dict) -> dict:
    """Complete events only; float64 -> float32 and int64 -> int32 leaves, for compact files."""
    out = {}
    for key, value in arrays.items():
        value = ak.Array(value)
        if ak.any(ak.is_none(value, axis=0)):
            raise ValueError(f"branch {key!r} has missing entries; every stored event must be complete")
        value = ak.drop_none(value, axis=0)  # removes the option type left by selections
        out[key] = ak.transform(_compact_leaf, value)
    return out


def fill(batch_fn, n_events: int, first_batch: int) -> dict:
    """Call ``batch_fn(size)`` until ``n_events`` events pass the selection; keep exactly that many.

    Batch sizes adapt to the measured selection efficiency so little is generated in vain.
    """
    parts, n_generated, n_selected, size = [], 0, 0, first_batch
    while n_selected < n_events:
        result = batch_fn(size)
        parts.append(result["events"])
        n_generated += result["n_generated"]
        n_selected += len(next(iter(result["events"].values())))
        if n_selected == 0 and n_generated > 100 * max(n_events, 10):
            raise RuntimeError(f"no event passed the selection in {n_generated} generated; check the settings")
        efficiency = max(n_selected, 1) / n_generated
        size = int(np.clip(1.05 * (n_events - n_selected) / efficiency + 5, 10, 5 * first_batch))
    merged = {k: ak.concatenate([ak.Array(p[k]) for p in parts])[:n_events] for k in parts[0]}
    return {"events": as_stored(merged), "n_generated": n_generated}
