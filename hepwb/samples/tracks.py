"""Tracker events as arrays: hits and their truth per event, from the ``tracks`` dataset or TrackML's CSV files.

One ``TrackingEvent`` per collision: the hits (x, y, z [mm], barrel layer 0-9, ``particle_id``, 0 for noise)
and the particles that made them (``particle_id``, vertex [mm], momentum [GeV], charge, number of hits).
``load`` reads hepwb's ROOT files; ``read_trackml`` one event of the TrackML challenge in its published layout
(``event000001000-hits.csv``, ``-truth.csv``, ``-particles.csv``), keeping the barrel hits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepwb import data

#: TrackML's barrel volumes and their layer_id values, in order of radius -> hepwb's layers 0..9
TRACKML_BARREL = {(8, 2): 0, (8, 4): 1, (8, 6): 2, (8, 8): 3, (13, 2): 4, (13, 4): 5, (13, 6): 6, (13, 8): 7,
                  (17, 2): 8, (17, 4): 9}
HIT_FIELDS = ("x", "y", "z", "layer", "particle_id")
PARTICLE_FIELDS = ("particle_id", "vx", "vy", "vz", "px", "py", "pz", "q", "nhits")


@dataclass
class TrackingEvent:
    """One event's hits (arrays (n_hits,)) and particles (arrays (n_particles,)); lengths in mm, momenta in GeV.

    ``hit_weight`` (n_hits,): each hit's weight in the TrackML score (TrackML's own when read from its files).
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    layer: np.ndarray
    particle_id: np.ndarray
    particles: dict[str, np.ndarray]
    hit_weight: np.ndarray | None = None

    def __post_init__(self):
        if self.hit_weight is None:
            self.hit_weight = trackml_like_weights(self.particle_id, self.particles)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def r(self) -> np.ndarray:
        return np.hypot(self.x, self.y)

    @property
    def phi(self) -> np.ndarray:
        return np.arctan2(self.y, self.x)

    def particle_pt(self) -> np.ndarray:
        return np.hypot(self.particles["px"], self.particles["py"])

    def particle_eta(self) -> np.ndarray:
        return np.arcsinh(self.particles["pz"] / np.maximum(self.particle_pt(), 1e-12))

    def hit_particle_index(self) -> np.ndarray:
        """For each hit, the row of its particle in ``particles`` (-1 for noise or a particle not listed)."""
        return particle_rows(self.particles["particle_id"], self.particle_id)


def particle_rows(ids: np.ndarray, particle_id: np.ndarray) -> np.ndarray:
    """The row of each of ``particle_id`` (n,) in the particle table's ``ids``; -1 for 0 (noise) or an unknown id."""
    ids, particle_id = np.asarray(ids), np.asarray(particle_id)
    if len(ids) == 0:
        return np.full(len(particle_id), -1)
    order = np.argsort(ids)
    row = order[np.searchsorted(ids[order], particle_id).clip(0, len(ids) - 1)]
    return np.where((ids[row] == particle_id) & (particle_id != 0), row, -1)


def trackml_like_weights(particle_id: np.ndarray, particles: dict) -> np.ndarray:
    """Hit weights in the spirit of the TrackML score, summing to 1 per event: 0 for noise and for particles with
    fewer than 4 hits, else the particle's pT weight (0.2 below 0.5 GeV, rising linearly to 1 at 3 GeV) shared
    equally by its hits. TrackML also weights a hit by its position along the track; that factor is left out."""
    rows = particle_rows(particles["particle_id"], particle_id)
    if len(particles["particle_id"]) == 0:
        return np.zeros(len(rows))
    pt_weight = np.interp(np.hypot(particles["px"], particles["py"]), [0.5, 3.0], [0.2, 1.0])
    hits_of = np.bincount(rows[rows >= 0], minlength=len(pt_weight))
    weight = np.where(rows >= 0, pt_weight[rows] * (hits_of[rows] >= 4), 0.0)
    total = weight.sum()
    return weight / total if total > 0 else weight


def load(source="tracks", max_events: int | None = None) -> list[TrackingEvent]:
    """The events of a ``tracks`` dataset (a name, see ``hepwb datasets``, or a ROOT file), the first ``max_events``."""
    names = [f"hit_{f}" for f in HIT_FIELDS] + [f"particle_{f}" for f in PARTICLE_FIELDS]
    arrays = data.read(source, names, entry_stop=max_events, library="np")  # jagged: one array per event
    return [_event({f: arrays[f"hit_{f}"][i] for f in HIT_FIELDS},
                   {f: arrays[f"particle_{f}"][i] for f in PARTICLE_FIELDS}) for i in range(len(arrays[names[0]]))]


def from_generated(events: dict) -> list[TrackingEvent]:
    """The events a ``tracks`` chunk holds before it is written (``sim.recipes.make_tracks_chunk(...)["events"]``)."""
    import awkward as ak

    hit, particle = events["hit"], events["particle"]
    return [_event({f: ak.to_numpy(hit[f][i]) for f in HIT_FIELDS},
                   {f: ak.to_numpy(particle[f][i]) for f in PARTICLE_FIELDS}) for i in range(len(hit))]


_FLOAT_FIELDS = ("x", "y", "z", "vx", "vy", "vz", "px", "py", "pz")


def _event(hits: dict, particles: dict) -> TrackingEvent:
    def typed(values: dict) -> dict:
        return {k: np.asarray(v).astype(float if k in _FLOAT_FIELDS else np.int64) for k, v in values.items()}

    return TrackingEvent(**typed(hits), particles=typed(particles))


def read_trackml(prefix: Path | str) -> TrackingEvent:
    """One TrackML event from ``PREFIX-hits.csv``, ``PREFIX-truth.csv`` and ``PREFIX-particles.csv`` (e.g.
    ``train_1/event000001000``): the barrel hits (volumes 8, 13, 17) as layers 0-9, with TrackML's weights."""
    import pandas as pd

    prefix = Path(prefix)
    parts = {}
    for part, columns in (("hits", ("hit_id", "x", "y", "z", "volume_id", "layer_id")),
                          ("truth", ("hit_id", "particle_id", "weight")),
                          ("particles", ("particle_id", "vx", "vy", "vz", "px", "py", "pz", "q", "nhits"))):
        path = prefix.parent / f"{prefix.name}-{part}.csv"
        if not path.exists():
            raise FileNotFoundError(f"no TrackML file {path}; expected {prefix.name}-hits.csv, -truth.csv and "
                                    "-particles.csv side by side")
        table = pd.read_csv(path)
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ValueError(f"{path.name} has no column(s) {missing}; TrackML's {part} files have {list(columns)}")
        parts[part] = table
    hits = parts["hits"].merge(parts["truth"][["hit_id", "particle_id", "weight"]], on="hit_id", how="left")
    key = list(zip(hits.volume_id, hits.layer_id))
    layer = np.array([TRACKML_BARREL.get(k, -1) for k in key])
    barrel = hits[layer >= 0]
    particles = {c: parts["particles"][c].to_numpy() for c in PARTICLE_FIELDS}
    return TrackingEvent(x=barrel.x.to_numpy(float), y=barrel.y.to_numpy(float), z=barrel.z.to_numpy(float),
                         layer=layer[layer >= 0], particle_id=barrel.particle_id.fillna(0).to_numpy(np.int64),
                         particles=particles, hit_weight=barrel.weight.fillna(0.0).to_numpy(float))
