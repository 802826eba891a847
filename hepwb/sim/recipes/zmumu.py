"""The ``zmumu`` dataset: Z/gamma* -> mu+ mu- events with jets and pileup, the quantities an analysis keeps."""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np

from hepwb.constants import SMALL_JET_RADIUS
from hepwb.sim import detector as det
from hepwb.sim.pythia import PROCESSES, PileupPool, hard_process, make_pythia, pythia_seed, truth_batch
from hepwb.sim.recipes.base import MET_BRANCHES, Branch, Recipe, directions, fill, missing_et, momenta

ZMUMU_OPTIONS = dict(pileup_mu=20.0, pileup_library=1000, muon_pt_min=(20.0, 10.0), isolation_dr=0.4,
                     jet_radius=SMALL_JET_RADIUS, jet_pt_min=30.0, jet_abs_eta_max=4.7, max_jets=5)
_ANTIKT = fastjet.JetDefinition(fastjet.antikt_algorithm, SMALL_JET_RADIUS)


def _zmumu_batch(pythia, pileup: PileupPool, n: int, rng: np.random.Generator, opts: dict) -> dict:
    batch = truth_batch(pythia, n, pileup=pileup, rng=rng)
    hard = hard_process(batch.record)
    z = ak.firsts(hard[(hard.status == -62) & (hard.id == 23)])
    candidates, n_vertices = det.simulate(batch.truth, rng)
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
    for i, mu in enumerate((muons2[:, 0], muons2[:, 1]), start=1):
        near = directions(others).deltaR(directions(mu)) < opts["isolation_dr"]
        out[f"mu{i}_pt"], out[f"mu{i}_eta"], out[f"mu{i}_phi"] = mu.pt, mu.eta, mu.phi
        out[f"mu{i}_energy"], out[f"mu{i}_charge"] = mu.energy, mu.charge
        out[f"mu{i}_iso"] = ak.sum(others.pt[near], axis=1) / mu.pt
    out["m_ll"] = np.maximum((momenta(muons2[:, 0]) + momenta(muons2[:, 1])).mass, 0.0)

    jets = fastjet.ClusterSequence(momenta(others), _ANTIKT).inclusive_jets(min_pt=opts["jet_pt_min"])
    jet_pt = ak.sort(jets.pt[abs(jets.eta) < opts["jet_abs_eta_max"]], ascending=False)
    out["n_jets"] = ak.num(jet_pt)
    out["jet"] = ak.zip({"pt": jet_pt[:, : opts["max_jets"]]})  # branch jet_pt, counter njet

    out["met"], out["met_phi"] = missing_et(candidates)
    out["n_vertices"] = n_vertices
    out["gen_z_pt"], out["gen_z_rapidity"], out["gen_z_mass"] = z.pt, z.rapidity, z.mass
    return {"events": out, "n_generated": n}


def zmumu_producer(seed: int, chunk: int, sample: str = "drell_yan_mumu"):
    """Set up Pythia and the pileup library once; returns ``produce(n_events) -> {"events", "n_generated"}``."""
    opts = ZMUMU_OPTIONS
    pythia = make_pythia(sample, pythia_seed(seed, 0, chunk))
    pileup = PileupPool(opts["pileup_mu"], pythia_seed(seed, 1), opts["pileup_library"])
    rng = np.random.default_rng([seed, 0, chunk])
    return lambda n_events: fill(lambda size: _zmumu_batch(pythia, pileup, size, rng, opts), n_events,
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
        Branch(f"mu{i}_iso", "", f"{which} muon relative isolation: sum pT of other candidates "
                                 "within dR < 0.4 / muon pT"),
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
        *MET_BRANCHES,
        Branch("n_vertices", "", "reconstructed vertices (hard scatter + pileup vertices with >= 2 tracks)"),
        Branch("gen_z_pt", "GeV", "generator-level Z/gamma* pT"),
        Branch("gen_z_rapidity", "", "generator-level Z/gamma* rapidity"),
        Branch("gen_z_mass", "GeV", "generator-level Z/gamma* mass"),
    ),
    make_chunk=make_zmumu_chunk,
    chunk_size=1000,
)
