"""Classifier quality on top of sklearn.metrics: ROC curves, AUC, background rejection, accuracy,
confusion matrices, working points, the comparison table of several models, and calibration
(reliability and the expected calibration error)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score, roc_curve


def _check(y_true, scores, classes):
    y_true = np.asarray(y_true)
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[0] != len(y_true):
        raise ValueError(f"scores must have shape (n_jets, n_classes) = ({len(y_true)}, {len(classes)}), "
                         f"got {scores.shape}")
    if scores.shape[1] != len(classes):
        raise ValueError(f"scores has {scores.shape[1]} columns but {len(classes)} classes were named: {list(classes)}")
    return y_true, scores


class ROC(NamedTuple):
    """A ROC curve as scikit-learn's ``roc_curve`` orders it: background efficiency (false-positive rate)
    and signal efficiency (true-positive rate) at each threshold, arrays of the same length."""

    fpr: np.ndarray
    tpr: np.ndarray


def roc(is_signal, scores) -> ROC:
    """The ROC curve of ``scores`` (n,) for the truth ``is_signal`` (n,) (sklearn.metrics.roc_curve)."""
    fpr, tpr, _ = roc_curve(is_signal, scores)
    return ROC(fpr, tpr)


def roc_curves(y_true, scores, classes) -> dict[str, ROC]:
    """One-vs-rest ROC per class: name -> ``ROC(fpr, tpr)``."""
    y_true, scores = _check(y_true, scores, classes)
    return {name: roc(y_true == index, scores[:, index]) for index, name in enumerate(classes)}


def rejection_at(curve: ROC, signal_efficiency: float, n_background: int | None = None) -> float:
    """Background rejection 1/eps_B at a signal efficiency: the best working point keeping at least it.

    eps_B is the smallest background efficiency among ROC points with tpr >= ``signal_efficiency``.
    When that is 0 the rejection is only bounded from below: with ``n_background`` given, that bound
    is returned (1/eps_B >= n_background), otherwise inf.
    """
    eps_b = float(np.min(np.asarray(curve.fpr)[np.asarray(curve.tpr) >= signal_efficiency]))
    if eps_b > 0:
        return 1.0 / eps_b
    return float(n_background) if n_background else float("inf")


def classification_report(y_true, scores, classes) -> dict:
    """Accuracy, and per class: AUC and rejection at 50 % and 30 % signal efficiency.

    A rejection is capped at the number of background jets when none of them passes (a lower bound).

    Returns a flat dict (``accuracy``, ``mean_auc``, ``auc_<class>``, ``rej50_<class>``,
    ``rej30_<class>``) plus ``confusion`` (row-normalised confusion matrix as nested lists).
    """
    y_true, scores = _check(y_true, scores, classes)
    predicted = scores.argmax(axis=1)
    report = {"accuracy": float(accuracy_score(y_true, predicted))}
    aucs = []
    for index, name in enumerate(classes):
        auc = float(roc_auc_score(y_true == index, scores[:, index]))
        curve = roc(y_true == index, scores[:, index])
        report[f"auc_{name}"] = auc
        n_background = int(np.sum(y_true != index))
        report[f"rej50_{name}"] = rejection_at(curve, 0.5, n_background)
        report[f"rej30_{name}"] = rejection_at(curve, 0.3, n_background)
        aucs.append(auc)
    report["mean_auc"] = float(np.mean(aucs))
    report["confusion"] = confusion_matrix(y_true, predicted, labels=range(len(classes)), normalize="true").tolist()
    return report


def working_point(y_true, scores, classes, signal_class: str, signal_efficiency: float) -> dict:
    """The threshold on ``signal_class``'s score that keeps ``signal_efficiency`` of its jets.

    Returns threshold, the background efficiency and rejection there, and the confusion matrix
    (rows: true class, columns: tagged as signal / not) of the jets passing and failing it.
    """
    y_true, scores = _check(y_true, scores, classes)
    if signal_class not in classes:
        raise ValueError(f"unknown class {signal_class!r}; classes: {list(classes)}")
    if not 0 < signal_efficiency < 1:
        raise ValueError(f"signal efficiency must be in (0, 1), got {signal_efficiency}")
    index = list(classes).index(signal_class)
    score = scores[:, index]
    threshold = float(np.quantile(score[y_true == index], 1 - signal_efficiency))
    tagged = score >= threshold
    background = y_true != index
    eps_b = float(tagged[background].mean())
    table = {name: {"tagged": float(tagged[y_true == i].mean()) if np.any(y_true == i) else float("nan")}
             for i, name in enumerate(classes)}
    return {"threshold": threshold, "signal_efficiency": float(tagged[~background].mean()),
            "background_efficiency": eps_b, "background_rejection": 1 / eps_b if eps_b > 0 else float("inf"),
            "tagged_fraction_per_class": table}


def comparison_table(reports: dict[str, dict], classes):
    """A pandas DataFrame: one row per model; accuracy, mean AUC, and per-class AUC and rejections."""
    import pandas as pd

    columns = ["accuracy", "mean_auc", *(f"auc_{c}" for c in classes), *(f"rej50_{c}" for c in classes),
               *(f"rej30_{c}" for c in classes)]
    return pd.DataFrame({model: {c: report[c] for c in columns} for model, report in reports.items()}).T


def reliability(y_true, scores, *, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Reliability of the predicted class: per bin of confidence (the highest score, (0, 1] in
    ``n_bins`` equal bins) the mean confidence, the accuracy and the number of jets.

    A calibrated classifier is right in 80 % of the cases where it says 0.8: accuracy = confidence.
    Returns arrays ``edges`` (n_bins + 1), ``confidence``, ``accuracy`` (NaN in empty bins) and ``counts``.
    """
    y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or len(scores) != len(y_true):
        raise ValueError(f"scores must be (n_jets, n_classes) with one row per label, got {scores.shape} "
                         f"for {len(y_true)} labels")
    confidence = scores.max(axis=1)
    correct = (scores.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore"):
        mean_confidence = np.bincount(which, confidence, n_bins) / counts
        accuracy = np.bincount(which, correct, n_bins) / counts
    return {"edges": edges, "confidence": mean_confidence, "accuracy": accuracy, "counts": counts}


def expected_calibration_error(y_true, scores, *, n_bins: int = 10) -> float:
    """ECE: the jet-weighted mean of |accuracy - confidence| over the bins of ``reliability``.
    0 for a calibrated classifier (up to the statistics of each bin)."""
    table = reliability(y_true, scores, n_bins=n_bins)
    filled = table["counts"] > 0
    gap = np.abs(table["accuracy"][filled] - table["confidence"][filled])
    return float(np.sum(table["counts"][filled] * gap) / table["counts"].sum())
