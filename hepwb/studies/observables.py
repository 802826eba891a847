"""Three ways to choose what a measurement fits: a cut-based selection, a network's score, and a network
that was shown the systematic variations while it learned.

Cut-based: the groomed-mass window of a W or Z with a cut on D2 (a two-prong substructure variable), the
mass histogrammed inside the window. Plain network: the hls4ml tagger's Dense network on the 16
substructure features, trained on nominal jets only. Systematics-aware: the same network trained on the
jets of every world (augmentation), with a DisCo term that makes its background score independent of
which world a jet comes from (``hepwb.models.decorrelation``, with the world in place of the mass).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hepwb.models import training
from hepwb.models.decorrelation import binary_tagger
from hepwb.samples.worlds import WorldJets
from hepwb.sim.features import HLS4ML_FEATURES
from hepwb.studies.measurement import SELECTED_CROSS_SECTIONS_FB

#: the groomed-mass window of the cut-based selection [GeV]: around the W (80.4) and Z (91.2) peaks
MASS_WINDOW = (65.0, 105.0)


def asimov_significance(s, b) -> float:
    """The median discovery significance of counts s over b, summed in quadrature over bins (stat. only)."""
    s, b = np.asarray(s, dtype=float), np.asarray(b, dtype=float)
    good = b > 0
    s, b = s[good], b[good]
    return float(np.sqrt(np.sum(2 * ((s + b) * np.log1p(s / b) - s))))


def optimise_substructure_cut(jets: WorldJets, *, variable: str = "d2_b1_mmdt", luminosity_fb: float = 140.0,
                              min_background_jets: int = 20) -> float:
    """The cut on ``variable`` (keep jets below it) that maximises the signal's significance in the mass
    window, on ``jets`` (the training half), keeping at least ``min_background_jets`` simulated background
    jets selected (fewer would make the background estimate a guess)."""
    mass, value = jets.observable("mass_mmdt"), jets.observable(variable)
    weights, signal = jets.weights(luminosity_fb, SELECTED_CROSS_SECTIONS_FB), jets.is_signal() == 1
    in_window = (mass > MASS_WINDOW[0]) & (mass < MASS_WINDOW[1])
    best, best_z = np.inf, -1.0
    for cut in np.quantile(value[in_window & signal], np.linspace(0.1, 1.0, 19)):
        chosen = in_window & (value < cut)
        if (chosen & ~signal).sum() < min_background_jets:
            continue
        z = asimov_significance(weights[chosen & signal].sum(), weights[chosen & ~signal].sum())
        if z > best_z:
            best, best_z = float(cut), z
    if not np.isfinite(best):
        raise ValueError(f"no cut on {variable} keeps {min_background_jets} background jets in the mass window; "
                         f"use more jets")
    return best


def cut_based_values(jets: WorldJets, cut: float, *, variable: str = "d2_b1_mmdt") -> np.ndarray:
    """The groomed mass [GeV] of jets in the window with ``variable`` below ``cut``; NaN for the others."""
    mass = jets.observable("mass_mmdt")
    chosen = (mass > MASS_WINDOW[0]) & (mass < MASS_WINDOW[1]) & (jets.observable(variable) < cut)
    return np.where(chosen, mass, np.nan)


def cut_based_edges(n_bins: int = 4) -> np.ndarray:
    """Equal-width mass bins over the window [GeV]."""
    return np.linspace(*MASS_WINDOW, n_bins + 1)


def train_tagger(nominal: list[WorldJets], shifted: list[WorldJets] = (), *, aware_weight: float = 0.0,
                 epochs: int = 30, seed: int = 1):
    """The Dense tagger (signal W/Z against QCD and top) on the 16 features of the jets of the ``nominal``
    and ``shifted`` worlds. ``aware_weight`` > 0 adds the DisCo term between the score and "from a shifted
    world" on background jets. 20 % of the jets validate. Returns (model, scaler, history)."""
    from sklearn.preprocessing import StandardScaler

    everything = [*nominal, *shifted]
    table = pd.concat([w.table() for w in everything], ignore_index=True)
    label = np.concatenate([w.is_signal() for w in everything])
    from_shifted = np.concatenate([np.full(len(w), float(i >= len(nominal))) for i, w in enumerate(everything)])
    scaler = StandardScaler().fit(pd.concat([w.table() for w in nominal], ignore_index=True))
    x = scaler.transform(table).astype(np.float32)
    y = np.column_stack([label, from_shifted]).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[: len(x) // 5], order[len(x) // 5:]
    model = binary_tagger(len(HLS4ML_FEATURES), disco_weight=aware_weight, seed=seed)
    history = training.train(model, x[train], y[train], x[val], y[val], epochs=epochs, batch_size=1024,
                             patience=5, seed=seed)
    return model, scaler, history


def tagger_scores(model, scaler, jets: WorldJets) -> np.ndarray:
    """Scores (n,) in [0, 1] of a tagger from ``train_tagger``."""
    return training.predict(model, scaler.transform(jets.table()).astype(np.float32))


def score_edges(signal_scores, background_scores, *, n_bins: int = 10, min_background_jets: int = 20) -> np.ndarray:
    """Score bins with equal shares of the signal, merged from the top until each holds at least
    ``min_background_jets`` simulated background jets: a bin with (almost) no simulated background would
    claim a background-free signal that the simulation cannot back."""
    inner = np.unique(np.quantile(signal_scores, np.linspace(0, 1, n_bins + 1)[1:-1]))
    edges = np.concatenate([[0.0], inner, [1.0]])
    while len(edges) > 2:
        counts, _ = np.histogram(background_scores, edges)
        low = np.flatnonzero(counts < min_background_jets)
        if not len(low):
            break
        edges = np.delete(edges, max(low[-1], 1))  # the sparse bin joins its lower neighbour (the first its upper)
    return edges
