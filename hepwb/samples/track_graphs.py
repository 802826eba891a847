"""Hit graphs for tracking: hits as nodes, candidate segments between nearby layers as edges, and the padded
arrays a Keras graph network takes.

An edge joins a hit on layer l to a hit on layer l + 1 (and, for a missing hit, l + 2) when the pair could come
from a particle of pT above about 1 GeV from the beam line (``GraphCuts``): the azimuth turns by at most
``phi_slope_max`` per mm of radius (a helix of radius R turns by about dr / 2R), and the segment's line reaches
the beam line within ``z0_max`` of the centre (the beam spot's length, as the hits' pseudorapidity seen from a
vertex there). An edge is true when both hits come from the same particle. (A cut on the hits' pseudorapidity
difference seen from z = 0 loses 5-10 % of the innermost true segments: vertices spread over +-100 mm.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepwb.samples.tracks import TrackingEvent


@dataclass(frozen=True)
class GraphCuts:
    """The geometric cuts of graph construction (mm, rad)."""

    phi_slope_max: float = 3.5e-4  # rad per mm of radius; 1 GeV at 2 T turns by 1.8e-4 rad/mm near the beam
    z0_max: float = 200.0  # mm: 4 sigma of the beam spot
    skip: int = 1  # also connect layers l and l + 1 + skip (0: adjacent layers only)


DEFAULT_CUTS = GraphCuts()


@dataclass
class HitGraph:
    """One event's graph: node features (n_hits, 3) = r / 1000 mm, phi / pi, z / 1000 mm; edges from
    ``senders`` (inner hit) to ``receivers`` (outer hit), (n_edges,) each; edge features (n_edges, 4) = dr / 100 mm,
    dphi / dr and z0 as fractions of their cuts, dz / dr / 5 (cot theta); ``truth`` (n_edges,) True where both
    hits come from one particle."""

    nodes: np.ndarray
    senders: np.ndarray
    receivers: np.ndarray
    edges: np.ndarray
    truth: np.ndarray

    @property
    def n_edges(self) -> int:
        return len(self.senders)


def _wrap(phi):
    return (phi + np.pi) % (2 * np.pi) - np.pi


def _candidate_pairs(inner: np.ndarray, outer: np.ndarray, phi: np.ndarray, width: float):
    """All (inner, outer) hit pairs whose azimuths differ by at most ``width``: outer hits sorted by phi (and
    copied at phi +- 2 pi for the wrap-around), a window per inner hit found by binary search."""
    order = outer[np.argsort(phi[outer])]
    ring = np.concatenate([order, order, order])
    ring_phi = np.concatenate([phi[order] - 2 * np.pi, phi[order], phi[order] + 2 * np.pi])
    low = np.searchsorted(ring_phi, phi[inner] - width)
    high = np.searchsorted(ring_phi, phi[inner] + width, side="right")
    counts = high - low
    senders = np.repeat(inner, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return senders, ring[np.repeat(low, counts) + offsets]


def build_graph(event: TrackingEvent, cuts: GraphCuts = DEFAULT_CUTS, n_layers: int = 10) -> HitGraph:
    """The hit graph of one event with the edges that pass ``cuts``."""
    r, phi, z = event.r, event.phi, event.z
    by_layer = [np.flatnonzero(event.layer == layer) for layer in range(n_layers)]
    senders, receivers = [], []
    for a in range(n_layers - 1):
        for b in range(a + 1, min(a + 2 + cuts.skip, n_layers)):
            if len(by_layer[a]) == 0 or len(by_layer[b]) == 0:
                continue
            dr_max = r[by_layer[b]].max() - r[by_layer[a]].min()
            s, t = _candidate_pairs(by_layer[a], by_layer[b], phi, cuts.phi_slope_max * dr_max)
            dr = r[t] - r[s]
            z0 = z[s] - r[s] * (z[t] - z[s]) / dr
            keep = (np.abs(_wrap(phi[t] - phi[s])) <= cuts.phi_slope_max * dr) & (np.abs(z0) <= cuts.z0_max)
            senders.append(s[keep])
            receivers.append(t[keep])
    senders = np.concatenate(senders) if senders else np.zeros(0, dtype=int)
    receivers = np.concatenate(receivers) if receivers else np.zeros(0, dtype=int)
    dr, dz = r[receivers] - r[senders], z[receivers] - z[senders]
    z0 = z[senders] - r[senders] * dz / dr
    edges = np.stack([dr / 100, _wrap(phi[receivers] - phi[senders]) / (cuts.phi_slope_max * dr),
                      z0 / cuts.z0_max, dz / dr / 5], axis=1).astype(np.float32)
    nodes = np.stack([r / 1000, phi / np.pi, z / 1000], axis=1).astype(np.float32)
    pid = event.particle_id
    truth = (pid[senders] == pid[receivers]) & (pid[senders] != 0)
    return HitGraph(nodes, senders, receivers, edges, truth)


def true_segments(event: TrackingEvent, particle_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive hits of each particle (ordered by layer): the pairs (inner, outer) a perfect graph holds.

    ``particle_mask`` (n_particles,) keeps the segments of some particles (e.g. pT > 1 GeV).
    """
    rows = event.hit_particle_index()
    keep = rows >= 0
    if particle_mask is not None:
        keep &= np.where(rows >= 0, np.asarray(particle_mask)[rows.clip(0)], False)
    hits = np.flatnonzero(keep)
    hits = hits[np.lexsort((event.layer[hits], rows[hits]))]
    same = rows[hits[1:]] == rows[hits[:-1]]
    return hits[:-1][same], hits[1:][same]


def segment_efficiency(graph: HitGraph, event: TrackingEvent, particle_mask=None, selected=None) -> float:
    """The fraction of true segments (``true_segments``) among the graph's edges (``selected`` of them if given)."""
    inner, outer = true_segments(event, particle_mask)
    if len(inner) == 0:
        return float("nan")
    senders, receivers = graph.senders, graph.receivers
    if selected is not None:
        senders, receivers = senders[selected], receivers[selected]
    n = len(event)
    kept = np.isin(inner * n + outer, senders.astype(np.int64) * n + receivers)
    return float(kept.mean())


def padded(graphs: list[HitGraph]) -> dict[str, np.ndarray]:
    """Graphs of different sizes as equal-sized arrays with masks, the inputs of ``models.tracking``:
    nodes (batch, max_nodes, 3), senders and receivers (batch, max_edges) int32, edges (batch, max_edges, features),
    edge_mask (batch, max_edges) float32, truth (batch, max_edges) float32."""
    n_nodes = max(len(g.nodes) for g in graphs)
    n_edges = max(max(g.n_edges for g in graphs), 1)
    out = {"nodes": np.zeros((len(graphs), n_nodes, 3), np.float32),
           "senders": np.zeros((len(graphs), n_edges), np.int32),
           "receivers": np.zeros((len(graphs), n_edges), np.int32),
           "edges": np.zeros((len(graphs), n_edges, graphs[0].edges.shape[1]), np.float32),
           "edge_mask": np.zeros((len(graphs), n_edges), np.float32),
           "truth": np.zeros((len(graphs), n_edges), np.float32)}
    for i, g in enumerate(graphs):
        out["nodes"][i, : len(g.nodes)] = g.nodes
        for key, value in (("senders", g.senders), ("receivers", g.receivers), ("edges", g.edges),
                           ("truth", g.truth)):
            out[key][i, : g.n_edges] = value
        out["edge_mask"][i, : g.n_edges] = 1
    return out


# --- the triplet filter: a module map at the level of layers -------------------------------------------------------

@dataclass(frozen=True)
class TripletMap:
    """How much a true track bends between two segments that meet at a hit, per triplet of layers (inner, middle,
    outer): the largest change of azimuth slope (rad per mm of radius) and of cot(theta) seen among the tracks of
    training events (``learn_triplet_map``). GNN4ITk's module map (arXiv:2103.06995) keeps such limits per triplet
    of detector modules; with ten barrel layers, triplets of layers are enough."""

    max_dslope: dict  # {(inner, middle, outer): rad / mm}
    max_dcot: dict  # {(inner, middle, outer): change of dz / dr}
    pt_min: float  # GeV: the particles the limits were taken from
    quantile: float

    def window_by_middle_layer(self, n_layers: int = 10) -> np.ndarray:
        """The largest azimuth-slope change of any triplet around each layer (n_layers,): no pair of edges that
        meet on that layer and bend more can pass."""
        window = np.zeros(n_layers)
        for (_, middle, _), value in self.max_dslope.items():
            window[middle] = max(window[middle], value)
        return window

    def limits(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two limits for triplet keys (100 inner + 10 middle + outer); 0 for triplets never seen."""
        dslope, dcot = np.zeros(1000), np.zeros(1000)
        for (a, b, c), value in self.max_dslope.items():
            dslope[100 * a + 10 * b + c], dcot[100 * a + 10 * b + c] = value, self.max_dcot[(a, b, c)]
        return dslope[keys], dcot[keys]


def edge_pairs(graph: HitGraph, n_hits: int, slope: np.ndarray | None = None, window=np.inf):
    """Every pair of edges that meet at a hit, the first entering it and the second leaving it, (n_pairs,) each;
    with the edges' azimuth ``slope`` (n_edges,), only pairs whose slopes differ by at most ``window`` (a number
    or one per edge, for the pairs it enters): at pileup 200, ~3 million pairs of 1.5 million edges instead of
    ~30 million."""
    slope = np.zeros(graph.n_edges) if slope is None else slope
    window = np.minimum(window, 1e9)
    scale = 2 * (np.abs(slope).max(initial=0) + np.max(window, initial=0)) + 1e-12  # slopes as fractions below 1
    out_key = graph.senders + (slope + scale / 2) / scale  # one sorted number: the hit, then the slope
    out_of = np.argsort(out_key, kind="stable")
    in_key = graph.receivers + (slope + scale / 2) / scale
    half = window / scale
    into = np.argsort(in_key, kind="stable")  # searching in order is several times faster
    low = np.searchsorted(out_key[out_of], np.maximum(in_key - half, graph.receivers)[into], side="left")
    high = np.searchsorted(out_key[out_of], np.minimum(in_key + half, graph.receivers + 1)[into], side="right")
    counts = np.maximum(high - low, 0)
    first = np.repeat(into, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return first, out_of[np.repeat(low, counts) + offsets]


def _bends(event: TrackingEvent, graph: HitGraph, window_by_layer: np.ndarray | None = None):
    """For the pairs of edges meeting at a hit (``edge_pairs``) whose azimuth slopes differ by at most
    ``window_by_layer`` [the hit's layer] rad/mm (all pairs without it): the pairs, their layer-triplet keys and
    the changes of azimuth slope and of cot(theta)."""
    r, z = event.r, event.z
    dr = r[graph.receivers] - r[graph.senders]
    slope = _wrap(event.phi[graph.receivers] - event.phi[graph.senders]) / dr
    window = np.inf if window_by_layer is None else window_by_layer[event.layer[graph.receivers]]
    first, second = edge_pairs(graph, len(event), slope, window)
    cot = (z[graph.receivers] - z[graph.senders]) / dr
    inner, outer = (event.layer[hits].astype(np.int16) for hits in (graph.senders, graph.receivers))
    keys = (100 * inner + 10 * outer)[first] + outer[second]
    return first, second, keys, np.abs(slope[second] - slope[first]), np.abs(cot[second] - cot[first])


def learn_triplet_map(events: list, graphs: list, *, pt_min: float = 0.9, quantile: float = 0.995,
                      margin: float = 1.1, min_count: int = 20) -> TripletMap:
    """The ``TripletMap`` of training events: per layer triplet, ``margin`` times the ``quantile`` of the bends
    of true tracks with pT above ``pt_min`` GeV (triplets seen fewer than ``min_count`` times are left out)."""
    keys, dslope, dcot = [], [], []
    for event, graph in zip(events, graphs):
        rows = event.hit_particle_index()
        pt = np.where(rows >= 0, event.particle_pt()[rows.clip(0)], 0.0)
        true = graph.truth & (pt[graph.senders] > pt_min)  # pairs of true edges meet only at their own hits
        _, _, key, ds, dc = _bends(event, HitGraph(graph.nodes, graph.senders[true], graph.receivers[true],
                                                   graph.edges[true], graph.truth[true]))
        keys.append(key), dslope.append(ds), dcot.append(dc)
    keys, dslope, dcot = np.concatenate(keys), np.concatenate(dslope), np.concatenate(dcot)
    limits = {}
    for key in np.unique(keys):
        chosen = keys == key
        if chosen.sum() >= min_count:
            triplet = (int(key // 100), int(key // 10 % 10), int(key % 10))
            limits[triplet] = tuple(margin * np.quantile(v[chosen], quantile) for v in (dslope, dcot))
    return TripletMap({k: v[0] for k, v in limits.items()}, {k: v[1] for k, v in limits.items()}, pt_min, quantile)


def triplet_filtered(event: TrackingEvent, graph: HitGraph, triplet_map: TripletMap) -> HitGraph:
    """The graph's edges that form at least one triplet within ``triplet_map``'s limits with an edge at either
    of their hits, each with two more features: its best triplet's bend inwards and outwards as a fraction of
    the limits (0 straight, 1 at the limit, 2 for none), so edge features (n_edges, 6)."""
    first, second, key, dslope, dcot = _bends(event, graph, triplet_map.window_by_middle_layer())
    max_dslope, max_dcot = triplet_map.limits(key)
    bend = np.maximum(dslope / np.maximum(max_dslope, 1e-12), dcot / np.maximum(max_dcot, 1e-12))
    bend = np.where(max_dslope > 0, np.minimum(bend, 2.0), 2.0)
    inwards, outwards = np.full(graph.n_edges, 2.0), np.full(graph.n_edges, 2.0)
    np.minimum.at(inwards, second, bend)  # the edge leaves the middle hit: its partner lies inwards
    np.minimum.at(outwards, first, bend)
    keep = np.minimum(inwards, outwards) <= 1
    edges = np.column_stack([graph.edges, inwards, outwards])[keep].astype(np.float32)
    return HitGraph(graph.nodes, graph.senders[keep], graph.receivers[keep], edges, graph.truth[keep])
