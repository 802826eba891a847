"""Keras model builders and their training/saving helpers: jet taggers (``taggers``, with the constituent
taggers of ``particlenet`` and ``transformer`` and their shared ``layers``), their compressed trigger
versions (``compressed``), event generators for fast simulation (``gan``), autoencoders (``anomaly``),
mass decorrelation (``decorrelation``) and per-jet uncertainty (``uncertainty``)."""

from hepwb import quiet as _quiet

_quiet.tensorflow()
