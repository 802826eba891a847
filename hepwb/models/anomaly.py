"""Autoencoders that learn Standard-Model events and flag what they reconstruct badly.

Owns: the dense autoencoder of the ADC2021 baseline (57 -> 32 -> 16 -> latent 3 -> 16 -> 32 -> 57,
batch norm, leaky ReLU), the variational autoencoder (reconstruction and KL scores), their QKeras
twin for the trigger, the masked reconstruction loss (padded slots ignored), outputs bounded to each
slot's eta range and phi in [-pi, pi], per-object loss contributions, and the PCA baseline.
Inputs are ``hepwb.l1data.network_inputs`` (n, 57): per slot log(1 + pT), eta, phi; a padded slot
is all zeros (a real object has pT > 3 GeV, so log(1 + pT) > 1). Conversion to firmware is
``hepwb.fpga``'s job.
"""

from __future__ import annotations

import numpy as np

from hepwb.l1data import N_SLOTS, OBJECTS, SLOT_ETA_BOUND, SLOT_GROUP
from hepwb.models.taggers import set_seed

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
    import tensorflow as tf

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


def _bounded_layer():
    """The Keras layer doing ``bound_outputs`` (MET's eta bound is 0, so its eta output is exactly 0)."""
    from tensorflow import keras

    @keras.utils.register_keras_serializable(package="hepwb")
    class BoundedOutputs(keras.layers.Layer):
        def call(self, raw):
            import tensorflow as tf

            raw = tf.reshape(raw, (-1, N_SLOTS, 3))
            eta = tf.constant(SLOT_ETA_BOUND) * tf.tanh(raw[:, :, 1])
            phi = np.pi * tf.tanh(raw[:, :, 2])
            return tf.reshape(tf.stack([raw[:, :, 0], eta, phi], axis=2), (-1, N_INPUTS))

    return BoundedOutputs(name="bounded")


# ---- models -----------------------------------------------------------------------------------

def _dense(units: int, name: str, bits: int | None = None):
    """A Dense layer, or its QKeras twin with ``bits``-bit weights and biases."""
    from tensorflow import keras

    if bits is None:
        return keras.layers.Dense(units, name=name)
    from qkeras import QDense, quantized_bits

    quantizer = quantized_bits(bits, 0, alpha=1)
    return QDense(units, kernel_quantizer=quantizer, bias_quantizer=quantizer, name=name)


def _dense_block(x, units: int, name: str, bits: int | None = None):
    """Dense -> batch norm -> leaky ReLU (float) or quantized ReLU (QKeras, ``bits``)."""
    from tensorflow import keras

    x = keras.layers.BatchNormalization(name=f"{name}_bn")(_dense(units, name, bits)(x))
    if bits is None:
        return keras.layers.LeakyReLU(0.3, name=f"{name}_act")(x)
    from qkeras import QActivation, quantized_relu

    return QActivation(quantized_relu(bits, 2), name=f"{name}_act")(x)


def autoencoder(*, latent_dim: int = 3, hidden=(32, 16), quantized_bits: int | None = None,
                learning_rate: float = 1e-3, seed: int = 1):
    """The dense autoencoder, compiled with ``masked_mse``: inputs (n, 57) -> bounded reconstruction (n, 57).

    ``quantized_bits``: build the QKeras twin instead (weights, biases and ReLUs of that many bits;
    quantized_relu replaces the leaky ReLU, which QKeras has no quantizer for).
    """
    from tensorflow import keras

    set_seed(seed)
    inputs = keras.Input((N_INPUTS,), name="objects")
    x = keras.layers.BatchNormalization(name="input_bn")(inputs)
    for i, units in enumerate(hidden, start=1):
        x = _dense_block(x, units, f"encoder{i}", quantized_bits)
    x = _dense(latent_dim, "latent", quantized_bits)(x)
    for i, units in enumerate(reversed(hidden), start=1):
        x = _dense_block(x, units, f"decoder{i}", quantized_bits)
    raw = _dense(N_INPUTS, RAW_OUTPUT, quantized_bits)(x)
    model = keras.Model(inputs, _bounded_layer()(raw), name="autoencoder" if quantized_bits is None
                        else f"autoencoder_{quantized_bits}bit")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=masked_mse)
    return model


def firmware_part(model):
    """The part of an autoencoder that goes into firmware: inputs -> raw outputs (n, 57), without the
    bounding (tanh), which ``bound_outputs`` applies after the C simulation."""
    from tensorflow import keras

    return keras.Model(model.input, model.get_layer(RAW_OUTPUT).output, name=f"{model.name}_firmware")


class VariationalAutoencoder:
    """Encoder (57 -> 32 -> 16 -> mean, log-variance of a 3-d latent), decoder as the autoencoder's.

    Loss: masked_mse + beta * KL(q(z|x) || N(0, 1)) per event. Scores: ``reconstruction`` (the
    masked squared error of the decoded latent mean) and ``kl`` (the KL term, computable from the encoder alone,
    which is what a trigger would run).
    """

    def __init__(self, *, latent_dim: int = 3, hidden=(32, 16), beta: float = 0.1, learning_rate: float = 1e-3,
                 seed: int = 1):
        import tensorflow as tf
        from tensorflow import keras

        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        set_seed(seed)
        self.beta = beta
        inputs = keras.Input((N_INPUTS,), name="objects")
        x = keras.layers.BatchNormalization(name="input_bn")(inputs)
        for i, units in enumerate(hidden, start=1):
            x = _dense_block(x, units, f"encoder{i}")
        mean = keras.layers.Dense(latent_dim, name="z_mean")(x)
        log_var = keras.layers.Dense(latent_dim, name="z_log_var")(x)
        self.encoder = keras.Model(inputs, [mean, log_var], name="vae_encoder")
        latent = keras.Input((latent_dim,), name="z")
        x = latent
        for i, units in enumerate(reversed(hidden), start=1):
            x = _dense_block(x, units, f"decoder{i}")
        self.decoder = keras.Model(latent, _bounded_layer()(_dense(N_INPUTS, RAW_OUTPUT)(x)), name="vae_decoder")
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self._tf = tf

    def _loss(self, x, training):
        tf = self._tf
        mean, log_var = self.encoder(x, training=training)
        z = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))
        reconstruction = masked_mse(x, self.decoder(z, training=training))
        kl = 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - 1.0 - log_var, axis=1)
        return tf.reduce_mean(reconstruction + self.beta * kl)

    def fit(self, x_train, x_val, *, epochs: int = 30, batch_size: int = 256, patience: int = 5,
            progress: bool = True) -> dict:
        """Train with early stopping on the validation loss (keeps the best weights); returns the history."""
        from tqdm.auto import tqdm

        tf = self._tf
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                loss = self._loss(x, True)
            self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        train = tf.data.Dataset.from_tensor_slices(np.asarray(x_train, np.float32)).shuffle(
            len(x_train), seed=1).batch(batch_size)
        x_val = tf.constant(np.asarray(x_val, np.float32))
        history, best, best_weights, waited = {"loss": [], "val_loss": []}, np.inf, None, 0
        for _ in tqdm(range(epochs), desc="training VAE", unit="epoch", disable=not progress):
            history["loss"].append(float(np.mean([float(step(x)) for x in train])))
            history["val_loss"].append(float(self._loss(x_val, False)))
            if history["val_loss"][-1] < best:
                best, waited = history["val_loss"][-1], 0
                best_weights = (self.encoder.get_weights(), self.decoder.get_weights())
            else:
                waited += 1
                if waited >= patience:
                    break
        self.encoder.set_weights(best_weights[0])
        self.decoder.set_weights(best_weights[1])
        return history

    def scores(self, x: np.ndarray, batch_size: int = 4096) -> dict[str, np.ndarray]:
        """{"reconstruction": (n,), "kl": (n,)} anomaly scores."""
        mean, log_var = (np.asarray(a, np.float64) for a in self.encoder.predict(x, batch_size=batch_size, verbose=0))
        kl = 0.5 * np.sum(mean**2 + np.exp(log_var) - 1.0 - log_var, axis=1)
        reconstruction = self.decoder.predict(mean.astype(np.float32), batch_size=batch_size, verbose=0)
        return {"reconstruction": reconstruction_score(x, reconstruction), "kl": kl}


def train_autoencoder(model, x_train, x_val, **kwargs) -> dict:
    """Fit an autoencoder to reproduce its inputs (n, 57): ``hepwb.models.taggers.train`` with the inputs
    as targets (early stopping on the validation loss, best weights kept; same keyword arguments)."""
    from hepwb.models.taggers import train

    return train(model, x_train, x_train, x_val, x_val, **kwargs)


def autoencoder_scores(model, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """(n,) reconstruction scores of an autoencoder."""
    return reconstruction_score(x, model.predict(x, batch_size=batch_size, verbose=0))


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
    """Dense autoencoder of jet images (n, size, size) whose pixels sum to 1 (``jetdata.jet_images``).

    The output is a softmax over the pixels, so the reconstruction is an image of the same normalisation;
    the loss and the score are the mean squared pixel difference (``image_scores``).
    """
    from tensorflow import keras

    set_seed(seed)
    n_pixels = image_size * image_size
    inputs = keras.Input((image_size, image_size), name="image")
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hidden, activation="relu", name="encoder")(x)
    x = keras.layers.Dense(latent_dim, name="latent")(x)
    x = keras.layers.Dense(hidden, activation="relu", name="decoder")(x)
    x = keras.layers.Dense(n_pixels, activation="softmax", name="pixels")(x)
    model = keras.Model(inputs, keras.layers.Reshape((image_size, image_size))(x), name="jet_image_autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model


def image_scores(model, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """(n,) mean squared pixel difference between each jet image and its reconstruction."""
    reconstruction = model.predict(images, batch_size=batch_size, verbose=0)
    return np.mean((np.asarray(images, np.float64) - reconstruction) ** 2, axis=(1, 2))


# ---- uses: detector monitoring and the trigger path --------------------------------------------

def monitor_faults(model, faults, n_events: int, *, monitoring_fpr: float = 0.1, seed: int = 1):
    """Which detector component broke? Data-quality monitoring with a trained autoencoder.

    For each fault of ``hepwb.l1data.FAULTS`` the same ``n_events`` events go through the healthy and
    the faulty detector. Per fault: the median scores, the fraction of faulty events above the healthy
    run's (1 - monitoring_fpr) quantile, the two-sample KS p-value of the scores (run level), and per
    object group the KS statistic of its loss contributions; the largest one names the blamed object.
    Returns (table with one row per fault, mean loss share per object: {"healthy" or fault: {group: share}}).
    """
    import pandas as pd
    from scipy.stats import ks_2samp

    from hepwb import l1data

    rows, shares = [], {}
    for fault in faults:
        healthy, faulty = l1data.simulate_fault(fault, n_events, seed=seed)
        score, parts = {}, {}
        for name, sample in (("healthy", healthy), ("faulty", faulty)):
            x = l1data.network_inputs(sample.particles)
            reconstruction = model.predict(x, verbose=0)
            score[name], parts[name] = reconstruction_score(x, reconstruction), loss_contributions(x, reconstruction)
        threshold = np.quantile(score["healthy"], 1 - monitoring_fpr)
        shift = {group: ks_2samp(parts["healthy"][group], parts["faulty"][group]).statistic for group in OBJECTS}
        rows.append({"fault": fault, "median score, healthy": np.median(score["healthy"]),
                     "median score, faulty": np.median(score["faulty"]),
                     "faulty events flagged": np.mean(score["faulty"] > threshold),
                     "run p-value (KS of scores)": ks_2samp(score["healthy"], score["faulty"]).pvalue,
                     "blamed object": max(shift, key=shift.get), **{f"KS {group}": shift[group] for group in OBJECTS}})
        shares.setdefault("healthy", {group: parts["healthy"][group].mean() for group in OBJECTS})
        shares[fault] = {group: parts["faulty"][group].mean() for group in OBJECTS}
    return pd.DataFrame(rows).set_index("fault"), shares


def trigger_agreement(keras_model, hls_model, x_background: np.ndarray, x_signals: dict[str, np.ndarray],
                      fpr: float) -> dict:
    """The quantized autoencoder in Keras and in hls4ml's C simulation, scored the same way.

    The firmware computes the raw reconstruction; the bounding (``bound_outputs``) and the masked
    error are applied to its outputs as to Keras's. Returns the background scores of both
    ("keras", "hls", arrays (n,)), their correlation, and per signal the TPR at ``fpr`` of each and
    their relative difference (None where QKeras finds nothing).
    """
    from hepwb import fpga
    from hepwb.metrics import tpr_at_fpr

    def scores(x):
        return (autoencoder_scores(keras_model, x),
                reconstruction_score(x, bound_outputs(fpga.predict(hls_model, x))))

    keras_background, hls_background = scores(x_background)
    per_signal = {}
    for signal, x in x_signals.items():
        keras_signal, hls_signal = scores(x)
        k, h = tpr_at_fpr(keras_background, keras_signal, fpr)["tpr"], tpr_at_fpr(hls_background, hls_signal, fpr)["tpr"]
        per_signal[signal] = {"TPR QKeras": k, "TPR hls4ml": h, "relative difference": (h - k) / k if k > 0 else None}
    return {"keras": keras_background, "hls": hls_background, "signals": per_signal,
            "correlation": float(np.corrcoef(keras_background, hls_background)[0, 1])}
