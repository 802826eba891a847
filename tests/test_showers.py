"""Calorimeter showers: the CaloChallenge layout, the cascade's physics, the challenge's metrics, the generators."""

import h5py
import numpy as np
import pytest

from hepwb.data.calochallenge import Binning, ShowerFileError, ShowerWriter, read_binning, read_showers
from hepwb.metrics import showers as shower_metrics
from hepwb.sim import cascade
from hepwb.studies import showers as shower_study

#: the challenge's dataset-1 photon binning, as its XML file spells it (empty layers included): 368 voxels
DATASET_1_PHOTONS_XML = """<Bins>
   <Bin pid="22" etaMin="0" etaMax="130" name="photon">
      <Layer id="0" r_edges="0,5,10,30,50,100,200,400,600" n_bin_alpha="1" />
      <Layer id="1" r_edges="0,2,4,6,8,10,12,15,20,30,40,50,70,90,120,150,200" n_bin_alpha="10"/>
      <Layer id="2" r_edges="0,2,5,10,15,20,25,30,40,50,60,80,100,130,160,200,250,300,350,400" n_bin_alpha="10"/>
      <Layer id="3" r_edges="0,50,100,200,400,600" n_bin_alpha="1" />
      <Layer id="4" r_edges="0" n_bin_alpha="1" />
      <Layer id="12" r_edges="0,100,200,400,1000,2000" n_bin_alpha="1" />
   </Bin>
</Bins>
"""


@pytest.fixture
def challenge_file(tmp_path):
    """A shower file written as the challenge writes them (h5py directly, float64 energies), with its XML."""
    (tmp_path / "binning.xml").write_text(DATASET_1_PHOTONS_XML)
    rng = np.random.default_rng(3)
    with h5py.File(tmp_path / "dataset_1_photons_1.hdf5", "w") as handle:
        handle.create_dataset("incident_energies", data=rng.uniform(256, 4_194_304, (50, 1)))
        handle.create_dataset("showers", data=rng.exponential(10.0, (50, 368)) * (rng.random((50, 368)) < 0.3))
    return tmp_path / "dataset_1_photons_1.hdf5", tmp_path / "binning.xml"


def test_the_challenges_binning_xml_gives_its_voxel_count_and_order(challenge_file):
    binning = read_binning(challenge_file[1])
    assert binning.n_voxels == 368 and binning.relevant_layers == [0, 1, 2, 3, 5]
    assert list(binning.layer_starts[:4]) == [0, 8, 168, 358]
    x, y = binning.voxel_centres(1)  # r runs fastest, then alpha from -pi
    assert np.isclose(np.hypot(x[0], y[0]), 1.0) and np.isclose(np.arctan2(y[0], x[0]), -np.pi + np.pi / 10)
    assert np.isclose(np.hypot(x[16], y[16]), 1.0) and np.isclose(np.arctan2(y[16], x[16]), -np.pi + 3 * np.pi / 10)
    assert Binning(binning.r_edges, binning.n_alpha) == Binning(binning.r_edges, binning.n_alpha, "photon", 22)


def test_the_reader_opens_a_file_written_by_another_writer(challenge_file):
    energies, showers, binning = read_showers(*challenge_file)
    assert energies.shape == (50,) and showers.shape == (50, 368) and binning.n_voxels == 368
    with h5py.File(challenge_file[0], "r") as handle:
        assert np.allclose(showers, handle["showers"][:]) and np.allclose(energies, handle["incident_energies"][:, 0])


def test_our_writer_round_trips_and_its_xml_reads_back(tmp_path):
    binning = cascade.SHOWER_READOUT.binning
    showers = np.random.default_rng(1).random((30, binning.n_voxels)).astype(np.float32)
    with ShowerWriter(tmp_path / "s.hdf5", binning) as writer:
        writer.extend(np.arange(1.0, 21.0), showers[:20])
        writer.extend(np.arange(21.0, 31.0), showers[20:])
    energies, back, read = read_showers(tmp_path / "s.hdf5")
    assert read == binning and np.array_equal(back, showers) and np.array_equal(energies, np.arange(1.0, 31.0))


def test_an_interrupted_write_leaves_no_file(tmp_path):
    binning = cascade.SHOWER_READOUT.binning
    with pytest.raises(ValueError, match="expected showers"), ShowerWriter(tmp_path / "s.hdf5", binning) as writer:
        writer.extend([1.0], np.zeros((1, 5)))
    assert list(tmp_path.iterdir()) == []


def test_foreign_and_broken_files_get_one_line_naming_what_was_expected(tmp_path, challenge_file):
    with h5py.File(tmp_path / "other.hdf5", "w") as handle:
        handle.create_dataset("energies", data=np.ones((3, 1)))
    with pytest.raises(ShowerFileError, match="no dataset 'incident_energies'.*'showers'"):
        read_showers(tmp_path / "other.hdf5", challenge_file[1])
    (tmp_path / "text.hdf5").write_text("not hdf5")
    with pytest.raises(ShowerFileError, match="not a readable HDF5 file"):
        read_showers(tmp_path / "text.hdf5", challenge_file[1])
    with pytest.raises(ShowerFileError, match="do not fit the binning's 178 voxels"):
        read_showers(challenge_file[0], cascade.SHOWER_READOUT.binning)
    with pytest.raises(ShowerFileError, match="no binning file"):
        read_showers(challenge_file[0])
    (tmp_path / "bad.xml").write_text('<Bins><Bin name="photon"><Layer id="0" r_edges="a,b"/></Bin></Bins>')
    with pytest.raises(ShowerFileError, match="needs r_edges .* and n_bin_alpha"):
        read_binning(tmp_path / "bad.xml")


def test_the_cascade_conserves_energy_and_repeats_with_its_seed():
    first = cascade.simulate([3000.0, 500.0], readout=cascade.SHOWER_READOUT, seed=4)
    again = cascade.simulate([3000.0, 500.0], readout=cascade.SHOWER_READOUT, seed=4)
    total = first.active + first.absorber + first.leaked
    assert np.allclose(total, [3000.0, 500.0], rtol=1e-9)
    assert np.array_equal(first.voxels, again.voxels) and first.steps == again.steps
    assert first.voxels.sum() <= first.active.sum() * (1 + 1e-6)
    electron = cascade.simulate([3000.0], particle="electron", seed=4)
    assert np.isclose(electron.active + electron.absorber + electron.leaked, 3000.0 - cascade.ELECTRON_MASS)


def test_the_cascade_refuses_bad_requests():
    with pytest.raises(ValueError, match="positive numbers in MeV"):
        cascade.simulate([-1.0])
    with pytest.raises(ValueError, match="particle must be one of"):
        cascade.simulate([100.0], particle="muon")
    with pytest.raises(ValueError, match=r"unknown processes \['brems'\]"):
        cascade.simulate([100.0], switched_off=("brems",))


@pytest.mark.slow
def test_the_cascade_passes_the_pdg_checks():
    checks = shower_study.physics_checks((4000, 16000, 32000), showers=20, seed=1)
    assert checks["failed_checks"] == []


@pytest.mark.slow
@pytest.mark.parametrize("process", cascade.PROCESSES)
def test_switching_off_any_process_fails_a_pdg_check(process):
    checks = shower_study.physics_checks((4000, 16000, 32000), showers=20, seed=1, switched_off=(process,))
    assert checks["failed_checks"], process


def test_high_level_features_of_a_shower_in_one_voxel():
    binning = cascade.SHOWER_READOUT.binning
    shower = np.zeros((1, binning.n_voxels))
    index = binning.layer_starts[1] + 3 * 9 + 4  # layer 1: alpha bin 3 of 8, r bin 4 (15-22 mm)
    shower[0, index] = 50.0
    features = shower_metrics.high_level_features([1000.0], shower, binning)
    alpha = -np.pi + 3.5 * 2 * np.pi / 8
    assert np.isclose(features["EC_x_1"][0], 18.5 * np.cos(alpha)) and np.isclose(features["EC_y_1"][0],
                                                                                  18.5 * np.sin(alpha))
    assert features["width_x_1"][0] == 0 and np.isclose(features["EC_r_1"][0], 18.5) and features["E_ratio"][0] == 0.05
    assert np.isclose(features["sparsity_1"][0], 1 - 1 / 72) and features["sparsity_2"][0] == 1.0
    assert features["E_layer_1"][0] == 50.0 and features["EC_x_2"][0] == 0.0


def test_separation_power_is_zero_for_one_shape_and_one_for_disjoint_ones():
    rng = np.random.default_rng(2)
    same = rng.normal(size=20000)
    assert shower_metrics.separation_power(same, same, np.linspace(-4, 4, 41)) == 0.0
    assert np.isclose(shower_metrics.separation_power(same - 10, same + 10, np.linspace(-20, 20, 41)), 1.0)
    assert 0.0 < shower_metrics.separation_power(same, same + 0.5, np.linspace(-4, 4, 41)) < 0.2


@pytest.mark.slow
def test_the_dnn_classifier_test_tells_shifted_samples_apart_and_not_equal_ones():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2000, 6)), rng.normal(size=(2000, 6))
    kwargs = dict(hidden=(32, 32), epochs=30, learning_rate=1e-3, seed=1)
    assert shower_metrics.dnn_two_sample_test(a, b, **kwargs)["auc"] < 0.56
    shifted = shower_metrics.dnn_two_sample_test(a, b + np.array([1.0, 0, 0, 0, 0, 0]), **kwargs)
    # a 1-sigma shift of one of six features: the best possible AUC is Phi(1/sqrt(2)) = 0.76
    assert shifted["auc"] > 0.68 and shifted["jsd"] > 0.05 and 0 < shifted["auc_error"] < 0.05


def test_the_transform_round_trips_showers_within_its_noise():
    from hepwb.samples.showers import ShowerSample, ShowerTransform

    deposits = cascade.simulate([2000.0, 8000.0, 30000.0], readout=cascade.SHOWER_READOUT, seed=2)
    showers = np.where(deposits.voxels < 0.01, 0.0, deposits.voxels)
    sample = ShowerSample(deposits.incident, showers, cascade.SHOWER_READOUT.binning)
    transform = ShowerTransform(sample.binning).fit(sample)
    back = transform.inverse(sample.energies, transform.layer_table(sample.energies, showers),
                             transform.voxel_table(showers))
    assert np.allclose(back.sum(axis=1), showers.sum(axis=1), rtol=1e-3)
    assert np.max(np.abs(back - showers)) < 0.02  # the 10 keV of noise, once more or less


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["flow", "vae"])
def test_a_generator_learns_the_deposited_energy_of_the_committed_showers(kind):
    from hepwb.models import showers as shower_models
    from hepwb.samples import showers, split

    train, validation, test = split(showers.load("showers", max_showers=3000), (0.6, 0.2, 0.2), seed=1)
    transform = showers.ShowerTransform(train.binning).fit(train)
    model = shower_models.build(kind, transform, seed=1)
    model.fit(train, validation, epochs=15, batch_size=128, progress=False)
    generated = model.generate(test.energies, seed=3)
    assert generated.shape == test.showers.shape and generated.min() >= 0
    ratio = generated.sum(axis=1) / test.energies
    real = test.showers.sum(axis=1) / test.energies
    assert abs(np.median(ratio) / np.median(real) - 1) < 0.1
    with pytest.raises(ValueError, match=r"unknown vae settings \['layers'\]"):
        shower_models.build("vae", transform, {"layers": 3})


def test_the_showers_recipe_repeats_a_chunk_with_its_seed():
    from hepwb.sim.recipes.showers import make_showers_chunk

    first = make_showers_chunk(3, seed=2, chunk=5)["events"]
    again = make_showers_chunk(3, seed=2, chunk=5)["events"]
    other = make_showers_chunk(3, seed=2, chunk=6)["events"]
    assert np.array_equal(first["showers"], again["showers"]) and first["incident_energies"].shape == (3, 1)
    assert not np.array_equal(first["incident_energies"], other["incident_energies"])
    assert 1000 <= first["incident_energies"].min() and first["incident_energies"].max() <= 100_000


def test_the_committed_showers_match_their_manifest_and_the_data_budget():
    from hepwb import data

    entry = data.load_manifest()["showers"]
    path = data.DATA_DIR / entry["file"]
    assert data.sha256(path) == entry["sha256"] and entry["binning"] == "showers.xml"
    energies, showers, binning = read_showers(path)
    assert len(energies) == entry["events"] == 10_000 and binning == cascade.SHOWER_READOUT.binning
    assert 1000 <= energies.min() and energies.max() <= 100_000 and showers.min() >= 0
    assert 0.17 < np.median(showers.sum(axis=1) / energies) < 0.19  # the sampling fraction, less the threshold
    committed = sum(p.stat().st_size for p in data.DATA_DIR.rglob("*") if p.is_file() and "cache" not in p.parts)
    assert committed < 100 * 1024**2
