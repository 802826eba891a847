"""Jet energy regression and triggers: response and resolution in bins, trigger turn-on curves and their
fitted 50 % and 95 % points, the threshold for an efficiency, the rate it lets through, and the agreement of
two implementations in pT."""

from __future__ import annotations

import numpy as np


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
    pT passes ``threshold`` [GeV], with 68 % Clopper-Pearson intervals (``hist.intervals``).

    Returns a DataFrame: low, high, centre, jets, passed, efficiency, error_low, error_high.
    """
    import pandas as pd
    from hist.intervals import clopper_pearson_interval

    l1_pt, offline_pt = np.asarray(l1_pt, dtype=np.float64), np.asarray(offline_pt, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    total = np.histogram(offline_pt, edges)[0]
    passed = np.histogram(offline_pt[l1_pt >= threshold], edges)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        efficiency = passed / total
        lower, upper = clopper_pearson_interval(passed, total, coverage=0.68)
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
