"""Metrics of a tagger's robustness on cases with known answers: distance correlation, JSD, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from hepwb import metrics


def test_distance_correlation_of_independent_and_dependent_samples():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 2000))
    assert metrics.distance_correlation(x, y) < 0.05  # independent: 0 up to ~1/sqrt(n)
    assert metrics.distance_correlation(x, 3 * x - 7) == pytest.approx(1.0)
    assert metrics.distance_correlation(x, -x) == pytest.approx(1.0)
    # a parabola: Pearson's correlation is 0, the distance correlation is not
    assert abs(np.corrcoef(x, x**2)[0, 1]) < 0.1 and metrics.distance_correlation(x, x**2) > 0.4


def test_a_weight_of_two_is_the_same_as_the_entry_twice():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(2, 50))
    y += 0.5 * x
    weights = np.ones(50)
    weights[:10] = 2.0
    doubled = metrics.distance_correlation(np.r_[x, x[:10]], np.r_[y, y[:10]])
    assert metrics.distance_correlation(x, y, weights) == pytest.approx(doubled, rel=1e-12)
    with pytest.raises(ValueError, match="same length"):
        metrics.distance_correlation(x, y[:-1])


def test_jensen_shannon_divergence_limits():
    assert metrics.jensen_shannon([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0, abs=1e-12)  # same shape
    assert metrics.jensen_shannon([1, 0], [0, 5]) == pytest.approx(1.0)  # disjoint: 1 bit
    # by hand: p = (1/2, 1/2), q = (1, 0), m = (3/4, 1/4)
    by_hand = 0.5 * (0.5 * np.log2(0.5 / 0.75) + 0.5 * np.log2(0.5 / 0.25)) + 0.5 * np.log2(1 / 0.75)
    assert metrics.jensen_shannon([1, 1], [1, 0]) == pytest.approx(by_hand)
    with pytest.raises(ValueError, match="same bins"):
        metrics.jensen_shannon([1, 2], [1, 2, 3])


def test_calibrated_scores_have_no_calibration_error():
    rng = np.random.default_rng(3)
    n, n_classes = 200_000, 3
    scores = rng.dirichlet(np.ones(n_classes), size=n)
    # draw the labels from the scores themselves: calibrated by construction (vectorised for speed)
    labels = (rng.random(n)[:, None] > np.cumsum(scores, axis=1)).sum(axis=1)
    assert metrics.expected_calibration_error(labels, scores) < 0.01
    overconfident = scores**3 / (scores**3).sum(axis=1, keepdims=True)  # same ranking, sharper
    assert metrics.expected_calibration_error(labels, overconfident) > 0.1


def test_reliability_bins_count_every_jet():
    scores = np.array([[0.95, 0.05], [0.55, 0.45], [0.2, 0.8], [0.4, 0.6]])
    table = metrics.reliability([0, 1, 1, 1], scores, n_bins=5)
    assert table["counts"].sum() == 4 and table["counts"][4] == 1 and table["counts"][2] == 2
    assert table["accuracy"][2] == pytest.approx(0.5) and table["confidence"][2] == pytest.approx(0.575)
    assert np.isnan(table["accuracy"][0])  # nobody is less than 50 % sure of two classes
    with pytest.raises(ValueError, match="n_jets, n_classes"):
        metrics.reliability([0, 1], [0.3, 0.9])
