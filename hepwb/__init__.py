"""hepwb: a notebook-centric workbench for machine learning in high-energy physics.

Modules (each owns one concern): ``data`` (datasets, ROOT I/O), ``generate`` (parallel event
generation), ``sim`` (Pythia 8 -> detector -> FastJet recipes), ``features`` (jet substructure),
``jetdata`` / ``eventdata`` (network inputs for jets / for analysis-level events), ``models``
(Keras builders), ``metrics`` (classifier and generator quality), ``fpga`` (hls4ml), ``fit`` (peak
fits), ``plotting`` (mplhep house style), ``widgets`` (ipywidgets), ``batch`` (papermill runner),
``environment`` (version checks, pinning to one core), ``quiet`` (library chatter kept out of outputs).
"""

import time as _time
from pathlib import Path as _Path

from hepwb import quiet as _quiet
from hepwb.environment import check as _check_environment

__version__ = "0.1.0"

#: the clone's root folder: data/, notebooks/, results/ and docs/ lie in it
PROJECT_DIR = _Path(__file__).resolve().parent.parent

#: when hepwb was first imported (a notebook's first cell): ``notebook.write_metrics`` times the run from here
IMPORTED_AT = _time.time()

_check_environment()
_quiet.before_imports()
