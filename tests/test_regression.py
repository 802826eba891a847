"""Level-1 jet energy regression: trigger towers, the jet finder, the l1_jets dataset, the calibrations,
the regression and trigger metrics on known cases, and conifer's emulation of a BDT."""

from __future__ import annotations

import numpy as np
import pytest

from hepwb import data, fpga, metrics, samples
from hepwb.models import regression, training
from hepwb.samples import l1_jets
from hepwb.sim import detector as det
from hepwb.sim import trigger


def _particles(pdg_id, energy, n, eta=0.3, phi=0.5):
    """``n`` events of one particle each (massless approximation for the direction)."""
    pt = energy / np.cosh(eta)
    return det.TruthParticles(counts=np.ones(n, dtype=int), px=np.full(n, pt * np.cos(phi)),
                              py=np.full(n, pt * np.sin(phi)), pz=np.full(n, pt * np.sinh(eta)),
                              energy=np.full(n, float(energy)), pdg_id=np.full(n, pdg_id),
                              vertex=np.zeros(n, dtype=np.int16))


# ------------------------------------------------------------------ towers

def test_a_photon_lands_in_one_ecal_tower_with_the_ecal_resolution():
    n, energy, eta = 4000, 60.0, 0.3
    ecal, hcal = det.l1_towers(_particles(22, energy, n, eta), np.random.default_rng(1))
    assert ecal.shape == (n, 68, 72) and ecal.dtype == np.int16 and not hcal.any()
    i_eta = int((eta + 34 * 0.087) / 0.087)
    assert (ecal.reshape(n, -1) > 0).sum(axis=1).max() == 1 and ecal[:, i_eta].sum(axis=1).all()
    et = ecal.sum(axis=(1, 2)) * det.DEFAULT.tower_lsb
    centre_eta = det.tower_centres()[0][i_eta]
    expected = energy / np.cosh(centre_eta)  # the tower measures E, and converts at its centre's eta
    assert np.mean(et) == pytest.approx(expected - det.DEFAULT.tower_lsb / 2, rel=0.01)  # counts round down
    resolution = np.hypot(det.DEFAULT.ecal_stochastic / np.sqrt(energy), det.DEFAULT.ecal_constant)
    assert np.std(et) / expected == pytest.approx(resolution, rel=0.15)


def test_a_hadron_is_measured_at_pi_over_e_and_splits_between_ecal_and_hcal():
    n, energy = 4000, 50.0
    ecal, hcal = det.l1_towers(_particles(211, energy, n), np.random.default_rng(2))
    et = (ecal.sum(axis=(1, 2)) + hcal.sum(axis=(1, 2)) + 1.0) * det.DEFAULT.tower_lsb  # +1: half a count per grid
    expected = det.hadron_response(np.array(energy)) * energy / np.cosh(det.tower_centres()[0][37])
    assert np.mean(et) == pytest.approx(expected, rel=0.02)
    with_ecal = (ecal.sum(axis=(1, 2)) > 0).mean()
    assert with_ecal == pytest.approx(det.DEFAULT.hadron_ecal_shower_probability, abs=0.04)


def test_pi_over_e_rises_with_energy_from_h_over_e():
    energies = np.array([0.5, 1.0, 10.0, 100.0, 1000.0])
    response = det.hadron_response(energies)
    assert response[0] == response[1] == pytest.approx(det.DEFAULT.hcal_h_over_e)
    assert np.all(np.diff(response[1:]) > 0) and response[-1] < 1


@pytest.mark.parametrize("pdg_id, energy", [(13, 50.0), (14, 50.0), (211, 0.6)])
def test_muons_neutrinos_and_curling_tracks_leave_no_tower(pdg_id, energy):
    ecal, hcal = det.l1_towers(_particles(pdg_id, energy, 10, eta=0.0), np.random.default_rng(3))
    assert not ecal.any() and not hcal.any()


def test_towers_saturate_at_the_largest_word():
    ecal, _ = det.l1_towers(_particles(22, 2000.0, 3, eta=0.0), np.random.default_rng(4))
    assert ecal.max() == det.DEFAULT.tower_max_count


# ------------------------------------------------------------------ the jet finder

def test_seeds_are_local_maxima_above_threshold_and_unique_on_a_plateau():
    ecal, hcal = np.zeros((4, 68, 72), np.int16), np.zeros((4, 68, 72), np.int16)
    ecal[0, 30, 10] = 20  # one clear seed
    hcal[1, 30, 10] = hcal[1, 30, 11] = 20  # a plateau of two equal towers: one seed
    ecal[2, 30, 10] = trigger.SEED_THRESHOLD_COUNTS - 1  # below threshold
    ecal[3, 30, 0], ecal[3, 30, 71] = 20, 30  # neighbours across phi = pi: only the larger
    found = trigger.seeds(ecal, hcal)
    assert [np.argwhere(found[i]).tolist() for i in range(4)] == [[[30, 10]], [[30, 10]], [], [[30, 71]]]


def test_windows_are_centred_zero_beyond_eta_and_wrapped_in_phi():
    grid = np.arange(2 * 68 * 72, dtype=np.int32).reshape(2, 68, 72)
    window = trigger.windows(grid, np.array([1, 0]), np.array([1, 40]), np.array([70, 5]))
    assert window.shape == (2, 9, 9)
    assert window[0, 4, 4] == grid[1, 1, 70] and window[1, 4, 4] == grid[0, 40, 5]
    assert not window[0, :3].any() and window[0, 3, 4] == grid[1, 0, 70]  # eta below the grid is empty
    assert window[0, 4, 6] == grid[1, 1, 0] and window[0, 4, 8] == grid[1, 1, 2]  # phi wraps


# ------------------------------------------------------------------ the dataset

@pytest.fixture(scope="module")
def committed():
    return l1_jets.load("l1_jets")


def test_committed_l1_jets_are_what_the_manifest_says(committed):
    info = data.dataset_info("l1_jets")
    assert len(committed) == info["events"] == 150_000 and info["detector"]["version"] == det.VERSION
    assert committed.towers.shape == (150_000, 9, 9, 2) and committed.towers.min() >= 0
    assert np.all(committed.towers * 2 == np.round(committed.towers * 2))  # 0.5 GeV steps
    assert committed.gen_pt.min() >= 15 and np.abs(committed.gen_eta).max() < 2.5
    assert 0 <= committed.abs_ieta.min() and committed.abs_ieta.max() <= 33


def test_the_raw_response_is_that_of_a_non_compensating_calorimeter(committed):
    ratio = committed.raw_pt / committed.gen_pt
    low, high = committed.gen_pt < 40, committed.gen_pt > 200
    assert 0.6 < np.median(ratio) < 0.85
    assert np.median(ratio[high]) > np.median(ratio[low]) - 0.02  # no lower at high pT
    gap = (committed.seed_abs_eta > 1.3) & (committed.seed_abs_eta < 1.57) & (committed.gen_pt > 50)
    barrel = (committed.seed_abs_eta < 1.0) & (committed.gen_pt > 50)
    assert np.median(ratio[gap]) < np.median(ratio[barrel]) - 0.05
    offline = committed.offline_pt[committed.gen_pt > 50] / committed.gen_pt[committed.gen_pt > 50]
    assert 0.95 < np.median(offline) < 1.15  # particle flow is calibrated


def test_weights_undo_the_flat_sampling(committed):
    """Weighted, the spectrum falls steeply (QCD); unweighted it is nearly flat in log pT."""
    counts, _ = np.histogram(committed.gen_pt, [30, 60, 120, 240])
    weighted, _ = np.histogram(committed.gen_pt, [30, 60, 120, 240], weights=committed.weight)
    assert counts.max() / counts.min() < 3 and weighted[0] / weighted[2] > 100


def test_features_target_and_split(committed):
    sample = committed.subset(slice(0, 2000))
    features = l1_jets.summary_features(sample)
    assert features.shape == (2000, len(l1_jets.FEATURE_NAMES)) and features.dtype == np.float32
    assert np.allclose(features[:, 0] + features[:, 1], sample.raw_pt, rtol=1e-5)
    assert np.all(features[:, 2] <= features[:, 4]) and np.all(features[:, 4] <= features[:, 0])
    assert np.allclose(l1_jets.predicted_pt(sample, l1_jets.target(sample)), sample.gen_pt, rtol=1e-5)
    scales = l1_jets.power_of_two_scales(features)
    assert np.all(np.log2(scales) == np.round(np.log2(scales)))
    train, val, test = samples.split(sample, seed=3)
    assert (len(train), len(val), len(test)) == (1200, 400, 400)
    with pytest.raises(ValueError, match="sum to 1"):
        samples.split(sample, (0.5, 0.5, 0.5))


def test_a_file_without_towers_is_refused_with_the_missing_branch():
    with pytest.raises(data.MissingBranchError, match="towers_ecal"):
        l1_jets.load("zmumu", max_jets=10)


@pytest.mark.slow
def test_generated_l1_jets_are_reproducible(tmp_path):
    from hepwb.sim.recipes import make_l1_jets_chunk

    first, second = (make_l1_jets_chunk(60, seed=5, chunk=0)["events"] for _ in range(2))
    assert set(first) >= {"gen_pt", "offline_pt", "towers_ecal", "towers_hcal", "weight", "n_towers"}
    for name in first:
        assert np.array_equal(np.asarray(first[name]), np.asarray(second[name])), name


# ------------------------------------------------------------------ the calibrations

def test_the_lut_recovers_factors_that_depend_on_raw_et_and_eta():
    rng = np.random.default_rng(5)
    raw, ieta = rng.uniform(10, 500, 20_000), rng.integers(0, 34, 20_000)
    factor = np.where(ieta >= 15, 1.5, 1.2) * np.where(raw < 50, 1.3, 1.0)
    lut = regression.LUTCalibration(et_edges=(0, 50, np.inf), ieta_edges=(0, 15, 34)).fit(raw, ieta, raw * factor)
    assert np.allclose(lut.predict(raw, ieta), factor)
    assert lut.table().shape == (2, 2)
    with pytest.raises(RuntimeError, match="not fitted"):
        regression.LUTCalibration().predict(raw, ieta)


@pytest.mark.slow
def test_the_dense_regressor_learns_a_correction_and_the_quantized_one_refuses_odd_bits():
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 1, (4000, 3)).astype(np.float32)
    y = (1.2 + 0.5 * x[:, 0]).astype(np.float32)
    model = regression.dense_regressor(3, seed=1)
    training.train(model, x[:3000], y[:3000], x[3000:], y[3000:], epochs=30, patience=5)
    assert np.mean(np.abs(training.predict(model, x[3000:]) - y[3000:])) < 0.03
    with pytest.raises(ValueError, match="bits must be None or an integer from 4 to 18"):
        regression.dense_regressor(3, bits=3)
    assert regression.cnn_regressor().output_shape == (None, 1)


# ------------------------------------------------------------------ metrics on known cases

def test_a_perfect_regressor_has_response_one_and_the_smearing_as_resolution():
    rng = np.random.default_rng(7)
    true = rng.uniform(20, 500, 50_000)
    predicted = true * (1 + 0.1 * rng.standard_normal(len(true)))
    table = metrics.response_resolution(predicted, true, [20, 100, 500])
    assert np.allclose(table["response"], 1.0, atol=0.005)
    assert np.allclose(table["resolution"], 0.1, rtol=0.03)
    assert np.all(table["response_error"] < 0.003) and np.all(table["resolution_error"] > 0)
    with pytest.raises(ValueError, match="positive"):
        metrics.response_resolution(predicted, -true, [20, 500])


def test_a_step_turn_on_and_a_gaussian_one():
    rng = np.random.default_rng(8)
    offline = rng.uniform(20, 250, 40_000)
    table = metrics.turn_on(offline, offline, 100.0, [60, 80, 99, 101, 120, 140])
    assert list(table["efficiency"]) == [0, 0, pytest.approx(0.5, abs=0.15), 1, 1]
    step = metrics.turn_on_fit(offline, offline, 100.0)
    assert step["mu"] == pytest.approx(100.0, abs=0.5) and step["sigma"] < 0.5
    smeared = metrics.turn_on_fit(offline + 10 * rng.standard_normal(len(offline)), offline, 100.0)
    assert smeared["mu"] == pytest.approx(100.0, abs=3 * smeared["mu_error"] + 0.3)
    assert smeared["sigma"] == pytest.approx(10.0, rel=0.1)
    assert smeared["pt95"] == pytest.approx(100.0 + 16.45, abs=2.0)


def test_thresholds_rates_and_agreement():
    offline = np.linspace(0, 200, 20_001)
    assert metrics.threshold_at_efficiency(offline, offline, 120.0) == pytest.approx(120.0 - 4.5, abs=0.05)
    rate = metrics.trigger_rate(np.array([10.0, 50.0, 150.0]), 100.0, weights=np.array([8.0, 1.0, 1.0]))
    assert rate["fraction"] == pytest.approx(0.1) and rate["error"] == pytest.approx(0.1)
    curve = metrics.rate_curve(offline, offline, [100.0, 500.0])
    assert np.isfinite(curve["rate"][0]) and np.isnan(curve["rate"][1])  # no jets near 500 GeV
    agreement = metrics.pt_agreement([100.0, 50.0], [100.4, 51.0])
    assert agreement == {"within_step_fraction": 0.5, "max_abs_difference": pytest.approx(1.0)}


# ------------------------------------------------------------------ conifer

@pytest.mark.slow
def test_conifer_emulation_of_a_regressor_agrees_with_sklearn(tmp_path):
    rng = np.random.default_rng(9)
    x = np.round(rng.uniform(0, 200, (3000, 4)) * 2) / 2  # 0.5 GeV steps, as the trigger's
    y = 1.2 + 0.002 * x[:, 0] - 0.001 * x[:, 1]
    bdt = regression.boosted_trees(x, y, n_estimators=10, max_depth=2)
    model = fpga.convert_bdt(bdt, fpga.bdt_config(tmp_path / "bdt"))
    assert np.max(np.abs(fpga.bdt_predict(model, x) - bdt.predict(x))) < 1e-3
    assert not hasattr(bdt, "n_classes_")  # the regressor itself is left as it was
    cost = fpga.bdt_cost(bdt, model)
    assert cost["trees"] == 10 and cost["comparators"] == sum((t.tree_.children_left >= 0).sum()
                                                               for t in bdt.estimators_[:, 0])
    assert cost["conifer_latency_cycles"] > 0 and cost["conifer_lut"] > 0
    with pytest.raises(ValueError, match="GradientBoostingRegressor"):
        fpga.convert_bdt(regression.LUTCalibration(), fpga.bdt_config(tmp_path / "lut"))
