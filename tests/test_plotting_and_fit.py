"""Plots and fits: histograms, ratio panels, and peak fits that recover known parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hepwb import plotting
from hepwb.metrics import tracking as track_metrics
from hepwb.samples import track_graphs, tracks
from hepwb.studies import fit


def test_histogram_flattens_jagged_input_and_drops_nan():
    import awkward as ak

    h = plotting.histogram(ak.Array([[1.0, 2.0], [], [3.0, np.nan]]), bins=3, range=(0.5, 3.5))
    assert h.values().tolist() == [1, 1, 1]


def test_ratio_panel_is_two_for_double_counts_and_one_for_double_densities():
    values = np.random.default_rng(0).normal(size=10_000)
    single = plotting.histogram(values, bins=20, range=(-3, 3))
    double = plotting.histogram(np.concatenate([values, values]), bins=20, range=(-3, 3))
    for density, expected in ((False, 2.0), (True, 1.0)):
        fig = plotting.compare({"reference": single, "twice": double}, reference="reference", density=density)
        main, ratio = fig.axes
        points = ratio.lines[0].get_ydata()  # the errorbar markers of "twice"
        assert np.isfinite(points).sum() == 20  # every bin has a ratio: none may hide as NaN
        assert np.allclose(points, expected)
        assert len(main.get_legend().get_texts()) == 2
    with pytest.raises(KeyError, match="reference 'nope' is not among"):
        plotting.compare({"a": single}, reference="nope")


def test_voigt_fit_recovers_z_mass_and_width():
    rng = np.random.default_rng(1)
    n = 40_000
    mass = 91.19 + 2.495 / 2 * rng.standard_cauchy(n) + rng.normal(0, 1.0, n)
    background = 60 + rng.exponential(30, 4000)
    h = plotting.histogram(np.concatenate([mass, background]), bins=60, range=(60, 120))
    result = fit.fit_peak(h, model="voigt", window=(70, 112), mass_guess=90)
    assert result.mass == pytest.approx(91.19, abs=3 * result.mass_error + 0.02)
    assert result.width == pytest.approx(2.495, rel=0.1)
    assert result.resolution == pytest.approx(1.0, rel=0.2)


def test_gauss_fit_and_bad_inputs():
    rng = np.random.default_rng(2)
    h = plotting.histogram(rng.normal(80, 5, 20_000), bins=60, range=(0, 250))
    result = fit.fit_peak(h, model="gauss", window=(60, 100), mass_guess=75)
    assert result.mass == pytest.approx(80, abs=0.3) and result.width == pytest.approx(5, rel=0.1)
    with pytest.raises(ValueError, match="model must be 'voigt' or 'gauss'"):
        fit.fit_peak(h, model="landau")
    with pytest.raises(ValueError, match="too few entries"):
        fit.fit_peak(h, window=(200, 250))


def _drawing_calls():
    """One small call of every drawing function of hepwb.plotting."""
    from hepwb import data, metrics

    rng = np.random.default_rng(3)
    h = plotting.histogram(rng.normal(size=500), bins=10, range=(-3, 3))
    labels, scores = rng.integers(0, 2, 300), rng.dirichlet([1, 1], 300)
    real, generated = rng.normal(size=(400, 2)), rng.normal(0.1, 1.1, size=(400, 2))
    curve = metrics.ROC(fpr=np.linspace(0, 1, 20) ** 2, tpr=np.linspace(0, 1, 20))
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "accuracy": [0.5, 0.7], "val_accuracy": [0.5, 0.6]}
    gan_history = {"epoch": [1, 2], "generator_loss": [1.0, 0.9], "discriminator_loss": [0.7, 0.6],
                   "mass_loss": [5.0, 3.0]}
    hpx = data.open(data.real_file("uproot-hepdata-example.root"))["hpx"]
    from hepwb.sim.cascade import SHOWER_READOUT
    from hepwb.studies import showers as shower_study

    binning = SHOWER_READOUT.binning
    shower = rng.exponential(5.0, binning.n_voxels) * (rng.random(binning.n_voxels) < 0.5)
    checks = shower_study.physics_checks((2000, 8000), showers=3, seed=1)
    true_pt = rng.uniform(20, 600, 400)
    event = tracks.load("tracks", max_events=1)[0]
    graph = track_graphs.build_graph(event)
    from hepwb.studies.measurement import Templates

    edges, one = np.array([0.0, 0.5, 1.0]), {"QCD": np.array([90.0, 20.0]), "signal": np.array([5.0, 10.0])}
    templates = Templates(edges, "score", one, one, {"scale": {p: (1.1 * n, 0.9 * n) for p, n in one.items()}},
                          {"scale": {"QCD": 0.5, "signal": 0.5}})
    return {
        "plot_hists": lambda: plotting.plot_hists({"a": h}),
        "overlay_panels": lambda: plotting.overlay_panels([{"a": h}, {"b": h}], titles=["a", "b"]),
        "compare": lambda: plotting.compare({"a": h, "b": h}, "a"),
        "plot_root_histogram": lambda: plotting.plot_root_histogram(hpx),
        "scatter_figure": lambda: plotting.scatter_figure(real[:, 0], generated[:, 0], xlabel="x", ylabel="y"),
        "feature_grid": lambda: plotting.feature_grid(real, rng.integers(0, 2, len(real)), ["x", "y"], ["a", "b"]),
        "roc_figure": lambda: plotting.roc_figure({"m": {"a": curve, "b": curve}}, {"m": {"a": 0.7, "b": 0.7}},
                                                  ["a", "b"]),
        "confusion_figure": lambda: plotting.confusion_figure([[0.8, 0.2], [0.3, 0.7]], ["a", "b"]),
        "score_figure": lambda: plotting.score_figure(scores, labels, ["a", "b"], "b"),
        "image_grid": lambda: plotting.image_grid({"a": rng.random((8, 8)), "b": rng.random((8, 8))}),
        "training_curves": lambda: plotting.training_curves(history),
        "weights_figure": lambda: plotting.weights_figure({"w": rng.normal(size=100)}),
        "bit_scan_figure": lambda: plotting.bit_scan_figure([8, 4], [0.6, 0.5], [0.8, 0.7], 0.62, 0.82),
        "bit_widths_figure": lambda: plotting.bit_widths_figure({"fc1": np.array([[6.0, 0.0], [3.0, 6.0]]),
                                                                 "fc2": np.full((2, 3), 6.0)}, title="HGQ2"),
        "comparison_grid": lambda: plotting.comparison_grid(real, {"A": generated, "B": real[::-1]}, ["x", "y"]),
        "correlation_difference": lambda: plotting.correlation_difference(real, generated, ["x", "y"]),
        "gan_losses": lambda: plotting.gan_losses(gan_history, [1, 2], 2),
        "flow_losses": lambda: plotting.flow_losses({"epoch": [1, 2], "train_nll": [20.0, 18.0],
                                                     "validation_nll": [20.5, 18.6]}, [2], 2),
        "tail_pulls_figure": lambda: plotting.tail_pulls_figure(
            {"A": {"x": metrics.tail_agreement(rng.normal(size=2000), rng.normal(size=4000))}}),
        "anomaly_score_figure": lambda: plotting.anomaly_score_figure(rng.random(300), {"s": rng.random(50) + 0.5}),
        "anomaly_roc_figure": lambda: plotting.anomaly_roc_figure({"AE": curve}, {"AE": 0.8}),
        "contribution_figure": lambda: plotting.contribution_figure({"healthy": {"met": 0.2, "jet": 0.8},
                                                                    "faulty": {"met": 0.5, "jet": 0.5}}),
        "decorrelation_figure": lambda: plotting.decorrelation_figure({"1": (2.0, 30.0), "10": (20.0, 10.0),
                                                                       "plain": (1.5, 40.0)}, ["1", "10"]),
        "reliability_figure": lambda: plotting.reliability_figure({"m": metrics.reliability(labels, scores)},
                                                                  {"m": 0.1}),
        "shift_figure": lambda: plotting.shift_figure({"m": {"nominal": 0.9, "shifted": 0.8}}),
        "scale_resolution_figure": lambda: plotting.scale_resolution_figure(
            {"m": metrics.response_resolution(true_pt * rng.normal(1, 0.1, 400), true_pt, [20, 100, 600])}),
        "turn_on_figure": lambda: plotting.turn_on_figure(
            {"m": metrics.turn_on(true_pt + rng.normal(0, 10, 400), true_pt, 100.0, [40, 80, 120, 160])}, 100.0,
            {"m": metrics.turn_on_fit(true_pt + rng.normal(0, 10, 400), true_pt, 100.0)}),
        "rate_figure": lambda: plotting.rate_figure({"m": metrics.rate_curve(
            np.linspace(20, 600, 5000), np.linspace(20, 600, 5000), [100.0, 200.0])}),
        "tower_windows_figure": lambda: plotting.tower_windows_figure(rng.random((2, 9, 9, 2)) * 4, ["a", "b"]),
        "difference_figure": lambda: plotting.difference_figure({"m": rng.normal(0, 0.1, 100)}),
        "bars_figure": lambda: plotting.bars_figure({"a": 0.3, "b": 0.7}, xlabel="importance"),
        "scan_figure": lambda: plotting.scan_figure(pd.DataFrame({"bits": [4, 4, 6, 6], "mode": ["a", "b", "a", "b"],
                                                                  "seed": [1, 1, 1, 1], "acc": [0.6, 0.5, 0.7, 0.6]}),
                                                    "acc", ["bits", "mode"]),
        "event_display": lambda: plotting.event_display(event),
        "graph_figure": lambda: plotting.graph_figure(event, graph, graph.truth),
        "edge_score_figure": lambda: plotting.edge_score_figure(graph.truth, rng.random(graph.n_edges), 0.5),
        "rates_figure": lambda: plotting.rates_figure(
            {"m": track_metrics.binned_rate(rng.uniform(1, 10, 200), rng.random(200) < 0.9, [1, 3, 10])},
            xlabel="pT", ylabel="efficiency", log_x=True),
        "timing_figure": lambda: plotting.timing_figure(pd.DataFrame(
            {"pileup": [0, 10], "network_chain_s": [0.04, 0.06], "graph_s": [0.002, 0.005],
             "filter_s": [0.001, 0.003], "network_s": [0.04, 0.05], "baseline_s": [0.003, 0.008]}),
            {"baseline_s": 0.5}),
        "working_point_figure": lambda: plotting.working_point_figure(pd.DataFrame(
            {"efficiency": [0.99, 0.97], "fake_rate": [0.08, 0.03]}, index=[0.5, 0.7]), 0.7),
        "shower_layers": lambda: plotting.shower_layers(binning, shower),
        "shower_3d": lambda: plotting.shower_3d(binning, shower, [0.6, 3.1, 8.4, 15.8, 22.1]),
        "longitudinal_figure": lambda: plotting.longitudinal_figure(checks),
        "resolution_figure": lambda: plotting.resolution_figure(checks["rows"], checks["resolution_fit"]),
        "auc_figure": lambda: plotting.auc_figure(pd.DataFrame(
            {"model": ["flow", "flow"], "input": ["voxels", "high-level"], "auc": [0.6, 0.55],
             "auc_error": [0.01, 0.01]})),
        "stacked_figure": lambda: plotting.stacked_figure(
            np.array([0.0, 0.5, 1.0]), [{"QCD": np.array([90.0, 20.0]), "signal": np.array([5.0, 10.0])}] * 2,
            ["pre-fit", "post-fit"], data=np.array([96.0, 31.0]), errors=[np.array([9.0, 3.0])] * 2),
        "variations_figure": lambda: plotting.variations_figure(templates, "scale"),
        "coverage_figure": lambda: plotting.coverage_figure(
            {"mu_hat": rng.normal(1, 0.2, 100), "sigma_hat": np.full(100, 0.2), "mu_true": 1.0, "fraction": 0.68,
             "error": 0.05}),
        "reweighting_figure": lambda: plotting.reweighting_figure(real, generated, {"w": np.ones(len(real))},
                                                                  ["x", "y"]),
        "methods_figure": lambda: plotting.methods_figure(pd.DataFrame(
            {"significance (stat.)": [3.0, 5.0], "significance (syst.)": [2.0, 4.5], "limit (stat.)": [0.7, 0.4],
             "limit (syst.)": [0.9, 0.5]}, index=["cut-based", "NN"])),
        "world_scores_figure": lambda: plotting.world_scores_figure(
            {"NN": {"nominal": rng.random(200), "shifted": rng.random(200)}}),
    }


def test_every_drawing_function_returns_a_figure_with_something_drawn():
    import inspect

    from matplotlib.figure import Figure

    drawing = {name for name, function in inspect.getmembers(plotting, inspect.isfunction)
               if function.__module__.startswith(plotting.__name__ + ".")
               and inspect.signature(function).return_annotation in ("Figure", Figure)}
    calls = _drawing_calls()
    assert set(calls) == drawing, "add a call for each new drawing function"
    for name, call in calls.items():
        figure = call()
        assert isinstance(figure, Figure), f"{name} returned {type(figure).__name__}, not its Figure"
        drawn = [ax for ax in figure.axes if ax.lines or ax.patches or ax.collections or ax.images]
        assert drawn, f"{name}: the figure has nothing drawn"
