"""Compressed taggers for the trigger: magnitude pruning and quantization-aware training (QKeras).

Owns: the quantized twin of the hls4ml tagger (same 64-32-32-5 layout, QKeras layers with
``quantized_bits`` weights and biases and ``quantized_relu`` activations), and pruning with
tensorflow-model-optimization (``prune_low_magnitude`` with ``ConstantSparsity``). Conversion to
firmware is ``hepwb.fpga``'s job.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from hepwb.models.taggers import _compiled, set_seed, train


def quantized_tagger(bits: int = 6, n_features: int = 16, n_classes: int = 5, *, input_bits: int | None = None,
                     l1: float = 1e-4, seed: int = 1):
    """The hls4ml tagger with ``bits``-bit weights, biases (quantized_bits(bits, 0, alpha=1)) and ReLUs.

    ``input_bits``: if given, the standardised inputs are first rounded to that many bits with 3
    integer bits and a sign (quantized_bits(input_bits, 3), range [-8, 8)), as trigger inputs arrive
    with few bits; None keeps the inputs at the converter's default (ap_fixed<16,6>).
    The final softmax stays in floating point, as hls4ml implements it with lookup tables.
    """
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    if not isinstance(bits, int) or not 2 <= bits <= 32:
        raise ValueError(f"bits must be an integer from 2 to 32, got {bits!r}")
    if input_bits is not None and (not isinstance(input_bits, int) or not 5 <= input_bits <= 32):
        raise ValueError(f"input_bits must be None or an integer from 5 to 32 (sign + 3 integer bits + fraction), "
                         f"got {input_bits!r}")
    set_seed(seed)
    regulariser = keras.regularizers.l1(l1)
    quantizer = quantized_bits(bits, 0, alpha=1)
    inputs = keras.Input((n_features,), name="features")
    x = inputs
    if input_bits is not None:
        x = QActivation(quantized_bits(input_bits, 3, alpha=1), name="input_quantizer")(x)
    for i, units in enumerate((64, 32, 32), start=1):
        x = QDense(units, kernel_quantizer=quantizer, bias_quantizer=quantizer, kernel_initializer="lecun_uniform",
                   kernel_regularizer=regulariser, name=f"fc{i}")(x)
        x = QActivation(quantized_relu(bits), name=f"relu{i}")(x)
    x = QDense(n_classes, kernel_quantizer=quantizer, bias_quantizer=quantizer, kernel_initializer="lecun_uniform",
               kernel_regularizer=regulariser, name="output")(x)
    outputs = keras.layers.Activation("softmax", name="softmax")(x)
    return _compiled(keras.Model(inputs, outputs, name=f"quantized_tagger_{bits}bit"))


def prunable(model, sparsity: float = 0.75, *, frequency: int = 100):
    """Wrap ``model`` for magnitude pruning to ``sparsity`` (fraction of zero weights), recompiled."""
    import tensorflow_model_optimization as tfmot

    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity!r}")
    schedule = tfmot.sparsity.keras.ConstantSparsity(sparsity, begin_step=0, frequency=frequency)
    return _compiled(tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule))


def train_pruned(model, x_train, y_train, x_val, y_val, **kwargs):
    """``hepwb.models.taggers.train`` with the pruning-step callback; returns (stripped model, history)."""
    import tensorflow_model_optimization as tfmot

    callbacks = [tfmot.sparsity.keras.UpdatePruningStep(), *kwargs.pop("callbacks", ())]
    schedules = [layer.pruning_schedule for layer in model.layers if hasattr(layer, "pruning_schedule")]
    # tfmot applies the mask first after `frequency` steps: early stopping must not restore the weights of
    # an epoch before that (an unpruned model), so it watches only the epochs after the first mask
    steps_per_epoch = math.ceil(len(x_train) / kwargs.get("batch_size", 256))
    frequency = getattr(schedules[0], "frequency", 0) if schedules else 0
    first_masked_epoch = math.ceil((frequency + 1) / steps_per_epoch)
    history = train(model, x_train, y_train, x_val, y_val, callbacks=callbacks,
                    first_monitored_epoch=first_masked_epoch, **kwargs)
    stripped = tfmot.sparsity.keras.strip_pruning(model)
    target = max((getattr(s, "target_sparsity", 0.0) for s in schedules), default=0.0)
    reached = min(weight_sparsity(stripped).values(), default=0.0)
    if reached < 0.9 * target:  # a run shorter than `frequency` steps never gets there
        warnings.warn(f"pruning reached {reached:.0%} zero weights, not the {target:.0%} asked for: the mask is "
                      f"first applied after {frequency} training steps; train for more steps (epochs, patience)",
                      stacklevel=2)
    return stripped, history


def weight_sparsity(model) -> dict[str, float]:
    """Fraction of exactly-zero kernel weights per Dense/QDense layer."""
    return {layer.name: float(np.mean(np.asarray(layer.get_weights()[0]) == 0)) for layer in model.layers
            if layer.__class__.__name__ in ("Dense", "QDense")}
