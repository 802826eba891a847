"""Widgets build and react without a display; they open every real ROOT file."""

from __future__ import annotations

import numpy as np
import pytest
import uproot

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
    # what it drew is met's: the same counts as numpy's histogram of the branch as uproot reads it
    met = browser.hists["met"]
    values = uproot.open(data.resolve("zmumu"))["events"]["met"].array(library="np")
    expected, _ = np.histogram(values, bins=met.axes[0].edges)
    assert np.array_equal(met.values(), expected) and expected.sum() > 0.9 * len(values)


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
    for name, cls in browser.objects.items():
        browser.select(name)  # a histogram draws itself, a tree its first numeric branch
        drawn = list(browser.hists)
        expected = list(browser.file[name].keys()) if cls in data.ENTRY_CLASSES else [name]
        assert len(drawn) == 1 and drawn[0] in expected, f"selecting {name} drew {drawn}: {browser.status.value}"


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
    assert explorer.figure is not None and explorer.output.outputs
    explorer.set(expression="m_lll")
    assert "m_lll" in explorer.status.value and "m_ll" in explorer.status.value
    assert explorer.figure is None and not explorer.output.outputs  # no picture of something else under the error
    explorer.set(expression="m_ll", range=(100, 50))
    assert "must exceed" in explorer.status.value


def test_browser_lists_branches_that_start_with_the_filter_first():
    browser = widgets.RootBrowser(data.real_file("nanoAOD_2015_CMS_Open_Data_ttbar.root"))
    browser.filter.value = "Jet_"
    names = [name for _, name in browser.branch_list.options]
    starting = [name for name in names if name.startswith("Jet_")]
    assert starting and names[:len(starting)] == starting and len(names) > len(starting)  # FatJet_ etc. follow
    assert browser.current_branch == "Jet_pt" or browser.current_branch.startswith("Jet_")


def test_a_message_replaces_the_browsers_picture():
    browser = widgets.RootBrowser(data.real_file("uproot-HZZ.root"))
    assert browser.figure is not None and browser.output.outputs
    browser.filter.value = "no such branch"
    assert browser.figure is None and not browser.output.outputs and "matches the filter" in browser.status.value


def test_only_the_workbenchs_own_files_carry_its_label():
    def texts(figure):
        return " ".join(t.get_text() for ax in figure.axes for t in ax.texts)

    assert "hepwb" in texts(widgets.RootBrowser("zmumu").figure)
    for name in ("uproot-Zmumu.root", "nanoAOD_2015_CMS_Open_Data_ttbar.root", "uproot-hepdata-example.root"):
        assert "hepwb" not in texts(widgets.RootBrowser(data.real_file(name)).figure), name


def test_one_epoch_draws_a_visible_point_on_integer_ticks():
    from hepwb import plotting

    figure = plotting.training_curves({"loss": [1.2], "val_loss": [1.3], "accuracy": [0.3], "val_accuracy": [0.31]})
    for ax in figure.axes:
        assert list(ax.get_xticks()) == [1] and ax.get_xlim()[0] < 1 < ax.get_xlim()[1]
        assert ax.lines and all(line.get_marker() == "o" and line.get_markersize() > 0 for line in ax.lines)
        low, high = ax.get_ylim()
        values = [y for line in ax.lines for y in line.get_ydata()]
        margin = 0.05 * (high - low)
        assert low + margin < min(values) and max(values) < high - margin, "a point sits on the frame"


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


def test_explorer_takes_root_style_cuts_and_explains_a_bad_one_in_one_escaped_line():
    explorer = widgets.HistogramExplorer("jets", "mass_mmdt", split_by="label", split_labels=JET_CLASSES,
                                         max_entries=20_000)
    explorer.set(cut="mass_mmdt > 60 && mass_mmdt < 100")  # as in ROOT's TTree::Draw
    assert explorer.status.value.startswith("entries:")
    python_style = {k: h.sum().value for k, h in explorer.hists.items()}
    explorer.set(cut="(mass_mmdt > 60) & (mass_mmdt < 100)")
    assert {k: h.sum().value for k, h in explorer.hists.items()} == python_style
    assert python_style["W"] > 5 * python_style["gluon"]
    explorer.set(cut="mass_mmdt > 60 &&& < 100")
    status = explorer.status.value
    assert "cut: cannot read" in status and "&amp;&amp;&amp; &lt; 100" in status  # escaped, not swallowed as a tag
    assert status.count("<br>") == 1  # the line, then the branch list


def test_explorer_gives_a_new_x_its_own_range_unless_the_student_pinned_one():
    explorer = widgets.HistogramExplorer("jets", "mass_mmdt", range=(0, 250), max_entries=5000)
    assert explorer.hists["all"].axes[0].edges[-1] == 250
    explorer.expression.value = "d2_b1_mmdt"  # as a student types it
    edges = explorer.hists["all"].axes[0].edges
    assert edges[-1] < 20 and explorer.hists["all"].sum().value > 0.99 * 5000 * 0.99
    assert explorer.high.value == pytest.approx(edges[-1], rel=1e-3) and not explorer.range_pinned  # boxes follow
    explorer.high.value, explorer.low.value = 3.0, 0.5  # the student pins a range
    explorer.expression.value = "n2_b1_mmdt"
    assert explorer.hists["all"].axes[0].edges[[0, -1]].tolist() == [0.5, 3.0]


def test_browser_says_when_the_filter_matches_nothing_and_clears_the_plot():
    browser = widgets.RootBrowser("zmumu")
    assert browser.output.outputs and "image/png" in browser.output.outputs[0]["data"]  # drawn into its own area
    browser.filter.value = "no_such_branch"
    assert browser.figure is None and browser.hists == {} and browser.output.outputs == ()
    assert "no branch of events matches the filter 'no_such_branch'" in browser.status.value
    browser.filter.value = "m_l"
    assert browser.current_branch == "m_ll" and browser.figure is not None


def test_widgets_describe_themselves_in_one_line_instead_of_their_repr():
    browser = widgets.RootBrowser("zmumu", max_entries=1000)
    text = browser._repr_mimebundle_()["text/plain"]
    assert text.startswith("ROOT browser of data/zmumu.root: 1 objects") and "children=" not in text
    assert "1000 of" in browser.status.value  # max_entries honoured
    explorer = widgets.HistogramExplorer("jets", "mass_mmdt", cut="jet_pt > 900", max_entries=1000)
    assert explorer._repr_mimebundle_()["text/plain"].startswith("histogram explorer of jets: mass_mmdt with cut")


def test_every_expression_00_suggests_works_in_the_explorer():
    import ast
    import json
    import re

    from hepwb.run import batch

    notebook = json.loads((batch.NOTEBOOK_DIR / "00_root_data.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    branches = {name: set(data.tree(name).keys()) for name in ("jets", "zmumu")}
    tried = 0
    for span in re.findall(r"`([^`]+)`", text):
        try:
            names = {n.id for n in ast.walk(ast.parse(data.python_expression(span), mode="eval"))
                     if isinstance(n, ast.Name)}
        except SyntaxError:
            continue  # prose in backticks (a file name, a command)
        for dataset, known in branches.items():
            if names and names <= known:
                explorer = widgets.HistogramExplorer(dataset, max_entries=2000)
                is_cut = any(isinstance(n, (ast.Compare, ast.BitAnd)) for n in
                             ast.walk(ast.parse(data.python_expression(span), mode="eval")))
                explorer.set(**({"cut": span} if is_cut else {"expression": span}))
                assert explorer.status.value.startswith("entries:"), (span, explorer.status.value)
                tried += 1
    assert tried >= 3  # the cut, the D2 expression, n_vertices > 25 ...
