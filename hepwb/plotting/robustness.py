"""Figures of a tagger's robustness: the decorrelation trade-off, reliability (calibration), and a metric
across changed detectors.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from hepwb.plotting.core import LINE_STYLES, new_figure, readable_log_axis


def decorrelation_figure(points: dict[str, tuple[float, float]], curve: list[str] = (), *,
                         signal_efficiency: float = 0.5) -> Figure:
    """The decorrelation trade-off: background rejection against 1/JSD of the passing and failing
    background mass (both log). ``points[name] = (inverse_jsd, rejection)``; the names in ``curve``
    (e.g. the DisCo weights, in order) are joined by a line, the others drawn as single markers."""
    fig, ax = new_figure()
    if curve:
        ax.plot([points[n][0] for n in curve], [points[n][1] for n in curve], "o-", color="C0", label="DisCo")
        for k, name in enumerate(curve):  # labels alternate above and below the line, so that close points stay apart
            ax.annotate(name.replace("DisCo ", "λ = "), points[name], textcoords="offset points", fontsize=10,
                        xytext=(6, 6) if k % 2 == 0 else (6, -14))
    for i, (name, (inverse_jsd, rejection)) in enumerate((n, p) for n, p in points.items() if n not in curve):
        ax.plot(inverse_jsd, rejection, "s*D^v"[i % 5], color=f"C{i + 1}", markersize=11, linestyle="none", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    readable_log_axis(ax.xaxis)
    readable_log_axis(ax.yaxis)
    ax.margins(0.12)
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
                linestyle=LINE_STYLES[i % len(LINE_STYLES)], label=name)
    ax.set_xticks(range(len(by_set)), list(by_set), rotation=20, ha="right", fontsize=11)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=10, ncol=2)
    fig.tight_layout()
    return fig
