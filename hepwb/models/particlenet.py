"""A graph tagger in the style of ParticleNet (Qu & Gouskos, Phys. Rev. D 101, 056019, 2020).

A jet is a point cloud of its constituents. Each EdgeConv block finds every particle's k nearest
neighbours, first in (Δη, Δφ) and then in the feature space the previous block learned (a *dynamic*
graph), runs a small network on every edge (particle, neighbour - particle), averages over the
neighbours and adds a shortcut. A masked average over particles and two dense layers classify.

Padding never matters: padded slots are pushed far away before the neighbour search, left out of
every average, and set to zero after every block.
"""

from __future__ import annotations

import tensorflow as tf  # quiet already: hepwb.models sets TensorFlow's log level on import
from tensorflow import keras

from hepwb.constants import MAX_CONSTITUENTS
from hepwb.models.layers import ApplyMask, MaskedMean, SelectFields, particle_inputs
from hepwb.models.training import compiled, set_seed

#: where padded particles are moved before the neighbour search (far beyond any real distance)
_FAR_AWAY = 1e4


@keras.utils.register_keras_serializable(package="hepwb")
class EdgeConv(keras.layers.Layer):
    """One EdgeConv block. Inputs [points (B, N, D), features (B, N, C), mask (B, N)];
    output (B, N, channels[-1]), zero for padded particles.

    The first edge layer is linear in (x_i, x_j - x_i), so it is evaluated once per particle and
    gathered afterwards: the same function as on every edge, k times cheaper.
    """

    def __init__(self, k: int = 16, channels=(32, 32), **kwargs):
        super().__init__(**kwargs)
        self.k, self.channels = int(k), tuple(int(c) for c in channels)
        self.centre = keras.layers.Dense(self.channels[0], name="centre")  # acts on x_i
        self.neighbour = keras.layers.Dense(self.channels[0], use_bias=False, name="neighbour")  # on x_j
        self.edge_layers = [keras.layers.Dense(c, activation="relu", name=f"edge{i}")
                            for i, c in enumerate(self.channels[1:], 2)]
        # normalised per particle after the average, not per edge: k times cheaper, and padding stays out
        self.norm = keras.layers.LayerNormalization(name="norm")
        self.shortcut = keras.layers.Dense(self.channels[-1], use_bias=False, name="shortcut")

    def call(self, inputs, training=None):
        points, features, mask = inputs
        mask = tf.cast(mask, features.dtype)
        k = min(self.k, features.shape[1] - 1)
        neighbours = nearest_neighbours(points, mask, k)  # (B, N, k)
        neighbour_mask = tf.gather(mask, neighbours, batch_dims=1)[..., None]  # (B, N, k, 1), 1 for real ones
        # W1 x_i + W2 (x_j - x_i) = (W1 - W2) x_i + W2 x_j: computed per particle, gathered per edge
        own, other = self.centre(features), self.neighbour(features)
        h = tf.nn.relu((own - other)[:, :, None, :] + tf.gather(other, neighbours, batch_dims=1))  # (B, N, k, c0)
        for layer in self.edge_layers:
            h = layer(h)
        h = tf.reduce_sum(h * neighbour_mask, axis=2) / tf.maximum(tf.reduce_sum(neighbour_mask, axis=2), 1.0)
        out = tf.nn.relu(self.norm(h + self.shortcut(features)))
        return out * mask[..., None]

    def get_config(self):
        return {**super().get_config(), "k": self.k, "channels": list(self.channels)}


def nearest_neighbours(points, mask, k: int):
    """Indices (B, N, k) of each particle's k nearest other particles in ``points`` (B, N, D);
    padded particles (mask 0) are moved far away, so real ones pick real neighbours first."""
    points = points + _FAR_AWAY * (1.0 - mask)[..., None]
    squared = tf.reduce_sum(points * points, axis=-1)  # (B, N)
    distance = squared[:, :, None] - 2.0 * tf.matmul(points, points, transpose_b=True) + squared[:, None, :]
    distance += tf.eye(tf.shape(points)[1], dtype=points.dtype) * 1e12  # never oneself
    return tf.math.top_k(-distance, k=k).indices


def particle_net(n_particles: int = MAX_CONSTITUENTS, n_fields: int = 4, n_classes: int = 5, *, k: int = 16,
                 blocks=((32, 32, 32), (48, 48, 48)), head: int = 64, dropout: float = 0.1, point_fields=(1, 2),
                 real_particles=None, learning_rate: float = 3e-3, seed: int = 1):
    """ParticleNet-style tagger. Inputs: particles (batch, n_particles, n_fields), mask (batch, n_particles).

    ``point_fields``: the particle fields of the first neighbour search (Δη, Δφ in
    ``samples.jets.PARTICLE_FIELDS``). ``real_particles`` (m, n_fields), the unpadded training particles,
    sets the standardising layer. The full ParticleNet has three blocks of (64,)*3, (128,)*3, (256,)*3
    and k = 16; these defaults keep the k and are sized for a CPU (Adam at 3e-3: at 1e-3 it learned
    half as fast in the first epochs, which is all a school run has).
    """
    set_seed(seed)
    particles, mask, x = particle_inputs(n_particles, n_fields, real_particles)
    points = SelectFields(point_fields, name="eta_phi")(particles)
    x = ApplyMask(name="mask_padding")([x, mask])
    for i, channels in enumerate(blocks, start=1):
        x = EdgeConv(k, channels, name=f"edge_conv{i}")([points, x, mask])
        points = x  # the next block searches neighbours in the features this one learned
    x = MaskedMean(name="mean_over_particles")([x, mask])
    x = keras.layers.Dense(head, activation="relu", name="fc")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="output")(x)
    return compiled(keras.Model([particles, mask], outputs, name="particle_net"), learning_rate=learning_rate)
