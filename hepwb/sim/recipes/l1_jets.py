"""The ``l1_jets`` dataset: QCD jets as a Level-1 calorimeter trigger sees them (9 x 9 ECAL and HCAL towers
around the seed), with their true (generator-level) and offline pT."""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np
import vector

from hepwb.constants import SMALL_JET_RADIUS
from hepwb.sim import detector as det
from hepwb.sim import trigger
from hepwb.sim.pythia import PROCESSES, PileupPool, make_pythia, pythia_seed, truth_batch
from hepwb.sim.recipes.base import Branch, Recipe, by_decreasing_pt, fill, momenta, nearest

L1_JETS_OPTIONS = dict(pileup_mu=20.0, pileup_library=1000, jet_radius=SMALL_JET_RADIUS, gen_pt_min=15.0,
                       gen_abs_eta_max=2.5,
                       jets_per_event=2, seed_match_dr=0.3, offline_match_dr=0.2, offline_pt_min=5.0,
                       window=trigger.WINDOW, seed_threshold_gev=trigger.SEED_THRESHOLD_COUNTS * det.DEFAULT.tower_lsb)


def _l1_jets_batch(pythia, pileup: PileupPool, n: int, rng: np.random.Generator, opts: dict,
                   detector: det.Detector) -> dict:
    batch = truth_batch(pythia, n, pileup=pileup, rng=rng)
    absid = abs(batch.hard.id)
    visible = batch.hard[(absid != 12) & (absid != 14) & (absid != 16)]  # neutrinos leave no trace
    jet_definition = fastjet.JetDefinition(fastjet.antikt_algorithm, opts["jet_radius"])
    gen = by_decreasing_pt(fastjet.ClusterSequence(vector.zip({"px": visible.px, "py": visible.py, "pz": visible.pz,
                                                               "E": visible.e}), jet_definition)
                           .inclusive_jets(min_pt=opts["gen_pt_min"]))
    gen = gen[abs(gen.eta) < opts["gen_abs_eta_max"]][:, : opts["jets_per_event"]]

    candidates, n_vertices = det.simulate(batch.truth, rng, detector)
    offline = by_decreasing_pt(fastjet.ClusterSequence(momenta(candidates), jet_definition)
                               .inclusive_jets(min_pt=opts["offline_pt_min"]))
    ecal, hcal = det.l1_towers(batch.truth, rng, detector)

    # seeds as jagged lists per event, then the nearest seed to each generator-level jet
    event, i_eta, i_phi = np.nonzero(trigger.seeds(ecal, hcal))
    centre_eta, centre_phi = det.tower_centres(detector)
    per_event = np.bincount(event, minlength=n)
    seed_list = ak.unflatten(ak.zip({"eta": centre_eta[i_eta], "phi": centre_phi[i_phi],
                                     "i_eta": i_eta, "i_phi": i_phi}), per_event)
    seed_pick = nearest(gen, seed_list, opts["seed_match_dr"])
    offline_pick = nearest(gen, offline, opts["offline_match_dr"])
    has_seed = ~ak.is_none(seed_pick, axis=1)
    gen, seed_pick, offline_pick = gen[has_seed], seed_pick[has_seed], offline_pick[has_seed]
    seed = ak.flatten(seed_list[ak.drop_none(seed_pick)])
    offline_pt = ak.flatten(ak.fill_none(offline.pt[offline_pick], 0.0))  # a missing index gives None: 0 GeV
    jet_event = np.repeat(np.arange(n), ak.to_numpy(ak.num(gen)))
    i_eta, i_phi = ak.to_numpy(seed.i_eta), ak.to_numpy(seed.i_phi)
    active_towers = ((ecal > 0) | (hcal > 0)).sum(axis=(1, 2))
    out = {
        "weight": batch.weights[jet_event],
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
    return lambda n_jets: fill(lambda size: _l1_jets_batch(pythia, pileup, size, rng, opts, detector), n_jets,
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
