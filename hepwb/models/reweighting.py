"""Reweighting one simulation to look like another, in many observables at once.

A classifier trained to tell sample A (label 0) from sample B (label 1) estimates p = P(B | x); for
balanced classes w(x) = p / (1 - p) is the density ratio B(x) / A(x), so A's events weighted by w look like
B's (the likelihood-ratio trick). ``ClassifierReweighter`` does that with scikit-learn's neural network
(calibrated, so that p is a probability); ``GBReweighter`` wraps hep_ml's gradient-boosted reweighter
(Rogozhnikov, J. Phys. Conf. Ser. 762 (2016) 012036), which grows trees on the bins where the two
weighted histograms disagree most. Both take arrays (n, k) and give weights (n,) with mean 1 on A.
"""

from __future__ import annotations

import numpy as np

#: the largest weight a reweighter gives: a few jets with huge weights would make every histogram a coin toss
MAX_WEIGHT = 20.0


def _checked(original, target) -> tuple[np.ndarray, np.ndarray]:
    original, target = np.asarray(original, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if original.ndim != 2 or target.ndim != 2 or original.shape[1] != target.shape[1]:
        raise ValueError(f"the two samples must be arrays (n, k) with the same k, got {original.shape} and "
                         f"{target.shape}")
    if not (np.isfinite(original).all() and np.isfinite(target).all()):
        raise ValueError("the samples hold NaN or infinite values; a reweighter needs finite observables")
    return original, target


def _normalised(weights: np.ndarray) -> np.ndarray:
    weights = np.clip(weights, 0.0, MAX_WEIGHT)
    return weights / weights.mean()


class ClassifierReweighter:
    """w = p / (1 - p) from a neural network separating ``original`` (0) from ``target`` (1).

    ``hidden``: the sizes of the network's hidden layers; ``seed`` fixes its initialisation and split.
    """

    def __init__(self, hidden=(64, 64), *, seed: int = 1):
        self.hidden, self.seed = tuple(hidden), seed
        self.classifier = None

    def fit(self, original, target) -> ClassifierReweighter:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        original, target = _checked(original, target)
        network = make_pipeline(StandardScaler(), MLPClassifier(
            self.hidden, alpha=1e-3, batch_size=256, early_stopping=True, max_iter=200, random_state=self.seed))
        x = np.concatenate([original, target])
        y = np.concatenate([np.zeros(len(original)), np.ones(len(target))])
        # isotonic calibration on held-out folds: p must be a probability for p / (1 - p) to be the ratio
        self.classifier = CalibratedClassifierCV(network, method="isotonic", cv=3).fit(x, y)
        self.prior = len(original) / len(target)  # undoes unequal sample sizes
        return self

    def predict_weights(self, original) -> np.ndarray:
        """Weights (n,) for events of the original sample, mean 1, at most ``MAX_WEIGHT`` before normalising."""
        if self.classifier is None:
            raise RuntimeError("fit the reweighter first: ClassifierReweighter().fit(original, target)")
        original, _ = _checked(original, original)
        p = np.clip(self.classifier.predict_proba(original)[:, 1], 1e-6, 1 - 1e-6)
        return _normalised(p / (1 - p) * self.prior)


class GBReweighter:
    """hep_ml's gradient-boosted reweighter with settings for a few thousand to a hundred thousand events."""

    def __init__(self, n_estimators: int = 60, learning_rate: float = 0.1, max_depth: int = 3,
                 min_samples_leaf: int = 200, *, seed: int = 1):
        from hep_ml.reweight import GBReweighter as HepMLGBReweighter

        self.reweighter = HepMLGBReweighter(n_estimators=n_estimators, learning_rate=learning_rate,
                                            max_depth=max_depth, min_samples_leaf=min_samples_leaf,
                                            gb_args={"subsample": 0.8, "random_state": seed})
        self.fitted = False

    def fit(self, original, target) -> GBReweighter:
        original, target = _checked(original, target)
        self.reweighter.fit(original, target)
        self.fitted = True
        return self

    def predict_weights(self, original) -> np.ndarray:
        """Weights (n,) for events of the original sample, mean 1, at most ``MAX_WEIGHT`` before normalising."""
        if not self.fitted:
            raise RuntimeError("fit the reweighter first: GBReweighter().fit(original, target)")
        original, _ = _checked(original, original)
        return _normalised(self.reweighter.predict_weights(original))


REWEIGHTERS = {"classifier": ClassifierReweighter, "gradient boosting": GBReweighter}
