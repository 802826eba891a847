"""The results page (``docs/results.md``) written from a ``hepwb run`` summary, so it cannot drift.

``hepwb run --preset full --out results/full`` leaves ``results/full/summary.json``: every notebook's
status, parameters and ``metrics.json``. ``hepwb results results/full`` keeps a copy of it beside the
page (``docs/results/full-summary.json``, machine paths removed) and writes the page's tables from
it; a test renders the copy again and compares, so the page always shows what a run computed.
Every notebook of ``notebooks/`` has a section here, and every section shows its notebook's headline
metrics: a run that lacks a notebook, or a notebook or headline metric without a place, is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from hepwb import PROJECT_DIR
from hepwb.constants import BUNCH_CROSSING_RATE_HZ
from hepwb.data import atomic_path
from hepwb.notebook import metric_key
from hepwb.run.batch import notebook_paths

DOCS = PROJECT_DIR / "docs"
PAGE = DOCS / "results.md"
SUMMARY_COPY = DOCS / "results" / "full-summary.json"

CLASSES = ("gluon", "light_quark", "W", "Z", "top")
TAGGERS = {"hls4ml": "hls4ml tagger", "bdt": "gradient-boosted trees", "pfn": "particle-flow network",
           "cnn": "jet-image CNN", "particlenet": "graph network (ParticleNet-style)",
           "part": "particle transformer (ParT-style)"}


def load(run_dir: str | Path) -> list[dict]:
    """The results of a ``hepwb run`` (its ``summary.json``), without machine paths."""
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no summary.json; make one with: hepwb run --preset full --out {run_dir}")
    results = json.loads(path.read_text())
    for result in results:
        result.get("parameters", {}).pop("output_dir", None)  # an absolute path of the machine that ran it
        if result.get("error"):
            result["error"] = result["error"].split(": ", 1)[-1]
    return results


def _number(value, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else ("yes" if value else "no")
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}".replace(",", " ")
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    lines += ["| " + " | ".join(_number(v) if not isinstance(v, str) else v for v in row) + " |" for row in rows]
    return lines + [""]


class _Shown(dict):
    """A notebook's metrics that remember which keys a section read (to find headline metrics left off the page)."""

    def __init__(self, metrics: dict):
        super().__init__(metrics)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def _root_data(m: dict) -> list[str]:
    rows = [["Z mass, simulated (Voigt fit)", m["z_mass_fit_gev"]], ["Z width Γ", m["z_width_fit_gev"]],
            ["dimuon resolution σ", m["z_resolution_fit_gev"]],
            ["Z mass, CMS 2010 open data", m["cms2010_z_mass_fit_gev"]],
            *[[f"groomed {name} jet mass peak", m[f"{name}_groomed_mass_peak_gev"]] for name in ("W", "Z", "top")]]
    return _table(["quantity", "GeV"], rows)


def _jet_tagging(m: dict) -> list[str]:
    models = [name for name in TAGGERS if f"{name}_accuracy" in m]
    header = ["model", "accuracy", "mean AUC", *[f"AUC {c}" for c in CLASSES],
              *[f"1/ε_B at 50 %: {c}" for c in CLASSES], "training jets / s"]
    rows = [[TAGGERS[name], m[f"{name}_accuracy"], m[f"{name}_mean_auc"], *[m[f"{name}_auc_{c}"] for c in CLASSES],
             *[round(m[f"{name}_rej50_{c}"], 1) for c in CLASSES], round(m[f"{name}_train_jets_per_second"])]
            for name in models]
    return [f"{_number(m['n_jets'])} jets (60 % train, 20 % validation, 20 % test).", ""] + _table(header, rows)


def _gan_fastsim(m: dict) -> list[str]:
    models = m["models"].split()
    names = {"gan": "GAN", "wgan-gp": "WGAN-GP", "flow": "normalizing flow"}
    header = ["measure", *[f"{names[model]} (epoch {m[metric_key(model, 'chosen_epoch')]})" for model in models],
              "simulated vs simulated (floor)"]
    measures = {"KS distance of m_μμ": "ks_m_ll", "largest KS distance of a feature": "ks_max",
                "FPD (Fréchet physics distance)": "fpd", "KPD (kernel physics distance)": "kpd",
                "classifier two-sample AUC (0.5: indistinguishable)": "classifier_auc"}
    rows = [[label, *[m[metric_key(model, key)] for model in models], m[f"real_{key}"]]
            for label, key in measures.items()]
    derived = {"FPD over its floor": "fpd_over_real", "tail bins within 2σ: m_μμ and missing ET": "tails_m_ll_met",
               "tail bins within 2σ: every feature": "tails_all", "events / s on one core": "events_per_second",
               "speed-up over Pythia + detector + FastJet": "speed_up"}
    rows += [[label, *[round(m[metric_key(model, key)]) if key in ("events_per_second", "speed_up")
                       else m[metric_key(model, key)] for model in models], "—"] for label, key in derived.items()]
    lines = ["Each generator at its chosen checkpoint against the simulated test events; the floor compares two "
             "independent simulated samples; Pythia + detector + FastJet ran at "
             f"{m['pipeline_events_per_second']:.1f} events/s on the same core.", ""]
    best = (f"The best generator (lowest FPD over its floor) is the {names[m['best']]}: FPD "
            f"{m['best_fpd_over_real']:.2f}× its floor, classifier AUC {m['best_classifier_auc']:.3f}, "
            f"{m['best_tails_m_ll_met']:.0%} of the tail bins of m_μμ and missing ET within 2σ, "
            f"{_number(round(m['speed_up']))}× faster than the simulation.")
    return lines + _table(header, rows) + [best, ""]


def _anomaly_detection(m: dict) -> list[str]:
    signals = sorted({key[len("AE_"):-len("_tpr")] for key in m if key.startswith("AE_") and key.endswith("_tpr")
                      and not key.endswith("_tpr_error")})
    rows = [[s, *[m[f"{model}_{s}_tpr"] for model in ("AE", "VAE_reconstruction", "VAE_KL", "PCA")],
             m[f"AE_{s}_auc"], m[f"PCA_{s}_auc"], m[f"best_{s}_beats_pca"],
             m.get(f"hls4ml_{s}_tpr_relative_difference")]
            for s in signals]
    rate = BUNCH_CROSSING_RATE_HZ
    lines = [f"TPR at FPR = {m['fpr']:.1e} ({m['fpr'] * rate / 1e3:.1f} kHz of {rate / 1e6:g} MHz), "
             f"{_number(m['n_background_test'])} background test events.", ""]
    lines += _table(["signal", "AE TPR", "VAE reco TPR", "VAE KL TPR", "PCA TPR", "AE AUC", "PCA AUC",
                     "best beats PCA", "hls4ml vs Keras TPR (relative)"], rows)
    faults = sorted({key[len("fault_"):-len("_flagged")] for key in m
                     if key.startswith("fault_") and key.endswith("_flagged")})
    lines += _table(["detector fault", "faulty events flagged", "run p-value", "blamed object"],
                    [[f, m[f"fault_{f}_flagged"], m[f"fault_{f}_run_p_value"], m[f"fault_{f}_blamed"]] for f in faults])
    lines += [f"Jets: image autoencoder trained on QCD flags top jets with AUC {m['jets_qcd_trained_auc']:.3f}; "
              f"trained on top jets it flags QCD jets with AUC {m['jets_top_trained_auc']:.3f} (the complexity bias). "
              f"Keras vs hls4ml C-simulation score correlation {m['hls4ml_score_correlation']:.4f}.", ""]
    return lines


def _trigger_fpga(m: dict) -> list[str]:
    names = {"float": "float, ap_fixed<16,6>", "pruned": "pruned, 16 bit", "quantized": "pruned + quantized"}
    rows = [[label, m[f"{name}_accuracy"], f"{m[f'{name}_hls4ml_same_class']:.1%}", m[f"{name}_firmware_bops"],
             m[f"{name}_baskin_bops"]] for name, label in names.items()]
    lines = _table(["model", "accuracy", "C simulation picks the same class", "firmware BOPs", "Baskin BOPs"], rows)
    scan = sorted(((int(key.split("_")[1][:-3]), value) for key, value in m.items()
                   if key.startswith("scan_") and key.endswith("bit_accuracy")), reverse=True)
    lines += [f"BOPs reduction {m['bops_reduction']:.1f}× (Baskin's count {m['baskin_bops_reduction']:.1f}×); latency "
              f"estimate {m['quantized_latency_ns_rf1']:.0f} ns at reuse factor 1; mean AUC {m['float_mean_auc']:.4f} "
              f"(float) → {m['quantized_mean_auc']:.4f} (quantized); the quantized C simulation's accuracy "
              f"{m['quantized_hls4ml_accuracy']:.4f}. Accuracy against bit width: "
              + ", ".join(f"{bits} bit {value:.4f}" for bits, value in scan) + ".", ""]
    return lines


def _robustness(m: dict) -> list[str]:
    shifts = sorted({key.split("_hls4ml_", 1)[1] for key in m if key.startswith("shifted_mean_auc_hls4ml_")},
                    key=lambda shift: (shift != "nominal", shift))
    taggers = [name for name in TAGGERS if f"shifted_mean_auc_{name}_nominal" in m]
    lines = ["Mean AUC of each tagger of `01_jet_tagging` on its test jets simulated again with a changed detector "
             "(calorimeter scale +5 %, tracking efficiency −10 %), another Pythia tune, or no detector at all:", ""]
    lines += _table(["tagger", *[_SHIFT_NAMES.get(s, s.replace("_", " ")) for s in shifts]],
                    [[TAGGERS[t], *[m[f"shifted_mean_auc_{t}_{s}"] for s in shifts]] for t in taggers])
    models = sorted({key[len("sculpting_"):key.index("_at_")] for key in m if key.startswith("sculpting_")},
                    key=lambda name: (name != "plain", name != "no_mass", _disco_weight(name), name))
    lines += ["Mass sculpting by a W-against-QCD tagger cut at 30 % and 50 % W efficiency: the Jensen-Shannon "
              "divergence between the mass distributions of the QCD jets that pass and that fail the cut "
              "(0: no sculpting), and the QCD rejection it buys. DisCo λ adds λ × the distance correlation "
              "between score and mass to the loss:", ""]
    lines += _table(["tagger", "JSD at 30 %", "QCD rejection at 30 %", "JSD at 50 %", "QCD rejection at 50 %"],
                    [[_SCULPTING_NAMES.get(name) or name.replace("DisCo_", "DisCo λ = ").replace("_", "."),
                      *[m.get(f"sculpting_{name}_at_{wp}_{q}") for wp in (30, 50) for q in ("jsd", "rejection")]]
                     for name in models])
    lines += _table(["uncertainty", "expected calibration error"],
                    [[name.replace("_", " "), m[f"ece_{name}"]] for name in ("single_network", "MC_dropout",
                                                                              "deep_ensemble")])
    return lines + [f"The 64-32-32-5 tagger trained and tested on particle-level jets: accuracy "
                    f"{m['particle_level_accuracy']:.4f} (detector level: `01_jet_tagging` above).", ""]


_SHIFT_NAMES = {"calorimeter_scale_5": "calorimeter scale +5 %", "tracking_efficiency_10": "tracking efficiency −10 %"}
_SCULPTING_NAMES = {"plain": "plain network", "no_mass": "network without the mass input"}


def _disco_weight(name: str) -> float:
    """DisCo_0_5 -> 0.5; 0 for the taggers without a DisCo term."""
    return float(name[len("DisCo_"):].replace("_", ".")) if name.startswith("DisCo_") else 0.0


def _trigger_regression(m: dict) -> list[str]:
    models = [name for name in ("LUT", "BDT", "dense", "CNN", "quantized") if f"resolution_100_{name}" in m]
    rows = [[name, m[f"response_100_{name}"], m[f"resolution_100_{name}"], m.get(f"turn_on_width_{name}"),
             m.get(f"pt95_{name}"), m.get(f"rate_ratio_to_lut_{name}")] for name in models]
    lines = [f"{_number(m['jets'])} jets. Response and resolution in the true-pT bin from 90 GeV; the width and "
             "95 % point of each trigger's turn-on at `l1_threshold`; its rate at the threshold that makes it 95 % "
             "efficient at `rate_offline_pt`, relative to the LUT's.", ""]
    lines += _table(["model", "response", "resolution", "turn-on width (GeV)", "95 % point (GeV)",
                     "rate / LUT rate"], rows)
    return lines + [f"Best resolution gain over the LUT {m['best_resolution_gain_vs_lut']:.1%}. In firmware: the "
                    f"network's hls4ml C simulation agrees with Keras within one output step for "
                    f"{m['hls4ml_agreement']:.1%} of the jets (largest difference "
                    f"{m['firmware_max_difference_gev_hls4ml']:.3g} GeV; latency "
                    f"{m['network_latency_ns']:.0f} ns); the BDT's "
                    f"conifer C simulation agrees with scikit-learn within one output step for "
                    f"{m['conifer_agreement']:.1%} (largest difference {m['firmware_max_difference_gev_conifer']:.3g} "
                    f"GeV; {_number(m['bdt_comparators'])} comparators, "
                    f"{m['bdt_conifer_latency_ns']:.0f} ns). Largest response deviation between 50 and 500 GeV: "
                    f"{m['max_response_deviation_50_500_dense']:.3f} (dense), "
                    f"{m['max_response_deviation_50_500_quantized']:.3f} (quantized).", ""]


def _tracking(m: dict) -> list[str]:
    lines = [f"{_number(m['events'])} events, {_number(m['test_events'])} for the test. The geometric cuts leave "
             f"{_number(round(m['graph_edges']))} edges per event ({m['graph_segment_efficiency']:.2%} of the true "
             f"segments of particles with pT > 1 GeV, purity {m['graph_purity']:.3f}), the triplet filter "
             f"{_number(round(m['filtered_edges']))} ({m['filtered_segment_efficiency']:.2%}, purity "
             f"{m['filtered_purity']:.3f}). The interaction network ({_number(m['epochs_trained'])} epochs) scores "
             f"them with AUC {m['edges_AUC']:.4f} (efficiency {m['edges_efficiency']:.3f}, purity "
             f"{m['edges_purity']:.3f} at the threshold {m['threshold']:g}, chosen on the validation events). "
             "Tracks of particles with pT > 1 GeV and |η| < 2.5:", ""]
    lines += _table(["method", "efficiency", "fake rate", "duplicate rate", "TrackML score"],
                    [[name, m[f"{key}_efficiency"], m[f"{key}_fake_rate"], m[f"{key}_duplicate_rate"],
                      m[f"{key}_TrackML_score"]] for name, key in (("interaction network", "network"),
                                                                    ("triplet seeding", "baseline"))])
    slope = "slope_milliseconds_per_interaction"
    return lines + [f"Time per event against mean pileup, straight-line slopes: the network's chain "
                    f"{m[f'{slope}_network_chain_s']:.2f} ms per interaction (graph construction "
                    f"{m[f'{slope}_graph_s']:.2f}, triplet filter {m[f'{slope}_filter_s']:.2f}, network "
                    f"{m[f'{slope}_network_s']:.2f}), triplet seeding "
                    f"{m[f'{slope}_baseline_s']:.2f}.", ""]


def _showers(m: dict) -> list[str]:
    physics = sorted({key.split("_")[1] for key in m if key.startswith("physics_")}, key=lambda e: float(e[:-3]))
    lines = [f"{_number(m['showers'])} photon showers, {_number(m['test_showers'])} for the test. The cascade against "
             f"the PDG: t_max / (ln(E/E_c) + 0.5) = "
             + ", ".join(f"{m[f'physics_{e}_t_max_ratio']:.2f} at {e[:-3]} GeV" for e in physics)
             + "; energy within one Molière radius "
             + ", ".join(f"{m[f'physics_{e}_moliere_containment']:.3f}" for e in physics)
             + f"; resolution {m['resolution_stochastic']:.1%}/√E ⊕ {m['resolution_constant']:.1%} (rule of thumb "
             f"{m['resolution_rule_of_thumb_stochastic']:.1%}/√E).", ""]
    models = [k[len("auc_high_"):] for k in m if k.startswith("auc_high_")]
    lines += _table(["model", "AUC high-level", "AUC voxels", "FPD / floor", "KPD", "ms per shower", "speed-up"],
                    [[model, m[f"auc_high_{model}"], m[f"auc_voxels_{model}"], m[f"fpd_over_floor_{model}"],
                      m[f"kpd_{model}"], 1e3 * m[f"seconds_per_shower_{model}"], _number(round(m[f"speed_up_{model}"]))]
                     for model in models])
    return lines + [f"The cascade: {1e3 * m['seconds_per_shower_cascade']:.1f} ms per shower on one core; FPD floor "
                    f"(simulated against simulated) {m['fpd_simulated_floor']:.2e}.", ""]


def _measurement(m: dict) -> list[str]:
    methods = [k[len("significance_syst_"):] for k in m if k.startswith("significance_syst_")]
    lines = [f"At {m['luminosity_fb']:g} fb⁻¹, expected (Asimov) results of each observable, statistical "
             "uncertainties only and with the systematics:", ""]
    lines += _table(["observable", "significance (stat.)", "significance (syst.)", "95 % CL limit on μ (syst.)",
                     "σ(μ) (syst.)"],
                    [[method.replace("_", " "), m[f"significance_stat_{method}"], m[f"significance_syst_{method}"],
                      m[f"limit_syst_{method}"], m[f"mu_uncertainty_syst_{method}"]] for method in methods])
    chi2 = {k[len("reweighting_worst_chi2_ndf_"):]: v for k, v in m.items() if k.startswith("reweighting_worst_chi2")}
    return lines + [f"Fit of the NN score to pseudo-data: μ = {m['fit_mu']:.3f} ± {m['fit_mu_uncertainty']:.3f}, "
                    f"observed limit {m['fit_observed_limit']:.3f}. Coverage of μ̂ ± σ̂ on toys: "
                    f"{m['coverage']:.1%} ± {m['coverage_error']:.1%}. Reweighting to the A14 tune, the worst "
                    "χ²/ndf over the 19 observables: " + ", ".join(f"{k} {v:.2f}" for k, v in chi2.items())
                    + f"; of the {_number(m['reweighting_observables_at_least_3_before'])} observables at χ²/ndf ≥ 3 "
                    "before, brought to ≤ 1.5: " + ", ".join(
                        f"{k[len('reweighting_brought_to_1_5_'):]} {_number(v)}" for k, v in m.items()
                        if k.startswith("reweighting_brought_to_1_5_")) + ".", ""]


SECTIONS = {"00_root_data": ("ROOT data", _root_data), "01_jet_tagging": ("Jet tagging", _jet_tagging),
            "02_gan_fastsim": ("Fast simulation with a GAN and a normalizing flow", _gan_fastsim),
            "03_anomaly_detection": ("Anomaly detection", _anomaly_detection),
            "04_trigger_fpga": ("The tagger in an FPGA", _trigger_fpga),
            "05_tagger_robustness": ("Tagger robustness", _robustness),
            "06_trigger_regression": ("Trigger jet-energy regression in firmware", _trigger_regression),
            "07_tracking_gnn": ("Tracking with a graph network", _tracking),
            "08_calorimeter_showers": ("Calorimeter showers", _showers),
            "09_from_score_to_measurement": ("From a classifier to a measurement", _measurement)}


def markdown(results: list[dict]) -> str:
    """The results page for the results of one ``hepwb run``.

    Raises ValueError for a notebook without a section here, and for a headline metric (a notebook's
    ``metrics['headline']``) that its section leaves off the page.
    """
    preset = results[0]["preset"] if results else "?"
    lines = [f"# Results of the `{preset}` preset", "",
             "Generated by `hepwb results results/full` from the summary of "
             f"`hepwb run --preset {preset} --out results/full` (kept in `docs/results/full-summary.json`); "
             "do not edit by hand. Wall time and peak memory are those of the run that made them.", "",
             *_table(["notebook", "status", "wall time", "peak memory"],
                     [[r["notebook"], r["status"], f"{r['seconds'] / 60:.1f} min",
                       f"{r['metrics'].get('peak_memory_mb', 0) / 1024:.2f} GB"] for r in results])]
    for result in results:
        if result["notebook"] not in SECTIONS:
            raise ValueError(f"{result['notebook']} has no section on the results page: add one to SECTIONS in "
                             "hepwb/run/results.py")
        title, section = SECTIONS[result["notebook"]]
        lines += [f"## {title} (`{result['notebook']}`)", ""]
        parameters = result.get("parameters", {})  # what the preset changed; output_dir was removed by load()
        if parameters:
            lines += ["Parameters: " + ", ".join(f"`{k}={v!r}`" for k, v in parameters.items()) + ".", ""]
        if result["status"] != "ok":
            lines += [f"Status: {result['status']} {result.get('error') or ''}".rstrip(), ""]
            continue
        metrics = _Shown(result["metrics"])
        lines += section(metrics)
        missing = sorted(set(result["metrics"].get("headline", {})) - metrics.read)
        if missing:
            raise ValueError(f"{result['notebook']}: headline metrics {missing} are not on the results page; "
                             f"show them in {section.__name__} (hepwb/run/results.py)")
    return "\n".join(lines).rstrip("\n") + "\n"


def write_page(run_dir: str | Path, page: Path = PAGE, summary_copy: Path = SUMMARY_COPY) -> Path:
    """Copy the run's summary beside the page and write the page from that copy.

    Raises ValueError when the run lacks a notebook of ``notebooks/``: the page shows one run of all of them.
    """
    results = load(run_dir)
    missing = [stem for stem in notebook_stems() if stem not in {r["notebook"] for r in results}]
    if missing:
        raise ValueError(f"{Path(run_dir) / 'summary.json'} has no result for {missing}; the page shows one run "
                         f"of every notebook: hepwb run --preset full --out {run_dir}")
    text = markdown(results)
    summary_copy.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(summary_copy) as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    with atomic_path(page) as tmp:
        tmp.write_text(text)
    return page


def notebook_stems() -> list[str]:
    """The notebooks of ``notebooks/`` (``00_root_data``, ...), in order: the ones ``hepwb run`` runs."""
    return [path.stem for path in notebook_paths()]
