"""Figures of generative models: generated against simulated features, correlations, training losses with
their checkpoints, and the pulls of the tails.
"""

from __future__ import annotations

import functools

import hist
import hist.intervals
import matplotlib
import mplhep
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hepwb.plotting.core import STYLE, auto_range, new_figure


def comparison_grid(real: np.ndarray, generated, names, *, units=None, ncols: int = 4, bins: int = 40,
                    labels=("real", "generated")) -> Figure:
    """Real vs generated histograms of every feature (columns of (n, d) tables), each with a ratio panel.

    ``generated`` is one table (labelled ``labels[1]``) or several, {label: table}, overlaid in C1, C2, ...
    Shapes are compared (all normalised to unit area); the real sample's statistical uncertainty is
    the grey band of the ratio panel. Ranges cover the real sample's 0.1-99.9 % quantiles.
    """
    names = list(names)
    units = list(units) if units is not None else [""] * len(names)
    generated = dict(generated) if isinstance(generated, dict) else {labels[1]: generated}
    nrows = -(-len(names) // ncols)
    with matplotlib.style.context(STYLE):
        fig = Figure(figsize=(4.2 * ncols, 4.0 * nrows))
        outer = fig.add_gridspec(nrows, ncols, hspace=0.45, wspace=0.35)
        for j, name in enumerate(names):
            cell = outer[j // ncols, j % ncols].subgridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
            main, sub = fig.add_subplot(cell[0]), fig.add_subplot(cell[1])
            integer = np.all(np.mod(real[:, j], 1) == 0)
            # a quantity most events lack (the 3rd jet's pT is 0 without a 3rd jet): its values where present
            present_fraction = np.mean(real[:, j] != 0)
            only_present = not integer and present_fraction < 0.7
            column = functools.partial(_column, j=j, only_present=only_present)
            low, high = auto_range(column(real))
            edges = np.arange(np.floor(low) - 0.5, np.ceil(high) + 1.0) if integer and high - low < 60 else \
                np.linspace(low, high, bins + 1)
            samples = {labels[0]: (column(real), "k"), **{label_: (column(table), f"C{k + 1}")
                                                           for k, (label_, table) in enumerate(generated.items())}}
            if only_present:
                main.set_title(f"where present ({present_fraction:.0%} of real events)", fontsize=9)
            densities = {}
            for label_, (values, colour) in samples.items():
                h = hist.Hist(hist.axis.Variable(edges)).fill(values)
                densities[label_] = h.density() if h.sum() > 0 else np.zeros(len(edges) - 1)
                mplhep.histplot(densities[label_], edges, ax=main, color=colour, lw=1.5, label=label_, flow="none")
                if label_ == labels[0]:
                    ref_err = np.sqrt(h.values()) / max(h.sum(), 1) / np.diff(edges)
            ref = densities[labels[0]]
            with np.errstate(divide="ignore", invalid="ignore"):
                for label_, (_, colour) in list(samples.items())[1:]:
                    sub.stairs(np.where(ref > 0, densities[label_] / ref, np.nan), edges, color=colour, lw=1.5)
                band = np.where(ref > 0, ref_err / ref, np.nan)
            sub.stairs(1 + band, edges, baseline=1 - band, fill=True, color="grey", alpha=0.4)
            sub.axhline(1, color="black", lw=0.8)
            sub.set_ylim(0.5, 1.5)
            main.set_xticklabels([])
            main.tick_params(labelsize=9)
            sub.tick_params(labelsize=9)
            sub.set_xlabel(f"{name} [{units[j]}]" if units[j] else name, fontsize=11)
            main.set_xlim(edges[0], edges[-1])
            sub.set_xlim(edges[0], edges[-1])
            if j % ncols == 0:
                main.set_ylabel("density", fontsize=11)
                sub.set_ylabel("gen / real", fontsize=9)
            if j == 0:
                main.legend(fontsize=9)
    return fig


def _column(table: np.ndarray, *, j: int, only_present: bool) -> np.ndarray:
    return table[table[:, j] != 0, j] if only_present else table[:, j]


def correlation_difference(real: np.ndarray, generated: np.ndarray, names) -> Figure:
    """Pearson correlation matrices of the real sample and (generated - real), side by side."""
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant feature has no correlation: NaN, drawn as 0
        corr_real = np.corrcoef(real, rowvar=False)
        corr_gen = np.corrcoef(generated, rowvar=False)
    fig, axes = new_figure(ncols=2, figsize=(15, 6.5))
    for ax, matrix, title, cmap, limit in ((axes[0], corr_real, "real: correlation", "RdBu_r", 1.0),
                                           (axes[1], corr_gen - corr_real, "generated - real", "PiYG", 0.2)):
        image = ax.imshow(np.nan_to_num(matrix), cmap=cmap, vmin=-limit, vmax=limit)
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_title(title, fontsize=12)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return fig


def gan_losses(history: dict, checkpoints=(), chosen: int | None = None) -> Figure:
    """Generator and discriminator losses and the m_ll term against epoch; checkpoints as ticks, the chosen one red."""
    fig, (loss_ax, mass_ax) = new_figure(ncols=2, figsize=(12, 4.2))
    epochs = history["epoch"]
    loss_ax.plot(epochs, history["generator_loss"], label="generator")
    loss_ax.plot(epochs, history["discriminator_loss"], label="discriminator / critic")
    mass_ax.plot(epochs, history["mass_loss"], color="C2")
    mass_ax.set_yscale("log")
    for ax in (loss_ax, mass_ax):
        for epoch in checkpoints:
            ax.axvline(epoch, color="red" if epoch == chosen else "grey", lw=1.5 if epoch == chosen else 0.5,
                       ls="-" if epoch == chosen else ":")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_ax.set_ylabel("loss")
    loss_ax.legend(fontsize=10)
    mass_ax.set_ylabel(r"MSE of sorted $m_{\mu\mu}$ [GeV$^2$]")
    return fig


def flow_losses(history: dict, checkpoints=(), chosen: int | None = None) -> Figure:
    """A flow's mean negative log-likelihood per event (training and validation) against epoch; checkpoints as
    ticks, the chosen one red."""
    fig, ax = new_figure(figsize=(7, 4.2))
    ax.plot(history["epoch"], history["train_nll"], label="training")
    if np.isfinite(history["validation_nll"]).any():
        ax.plot(history["epoch"], history["validation_nll"], label="validation")
    for epoch in checkpoints:
        ax.axvline(epoch, color="red" if epoch == chosen else "grey", lw=1.5 if epoch == chosen else 0.5,
                   ls="-" if epoch == chosen else ":")
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative log-likelihood / event")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=10)
    return fig


def tail_pulls_figure(results: dict[str, dict[str, dict]], *, n_sigma: float = 2.0) -> Figure:
    """Pulls of the tail bins (``metrics.tail_agreement``), one panel per feature, one marker colour per generator.

    ``results``: {generator: {feature: tail_agreement result}}. Bins run from the outermost lower-tail bin to
    the outermost upper-tail bin; the band is +-``n_sigma``; the legend gives the fraction inside it.
    """
    features = list(next(iter(results.values())))
    fig, axes = new_figure(ncols=len(features), figsize=(6 * len(features), 4.2))
    axes = np.atleast_1d(axes)
    for ax, feature in zip(axes, features):
        for index, (model, by_feature) in enumerate(results.items()):
            result = by_feature[feature]
            n_upper = len(result["edges"][0]) - 1
            upper, lower = result["pulls"][:n_upper], result["pulls"][n_upper:]
            positions = np.concatenate([np.arange(-len(lower), 0), np.arange(1, n_upper + 1)])
            offset = 0.12 * (index - (len(results) - 1) / 2)
            ax.plot(positions + offset, np.concatenate([lower, upper]), "o", color=f"C{index + 1}",
                    label=f"{model}: {result['fraction']:.0%} within {n_sigma:g}σ")
        ax.axhspan(-n_sigma, n_sigma, color="grey", alpha=0.2)
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(0, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(f"{feature}: tail bin (< 0 lower tail, > 0 upper tail)")
        ax.set_ylabel("pull (generated - simulated) / σ")
        ax.legend(fontsize=9)
    return fig
