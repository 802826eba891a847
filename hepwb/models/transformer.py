"""A small particle transformer in the style of ParT (Qu, Li & Qian, ICML 2022, arXiv:2202.03772).

Particles attend to each other, and the attention between two particles is biased by what physics
says about the pair: ln kT, ln z, ln ΔR and ln m² (the interaction features of ParT). A learned class
token then attends to all particles (class-attention blocks, as in CaiT) and classifies the jet.

Padding never matters: padded particles are never attended to, their pair features are zero, and
their rows are zeroed after every block.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf  # quiet already: hepwb.models sets TensorFlow's log level on import
from tensorflow import keras

from hepwb.constants import MAX_CONSTITUENTS
from hepwb.models.layers import ApplyMask, SelectFields, particle_inputs, standardising_layer
from hepwb.models.training import compiled, set_seed

#: names of the pair (interaction) features, in the order of ``pair_features``
PAIR_FEATURES = ("ln_kt", "ln_z", "ln_delta_r", "ln_m2")
_TINY = 1e-8  # the floor under every logarithm
_NEVER = -1e9  # attention logit of a padded particle


def pair_features(particles, mask, *, fields=(0, 1, 2)):
    """(B, N, N, 4) pair features ln kT, ln z, ln ΔR, ln m² of massless particles, zero on the
    diagonal and for pairs with a padded particle.

    ``particles`` (B, N, C) with ln(pT/pT_jet), Δη, Δφ at ``fields`` (``samples.jets.PARTICLE_FIELDS``);
    momenta are relative to the jet pT, which shifts ln kT and ln m² by a constant per jet.
    """
    mask = tf.cast(mask, tf.float32)
    particles = tf.convert_to_tensor(particles, tf.float32) * mask[..., None]  # whatever padding holds: gone
    pt = tf.exp(particles[..., fields[0]]) * mask
    eta, phi = particles[..., fields[1]], particles[..., fields[2]]
    d_eta = eta[:, :, None] - eta[:, None, :]
    d_phi = phi[:, :, None] - phi[:, None, :]  # relative to the jet axis: no 2π wrap needed
    delta_r = tf.sqrt(d_eta**2 + d_phi**2 + _TINY**2)
    pt_i, pt_j = pt[:, :, None], pt[:, None, :]
    softer = tf.minimum(pt_i, pt_j)
    m2 = 2.0 * pt_i * pt_j * (tf.cosh(d_eta) - tf.cos(d_phi))
    features = tf.stack([softer * delta_r, softer / tf.maximum(pt_i + pt_j, _TINY), delta_r, m2], axis=-1)
    n = tf.shape(mask)[1]
    pair_mask = mask[:, :, None] * mask[:, None, :] * (1.0 - tf.eye(n))
    return tf.math.log(tf.maximum(features, _TINY)) * pair_mask[..., None]


@keras.utils.register_keras_serializable(package="hepwb")
class PairFeatures(keras.layers.Layer):
    """Inputs [particles (B, N, C), mask (B, N)] -> pair features (B, N, N, 4), see ``pair_features``."""

    def call(self, inputs):
        return pair_features(*inputs)


@keras.utils.register_keras_serializable(package="hepwb")
class BiasedSelfAttention(keras.layers.Layer):
    """Multi-head self-attention with an additive bias per pair and head (ParT's P-MHA).

    Inputs [x (B, N, dim), bias (B, N, N, heads), mask (B, N)] -> (B, N, dim). Written here because
    Keras 2's MultiHeadAttention takes a boolean mask only, not an additive bias.
    """

    def __init__(self, dim: int, heads: int, **kwargs):
        super().__init__(**kwargs)
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
        self.dim, self.heads = int(dim), int(heads)
        self.qkv = keras.layers.Dense(3 * dim, name="qkv")
        self.out = keras.layers.Dense(dim, name="out")

    def call(self, inputs):
        x, bias, mask = inputs
        batch, n = tf.shape(x)[0], tf.shape(x)[1]
        qkv = tf.reshape(self.qkv(x), (batch, n, 3, self.heads, self.dim // self.heads))
        q, k, v = (tf.transpose(qkv[:, :, i], (0, 2, 1, 3)) for i in range(3))  # (B, heads, N, d)
        logits = tf.matmul(q, k, transpose_b=True) / np.sqrt(self.dim // self.heads)
        logits += tf.transpose(bias, (0, 3, 1, 2))  # (B, heads, N, N)
        logits += _NEVER * (1.0 - tf.cast(mask, x.dtype))[:, None, None, :]  # nobody attends to padding
        attended = tf.matmul(tf.nn.softmax(logits, axis=-1), v)  # (B, heads, N, d)
        return self.out(tf.reshape(tf.transpose(attended, (0, 2, 1, 3)), (batch, n, self.dim)))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads}


@keras.utils.register_keras_serializable(package="hepwb")
class ClassToken(keras.layers.Layer):
    """A learned (1, dim) token, repeated for every jet: input x (B, N, dim) -> (B, 1, dim)."""

    def build(self, input_shape):
        self.token = self.add_weight(name="token", shape=(1, 1, input_shape[-1]), initializer="truncated_normal")

    def call(self, x):
        return tf.tile(self.token, (tf.shape(x)[0], 1, 1))


@keras.utils.register_keras_serializable(package="hepwb")
class TokenMask(keras.layers.Layer):
    """What the class token may attend to: mask (B, N) -> (B, 1, 1 + N), itself and the real particles."""

    def call(self, mask):
        mask = tf.cast(mask, tf.bool)
        return tf.concat([tf.ones_like(mask[:, :1]), mask], axis=1)[:, None, :]


def _feed_forward(x, dim: int, expansion: int, name: str):
    h = keras.layers.LayerNormalization(name=f"{name}_norm")(x)
    h = keras.layers.Dense(expansion * dim, activation="gelu", name=f"{name}_fc1")(h)
    return keras.layers.Add(name=f"{name}_residual")([x, keras.layers.Dense(dim, name=f"{name}_fc2")(h)])


def particle_transformer(n_particles: int = MAX_CONSTITUENTS, n_fields: int = 4, n_classes: int = 5, *, dim: int = 32,
                         heads: int = 4, particle_blocks: int = 2, class_blocks: int = 1, expansion: int = 2,
                         pair_hidden: int = 16, real_particles=None, training_jets=None,
                         learning_rate: float = 2e-3, seed: int = 1):
    """ParT-style tagger. Inputs: particles (batch, n_particles, n_fields), mask (batch, n_particles).

    ``real_particles`` (m, n_fields) standardises the particle inputs; ``training_jets`` (particles,
    mask) of some training jets standardise the pair features (their real pairs only). ParT itself has
    dim 128, 8 heads, 8 particle and 2 class-attention blocks; the defaults are sized for a CPU.
    """
    set_seed(seed)
    particles, mask, x = particle_inputs(n_particles, n_fields, real_particles)
    x = ApplyMask(name="mask_inputs")([x, mask])
    x = keras.layers.Dense(dim, activation="gelu", name="embed1")(x)
    x = ApplyMask(name="mask_embedding")([keras.layers.Dense(dim, name="embed2")(x), mask])

    pairs = PairFeatures(name="pair_features")([SelectFields((0, 1, 2), name="pt_eta_phi")(particles), mask])
    if training_jets is not None:
        jets, jet_mask = (np.asarray(a[:2000]) for a in training_jets)
        values = pair_features(jets, jet_mask).numpy()
        real_pairs = (jet_mask[:, :, None] & jet_mask[:, None, :]) & ~np.eye(n_particles, dtype=bool)
        pairs = standardising_layer(values[real_pairs], name="standardise_pairs")(pairs)
    bias = keras.layers.Dense(pair_hidden, activation="gelu", name="pair_embed1")(pairs)
    bias = keras.layers.Dense(heads, name="pair_embed2")(bias)  # (B, N, N, heads), one bias per head

    for i in range(1, particle_blocks + 1):
        h = keras.layers.LayerNormalization(name=f"block{i}_norm")(x)
        h = BiasedSelfAttention(dim, heads, name=f"block{i}_attention")([h, bias, mask])
        x = _feed_forward(keras.layers.Add(name=f"block{i}_residual")([x, h]), dim, expansion, f"block{i}_ffn")
        x = ApplyMask(name=f"block{i}_mask")([x, mask])

    token = ClassToken(name="class_token")(x)
    keys_mask = TokenMask(name="token_and_particles")(mask)
    for i in range(1, class_blocks + 1):
        everything = keras.layers.Concatenate(axis=1, name=f"class{i}_inputs")([token, x])
        everything = keras.layers.LayerNormalization(name=f"class{i}_norm")(everything)
        h = keras.layers.MultiHeadAttention(heads, dim // heads, name=f"class{i}_attention")(
            keras.layers.LayerNormalization(name=f"class{i}_query_norm")(token), everything,
            attention_mask=keys_mask)
        token = _feed_forward(keras.layers.Add(name=f"class{i}_residual")([token, h]), dim, expansion,
                              f"class{i}_ffn")
    x = keras.layers.Flatten(name="jet")(keras.layers.LayerNormalization(name="head_norm")(token))
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="output")(x)
    return compiled(keras.Model([particles, mask], outputs, name="particle_transformer"), learning_rate=learning_rate)
