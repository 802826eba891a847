"""Compressed taggers for the trigger: magnitude pruning and quantization-aware training (QKeras).

Owns: the quantized twin of the hls4ml tagger (same 64-32-32-5 layout, ``layers.hls4ml_network`` with
QKeras layers: ``quantized_bits`` weights and biases and ``quantized_relu`` activations), and pruning
with tensorflow-model-optimization (``prune_low_magnitude`` with ``ConstantSparsity``): wrap with
``prunable``, train with ``training.train`` (which steps the pruning), then ``strip_pruning``.
Conversion to firmware is ``hepwb.fpga``'s job.
"""

from __future__ import annotations

import warnings

import numpy as np

from hepwb.models.layers import hls4ml_network
from hepwb.models.training import compiled, set_seed


def quantized_tagger(bits: int = 6, n_features: int = 16, n_classes: int = 5, *, input_bits: int | None = None,
                     l1: float = 1e-4, seed: int = 1):
    """The hls4ml tagger with ``bits``-bit weights, biases (quantized_bits(bits, 0, alpha=1)) and ReLUs.

    ``input_bits``: if given, the standardised inputs are first rounded to that many bits with 3
    integer bits and a sign (quantized_bits(input_bits, 3), range [-8, 8)), as trigger inputs arrive
    with few bits; None keeps the inputs at the converter's default (ap_fixed<16,6>).
    The final softmax stays in floating point, as hls4ml implements it with lookup tables.
    """
    from qkeras import QActivation, quantized_bits
    from tensorflow import keras

    if not isinstance(bits, int) or not 2 <= bits <= 32:
        raise ValueError(f"bits must be an integer from 2 to 32, got {bits!r}")
    if input_bits is not None and (not isinstance(input_bits, int) or not 5 <= input_bits <= 32):
        raise ValueError(f"input_bits must be None or an integer from 5 to 32 (sign + 3 integer bits + fraction), "
                         f"got {input_bits!r}")
    set_seed(seed)
    inputs = keras.Input((n_features,), name="features")
    x = inputs
    if input_bits is not None:
        x = QActivation(quantized_bits(input_bits, 3, alpha=1), name="input_quantizer")(x)
    outputs = hls4ml_network(x, n_classes, l1=l1, bits=bits)
    return compiled(keras.Model(inputs, outputs, name=f"quantized_tagger_{bits}bit"))


def prunable(model, sparsity: float = 0.75, *, frequency: int = 100):
    """Wrap ``model`` for magnitude pruning to ``sparsity`` (fraction of zero weights), recompiled."""
    import tensorflow_model_optimization as tfmot

    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity!r}")
    schedule = tfmot.sparsity.keras.ConstantSparsity(sparsity, begin_step=0, frequency=frequency)
    return compiled(tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule))


def strip_pruning(model):
    """The trained model without its pruning wrappers (what hls4ml converts); warns when fewer weights are
    zero than the schedule asked for (a training shorter than the schedule's ``frequency`` steps)."""
    import tensorflow_model_optimization as tfmot

    schedules = [layer.pruning_schedule for layer in model.layers if hasattr(layer, "pruning_schedule")]
    stripped = tfmot.sparsity.keras.strip_pruning(model)
    target = max((getattr(s, "target_sparsity", 0.0) for s in schedules), default=0.0)
    reached = min(weight_sparsity(stripped).values(), default=0.0)
    if reached < 0.9 * target:
        frequency = getattr(schedules[0], "frequency", 0)
        warnings.warn(f"pruning reached {reached:.0%} zero weights, not the {target:.0%} asked for: the mask is "
                      f"first applied after {frequency} training steps; train for more steps (epochs, patience)",
                      stacklevel=2)
    return stripped


def weight_sparsity(model) -> dict[str, float]:
    """Fraction of exactly-zero kernel weights per Dense/QDense layer."""
    return {layer.name: float(np.mean(np.asarray(layer.get_weights()[0]) == 0)) for layer in model.layers
            if layer.__class__.__name__ in ("Dense", "QDense")}
