"""The one training toolkit of hepwb's Keras models: seeds, compiling, training, input scalers.

Every model that learns with Keras's ``model.fit`` trains through ``train`` (taggers, regressors,
autoencoders, the VAE, pruned and quantized models): early stopping on the validation loss with the
best weights kept, a fixed seed, and the throughput measured. The event generators of fast
simulation (``gan``, ``flow``) alternate their own steps and have a ``fit`` method of their own.
Input standardisation is scikit-learn's ``StandardScaler``, saved as JSON (no pickle) by ``scaler_to_dict``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from hepwb.models import quantization


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic on the CPU."""
    import tensorflow as tf
    from tensorflow import keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def compiled(model, *, loss="sparse_categorical_crossentropy", learning_rate: float = 1e-3,
             metrics=("accuracy",)):
    """``model`` compiled with Adam: by default as a classifier (integer labels, softmax outputs)."""
    from tensorflow import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=list(metrics))
    return model


def train(model, x_train, y_train, x_val, y_val, *, epochs: int = 30, batch_size: int = 256, patience: int = 5,
          callbacks=(), seed: int = 1) -> dict:
    """Fit a compiled Keras model with early stopping on the validation loss (best weights restored); an
    HGQ2 model trains all ``epochs`` (``quantization.learns_widths``).

    An autoencoder passes its inputs as targets (``y_train=x_train``). A model wrapped for pruning
    (``compressed.prunable``) gets its stack's pruning callback (``quantization.pruning_callback``), and its
    epochs before the first pruning mask are neither a reason to stop nor candidates for the best weights
    (an unpruned model). Returns the history dict plus ``seconds`` and ``jets_per_second`` (throughput).
    """
    from tensorflow import keras

    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got epochs={epochs}, batch_size={batch_size}")
    set_seed(seed)
    n_train = len(x_train[0] if isinstance(x_train, (list, tuple)) else x_train)
    callbacks, first_monitored_epoch = list(callbacks), 0
    pruning, steps_before_mask = quantization.pruning_callback(model)
    if pruning is not None:
        callbacks.insert(0, pruning)
        first_monitored_epoch = math.ceil(steps_before_mask / math.ceil(n_train / batch_size))
    if not quantization.learns_widths(model):
        callbacks.insert(0, keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                          restore_best_weights=True,
                                                          start_from_epoch=first_monitored_epoch))
    started = time.perf_counter()
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch_size,
                        callbacks=callbacks, verbose=0, shuffle=True)
    seconds = time.perf_counter() - started
    result = dict(history.history)
    result["seconds"] = seconds
    result["jets_per_second"] = len(result["loss"]) * n_train / seconds
    return result


def predict(model, x, *, batch_size: int = 4096) -> np.ndarray:
    """A Keras model's outputs for ``x``, float64, in batches (memory stays low); one output column flattened."""
    out = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    return out.reshape(-1) if out.ndim == 2 and out.shape[1] == 1 else out


def scaler_to_dict(scaler) -> dict:
    """A fitted scikit-learn ``StandardScaler`` as plain numbers (for JSON): its feature names, means, scales."""
    names = getattr(scaler, "feature_names_in_", None)
    return {"features": None if names is None else [str(n) for n in names], "mean": scaler.mean_.tolist(),
            "scale": scaler.scale_.tolist(), "n_samples_seen": int(np.max(scaler.n_samples_seen_))}


def scaler_from_dict(values: dict):
    """The ``StandardScaler`` that ``scaler_to_dict`` wrote, fitted as it was (feature names included)."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    scaler.mean_ = np.asarray(values["mean"], dtype=np.float64)
    scaler.scale_ = np.asarray(values["scale"], dtype=np.float64)
    scaler.var_ = scaler.scale_**2
    scaler.n_features_in_ = len(scaler.mean_)
    scaler.n_samples_seen_ = values.get("n_samples_seen", 0)
    if values.get("features") is not None:
        scaler.feature_names_in_ = np.asarray(values["features"], dtype=object)
    return scaler
