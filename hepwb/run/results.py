"""The results page (``docs/results.md``) written from a ``hepwb run`` summary, so it cannot drift.

``hepwb run --preset full --out results/full`` leaves ``results/full/summary.json``: every notebook's
status, parameters and ``metrics.json``. ``hepwb results results/full`` keeps a copy of it beside the
page (``docs/results/full-summary.json``, machine paths removed) and writes the page's tables from
it; a test renders the copy again and compares, so the page always shows what a run computed.
"""

from __future__ import annotations

import json
from pathlib import Path

from hepwb import PROJECT_DIR
from hepwb.constants import BUNCH_CROSSING_RATE_HZ
from hepwb.data import atomic_path
from hepwb.notebook import metric_key

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


def _root_data(m: dict) -> list[str]:
    rows = [["Z mass, simulated (Voigt fit)", m["z_mass_fit_gev"]], ["Z width Γ", m["z_width_fit_gev"]],
            ["dimuon resolution σ", m["z_resolution_fit_gev"]],
            ["Z mass, CMS 2010 open data", m["cms2010_z_mass_fit_gev"]],
            *[[f"groomed {name} jet mass peak", m[f"{name}_groomed_mass_peak_gev"]] for name in ("W", "Z", "top")]]
    return _table(["quantity", "GeV"], rows)


def _jet_tagging(m: dict) -> list[str]:
    models = [name for name in TAGGERS if f"{name}_accuracy" in m]
    header = ["model", "accuracy", "mean AUC", *[f"AUC {c}" for c in CLASSES],
              *[f"1/ε_B at 50 %: {c}" for c in CLASSES]]
    rows = [[TAGGERS[name], m[f"{name}_accuracy"], m[f"{name}_mean_auc"], *[m[f"{name}_auc_{c}"] for c in CLASSES],
             *[round(m[f"{name}_rej50_{c}"], 1) for c in CLASSES]] for name in models]
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
    return lines + _table(header, rows)


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
    names = {"float": "float, ap_fixed<16,6>", "pruned": "pruned, 16 bit", "quantized": "pruned + quantized (QKeras)"}
    rows = [[label, m[f"{name}_accuracy"], f"{m[f'{name}_hls4ml_same_class']:.1%}", m[f"{name}_firmware_bops"],
             m[f"{name}_baskin_bops"]] for name, label in names.items()]
    lines = _table(["model", "accuracy", "C simulation picks the same class", "firmware BOPs", "Baskin BOPs"], rows)
    scan = sorted(((int(key.split("_")[1][:-3]), value) for key, value in m.items()
                   if key.startswith("scan_") and key.endswith("bit_accuracy")), reverse=True)
    lines += [f"BOPs reduction {m['bops_reduction']:.1f}× (Baskin's count {m['baskin_bops_reduction']:.1f}×); latency "
              f"estimate {m['quantized_latency_ns_rf1']:.0f} ns at reuse factor 1; mean AUC {m['float_mean_auc']:.4f} "
              f"(float) → {m['quantized_mean_auc']:.4f} (quantized). Accuracy against bit width: "
              + ", ".join(f"{bits} bit {value:.4f}" for bits, value in scan) + ".", ""]
    return lines


SECTIONS = {"00_root_data": ("ROOT data", _root_data), "01_jet_tagging": ("Jet tagging", _jet_tagging),
            "02_gan_fastsim": ("Fast simulation with a GAN and a normalizing flow", _gan_fastsim),
            "03_anomaly_detection": ("Anomaly detection", _anomaly_detection),
            "04_trigger_fpga": ("The tagger in an FPGA", _trigger_fpga)}


def markdown(results: list[dict]) -> str:
    """The results page for the results of one ``hepwb run``."""
    preset = results[0]["preset"] if results else "?"
    lines = [f"# Results of the `{preset}` preset", "",
             "Generated by `hepwb results results/full` from the summary of "
             f"`hepwb run --preset {preset} --out results/full` (kept in `docs/results/full-summary.json`); "
             "do not edit by hand. Wall time and peak memory are those of the run that made them.", "",
             *_table(["notebook", "status", "wall time", "peak memory"],
                     [[r["notebook"], r["status"], f"{r['seconds'] / 60:.1f} min",
                       f"{r['metrics'].get('peak_memory_mb', 0) / 1024:.2f} GB"] for r in results])]
    for result in results:
        title, section = SECTIONS.get(result["notebook"], (result["notebook"], None))
        lines += [f"## {title} (`{result['notebook']}`)", ""]
        parameters = result.get("parameters", {})  # what the preset changed; output_dir was removed by load()
        if parameters:
            lines += ["Parameters: " + ", ".join(f"`{k}={v!r}`" for k, v in parameters.items()) + ".", ""]
        if result["status"] != "ok" or section is None:
            lines += [f"Status: {result['status']} {result.get('error') or ''}".rstrip(), ""]
            continue
        lines += section(result["metrics"])
    return "\n".join(lines).rstrip("\n") + "\n"


def write_page(run_dir: str | Path, page: Path = PAGE, summary_copy: Path = SUMMARY_COPY) -> Path:
    """Copy the run's summary beside the page and write the page from that copy."""
    results = load(run_dir)
    summary_copy.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(summary_copy) as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    with atomic_path(page) as tmp:
        tmp.write_text(markdown(results))
    return page
