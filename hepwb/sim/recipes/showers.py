"""The ``showers`` dataset: photon showers in the lead / liquid-argon calorimeter, in the CaloChallenge layout.

Photons enter at the origin along the calorimeter's axis with energies spread log-uniformly (CaloChallenge's
datasets 2 and 3 do the same from 1 GeV to 1 TeV; here 1-100 GeV, since the cascade follows every
particle on a CPU); ``hepwb.sim.cascade`` follows them and ``SHOWER_READOUT`` sums the active layers' energy
into 178 voxels. Stored as the challenge stores its showers (``incident_energies``, ``showers``, in MeV; HDF5
plus a binning XML), not in ROOT: ``hepwb.data.calochallenge`` reads both ours and the challenge's files.
"""

from __future__ import annotations

import numpy as np

from hepwb.sim.cascade import DEFAULT_CALORIMETER, SHOWER_READOUT, simulate
from hepwb.sim.recipes.base import Branch, Recipe

SHOWERS_OPTIONS = dict(particle="photon", energy_min_MeV=1_000.0, energy_max_MeV=100_000.0)


def incident_energies(n: int, seed: int, chunk: int, options: dict | None = None) -> np.ndarray:
    """``n`` energies [MeV], log-uniform between the options' limits, fixed by (seed, chunk)."""
    opts = {**SHOWERS_OPTIONS, **(options or {})}
    rng = np.random.default_rng([seed, 11, chunk])
    return np.exp(rng.uniform(np.log(opts["energy_min_MeV"]), np.log(opts["energy_max_MeV"]), n))


def make_showers_chunk(n_events: int, seed: int, chunk: int, sample: str = "photon",
                       options: dict | None = None) -> dict:
    """``n_events`` showers of one chunk: their incident energies (n, 1) and voxels (n, 178), in MeV."""
    energies = incident_energies(n_events, seed, chunk, options)
    deposits = simulate(energies, particle=sample, readout=SHOWER_READOUT, seed=[seed, 12, chunk])
    return {"events": {"incident_energies": energies[:, None], "showers": deposits.voxels}, "n_generated": n_events}


SHOWERS = Recipe(
    name="showers",
    tree="showers",
    description="Photon showers (1-100 GeV, log-uniform) in a Pb/LAr sampling calorimeter, 5 layers, 178 voxels "
                "(CaloChallenge layout)",
    samples=("photon",),
    processes={"photon": ("hepwb.sim.cascade: bremsstrahlung, pair production, Compton, photoelectric, "
                          "ionisation, multiple scattering",)},
    options=SHOWERS_OPTIONS,
    branches=(Branch("incident_energies", "MeV", "the photon's energy (n, 1)"),
              Branch("showers", "MeV", "energy in the active medium per voxel (n, 178), CaloChallenge order")),
    make_chunk=make_showers_chunk,
    chunk_size=100,
    labels=("photon",),
    detector_description={**DEFAULT_CALORIMETER.describe(),
                          "cells_per_layer": list(SHOWER_READOUT.cells_per_layer), "voxels": SHOWER_READOUT.n_voxels},
    file_format="calochallenge",
)
