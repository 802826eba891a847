"""The ``tracks`` dataset: silicon hits of tt-bar and QCD events with pileup, and the truth of every hit.

Kept recognisable to a TrackML user: per event a list of hits (x, y, z, the layer, the ``particle_id`` that
made it, 0 for noise) and a list of the particles that left hits (``particle_id``, vertex ``vx, vy, vz``,
momentum ``px, py, pz``, charge ``q``, ``nhits``), the columns of TrackML's ``hits``, ``truth`` and
``particles`` files. ``hepwb.samples.tracks`` reads both.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from hepwb.sim import detector as det
from hepwb.sim import tracker as trk
from hepwb.sim.pythia import PROCESSES, PileupPool, make_pythia, pythia_seed, truth_batch
from hepwb.sim.recipes.base import Branch, Recipe, as_stored

#: ``pileup_mu`` changes with ``hepwb generate tracks --pileup MU``
TRACKS_OPTIONS = dict(pileup_mu=10.0, pileup_library=1000)


def _vertex_z(truth: det.TruthParticles, n_events: int, tracker: trk.Tracker, rng: np.random.Generator):
    """Each particle's vertex z [mm]: one beam-spot z per interaction (hard scatter 0, pileup 1, 2, ...)."""
    event = np.repeat(np.arange(n_events), truth.counts)
    per_event = np.zeros(n_events, dtype=int)
    np.maximum.at(per_event, event, truth.vertex.astype(int) + 1)
    start = np.cumsum(per_event) - per_event
    z = rng.normal(0.0, tracker.beam_spot_sigma_z, per_event.sum())
    return event, z[start[event] + truth.vertex]


def make_tracks_chunk(n_events: int, seed: int, chunk: int, sample: str = "ttbar", options: dict | None = None,
                      tracker: trk.Tracker = trk.DEFAULT_TRACKER) -> dict:
    """``n_events`` events of ``sample`` with Poisson(``pileup_mu``) pileup through ``tracker``."""
    opts = {**TRACKS_OPTIONS, **(options or {})}
    stream = TRACKS.samples.index(sample) if sample in TRACKS.samples else len(TRACKS.samples)
    pythia = make_pythia(sample, pythia_seed(seed, 0, chunk, stream))
    pileup = PileupPool(opts["pileup_mu"], pythia_seed(seed, 1), opts["pileup_library"])
    rng = np.random.default_rng([seed, 7, chunk, stream])
    batch = truth_batch(pythia, n_events, pileup=pileup, rng=rng)
    truth = batch.truth
    event, vertex_z = _vertex_z(truth, n_events, tracker, rng)
    charge = det.charge_of(truth.pdg_id)
    hits = trk.simulate_hits(event, truth.px, truth.py, truth.pz, truth.energy, charge, vertex_z, rng, tracker,
                             n_events=n_events)
    return {"events": _per_event(hits, truth, event, charge, vertex_z, n_events), "n_generated": n_events}


def _per_event(hits: trk.Hits, truth, event, charge, vertex_z, n_events: int) -> dict:
    """Hits and the particles that made them as jagged arrays, with TrackML's particle_id (1, 2, ...; 0 noise)."""
    nhits = np.bincount(hits.particle[hits.particle >= 0], minlength=len(event))
    stored = np.flatnonzero(nhits > 0)  # particles that left a hit, in event order
    first = np.searchsorted(event[stored], np.arange(n_events))
    particle_id = np.zeros(len(event), dtype=np.int64)
    particle_id[stored] = np.arange(len(stored)) - first[event[stored]] + 1
    hit_particle = np.where(hits.particle >= 0, particle_id[np.maximum(hits.particle, 0)], 0)
    hit_counts = np.bincount(hits.event, minlength=n_events)
    particle_counts = np.bincount(event[stored], minlength=n_events)
    hit = ak.zip({"x": hits.x, "y": hits.y, "z": hits.z, "layer": hits.layer.astype(np.int8),
                  "particle_id": hit_particle})
    particle = ak.zip({"particle_id": particle_id[stored], "vx": np.zeros(len(stored)),
                       "vy": np.zeros(len(stored)), "vz": vertex_z[stored], "px": truth.px[stored],
                       "py": truth.py[stored], "pz": truth.pz[stored], "q": charge[stored].astype(np.int8),
                       "nhits": nhits[stored], "vertex": truth.vertex[stored]})
    n_vertices = np.zeros(n_events, dtype=int)
    np.maximum.at(n_vertices, event, truth.vertex.astype(int) + 1)
    return as_stored({"hit": ak.unflatten(hit, hit_counts), "particle": ak.unflatten(particle, particle_counts),
                      "n_interactions": n_vertices})


TRACKS = Recipe(
    name="tracks",
    tree="events",
    description="silicon hits of tt-bar and QCD events with pileup (mean 10) in a 10-layer barrel tracker "
                "in a 2 T solenoid, with the truth of every hit",
    samples=("ttbar", "qcd_dijet"),
    processes={"ttbar": PROCESSES["ttbar"], "qcd_dijet": PROCESSES["qcd_dijet"],
               "pileup": PROCESSES["minimum_bias"]},
    options=TRACKS_OPTIONS,
    branches=(
        Branch("nhit", "", "number of hits in the event (counter of the hit_* branches)"),
        Branch("hit_x", "mm", "measured hit position x (TrackML hits: x)"),
        Branch("hit_y", "mm", "measured hit position y"),
        Branch("hit_z", "mm", "measured hit position z"),
        Branch("hit_layer", "", "barrel layer, 0 (r = 32 mm) to 9 (r = 1020 mm); TrackML volume_id 8, 13, 17"),
        Branch("hit_particle_id", "", "the particle that made the hit, 0 for noise (TrackML truth: particle_id)"),
        Branch("nparticle", "", "number of particles that left at least one hit (counter of particle_*)"),
        Branch("particle_particle_id", "", "the particle's number in its event, 1, 2, ... (TrackML: particle_id)"),
        Branch("particle_vx", "mm", "production vertex x (the interaction's: 0)"),
        Branch("particle_vy", "mm", "production vertex y (0)"),
        Branch("particle_vz", "mm", "production vertex z (the interaction's, from the beam spot)"),
        Branch("particle_px", "GeV", "momentum x at production"),
        Branch("particle_py", "GeV", "momentum y at production"),
        Branch("particle_pz", "GeV", "momentum z at production"),
        Branch("particle_q", "e", "charge"),
        Branch("particle_nhits", "", "number of hits the particle left"),
        Branch("particle_vertex", "", "interaction: 0 the hard scatter, 1, 2, ... pileup"),
        Branch("n_interactions", "", "interactions in the event: the hard scatter + pileup vertices"),
    ),
    make_chunk=make_tracks_chunk,
    chunk_size=10,
    detector_description=trk.DEFAULT_TRACKER.describe(),
)
