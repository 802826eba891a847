"""Every notebook runs headless with the smoke preset and writes finite metrics.

The committed notebooks are also re-executed by nbval (``--nbval-lax`` in pytest's options),
which compares the outputs of cells tagged ``nbval-check-output``.
"""

from __future__ import annotations

import math
import re

import pytest

from hepwb.models import quantization
from hepwb.notebook import metric_key
from hepwb.run import batch

pytestmark = pytest.mark.slow  # every notebook's smoke run: left out by make test-fast

#: notebooks that take the taggers 01_jet_tagging saved (parameter tagger_dir)
NEEDS_TAGGERS = ("04_trigger_fpga", "05_tagger_robustness")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Run a notebook with the smoke preset once per test module; returns (result, output folder)."""
    out = tmp_path_factory.mktemp("smoke")
    cache = {}

    def run(stem):
        if stem not in cache:
            parameters = {}
            if stem in NEEDS_TAGGERS:  # always the smoke run's own taggers, whatever ran before
                run("01_jet_tagging")
                parameters["tagger_dir"] = str(out / "01_jet_tagging")
            cache[stem] = batch.run_notebook(batch.NOTEBOOK_DIR / f"{stem}.ipynb", preset="smoke", out_dir=out,
                                             parameters=parameters)
        return cache[stem], out / stem

    return run


@pytest.mark.parametrize("stem", [p.stem for p in batch.notebook_paths()])
def test_notebook_runs_with_smoke_preset(smoke_run, stem):
    result, folder = smoke_run(stem)
    assert result["status"] == "ok", result["error"]
    metrics = result["metrics"]
    assert metrics and all(math.isfinite(v) for v in metrics.values() if isinstance(v, float))
    assert (folder / f"{stem}.ipynb").exists() and (folder / "metrics.json").exists()


#: metrics that measure the machine (time, rates, memory), not the physics: they differ run to run
MACHINE_DEPENDENT = re.compile(r"seconds|per_second|speed_up|peak_memory")


@pytest.mark.parametrize("stem", [p.stem for p in batch.notebook_paths()])
def test_a_second_smoke_run_with_the_same_seed_gives_the_same_numbers(smoke_run, stem, tmp_path):
    """hepwb seeds Python, NumPy and TensorFlow and turns on TensorFlow's op determinism (``training.set_seed``):
    every metric agrees to 1e-9 (relative); only timings and memory may differ. Not bit for bit: NumPy's
    vectorised sums depend on memory alignment, which moved the 16th digit of a W1 distance once, and
    XLA's compiled training step of 02's flow moved the 11th digit of its FPD once (before XLA was held to
    one Eigen thread, ``hepwb.quiet``)."""
    first, folder = smoke_run(stem)
    parameters = {"tagger_dir": str(folder.parent / "01_jet_tagging")} if stem in NEEDS_TAGGERS else {}
    second = batch.run_notebook(batch.NOTEBOOK_DIR / f"{stem}.ipynb", preset="smoke", out_dir=tmp_path,
                                parameters=parameters)
    assert second["status"] == "ok", second["error"]
    physics = {k: v for k, v in first["metrics"].items() if k != "headline" and not MACHINE_DEPENDENT.search(k)}
    again = {k: v for k, v in second["metrics"].items() if k != "headline" and not MACHINE_DEPENDENT.search(k)}
    assert len(physics) >= 5 and again.keys() == physics.keys()
    for key, value in physics.items():
        assert again[key] == (pytest.approx(value, rel=1e-9, abs=1e-15) if isinstance(value, float) else value), key


def test_root_data_smoke_metrics_are_physical(smoke_run):
    metrics = smoke_run("00_root_data")[0]["metrics"]
    assert metrics["zmumu_events"] == 1000 and metrics["jets"] == 1000  # the fewest its check allows
    assert abs(metrics["z_mass_fit_gev"] - 91.19) < 1.0
    assert abs(metrics["W_groomed_mass_peak_gev"] - 80.4) < 6.0
    assert abs(metrics["top_groomed_mass_peak_gev"] - 172.5) < 10.0
    assert abs(metrics["cms2010_z_mass_fit_gev"] - 91.19) < 1.0  # real CMS data, shipped in data/real/
    assert metrics["rntuple_jets"] == 2500


def test_root_data_stops_in_its_parameter_check_below_the_entries_its_fits_need(tmp_path):
    from hepwb.studies.fit import MIN_ENTRIES_FOR_PEAK_FITS

    result = batch.run_notebook(batch.NOTEBOOK_DIR / "00_root_data.ipynb", preset="smoke", out_dir=tmp_path,
                                parameters={"max_events": MIN_ENTRIES_FOR_PEAK_FITS - 1})
    assert result["status"] == "failed"
    assert f"too few for the mass-peak fits: use max_events >= {MIN_ENTRIES_FOR_PEAK_FITS}" in result["error"]
    assert "fit window" not in result["error"] and not (tmp_path / "00_root_data" / "metrics.json").exists()


#: each notebook's size parameters at the fewest its check allows: the smoke preset runs there (notebooks/presets.yaml)
FEWEST = {"01_jet_tagging": {"max_jets": 3000}, "02_gan_fastsim": {"max_events": 5000},
          "03_anomaly_detection": {"max_events": 8000, "fault_events": 40, "jets_per_class": 300},
          "04_trigger_fpga": {"max_jets": 2000}, "05_tagger_robustness": {"max_jets": 3000},
          "06_trigger_regression": {"max_jets": 10000}, "07_tracking_gnn": {"max_events": 10},
          "08_calorimeter_showers": {"max_showers": 1000},
          "09_from_score_to_measurement": {"max_jets": 10000, "n_toys": 20}}


def test_the_smoke_presets_run_at_the_fewest_each_check_allows():
    smoke = {stem: presets["smoke"] for stem, presets in batch.load_presets().items()}
    assert {stem: {k: smoke[stem][k] for k in sizes} for stem, sizes in FEWEST.items()} == FEWEST


@pytest.mark.parametrize("stem, name", [(stem, name) for stem, sizes in FEWEST.items() for name in sizes])
def test_one_fewer_than_a_notebook_is_tested_with_stops_it_in_one_line(smoke_run, stem, name, tmp_path):
    fewest = FEWEST[stem][name]
    taggers = {"tagger_dir": str(smoke_run("01_jet_tagging")[1])} if stem in NEEDS_TAGGERS else {}  # 05 loads first
    parameters = {name: fewest - 1, **taggers}
    result = batch.run_notebook(batch.NOTEBOOK_DIR / f"{stem}.ipynb", preset="smoke", out_dir=tmp_path,
                                parameters=parameters)
    assert result["status"] == "failed"
    assert f"{name}={fewest - 1} is below {fewest}, the fewest this notebook is tested with: use {name} >= " \
           f"{fewest}" in result["error"]
    assert not (tmp_path / stem / "metrics.json").exists()


def test_jet_tagging_smoke_run_beats_chance_and_saves_the_tagger(smoke_run):
    result, folder = smoke_run("01_jet_tagging")
    metrics = result["metrics"]
    for model in ("hls4ml", "bdt", "pfn", "cnn", "particlenet", "part"):
        assert metrics[f"{model}_mean_auc"] > 0.6, model
    assert (folder / "hls4ml_tagger.h5").exists() and (folder / "hls4ml_tagger_inputs.json").exists()


def test_jet_tagging_refuses_an_unknown_model_before_training(tmp_path):
    result = batch.run_notebook(batch.NOTEBOOK_DIR / "01_jet_tagging.ipynb", preset="smoke", out_dir=tmp_path,
                                parameters={"models": ["hls4ml", "lorentznet"]})
    assert result["status"] == "failed"
    assert ("unknown model(s) ['lorentznet']; choose from ['hls4ml', 'pfn', 'cnn', 'bdt', 'particlenet', 'part']"
            in result["error"])
    assert not (tmp_path / "01_jet_tagging" / "hls4ml_tagger.h5").exists()


def test_trigger_fpga_smoke_run_converts_and_agrees(smoke_run):
    result, folder = smoke_run("04_trigger_fpga")
    metrics = result["metrics"]
    assert metrics["quantized_hls4ml_same_class"] >= 0.95 and metrics["float_hls4ml_same_class"] >= 0.95
    assert metrics["pruned_firmware_bops"] < 0.3 * metrics["float_firmware_bops"]  # 75 % of the weights pruned
    # keras2: 6-bit quantisation alone gives about 5, the pruning the rest; keras3: HGQ2 starts at 6 bits and
    # prunes by itself, which a smoke run's few steps barely begin
    assert metrics["bops_reduction"] > {"keras2": 10, "keras3": 4}[quantization.STACK]
    assert (folder / "hls4ml_quantized_tagger.tar.gz").exists()


def test_anomaly_detection_smoke_run_scores_every_signal_and_agrees_in_firmware(smoke_run):
    result, folder = smoke_run("03_anomaly_detection")
    metrics = result["metrics"]
    for signal in ("scalar_4l", "leptoquark_ctau", "higgs_tautau"):
        for model in ("AE", "VAE_reconstruction", "VAE_KL", "PCA"):
            assert metrics[f"{model}_{signal}_auc"] > 0.5, (model, signal)  # better than a coin
    assert metrics["AE_scalar_4l_auc"] > 0.6  # four leptons are unlike the cocktail, even after two epochs
    assert metrics["fpr"] == pytest.approx(10 / metrics["n_background_test"])  # the smallest FPR the sample supports
    assert metrics["hls4ml_score_correlation"] > 0.99
    assert metrics["fault_hot_calorimeter_cell_blamed"] in ("jet", "met")  # a fake jet and fake missing ET
    assert (folder / "hls4ml_autoencoder").is_dir()


def test_anomaly_detection_runs_on_adc2021_files_with_free_text_names(tmp_path):
    """The public challenge's HDF5 files (one process each) under the parameters cell's own example names,
    and a name with non-ASCII characters, go through the same notebook to its last cell."""
    from hepwb.samples import l1_events

    events = l1_events.load("l1_events", max_events=8000)
    names = {"background": ("bkg.h5", "w_lnu"), "A to 4 leptons": ("Ato4l.h5", "scalar_4l"),
             "LQ → bτ (80 GeV)": ("leptoquark.h5", "leptoquark_ctau")}
    files = {name: str(l1_events.write_adc2021(tmp_path / file, events.of(sample)))
             for name, (file, sample) in names.items()}
    result = batch.run_notebook(batch.NOTEBOOK_DIR / "03_anomaly_detection.ipynb", preset="smoke", out_dir=tmp_path,
                                parameters={"adc2021_files": files, "max_events": None})
    assert result["status"] == "ok", result["error"]
    metrics = result["metrics"]
    for name in ("A to 4 leptons", "LQ → bτ (80 GeV)"):
        for key in ("tpr", "auc"):
            assert metric_key("AE", name, key) in metrics and metric_key("PCA", name, key) in metrics
    assert metrics["AE_A_to_4_leptons_auc"] > 0.6  # four leptons are nothing like W events, even after two epochs
    assert metrics["headline"]["AE_A_to_4_leptons_tpr"] == metrics["AE_A_to_4_leptons_tpr"]
    assert "AE_LQ_bτ_80_GeV_tpr" in metrics and not any("higgs" in key for key in metrics)


def test_fastsim_smoke_run_trains_both_generators_and_judges_them_against_the_floor(smoke_run):
    from hepwb import samples
    from hepwb.models import fastsim, gan
    from hepwb.samples import events as eventdata

    result, folder = smoke_run("02_gan_fastsim")
    metrics = result["metrics"]
    # the same split and seed, the GAN before any training: the smoke run must beat it
    sample = eventdata.load("zmumu", max_events=5000)
    train, _, test = samples.split(sample, seed=1)
    untrained = gan.EventGAN(eventdata.EventTransform(seed=1).fit(train.features), seed=1)
    reference, _ = fastsim.score_events(test.features, untrained.generate(len(test), None, seed=11))
    assert metrics["gan_fpd"] < reference["fpd"]  # two epochs do not always sharpen the GAN's m_ll peak yet
    for model in ("gan", "flow"):
        # a generator of constants gives KS 1
        assert metrics[f"{model}_ks_m_ll"] < 0.5 and metrics[f"{model}_fpd"] < 1.0
        assert metrics["real_fpd"] < 0.5 * metrics[f"{model}_fpd"]  # two simulated samples agree better than 2 epochs
        assert metrics[f"{model}_classifier_auc"] > 0.55  # two epochs do not fool the classifier
    assert abs(metrics["real_classifier_auc"] - 0.5) < 0.05  # the classifier cannot tell simulated from simulated
    assert metrics["best"] in ("gan", "flow") and metrics["best_fpd"] == metrics[f"{metrics['best']}_fpd"]
    # every rate is measured in the run on one core; the target for the faster one is 10 000x (full preset)
    assert metrics["speed_up"] > 1000 and metrics["flow_events_per_second"] > 10_000


def test_fastsim_refuses_an_unknown_model_before_reading_data(tmp_path):
    result = batch.run_notebook(batch.NOTEBOOK_DIR / "02_gan_fastsim.ipynb", preset="smoke", out_dir=tmp_path,
                                parameters={"models": ["gan", "vae"]})
    assert result["status"] == "failed"
    assert "models must be a non-empty list of distinct names from ('gan', 'wgan-gp', 'flow'), got ['gan', 'vae']" \
        in result["error"]


def test_tagger_robustness_smoke_run_decorrelates_and_scores_every_saved_tagger(smoke_run):
    metrics = smoke_run("05_tagger_robustness")[0]["metrics"]
    # the working point is fixed on the nominal set: there it keeps its 50 % of top jets, for every tagger
    for tagger in ("hls4ml", "bdt", "pfn", "cnn", "particlenet", "part"):
        assert metrics[f"shifted_mean_auc_{tagger}_nominal"] > 0.6, tagger
        assert metrics[f"shifted_mean_auc_{tagger}_particle_level"] > 0.55, tagger
    # smoke size (two members, four epochs) gives 0.12-0.14; a network that is sure of every answer and right
    # about half the time would be at 0.45
    assert metrics["ece_deep_ensemble"] < 0.25, {k: v for k, v in metrics.items() if k.startswith("ece")}
    assert metrics["particle_level_accuracy"] > 0.3  # five classes: chance is 0.2
    # DisCo buys an unsculpted mass with tagging power: at the smoke preset's weight (10) its tagger passes
    # clearly more background at 50 % signal efficiency than the same network trained without the term
    # (a weight of 0, or a loss that drops the term, gives the plain tagger back)
    assert metrics["sculpting_DisCo_10_at_50_rejection"] < 0.8 * metrics["sculpting_plain_at_50_rejection"]


def test_trigger_regression_smoke_run_calibrates_and_agrees_in_firmware(smoke_run):
    result, folder = smoke_run("06_trigger_regression")
    metrics = result["metrics"]
    assert metrics["hls4ml_agreement"] >= 0.99 and metrics["conifer_agreement"] >= 0.99
    # the quantized network's firmware is bit-exact; the BDT's fixed point is not scikit-learn's float, so conifer
    # compared with itself (or with nothing) would differ by exactly 0
    assert metrics["firmware_max_difference_gev_hls4ml"] == 0
    assert 0 < metrics["firmware_max_difference_gev_conifer"] < 5.0
    assert abs(metrics["response_100_LUT"] - 1) < 0.05 and metrics["resolution_100_LUT"] < 0.15
    assert metrics["best_resolution_gain_vs_lut"] > 0  # even 20 trees or 3 epochs see the ECAL/HCAL split
    assert metrics["pt95_LUT"] > 100  # the turn-on of a 100 GeV threshold is 95 % efficient above it
    assert (folder / "hls4ml_regressor" / "firmware").is_dir() and (folder / "conifer_bdt" / "firmware").is_dir()


def test_showers_smoke_run_checks_the_physics_and_scores_both_generators_against_the_floor(smoke_run):
    metrics = smoke_run("08_calorimeter_showers")[0]["metrics"]
    for energy in ("2GeV", "8GeV"):  # ten showers each: the PDG's numbers within the noise of so few
        assert abs(metrics[f"physics_{energy}_t_max_ratio"] - 1) < 0.25
        assert metrics[f"physics_{energy}_moliere_containment"] > 0.85
    assert 0.01 < metrics["resolution_stochastic"] < 0.3
    for model in ("flow", "vae"):  # 200 test showers: the AUCs are noisy, but they are AUCs
        assert 0.0 <= metrics[f"auc_high_{model}"] <= 1.0 and 0.0 <= metrics[f"auc_voxels_{model}"] <= 1.0
        assert metrics[f"fpd_{model}"] > metrics["fpd_simulated_floor"]  # two epochs do not reach the floor
        assert metrics[f"speed_up_{model}"] > 10  # measured in the run, on one core


def test_showers_refuses_an_unknown_model_before_simulating(tmp_path):
    result = batch.run_notebook(batch.NOTEBOOK_DIR / "08_calorimeter_showers.ipynb", preset="smoke", out_dir=tmp_path,
                                parameters={"models": ["flow", "gan"]})
    assert result["status"] == "failed"
    assert "models must be a non-empty list of distinct names from ('flow', 'vae'), got ['flow', 'gan']" \
        in result["error"]
    assert not (tmp_path / "08_calorimeter_showers" / "metrics.json").exists()


def test_measurement_smoke_run_fits_every_observable_and_covers(smoke_run):
    metrics = smoke_run("09_from_score_to_measurement")[0]["metrics"]
    for method in ("cut_based", "NN", "NN_systematics_aware"):
        # systematics never help (within the fits' tolerance: 1e-3 relative)
        assert 0 < metrics[f"significance_syst_{method}"] <= metrics[f"significance_stat_{method}"] * 1.001
        assert metrics[f"limit_syst_{method}"] > 0 and metrics[f"mu_uncertainty_syst_{method}"] > 0
    # the pseudo-data are drawn at mu = 1: the fit finds it within four of its uncertainties
    assert abs(metrics["fit_mu"] - 1) < 4 * metrics["fit_mu_uncertainty"]
    assert metrics["fit_observed_limit"] > metrics["fit_mu"]
    assert 0.2 < metrics["coverage"] < 1.0  # 20 toys
    assert metrics["reweighting_worst_chi2_ndf_before"] > 0


def test_measurement_refuses_an_unknown_tune_setting_before_reading_data(tmp_path):
    result = batch.run_notebook(batch.NOTEBOOK_DIR / "09_from_score_to_measurement.ipynb", preset="smoke",
                                out_dir=tmp_path, parameters={"tune_from": "generator"})
    assert result["status"] == "failed"
    assert "tune_from must be one of ['reweighting', 'sample'], got 'generator'" in result["error"]
    assert not (tmp_path / "09_from_score_to_measurement" / "metrics.json").exists()
