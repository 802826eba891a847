"""From a selection or a score to a measurement: templates and a HistFactory workspace (``inference`` fits it).

The signal strength mu (the measured W/Z-jet rate over the predicted) comes from a binned profile-likelihood
fit (pyhf): per bin, Poisson(n | mu s + b), with nuisance parameters for what the simulation does not know,
each constrained by a Gaussian. The systematic variations are real samples: the same analysis on jets
simulated with the calorimeter scale shifted, the tracking efficiency lowered, another Pythia tune (or the
nominal jets reweighted to it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepwb.models.reweighting import REWEIGHTERS
from hepwb.samples.worlds import PROCESSES, WorldJets
from hepwb.sim.recipes import JET_CLASSES

#: Pythia's cross-section x the share of events with a selected jet [fb], per jet class:
#: ``python benchmarks/cross_sections.py`` (docs/results/jet-cross-sections.json), rounded
SELECTED_CROSS_SECTIONS_FB = {"gluon": 2189.0, "light_quark": 4324.0, "W": 47.29, "Z": 20.54, "top": 15.40}
#: prior uncertainties of the background normalisations (Pythia's leading-order cross-sections) and the luminosity
BACKGROUND_NORMS = {"QCD": 0.20, "top": 0.10}
LUMI_UNCERTAINTY = 0.017
#: a variation's shape is fitted only where it differs from the nominal beyond the samples' noise at this
#: p-value; otherwise only its normalisation is (the pruning analyses do, so that noise is not fitted)
SHAPE_P_VALUE = 0.01


#: the observables the reweighters see (with the jet's class); the others judge them
REWEIGHTING_INPUTS = ("mass_mmdt", "multiplicity", "zlogz", "c2_b1_mmdt", "d2_b1_mmdt", "n2_b1_mmdt", "jet_pt")
#: the worlds a measurement knows, and the settings that choose how the tune variation is made
WORLDS = ("calo_up", "calo_down", "tracking_down", "tune_a14")
TUNE_FROM = ("reweighting", "sample")


@dataclass(frozen=True)
class Systematic:
    """One systematic uncertainty: the world that makes its +1 sigma variation, the one that makes -1 sigma
    (None: the up variation mirrored around the nominal), and what it means in one sentence."""

    up: str
    down: str | None
    meaning: str


SYSTEMATICS = {
    "jet_energy_scale": Systematic(
        "calo_up", "calo_down", "The calorimeter may measure energies 5 % too high or too low: every jet's mass "
        "and substructure move, so jets enter or leave the mass window and the score changes."),
    "tracking_efficiency": Systematic(
        "tracking_down", None, "The tracker may find 10 % fewer charged particles than simulated: jets have fewer "
        "constituents, which changes multiplicity-like features and the mass."),
    "pythia_tune": Systematic(
        "tune_a14", None, "Another set of Pythia parameters (the A14 tune) describes the underlying event and "
        "showering differently: the jets' radiation pattern, not the detector, changes."),
}


@dataclass
class Templates:
    """Expected counts of one observable's bins. ``nominal[process]`` and ``variance[process]`` (sum of squared
    weights) shape (bins,); ``variations[systematic][process]`` = (up, down), each (bins,);
    ``shape_significance[systematic][process]``: the p-value of the shape change against the statistical noise
    of the samples that made it (a shape part enters the fit only below ``SHAPE_P_VALUE``)."""

    edges: np.ndarray
    label: str
    nominal: dict
    variance: dict
    variations: dict
    shape_p_values: dict

    def total(self) -> np.ndarray:
        return sum(self.nominal.values())


def histogram(values, weights, edges) -> tuple[np.ndarray, np.ndarray]:
    """Sum of weights and of squared weights per bin of ``edges`` (NaN values are not counted; none outside)."""
    import hist

    h = hist.Hist(hist.axis.Variable(edges, underflow=False, overflow=False), storage=hist.storage.Weight())
    keep = np.isfinite(values)
    h.fill(np.asarray(values)[keep], weight=np.asarray(weights)[keep])
    return h.values().copy(), h.variances().copy()


def make_templates(values: dict, jets: dict[str, WorldJets], edges, *, luminosity_fb: float,
                   systematics: dict[str, Systematic] | None = None, label: str = "",
                   reweighted: dict[str, np.ndarray] | None = None) -> Templates:
    """Templates of an observable from every world.

    ``jets`` holds the worlds by name: ``nominal`` (the large sample the templates come from), ``reference``
    (nominal simulation of the same Pythia events as the detector-shifted worlds) and the shifted worlds.
    ``values[world]``: the observable of each jet of ``jets[world]`` (NaN where a jet is not selected). A shifted
    world changes the nominal templates bin by bin by its ratio to the reference: most of the small samples'
    statistical noise cancels in the ratio (when the reference is the nominal sample, the shifted templates are
    the shifted world's own). ``reweighted``: world -> weights (n,) for the nominal jets that stand in for
    that world (a reweighter's output); such a world needs no sample of its own.
    """
    systematics = SYSTEMATICS if systematics is None else systematics
    reweighted = reweighted or {}

    def yields(world, extra_weights=1.0):
        source = "nominal" if world in reweighted else world
        weights = jets[source].weights(luminosity_fb, SELECTED_CROSS_SECTIONS_FB) * extra_weights
        process = jets[source].process()
        return {p: histogram(values[source][process == p], weights[process == p], edges) for p in PROCESSES}

    nominal = yields("nominal")
    reference = yields("reference") if "reference" in jets else nominal

    def shifted(world) -> dict:
        """process -> (shifted nominal templates, p-value of the shape change)"""
        base = nominal if world in reweighted else reference
        changed = yields(world, reweighted[world]) if world in reweighted else yields(world)
        out = {}
        for p in PROCESSES:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(base[p][0] > 0, changed[p][0] / base[p][0], 1.0)
            out[p] = (nominal[p][0] * ratio, shape_p_value(changed[p], base[p]))
        return out

    variations, p_values = {}, {}
    for name, syst in systematics.items():
        missing = [w for w in (syst.up, syst.down) if w and w not in jets and w not in reweighted]
        if missing:
            raise ValueError(f"systematic {name!r} needs the world(s) {missing}; have {sorted(jets)}")
        up = shifted(syst.up)
        down = shifted(syst.down) if syst.down else {
            p: (np.maximum(2 * nominal[p][0] - up[p][0], 0.0), up[p][1]) for p in PROCESSES}
        variations[name] = {p: (up[p][0], down[p][0]) for p in PROCESSES}
        p_values[name] = {p: min(up[p][1], down[p][1]) for p in PROCESSES}
    return Templates(np.asarray(edges, dtype=float), label, {p: v[0] for p, v in nominal.items()},
                     {p: v[1] for p, v in nominal.items()}, variations, p_values)


def shape_p_value(changed, base) -> float:
    """p-value of the χ² of two normalised histograms ((counts, variances) each) against their statistical
    noise: small when the shapes differ beyond what the samples' sizes explain."""
    from scipy.stats import chi2

    (a, var_a), (b, var_b) = changed, base
    if a.sum() <= 0 or b.sum() <= 0 or len(a) < 2:
        return 1.0
    variance = var_a / a.sum() ** 2 + var_b / b.sum() ** 2
    used = variance > 0
    statistic = np.sum((a[used] / a.sum() - b[used] / b.sum()) ** 2 / variance[used])
    return float(chi2.sf(statistic, max(used.sum() - 1, 1)))


def workspace(templates: Templates, *, systematics: bool = True, mc_stat: bool = True, data=None) -> dict:
    """A pyhf workspace specification (JSON-like dict) of one channel ``SR``.

    Signal: free normalisation mu. Backgrounds: QCD and top with normalisation priors (``BACKGROUND_NORMS``).
    All: luminosity (``LUMI_UNCERTAINTY``). With ``systematics``: each systematic as one nuisance parameter that
    moves a normalisation part (normsys) and a shape part (histosys; left out where its p-value is above
    ``SHAPE_P_VALUE`` or it changes no bin by 0.1 % of the largest).
    With ``mc_stat``: the simulation's statistical uncertainty per bin (staterror). ``data``: the observed
    counts (bins,); None: the expected counts at mu = 1 (Asimov data).
    """
    samples = []
    for process, counts in templates.nominal.items():
        counts = np.maximum(counts, 1e-6)  # HistFactory needs positive expectations in every bin
        modifiers = [{"name": "lumi", "type": "lumi", "data": None}]
        if process == "signal":
            modifiers.append({"name": "mu", "type": "normfactor", "data": None})
        else:
            prior = BACKGROUND_NORMS[process]
            modifiers.append({"name": f"{process}_norm", "type": "normsys", "data": {"hi": 1 + prior, "lo": 1 - prior}})
        if mc_stat:
            modifiers.append({"name": "staterror_SR", "type": "staterror",
                              "data": np.sqrt(templates.variance[process]).tolist()})
        for name, by_process in (templates.variations.items() if systematics else ()):
            shape = templates.shape_p_values[name][process] < SHAPE_P_VALUE
            modifiers.extend(_variation_modifiers(name, counts, *by_process[process], shape=shape))
        samples.append({"name": process, "data": counts.tolist(), "modifiers": modifiers})
    observed = templates.total() if data is None else np.asarray(data, dtype=float)
    return {
        "channels": [{"name": "SR", "samples": samples}],
        "observations": [{"name": "SR", "data": observed.tolist()}],
        "measurements": [{"name": "measurement", "config": {"poi": "mu", "parameters": [
            {"name": "lumi", "auxdata": [1.0], "sigmas": [LUMI_UNCERTAINTY], "bounds": [[0.8, 1.2]], "inits": [1.0]},
            {"name": "mu", "bounds": [[0.0, 50.0]], "inits": [1.0]}]}}],
        "version": "1.0.0",
    }


def _variation_modifiers(name: str, nominal, up, down, *, shape: bool = True) -> list[dict]:
    """A variation split as cabinetry does: the change of the total (normsys) and of the shape (histosys), both
    moved by the one nuisance parameter ``name``."""
    total = nominal.sum()
    up_total, down_total = max(up.sum(), 1e-9), max(down.sum(), 1e-9)
    modifiers = [{"name": name, "type": "normsys", "data": {"hi": up_total / total, "lo": down_total / total}}]
    up_shape, down_shape = up * total / up_total, down * total / down_total
    if shape and max(np.max(np.abs(up_shape - nominal)), np.max(np.abs(down_shape - nominal))) > 1e-3 * nominal.max():
        modifiers.append({"name": name, "type": "histosys",
                          "data": {"hi_data": np.maximum(up_shape, 1e-6).tolist(),
                                   "lo_data": np.maximum(down_shape, 1e-6).tolist()}})
    return modifiers


def check_settings(shifted_datasets: dict, *, tune_from: str, reweighter: str, luminosity_fb: float) -> None:
    """One clear ValueError for a notebook setting that cannot work, before anything is read."""
    unknown = sorted(set(shifted_datasets) - set(WORLDS))
    if unknown:
        raise ValueError(f"unknown world(s) {unknown} in shifted_datasets; known: {list(WORLDS)}")
    needed = {s.up for s in SYSTEMATICS.values()}
    missing = sorted(needed - set(shifted_datasets))
    if missing:
        raise ValueError(f"shifted_datasets lacks {missing}: each systematic needs its up world {sorted(needed)}")
    if tune_from not in TUNE_FROM:
        raise ValueError(f"tune_from must be one of {list(TUNE_FROM)}, got {tune_from!r}")
    if reweighter not in REWEIGHTERS:
        raise ValueError(f"reweighter must be one of {list(REWEIGHTERS)}, got {reweighter!r}")
    if isinstance(luminosity_fb, bool) or not isinstance(luminosity_fb, (int, float)) or not luminosity_fb > 0:
        raise ValueError(f"luminosity_fb must be a positive number (fb^-1), got {luminosity_fb!r}")


def systematics_for(worlds) -> dict[str, Systematic]:
    """``SYSTEMATICS`` with a down world that is not among ``worlds`` mirrored (down = None)."""
    return {name: Systematic(s.up, s.down if s.down in worlds else None, s.meaning) for name, s in SYSTEMATICS.items()}


def reweighting_features(jets: WorldJets) -> np.ndarray:
    """What a reweighter sees of each jet: ``REWEIGHTING_INPUTS`` and its class one-hot, shape (n, 12)."""
    return np.column_stack([jets.table(REWEIGHTING_INPUTS).to_numpy(), np.eye(len(JET_CLASSES))[jets.labels]])


def expected_jets(luminosity_fb: float):
    """Per jet class: the selected cross-section [fb] and the jets expected at ``luminosity_fb`` (a DataFrame)."""
    import pandas as pd

    sigma = pd.Series(SELECTED_CROSS_SECTIONS_FB)
    return pd.DataFrame({"selected σ [fb]": sigma, f"jets in {luminosity_fb:g} fb⁻¹": sigma * luminosity_fb})


def prediction_stacks(model, prediction) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A cabinetry ``ModelPrediction`` of the one channel as {process: counts (bins,)} and the total
    uncertainty per bin (bins,)."""
    stacks = {name: np.asarray(prediction.model_yields[0][i]) for i, name in enumerate(model.config.samples)}
    return stacks, np.asarray(prediction.total_stdev_model_bins[0][-1])
