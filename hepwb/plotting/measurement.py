"""Figures of a measurement: stacked templates against (pseudo-)data before and after the fit, the
systematic variations, the toys' pulls, a reweighter's before and after, and the methods side by side.
(cabinetry draws the pulls, the impact ranking and the CLs scan itself.)
"""

from __future__ import annotations

import mplhep
import numpy as np
from matplotlib.figure import Figure

from hepwb.plotting.core import LINE_STYLES, label, new_figure, pyplot_released

#: one colour per process, the same in every figure
PROCESS_COLOURS = {"QCD": "#92dadd", "top": "#e76300", "signal": "#3f90da"}
PROCESS_LABELS = {"QCD": "QCD jets", "top": "top jets", "signal": "W/Z jets (signal)"}


def stacked_figure(edges, stacks: list[dict[str, np.ndarray]], titles: list[str], *, data=None,
                   errors: list[np.ndarray | None] | None = None, xlabel: str = "", log: bool = True) -> Figure:
    """Side-by-side panels of stacked expected counts (``stacks[i][process]``, shape (bins,)) with their total
    uncertainty band (``errors[i]``) and the ``data`` points, each with a data / prediction panel below."""
    fig = Figure(figsize=(7.5 * len(stacks), 7.5))
    grid = fig.add_gridspec(2, len(stacks), height_ratios=(3, 1), hspace=0.05, wspace=0.25)
    errors = errors or [None] * len(stacks)
    for k, (stack, title, error) in enumerate(zip(stacks, titles, errors)):
        main = fig.add_subplot(grid[0, k])
        ratio = fig.add_subplot(grid[1, k], sharex=main)
        order = [p for p in ("QCD", "top", "signal") if p in stack]
        with pyplot_released():
            mplhep.histplot([stack[p] for p in order], edges, stack=True, histtype="fill", ax=main,
                            color=[PROCESS_COLOURS[p] for p in order], label=[PROCESS_LABELS[p] for p in order])
        total = sum(stack.values())
        if error is not None:
            for ax, scale in ((main, total), (ratio, np.ones_like(total))):
                ax.stairs(scale * (1 + error / total), edges, baseline=scale * (1 - error / total), fill=True,
                          color="none", hatch="///", edgecolor="grey", lw=0,
                          label="uncertainty" if ax is main else None)
        if data is not None:
            centres = 0.5 * (edges[1:] + edges[:-1])
            main.errorbar(centres, data, yerr=np.sqrt(data), fmt="ko", markersize=5, label="pseudo-data")
            ratio.errorbar(centres, data / total, yerr=np.sqrt(data) / total, fmt="ko", markersize=5)
        ratio.axhline(1, color="grey", ls=":")
        ratio.set_ylim(0.8, 1.2)
        ratio.set_xlabel(xlabel)
        ratio.set_ylabel("data / pred.")
        main.set_ylabel("expected jets per bin")
        main.set_yscale("log" if log else "linear")
        main.tick_params(labelbottom=False)
        main.legend(fontsize=11, title=title, title_fontsize=12)
        label(main)
    return fig


def variations_figure(templates, systematic: str) -> Figure:
    """One systematic's up and down variations over the nominal, per process (ratio, one panel each)."""
    processes = list(templates.nominal)
    fig, axes = new_figure(ncols=len(processes), figsize=(5.5 * len(processes), 4.8))
    for ax, process in zip(axes, processes):
        nominal = np.maximum(templates.nominal[process], 1e-12)
        up, down = templates.variations[systematic][process]
        ax.stairs(up / nominal, templates.edges, color="C3", lw=2, label="+1σ")
        ax.stairs(down / nominal, templates.edges, color="C0", lw=2, ls="--", label="−1σ")
        ax.axhline(1, color="grey", ls=":")
        p_value = templates.shape_p_values[systematic][process]
        ax.set_title(f"{PROCESS_LABELS[process]}\nshape p = {p_value:.2g}", fontsize=13)
        ax.set_xlabel(templates.label, fontsize=13)
    axes[0].set_ylabel(f"{systematic} / nominal")
    axes[0].legend(fontsize=11)
    return fig


def coverage_figure(coverage: dict) -> Figure:
    """The toys' pulls (mu_hat - mu_true) / sigma_hat against the standard normal, the coverage in the title."""
    fig, ax = new_figure()
    ok = np.isfinite(coverage["mu_hat"])
    pulls = (coverage["mu_hat"][ok] - coverage["mu_true"]) / coverage["sigma_hat"][ok]
    edges = np.linspace(-4, 4, 33)
    counts, _ = np.histogram(pulls, edges)
    with pyplot_released():
        mplhep.histplot(counts, edges, yerr=np.sqrt(counts), histtype="errorbar", color="k", ax=ax, label="toys")
    x = np.linspace(-4, 4, 200)
    ax.plot(x, ok.sum() * (edges[1] - edges[0]) * np.exp(-x**2 / 2) / np.sqrt(2 * np.pi), color="C3",
            label="standard normal")
    ax.axvspan(-1, 1, color="grey", alpha=0.15, label="inside ±1σ")
    ax.set_xlabel(r"pull $(\hat\mu - \mu_{true}) / \sigma_{\hat\mu}$")
    ax.set_ylabel("toys")
    ax.set_title(f"{ok.sum()} toys: {coverage['fraction']:.1%} ± {coverage['error']:.1%} covered", fontsize=14)
    ax.legend(fontsize=11)
    return fig


def reweighting_figure(original, target, weights: dict[str, np.ndarray], names, *, bins: int = 30) -> Figure:
    """Normalised histograms of each observable in ``names``: ``original`` (n, k) unweighted and with each
    set of ``weights``, against ``target`` (m, k); ratio to the target below."""
    fig = Figure(figsize=(5.5 * len(names), 6.5))
    grid = fig.add_gridspec(2, len(names), height_ratios=(3, 1), hspace=0.05, wspace=0.3)
    for k, name in enumerate(names):
        main, ratio = fig.add_subplot(grid[0, k]), None
        ratio = fig.add_subplot(grid[1, k], sharex=main)
        edges = np.unique(np.quantile(target[:, k], np.linspace(0.005, 0.995, bins + 1)))
        reference, _ = np.histogram(target[:, k], edges, density=True)
        main.stairs(reference, edges, color="k", lw=2, label="A14 tune (target)")
        for i, (label_, w) in enumerate({"nominal": None, **weights}.items()):
            counts, _ = np.histogram(original[:, k], edges, weights=w, density=True)
            main.stairs(counts, edges, color=f"C{i}", ls=LINE_STYLES[i], lw=1.5, label=label_)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio.stairs(counts / reference, edges, color=f"C{i}", ls=LINE_STYLES[i], lw=1.5)
        ratio.axhline(1, color="grey", ls=":")
        ratio.set_ylim(0.8, 1.2)
        ratio.set_xlabel(name, fontsize=13)
        main.tick_params(labelbottom=False)
        main.set_ylabel("density" if k == 0 else "")
    fig.axes[0].legend(fontsize=10)
    return fig


def methods_figure(table) -> Figure:
    """Expected significance (left) and 95 % CL limit on mu (right) per method, statistical-only and with
    systematics (``studies.measurement.method_table``)."""
    fig, axes = new_figure(ncols=2, figsize=(15, 5.5))
    y = np.arange(len(table))
    for ax, quantity in zip(axes, ("significance", "limit")):
        ax.barh(y + 0.2, table[f"{quantity} (stat.)"], height=0.4, color="C0", label="statistical only")
        ax.barh(y - 0.2, table[f"{quantity} (syst.)"], height=0.4, color="C1", label="with systematics")
        ax.set_yticks(y, table.index, fontsize=12)
        ax.invert_yaxis()
    axes[0].set_xlabel("expected significance [σ]")
    axes[1].set_xlabel("expected 95 % CL upper limit on μ")
    axes[0].legend(fontsize=11)
    return fig


def world_scores_figure(scores: dict[str, dict[str, np.ndarray]], *, bins: int = 25) -> Figure:
    """Background score distributions of each tagger (one panel each) in each world: a tagger that knows the
    systematics gives nearly the same distribution in every world. ``scores[tagger][world]`` shape (n,)."""
    fig = Figure(figsize=(7 * len(scores), 6.5))
    grid = fig.add_gridspec(2, len(scores), height_ratios=(3, 1), hspace=0.05, wspace=0.25)
    edges = np.linspace(0, 1, bins + 1)
    for k, (tagger, by_world) in enumerate(scores.items()):
        main = fig.add_subplot(grid[0, k])
        ratio = fig.add_subplot(grid[1, k], sharex=main)
        nominal, _ = np.histogram(by_world["nominal"], edges, density=True)
        for i, (world, values) in enumerate(by_world.items()):
            counts, _ = np.histogram(values, edges, density=True)
            main.stairs(counts, edges, color=f"C{i}", ls=LINE_STYLES[i % len(LINE_STYLES)], lw=1.5, label=world)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio.stairs(counts / nominal, edges, color=f"C{i}", ls=LINE_STYLES[i % len(LINE_STYLES)], lw=1.5)
        main.set_yscale("log")
        main.set_title(tagger, fontsize=14)
        main.tick_params(labelbottom=False)
        main.set_ylabel("background jets (density)")
        ratio.set_ylim(0.5, 1.5)
        ratio.axhline(1, color="grey", ls=":")
        ratio.set_xlabel("score")
        ratio.set_ylabel("world / nominal")
        main.legend(fontsize=10)
    return fig
