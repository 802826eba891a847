"""RNTuple, ROOT's columnar successor of the TTree, wherever a TTree works: listing, describing,
reading (branches, cuts, expressions, chunks, Dask), the jet-tagging loader and both widgets.

Two kinds of RNTuple: a dataset written by ``hepwb generate --format rntuple`` (compared with the
TTree of the same seed) and a file written the way an uproot user writes one, with a collection of
records (nested fields ``Muon.pt``) beside other ROOT objects.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepwb import data, samples, widgets
from hepwb.sim.recipes import JET_CLASSES


@pytest.fixture(scope="module")
def foreign_rntuple(tmp_path_factory):
    """An RNTuple with a collection of records, a TTree, a histogram, a string and a folder, as uproot writes them."""
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 4, 500)
    muons = ak.unflatten(ak.zip({"pt": rng.exponential(30, counts.sum()), "charge": rng.choice([-1, 1], counts.sum())}),
                         counts)
    path = tmp_path_factory.mktemp("foreign") / "events.root"
    with uproot.recreate(path) as file:
        file.mkrntuple("Events", {"run": np.full(500, 1), "met": rng.exponential(20, 500).astype(np.float32),
                                  "Muon": muons, "trigger": rng.random(500) > 0.5})
        file.mktree("summary", {"lumi": np.arange(3.0)})
        file["h_met"] = np.histogram(rng.exponential(20, 100), bins=10)
        file["note"] = "calibration v2"
        file["calib/scale"] = np.histogram(rng.normal(1, 0.01, 100), bins=5)
    return path, muons


def test_generated_rntuple_is_recorded_as_such(small_jets_rntuple):
    entry = data.dataset_info(small_jets_rntuple)
    assert entry["format"] == "rntuple" and entry["command"].endswith("--format rntuple")
    assert data.open(small_jets_rntuple).classnames() == {"jets;1": "ROOT::RNTuple"}
    assert data.trees(small_jets_rntuple) == ["jets"] and data.is_rntuple(data.tree(small_jets_rntuple))


def test_rntuple_dataset_reads_the_same_arrays_as_the_ttree(small_jets, small_jets_rntuple):
    ttree, rntuple = data.read(small_jets), data.read(small_jets_rntuple)
    assert sorted(ttree.fields) == sorted(rntuple.fields) and len(rntuple) == 100  # uproot writes fields sorted
    for name in ttree.fields:  # jagged constituent branches included
        assert ak.array_equal(ttree[name], rntuple[name]), name
    assert ak.any(ak.num(rntuple.const_pt) > 1)


def test_describe_gives_fields_like_branches_with_types_and_units(small_jets, small_jets_rntuple):
    ttree = {row["branch"]: row for row in data.describe(small_jets)}
    rntuple = {row["branch"]: row for row in data.describe(small_jets_rntuple)}
    assert sorted(ttree) == sorted(rntuple)
    assert rntuple["const_pt"]["type"] == "std::vector<float>" and rntuple["jet_pt"]["type"] == "float"
    assert rntuple["jet_pt"]["unit"] == "GeV" and rntuple["jet_pt"]["entries"] == 100


def test_cuts_expressions_chunks_and_dask_agree_with_the_ttree(small_jets, small_jets_rntuple):
    cut = "(jet_pt > 1000) & (label == 4)"
    assert ak.array_equal(data.read(small_jets, ["mass_mmdt"], cut=cut).mass_mmdt,
                          data.read(small_jets_rntuple, ["mass_mmdt"], cut=cut).mass_mmdt)
    expression = "jet_mass / jet_pt"
    ttree = data.arrays(data.tree(small_jets), [expression, "const_pt * 2"], cut="nconst > 20")
    rntuple = data.arrays(data.tree(small_jets_rntuple), [expression, "const_pt * 2"], cut="nconst > 20")
    assert len(rntuple) == len(ttree) > 0
    assert np.allclose(ttree[expression], rntuple[expression]) and ak.array_equal(ttree["const_pt * 2"],
                                                                                     rntuple["const_pt * 2"])
    chunks = list(data.iterate(small_jets_rntuple, ["jet_pt", "const_pt"], step_size=30))
    assert [len(c) for c in chunks] == [30, 30, 30, 10]
    assert ak.array_equal(ak.concatenate(chunks).const_pt, data.read(small_jets, ["const_pt"]).const_pt)
    lazy = data.dask(small_jets_rntuple, ["jet_pt"])
    assert np.array_equal(lazy.jet_pt.compute(), data.read(small_jets, ["jet_pt"]).jet_pt)
    numpy = data.read(small_jets_rntuple, ["jet_pt", "const_pt"], library="np")
    assert numpy["jet_pt"].dtype == np.float32 and len(numpy["const_pt"]) == 100


def test_jet_tagging_inputs_from_an_rntuple(small_jets, small_jets_rntuple):
    ttree = samples.jets.load(small_jets, image_size=8)
    rntuple = samples.jets.load(small_jets_rntuple, image_size=8)
    for view in ("features", "labels", "particles", "mask", "images"):
        assert np.array_equal(getattr(ttree, view), getattr(rntuple, view)), view


def test_nested_collection_fields_are_listed_and_read(foreign_rntuple):
    path, muons = foreign_rntuple
    assert data.trees(path) == ["Events", "summary"]
    with pytest.raises(data.MissingTreeError, match=r"TTrees and RNTuples in the file: \['Events', 'summary'\]"):
        data.read(path, ["met"])
    rows = {row["branch"]: row["type"] for row in data.describe(path, tree_name="Events")}
    assert rows["Muon"] == "collection: var * {pt: float64, charge: int64}"
    assert rows["Muon.pt"] == "double" and rows["met"] == "float" and rows["trigger"] == "bool"
    back = data.read(path, ["Muon.pt", "met"], tree_name="Events", cut="met > 20")
    assert ak.array_equal(back["Muon.pt"], muons.pt[data.read(path, ["met"], tree_name="Events").met > 20])
    with pytest.raises(data.MissingBranchError,
                       match=r"Events: no field named 'Muon_pt' \(did you mean 'Muon.pt'\?\); fields: Muon, Muon.pt"):
        data.read(path, ["Muon_pt"], tree_name="Events")


def test_browser_lists_rntuple_fields_and_histograms_them(small_jets, small_jets_rntuple):
    browser = widgets.RootBrowser(small_jets_rntuple)
    assert browser.objects == {"jets": "ROOT::RNTuple"} and not browser.not_shown
    assert "RNTuple <code>jets</code>: 100 entries" in browser.header.value
    assert "const_pt  std::vector<float>  (100)" in browser.branch_rows()
    browser.select("const_pt")
    constituents = ak.sum(data.read(small_jets, ["nconst"]).nconst)
    assert browser.hists["const_pt"].sum(flow=True).value == constituents


def test_browser_shows_nested_fields_and_says_what_it_does_not_show(foreign_rntuple):
    path, muons = foreign_rntuple
    browser = widgets.RootBrowser(path)
    assert browser.objects == {"Events": "ROOT::RNTuple", "summary": "TTree", "h_met": "TH1D", "calib/scale": "TH1D"}
    assert set(browser.not_shown) == {"note", "calib"}
    assert browser.not_shown["note"].startswith("TObjString: hepwb draws histograms")
    assert "not shown: <code>note</code>" in browser.others.value and "a folder" in browser.not_shown["calib"]
    browser.select("Events")
    assert "Muon.pt  double  (500)" in browser.branch_rows()
    browser.select("Muon.pt")
    assert browser.hists["Muon.pt"].sum(flow=True).value == ak.sum(ak.num(muons))
    assert browser.figure is not None
    browser.select("Muon")  # a collection of records: named, not drawn, and Muon.pt's picture gone with the choice
    assert "not numbers" in browser.status.value and "Muon.*" in browser.status.value
    assert browser.figure is None and not browser.output.outputs


def test_explorer_on_an_rntuple_matches_the_ttree(small_jets, small_jets_rntuple):
    settings = {"split_by": "label", "split_labels": JET_CLASSES, "bins": 20, "range": (0, 1.0), "cut": "jet_pt > 900"}
    ttree = widgets.HistogramExplorer(small_jets, "const_pt / jet_pt", **settings)
    rntuple = widgets.HistogramExplorer(small_jets_rntuple, "const_pt / jet_pt", **settings)
    assert list(rntuple.hists) == list(JET_CLASSES)
    for name in JET_CLASSES:
        assert np.array_equal(ttree.hists[name].values(), rntuple.hists[name].values()), name
    rntuple.set(expression="const_pt / jet_ptt")
    assert "jet_ptt" in rntuple.status.value


def test_explorer_on_nested_fields(foreign_rntuple):
    path, muons = foreign_rntuple
    explorer = widgets.HistogramExplorer(path, "Muon.pt", tree_name="Events", cut="trigger", bins=10, range=(0, 500))
    triggered = data.read(path, ["trigger"], tree_name="Events").trigger
    assert explorer.hists["all"].sum(flow=True).value == ak.sum(ak.num(muons[triggered]))
