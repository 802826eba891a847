"""Figures of tracking: the event display, the hit graph before and after the network, edge ROC curves,
efficiency and fake rate against pT and eta, and the time per event against pileup."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hepwb.plotting.core import LINE_STYLES, label, new_figure, readable_log_axis


def _colours(event, pt_min):
    """Hits of particles above ``pt_min`` coloured by particle, the others grey."""
    rows = event.hit_particle_index()
    pt = np.where(rows >= 0, event.particle_pt()[rows.clip(0)], 0.0)
    hard = pt > pt_min
    palette = np.array([f"C{i}" for i in range(10)])
    return hard, palette[event.particle_id % 10]


def event_display(event, *, pt_min: float = 1.0) -> Figure:
    """One event's hits in x-y and r-z: the hits of each particle above ``pt_min`` GeV in its colour, joined in
    the order of the layers; the rest (softer particles, noise) grey."""
    fig, (xy, rz) = new_figure(ncols=2, figsize=(14, 6.5))
    hard, colours = _colours(event, pt_min)
    order = np.lexsort((event.layer, event.particle_id))
    for ax, (u, v) in ((xy, (event.x, event.y)), (rz, (event.z, event.r))):
        ax.scatter(u[~hard], v[~hard], s=1, color="0.75", rasterized=True)
        hits = order[hard[order]]
        breaks = np.flatnonzero(np.diff(event.particle_id[hits])) + 1
        ax.add_collection(LineCollection([np.column_stack([u[h], v[h]]) for h in np.split(hits, breaks)],
                                         colors=colours[hits[np.r_[0, breaks]]], linewidths=0.8))
        ax.scatter(u[hard], v[hard], s=4, c=colours[hard], rasterized=True)
    xy.set(xlabel="x [mm]", ylabel="y [mm]", aspect="equal")
    rz.set(xlabel="z [mm]", ylabel="r [mm]")
    handles = [Line2D([], [], color="0.75", marker="o", linestyle="none", label="softer particles and noise"),
               Line2D([], [], color="C0", marker="o", label=rf"a particle with $p_T$ > {pt_min:g} GeV")]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=12)
    fig.subplots_adjust(bottom=0.2)
    label(xy)
    return fig


def graph_figure(event, graph, selected=None, *, phi_range=(0.0, 0.5), title: str = "") -> Figure:
    """The edges of a hit graph in x-y within a slice of azimuth ``phi_range`` [rad]: true edges blue, false
    ones red; ``selected`` (n_edges,) shows only those (e.g. the edges the network kept)."""
    fig, ax = new_figure(figsize=(7.5, 7))
    phi = event.phi
    inside = (phi >= phi_range[0]) & (phi < phi_range[1])
    keep = inside[graph.senders] & inside[graph.receivers]
    if selected is not None:
        keep &= selected
    for truth, colour, name in ((False, "C3", "false edges"), (True, "C0", "true edges")):
        chosen = keep & (graph.truth == truth)
        segments = np.stack([np.column_stack([event.x[graph.senders[chosen]], event.y[graph.senders[chosen]]]),
                             np.column_stack([event.x[graph.receivers[chosen]], event.y[graph.receivers[chosen]]])],
                            axis=1)
        ax.add_collection(LineCollection(segments, colors=colour, linewidths=0.6 if truth else 0.4,
                                         alpha=0.8 if truth else 0.5, label=f"{name}: {chosen.sum()}"))
    ax.scatter(event.x[inside], event.y[inside], s=2, color="k", label="hits", zorder=3)
    ax.autoscale()
    ax.set(xlabel="x [mm]", ylabel="y [mm]")
    ax.legend(loc="upper left", fontsize=10, title=title or None, title_fontsize=11)
    label(ax)
    return fig


def rates_figure(tables: dict, *, xlabel: str, ylabel: str, log_x: bool = False, ylim=(0, 1.05)) -> Figure:
    """A rate (efficiency, fake rate) in bins, one set of points per method: ``tables[name]`` from
    ``metrics.tracking.binned_rate``."""
    fig, ax = new_figure()
    for i, (name, table) in enumerate(tables.items()):
        centre = (table["low"] + table["high"]) / 2
        half = (table["high"] - table["low"]) / 2
        ax.errorbar(centre, table["rate"], xerr=half, yerr=table["error"], label=name, marker="os^D"[i % 4],
                    linestyle="none", color=f"C{i}", markersize=5)
    ax.set(xlabel=xlabel, ylabel=ylabel, ylim=ylim)
    if log_x:
        ax.set_xscale("log")
        readable_log_axis(ax.xaxis)
    ax.legend()
    label(ax)
    return fig


def timing_figure(table, slopes: dict | None = None) -> Figure:
    """Seconds per event against mean pileup for the network's chain (and its steps) and the baseline
    (``studies.tracking.pileup_timing``); ``slopes[name]`` (ms per pileup interaction) in the legend."""
    fig, ax = new_figure()
    columns = {"graph network: whole chain": "network_chain_s", "  graph construction": "graph_s",
               "  triplet filter": "filter_s", "  network": "network_s", "classical: triplet seeding": "baseline_s"}
    for i, (name, column) in enumerate(columns.items()):
        slope = (slopes or {}).get(column)
        text = name.strip() + (f" ({slope:.2f} ms per interaction)" if slope is not None else "")
        ax.plot(table["pileup"], table[column] * 1000, marker="os^vD"[i], linestyle=LINE_STYLES[i % len(LINE_STYLES)],
                color=f"C{i}", label=text, alpha=1.0 if not name.startswith("  ") else 0.6)
    ax.set(xlabel=r"mean pileup $\langle\mu\rangle$", ylabel="time per event [ms]")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=11)
    label(ax)
    return fig


def edge_score_figure(truth: np.ndarray, scores: np.ndarray, threshold: float) -> Figure:
    """Left: the scores of true and false edges (log scale) with the threshold; right: edge efficiency and purity
    against the threshold."""
    fig, (left, right) = new_figure(ncols=2, figsize=(14, 5.5))
    truth = np.asarray(truth, dtype=bool)
    bins = np.linspace(0, 1, 41)
    left.hist(scores[truth], bins=bins, histtype="step", lw=2, label="true edges", color="C0")
    left.hist(scores[~truth], bins=bins, histtype="step", lw=2, label="false edges", color="C3", linestyle="--")
    left.axvline(threshold, color="grey", lw=1, label=f"threshold {threshold:g}")
    left.set(yscale="log", xlabel="edge score", ylabel="edges")
    left.legend(fontsize=11)
    cuts = np.linspace(0.02, 0.98, 49)
    kept = scores[None, :] > cuts[:, None]
    efficiency = (kept & truth).sum(1) / max(truth.sum(), 1)
    purity = (kept & truth).sum(1) / np.maximum(kept.sum(1), 1)
    right.plot(cuts, efficiency, label="efficiency", color="C0")
    right.plot(cuts, purity, label="purity", color="C1", linestyle="--")
    right.axvline(threshold, color="grey", lw=1)
    right.set(xlabel="threshold", ylabel="fraction of edges", ylim=(0, 1.02))
    right.legend(fontsize=11)
    label(left)
    return fig


def working_point_figure(table, chosen: float, max_fake_rate: float = 0.05) -> Figure:
    """Track efficiency and fake rate against the edge-score threshold (``studies.tracking.working_point``'s
    table), the largest fake rate allowed and the ``chosen`` threshold."""
    fig, ax = new_figure()
    ax.plot(table.index, table["efficiency"], marker="o", color="C0", label="track efficiency")
    ax.plot(table.index, table["fake_rate"], marker="s", linestyle="--", color="C3", label="fake rate")
    ax.axhline(max_fake_rate, color="C3", linestyle=":", label=f"largest fake rate allowed ({max_fake_rate:.0%})")
    ax.axvline(chosen, color="k", linestyle="-.", label=f"chosen threshold {chosen:g}")
    ax.set(xlabel="edge-score threshold", ylabel="fraction", ylim=(0, 1.05))
    ax.legend(fontsize=11)
    label(ax)
    return fig
