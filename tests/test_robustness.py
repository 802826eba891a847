"""A tagger's robustness: metrics on cases with known answers (distance correlation, JSD, calibration,
mass sculpting), the DisCo term, ensemble spreads, and the W-versus-QCD sample."""

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


def test_disco_term_in_tensorflow_equals_the_metric_squared():
    from hepwb.models.decorrelation import distance_correlation_squared

    rng = np.random.default_rng(4)
    x = rng.normal(size=300)
    y = x**2 + 0.3 * rng.normal(size=300)
    weights = (rng.random(300) > 0.4).astype(float)
    expected = metrics.distance_correlation(x, y, weights) ** 2
    assert float(distance_correlation_squared(x, y, weights)) == pytest.approx(expected, rel=1e-5)


def test_a_cut_on_the_mass_itself_sculpts_and_a_random_score_does_not():
    rng = np.random.default_rng(5)
    mass = np.r_[rng.exponential(60, 5000), rng.normal(80, 8, 5000)]
    is_signal = np.r_[np.zeros(5000), np.ones(5000)].astype(bool)
    edges = np.linspace(0, 250, 26)
    peaked = metrics.mass_sculpting(-np.abs(mass - 80), mass, is_signal, 0.5, edges)  # "is it near 80 GeV?"
    blind = metrics.mass_sculpting(rng.random(10000), mass, is_signal, 0.5, edges)
    assert peaked["jsd"] > 0.3 and blind["jsd"] < 0.01
    assert blind["rejection"] == pytest.approx(2.0, rel=0.1)  # a random cut keeping half the signal
    assert peaked["pass_counts"].sum() + peaked["fail_counts"].sum() <= 5000


def test_a_cut_that_no_background_passes_gives_a_bounded_rejection_and_finite_metrics():
    """At school size the best taggers can pass no background jet at 30 % signal efficiency (seed 2 of 05):
    the rejection is then the lower bound n_background, the JSD is undefined, and metrics.json leaves it out
    instead of refusing the notebook's last cell."""
    from hepwb.studies import robustness

    mass = np.r_[np.linspace(10, 200, 300), np.full(100, 80.0)]
    is_signal = np.r_[np.zeros(300), np.ones(100)].astype(bool)
    perfect = metrics.mass_sculpting(is_signal.astype(float), mass, is_signal, 0.3, np.linspace(0, 260, 14))
    assert perfect["background_passing"] == 0 and perfect["rejection"] == 300.0 and np.isnan(perfect["jsd"])
    written = robustness.sculpting_metrics({("perfect", 0.3): perfect})
    assert written == {"perfect at 30%": {"rejection": 300.0, "background_passing": 0}}


@pytest.mark.slow
def test_disco_training_decorrelates_the_output_from_the_mass():
    from hepwb.models.decorrelation import binary_tagger

    rng = np.random.default_rng(6)
    n = 4000
    is_signal = rng.random(n) < 0.5
    mass = np.where(is_signal, rng.normal(80, 10, n), rng.exponential(60, n))
    shape = np.where(is_signal, 1.0, 0.0) + rng.normal(0, 1.0, n)  # a mass-independent handle
    x = np.column_stack([(mass - 60) / 40, shape]).astype(np.float32)
    y = np.column_stack([is_signal, mass]).astype(np.float32)
    background = ~is_signal
    correlation = {}
    for weight in (0.0, 30.0):
        model = binary_tagger(2, disco_weight=weight, seed=1)
        model.fit(x, y, epochs=15, batch_size=1000, verbose=0)
        score = model.predict(x, verbose=0)[:, 0]
        correlation[weight] = metrics.distance_correlation(score[background][:2000], mass[background][:2000])
    assert correlation[0.0] > 0.5 and correlation[30.0] < 0.5 * correlation[0.0]


def test_ensemble_spread_is_zero_for_identical_members_and_grows_with_disagreement():
    from hepwb.models import uncertainty

    same = np.repeat(np.array([[[0.7, 0.3], [0.2, 0.8]]]), 4, axis=0)
    mean, spread = uncertainty.spread(same)
    assert np.allclose(mean, same[0]) and np.allclose(spread, 0.0)
    different = same.copy()
    different[0, 0] = [0.9, 0.1]
    assert uncertainty.spread(different)[1][0] > 0 and uncertainty.spread(different)[1][1] == 0


def test_w_against_qcd_keeps_three_classes_as_two():
    from hepwb import samples
    from hepwb.studies import robustness

    sample = samples.jets.load("jets", max_jets=500, particles=False, images=False, seed=2)
    binary = robustness.signal_vs_background(sample, "W")
    assert binary.classes == ("QCD", "W") and len(binary) == 300 and binary.labels.sum() == 100
    assert np.all(robustness.jet_mass(binary) >= 0)
    with pytest.raises(ValueError, match="must be distinct classes"):
        robustness.signal_vs_background(sample, "Higgs")
