"""An electromagnetic cascade in a lead / liquid-argon sampling calorimeter, followed particle by particle.

Owns: the materials and the calorimeter (every number a dataclass field, lengths in mm, energies in MeV),
and ``simulate``: photons, electrons and positrons stepped through the slabs of absorber and active
medium, with

- bremsstrahlung and pair production in the complete-screening Bethe-Heitler forms (PDG review "Passage of
  particles through matter", eqs. 34.29 and 34.31): cross-sections that depend on the energy through the
  production cut (bremsstrahlung) and the kinematic limits (pairs);
- Compton scattering (Klein-Nishina, sampled as in Geant4's G4KleinNishinaCompton) and photoelectric
  absorption (a power law in Z and k fitted to NIST XCOM for lead at 0.1-1 MeV);
- continuous ionisation loss (the minimum-ionising dE/dx times 1/beta^2), multiple scattering (Highland),
  positron annihilation at rest;
- a production cut for bremsstrahlung photons and tracking cuts below which a particle deposits its
  energy where it is.

Energy deposited in the active slabs is what a sampling calorimeter sees; ``Deposits`` also keeps what the
absorber took and what leaked, so that energy is conserved to rounding. Vectorised over all particles of
a batch of showers at once, but each particle is stepped on its own. Geant4 cannot run here (its data sets
cannot be downloaded), so this is the project's own, slow for the same reason Geant4 is.

All of it is kept in one module because the processes share the particle stacks, the slab geometry and the
tally: split apart, each would reach into the others' internals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from hepwb.data.calochallenge import Binning

ELECTRON_MASS = 0.51099895  # MeV
CLASSICAL_ELECTRON_RADIUS = 2.8179403e-12  # mm
AVOGADRO = 6.02214076e23
SCALE_ENERGY = 21.2052  # MeV, E_s = m_e sqrt(4 pi / alpha) (PDG: Moliere radius)


@dataclass(frozen=True)
class Material:
    """A medium by its PDG table values: radiation length [g/cm^2], critical energy for electrons [MeV]
    (Rossi's definition), minimum-ionising dE/dx [MeV cm^2/g]."""

    name: str
    Z: float
    A: float  # g/mol
    density: float  # g/cm^3
    radiation_length: float  # g/cm^2
    critical_energy: float  # MeV
    dedx_min: float  # MeV cm^2/g

    @property
    def x0_mm(self) -> float:
        return 10.0 * self.radiation_length / self.density

    @property
    def dedx_mm(self) -> float:
        """Minimum-ionising energy loss [MeV/mm]."""
        return self.dedx_min * self.density / 10.0

    @property
    def electrons_per_mm3(self) -> float:
        return self.density * AVOGADRO * self.Z / self.A * 1e-3

    def photoelectric_per_mm(self, k: np.ndarray, exponent: float = 2.5) -> np.ndarray:
        """Photoelectric attenuation [1/mm] at photon energy k [MeV]: 5.2 cm^2/g for lead at 100 keV (NIST
        XCOM), scaled as Z^4.5 / A per atom and k^-exponent (lead: within ~20 % of XCOM from 0.1 to 1 MeV)."""
        per_gram = 5.2 * (self.Z / 82.0) ** 4.5 * (207.2 / self.A) * (0.1 / k) ** exponent
        return per_gram * self.density / 10.0


LEAD = Material("Pb", 82, 207.2, 11.35, 6.37, 7.43, 1.122)
LIQUID_ARGON = Material("LAr", 18, 39.95, 1.396, 19.55, 32.84, 1.508)


@dataclass(frozen=True)
class SamplingCalorimeter:
    """Slabs of absorber then active medium repeated ``n_cells`` times along z, the shower axis; unbounded across.

    The cuts: bremsstrahlung photons below ``photon_production_cut`` are not made (their energy is lost
    continuously); electrons below ``electron_tracking_cut`` (kinetic) and photons below ``photon_tracking_cut``
    deposit their energy where they are. Particles beyond ``world_radius`` or outside the slabs leak.
    """

    absorber: Material = LEAD
    active: Material = LIQUID_ARGON
    absorber_mm: float = 2.0
    active_mm: float = 4.0
    n_cells: int = 64
    photon_production_cut: float = 0.1  # MeV
    photon_tracking_cut: float = 0.05  # MeV
    electron_tracking_cut: float = 1.0  # MeV, kinetic
    world_radius: float = 400.0  # mm
    max_step_fraction: float = 0.2  # an electron's step: at most this fraction of its residual range
    version: str = "hepwb-cascade-1"

    @property
    def cell_mm(self) -> float:
        return self.absorber_mm + self.active_mm

    @property
    def depth_mm(self) -> float:
        return self.n_cells * self.cell_mm

    def _mass_fractions(self) -> tuple[float, float]:
        absorber = self.absorber.density * self.absorber_mm
        active = self.active.density * self.active_mm
        return absorber / (absorber + active), active / (absorber + active)

    @property
    def x0_mm(self) -> float:
        """The radiation length of the mixture (PDG: 1/X0 = sum of w_j / X_j), in mm of calorimeter."""
        w_abs, w_act = self._mass_fractions()
        x0 = 1.0 / (w_abs / self.absorber.radiation_length + w_act / self.active.radiation_length)
        density = (self.absorber.density * self.absorber_mm + self.active.density * self.active_mm) / self.cell_mm
        return 10.0 * x0 / density

    @property
    def moliere_radius_mm(self) -> float:
        """The Moliere radius of the mixture (PDG: 1/R_M = (1/E_s) sum of w_j E_cj / X_j), in mm."""
        w_abs, w_act = self._mass_fractions()
        inverse = (w_abs * self.absorber.critical_energy / self.absorber.radiation_length
                   + w_act * self.active.critical_energy / self.active.radiation_length) / SCALE_ENERGY
        density = (self.absorber.density * self.absorber_mm + self.active.density * self.active_mm) / self.cell_mm
        return 10.0 / inverse / density

    @property
    def critical_energy(self) -> float:
        """The mixture's critical energy [MeV], from R_M = E_s X0 / E_c."""
        return SCALE_ENERGY * self.x0_mm / self.moliere_radius_mm

    @property
    def depth_x0(self) -> float:
        return self.depth_mm / self.x0_mm

    @property
    def mip_sampling_fraction(self) -> float:
        """The fraction of a minimum-ionising particle's loss in the active medium."""
        active = self.active.dedx_mm * self.active_mm
        return active / (active + self.absorber.dedx_mm * self.absorber_mm)

    def describe(self) -> dict:
        return {"version": self.version, "absorber": self.absorber.name, "active": self.active.name,
                "absorber_mm": self.absorber_mm, "active_mm": self.active_mm, "n_cells": self.n_cells,
                "depth_x0": round(self.depth_x0, 2), "x0_mm": round(self.x0_mm, 2),
                "moliere_radius_mm": round(self.moliere_radius_mm, 2),
                "critical_energy_MeV": round(self.critical_energy, 2),
                "mip_sampling_fraction": round(self.mip_sampling_fraction, 4),
                "cuts_MeV": {"photon_production": self.photon_production_cut,
                             "photon_tracking": self.photon_tracking_cut,
                             "electron_tracking": self.electron_tracking_cut}}


DEFAULT_CALORIMETER = SamplingCalorimeter()


@dataclass(frozen=True)
class Readout:
    """The calorimeter's readout: consecutive cells summed into layers (``cells_per_layer``), each layer cut into
    the voxels of ``binning`` (CaloChallenge's r x alpha bins)."""

    binning: Binning
    cells_per_layer: tuple[int, ...]

    def __post_init__(self):
        if len(self.cells_per_layer) != self.binning.n_layers or min(self.cells_per_layer) < 1:
            raise ValueError(f"cells_per_layer needs one positive count per layer ({self.binning.n_layers}), "
                             f"got {self.cells_per_layer}")

    @property
    def n_voxels(self) -> int:
        return self.binning.n_voxels

    def layer_of_cell(self, n_cells: int) -> np.ndarray:
        """The readout layer of each cell (n_cells,); -1 for cells beyond the last layer."""
        layers = np.repeat(np.arange(len(self.cells_per_layer)), self.cells_per_layer)
        return np.concatenate([layers, -np.ones(max(n_cells - len(layers), 0), int)])[:n_cells]

    def voxel_index(self, cell, r, alpha, calorimeter) -> np.ndarray:
        """The voxel of each deposit (cell index, radius [mm], angle [rad]); -1 outside every voxel."""
        layer = self.layer_of_cell(calorimeter.n_cells)[cell]
        index = np.full(len(cell), -1, dtype=np.int64)
        for k in self.binning.relevant_layers:
            here = layer == k
            index[here] = self.binning.layer_voxel_index(k, r[here], alpha[here])
        return index


#: the workbench's photon readout: five layers (a presampler, the strips, the middle, two back layers) of
#: 1.2, 3.9, 6.9, 7.7 and 5.0 radiation lengths, 178 voxels: smaller than CaloChallenge's dataset 2 (6 480)
SHOWER_READOUT = Readout(
    Binning(r_edges=((0, 5, 10, 20, 40, 80, 160), (0, 3, 6, 10, 15, 22, 32, 50, 80, 160),
                     (0, 3, 6, 10, 15, 22, 32, 50, 80, 160), (0, 10, 20, 35, 55, 90, 160), (0, 20, 50, 100, 200)),
            n_alpha=(1, 8, 8, 4, 1)),
    cells_per_layer=(3, 10, 18, 20, 13))

#: the processes ``simulate`` can switch off (for the tests that show each one matters)
PROCESSES = ("bremsstrahlung", "pair_production", "compton", "photoelectric", "multiple_scattering")


@dataclass
class Deposits:
    """What the showers of one batch left, per shower (n,) or per shower and cell (n, n_cells), in MeV.

    ``voxels`` (n, n_voxels): active-medium energy in the readout's voxels (None without a readout); energy
    beyond the readout's outermost radius is in ``active`` but not in ``voxels``.
    """

    incident: np.ndarray
    active: np.ndarray
    absorber: np.ndarray
    leaked: np.ndarray
    cell_total: np.ndarray  # (n, n_cells) active + absorber
    cell_active: np.ndarray  # (n, n_cells)
    within_moliere: np.ndarray  # active-medium energy within one Moliere radius of the axis (what is measured)
    within_moliere_total: np.ndarray  # active + absorber within one Moliere radius
    voxels: np.ndarray | None
    seconds: float
    steps: int = 0  # particle steps taken, all showers together


class _Tally:
    """Accumulates deposits by shower (bincount: one pass over each step's particles)."""

    def __init__(self, n: int, calorimeter: SamplingCalorimeter, readout):
        self.n, self.calo, self.readout = n, calorimeter, readout
        self.cells = np.zeros(n * calorimeter.n_cells)
        self.cells_active = np.zeros(n * calorimeter.n_cells)
        self.within = np.zeros(n)
        self.within_total = np.zeros(n)
        self.active = np.zeros(n)
        self.absorber = np.zeros(n)
        self.leaked = np.zeros(n)
        self.voxels = None if readout is None else np.zeros(n * readout.n_voxels)

    def add(self, shower, x, y, z, energy, in_active):
        if len(shower) == 0:
            return
        n, n_cells = self.n, self.calo.n_cells
        cell = np.clip((z // self.calo.cell_mm).astype(np.int64), 0, n_cells - 1)
        self.cells += np.bincount(shower * n_cells + cell, energy, n * n_cells)
        active_energy = np.where(in_active, energy, 0.0)
        self.cells_active += np.bincount(shower * n_cells + cell, active_energy, n * n_cells)
        self.active += np.bincount(shower, active_energy, n)
        self.absorber += np.bincount(shower, energy - active_energy, n)
        r = np.hypot(x, y)
        inside = r < self.calo.moliere_radius_mm
        self.within += np.bincount(shower, np.where(inside, active_energy, 0.0), n)
        self.within_total += np.bincount(shower, np.where(inside, energy, 0.0), n)
        if self.voxels is not None:
            index = self.readout.voxel_index(cell, r, np.arctan2(y, x), self.calo)
            keep = in_active & (index >= 0)
            self.voxels += np.bincount(shower[keep] * self.readout.n_voxels + index[keep], energy[keep],
                                       n * self.readout.n_voxels)

    def leak(self, shower, energy):
        self.leaked += np.bincount(shower, energy, self.n)


def _rotate(ux, uy, uz, cos_theta, phi):
    """Directions (ux, uy, uz) turned by polar angle theta and azimuth phi about themselves (Geant4's rotateUz)."""
    sin_theta = np.sqrt(np.maximum(1.0 - cos_theta**2, 0.0))
    dx, dy, dz = sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta
    perp = np.sqrt(ux**2 + uy**2)
    safe = np.where(perp > 1e-12, perp, 1.0)
    nx = np.where(perp > 1e-12, (ux * uz * dx - uy * dy) / safe + ux * dz, dx * np.sign(uz + 0.5))
    ny = np.where(perp > 1e-12, (uy * uz * dx + ux * dy) / safe + uy * dz, dy)
    nz = np.where(perp > 1e-12, -perp * dx + uz * dz, dz * np.sign(uz + 0.5))
    norm = np.sqrt(nx**2 + ny**2 + nz**2)
    return nx / norm, ny / norm, nz / norm


def _klein_nishina_per_electron(k):
    """Klein-Nishina total cross-section per electron [mm^2] at photon energy k [MeV]."""
    kappa = k / ELECTRON_MASS
    log_term = np.log1p(2 * kappa)
    return 2 * np.pi * CLASSICAL_ELECTRON_RADIUS**2 * (
        (1 + kappa) / kappa**2 * (2 * (1 + kappa) / (1 + 2 * kappa) - log_term / kappa)
        + log_term / (2 * kappa) - (1 + 3 * kappa) / (1 + 2 * kappa) ** 2)


def _coulomb_correction(Z):
    """f(Z) of Davies, Bethe and Maximon (PDG eq. 34.27)."""
    a2 = (np.asarray(Z, dtype=float) / 137.036) ** 2
    return a2 * (1 / (1 + a2) + 0.20206 - 0.0369 * a2 + 0.0083 * a2**2 - 0.002 * a2**3)


def _screening_functions(delta):
    """Bethe-Heitler's screening functions phi_1, phi_2 of the screening variable delta (Butcher and Messel's
    fits, as EGS and Geant4 use them); phi_1(0) / 4 - ln(Z) / 3 = ln(184 Z^-1/3), complete screening."""
    far = 21.12 - 4.184 * np.log(delta + 0.952)
    phi1 = np.where(delta <= 1, 20.867 - 3.242 * delta + 0.625 * delta**2, far)
    phi2 = np.where(delta <= 1, 20.209 - 1.930 * delta - 0.086 * delta**2, far)
    return phi1, phi2


def _log_terms(delta, Z, energy):
    """phi_i(delta) / 4 - ln(Z) / 3 - f(Z), with the Coulomb correction only above 50 MeV (as Geant4)."""
    phi1, phi2 = _screening_functions(delta)
    subtract = np.log(Z) / 3 + np.where(energy > 50.0, _coulomb_correction(Z), 0.0)
    return phi1 / 4 - subtract, phi2 / 4 - subtract


def _pair_weight(x, k, Z):
    """Bethe-Heitler dsigma/dx of pair production (x: the electron's share of the photon's energy k), up to a
    constant: (x^2 + (1 - x)^2) (phi_1 / 4 - F) + 2/3 x (1 - x) (phi_2 / 4 - F), F = ln(Z)/3 + f(Z)."""
    delta = 136.0 * ELECTRON_MASS / (Z ** (1 / 3) * k * x * (1 - x))
    first, second = _log_terms(delta, Z, k)
    return np.maximum((x**2 + (1 - x) ** 2) * first + 2.0 / 3.0 * x * (1 - x) * second, 0.0)


def _pair_table(Z, energies):
    """The pair cross-section at ``energies`` [MeV] over its high-energy limit 7/(9 X0): dsigma/dx integrated over
    [m/k, 1 - m/k] by the midpoint rule, divided by the same integral at complete screening."""
    u = (np.arange(800) + 0.5) / 800
    limit = np.mean(_pair_weight(u, 1e9, Z))
    ratios = []
    for k in energies:
        x = ELECTRON_MASS / k + (1 - 2 * ELECTRON_MASS / k) * u
        ratios.append((1 - 2 * ELECTRON_MASS / k) * np.mean(_pair_weight(x, k, Z)) / limit)
    return np.asarray(ratios)


def _bremsstrahlung_per_x0(y_cut):
    """Photons with energy fraction y in [y_cut, 1] per radiation length (complete screening:
    dN/dy = (4/3 - 4/3 y + y^2) / y), and the fraction of the energy radiated below y_cut per radiation length."""
    y_cut = np.clip(y_cut, 1e-12, 1.0)
    number = 4.0 / 3.0 * np.log(1.0 / y_cut) - 4.0 / 3.0 * (1.0 - y_cut) + 0.5 * (1.0 - y_cut**2)
    soft = 4.0 / 3.0 * y_cut - 2.0 / 3.0 * y_cut**2 + y_cut**3 / 3.0
    return np.maximum(number, 0.0), soft


def _sample_rejection(rng, n, propose, accept_probability, max_rounds: int = 100):
    """n draws of ``propose(rng, indices)`` kept with ``accept_probability(values, indices)``: vectorised rejection
    sampling. After ``max_rounds`` the last proposals stand (a pair just above threshold, where the screened
    weight vanishes on the whole range, would otherwise never be accepted)."""
    out = np.empty(n)
    todo = np.arange(n)
    for _ in range(max_rounds):
        values = propose(rng, todo)
        keep = rng.random(len(todo)) < accept_probability(values, todo)
        out[todo[keep]] = values[keep]
        todo = todo[~keep]
        if not len(todo):
            return out
    out[todo] = propose(rng, todo)
    return out


class _Particles:
    """A stack of particles as columns: shower index, position [mm], direction, energy [MeV] (kinetic for e+-),
    charge (0 photon, -1 electron, +1 positron)."""

    COLUMNS = ("shower", "x", "y", "z", "ux", "uy", "uz", "energy", "charge")

    def __init__(self, **columns):
        for name in self.COLUMNS:
            setattr(self, name, columns[name])

    @classmethod
    def empty(cls):
        return cls(shower=np.zeros(0, np.int64), **{c: np.zeros(0) for c in cls.COLUMNS[1:]})

    def __len__(self):
        return len(self.shower)

    def take(self, mask):
        return _Particles(**{c: getattr(self, c)[mask] for c in self.COLUMNS})

    @staticmethod
    def join(parts):
        parts = [p for p in parts if len(p)]
        if not parts:
            return _Particles.empty()
        return _Particles(**{c: np.concatenate([getattr(p, c) for p in parts]) for c in _Particles.COLUMNS})


class _Cascade:
    """One batch of showers: the photon and the charged stacks stepped until both are empty."""

    def __init__(self, calorimeter: SamplingCalorimeter, tally: _Tally, rng: np.random.Generator,
                 switched_off: tuple[str, ...]):
        self.calo, self.tally, self.rng, self.off = calorimeter, tally, rng, set(switched_off)
        c = calorimeter
        self.x0 = np.array([c.absorber.x0_mm, c.active.x0_mm])
        self.dedx = np.array([c.absorber.dedx_mm, c.active.dedx_mm])
        self.electrons_per_mm3 = np.array([c.absorber.electrons_per_mm3, c.active.electrons_per_mm3])
        self.Z = np.array([c.absorber.Z, c.active.Z])
        self.pair_energies = np.geomspace(2 * ELECTRON_MASS * 1.0001, 1e6, 300)
        self.pair_ratio = [_pair_table(Z, self.pair_energies) for Z in self.Z]
        self.steps = 0

    # geometry ------------------------------------------------------------------------------------------
    def _where(self, z, uz):
        """Material index (0 absorber, 1 active), the distance to the next slab boundary along the direction, and
        the z of that boundary [mm]."""
        c = self.calo
        position = np.mod(z, c.cell_mm)
        active = position >= c.absorber_mm
        upper = np.where(active, c.cell_mm, c.absorber_mm) - position
        lower = position - np.where(active, c.absorber_mm, 0.0)
        with np.errstate(divide="ignore"):
            distance = np.where(uz > 0, upper / np.where(uz > 0, uz, 1.0),
                                np.where(uz < 0, lower / np.where(uz < 0, -uz, 1.0), np.inf))
        plane = np.where(uz > 0, z + upper, z - lower)
        return active.astype(np.int64), distance, plane

    def _move(self, p, step, crosses, plane):
        """Move particles by ``step`` [mm]; those that reach a slab boundary (``crosses``) are put just beyond
        it, a fixed 1e-7 mm in z, so that a particle gliding along a slab cannot stall on its face."""
        p.x, p.y, p.z = p.x + step * p.ux, p.y + step * p.uy, p.z + step * p.uz
        p.z = np.where(crosses, plane + np.sign(p.uz) * 1e-7, p.z)

    def _outside(self, p):
        return (p.z < 0) | (p.z > self.calo.depth_mm) | (p.x**2 + p.y**2 > self.calo.world_radius**2)

    def _deposit_here(self, p, energy):
        material = self._where(p.z, p.uz)[0]
        self.tally.add(p.shower, p.x, p.y, p.z, energy, material == 1)

    # photons ---------------------------------------------------------------------------------------------
    def _photon_coefficients(self, k, material):
        """Attenuation [1/mm] by pair production, Compton scattering and photoelectric absorption."""
        c = self.calo
        ratio = np.where(material == 0, np.interp(k, self.pair_energies, self.pair_ratio[0], left=0.0),
                         np.interp(k, self.pair_energies, self.pair_ratio[1], left=0.0))
        pair = np.zeros_like(k) if "pair_production" in self.off else 7.0 / 9.0 / self.x0[material] * ratio
        compton = np.zeros_like(k) if "compton" in self.off else \
            self.electrons_per_mm3[material] * _klein_nishina_per_electron(k)
        photo = np.zeros_like(k) if "photoelectric" in self.off else \
            np.where(material == 0, c.absorber.photoelectric_per_mm(k), c.active.photoelectric_per_mm(k))
        return pair, compton, photo

    def step_photons(self, g: _Particles) -> tuple[_Particles, list[_Particles]]:
        rng = self.rng
        material, boundary, plane = self._where(g.z, g.uz)
        pair, compton, photo = self._photon_coefficients(g.energy, material)
        total = pair + compton + photo
        with np.errstate(divide="ignore"):
            free_path = np.where(total > 0, rng.exponential(size=len(g)) / np.where(total > 0, total, 1.0), np.inf)
        interacts = free_path < boundary
        self._move(g, np.where(interacts, free_path, boundary), ~interacts, plane)
        self.steps += len(g)
        gone = self._outside(g)
        self.tally.leak(g.shower[gone], g.energy[gone])
        interacts &= ~gone
        u = rng.random(len(g)) * total
        is_pair = interacts & (u < pair)
        is_compton = interacts & ~is_pair & (u < pair + compton)
        is_photo = interacts & ~is_pair & ~is_compton
        born = [self._pairs(g.take(is_pair))]
        scattered, electrons = self._compton(g.take(is_compton))
        born.append(electrons)
        absorbed = g.take(is_photo)
        self._deposit_here(absorbed, absorbed.energy)
        survivors = _Particles.join([g.take(~gone & ~interacts), scattered])
        low = survivors.energy < self.calo.photon_tracking_cut
        self._deposit_here(survivors.take(low), survivors.energy[low])
        return survivors.take(~low), born

    def _pairs(self, g: _Particles) -> _Particles:
        """e+ e- pairs; the electron's share x of the photon's energy from Bethe-Heitler's dsigma/dx on
        [m/k, 1 - m/k]."""
        n = len(g)
        if n == 0:
            return _Particles.empty()
        low = ELECTRON_MASS / g.energy
        Z = self.Z[self._where(g.z, g.uz)[0]]
        bound = _log_terms(np.zeros(n), Z, np.zeros(n))[0]  # the weight's largest value: x at an end, no screening
        x = _sample_rejection(self.rng, n, lambda rng, i: low[i] + (1 - 2 * low[i]) * rng.random(len(i)),
                              lambda v, i: _pair_weight(v, g.energy[i], Z[i]) / bound[i])
        totals = np.concatenate([x * g.energy, (1 - x) * g.energy])
        phi = self.rng.uniform(0, 2 * np.pi, n)
        cos_theta = np.cos(np.minimum(ELECTRON_MASS / totals, np.pi / 2))  # the typical opening angle m/E
        both = g.take(np.concatenate([np.arange(n), np.arange(n)]))
        both.ux, both.uy, both.uz = _rotate(both.ux, both.uy, both.uz, cos_theta, np.concatenate([phi, phi + np.pi]))
        both.energy = np.maximum(totals - ELECTRON_MASS, 0.0)
        both.charge = np.concatenate([-np.ones(n), np.ones(n)])
        return both

    def _compton(self, g: _Particles) -> tuple[_Particles, _Particles]:
        """Klein-Nishina: the scattered photon's energy fraction eps sampled from a 1/eps + eps mixture with
        the rejection function 1 - eps sin^2(theta) / (1 + eps^2); the electron takes the rest of the momentum."""
        n = len(g)
        if n == 0:
            return _Particles.empty(), _Particles.empty()
        kappa = g.energy / ELECTRON_MASS
        eps0 = 1.0 / (1.0 + 2.0 * kappa)
        alpha1, alpha2 = -np.log(eps0), 0.5 * (1 - eps0**2)

        def propose(rng, i):
            first = rng.random(len(i)) * (alpha1[i] + alpha2[i]) < alpha1[i]
            u = rng.random(len(i))
            return np.where(first, np.exp(-alpha1[i] * u), np.sqrt(eps0[i] ** 2 + (1 - eps0[i] ** 2) * u))

        def accept(eps, i):
            t = (1 - eps) / (kappa[i] * eps)
            sin2 = np.maximum(t * (2 - t), 0.0)
            return 1 - eps * sin2 / (1 + eps**2)

        eps = _sample_rejection(self.rng, n, propose, accept)
        cos_theta = 1 - (1 - eps) / (kappa * eps)
        k_before, k_after = g.energy, eps * g.energy
        electron = g.take(np.arange(n))
        phi = self.rng.uniform(0, 2 * np.pi, n)
        g.ux, g.uy, g.uz = _rotate(g.ux, g.uy, g.uz, cos_theta, phi)
        px = k_before * electron.ux - k_after * g.ux
        py = k_before * electron.uy - k_after * g.uy
        pz = k_before * electron.uz - k_after * g.uz
        norm = np.maximum(np.sqrt(px**2 + py**2 + pz**2), 1e-12)
        electron.ux, electron.uy, electron.uz = px / norm, py / norm, pz / norm
        electron.energy, electron.charge = k_before - k_after, -np.ones(n)
        g.energy = k_after
        return g, electron

    # electrons and positrons -----------------------------------------------------------------------------------
    def step_charged(self, e: _Particles) -> tuple[_Particles, list[_Particles]]:
        rng, calo = self.rng, self.calo
        material, boundary, plane = self._where(e.z, e.uz)
        total_energy = e.energy + ELECTRON_MASS
        beta2 = 1.0 - (ELECTRON_MASS / total_energy) ** 2
        x0 = self.x0[material]
        if "bremsstrahlung" in self.off:
            brem_per_mm, soft = np.zeros(len(e)), np.zeros(len(e))
        else:
            number, soft = _bremsstrahlung_per_x0(calo.photon_production_cut / total_energy)
            brem_per_mm = np.where(total_energy > calo.photon_production_cut, number / x0, 0.0)
        dedx = self.dedx[material] / beta2 + soft * total_energy / x0
        with np.errstate(divide="ignore"):
            brem_path = np.where(brem_per_mm > 0,
                                 rng.exponential(size=len(e)) / np.where(brem_per_mm > 0, brem_per_mm, 1), np.inf)
        range_limit = np.maximum(calo.max_step_fraction * e.energy / dedx, 1e-3)
        step = np.minimum(np.minimum(brem_path, range_limit), boundary)
        crosses = boundary <= np.minimum(brem_path, range_limit)
        radiates = ~crosses & (brem_path <= range_limit)
        loss = np.minimum(dedx * step, e.energy)
        half = 0.5 * step
        mid = _Particles(shower=e.shower, x=e.x + half * e.ux, y=e.y + half * e.uy, z=e.z + half * e.uz,
                         ux=e.ux, uy=e.uy, uz=e.uz, energy=loss, charge=e.charge)
        self.tally.add(mid.shower, mid.x, mid.y, mid.z, loss, material == 1)
        self._move(e, step, crosses, plane)
        e.energy = e.energy - loss
        self.steps += len(e)
        if "multiple_scattering" not in self.off:
            momentum_beta = (e.energy + ELECTRON_MASS) * (1.0 - (ELECTRON_MASS / (e.energy + ELECTRON_MASS)) ** 2)
            thickness = np.maximum(step / x0, 1e-6)
            theta0 = 13.6 / np.maximum(momentum_beta, 1e-3) * np.sqrt(thickness) * np.maximum(
                1 + 0.038 * np.log(thickness / beta2), 0.0)
            theta = theta0 * np.hypot(rng.standard_normal(len(e)), rng.standard_normal(len(e)))
            e.ux, e.uy, e.uz = _rotate(e.ux, e.uy, e.uz, np.cos(np.minimum(theta, np.pi)),
                                       rng.uniform(0, 2 * np.pi, len(e)))
        born = [self._radiate(e, radiates & (e.energy > 0), material)]
        gone = self._outside(e)
        self.tally.leak(e.shower[gone], e.energy[gone] + np.where(e.charge[gone] > 0, 2 * ELECTRON_MASS, 0.0))
        stopped = ~gone & (e.energy < calo.electron_tracking_cut)
        rest = e.take(stopped)
        self._deposit_here(rest, rest.energy)
        born.append(self._annihilate(rest.take(rest.charge > 0)))
        return e.take(~gone & ~stopped), born

    def _radiate(self, e: _Particles, radiates, material) -> _Particles:
        """Bremsstrahlung photons with energy fraction y from (4/3 - 4/3 y + y^2) / y on [cut / E, 1] (complete
        screening), each kept with the probability of Bethe-Heitler's screened spectrum over the complete-screening
        one, ((1 + (1 - y)^2)(phi_1 / 4 - F) - 2/3 (1 - y)(phi_2 / 4 - F)) / ((4/3 - 4/3 y + y^2)(phi_1(0) / 4 - F)):
        fewer photons at low energy and hard y, where screening is incomplete. Dropping the rest is exact thinning
        of the complete-screening rate that ``step_charged`` drew from."""
        idx = np.flatnonzero(radiates)
        if len(idx) == 0:
            return _Particles.empty()
        total_energy = e.energy[idx] + ELECTRON_MASS
        y_cut = np.minimum(self.calo.photon_production_cut / total_energy, 1.0)
        y = _sample_rejection(self.rng, len(idx), lambda rng, i: y_cut[i] ** rng.random(len(i)),
                              lambda v, i: (4.0 / 3.0 - 4.0 / 3.0 * v + v**2) / (4.0 / 3.0))
        Z = self.Z[material[idx]]
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = 136.0 * ELECTRON_MASS / Z ** (1 / 3) * y / (total_energy * np.maximum(1 - y, 1e-12))
        first, second = _log_terms(delta, Z, total_energy)
        complete = _log_terms(np.zeros(len(y)), Z, total_energy)[0]
        weight = ((1 + (1 - y) ** 2) * first - 2.0 / 3.0 * (1 - y) * second) / ((4 / 3 - 4 / 3 * y + y**2) * complete)
        kept = self.rng.random(len(idx)) < np.clip(weight, 0.0, 1.0)
        idx, total_energy, y = idx[kept], total_energy[kept], y[kept]
        k = np.minimum(y * total_energy, e.energy[idx])
        photon = e.take(idx)
        cos_theta = np.cos(np.minimum(ELECTRON_MASS / total_energy * self.rng.exponential(size=len(idx)), np.pi))
        photon.ux, photon.uy, photon.uz = _rotate(photon.ux, photon.uy, photon.uz, cos_theta,
                                                  self.rng.uniform(0, 2 * np.pi, len(idx)))
        photon.energy, photon.charge = k, np.zeros(len(idx))
        e.energy[idx] -= k
        return photon

    def _annihilate(self, positrons: _Particles) -> _Particles:
        """Two back-to-back 511 keV photons in a random direction for each positron at rest."""
        n = len(positrons)
        if n == 0:
            return _Particles.empty()
        cos_theta, phi = self.rng.uniform(-1, 1, n), self.rng.uniform(0, 2 * np.pi, n)
        sin_theta = np.sqrt(1 - cos_theta**2)
        photons = positrons.take(np.concatenate([np.arange(n), np.arange(n)]))
        sign = np.concatenate([np.ones(n), -np.ones(n)])
        photons.ux = sign * np.tile(sin_theta * np.cos(phi), 2)
        photons.uy = sign * np.tile(sin_theta * np.sin(phi), 2)
        photons.uz = sign * np.tile(cos_theta, 2)
        photons.energy, photons.charge = np.full(2 * n, ELECTRON_MASS), np.zeros(2 * n)
        return photons


def simulate(energies, *, particle: str = "photon", calorimeter: SamplingCalorimeter = DEFAULT_CALORIMETER,
             readout=None, seed=0, switched_off: tuple[str, ...] = ()) -> Deposits:
    """Showers of ``particle`` ("photon", "electron", "positron") entering at the origin along z with
    ``energies`` (n,) [MeV], all followed together; ``readout`` (a ``hepwb.data.calochallenge.Binning``) gives the
    voxels. ``switched_off``: names from ``PROCESSES`` (to see what each process does)."""
    energies = np.atleast_1d(np.asarray(energies, dtype=np.float64))
    if energies.ndim != 1 or len(energies) == 0 or not np.all(energies > 0):
        raise ValueError(f"energies must be positive numbers in MeV, got {energies!r}")
    charges = {"photon": 0.0, "electron": -1.0, "positron": 1.0}
    if particle not in charges:
        raise ValueError(f"particle must be one of {sorted(charges)}, got {particle!r}")
    unknown = sorted(set(switched_off) - set(PROCESSES))
    if unknown:
        raise ValueError(f"unknown processes {unknown}; the processes: {list(PROCESSES)}")
    started = time.perf_counter()
    n = len(energies)
    rng = np.random.default_rng(seed)
    tally = _Tally(n, calorimeter, readout)
    cascade = _Cascade(calorimeter, tally, rng, tuple(switched_off))
    start = _Particles(shower=np.arange(n), x=np.zeros(n), y=np.zeros(n), z=np.full(n, 1e-6), ux=np.zeros(n),
                       uy=np.zeros(n), uz=np.ones(n), energy=energies.copy(), charge=np.full(n, charges[particle]))
    if charges[particle]:
        start.energy = energies - ELECTRON_MASS
        photons, charged = _Particles.empty(), start
    else:
        photons, charged = start, _Particles.empty()
    while len(photons) or len(charged):
        photons, from_photons = cascade.step_photons(photons) if len(photons) else (photons, [])
        charged, from_charged = cascade.step_charged(charged) if len(charged) else (charged, [])
        new = _Particles.join(from_photons + from_charged)
        is_photon = new.charge == 0
        photons = _Particles.join([photons, new.take(is_photon)])
        charged = _Particles.join([charged, new.take(~is_photon)])
    n_cells = calorimeter.n_cells
    return Deposits(
        incident=energies, active=tally.active, absorber=tally.absorber, leaked=tally.leaked,
        cell_total=tally.cells.reshape(n, n_cells), cell_active=tally.cells_active.reshape(n, n_cells),
        within_moliere=tally.within, within_moliere_total=tally.within_total,
        voxels=None if readout is None else tally.voxels.reshape(n, readout.n_voxels).astype(np.float32),
        seconds=time.perf_counter() - started, steps=cascade.steps)
