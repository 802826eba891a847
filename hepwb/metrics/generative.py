"""How close is a generated sample to the simulated one? Per-feature Kolmogorov-Smirnov and 1-Wasserstein
distances (scipy.stats), the statistics score, the Fréchet and kernel physics distances (FPD, KPD) of
Kansal et al. (2022), the agreement of the tails, and the classifier two-sample test. Inputs are tables
(n, d) of physical features, simulated ("real") first, generated second."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import roc_auc_score


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
    # only the statistic is used, which the method does not change; "exact" p-values of small samples fail
    # with a RuntimeWarning when values repeat (a generator that makes a feature constant)
    return {name: {"ks": float(ks_2samp(real[:, j], generated[:, j], method="asymp").statistic),
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
    # near-singular for features that are almost always 0 (5th jet pT): the root is fine
    with warnings.catch_warnings():
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


def balanced_samples(simulated, generated, rng: np.random.Generator, *, minimum: int = 100,
                     what: str = "events") -> tuple[np.ndarray, np.ndarray]:
    """Both tables (n, d) cut at random to the smaller size n and stacked, with labels 0 (simulated) and 1
    (generated): the input of a classifier two-sample test. At least ``minimum`` rows of each are required."""
    simulated, generated = _check_tables(simulated, generated)
    n = min(len(simulated), len(generated))
    if n < minimum:
        raise ValueError(f"the classifier test needs at least {minimum} {what} of each sample, got {n}")
    x = np.concatenate([simulated[rng.permutation(len(simulated))[:n]], generated[rng.permutation(len(generated))[:n]]])
    return x, np.concatenate([np.zeros(n), np.ones(n)])


def classifier_two_sample_test(simulated, generated, *, n_bootstrap: int = 100, seed: int = 1) -> dict:
    """Can a classifier tell generated from simulated events? Its ROC AUC on events it did not train on.

    The field's test for generative models (the CaloChallenge's; Lopez-Paz & Oquab 2017): a
    gradient-boosted classifier (sklearn's HistGradientBoostingClassifier) learns to separate the two
    samples, cut to the same size; with two folds every event is scored by the classifier that did not
    see it. 0.5: indistinguishable; 1: always told apart. The error is the standard deviation of the AUC
    over ``n_bootstrap`` resamplings of the scored events. Tables (n, d) with the same d.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(seed)
    x, y = balanced_samples(simulated, generated, rng)
    n = len(x) // 2
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
