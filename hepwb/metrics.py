"""Quality metrics for classifiers (on top of sklearn.metrics) and for generative models (scipy.stats).

Owns: one-vs-rest ROC curves, AUC, background rejection 1/eps_B at a signal efficiency,
accuracy, confusion matrices, working points, and the comparison table of several models;
for generators: per-feature Kolmogorov-Smirnov and 1-Wasserstein distances, the statistics
score, the Frechet and kernel physics distances (FPD, KPD) of Kansal et al. (2022), the agreement of
the tails and the classifier two-sample test; for anomaly
detection: the true-positive rate at a trigger's false-positive rate, with uncertainties, as a rate;
for energy regression: response and resolution in bins, trigger turn-on curves and their fitted
50 % and 95 % points, the threshold for an efficiency, the rate it lets through, and agreement in pT.
"""

from __future__ import annotations

import warnings

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


# ---------------------------------------------------------------------------------------------
# Generative models: how close is a generated sample to the real one?
# Inputs are tables (n, d) of physical features, real first, generated second.
# ---------------------------------------------------------------------------------------------


def _check_tables(real, generated) -> tuple[np.ndarray, np.ndarray]:
    real, generated = np.asarray(real, dtype=np.float64), np.asarray(generated, dtype=np.float64)
    if real.ndim != 2 or generated.ndim != 2 or real.shape[1] != generated.shape[1]:
        raise ValueError(f"expected two tables (n, d) with the same d, got {real.shape} and {generated.shape}")
    if len(real) < 2 or len(generated) < 2:
        raise ValueError("each sample needs at least two events")
    return real, generated


def feature_distances(real, generated, names) -> dict[str, dict[str, float]]:
    """Per feature: two-sample Kolmogorov-Smirnov statistic and 1-Wasserstein distance (feature units)."""
    from scipy.stats import ks_2samp, wasserstein_distance

    real, generated = _check_tables(real, generated)
    method = "asymp" if min(len(real), len(generated)) > 1000 else "auto"  # exact p-values are not needed
    return {name: {"ks": float(ks_2samp(real[:, j], generated[:, j], method=method).statistic),
                   "w1": float(wasserstein_distance(real[:, j], generated[:, j]))} for j, name in enumerate(names)}


def statistics_score(real, generated, *, min_correlation: float = 0.1) -> float:
    """Relative mismatch of means and covariances (the seed material's score; 0 for identical samples).

    mean over feature pairs i < j of |cov_ij(gen) - cov_ij(real)| / |cov_ij(real)| plus mean over features of
    |mu_i(gen) - mu_i(real)| / |mu_i(real)|. Features are first scaled to [0, 1] with the real sample's
    range, so that the means of centred quantities (eta, phi) are not divided by ~0; the pair term
    keeps the pairs whose real correlation is at least ``min_correlation`` in size, since the relative
    change of a covariance compatible with zero is noise (0 keeps every pair, as literally defined).
    """
    real, generated = _check_tables(real, generated)
    low, span = real.min(axis=0), np.ptp(real, axis=0)
    span[span == 0] = 1.0
    real, generated = (real - low) / span, (generated - low) / span
    mean_real, mean_gen = real.mean(axis=0), generated.mean(axis=0)
    safe_mean = np.where(mean_real == 0, 1.0, np.abs(mean_real))
    mean_term = np.mean(np.abs(mean_gen - mean_real) / safe_mean)
    cov_real, cov_gen = np.cov(real, rowvar=False), np.cov(generated, rowvar=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov_real / np.sqrt(np.outer(np.diag(cov_real), np.diag(cov_real)))
    upper = np.triu(np.ones_like(cov_real, dtype=bool), k=1) & (np.abs(np.nan_to_num(corr)) >= min_correlation)
    pair_term = np.mean(np.abs(cov_gen - cov_real)[upper] / np.abs(cov_real)[upper]) if upper.any() else 0.0
    return float(pair_term + mean_term)


def _normalised_pair(real, generated):
    """Both tables divided by the real sample's largest |value| per feature (Kansal et al.'s normalisation)."""
    scale = np.max(np.abs(real), axis=0)
    scale[scale == 0] = 1.0
    return real / scale, generated / scale


def frechet_distance(real, generated) -> float:
    """Frechet distance between Gaussians fitted to two samples: |mu1 - mu2|^2 + Tr(C1 + C2 - 2 sqrt(C1 C2))."""
    from scipy.linalg import LinAlgWarning, sqrtm

    real, generated = _check_tables(real, generated)
    mu1, mu2 = real.mean(axis=0), generated.mean(axis=0)
    c1, c2 = np.atleast_2d(np.cov(real, rowvar=False)), np.atleast_2d(np.cov(generated, rowvar=False))
    with warnings.catch_warnings():  # near-singular for features that are almost always 0 (5th jet pT): the root is fine
        warnings.simplefilter("ignore", LinAlgWarning)
        root = sqrtm(c1 @ c2)
    if not np.isfinite(root).all():  # singular product: regularise, as in the FID literature
        offset = 1e-6 * np.eye(len(c1))
        root = sqrtm((c1 + offset) @ (c2 + offset))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2.0 * np.real(root)))


def fpd(real, generated, *, min_samples: int | None = None, max_samples: int | None = None, n_points: int = 10,
        n_batches: int = 10, seed: int = 42) -> tuple[float, float]:
    """Frechet physics distance extrapolated to infinite sample size, and its error (Kansal et al. 2022).

    Features are normalised by the real sample's largest |value|; the Frechet distance is averaged over
    ``n_batches`` resamplings at each of ``n_points`` batch sizes spaced evenly in 1/N between
    ``min_samples`` (default: max_samples / 5) and ``max_samples`` (default: the smaller sample's size;
    Kansal et al. use 20 000 to 50 000 events, this workbench's samples are smaller), and a straight line in
    1/N is fitted, its intercept bounded below by 0; returns (intercept, its standard error). Written here
    because the reference implementation (jetnet) needs PyTorch.
    """
    real, generated = _normalised_pair(*_check_tables(real, generated))
    max_samples = max_samples or min(len(real), len(generated))
    min_samples = min_samples or max_samples // 5
    if not 2 <= min_samples < max_samples:
        raise ValueError(f"need 2 <= min_samples < max_samples, got {min_samples} and {max_samples} "
                         f"(samples of {len(real)} and {len(generated)} events)")
    sizes = (1.0 / np.linspace(1.0 / min_samples, 1.0 / max_samples, n_points)).astype(int)
    rng = np.random.default_rng(seed)
    values = [np.mean([frechet_distance(real[rng.choice(len(real), size)], generated[rng.choice(len(generated), size)])
                       for _ in range(n_batches)]) for size in sizes]
    # linear least squares (curve_fit's iterative search stops early at these ~1e-5 scales); with the
    # intercept bounded below by 0, the constrained optimum is the unconstrained one clipped at 0
    (_, intercept), covariance = np.polyfit(1.0 / sizes, values, 1, cov=True)
    return float(max(intercept, 0.0)), float(np.sqrt(covariance[1, 1]))


def kpd(real, generated, *, batch_size: int = 2000, n_batches: int = 10, seed: int = 42) -> tuple[float, float]:
    """Kernel physics distance (Kansal et al. 2022): unbiased MMD^2 with the kernel (x.y / d + 1)^4.

    Features normalised as in ``fpd``; the MMD is estimated on ``n_batches`` resampled batches; returns the
    median and half the 16-84 % interquantile range. 0 for one distribution, up to fluctuations.
    """
    real, generated = _normalised_pair(*_check_tables(real, generated))
    batch_size = min(batch_size, len(real), len(generated))
    d = real.shape[1]

    def kernel(a, b):
        return (a @ b.T / d + 1.0) ** 4

    def off_diagonal_mean(k):
        return (k.sum() - np.trace(k)) / (len(k) * (len(k) - 1))

    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_batches):
        x, y = real[rng.choice(len(real), batch_size)], generated[rng.choice(len(generated), batch_size)]
        values.append(off_diagonal_mean(kernel(x, x)) + off_diagonal_mean(kernel(y, y)) - 2 * kernel(x, y).mean())
    low, high = np.percentile(values, [16.275, 83.725])
    return float(np.median(values)), float((high - low) / 2)


def histogram_pulls(real, generated, edges) -> np.ndarray:
    """Per bin of ``edges``: (scaled generated - real) / sigma, Poisson errors of both counts.

    The generated counts are scaled to the real sample's size (it may be larger: 10x augmentation); both
    samples count every event, also those outside ``edges`` (a tail bin must not be normalised to the tail
    alone). Bins empty in both give NaN.
    """
    real, generated = np.asarray(real), np.asarray(generated)
    n_real, _ = np.histogram(real, edges)
    n_gen, _ = np.histogram(generated, edges)
    scale = len(real) / len(generated)
    sigma = np.sqrt(n_real + scale**2 * n_gen)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sigma > 0, (scale * n_gen - n_real) / sigma, np.nan)



def tail_agreement(simulated, generated, *, quantile: float = 0.95, lower_tail: bool | None = None,
                   n_bins: int = 10, n_sigma: float = 2.0) -> dict:
    """How well a generator makes the tails of one feature: the fraction of tail bins that agree within ``n_sigma``.

    The upper tail is the simulated events above the ``quantile`` point, split into ``n_bins`` bins of equal
    simulated count, the last one open (generated events beyond the simulated maximum count in it); the
    lower tail, mirrored below the 1 - ``quantile`` point, is added where the feature has one: by default
    (``lower_tail=None``) when fewer than 1 % of simulated events sit at its minimum (a density that falls
    off, not a pile at a bound such as pT = 0 or a count of 0). The pull per bin is (scaled generated -
    simulated) / sigma with Poisson errors of both counts, the generated count scaled to the simulated
    sample's size. Bins that coincide (integer features) are merged.

    Returns ``fraction`` (NaN without tail bins), ``pulls`` (n_bins,) and ``edges``: one array per tail.
    """
    simulated, generated = np.asarray(simulated, dtype=np.float64), np.asarray(generated, dtype=np.float64)
    if simulated.ndim != 1 or generated.ndim != 1 or len(simulated) < n_bins / (1 - quantile) or len(generated) < 2:
        raise ValueError(f"expected two 1-d samples, the simulated one with at least {n_bins / (1 - quantile):.0f} "
                         f"events ({n_bins} bins beyond the {quantile:.0%} point), got {simulated.shape} and "
                         f"{generated.shape}")
    if not 0.5 < quantile < 1:
        raise ValueError(f"quantile must be in (0.5, 1), got {quantile}")
    if lower_tail is None:
        lower_tail = np.mean(simulated == simulated.min()) < 0.01
    tails = [np.quantile(simulated, np.linspace(quantile, 1.0, n_bins + 1))]
    if lower_tail:
        tails.append(np.quantile(simulated, np.linspace(0.0, 1 - quantile, n_bins + 1)))
    edges, pulls = [], []
    for k, tail in enumerate(tails):
        tail = np.unique(tail)
        if len(tail) < 2:
            continue
        # open the outer end: upper tail to +inf, lower tail from -inf
        tail = np.concatenate([tail[:-1], [np.inf]]) if k == 0 else np.concatenate([[-np.inf], tail[1:]])
        edges.append(tail)
        pulls.append(histogram_pulls(simulated, generated, tail))
    pulls = np.concatenate(pulls) if pulls else np.zeros(0)
    finite = pulls[np.isfinite(pulls)]
    fraction = float(np.mean(np.abs(finite) < n_sigma)) if len(finite) else float("nan")
    return {"fraction": fraction, "pulls": pulls, "edges": edges}


def tail_fraction(results, *, n_sigma: float = 2.0) -> float:
    """The fraction of the tail bins of several ``tail_agreement`` results (e.g. m_ll and missing ET together)
    whose pull is within ``n_sigma``."""
    pulls = np.concatenate([np.asarray(r["pulls"], dtype=float) for r in results])
    pulls = pulls[np.isfinite(pulls)]
    return float(np.mean(np.abs(pulls) < n_sigma)) if len(pulls) else float("nan")


def classifier_two_sample_test(simulated, generated, *, n_bootstrap: int = 100, seed: int = 1) -> dict:
    """Can a classifier tell generated from simulated events? Its ROC AUC on events it did not train on.

    The field's test for generative models (the CaloChallenge's; Lopez-Paz & Oquab 2017): a
    gradient-boosted classifier (sklearn's HistGradientBoostingClassifier) learns to separate the two
    samples, cut to the same size; with two folds every event is scored by the classifier that did not
    see it. 0.5: indistinguishable; 1: always told apart. The error is the standard deviation of the AUC
    over ``n_bootstrap`` resamplings of the scored events. Tables (n, d) with the same d.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    simulated, generated = _check_tables(simulated, generated)
    n = min(len(simulated), len(generated))
    if n < 100:
        raise ValueError(f"the classifier test needs at least 100 events of each sample, got {n}")
    rng = np.random.default_rng(seed)
    x = np.concatenate([simulated[rng.permutation(len(simulated))[:n]], generated[rng.permutation(len(generated))[:n]]])
    y = np.concatenate([np.zeros(n), np.ones(n)])
    fold = rng.permutation(2 * n) % 2
    scores = np.empty(2 * n)
    for k in (0, 1):
        classifier = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, early_stopping=True,
                                                    validation_fraction=0.2, random_state=seed)
        classifier.fit(x[fold != k], y[fold != k])
        scores[fold == k] = classifier.predict_proba(x[fold == k])[:, 1]
    auc = float(roc_auc_score(y, scores))
    picks = rng.integers(0, 2 * n, size=(n_bootstrap, 2 * n))
    spread = np.std([roc_auc_score(y[p], scores[p]) for p in picks])
    return {"auc": auc, "auc_error": float(spread), "events": int(n)}

# ---- anomaly detection at a trigger ---------------------------------------------------------

LHC_BUNCH_CROSSING_RATE_HZ = 40e6  # the collision stream a Level-1 trigger looks at


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
            "rate_hz": achieved * LHC_BUNCH_CROSSING_RATE_HZ,
            "rate_error_hz": np.sqrt(n_above) / len(background) * LHC_BUNCH_CROSSING_RATE_HZ}


def anomaly_report(background_scores, signal_scores: dict, fpr: float) -> dict[str, dict]:
    """Per signal: AUC (sklearn), the ROC curve (fpr, tpr) and ``tpr_at_fpr`` at ``fpr`` (higher score = more anomalous)."""
    background = np.asarray(background_scores, dtype=np.float64)
    report = {}
    for name, scores in signal_scores.items():
        scores = np.asarray(scores, dtype=np.float64)
        truth = np.concatenate([np.zeros(len(background)), np.ones(len(scores))])
        everything = np.concatenate([background, scores])
        curve_fpr, curve_tpr, _ = roc_curve(truth, everything)
        report[name] = {"auc": float(roc_auc_score(truth, everything)), "roc": (curve_fpr, curve_tpr),
                        **tpr_at_fpr(background, scores, fpr)}
    return report


def anomaly_table(reports: dict[str, dict[str, dict]]):
    """One row per (model, signal) of ``anomaly_report`` results: AUC, TPR and FPR with their errors, rate."""
    import pandas as pd

    return pd.DataFrame([{"model": model, "signal": signal, "AUC": r["auc"],
                          "TPR @ FPR": f"{r['tpr']:.3f} ± {r['tpr_error']:.3f}",
                          "FPR": f"{r['fpr']:.1e} ± {r['fpr_error']:.0e}", "rate [kHz]": r["rate_hz"] / 1e3}
                         for model, per_signal in reports.items() for signal, r in per_signal.items()])


# ------------------------------------------------------------------------------------------
# robustness of a tagger: mass sculpting (distance correlation, JSD) and calibration (ECE)
# ------------------------------------------------------------------------------------------

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


def mass_sculpting(scores, mass, is_signal, signal_efficiency: float, edges) -> dict:
    """What a cut on a binary tagger's score does to the background mass distribution.

    The threshold keeps ``signal_efficiency`` of the signal; returns the threshold, the background
    rejection 1/ε_B, the background mass histograms (``edges`` in GeV, counts) of the jets that pass and
    that fail, and their Jensen-Shannon divergence (0: the cut leaves the mass shape alone).
    """
    scores, mass, is_signal = (np.asarray(a) for a in (scores, mass, is_signal))
    if not 0 < signal_efficiency < 1:
        raise ValueError(f"signal_efficiency must be in (0, 1), got {signal_efficiency}")
    threshold = float(np.quantile(scores[is_signal.astype(bool)], 1 - signal_efficiency))
    background = ~is_signal.astype(bool)
    passed = scores[background] >= threshold
    pass_counts = np.histogram(mass[background][passed], edges)[0]
    fail_counts = np.histogram(mass[background][~passed], edges)[0]
    efficiency = passed.mean()
    return {"threshold": threshold, "rejection": float(1 / efficiency) if efficiency > 0 else float("inf"),
            "jsd": jensen_shannon(pass_counts, fail_counts) if pass_counts.sum() and fail_counts.sum() else float("nan"),
            "edges": np.asarray(edges, dtype=float), "pass_counts": pass_counts, "fail_counts": fail_counts}


# ------------------------------------------------------------------------------------------
# energy regression and triggers
# ------------------------------------------------------------------------------------------

def _bootstrap(values: np.ndarray, statistic, n_bootstrap: int, rng: np.random.Generator) -> float:
    """Standard deviation of ``statistic`` over ``n_bootstrap`` resamples of ``values``.

    By hand, not scipy.stats.bootstrap: its seed argument changed name (random_state -> rng) within the
    SciPy versions pyproject allows, and the standard error is all that is needed here.
    """
    picks = rng.integers(0, len(values), size=(n_bootstrap, len(values)))
    return float(np.std([statistic(values[p]) for p in picks]))


def _response(ratio):
    return float(np.median(ratio))


def _resolution(ratio):
    low, median, high = np.percentile(ratio, [16, 50, 84])
    return float((high - low) / 2 / median)


def response_resolution(predicted, true, edges, *, by=None, min_jets: int = 20, n_bootstrap: int = 50,
                        seed: int = 1):
    """Jet energy scale and resolution in bins: the standard calibration figures of merit.

    Per bin of ``by`` (default: the true pT; e.g. |eta| instead), the response is the median of
    predicted / true and the resolution half the 16-84 % interquantile range of predicted / true over
    that median (a Gaussian's sigma / mean, robust to tails). Errors are bootstrap standard deviations
    (``n_bootstrap`` resamples, fixed ``seed``). Bins with fewer than ``min_jets`` jets get NaN.
    Returns a DataFrame: low, high, centre, jets, response, response_error, resolution, resolution_error.
    """
    import pandas as pd

    predicted, true = np.asarray(predicted, dtype=np.float64), np.asarray(true, dtype=np.float64)
    if predicted.shape != true.shape:
        raise ValueError(f"predicted and true must have the same shape, got {predicted.shape} and {true.shape}")
    if np.any(true <= 0):
        raise ValueError("true values must be positive (they divide the prediction)")
    by = true if by is None else np.asarray(by, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    rng = np.random.default_rng(seed)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        ratio = (predicted / true)[(by >= low) & (by < high)]
        row = {"low": low, "high": high, "centre": 0.5 * (low + high), "jets": len(ratio)}
        if len(ratio) >= min_jets:
            row.update(response=_response(ratio), response_error=_bootstrap(ratio, _response, n_bootstrap, rng),
                       resolution=_resolution(ratio),
                       resolution_error=_bootstrap(ratio, _resolution, n_bootstrap, rng))
        rows.append(row)
    columns = ["low", "high", "centre", "jets", "response", "response_error", "resolution", "resolution_error"]
    return pd.DataFrame(rows, columns=columns)


def turn_on(l1_pt, offline_pt, threshold: float, edges):
    """Trigger efficiency against offline pT: the fraction of jets in each offline-pT bin whose Level-1
    pT passes ``threshold`` [GeV], with 68 % Clopper-Pearson intervals (scipy.stats.beta).

    Returns a DataFrame: low, high, centre, jets, passed, efficiency, error_low, error_high.
    """
    import pandas as pd
    from scipy import stats

    l1_pt, offline_pt = np.asarray(l1_pt, dtype=np.float64), np.asarray(offline_pt, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    total = np.histogram(offline_pt, edges)[0]
    passed = np.histogram(offline_pt[l1_pt >= threshold], edges)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        efficiency = passed / total
    lower = np.where(passed > 0, stats.beta.ppf(0.16, passed, total - passed + 1), 0.0)
    upper = np.where(passed < total, stats.beta.ppf(0.84, passed + 1, total - passed), 1.0)
    return pd.DataFrame({"low": edges[:-1], "high": edges[1:], "centre": 0.5 * (edges[:-1] + edges[1:]),
                         "jets": total, "passed": passed, "efficiency": efficiency,
                         "error_low": np.where(total > 0, efficiency - lower, np.nan),
                         "error_high": np.where(total > 0, upper - efficiency, np.nan)})


def turn_on_fit(l1_pt, offline_pt, threshold: float, *, fit_range=(0.3, 2.5)) -> dict:
    """Fit an error function to a turn-on, jet by jet (unbinned binomial likelihood).

    efficiency(x) = Phi((x - mu) / sigma) for offline pT x within ``fit_range`` x threshold. Returns
    mu (the 50 % point), sigma (the width), pt95 = mu + 1.645 sigma (where the trigger is 95 %
    efficient), all in GeV, with errors from the likelihood's curvature.
    """
    from scipy import optimize, stats

    l1_pt, offline_pt = np.asarray(l1_pt, dtype=np.float64), np.asarray(offline_pt, dtype=np.float64)
    window = (offline_pt > fit_range[0] * threshold) & (offline_pt < fit_range[1] * threshold)
    x, passed = offline_pt[window], l1_pt[window] >= threshold
    if passed.sum() == 0 or passed.all():
        raise ValueError(f"no turn-on to fit: {passed.sum()} of {len(x)} jets near the threshold pass it")

    def negative_log_likelihood(parameters):
        mu, log_sigma = parameters
        z = (x - mu) / np.exp(log_sigma)
        return -np.sum(np.where(passed, stats.norm.logcdf(z), stats.norm.logsf(z)))

    start = (float(np.median(x[passed])) if passed.any() else threshold, np.log(0.1 * threshold))
    result = optimize.minimize(negative_log_likelihood, start, method="Nelder-Mead",
                               options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 2000})
    mu, log_sigma = result.x
    sigma = float(np.exp(log_sigma))
    covariance = np.linalg.pinv(_hessian(negative_log_likelihood, result.x, steps=(0.01 * sigma, 0.01)))
    mu_error = float(np.sqrt(max(covariance[0, 0], 0.0)))
    sigma_error = float(sigma * np.sqrt(max(covariance[1, 1], 0.0)))
    pt95_error = float(np.sqrt(max(covariance[0, 0] + (1.645 * sigma) ** 2 * covariance[1, 1]
                                   + 2 * 1.645 * sigma * covariance[0, 1], 0.0)))
    return {"mu": float(mu), "mu_error": mu_error, "sigma": sigma, "sigma_error": sigma_error,
            "pt95": float(mu + 1.645 * sigma), "pt95_error": pt95_error}


def _hessian(function, at, steps) -> np.ndarray:
    """Second derivatives of a scalar function of a few parameters by central differences (shape (k, k))."""
    at, steps = np.asarray(at, dtype=np.float64), np.asarray(steps, dtype=np.float64)
    k = len(at)

    def shifted(i, j, a, b):
        point = at.copy()
        point[i] += a * steps[i]
        point[j] += b * steps[j]
        return function(point)

    hessian = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            hessian[i, j] = (shifted(i, j, 1, 1) - shifted(i, j, 1, -1) - shifted(i, j, -1, 1)
                             + shifted(i, j, -1, -1)) / (4 * steps[i] * steps[j])
    return hessian


def threshold_at_efficiency(l1_pt, offline_pt, offline_value: float, *, efficiency: float = 0.95,
                            half_window: float = 5.0) -> float:
    """The Level-1 threshold [GeV] that keeps ``efficiency`` of the jets whose offline pT is within
    ``half_window`` GeV of ``offline_value``: the trigger is that efficient there."""
    l1_pt, offline_pt = np.asarray(l1_pt, dtype=np.float64), np.asarray(offline_pt, dtype=np.float64)
    near = np.abs(offline_pt - offline_value) < half_window
    if near.sum() < 20:
        raise ValueError(f"only {near.sum()} jets with offline pT within {half_window} GeV of {offline_value} GeV; "
                         "need at least 20 to set a threshold")
    return float(np.quantile(l1_pt[near], 1 - efficiency))


def trigger_rate(l1_pt, threshold: float, weights=None) -> dict:
    """The weighted fraction of jets whose Level-1 pT passes ``threshold``, and its error.

    With the Pythia weights of ``l1_jets`` this is the fraction of the QCD jet cross-section that fires the
    trigger: the rate in units of the rate of all stored jets. Error: sqrt(sum w^2 of passing) / sum w.
    """
    l1_pt = np.asarray(l1_pt, dtype=np.float64)
    weights = np.ones_like(l1_pt) if weights is None else np.asarray(weights, dtype=np.float64)
    passed = l1_pt >= threshold
    return {"fraction": float(weights[passed].sum() / weights.sum()),
            "error": float(np.sqrt(np.sum(weights[passed] ** 2)) / weights.sum()), "jets_passing": int(passed.sum())}


def pt_agreement(pt_a, pt_b, *, step: float = 0.5) -> dict:
    """How well two implementations of a pT regression agree (e.g. QKeras and its firmware):
    the fraction of jets within one ``step`` [GeV] and the largest difference."""
    difference = np.abs(np.asarray(pt_a, dtype=np.float64).reshape(-1) - np.asarray(pt_b, dtype=np.float64).reshape(-1))
    return {"within_step_fraction": float(np.mean(difference <= step)), "max_abs_difference": float(difference.max())}


def rate_curve(l1_pt, offline_pt, offline_values, weights=None, *, efficiency: float = 0.95,
               half_window: float = 5.0):
    """The trigger rate against the offline pT at which it is ``efficiency`` efficient: per value of
    ``offline_values`` [GeV], the threshold (``threshold_at_efficiency``) and the rate it lets through
    (``trigger_rate``). A sharper calibration reaches the same efficiency with a higher threshold, so its
    curve lies lower. Points with fewer than 20 jets near them are NaN. Returns a DataFrame: offline_pt,
    threshold, rate, rate_error."""
    import pandas as pd

    rows = []
    for value in offline_values:
        try:
            threshold = threshold_at_efficiency(l1_pt, offline_pt, value, efficiency=efficiency,
                                                half_window=half_window)
        except ValueError:  # too few jets near this offline pT: no point
            rows.append({"offline_pt": float(value), "threshold": np.nan, "rate": np.nan, "rate_error": np.nan})
            continue
        rate = trigger_rate(l1_pt, threshold, weights)
        rows.append({"offline_pt": float(value), "threshold": threshold, "rate": rate["fraction"],
                     "rate_error": rate["error"]})
    return pd.DataFrame(rows)
