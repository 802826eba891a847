"""Anomaly detection: the l1_events layout, the ADC2021 reader, the masked loss, TPR at FPR, the models."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepwb import metrics, samples
from hepwb.models import anomaly, training
from hepwb.run.generate import plan_chunks
from hepwb.samples import l1_events
from hepwb.sim import detector as det
from hepwb.sim.recipes import L1_SAMPLES, RECIPES


@pytest.fixture(scope="module")
def small_l1(tmp_path_factory):
    """200 triggered events of every l1_events sample, in the recipe's proportions (seed 7)."""
    from hepwb.run.generate import generate

    return generate("l1_events", 200, seed=7, output=tmp_path_factory.mktemp("gen") / "l1-small.root", progress=False)


def _random_inputs(n=50, seed=0):
    """Network inputs (n, 57) with a random number of padded slots (MET always present)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, l1_events.N_SLOTS, 3))
    x[:, :, 0] = np.log1p(rng.uniform(3, 300, size=(n, l1_events.N_SLOTS)))
    present = rng.random((n, l1_events.N_SLOTS)) < 0.4
    present[:, 0] = True
    x[~present] = 0.0
    return x.reshape(n, -1)


# ------------------------------------------------------------------ data

def test_l1_events_recipe_keeps_the_adc2021_proportions():
    chunks = plan_chunks("l1_events", 40_000)
    per_sample = {s: sum(c.n_events for c in chunks if c.sample == s) for s in L1_SAMPLES}
    assert sum(per_sample.values()) == pytest.approx(40_000, abs=len(L1_SAMPLES))
    background = {s: per_sample[s] for s in l1_events.BACKGROUND_SAMPLES}
    assert background["w_lnu"] / sum(background.values()) == pytest.approx(0.592, abs=1e-3)
    assert all(per_sample[s] == 2000 for s in l1_events.SIGNAL_SAMPLES)
    assert RECIPES["jets"].fractions is None  # equal shares: one fifth per jet class


def test_generated_events_pass_the_trigger_and_fill_the_adc2021_layout(small_l1):
    events = l1_events.load(small_l1)
    assert events.particles.shape == (len(events), 19, 4)
    types = events.particles[:, :, 3]
    expected = np.array([1] + [2] * 4 + [3] * 4 + [4] * 10)
    assert np.all((types == 0) | (types == expected)) and np.all(types[:, 0] == 1)
    pt = events.particles[:, :, 0]
    leptons = pt[:, 1:9] * (types[:, 1:9] > 0)
    assert np.all(leptons.max(axis=1) > 23.0)  # the single-lepton trigger
    for first, n in ((1, 4), (5, 4), (9, 10)):  # decreasing pT within a group, padding at the end
        assert np.all(np.diff(pt[:, first:first + n], axis=1) <= 0)
    assert set(np.unique(events.sample)) == set(range(len(L1_SAMPLES)))
    raw = uproot.open(small_l1)["events"].arrays(["nmuon", "njet"])
    assert np.array_equal((types == 3).sum(axis=1), ak.to_numpy(raw.nmuon))


def test_a_root_file_written_with_uproot_puts_each_value_in_its_adc2021_column(tmp_path):
    """Every object's pT, eta and phi land in columns 0, 1, 2 of its slot (a file not made by hepwb's writer)."""
    jagged = {"electron": ([[30.0]], [[-1.2]], [[2.5]]), "muon": ([[40.0, 12.0]], [[0.7, -2.1]], [[-0.4, 1.9]]),
              "jet": ([[80.0]], [[3.1]], [[-2.8]])}
    branches = {"sample": np.array([2], dtype=np.int32), "met": np.array([55.0]), "met_phi": np.array([-1.1])}
    for group, values in jagged.items():
        branches.update({f"{group}_{name}": ak.Array(v) for name, v in zip(("pt", "eta", "phi"), values)})
    with uproot.recreate(tmp_path / "by-hand.root") as handle:
        handle["events"] = branches
    particles = l1_events.load(tmp_path / "by-hand.root").particles[0]
    assert particles[0].tolist() == pytest.approx([55.0, 0.0, -1.1, 1])
    for group, (pt, eta, phi) in jagged.items():
        first = l1_events.FIRST_SLOT[group]
        for i in range(len(pt[0])):
            assert particles[first + i].tolist() == pytest.approx([pt[0][i], eta[0][i], phi[0][i],
                                                                   l1_events.OBJECTS[group][0]]), (group, i)
        assert particles[first + len(pt[0])].tolist() == [0, 0, 0, 0]  # padding after the last object


def test_background_and_signals_never_trains_on_signal(small_l1):
    background, signals = l1_events.background_and_signals(l1_events.load(small_l1))
    train, test = samples.split(background, (0.5, 0.5), seed=3)
    signal_codes = {L1_SAMPLES.index(s) for s in l1_events.SIGNAL_SAMPLES}
    assert not signal_codes & set(train.sample) and not signal_codes & set(test.sample)
    assert set(signals) == set(l1_events.SIGNAL_SAMPLES) and len(train) + len(test) == len(background)
    with pytest.raises(ValueError, match="none of the background samples"):
        l1_events.background_and_signals(l1_events.load(small_l1), background=("w_to_nothing",))


def test_adc2021_reader_round_trips(small_l1, tmp_path):
    events = l1_events.load(small_l1)
    path = l1_events.write_adc2021(tmp_path / "background.h5", events)
    back = l1_events.read_adc2021(path, sample_name="background")
    assert np.array_equal(back.particles, events.particles) and back.samples == ("background",)
    assert len(l1_events.read_adc2021(path, max_events=7)) == 7
    assert not list(tmp_path.glob(".*tmp"))


def test_adc2021_reader_names_what_is_wrong(tmp_path):
    import h5py

    not_hdf5 = tmp_path / "x.h5"
    not_hdf5.write_text("not hdf5")
    with pytest.raises(l1_events.ADC2021FormatError, match="not an HDF5 file"):
        l1_events.read_adc2021(not_hdf5)
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["Jets"] = np.zeros((3, 19, 4))
    with pytest.raises(l1_events.ADC2021FormatError, match="no 'Particles' dataset"):
        l1_events.read_adc2021(tmp_path / "other.h5")
    with h5py.File(tmp_path / "shape.h5", "w") as handle:
        handle["Particles"] = np.zeros((3, 18, 4))
    with pytest.raises(l1_events.ADC2021FormatError, match=r"expected \(n, 19, 4\)"):
        l1_events.read_adc2021(tmp_path / "shape.h5")
    with pytest.raises(FileNotFoundError):
        l1_events.read_adc2021(tmp_path / "missing.h5")


def test_dead_calorimeter_region_reads_nothing():
    from hepwb.sim.pythia import final_state, make_pythia, next_batch, to_truth

    truth = to_truth(final_state(next_batch(make_pythia("ttbar", 3), 20)))
    region = (-1.0, 1.0, 0.0, 1.5)
    broken = det.Detector(dead_calorimeter_region=region)
    healthy, _ = det.simulate(truth, np.random.default_rng(1))
    faulty, _ = det.simulate(truth, np.random.default_rng(1), broken)

    def calorimeter_in_region(candidates):
        calo = candidates[candidates.vertex == -1]
        inside = (calo.eta > region[0]) & (calo.eta < region[1]) & (calo.phi > region[2]) & (calo.phi < region[3])
        return int(ak.sum(inside))

    assert calorimeter_in_region(healthy) > 0 and calorimeter_in_region(faulty) == 0


# ------------------------------------------------------------------ loss and scores

def test_masked_loss_ignores_padding_exactly():
    x = _random_inputs()
    reconstruction = np.random.default_rng(1).normal(size=x.shape)
    changed = reconstruction.copy().reshape(len(x), 19, 3)
    changed[~anomaly.slot_mask(x)] = 1e6  # anything at all in the padded slots
    changed = changed.reshape(len(x), -1)
    score = anomaly.reconstruction_score(x, reconstruction)
    assert np.array_equal(score, anomaly.reconstruction_score(x, changed))
    mask = anomaly.slot_mask(x)
    by_hand = [np.sum((x[i].reshape(19, 3)[mask[i]] - reconstruction[i].reshape(19, 3)[mask[i]]) ** 2) / 57
               for i in range(len(x))]
    np.testing.assert_allclose(score, by_hand, rtol=1e-12)
    import tensorflow as tf

    keras_loss = anomaly.masked_mse(tf.constant(x, tf.float64), tf.constant(changed, tf.float64)).numpy()
    np.testing.assert_allclose(keras_loss, score, rtol=1e-12)


def test_loss_contributions_add_up_to_the_score():
    x = _random_inputs(seed=2)
    reconstruction = x + 0.1
    parts = anomaly.loss_contributions(x, reconstruction)
    assert set(parts) == {"met", "electron", "muon", "jet"}
    np.testing.assert_allclose(sum(parts.values()), anomaly.reconstruction_score(x, reconstruction))


def test_outputs_are_bounded_to_each_slot():
    raw = np.random.default_rng(3).normal(scale=10, size=(100, 57))
    out = anomaly.bound_outputs(raw).reshape(100, 19, 3)
    assert np.all(np.abs(out[:, :, 1]) <= l1_events.SLOT_ETA_BOUND) and np.all(out[:, 0, 1] == 0)
    assert np.all(np.abs(out[:, :, 2]) <= np.pi)
    np.testing.assert_array_equal(out[:, :, 0], raw.reshape(100, 19, 3)[:, :, 0])


def test_tpr_at_fpr_is_exact_on_hand_made_scores():
    background = np.arange(100.0)  # 0 ... 99
    result = metrics.tpr_at_fpr(background, [90, 95, 96, 100], 0.05)
    assert result["threshold"] == 94.0 and result["fpr"] == 0.05  # 95 ... 99 above it
    assert result["tpr"] == 0.75 and result["tpr_error"] == pytest.approx(np.sqrt(0.75 * 0.25 / 4))
    assert result["fpr_error"] == pytest.approx(np.sqrt(5) / 100)
    assert result["rate_hz"] == pytest.approx(0.05 * 40e6)
    assert metrics.tpr_at_fpr(background, [99.5], 0.001)["fpr"] == 0.0  # below 1/n: nothing above the maximum
    assert metrics.smallest_supported_fpr(10_000) == 1e-3
    with pytest.raises(ValueError, match="fpr must be in"):
        metrics.tpr_at_fpr(background, [1.0], 0.0)
    with pytest.raises(ValueError, match="finite"):
        metrics.tpr_at_fpr(background, [np.nan], 0.1)


# ------------------------------------------------------------------ models

@pytest.mark.slow
def test_autoencoder_is_deterministic_and_its_firmware_part_matches(small_l1):
    x = l1_events.network_inputs(l1_events.load(small_l1).particles)
    scores = []
    for _ in range(2):
        model = anomaly.autoencoder(seed=4)
        training.train(model, x, x, x, x, epochs=2, batch_size=64, seed=4)
        scores.append(anomaly.autoencoder_scores(model, x))
    np.testing.assert_array_equal(scores[0], scores[1])
    assert np.isfinite(scores[0]).all() and scores[0].shape == (len(x),)
    raw = anomaly.firmware_part(model).predict(x, verbose=0)
    np.testing.assert_allclose(anomaly.bound_outputs(raw), model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.slow
def test_vae_trains_like_every_model_and_follows_its_seed(small_l1):
    """The VAE trains through ``training.train`` (early stopping, best weights): the same seed gives the same
    scores, another seed others (its shuffling was once fixed whatever the seed)."""
    x = l1_events.network_inputs(l1_events.load(small_l1).particles)
    half = len(x) // 2
    scores = []
    for seed in (2, 2, 3):
        vae = anomaly.variational_autoencoder(seed=seed)
        history = training.train(vae, x[:half], x[:half], x[half:], x[half:], epochs=3, batch_size=32, seed=seed)
        scores.append(anomaly.vae_scores(vae, x))
    assert set(history) >= {"loss", "val_loss"} and len(history["loss"]) == 3
    assert set(scores[0]) == {"reconstruction", "kl"}
    assert all(np.isfinite(s).all() and s.shape == (len(x),) for s in scores[0].values())
    assert np.all(scores[0]["kl"] >= 0)
    np.testing.assert_array_equal(scores[0]["kl"], scores[1]["kl"])
    assert not np.allclose(scores[0]["kl"], scores[2]["kl"])
    pca = anomaly.PCABaseline(3).fit(x)
    assert np.isfinite(pca.scores(x)).all()
    with pytest.raises(ValueError, match="beta"):
        anomaly.variational_autoencoder(beta=-1)


def test_adc2021_files_merge_with_the_first_as_background(small_l1, tmp_path):
    events = l1_events.load(small_l1)
    background = l1_events.write_adc2021(tmp_path / "bkg.h5", events.of(*l1_events.BACKGROUND_SAMPLES))
    signal = l1_events.write_adc2021(tmp_path / "sig.h5", events.of("scalar_4l"))
    merged, backgrounds, signals = l1_events.read_adc2021_files({"SM": background, "A → 4ℓ": signal})
    assert backgrounds == ("SM",) and signals == ("A → 4ℓ",)
    assert len(merged.of("A → 4ℓ")) == len(events.of("scalar_4l"))
    assert len(merged.of("SM")) == len(events.of(*l1_events.BACKGROUND_SAMPLES))
    table = l1_events.sample_table(merged, backgrounds)
    assert table.loc["SM", "role"] == "background" and table.loc["A → 4ℓ", "role"] == "signal"
    assert table.loc["A → 4ℓ", "electrons / event"] + table.loc["A → 4ℓ", "muons / event"] > 2  # four leptons
    with pytest.raises(ValueError, match="both become the metric key 'A_B'"):
        l1_events.read_adc2021_files({"A B": background, "A+B": signal})


def test_adc2021_reader_on_a_file_built_with_h5py_in_the_published_layout(tmp_path):
    """Not written by hepwb: h5py alone, as the challenge's files are laid out (Particles (n, 19, 4) with
    pT, eta, phi, type per slot; MET in slot 0, electrons 1-4, muons 5-8, jets 9-18)."""
    import h5py

    particles = np.zeros((2, 19, 4), dtype=np.float32)
    particles[0, 0] = [45.0, 0.0, 1.25, 1]  # missing ET: pT, no eta, phi
    particles[0, 5] = [30.0, 1.5, -2.0, 3]  # the leading muon
    particles[0, 9] = [120.0, -0.75, 0.5, 4]  # the leading jet
    particles[1, 0] = [12.0, 0.0, -3.0, 1]
    particles[1, 1] = [26.0, 2.25, 0.125, 2]  # an electron
    path = tmp_path / "background_for_training.h5"
    with h5py.File(path, "w") as handle:
        handle["Particles"] = particles
        handle["Particles_Names"] = np.array([b"Pt", b"Eta", b"Phi", b"Class"])
        handle["Particles_Classes"] = np.array([b"MET_class_1", b"Four_Ele_class_2", b"Four_Mu_class_3",
                                                b"Ten_Jet_class_4"])
    events = l1_events.read_adc2021(path, sample_name="SM")
    assert events.particles[0, 5].tolist() == [30.0, 1.5, -2.0, 3.0]
    assert events.particles[1, 1].tolist() == [26.0, 2.25, 0.125, 2.0]
    x = l1_events.network_inputs(events.particles).reshape(2, 19, 3)
    assert x[0, 5].tolist() == pytest.approx([np.log1p(30.0), 1.5, -2.0])  # log(1 + pT), eta, phi in that order
    assert x[0, 9].tolist() == pytest.approx([np.log1p(120.0), -0.75, 0.5])
    assert np.count_nonzero(x[1]) == 2 + 3  # MET (pT, phi) and the electron (pT, eta, phi); padding stays zero
