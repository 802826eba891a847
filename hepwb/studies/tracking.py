"""From hits to tracks: the graph network's track building and the classical baseline it is compared with.

* ``build_tracks``: keep the edges the network scores above a threshold, then walk: every hit keeps at most one
  edge outwards and one inwards, those that are the best of both their hits (adjacent layers first, an edge
  that skips a layer only where a hit has no neighbour), so a track never branches into its neighbour's; the
  connected components of what is left (scipy's ``connected_components``) are the tracks.
* ``seeded_tracks``: combinatorial track finding as reconstruction software has done it for decades. Triplets
  of hits on the three pixel layers nearest the beam (doublets from the same geometric cuts as the graph, a
  third hit on the circle through the beam line and the doublet), then each seed is followed outwards: the
  circle through its last three hits and the straight line in (arc length, z) predict where it crosses the next
  layer, and the nearest hit in a window there is added (one missing layer allowed). Hits go to the longest
  tracks first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from hepwb.metrics import tracking as track_metrics
from hepwb.samples import track_graphs
from hepwb.samples.tracks import TrackingEvent, from_generated
from hepwb.sim.recipes.tracks import make_tracks_chunk


def _components(n_hits: int, senders: np.ndarray, receivers: np.ndarray, min_hits: int) -> np.ndarray:
    """Track labels (n_hits,) from the connected components of the kept edges; -1 for hits in smaller ones."""
    adjacency = coo_matrix((np.ones(len(senders)), (senders, receivers)), shape=(n_hits, n_hits))
    _, labels = connected_components(adjacency, directed=False)
    sizes = np.bincount(labels)
    return np.where(sizes[labels] >= min_hits, labels, -1)


def _mutual_best(senders, receivers, scores, candidates) -> np.ndarray:
    """Of the ``candidates`` (a mask over edges), those that are both their inner hit's best-scored edge outwards
    and their outer hit's best-scored edge inwards (a mask)."""
    index = np.flatnonzero(candidates)
    index = index[np.argsort(-scores[index], kind="stable")]  # best first: a hit's first edge is its best
    best_out = np.zeros(len(scores), bool)
    best_out[index[np.unique(senders[index], return_index=True)[1]]] = True
    best_in = np.zeros(len(scores), bool)
    best_in[index[np.unique(receivers[index], return_index=True)[1]]] = True
    return best_out & best_in


def build_tracks(n_hits: int, senders: np.ndarray, receivers: np.ndarray, scores: np.ndarray, *,
                 layer: np.ndarray | None = None, threshold: float = 0.5, min_hits: int = 3) -> np.ndarray:
    """Track labels (n_hits,) from a scored graph; -1 for hits on no track.

    With the hits' ``layer`` (n_hits,), a walk: of the edges above ``threshold`` between adjacent layers, each
    hit keeps at most one outwards and one inwards, the edges that are the best of both their hits; an edge that
    skips a layer joins only hits left without a neighbour on that side, by the same rule. Without ``layer``:
    plain connected components of the edges above ``threshold`` (tracks that touch merge).
    """
    keep = scores > threshold
    if layer is not None:
        gap = layer[receivers] - layer[senders]
        chosen = _mutual_best(senders, receivers, scores, keep & (gap == 1))
        has_out = np.zeros(n_hits, bool)
        has_out[senders[chosen]] = True
        has_in = np.zeros(n_hits, bool)
        has_in[receivers[chosen]] = True
        chosen |= _mutual_best(senders, receivers, scores, keep & (gap > 1) & ~has_out[senders] & ~has_in[receivers])
        keep = chosen
    return _components(n_hits, senders[keep], receivers[keep], min_hits)


@dataclass(frozen=True)
class SeedingSettings:
    """The classical baseline's windows (mm)."""

    seed_layers: tuple[int, int, int] = (0, 1, 2)
    seed_window: float = 1.0  # mm: the third hit of a triplet around the circle through beam line and doublet
    search_window: float = 3.0  # mm: around the predicted crossing, in (r-phi, z / z_scale)
    z_scale: tuple[float, ...] = (1, 1, 1, 1, 4, 4, 4, 4, 20, 20)  # strips measure z coarsely
    max_missing: int = 1
    min_hits: int = 5


DEFAULT_SEEDING = SeedingSettings()


def _circle_point(p1, p2, p3, radius):
    """Where the circles through three points ((n, 2) each) cross the cylinder ``radius``, the crossing nearer
    to ``p3``; NaN where they do not."""
    a = p2 - p1
    b = p3 - p1
    d = 2 * (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    d = np.where(np.abs(d) < 1e-9, 1e-9, d)
    ux = (b[:, 1] * (a ** 2).sum(1) - a[:, 1] * (b ** 2).sum(1)) / d
    uy = (a[:, 0] * (b ** 2).sum(1) - b[:, 0] * (a ** 2).sum(1)) / d
    centre = p1 + np.stack([ux, uy], axis=1)
    big_r = np.hypot(ux, uy)
    dist = np.hypot(centre[:, 0], centre[:, 1])
    cos_gap = (radius**2 - dist**2 - big_r**2) / (2 * big_r * dist)
    gap = np.arccos(np.clip(cos_gap, -1, 1))
    angle = np.arctan2(centre[:, 1], centre[:, 0])
    options = [centre + big_r[:, None] * np.stack([np.cos(angle + s * gap), np.sin(angle + s * gap)], axis=1)
               for s in (1, -1)]
    nearer = np.linalg.norm(options[0] - p3, axis=1) <= np.linalg.norm(options[1] - p3, axis=1)
    point = np.where(nearer[:, None], options[0], options[1])
    point[np.abs(cos_gap) > 1] = np.nan
    return point


def seeded_tracks(event: TrackingEvent, settings: SeedingSettings = DEFAULT_SEEDING,
                  cuts: track_graphs.GraphCuts = track_graphs.DEFAULT_CUTS, radii=None) -> np.ndarray:
    """Track labels (n_hits,) from triplet seeding and following each seed outwards; -1 for hits on no track."""
    xy = np.stack([event.x, event.y], axis=1)
    n_layers = int(event.layer.max()) + 1 if len(event) else 0
    radii = np.array([np.median(event.r[event.layer == i]) for i in range(n_layers)]) if radii is None else radii
    trees = {}
    for layer in range(n_layers):
        hits = np.flatnonzero(event.layer == layer)
        trees[layer] = (hits, cKDTree(np.column_stack([xy[hits], event.z[hits] / settings.z_scale[layer]])))
    tracks = _triplets(event, xy, settings, cuts, radii, trees)
    tracks = _follow(event, xy, tracks, settings, radii, trees, n_layers)
    return _resolve(len(event), tracks, settings.min_hits)


def _triplets(event, xy, settings, cuts, radii, trees) -> list[np.ndarray]:
    l0, l1, l2 = settings.seed_layers
    graph = track_graphs.build_graph(event, track_graphs.GraphCuts(cuts.phi_slope_max, cuts.z0_max, skip=0),
                                     n_layers=l1 + 1)
    first = event.layer[graph.senders] == l0
    s, t = graph.senders[first], graph.receivers[first]
    beam = np.zeros((len(s), 2))
    predicted = _circle_point(beam, xy[s], xy[t], radii[l2])
    dz = (event.z[t] - event.z[s]) / (event.r[t] - event.r[s])
    z_pred = event.z[t] + dz * (radii[l2] - event.r[t])
    hits, tree = trees[l2]
    ok = np.isfinite(predicted[:, 0])
    distance, found = tree.query(np.column_stack([predicted[ok], z_pred[ok] / settings.z_scale[l2]]),
                                 distance_upper_bound=settings.seed_window)
    good = np.isfinite(distance)
    return [np.array([a, b, hits[c]]) for a, b, c in zip(s[ok][good], t[ok][good], found[good])]


def _follow(event, xy, tracks, settings, radii, trees, n_layers) -> list[np.ndarray]:
    """Extend all seeds together, layer by layer."""
    if not tracks:
        return []
    hits = np.full((len(tracks), n_layers), -1)
    for i, track in enumerate(tracks):
        hits[i, event.layer[track]] = track
    missing = np.zeros(len(tracks), int)
    for layer in range(max(settings.seed_layers) + 1, n_layers):
        alive = np.flatnonzero(missing <= settings.max_missing)
        if len(alive) == 0:
            break
        last3 = np.array([row[row >= 0][-3:] for row in hits[alive]])
        p1, p2, p3 = xy[last3[:, 0]], xy[last3[:, 1]], xy[last3[:, 2]]
        predicted = _circle_point(p1, p2, p3, radii[layer])
        chord = np.hypot(*(xy[last3[:, 2]] - xy[last3[:, 1]]).T)
        slope = (event.z[last3[:, 2]] - event.z[last3[:, 1]]) / np.maximum(chord, 1e-6)
        z_pred = event.z[last3[:, 2]] + slope * np.hypot(*(predicted - p3).T)
        layer_hits, tree = trees[layer]
        ok = np.isfinite(predicted[:, 0])
        distance = np.full(len(alive), np.inf)
        found = np.zeros(len(alive), int)
        if ok.any() and len(layer_hits):
            distance[ok], found[ok] = tree.query(np.column_stack([predicted[ok], z_pred[ok] / settings.z_scale[layer]]),
                                                 distance_upper_bound=settings.search_window)
        hit = np.isfinite(distance)
        hits[alive[hit], layer] = layer_hits[found[hit]]
        missing[alive[~hit]] += 1
    return [row[row >= 0] for row in hits]


def _resolve(n_hits: int, tracks: list[np.ndarray], min_hits: int) -> np.ndarray:
    """Hits to the longest tracks first; a track keeps the hits no longer track took, if it keeps ``min_hits``."""
    labels = np.full(n_hits, -1)
    for number, i in enumerate(sorted(range(len(tracks)), key=lambda k: -len(tracks[k]))):
        free = tracks[i][labels[tracks[i]] < 0]
        if len(free) >= min_hits:
            labels[free] = number
    return labels


def timed(function, *args, **kwargs):
    """``function(*args, **kwargs)`` and the wall time it took [s]."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def edge_scores(model, graphs: list) -> list[np.ndarray]:
    """The network's score of every edge of each graph, one graph at a time (no padding): (n_edges,) each."""
    from hepwb.models.interaction_network import edge_inputs  # TensorFlow: only where a network scores edges

    return [np.asarray(model(edge_inputs(track_graphs.padded([g])), training=False))[0, : g.n_edges, 0]
            for g in graphs]


def network_tracks(model, event: TrackingEvent, triplet_map: track_graphs.TripletMap, *, threshold: float = 0.5,
                   cuts: track_graphs.GraphCuts = track_graphs.DEFAULT_CUTS) -> tuple[np.ndarray, dict, int]:
    """The graph network's whole chain on one event: graph, triplet filter, edge scores, tracks. Returns the
    track labels, the seconds each step took (``graph``, ``filter``, ``network``, ``building``) and the number of
    edges the network scored."""
    graph, t_graph = timed(track_graphs.build_graph, event, cuts)
    graph, t_filter = timed(track_graphs.triplet_filtered, event, graph, triplet_map)
    (scores,), t_network = timed(edge_scores, model, [graph])
    labels, t_building = timed(build_tracks, len(event), graph.senders, graph.receivers, scores, layer=event.layer,
                               threshold=threshold)
    return labels, {"graph": t_graph, "filter": t_filter, "network": t_network, "building": t_building}, graph.n_edges


TIMED_STEPS = ("graph", "filter", "network", "building")


def pileup_timing(model, triplet_map: track_graphs.TripletMap, pileups, *, events: int = 3, threshold: float = 0.5,
                  seed: int = 1):
    """Seconds per event of the network's chain and of the classical baseline at each mean pileup of ``pileups``
    (``events`` fresh tt-bar events each), with the hits and scored edges per event: a pandas DataFrame, one row
    per pileup."""
    rows = []
    for mu in pileups:
        generated = from_generated(make_tracks_chunk(events, seed, 1000 + int(mu), "ttbar",
                                                     options={"pileup_mu": float(mu)})["events"])
        network_tracks(model, generated[0], triplet_map, threshold=threshold)  # the first call builds TF's graph
        _, chain, edges = zip(*(network_tracks(model, event, triplet_map, threshold=threshold) for event in generated))
        baseline = [timed(seeded_tracks, event)[1] for event in generated]
        rows.append({"pileup": mu, "hits": np.mean([len(e) for e in generated]),
                     "edges": np.mean(edges),
                     **{f"{step}_s": np.mean([c[step] for c in chain]) for step in TIMED_STEPS},
                     "network_chain_s": np.mean([sum(c.values()) for c in chain]),
                     "baseline_s": np.mean(baseline)})
    return pd.DataFrame(rows)


@dataclass
class Evaluation:
    """Tracks judged against the truth of many events: per target particle and per track (``metrics.tracking``'s
    ``evaluate_event`` tables, concatenated) and the ``summary`` with the mean TrackML score."""

    particles: pd.DataFrame
    tracks: pd.DataFrame
    summary: dict


def evaluate(events: list, labels: list) -> Evaluation:
    """Judge the track labels of each event (``labels[i]`` for ``events[i]``) with ``metrics.tracking``."""
    parts = [track_metrics.evaluate_event(event, lab) for event, lab in zip(events, labels)]
    particles, tracks = (pd.concat(part, ignore_index=True) for part in zip(*parts))
    score = float(np.mean([track_metrics.trackml_score(event, lab) for event, lab in zip(events, labels)]))
    return Evaluation(particles, tracks, {**track_metrics.summary(particles, tracks), "TrackML score": score})


def working_point(events: list, graphs: list, scores: list, thresholds, *, max_fake_rate: float = 0.05):
    """Track efficiency and fake rate of the walk at each of ``thresholds`` on some events (the validation
    events: a working point chosen on the test events would flatter it), and the lowest threshold whose fake
    rate stays within ``max_fake_rate`` (the highest threshold if none does). Returns (table, threshold)."""
    rows = []
    for threshold in thresholds:
        labels = [build_tracks(len(e), g.senders, g.receivers, s, layer=e.layer, threshold=threshold)
                  for e, g, s in zip(events, graphs, scores)]
        rows.append({"threshold": threshold, **evaluate(events, labels).summary})
    table = pd.DataFrame(rows).set_index("threshold")
    passing = table.index[table["fake_rate"] <= max_fake_rate]
    return table, float(passing.min() if len(passing) else table.index.max())
