"""Widgets build and react without a display; they open every real ROOT file."""

from __future__ import annotations

import numpy as np
import pytest

from hepwb import data, widgets
from hepwb.sim.recipes import JET_CLASSES

REAL_FILES = [data.real_file(name) for name in data.real_files()]


def test_browser_lists_branches_with_type_and_entries():
    browser = widgets.RootBrowser("zmumu")
    rows = browser.branch_rows()
    entries = data.tree("zmumu").num_entries
    assert f"m_ll  float  ({entries})" in rows
    assert any(row.startswith("jet_pt  float[]") for row in rows)


def test_choosing_another_branch_changes_the_histogram():
    browser = widgets.RootBrowser("zmumu")
    browser.select("m_ll")
    m_ll = browser.hists["m_ll"]
    assert browser.figure is not None and 80 < m_ll.axes[0].centers[np.argmax(m_ll.values())] < 100
    browser.select("met")
    assert list(browser.hists) == ["met"] and browser.current_branch == "met"
    assert not np.array_equal(browser.hists["met"].values(), m_ll.values())


def test_browser_filter_and_log_scale():
    browser = widgets.RootBrowser("zmumu")
    browser.filter.value = "mu2_"
    assert all(row.startswith("mu2_") for row in browser.branch_rows()) and len(browser.branch_rows()) == 6
    browser.log_scale.value = True
    assert browser.figure.axes[0].get_yscale() == "log"


def test_browser_names_a_missing_branch():
    browser = widgets.RootBrowser("zmumu")
    with pytest.raises(data.MissingBranchError, match="no branch or object named 'mll'"):
        browser.select("mll")


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_browser_opens_every_real_root_file(path):
    browser = widgets.RootBrowser(path)
    assert browser.objects and browser.figure is not None
    for name in browser.objects:
        browser.select(name)
        assert browser.figure is not None and browser.hists


def test_browser_draws_root_histograms():
    browser = widgets.RootBrowser(data.real_file("uproot-hepdata-example.root"))
    browser.select("hpx")
    assert browser.hists["hpx"].sum() > 0
    browser.select("hpxpy")
    assert browser.hists["hpxpy"].ndim == 2


def test_explorer_overlays_the_jet_classes_and_applies_a_cut():
    explorer = widgets.HistogramExplorer("jets", "mass_mmdt", split_by="label", split_labels=JET_CLASSES,
                                         bins=50, range=(0, 250), max_entries=20_000)
    assert list(explorer.hists) == list(JET_CLASSES)
    before = {k: h.sum().value for k, h in explorer.hists.items()}
    explorer.set(cut="mass_mmdt > 60")
    after = {k: h.sum().value for k, h in explorer.hists.items()}
    assert all(after[k] < before[k] for k in before)
    assert after["gluon"] < after["W"]  # few quark/gluon jets are that heavy
    explorer.set(samples=["W", "top"], bins=20)
    assert list(explorer.hists) == ["W", "top"] and explorer.hists["W"].axes[0].size == 20


def test_explorer_takes_expressions_and_reports_mistakes():
    explorer = widgets.HistogramExplorer("zmumu", "m_ll", max_entries=5000)
    explorer.set(expression="sqrt(mu1_pt * mu2_pt)")
    assert explorer.hists["all"].sum().value > 0
    figure = explorer.figure
    explorer.set(expression="m_lll")
    assert "m_lll" in explorer.status.value and "m_ll" in explorer.status.value
    assert explorer.figure is figure  # the last good picture stays
    explorer.set(expression="m_ll", range=(100, 50))
    assert "must exceed" in explorer.status.value


def test_explorer_on_real_cms_data():
    explorer = widgets.HistogramExplorer(data.real_file("uproot-Zmumu.root"), "M", cut="Q1 != Q2",
                                         range=(60, 120), bins=30)
    assert 2000 < explorer.hists["all"].sum().value < 2304


def test_training_monitor_records_epochs_and_prints_a_line(capsys):
    monitor = widgets.TrainingMonitor("dense")
    for epoch in range(3):
        monitor.update(epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 1.2 / (epoch + 1), "accuracy": 0.5 + 0.1 * epoch})
    assert monitor.history["loss"] == [1.0, 0.5, 1 / 3]
    assert "epoch 3" in monitor.header.value
    assert capsys.readouterr().out.count("dense epoch") == 3
    lines = monitor.figure.axes[0].get_lines()
    assert [len(line.get_xdata()) for line in lines] == [3, 3]


def test_working_point_picker_updates_with_the_controls():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 3000)
    scores = rng.dirichlet(np.ones(3), 3000) + np.eye(3)[labels] * 0.5
    scores /= scores.sum(1, keepdims=True)
    picker = widgets.WorkingPointPicker(labels, scores, ["a", "b", "c"], signal_class="c", signal_efficiency=0.5)
    loose = picker.point["background_rejection"]
    picker.efficiency.value = 0.2
    assert picker.point["background_rejection"] > loose
    assert picker.point["signal_efficiency"] == pytest.approx(0.2, abs=0.02)
    picker.signal_class.value = "a"
    assert picker.point["tagged_fraction_per_class"]["a"]["tagged"] == pytest.approx(0.2, abs=0.02)
    assert "rejection" in picker.summary.value
