"""The one seam between hepwb's two stacks: quantization-aware layers, magnitude pruning, the bit widths a
model holds (for ``fpga.firmware_bops``), and which stack a saved model belongs to.

- ``keras2`` (Keras 2): QKeras layers with fixed bit widths (``QDense`` with ``quantized_bits`` weights and
  biases, ``QActivation(quantized_relu)``), pruning by tensorflow-model-optimization.
- ``keras3`` (Keras 3): HGQ2 layers, whose every weight and every input learns its own bit width, pulled
  down by a resource term in the loss (EBOPs, effective bit operations, weighted by ``beta``); a weight
  that learns zero bits is pruned. ``bits`` is then the width the training starts from. tfmot has no
  Keras 3 version, so a float model is pruned by ``MagnitudePruning`` (below).

Model builders ask this module for ``dense``, ``relu`` and ``batch_norm`` layers and never import QKeras or
HGQ2 themselves; ``describe`` names the library in a notebook's printout; ``check_same_stack`` refuses a
saved model of the other stack in one line.
"""

from __future__ import annotations

import numpy as np
from tensorflow import keras

from hepwb.environment import installed_stack

#: "keras2" or "keras3": the stack this environment is (hepwb.environment)
STACK = installed_stack().name
#: the library that trains quantized models on this stack
LIBRARY = {"keras2": "QKeras", "keras3": "HGQ2"}[STACK]
#: EBOPs weight in HGQ2's loss: the default of the HGQ2 tagger checked in docs/design.md
DEFAULT_BETA = 1e-5
#: Adam's learning rate for a quantized tagger: HGQ2 trains widths like weights, moving them by about the
#: learning rate per step, so that a school-size run (~1 500 steps) can move them by a few bits
LEARNING_RATE = {"keras2": 1e-3, "keras3": 3e-3}[STACK]


class OtherStackModel(RuntimeError):
    """A saved model was written by the other stack (Keras 2 and Keras 3 files do not load into each other)."""


def check_same_stack(saved_stack: str, what: str) -> None:
    """Raise ``OtherStackModel`` with one line when ``what`` (a saved model) was written by the other stack."""
    if saved_stack != STACK:
        raise OtherStackModel(f"{what} was saved by the {saved_stack} stack and this is the {STACK} stack "
                              f"({describe().split(': ')[1]}); retrain it here, or open it where {saved_stack} runs")


def describe() -> str:
    """One line for a notebook: which stack this is and how it quantizes."""
    if STACK == "keras2":
        return "keras2 stack: Keras 2 + QKeras (fixed bit widths) + tensorflow-model-optimization (pruning)"
    return "keras3 stack: Keras 3 + HGQ2 (every weight learns its bit width; zero bits = pruned)"


def dense(units: int, *, bits: int, integer_bits: int = 0, bias_integer_bits: int | None = None,
          input_bits: int | None = None, name: str, beta: float = DEFAULT_BETA, **options):
    """A quantized Dense layer: ``bits``-bit weights and biases with ``integer_bits`` integer bits (QKeras's
    ``quantized_bits(bits, integer_bits, alpha=1)``; the biases ``bias_integer_bits`` when given); on keras3
    an HGQ2 ``QDense`` starting there, its inputs quantized too, from ``input_bits`` (default ``bits``) with
    3 integer bits and a sign; ``beta`` weighs its EBOPs in the loss. (QKeras quantizes a layer's output
    instead: ``relu`` and ``input_quantizer`` set the widths that flow in.)"""
    bias_integer_bits = integer_bits if bias_integer_bits is None else bias_integer_bits
    if STACK == "keras2":  # beta and input_bits are HGQ2's
        from qkeras import QDense, quantized_bits

        return QDense(units, kernel_quantizer=quantized_bits(bits, integer_bits, alpha=1),
                      bias_quantizer=quantized_bits(bits, bias_integer_bits, alpha=1), name=name, **options)
    from hgq.config import LayerConfigScope, QuantizerConfig
    from hgq.layers import QDense

    # HGQ2's kbi quantizer counts bits without the sign: b0 = bits - 1 matches QKeras's signed width
    weights = {"b0": bits - 1, "i0": integer_bits, "overflow_mode": "SAT_SYM"}
    biases = {**weights, "i0": bias_integer_bits}
    with LayerConfigScope(enable_ebops=True, beta0=beta):
        return QDense(units, kq_conf=QuantizerConfig("kbi", "weight", **weights),
                      bq_conf=QuantizerConfig("kbi", "bias", **biases),
                      iq_conf=_inputs(input_bits or bits),
                      name=name, **options)


def relu(*, bits: int, integer_bits: int = 0, name: str):
    """A ReLU with a ``bits``-bit output (QKeras's ``quantized_relu(bits, integer_bits)``); on keras3 a plain
    ReLU, since HGQ2 quantizes every layer's input (the next ``dense`` learns the width it needs)."""
    if STACK == "keras2":
        from qkeras import QActivation, quantized_relu

        return QActivation(quantized_relu(bits, integer_bits), name=name)
    return keras.layers.Activation("relu", name=name)


def _inputs(bits: int):
    """HGQ2's quantizer of a layer's inputs: ``bits`` wide with a sign and 3 integer bits to start with, and
    never fewer than 3 bits besides the sign. An input channel that learns fewer bits than integer bits gets a
    type whose smallest step is above everything the layer before can hold (``ap_fixed<1,4>`` after an
    ``ap_ufixed<8,1>``), and the conversion between the two aborts hls4ml 1.3's C simulation ("Attempting to
    read bit beyond MSB"; hls4ml issue 1523), taking a notebook's kernel with it. Weights may still learn
    zero bits (pruned)."""
    from hgq.config import QuantizerConfig
    from hgq.constraints import MinMax

    return QuantizerConfig("kbi", "datalane", b0=bits - 1, i0=3, overflow_mode="SAT_SYM", bc=MinMax(3, 23))


def batch_norm(*, bits: int | None, input_bits: int | None = None, name: str):
    """A BatchNormalization layer; on keras3 with ``bits`` HGQ2's ``QBatchNormalization``, whose inputs are
    quantized (from ``input_bits``, default ``bits``, with 3 integer bits and a sign): hls4ml's bit-exact
    conversion of an HGQ2 model needs a quantizer in front of every layer. QKeras (keras2) keeps Keras's
    layer, which hls4ml folds into the fixed-point arithmetic of the layer before it."""
    if bits is None or STACK == "keras2":
        return keras.layers.BatchNormalization(name=name)
    from hgq.config import QuantizerConfig
    from hgq.layers import QBatchNormalization

    fixed = {"overflow_mode": "SAT_SYM"}
    return QBatchNormalization(name=name, iq_conf=_inputs(input_bits or bits),
                               kq_conf=QuantizerConfig("kbi", "weight", b0=bits - 1, i0=3, **fixed),
                               bq_conf=QuantizerConfig("kbi", "bias", b0=bits - 1, i0=3, **fixed))


def input_quantizer(*, bits: int, integer_bits: int, name: str = "input_quantizer"):
    """Round the inputs to ``bits`` bits with ``integer_bits`` integer bits and a sign, as trigger inputs
    arrive; None on keras3, where the first ``dense`` quantizes its own inputs (``input_bits``), learnably."""
    if STACK == "keras2":
        from qkeras import QActivation, quantized_bits

        return QActivation(quantized_bits(bits, integer_bits, alpha=1), name=name)
    return None


def learns_widths(model) -> bool:
    """Whether ``model`` learns its bit widths (HGQ2). Its widths are weights, and the validation loss does not
    see the EBOPs term, so early stopping with the best weights restored would bring back the wide widths of
    an early epoch: ``training.train`` runs such a model for all its epochs instead."""
    return STACK == "keras3" and any(is_quantized(layer) for layer in model.layers)


def is_quantized(layer) -> bool:
    """Whether a layer is QKeras's or HGQ2's (their class names start with Q)."""
    return layer.__class__.__name__.startswith("Q")


def quantized_kernel(layer) -> np.ndarray:
    """A Dense layer's kernel as the firmware holds it, shape (n_in, n_out): rounded by its quantizer when
    it has one (QKeras, HGQ2), as stored otherwise."""
    if not is_quantized(layer):
        return np.asarray(layer.get_weights()[0])
    if STACK == "keras2":
        return np.asarray(layer.kernel_quantizer_internal(layer.kernel))
    return np.asarray(layer.qkernel)


def _signed_bits(quantizer, shape) -> np.ndarray:
    """HGQ2's widths of a quantizer, sign bit included (HGQ2 counts bits without it), broadcast to ``shape``."""
    bits = np.asarray(quantizer.bits_(shape), dtype=np.float64)
    sign = np.asarray(quantizer.quantizer.bw_mapper.bw_to_x(quantizer.quantizer.k, shape), dtype=np.float64)
    return np.where(bits > 0, bits + sign, 0.0)


def weight_bits(layer) -> np.ndarray:
    """The bit width of every kernel weight of a quantized Dense layer, shape (n_in, n_out), sign included:
    QKeras's quantizer ``bits`` for every weight; HGQ2's learned width of each (0 where it learned none)."""
    shape = np.asarray(layer.get_weights()[0]).shape
    if STACK == "keras2":
        return np.full(shape, float(layer.kernel_quantizer_internal.bits))
    return _signed_bits(layer.kq, shape)


def weight_widths(model) -> dict[str, np.ndarray]:
    """Per quantized Dense layer, the width of each weight as the firmware holds it (sign included; 0 where
    the quantized weight is zero): what ``plotting.bit_widths_figure`` draws."""
    return {layer.name: np.where(quantized_kernel(layer) != 0, weight_bits(layer), 0.0)
            for layer in model.layers if layer.__class__.__name__ == "QDense"}


def input_bits(layer, default: float) -> np.ndarray:
    """The bit width of each input of a quantized Dense layer, shape (n_in,), sign included: HGQ2's learned
    input widths; on keras2 ``default`` (the width of the layer before it: QKeras quantizes outputs)."""
    n_in = np.asarray(layer.get_weights()[0]).shape[0]
    if STACK == "keras2" or not getattr(layer, "enable_iq", False):
        return np.full(n_in, float(default))
    return _signed_bits(layer.iq, (1, n_in)).reshape(n_in)


class MagnitudePruning(keras.callbacks.Callback):
    """Magnitude pruning for Keras 3, where tensorflow-model-optimization does not run: every ``frequency``
    training steps the smallest ``sparsity`` fraction of each Dense kernel (by |w|) is masked to zero, and
    the mask is applied after every step in between, as tfmot's ``ConstantSparsity(begin_step=0)`` does.
    Written here because no maintained library prunes Keras 3 models."""

    def __init__(self, sparsity: float, frequency: int = 100):
        super().__init__()
        self.target_sparsity, self.frequency = float(sparsity), int(frequency)
        self.steps, self.masks = 0, {}

    def _kernels(self):
        return [layer for layer in self.model.layers if layer.__class__.__name__ in ("Dense", "QDense")]

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps % self.frequency == 0:
            for layer in self._kernels():
                kernel = np.asarray(layer.kernel)
                threshold = np.quantile(np.abs(kernel), self.target_sparsity)
                self.masks[layer.name] = (np.abs(kernel) > threshold).astype(kernel.dtype)
        for layer in self._kernels():
            if layer.name in self.masks:
                layer.kernel.assign(np.asarray(layer.kernel) * self.masks[layer.name])


def pruning_callback(model):
    """The callback that steps ``model``'s pruning during ``fit`` (tfmot's ``UpdatePruningStep`` on keras2,
    ``MagnitudePruning`` on keras3), and the number of steps before its first mask; (None, 0) when the model
    is not wrapped for pruning."""
    schedules = [layer.pruning_schedule for layer in model.layers if hasattr(layer, "pruning_schedule")]
    if schedules:
        import tensorflow_model_optimization as tfmot

        return tfmot.sparsity.keras.UpdatePruningStep(), schedules[0].frequency + 1
    pruning = getattr(model, "magnitude_pruning", None)
    return (pruning, pruning.frequency) if pruning is not None else (None, 0)


def prunable(model, sparsity: float, frequency: int):
    """``model`` set up for magnitude pruning: wrapped by tfmot's ``prune_low_magnitude`` (``ConstantSparsity``)
    on keras2; on keras3 carrying a ``MagnitudePruning``, unless it is an HGQ2 model (returned as it is: its
    weights that learn zero bits are its pruning)."""
    if STACK == "keras2":
        import tensorflow_model_optimization as tfmot

        schedule = tfmot.sparsity.keras.ConstantSparsity(sparsity, begin_step=0, frequency=frequency)
        return tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    if not any(is_quantized(layer) for layer in model.layers):
        model.magnitude_pruning = MagnitudePruning(sparsity, frequency)
    return model


def strip_pruning(model):
    """(the model without pruning wrappers, the sparsity asked for, the steps between masks); (model, 0, 0)
    for a model that was not pruned."""
    schedules = [layer.pruning_schedule for layer in model.layers if hasattr(layer, "pruning_schedule")]
    if schedules:
        import tensorflow_model_optimization as tfmot

        return tfmot.sparsity.keras.strip_pruning(model), schedules[0].target_sparsity, schedules[0].frequency
    pruning = getattr(model, "magnitude_pruning", None)
    return (model, 0.0, 0) if pruning is None else (model, pruning.target_sparsity, pruning.frequency)
