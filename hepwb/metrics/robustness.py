"""Does a tagger sculpt the mass? Distance correlation, the Jensen-Shannon divergence of the background
mass that passes and fails a cut, and what such a cut does to the background mass distribution."""

from __future__ import annotations

import numpy as np


def distance_correlation(x, y, weights=None) -> float:
    """Distance correlation of two 1-d samples (Székely, Rizzo & Bakirov 2007), optionally weighted.

    0 for independent samples (in the limit of many), 1 for a linear relation; unlike Pearson's
    correlation it also sees non-monotonic dependence (a tagger sculpting a mass peak). Memory grows
    as n², so keep n below ~10 000. Written out here (no dcor dependency) because it is the reference
    for the DisCo training term in ``hepwb.models``, which computes the same formula in TensorFlow.
    """
    x, y = (np.asarray(a, dtype=np.float64).ravel() for a in (x, y))
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"x and y must be 1-d samples of the same length >= 2, got {len(x)} and {len(y)}")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if len(w) != len(x) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be non-negative, one per entry, and not all zero")
    w = w / w.sum()

    def centred(a):
        distance = np.abs(a[:, None] - a[None, :])
        row = distance @ w  # weighted mean over the second index
        return distance - row[:, None] - row[None, :] + w @ row

    a, b = centred(x), centred(y)
    covariance = w @ (a * b) @ w
    variance = np.sqrt((w @ (a * a) @ w) * (w @ (b * b) @ w))
    return float(np.sqrt(max(covariance, 0.0) / variance)) if variance > 0 else 0.0


def jensen_shannon(counts_p, counts_q) -> float:
    """Jensen-Shannon divergence (base 2, between 0 and 1) of two histograms with the same bins.

    The decorrelation plots of the field put 1/JSD between the mass distributions of background that
    passes and that fails a tagger cut on their x axis: large means the cut leaves the mass alone.
    """
    from scipy.spatial.distance import jensenshannon

    p, q = (np.asarray(c, dtype=np.float64).ravel() for c in (counts_p, counts_q))
    if p.shape != q.shape or np.any(p < 0) or np.any(q < 0) or p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("two histograms of non-negative counts with the same bins, neither empty, are needed")
    return float(jensenshannon(p, q, base=2) ** 2)  # scipy gives the distance, the square root of the divergence


def mass_sculpting(scores, mass, is_signal, signal_efficiency: float, edges) -> dict:
    """What a cut on a binary tagger's score does to the background mass distribution.

    The threshold keeps ``signal_efficiency`` of the signal; returns the threshold, the number of background
    jets that pass it, the background rejection 1/ε_B, the background mass histograms (``edges`` in GeV,
    counts) of the jets that pass and that fail, and their Jensen-Shannon divergence (0: the cut leaves the
    mass shape alone). When no background jet passes, the rejection is only bounded from below: the number
    of background jets is returned (1/ε_B >= n_background, as ``classification.rejection_at`` does), and the
    JSD, with no passing distribution to compare, is NaN.
    """
    scores, mass, is_signal = (np.asarray(a) for a in (scores, mass, is_signal))
    if not 0 < signal_efficiency < 1:
        raise ValueError(f"signal_efficiency must be in (0, 1), got {signal_efficiency}")
    threshold = float(np.quantile(scores[is_signal.astype(bool)], 1 - signal_efficiency))
    background = ~is_signal.astype(bool)
    passed = scores[background] >= threshold
    pass_counts = np.histogram(mass[background][passed], edges)[0]
    fail_counts = np.histogram(mass[background][~passed], edges)[0]
    n_background, n_passed = int(background.sum()), int(passed.sum())
    both = pass_counts.sum() and fail_counts.sum()
    return {"threshold": threshold, "background_passing": n_passed,
            "rejection": n_background / n_passed if n_passed else float(n_background),
            "jsd": jensen_shannon(pass_counts, fail_counts) if both else float("nan"),
            "edges": np.asarray(edges, dtype=float), "pass_counts": pass_counts, "fail_counts": fail_counts}
