"""Figures of energy regression at the trigger: scale and resolution, turn-on curves, tower windows, rate
curves and the differences between firmware and software.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hepwb.plotting.core import LINE_STYLES, STYLE, label, new_figure, readable_log_axis


def scale_resolution_figure(tables: dict, *, xlabel: str = r"true jet $p_T$ [GeV]", log_x: bool = True) -> Figure:
    """The jet energy scale and resolution plots: response (top) and resolution (bottom) per bin,
    one line per model (``tables[name]`` from ``metrics.response_resolution``), with their errors."""
    fig, (main, sub) = new_figure(ratio=True, figsize=(7.5, 8.0))
    main.axhspan(0.98, 1.02, color="grey", alpha=0.15, lw=0, label=r"$\pm$2 %")
    for i, (name, table) in enumerate(tables.items()):
        style = dict(color=f"C{i}", marker="os^Dv"[i % 5], linestyle=LINE_STYLES[i % len(LINE_STYLES)], markersize=5)
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
        readable_log_axis(sub.xaxis)
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
    with matplotlib.style.context(STYLE):
        fig = Figure(figsize=(4.0 * n, 4.4))
        axes = fig.subplots(1, n, squeeze=False)[0]
    half = towers.shape[1] // 2
    for ax, window, title in zip(axes, towers, titles):
        total = window.sum(axis=-1)
        image = ax.imshow(total.T, origin="lower", cmap="viridis",
                          extent=(-half - 0.5, half + 0.5, -half - 0.5, half + 0.5))
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
                    markersize=5, linestyle=LINE_STYLES[i % len(LINE_STYLES)], label=name)
    ax.set_yscale("log")
    readable_log_axis(ax.yaxis)
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
