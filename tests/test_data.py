"""ROOT I/O: round trips, clear errors on bad input, real files written by ROOT itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepwb import data

REAL_FILES = [data.real_file(name) for name in data.real_files()]


def _write(path, arrays, tree="events"):
    with data.TreeWriter(path, tree) as writer:
        writer.extend(arrays)
    return path


def test_root_round_trip_flat_and_jagged(tmp_path):
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 6, 1000)
    arrays = {"x": rng.normal(size=1000).astype(np.float32), "n": counts.astype(np.int32),
              "part": ak.zip({"pt": ak.unflatten(rng.exponential(10, counts.sum()).astype(np.float32), counts)})}
    path = _write(tmp_path / "round.root", arrays)
    back = data.read(path)
    assert set(back.fields) == {"x", "n", "npart", "part_pt"}
    assert np.array_equal(back.x, arrays["x"]) and np.array_equal(back.n, arrays["n"])
    assert ak.array_equal(back.part_pt, arrays["part"].pt)


def test_writer_appends_chunks_in_order(tmp_path):
    path = tmp_path / "chunks.root"
    with data.TreeWriter(path, "t") as writer:
        for start in range(0, 30, 10):
            writer.extend({"i": np.arange(start, start + 10)})
    assert data.read(path, ["i"]).i.tolist() == list(range(30))


def test_failed_write_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError):
        with data.TreeWriter(tmp_path / "half.root", "t") as writer:
            writer.extend({"i": np.arange(5)})
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_not_a_root_file_names_the_file(tmp_path):
    bogus = tmp_path / "notes.root"
    bogus.write_text("these are my analysis notes, not a ROOT file\n" * 10)
    with pytest.raises(data.InvalidROOTFileError, match=r"notes\.root: not a readable ROOT file"):
        data.open(bogus)


def test_truncated_file_names_the_file(tmp_path):
    source = data.real_file("uproot-Zmumu.root")
    truncated = tmp_path / "truncated.root"
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(data.InvalidROOTFileError, match=r"truncated\.root"):
        data.read(truncated, ["M"])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(data.InvalidROOTFileError, match="no such file"):
        data.open(tmp_path / "nowhere.root")


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(data.UnknownDatasetError, match=r"known datasets: \[.*'jets'.*'zmumu'"):
        data.open("higgs_to_unicorns")


def test_missing_tree_lists_the_trees(tmp_path):
    path = _write(tmp_path / "t.root", {"x": np.arange(3)}, tree="events")
    with pytest.raises(data.MissingTreeError,
                       match=r"no tree named 'Events'; TTrees and RNTuples in the file: \['events'\]"):
        data.read(path, tree_name="Events")


def test_missing_branch_lists_available_branches():
    with pytest.raises(data.MissingBranchError) as error:
        data.read("zmumu", ["m_ll", "mll"])
    message = str(error.value)
    assert "no branch named 'mll' (did you mean 'm_ll'?); branches: mu1_pt, mu1_eta," in message and ", met," in message


def test_entry_range_cut_and_chunks():
    first = data.read("zmumu", ["m_ll", "met"], entry_start=10, entry_stop=20)
    assert len(first) == 10
    whole = data.read("zmumu", ["m_ll"], entry_stop=5000)
    selected = data.read("zmumu", ["m_ll"], entry_stop=5000, cut="m_ll > 91.2")
    assert 0.3 < len(selected) / len(whole) < 0.7 and ak.all(selected.m_ll > 91.2)
    sizes = [len(chunk) for chunk in data.iterate("zmumu", ["m_ll"], step_size=12_000)]
    assert sum(sizes) == data.tree("zmumu").num_entries and max(sizes) == 12_000


def test_dask_over_many_files(tmp_path):
    paths = [_write(tmp_path / f"part{i}.root", {"x": np.full(100, float(i))}) for i in range(3)]
    lazy = data.dask(paths, ["x"])
    assert lazy.npartitions == 3
    assert float(ak.sum(lazy.x.compute())) == 100 * (0 + 1 + 2)


def test_committed_datasets_match_their_manifest():
    entries = data.load_manifest()
    assert {"jets", "zmumu", "l1_events"} <= set(entries)
    total = 0
    for name, minimum_events in (("jets", 50_000), ("zmumu", 50_000), ("l1_events", 40_000)):
        entry = entries[name]
        path = data.DATA_DIR / entry["file"]
        assert data.sha256(path) == entry["sha256"], f"{path} does not match its manifest checksum"
        assert data.tree(name).num_entries == entry["events"] >= minimum_events
        assert set(data.tree(name).keys()) == {b["name"] for b in entry["schema"]}
        total += path.stat().st_size
    assert total <= 60 * 1024**2  # the first two issues' budget; l1_events may add up to 40 MB, data/ < 100 MB


def test_describe_gives_units_for_our_datasets():
    rows = {row["branch"]: row for row in data.describe("zmumu")}
    assert rows["m_ll"]["unit"] == "GeV" and rows["met_phi"]["unit"] == "rad"
    assert rows["m_ll"]["entries"] == data.tree("zmumu").num_entries


# ------------------------------------------------------------------ files written by ROOT itself

def test_real_files_ship_with_the_project_as_the_manifest_describes():
    entries = data.real_files()
    assert len(entries) == 7 and len(REAL_FILES) == 7
    for name, entry in entries.items():
        path = data.real_file(name)
        assert path.parent == data.REAL_DIR and path.is_file()
        assert data.sha256(path) == entry["sha256"] and path.stat().st_size == entry["size_bytes"]
        assert entry["licence"] in ("CC0 (CMS open data)", "BSD-3-Clause (scikit-hep-testdata)")
        assert entry["written_by"].startswith("ROOT ") and entry["holds"]
        assert {k.split(";")[0] for k in data.open(path).classnames()} == set(entry["objects"])
        assert name in (data.REAL_DIR / "README.md").read_text()
    assert sum(e["size_bytes"] for e in entries.values()) < 3 * 2**20
    with pytest.raises(data.UnknownDatasetError, match=r"no real ROOT file named 'Zmumu.root'; the files in real/:"):
        data.real_file("Zmumu.root")


def test_nothing_in_the_project_refers_to_files_beside_it():
    root = data.DATA_DIR.parent
    # spelled in pieces so that this file does not name the folder it forbids
    beside = ("/".join(("..", "shared")), "real" + "-root")
    tracked = [p for pattern in ("hepwb/**/*.py", "tests/*.py", "benchmarks/*.py", "notebooks/*.ipynb", "*.md",
                                 "docs/**/*.md", "*.toml", "*.yml", "Makefile", "binder/*", ".ci/*")
               for p in root.glob(pattern)]
    assert len(tracked) > 20 and Path(__file__).resolve() in [p.resolve() for p in tracked]
    offending = [str(p.relative_to(root)) for p in tracked if any(b in p.read_text(errors="replace") for b in beside)]
    assert not offending, f"these files refer to folders beside the project, which users do not have: {offending}"


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_every_real_root_file_opens_and_reads(path):
    handle = data.open(path)
    trees = data.trees(handle)
    assert trees, f"{path.name} holds no tree"  # every file of data/real/ does: the loop below must run
    for name in trees:
        rows = data.describe(path, tree_name=name)
        assert rows and all(row["entries"] > 0 for row in rows)
        numeric = [row["branch"] for row in rows if row["type"] in ("float", "double", "int32_t", "float[]")]
        arrays = data.read(path, numeric[:3], tree_name=name, entry_stop=100)
        assert len(arrays) == min(100, rows[0]["entries"])


@pytest.mark.parametrize("compression", ["lz4", "zstd", "lzma"])
def test_compressed_real_files_read_the_same(compression):
    reference = data.read(data.real_file("uproot-Zmumu.root"), ["M", "px1", "Q1"])
    compressed = data.read(data.real_file(f"uproot-Zmumu-{compression}.root"), ["M", "px1", "Q1"])
    assert ak.array_equal(reference, compressed)
    assert len(reference) == 2304


def test_cms_dimuon_data_has_its_z_peak():
    cms = data.read(data.real_file("uproot-Zmumu.root"), ["M"])
    in_window = cms.M[(cms.M > 80) & (cms.M < 100)]
    assert 90 < np.median(in_window) < 92


def test_nanoaod_jagged_branches():
    path = data.real_file("nanoAOD_2015_CMS_Open_Data_ttbar.root")
    jets = data.read(path, ["nJet", "Jet_pt"], tree_name="Events")
    assert len(jets) == 200 and ak.all(ak.num(jets.Jet_pt) == jets.nJet)


def test_file_with_one_tree_among_other_objects_uses_it(tmp_path):
    path = tmp_path / "one.root"
    shutil.copy(data.real_file("uproot-hepdata-example.root"), path)  # a tree and histograms, written by ROOT
    assert data.trees(path) == ["ntuple"]
    assert len(data.read(path, ["px"], entry_stop=10)) == 10  # the only tree is chosen


def test_file_with_two_trees_asks_which_one(tmp_path):
    path = tmp_path / "two.root"
    with uproot.recreate(path) as file:  # as an analysis writes signal and background side by side
        file["signal"] = {"x": np.arange(5.0)}
        file["background"] = {"x": np.arange(7.0)}
    assert sorted(data.trees(path)) == ["background", "signal"]
    with pytest.raises(data.MissingTreeError, match="say which tree to read; TTrees and RNTuples in the file"):
        data.read(path, ["x"])
    assert len(data.read(path, ["x"], tree_name="background")) == 7


def test_spread_entries_keeps_every_class_of_a_file_written_class_by_class():
    labels = np.repeat(np.tile(np.arange(5), 20), 500)  # blocks of 500 per class, as the jets file
    assert set(labels[:1000]) == {0, 1}  # the first entries hold two classes of five
    kept = labels[data.spread_entries(len(labels), 1000)]
    assert len(kept) == 1000 and np.bincount(kept).min() >= 190
    assert data.spread_entries(len(labels), None) == slice(None) == data.spread_entries(10, 10)
    with pytest.raises(ValueError, match="positive number of entries"):
        data.spread_entries(10, 0)
