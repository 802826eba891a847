"""The house style and every figure of the notebooks, one module per topic, all importable from
``hepwb.plotting`` itself (``plotting.compare``, ``plotting.roc_figure``).

``core``: the mplhep style and label, histograms of arrays (``hist.Hist``), overlays, comparisons with a
ratio panel, ROOT histograms, scatter, bars and training curves; then the figures of ``classification``,
``generative`` models, ``anomaly`` detection, tagger ``robustness``, energy ``regression``, parameter
``scan``s, ``tracking``, calorimeter ``showers`` and the ``measurement`` (templates, fits, toys,
reweighting). Every function that draws returns its ``matplotlib.figure.Figure`` (axes: ``fig.axes``); the
figures are not tied to pyplot, so a notebook shows one by ending the cell with it or by ``display(fig)``.
"""

from matplotlib.figure import Figure  # what every drawing function returns

from hepwb.plotting.anomaly import (
    anomaly_roc_figure,
    anomaly_score_figure,
    contribution_figure,
)
from hepwb.plotting.classification import (
    bit_scan_figure,
    bit_widths_figure,
    confusion_figure,
    feature_grid,
    image_grid,
    roc_figure,
    score_figure,
    weights_figure,
)
from hepwb.plotting.core import (
    ENERGY_TEV,
    EXPERIMENT,
    LINE_STYLES,
    STYLE,
    WIDGET_FIGSIZE,
    auto_range,
    bars_figure,
    compare,
    histogram,
    label,
    new_figure,
    overlay_panels,
    plot_hists,
    plot_root_histogram,
    pyplot_released,
    readable_log_axis,
    scatter_figure,
    set_style,
    to_flat_numpy,
    training_curves,
)
from hepwb.plotting.generative import (
    comparison_grid,
    correlation_difference,
    flow_losses,
    gan_losses,
    tail_pulls_figure,
)
from hepwb.plotting.measurement import (
    coverage_figure,
    methods_figure,
    reweighting_figure,
    stacked_figure,
    variations_figure,
    world_scores_figure,
)
from hepwb.plotting.regression import (
    difference_figure,
    rate_figure,
    scale_resolution_figure,
    tower_windows_figure,
    turn_on_figure,
)
from hepwb.plotting.robustness import (
    decorrelation_figure,
    reliability_figure,
    shift_figure,
)
from hepwb.plotting.scan import (
    scan_figure,
)
from hepwb.plotting.showers import (
    auc_figure,
    longitudinal_figure,
    resolution_figure,
    shower_3d,
    shower_layers,
)
from hepwb.plotting.tracking import (
    edge_score_figure,
    event_display,
    graph_figure,
    rates_figure,
    timing_figure,
    working_point_figure,
)

__all__ = [
    "Figure",
    "ENERGY_TEV",
    "EXPERIMENT",
    "WIDGET_FIGSIZE",
    "LINE_STYLES",
    "STYLE",
    "anomaly_roc_figure",
    "anomaly_score_figure",
    "auc_figure",
    "auto_range",
    "bars_figure",
    "bit_scan_figure",
    "bit_widths_figure",
    "compare",
    "comparison_grid",
    "confusion_figure",
    "contribution_figure",
    "correlation_difference",
    "decorrelation_figure",
    "difference_figure",
    "edge_score_figure",
    "event_display",
    "feature_grid",
    "flow_losses",
    "graph_figure",
    "gan_losses",
    "histogram",
    "image_grid",
    "label",
    "longitudinal_figure",
    "new_figure",
    "overlay_panels",
    "plot_hists",
    "plot_root_histogram",
    "pyplot_released",
    "readable_log_axis",
    "rate_figure",
    "rates_figure",
    "reliability_figure",
    "resolution_figure",
    "roc_figure",
    "scale_resolution_figure",
    "scan_figure",
    "scatter_figure",
    "score_figure",
    "set_style",
    "shift_figure",
    "shower_3d",
    "shower_layers",
    "tail_pulls_figure",
    "timing_figure",
    "to_flat_numpy",
    "tower_windows_figure",
    "training_curves",
    "working_point_figure",
    "turn_on_figure",
    "weights_figure",
    "coverage_figure",
    "methods_figure",
    "reweighting_figure",
    "stacked_figure",
    "variations_figure",
    "world_scores_figure",
]
