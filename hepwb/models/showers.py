"""Shower generators conditioned on the incident energy: a CaloFlow-style pair of flows and a CaloVAE-style VAE.

Both learn in ``hepwb.samples.showers.ShowerTransform``'s tables and give showers (n, n_voxels) in MeV:

- ``ShowerFlow`` (Krause and Shih, CaloFlow, 2021): flow I learns the layer energies given E_inc, flow II each
  voxel's share of its layer given E_inc and the layer energies; both are the spline flows of
  ``hepwb.models.flow`` (``EventFlow``: its training, averaging and checkpoints), sampled in one pass.
- ``ShowerVAE`` (as CaloVAE and the CaloChallenge's VAEs): an encoder and a decoder MLP with the conditions
  beside the latent; generation decodes Gaussian noise and adds the decoder's per-column residual spread,
  measured on the training showers (a Gaussian decoder would otherwise give only the mean).
"""

from __future__ import annotations

import time

import numpy as np

from hepwb.models.flow import EventFlow
from hepwb.models.gan import mlp
from hepwb.models.training import set_seed
from hepwb.progress import progress_bar
from hepwb.samples.showers import ShowerSample, ShowerTransform, conditions

#: the generators 08 can train
SHOWER_MODELS = ("flow", "vae")


class _Columns:
    """What ``EventFlow`` needs of a transform: the number of columns of its table."""

    def __init__(self, n_outputs: int):
        self.n_outputs = n_outputs


class ShowerFlow:
    """Flow I (layer energies | E_inc) and flow II (voxel shares | E_inc, layer energies).

    ``layer_settings`` / ``voxel_settings``: ``EventFlow`` keyword arguments (n_layers, hidden, bins, ...) of each.
    """

    label = "CaloFlow-style flow"

    def __init__(self, transform: ShowerTransform, *, layer_settings: dict | None = None,
                 voxel_settings: dict | None = None, seed: int = 1):
        import inspect

        allowed = set(inspect.signature(EventFlow).parameters) - {"transform", "n_conditions", "seed", "circle_spread"}
        for name, given in (("layer_settings", layer_settings), ("voxel_settings", voxel_settings)):
            unknown = sorted(set(given or {}) - allowed)
            if unknown:
                raise ValueError(f"unknown {name} {unknown}; expected some of {sorted(allowed)}")
        self.transform = transform
        n_layers = len(transform.binning.relevant_layers)
        # without XLA for training: compiling these steps (~40 s each on two cores) took longer than training them
        # at the school size; the full preset turns it on
        self.layer_flow = EventFlow(_Columns(n_layers), n_conditions=1, circle_spread=0.0, seed=seed,
                                    **{"n_layers": 4, "hidden": (64, 64), "bins": 4, "jit_compile": False,
                                       **(layer_settings or {})})
        self.voxel_flow = EventFlow(_Columns(transform.binning.n_voxels), n_conditions=1 + n_layers,
                                    circle_spread=0.0, seed=seed + 1,
                                    **{"n_layers": 4, "hidden": (128, 128), "bins": 4, "jit_compile": False,
                                       **(voxel_settings or {})})

    def fit(self, train: ShowerSample, validation: ShowerSample, *, epochs: int = 30, batch_size: int = 256,
            progress: bool = True) -> dict:
        """Train both flows by maximum likelihood; returns their histories (mean NLL per shower, nats)."""
        t, c = self.transform, conditions(train.energies)
        layers, val_layers = t.layer_table(train.energies, train.showers), t.layer_table(validation.energies,
                                                                                          validation.showers)
        val_c = conditions(validation.energies)
        first = self.layer_flow.fit(layers, c, epochs=epochs, batch_size=batch_size, checkpoint_every=epochs,
                                    validation=(val_layers, val_c), progress=progress)
        second = self.voxel_flow.fit(t.voxel_table(train.showers), np.concatenate([c, layers], axis=1),
                                     epochs=epochs, batch_size=batch_size, checkpoint_every=epochs,
                                     validation=(t.voxel_table(validation.showers, seed=1),
                                                 np.concatenate([val_c, val_layers], axis=1)), progress=progress)
        return {"layer_flow": first, "voxel_flow": second}

    def generate(self, energies, *, seed: int = 2, batch_size: int = 10000) -> np.ndarray:
        """Showers (n, n_voxels) [MeV] for incident ``energies`` (n,) [MeV]."""
        c = conditions(energies)
        layers = self.layer_flow.generate_table(conditions=c, seed=seed, batch_size=batch_size)
        voxels = self.voxel_flow.generate_table(conditions=np.concatenate([c, layers], axis=1), seed=seed + 1,
                                                batch_size=batch_size)
        return self.transform.inverse(energies, layers, voxels)


class ShowerVAE:
    """A conditional variational autoencoder of the concatenated tables [layers, voxel shares] (n, L + V).

    ``latent``: size of the latent space; ``hidden``: the encoder's layers (the decoder's are reversed);
    ``beta``: weight of the KL term against the mean squared error per column. The five layer columns weigh as
    much in the error as the 178 shares together: with equal weights the decoder left the layer energies, which
    set the deposited energy, 13 % low (15 epochs on 1 800 showers).
    """

    label = "CaloVAE-style VAE"

    def __init__(self, transform: ShowerTransform, *, latent: int = 16, hidden=(256, 128), beta: float = 0.05,
                 learning_rate: float = 1e-3, seed: int = 1):
        import tensorflow as tf
        from tensorflow import keras

        set_seed(seed)
        self.transform, self.latent, self.beta, self.seed = transform, latent, beta, seed
        n_layers = len(transform.binning.relevant_layers)
        self.n_columns = n_layers + transform.binning.n_voxels
        self.encoder = mlp(self.n_columns + 1, 2 * latent, tuple(hidden), name="vae_encoder")
        self.decoder = mlp(latent + 1, self.n_columns, tuple(reversed(hidden)), name="vae_decoder")
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.column_mean = self.column_std = self.residual = None
        self._decode = tf.function(lambda z, c: self.decoder(tf.concat([z, c], axis=1)), jit_compile=True,
                                   reduce_retracing=True)

    def _table(self, sample: ShowerSample, seed: int | None = None) -> np.ndarray:
        t = self.transform
        return np.concatenate([t.layer_table(sample.energies, sample.showers),
                               t.voxel_table(sample.showers, seed=seed)], axis=1)

    def fit(self, train: ShowerSample, validation: ShowerSample, *, epochs: int = 30, batch_size: int = 256,
            progress: bool = True) -> dict:
        """Minimise MSE + beta KL; returns the per-epoch training and validation loss, with ``seconds``."""
        import tensorflow as tf

        table = self._table(train)
        self.column_mean, self.column_std = table.mean(axis=0), table.std(axis=0) + 1e-6
        x = ((table - self.column_mean) / self.column_std).astype(np.float32)
        val_x = ((self._table(validation, seed=1) - self.column_mean) / self.column_std).astype(np.float32)
        c, val_c = conditions(train.energies), conditions(validation.energies)
        encoder, decoder, latent, beta = self.encoder, self.decoder, self.latent, self.beta
        n_layers = self.n_columns - self.transform.binning.n_voxels
        weights = np.concatenate([np.full(n_layers, (self.n_columns - n_layers) / n_layers),
                                  np.ones(self.n_columns - n_layers)])
        weights = tf.constant(weights / weights.mean(), tf.float32)
        variables = encoder.trainable_variables + decoder.trainable_variables

        def loss_of(xb, cb, training_noise):
            moments = encoder(tf.concat([xb, cb], axis=1))
            mean, log_var = moments[:, :latent], tf.clip_by_value(moments[:, latent:], -10.0, 10.0)
            z = mean + tf.exp(0.5 * log_var) * training_noise
            reconstruction = decoder(tf.concat([z, cb], axis=1))
            mse = tf.reduce_mean(weights * tf.square(reconstruction - xb))
            kl = -0.5 * tf.reduce_mean(tf.reduce_sum(1 + log_var - mean**2 - tf.exp(log_var), axis=1))
            return mse + beta * kl / self.n_columns, reconstruction

        @tf.function
        def step(xb, cb, noise):
            with tf.GradientTape() as tape:
                loss, _ = loss_of(xb, cb, noise)
            self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        rng = np.random.default_rng(self.seed)
        history = {"epoch": [], "train_loss": [], "validation_loss": []}
        started = time.perf_counter()
        for epoch in progress_bar(range(1, epochs + 1), desc="training VAE", unit="epoch", disable=not progress):
            order = rng.permutation(len(x))
            losses = [float(step(x[b], c[b], rng.standard_normal((len(b), latent)).astype(np.float32)))
                      for b in np.array_split(order, max(len(x) // batch_size, 1))]
            val_loss = float(loss_of(val_x, val_c, np.zeros((len(val_x), latent), np.float32))[0])
            history["epoch"].append(epoch)
            history["train_loss"].append(float(np.mean(losses)))
            history["validation_loss"].append(val_loss)
        # the spread the mean decoder misses: per column, the residual of the validation showers' reconstructions
        reconstruction = loss_of(val_x, val_c, rng.standard_normal((len(val_x), latent)).astype(np.float32))[1]
        self.residual = np.std(val_x - np.asarray(reconstruction), axis=0).astype(np.float32)
        return {**history, "seconds": time.perf_counter() - started}

    def generate(self, energies, *, seed: int = 2, batch_size: int = 10000) -> np.ndarray:
        """Showers (n, n_voxels) [MeV] for incident ``energies`` (n,) [MeV]."""
        if self.column_mean is None:
            raise RuntimeError("train the VAE first (fit)")
        rng = np.random.default_rng(seed)
        c = conditions(energies)
        out = []
        for start in range(0, len(c), batch_size):
            cb = c[start:start + batch_size]
            z = rng.standard_normal((len(cb), self.latent)).astype(np.float32)
            decoded = np.asarray(self._decode(z, cb))
            out.append(decoded + self.residual * rng.standard_normal(decoded.shape).astype(np.float32))
        table = np.concatenate(out) * self.column_std + self.column_mean
        n_layers = len(self.transform.binning.relevant_layers)
        return self.transform.inverse(energies, table[:, :n_layers], table[:, n_layers:])


def build(kind: str, transform: ShowerTransform, settings: dict | None = None, *, seed: int = 1):
    """A shower generator by name (``SHOWER_MODELS``) with its keyword arguments from ``settings``."""
    import inspect

    if kind not in SHOWER_MODELS:
        raise ValueError(f"unknown shower model {kind!r}; expected one of {SHOWER_MODELS}")
    model_class = ShowerFlow if kind == "flow" else ShowerVAE
    allowed = set(inspect.signature(model_class).parameters) - {"transform", "seed"}
    unknown = sorted(set(settings or {}) - allowed)
    if unknown:
        raise ValueError(f"unknown {kind} settings {unknown}; expected some of {sorted(allowed)}")
    settings = dict(settings or {})
    if "hidden" in settings:
        settings["hidden"] = tuple(settings["hidden"])
    return model_class(transform, seed=seed, **settings)


def check_models(models) -> None:
    """Refuse anything but a non-empty list of distinct ``SHOWER_MODELS`` before any data is read."""
    if isinstance(models, str) or not models or any(m not in SHOWER_MODELS for m in models) \
            or len(set(models)) < len(models):
        raise ValueError(f"models must be a non-empty list of distinct names from {SHOWER_MODELS}, got {models!r}")


def seconds_per_shower(model, energies, *, repeats: int = 3) -> float:
    """The generation time per shower [s] on this process's threads, the best of ``repeats`` after a warm-up."""
    model.generate(energies[:1000])
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        model.generate(energies)
        best = min(best, time.perf_counter() - started)
    return best / len(energies)
