"""Anomaly detection at a trigger: the true-positive rate at a trigger's false-positive rate, with
uncertainties, as a rate out of the 40 MHz of bunch crossings; the report and table of several models."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from hepwb.constants import BUNCH_CROSSING_RATE_HZ
from hepwb.metrics.classification import roc


def smallest_supported_fpr(n_background: int, min_events: int = 10) -> float:
    """The smallest false-positive rate a background sample measures to ~1/sqrt(min_events): min_events / n."""
    if n_background < min_events:
        raise ValueError(f"{n_background} background events cannot measure any FPR with {min_events} events above "
                         "the threshold")
    return min_events / n_background


def tpr_at_fpr(background_scores, signal_scores, fpr: float) -> dict:
    """True-positive rate at the threshold that keeps a fraction ``fpr`` of the background.

    The threshold is the (k+1)-th largest background score, k = floor(fpr * n_background), so at most k
    background events lie strictly above it. Returns the threshold, the achieved FPR with its Poisson error
    sqrt(k)/n, the TPR with its binomial error, and the FPR as a trigger rate out of the 40 MHz collision
    stream (the ADC2021 convention: the background sample stands for all collisions) in Hz.
    """
    background = np.sort(np.asarray(background_scores, dtype=np.float64))[::-1]
    signal = np.asarray(signal_scores, dtype=np.float64)
    if not 0 < fpr < 1:
        raise ValueError(f"fpr must be in (0, 1), got {fpr}")
    if len(background) == 0 or len(signal) == 0:
        raise ValueError("need background and signal scores")
    if not (np.isfinite(background).all() and np.isfinite(signal).all()):
        raise ValueError("scores must be finite")
    threshold = background[int(np.floor(fpr * len(background)))]
    n_above = int(np.sum(background > threshold))
    achieved = n_above / len(background)
    tpr = float(np.mean(signal > threshold))
    return {"fpr_target": fpr, "threshold": float(threshold), "fpr": achieved,
            "fpr_error": np.sqrt(n_above) / len(background), "tpr": tpr,
            "tpr_error": float(np.sqrt(tpr * (1 - tpr) / len(signal))),
            "rate_hz": achieved * BUNCH_CROSSING_RATE_HZ,
            "rate_error_hz": np.sqrt(n_above) / len(background) * BUNCH_CROSSING_RATE_HZ}


def anomaly_report(background_scores, signal_scores: dict, fpr: float) -> dict[str, dict]:
    """Per signal: AUC (sklearn), the ``ROC`` curve and ``tpr_at_fpr`` at ``fpr`` (higher score = more anomalous)."""
    background = np.asarray(background_scores, dtype=np.float64)
    report = {}
    for name, scores in signal_scores.items():
        scores = np.asarray(scores, dtype=np.float64)
        truth = np.concatenate([np.zeros(len(background)), np.ones(len(scores))])
        everything = np.concatenate([background, scores])
        report[name] = {"auc": float(roc_auc_score(truth, everything)), "roc": roc(truth, everything),
                        **tpr_at_fpr(background, scores, fpr)}
    return report


def anomaly_table(reports: dict[str, dict[str, dict]]):
    """One row per (model, signal) of ``anomaly_report`` results: AUC, TPR and FPR with their errors, rate."""
    import pandas as pd

    return pd.DataFrame([{"model": model, "signal": signal, "AUC": r["auc"],
                          "TPR @ FPR": f"{r['tpr']:.3f} ± {r['tpr_error']:.3f}",
                          "FPR": f"{r['fpr']:.1e} ± {r['fpr_error']:.0e}", "rate [kHz]": r["rate_hz"] / 1e3}
                         for model, per_signal in reports.items() for signal, r in per_signal.items()])
