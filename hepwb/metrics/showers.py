"""The CaloChallenge's evaluation of generated showers, written once (the challenge's own definitions,
``evaluate.py`` and ``HighLevelFeatures.py`` of CaloChallenge/homepage, re-written here).

- high-level features: the incident and deposited energy, the energy per layer, per layer the centre of
  energy and the width in x and y (layers binned in angle) and in r, and the sparsity (fraction of empty
  voxels);
- their histograms' separation power, 1/2 sum (h1 - h2)^2 / (h1 + h2) of the normalised histograms (0: the
  same, 1: disjoint);
- the classifier two-sample test: a DNN told to separate simulated from generated showers, on the
  challenge's two inputs (voxels, or high-level features), its AUC with a bootstrap spread and the
  Jensen-Shannon divergence estimate of its calibrated loss.

FPD and KPD are ``hepwb.metrics.generative``'s, applied to ``feature_table``.
"""

from __future__ import annotations

import numpy as np

from hepwb.data.calochallenge import Binning, check_showers
from hepwb.metrics.generative import balanced_samples


def high_level_features(energies, showers, binning: Binning, *, threshold: float = 0.0) -> dict[str, np.ndarray]:
    """The challenge's high-level features of showers (n, n_voxels) [MeV] with incident ``energies`` (n,) [MeV].

    Keys: ``E_inc``, ``E_dep``, ``E_ratio`` (E_dep / E_inc), and per relevant layer k: ``E_layer_k``,
    ``EC_r_k`` and ``width_r_k`` [mm], ``sparsity_k``; for layers with more than one angular bin also
    ``EC_x_k``, ``EC_y_k``, ``width_x_k``, ``width_y_k`` [mm] (the challenge's "eta" and "phi").
    Empty layers have centres and widths 0, as in the challenge's code.
    """
    showers = check_showers(showers, binning).astype(np.float64)
    energies = np.asarray(energies, dtype=np.float64).reshape(-1)
    if len(energies) != len(showers):
        raise ValueError(f"{len(energies)} incident energies for {len(showers)} showers")
    out = {"E_inc": energies, "E_dep": showers.sum(axis=1)}
    out["E_ratio"] = out["E_dep"] / energies
    starts = binning.layer_starts
    for k in binning.relevant_layers:
        layer = showers[:, starts[k]:starts[k + 1]]
        total = layer.sum(axis=1)
        out[f"E_layer_{k}"] = total
        x, y = binning.voxel_centres(k)
        out[f"EC_r_{k}"], out[f"width_r_{k}"] = _centre_and_width(layer, total, np.hypot(x, y))
        if binning.n_alpha[k] > 1:
            out[f"EC_x_{k}"], out[f"width_x_{k}"] = _centre_and_width(layer, total, x)
            out[f"EC_y_{k}"], out[f"width_y_{k}"] = _centre_and_width(layer, total, y)
        out[f"sparsity_{k}"] = 1.0 - (layer > threshold).mean(axis=1)
    return out


def _centre_and_width(layer, total, position):
    """Energy-weighted mean and spread of ``position`` over a layer's voxels (n, voxels); 0 for empty layers."""
    safe = total + 1e-16
    centre = (layer * position).sum(axis=1) / safe
    return centre, np.sqrt(np.clip((layer * position**2).sum(axis=1) / safe - centre**2, 0.0, None))


def feature_table(features: dict[str, np.ndarray], names=None, *, log_energies: bool = False
                  ) -> tuple[np.ndarray, list[str]]:
    """The features as a table (n, d) and its column names (default: all but E_inc, in the dict's order).
    ``log_energies``: energies (E_inc, E_dep, E_layer_k) as log10(E / MeV + 1e-3), named ``log10 ...``, as the
    challenge plots them."""
    names = list(names) if names is not None else [k for k in features if k != "E_inc"]
    columns, shown = [], []
    for name in names:
        is_energy = log_energies and (name in ("E_inc", "E_dep") or name.startswith("E_layer_"))
        columns.append(np.log10(features[name] + 1e-3) if is_energy else features[name])
        shown.append(f"log10 {name}" if is_energy else name)
    return np.stack(columns, axis=1), shown


def classifier_inputs(energies, showers, binning: Binning, kind: str) -> np.ndarray:
    """The challenge's classifier inputs: ``"voxels"``: [log10 E_inc, voxels / E_inc * 100] (n, 1 + n_voxels);
    ``"high"``: [log10 E_inc, log10(E_layer + 1e-8), EC_x / 100, EC_y / 100, width_x / 100, width_y / 100]
    (energies in MeV, lengths in mm)."""
    energies = np.asarray(energies, dtype=np.float64).reshape(-1)
    if kind == "voxels":
        return np.concatenate([np.log10(energies)[:, None],
                               check_showers(showers, binning) / energies[:, None] * 100.0], axis=1)
    if kind != "high":
        raise ValueError(f"kind must be 'voxels' or 'high', got {kind!r}")
    features = high_level_features(energies, showers, binning)
    columns = [np.log10(energies)]
    columns += [np.log10(features[f"E_layer_{k}"] + 1e-8) for k in binning.relevant_layers]
    for name in ("EC_x", "EC_y", "width_x", "width_y"):
        columns += [features[f"{name}_{k}"] / 100.0 for k in binning.relevant_layers if f"{name}_{k}" in features]
    return np.stack(columns, axis=1)


def separation_power(real, generated, bins) -> float:
    """1/2 sum over bins of (h_r - h_g)^2 / (h_r + h_g) for histograms normalised to unit sum (the challenge's
    separation power: 0 for identical shapes, 1 for disjoint ones)."""
    h_real, edges = np.histogram(real, bins)
    h_gen, _ = np.histogram(generated, edges)
    h_real = h_real / max(h_real.sum(), 1)
    h_gen = h_gen / max(h_gen.sum(), 1)
    total = h_real + h_gen
    return float(0.5 * np.sum(np.where(total > 0, (h_real - h_gen) ** 2 / np.where(total > 0, total, 1), 0.0)))


def separation_powers(real: dict, generated: dict, names=None, *, n_bins: int = 30) -> dict[str, float]:
    """The separation power of each feature, bins spanning the simulated sample's 0.5-99.5 % range."""
    out = {}
    for name in names or [k for k in real if k != "E_inc"]:
        low, high = np.quantile(real[name], [0.005, 0.995])
        if high <= low:
            high = low + 1.0
        out[name] = separation_power(real[name], generated[name], np.linspace(low, high, n_bins + 1))
    return out


def dnn_two_sample_test(simulated, generated, *, hidden=(512, 512, 512), epochs: int = 50,
                        learning_rate: float = 2e-4, batch_size: int = 1000, n_bootstrap: int = 100,
                        seed: int = 1) -> dict:
    """The CaloChallenge's classifier test: a DNN (ReLU layers ``hidden``, Adam) separates simulated (0) from
    generated (1) inputs (n, d); 60 % train, 20 % validation (early stopping, then isotonic calibration), 20 %
    test. Returns the test AUC, its bootstrap spread, and JSD = (ln 2 - BCE) / ln 2 of the calibrated scores
    (0: indistinguishable, 1: always told apart). scikit-learn's MLPClassifier: the same network on a CPU,
    without a second deep-learning framework in the metrics."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    x, y = balanced_samples(simulated, generated, rng, what="showers")
    n = len(x) // 2
    order = rng.permutation(2 * n)
    train, val, test = np.split(order, [int(0.6 * 2 * n), int(0.8 * 2 * n)])
    scaler = StandardScaler().fit(x[train])
    x = np.nan_to_num(scaler.transform(x), posinf=0.0, neginf=0.0)
    fitted = np.concatenate([train, val[: len(val) // 2]])
    classifier = MLPClassifier(hidden, learning_rate_init=learning_rate,
                               batch_size=min(batch_size, int(0.75 * len(fitted))),
                               max_iter=epochs, early_stopping=True, validation_fraction=0.25, n_iter_no_change=5,
                               random_state=seed)
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(x[fitted], y[fitted])
    calibration = val[len(val) // 2:]
    isotonic = IsotonicRegression(y_min=1e-6, y_max=1 - 1e-6, out_of_bounds="clip")
    isotonic.fit(classifier.predict_proba(x[calibration])[:, 1], y[calibration])
    scores = isotonic.predict(classifier.predict_proba(x[test])[:, 1])
    auc = float(roc_auc_score(y[test], scores))
    picks = rng.integers(0, len(test), size=(n_bootstrap, len(test)))
    spread = float(np.std([roc_auc_score(y[test][p], scores[p]) for p in picks]))
    jsd = (np.log(2) - log_loss(y[test], scores, labels=[0, 1])) / np.log(2)
    return {"auc": auc, "auc_error": spread, "jsd": float(jsd), "showers": int(n), "epochs": int(classifier.n_iter_)}
