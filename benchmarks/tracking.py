"""Benchmark: the tracker's physics against known cases, and graph construction and classical tracking against pileup.

    python benchmarks/tracking.py [--pileups 0 50 100 150 200] [--events 3] [--out docs/results/tracking-benchmark.json]

In one process pinned to one core (``hepwb.environment.one_cpu_core``):

* helix: 1 and 10 GeV particles in the ideal tracker (no material, no resolution); the radius of the circle
  through their hits over pT / (0.3 B);
* multiple scattering: 40 000 pions of 1 and 5 GeV through one layer of 2 % X0 at normal incidence; the
  spread of their angle (from their hits on a second layer) over the Highland formula;
* at each mean pileup, fresh tt-bar events: hits and graph edges per event, the graph's segment efficiency
  and purity for particles above 1 GeV before and after the triplet filter (its limits learned from the
  committed file's 100 events at pileup 10), the seconds per event of graph construction, of the filter and of
  the classical triplet-seeding tracker, and that tracker's efficiency and fake rate. (The network's time and efficiency
  at pileup 200 come from ``07_tracking_gnn``'s full preset.)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from hepwb.environment import one_cpu_core
from hepwb.metrics import tracking as track_metrics
from hepwb.samples import track_graphs
from hepwb.samples.tracks import from_generated, load
from hepwb.sim import tracker as trk
from hepwb.sim.recipes.tracks import make_tracks_chunk
from hepwb.studies import tracking


def _pions(n, p, rng=None):
    event = np.arange(n)
    px, zeros = np.full(n, float(p)), np.zeros(n)
    return event, px, zeros, zeros, np.sqrt(px**2 + 0.13957**2), np.ones(n)


def helix_check(pt: float) -> float:
    ideal = dataclasses.replace(trk.DEFAULT_TRACKER, noise_hits_per_layer=0.0, layers=tuple(
        dataclasses.replace(layer, thickness_x0=1e-12, resolution_rphi=0.0, resolution_z=0.0, efficiency=1.0)
        for layer in trk.DEFAULT_TRACKER.layers))
    event, px, py, pz, energy, q = _pions(1, pt)
    hits = trk.simulate_hits(event, px, py, pz, energy, q, [0.0], np.random.default_rng(1), ideal)
    (a, b), *_ = np.linalg.lstsq(np.column_stack([hits.x, hits.y]), hits.x**2 + hits.y**2, rcond=None)
    return float(np.hypot(a, b) / 2 / trk.helix_radius_mm(pt, ideal.field_tesla))


def scattering_check(p: float, n: int = 40_000) -> float:
    layers = (trk.Layer("scatterer", 100.0, 1000.0, 0.02, 0.0, 0.0, 1.0),
              trk.Layer("screen", 200.0, 1000.0, 1e-12, 0.0, 0.0, 1.0))
    tracker = dataclasses.replace(trk.DEFAULT_TRACKER, layers=layers, field_tesla=0.01, noise_hits_per_layer=0.0)
    event, px, py, pz, energy, q = _pions(n, p)
    hits = trk.simulate_hits(event, px, py, pz, energy, q, np.zeros(n), np.random.default_rng(3), tracker,
                             n_events=n)
    beta = p / np.sqrt(p**2 + 0.13957**2)
    return float(np.std(hits.z[hits.layer == 1]) / 100.0 / trk.highland_theta0(p, beta, 0.02))


def pileup_row(mu: float, events: int, triplet_map: track_graphs.TripletMap) -> dict:
    generated = from_generated(make_tracks_chunk(events, 1, 2000 + int(mu), "ttbar",
                                                 options={"pileup_mu": float(mu)})["events"])
    rows, particles, found = [], [], []
    for event in generated:
        graph, graph_seconds = tracking.timed(track_graphs.build_graph, event)
        filtered, filter_seconds = tracking.timed(track_graphs.triplet_filtered, event, graph, triplet_map)
        labels, seeding_seconds = tracking.timed(tracking.seeded_tracks, event)
        target = (event.particle_pt() > 1) & (np.abs(event.particle_eta()) < 2.5)
        rows.append({"hits": len(event), "edges": graph.n_edges, "purity": graph.truth.mean(),
                     "segment_efficiency": track_graphs.segment_efficiency(graph, event, target),
                     "filtered_edges": filtered.n_edges, "filtered_purity": filtered.truth.mean(),
                     "filtered_segment_efficiency": track_graphs.segment_efficiency(filtered, event, target),
                     "graph_seconds": graph_seconds, "filter_seconds": filter_seconds,
                     "seeding_seconds": seeding_seconds})
        p, t = track_metrics.evaluate_event(event, labels)
        particles.append(p)
        found.append(t)
    result = track_metrics.summary(pd.concat(particles), pd.concat(found))
    return {"pileup": mu, **pd.DataFrame(rows).mean().to_dict(),
            "seeding_efficiency": result["efficiency"], "seeding_fake_rate": result["fake_rate"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pileups", type=float, nargs="+", default=[0, 50, 100, 150, 200])
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("docs/results/tracking-benchmark.json"))
    args = parser.parse_args()
    with one_cpu_core():
        physics = {"helix_radius_over_expected": {pt: helix_check(pt) for pt in (1.0, 10.0)},
                   "scattering_width_over_highland": {p: scattering_check(p) for p in (1.0, 5.0)}}
        print(json.dumps(physics, indent=1))
        learning = load("tracks")
        triplet_map = track_graphs.learn_triplet_map(learning, [track_graphs.build_graph(e) for e in learning])
        table = pd.DataFrame([pileup_row(mu, args.events, triplet_map) for mu in args.pileups])
    slopes = {column: float(np.polyfit(table.pileup, table[column], 1)[0] * 1000)
              for column in ("graph_seconds", "filter_seconds", "seeding_seconds")}
    with pd.option_context("display.width", 220):
        print(table.round(4).to_string(index=False))
    print("milliseconds per pileup interaction:", {k: round(v, 3) for k, v in slopes.items()})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"physics": physics, "pileup": table.to_dict(orient="records"),
                                    "slope_milliseconds_per_interaction": slopes}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
