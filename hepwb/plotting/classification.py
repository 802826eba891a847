"""Figures of classifiers: input features per class, ROC curves, confusion matrices, scores, jet images,
weight distributions, the bit widths of a quantized tagger's weights and its accuracy against bit width.
"""

from __future__ import annotations

import hist
import hist.intervals
import matplotlib
import mplhep
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from hepwb.constants import LARGE_JET_RADIUS
from hepwb.plotting.core import LINE_STYLES, STYLE, auto_range, histogram, new_figure, plot_hists


def feature_grid(features: np.ndarray, labels: np.ndarray, names, classes, *, ncols: int = 4, bins: int = 40) -> Figure:
    """Normalised distributions of every input feature per class; features (n, k)."""
    nrows = int(np.ceil(features.shape[1] / ncols))
    with matplotlib.style.context(STYLE):
        fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows))
        axes = fig.subplots(nrows, ncols).ravel()
    for i, (ax, name) in enumerate(zip(axes, names)):
        lo, hi = auto_range(features[:, i], (0.005, 0.995))
        per_class = [histogram(features[labels == c, i], bins=bins, range=(lo, hi)) for c in range(len(classes))]
        mplhep.histplot(per_class, label=list(classes), ax=ax, density=True, histtype="step", flow="none")
        ax.set_xlabel(name, fontsize=12)
        ax.set_ylabel("")
        ax.tick_params(labelsize=9)
    for ax in axes[features.shape[1]:]:
        ax.set_visible(False)
    axes[0].legend(fontsize=9)
    fig.tight_layout()
    return fig


def roc_figure(curves_by_model: dict[str, dict], aucs_by_model: dict[str, dict], classes, *, ncols: int = 3) -> Figure:
    """hls4ml-tutorial-style ROC curves, one panel per class: background efficiency (log) against signal
    efficiency, one line per model with its AUC in the legend. ``curves_by_model[model][class]``: a
    ``metrics.ROC`` (``metrics.roc_curves`` gives one per class)."""
    classes = list(classes)
    nrows = -(-len(classes) // ncols)
    with matplotlib.style.context(STYLE):
        fig = Figure(figsize=(5.2 * ncols, 4.6 * nrows))
        axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
    for ax, cls in zip(axes, classes):
        for m, (model, curves) in enumerate(curves_by_model.items()):
            curve = curves[cls]
            ax.plot(curve.tpr, np.maximum(curve.fpr, 1e-6), color=f"C{m}", linestyle=LINE_STYLES[m % len(LINE_STYLES)],
                    label=f"{model} ({aucs_by_model[model][cls]:.3f})")
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_ylim(1e-4, 1)
        ax.set_title(f"{cls} jets", fontsize=13)
        ax.set_xlabel("signal efficiency", fontsize=12)
        ax.tick_params(labelsize=10)
        ax.legend(fontsize=9, loc="lower right", title="model (AUC)", title_fontsize=9)
    for ax in axes[::ncols]:
        ax.set_ylabel("background efficiency", fontsize=12)
    for ax in axes[len(classes):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def confusion_figure(matrix, classes, title: str = "") -> Figure:
    """A row-normalised confusion matrix (true class in rows, predicted in columns)."""
    matrix = np.asarray(matrix)
    fig, ax = new_figure(figsize=(7, 6))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value > 0.5 else "black", fontsize=11)
    ax.set_xticks(range(len(classes)), classes, rotation=30, fontsize=11)
    ax.set_yticks(range(len(classes)), classes, fontsize=11)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.minorticks_off()
    fig.colorbar(image, ax=ax, label="fraction of true class")
    if title:
        ax.set_title(title, fontsize=13)
    return fig


def score_figure(scores: np.ndarray, labels: np.ndarray, classes, signal_class: str) -> Figure:
    """Distributions of p(signal_class) for jets of each true class (log scale)."""
    index = list(classes).index(signal_class)
    hists = {cls: histogram(scores[labels == c, index], bins=40, range=(0, 1), xlabel=f"p({signal_class})")
             for c, cls in enumerate(classes)}
    fig, ax = new_figure()
    plot_hists(hists, ax=ax, density=True, log=True)
    return fig


def image_grid(images_by_class: dict[str, np.ndarray], extent: float = LARGE_JET_RADIUS) -> Figure:
    """Average jet image per class, log colour scale; each image (size, size) in (eta, phi)."""
    from matplotlib.colors import LogNorm

    n = len(images_by_class)
    with matplotlib.style.context(STYLE):
        fig = Figure(figsize=(3.6 * n, 3.8))
        axes = fig.subplots(1, n)
    for ax, (cls, image) in zip(np.atleast_1d(axes), images_by_class.items()):
        ax.imshow(np.maximum(image, 1e-6), origin="lower", norm=LogNorm(1e-5, 1),
                  extent=(-extent, extent, -extent, extent), cmap="viridis")
        ax.set_title(cls, fontsize=13)
        ax.set_xlabel(r"$\eta'$", fontsize=12)
        ax.tick_params(labelsize=9)
    np.atleast_1d(axes)[0].set_ylabel(r"$\phi'$", fontsize=12)
    fig.tight_layout()
    return fig


def weights_figure(weights_by_model: dict[str, np.ndarray], bins: int = 60) -> Figure:
    """Histogram of the absolute values of non-zero weights per model (log x), e.g. before and after pruning."""
    fig, ax = new_figure()
    all_values = np.concatenate([np.abs(w[w != 0]) for w in weights_by_model.values()])
    axis = hist.axis.Regular(bins, max(all_values.min(), 1e-6), all_values.max() * 1.0001,
                             transform=hist.axis.transform.log, name="w", label="|weight|")
    for name, w in weights_by_model.items():
        nonzero = np.abs(w[w != 0])
        mplhep.histplot(hist.Hist(axis).fill(nonzero), ax=ax, histtype="step", lw=2, flow="none",
                        label=f"{name}: {len(nonzero)} of {w.size} weights non-zero")
    ax.set_xscale("log")
    ax.set_xlabel("|weight|")
    ax.set_ylabel("weights / bin")
    ax.legend(fontsize=10, loc="upper left")
    return fig


def bit_scan_figure(bits, accuracy, mean_auc, float_accuracy: float, float_auc: float, *,
                    label: str = "pruned + quantized") -> Figure:
    """Accuracy and mean AUC against the bit width, with the float model as reference lines."""
    fig, (acc_ax, auc_ax) = new_figure(ncols=2, figsize=(12, 4.5))
    for ax, values, reference, name in ((acc_ax, accuracy, float_accuracy, "accuracy"),
                                        (auc_ax, mean_auc, float_auc, "mean AUC")):
        ax.plot(bits, values, "o-", label=label)
        ax.axhline(reference, color="black", ls="--", label="float")
        low, high = min(min(values), reference), max(max(values), reference)
        ax.set_ylim(low - 0.08 * (high - low), high + 0.25 * (high - low))  # room for the float line and the legend
        ax.set_xscale("log", base=2)  # the bit widths double: 2, 4, 8, 16
        ax.set_xticks(sorted(bits), [str(b) for b in sorted(bits)])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("bits of weights and activations")
        ax.set_ylabel(name)
        ax.legend(fontsize=10)
    return fig


def bit_widths_figure(widths_by_layer: dict[str, np.ndarray], title: str = "") -> Figure:
    """How many weights of each layer have each bit width (sign included; 0: the weight is zero, pruned),
    e.g. from ``models.quantization.weight_widths``: one bar for QKeras, a spread for HGQ2."""
    fig, ax = new_figure()
    top = int(max(w.max() for w in widths_by_layer.values())) + 1
    axis = hist.axis.Integer(0, top + 1, name="bits", label="bits of a weight (sign included; 0 = pruned)")
    for name, widths in widths_by_layer.items():
        counts = hist.Hist(axis).fill(np.round(widths).astype(int).ravel())
        mplhep.histplot(counts, ax=ax, histtype="step", lw=2, flow="none", yerr=False,  # counts, not a sample
                        label=f"{name}: {np.mean(widths):.1f} bits per weight, zeros included")
    ax.set_xlabel("bits of a weight (sign included; 0 = pruned)")
    ax.set_ylabel("weights")
    ax.set_title(title, fontsize=12)
    ax.legend(fontsize=10)
    return fig
