"""hepwb: a notebook-centric workbench for machine learning in high-energy physics.

Modules (each owns one concern): ``data`` (datasets, ROOT I/O), ``generate`` (parallel event
generation), ``sim`` (Pythia 8 -> detector -> FastJet recipes), ``features`` (jet substructure),
``fit`` (peak fits), ``plotting`` (mplhep house style), ``widgets`` (ipywidgets), ``batch``
(papermill runner), ``environment`` (version checks).
"""

from hepwb.environment import check as _check_environment

__version__ = "0.1.0"

_check_environment()
