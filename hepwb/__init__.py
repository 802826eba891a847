"""hepwb: a notebook-centric workbench for machine learning in high-energy physics.

The rooms of the package, each with one job, from the bottom up (a room imports only rooms below it;
``tests/test_structure.py`` checks this):

- ``constants``, ``quiet``, ``environment``, ``messages``: physics and hardware numbers; library chatter kept
  out of outputs; version checks; how a wrong name is reported.
- ``data``: ROOT I/O (datasets and their manifest, reading TTrees and RNTuples, atomic writing).
- ``notebook``: a notebook's bookkeeping (its output folder, ``write_metrics``, metric keys).
- ``sim``: Pythia 8 -> parametrised detector -> FastJet, and the recipe of every dataset.
- ``samples``: the arrays a network takes, one module per dataset, one ``Sample`` and one ``split``.
- ``metrics``: classifier, generator, anomaly, robustness and regression figures of merit.
- ``models``: the Keras model builders and ``models.training``, the one training toolkit;
  ``fpga``: hls4ml and conifer firmware; ``plotting``: the house style and every figure.
- ``studies``: a lesson's analysis steps beyond training; ``widgets``: ipywidgets for JupyterLab.
- ``run``: what the ``hepwb`` command runs (batch runs, scans, the Dask cluster, generation); never
  imported by a notebook.
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
