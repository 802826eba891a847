"""Tracking: the tracker's physics against known cases, the TrackML reader on files in TrackML's published layout,
graph construction, the interaction network, track building, the classical baseline and the metrics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from hepwb.metrics import tracking as track_metrics
from hepwb.samples import track_graphs, tracks
from hepwb.sim import tracker as trk
from hepwb.studies import tracking


def _ideal(layers=None, **changes) -> trk.Tracker:
    """The default tracker without material, resolution, inefficiency or noise (or with ``changes``)."""
    layers = layers or trk.DEFAULT_TRACKER.layers
    ideal = tuple(dataclasses.replace(layer, thickness_x0=1e-12, resolution_rphi=0.0, resolution_z=0.0,
                                      efficiency=1.0) for layer in layers)
    return dataclasses.replace(trk.DEFAULT_TRACKER, layers=ideal, noise_hits_per_layer=0.0, **changes)


def _particles(pt, phi, pz, charge, mass=0.13957):
    pt, phi, pz, charge = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (pt, phi, pz, charge))
    px, py = pt * np.cos(phi), pt * np.sin(phi)
    energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    return np.arange(len(pt)), px, py, pz, energy, charge


# ------------------------------------------------------------------ the tracker's physics

@pytest.mark.parametrize("pt, charge", [(1.0, 1), (2.5, -1), (0.7, 1)])
def test_hits_lie_on_a_circle_of_radius_pt_over_0_3_b(pt, charge):
    event, px, py, pz, energy, q = _particles(pt, 0.4, 0.3, charge)
    hits = trk.simulate_hits(event, px, py, pz, energy, q, [0.0], np.random.default_rng(1), _ideal())
    x, y = hits.x, hits.y
    # the circle through the origin and the hits: x^2 + y^2 = a x + b y
    (a, b), *_ = np.linalg.lstsq(np.column_stack([x, y]), x**2 + y**2, rcond=None)
    radius = np.hypot(a, b) / 2
    expected = pt / (0.299792458 * 2.0) * 1000
    assert len(hits.x) == 10
    assert radius == pytest.approx(expected, rel=1e-6)
    # positive charges turn clockwise seen from +z (F = q v x B): the azimuth falls along the track
    turning = np.diff(np.unwrap(np.arctan2(y, x)))
    assert np.all(np.sign(turning) == -charge)


def test_z_grows_with_the_arc_length_times_pz_over_pt():
    event, px, py, pz, energy, q = _particles(1.0, 0.0, 2.0, 1)
    hits = trk.simulate_hits(event, px, py, pz, energy, q, [5.0], np.random.default_rng(1), _ideal())
    radius = 1000 / (0.299792458 * 2.0)
    arc = 2 * radius * np.arcsin(np.hypot(hits.x, hits.y) / (2 * radius))
    np.testing.assert_allclose(hits.z, 5.0 + 2.0 * arc, rtol=1e-9)


def test_multiple_scattering_width_follows_the_highland_formula():
    """Straight pions (almost no field) through one layer of 2 % X0; the spread of their z at a second layer
    100 mm further out is the projected scattering angle times 100 mm."""
    scatterer = trk.Layer("test", 100.0, 1000.0, 0.02, 0.0, 0.0, 1.0)
    screen = trk.Layer("screen", 200.0, 1000.0, 1e-12, 0.0, 0.0, 1.0)
    tracker = dataclasses.replace(trk.DEFAULT_TRACKER, layers=(scatterer, screen), field_tesla=0.01,
                                  noise_hits_per_layer=0.0)
    n, p = 40_000, 1.0
    event, px, py, pz, energy, q = _particles(np.full(n, p), np.zeros(n), np.zeros(n), np.ones(n))
    hits = trk.simulate_hits(event, px, py, pz, energy, q, np.zeros(n), np.random.default_rng(3), tracker,
                             n_events=n)
    z_screen = hits.z[hits.layer == 1]
    beta = p / np.sqrt(p**2 + 0.13957**2)
    theta0 = trk.highland_theta0(p, beta, 0.02)
    assert 0.0136 / p * np.sqrt(0.02) * 0.85 < theta0 < 0.0136 / p * np.sqrt(0.02)  # the log term lowers it
    assert np.std(z_screen) / 100.0 == pytest.approx(theta0, rel=0.03)


def test_inefficiency_and_noise_come_at_their_rates():
    layers = tuple(dataclasses.replace(layer, efficiency=0.9) for layer in trk.DEFAULT_TRACKER.layers)
    tracker = dataclasses.replace(_ideal(), layers=layers, noise_hits_per_layer=30.0)
    n = 2000
    event, px, py, pz, energy, q = _particles(np.full(n, 5.0), np.linspace(-3, 3, n), np.zeros(n), np.ones(n))
    hits = trk.simulate_hits(event % 10, px, py, pz, energy, q, np.zeros(n), np.random.default_rng(5), tracker,
                             n_events=10)
    real = hits.particle >= 0
    assert real.sum() / (n * 10) == pytest.approx(0.9, abs=0.01)
    assert (~real).sum() / (10 * 10) == pytest.approx(30.0, rel=0.1)


# ------------------------------------------------------------------ the TrackML reader

def _write_trackml_event(folder, prefix="event000001000"):
    """One event in TrackML's published CSV layout (column names and order of the challenge's files), written
    with pandas as an independent writer: two barrel particles and an endcap hit (volume 7), one noise hit."""
    hits = pd.DataFrame({"hit_id": [1, 2, 3, 4, 5, 6],
                         "x": [31.5, 71.8, 115.2, 171.0, 40.0, -50.0], "y": [2.0, 5.1, 8.0, 12.0, 3.0, -10.0],
                         "z": [10.0, 22.0, 35.0, 51.0, -1500.0, 100.0],
                         "volume_id": [8, 8, 8, 8, 7, 13], "layer_id": [2, 4, 6, 8, 2, 2],
                         "module_id": [1, 2, 3, 4, 5, 6]})
    truth = pd.DataFrame({"hit_id": [1, 2, 3, 4, 5, 6],
                          "particle_id": [4503668346847232, 4503668346847232, 4503668346847232, 4503668346847232,
                                          22525763437723648, 0],
                          "tx": hits.x, "ty": hits.y, "tz": hits.z, "tpx": 1.0, "tpy": 0.1, "tpz": 0.3,
                          "weight": [1e-5, 2e-5, 3e-5, 4e-5, 5e-6, 0.0]})
    particles = pd.DataFrame({"particle_id": [4503668346847232, 22525763437723648],
                              "vx": [-0.01, 0.02], "vy": [0.01, 0.0], "vz": [-3.2, 4.0], "px": [1.5, 0.2],
                              "py": [0.1, 0.1], "pz": [0.4, -3.0], "q": [1, -1], "nhits": [4, 1]})
    for name, table in (("hits", hits), ("truth", truth), ("particles", particles)):
        table.to_csv(folder / f"{prefix}-{name}.csv", index=False)
    return folder / prefix


def test_trackml_files_are_read_with_barrel_layers_and_their_weights(tmp_path):
    event = tracks.read_trackml(_write_trackml_event(tmp_path))
    assert len(event) == 5  # the endcap hit (volume 7) is left out
    assert event.layer.tolist() == [0, 1, 2, 3, 4]
    assert event.particle_id.tolist() == [4503668346847232] * 4 + [0]
    np.testing.assert_allclose(event.hit_weight, [1e-5, 2e-5, 3e-5, 4e-5, 0.0])
    assert event.hit_particle_index().tolist() == [0, 0, 0, 0, -1]
    perfect = np.array([0, 0, 0, 0, -1])
    assert track_metrics.trackml_score(event, perfect) == pytest.approx(1e-4)


def test_a_missing_trackml_file_or_column_is_named(tmp_path):
    prefix = _write_trackml_event(tmp_path)
    (tmp_path / "event000001000-truth.csv").unlink()
    with pytest.raises(FileNotFoundError, match="no TrackML file .*event000001000-truth.csv"):
        tracks.read_trackml(prefix)
    prefix = _write_trackml_event(tmp_path)
    pd.read_csv(tmp_path / "event000001000-hits.csv").drop(columns="volume_id").to_csv(
        tmp_path / "event000001000-hits.csv", index=False)
    with pytest.raises(ValueError, match=r"event000001000-hits.csv has no column\(s\) \['volume_id'\]"):
        tracks.read_trackml(prefix)


# ------------------------------------------------------------------ graphs, tracks, metrics on generated events

@pytest.fixture(scope="module")
def committed_events():
    return tracks.load("tracks", max_events=6)


def _targets(event):
    return (event.particle_pt() > 1) & (np.abs(event.particle_eta()) < 2.5)


def test_the_committed_tracks_file_holds_consistent_truth(committed_events):
    for event in committed_events:
        assert event.hit_weight.sum() == pytest.approx(1.0)
        rows = event.hit_particle_index()
        assert ((rows >= 0) == (event.particle_id != 0)).all()
        np.testing.assert_array_equal(np.bincount(rows[rows >= 0], minlength=len(rows.clip(0))
                                                  )[: len(event.particles["nhits"])], event.particles["nhits"])
        assert set(np.unique(event.layer)) == set(range(10))


def test_the_graph_keeps_the_segments_of_particles_above_1_gev(committed_events):
    for event in committed_events:
        graph = track_graphs.build_graph(event)
        assert track_graphs.segment_efficiency(graph, event, _targets(event)) > 0.99
        assert 0.1 < graph.truth.mean() < 0.6
        assert graph.nodes.shape == (len(event), 3) and graph.edges.shape == (graph.n_edges, 4)
        assert (event.layer[graph.receivers] > event.layer[graph.senders]).all()


def test_edge_pairs_are_every_two_edges_that_meet_at_a_hit_within_the_window(committed_events):
    event = committed_events[0]
    graph = track_graphs.build_graph(event)
    slope = np.random.default_rng(1).uniform(-1, 1, graph.n_edges)
    by_hand = {(a, b) for a in range(graph.n_edges) for b in np.flatnonzero(graph.senders == graph.receivers[a])
               if abs(slope[a] - slope[b]) <= 0.3}
    first, second = track_graphs.edge_pairs(graph, len(event), slope, 0.3)
    assert set(zip(first.tolist(), second.tolist())) == by_hand and len(first) == len(by_hand) > 1000
    everything = track_graphs.edge_pairs(graph, len(event))[0]
    assert len(everything) == (np.bincount(graph.receivers, minlength=len(event))
                               * np.bincount(graph.senders, minlength=len(event))).sum()


@pytest.fixture(scope="module")
def triplet_map():
    learning = tracks.load("tracks", max_events=40)[10:]  # not the events of committed_events
    return track_graphs.learn_triplet_map(learning, [track_graphs.build_graph(e) for e in learning])


def test_the_triplet_filter_keeps_target_segments_and_drops_most_false_edges(committed_events, triplet_map):
    assert len(triplet_map.max_dslope) == 28  # 8 triplets of adjacent layers, 20 with a skipped layer
    for event in committed_events:
        graph = track_graphs.build_graph(event)
        filtered = track_graphs.triplet_filtered(event, graph, triplet_map)
        assert track_graphs.segment_efficiency(filtered, event, _targets(event)) > 0.99  # 0.9986 on 20 events
        assert filtered.n_edges < graph.n_edges / 3  # 2 560 of 10 000 at pileup 10
        assert filtered.truth.mean() > 0.7  # from 0.23 to 0.83
        assert filtered.edges.shape == (filtered.n_edges, 6) and (filtered.edges[:, 4:].min(axis=1) <= 1).all()


def test_a_perfect_edge_classifier_builds_every_target_track(committed_events):
    particles, found = [], []
    for event in committed_events:
        graph = track_graphs.build_graph(event)
        labels = tracking.build_tracks(len(event), graph.senders, graph.receivers, graph.truth.astype(float),
                                       layer=event.layer)
        particles_, tracks_ = track_metrics.evaluate_event(event, labels)
        particles.append(particles_)
        found.append(tracks_)
    result = track_metrics.summary(pd.concat(particles), pd.concat(found))
    assert result["efficiency"] > 0.99 and result["fake_rate"] == 0 and result["duplicate_rate"] == 0


def test_the_working_point_is_the_lowest_threshold_within_the_fake_rate(committed_events):
    graphs = [track_graphs.build_graph(e) for e in committed_events[:3]]
    noisy = [np.where(g.truth, 0.9, np.random.default_rng(1).choice([0.1, 0.6], g.n_edges)) for g in graphs]
    table, chosen = tracking.working_point(committed_events[:3], graphs, noisy, [0.5, 0.7, 0.95])
    assert table.loc[0.5, "fake_rate"] > 0.05 and chosen == 0.7  # false edges at 0.6 pass 0.5, not 0.7
    assert table.loc[0.95, "efficiency"] == 0 and table.loc[0.7, "efficiency"] > 0.99


def test_the_classical_baseline_finds_most_tracks_with_few_fakes(committed_events):
    parts = [track_metrics.evaluate_event(event, tracking.seeded_tracks(event)) for event in committed_events]
    result = track_metrics.summary(*(pd.concat(p) for p in zip(*parts)))
    assert result["efficiency"] > 0.93 and result["fake_rate"] < 0.02


def test_double_majority_matching_by_hand(committed_events):
    event = committed_events[0]
    pid = event.particle_id
    target = np.flatnonzero(_targets(event) & (event.particles["nhits"] >= 8))[0]
    own = np.flatnonzero(pid == event.particles["particle_id"][target])
    strangers = np.flatnonzero((pid != 0) & (pid != pid[own[0]]))[:2]
    labels = np.full(len(event), -1)
    labels[own[:3]] = 0  # 3 of >= 8 hits: pure but holding less than half of the particle: neither match nor fake
    labels[np.r_[own[3:], strangers]] = 1  # >= 5 of its hits and 2 strangers: both majorities, a match
    labels[strangers[:1]] = 2  # moved: track 1 keeps one stranger
    labels[np.flatnonzero(pid == 0)[:3]] = 3  # three noise hits: a fake
    particles, found = track_metrics.evaluate_event(event, labels)
    row = found.set_index("track")
    assert not row.loc[0, "matched"] and not row.loc[0, "fake"]
    assert row.loc[1, "matched"] and not row.loc[1, "fake"]
    assert row.loc[3, "fake"] and 2 not in row.index  # a one-hit track is below min_hits
    assert particles.set_index("particle_id").loc[pid[own[0]], "matched"]


def test_perfect_tracks_score_one_and_no_tracks_zero(committed_events):
    event = committed_events[1]
    perfect = np.where(event.particle_id != 0, event.particle_id, -1)
    assert track_metrics.trackml_score(event, perfect) == pytest.approx(1.0)
    assert track_metrics.trackml_score(event, np.full(len(event), -1)) == 0.0


# ------------------------------------------------------------------ the interaction network

def test_padding_does_not_change_the_scores_of_real_edges(committed_events):
    from hepwb.models import interaction_network as inet

    graphs = sorted((track_graphs.build_graph(e) for e in committed_events[:2]), key=lambda g: g.n_edges)
    model = inet.interaction_network(hidden=8, steps=2, edge_features=4, seed=3)
    n = graphs[0].n_edges
    alone = np.asarray(model(inet.edge_inputs(track_graphs.padded(graphs[:1])), training=False))[0, :, 0]
    together = np.asarray(model(inet.edge_inputs(track_graphs.padded(graphs)), training=False))[0, :n, 0]
    assert track_graphs.padded(graphs)["edges"].shape[1] > n  # the first graph is padded beside the second
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_sums_into_nodes_leave_padded_edges_out():
    from hepwb.models.interaction_network import SumIntoNodes

    edges = np.arange(12, dtype=np.float32).reshape(1, 6, 2)
    index = np.array([[0, 2, 2, 1, 0, 0]], dtype=np.int32)
    mask = np.array([[1, 1, 1, 1, 0, 0]], dtype=np.float32)
    out = np.asarray(SumIntoNodes()([edges, index, mask, np.zeros((1, 3, 1), np.float32)]))
    np.testing.assert_allclose(out[0], [[0, 1], [6, 7], [2 + 4, 3 + 5]])


@pytest.mark.slow
def test_a_few_epochs_of_training_learn_the_edges(committed_events, triplet_map):
    from hepwb.models import interaction_network as inet
    from hepwb.models import training

    graphs = [track_graphs.triplet_filtered(e, track_graphs.build_graph(e), triplet_map) for e in committed_events]
    train, val = track_graphs.padded(graphs[:4]), track_graphs.padded(graphs[4:])
    model = inet.interaction_network(seed=1)
    history = training.train(model, inet.edge_inputs(train), inet.edge_targets(train), inet.edge_inputs(val),
                             inet.edge_targets(val), epochs=8, batch_size=1, seed=1)
    scores = np.concatenate(tracking.edge_scores(model, graphs[4:]))
    truth = np.concatenate([g.truth for g in graphs[4:]])
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert track_metrics.edge_auc(truth, scores) > 0.8  # 0.88 on both stacks after 8 epochs on 4 filtered events
