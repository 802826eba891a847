"""Tracking performance as the field reports it: tracks matched to particles by double majority, efficiency,
fake and duplicate rates, and the TrackML score.

A track (a set of hits with one label) is matched to a particle when at least half of its hits come from that
particle and it holds at least half of that particle's hits (ATLAS' and TrackML's "double majority"). The
efficiency counts the target particles (pT, |eta|, at least ``min_hits`` hits) that some track matches; a fake is
a track that matches no particle; a duplicate, a second track matched to an already matched particle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hepwb.sim.tracker import DEFAULT_TRACKER, GEV_PER_TESLA_METRE


def _track_table(particle_id: np.ndarray, labels: np.ndarray, min_hits: int) -> pd.DataFrame:
    """One row per track of >= ``min_hits`` hits: its size, majority particle, that particle's hits in the track
    and in the event."""
    hits = pd.DataFrame({"track": labels, "particle_id": particle_id})
    particle_hits = hits[hits.particle_id != 0].groupby("particle_id").size()
    hits = hits[hits.track >= 0]
    sizes = hits.groupby("track").size().rename("n_hits")
    counts = hits.groupby(["track", "particle_id"]).size().rename("n_major").reset_index()
    counts = counts[counts.particle_id != 0].sort_values("n_major", ascending=False).drop_duplicates("track")
    table = sizes.to_frame().join(counts.set_index("track")).reset_index()
    table = table[table.n_hits >= min_hits]
    table["n_major"] = table.n_major.fillna(0).astype(int)
    table["particle_id"] = table.particle_id.fillna(0).astype(np.int64)
    table["particle_hits"] = particle_hits.reindex(table.particle_id).fillna(0).to_numpy().astype(int)
    table["pure"] = (2 * table.n_major >= table.n_hits) & (table.particle_id != 0)
    table["matched"] = table.pure & (2 * table.n_major >= table.particle_hits)
    return table.reset_index(drop=True)


def track_parameters(event, labels: np.ndarray, tracks: np.ndarray,
                     field_tesla: float = DEFAULT_TRACKER.field_tesla) -> pd.DataFrame:
    """Each track's pT [GeV] from the circle through its first, middle and last hits (the beam line counts as a
    point when it has only two), and its eta from the first and last hits."""
    rows = []
    r = event.r
    for track in tracks:
        hits = np.flatnonzero(labels == track)
        hits = hits[np.argsort(r[hits])]
        points = [(0.0, 0.0)] if len(hits) < 3 else []
        points += [(event.x[h], event.y[h]) for h in (hits[0], hits[len(hits) // 2], hits[-1])]
        (x1, y1), (x2, y2), (x3, y3) = points[-3:]
        area2 = (x2 - x1) * (y3 - y1) - (y2 - y1) * (x3 - x1)
        sides = np.hypot(x2 - x1, y2 - y1) * np.hypot(x3 - x2, y3 - y2) * np.hypot(x3 - x1, y3 - y1)
        radius = sides / (2 * abs(area2)) if area2 != 0 else np.inf
        dz, dr = event.z[hits[-1]] - event.z[hits[0]], r[hits[-1]] - r[hits[0]]
        rows.append((GEV_PER_TESLA_METRE * field_tesla * radius / 1000, np.arcsinh(dz / dr) if dr > 0 else 0.0))
    return pd.DataFrame(rows, columns=["pt", "eta"], index=tracks)


def evaluate_event(event, labels: np.ndarray, *, pt_min: float = 1.0, eta_max: float = 2.5,
                   min_hits: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match one event's tracks (``labels`` (n_hits,): a track number per hit, -1 for none) to its particles.

    Returns (particles, tracks): per target particle its pT, eta and whether a track matches it; per track of
    >= ``min_hits`` hits whether it is matched, fake or a duplicate, its measured pT and eta, and whether those
    pass the target's cuts (``in_target``).
    """
    labels = np.asarray(labels)
    tracks = _track_table(event.particle_id, labels, min_hits)
    parameters = track_parameters(event, labels, tracks.track.to_numpy())
    tracks["pt"], tracks["eta"] = parameters.pt.to_numpy(), parameters.eta.to_numpy()
    matched = tracks[tracks.matched]
    tracks["duplicate"] = tracks.matched & matched.duplicated("particle_id").reindex(tracks.index, fill_value=False)
    tracks["fake"] = ~tracks.pure
    tracks["in_target"] = (tracks.pt > pt_min) & (tracks.eta.abs() < eta_max)
    pid = event.particles["particle_id"]
    hits_in_event = pd.Series(event.particle_id[event.particle_id != 0]).value_counts()
    particles = pd.DataFrame({"particle_id": pid, "pt": event.particle_pt(), "eta": event.particle_eta(),
                              "n_hits": hits_in_event.reindex(pid).fillna(0).to_numpy().astype(int)})
    target = (particles.pt > pt_min) & (particles.eta.abs() < eta_max) & (particles.n_hits >= min_hits)
    particles = particles[target].copy()
    particles["matched"] = particles.particle_id.isin(matched.particle_id)
    return particles.reset_index(drop=True), tracks


def summary(particles: pd.DataFrame, tracks: pd.DataFrame) -> dict:
    """Efficiency, fake rate and duplicate rate of many events' ``evaluate_event`` tables (concatenated)."""
    tracks = tracks[tracks.in_target]
    return {"efficiency": float(particles.matched.mean()) if len(particles) else float("nan"),
            "fake_rate": float(tracks.fake.sum() / max(len(tracks), 1)),
            "duplicate_rate": float(tracks.duplicate.sum() / max(tracks.matched.sum(), 1)),
            "target_particles": int(len(particles)), "tracks": int(len(tracks))}


def trackml_score(event, labels: np.ndarray) -> float:
    """The TrackML score of one event: the summed weight (``event.hit_weight``) of the hits that tracks assign to
    their double-majority particle; 1 is perfect."""
    labels = np.asarray(labels)
    tracks = _track_table(event.particle_id, labels, min_hits=1)
    good = tracks[tracks.matched]
    major = pd.Series(good.particle_id.to_numpy(), index=good.track.to_numpy())
    on_good = major.reindex(labels).to_numpy() == event.particle_id
    return float(event.hit_weight[on_good].sum())


def binned_rate(values: np.ndarray, passed: np.ndarray, edges) -> pd.DataFrame:
    """The fraction of ``passed`` in bins of ``values`` with its binomial uncertainty: columns low, high, n,
    rate, error."""
    index = np.digitize(values, edges) - 1
    rows = []
    for i in range(len(edges) - 1):
        chosen = np.asarray(passed)[index == i]
        n = len(chosen)
        rate = chosen.mean() if n else np.nan
        rows.append((edges[i], edges[i + 1], n, rate, np.sqrt(rate * (1 - rate) / n) if n else np.nan))
    return pd.DataFrame(rows, columns=["low", "high", "n", "rate", "error"])


def edge_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve of edge scores (scikit-learn's ``roc_auc_score``)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, scores))


def edge_efficiency_purity(truth: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """Of the edges scored above ``threshold``: the fraction of all true edges (efficiency) and the fraction
    that is true (purity)."""
    kept = np.asarray(scores) > threshold
    truth = np.asarray(truth, dtype=bool)
    return {"efficiency": float((kept & truth).sum() / max(truth.sum(), 1)),
            "purity": float((kept & truth).sum() / max(kept.sum(), 1))}
