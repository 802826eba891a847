"""The figure of a parameter scan (``hepwb scan``): a metric against each scanned parameter, with the spread
over seeds.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hepwb.plotting.core import LINE_STYLES, new_figure


def scan_figure(table, metric: str, parameters: list[str], *, seed: str = "seed") -> Figure:
    """``metric`` against each scanned parameter (one panel each): the mean over seeds, the standard
    deviation over seeds as error bars, one line per value of the other scanned parameters.

    ``table``: a pandas DataFrame with one row per run (``hepwb.run.scan.scan_rows``).
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
                        capsize=4, color=f"C{i}", linestyle=LINE_STYLES[i % len(LINE_STYLES)], label=name)
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
