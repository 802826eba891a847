"""A silicon tracker in a solenoid: charged particles as helices, hits on cylindrical layers.

Every number lives in the ``Tracker`` dataclass (millimetres, tesla, GeV). The model:

* a barrel of ``Layer`` cylinders at TrackML-like radii (4 pixel layers, 4 short-strip and 2 long-strip
  layers, 32 mm to 1.02 m), each as long as it must be to cover |eta| < 2.6 from the beam spot (no
  endcap disks: every layer a cylinder keeps "adjacent layers" simple for the graphs);
* a uniform field along z: a particle of transverse momentum pT [GeV] and charge q moves on a helix of
  radius R = pT / (0.3 |q| B) [m]; positive charges turn clockwise seen from +z;
* multiple scattering in each layer it crosses: two Gaussian angles of width theta0 from the Highland
  formula (PDG, Passage of particles through matter) with the path length the crossing angle gives;
  no energy loss;
* a hit where the helix crosses a layer, with probability ``efficiency``, smeared in r-phi and z by the
  layer's resolution; noise hits spread uniformly over every layer;
* vertices: every interaction (hard scatter and each pileup vertex) at its own z drawn from the beam spot
  (Gaussian, ``beam_spot_sigma_z``), x = y = 0. Decay products of K0s, Lambda etc. also start there.

It knows nothing about Pythia or files: ``simulate_hits`` takes flat particle arrays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

VERSION = "hepwb-tracker-1.0"
#: GeV per (tesla metre): pT = 0.3 q B R
GEV_PER_TESLA_METRE = 0.299792458


@dataclass(frozen=True)
class Layer:
    """One cylindrical layer: radius and half-length [mm], thickness in radiation lengths (at normal
    incidence), single-hit resolutions in r-phi and z [mm], hit efficiency."""

    kind: str
    radius: float
    half_length: float
    thickness_x0: float
    resolution_rphi: float
    resolution_z: float
    efficiency: float


def _barrel(kind, radii, thickness_x0, resolution_rphi, resolution_z, efficiency, eta_cover=2.6, margin=150.0):
    return tuple(Layer(kind, r, round(r * np.sinh(eta_cover) + margin, -1), thickness_x0, resolution_rphi,
                       resolution_z, efficiency) for r in radii)


#: TrackML's barrel radii; pixels 50 x 50 um, short strips 80 um x 1.2 mm, long strips 120 um x 10.8 mm
#: (resolution pitch / sqrt 12)
TRACKML_LIKE_LAYERS = (
    *_barrel("pixel", (32.0, 72.0, 116.0, 172.0), 0.012, 0.015, 0.015, 0.99),
    *_barrel("short strip", (260.0, 360.0, 500.0, 660.0), 0.020, 0.023, 0.35, 0.98),
    *_barrel("long strip", (820.0, 1020.0), 0.020, 0.035, 3.1, 0.98),
)


@dataclass(frozen=True)
class Tracker:
    """Every parameter of the tracker model (mm, T, GeV)."""

    version: str = VERSION
    layers: tuple[Layer, ...] = TRACKML_LIKE_LAYERS
    field_tesla: float = 2.0
    beam_spot_sigma_z: float = 50.0  # mm
    particle_pt_min: float = 0.1  # GeV: softer particles are not followed (they curl inside the pixels)
    particle_abs_eta_max: float = 3.0
    noise_hits_per_layer: float = 20.0  # mean number per event and layer

    @property
    def radii(self) -> np.ndarray:
        return np.array([layer.radius for layer in self.layers])

    def describe(self) -> dict:
        out = asdict(self)
        out["layers"] = [asdict(layer) for layer in self.layers]
        return out


DEFAULT_TRACKER = Tracker()


def helix_radius_mm(pt, field_tesla: float, charge=1.0):
    """Transverse radius of curvature [mm] of a particle of ``pt`` [GeV] and ``charge`` in ``field_tesla``."""
    return 1000.0 * np.asarray(pt) / (GEV_PER_TESLA_METRE * np.abs(charge) * field_tesla)


def highland_theta0(p, beta, x_over_x0, charge=1.0):
    """The Highland width [rad] of the projected scattering angle after ``x_over_x0`` radiation lengths
    for momentum ``p`` [GeV] and velocity ``beta`` (PDG review, eq. 34.15)."""
    x = np.asarray(x_over_x0, dtype=float)
    z = np.abs(charge)
    return 0.0136 / (beta * p) * z * np.sqrt(x) * (1 + 0.038 * np.log(x * z**2 / beta**2))


@dataclass
class Hits:
    """Flat hits of many events: ``event`` (n,), position ``x, y, z`` [mm], ``layer`` index, ``particle``
    (index into the particles given to ``simulate_hits``, -1 for noise)."""

    event: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    layer: np.ndarray
    particle: np.ndarray


def _crossing(x, y, px, py, charge, radius_mm, rho):
    """Where helices (position x, y; momentum px, py) first reach the cylinder of radius ``rho`` going
    forward: the turning angle (n,) in [0, 2 pi) and the crossing x, y; NaN where they never reach it."""
    pt = np.hypot(px, py)
    cx = x + charge * radius_mm * py / pt  # the circle's centre
    cy = y - charge * radius_mm * px / pt
    d = np.hypot(cx, cy)
    cos_gap = (rho**2 - d**2 - radius_mm**2) / (2 * radius_mm * d)
    reachable = np.abs(cos_gap) <= 1
    gap = np.arccos(np.clip(cos_gap, -1, 1))
    centre_angle = np.arctan2(cy, cx)
    start = np.arctan2(y - cy, x - cx)
    best = np.full(len(x), np.inf)
    for sign in (1.0, -1.0):
        alpha = centre_angle + sign * gap
        turn = np.mod(charge * (start - alpha), 2 * np.pi)  # clockwise for positive charges
        turn = np.where(turn < 1e-9, 2 * np.pi, turn)  # not the point where it already is
        best = np.minimum(best, turn)
    best = np.where(reachable, best, np.nan)
    alpha = start - charge * best
    return best, cx + radius_mm * np.cos(alpha), cy + radius_mm * np.sin(alpha)


def _scatter(px, py, pz, theta0, rng):
    """Momenta turned by two independent Gaussian angles of width ``theta0`` about their direction."""
    p = np.sqrt(px**2 + py**2 + pz**2)
    d = np.stack([px, py, pz]) / p
    e1 = np.stack([-d[1], d[0], np.zeros_like(p)])  # perpendicular to d and z
    e1 /= np.maximum(np.linalg.norm(e1, axis=0), 1e-12)
    e2 = np.cross(d, e1, axis=0)
    theta1, theta2 = rng.normal(size=(2, len(p))) * theta0
    new = d + theta1 * e1 + theta2 * e2
    new *= p / np.linalg.norm(new, axis=0)
    return new[0], new[1], new[2]


def simulate_hits(event, px, py, pz, energy, charge, vertex_z, rng: np.random.Generator,
                  tracker: Tracker = DEFAULT_TRACKER, n_events: int | None = None) -> Hits:
    """Propagate charged particles (flat arrays (n,): event number, momentum [GeV], energy [GeV], charge
    [e], vertex z [mm]) through ``tracker``, layer by layer, and return their hits plus noise hits.

    Particles outside ``particle_pt_min`` / ``particle_abs_eta_max`` or neutral make no hits.
    """
    event, px, py, pz = (np.asarray(a) for a in (event, px, py, pz))
    if n_events is None:
        n_events = int(event.max()) + 1 if len(event) else 0
    index = np.arange(len(px))
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
    keep = (charge != 0) & (pt > tracker.particle_pt_min) & (np.abs(eta) < tracker.particle_abs_eta_max)
    index, q = index[keep], np.asarray(charge, dtype=float)[keep]
    px, py, pz, e = px[keep].astype(float), py[keep].astype(float), pz[keep].astype(float), np.asarray(energy)[keep]
    x, y, z = np.zeros(len(index)), np.zeros(len(index)), np.asarray(vertex_z, dtype=float)[keep]
    found = []
    for number, layer in enumerate(tracker.layers):
        pt = np.hypot(px, py)
        radius_mm = helix_radius_mm(pt, tracker.field_tesla, q)
        turn, cross_x, cross_y = _crossing(x, y, px, py, q, radius_mm, layer.radius)
        cross_z = z + radius_mm * turn * pz / pt
        alive = np.isfinite(turn) & (np.abs(cross_z) < layer.half_length)
        index, q, e, x, y, z = index[alive], q[alive], e[alive], cross_x[alive], cross_y[alive], cross_z[alive]
        # the momentum turns with the helix
        turn = -q * turn[alive]
        cos, sin = np.cos(turn), np.sin(turn)
        px, py, pz = px[alive] * cos - py[alive] * sin, px[alive] * sin + py[alive] * cos, pz[alive]
        seen = rng.random(len(index)) < layer.efficiency
        phi = np.arctan2(y, x) + rng.normal(size=len(index)) * layer.resolution_rphi / layer.radius
        found.append(dict(event=event[index][seen], layer=np.full(seen.sum(), number), particle=index[seen],
                          x=layer.radius * np.cos(phi[seen]), y=layer.radius * np.sin(phi[seen]),
                          z=(z + rng.normal(size=len(index)) * layer.resolution_z)[seen]))
        # multiple scattering in the layer's material, crossed at an angle to its normal
        p = np.sqrt(px**2 + py**2 + pz**2)
        cos_incidence = np.abs(x * px + y * py) / (layer.radius * p)
        beta = p / np.sqrt(p**2 + np.maximum(e**2 - p**2, 0.0))  # the mass from the generator's energy
        theta0 = highland_theta0(p, beta, layer.thickness_x0 / np.maximum(cos_incidence, 1e-3), q)
        px, py, pz = _scatter(px, py, pz, theta0, rng)
    found.append(_noise(n_events, tracker, rng))
    merged = {key: np.concatenate([part[key] for part in found]) for key in found[0]}
    order = np.lexsort((merged["layer"], merged["event"]))
    return Hits(**{key: value[order] for key, value in merged.items()})


def _noise(n_events: int, tracker: Tracker, rng: np.random.Generator) -> dict:
    """Hits from no particle: Poisson(``noise_hits_per_layer``) per event and layer, uniform in phi and z."""
    counts = rng.poisson(tracker.noise_hits_per_layer, size=(n_events, len(tracker.layers)))
    event = np.repeat(np.repeat(np.arange(n_events), len(tracker.layers)), counts.ravel())
    layer = np.repeat(np.tile(np.arange(len(tracker.layers)), n_events), counts.ravel())
    radius = tracker.radii[layer]
    half_length = np.array([lay.half_length for lay in tracker.layers])[layer]
    phi = rng.uniform(-np.pi, np.pi, len(layer))
    z = rng.uniform(-1, 1, len(layer)) * half_length
    x, y = radius * np.cos(phi), radius * np.sin(phi)
    return dict(event=event, layer=layer, particle=np.full(len(layer), -1), x=x, y=y, z=z)
