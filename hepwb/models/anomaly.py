"""Autoencoders that learn Standard-Model events and flag what they reconstruct badly.

Owns: the dense autoencoder of the ADC2021 baseline (57 -> 32 -> 16 -> latent 3 -> 16 -> 32 -> 57,
batch norm, leaky ReLU), the variational autoencoder (reconstruction and KL scores), their quantized (QKeras or HGQ2)
twin for the trigger, the masked reconstruction loss (padded slots ignored), outputs bounded to each
slot's eta range and phi in [-pi, pi], per-object loss contributions, and the PCA baseline.
Inputs are ``samples.l1_events.network_inputs`` (n, 57): per slot log(1 + pT), eta, phi; a padded slot
is all zeros (a real object has pT > 3 GeV, so log(1 + pT) > 1). Every model here trains with
``training.train`` (an autoencoder's targets are its inputs). Conversion to firmware is ``hepwb.fpga``'s
job; detector monitoring and the trigger path are ``hepwb.studies.anomaly``'s.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf  # quiet already: hepwb.models sets TensorFlow's log level on import
from tensorflow import keras

from hepwb.models import quantization
from hepwb.models.training import compiled, predict, set_seed
from hepwb.samples.l1_events import N_SLOTS, OBJECTS, SLOT_ETA_BOUND, SLOT_GROUP

N_INPUTS = 3 * N_SLOTS  # 57
RAW_OUTPUT = "raw_reconstruction"  # the last Dense layer: what the firmware computes


# ---- the loss and the scores (numpy and TensorFlow versions agree; see tests) ------------------

def slot_mask(x: np.ndarray) -> np.ndarray:
    """(n, 57) inputs -> (n, 19) True where the slot holds an object (log(1 + pT) > 0)."""
    return np.asarray(x).reshape(len(x), N_SLOTS, 3)[:, :, 0] > 0


def squared_errors(x: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """(n, 19) squared reconstruction error summed over (log(1 + pT), eta, phi) per slot, 0 for padding."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), N_SLOTS, 3)
    reconstruction = np.asarray(reconstruction, dtype=np.float64).reshape(len(x), N_SLOTS, 3)
    return np.sum((x - reconstruction) ** 2, axis=2) * slot_mask(x.reshape(len(x), -1))


def reconstruction_score(x: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """(n,) anomaly score: the squared errors of the event's real objects, summed, over the 57 inputs.

    As in the ADC2021 baseline, the denominator is fixed (57), not the number of real entries: an
    event with more objects than the model can explain scores higher, instead of being averaged down.
    """
    return squared_errors(x, reconstruction).sum(axis=1) / N_INPUTS


def loss_contributions(x: np.ndarray, reconstruction: np.ndarray) -> dict[str, np.ndarray]:
    """Per object group (met, electron, muon, jet): its share of each event's score, (n,) each.

    The shares add up to ``reconstruction_score``: they tell which objects made an event anomalous.
    """
    errors = squared_errors(x, reconstruction) / N_INPUTS
    groups = np.array(SLOT_GROUP)
    return {group: errors[:, groups == group].sum(axis=1) for group in OBJECTS}


def masked_mse(y_true, y_pred):
    """Keras loss: ``reconstruction_score`` in TensorFlow (padded slots contribute exactly nothing)."""
    true = tf.reshape(y_true, (-1, N_SLOTS, 3))
    pred = tf.reshape(y_pred, (-1, N_SLOTS, 3))
    mask = tf.cast(true[:, :, 0] > 0, y_pred.dtype)
    errors = tf.reduce_sum(tf.square(true - pred), axis=2) * mask
    return tf.reduce_sum(errors, axis=1) / N_INPUTS


def bound_outputs(raw: np.ndarray) -> np.ndarray:
    """(n, 57) raw network outputs -> reconstruction: eta = bound * tanh, phi = pi * tanh, log(1 + pT) as is."""
    raw = np.asarray(raw, dtype=np.float64).reshape(len(raw), N_SLOTS, 3)
    out = raw.copy()
    out[:, :, 1] = SLOT_ETA_BOUND * np.tanh(raw[:, :, 1])
    out[:, :, 2] = np.pi * np.tanh(raw[:, :, 2])
    return out.reshape(len(raw), N_INPUTS)


@keras.utils.register_keras_serializable(package="hepwb")
class BoundedOutputs(keras.layers.Layer):
    """The Keras layer doing ``bound_outputs`` (MET's eta bound is 0, so its eta output is exactly 0)."""

    def call(self, raw):
        raw = tf.reshape(raw, (-1, N_SLOTS, 3))
        eta = tf.constant(SLOT_ETA_BOUND) * tf.tanh(raw[:, :, 1])
        phi = np.pi * tf.tanh(raw[:, :, 2])
        return tf.reshape(tf.stack([raw[:, :, 0], eta, phi], axis=2), (-1, N_INPUTS))


# ---- models -----------------------------------------------------------------------------------

def _dense(units: int, name: str, bits: int | None = None):
    """A Dense layer, or this stack's quantized twin with ``bits``-bit weights and biases (``quantization``)."""
    if bits is None:
        return keras.layers.Dense(units, name=name)
    return quantization.dense(units, bits=bits, name=name)


def _dense_block(x, units: int, name: str, bits: int | None = None):
    """Dense -> batch norm -> leaky ReLU (float) or quantized ReLU (``bits``, range [0, 4))."""
    x = quantization.batch_norm(bits=bits, name=f"{name}_bn")(_dense(units, name, bits)(x))
    if bits is None:
        return keras.layers.LeakyReLU(0.3, name=f"{name}_act")(x)
    return quantization.relu(bits=bits, integer_bits=2, name=f"{name}_act")(x)


def autoencoder(*, latent_dim: int = 3, hidden=(32, 16), quantized_bits: int | None = None,
                learning_rate: float = 1e-3, seed: int = 1):
    """The dense autoencoder, compiled with ``masked_mse``: inputs (n, 57) -> bounded reconstruction (n, 57).

    ``quantized_bits``: build this stack's quantized twin instead (``quantization``: QKeras weights, biases
    and ReLUs of that many bits, or HGQ2 starting from them; a ReLU replaces the leaky ReLU, which QKeras
    has no quantizer for).
    """
    set_seed(seed)
    inputs = keras.Input((N_INPUTS,), name="objects")
    # quantized, the inputs enter at 16 bits: a float layer in QKeras's twin, hls4ml's ap_fixed<16,6>
    x = quantization.batch_norm(bits=quantized_bits, input_bits=16, name="input_bn")(inputs)
    for i, units in enumerate(hidden, start=1):
        x = _dense_block(x, units, f"encoder{i}", quantized_bits)
    x = _dense(latent_dim, "latent", quantized_bits)(x)
    for i, units in enumerate(reversed(hidden), start=1):
        x = _dense_block(x, units, f"decoder{i}", quantized_bits)
    raw = _dense(N_INPUTS, RAW_OUTPUT, quantized_bits)(x)
    model = keras.Model(inputs, BoundedOutputs(name="bounded")(raw), name="autoencoder" if quantized_bits is None
                        else f"autoencoder_{quantized_bits}bit")
    return compiled(model, loss=masked_mse, learning_rate=learning_rate, metrics=())


def firmware_part(model):
    """The part of an autoencoder that goes into firmware: inputs -> raw outputs (n, 57), without the
    bounding (tanh), which ``bound_outputs`` applies after the C simulation."""
    return keras.Model(model.input, model.get_layer(RAW_OUTPUT).output, name=f"{model.name}_firmware")


class VariationalAutoencoder(keras.Model):
    """An encoder to (mean, log-variance) of a latent and a decoder, trained on the loss per event
    ``masked_mse`` + beta * KL(q(z|x) || N(0, 1)) with a sampled latent. Called on inputs, it returns the
    reconstruction of the latent mean. Scores (``vae_scores``): ``reconstruction`` and ``kl`` (the KL term,
    computable from the encoder alone, which is what a trigger would run)."""

    def __init__(self, encoder, decoder, beta: float, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder, self.beta = encoder, decoder, beta
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):  # reset by Keras at every epoch: the logged loss is the epoch's mean
        return [self.loss_tracker]

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training)[0], training=training)

    def _loss(self, x, training):
        mean, log_var = self.encoder(x, training=training)
        z = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))
        reconstruction = masked_mse(x, self.decoder(z, training=training))
        kl = 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - 1.0 - log_var, axis=1)
        return tf.reduce_mean(reconstruction + self.beta * kl)

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            loss = self._loss(x, True)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_variables), self.trainable_variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        self.loss_tracker.update_state(self._loss(data[0] if isinstance(data, tuple) else data, False))
        return {"loss": self.loss_tracker.result()}


def variational_autoencoder(*, latent_dim: int = 3, hidden=(32, 16), beta: float = 0.1, learning_rate: float = 1e-3,
                            seed: int = 1) -> VariationalAutoencoder:
    """Encoder (57 -> 32 -> 16 -> mean, log-variance of a ``latent_dim`` latent), decoder as the autoencoder's,
    compiled: train it with ``training.train(vae, x, x, x_val, x_val)``, as the autoencoder."""
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    set_seed(seed)
    inputs = keras.Input((N_INPUTS,), name="objects")
    x = keras.layers.BatchNormalization(name="input_bn")(inputs)
    for i, units in enumerate(hidden, start=1):
        x = _dense_block(x, units, f"encoder{i}")
    encoder = keras.Model(inputs, [keras.layers.Dense(latent_dim, name="z_mean")(x),
                                   keras.layers.Dense(latent_dim, name="z_log_var")(x)], name="vae_encoder")
    latent = keras.Input((latent_dim,), name="z")
    x = latent
    for i, units in enumerate(reversed(hidden), start=1):
        x = _dense_block(x, units, f"decoder{i}")
    decoder = keras.Model(latent, BoundedOutputs(name="bounded")(_dense(N_INPUTS, RAW_OUTPUT)(x)), name="vae_decoder")
    model = VariationalAutoencoder(encoder, decoder, beta, name="variational_autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def vae_scores(vae, x: np.ndarray, batch_size: int = 4096) -> dict[str, np.ndarray]:
    """{"reconstruction": (n,), "kl": (n,)} anomaly scores of a trained ``variational_autoencoder``."""
    mean, log_var = (np.asarray(a, np.float64) for a in vae.encoder.predict(x, batch_size=batch_size, verbose=0))
    kl = 0.5 * np.sum(mean**2 + np.exp(log_var) - 1.0 - log_var, axis=1)
    reconstruction = vae.decoder.predict(mean.astype(np.float32), batch_size=batch_size, verbose=0)
    return {"reconstruction": reconstruction_score(x, reconstruction), "kl": kl}


def autoencoder_scores(model, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """(n,) reconstruction scores of an autoencoder."""
    return reconstruction_score(x, predict(model, x, batch_size=batch_size))


class PCABaseline:
    """Principal components of the standardised background inputs; score = the masked squared error of the
    reconstruction from ``n_components`` components (scikit-learn), as the autoencoders are scored."""

    def __init__(self, n_components: int = 3):
        self.n_components = n_components

    def fit(self, x_train: np.ndarray) -> PCABaseline:
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        self.scaler = StandardScaler().fit(x_train)
        self.pca = PCA(self.n_components).fit(self.scaler.transform(x_train))
        return self

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        return self.scaler.inverse_transform(self.pca.inverse_transform(self.pca.transform(self.scaler.transform(x))))

    def scores(self, x: np.ndarray) -> np.ndarray:
        return reconstruction_score(x, self.reconstruct(x))


# ---- jet level: an autoencoder of jet images ---------------------------------------------------

def image_autoencoder(image_size: int = 32, *, latent_dim: int = 8, hidden: int = 128, learning_rate: float = 1e-3,
                      seed: int = 1):
    """Dense autoencoder of jet images (n, size, size) whose pixels sum to 1 (``samples.jets.jet_images``).

    The output is a softmax over the pixels, so the reconstruction is an image of the same normalisation;
    the loss and the score are the mean squared pixel difference (``image_scores``).
    """
    set_seed(seed)
    n_pixels = image_size * image_size
    inputs = keras.Input((image_size, image_size), name="image")
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hidden, activation="relu", name="encoder")(x)
    x = keras.layers.Dense(latent_dim, name="latent")(x)
    x = keras.layers.Dense(hidden, activation="relu", name="decoder")(x)
    x = keras.layers.Dense(n_pixels, activation="softmax", name="pixels")(x)
    model = keras.Model(inputs, keras.layers.Reshape((image_size, image_size))(x), name="jet_image_autoencoder")
    return compiled(model, loss="mse", learning_rate=learning_rate, metrics=())


def image_scores(model, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """(n,) mean squared pixel difference between each jet image and its reconstruction."""
    reconstruction = predict(model, images, batch_size=batch_size)
    return np.mean((np.asarray(images, np.float64) - reconstruction) ** 2, axis=(1, 2))
