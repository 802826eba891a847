"""How sure is a tagger of each jet? Deep ensembles and Monte-Carlo dropout.

A deep ensemble (Lakshminarayanan et al. 2017) trains the same network several times from different
random starts; where the members disagree, the prediction is uncertain. Monte-Carlo dropout (Gal &
Ghahramani 2016) keeps dropout switched on at prediction time and samples many thinned networks.
Both give, per jet, a mean score and a spread.
"""

from __future__ import annotations

import numpy as np

from hepwb.models.layers import hls4ml_network
from hepwb.models.training import compiled, predict, set_seed


def dropout_tagger(n_features: int = 16, n_classes: int = 5, *, rate: float = 0.1, seed: int = 1):
    """The hls4ml tagger (Dense 64-32-32-n_classes, ``layers.hls4ml_network``) with dropout after each
    hidden layer."""
    from tensorflow import keras

    set_seed(seed)
    inputs = keras.Input((n_features,), name="features")
    outputs = hls4ml_network(inputs, n_classes, dropout=rate, seed=seed)
    return compiled(keras.Model(inputs, outputs, name="dropout_tagger"))


def spread(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean scores (n, C) over the first axis of ``samples`` (m, n, C), and per jet the standard
    deviation of the probability of the class the mean predicts (n,)."""
    samples = np.asarray(samples)
    mean = samples.mean(axis=0)
    predicted = mean.argmax(axis=1)
    return mean, samples[:, np.arange(samples.shape[1]), predicted].std(axis=0)


def ensemble_predict(models, x) -> tuple[np.ndarray, np.ndarray]:
    """(mean scores (n, C), spread (n,)) of a list of Keras models on the same inputs."""
    return spread([predict(model, x, batch_size=512) for model in models])


def mc_dropout_predict(model, x, *, n_samples: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """(mean scores (n, C), spread (n,)) of ``n_samples`` passes with dropout switched on."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    return spread([model(x, training=True).numpy() for _ in range(n_samples)])
