"""Fast simulation: the event features, their invertible preprocessing, the generative metrics, the GAN and the flow."""

from __future__ import annotations

import numpy as np
import pytest

from hepwb import metrics
from hepwb.models import fastsim
from hepwb.samples import events as eventdata
from hepwb.samples.events import FEATURE_NAMES


@pytest.fixture(scope="module")
def events():
    return eventdata.load("zmumu", max_events=6000)


@pytest.fixture(scope="module")
def transform(events):
    return eventdata.EventTransform(seed=1).fit(events.features)


def column(table, name):
    return table[:, FEATURE_NAMES.index(name)]


def test_features_are_the_stored_branches_and_give_back_m_ll(events):
    assert events.features.shape == (6000, 17) and events.conditions.shape == (6000, 3)
    jets = events.features[:, [FEATURE_NAMES.index(f"jet{i}_pt") for i in range(1, 6)]]
    present = np.minimum(column(events.features, "n_jets"), 5)
    assert np.all((jets > 30) == (np.arange(1, 6) <= present[:, None]))  # zero exactly where no jet
    np.testing.assert_allclose(eventdata.dimuon_mass(events.features), events.m_ll, rtol=1e-5)


def test_preprocessing_round_trips_exactly(events, transform):
    table = transform.transform(events.features, dtype=np.float64)
    assert table.shape == (6000, transform.n_outputs) == (6000, 20)
    j = transform.output_index("m_ll")
    np.testing.assert_allclose(np.exp(table[:, j] * transform.scale[j]
                                      + transform.mean[j]), events.m_ll, rtol=5e-4)  # massless muons
    back = transform.inverse(table)
    counts = [FEATURE_NAMES.index(n) for n in ("n_jets", "n_vertices")]
    np.testing.assert_array_equal(back[:, counts], events.features[:, counts])  # integers: exact
    np.testing.assert_array_equal(back == 0, events.features == 0)  # absent jets, zero isolation: exact
    np.testing.assert_allclose(back, events.features, rtol=1e-12, atol=1e-12)  # the rest: round-off
    assert np.all(np.abs(table.mean(axis=0)) < 1e-9) and np.allclose(table.std(axis=0), 1.0)


def test_inverse_of_any_network_output_is_a_physical_event(transform):
    table = np.random.default_rng(0).normal(0, 2.0, size=(20000, transform.n_outputs))
    out = transform.inverse(table)
    assert np.all(column(out, "mu2_pt") >= 0)  # muons follow from the dimuon system and may fail the selection
    assert np.all(column(out, "mu1_pt") >= column(out, "mu2_pt"))  # leading muon first
    assert eventdata.passes_selection(out).mean() > 0.5
    for name in ("mu1_phi", "mu2_phi", "met_phi"):
        assert np.all(np.abs(column(out, name)) <= np.pi)
    for name in ("mu1_iso", "mu2_iso", "met", "n_jets", "n_vertices"):
        assert np.all(column(out, name) >= 0)
    assert np.all(np.mod(out[:, [FEATURE_NAMES.index("n_jets"), FEATURE_NAMES.index("n_vertices")]], 1) == 0)
    jets = out[:, [FEATURE_NAMES.index(f"jet{i}_pt") for i in range(1, 6)]]
    assert np.all(np.diff(jets, axis=1) <= 0)  # ordered by pT
    n_present = np.minimum(column(out, "n_jets"), 5)
    assert np.all((jets > 0) == (np.arange(1, 6) <= n_present[:, None]))


def test_differentiable_mass_matches_numpy(events, transform):
    table = transform.transform(events.features)
    np.testing.assert_allclose(transform.dimuon_mass_tf(table).numpy(), events.m_ll, rtol=2e-3)


def test_bad_inputs_are_named(transform):
    with pytest.raises(ValueError, match=r"expected features of shape \(n, 17\)"):
        transform.transform(np.zeros((3, 16)))
    with pytest.raises(ValueError, match=r"expected a table of shape \(n, 20\)"):
        transform.inverse(np.zeros((3, 17)))
    with pytest.raises(RuntimeError, match="not fitted"):
        eventdata.EventTransform().transform(np.zeros((3, 17)))


def gaussian_pair(shift=0.0, n=20000, seed=0):
    """Two independent samples of one correlated 5-d Gaussian; feature 2 of the second shifted by ``shift`` sigma."""
    rng = np.random.default_rng(seed)
    cov = 0.5 * np.eye(5) + 0.5
    a = rng.multivariate_normal(np.full(5, 3.0), cov, size=n)
    b = rng.multivariate_normal(np.full(5, 3.0), cov, size=n)
    b[:, 2] += shift
    return a, b


def test_statistics_score_is_zero_for_identical_samples_and_grows_with_a_shift():
    a, b = gaussian_pair()
    assert metrics.statistics_score(a, a) == 0.0
    scores = [metrics.statistics_score(*gaussian_pair(shift)) for shift in (0.0, 0.1, 0.3, 1.0)]
    assert scores == sorted(scores) and scores[-1] > 3 * scores[0]


def test_fpd_is_zero_within_its_error_for_one_distribution_and_grows_with_a_shift():
    # the extrapolation reaches the distance between the two finite samples (~ d / n), below the error for
    # large samples; this is the real-vs-real floor the notebook quotes
    value, error = metrics.fpd(*gaussian_pair(n=200000), min_samples=2000, max_samples=20000)
    assert value <= error
    shifted = [metrics.fpd(*gaussian_pair(shift))[0] for shift in (0.0, 0.1, 0.3, 1.0)]
    assert shifted == sorted(shifted) and shifted[-1] > 100 * error


@pytest.mark.slow
def test_kpd_is_zero_within_its_error_for_one_distribution_and_grows_strictly_with_a_shift():
    same, same_error = metrics.kpd(*gaussian_pair(0.0))
    assert abs(same) <= 3 * same_error  # unbiased MMD^2: fluctuates around 0 for one distribution
    kpds = [metrics.kpd(*gaussian_pair(shift)) for shift in (0.3, 1.0, 3.0)]
    values = [same] + [value for value, _ in kpds]
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert kpds[1][0] > 20 * kpds[1][1]  # a one-sigma shift of one feature stands far above the noise


def test_fpd_of_a_known_shift_is_its_squared_size():
    # one feature moved by 1, covariances equal: FD = |delta mu|^2 = 1
    a = np.random.default_rng(1).uniform(-1, 1, size=(5000, 3))
    assert metrics.frechet_distance(a, a + [1.0, 0.0, 0.0]) == pytest.approx(1.0, rel=1e-6)


def test_feature_distances_and_bad_tables():
    a, b = gaussian_pair(0.5)
    distances = metrics.feature_distances(a, b, list("abcde"))
    assert distances["c"]["ks"] > 0.15 and distances["a"]["ks"] < 0.03
    assert distances["c"]["w1"] == pytest.approx(0.5, abs=0.03)
    with pytest.raises(ValueError, match="same d"):
        metrics.statistics_score(a, b[:, :4])
    with pytest.raises(ValueError, match="min_samples < max_samples"):
        metrics.fpd(a[:100], b[:100], min_samples=2000)


@pytest.mark.slow
def test_gan_trains_generates_physical_events_and_picks_a_checkpoint(events, transform):
    from hepwb.models import gan

    model = gan.EventGAN(transform, kind="gan", hidden=(32, 32), seed=3)
    history = model.fit(transform.transform(events.features[:4000]), epochs=4, checkpoint_every=2, progress=False)
    assert len(history["generator_loss"]) == 4 and sorted(model.checkpoints) == [2, 4]
    assert np.isfinite(history["generator_loss"]).all() and np.isfinite(history["mass_loss"]).all()
    generated = model.generate(3000, seed=5)
    assert generated.shape == (3000, 17) and np.isfinite(generated).all()
    assert eventdata.passes_selection(generated).all()
    # fixed seed, same events (to the last bit but one: NumPy's SIMD paths for exp/log depend on alignment)
    np.testing.assert_allclose(generated, model.generate(3000, seed=5), rtol=1e-12)
    table = fastsim.evaluate_checkpoints(model, events.features[4000:])
    assert table["chosen"].sum() == 1 and np.isfinite(table[list(fastsim.CHECKPOINT_COLUMNS)].to_numpy()).all()


def test_gan_refuses_bad_settings(transform):
    from hepwb.models import gan

    with pytest.raises(ValueError, match="kind must be one of"):
        gan.EventGAN(transform, kind="vae")
    model = gan.EventGAN(transform, hidden=(8,), n_conditions=2)
    with pytest.raises(ValueError, match="has 2 condition inputs; give conditions"):
        model.fit(np.zeros((10, 20), np.float32), epochs=1)
    with pytest.raises(ValueError, match="needs conditions"):
        model.generate(10)
    with pytest.raises(ValueError, match="pack must be >= 1"):
        gan.EventGAN(transform, pack=0)
    with pytest.raises(ValueError, match=r"batch_size \(255\) must be a multiple of pack \(2\)"):
        gan.EventGAN(transform, hidden=(8,)).fit(np.zeros((300, 20), np.float32), epochs=1, batch_size=255)


def test_discriminator_sees_the_muon_pts_of_the_inverse_transform(events, transform):
    """The differentiable muon log pTs shown to the discriminator are those ``inverse`` gives."""
    table = transform.transform(events.features[:500], dtype=np.float64)
    log_pts = transform.muon_log_pts_tf(table).numpy()
    physical = transform.inverse(table)
    expected = np.log(physical[:, [FEATURE_NAMES.index("mu1_pt"), FEATURE_NAMES.index("mu2_pt")]])
    np.testing.assert_allclose(log_pts, expected, atol=1e-5)


def test_wgan_gp_with_packed_discriminator_trains(events, transform):
    from hepwb.models import gan

    model = gan.EventGAN(transform, kind="wgan-gp", hidden=(16,), pack=4, critic_steps=2, seed=1)
    history = model.fit(transform.transform(events.features[:1024]), epochs=1, batch_size=128, progress=False)
    assert np.isfinite(history["discriminator_loss"]).all() and model.discriminator.input_shape == (None, 4 * 22)


def test_histogram_pulls_are_standard_normal_for_one_distribution():
    rng = np.random.default_rng(4)
    pulls = metrics.histogram_pulls(rng.exponential(size=20000), rng.exponential(size=200000), np.linspace(0, 3, 31))
    assert abs(np.mean(pulls)) < 0.5 and 0.6 < np.std(pulls) < 1.5
    shifted = metrics.histogram_pulls(rng.exponential(size=20000), 1.2 * rng.exponential(size=200000),
                                      np.linspace(0, 3, 31))
    assert np.max(np.abs(shifted)) > 5


def test_conditional_gan_generates_one_event_per_condition(events, transform):
    from hepwb.models import gan

    conditions = eventdata.transform_conditions(events.conditions)
    assert conditions.shape == (6000, 3) and np.isfinite(conditions).all()
    model = gan.EventGAN(transform, hidden=(16,), n_conditions=3, seed=2)
    model.fit(transform.transform(events.features[:2000]), conditions[:2000], epochs=1, progress=False)
    generated = model.generate(conditions=conditions[2000:2500])
    assert generated.shape == (500, 17) and eventdata.passes_selection(generated).all()


def test_scores_of_a_sample_against_itself_are_zero(events):
    scores, distances = fastsim.score_events(events.features, events.features, kernel_distance=True)
    assert scores["ks_m_ll"] == scores["ks_max"] == scores["statistics_score"] == 0.0
    assert scores["fpd"] <= scores["fpd_error"] and set(distances) == set(FEATURE_NAMES)


# ---- the normalizing flow ---------------------------------------------------------------------------------


def random_knots(n_moved=6, batch=400, bins=6, bound=4.0, seed=0):
    from hepwb.models.flow import SplineFlow

    spline_flow = SplineFlow(2 * n_moved, bins=bins, bound=bound, n_layers=2)
    outputs = np.random.default_rng(seed).normal(0, 1.5, size=(batch, (3 * bins - 1) * n_moved)).astype(np.float64)
    return spline_flow._spline_parameters(outputs, n_moved)


def test_spline_is_monotonic_invertible_with_the_right_log_derivative():
    import tensorflow as tf

    from hepwb.models.flow import rational_quadratic_spline

    knots = random_knots()
    x = np.random.default_rng(1).uniform(-5, 5, size=(400, 6))  # beyond the bound of 4 too: the identity there
    y, log_det = (t.numpy() for t in rational_quadratic_spline(tf.constant(x), *knots, 4.0))
    back, inverse_log_det = (t.numpy() for t in rational_quadratic_spline(tf.constant(y), *knots, 4.0, inverse=True))
    np.testing.assert_allclose(back, x, atol=1e-9)
    np.testing.assert_allclose(inverse_log_det, -log_det, atol=1e-9)
    step = 1e-6
    numeric = (rational_quadratic_spline(tf.constant(x + step), *knots, 4.0)[0].numpy()
               - rational_quadratic_spline(tf.constant(x - step), *knots, 4.0)[0].numpy()) / (2 * step)
    np.testing.assert_allclose(log_det, np.log(numeric), atol=1e-5)
    outside = np.abs(x) >= 4.0
    assert outside.any() and np.array_equal(y[outside], x[outside]) and np.all(log_det[outside] == 0)
    assert np.all(numeric > 0)  # monotonic: invertible
    # a conditioner that outputs zeros (how every layer starts) is the identity
    zeros = random_knots(seed=0)[0].shape
    from hepwb.models.flow import SplineFlow

    identity = SplineFlow(12, bins=6, bound=4.0, n_layers=2)._spline_parameters(np.zeros((400, 17 * 6), np.float32), 6)
    assert identity[0].shape == zeros
    same, zero_log_det = rational_quadratic_spline(tf.constant(x, tf.float32), *identity, 4.0)
    np.testing.assert_allclose(same.numpy(), x, atol=1e-5)
    np.testing.assert_allclose(zero_log_det.numpy(), 0, atol=1e-5)


@pytest.mark.slow
def test_flow_log_density_is_the_change_of_variables_of_its_sampling():
    """log p(x) from the inverse pass = log N(z) - log|det dx/dz| of the sampling pass (Jacobian by autodiff)."""
    import tensorflow as tf

    from hepwb.models.flow import SplineFlow

    spline_flow = SplineFlow(20, n_conditions=3, n_layers=4, hidden=(16,), seed=3)
    rng = np.random.default_rng(0)
    spline_flow.model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(np.float32)
                                   for w in spline_flow.model.get_weights()])
    spline_flow.column_scale.assign(np.linspace(1, 3, 20).astype(np.float32))
    z = tf.constant(rng.normal(size=(64, 20)).astype(np.float32))
    conditions = tf.constant(rng.normal(size=(64, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(z)
        x = spline_flow.sample(z, conditions)
    log_det = np.linalg.slogdet(tape.batch_jacobian(x, z).numpy().astype(np.float64))[1]
    expected = -0.5 * np.sum(z.numpy() ** 2, axis=1) - 10 * np.log(2 * np.pi) - log_det
    np.testing.assert_allclose(spline_flow.log_prob(x, conditions).numpy(), expected, atol=2e-3)


@pytest.mark.slow
def test_flow_learns_generates_selected_events_reproducibly(events, transform):
    from hepwb.models import flow

    table = transform.transform(events.features[:4000])
    validation = (transform.transform(events.features[4000:5000], seed=2), None)
    settings = {"n_layers": 2, "hidden": [16], "bins": 4, "epochs": 3, "batch_size": 128, "learning_rate": 3e-3}
    model, fit_options = flow.from_settings(transform, {**settings, "checkpoint_every": 1})
    assert fit_options == {"epochs": 3, "batch_size": 128, "checkpoint_every": 1}
    history = model.fit(table, validation=validation, progress=False, **fit_options)
    assert sorted(model.checkpoints) == [1, 2, 3]
    # the standardised table under N(0, 1) per column would cost 0.5 log(2 pi e) = 1.42 nats a column: 28.4
    assert history["validation_nll"][-1] < min(history["validation_nll"][0] - 0.5, 28.4 - 1)
    generated = model.generate(2500, seed=5)
    assert generated.shape == (2500, 17) and eventdata.passes_selection(generated).all()
    np.testing.assert_allclose(generated, model.generate(2500, seed=5), rtol=1e-12)
    again, fit_options = flow.from_settings(transform, settings)
    again.fit(table, progress=False, **fit_options)
    np.testing.assert_allclose(again.generate(500, seed=5), model.generate(500, seed=5), rtol=1e-5)
    scores, _ = fastsim.score_events(events.features[5000:], model.generate(1000, seed=7))
    assert scores["ks_m_ll"] < 0.3  # three small epochs already make a Z peak


def test_flow_and_model_lists_refuse_bad_settings(transform):
    from hepwb.models import flow

    with pytest.raises(ValueError, match=r"unknown flow settings \['layers'\]; expected some of .*n_layers"):
        flow.from_settings(transform, {"layers": 4})
    with pytest.raises(ValueError, match="n_layers must be an even number"):
        flow.EventFlow(transform, n_layers=3)
    with pytest.raises(ValueError, match="has 3 condition inputs; give conditions"):
        flow.EventFlow(transform, n_conditions=3, hidden=(8,)).fit(np.zeros((10, 20), np.float32), epochs=1)
    for bad in ("gan", [], ["gan", "gan"], ["gan", "vae"]):
        with pytest.raises(ValueError, match=r"models must be a non-empty list of distinct names from \('gan'"):
            fastsim.check_models(bad)
    fastsim.check_models(["flow", "wgan-gp"])


# ---- tails and the classifier two-sample test -------------------------------------------------------------


def test_tail_agreement_passes_one_distribution_and_fails_a_heavier_tail():
    rng = np.random.default_rng(5)
    same = metrics.tail_agreement(rng.normal(size=20000), rng.normal(size=200000))
    assert len(same["pulls"]) == 20 and len(same["edges"]) == 2  # a Gaussian has both tails
    assert same["fraction"] >= 0.8 and np.all(np.isfinite(same["pulls"]))
    heavy = metrics.tail_agreement(rng.normal(size=20000), rng.standard_t(4, size=200000))
    # too many events beyond the outermost simulated bins, on both sides
    assert heavy["fraction"] < 0.7 and heavy["pulls"][9] > 5 and heavy["pulls"][10] > 5
    # a pile at a bound (pT = 0 where there is no jet) has no lower tail; integer values merge bins
    piled = metrics.tail_agreement(np.where(rng.random(5000) < 0.5, 0.0, rng.exponential(50, 5000)),
                                   rng.exponential(50, 5000))
    assert len(piled["edges"]) == 1 and len(piled["pulls"]) == 10
    counts = metrics.tail_agreement(rng.poisson(2, 5000).astype(float), rng.poisson(2, 5000).astype(float))
    assert 1 <= len(counts["pulls"]) < 10
    pulls = np.r_[same["pulls"], heavy["pulls"]]
    assert metrics.tail_fraction([same, heavy]) == pytest.approx(np.mean(np.abs(pulls) < 2))
    with pytest.raises(ValueError, match="at least 200 events"):
        metrics.tail_agreement(rng.normal(size=100), rng.normal(size=100))


@pytest.mark.slow
def test_classifier_two_sample_test_is_blind_to_one_distribution_and_sees_a_shift():
    rng = np.random.default_rng(6)
    same = metrics.classifier_two_sample_test(rng.normal(size=(4000, 3)), rng.normal(size=(4000, 3)))
    assert abs(same["auc"] - 0.5) < 0.03 and 0.003 < same["auc_error"] < 0.02 and same["events"] == 4000
    shifted = metrics.classifier_two_sample_test(rng.normal(size=(4000, 3)), rng.normal(0.5, 1, size=(4000, 3)))
    assert shifted["auc"] > 0.68  # the best any classifier can do here: Phi(0.5 sqrt(3) / sqrt(2)) = 0.73
    # a correlation the marginals do not show
    x = rng.normal(size=(4000, 2))
    correlated = metrics.classifier_two_sample_test(x, np.column_stack([x[:, 0], x[:, 0] + 0.3 * x[:, 1]]) /
                                                    np.array([1.0, np.sqrt(1.09)]))
    assert correlated["auc"] > 0.7
    with pytest.raises(ValueError, match="at least 100 events"):
        metrics.classifier_two_sample_test(x[:50], x[:50])


def test_circles_spread_for_the_flow_and_projected_back_before_clipping(events, transform):
    table = transform.transform(events.features[:2000], dtype=np.float64)
    spread = transform.spread_circles(table, spread=0.2, seed=3)
    j = [transform.output_index(name) for name in ("mu1_cos_phi", "mu1_sin_phi")]
    radius = np.hypot(*(spread[:, j] * transform.scale[j] + transform.mean[j]).T)
    assert 0.8 <= radius.min() < 0.85 and 1.15 < radius.max() <= 1.2
    np.testing.assert_allclose(transform.inverse(spread), transform.inverse(table), atol=1e-9)  # same events
    # a pair pushed far off the circle: clipping column by column would turn its angle; projected first, it keeps it
    raw = table[:, j] * transform.scale[j] + transform.mean[j]
    table[:, j] = (1.5 * raw - transform.mean[j]) / transform.scale[j]
    clipped = transform.clip_to_training_range(table)
    phi = FEATURE_NAMES.index("mu1_phi")
    np.testing.assert_allclose(transform.inverse(clipped)[:, phi], events.features[:2000, phi], atol=1e-9)


def test_generation_makes_again_events_beyond_the_training_range(events, transform):
    """A network table whose columns are each in range can still give a muon of several TeV: made again."""
    from hepwb.models import gan

    inside = transform.within_training_range(events.features)
    assert inside.all()  # the transform was fitted on these events
    far = events.features[:3].copy()
    far[:, FEATURE_NAMES.index("mu1_pt")] = 5000.0
    assert not transform.within_training_range(far).any()
    model = gan.EventGAN(transform, hidden=(16,), seed=4)
    model.fit(transform.transform(events.features[:2000]), epochs=1, progress=False)
    generated = model.generate(2000, seed=3)
    assert transform.within_training_range(generated).all() and eventdata.passes_selection(generated).all()
    assert set(model.last_regenerated) == {"failed_selection", "outside_training_range"}
    assert 0 < model.last_regenerated["failed_selection"] + model.last_regenerated["outside_training_range"] < 1
