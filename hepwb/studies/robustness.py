"""Before a tagger goes into an analysis: does it sculpt the mass, how sure is it per jet, and does it
survive a detector (or a generator) that is not the one it was trained on?

Owns the analysis steps of ``05_tagger_robustness``: the W-versus-QCD sample, training the binary
taggers (plain, without the mass, with DisCo), the sculpting scan, and scoring saved taggers on the
changed test sets. Models live in ``hepwb.models``; the numbers they are judged by in ``hepwb.metrics``.
"""

from __future__ import annotations

import numpy as np

from hepwb import metrics, samples
from hepwb.constants import MAX_CONSTITUENTS
from hepwb.models import taggers, training
from hepwb.models.decorrelation import binary_tagger
from hepwb.samples.jets import JetSample

#: the committed test sets of 3 000 jets (seed 2, not in any training set): name -> what changed
SHIFTED_DATASETS = {
    "nominal": "jets_test_nominal",
    "calorimeter scale +5 %": "jets_test_calo_scale_up",
    "tracking efficiency -10 %": "jets_test_tracking_down",
    "Pythia tune A14": "jets_test_tune_a14",
    "particle level": "jets_test_particle_level",
}


def signal_vs_background(sample: JetSample, signal: str = "W",
                         background=("gluon", "light_quark")) -> JetSample:
    """The jets of ``signal`` (label 1) and ``background`` classes (label 0), classes ("QCD", signal)."""
    known = set(sample.classes)
    if signal not in known or not set(background) <= known or signal in background:
        raise ValueError(f"signal {signal!r} and background {list(background)} must be distinct classes of "
                         f"{list(sample.classes)}")
    wanted = [sample.classes.index(c) for c in (signal, *background)]
    subset = sample.subset(np.flatnonzero(np.isin(sample.labels, wanted)))
    subset.labels = (subset.labels == sample.classes.index(signal)).astype(np.int64)
    subset.classes = ("QCD" if set(background) == {"gluon", "light_quark"} else "+".join(background), signal)
    return subset


def jet_mass(sample: JetSample) -> np.ndarray:
    """The groomed (mMDT) jet mass [GeV] of every jet, shape (n,)."""
    return sample.features[:, list(sample.feature_names).index("mass_mmdt")]


def auc_note(auc: float) -> str:
    """What a W-versus-QCD test AUC says beyond its number: nothing above 0.6; below, that the DisCo term won."""
    if auc < 0.5:
        return ("  (below 0.5: the distance-correlation term outweighs the classification, and the score ranks QCD "
                "above W; lower the DisCo weight)")
    if auc < 0.6:
        return "  (near 0.5: the distance-correlation term leaves the score almost no tagging power)"
    return ""


def train_binary(train, val, *, drop=(), disco_weight: float = 0.0, epochs: int = 30, batch_size: int = 1024,
                 patience: int = 5, seed: int = 1):
    """Train the binary Dense tagger on the high-level features minus ``drop``, with the DisCo term
    weighted ``disco_weight`` against the mMDT mass on background. Batches of 1024 (DisCo estimates the
    correlation per batch and needs many background jets in each). Returns (model, scaler, history): the
    scaler (scikit-learn's) knows the features it was fitted on."""
    from sklearn.preprocessing import StandardScaler

    unknown = sorted(set(drop) - set(train.feature_names))
    if unknown:
        raise ValueError(f"cannot drop {unknown}: the features are {list(train.feature_names)}")
    keep = [name for name in train.feature_names if name not in drop]
    scaler = StandardScaler().fit(train.feature_table()[keep])
    model = binary_tagger(len(keep), disco_weight=disco_weight, seed=seed)

    def targets(sample):
        return np.column_stack([sample.labels, jet_mass(sample)]).astype(np.float32)

    history = training.train(model, inputs(scaler, train), targets(train), inputs(scaler, val), targets(val),
                             epochs=epochs, batch_size=batch_size, patience=patience, seed=seed)
    return model, scaler, history


def inputs(scaler, sample) -> np.ndarray:
    """The standardised features a tagger of ``train_binary`` takes: those its scaler was fitted on, float32."""
    return scaler.transform(sample.feature_table()[list(scaler.feature_names_in_)]).astype(np.float32)


def binary_scores(model, scaler, sample) -> np.ndarray:
    """Scores (n,) of a tagger from ``train_binary`` on a JetSample."""
    return training.predict(model, inputs(scaler, sample))


def sculpting_table(scores: dict[str, np.ndarray], sample, *, efficiencies=(0.5, 0.3), edges=None):
    """Per tagger and signal efficiency: background rejection, JSD and 1/JSD of the passing and failing
    background mass distributions. Returns (pandas DataFrame, {(tagger, efficiency): mass_sculpting dict})."""
    import pandas as pd

    edges = np.linspace(0, 260, 14) if edges is None else edges  # 20 GeV: few background jets pass
    mass, is_signal = jet_mass(sample), sample.labels == 1
    results = {(name, eff): metrics.mass_sculpting(s, mass, is_signal, eff, edges)
               for name, s in scores.items() for eff in efficiencies}
    rows = [{"tagger": name, "signal efficiency": eff, "background rejection": r["rejection"], "JSD": r["jsd"],
             "1/JSD": 1 / r["jsd"] if r["jsd"] > 0 else (float("inf") if r["jsd"] == 0 else float("nan")),
             "distance correlation": metrics.distance_correlation(scores[name][~is_signal][:2000],
                                                                   mass[~is_signal][:2000])}  # n² memory
            for (name, eff), r in results.items()]
    return pd.DataFrame(rows).set_index(["tagger", "signal efficiency"]), results


def sculpting_metrics(results: dict) -> dict:
    """The numbers of ``sculpting_table``'s results that go into ``metrics.json``: per tagger and efficiency
    the background rejection, the background jets that pass, and the JSD where any pass (with none, there is
    no passing mass distribution to compare: at school size the best taggers pass no background jet at 30 %
    signal efficiency for some seeds)."""
    return {f"{name} at {eff:.0%}": {"rejection": r["rejection"], "background_passing": r["background_passing"],
                                     **({"jsd": r["jsd"]} if np.isfinite(r["jsd"]) else {})}
            for (name, eff), r in results.items()}


def sculpted_mass(results: dict, name: str, efficiencies=(0.5, 0.3)) -> dict:
    """Background mass histograms of tagger ``name`` for an overlay: all background jets and those that
    pass each cut (from ``sculpting_table``'s results), as ``hist.Hist``."""
    import hist

    first = results[name, efficiencies[0]]
    axis = hist.axis.Variable(first["edges"], name="mass_mmdt", label="groomed jet mass [GeV]")

    def filled(counts):
        h = hist.Hist(axis)
        h.view()[:] = counts
        return h

    hists = {"all background": filled(first["pass_counts"] + first["fail_counts"])}
    hists.update({f"passing, {eff:.0%} signal eff.": filled(results[name, eff]["pass_counts"]) for eff in efficiencies})
    return hists


def load_test_sets(saved_inputs: dict, datasets: dict[str, str] | None = None) -> dict[str, JetSample]:
    """The changed test sets, read the way the saved taggers expect (``saved_inputs`` from ``load_models``)."""
    datasets = SHIFTED_DATASETS if datasets is None else datasets
    return {label: samples.jets.load(name, max_particles=saved_inputs["max_particles"] or MAX_CONSTITUENTS,
                                     image_size=saved_inputs["image_size"] or 32) for label, name in datasets.items()}


def shifted_detector_table(models: dict, scaler, test_sets: dict, *, signal_class: str = "top",
                           signal_efficiency: float = 0.5, nominal: str = "nominal"):
    """Every saved tagger on every test set: mean AUC, and the signal and background efficiency of the
    working point fixed on the ``nominal`` set (``signal_efficiency`` of ``signal_class`` jets there).

    Returns (pandas DataFrame indexed by (tagger, test set), {(tagger, test set): scores}).
    """
    import pandas as pd

    if nominal not in test_sets:
        raise ValueError(f"the nominal test set {nominal!r} is not among {list(test_sets)}")
    scores = {(name, label): taggers.scores(name, model, sample, scaler)
              for name, model in models.items() for label, sample in test_sets.items()}
    rows = []
    for name in models:
        reference = test_sets[nominal]
        column = list(reference.classes).index(signal_class)
        point = metrics.working_point(reference.labels, scores[name, nominal], reference.classes, signal_class,
                                      signal_efficiency)
        for label, sample in test_sets.items():
            s, is_signal = scores[name, label][:, column], sample.labels == column
            report = metrics.classification_report(sample.labels, scores[name, label], sample.classes)
            rows.append({"tagger": name, "test set": label, "accuracy": report["accuracy"],
                         "mean AUC": report["mean_auc"],
                         f"{signal_class} efficiency": float((s[is_signal] >= point["threshold"]).mean()),
                         "background efficiency": float((s[~is_signal] >= point["threshold"]).mean())})
    return pd.DataFrame(rows).set_index(["tagger", "test set"]), scores
