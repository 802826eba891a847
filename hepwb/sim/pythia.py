"""Pythia 8 set-up and the step from its event record to the particles a detector sees.

This module owns the generator: process settings, seeding, batched generation
(``Pythia.nextBatch``, which hands the event record over as an awkward array without a Python
loop over particles), pileup overlay, and ``truth_batch``, the one step every recipe starts with:
Pythia's events (with pileup) as the detector's input. It knows nothing about the detector's
response or jets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import awkward as ak
import numpy as np
import vector

from hepwb import quiet
from hepwb.sim.detector import TruthParticles

#: settings shared by every process: LHC Run 2 energy, quiet output
COMMON_SETTINGS = (
    "Beams:eCM = 13000.",
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowProcess = 0",
    "Next:numberShowInfo = 0",
)

#: Pythia settings per process; each list switches on the hard processes and the decays
PROCESSES: dict[str, tuple[str, ...]] = {
    "qcd_gluon": ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
    "qcd_light_quark": ("HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:nQuarkNew = 3"),
    "w_hadronic": ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
                   "24:onMode = off", "24:onIfAny = 1 2 3 4 5"),
    "z_hadronic": ("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on",
                   "WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 1 2 3 4 5"),
    "ttbar_hadronic": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"),
    "drell_yan_mumu": ("WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off", "23:onIfAny = 13",
                       "PhaseSpace:mHatMin = 60."),
    "minimum_bias": ("SoftQCD:inelastic = on",),
    # all 2 -> 2 QCD processes over a wide pT-hat range, sampled flat in log pT-hat and weighted back
    "qcd_dijet": ("HardQCD:all = on", "PhaseSpace:pTHatMin = 20.", "PhaseSpace:pTHatMax = 600.",
                  "PhaseSpace:bias2Selection = on", "PhaseSpace:bias2SelectionPow = 4.",
                  "PhaseSpace:bias2SelectionRef = 20."),
    # l1_events: a Standard-Model cocktail behind a single-lepton trigger, and new physics
    "w_lnu": ("WeakSingleBoson:ffbar2W = on", "24:onMode = off", "24:onIfAny = 11 13 15"),
    "z_ll": ("WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off", "23:onIfAny = 11 13 15",
             "PhaseSpace:mHatMin = 40."),
    "ttbar": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
    "qcd_heavy_flavour": ("HardQCD:hardbbbar = on", "HardQCD:hardccbar = on", "PhaseSpace:pTHatMin = 60."),
    # a light neutral scalar (50 GeV) -> Z* Z* -> four charged leptons (ADC2021's "A -> 4l")
    "scalar_4l": ("HiggsSM:gg2H = on", "25:m0 = 50.", "25:onMode = off", "25:onIfMatch = 23 23",
                  "23:onMode = off", "23:onIfAny = 11 13", "23:mMin = 1."),
    # pair-produced scalar leptoquarks (80 GeV), each -> c tau
    "leptoquark_ctau": ("LeptoQuark:all = on", "42:m0 = 80.", "42:0:products = 4 15"),
    # a neutral Higgs-like boson (60 GeV) -> tau tau
    "higgs_tautau": ("HiggsSM:gg2H = on", "25:m0 = 60.", "25:onMode = off", "25:onIfMatch = 15 -15"),
}

_MAX_PYTHIA_SEED = 900_000_000
vector.register_awkward()  # Pythia's batches carry vector Momentum4D records


def pythia_seed(seed: int, *stream: int) -> int:
    """A Pythia seed in [1, 9e8] derived from a user seed and stream numbers (chunk, sample...)."""
    state = np.random.SeedSequence([seed, *stream]).generate_state(1)[0]
    return int(state % _MAX_PYTHIA_SEED) + 1


def make_pythia(process: str, seed: int, extra: tuple[str, ...] | list[str] = ()):
    """An initialised ``pythia8mc.Pythia`` for one process of ``PROCESSES``.

    ``extra`` settings (strings in Pythia's syntax, e.g. ``"PhaseSpace:pTHatMin = 900"``)
    are applied after the process's own.
    """
    import pythia8mc

    if process not in PROCESSES:
        raise ValueError(f"unknown Pythia process {process!r}; known processes: {sorted(PROCESSES)}")
    with quiet.descriptor_to_devnull(1):  # Pythia's C++ banner and event listings
        pythia = pythia8mc.Pythia("", False)
        for line in (*COMMON_SETTINGS, *PROCESSES[process], *extra, "Random:setSeed = on", f"Random:seed = {seed}"):
            if not pythia.readString(line):
                raise ValueError(f"Pythia rejected the setting {line!r}")
        if not pythia.init():
            raise RuntimeError(f"Pythia failed to initialise process {process!r} with settings {list(extra)}")
    return pythia


def next_batch(pythia, n_events: int, *, weights: bool = False):
    """``n_events`` events as Pythia's awkward event record (fields ``id, status, p, ...``).

    With ``weights=True`` also each event's weight (NumPy, shape (n_events,)): 1 unless the
    process biases its phase space (``PhaseSpace:bias2Selection``), then the compensating weight.
    """
    with quiet.descriptor_to_devnull(1):  # Pythia's C++ banner and event listings
        batch = pythia.nextBatch(n_events)
    if weights:
        return batch.prt, ak.to_numpy(batch.info.weights[:, 0])
    return batch.prt


def final_state(record: ak.Array, vertex: ak.Array | int = 0) -> ak.Array:
    """The final-state particles of each event as a record array (px, py, pz, e, id, vertex)."""
    final = record[record.status > 0]
    return ak.zip({"px": final.p.px, "py": final.p.py, "pz": final.p.pz, "e": final.p.e,
                   "id": final.id, "vertex": ak.values_astype(final.id * 0 + vertex, np.int16)})


def to_truth(particles: ak.Array) -> TruthParticles:
    """Flatten per-event particle records into the detector's input arrays."""
    def flat(field, dtype=np.float64):
        return ak.to_numpy(ak.flatten(particles[field])).astype(dtype)

    return TruthParticles(counts=ak.to_numpy(ak.num(particles)), px=flat("px"), py=flat("py"), pz=flat("pz"),
                          energy=flat("e"), pdg_id=flat("id", np.int32), vertex=flat("vertex", np.int16))


def hard_process(record: ak.Array) -> ak.Array:
    """The hardest interaction's outgoing partons (status -23) and its resonances.

    Resonances (W, Z, top) are taken at their last copy before decay (status -62), i.e. with the
    recoil from initial-state radiation included.
    """
    hard = record[(record.status == -23) | (record.status == -62)]
    return ak.zip({"id": hard.id, "status": hard.status, "pt": hard.p.pt, "eta": hard.p.eta,
                   "phi": hard.p.phi, "mass": hard.p.mass, "rapidity": hard.p.rapidity})


@functools.lru_cache(maxsize=2)
def minimum_bias_library(seed: int, size: int) -> ak.Array:
    """``size`` inelastic pp events (output of ``final_state``), generated once per process.

    Cached: Pythia's minimum-bias initialisation alone takes about 5 s, so every chunk of a
    dataset draws its pileup from the same library, as experiments do with premixed pileup.
    """
    return final_state(next_batch(make_pythia("minimum_bias", seed), size))


class PileupPool:
    """Pileup overlay: each hard event gets Poisson(``mu``) minimum-bias events from a library.

    The library (``minimum_bias_library``) depends only on the dataset seed, so results do not
    depend on how chunks are spread over workers. Each overlaid interaction is rotated by a random
    azimuth: a finite library's summed transverse momentum is not exactly zero, and without the
    rotation every pileup interaction added the same small bias to the missing ET (about 0.17 GeV
    per vertex along x in ``zmumu`` before this rotation). Each keeps its own vertex number (1, 2, ...) so the
    detector can remove its charged particles.
    """

    def __init__(self, mu: float, seed: int, library_size: int = 1000):
        self.mu = mu
        self.library_size = library_size
        self.library = minimum_bias_library(seed, library_size) if mu > 0 else None

    def overlay(self, hard: ak.Array, rng: np.random.Generator) -> ak.Array:
        """Add pileup particles to each event of ``hard`` (output of ``final_state``)."""
        if self.library is None:
            return hard
        n_pileup = rng.poisson(self.mu, len(hard))
        picks = rng.integers(0, self.library_size, n_pileup.sum())
        chosen = self.library[picks]
        angle = rng.uniform(-np.pi, np.pi, len(picks))
        cos, sin = np.cos(angle), np.sin(angle)
        chosen = ak.with_field(ak.with_field(chosen, chosen.px * cos - chosen.py * sin, "px"),
                               chosen.px * sin + chosen.py * cos, "py")
        vertex_number = np.arange(n_pileup.sum()) - np.repeat(np.cumsum(n_pileup) - n_pileup, n_pileup) + 1
        chosen = ak.with_field(chosen, ak.values_astype(chosen.id * 0 + vertex_number, np.int16), "vertex")
        pileup = ak.flatten(ak.unflatten(chosen, n_pileup), axis=2)
        return ak.concatenate([hard, pileup], axis=1)


@dataclass
class TruthBatch:
    """One batch of generated events, as a recipe needs them.

    ``record``: Pythia's event record (awkward, for ``hard_process``); ``hard``: the final-state particles
    of the hard scatter (``final_state``, pileup excluded); ``truth``: every final-state particle that
    reaches the detector, pileup included, flat (``TruthParticles``); ``weights``: each event's weight
    (n,), 1 unless the process biases its phase space.
    """

    record: ak.Array
    hard: ak.Array
    truth: TruthParticles
    weights: np.ndarray

    def __len__(self):
        return len(self.weights)


def truth_batch(pythia, n_events: int, *, pileup: PileupPool | None = None,
                rng: np.random.Generator | None = None) -> TruthBatch:
    """Generate ``n_events`` with ``pythia``, overlay ``pileup`` (drawn with ``rng``) and flatten the
    particles for the detector: Pythia -> final state (+ pileup) -> ``TruthParticles``."""
    record, weights = next_batch(pythia, n_events, weights=True)
    hard = final_state(record)
    particles = hard if pileup is None else pileup.overlay(hard, rng)
    return TruthBatch(record, hard, to_truth(particles), weights)
