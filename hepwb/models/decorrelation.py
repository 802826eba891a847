"""Mass-decorrelated taggers with DisCo (Kasieczka & Shih, Phys. Rev. Lett. 125, 122001, 2020).

A tagger that learned the jet mass *sculpts* the background: jets it passes have a mass
distribution that looks like the signal's, so a bump hunt in the mass finds a fake peak. DisCo adds
to the loss the squared distance correlation between the tagger's output and the mass, computed on
the background jets of each batch; its weight trades tagging power for an unsculpted mass.
"""

from __future__ import annotations

import tensorflow as tf  # quiet already: hepwb.models sets TensorFlow's log level on import
from tensorflow import keras

from hepwb.models.layers import hls4ml_network
from hepwb.models.training import compiled, set_seed


def distance_correlation_squared(x, y, weights):
    """Weighted squared distance correlation of two 1-d tensors (the formula of
    ``hepwb.metrics.distance_correlation``, squared, differentiable). Shapes (n,), weights >= 0."""
    x, y, weights = (tf.reshape(tf.cast(t, tf.float32), (-1,)) for t in (x, y, weights))
    weights = weights / tf.maximum(tf.reduce_sum(weights), 1e-12)

    def centred(a):
        distance = tf.abs(a[:, None] - a[None, :])
        row = tf.linalg.matvec(distance, weights)
        return distance - row[:, None] - row[None, :] + tf.reduce_sum(weights * row)

    a, b = centred(x), centred(y)

    def mean(t):  # sum_ij w_i w_j t_ij
        return tf.reduce_sum(weights[:, None] * weights[None, :] * t)

    return mean(a * b) / tf.maximum(tf.sqrt(mean(a * a) * mean(b * b)), 1e-12)


@keras.utils.register_keras_serializable(package="hepwb")
class DiscoLoss(keras.losses.Loss):
    """Binary cross-entropy + ``weight`` x dCor²(score, mass) over the batch's background jets.

    ``y_true`` (batch, 2): the label (1 signal, 0 background) and the jet mass; ``y_pred`` (batch, 1).
    """

    def __init__(self, weight: float = 0.0, name: str = "disco", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight = float(weight)

    def call(self, y_true, y_pred):
        label, mass = y_true[:, :1], y_true[:, 1]
        cross_entropy = keras.losses.binary_crossentropy(label, y_pred)
        if self.weight == 0:
            return cross_entropy
        return cross_entropy + self.weight * distance_correlation_squared(y_pred[:, 0], mass, 1.0 - label[:, 0])

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


def binary_tagger(n_features: int, *, disco_weight: float = 0.0, learning_rate: float = 1e-3, seed: int = 1):
    """The hls4ml tagger's Dense 64-32-32 network (``layers.hls4ml_network``) with one sigmoid output
    (signal against background), trained with ``DiscoLoss(disco_weight)``: fit it on
    y = column_stack([label, mass])."""
    set_seed(seed)
    inputs = keras.Input((n_features,), name="features")
    outputs = hls4ml_network(inputs, 1, output_activation="sigmoid")
    return compiled(keras.Model(inputs, outputs, name=f"disco_{disco_weight:g}"), loss=DiscoLoss(disco_weight),
                    learning_rate=learning_rate, metrics=())
