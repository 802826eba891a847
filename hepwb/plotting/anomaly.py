"""Figures of anomaly detection: score distributions with a trigger threshold, ROC curves with the trigger
rate they mean, and the share of each object in the anomaly score.
"""

from __future__ import annotations

import hist
import hist.intervals
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from hepwb.constants import BUNCH_CROSSING_RATE_HZ
from hepwb.plotting.core import ENERGY_TEV, label, new_figure, plot_hists


def anomaly_score_figure(background: np.ndarray, signals: dict[str, np.ndarray], *, xlabel: str = "anomaly score",
                         threshold: float | None = None, bins: int = 60,
                         background_label: str = "SM background") -> Figure:
    """Unit-area score distributions of the background (the sample the model learnt) and each signal
    (``plot_hists``, log y), with the trigger threshold as a vertical line; the x range covers all but
    the outermost 0.05 % of the scores (values beyond go into the edge bins), log-spaced when the
    scores are positive."""
    everything = np.concatenate([background, *signals.values()])
    lo, hi = np.quantile(everything, [0.0005, 0.9995])
    positive = lo > 0
    transform = hist.axis.transform.log if positive else None
    hists = {}
    for name, values in {background_label: background, **signals}.items():
        h = hist.Hist(hist.axis.Regular(bins, lo, hi, transform=transform, name="score", label=xlabel),
                      storage=hist.storage.Weight())
        hists[name] = h.fill(np.clip(values, lo, hi))
    fig, ax = new_figure()
    plot_hists(hists, ax=ax, density=True, log=True, ylabel="density")
    if threshold is not None:
        ax.axvline(threshold, color="black", ls="--", lw=1, label="trigger threshold")
        ax.legend(fontsize=10)
    if positive:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks of a short log range overlap
    return fig


def anomaly_roc_figure(curves: dict, aucs: dict[str, float], *, fpr_line: float | None = None,
                       collision_rate_hz: float = BUNCH_CROSSING_RATE_HZ) -> Figure:
    """Signal efficiency against background efficiency (log x), with the trigger rate it means on a top axis.

    ``curves[name]``: a ``metrics.ROC`` (``metrics.anomaly_report`` gives one per signal); ``fpr_line`` marks
    the chosen working point.
    """
    fig, ax = new_figure()
    for name, (fpr, tpr) in curves.items():
        keep = fpr > 0
        ax.plot(fpr[keep], tpr[keep], label=f"{name} (AUC = {aucs[name]:.3f})")
    ax.plot([1e-6, 1], [1e-6, 1], color="grey", ls=":", lw=1, label="random")
    if fpr_line is not None:
        ax.axvline(fpr_line, color="black", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(1e-5, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("background efficiency (false-positive rate)")
    ax.set_ylabel("signal efficiency (true-positive rate)")
    top = ax.secondary_xaxis("top", functions=(lambda f: f * collision_rate_hz / 1e3,
                                               lambda r: r * 1e3 / collision_rate_hz))
    top.set_xlabel(f"trigger rate out of {collision_rate_hz / 1e6:g} MHz [kHz]", fontsize=12)
    ax.legend(fontsize=9, loc="upper left")
    return fig


def contribution_figure(contributions: dict[str, dict[str, float]], *,
                        ylabel: str = "mean share of the anomaly score") -> Figure:
    """Grouped bars: for each sample (outer key), the mean contribution of each object group (inner key)."""
    samples = list(contributions)
    groups = list(next(iter(contributions.values())))
    width = 0.8 / len(samples)
    fig, ax = new_figure()
    for i, sample in enumerate(samples):
        ax.bar(np.arange(len(groups)) + (i - (len(samples) - 1) / 2) * width,
               [contributions[sample][g] for g in groups], width, label=sample)
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=10)
    label(ax, com=ENERGY_TEV)
    return fig
