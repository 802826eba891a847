"""Jet tagging: metrics on hand-made scores, inputs, the public-format reader, saved-model reload."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from hepwb import metrics, samples
from hepwb.models import quantization, taggers
from hepwb.sim.features import HLS4ML_FEATURES
from hepwb.sim.recipes import JET_CLASSES

CLASSES = ("a", "b")


def test_rejection_and_auc_on_hand_made_scores():
    # 4 signal (class 1) and 4 background jets; scores chosen so the ROC is known exactly
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    p1 = np.array([0.9, 0.8, 0.7, 0.2, 0.75, 0.3, 0.1, 0.05])
    scores = np.stack([1 - p1, p1], axis=1)
    report = metrics.classification_report(labels, scores, CLASSES)
    assert report["auc_b"] == pytest.approx(13 / 16)  # 13 of 16 signal-background pairs are ordered correctly
    # keeping 2 of 4 signal jets passes no background: the rejection is bounded below by the 4 background jets
    assert report["rej50_b"] == 4.0
    curve = metrics.roc_curves(labels, scores, CLASSES)["b"]
    assert curve.tpr[-1] == curve.fpr[-1] == 1.0 and np.all(np.diff(curve.fpr) >= 0)  # sklearn's order: (fpr, tpr)
    assert metrics.rejection_at(curve, 0.6) == pytest.approx(4.0)  # 3 of 4 signal: 1 of 4 background passes
    assert metrics.rejection_at(curve, 1.0) == pytest.approx(2.0)  # all signal: 2 of 4 background pass
    assert metrics.rejection_at(curve, 0.5) == float("inf")
    assert report["accuracy"] == pytest.approx(6 / 8)
    assert report["confusion"] == [[0.75, 0.25], [0.25, 0.75]]


def test_working_point_keeps_the_requested_efficiency():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 10_000)
    p1 = np.clip(rng.normal(0.35 + 0.3 * labels, 0.15), 0, 1)
    point = metrics.working_point(labels, np.stack([1 - p1, p1], 1), CLASSES, "b", 0.5)
    assert point["signal_efficiency"] == pytest.approx(0.5, abs=0.01)
    assert point["background_rejection"] > 10
    with pytest.raises(ValueError, match="unknown class 'c'"):
        metrics.working_point(labels, np.stack([1 - p1, p1], 1), CLASSES, "c", 0.5)
    with pytest.raises(ValueError, match=r"signal efficiency must be in \(0, 1\)"):
        metrics.working_point(labels, np.stack([1 - p1, p1], 1), CLASSES, "b", 1.5)


def test_scores_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="3 columns but 2 classes"):
        metrics.classification_report([0, 1], np.ones((2, 3)) / 3, CLASSES)


def test_jet_images_are_normalised_and_oriented():
    rng = np.random.default_rng(1)
    pt = np.zeros((3, 10))
    pt[:, :2] = [[100, 50], [80, 20], [60, 60]]
    deta = rng.normal(0, 0.1, (3, 10))
    dphi = rng.normal(0, 0.1, (3, 10))
    images = samples.jets.jet_images(deta, dphi, pt, size=16)
    assert images.shape == (3, 16, 16)
    assert np.allclose(images.sum(axis=(1, 2)), 1.0)
    # two-particle jets lie on the vertical axis after rotation, the harder particle on top
    rows_with_pt = [np.flatnonzero(image.sum(axis=1)) for image in images]
    columns_with_pt = [np.flatnonzero(image.sum(axis=0)) for image in images]
    assert all(len(c) == 1 and c[0] in (7, 8) for c in columns_with_pt)
    for image, rows in zip(images, rows_with_pt):
        assert image[rows.max()].sum() >= image[rows.min()].sum()


@pytest.fixture(scope="module")
def small_sample():
    return samples.jets.load("jets", max_jets=1000, image_size=16, seed=3)


def test_load_jets_gives_balanced_views(small_sample):
    s = small_sample
    assert s.features.shape == (1000, 16) and s.particles.shape == (1000, 50, 4) and s.images.shape == (1000, 16, 16)
    assert np.bincount(s.labels).tolist() == [200] * 5
    assert np.all(s.particles[~s.mask] == 0) and np.all(s.mask.sum(1) >= 1)
    with pytest.raises(ValueError, match="max_jets must be an integer >= 5"):
        samples.jets.load("jets", max_jets=2)


def test_max_particles_keeps_the_hardest_constituents(small_sample):
    fewer = samples.jets.load("jets", max_jets=1000, image_size=16, max_particles=20, seed=3)
    assert fewer.particles.shape == (1000, 20, 4) and fewer.mask.shape == (1000, 20)
    assert np.array_equal(fewer.particles, small_sample.particles[:, :20])  # hardest first
    assert np.array_equal(fewer.images, small_sample.images)  # images keep every constituent
    with pytest.raises(ValueError, match="max_particles must be an integer from 1 to 50"):
        samples.jets.load("jets", max_jets=10, max_particles=60)


def test_split_is_stratified_and_reproducible(small_sample):
    train, val, test = samples.split(small_sample, seed=5)
    assert (len(train), len(val), len(test)) == (600, 200, 200)
    assert np.bincount(test.labels).tolist() == [40] * 5
    again = samples.split(small_sample, seed=5)[2]
    assert np.array_equal(test.features, again.features)
    for bad in ((0.6, 0.5), (0.5, 0.5, 0.5), (1.0,), (0.6, -0.1, 0.5)):
        with pytest.raises(ValueError, match="fractions must be two or three positive numbers that sum to 1"):
            samples.split(small_sample, bad)


def test_every_sample_takes_the_one_split_and_subset(small_sample):
    """One Sample base: ``len`` and ``subset`` from the dataclass fields, the same split for every kind."""
    import dataclasses

    sub = small_sample.subset(np.arange(10))
    assert len(sub) == 10 and sub.classes == small_sample.classes and sub.images.shape[0] == 10
    assert {f.name for f in dataclasses.fields(sub)} == {f.name for f in dataclasses.fields(small_sample)}
    events = samples.events.load("zmumu", max_events=1000)
    parts = samples.split(events, (0.5, 0.3, 0.2), seed=2)
    assert [len(p) for p in parts] == [500, 300, 200]
    together = np.concatenate([p.features for p in parts])
    assert len(np.unique(together[:, 0])) == len(np.unique(events.features[:, 0]))  # no event lost or repeated


@pytest.mark.parametrize("suffix", [".csv", ".arff"])
def test_public_hls4ml_format_round_trips(small_sample, tmp_path, suffix):
    path = samples.jets.write_hls4ml_hlf(tmp_path / f"hls4ml_lhc_jets_hlf{suffix}", small_sample)
    text = path.read_text()
    if suffix == ".arff":
        assert "@ATTRIBUTE class {g,q,t,w,z}" in text and "@ATTRIBUTE zlogz NUMERIC" in text
    else:
        assert text.splitlines()[0] == ",".join([*HLS4ML_FEATURES, "class"])
    back = samples.jets.load(path)
    assert np.array_equal(back.labels, small_sample.labels)
    assert np.allclose(back.features, small_sample.features, rtol=1e-6)
    assert back.particles is None


def _openml_style_arff() -> tuple[str, np.ndarray, list[str]]:
    """An ARFF file as OpenML serves hls4ml_lhc_jets_hlf: a comment header, lower-case keywords, quoted
    attribute names in OpenML's column order (not ours), quoted nominal class values."""
    letters = ["g", "q", "w", "z", "t", "t"]
    values = np.array([[i + j / 100 for j in range(len(HLS4ML_FEATURES))] for i in range(len(letters))])
    order = list(reversed(range(len(HLS4ML_FEATURES))))  # columns in another order than HLS4ML_FEATURES
    lines = ["% hls4ml_lhc_jets_hlf, OpenML data set 42468", "@relation 'hls4ml_lhc_jets_hlf'", ""]
    lines += [f"@attribute '{HLS4ML_FEATURES[j]}' real" for j in order]
    lines += ["@attribute 'class' {'g','q','t','w','z'}", "", "@data"]
    lines += [",".join(f"{values[i, j]:.2f}" for j in order) + f",'{c}'" for i, c in enumerate(letters)]
    return "\n".join(lines) + "\n", values, letters


@pytest.mark.parametrize("name", ["hls4ml_lhc_jets_hlf.arff", "hls4ml_lhc_jets_hlf.arff.gz"])
def test_public_reader_takes_openml_arff_gzipped_or_not(tmp_path, name):
    import gzip

    text, values, letters = _openml_style_arff()
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    sample = samples.jets.load(path)
    assert np.allclose(sample.features, values) and sample.particles is None
    assert [JET_CLASSES[i] for i in sample.labels] == [samples.jets.PUBLIC_CLASS_LETTERS[c] for c in letters]


def test_public_reader_takes_gzipped_csv_with_quoted_classes(tmp_path):
    import gzip

    import pandas as pd

    _, values, letters = _openml_style_arff()
    frame = pd.DataFrame(values, columns=HLS4ML_FEATURES).assign(**{"class": [f"'{c}'" for c in letters]})
    path = tmp_path / "jets.csv.gz"
    path.write_bytes(gzip.compress(frame.to_csv(index=False).encode()))
    sample = samples.jets.load(path, max_jets=4, seed=2)
    full = samples.jets.load(path)
    assert np.allclose(full.features, values) and [JET_CLASSES[i] for i in full.labels] == [
        samples.jets.PUBLIC_CLASS_LETTERS[c] for c in letters]
    rows = {tuple(np.round(row, 2)) for row in full.features}
    assert len(sample) == 4 and all(tuple(np.round(row, 2)) in rows for row in sample.features)


def test_other_files_get_the_accepted_formats_not_a_root_error(tmp_path):
    other = tmp_path / "hls4ml_lhc_jets_hlf.h5"
    other.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=r"hls4ml_lhc_jets_hlf\.h5: not a file the jet tagger reads; .* "
                                         r"\.arff, \.arff\.gz, \.csv, \.csv\.gz") as raised:
        samples.jets.load(other)
    assert "ROOT file (" not in str(raised.value) and "not a readable ROOT" not in str(raised.value)
    broken = tmp_path / "jets.arff.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=r"jets\.arff\.gz: cannot be read as gzipped ARFF text"):
        samples.jets.load(broken)
    with pytest.raises(ValueError, match=r"jets\.parquet: the hls4ml HLF reader takes \.arff, \.arff\.gz"):
        samples.jets.read_hls4ml_hlf(tmp_path / "jets.parquet")


def test_public_reader_names_what_is_wrong(tmp_path):
    bad = tmp_path / "jets.csv"
    bad.write_text("zlogz,class\n-2.0,g\n")
    with pytest.raises(ValueError, match=r"missing columns \['c1_b0_mmdt'"):
        samples.jets.read_hls4ml_hlf(bad)
    with pytest.raises(FileNotFoundError, match="hls4ml_lhc_jets_hlf"):
        samples.jets.read_hls4ml_hlf(tmp_path / "absent.arff")


def test_unknown_models_are_refused(small_sample):
    with pytest.raises(ValueError, match=r"unknown model\(s\) \['lorentznet'\]"):
        taggers.check_models(["hls4ml", "lorentznet"])
    public_like = small_sample.subset(np.arange(10))
    public_like.particles = public_like.images = None
    assert taggers.check_models(["hls4ml", "pfn", "cnn", "bdt"], public_like) == ["hls4ml", "bdt"]


def test_particle_flow_network_ignores_padding():
    model = taggers.particle_flow_network(n_particles=6, n_fields=4, n_classes=5, phi_sizes=(8,), f_sizes=(8,))
    rng = np.random.default_rng(2)
    particles = rng.normal(size=(1, 6, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0, 0]], dtype=np.float32)
    garbage = particles.copy()
    garbage[0, 3:] = rng.normal(size=(3, 4)) * 100  # what sits in padded slots must not matter
    assert np.allclose(model.predict([particles, mask], verbose=0), model.predict([garbage, mask], verbose=0))


@pytest.mark.parametrize("name", ["particlenet", "part"])
def test_graph_network_and_transformer_ignore_padding(name):
    from hepwb.models.particlenet import particle_net
    from hepwb.models.transformer import particle_transformer

    build = {"particlenet": lambda: particle_net(8, 4, 5, k=16, blocks=((8, 8), (8,)), head=8),
             "part": lambda: particle_transformer(8, 4, 5, dim=8, heads=2, pair_hidden=4)}[name]
    model = build()
    rng = np.random.default_rng(2)
    particles = rng.normal(size=(2, 8, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0, 0, 0, 0], [1] * 8], dtype=np.float32)  # fewer real particles than k
    garbage = particles.copy()
    garbage[0, 3:] = rng.normal(size=(5, 4)) * 100  # what sits in padded slots must not matter
    clean = model.predict([particles, mask], verbose=0)
    assert np.all(np.isfinite(clean))
    assert np.allclose(clean, model.predict([garbage, mask], verbose=0), atol=1e-6)
    assert not np.allclose(clean[0], clean[1])  # and the inputs do matter


def test_neighbours_are_real_particles_and_never_oneself():
    from hepwb.models.particlenet import nearest_neighbours

    points = np.array([[[0.0, 0.0], [0.1, 0.0], [0.3, 0.0], [0.05, 0.0], [0.0, 0.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 1, 1, 0]], dtype=np.float32)  # the last one sits on top of the first, padded
    neighbours = nearest_neighbours(points, mask, 2).numpy()[0]
    assert neighbours[0].tolist() == [3, 1] and neighbours[2].tolist() == [1, 3]
    assert 4 not in neighbours[:4] and all(i not in row for i, row in enumerate(neighbours))


def test_pair_features_by_hand():
    from hepwb.models.transformer import pair_features

    # two massless particles with pT fractions 0.6 and 0.2, at (Δη, Δφ) = (0, 0) and (0.3, 0.4): ΔR = 0.5
    particles = np.array([[[np.log(0.6), 0.0, 0.0, 1.0], [np.log(0.2), 0.3, 0.4, -1.0], [0.0, 0.0, 0.0, 0.0]]],
                         dtype=np.float32)
    mask = np.array([[1, 1, 0]], dtype=np.float32)
    features = pair_features(particles, mask).numpy()[0]
    m2 = 2 * 0.6 * 0.2 * (np.cosh(0.3) - np.cos(0.4))
    expected = np.log([0.2 * 0.5, 0.2 / 0.8, 0.5, m2])
    assert np.allclose(features[0, 1], expected, rtol=1e-5) and np.allclose(features[1, 0], expected, rtol=1e-5)
    assert np.all(features[2] == 0) and np.all(features[:, 2] == 0) and np.all(features[0, 0] == 0)


@pytest.mark.slow
def test_every_tagger_reloads_from_what_save_models_wrote(small_sample, tmp_path):
    """(That the graph network and the transformer train reproducibly is checked by the repeated smoke
    run of 01_jet_tagging in test_notebooks.py.)"""
    train, val, test = samples.split(small_sample, seed=1)
    train, val, test = (s.subset(np.arange(min(len(s), 300))) for s in (train, val, test))
    scaler = StandardScaler().fit(train.feature_table())
    fitted, scores = {}, {}
    for name in ("pfn", "particlenet", "part", "bdt"):
        fitted[name], _, scores[name] = taggers.train_and_score(name, train, val, test, scaler=scaler, epochs=1, seed=4)
    taggers.save_models(tmp_path, fitted, train, scaler)
    loaded, loaded_scaler, inputs = taggers.load_models(tmp_path)
    assert inputs["max_particles"] == 50 and inputs["image_size"] == 16 and list(loaded) == list(fitted)
    for name, model in loaded.items():
        assert np.allclose(taggers.scores(name, model, test, loaded_scaler), scores[name], atol=1e-6), name
    with pytest.raises(FileNotFoundError, match="no saved taggers"):
        taggers.load_models(tmp_path / "elsewhere")


def test_saved_tagger_reloads_and_predicts_the_same(small_sample, tmp_path):
    train, val, test = samples.split(small_sample, seed=1)
    scaler = StandardScaler().fit(train.feature_table())
    model, history, scores = taggers.train_and_score("hls4ml", train, val, test, scaler=scaler, epochs=2)
    taggers.save_tagger(tmp_path, model, scaler, JET_CLASSES)
    loaded, loaded_scaler, classes = taggers.load_tagger(tmp_path)
    assert classes == JET_CLASSES and tuple(loaded_scaler.feature_names_in_) == HLS4ML_FEATURES
    np.testing.assert_array_equal(loaded_scaler.mean_, scaler.mean_)
    with pytest.raises(ValueError, match="feature names"):  # jets with other features are refused
        loaded_scaler.transform(test.feature_table().rename(columns={"zlogz": "z"}))
    again = loaded.predict(loaded_scaler.transform(test.feature_table()), verbose=0)
    assert np.allclose(again, scores, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="no saved tagger"):
        taggers.load_tagger(tmp_path / "elsewhere")
    # a tagger of the other stack: one line that says which stack wrote it, before Keras tries to read it
    here = quantization.STACK
    other = "keras3" if here == "keras2" else "keras2"
    inputs = json.loads((tmp_path / taggers.SCALER_FILE).read_text())
    (tmp_path / taggers.SCALER_FILE).write_text(json.dumps({**inputs, "stack": other}))
    with pytest.raises(quantization.OtherStackModel, match=f"saved by the {other} stack and this is the {here}"):
        taggers.load_tagger(tmp_path)


@pytest.mark.slow
def test_training_is_deterministic_with_a_fixed_seed(small_sample):
    train, val, test = samples.split(small_sample, seed=1)
    scaler = StandardScaler().fit(train.feature_table())
    first = taggers.train_and_score("hls4ml", train, val, test, scaler=scaler, epochs=2, seed=4)[2]
    second = taggers.train_and_score("hls4ml", train, val, test, scaler=scaler, epochs=2, seed=4)[2]
    assert np.array_equal(first, second)
