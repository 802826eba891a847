"""Keras model builders, and ``training``, the one toolkit they all train with (seeds, compiling, ``train``
with early stopping, ``predict``, the input scaler's JSON); ``layers`` holds the blocks several models share
(the hls4ml benchmark's dense network, masked particle lists); ``quantization`` is the one seam between the
two stacks (QKeras or HGQ2 layers, pruning, bit widths, the stack a saved model records).

Jet taggers by name (``taggers``, with the graph network of ``particlenet`` and the transformer of
``transformer``), their compressed trigger versions (``compressed``: pruning, QKeras or HGQ2), mass decorrelation
(``decorrelation``), per-jet uncertainty (``uncertainty``), event generators for fast simulation
(``fastsim``: what they share; ``gan``, ``flow``), autoencoders (``anomaly``) and the Level-1 energy
regressors (``regression``). Importing any of them imports TensorFlow, with its log quiet.
"""

from hepwb import quiet as _quiet

_quiet.tensorflow()
