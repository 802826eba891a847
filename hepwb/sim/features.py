"""Physics features of jets, computed with fastjet on whole batches at once.

Owns: the 16 high-level jet-substructure features of the hls4ml jet-tagging benchmark. Does not own
jet finding in events (``hepwb.sim.recipes``) nor any I/O.
"""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np

from hepwb import quiet
from hepwb.constants import LARGE_JET_RADIUS

quiet.fastjet_banner()

#: the hls4ml jet-tagging benchmark's high-level features, under the benchmark's own names
HLS4ML_FEATURES = (
    "zlogz", "c1_b0_mmdt", "c1_b1_mmdt", "c1_b2_mmdt", "c2_b1_mmdt", "c2_b2_mmdt",
    "d2_b1_mmdt", "d2_b2_mmdt", "d2_a1_b1_mmdt", "d2_a1_b2_mmdt", "m2_b1_mmdt", "m2_b2_mmdt",
    "n2_b1_mmdt", "n2_b2_mmdt", "mass_mmdt", "multiplicity",
)

# feature name -> (fastjet energy-correlator function, beta, alpha)
_CORRELATORS = {
    "c1_b0_mmdt": ("c1", 0, 0), "c1_b1_mmdt": ("c1", 1, 0), "c1_b2_mmdt": ("c1", 2, 0),
    "c2_b1_mmdt": ("c2", 1, 0), "c2_b2_mmdt": ("c2", 2, 0),
    "d2_b1_mmdt": ("d2", 1, 0), "d2_b2_mmdt": ("d2", 2, 0),
    "d2_a1_b2_mmdt": ("generalizedd2", 2, 1),
    "m2_b1_mmdt": ("m2", 1, 0), "m2_b2_mmdt": ("m2", 2, 0),
    "n2_b1_mmdt": ("n2", 1, 0), "n2_b2_mmdt": ("n2", 2, 0),
}

_RECLUSTER = fastjet.JetDefinition(fastjet.cambridge_algorithm, LARGE_JET_RADIUS)


def hls4ml_features(constituents: ak.Array, *, zcut: float = 0.1,
                    radius: float = LARGE_JET_RADIUS) -> dict[str, np.ndarray]:
    """The 16 hls4ml benchmark features of a batch of jets.

    Parameters
    ----------
    constituents : awkward array, jets x particles, vector ``Momentum4D`` records with ``px, py, pz, E`` (GeV).
    zcut, radius : mMDT (soft drop with beta = 0) grooming parameters.

    Returns
    -------
    dict feature name -> float32 array of shape (n_jets,). Energy-correlation ratios and
    ``mass_mmdt`` (GeV) are computed on the mMDT-groomed jet with fastjet's EnergyCorrelator;
    ``zlogz`` = sum_i z_i log z_i with z_i = pT_i / sum pT, and ``multiplicity`` use the whole jet.
    A ratio that is 0/0 (a groomed jet with too few particles) is set to 0.
    """
    if len(constituents) == 0:
        return {name: np.zeros(0, dtype=np.float32) for name in HLS4ML_FEATURES}
    z = constituents.pt / ak.sum(constituents.pt, axis=1)
    features = {
        # not in fastjet: one line of awkward
        "zlogz": ak.sum(z * np.log(z), axis=1),
        "multiplicity": ak.num(constituents, axis=1),
    }
    groomed = fastjet.ClusterSequence(constituents, _RECLUSTER).exclusive_jets_softdrop_grooming(
        njets=1, beta=0, symmetry_cut=zcut, R0=radius)
    # fastjet returns -sqrt(-m^2) when rounding makes m^2 of a (nearly) massless system negative
    features["mass_mmdt"] = np.maximum(groomed.msoftdrop, 0.0)
    groomed_sequence = fastjet.ClusterSequence(groomed.constituents, _RECLUSTER)
    for name, (func, beta, alpha) in _CORRELATORS.items():
        features[name] = groomed_sequence.exclusive_jets_energy_correlator(njets=1, func=func, beta=beta, alpha=alpha)
    # D2^(alpha=1, beta=1) = e3^(1) / (e2^(1))^3 is D2 at beta = 1 by definition: no second computation
    features["d2_a1_b1_mmdt"] = features["d2_b1_mmdt"]
    out = {name: ak.to_numpy(features[name]).astype(np.float32) for name in HLS4ML_FEATURES}
    for name in (*_CORRELATORS, "d2_a1_b1_mmdt"):
        # a groomed jet of one or two particles has vanishing correlators, and fastjet returns 0/0
        out[name] = np.nan_to_num(out[name], nan=0.0, posinf=0.0, neginf=0.0)
    return out
