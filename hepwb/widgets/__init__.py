"""Interactive ipywidgets for JupyterLab, importable from ``hepwb.widgets`` itself.

``RootBrowser`` (``browser``) and ``HistogramExplorer`` (``explorer``) look into ROOT files;
``TrainingMonitor`` and ``WorkingPointPicker`` (``training``) follow a classifier. Every widget keeps its
current figure (``.figure``) and, where it histograms, its histograms (``.hists``), so it can be driven and
checked without a display (tests, papermill). Each drawing goes into the widget's own output area as a
picture. ``.snapshot()`` shows the current figure as a static copy, captioned as the state when the
notebook ran; a notebook saved without widget state shows a one-line description instead of the widget's
repr. Data access goes through ``hepwb.data``; drawing goes through ``hepwb.plotting``.
"""

from hepwb.widgets.browser import RootBrowser, is_drawable_histogram, not_shown_reason
from hepwb.widgets.explorer import HistogramExplorer
from hepwb.widgets.training import TrainingMonitor, WorkingPointPicker

__all__ = ["HistogramExplorer", "RootBrowser", "TrainingMonitor", "WorkingPointPicker", "is_drawable_histogram",
           "not_shown_reason"]
