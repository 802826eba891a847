"""Event generation: determinism, detector response as configured, physics of the committed datasets."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepwb import data, plotting
from hepwb.run.generate import generate, plan_chunks
from hepwb.sim import detector as det
from hepwb.sim.features import HLS4ML_FEATURES
from hepwb.sim.recipes import JET_CLASSES, RECIPES, Variation
from hepwb.studies import fit

pytestmark = pytest.mark.slow  # event generation: left out by make test-fast


def _arrays(path):
    return uproot.open(path)[uproot.open(path).keys()[0].split(";")[0]].arrays()


# ------------------------------------------------------------------ determinism and bookkeeping

def test_same_seed_gives_identical_events(small_jets, tmp_path):
    again = generate("jets", 100, seed=7, output=tmp_path / "again.root", progress=False)
    assert ak.array_equal(_arrays(small_jets), _arrays(again))


def test_same_seed_same_events_whatever_the_number_of_workers(small_jets, tmp_path):
    parallel = generate("jets", 100, seed=7, workers=2, output=tmp_path / "parallel.root", progress=False)
    assert ak.array_equal(_arrays(small_jets), _arrays(parallel))


def test_another_seed_gives_other_events(small_jets, tmp_path):
    other = generate("jets", 100, seed=8, output=tmp_path / "other.root", progress=False)
    assert not np.array_equal(_arrays(small_jets).jet_pt, _arrays(other).jet_pt)


def test_jets_have_equal_classes_and_at_most_50_constituents(small_jets):
    jets = _arrays(small_jets)
    assert np.bincount(jets.label, minlength=5).tolist() == [20] * 5
    assert ak.max(ak.num(jets.const_pt)) <= 50
    assert ak.all(ak.num(jets.const_pt) == np.minimum(jets.multiplicity, 50))
    assert ak.all(jets.const_pt[:, :-1] >= jets.const_pt[:, 1:])  # decreasing pT
    assert ak.all(abs(jets.const_dphi) <= np.pi)


def test_manifest_entry_describes_the_file(small_jets):
    entry = data.load_manifest(small_jets.parent)["jets-small"]
    assert entry["sha256"] == data.sha256(small_jets)
    assert entry["events"] == 100 and entry["seed"] == 7
    assert entry["detector"]["version"] == det.VERSION
    schema = {b["name"] for b in entry["schema"]}
    assert set(uproot.open(small_jets)["jets"].keys()) == schema
    assert "HardQCD:gg2gg = on" in entry["processes"]["gluon"]


def test_zmumu_schema_and_selection(small_zmumu):
    events = _arrays(small_zmumu)
    entry = data.load_manifest(small_zmumu.parent)["zmumu-small"]
    assert set(uproot.open(small_zmumu)["events"].keys()) == {b["name"] for b in entry["schema"]}
    assert len(events) == 200
    assert ak.all(events.mu1_pt > 20) and ak.all(events.mu2_pt > 10)
    assert ak.all(events.mu1_charge * events.mu2_charge < 0)
    assert ak.all(ak.num(events.jet_pt) <= 5) and ak.all(ak.num(events.jet_pt) == np.minimum(events.n_jets, 5))
    assert ak.all(events.n_vertices >= 1) and 10 < np.mean(events.n_vertices) < 25
    assert ak.all(events.mu1_iso >= 0)


def test_interrupted_generation_leaves_no_file(tmp_path, monkeypatch):
    recipe = RECIPES["jets"]
    calls = []

    def failing_chunk(n_events, seed, chunk, sample):
        calls.append(sample)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return recipe.make_chunk(n_events, seed, chunk, sample)

    monkeypatch.setitem(RECIPES, "jets", type(recipe)(**{**recipe.__dict__, "make_chunk": failing_chunk}))
    with pytest.raises(KeyboardInterrupt):
        generate("jets", 10, seed=1, output=tmp_path / "broken.root", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_terminated_generate_command_leaves_no_file(tmp_path):
    """SIGTERM (a batch system's kill) goes through the same clean-up as Ctrl-C."""
    import signal
    import subprocess
    import sys
    import time

    command = [sys.executable, "-m", "hepwb", "generate", "jets", "--events", "5000", "--out", str(tmp_path / "x.root"),
               "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list(tmp_path.iterdir()) and time.time() < deadline:  # the temporary file appears
        time.sleep(0.1)
    assert list(tmp_path.iterdir()), "the generator wrote no temporary file within 60 s: nothing to clean up"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0  # 143, or 1 where the signal lands inside an import
    assert list(tmp_path.iterdir()) == []  # Python's default for SIGTERM would leave the temporary file


def test_zstd_writes_the_same_events_and_says_so_in_the_manifest(small_jets, tmp_path):
    path = generate("jets", 100, seed=7, output=tmp_path / "fast.root", progress=False, compression="zstd")
    assert ak.array_equal(_arrays(small_jets), _arrays(path))
    entry = data.load_manifest(tmp_path)["fast"]
    assert entry["compression"] == "zstd" and "--compression zstd" in entry["command"]


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "higgs", "events": 10}, "unknown dataset recipe 'higgs'"),
    ({"name": "jets", "events": 10, "compression": "gzip"}, r"compression must be one of \['lz4', 'lzma', 'zstd'\]"),
    ({"name": "jets", "events": 0}, "events must be a positive integer"),
    ({"name": "jets", "events": 10, "workers": 0}, "workers must be a positive integer"),
    ({"name": "jets", "events": 10, "seed": -1}, "seed must be a non-negative integer"),
])
def test_bad_generation_parameters_are_named(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        generate(**kwargs, output=tmp_path / "x.root", progress=False)
    assert not (tmp_path / "x.root").exists()


def test_chunks_are_fixed_size_and_interleaved():
    chunks = plan_chunks("jets", 5 * 1200)
    assert [c.sample for c in chunks[:5]] == list(JET_CLASSES)
    assert sum(c.n_events for c in chunks if c.sample == "top") == 1200
    assert max(c.n_events for c in chunks) == RECIPES["jets"].chunk_size


def test_cli_reports_an_unknown_dataset(capsys):
    from hepwb.__main__ import main

    assert main(["generate", "higgs", "--events", "5"]) == 2
    assert "unknown dataset recipe 'higgs'" in capsys.readouterr().err


def test_a_changed_detector_is_recorded_and_the_same_seed_keeps_the_pythia_events(tmp_path):
    nominal = generate("jets", 10, seed=5, output=tmp_path / "nominal.root", progress=False)
    scaled = generate("jets", 10, seed=5, output=tmp_path / "scaled.root", progress=False,
                      variation=Variation({"calorimeter_energy_scale": 1.5}))
    entry = data.load_manifest(tmp_path)["scaled"]
    assert entry["variation"]["detector"] == {"calorimeter_energy_scale": 1.5}
    assert entry["detector"]["calorimeter_energy_scale"] == 1.5 and "calorimeter_energy_scale=1.5" in entry["command"]
    assert "variation" not in data.load_manifest(tmp_path)["nominal"]
    # a 50 % hotter calorimeter: the same events' jets carry more energy (the selection may differ a little)
    assert np.mean(_arrays(scaled).jet_pt) > 1.05 * np.mean(_arrays(nominal).jet_pt)


@pytest.mark.parametrize("variation, message", [
    (dict(detector={"calorimeter_scale": 1.05}), r"unknown detector parameter\(s\) \['calorimeter_scale'\]"),
    (dict(detector={"track_efficiency": "high"}), "track_efficiency must be a number"),
    (dict(detector={"track_efficiency": 0.9}, particle_level=True), "particle-level sample has no detector"),
])
def test_bad_variations_are_named(variation, message):
    with pytest.raises(ValueError, match=message):
        Variation(**variation)


def test_only_jets_take_variations(tmp_path):
    with pytest.raises(ValueError, match="zmumu recipe takes no detector or Pythia variations"):
        generate("zmumu", 5, output=tmp_path / "z.root", progress=False, variation=Variation(particle_level=True))


def test_particle_level_keeps_every_visible_particle_unchanged():
    truth, energy = _single_particles(211, 50.0, 20)
    neutrino, _ = _single_particles(211, 30.0, 20)
    both = det.TruthParticles(counts=np.full(20, 2), **{
        name: np.column_stack([getattr(truth, name), getattr(neutrino, name)]).ravel()
        for name in ("px", "py", "pz", "energy", "pdg_id", "vertex")})
    both.pdg_id[1::2] = 14  # every second particle a muon neutrino: invisible
    candidates, n_vertices = det.particle_level(both)
    assert ak.all(ak.num(candidates) == 1) and np.all(n_vertices == 1)
    assert np.allclose(ak.flatten(candidates.pt), 50.0) and np.allclose(ak.flatten(candidates.energy), energy)
    assert np.all(ak.flatten(candidates.kind) == det.KINDS["charged_hadron"])


# ------------------------------------------------------------------ the detector, as configured

def _single_particles(pdg_id, pt, n, eta=0.3):
    rng = np.random.default_rng(0)
    phi = rng.uniform(-np.pi, np.pi, n)
    mass = {13: 0.10566, 211: 0.13957, 22: 0.0, 2112: 0.9396}[abs(pdg_id)]
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta) * np.ones(n)
    energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    return det.TruthParticles(counts=np.ones(n, dtype=int), px=px, py=py, pz=pz, energy=energy,
                              pdg_id=np.full(n, pdg_id), vertex=np.zeros(n, dtype=np.int16)), energy


@pytest.mark.parametrize("pdg_id, kind, expected_resolution, expected_efficiency", [
    (13, "muon", np.hypot(det.DEFAULT.muon_resolution_constant, det.DEFAULT.muon_resolution_slope * 50),
     det.DEFAULT.muon_efficiency),
    (211, "charged_hadron", np.hypot(det.DEFAULT.track_resolution_constant, det.DEFAULT.track_resolution_slope * 50),
     det.DEFAULT.track_efficiency),
])
def test_tracking_resolution_and_efficiency_as_configured(pdg_id, kind, expected_resolution, expected_efficiency):
    n = 20_000
    truth, _ = _single_particles(pdg_id, 50.0, n)
    candidates, _ = det.simulate(truth, np.random.default_rng(1))
    found = candidates[candidates.kind == det.KINDS[kind]]
    efficiency = ak.sum(ak.num(found)) / n
    assert efficiency == pytest.approx(expected_efficiency, abs=4 * np.sqrt(0.05 * 0.95 / n))
    response = ak.flatten(found.pt) / 50.0
    assert np.std(response) == pytest.approx(expected_resolution, rel=0.05)
    assert np.mean(response) == pytest.approx(1.0, abs=0.002)


@pytest.mark.parametrize("pdg_id, stochastic, constant", [
    (22, det.DEFAULT.ecal_stochastic, det.DEFAULT.ecal_constant),
    (2112, det.DEFAULT.hcal_stochastic, det.DEFAULT.hcal_constant),
])
def test_calorimeter_resolution_as_configured(pdg_id, stochastic, constant):
    n, pt = 20_000, 100.0
    truth, energy = _single_particles(pdg_id, pt, n)
    candidates, _ = det.simulate(truth, np.random.default_rng(2))
    measured = ak.to_numpy(ak.flatten(candidates.energy))
    assert len(measured) == n
    expected = np.hypot(stochastic / np.sqrt(energy[0]), constant)
    assert np.std(measured / energy[0]) == pytest.approx(expected, rel=0.05)


def test_pileup_tracks_are_removed_and_vertices_counted():
    n = 1000
    truth, _ = _single_particles(211, 5.0, n)
    truth.counts = np.full(n // 2, 2)  # two pions per event: one from the hard vertex, one from pileup vertex 1
    truth.vertex = np.tile(np.array([0, 1], dtype=np.int16), n // 2)
    candidates, n_vertices = det.simulate(truth, np.random.default_rng(3))
    assert ak.all(candidates.vertex[candidates.charge != 0] == 0)
    assert set(np.unique(n_vertices)) == {1}  # one track is not enough to reconstruct the pileup vertex


def test_charges_of_stable_particles():
    ids = np.array([11, -11, 13, -13, 211, -211, 321, 2212, -2212, 22, 2112, 130, 3312])
    assert det.charge_of(ids).tolist() == [-1, 1, -1, 1, 1, -1, 1, 1, -1, 0, 0, 0, -1]


# ------------------------------------------------------------------ physics of the committed datasets

@pytest.fixture(scope="module")
def committed_jets():
    return data.read("jets", ["label", *HLS4ML_FEATURES, "jet_pt", "jet_mass"])


@pytest.mark.parametrize("name, mass, window", [("W", 80.4, (60, 100)), ("Z", 91.19, (70, 110)),
                                                ("top", 172.5, (140, 205))])
def test_groomed_mass_peaks_near_the_particle_masses(committed_jets, name, mass, window):
    values = committed_jets.mass_mmdt[committed_jets.label == JET_CLASSES.index(name)]
    peak = fit.fit_peak(plotting.histogram(values, bins=60, range=(0, 250)), model="gauss", window=window,
                        mass_guess=mass, width_guess=8.0)
    assert abs(peak.mass - mass) < 4.0, f"{name} groomed-mass peak at {peak.mass:.1f} GeV"


def test_quark_and_gluon_jets_have_no_mass_peak_but_differ_in_multiplicity(committed_jets):
    jets = committed_jets
    gluon, quark = jets.label == 0, jets.label == 1
    assert np.median(jets.multiplicity[gluon]) > 1.4 * np.median(jets.multiplicity[quark])
    assert np.median(jets.mass_mmdt[quark]) < 40


def test_the_16_features_are_finite_and_in_range(committed_jets):
    jets = committed_jets
    for name in HLS4ML_FEATURES:
        assert np.all(np.isfinite(jets[name])), name
    assert np.all(jets.zlogz <= 0)
    assert np.all((jets.c1_b0_mmdt >= 0) & (jets.c1_b0_mmdt <= 0.5))
    for name in HLS4ML_FEATURES[2:14]:
        assert np.all(jets[name] >= 0), name
    # grooming removes particles: the groomed mass cannot exceed the jet mass
    assert np.all((jets.mass_mmdt >= 0) & (jets.mass_mmdt <= jets.jet_mass * 1.0001 + 0.01))
    assert np.all(jets.multiplicity >= 1)
    assert 900 < np.median(jets.jet_pt) < 1100


def test_dimuon_mass_peak_near_the_z_mass():
    events = data.read("zmumu", ["m_ll"])
    h = plotting.histogram(events.m_ll, bins=60, range=(60, 120))
    z = fit.fit_peak(h, model="voigt", window=(70, 112), mass_guess=91.0)
    assert abs(z.mass - 91.19) < 0.5
    assert 1.5 < z.width < 3.5


def test_pileup_interactions_are_rotated_so_a_finite_library_leaves_no_bias():
    from hepwb.sim.pythia import PileupPool

    pool = PileupPool(mu=0.0, seed=1)  # no library generated; a synthetic one below
    pool.mu, pool.library_size = 20.0, 3
    pool.library = ak.zip({"px": [[1.0, 2.0], [1.0], [3.0]], "py": [[0.0, 0.0], [0.0], [0.0]],
                           "pz": [[1.0, 1.0], [1.0], [1.0]], "e": [[2.0, 3.0], [2.0], [4.0]],
                           "id": [[211, 22], [22], [130]], "vertex": [[0, 0], [0], [0]]})
    hard = ak.zip({"px": [[5.0]] * 2000, "py": [[0.0]] * 2000, "pz": [[1.0]] * 2000, "e": [[6.0]] * 2000,
                   "id": [[13]] * 2000, "vertex": [[0]] * 2000})
    events = pool.overlay(hard, np.random.default_rng(7))
    pileup = events[events.vertex > 0]
    pt = np.hypot(ak.flatten(pileup.px), ak.flatten(pileup.py))
    assert set(np.round(np.unique(pt), 9)) <= {1.0, 2.0, 3.0}  # rotations keep each particle's pT
    assert ak.all(events.px[:, 0] == 5.0)  # the hard interaction is not rotated
    # every library event points along +x; rotated, the summed pileup momentum averages to 0
    sum_px = ak.to_numpy(ak.sum(pileup.px, axis=1))
    assert abs(sum_px.mean()) < 5 * sum_px.std() / np.sqrt(len(sum_px))
    assert abs(sum_px.mean()) < 1.0  # unrotated: 20 interactions x 7/3 GeV on average = 47 GeV


# ------------------------------------------------------------------ tracks

def test_tracks_are_the_same_for_one_and_two_workers(small_tracks, tmp_path):
    parallel = generate("tracks", 20, seed=7, workers=2, output=tmp_path / "parallel.root", progress=False,
                        options={"pileup_mu": 5})
    assert ak.array_equal(_arrays(small_tracks), _arrays(parallel))


def test_tracks_manifest_records_the_tracker_and_the_pileup(small_tracks):
    entry = data.load_manifest(small_tracks.parent)["tracks-small"]
    assert entry["options"]["pileup_mu"] == 5 and "--pileup 5" in entry["command"]
    assert entry["detector"]["version"].startswith("hepwb-tracker") and entry["detector"]["field_tesla"] == 2.0
    assert [layer["radius"] for layer in entry["detector"]["layers"]] == [32, 72, 116, 172, 260, 360, 500, 660,
                                                                         820, 1020]
    assert set(uproot.open(small_tracks)["events"].keys()) == {b["name"] for b in entry["schema"]}
    events = _arrays(small_tracks)
    assert 3 < np.mean(events.n_interactions) - 1 < 8  # Poisson(5) pileup
    assert events.n_interactions[:10].tolist() != events.n_interactions[10:].tolist()  # each sample its own pileup


@pytest.mark.parametrize("arguments, message", [
    (["tracks", "--pileup", "-1"], "pileup_mu must be a number >= 0, got -1.0"),
    (["zmumu", "--pileup", "30"], "the zmumu recipe takes no option changes (tracks takes --pileup)")])
def test_a_pileup_that_cannot_be_made_is_refused_in_one_line(arguments, message, capsys, tmp_path):
    from hepwb.__main__ import main

    assert main(["generate", *arguments, "--events", "5", "--out", str(tmp_path / "x.root")]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
