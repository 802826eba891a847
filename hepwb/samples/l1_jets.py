"""Level-1 jets for energy regression: the ``l1_jets`` dataset as arrays, its features and target.

Owns: reading the 9 x 9 ECAL and HCAL tower windows with the true (generator-level) and offline jet pT,
the raw trigger energy (the window's tower sum), the few summaries the BDT and the dense network see,
the regression target and its inverse, and power-of-two input scaling (a bit shift in firmware).
Models live in ``hepwb.models.regression``, figures of merit in ``hepwb.metrics``.

The target is the correction factor c = true pT / raw pT, not the log of it: the firmware then
computes pT = c x raw with one multiplication and no exponential table, and c is a small number
(about 1.1-1.8) that networks and trees learn as well as its log.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepwb import data
from hepwb.samples.base import Sample
from hepwb.sim import detector as det
from hepwb.sim import trigger

#: the summary features of a window, in column order: name -> what it is (GeV unless said)
FEATURES = {
    "ecal_9x9": "ECAL ET in the 9 x 9 window",
    "hcal_9x9": "HCAL ET in the 9 x 9 window",
    "ecal_3x3": "ECAL ET in the 3 x 3 core around the seed",
    "hcal_3x3": "HCAL ET in the 3 x 3 core",
    "ecal_5x5": "ECAL ET in the 5 x 5 core",
    "hcal_5x5": "HCAL ET in the 5 x 5 core",
    "abs_ieta": "|eta| of the seed tower, in towers from the centre (0-33)",
    "n_towers": "towers above 0.5 GeV in the whole event (pileup estimate)",
}
FEATURE_NAMES = tuple(FEATURES)
_BRANCHES = ["gen_pt", "gen_eta", "offline_pt", "weight", "seed_ieta", "n_vertices", "n_towers",
             "towers_ecal", "towers_hcal"]


@dataclass
class L1Jets(Sample):
    """Jets as arrays. ``towers`` (n, 9, 9, 2) float32, ECAL and HCAL ET in GeV (eta, phi, layer);
    ``gen_pt``, ``offline_pt`` (n,) GeV; ``gen_eta``; ``weight`` (n,) Pythia weights (the QCD spectrum);
    ``seed_ieta`` (n,) int; ``n_vertices``, ``n_towers`` (n,) int."""

    towers: np.ndarray
    gen_pt: np.ndarray
    gen_eta: np.ndarray
    offline_pt: np.ndarray
    weight: np.ndarray
    seed_ieta: np.ndarray
    n_vertices: np.ndarray
    n_towers: np.ndarray
    source: str = ""

    @property
    def raw_pt(self) -> np.ndarray:
        """The uncalibrated trigger jet ET: the sum of the window's towers, GeV, shape (n,)."""
        return self.towers.sum(axis=(1, 2, 3), dtype=np.float64)

    @property
    def abs_ieta(self) -> np.ndarray:
        """|eta| of the seed in towers from the detector's centre, 0 (|eta| < 0.087) to 33, shape (n,)."""
        centre = det.DEFAULT.towers_eta // 2
        return np.where(self.seed_ieta >= centre, self.seed_ieta - centre, centre - 1 - self.seed_ieta)

    @property
    def seed_abs_eta(self) -> np.ndarray:
        """|eta| of the seed tower's centre, shape (n,)."""
        return (self.abs_ieta + 0.5) * det.DEFAULT.tower_size


def load(source="l1_jets", *, max_jets: int | None = None) -> L1Jets:
    """Read an ``l1_jets``-like ROOT dataset (name or path) into an ``L1Jets``; the first ``max_jets``."""
    arrays = data.read(source, _BRANCHES, entry_stop=max_jets, library="np")
    lsb = det.DEFAULT.tower_lsb
    towers = np.stack([np.asarray(arrays["towers_ecal"], dtype=np.float32),
                       np.asarray(arrays["towers_hcal"], dtype=np.float32)], axis=-1) * lsb
    if towers.shape[1:] != (trigger.WINDOW, trigger.WINDOW, 2):
        raise data.HepwbDataError(f"{data.shown_path(source)}: towers of shape {towers.shape[1:3]}, expected "
                                  f"{trigger.WINDOW} x {trigger.WINDOW} windows (an l1_jets dataset)")
    return L1Jets(towers, *(np.asarray(arrays[name], dtype=np.float64) for name in
                            ("gen_pt", "gen_eta", "offline_pt", "weight")),
                  *(np.asarray(arrays[name], dtype=np.int32) for name in ("seed_ieta", "n_vertices", "n_towers")),
                  source=str(source))


def summary_features(jets: L1Jets) -> np.ndarray:
    """The ``FEATURE_NAMES`` columns of every jet, float32 (n, 8): ring sums, |ieta|, event towers."""
    half = trigger.WINDOW // 2
    towers = jets.towers.astype(np.float64)

    def ring(size, layer):
        lo, hi = half - size // 2, half + size // 2 + 1
        return towers[:, lo:hi, lo:hi, layer].sum(axis=(1, 2))

    columns = [ring(9, 0), ring(9, 1), ring(3, 0), ring(3, 1), ring(5, 0), ring(5, 1), jets.abs_ieta, jets.n_towers]
    return np.stack(columns, axis=1).astype(np.float32)


def target(jets: L1Jets) -> np.ndarray:
    """The regression target: the correction factor true pT / raw pT, float32 (n,)."""
    return (jets.gen_pt / np.maximum(jets.raw_pt, det.DEFAULT.tower_lsb)).astype(np.float32)


def predicted_pt(jets: L1Jets, correction: np.ndarray) -> np.ndarray:
    """A model's pT [GeV]: its correction factor times the raw trigger ET, shape (n,)."""
    return np.asarray(correction, dtype=np.float64).reshape(-1) * jets.raw_pt


def power_of_two_scales(x: np.ndarray, quantile: float = 99.0) -> np.ndarray:
    """Per column, the power of two at or above its ``quantile``-th percentile, shape (n_columns,).

    Dividing by a power of two is a bit shift in firmware (free), so the network sees inputs of
    order one without a normalisation layer: the scaled inputs of most jets lie in [0, 1].
    """
    top = np.percentile(np.asarray(x, dtype=np.float64).reshape(len(x), -1), quantile, axis=0)
    return 2.0 ** np.ceil(np.log2(np.maximum(top, 1e-3)))
