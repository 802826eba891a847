"""Compressed taggers for the trigger: magnitude pruning and quantization-aware training.

Owns: the quantized twin of the hls4ml tagger (same 64-32-32-5 layout, ``layers.hls4ml_network`` with
this stack's quantized layers, ``quantization``: QKeras ``quantized_bits`` weights and biases and
``quantized_relu`` activations on keras2; HGQ2 layers that learn their bit widths on keras3), and
magnitude pruning (tensorflow-model-optimization's ``prune_low_magnitude`` with ``ConstantSparsity`` on
keras2, ``quantization.MagnitudePruning`` on keras3): wrap with ``prunable``, train with
``training.train`` (which steps the pruning), then ``strip_pruning``. Conversion to firmware is
``hepwb.fpga``'s job.
"""

from __future__ import annotations

import warnings

import numpy as np

from hepwb.models import quantization
from hepwb.models.layers import hls4ml_network
from hepwb.models.training import compiled, set_seed


def quantized_tagger(bits: int = 6, n_features: int = 16, n_classes: int = 5, *, input_bits: int | None = None,
                     l1: float = 1e-4, beta: float = quantization.DEFAULT_BETA, seed: int = 1):
    """The hls4ml tagger with ``bits``-bit weights, biases (quantized_bits(bits, 0, alpha=1)) and ReLUs;
    on keras3 HGQ2 layers that start from ``bits`` and learn each weight's width (``quantization``).

    ``input_bits``: if given, the standardised inputs are first rounded to that many bits with 3
    integer bits and a sign (quantized_bits(input_bits, 3), range [-8, 8)), as trigger inputs arrive
    with few bits; None keeps the inputs at the converter's default (ap_fixed<16,6>). On keras3 the first
    layer's input quantizer learns the inputs' widths instead.
    ``beta`` (keras3): the weight of the bit operations (EBOPs) in HGQ2's loss; larger learns narrower.
    The final softmax stays in floating point, as hls4ml implements it with lookup tables.
    """
    from tensorflow import keras

    if not isinstance(bits, int) or not 2 <= bits <= 32:
        raise ValueError(f"bits must be an integer from 2 to 32, got {bits!r}")
    if input_bits is not None and (not isinstance(input_bits, int) or not 5 <= input_bits <= 32):
        raise ValueError(f"input_bits must be None or an integer from 5 to 32 (sign + 3 integer bits + fraction), "
                         f"got {input_bits!r}")
    set_seed(seed)
    inputs = keras.Input((n_features,), name="features")
    x = inputs
    rounding = None if input_bits is None else quantization.input_quantizer(bits=input_bits, integer_bits=3)
    if rounding is not None:
        x = rounding(x)
    outputs = hls4ml_network(x, n_classes, l1=l1, bits=bits, input_bits=input_bits, beta=beta)
    return compiled(keras.Model(inputs, outputs, name=f"quantized_tagger_{bits}bit"),
                    learning_rate=quantization.LEARNING_RATE)


def prunable(model, sparsity: float = 0.75, *, frequency: int = 100):
    """Wrap ``model`` for magnitude pruning to ``sparsity`` (fraction of zero weights) every ``frequency``
    steps, recompiled (``quantization.prunable``: tfmot on keras2; on keras3 a float model carries a
    ``MagnitudePruning``, an HGQ2 model is returned as it is, its zero-bit weights being its pruning)."""
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity!r}")
    wrapped = quantization.prunable(model, sparsity, frequency)
    return wrapped if wrapped is model else compiled(wrapped)  # keras3 keeps the model and its compilation


def strip_pruning(model):
    """The trained model without its pruning wrappers (what hls4ml converts); warns when fewer weights are
    zero than the schedule asked for (a training shorter than the schedule's ``frequency`` steps)."""
    stripped, target, frequency = quantization.strip_pruning(model)
    reached = min(weight_sparsity(stripped).values(), default=0.0)
    if reached < 0.9 * target:
        warnings.warn(f"pruning reached {reached:.0%} zero weights, not the {target:.0%} asked for: the mask is "
                      f"first applied after {frequency} training steps; train for more steps (epochs, patience)",
                      stacklevel=2)
    return stripped


def weight_sparsity(model) -> dict[str, float]:
    """Fraction of zero kernel weights per Dense/QDense layer, after the layer's quantizer (an HGQ2 weight of
    zero bits is zero)."""
    return {layer.name: float(np.mean(quantization.quantized_kernel(layer) == 0)) for layer in model.layers
            if layer.__class__.__name__ in ("Dense", "QDense")}
