"""How alike two weighted samples are, observable by observable: what a reweighter is judged by.

χ²/ndf of the normalised histograms (bin errors from the sums of squared weights), the two-sample
Kolmogorov-Smirnov distance with weights, and the effective sample size the weights leave. scipy's
``ks_2samp`` takes no weights, so the weighted KS distance is written out here (the largest gap of two
weighted empirical CDFs; its p-value from scipy's ``kstwo`` at the effective sample sizes).
"""

from __future__ import annotations

import numpy as np


def effective_sample_size(weights) -> float:
    """Kish's (sum w)² / sum w²: how many unweighted events the weighted sample is worth."""
    weights = np.asarray(weights, dtype=np.float64)
    return float(weights.sum() ** 2 / np.sum(weights**2)) if len(weights) else 0.0


def chi2_ndf(a, b, *, weights_a=None, weights_b=None, edges=20) -> float:
    """χ²/ndf of the shapes of ``a`` and ``b`` (1-d, any sizes) in common bins.

    ``edges``: bin edges, or a number of bins with equal counts of ``b``; values outside go to the end bins.
    Both histograms are normalised to unit area; each bin's variance is its sum of squared weights over
    the squared total. Bins empty in both are skipped; ndf = bins used - 1.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    weights_a = np.ones(len(a)) if weights_a is None else np.asarray(weights_a, dtype=np.float64)
    weights_b = np.ones(len(b)) if weights_b is None else np.asarray(weights_b, dtype=np.float64)
    if np.isscalar(edges):
        edges = np.unique(np.quantile(b, np.linspace(0, 1, int(edges) + 1)))
    edges = np.asarray(edges, dtype=np.float64)
    if len(edges) < 3:
        return float("nan")  # a constant observable has one bin and no shape to compare

    def normalised(values, weights):
        clipped = np.clip(values, edges[0], edges[-1])
        counts, _ = np.histogram(clipped, edges, weights=weights)
        squares, _ = np.histogram(clipped, edges, weights=weights**2)
        return counts / weights.sum(), squares / weights.sum() ** 2

    (p_a, var_a), (p_b, var_b) = normalised(a, weights_a), normalised(b, weights_b)
    used = (var_a + var_b) > 0
    chi2 = np.sum((p_a[used] - p_b[used]) ** 2 / (var_a[used] + var_b[used]))
    return float(chi2 / max(used.sum() - 1, 1))


def weighted_ks(a, b, *, weights_a=None, weights_b=None) -> tuple[float, float]:
    """(D, p-value): the largest distance between the weighted empirical CDFs of ``a`` and ``b``, and its
    p-value for the effective sample sizes (asymptotic, scipy's ``kstwo``)."""
    from scipy.stats import kstwo

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    weights_a = np.ones(len(a)) if weights_a is None else np.asarray(weights_a, dtype=np.float64)
    weights_b = np.ones(len(b)) if weights_b is None else np.asarray(weights_b, dtype=np.float64)
    points = np.union1d(a, b)

    def cdf(values, weights):
        order = np.argsort(values)
        cumulative = np.concatenate([[0.0], np.cumsum(weights[order])]) / weights.sum()
        return cumulative[np.searchsorted(values[order], points, side="right")]

    distance = float(np.max(np.abs(cdf(a, weights_a) - cdf(b, weights_b))))
    n_a, n_b = effective_sample_size(weights_a), effective_sample_size(weights_b)
    n = max(int(round(n_a * n_b / (n_a + n_b))), 1)
    return distance, float(kstwo.sf(distance, n))


def agreement_table(original, target, names, *, weights: dict[str, np.ndarray] | None = None, bins: int = 20):
    """χ²/ndf and KS distance of every column of ``original`` (n, k) against ``target`` (m, k), unweighted
    ("before") and with each set of ``weights`` (n,) for the original sample. A pandas DataFrame, one row per
    observable in ``names``, columns ``chi2/ndf before``, ``KS before`` and the same per weights' name."""
    import pandas as pd

    original, target = np.asarray(original), np.asarray(target)
    if original.shape[1] != len(names) or target.shape[1] != len(names):
        raise ValueError(f"{len(names)} names for samples of {original.shape[1]} and {target.shape[1]} columns")
    rows = []
    for k, name in enumerate(names):
        row = {"observable": name}
        for label, w in {"before": None, **(weights or {})}.items():
            row[f"chi2/ndf {label}"] = chi2_ndf(original[:, k], target[:, k], weights_a=w, edges=bins)
            row[f"KS {label}"] = weighted_ks(original[:, k], target[:, k], weights_a=w)[0]
        rows.append(row)
    return pd.DataFrame(rows).set_index("observable")
