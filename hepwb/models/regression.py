"""Jet energy regression at Level 1: the look-up-table calibration and the learned models that replace it.

Owns: the traditional calibration (correction factors in bins of raw ET and |eta|, a look-up table as
the firmware stores it), gradient-boosted trees (scikit-learn, convertible with conifer), a dense
network on the window's summaries and its quantized (QKeras or HGQ2) twin for hls4ml, and a small CNN on the 9 x 9 x 2
towers. Every model predicts the correction factor true pT / raw ET (``samples.l1_jets.target``); the
networks train with ``training.train`` and predict with ``training.predict``. Inputs and targets come
from ``hepwb.samples.l1_jets``; firmware from ``hepwb.fpga``.
"""

from __future__ import annotations

import numpy as np

from hepwb.models import quantization
from hepwb.models.training import compiled, set_seed

#: the loss of every regressor: the mean absolute error aims at the median, the response physicists quote
LOSS = "mean_absolute_error"

#: raw-ET bin edges of the calibration table [GeV]: log-spaced, as the response changes fastest at low ET
LUT_ET_EDGES = (0.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 65.0, 80.0, 100.0, 130.0, 170.0, 220.0, 300.0, 400.0, np.inf)
#: |ieta| groups of the table (towers from the centre): barrel, outer barrel, the barrel-endcap gap, endcap
LUT_IETA_EDGES = (0, 9, 15, 18, 24, 34)


class LUTCalibration:
    """The traditional Level-1 jet calibration: one correction factor per (raw ET bin, |ieta| group).

    Each factor is the median of true pT / raw ET of the training jets in its cell; the firmware
    looks it up from the raw ET and the seed's |ieta| and multiplies. Empty cells take the factor of
    their |ieta| group's nearest filled ET bin.
    """

    def __init__(self, et_edges=LUT_ET_EDGES, ieta_edges=LUT_IETA_EDGES):
        self.et_edges = np.asarray(et_edges, dtype=np.float64)
        self.ieta_edges = np.asarray(ieta_edges)
        self.factors = None

    def _cells(self, raw_pt, abs_ieta):
        i = np.clip(np.searchsorted(self.et_edges, raw_pt, side="right") - 1, 0, len(self.et_edges) - 2)
        j = np.clip(np.searchsorted(self.ieta_edges, abs_ieta, side="right") - 1, 0, len(self.ieta_edges) - 2)
        return i, j

    def fit(self, raw_pt, abs_ieta, true_pt, *, min_jets: int = 10) -> LUTCalibration:
        from scipy.stats import binned_statistic_2d

        raw_pt, true_pt = np.asarray(raw_pt, dtype=np.float64), np.asarray(true_pt, dtype=np.float64)
        cells = dict(x=raw_pt, y=np.asarray(abs_ieta), values=true_pt / raw_pt, bins=[self.et_edges, self.ieta_edges])
        factors = binned_statistic_2d(**cells, statistic="median").statistic
        factors[binned_statistic_2d(**cells, statistic="count").statistic < min_jets] = np.nan
        for b in range(factors.shape[1]):  # fill empty cells from the nearest filled ET bin
            filled = np.flatnonzero(np.isfinite(factors[:, b]))
            if len(filled) == 0:
                raise ValueError(f"no |ieta| group {b} cell has {min_jets} training jets; give more jets")
            nearest = filled[np.abs(np.arange(factors.shape[0])[:, None] - filled[None, :]).argmin(axis=1)]
            factors[:, b] = factors[nearest, b]
        self.factors = factors
        return self

    def predict(self, raw_pt, abs_ieta) -> np.ndarray:
        """The correction factor of each jet, shape (n,)."""
        if self.factors is None:
            raise RuntimeError("the calibration is not fitted; call fit() first")
        i, j = self._cells(np.asarray(raw_pt, dtype=np.float64), abs_ieta)
        return self.factors[i, j]

    def table(self):
        """The look-up table as a DataFrame: rows raw-ET bins, columns |ieta| groups."""
        import pandas as pd

        rows = [f"{lo:g}-{hi:g}" for lo, hi in zip(self.et_edges[:-1], self.et_edges[1:])]
        columns = [f"|ieta| {lo}-{hi - 1}" for lo, hi in zip(self.ieta_edges[:-1], self.ieta_edges[1:])]
        return pd.DataFrame(np.round(self.factors, 3), index=pd.Index(rows, name="raw ET [GeV]"), columns=columns)


def boosted_trees(x_train, y_train, *, n_estimators: int = 100, max_depth: int = 3, learning_rate: float = 0.1,
                  seed: int = 1):
    """scikit-learn's GradientBoostingRegressor on the summaries (conifer converts this class; the
    histogram-based one it does not read)."""
    from sklearn.ensemble import GradientBoostingRegressor

    model = GradientBoostingRegressor(n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate,
                                      subsample=0.8, random_state=seed)
    return model.fit(x_train, y_train)


def dense_regressor(n_inputs: int, *, hidden=(32, 16), bits: int | None = None, learning_rate: float = 2e-3,
                    seed: int = 1):
    """Dense network: summaries -> hidden ReLU layers -> the correction factor.

    ``bits``: None for floating point; an integer for the quantized twin hls4ml converts (``quantization``:
    QKeras on keras2, HGQ2 starting from these widths on keras3), with ``bits``-bit weights and biases
    (quantized_bits(bits, 0)) and ReLUs (quantized_relu(bits, 2), range [0, 4)). Its output layer keeps
    1 integer bit for the weights and 2 for the bias, for factors up to 4.
    """
    from tensorflow import keras

    set_seed(seed)
    inputs = keras.Input((n_inputs,), name="features")
    x = inputs
    if bits is None:
        for i, units in enumerate(hidden, start=1):
            x = keras.layers.Dense(units, activation="relu", name=f"fc{i}")(x)
        outputs = keras.layers.Dense(1, name="correction")(x)
        return compiled(keras.Model(inputs, outputs, name="dense_regressor"), loss=LOSS, learning_rate=learning_rate,
                        metrics=())
    if not isinstance(bits, int) or not 4 <= bits <= 18:
        raise ValueError(f"bits must be None or an integer from 4 to 18, got {bits!r}")
    for i, units in enumerate(hidden, start=1):
        # keras3: the inputs (multiples of 2^-11 below 8) start at 16 bits, exact, as hls4ml's ap_fixed<16,4>
        x = quantization.dense(units, bits=bits, input_bits=16 if i == 1 else None, name=f"fc{i}")(x)
        x = quantization.relu(bits=bits, integer_bits=2, name=f"relu{i}")(x)
    outputs = quantization.dense(1, bits=bits, integer_bits=1, bias_integer_bits=2, name="correction")(x)
    return compiled(keras.Model(inputs, outputs, name=f"dense_regressor_{bits}bit"), loss=LOSS,
                    learning_rate=learning_rate, metrics=())


def cnn_regressor(window: int = 9, n_extra: int = 2, *, filters=(8, 8), learning_rate: float = 2e-3, seed: int = 1):
    """A small CNN on the towers (window, window, 2: ECAL and HCAL), with ``n_extra`` summaries (|ieta|,
    the event's tower count) joined after the convolutions: the window alone does not know where it
    sits in the detector or how much pileup the event has."""
    from tensorflow import keras

    set_seed(seed)
    towers = keras.Input((window, window, 2), name="towers")
    extra = keras.Input((n_extra,), name="extra")
    x = towers
    for i, n in enumerate(filters, start=1):
        x = keras.layers.Conv2D(n, 3, activation="relu", name=f"conv{i}")(x)
    x = keras.layers.Concatenate(name="join")([keras.layers.Flatten(name="flatten")(x), extra])
    x = keras.layers.Dense(32, activation="relu", name="fc1")(x)
    outputs = keras.layers.Dense(1, name="correction")(x)
    return compiled(keras.Model([towers, extra], outputs, name="cnn_regressor"), loss=LOSS,
                    learning_rate=learning_rate, metrics=())
