"""Keras model builders and their training/saving helpers: jet taggers (``taggers``), their compressed
trigger versions (``compressed``), and event generators for fast simulation (``gan``); autoencoders later."""

from hepwb import quiet as _quiet

_quiet.tensorflow()
