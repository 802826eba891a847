"""Keras building blocks shared by several models: the hls4ml benchmark's dense network, the inputs of
the constituent taggers, and layers for padded particle lists with a mask.

The layers are registered with Keras (package "hepwb"), so that models using them save to and load
from ``.keras`` files without Lambda layers (which Keras refuses to load by default).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf  # quiet already: hepwb.models sets TensorFlow's log level on import
from tensorflow import keras

from hepwb.models import quantization

#: the hidden layers of the hls4ml jet-tagging benchmark's network (Duarte et al. 2018)
HLS4ML_UNITS = (64, 32, 32)


def hls4ml_network(inputs, n_outputs: int, *, output_activation: str = "softmax", units=HLS4ML_UNITS,
                   l1: float | None = None, bits: int | None = None, input_bits: int | None = None,
                   beta: float = quantization.DEFAULT_BETA, dropout: float | None = None, seed: int = 1):
    """The hls4ml benchmark's dense network on ``inputs``, up to its output tensor (batch, n_outputs).

    Per hidden layer i: a Dense ``fc{i}`` (LeCun-uniform start, L1 on the kernel when ``l1``) and a ReLU
    ``relu{i}``; with ``dropout`` a Dropout ``dropout{i}`` after each ReLU. Then a Dense ``output`` and
    its activation as a layer of its own (named after it), as hls4ml converts them. With ``bits``,
    the quantized twins of this stack (``quantization``: QKeras with ``bits``-bit weights, biases and
    ReLUs on keras2, HGQ2 starting from ``bits`` on keras3, where ``input_bits`` is the starting width of
    the first layer's inputs and ``beta`` the weight of bit operations in the loss); the output activation
    stays in floating point (hls4ml's softmax is a table).
    """
    regulariser = keras.regularizers.l1(l1) if l1 else None
    dense, relu = _dense_and_relu(bits, beta)
    x = inputs
    for i, n in enumerate(units, start=1):
        first_inputs = {"input_bits": input_bits} if bits is not None and i == 1 and input_bits else {}
        x = dense(n, kernel_initializer="lecun_uniform", kernel_regularizer=regulariser, name=f"fc{i}",
                  **first_inputs)(x)
        x = relu(f"relu{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, seed=seed + i, name=f"dropout{i}")(x)
    x = dense(n_outputs, kernel_initializer="lecun_uniform", kernel_regularizer=regulariser, name="output")(x)
    return keras.layers.Activation(output_activation, name=output_activation)(x)


def _dense_and_relu(bits: int | None, beta: float):
    """Makers of a Dense layer and a ReLU layer: Keras's, or this stack's quantized ones with ``bits`` bits."""
    if bits is None:
        return keras.layers.Dense, lambda name: keras.layers.Activation("relu", name=name)

    def dense(units, **options):
        return quantization.dense(units, bits=bits, beta=beta, **options)

    return dense, lambda name: quantization.relu(bits=bits, name=name)


def particle_inputs(n_particles: int, n_fields: int, real_particles=None):
    """The inputs of a constituent tagger, particles (batch, n_particles, n_fields) and mask (batch,
    n_particles), and the particles standardised with the moments of ``real_particles`` when given."""
    particles = keras.Input((n_particles, n_fields), name="particles")
    mask = keras.Input((n_particles,), name="mask")
    x = particles if real_particles is None else standardising_layer(real_particles)(particles)
    return particles, mask, x


def standardising_layer(values, name: str = "standardise"):
    """A Keras Normalization layer set to the mean and variance of ``values`` (m, n_fields) per field.

    Computed with NumPy and passed in: ``Normalization.adapt`` streams NumPy input in batches of 32
    and took 10 s for the half million particles of a school run.
    """
    values = np.asarray(values, dtype=np.float64)
    return keras.layers.Normalization(axis=-1, mean=values.mean(axis=0), variance=values.var(axis=0), name=name)


@keras.utils.register_keras_serializable(package="hepwb")
class MaskedMean(keras.layers.Layer):
    """Average over real particles: inputs [x (B, N, C), mask (B, N)] -> (B, C)."""

    def call(self, inputs):
        x, mask = inputs
        weights = tf.cast(mask, x.dtype)[..., None]
        return tf.reduce_sum(x * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)


@keras.utils.register_keras_serializable(package="hepwb")
class SelectFields(keras.layers.Layer):
    """Some fields of every particle: (B, N, C) -> (B, N, len(fields))."""

    def __init__(self, fields, **kwargs):
        super().__init__(**kwargs)
        self.fields = [int(f) for f in fields]

    def call(self, particles):
        return tf.gather(particles, self.fields, axis=-1)

    def get_config(self):
        return {**super().get_config(), "fields": self.fields}


@keras.utils.register_keras_serializable(package="hepwb")
class ApplyMask(keras.layers.Layer):
    """Zero the padded particles: inputs [x (B, N, C), mask (B, N)] -> x * mask."""

    def call(self, inputs):
        x, mask = inputs
        return x * tf.cast(mask, x.dtype)[..., None]


@keras.utils.register_keras_serializable(package="hepwb")
class MaskedSum(keras.layers.Layer):
    """Sum over real particles: inputs [x (B, N, C), mask (B, N)] -> (B, C)."""

    def call(self, inputs):
        x, mask = inputs
        return tf.reduce_sum(x * tf.cast(mask, x.dtype)[..., None], axis=1)
