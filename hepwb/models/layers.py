"""Keras layers for padded particle lists with a mask, shared by the constituent taggers.

Registered with Keras (package "hepwb"), so that models using them save to and load from ``.keras``
files without Lambda layers (which Keras refuses to load by default).
"""

from __future__ import annotations

import tensorflow as tf  # quiet already: hepwb.models sets TensorFlow's log level on import
from tensorflow import keras


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
