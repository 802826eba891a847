"""hepwb: a notebook-centric workbench for machine learning in high-energy physics.

Modules (each owns one concern): ``data`` (datasets, ROOT I/O), ``generate`` (parallel event
generation), ``sim`` (Pythia 8 -> detector -> FastJet recipes), ``features`` (jet substructure),
``jetdata`` / ``eventdata`` (network inputs for jets / for analysis-level events), ``models``
(Keras builders), ``metrics`` (classifier and generator quality), ``fpga`` (hls4ml), ``fit`` (peak
fits), ``plotting`` (mplhep house style), ``widgets`` (ipywidgets), ``batch`` (papermill runner),
``environment`` (version checks, pinning to one core).
"""

from hepwb.environment import check as _check_environment

__version__ = "0.1.0"

_check_environment()
