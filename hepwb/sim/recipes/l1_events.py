"""The ``l1_events`` dataset: what a Level-1 trigger sees, in the layout of the ADC2021 anomaly-detection
challenge: a Standard-Model cocktail behind a single-lepton trigger, and three new-physics samples."""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np

from hepwb.constants import SMALL_JET_RADIUS
from hepwb.sim import detector as det
from hepwb.sim.pythia import PROCESSES, make_pythia, pythia_seed, truth_batch
from hepwb.sim.recipes.base import MET_BRANCHES, Branch, Recipe, by_decreasing_pt, fill, missing_et, momenta

#: the Standard-Model cocktail and its proportions after the trigger (those of ADC2021's background)
L1_BACKGROUND_FRACTIONS = {"w_lnu": 0.592, "qcd_heavy_flavour": 0.338, "z_ll": 0.067, "ttbar": 0.003}
L1_SIGNALS = ("scalar_4l", "leptoquark_ctau", "higgs_tautau")
#: share of each signal sample in a generated file (the rest is background, in the proportions above)
L1_SIGNAL_SHARE = 0.05
L1_OPTIONS = dict(pileup_mu=0.0, trigger_lepton_pt=23.0, electron_pt_min=3.0, electron_abs_eta_max=2.5,
                  muon_pt_min=3.0, muon_abs_eta_max=2.1, jet_radius=SMALL_JET_RADIUS, jet_pt_min=15.0,
                  jet_abs_eta_max=4.0,
                  max_electrons=4, max_muons=4, max_jets=10)
L1_SAMPLES = (*L1_BACKGROUND_FRACTIONS, *L1_SIGNALS)


def _l1_batch(pythia, n: int, sample: str, rng: np.random.Generator, opts: dict, detector: det.Detector) -> dict:
    candidates, _ = det.simulate(truth_batch(pythia, n).truth, rng, detector)
    electrons = candidates[(candidates.kind == det.KINDS["electron"]) & (candidates.pt > opts["electron_pt_min"])
                           & (abs(candidates.eta) < opts["electron_abs_eta_max"])]
    muons = candidates[(candidates.kind == det.KINDS["muon"]) & (candidates.pt > opts["muon_pt_min"])
                       & (abs(candidates.eta) < opts["muon_abs_eta_max"])]
    trigger = ak.to_numpy(ak.any(electrons.pt > opts["trigger_lepton_pt"], axis=1)
                          | ak.any(muons.pt > opts["trigger_lepton_pt"], axis=1))
    candidates, electrons, muons = candidates[trigger], electrons[trigger], muons[trigger]

    # jets from every candidate but the muons (which leave little in the calorimeters)
    sequence = fastjet.ClusterSequence(momenta(candidates[candidates.kind != det.KINDS["muon"]]),
                                       fastjet.JetDefinition(fastjet.antikt_algorithm, opts["jet_radius"]))
    jets = by_decreasing_pt(sequence.inclusive_jets(min_pt=opts["jet_pt_min"]))  # candidates are pT-ordered
    jets = jets[abs(jets.eta) < opts["jet_abs_eta_max"]]

    def objects(array, n_max):
        return ak.zip({"pt": array.pt[:, :n_max], "eta": array.eta[:, :n_max], "phi": array.phi[:, :n_max]})

    met, met_phi = missing_et(candidates)
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
    return lambda n_events: fill(lambda size: _l1_batch(pythia, size, sample, rng, L1_OPTIONS, detector),
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
        *MET_BRANCHES,
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
