"""The house style and the figures every notebook uses: a thin layer over hist and mplhep.

Owns: the mplhep style and label (set in one place), 1D histograms of arrays (jagged ones
flattened, always a ``hist.Hist``), overlays of several samples, and comparison plots with a ratio panel.

Every function that draws returns its ``matplotlib.figure.Figure`` (axes: ``fig.axes``). The figures
are not tied to pyplot, so a notebook shows one by ending the cell with it or by ``display(fig)``.
"""

from __future__ import annotations

import awkward as ak
import hist
import hist.intervals
import matplotlib
import mplhep
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

#: the experiment-style label: ours, not an experiment's
EXPERIMENT = "hepwb"
ENERGY_TEV = 13
_STYLE = {**mplhep.style.CMS, "figure.figsize": (7.5, 6.0), "font.size": 16, "legend.fontsize": 12,
          "axes.labelsize": 16, "xtick.labelsize": 13, "ytick.labelsize": 13}


def set_style() -> None:
    """Use the house style (mplhep's CMS-like look, smaller fonts) and, in a notebook, inline figures.

    Inline is switched on explicitly so that figures show as pictures even where MPLBACKEND
    names a non-interactive backend (papermill under a test runner, for example).
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None and hasattr(shell, "kernel"):
        shell.run_line_magic("matplotlib", "inline")
    matplotlib.style.use(_STYLE)


def label(ax, *, data: bool = False, text: str = "", com: float | None = ENERGY_TEV, rlabel: str | None = None) -> None:
    """Put the 'hepwb Simulation ... (13 TeV)' label on ``ax`` (``data=True`` for collision data)."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    mplhep.label.exp_label(exp=EXPERIMENT, text=text, data=data, com=com, rlabel=rlabel, ax=ax, loc=0)
    for number in set(plt.get_fignums()) - before:  # mplhep calls plt.gca() inside: drop that empty figure
        plt.close(number)


def new_figure(ratio: bool = False, figsize=None, ncols: int = 1):
    """A figure (not tied to pyplot's global state) and its axes.

    One axis by default; ``ncols`` side-by-side axes (returned as a list); or, with ``ratio=True``,
    a main axis and a ratio axis below it.
    """
    with matplotlib.style.context(_STYLE):
        fig = Figure(figsize=figsize or (7.5 * ncols if ncols > 1 else 7.5, 6.0))
        if ncols > 1:
            return fig, list(fig.subplots(1, ncols, gridspec_kw={"wspace": 0.3}))
        if not ratio:
            return fig, fig.add_subplot()
        main, sub = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05})
        return fig, (main, sub)


def to_flat_numpy(values) -> np.ndarray:
    """Any array (numpy, awkward, jagged) -> flat float64 numpy array without NaN."""
    if isinstance(values, ak.Array):
        values = ak.to_numpy(ak.flatten(values, axis=None))
    values = np.asarray(values, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def auto_range(values, quantiles=(0.001, 0.999)) -> tuple[float, float]:
    """A plotting range that holds all but the outermost 0.1 % on each side."""
    values = to_flat_numpy(values)
    if len(values) == 0:
        return 0.0, 1.0
    lo, hi = np.quantile(values, quantiles)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return float(lo), float(hi)


def histogram(values, bins: int = 50, range: tuple[float, float] | None = None, *, name: str = "x",
              xlabel: str | None = None, weights=None) -> hist.Hist:
    """A 1D ``hist.Hist`` (Weight storage) of ``values``; the range defaults to ``auto_range``."""
    values = to_flat_numpy(values)
    lo, hi = range if range is not None else auto_range(values)
    h = hist.Hist.new.Reg(bins, lo, hi, name=name, label=xlabel or name).Weight()
    h.fill(values, weight=weights)
    return h


def plot_hists(hists: dict[str, hist.Hist], *, ax=None, density: bool = False, log: bool = False,
               xlabel: str | None = None, ylabel: str | None = None, histtype: str = "step", data: bool = False,
               com: float | None = ENERGY_TEV) -> Figure:
    """Overlay histograms (label -> Hist) with mplhep on ``ax`` (a new figure if None); returns the figure.

    ``data=True`` labels the plot as collision data; ``com`` is the centre-of-mass energy in TeV
    shown in the label (None to leave it out, e.g. for a file of unknown origin).
    """
    if ax is None:
        _, ax = new_figure()
    if hists:
        mplhep.histplot(list(hists.values()), label=list(hists.keys()), ax=ax, density=density,
                        histtype=histtype, yerr=False if density else True, flow="none")
        first = next(iter(hists.values()))
        ax.set_xlabel(xlabel or first.axes[0].label)
    ax.set_ylabel(ylabel or ("Fraction / bin" if density else "Entries / bin"))
    if log:
        ax.set_yscale("log")
    if len(hists) > 1 or (hists and next(iter(hists)) != ""):
        ax.legend(loc="upper right")
    label(ax, data=data, com=com)
    return ax.figure


def overlay_panels(panels: list[dict[str, hist.Hist]], *, density: bool = True, log: bool = False,
                   titles=None) -> Figure:
    """Side-by-side overlays, one panel per quantity: ``panels[i] = {sample: Hist}`` (x label from the
    Hists), each titled by ``titles[i]`` when given."""
    fig, axes = new_figure(ncols=len(panels))
    for i, (ax, hists) in enumerate(zip(np.atleast_1d(axes), panels)):
        plot_hists(hists, ax=ax, density=density, log=log)
        if titles is not None:
            ax.set_title(titles[i], fontsize=14, pad=28)
    return fig


def compare(hists: dict[str, hist.Hist], reference: str, *, xlabel: str | None = None, ylabel: str | None = None,
            log: bool = False, density: bool = False, data: bool = False,
            ratio_range: tuple[float, float] = (0.5, 1.5)) -> Figure:
    """Overlay with a ratio panel below (each sample / ``reference``, y range ``ratio_range``); returns the figure.

    Densities come from ``Hist.density()`` and the ratio's Poisson (Garwood) uncertainties from
    ``hist.intervals.ratio_uncertainty``; the reference's own uncertainty is the shaded band.
    """
    if reference not in hists:
        raise KeyError(f"reference {reference!r} is not among the histograms {list(hists)}")
    fig, (main, sub) = new_figure(ratio=True, figsize=(7.5, 7.5))
    plot_hists(hists, ax=main, density=density, log=log, data=data, ylabel=ylabel)
    main.set_xlabel("")
    ref = hists[reference]
    ref_values = ref.density() if density else ref.values()
    centres = ref.axes[0].centers
    for index, (name, h) in enumerate(hists.items()):  # histplot colours follow the cycle: C0, C1, ...
        values = h.density() if density else h.values()
        scale = ref.values().sum() / max(h.values().sum(), 1e-300) if density else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(ref_values > 0, values / ref_values, np.nan)
            errors = hist.intervals.ratio_uncertainty(h.values(), np.where(ref.values() > 0, ref.values(), np.nan))
        errors = np.nan_to_num(errors * scale, nan=0.0)
        if name == reference:
            sub.fill_between(centres, 1 - errors[0], 1 + errors[1], step="mid", color=f"C{index}", alpha=0.3)
        else:
            sub.errorbar(centres, ratio, yerr=errors, fmt="o", ms=3, color=f"C{index}", label=name)
    sub.axhline(1.0, color="black", lw=1)
    sub.set_ylim(*ratio_range)
    sub.set_ylabel(f"/ {reference}" if len(reference) < 12 else "ratio")
    sub.set_xlabel(xlabel or ref.axes[0].label)
    return fig


def plot_root_histogram(obj, ax=None, log: bool = False) -> Figure:
    """Draw a histogram read from a ROOT file (TH1, TH2, TProfile) with mplhep; returns the figure."""
    if ax is None:
        _, ax = new_figure()
    classname = getattr(obj, "classname", "")
    if classname.startswith("TH2"):
        artists = mplhep.hist2dplot(obj.to_hist(), ax=ax, cbar=False)
        ax.figure.colorbar(artists.pcolormesh, ax=ax, label="Entries / bin")
    else:
        mplhep.histplot(obj.to_hist() if not classname.startswith("TProfile") else obj, ax=ax,
                        yerr=True, histtype="step", label=obj.name)
        ax.set_ylabel("Entries / bin" if not classname.startswith("TProfile") else "mean")
        ax.legend(loc="upper right")
    ax.set_xlabel(obj.member("fXaxis").member("fTitle") or obj.name)
    if log:
        ax.set_yscale("log")
    label(ax)
    return ax.figure


def scatter_figure(x, y, *, xlabel: str, ylabel: str, log: bool = False, diagonal: bool = True) -> Figure:
    """y against x as points (e.g. firmware against Keras scores), with the diagonal y = x for reference."""
    fig, ax = new_figure()
    ax.scatter(x, y, s=2, alpha=0.3)
    if diagonal:
        lo, hi = min(np.min(x), np.min(y)), max(np.max(x), np.max(y))
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--", label="y = x")
        ax.legend(loc="upper left", fontsize=11)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig


# ------------------------------------------------------------------------------------------
# classifier figures
# ------------------------------------------------------------------------------------------

_LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1)))


def feature_grid(features: np.ndarray, labels: np.ndarray, names, classes, *, ncols: int = 4, bins: int = 40) -> Figure:
    """Normalised distributions of every input feature per class; features (n, k)."""
    nrows = int(np.ceil(features.shape[1] / ncols))
    with matplotlib.style.context(_STYLE):
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
    efficiency, one line per model with its AUC in the legend. ``curves_by_model[model][class] = (tpr, fpr)``."""
    classes = list(classes)
    nrows = -(-len(classes) // ncols)
    with matplotlib.style.context(_STYLE):
        fig = Figure(figsize=(5.2 * ncols, 4.6 * nrows))
        axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
    for ax, cls in zip(axes, classes):
        for m, (model, curves) in enumerate(curves_by_model.items()):
            tpr, fpr = curves[cls]
            ax.plot(tpr, np.maximum(fpr, 1e-6), color=f"C{m}", linestyle=_LINE_STYLES[m % len(_LINE_STYLES)],
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


def image_grid(images_by_class: dict[str, np.ndarray], extent: float = 0.8) -> Figure:
    """Average jet image per class, log colour scale; each image (size, size) in (eta, phi)."""
    from matplotlib.colors import LogNorm

    n = len(images_by_class)
    with matplotlib.style.context(_STYLE):
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


def training_curves(history: dict, title: str = "", keys=("loss", "accuracy")) -> Figure:
    """``keys`` (loss and accuracy) against epoch, training (solid) and validation (dashed), from a Keras history."""
    fig, axes = new_figure(ncols=len(keys), figsize=(5.5 * len(keys), 4))
    for ax, key in zip(np.atleast_1d(axes), keys):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                ax.plot(np.arange(1, len(values) + 1), values, style,
                        label=("validation " if prefix else "training ") + key)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.legend(loc="best", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=13)
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


def bit_scan_figure(bits, accuracy, mean_auc, float_accuracy: float, float_auc: float) -> Figure:
    """Accuracy and mean AUC against the bit width, with the float model as reference lines."""
    fig, (acc_ax, auc_ax) = new_figure(ncols=2, figsize=(12, 4.5))
    for ax, values, reference, name in ((acc_ax, accuracy, float_accuracy, "accuracy"),
                                        (auc_ax, mean_auc, float_auc, "mean AUC")):
        ax.plot(bits, values, "o-", label="pruned + quantized (QKeras)")
        ax.axhline(reference, color="black", ls="--", label="float")
        ax.set_xlabel("bits of weights and activations")
        ax.set_ylabel(name)
        ax.legend(fontsize=10)
    return fig


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
    with matplotlib.style.context(_STYLE):
        fig = Figure(figsize=(4.2 * ncols, 4.0 * nrows))
        outer = fig.add_gridspec(nrows, ncols, hspace=0.45, wspace=0.35)
        for j, name in enumerate(names):
            cell = outer[j // ncols, j % ncols].subgridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
            main, sub = fig.add_subplot(cell[0]), fig.add_subplot(cell[1])
            low, high = auto_range(real[:, j])
            integer = np.all(np.mod(real[:, j], 1) == 0)
            edges = np.arange(np.floor(low) - 0.5, np.ceil(high) + 1.0) if integer and high - low < 60 else \
                np.linspace(low, high, bins + 1)
            samples = {labels[0]: (real[:, j], "k"), **{label_: (table[:, j], f"C{k + 1}")
                                                         for k, (label_, table) in enumerate(generated.items())}}
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


def correlation_difference(real: np.ndarray, generated: np.ndarray, names) -> Figure:
    """Pearson correlation matrices of the real sample and (generated - real), side by side."""
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
        h = hist.Hist(hist.axis.Regular(bins, lo, hi, transform=transform, name="score", label=xlabel), storage=hist.storage.Weight())
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


def anomaly_roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], aucs: dict[str, float], *,
                       fpr_line: float | None = None, collision_rate_hz: float = 40e6) -> Figure:
    """Signal efficiency against background efficiency (log x), with the trigger rate it means on a top axis.

    ``curves[name] = (fpr, tpr)``; ``fpr_line`` marks the chosen working point.
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
    top = ax.secondary_xaxis("top", functions=(lambda f: f * collision_rate_hz / 1e3, lambda r: r * 1e3 / collision_rate_hz))
    top.set_xlabel("trigger rate out of 40 MHz [kHz]", fontsize=12)
    ax.legend(fontsize=9, loc="upper left")
    return fig


def contribution_figure(contributions: dict[str, dict[str, float]], *, ylabel: str = "mean share of the anomaly score") -> Figure:
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


# ------------------------------------------------------------------------------------------
# robustness figures: decorrelation, calibration, a changed detector
# ------------------------------------------------------------------------------------------

def decorrelation_figure(points: dict[str, tuple[float, float]], curve: list[str] = (), *,
                         signal_efficiency: float = 0.5) -> Figure:
    """The decorrelation trade-off: background rejection against 1/JSD of the passing and failing
    background mass (both log). ``points[name] = (inverse_jsd, rejection)``; the names in ``curve``
    (e.g. the DisCo weights, in order) are joined by a line, the others drawn as single markers."""
    fig, ax = new_figure()
    if curve:
        ax.plot([points[n][0] for n in curve], [points[n][1] for n in curve], "o-", color="C0", label="DisCo")
        for name in curve:
            ax.annotate(name, points[name], textcoords="offset points", xytext=(6, 4), fontsize=10)
    for i, (name, (inverse_jsd, rejection)) in enumerate((n, p) for n, p in points.items() if n not in curve):
        ax.plot(inverse_jsd, rejection, "s*D^v"[i % 5], color=f"C{i + 1}", markersize=11, linestyle="none", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("1 / JSD (background mass, passing vs failing)")
    ax.set_ylabel(f"background rejection at {signal_efficiency:.0%} signal efficiency")
    ax.legend(fontsize=11, loc="lower left")
    return fig


def reliability_figure(tables: dict[str, dict], errors: dict[str, float] | None = None) -> Figure:
    """Reliability diagram: accuracy against confidence per bin (``metrics.reliability`` tables), the
    diagonal of a calibrated classifier, and below the fraction of jets per confidence bin."""
    fig, (main, sub) = new_figure(ratio=True, figsize=(7.5, 7.5))
    main.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="calibrated")
    for i, (name, table) in enumerate(tables.items()):
        filled = table["counts"] > 0
        text = f"{name} (ECE {errors[name]:.3f})" if errors and name in errors else name
        main.plot(table["confidence"][filled], table["accuracy"][filled], "o-", color=f"C{i}", label=text)
        sub.stairs(table["counts"] / table["counts"].sum(), table["edges"], color=f"C{i}")
    main.set_ylabel("accuracy")
    main.set_xlim(0, 1)
    main.set_ylim(0, 1)
    main.legend(fontsize=11, loc="upper left")
    sub.set_xlabel("confidence (highest class score)")
    sub.set_ylabel("jets")
    return fig


def shift_figure(values: dict[str, dict[str, float]], *, ylabel: str = "mean AUC") -> Figure:
    """One line per tagger across test sets: ``values[tagger][test_set]`` (e.g. the mean AUC)."""
    fig, ax = new_figure(figsize=(9.0, 6.0))
    for i, (name, by_set) in enumerate(values.items()):
        ax.plot(range(len(by_set)), list(by_set.values()), marker="o", color=f"C{i}",
                linestyle=_LINE_STYLES[i % len(_LINE_STYLES)], label=name)
    ax.set_xticks(range(len(by_set)), list(by_set), rotation=20, ha="right", fontsize=11)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=10, ncol=2)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------
# energy regression at the trigger: scale, resolution, turn-on
# ------------------------------------------------------------------------------------------

def scale_resolution_figure(tables: dict, *, xlabel: str = r"true jet $p_T$ [GeV]", log_x: bool = True) -> Figure:
    """The jet energy scale and resolution plots: response (top) and resolution (bottom) per bin,
    one line per model (``tables[name]`` from ``metrics.response_resolution``), with their errors."""
    fig, (main, sub) = new_figure(ratio=True, figsize=(7.5, 8.0))
    main.axhspan(0.98, 1.02, color="grey", alpha=0.15, lw=0, label=r"$\pm$2 %")
    for i, (name, table) in enumerate(tables.items()):
        style = dict(color=f"C{i}", marker="os^Dv"[i % 5], linestyle=_LINE_STYLES[i % len(_LINE_STYLES)], markersize=5)
        main.errorbar(table["centre"], table["response"], yerr=table["response_error"], label=name, **style)
        sub.errorbar(table["centre"], table["resolution"], yerr=table["resolution_error"], **style)
    main.axhline(1.0, color="grey", lw=1)
    main.set_ylabel(r"response (median $p_T^{pred} / p_T^{true}$)")
    main.legend(fontsize=11, ncol=2)
    sub.set_ylabel("resolution")
    sub.set_xlabel(xlabel)
    sub.set_ylim(bottom=0)
    if log_x:
        sub.set_xscale("log")
    label(main)
    return fig


def turn_on_figure(tables: dict, threshold: float, fits: dict | None = None) -> Figure:
    """Trigger efficiency against offline pT for one Level-1 threshold, one set of points per model
    (``tables[name]`` from ``metrics.turn_on``), with the fitted error functions of ``fits[name]``
    (``metrics.turn_on_fit``) and their 95 % points."""
    from scipy import stats

    fig, ax = new_figure()
    for i, (name, table) in enumerate(tables.items()):
        text = name if not fits else f"{name}: 95 % at {fits[name]['pt95']:.0f} GeV"
        ax.errorbar(table["centre"], table["efficiency"], yerr=(table["error_low"], table["error_high"]),
                    xerr=(table["high"] - table["low"]) / 2, color=f"C{i}", marker="o", markersize=4,
                    linestyle="none", label=text)
        if fits:
            x = np.linspace(table["low"].iloc[0], table["high"].iloc[-1], 300)
            ax.plot(x, stats.norm.cdf((x - fits[name]["mu"]) / fits[name]["sigma"]), color=f"C{i}", lw=1.5)
    ax.axhline(0.95, color="grey", ls=":", lw=1)
    ax.axvline(threshold, color="grey", ls="--", lw=1)
    ax.set_xlabel(r"offline jet $p_T$ [GeV]")
    ax.set_ylabel(f"efficiency of $p_T^{{L1}} \\geq$ {threshold:g} GeV")
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=11, loc="lower right")
    label(ax)
    return fig


def tower_windows_figure(towers: np.ndarray, titles) -> Figure:
    """Trigger tower windows side by side: ``towers`` (n, 9, 9, 2) in GeV, ECAL + HCAL per tower
    (ECAL ET written in each tower where it is at least 1 GeV)."""
    n = len(towers)
    with matplotlib.style.context(_STYLE):
        fig = Figure(figsize=(4.0 * n, 4.4))
        axes = fig.subplots(1, n, squeeze=False)[0]
    half = towers.shape[1] // 2
    for ax, window, title in zip(axes, towers, titles):
        total = window.sum(axis=-1)
        image = ax.imshow(total.T, origin="lower", cmap="viridis", extent=(-half - 0.5, half + 0.5, -half - 0.5, half + 0.5))
        for (i, j), value in np.ndenumerate(window[..., 0]):
            if value >= 1:
                ax.text(i - half, j - half, f"{value:.0f}", ha="center", va="center", fontsize=7, color="white")
        ax.set_title(title, fontsize=11)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(r"$i\eta$ - seed")
        ax.set_ylabel(r"$i\phi$ - seed")
        fig.colorbar(image, ax=ax, fraction=0.046, label="ECAL + HCAL ET [GeV]")
    fig.tight_layout()
    return fig


def rate_figure(curves: dict, *, efficiency: float = 0.95) -> Figure:
    """Trigger rate against the offline pT where the trigger is ``efficiency`` efficient, one line per
    model (``curves[name]`` from ``metrics.rate_curve``); log y. Lower is better."""
    fig, ax = new_figure()
    for i, (name, curve) in enumerate(curves.items()):
        ax.errorbar(curve["offline_pt"], curve["rate"], yerr=curve["rate_error"], color=f"C{i}", marker="os^Dv"[i % 5],
                    markersize=5, linestyle=_LINE_STYLES[i % len(_LINE_STYLES)], label=name)
    ax.set_yscale("log")
    ax.set_xlabel(f"offline jet $p_T$ at {efficiency:.0%} efficiency [GeV]")
    ax.set_ylabel("rate (fraction of QCD jets passing)")
    ax.legend(fontsize=11)
    label(ax)
    return fig


def difference_figure(differences: dict, *, step: float = 0.5, limit: float = 2.0) -> Figure:
    """Histograms of firmware minus software predictions [GeV], one per model, with the +-``step`` band
    (one trigger energy step) that the agreement counts."""
    fig, ax = new_figure()
    edges = np.linspace(-limit, limit, 81)
    for i, (name, values) in enumerate(differences.items()):
        counts = np.histogram(np.clip(values, -limit, limit), edges)[0]
        ax.stairs(counts, edges, color=f"C{i}", lw=1.5, label=name)
    ax.axvspan(-step, step, color="grey", alpha=0.15, lw=0, label=f"$\\pm${step:g} GeV")
    ax.set_yscale("log")
    ax.set_xlabel(r"firmware $-$ software $p_T$ [GeV] (overflow in the edge bins)")
    ax.set_ylabel("jets")
    ax.legend(fontsize=11)
    return fig


def bars_figure(values: dict, *, xlabel: str, log: bool = False) -> Figure:
    """Horizontal bars, one per name, in the order given (e.g. a BDT's feature importances), each labelled with
    its value; ``log`` for a logarithmic axis (e.g. rates spanning orders of magnitude)."""
    fig, ax = new_figure(figsize=(7.5, 0.45 * len(values) + 1.5))
    bars = ax.barh(range(len(values)), list(values.values()), color="C0")
    ax.bar_label(bars, labels=[f"{v:.3g}" for v in values.values()], fontsize=10, padding=2)
    ax.set_yticks(range(len(values)), list(values), fontsize=12)
    ax.set_xlabel(xlabel)
    if log:
        ax.set_xscale("log")
        ax.set_xlim(right=ax.get_xlim()[1] * 5)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------
# parameter scans (hepwb scan)
# ------------------------------------------------------------------------------------------

def scan_figure(table, metric: str, parameters: list[str], *, seed: str = "seed") -> Figure:
    """``metric`` against each scanned parameter (one panel each): the mean over seeds, the standard
    deviation over seeds as error bars, one line per value of the other scanned parameters.

    ``table``: a pandas DataFrame with one row per run (``hepwb.scan.scan_rows``).
    """
    fig, axes = new_figure(ncols=len(parameters), figsize=(7.0 * len(parameters), 5.0))
    axes = axes if len(parameters) > 1 else [axes]
    for ax, parameter in zip(axes, parameters):
        others = [p for p in parameters if p != parameter]
        values = sorted(table[parameter].unique(), key=str)
        numeric = all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values)
        position = {v: (v if numeric else i) for i, v in enumerate(values)}  # categories: evenly spaced
        groups = table.groupby(others, dropna=False) if others else [((), table)]
        for i, (key, rows) in enumerate(groups):
            key = key if isinstance(key, tuple) else (key,)
            stats = rows.groupby(parameter, sort=True)[metric].agg(["mean", "std"])
            name = ", ".join(f"{p} = {v}" for p, v in zip(others, key)) or None
            ax.errorbar([position[v] for v in stats.index], stats["mean"], yerr=stats["std"].fillna(0.0), marker="o",
                        capsize=4, color=f"C{i}", linestyle=_LINE_STYLES[i % len(_LINE_STYLES)], label=name)
        if not numeric:
            ax.set_xticks(list(position.values()), [str(v) for v in position])
        elif all(float(v).is_integer() for v in values):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        runs = int(table.groupby(parameters)[metric].count().max()) if seed in table else 1
        ax.set_xlabel(parameter, fontsize=14)
        ax.set_ylabel(metric + (f" (mean ± std over {runs} {seed}s)" if runs > 1 else ""), fontsize=14)
        if others:
            ax.legend(fontsize=10)
    return fig
