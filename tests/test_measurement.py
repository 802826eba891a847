"""From a score to a measurement: templates, the pyhf workspace, fits on known cases, toys, reweighting."""

import numpy as np
import pytest
import uproot

from hepwb.data.errors import MissingBranchError
from hepwb.metrics.reweighting import agreement_table, chi2_ndf, effective_sample_size, weighted_ks
from hepwb.models.reweighting import REWEIGHTERS, ClassifierReweighter
from hepwb.samples import worlds
from hepwb.sim.recipes import JET_CLASSES
from hepwb.studies import inference, measurement, observables

EDGES = np.array([0.0, 0.25, 0.5, 0.75, 1.0])


def toy_templates(*, signal=(10.0, 40.0, 120.0, 300.0), qcd=(5000.0, 2000.0, 600.0, 150.0)) -> measurement.Templates:
    """Templates of a score: a rising signal over a falling QCD background, a small top background, one
    systematic that tilts QCD by ±5 % and one that only scales it, all shapes kept."""
    nominal = {"signal": np.array(signal), "QCD": np.array(qcd), "top": np.array([20.0, 10.0, 8.0, 5.0])}
    tilt = np.array([0.95, 0.98, 1.02, 1.05])
    variations = {"tilt": {p: (n * tilt, n / tilt) if p == "QCD" else (n, n) for p, n in nominal.items()},
                  "scale": {p: (n * 1.03, n * 0.97) for p, n in nominal.items()}}
    return measurement.Templates(EDGES, "score", nominal, {p: n / 100 for p, n in nominal.items()}, variations,
                                 {name: dict.fromkeys(nominal, 0.0) for name in variations})


def toy_world(n_per_class: int = 40, world: str = "nominal", seed: int = 1) -> worlds.WorldJets:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(JET_CLASSES)), n_per_class)
    observables_ = rng.normal(size=(len(labels), len(worlds.OBSERVABLES)))
    return worlds.WorldJets(observables_, labels, np.arange(len(labels)) % 2, world=world)


def test_a_fit_to_asimov_data_recovers_the_injected_signal_strength():
    templates = toy_templates()
    injected = {p: n * (2.0 if p == "signal" else 1.0) for p, n in templates.nominal.items()}
    model, data = inference.model_and_data(measurement.workspace(templates, data=sum(injected.values())))
    import cabinetry

    fit = cabinetry.fit.fit(model, data, tolerance=inference.FIT_TOLERANCE)
    assert fit.bestfit[model.config.poi_index] == pytest.approx(2.0, abs=2e-3)
    pulls = dict(zip(fit.labels, fit.bestfit))
    assert abs(pulls["tilt"]) < 0.01 and abs(pulls["QCD_norm"]) < 0.01


def test_the_workspace_splits_each_variation_into_normalisation_and_shape_and_prunes_noise():
    templates = toy_templates()
    spec = measurement.workspace(templates)
    qcd = next(s for s in spec["channels"][0]["samples"] if s["name"] == "QCD")
    modifiers = {(m["name"], m["type"]): m["data"] for m in qcd["modifiers"]}
    assert modifiers[("scale", "normsys")] == {"hi": pytest.approx(1.03), "lo": pytest.approx(0.97)}
    assert ("scale", "histosys") not in modifiers  # a pure scaling has no shape part
    assert ("tilt", "histosys") in modifiers
    templates.shape_p_values["tilt"]["QCD"] = 0.5  # a shape change within the samples' noise: normalisation only
    qcd = next(s for s in measurement.workspace(templates)["channels"][0]["samples"] if s["name"] == "QCD")
    assert ("tilt", "histosys") not in {(m["name"], m["type"]) for m in qcd["modifiers"]}
    assert not any(m["type"] in ("normsys", "histosys") and m["name"] in ("tilt", "scale")
                   for s in measurement.workspace(templates, systematics=False)["channels"][0]["samples"]
                   for m in s["modifiers"])


def test_systematics_and_simulation_statistics_weaken_the_expected_result():
    templates = toy_templates()
    stat = inference.expected_sensitivity(templates, systematics=False)
    full = inference.expected_sensitivity(templates, systematics=True)
    assert 0 < full["significance"] < stat["significance"]
    assert stat["limit"] < full["limit"] and stat["limit_band"][0] < stat["limit"] < stat["limit_band"][1]
    assert stat["mu_uncertainty"] < full["mu_uncertainty"]


def test_the_asymptotic_expected_limits_agree_with_a_scan_of_pyhf_hypotests():
    import cabinetry

    model, _ = inference.model_and_data(measurement.workspace(toy_templates()))
    asymptotic = inference.expected_limits(model)
    background_only = cabinetry.model_utils.asimov_data(model, poi_value=0.0)
    scan = inference.cls_scan(model, background_only, np.linspace(0.5, 2.0, 16) * asymptotic["limit"])
    assert scan["failed"] == 0
    assert asymptotic["limit"] == pytest.approx(scan["expected"][2], rel=0.02)
    assert asymptotic["limit_band"][0] == pytest.approx(scan["expected"][1], rel=0.03)


@pytest.mark.slow
def test_toys_cover_at_the_nominal_rate_within_their_error():
    model, _ = inference.model_and_data(measurement.workspace(toy_templates()))
    coverage = inference.coverage(model, n_toys=400, seed=2)
    assert coverage["failed_fits"] <= 4
    assert abs(coverage["fraction"] - 0.6827) < 3 * coverage["error"]
    pulls = (coverage["mu_hat"] - 1) / coverage["sigma_hat"]
    assert abs(np.nanmean(pulls)) < 0.2 and 0.85 < np.nanstd(pulls) < 1.15


def test_pseudo_data_follow_the_model_with_a_parameter_pulled_and_refuse_an_unknown_one():
    model, _ = inference.model_and_data(measurement.workspace(toy_templates()))
    nominal = inference.pseudo_data(model, seed=1)
    assert np.array_equal(nominal, inference.pseudo_data(model, seed=1))
    tilted = np.mean([inference.pseudo_data(model, {"tilt": 1.0}, seed=s) for s in range(50)], axis=0)
    # QCD tilted by its +1 sigma variation (0.95 in the first bin, 1.05 in the last), signal and top as they are
    assert tilted[0] == pytest.approx(10 + 5000 * 0.95 + 20, rel=0.005)
    assert tilted[-1] == pytest.approx(300 + 150 * 1.05 + 5, rel=0.02)
    with pytest.raises(ValueError, match="no parameter 'tune'"):
        inference.pseudo_data(model, {"tune": 1.0})


def test_templates_mirror_a_missing_down_world_and_take_shifts_relative_to_the_reference():
    nominal, reference, up = toy_world(seed=1), toy_world(seed=2), toy_world(seed=2, world="up")
    up.observables[:, 0] += 0.5  # the shifted world: the same jets as the reference, the observable moved
    jets = {"nominal": nominal, "reference": reference, "up": up}
    values = {w: j.observables[:, 0] for w, j in jets.items()}
    edges = np.linspace(-3, 3.5, 6)
    systematics = {"shift": measurement.Systematic("up", None, "")}
    t = measurement.make_templates(values, jets, edges, luminosity_fb=10.0, systematics=systematics)
    def counts(world, process):
        jets_ = jets[world]
        mine = jets_.process() == process
        weights = jets_.weights(10.0, measurement.SELECTED_CROSS_SECTIONS_FB)[mine]
        return np.histogram(values[world][mine], edges, weights=weights)[0]

    for process, (high, low) in t.variations["shift"].items():
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = counts("up", process) / counts("reference", process)
        expected = t.nominal[process] * np.where(np.isfinite(ratio), ratio, 1.0)
        assert high == pytest.approx(expected)
        assert low == pytest.approx(np.maximum(2 * t.nominal[process] - high, 0))
    same = measurement.make_templates(values, {"nominal": nominal, "up": up}, edges, luminosity_fb=10.0,
                                      systematics=systematics)  # no reference: the up world's own templates
    qcd = up.process() == "QCD"
    weights = up.weights(10.0, measurement.SELECTED_CROSS_SECTIONS_FB)
    own, _ = np.histogram(values["up"][qcd], edges, weights=weights[qcd])
    assert same.variations["shift"]["QCD"][0] == pytest.approx(own)


def test_a_reweighted_world_uses_the_nominal_jets_with_their_weights():
    nominal = toy_world()
    values = {"nominal": nominal.observables[:, 0]}
    weights = np.where(nominal.observables[:, 0] > 0, 1.5, 0.5)
    t = measurement.make_templates(values, {"nominal": nominal}, np.linspace(-4, 4, 3), luminosity_fb=1.0,
                                   systematics={"tune": measurement.Systematic("a14", None, "")},
                                   reweighted={"a14": weights})
    for process, (up, _) in t.variations["tune"].items():
        assert up == pytest.approx(t.nominal[process] * [0.5, 1.5])


def test_each_jet_weighs_its_class_cross_section_times_luminosity():
    jets = toy_world(n_per_class=30)
    weights = jets.weights(140.0, measurement.SELECTED_CROSS_SECTIONS_FB)
    for index, name in enumerate(JET_CLASSES):
        assert weights[jets.labels == index].sum() == pytest.approx(measurement.SELECTED_CROSS_SECTIONS_FB[name] * 140)
    with pytest.raises(ValueError, match="luminosity must be positive"):
        jets.weights(0.0, measurement.SELECTED_CROSS_SECTIONS_FB)


def test_the_cross_sections_are_those_the_benchmark_measured():
    import json
    from pathlib import Path

    measured = json.loads((Path(__file__).parents[1] / "docs/results/jet-cross-sections.json").read_text())
    for name, row in measured["classes"].items():
        assert measurement.SELECTED_CROSS_SECTIONS_FB[name] == pytest.approx(row["selected_fb"], rel=2e-3)


def test_score_bins_keep_enough_simulated_background_in_each():
    rng = np.random.default_rng(1)
    signal, background = rng.beta(3, 1, 2000), rng.beta(1, 3, 2000)
    edges = observables.score_edges(signal, background, n_bins=10, min_background_jets=20)
    counts, _ = np.histogram(background, edges)
    assert edges[0] == 0 and edges[-1] == 1 and counts.min() >= 20 and 3 <= len(counts) < 10


def test_the_settings_check_names_what_is_wrong():
    good = {"calo_up": "a", "tracking_down": "b", "tune_a14": "c"}
    check = measurement.check_settings
    check(good, tune_from="reweighting", reweighter="classifier", luminosity_fb=140)
    with pytest.raises(ValueError, match=r"unknown world\(s\) \['calo_sideways'\]"):
        check({**good, "calo_sideways": "d"}, tune_from="sample", reweighter="classifier", luminosity_fb=1)
    with pytest.raises(ValueError, match=r"lacks \['tracking_down'\]"):
        check({"calo_up": "a", "tune_a14": "c"}, tune_from="sample", reweighter="classifier", luminosity_fb=1)
    with pytest.raises(ValueError, match="tune_from must be one of"):
        check(good, tune_from="generator", reweighter="classifier", luminosity_fb=1)
    with pytest.raises(ValueError, match="reweighter must be one of"):
        check(good, tune_from="sample", reweighter="bdt", luminosity_fb=1)
    with pytest.raises(ValueError, match="luminosity_fb must be a positive number"):
        check(good, tune_from="sample", reweighter="classifier", luminosity_fb=-3)


def test_a_file_without_the_jets_branches_is_refused_naming_the_branch(tmp_path):
    path = tmp_path / "other.root"
    with uproot.recreate(path) as handle:  # a tree as someone else writes it: no jet class, no features
        handle["jets"] = {"pt": np.ones(10), "eta": np.zeros(10)}
    with pytest.raises(MissingBranchError, match="label"):
        worlds.load(path)


@pytest.mark.parametrize("name", sorted(REWEIGHTERS))
def test_a_reweighter_between_two_gaussians_learns_their_density_ratio(name):
    rng = np.random.default_rng(1)
    original, target = rng.normal(0.0, 1.0, (20_000, 1)), rng.normal(0.5, 1.0, (20_000, 1))
    reweighter = REWEIGHTERS[name](seed=1).fit(original, target)
    x = np.linspace(-1.5, 2.0, 8)[:, None]
    ratio = np.exp(0.5 * x[:, 0] - 0.125)  # N(0.5, 1) / N(0, 1)
    weights = reweighter.predict_weights(np.concatenate([x, original[:2000]]))
    scale = weights[8:].mean()  # the weights have mean 1 over the original sample; so has the ratio
    assert weights[:8] / scale == pytest.approx(ratio, rel=0.2)
    held_out = rng.normal(0.0, 1.0, (20_000, 1))
    after = reweighter.predict_weights(held_out)
    assert abs(np.average(held_out[:, 0], weights=after) - 0.5) < 0.05


def test_an_unfitted_reweighter_and_broken_inputs_are_refused():
    with pytest.raises(RuntimeError, match="fit the reweighter first"):
        ClassifierReweighter().predict_weights(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="same k"):
        ClassifierReweighter().fit(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        ClassifierReweighter().fit(np.full((3, 2), np.nan), np.zeros((3, 2)))


def test_agreement_metrics_on_known_samples():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=20_000), rng.normal(size=20_000)
    assert chi2_ndf(a, b) < 2 and chi2_ndf(a + 0.1, b) > 5
    from scipy.stats import ks_2samp

    assert weighted_ks(a, b)[0] == pytest.approx(ks_2samp(a, b).statistic)
    assert weighted_ks(a, b)[1] == pytest.approx(ks_2samp(a, b).pvalue, rel=0.05)
    assert effective_sample_size(np.ones(50)) == pytest.approx(50)
    assert effective_sample_size(np.r_[np.ones(50), np.zeros(50)]) == pytest.approx(50)
    shifted = a + 0.3
    weights = np.exp(-0.3 * shifted + 0.045)  # N(0.3, 1) -> N(0, 1) exactly
    table = agreement_table(shifted[:, None], b[:, None], ["x"], weights={"exact": weights})
    assert table.loc["x", "chi2/ndf before"] > 10 and table.loc["x", "chi2/ndf exact"] < 2
