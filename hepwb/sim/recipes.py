"""Dataset recipes: Pythia process(es) -> detector -> FastJet -> the arrays a dataset stores.

Each recipe owns one dataset's physics choices (processes, cuts, labels, stored branches with
units) and a ``make_chunk`` function that produces ``n_events`` selected events for a seed and a
chunk number. Chunks are independent and deterministic, so they can run on any worker in any
order. Writing files and running chunks in parallel is ``hepwb.run.generate``'s job.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import awkward as ak
import fastjet
import numpy as np

from hepwb.features import HLS4ML_FEATURES, delta_phi, delta_r, hls4ml_features
from hepwb.sim import detector as det
from hepwb.sim import trigger
from hepwb.sim.pythia import (
    PROCESSES,
    PileupPool,
    final_state,
    hard_process,
    make_pythia,
    next_batch,
    pythia_seed,
    to_truth,
)


@dataclass(frozen=True)
class Branch:
    """One stored branch: name, unit ('' when dimensionless) and meaning."""

    name: str
    unit: str
    description: str


@dataclass(frozen=True)
class Recipe:
    """How a dataset is generated and what it holds."""

    name: str
    tree: str
    description: str
    samples: tuple[str, ...]  # independent generator streams (e.g. one per jet class)
    processes: dict[str, tuple[str, ...]]  # sample -> Pythia settings
    options: dict  # physics options (cuts, pileup), recorded in the manifest
    branches: tuple[Branch, ...]
    make_chunk: Callable[..., dict]
    chunk_size: int = 500  # selected events per chunk; fixed so results do not depend on workers
    labels: tuple[str, ...] = field(default_factory=tuple)
    fractions: dict[str, float] | None = None  # sample -> share of the events (None: equal shares)


@dataclass(frozen=True)
class Variation:
    """A changed world to test taggers in: detector parameters, extra Pythia settings, or no detector.

    ``detector``: fields of ``hepwb.sim.detector.Detector`` and their new values, e.g.
    ``{"calorimeter_energy_scale": 1.05}``; ``pythia``: settings applied after the process's own, e.g.
    ``("Tune:pp = 21",)``; ``particle_level``: skip the detector (generated particles are the candidates).
    """

    detector: dict = field(default_factory=dict)
    pythia: tuple[str, ...] = ()
    particle_level: bool = False

    def __post_init__(self):
        fields = {f.name: f.type for f in dataclasses.fields(det.Detector) if f.name != "version"}
        unknown = sorted(set(self.detector) - set(fields))
        if unknown:
            raise ValueError(f"unknown detector parameter(s) {unknown}; the detector has {sorted(fields)}")
        if self.particle_level and self.detector:
            raise ValueError("a particle-level sample has no detector to change; drop the detector changes")
        for name, value in self.detector.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"detector parameter {name} must be a number, got {value!r}")

    def make_detector(self) -> det.Detector | None:
        """The detector to simulate (None at particle level); its version string marks the change."""
        if self.particle_level:
            return None
        if not self.detector:
            return det.DEFAULT
        changes = ", ".join(f"{k}={v}" for k, v in sorted(self.detector.items()))
        return dataclasses.replace(det.DEFAULT, **self.detector, version=f"{det.VERSION} with {changes}")

    def describe(self) -> dict:
        return {"detector": dict(self.detector), "pythia": list(self.pythia), "particle_level": self.particle_level}


NOMINAL = Variation()


# --------------------------------------------------------------------------------------------
# jets: one boosted jet per event, five classes (hls4ml jet-tagging benchmark)
# --------------------------------------------------------------------------------------------

JET_CLASSES = ("gluon", "light_quark", "W", "Z", "top")
_JET_KINEMATICS = ("PhaseSpace:pTHatMin = 900.", "PhaseSpace:pTHatMax = 1100.")
_JET_PROCESS = {"gluon": "qcd_gluon", "light_quark": "qcd_light_quark", "W": "w_hadronic",
                "Z": "z_hadronic", "top": "ttbar_hadronic"}
JETS_OPTIONS = dict(radius=0.8, pt_min=800.0, pt_max=1200.0, abs_eta_max=2.0, match_dr=0.6,
                    max_constituents=50, pileup_mu=0.0, grooming="mMDT zcut=0.1 beta=0")
_ANTIKT_08 = fastjet.JetDefinition(fastjet.antikt_algorithm, 0.8)


def _is_target(hard: ak.Array, jet_class: str) -> ak.Array:
    """Which hard-process objects a jet of ``jet_class`` must come from."""
    absid = abs(hard.id)
    if jet_class == "gluon":
        return (hard.status == -23) & (absid == 21)
    if jet_class == "light_quark":
        return (hard.status == -23) & (absid >= 1) & (absid <= 3)
    return (hard.status == -62) & (absid == {"W": 24, "Z": 23, "top": 6}[jet_class])


def _missing_et(candidates: ak.Array):
    """Missing ET [GeV] and its azimuth: minus the vector sum of all candidates' transverse momenta."""
    px = ak.sum(candidates.pt * np.cos(candidates.phi), axis=1)
    py = ak.sum(candidates.pt * np.sin(candidates.phi), axis=1)
    return np.hypot(px, py), np.arctan2(-py, -px)


_MET_BRANCHES = (Branch("met", "GeV", "missing transverse energy from all reconstructed candidates"),
                 Branch("met_phi", "rad", "azimuth of the missing transverse momentum"))


def _cartesian(candidates: ak.Array) -> ak.Array:
    pt, eta, phi = candidates.pt, candidates.eta, candidates.phi
    return ak.zip({"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta),
                   "E": candidates.energy}, depth_limit=2)


def _eta_phi_pt(jets) -> ak.Array:
    """FastJet's jets (px, py, pz) as records (pt, eta, phi), by decreasing pT."""
    pt = np.hypot(jets.px, jets.py)
    out = ak.zip({"pt": pt, "eta": np.arcsinh(jets.pz / pt), "phi": np.arctan2(jets.py, jets.px)})
    return out[ak.argsort(out.pt, ascending=False)]


def _jets_batch(pythia, n: int, jet_class: str, rng: np.random.Generator, opts: dict,
                detector: det.Detector | None = det.DEFAULT) -> dict:
    record = next_batch(pythia, n)
    targets = hard_process(record)
    targets = targets[_is_target(targets, jet_class)]
    truth = to_truth(final_state(record))
    candidates, _ = det.particle_level(truth) if detector is None else det.simulate(truth, rng, detector)
    sequence = fastjet.ClusterSequence(_cartesian(candidates), _ANTIKT_08)
    jets = sequence.inclusive_jets(min_pt=opts["pt_min"] * 0.5)
    index = sequence.constituent_index(min_pt=opts["pt_min"] * 0.5)
    jets = ak.zip({"pt": np.hypot(jets.px, jets.py), "px": jets.px, "py": jets.py, "pz": jets.pz, "E": jets.E})
    jets_eta = np.arcsinh(jets.pz / jets.pt)
    jets_phi = np.arctan2(jets.py, jets.px)
    # each jet's distance to the nearest target object of its class
    pairs = ak.cartesian({"j": ak.zip({"eta": jets_eta, "phi": jets_phi}), "t": targets}, nested=True)
    dr = ak.min(delta_r(pairs.j.eta, pairs.j.phi, pairs.t.eta, pairs.t.phi), axis=2)
    good = ((ak.fill_none(dr, np.inf) < opts["match_dr"]) & (jets.pt > opts["pt_min"]) & (jets.pt < opts["pt_max"])
            & (abs(jets_eta) < opts["abs_eta_max"]))
    # the leading good jet of each event (inclusive_jets are not pT-ordered)
    order = ak.argsort(jets.pt, ascending=False)
    good_ordered = good[order]
    first = ak.firsts(ak.local_index(good_ordered)[good_ordered])
    has_jet = ~ak.is_none(first)
    pick = order[has_jet][ak.singletons(first[has_jet])]
    def chosen(array):  # the picked jet's entry, without an option type
        return ak.drop_none(ak.firsts(array[has_jet][pick]), axis=0)

    jet, jet_eta, jet_phi, constituent_index = chosen(jets), chosen(jets_eta), chosen(jets_phi), chosen(index)
    constituents = candidates[has_jet][constituent_index]
    constituents = constituents[ak.argsort(constituents.pt, ascending=False)]
    features = hls4ml_features(_cartesian(constituents))
    n_max = opts["max_constituents"]
    mass = np.sqrt(np.maximum(jet.E**2 - jet.pt**2 - jet.pz**2, 0.0))
    out = {
        "label": np.full(len(jet), JET_CLASSES.index(jet_class), dtype=np.int32),
        "jet_pt": jet.pt, "jet_eta": jet_eta, "jet_phi": jet_phi, "jet_mass": mass, "jet_energy": jet.E,
        **features,
        # one record so that uproot writes the jagged branches const_* with one counter, nconst
        "const": ak.zip({"pt": constituents.pt[:, :n_max], "deta": (constituents.eta - jet_eta)[:, :n_max],
                         "dphi": delta_phi(constituents.phi, jet_phi)[:, :n_max],
                         "energy": constituents.energy[:, :n_max], "charge": constituents.charge[:, :n_max]}),
    }
    return {"events": out, "n_generated": n}


def _compact_leaf(layout, **kwargs):
    if layout.is_numpy and layout.dtype in (np.float64, np.int64):
        return ak.contents.NumpyArray(layout.data.astype(np.float32 if layout.dtype == np.float64 else np.int32))
    return None


def _as_stored(arrays: dict) -> dict:
    """Complete events only; float64 -> float32 and int64 -> int32 leaves, for compact files."""
    out = {}
    for key, value in arrays.items():
        value = ak.Array(value)
        if ak.any(ak.is_none(value, axis=0)):
            raise ValueError(f"branch {key!r} has missing entries; every stored event must be complete")
        value = ak.drop_none(value, axis=0)  # removes the option type left by selections
        out[key] = ak.transform(_compact_leaf, value)
    return out


def _fill(batch_fn, n_events: int, first_batch: int) -> dict:
    """Call ``batch_fn(size)`` until ``n_events`` events pass the selection; keep exactly that many.

    Batch sizes adapt to the measured selection efficiency so little is generated in vain.
    """
    parts, n_generated, n_selected, size = [], 0, 0, first_batch
    while n_selected < n_events:
        result = batch_fn(size)
        parts.append(result["events"])
        n_generated += result["n_generated"]
        n_selected += len(next(iter(result["events"].values())))
        if n_selected == 0 and n_generated > 100 * max(n_events, 10):
            raise RuntimeError(f"no event passed the selection in {n_generated} generated; check the settings")
        efficiency = max(n_selected, 1) / n_generated
        size = int(np.clip(1.05 * (n_events - n_selected) / efficiency + 5, 10, 5 * first_batch))
    merged = {k: ak.concatenate([ak.Array(p[k]) for p in parts])[:n_events] for k in parts[0]}
    return {"events": _as_stored(merged), "n_generated": n_generated}


def make_jets_chunk(n_events: int, seed: int, chunk: int, sample: str, variation: Variation = NOMINAL) -> dict:
    """``n_events`` labelled jets of class ``sample`` for chunk number ``chunk`` of ``seed``, in the
    world of ``variation`` (the same seed gives the same Pythia events unless it changes Pythia)."""
    stream = JET_CLASSES.index(sample)
    pythia = make_pythia(_JET_PROCESS[sample], pythia_seed(seed, stream, chunk), (*_JET_KINEMATICS, *variation.pythia))
    rng = np.random.default_rng([seed, stream, chunk])
    detector = variation.make_detector()
    return _fill(lambda size: _jets_batch(pythia, size, sample, rng, JETS_OPTIONS, detector), n_events,
                 first_batch=n_events + 10)


_JET_BRANCHES = (
    Branch("label", "", "jet class: " + ", ".join(f"{i} = {c}" for i, c in enumerate(JET_CLASSES))),
    Branch("jet_pt", "GeV", "jet transverse momentum (anti-kT R = 0.8, reconstructed candidates)"),
    Branch("jet_eta", "", "jet pseudorapidity"),
    Branch("jet_phi", "rad", "jet azimuth"),
    Branch("jet_mass", "GeV", "ungroomed jet mass"),
    Branch("jet_energy", "GeV", "jet energy"),
    *(Branch(f, "GeV" if f == "mass_mmdt" else "", f"hls4ml benchmark feature {f}"
             + (" (mMDT-groomed, fastjet EnergyCorrelator)" if f.endswith("_mmdt") else "")) for f in HLS4ML_FEATURES),
    Branch("nconst", "", "number of stored constituents (counter of the const_* branches; "
                         "at most 50, multiplicity has them all)"),
    Branch("const_pt", "GeV", "constituent pT, up to 50 per jet, decreasing pT (jagged)"),
    Branch("const_deta", "", "constituent eta - jet eta (jagged)"),
    Branch("const_dphi", "rad", "constituent phi - jet phi, wrapped to [-pi, pi) (jagged)"),
    Branch("const_energy", "GeV", "constituent energy (jagged)"),
    Branch("const_charge", "e", "constituent electric charge (jagged)"),
)

JETS = Recipe(
    name="jets",
    tree="jets",
    description="boosted jets with pT near 1 TeV from gluons, light quarks, W, Z and top quarks",
    samples=JET_CLASSES,
    processes={c: (*PROCESSES[_JET_PROCESS[c]], *_JET_KINEMATICS) for c in JET_CLASSES},
    options=JETS_OPTIONS,
    branches=_JET_BRANCHES,
    make_chunk=make_jets_chunk,
    labels=JET_CLASSES,
)


# --------------------------------------------------------------------------------------------
# zmumu: Z/gamma* -> mu mu with jets and pileup, the quantities an analysis keeps
# --------------------------------------------------------------------------------------------

ZMUMU_OPTIONS = dict(pileup_mu=20.0, pileup_library=1000, muon_pt_min=(20.0, 10.0), isolation_dr=0.4,
                     jet_radius=0.4, jet_pt_min=30.0, jet_abs_eta_max=4.7, max_jets=5)
_ANTIKT_04 = fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)


def _zmumu_batch(pythia, pileup: PileupPool, n: int, rng: np.random.Generator, opts: dict) -> dict:
    record = next_batch(pythia, n)
    hard = hard_process(record)
    z = ak.firsts(hard[(hard.status == -62) & (hard.id == 23)])
    particles = pileup.overlay(final_state(record), rng)
    candidates, n_vertices = det.simulate(to_truth(particles), rng)
    muons = candidates[candidates.kind == det.KINDS["muon"]]
    lead_min, sub_min = opts["muon_pt_min"]
    two = (ak.num(muons) >= 2)
    muons2 = ak.pad_none(muons, 2)[:, :2]
    ok = two & ak.fill_none((muons2[:, 0].pt > lead_min) & (muons2[:, 1].pt > sub_min)
                            & (muons2[:, 0].charge * muons2[:, 1].charge < 0), False)
    ok = ak.to_numpy(ok)
    muons2, candidates, n_vertices, z = muons2[ok], candidates[ok], n_vertices[ok], z[ok]
    others = candidates[candidates.kind != det.KINDS["muon"]]

    out = {}
    p4 = []
    for i, mu in enumerate((muons2[:, 0], muons2[:, 1]), start=1):
        near = delta_r(others.eta, others.phi, mu.eta, mu.phi) < opts["isolation_dr"]
        out[f"mu{i}_pt"], out[f"mu{i}_eta"], out[f"mu{i}_phi"] = mu.pt, mu.eta, mu.phi
        out[f"mu{i}_energy"], out[f"mu{i}_charge"] = mu.energy, mu.charge
        out[f"mu{i}_iso"] = ak.sum(others.pt[near], axis=1) / mu.pt
        p4.append((mu.pt * np.cos(mu.phi), mu.pt * np.sin(mu.phi), mu.pt * np.sinh(mu.eta), mu.energy))
    px, py, pz, e = (p4[0][k] + p4[1][k] for k in range(4))
    out["m_ll"] = np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))

    sequence = fastjet.ClusterSequence(_cartesian(others), _ANTIKT_04)
    jets = sequence.inclusive_jets(min_pt=opts["jet_pt_min"])
    jet_pt = np.hypot(jets.px, jets.py)
    jet_eta = np.arcsinh(jets.pz / jet_pt)
    jet_pt = jet_pt[abs(jet_eta) < opts["jet_abs_eta_max"]]
    jet_pt = ak.sort(jet_pt, ascending=False)
    out["n_jets"] = ak.num(jet_pt)
    out["jet"] = ak.zip({"pt": jet_pt[:, : opts["max_jets"]]})  # branch jet_pt, counter njet

    out["met"], out["met_phi"] = _missing_et(candidates)
    out["n_vertices"] = n_vertices
    out["gen_z_pt"], out["gen_z_rapidity"], out["gen_z_mass"] = z.pt, z.rapidity, z.mass
    return {"events": out, "n_generated": n}


def zmumu_producer(seed: int, chunk: int, sample: str = "drell_yan_mumu"):
    """Set up Pythia and the pileup library once; returns ``produce(n_events) -> {"events", "n_generated"}``."""
    opts = ZMUMU_OPTIONS
    pythia = make_pythia(sample, pythia_seed(seed, 0, chunk))
    pileup = PileupPool(opts["pileup_mu"], pythia_seed(seed, 1), opts["pileup_library"])
    rng = np.random.default_rng([seed, 0, chunk])
    return lambda n_events: _fill(lambda size: _zmumu_batch(pythia, pileup, size, rng, opts), n_events,
                                  first_batch=2 * n_events + 10)


def make_zmumu_chunk(n_events: int, seed: int, chunk: int, sample: str = "drell_yan_mumu") -> dict:
    """``n_events`` selected Z/gamma* -> mu mu events (with pileup) for chunk ``chunk`` of ``seed``."""
    return zmumu_producer(seed, chunk, sample)(n_events)


def _muon_branches(i: int) -> tuple[Branch, ...]:
    which = "leading" if i == 1 else "subleading"
    return (
        Branch(f"mu{i}_pt", "GeV", f"{which} muon pT"),
        Branch(f"mu{i}_eta", "", f"{which} muon pseudorapidity"),
        Branch(f"mu{i}_phi", "rad", f"{which} muon azimuth"),
        Branch(f"mu{i}_energy", "GeV", f"{which} muon energy"),
        Branch(f"mu{i}_charge", "e", f"{which} muon charge"),
        Branch(f"mu{i}_iso", "", f"{which} muon relative isolation: sum pT of other candidates within dR < 0.4 / muon pT"),
    )


ZMUMU = Recipe(
    name="zmumu",
    tree="events",
    description="Z/gamma* -> mu+ mu- events with jets and pileup (mean 20), the quantities an analysis keeps",
    samples=("drell_yan_mumu",),
    processes={"drell_yan_mumu": PROCESSES["drell_yan_mumu"], "pileup": PROCESSES["minimum_bias"]},
    options=ZMUMU_OPTIONS,
    branches=(
        *_muon_branches(1), *_muon_branches(2),
        Branch("m_ll", "GeV", "dimuon invariant mass"),
        Branch("n_jets", "", "number of anti-kT R = 0.4 jets with pT > 30 GeV, |eta| < 4.7 (muons excluded)"),
        Branch("njet", "", "number of stored jets (counter of jet_pt, at most 5)"),
        Branch("jet_pt", "GeV", "pT of up to five leading jets, decreasing (jagged)"),
        *_MET_BRANCHES,
        Branch("n_vertices", "", "reconstructed vertices (hard scatter + pileup vertices with >= 2 tracks)"),
        Branch("gen_z_pt", "GeV", "generator-level Z/gamma* pT"),
        Branch("gen_z_rapidity", "", "generator-level Z/gamma* rapidity"),
        Branch("gen_z_mass", "GeV", "generator-level Z/gamma* mass"),
    ),
    make_chunk=make_zmumu_chunk,
    chunk_size=1000,
)

# --------------------------------------------------------------------------------------------
# l1_events: what a Level-1 trigger sees, in the layout of the ADC2021 anomaly-detection challenge
# --------------------------------------------------------------------------------------------

#: the Standard-Model cocktail and its proportions after the trigger (those of ADC2021's background)
L1_BACKGROUND_FRACTIONS = {"w_lnu": 0.592, "qcd_heavy_flavour": 0.338, "z_ll": 0.067, "ttbar": 0.003}
L1_SIGNALS = ("scalar_4l", "leptoquark_ctau", "higgs_tautau")
#: share of each signal sample in a generated file (the rest is background, in the proportions above)
L1_SIGNAL_SHARE = 0.05
L1_OPTIONS = dict(pileup_mu=0.0, trigger_lepton_pt=23.0, electron_pt_min=3.0, electron_abs_eta_max=2.5,
                  muon_pt_min=3.0, muon_abs_eta_max=2.1, jet_radius=0.4, jet_pt_min=15.0, jet_abs_eta_max=4.0,
                  max_electrons=4, max_muons=4, max_jets=10)
L1_SAMPLES = (*L1_BACKGROUND_FRACTIONS, *L1_SIGNALS)


def _l1_batch(pythia, n: int, sample: str, rng: np.random.Generator, opts: dict, detector: det.Detector) -> dict:
    record = next_batch(pythia, n)
    candidates, _ = det.simulate(to_truth(final_state(record)), rng, detector)
    electrons = candidates[(candidates.kind == det.KINDS["electron"]) & (candidates.pt > opts["electron_pt_min"])
                           & (abs(candidates.eta) < opts["electron_abs_eta_max"])]
    muons = candidates[(candidates.kind == det.KINDS["muon"]) & (candidates.pt > opts["muon_pt_min"])
                       & (abs(candidates.eta) < opts["muon_abs_eta_max"])]
    trigger = ak.to_numpy(ak.any(electrons.pt > opts["trigger_lepton_pt"], axis=1)
                          | ak.any(muons.pt > opts["trigger_lepton_pt"], axis=1))
    candidates, electrons, muons = candidates[trigger], electrons[trigger], muons[trigger]

    # jets from every candidate but the muons (which leave little in the calorimeters)
    sequence = fastjet.ClusterSequence(_cartesian(candidates[candidates.kind != det.KINDS["muon"]]),
                                       fastjet.JetDefinition(fastjet.antikt_algorithm, opts["jet_radius"]))
    jets = _eta_phi_pt(sequence.inclusive_jets(min_pt=opts["jet_pt_min"]))  # candidates (and leptons) are pT-ordered
    jets = jets[abs(jets.eta) < opts["jet_abs_eta_max"]]

    def objects(array, n_max):
        return ak.zip({"pt": array.pt[:, :n_max], "eta": array.eta[:, :n_max], "phi": array.phi[:, :n_max]})

    met, met_phi = _missing_et(candidates)
    out = {"sample": np.full(int(trigger.sum()), L1_SAMPLES.index(sample), dtype=np.int32),
           "met": met, "met_phi": met_phi,
           "electron": objects(electrons, opts["max_electrons"]), "muon": objects(muons, opts["max_muons"]),
           "jet": objects(jets, opts["max_jets"])}
    return {"events": out, "n_generated": n}


def l1_producer(seed: int, chunk: int, sample: str, detector: det.Detector = det.DEFAULT):
    """Set up Pythia for one sample of ``L1_SAMPLES``; returns ``produce(n_events)`` (triggered events)."""
    if sample not in L1_SAMPLES:
        raise ValueError(f"unknown l1_events sample {sample!r}; samples: {L1_SAMPLES}")
    stream = L1_SAMPLES.index(sample)
    pythia = make_pythia(sample, pythia_seed(seed, stream, chunk))
    rng = np.random.default_rng([seed, stream, chunk])
    return lambda n_events: _fill(lambda size: _l1_batch(pythia, size, sample, rng, L1_OPTIONS, detector),
                                  n_events, first_batch=2 * n_events + 10)


def make_l1_chunk(n_events: int, seed: int, chunk: int, sample: str) -> dict:
    """``n_events`` triggered events of ``sample`` for chunk ``chunk`` of ``seed`` (healthy detector)."""
    return l1_producer(seed, chunk, sample)(n_events)


def _object_branches(name: str, what: str, n_max: int) -> tuple[Branch, ...]:
    return (Branch(f"{name}_pt", "GeV", f"{what} pT, up to {n_max} by decreasing pT (jagged)"),
            Branch(f"{name}_eta", "", f"{what} pseudorapidity (jagged)"),
            Branch(f"{name}_phi", "rad", f"{what} azimuth (jagged)"))


L1_EVENTS = Recipe(
    name="l1_events",
    tree="events",
    description="events behind a single-lepton Level-1 trigger (e or mu, pT > 23 GeV) in the ADC2021 layout: "
                "a Standard-Model cocktail (W, QCD heavy flavour, Z, ttbar) and three new-physics samples",
    samples=L1_SAMPLES,
    processes={sample: PROCESSES[sample] for sample in L1_SAMPLES},
    options={**L1_OPTIONS, "background_fractions": L1_BACKGROUND_FRACTIONS, "signal_share": L1_SIGNAL_SHARE},
    branches=(
        Branch("sample", "", "generated sample: " + ", ".join(f"{i} = {s}" for i, s in enumerate(L1_SAMPLES))),
        *_MET_BRANCHES,
        Branch("nelectron", "", "number of stored electrons (counter)"),
        *_object_branches("electron", "electron (tracked, pT > 3 GeV, |eta| < 2.5)", 4),
        Branch("nmuon", "", "number of stored muons (counter)"),
        *_object_branches("muon", "muon (pT > 3 GeV, |eta| < 2.1)", 4),
        Branch("njet", "", "number of stored jets (counter)"),
        *_object_branches("jet", "anti-kT R = 0.4 jet (pT > 15 GeV, |eta| < 4, muons excluded)", 10),
    ),
    make_chunk=make_l1_chunk,
    fractions={**{s: (1 - L1_SIGNAL_SHARE * len(L1_SIGNALS)) * f for s, f in L1_BACKGROUND_FRACTIONS.items()},
               **{s: L1_SIGNAL_SHARE for s in L1_SIGNALS}},
    labels=L1_SAMPLES,
)

RECIPES = {recipe.name: recipe for recipe in (JETS, ZMUMU, L1_EVENTS)}


# --------------------------------------------------------------------------------------------
# l1_jets: QCD jets as a Level-1 calorimeter trigger sees them, with their true and offline pT
# --------------------------------------------------------------------------------------------

L1_JETS_OPTIONS = dict(pileup_mu=20.0, pileup_library=1000, jet_radius=0.4, gen_pt_min=15.0, gen_abs_eta_max=2.5,
                       jets_per_event=2, seed_match_dr=0.3, offline_match_dr=0.2, offline_pt_min=5.0,
                       window=trigger.WINDOW, seed_threshold_gev=trigger.SEED_THRESHOLD_COUNTS * det.DEFAULT.tower_lsb)


def _nearest(jets: ak.Array, others: ak.Array, max_dr: float):
    """For each jet (jagged, fields eta/phi), the index of the nearest of ``others`` in its event
    within ``max_dr`` (None if there is none)."""
    pairs = ak.cartesian({"j": jets, "o": others}, nested=True)
    dr = delta_r(pairs.j.eta, pairs.j.phi, pairs.o.eta, pairs.o.phi)
    best = ak.argmin(dr, axis=2, keepdims=True)
    best_dr = ak.firsts(dr[best], axis=2)
    return ak.mask(ak.firsts(best, axis=2), ak.fill_none(best_dr < max_dr, False))


def _l1_jets_batch(pythia, pileup: PileupPool, n: int, rng: np.random.Generator, opts: dict,
                   detector: det.Detector) -> dict:
    record, weight = next_batch(pythia, n, weights=True)
    hard = final_state(record)
    absid = abs(hard.id)
    visible = hard[(absid != 12) & (absid != 14) & (absid != 16)]  # neutrinos leave no trace
    jet_definition = fastjet.JetDefinition(fastjet.antikt_algorithm, opts["jet_radius"])
    gen = _eta_phi_pt(fastjet.ClusterSequence(ak.zip({"px": visible.px, "py": visible.py, "pz": visible.pz,
                                                      "E": visible.e}), jet_definition)
                      .inclusive_jets(min_pt=opts["gen_pt_min"]))
    gen = gen[abs(gen.eta) < opts["gen_abs_eta_max"]][:, : opts["jets_per_event"]]

    truth = to_truth(pileup.overlay(hard, rng))
    candidates, n_vertices = det.simulate(truth, rng, detector)
    offline = _eta_phi_pt(fastjet.ClusterSequence(_cartesian(candidates), jet_definition)
                          .inclusive_jets(min_pt=opts["offline_pt_min"]))
    ecal, hcal = det.l1_towers(truth, rng, detector)

    # seeds as jagged lists per event, then the nearest seed to each generator-level jet
    event, i_eta, i_phi = np.nonzero(trigger.seeds(ecal, hcal))
    centre_eta, centre_phi = det.tower_centres(detector)
    per_event = np.bincount(event, minlength=n)
    seed_list = ak.unflatten(ak.zip({"eta": centre_eta[i_eta], "phi": centre_phi[i_phi], "i_eta": i_eta,
                                     "i_phi": i_phi}), per_event)
    seed_pick = _nearest(gen, seed_list, opts["seed_match_dr"])
    offline_pick = _nearest(gen, offline, opts["offline_match_dr"])
    has_seed = ~ak.is_none(seed_pick, axis=1)
    gen, seed_pick, offline_pick = gen[has_seed], seed_pick[has_seed], offline_pick[has_seed]
    seed = ak.flatten(seed_list[ak.drop_none(seed_pick)])
    offline_pt = ak.flatten(ak.fill_none(offline.pt[offline_pick], 0.0))  # a missing index gives None: 0 GeV
    jet_event = np.repeat(np.arange(n), ak.to_numpy(ak.num(gen)))
    i_eta, i_phi = ak.to_numpy(seed.i_eta), ak.to_numpy(seed.i_phi)
    active_towers = ((ecal > 0) | (hcal > 0)).sum(axis=(1, 2))
    out = {
        "weight": weight[jet_event],
        "gen_pt": ak.flatten(gen.pt), "gen_eta": ak.flatten(gen.eta), "gen_phi": ak.flatten(gen.phi),
        "offline_pt": offline_pt,
        "seed_ieta": i_eta.astype(np.int32), "seed_iphi": i_phi.astype(np.int32),
        "n_vertices": n_vertices[jet_event], "n_towers": active_towers[jet_event].astype(np.int32),
        "towers_ecal": trigger.windows(ecal, jet_event, i_eta, i_phi),
        "towers_hcal": trigger.windows(hcal, jet_event, i_eta, i_phi),
    }
    return {"events": out, "n_generated": n}


def l1_jets_producer(seed: int, chunk: int, sample: str = "qcd_dijet", detector: det.Detector = det.DEFAULT):
    """Set up Pythia and the pileup library once; returns ``produce(n_jets)`` (matched jets)."""
    opts = L1_JETS_OPTIONS
    pythia = make_pythia(sample, pythia_seed(seed, 0, chunk))
    pileup = PileupPool(opts["pileup_mu"], pythia_seed(seed, 1), opts["pileup_library"])
    rng = np.random.default_rng([seed, 0, chunk])
    return lambda n_jets: _fill(lambda size: _l1_jets_batch(pythia, pileup, size, rng, opts, detector), n_jets,
                                first_batch=n_jets // 2 + 10)


def make_l1_jets_chunk(n_events: int, seed: int, chunk: int, sample: str = "qcd_dijet") -> dict:
    """``n_events`` jets (up to two per Pythia event) for chunk ``chunk`` of ``seed``."""
    return l1_jets_producer(seed, chunk, sample)(n_events)


L1_JETS = Recipe(
    name="l1_jets",
    tree="jets",
    description="QCD jets (pT-hat 20-600 GeV, pileup mean 20) as the Level-1 calorimeter trigger sees them: "
                "9 x 9 ECAL and HCAL towers around the seed, with the true (generator-level) and offline jet pT",
    samples=("qcd_dijet",),
    processes={"qcd_dijet": PROCESSES["qcd_dijet"], "pileup": PROCESSES["minimum_bias"]},
    options=L1_JETS_OPTIONS,
    branches=(
        Branch("weight", "", "Pythia event weight undoing the flat-in-log pT-hat sampling (bias2Selection, "
                             "power 4, reference 20 GeV): weighted jets follow the QCD spectrum"),
        Branch("gen_pt", "GeV", "generator-level jet pT (anti-kT R = 0.4, visible hard-scatter particles): the target"),
        Branch("gen_eta", "", "generator-level jet pseudorapidity (|eta| < 2.5)"),
        Branch("gen_phi", "rad", "generator-level jet azimuth"),
        Branch("offline_pt", "GeV", "pT of the matched (dR < 0.2) offline particle-flow jet, anti-kT R = 0.4, "
                                    "charged pileup removed; 0 when none"),
        Branch("seed_ieta", "", "eta index of the seed tower (0-67; eta = (ieta - 33.5) * 0.087)"),
        Branch("seed_iphi", "", "phi index of the seed tower (0-71; phi = -pi + (iphi + 0.5) * 2 pi / 72)"),
        Branch("n_vertices", "", "reconstructed vertices of the event (hard scatter + pileup with >= 2 tracks)"),
        Branch("n_towers", "", "towers with ET >= 0.5 GeV in the event (the trigger's own pileup estimate)"),
        Branch("towers_ecal", "0.5 GeV", "ECAL tower ET in the 9 x 9 window around the seed, integer counts "
                                         "of 0.5 GeV (eta, phi)"),
        Branch("towers_hcal", "0.5 GeV", "HCAL tower ET in the 9 x 9 window around the seed, integer counts "
                                         "of 0.5 GeV (eta, phi)"),
    ),
    make_chunk=make_l1_jets_chunk,
    chunk_size=1000,
)

RECIPES["l1_jets"] = L1_JETS
