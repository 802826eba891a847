"""The analysis steps of ``03_anomaly_detection`` beyond training: detector faults and data-quality
monitoring with a trained autoencoder, the complexity bias of a jet-image autoencoder, and the trigger
path (the quantized autoencoder in Keras against its hls4ml C simulation, scored the same way).

Models are ``hepwb.models.anomaly``'s; the events ``hepwb.samples.l1_events``'; metrics ``hepwb.metrics``'.
"""

from __future__ import annotations

import numpy as np

from hepwb import fpga, samples
from hepwb.metrics import anomaly_report, tpr_at_fpr
from hepwb.models import anomaly, training
from hepwb.samples.l1_events import OBJECTS, L1Events, network_inputs, to_layout
from hepwb.sim.detector import DEFAULT as DEFAULT_DETECTOR
from hepwb.sim.detector import Detector
from hepwb.sim.recipes import l1_producer

#: detector faults for monitoring studies: name -> the faulty detector
FAULTS = {
    "hot calorimeter cell": Detector(hot_calorimeter_cell=(0.55, 1.0, 150.0)),
    "dead calorimeter region": Detector(dead_calorimeter_region=(-1.5, 1.5, 0.0, 2.0)),
    "muon momentum scale +20 %": Detector(muon_momentum_scale=1.2),
}


def simulate_fault(fault: str, n_events: int, *, sample: str = "w_lnu", seed: int = 1) -> tuple[L1Events, L1Events]:
    """The same generated ``sample`` events through the healthy and the faulty detector (``FAULTS``).

    Returns (healthy, faulty), ``n_events`` triggered events each; the generator-level events are the
    same (same seed), so differences come from the fault and from what the trigger then keeps.
    """
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; faults: {list(FAULTS)}")
    out = []
    for setup in (DEFAULT_DETECTOR, FAULTS[fault]):
        events = l1_producer(seed, 10_000 + list(FAULTS).index(fault), sample, setup)(n_events)["events"]
        columns = {"sample": events["sample"], "met": events["met"], "met_phi": events["met_phi"],
                   **{f"{g}_{v}": events[g][v] for g in ("electron", "muon", "jet") for v in ("pt", "eta", "phi")}}
        out.append(to_layout(columns, f"{sample} ({'healthy' if setup is DEFAULT_DETECTOR else fault})"))
    return out[0], out[1]


def monitor_faults(model, faults, n_events: int, *, monitoring_fpr: float = 0.1, seed: int = 1):
    """Which detector component broke? Data-quality monitoring with a trained autoencoder.

    For each fault of ``FAULTS`` the same ``n_events`` events go through the healthy and
    the faulty detector. Per fault: the median scores, the fraction of faulty events above the healthy
    run's (1 - monitoring_fpr) quantile, the two-sample KS p-value of the scores (run level), and per
    object group the KS statistic of its loss contributions; the largest one names the blamed object.
    Returns (table with one row per fault, mean loss share per object: {"healthy" or fault: {group: share}}).
    """
    import pandas as pd
    from scipy.stats import ks_2samp

    rows, shares = [], {}
    for fault in faults:
        healthy, faulty = simulate_fault(fault, n_events, seed=seed)
        score, parts = {}, {}
        for name, sample in (("healthy", healthy), ("faulty", faulty)):
            x = network_inputs(sample.particles)
            reconstruction = training.predict(model, x)
            score[name] = anomaly.reconstruction_score(x, reconstruction)
            parts[name] = anomaly.loss_contributions(x, reconstruction)
        threshold = np.quantile(score["healthy"], 1 - monitoring_fpr)
        shift = {group: ks_2samp(parts["healthy"][group], parts["faulty"][group]).statistic for group in OBJECTS}
        rows.append({"fault": fault, "median score, healthy": np.median(score["healthy"]),
                     "median score, faulty": np.median(score["faulty"]),
                     "faulty events flagged": np.mean(score["faulty"] > threshold),
                     "run p-value (KS of scores)": ks_2samp(score["healthy"], score["faulty"]).pvalue,
                     "blamed object": max(shift, key=shift.get), **{f"KS {group}": shift[group] for group in OBJECTS}})
        shares.setdefault("healthy", {group: parts["healthy"][group].mean() for group in OBJECTS})
        shares[fault] = {group: parts["faulty"][group].mean() for group in OBJECTS}
    return pd.DataFrame(rows).set_index("fault"), shares


def trigger_agreement(keras_model, hls_model, x_background: np.ndarray, x_signals: dict[str, np.ndarray],
                      fpr: float) -> dict:
    """The quantized autoencoder in Keras and in hls4ml's C simulation, scored the same way.

    The firmware computes the raw reconstruction; the bounding (``bound_outputs``) and the masked
    error are applied to its outputs as to Keras's. Returns the background scores of both
    ("keras", "hls", arrays (n,)), their correlation, and per signal the TPR at ``fpr`` of each and
    their relative difference (None where Keras finds nothing).
    """
    def scores(x):
        return (anomaly.autoencoder_scores(keras_model, x),
                anomaly.reconstruction_score(x, anomaly.bound_outputs(fpga.predict(hls_model, x))))

    keras_background, hls_background = scores(x_background)
    per_signal = {}
    for signal, x in x_signals.items():
        keras_signal, hls_signal = scores(x)
        k = tpr_at_fpr(keras_background, keras_signal, fpr)["tpr"]
        h = tpr_at_fpr(hls_background, hls_signal, fpr)["tpr"]
        per_signal[signal] = {"TPR Keras": k, "TPR hls4ml": h, "relative difference": (h - k) / k if k > 0 else None}
    return {"keras": keras_background, "hls": hls_background, "signals": per_signal,
            "correlation": float(np.corrcoef(keras_background, hls_background)[0, 1])}


def complexity_bias(jets, trained_on: tuple[str, ...], other: tuple[str, ...], *, epochs: int = 15, seed: int = 1):
    """Train a jet-image autoencoder (``anomaly.image_autoencoder``) on the jets of the classes ``trained_on``
    and flag the jets of the classes ``other`` with it.

    ``jets``: a ``samples.jets.JetSample`` with images; the ``trained_on`` jets are split 40 / 10 / 50 %
    (``samples.split``) into training, early stopping and the normal jets scored. Returns (the normal jets'
    scores (n,), the other jets' scores (m,), ``anomaly_report`` of the other jets at a 10 % FPR).
    """
    def of(classes):
        return jets.subset(np.isin(jets.labels, [jets.classes.index(c) for c in classes]))

    train, val, normal = samples.split(of(trained_on), (0.4, 0.1, 0.5), seed=seed)
    model = anomaly.image_autoencoder(jets.images.shape[1], seed=seed)
    training.train(model, train.images, train.images, val.images, val.images, epochs=epochs, batch_size=128,
                   patience=epochs, seed=seed)
    normal_scores, other_scores = (anomaly.image_scores(model, s.images) for s in (normal, of(other)))
    return normal_scores, other_scores, anomaly_report(normal_scores, {"other": other_scores}, 0.1)["other"]
