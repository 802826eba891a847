"""The ``jets`` dataset: one boosted jet per event from gluons, light quarks, W, Z and top quarks
(the hls4ml jet-tagging benchmark), with its 16 substructure features and up to 50 constituents."""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np

from hepwb.constants import LARGE_JET_RADIUS, MAX_CONSTITUENTS
from hepwb.sim import detector as det
from hepwb.sim.features import HLS4ML_FEATURES, hls4ml_features
from hepwb.sim.pythia import PROCESSES, hard_process, make_pythia, pythia_seed, truth_batch
from hepwb.sim.recipes.base import NOMINAL, Branch, Recipe, Variation, directions, fill, momenta

JET_CLASSES = ("gluon", "light_quark", "W", "Z", "top")
#: the hard process's pT window: the jets are selected at 800-1200 GeV
JET_KINEMATICS = ("PhaseSpace:pTHatMin = 900.", "PhaseSpace:pTHatMax = 1100.")
_JET_PROCESS = {"gluon": "qcd_gluon", "light_quark": "qcd_light_quark", "W": "w_hadronic",
                "Z": "z_hadronic", "top": "ttbar_hadronic"}
JETS_OPTIONS = dict(radius=LARGE_JET_RADIUS, pt_min=800.0, pt_max=1200.0, abs_eta_max=2.0, match_dr=0.6,
                    max_constituents=MAX_CONSTITUENTS, pileup_mu=0.0, grooming="mMDT zcut=0.1 beta=0")
_ANTIKT = fastjet.JetDefinition(fastjet.antikt_algorithm, LARGE_JET_RADIUS)


def _is_target(hard: ak.Array, jet_class: str) -> ak.Array:
    """Which hard-process objects a jet of ``jet_class`` must come from."""
    absid = abs(hard.id)
    if jet_class == "gluon":
        return (hard.status == -23) & (absid == 21)
    if jet_class == "light_quark":
        return (hard.status == -23) & (absid >= 1) & (absid <= 3)
    return (hard.status == -62) & (absid == {"W": 24, "Z": 23, "top": 6}[jet_class])


def _jets_batch(pythia, n: int, jet_class: str, rng: np.random.Generator, opts: dict,
                detector: det.Detector | None = det.DEFAULT) -> dict:
    batch = truth_batch(pythia, n)
    targets = hard_process(batch.record)
    targets = targets[_is_target(targets, jet_class)]
    candidates, _ = det.particle_level(batch.truth) if detector is None else det.simulate(batch.truth, rng, detector)
    sequence = fastjet.ClusterSequence(momenta(candidates), _ANTIKT)
    jets = sequence.inclusive_jets(min_pt=opts["pt_min"] * 0.5)  # vector records: .pt, .eta, .mass
    index = sequence.constituent_index(min_pt=opts["pt_min"] * 0.5)
    # each jet's distance to the nearest target object of its class
    pairs = ak.cartesian({"j": directions(jets), "t": directions(targets)}, nested=True)
    dr = ak.min(pairs.j.deltaR(pairs.t), axis=2)
    good = ((ak.fill_none(dr, np.inf) < opts["match_dr"]) & (jets.pt > opts["pt_min"]) & (jets.pt < opts["pt_max"])
            & (abs(jets.eta) < opts["abs_eta_max"]))
    # the leading good jet of each event (inclusive_jets are not pT-ordered)
    order = ak.argsort(jets.pt, ascending=False)
    good_ordered = good[order]
    first = ak.firsts(ak.local_index(good_ordered)[good_ordered])
    has_jet = ~ak.is_none(first)
    pick = order[has_jet][ak.singletons(first[has_jet])]

    def chosen(array):  # the picked jet's entry, without an option type
        return ak.drop_none(ak.firsts(array[has_jet][pick]), axis=0)

    jet, constituent_index = chosen(jets), chosen(index)
    constituents = candidates[has_jet][constituent_index]
    constituents = constituents[ak.argsort(constituents.pt, ascending=False)]
    n_max = opts["max_constituents"]
    out = {
        "label": np.full(len(jet), JET_CLASSES.index(jet_class), dtype=np.int32),
        "jet_pt": jet.pt, "jet_eta": jet.eta, "jet_phi": jet.phi, "jet_mass": np.maximum(jet.mass, 0.0),
        "jet_energy": jet.E, **hls4ml_features(momenta(constituents)),
        # one record so that uproot writes the jagged branches const_* with one counter, nconst
        "const": ak.zip({"pt": constituents.pt[:, :n_max], "deta": (constituents.eta - jet.eta)[:, :n_max],
                         "dphi": directions(constituents).deltaphi(directions(jet))[:, :n_max],
                         "energy": constituents.energy[:, :n_max], "charge": constituents.charge[:, :n_max]}),
    }
    return {"events": out, "n_generated": n}


def make_jets_chunk(n_events: int, seed: int, chunk: int, sample: str, variation: Variation = NOMINAL) -> dict:
    """``n_events`` labelled jets of class ``sample`` for chunk number ``chunk`` of ``seed``, in the
    world of ``variation`` (the same seed gives the same Pythia events unless it changes Pythia)."""
    stream = JET_CLASSES.index(sample)
    pythia = make_pythia(_JET_PROCESS[sample], pythia_seed(seed, stream, chunk), (*JET_KINEMATICS, *variation.pythia))
    rng = np.random.default_rng([seed, stream, chunk])
    detector = variation.make_detector()
    return fill(lambda size: _jets_batch(pythia, size, sample, rng, JETS_OPTIONS, detector), n_events,
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
    Branch("nconst", "", f"number of stored constituents (counter of the const_* branches; "
                         f"at most {MAX_CONSTITUENTS}, multiplicity has them all)"),
    Branch("const_pt", "GeV", f"constituent pT, up to {MAX_CONSTITUENTS} per jet, decreasing pT (jagged)"),
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
    processes={c: (*PROCESSES[_JET_PROCESS[c]], *JET_KINEMATICS) for c in JET_CLASSES},
    options=JETS_OPTIONS,
    branches=_JET_BRANCHES,
    make_chunk=make_jets_chunk,
    labels=JET_CLASSES,
)


def selected_cross_section(sample: str, n_events: int = 1000, seed: int = 1) -> dict:
    """Pythia's cross-section of ``sample``'s process in the jets' pT-hat window, times the share of its
    events with a selected jet (800-1200 GeV, matched, |eta| < 2): what a luminosity turns into a jet count.

    Returns ``sigma_fb`` (Pythia's sigmaGen, decays included), its Monte-Carlo error, ``efficiency`` and
    ``selected_fb`` (= sigma x efficiency), from ``n_events`` generated events.
    """
    stream = JET_CLASSES.index(sample)
    pythia = make_pythia(_JET_PROCESS[sample], pythia_seed(seed, stream, 999), JET_KINEMATICS)
    selected = _jets_batch(pythia, n_events, sample, np.random.default_rng([seed, stream]), JETS_OPTIONS)
    info = pythia.infoPython()
    femtobarn_per_millibarn = 1e12
    efficiency = len(selected["events"]["label"]) / n_events
    sigma = info.sigmaGen() * femtobarn_per_millibarn
    return {"sigma_fb": sigma, "sigma_error_fb": info.sigmaErr() * femtobarn_per_millibarn,
            "efficiency": efficiency, "selected_fb": sigma * efficiency}
