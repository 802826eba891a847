"""Jet taggers: the hls4ml dense tagger, a particle-flow network, a jet-image CNN, a BDT baseline, and
the constituent models of ``particlenet`` (graph network) and ``transformer`` (ParT-style).

Owns: building (Keras 2 from TensorFlow 2.14), training with early stopping, and saving/loading
the hls4ml tagger together with its input scaler and feature list, in the form the trigger/FPGA
notebook loads. Inputs come from ``hepwb.jetdata``; scores are judged by ``hepwb.metrics``.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np

TAGGER_FILE, SCALER_FILE = "hls4ml_tagger.h5", "hls4ml_tagger_inputs.json"


def set_seed(seed: int) -> None:
    """Seed Python, numpy and TensorFlow, and make TF ops deterministic on the CPU."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def dense_tagger(n_features: int = 16, n_classes: int = 5, *, l1: float = 1e-4, seed: int = 1):
    """The hls4ml benchmark tagger: Dense 64-32-32-n_classes, ReLU, softmax, L1 on the kernels.

    Input: standardised high-level features, shape (batch, n_features).
    """
    from tensorflow import keras

    set_seed(seed)
    regulariser = keras.regularizers.l1(l1)
    inputs = keras.Input((n_features,), name="features")
    x = inputs
    for i, units in enumerate((64, 32, 32), start=1):
        x = keras.layers.Dense(units, kernel_initializer="lecun_uniform", kernel_regularizer=regulariser,
                               name=f"fc{i}")(x)
        x = keras.layers.Activation("relu", name=f"relu{i}")(x)
    x = keras.layers.Dense(n_classes, kernel_initializer="lecun_uniform", kernel_regularizer=regulariser,
                           name="output")(x)
    outputs = keras.layers.Activation("softmax", name="softmax")(x)
    return _compiled(keras.Model(inputs, outputs, name="hls4ml_tagger"))


def particle_flow_network(n_particles: int = 50, n_fields: int = 4, n_classes: int = 5, *,
                          phi_sizes=(64, 64, 64), f_sizes=(64, 64), real_particles=None, seed: int = 1):
    """Deep Sets / Particle Flow Network: per-particle network Phi, masked sum, event network F.

    Inputs: particles (batch, n_particles, n_fields) and mask (batch, n_particles), 1 for real
    particles; padded slots are multiplied by 0 before the sum, so they cannot contribute.
    ``real_particles`` (m, n_fields), the unpadded training particles, sets a standardising layer.
    """
    from tensorflow import keras

    from hepwb.models.layers import MaskedSum

    set_seed(seed)
    particles, mask, x = particle_inputs(n_particles, n_fields, real_particles)
    for i, units in enumerate(phi_sizes, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"phi{i}")(x)  # acts on each particle alike
    x = MaskedSum(name="sum_over_particles")([x, mask])  # padded slots are multiplied by 0 before the sum
    for i, units in enumerate(f_sizes, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"f{i}")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="output")(x)
    return _compiled(keras.Model([particles, mask], outputs, name="particle_flow_network"))


def particle_inputs(n_particles: int, n_fields: int, real_particles=None):
    """The inputs of a constituent tagger, particles (batch, n_particles, n_fields) and mask (batch,
    n_particles), and the particles standardised with the moments of ``real_particles`` when given."""
    from tensorflow import keras

    particles = keras.Input((n_particles, n_fields), name="particles")
    mask = keras.Input((n_particles,), name="mask")
    x = particles if real_particles is None else standardising_layer(real_particles)(particles)
    return particles, mask, x


def standardising_layer(values, name: str = "standardise"):
    """A Keras Normalization layer set to the mean and variance of ``values`` (m, n_fields) per field.

    Computed with NumPy and passed in: ``Normalization.adapt`` streams NumPy input in batches of 32
    and took 10 s for the half million particles of a school run.
    """
    from tensorflow import keras

    values = np.asarray(values, dtype=np.float64)
    return keras.layers.Normalization(axis=-1, mean=values.mean(axis=0), variance=values.var(axis=0), name=name)


def jet_image_cnn(image_size: int = 32, n_classes: int = 5, *, filters=(16, 32, 32), seed: int = 1):
    """A small CNN on preprocessed jet images, input (batch, image_size, image_size)."""
    from tensorflow import keras

    set_seed(seed)
    inputs = keras.Input((image_size, image_size), name="image")
    x = keras.layers.Reshape((image_size, image_size, 1))(inputs)
    for i, n in enumerate(filters, start=1):
        x = keras.layers.Conv2D(n, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu", name="fc")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="output")(x)
    return _compiled(keras.Model(inputs, outputs, name="jet_image_cnn"))


def _compiled(model, learning_rate: float = 1e-3):
    from tensorflow import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train(model, x_train, y_train, x_val, y_val, *, epochs: int = 30, batch_size: int = 256, patience: int = 5,
          callbacks=(), seed: int = 1, first_monitored_epoch: int = 0) -> dict:
    """Fit with early stopping on the validation loss (best weights restored).

    Epochs before ``first_monitored_epoch`` are neither a reason to stop nor candidates for the best
    weights (a pruned model's first epochs, before its mask exists). Returns the history dict plus
    ``seconds`` and ``jets_per_second`` (training throughput).
    """
    from tensorflow import keras

    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got epochs={epochs}, batch_size={batch_size}")
    set_seed(seed)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True,
                                         start_from_epoch=first_monitored_epoch)
    started = time.perf_counter()
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch_size,
                        callbacks=[stop, *callbacks], verbose=0, shuffle=True)
    seconds = time.perf_counter() - started
    result = dict(history.history)
    n_epochs = len(result["loss"])
    result["seconds"] = seconds
    result["jets_per_second"] = n_epochs * len(y_train) / seconds
    return result


def gradient_boosted_baseline(x_train, y_train, *, max_iter: int = 200, seed: int = 1):
    """scikit-learn's HistGradientBoostingClassifier on the high-level features (early stopping inside)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=max_iter, early_stopping=True, validation_fraction=0.15,
                                           random_state=seed)
    return model.fit(x_train, y_train)


class StandardScaler:
    """Feature standardisation saved as JSON (mean and scale per named feature), no pickle."""

    def __init__(self, mean=None, scale=None, features=()):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)
        self.features = tuple(features)

    def fit(self, x, features=()):
        self.mean = x.mean(axis=0)
        self.scale = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        self.features = tuple(features)
        return self

    def transform(self, x) -> np.ndarray:
        return ((x - self.mean) / self.scale).astype(np.float32)


def save_tagger(directory: str | Path, model, scaler: StandardScaler, classes) -> Path:
    """Save the hls4ml tagger (Keras 2 HDF5) with its scaler, feature list and class names."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # HDF5 on purpose: hls4ml's Keras-2 converter reads it
        warnings.filterwarnings("ignore", message="You are saving your model as an HDF5 file")
        model.save(directory / TAGGER_FILE)
    inputs = {"features": list(scaler.features), "mean": scaler.mean.tolist(), "scale": scaler.scale.tolist(),
              "classes": list(classes)}
    (directory / SCALER_FILE).write_text(json.dumps(inputs, indent=2) + "\n")
    return directory


def load_tagger(directory: str | Path):
    """Load what ``save_tagger`` wrote: returns (model, scaler, classes)."""
    from tensorflow import keras

    directory = Path(directory)
    missing = [f for f in (TAGGER_FILE, SCALER_FILE) if not (directory / f).exists()]
    if missing:
        raise FileNotFoundError(f"{directory}: no saved tagger ({', '.join(missing)} missing); "
                                "run 01_jet_tagging with this output_dir first")
    inputs = json.loads((directory / SCALER_FILE).read_text())
    model = keras.models.load_model(directory / TAGGER_FILE)
    return model, StandardScaler(inputs["mean"], inputs["scale"], inputs["features"]), tuple(inputs["classes"])


MODEL_NAMES = ("hls4ml", "pfn", "cnn", "bdt", "particlenet", "part")
_NEEDS = {"pfn": "particles", "cnn": "images", "particlenet": "particles", "part": "particles"}
#: the models that take the constituent list (particles, mask)
PARTICLE_MODELS = ("pfn", "particlenet", "part")


def check_models(models, sample=None) -> list[str]:
    """Validate a list of model names; drop (with a printed reason) those the sample has no inputs for."""
    models = [models] if isinstance(models, str) else list(models)
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown or not models:
        raise ValueError(f"unknown model(s) {unknown or models}; choose from {list(MODEL_NAMES)}")
    usable = []
    for name in models:
        view = _NEEDS.get(name)
        if sample is not None and view and getattr(sample, view) is None:
            print(f"{name}: skipped, {sample.source} has no {view} (the public HLF dataset has features only)")
            continue
        usable.append(name)
    return usable


def model_inputs(name: str, sample, scaler: StandardScaler | None = None):
    """The arrays model ``name`` takes for a JetSample."""
    if name in ("hls4ml",):
        return scaler.transform(sample.features)
    if name == "bdt":
        return sample.features
    if name in PARTICLE_MODELS:
        return [sample.particles, sample.mask.astype(np.float32)]
    if name == "cnn":
        return sample.images
    raise ValueError(f"unknown model {name!r}; choose from {list(MODEL_NAMES)}")


def build(name: str, train_sample, *, seed: int = 1):
    """The Keras model ``name`` (see MODEL_NAMES) for the shapes of a JetSample; None for "bdt"."""
    n_classes = len(train_sample.classes)
    if name == "bdt":
        return None
    if name == "hls4ml":
        return dense_tagger(train_sample.features.shape[1], n_classes, seed=seed)
    if name == "pfn":
        return particle_flow_network(*train_sample.particles.shape[1:], n_classes,
                                     real_particles=train_sample.particles[train_sample.mask], seed=seed)
    if name == "cnn":
        return jet_image_cnn(train_sample.images.shape[1], n_classes, seed=seed)
    if name == "particlenet":
        from hepwb.models.particlenet import particle_net

        return particle_net(*train_sample.particles.shape[1:], n_classes,
                            real_particles=train_sample.particles[train_sample.mask], seed=seed)
    if name == "part":
        from hepwb.models.transformer import particle_transformer

        return particle_transformer(*train_sample.particles.shape[1:], n_classes,
                                    real_particles=train_sample.particles[train_sample.mask],
                                    training_jets=(train_sample.particles, train_sample.mask), seed=seed)
    raise ValueError(f"unknown model {name!r}; choose from {list(MODEL_NAMES)}")


def fit_and_score(name: str, train_sample, val_sample, test_sample, *, model=None,
                  scaler: StandardScaler | None = None, epochs: int = 30, batch_size: int = 256, patience: int = 5,
                  seed: int = 1, callbacks=()):
    """Train (early stopping on the validation split) and score one model on the test split.

    ``model``: a Keras model from ``build`` (built here when None). Returns (model, history dict with
    ``seconds`` and ``jets_per_second``, test scores (n, n_classes)).
    """
    if name == "bdt":
        started = time.perf_counter()
        model = gradient_boosted_baseline(train_sample.features, train_sample.labels, seed=seed)
        seconds = time.perf_counter() - started
        history = {"seconds": seconds, "jets_per_second": model.n_iter_ * len(train_sample) / seconds}
        return model, history, predict(name, model, test_sample)
    if model is None:
        model = build(name, train_sample, seed=seed)
    history = train(model, model_inputs(name, train_sample, scaler), train_sample.labels,
                    model_inputs(name, val_sample, scaler), val_sample.labels, epochs=epochs,
                    batch_size=batch_size, patience=patience, callbacks=callbacks, seed=seed)
    return model, history, predict(name, model, test_sample, scaler)


def predict(name: str, model, sample, scaler: StandardScaler | None = None) -> np.ndarray:
    """Class scores (n, n_classes) of model ``name`` for a JetSample (batches of 512 keep memory low)."""
    if name == "bdt":
        return model.predict_proba(sample.features)
    return model.predict(model_inputs(name, sample, scaler), verbose=0, batch_size=512)


MODELS_FILE = "taggers.json"


def save_models(directory: str | Path, fitted: dict, sample, scaler: StandardScaler) -> Path:
    """Save every trained tagger of a run for later scoring (``load_models``): Keras models as
    ``NAME.keras``, the boosted trees with joblib (scikit-learn's own way; load only files you made),
    and ``taggers.json`` with the inputs they expect (classes, features and scaler, particles per jet,
    image size)."""
    import joblib

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, model in fitted.items():
        if name == "bdt":
            joblib.dump(model, directory / "bdt.joblib")
        else:
            model.save(directory / f"{name}.keras")
    inputs = {"models": list(fitted), "classes": list(sample.classes), "features": list(scaler.features),
              "mean": scaler.mean.tolist(), "scale": scaler.scale.tolist(),
              "max_particles": None if sample.particles is None else int(sample.particles.shape[1]),
              "image_size": None if sample.images is None else int(sample.images.shape[1])}
    (directory / MODELS_FILE).write_text(json.dumps(inputs, indent=2) + "\n")
    return directory


def load_models(directory: str | Path) -> tuple[dict, StandardScaler, dict]:
    """What ``save_models`` wrote: ({name: model}, scaler, inputs dict with ``max_particles`` etc.)."""
    import joblib
    from tensorflow import keras

    import hepwb.models.layers  # noqa: F401  (registers the custom layers with Keras)
    import hepwb.models.particlenet  # noqa: F401
    import hepwb.models.transformer  # noqa: F401

    directory = Path(directory)
    if not (directory / MODELS_FILE).exists():
        raise FileNotFoundError(f"{directory}: no saved taggers ({MODELS_FILE} missing); "
                                "run 01_jet_tagging with this output_dir first")
    inputs = json.loads((directory / MODELS_FILE).read_text())
    models = {name: joblib.load(directory / "bdt.joblib") if name == "bdt"
              else keras.models.load_model(directory / f"{name}.keras") for name in inputs["models"]}
    return models, StandardScaler(inputs["mean"], inputs["scale"], inputs["features"]), inputs
