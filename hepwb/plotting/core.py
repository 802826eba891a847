"""The house style and the figures every notebook uses: a thin layer over hist and mplhep.

Owns: the mplhep style and label (set in one place), 1D histograms of arrays (jagged ones
flattened, always a ``hist.Hist``), overlays of several samples, comparison plots with a ratio panel,
ROOT's own histograms, and the generic figures (scatter, bars, training curves).

Every function that draws returns its ``matplotlib.figure.Figure`` (axes: ``fig.axes``). The figures
are not tied to pyplot, so a notebook shows one by ending the cell with it or by ``display(fig)``.
"""

from __future__ import annotations

import contextlib

import awkward as ak
import hist
import hist.intervals
import matplotlib
import mplhep
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hepwb.constants import COLLISION_ENERGY_TEV

#: the experiment-style label: ours, not an experiment's
EXPERIMENT = "hepwb"
ENERGY_TEV = COLLISION_ENERGY_TEV
#: a widget's picture: small enough to sit beside its controls on a laptop's notebook
WIDGET_FIGSIZE = (6.4, 5.0)
#: line styles of the models of one figure, in turn (colours C0, C1, ... go with them)
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1)))
STYLE = {**mplhep.style.CMS, "figure.figsize": (7.5, 6.0), "font.size": 16, "legend.fontsize": 12,
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
    matplotlib.style.use(STYLE)


def label(ax, *, data: bool = False, text: str = "", com: float | None = ENERGY_TEV, rlabel: str | None = None,
          experiment: str = EXPERIMENT) -> None:
    """Put the 'hepwb Simulation ... (13 TeV)' label on ``ax`` (``data=True`` for collision data; ``experiment``
    names whoever made the sample, e.g. "CMS" with ``text="Open Data"``)."""
    with pyplot_released():  # mplhep calls plt.gca() inside
        mplhep.label.exp_label(exp=experiment, text=text, data=data, com=com, rlabel=rlabel, ax=ax, loc=0)


@contextlib.contextmanager
def pyplot_released():
    """Let go of every figure pyplot gained in the block (mplhep's plt.gca() and plt.sca() register figures):
    the inline backend would otherwise show them again, in the next output or JupyterLab's Log Console.
    Our figure objects stay usable."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        yield
    finally:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)


def new_figure(ratio: bool = False, figsize=None, ncols: int = 1):
    """A figure (not tied to pyplot's global state) and its axes.

    One axis by default; ``ncols`` side-by-side axes (returned as a list); or, with ``ratio=True``,
    a main axis and a ratio axis below it.
    """
    with matplotlib.style.context(STYLE):
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
               com: float | None = ENERGY_TEV, experiment: str | None = EXPERIMENT, label_text: str = "") -> Figure:
    """Overlay histograms (label -> Hist) with mplhep on ``ax`` (a new figure if None); returns the figure.

    ``data=True`` labels the plot as collision data; ``com`` is the centre-of-mass energy in TeV
    shown in the label (None to leave it out); ``experiment`` is who made the sample ("hepwb" for the
    workbench's own, "CMS" for its open data, None for no label on a file of unknown origin).
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
    if experiment is not None:
        label(ax, data=data, com=com, experiment=experiment, text=label_text)
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


def plot_root_histogram(obj, ax=None, log: bool = False, experiment: str | None = None) -> Figure:
    """Draw a histogram read from a ROOT file (TH1, TH2, TProfile) with mplhep; returns the figure.

    ``experiment`` labels it (e.g. "hepwb" for the workbench's own files); None, for a file from
    elsewhere, draws no experiment label."""
    if ax is None:
        _, ax = new_figure()
    classname = getattr(obj, "classname", "")
    if classname.startswith("TH2"):
        with pyplot_released():  # hist2dplot ends with plt.sca(ax)
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
    if experiment is not None:
        label(ax, experiment=experiment)
    return ax.figure


def readable_log_axis(axis) -> None:
    """Label a log axis at 1, 2, 5 x 10^k as plain numbers, without the minor labels that overlap on a short
    range (``axis``: ``ax.xaxis`` or ``ax.yaxis``, already log-scaled)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def scatter_figure(x, y, *, xlabel: str, ylabel: str, log: bool = False, diagonal: bool = True,
                   names=None) -> Figure:
    """y against x as points (e.g. firmware against Keras scores), with the diagonal y = x for reference.

    ``names`` labels each point (a few points, e.g. one per test set: drawn large, each with its name)."""
    fig, ax = new_figure()
    if names is None:
        ax.scatter(x, y, s=2, alpha=0.3)
    else:
        for i, (xi, yi, name) in enumerate(zip(x, y, names)):
            ax.plot(xi, yi, "os^Dv*"[i % 6], color=f"C{i}", markersize=10, linestyle="none", label=name)
        ax.legend(loc="best", fontsize=10)
        ax.margins(0.15)
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


def training_curves(history: dict, title: str = "", keys=("loss", "accuracy")) -> Figure:
    """``keys`` (loss and accuracy) against epoch, training (solid) and validation (dashed), from a Keras history.

    Every epoch is a marker, so that one epoch already shows a point; the epoch axis has integer ticks.
    """
    fig, axes = new_figure(ncols=len(keys), figsize=(5.5 * len(keys), 4))
    epochs = max((len(history.get(prefix + key) or []) for key in keys for prefix in ("", "val_")), default=0)
    for ax, key in zip(np.atleast_1d(axes), keys):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                ax.plot(np.arange(1, len(values) + 1), values, style, marker="o", ms=5 if len(values) < 40 else 0,
                        label=("validation " if prefix else "training ") + key)
        ax.margins(y=0.15)  # the house style has none: the first and last points would sit on the frame
        ax.set_xlabel("epoch")
        if epochs <= 10:  # MaxNLocator falls back to fractions when it finds too few integers
            ax.set_xticks(range(1, max(epochs, 1) + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0.5, max(epochs, 1) + 0.5)
        ax.set_ylabel(key)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=13)
    return fig
