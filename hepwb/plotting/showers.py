"""Figures of calorimeter showers: one shower per layer (as the CaloChallenge draws them) and in 3-D, the
longitudinal profile against the PDG's, the energy resolution, the classifier AUCs and the time per shower."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from hepwb.plotting.core import new_figure


def shower_layers(binning, shower, *, title: str = "", vmin: float = 1e-2) -> Figure:
    """A shower (n_voxels,) [MeV] drawn layer by layer in polar (alpha, r) bins, r on a log scale beyond the
    first edge and energy on a log colour scale, as the CaloChallenge draws them."""
    layers = binning.relevant_layers
    fig = Figure(figsize=(3.0 * len(layers) + 1.0, 3.6))
    shower = np.asarray(shower, dtype=float)
    vmax = max(shower.max(), vmin * 10)
    starts = binning.layer_starts
    for j, k in enumerate(layers):
        ax = fig.add_subplot(1, len(layers), j + 1, projection="polar")
        edges = np.asarray(binning.r_edges[k], dtype=float)
        radius = np.concatenate([[0.0], np.log(edges[1:])]) if len(edges) > 2 else edges
        n_alpha = binning.n_alpha[k]
        theta = np.linspace(-np.pi, np.pi, max(n_alpha, 1) * 16 + 1)
        values = shower[starts[k]:starts[k + 1]].reshape(n_alpha, -1)
        grid = np.repeat(values, 16, axis=0)  # (angles, r) on the finer angular grid
        mesh = ax.pcolormesh(theta, radius, grid.T + 1e-16, norm=LogNorm(vmin=vmin, vmax=vmax), cmap="viridis")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"layer {k}", fontsize=12)
    cbar = fig.colorbar(mesh, ax=fig.axes, orientation="horizontal", fraction=0.06, pad=0.08)
    cbar.set_label("energy in the voxel [MeV]")
    if title:
        fig.suptitle(title, fontsize=13)
    return fig


def shower_3d(binning, shower, layer_depths_x0, *, title: str = "") -> Figure:
    """A shower's voxels as points in 3-D at their centres (x, y [mm], depth of the layer's middle [X0]),
    the marker's area and colour the voxel's energy (log)."""
    fig = Figure(figsize=(8, 6.5))
    ax = fig.add_subplot(projection="3d")
    starts = binning.layer_starts
    points = []
    for k in binning.relevant_layers:
        x, y = binning.voxel_centres(k)
        energy = np.asarray(shower[starts[k]:starts[k + 1]], dtype=float)
        points.append(np.column_stack([np.full(len(x), layer_depths_x0[k]), x, y, energy]))
    depth, x, y, energy = np.concatenate(points).T
    hit = energy > 0
    size = 300 * np.sqrt(energy[hit] / energy.max())
    ax.scatter(depth[hit], x[hit], y[hit], s=size, c=np.log10(energy[hit]), cmap="viridis", alpha=0.8)
    ax.set(xlabel="depth [$X_0$]", ylabel="x [mm]", zlabel="y [mm]")
    if title:
        ax.set_title(title, fontsize=12)
    return fig


def longitudinal_figure(checks: dict) -> Figure:
    """The mean longitudinal profile at each energy (points: the cascade; line: its gamma-function fit) with the
    fitted shower maximum (solid) and the PDG's ln(E/E_c) + C_j (dotted)."""
    fig, ax = new_figure(figsize=(8.5, 6))
    for j, (energy, result) in enumerate(checks["per_energy"].items()):
        fit, colour = result["fit"], f"C{j}"
        ax.plot(fit["t"], fit["dedt"] / (energy / 1000), "o", color=colour, ms=3,
                label=f"{energy / 1000:g} GeV: $t_{{max}}$ = {fit['t_max']:.1f}")
        ax.plot(fit["curve_t"], fit["curve_dedt"] / (energy / 1000), color=colour)
        ax.axvline(fit["t_max"], color=colour, lw=1)
        row = next(r for r in checks["rows"] if r["energy_GeV"] == energy / 1000)
        ax.axvline(row["pdg_t_max_X0"], color=colour, lw=1, ls=":")
    ax.set(xlabel="depth t [$X_0$]", ylabel="dE/dt per GeV [MeV / $X_0$]")
    ax.legend(title="cascade (points), gamma fit (line), PDG (dotted)", fontsize=10, title_fontsize=10)
    fig.tight_layout()
    return fig


def resolution_figure(rows, fit: dict) -> Figure:
    """The simulated resolution sigma/E of the active-layer energy against E, the fit a/sqrt(E) (+) b and the
    sampling rule of thumb's a / sqrt(E)."""
    fig, ax = new_figure(figsize=(7.5, 5.5))
    energy = np.array([r["energy_GeV"] for r in rows])
    ax.plot(energy, [100 * r["resolution"] for r in rows], "o", color="k", label="cascade")
    fine = np.geomspace(energy.min() * 0.8, energy.max() * 1.25, 100)
    ax.plot(fine, 100 * np.hypot(fit["stochastic"] / np.sqrt(fine), fit["constant"]), color="C0",
            label=f"fit: {100 * fit['stochastic']:.1f} %/√E $\\oplus$ {100 * fit['constant']:.1f} %")
    ax.plot(fine, 100 * fit["rule_of_thumb_stochastic"] / np.sqrt(fine), color="C1", ls="--",
            label=f"rule of thumb: {100 * fit['rule_of_thumb_stochastic']:.1f} %/√E")
    ax.set(xscale="log", xlabel="photon energy [GeV]", ylabel=r"$\sigma_E / E$ [%]")
    ax.legend(fontsize=11)
    fig.tight_layout()
    return fig


def auc_figure(table, *, target: float = 0.70) -> Figure:
    """Classifier-test AUCs with their spreads, one group per input (voxels, high-level), one bar per model;
    0.5 (indistinguishable) and the target marked."""
    fig, ax = new_figure(figsize=(7.5, 5))
    inputs = list(dict.fromkeys(table["input"]))
    models = list(dict.fromkeys(table["model"]))
    width = 0.8 / len(models)
    for j, model in enumerate(models):
        rows = table[table["model"] == model].set_index("input").loc[inputs]
        ax.bar(np.arange(len(inputs)) + (j - (len(models) - 1) / 2) * width, rows["auc"], width,
               yerr=rows["auc_error"], capsize=4, label=model, color=f"C{j}")
    ax.axhline(0.5, color="k", lw=1, label="indistinguishable")
    ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target}")
    ax.set_xticks(range(len(inputs)), inputs)
    ax.set(ylabel="classifier AUC", ylim=(0.45, 1.02))
    ax.legend(fontsize=10)
    fig.tight_layout()
    return fig
