"""Quality metrics for classifiers, on top of sklearn.metrics.

Owns: one-vs-rest ROC curves, AUC, background rejection 1/eps_B at a signal efficiency,
accuracy, confusion matrices, working points, and the comparison table of several models.
"""

from __future__ import annotations

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


def roc_curves(y_true, scores, classes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One-vs-rest ROC per class: name -> (signal efficiency tpr, background efficiency fpr)."""
    y_true, scores = _check(y_true, scores, classes)
    curves = {}
    for index, name in enumerate(classes):
        fpr, tpr, _ = roc_curve(y_true == index, scores[:, index])
        curves[name] = (tpr, fpr)
    return curves


def rejection_at(tpr: np.ndarray, fpr: np.ndarray, signal_efficiency: float, n_background: int | None = None) -> float:
    """Background rejection 1/eps_B at a signal efficiency: the best working point keeping at least it.

    eps_B is the smallest background efficiency among ROC points with tpr >= ``signal_efficiency``.
    When that is 0 the rejection is only bounded from below: with ``n_background`` given, that bound
    is returned (1/eps_B >= n_background), otherwise inf.
    """
    eps_b = float(np.min(np.asarray(fpr)[np.asarray(tpr) >= signal_efficiency]))
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
        fpr, tpr, _ = roc_curve(y_true == index, scores[:, index])
        report[f"auc_{name}"] = auc
        n_background = int(np.sum(y_true != index))
        report[f"rej50_{name}"] = rejection_at(tpr, fpr, 0.5, n_background)
        report[f"rej30_{name}"] = rejection_at(tpr, fpr, 0.3, n_background)
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
