"""Jet taggers by name: the hls4ml dense tagger, a particle-flow network, a jet-image CNN, a BDT baseline,
and the constituent models of ``particlenet`` (graph network) and ``transformer`` (ParT-style).

Owns: building each tagger for a ``samples.jets.JetSample``, the inputs each one takes, training and
scoring one by name (``training.train`` for the Keras ones), and saving/loading the taggers with their
input scaler and feature list, in the form the trigger/FPGA and robustness notebooks load. Scores are
judged by ``hepwb.metrics``.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
from tensorflow import keras

from hepwb import quiet
from hepwb.constants import MAX_CONSTITUENTS
from hepwb.messages import did_you_mean
from hepwb.models import quantization
from hepwb.models.layers import MaskedSum, hls4ml_network, particle_inputs
from hepwb.models.particlenet import particle_net
from hepwb.models.training import compiled, predict, scaler_from_dict, scaler_to_dict, set_seed, train
from hepwb.models.transformer import particle_transformer

TAGGER_FILE, SCALER_FILE = "hls4ml_tagger.h5", "hls4ml_tagger_inputs.json"


def dense_tagger(n_features: int = 16, n_classes: int = 5, *, l1: float = 1e-4, seed: int = 1):
    """The hls4ml benchmark tagger: Dense 64-32-32-n_classes, ReLU, softmax, L1 on the kernels
    (``layers.hls4ml_network``). Input: standardised high-level features, shape (batch, n_features)."""
    set_seed(seed)
    inputs = keras.Input((n_features,), name="features")
    return compiled(keras.Model(inputs, hls4ml_network(inputs, n_classes, l1=l1), name="hls4ml_tagger"))


def particle_flow_network(n_particles: int = MAX_CONSTITUENTS, n_fields: int = 4, n_classes: int = 5, *,
                          phi_sizes=(64, 64, 64), f_sizes=(64, 64), real_particles=None, seed: int = 1):
    """Deep Sets / Particle Flow Network: per-particle network Phi, masked sum, event network F.

    Inputs: particles (batch, n_particles, n_fields) and mask (batch, n_particles), 1 for real
    particles; padded slots are multiplied by 0 before the sum, so they cannot contribute.
    ``real_particles`` (m, n_fields), the unpadded training particles, sets a standardising layer.
    """
    set_seed(seed)
    particles, mask, x = particle_inputs(n_particles, n_fields, real_particles)
    for i, units in enumerate(phi_sizes, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"phi{i}")(x)  # acts on each particle alike
    x = MaskedSum(name="sum_over_particles")([x, mask])  # padded slots are multiplied by 0 before the sum
    for i, units in enumerate(f_sizes, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"f{i}")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="output")(x)
    return compiled(keras.Model([particles, mask], outputs, name="particle_flow_network"))


def jet_image_cnn(image_size: int = 32, n_classes: int = 5, *, filters=(16, 32, 32), seed: int = 1):
    """A small CNN on preprocessed jet images, input (batch, image_size, image_size)."""
    set_seed(seed)
    inputs = keras.Input((image_size, image_size), name="image")
    x = keras.layers.Reshape((image_size, image_size, 1))(inputs)
    for i, n in enumerate(filters, start=1):
        x = keras.layers.Conv2D(n, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu", name="fc")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="output")(x)
    return compiled(keras.Model(inputs, outputs, name="jet_image_cnn"))


def gradient_boosted_baseline(x_train, y_train, *, max_iter: int = 200, seed: int = 1):
    """scikit-learn's HistGradientBoostingClassifier on the high-level features (early stopping inside)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=max_iter, early_stopping=True, validation_fraction=0.15,
                                           random_state=seed)
    return model.fit(x_train, y_train)


def save_tagger(directory: str | Path, model, scaler, classes) -> Path:
    """Save the hls4ml tagger (HDF5) with its input scaler (scikit-learn's ``StandardScaler``, fitted on
    ``JetSample.feature_table()``: its feature names come along), the class names and the stack that wrote it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), quiet.absl_warnings_off():  # HDF5 on purpose: hls4ml's Keras-2 converter reads it
        warnings.filterwarnings("ignore", message="You are saving your model as an HDF5 file")  # Keras 2 warns here,
        model.save(directory / TAGGER_FILE)  # Keras 3 through absl
    inputs = {**scaler_to_dict(scaler), "classes": list(classes), "stack": quantization.STACK}
    (directory / SCALER_FILE).write_text(json.dumps(inputs, indent=2) + "\n")
    return directory


def load_tagger(directory: str | Path):
    """Load what ``save_tagger`` wrote: returns (model, scaler, classes). A tagger saved by the other stack
    raises ``quantization.OtherStackModel`` (files without a stack are from keras2, the only stack then)."""
    directory = Path(directory)
    missing = [f for f in (TAGGER_FILE, SCALER_FILE) if not (directory / f).exists()]
    if missing:
        raise FileNotFoundError(f"{directory}: no saved tagger ({', '.join(missing)} missing); "
                                "run 01_jet_tagging with this output_dir first")
    inputs = json.loads((directory / SCALER_FILE).read_text())
    quantization.check_same_stack(inputs.get("stack", "keras2"), f"the tagger in {directory}")
    with quiet.absl_warnings_off():  # Keras 3: "compiled metrics have yet to be built", of no concern here
        model = keras.models.load_model(directory / TAGGER_FILE)
    return model, scaler_from_dict(inputs), tuple(inputs["classes"])


MODEL_NAMES = ("hls4ml", "pfn", "cnn", "bdt", "particlenet", "part")
_NEEDS = {"pfn": "particles", "cnn": "images", "particlenet": "particles", "part": "particles"}
#: the models that take the constituent list (particles, mask)
PARTICLE_MODELS = ("pfn", "particlenet", "part")


def check_models(models, sample=None) -> list[str]:
    """Validate a list of model names; drop (with a printed reason) those the sample has no inputs for."""
    models = [models] if isinstance(models, str) else list(models)
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown or not models:
        hint = did_you_mean(unknown[0], MODEL_NAMES) if unknown else ""
        raise ValueError(f"unknown model(s) {unknown or models}{hint}; choose from {list(MODEL_NAMES)}")
    usable = []
    for name in models:
        view = _NEEDS.get(name)
        if sample is not None and view and getattr(sample, view) is None:
            print(f"{name}: skipped, {sample.source} has no {view} (the public HLF dataset has features only)")
            continue
        usable.append(name)
    return usable


def model_inputs(name: str, sample, scaler=None):
    """The arrays model ``name`` takes for a JetSample; ``scaler``: the fitted ``StandardScaler`` of "hls4ml"."""
    if name == "hls4ml":
        return scaler.transform(sample.feature_table()).astype(np.float32)
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
        return particle_net(*train_sample.particles.shape[1:], n_classes,
                            real_particles=train_sample.particles[train_sample.mask], seed=seed)
    if name == "part":
        return particle_transformer(*train_sample.particles.shape[1:], n_classes,
                                    real_particles=train_sample.particles[train_sample.mask],
                                    training_jets=(train_sample.particles, train_sample.mask), seed=seed)
    raise ValueError(f"unknown model {name!r}; choose from {list(MODEL_NAMES)}")


def train_and_score(name: str, train_sample, val_sample, test_sample, *, model=None,
                  scaler=None, epochs: int = 30, batch_size: int = 256, patience: int = 5,
                  seed: int = 1, callbacks=()):
    """Train one tagger by name (``training.train`` for the Keras ones: early stopping on the validation
    split) and score it on the test split.

    ``model``: a Keras model from ``build`` (built here when None). Returns (model, history dict with
    ``seconds`` and ``jets_per_second``, test scores (n, n_classes)).
    """
    if name == "bdt":
        started = time.perf_counter()
        model = gradient_boosted_baseline(train_sample.features, train_sample.labels, seed=seed)
        seconds = time.perf_counter() - started
        history = {"seconds": seconds, "jets_per_second": model.n_iter_ * len(train_sample) / seconds}
        return model, history, scores(name, model, test_sample)
    if model is None:
        model = build(name, train_sample, seed=seed)
    history = train(model, model_inputs(name, train_sample, scaler), train_sample.labels,
                    model_inputs(name, val_sample, scaler), val_sample.labels, epochs=epochs,
                    batch_size=batch_size, patience=patience, callbacks=callbacks, seed=seed)
    return model, history, scores(name, model, test_sample, scaler)


#: epochs below which the graph network's and the transformer's scores say little (they keep improving for tens)
FEW_EPOCHS = 5


def trained_line(name: str, history: dict) -> str:
    """One line after a tagger trained: its time, its epochs, and a warning where they were too few to judge it."""
    epochs = len(history.get("loss", []))
    line = f"{name}: trained in {history['seconds']:.0f} s"
    if epochs:
        line += f", {epochs} epoch{'s' * (epochs != 1)}"
    if name in ("particlenet", "part") and 0 < epochs < FEW_EPOCHS:
        line += (" (few: the graph network and the transformer keep improving for tens of epochs, so their scores "
                 "below say little yet; raise epochs_graph_and_transformer)")
    return line


def scores(name: str, model, sample, scaler=None) -> np.ndarray:
    """Class scores (n, n_classes) of tagger ``name`` for a JetSample (batches of 512 keep memory low)."""
    if name == "bdt":
        return model.predict_proba(sample.features)
    return predict(model, model_inputs(name, sample, scaler), batch_size=512)


MODELS_FILE = "taggers.json"


def save_models(directory: str | Path, fitted: dict, sample, scaler) -> Path:
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
    inputs = {"models": list(fitted), "classes": list(sample.classes), **scaler_to_dict(scaler),
              "max_particles": None if sample.particles is None else int(sample.particles.shape[1]),
              "image_size": None if sample.images is None else int(sample.images.shape[1]), "stack": quantization.STACK}
    (directory / MODELS_FILE).write_text(json.dumps(inputs, indent=2) + "\n")
    return directory


def load_models(directory: str | Path) -> tuple[dict, object, dict]:
    """What ``save_models`` wrote: ({name: model}, scaler, inputs dict with ``max_particles`` etc.).
    The custom layers of the constituent taggers are registered with Keras by this module's imports; taggers
    saved by the other stack raise ``quantization.OtherStackModel``."""
    import joblib

    directory = Path(directory)
    if not (directory / MODELS_FILE).exists():
        raise FileNotFoundError(f"{directory}: no saved taggers ({MODELS_FILE} missing); "
                                "run 01_jet_tagging with this output_dir first")
    inputs = json.loads((directory / MODELS_FILE).read_text())
    quantization.check_same_stack(inputs.get("stack", "keras2"), f"the taggers in {directory}")
    # Keras 3 warns that the graph network's EdgeConv builds its sublayers on first call, not in build(); the
    # weights reload all the same (tests/test_tagging.py compares the scores)
    with quiet.absl_warnings_off(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`build\(\)` was called on layer")
        models = {name: joblib.load(directory / "bdt.joblib") if name == "bdt"
                  else keras.models.load_model(directory / f"{name}.keras") for name in inputs["models"]}
    return models, scaler_from_dict(inputs), inputs
