"""The Level-1 calorimeter jet finder: seeds and 9 x 9 tower windows, as the trigger firmware forms them.

Owns: finding jet seeds in the tower grids of ``hepwb.sim.detector.l1_towers`` (a tower that is the
largest of its 9 x 9 neighbourhood and above a seed threshold, as in the CMS Stage-2 jet finder) and
cutting the window of towers around a seed (zero beyond the grid's |eta| edge, wrapped in phi).
It does not calibrate: turning a window into a jet energy is the job of the models in
``06_trigger_regression``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

WINDOW = 9  # towers on a side of the jet window (9 x 0.087 ~ 0.8 ~ an R = 0.4 jet's diameter)
SEED_THRESHOLD_COUNTS = 8  # a seed tower has at least 8 x 0.5 GeV = 4 GeV (ECAL + HCAL)


def seeds(ecal: np.ndarray, hcal: np.ndarray, *, threshold: int = SEED_THRESHOLD_COUNTS) -> np.ndarray:
    """Jet seeds of tower grids (n_events, n_eta, n_phi): boolean array of the same shape.

    A seed is a tower whose ECAL + HCAL count is at least ``threshold`` and the largest in its
    WINDOW x WINDOW neighbourhood; equal neighbours are resolved in favour of the lower (eta, phi)
    index, so two towers of a flat plateau never both seed a jet.
    """
    total = ecal.astype(np.int32) + hcal.astype(np.int32)
    n_eta, n_phi = total.shape[1:]
    # break ties by position: a tower beats an equal neighbour at a larger index
    tie_break = 1.0 - np.arange(n_eta * n_phi).reshape(n_eta, n_phi) / (n_eta * n_phi)
    ranked = total + 0.5 * tie_break[None]
    neighbourhood = ndimage.maximum_filter(ranked, size=(1, WINDOW, WINDOW), mode=("nearest", "constant", "wrap"),
                                           cval=0.0)
    return (ranked == neighbourhood) & (total >= threshold)


def windows(grid: np.ndarray, event: np.ndarray, i_eta: np.ndarray, i_phi: np.ndarray) -> np.ndarray:
    """The WINDOW x WINDOW towers of ``grid`` (n_events, n_eta, n_phi) centred on the given towers.

    ``event``, ``i_eta``, ``i_phi``: int arrays (n,) naming the centre towers. Returns (n, WINDOW,
    WINDOW), same dtype as ``grid``; towers beyond the eta edge are zero, phi wraps around.
    """
    half = WINDOW // 2
    padded = np.pad(grid, ((0, 0), (half, half), (0, 0)))  # zeros beyond |eta| edge
    offsets = np.arange(-half, half + 1)
    eta_index = (i_eta[:, None] + half + offsets[None, :])[:, :, None]
    phi_index = ((i_phi[:, None] + offsets[None, :]) % grid.shape[2])[:, None, :]
    return padded[event[:, None, None], eta_index, phi_index]
