"""A parametrised LHC-like detector: every number lives here, under one version string.

This module owns the step from generator-level final-state particles to reconstructed
particle-flow candidates. It does not know about Pythia, jets or files.

The model, in the spirit of Delphes' CMS card, but deliberately small:

* tracker   (|eta| < 2.5): charged particles above a pT threshold are found with an
  efficiency and get a Gaussian pT resolution; the direction is kept (tracks measure angles well).
* muon system (|eta| < 2.4): muons are found with an efficiency and a pT resolution.
* ECAL (|eta| < 3.0): photons and untracked electrons deposit their energy in (eta, phi) cells;
* HCAL (|eta| < 5.0): neutral hadrons, untracked charged hadrons, and photons beyond the ECAL;
  each cell's energy is smeared with a stochastic and a constant term, cells below a noise
  threshold are dropped, and a surviving cell becomes a massless neutral candidate at its centre.
* pileup: charged particles from pileup vertices are removed when tracked (charged-hadron
  subtraction); neutral pileup stays. A pileup vertex counts as reconstructed when it has at least
  ``vertex_min_tracks`` tracks.
* Level-1 trigger towers (``l1_towers``): what the calorimeter trigger sees, before any particle flow.
  Every visible particle but muons and charged particles that curl up in the field deposits in a
  grid of 0.087 x 0.087 towers (|eta| < 2.958), e/gamma in ECAL and hadrons in HCAL, pileup included.
  Unlike the calibrated particle-flow candidates, the towers keep the raw calorimeter response of a
  non-compensating calorimeter: a hadron's shower has an electromagnetic fraction f_em (mean
  1 - (E / 1 GeV)^(m - 1), Groom's parametrisation, with a Gaussian spread shower to shower) measured
  at 1 and a hadronic rest measured at h/e; a hadron that starts showering in the ECAL leaves its
  electromagnetic part there, otherwise all of it lands in the HCAL. The barrel-endcap gap measures
  less; tower ET is an integer in 0.5 GeV steps.

All energies and momenta are in GeV, angles in radians.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import awkward as ak
import numpy as np
import vector

from hepwb.constants import CHARGED_PION_MASS, ELECTRON_MASS, MUON_MASS

VERSION = "hepwb-detector-1.2"  # 1.1: calorimeter_energy_scale; 1.2: Level-1 towers (``simulate`` as in 1.0)

#: particle-flow candidate kinds stored in the ``kind`` field
KINDS = {"charged_hadron": 0, "electron": 1, "muon": 2, "photon": 3, "neutral_hadron": 4}

# Charges of the long-lived charged particles Pythia leaves stable, for positive PDG ids:
# e-, mu-, pi+, K+, p, Sigma-, Sigma+, Xi-, Omega-. Everything else reaching the detector is neutral.
_CHARGE_OF_POSITIVE_ID = {11: -1, 13: -1, 211: 1, 321: 1, 2212: 1, 3112: -1, 3222: 1, 3312: -1, 3334: -1}
_INVISIBLE_IDS = (12, 14, 16)  # neutrinos


@dataclass(frozen=True)
class Detector:
    """Every parameter of the detector model (GeV, radians)."""

    version: str = VERSION
    # tracker
    tracker_eta_max: float = 2.5
    track_pt_min: float = 0.5
    track_efficiency: float = 0.95
    track_resolution_constant: float = 0.005  # sigma(pT)/pT = c (+) s * pT
    track_resolution_slope: float = 1.5e-4  # per GeV
    # muon system
    muon_eta_max: float = 2.4
    muon_pt_min: float = 3.0
    muon_efficiency: float = 0.95
    muon_resolution_constant: float = 0.01
    muon_resolution_slope: float = 1.0e-4  # per GeV
    muon_momentum_scale: float = 1.0
    # electromagnetic calorimeter
    ecal_eta_max: float = 3.0
    ecal_cell_eta: float = 0.025
    ecal_cells_phi: int = 252  # 2 pi / 252 ~ 0.025 rad
    ecal_stochastic: float = 0.03  # sigma(E)/E = a/sqrt(E) (+) b
    ecal_constant: float = 0.005
    ecal_cell_threshold: float = 0.5  # GeV of energy
    # hadronic calorimeter (barrel, endcap and forward)
    hcal_eta_max: float = 5.0
    hcal_cell_eta: float = 0.1
    hcal_cells_phi: int = 64  # 2 pi / 64 ~ 0.098 rad
    hcal_stochastic: float = 1.0
    hcal_constant: float = 0.05
    hcal_cell_threshold: float = 1.0  # GeV of energy
    calorimeter_energy_scale: float = 1.0  # measured / true cell energy, ECAL and HCAL (a miscalibration)
    # vertexing
    vertex_min_tracks: int = 2
    # Level-1 calorimeter trigger towers (``l1_towers``; the particle-flow ``simulate`` does not use them)
    tower_size: float = 0.087  # in eta and ~ in phi (2 pi / 72)
    towers_eta: int = 68  # |eta| < 68 / 2 * 0.087 = 2.958
    towers_phi: int = 72
    tower_lsb: float = 0.5  # GeV of ET per count of the integer tower word
    tower_max_count: int = 511  # 9-bit words saturate at 255.5 GeV
    calorimeter_charged_pt_min: float = 0.7  # charged particles below curl up before the calorimeters
    hcal_h_over_e: float = 0.5  # hadronic / electromagnetic response of the non-compensating HCAL
    hcal_em_fraction_exponent: float = 0.85  # Groom's m: mean f_em = 1 - (E / 1 GeV)^(m - 1)
    hadron_em_fraction_spread: float = 0.15  # shower-to-shower Gaussian spread of f_em
    hadron_ecal_shower_probability: float = 0.6  # a hadron starts its shower in the ECAL (~ 1 interaction length)
    # the HCAL's sampling term alone: with the f_em fluctuations on top, a single pion is measured to
    # ~14 % at 50 GeV and ~29 % at 10 GeV, close to the 100 %/sqrt(E) of the particle-flow model's hcal_stochastic
    hcal_sampling_stochastic: float = 0.7
    calorimeter_gap_eta: tuple[float, float] = (1.30, 1.57)  # barrel-endcap transition (|eta|)
    calorimeter_gap_response: float = 0.85  # extra response factor of the towers in the gap
    # faults, for detector-monitoring studies (None: a healthy detector)
    dead_calorimeter_region: tuple[float, float, float, float] | None = None  # eta_min, eta_max, phi_min, phi_max
    hot_calorimeter_cell: tuple[float, float, float] | None = None  # eta, phi, mean energy [GeV] it reads (30 % spread)

    def describe(self) -> dict:
        """The parameters as a plain dictionary (for manifests)."""
        return asdict(self)


DEFAULT = Detector()


@dataclass
class TruthParticles:
    """Generator-level final-state particles of a batch of events, as flat arrays.

    ``counts[i]`` particles belong to event ``i``; momenta in GeV; ``vertex`` is 0 for the hard
    scatter and k > 0 for the k-th pileup interaction of the event.
    """

    counts: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray
    pdg_id: np.ndarray
    vertex: np.ndarray


def charge_of(pdg_id: np.ndarray) -> np.ndarray:
    """Electric charge (units of e) of stable particles from their PDG ids, shape like the input."""
    absid = np.abs(pdg_id)
    charge = np.zeros(absid.shape, dtype=np.int8)
    for pid, q in _CHARGE_OF_POSITIVE_ID.items():
        charge[absid == pid] = q
    return (charge * np.sign(pdg_id)).astype(np.int8)


def _kinematics(truth: TruthParticles):
    """Per particle: event number, |PDG id|, pT, eta (+-10 along the beam, where pT = 0), phi."""
    event = np.repeat(np.arange(len(truth.counts)), truth.counts)
    momentum = vector.array({"px": truth.px, "py": truth.py, "pz": truth.pz})
    pt = momentum.rho
    with np.errstate(divide="ignore", invalid="ignore"):  # a particle along the beam has no finite eta
        eta = np.where(pt > 0, momentum.eta, np.sign(truth.pz) * 10.0)
    return event, np.abs(truth.pdg_id), pt, eta, momentum.phi


def _relative_resolution(pt, constant, slope):
    return np.hypot(constant, slope * pt)


def _cell_index(eta, phi, eta_max, cell_eta, cells_phi):
    n_eta = int(round(2 * eta_max / cell_eta))
    i_eta = np.clip(((eta + eta_max) / cell_eta).astype(np.int64), 0, n_eta - 1)
    i_phi = (((phi + np.pi) / (2 * np.pi)) * cells_phi).astype(np.int64) % cells_phi
    return i_eta * cells_phi + i_phi, n_eta


def _cell_centre(index, eta_max, cell_eta, cells_phi):
    i_eta, i_phi = np.divmod(index, cells_phi)
    eta = -eta_max + (i_eta + 0.5) * cell_eta
    phi = -np.pi + (i_phi + 0.5) * (2 * np.pi / cells_phi)
    return eta, phi


def _calorimeter(event, energy, eta, phi, rng, *, eta_max, cell_eta, cells_phi, stochastic, constant, threshold,
                 scale=1.0):
    """Sum deposits per (event, cell), smear, scale, apply the threshold; returns flat cell candidates."""
    cell, _ = _cell_index(eta, phi, eta_max, cell_eta, cells_phi)
    n_cells = int(round(2 * eta_max / cell_eta)) * cells_phi
    key = event.astype(np.int64) * n_cells + cell
    unique_key, inverse = np.unique(key, return_inverse=True)
    deposited = np.bincount(inverse, weights=energy, minlength=len(unique_key))
    sigma = deposited * np.hypot(stochastic / np.sqrt(np.maximum(deposited, 1e-9)), constant)
    measured = scale * (deposited + sigma * rng.standard_normal(len(deposited)))
    keep = measured > threshold
    cell_event, cell_id = np.divmod(unique_key[keep], n_cells)
    c_eta, c_phi = _cell_centre(cell_id, eta_max, cell_eta, cells_phi)
    return cell_event, measured[keep], c_eta, c_phi


def simulate(truth: TruthParticles, rng: np.random.Generator,
             detector: Detector = DEFAULT) -> tuple[ak.Array, np.ndarray]:
    """Reconstruct particle-flow candidates from generator-level final-state particles.

    Parameters
    ----------
    truth : the batch's final-state particles (flat arrays, GeV).
    rng : numpy random generator; the same state gives the same reconstruction.
    detector : the detector parameters.

    Returns
    -------
    candidates : awkward array, one list per event, of records with fields
        ``pt, eta, phi, mass, energy`` (GeV, rad), ``charge`` (e), ``kind`` (see ``KINDS``) and
        ``vertex`` (0 hard scatter, k pileup, -1 for neutral calorimeter candidates).
    n_vertices : int array, shape (n_events,), reconstructed primary + pileup vertices.
    """
    d = detector
    n_events = len(truth.counts)
    event, absid, pt, eta, phi = _kinematics(truth)
    charge = charge_of(truth.pdg_id)
    visible = ~np.isin(absid, _INVISIBLE_IDS)
    u = rng.random(len(pt))  # one uniform per particle for all efficiency decisions

    # muons
    is_muon = absid == 13
    muon_found = is_muon & (np.abs(eta) < d.muon_eta_max) & (pt > d.muon_pt_min) & (u < d.muon_efficiency)
    # tracks (charged, not muons)
    is_charged = (charge != 0) & ~is_muon
    tracked = is_charged & (np.abs(eta) < d.tracker_eta_max) & (pt > d.track_pt_min) & (u < d.track_efficiency)

    def smear(mask, constant, slope, scale=1.0):
        sel_pt = pt[mask]
        res = _relative_resolution(sel_pt, constant, slope)
        return np.abs(scale * sel_pt * (1.0 + res * rng.standard_normal(mask.sum())))

    mu_pt = smear(muon_found, d.muon_resolution_constant, d.muon_resolution_slope, d.muon_momentum_scale)
    trk_pt = smear(tracked, d.track_resolution_constant, d.track_resolution_slope)

    # calorimeters: everything visible that is neither a found muon nor a track, except muons
    # (minimum-ionising: their small deposit is neglected)
    to_calo = visible & ~tracked & ~is_muon
    electromagnetic = to_calo & ((absid == 22) | (absid == 11)) & (np.abs(eta) < d.ecal_eta_max)
    hadronic = to_calo & ~electromagnetic & (np.abs(eta) < d.hcal_eta_max)
    ecal = _calorimeter(event[electromagnetic], truth.energy[electromagnetic], eta[electromagnetic],
                        phi[electromagnetic], rng,
                        eta_max=d.ecal_eta_max, cell_eta=d.ecal_cell_eta, cells_phi=d.ecal_cells_phi,
                        stochastic=d.ecal_stochastic, constant=d.ecal_constant, threshold=d.ecal_cell_threshold,
                        scale=d.calorimeter_energy_scale)
    hcal = _calorimeter(event[hadronic], truth.energy[hadronic], eta[hadronic], phi[hadronic], rng,
                        eta_max=d.hcal_eta_max, cell_eta=d.hcal_cell_eta, cells_phi=d.hcal_cells_phi,
                        stochastic=d.hcal_stochastic, constant=d.hcal_constant, threshold=d.hcal_cell_threshold,
                        scale=d.calorimeter_energy_scale)
    if d.dead_calorimeter_region is not None:  # dead cells read nothing, in both calorimeters
        ecal, hcal = (_alive(cells, d.dead_calorimeter_region) for cells in (ecal, hcal))
    if d.hot_calorimeter_cell is not None:  # a noisy HCAL cell reads energy in every event
        hot_eta, hot_phi, hot_energy = d.hot_calorimeter_cell
        reading = np.maximum(hot_energy * (1 + 0.3 * rng.standard_normal(n_events)), 0.0)
        hot = (np.arange(n_events), reading, np.full(n_events, hot_eta), np.full(n_events, hot_phi))
        hcal = tuple(np.concatenate([a, b]) for a, b in zip(hcal, hot))

    # charged-hadron subtraction: tracks from pileup vertices are identified and dropped
    keep_trk = truth.vertex[tracked] == 0
    # the hard-scatter vertex always counts; a pileup vertex needs enough tracks to be found
    n_tracks_per_vertex = _tracks_per_vertex(event[tracked], truth.vertex[tracked], n_events)
    n_vertices = 1 + (n_tracks_per_vertex[:, 1:] >= d.vertex_min_tracks).sum(axis=1)

    def block(ev, pt_, eta_, phi_, mass, charge_, kind, vertex):
        n = len(ev)
        return dict(event=ev, pt=pt_, eta=eta_, phi=phi_, mass=np.broadcast_to(mass, n),
                    charge=np.broadcast_to(charge_, n), kind=np.broadcast_to(kind, n),
                    vertex=np.broadcast_to(vertex, n))

    trk_kind = np.where(absid[tracked] == 11, KINDS["electron"], KINDS["charged_hadron"])
    trk_mass = np.where(absid[tracked] == 11, ELECTRON_MASS, CHARGED_PION_MASS)
    blocks = [
        block(event[muon_found], mu_pt, eta[muon_found], phi[muon_found], MUON_MASS, charge[muon_found],
              KINDS["muon"], truth.vertex[muon_found]),
        block(event[tracked][keep_trk], trk_pt[keep_trk], eta[tracked][keep_trk], phi[tracked][keep_trk],
              trk_mass[keep_trk], charge[tracked][keep_trk], trk_kind[keep_trk], 0),
        block(ecal[0], ecal[1] / np.cosh(ecal[2]), ecal[2], ecal[3], 0.0, 0, KINDS["photon"], -1),
        block(hcal[0], hcal[1] / np.cosh(hcal[2]), hcal[2], hcal[3], 0.0, 0, KINDS["neutral_hadron"], -1),
    ]
    flat = {k: np.concatenate([np.asarray(b[k]) for b in blocks]) for k in blocks[0]}
    order = np.lexsort((-flat["pt"], flat["event"]))  # by event, then decreasing pT
    flat = {k: v[order] for k, v in flat.items()}
    flat["energy"] = vector.array({"pt": flat["pt"], "eta": flat["eta"], "phi": flat["phi"], "mass": flat["mass"]}).E
    counts = np.bincount(flat.pop("event"), minlength=n_events)
    # float64 until storage: float32 four-momenta of TeV jets give E^2 - p^2 < 0 for light systems
    dtypes = dict(pt=np.float64, eta=np.float64, phi=np.float64, mass=np.float64, energy=np.float64,
                  charge=np.int8, kind=np.int8, vertex=np.int16)
    columns = {k: ak.unflatten(flat[k].astype(dtypes[k]), counts) for k in dtypes}
    candidates = ak.zip(columns)
    return candidates, n_vertices.astype(np.int32)


def particle_level(truth: TruthParticles) -> tuple[ak.Array, np.ndarray]:
    """No detector at all: every visible final-state particle as it was generated (neutrinos dropped),
    in the same record layout as ``simulate`` (the level of the public hls4ml and JetNet jet samples)."""
    absid = np.abs(truth.pdg_id)
    visible = ~np.isin(absid, _INVISIBLE_IDS)
    counts = np.bincount(np.repeat(np.arange(len(truth.counts)), truth.counts)[visible],
                         minlength=len(truth.counts))
    momentum = vector.array({"px": truth.px[visible], "py": truth.py[visible], "pz": truth.pz[visible],
                             "E": truth.energy[visible]})
    pt = momentum.pt
    charge = charge_of(truth.pdg_id[visible])
    kind = np.select([absid[visible] == 13, absid[visible] == 11, charge != 0, absid[visible] == 22],
                     [KINDS["muon"], KINDS["electron"], KINDS["charged_hadron"], KINDS["photon"]],
                     KINDS["neutral_hadron"])
    with np.errstate(divide="ignore", invalid="ignore"):  # a particle along the beam: eta as at pT = 1e-12 GeV
        eta = np.where(pt > 0, momentum.eta, np.arcsinh(momentum.pz / 1e-12))
    columns = dict(pt=pt, eta=eta, phi=momentum.phi, mass=np.maximum(momentum.mass, 0.0), energy=momentum.E,
                   charge=charge, kind=kind.astype(np.int8), vertex=truth.vertex[visible].astype(np.int16))
    order = np.lexsort((-pt, np.repeat(np.arange(len(counts)), counts)))  # by event, then decreasing pT
    candidates = ak.zip({k: ak.unflatten(v[order], counts) for k, v in columns.items()})
    return candidates, np.ones(len(counts), dtype=np.int32)


def mean_em_fraction(energy: np.ndarray, detector: Detector = DEFAULT) -> np.ndarray:
    """Mean electromagnetic fraction of a hadron shower of ``energy`` GeV (Groom), shape of ``energy``."""
    return 1.0 - np.power(np.maximum(energy, 1.0), detector.hcal_em_fraction_exponent - 1.0)


def hadron_response(energy: np.ndarray, detector: Detector = DEFAULT) -> np.ndarray:
    """Mean measured / true energy of a hadron in the non-compensating calorimeter (pi/e), shape of ``energy``."""
    em = mean_em_fraction(energy, detector)
    return em + (1.0 - em) * detector.hcal_h_over_e


def tower_centres(detector: Detector = DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """Centres (eta, phi [rad]) of the trigger tower grid: shapes (towers_eta,) and (towers_phi,)."""
    d = detector
    eta = (np.arange(d.towers_eta) - d.towers_eta / 2 + 0.5) * d.tower_size
    phi = -np.pi + (np.arange(d.towers_phi) + 0.5) * (2 * np.pi / d.towers_phi)
    return eta, phi


def l1_towers(truth: TruthParticles, rng: np.random.Generator,
              detector: Detector = DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """The Level-1 calorimeter trigger's towers of a batch of events (pileup included in ``truth``).

    Returns ``(ecal, hcal)``, each int16 of shape (n_events, towers_eta, towers_phi): transverse energy
    in counts of ``tower_lsb`` GeV (rounded down, saturating at ``tower_max_count``), after the raw
    calorimeter response (hadron showers split into a fluctuating electromagnetic part measured at 1
    and a hadronic part at h/e, the gap, ``calorimeter_energy_scale``) and the stochastic (HCAL: its
    sampling term) and constant resolution terms of each calorimeter, per tower.
    """
    d = detector
    n_events = len(truth.counts)
    event, absid, pt, eta, phi = _kinematics(truth)
    charged = charge_of(truth.pdg_id) != 0
    half_width = d.towers_eta / 2 * d.tower_size
    reaches = (~np.isin(absid, _INVISIBLE_IDS) & (absid != 13) & (pt > 0) & (np.abs(eta) < half_width)
               & ~(charged & (pt < d.calorimeter_charged_pt_min)))
    electromagnetic = reaches & ((absid == 22) | (absid == 11))
    hadronic = reaches & ~electromagnetic
    i_eta = np.clip(((eta + half_width) / d.tower_size).astype(np.int64), 0, d.towers_eta - 1)
    i_phi = (((phi + np.pi) / (2 * np.pi)) * d.towers_phi).astype(np.int64) % d.towers_phi
    tower = (event * d.towers_eta + i_eta) * d.towers_phi + i_phi
    n_towers = n_events * d.towers_eta * d.towers_phi
    # hadron showers: f_em at 1, the rest at h/e; the electromagnetic part stays in the ECAL when the
    # shower starts there
    em_fraction = np.clip(mean_em_fraction(truth.energy, d) + d.hadron_em_fraction_spread
                          * rng.standard_normal(len(pt)), 0.0, 1.0)
    starts_in_ecal = hadronic & (rng.random(len(pt)) < d.hadron_ecal_shower_probability)
    hadron_em = truth.energy * em_fraction
    hadron_rest = truth.energy * (1.0 - em_fraction) * d.hcal_h_over_e
    ecal_energy = np.where(electromagnetic, truth.energy, np.where(starts_in_ecal, hadron_em, 0.0))
    hcal_energy = np.where(hadronic, hadron_rest + np.where(starts_in_ecal, 0.0, hadron_em), 0.0)
    centre_eta, _ = tower_centres(d)
    gap = (np.abs(centre_eta) > d.calorimeter_gap_eta[0]) & (np.abs(centre_eta) < d.calorimeter_gap_eta[1])
    scale = d.calorimeter_energy_scale * np.where(gap, d.calorimeter_gap_response, 1.0)[None, :, None]
    grids = []
    for energy, stochastic, constant in ((ecal_energy, d.ecal_stochastic, d.ecal_constant),
                                         (hcal_energy, d.hcal_sampling_stochastic, d.hcal_constant)):
        deposited = np.bincount(tower[reaches], weights=energy[reaches], minlength=n_towers)
        hit = np.flatnonzero(deposited)
        sigma = deposited[hit] * np.hypot(stochastic / np.sqrt(deposited[hit]), constant)
        measured = np.zeros(n_towers)
        measured[hit] = np.maximum(deposited[hit] + sigma * rng.standard_normal(len(hit)), 0.0)
        et = measured.reshape(n_events, d.towers_eta, d.towers_phi) * scale / np.cosh(centre_eta)[None, :, None]
        grids.append(np.minimum(np.floor(et / d.tower_lsb), d.tower_max_count).astype(np.int16))
    return grids[0], grids[1]


def _alive(cells, region):
    """Calorimeter cells (event, energy, eta, phi) whose centre lies outside a dead (eta, phi) box."""
    eta_min, eta_max, phi_min, phi_max = region
    _, _, eta, phi = cells
    dead = (eta > eta_min) & (eta < eta_max) & (phi > phi_min) & (phi < phi_max)
    return tuple(array[~dead] for array in cells)


def _tracks_per_vertex(event, vertex, n_events):
    """Count tracks per (event, vertex); returns shape (n_events, max_vertex + 1)."""
    n_vtx = int(vertex.max()) + 1 if len(vertex) else 1
    counts = np.zeros((n_events, n_vtx), dtype=np.int64)
    np.add.at(counts, (event, vertex), 1)
    return counts
