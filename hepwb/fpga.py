"""From a Keras/QKeras model to FPGA firmware with hls4ml, and what it costs, without vendor tools.

Owns: checking the C++ tool chain, converting with hls4ml 1.3 (Vitis backend configuration),
compiling the bit-accurate C simulation (g++ only) and predicting with it, agreement between
Keras and the C simulation, and analytic cost figures: bit operations (BOPs) and multipliers per
layer for a reuse factor. Boosted decision trees go the same way with conifer (the BDT counterpart of
hls4ml): conversion, its bit-accurate C++ emulation compiled by g++, and its cost (comparators, adders,
conifer's latency and resource estimates). Synthesis (``build()``) needs Vivado/Vitis HLS and is not
done here.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from hepwb.constants import CLOCK_PERIOD_NS, FPGA_CLOCK_MHZ
from hepwb.data import atomic_path

DEFAULT_PART = "xcvu13p-flga2577-2-e"  # a Virtex UltraScale+ of the kind used in L1 trigger boards


class FPGAToolError(RuntimeError):
    """A tool hls4ml needs (g++) is missing."""


class UnsupportedLayerError(ValueError):
    """hls4ml cannot convert a layer of the model."""


def check_compiler() -> str:
    """The path of g++, which hls4ml's C simulation needs; raises FPGAToolError when absent."""
    compiler = shutil.which("g++")
    if compiler is None:
        raise FPGAToolError("hls4ml's bit-accurate C simulation is compiled with g++, which is not on PATH; "
                            "install it (Debian/Ubuntu: apt-get install g++; conda: conda install gxx_linux-64)")
    return compiler


#: softmax lookup tables wider and longer than hls4ml's default (ap_fixed<18,8> x 1024 entries with
#: truncation): with 4096 rounded, saturating entries a 6-bit pruned tagger's C simulation picked the
#: same class as QKeras for 99.5 % of jets instead of 97 % (3000-jet test, see tests/test_fpga.py)
SOFTMAX_TABLE = "ap_fixed<18,8,AP_RND,AP_SAT>"
SOFTMAX_TABLE_SIZE = 4096


def convert(model, output_dir: str | Path, *, precision: str = "ap_fixed<16,6>", reuse_factor: int = 1,
            strategy: str = "Latency", io_type: str = "io_parallel", part: str = DEFAULT_PART,
            layer_precision: dict | None = None, softmax_table: str = SOFTMAX_TABLE,
            softmax_table_size: int = SOFTMAX_TABLE_SIZE, compile: bool = True):
    """Convert a Keras, QKeras or HGQ2 model with hls4ml and (by default) compile its C simulation.

    Parameters
    ----------
    precision : default fixed-point type of weights and activations, e.g. ``ap_fixed<16,6>``.
    reuse_factor : how many times each multiplier is reused (1 = fully parallel).
    strategy : "Latency" or "Resource".
    layer_precision : optional {layer name: {"weight"/"bias"/"result"/...: type}} overrides.
    softmax_table, softmax_table_size : type and length of the softmax's exp and inverse tables.

    QKeras and HGQ2 models are configured per layer, so each layer takes the precision of its quantizers
    (HGQ2's learned widths: the C simulation is bit-exact with the Keras model up to the softmax);
    float models get ``precision`` everywhere.

    Returns the hls4ml model; ``.predict(x)`` runs the C simulation. With ``compile=False`` only the
    HLS project is written (no g++ needed).
    """
    import hls4ml

    if strategy not in ("Latency", "Resource"):
        raise ValueError(f"strategy must be 'Latency' or 'Resource', got {strategy!r}")
    if not isinstance(reuse_factor, int) or reuse_factor < 1:
        raise ValueError(f"reuse_factor must be a positive integer, got {reuse_factor!r}")
    if compile:
        check_compiler()
    _check_layers(model)
    quantized = any(layer.__class__.__name__.startswith("Q") for layer in model.layers)
    granularity = "name" if (quantized or layer_precision) else "model"
    config = hls4ml.utils.config_from_keras_model(model, granularity=granularity, backend="Vitis",
                                                  default_precision=precision)
    config["Model"].update({"ReuseFactor": reuse_factor, "Strategy": strategy})
    wide_softmax_tables(config, model, softmax_table, softmax_table_size)
    for name, types in (layer_precision or {}).items():
        config["LayerName"][name]["Precision"].update(types)
    hls_model = hls4ml.converters.convert_from_keras_model(
        model, hls_config=config, output_dir=str(output_dir), backend="Vitis", io_type=io_type, part=part)
    if compile:
        hls_model.compile()  # writes the project, then builds the C simulation with g++
    else:
        hls_model.write()  # the HLS project alone, e.g. to export it for synthesis elsewhere
    return hls_model


def wide_softmax_tables(config: dict, model, table: str = SOFTMAX_TABLE, size: int = SOFTMAX_TABLE_SIZE) -> dict:
    """Give every softmax of ``model`` in an hls4ml ``config`` longer, rounded lookup tables; returns ``config``.

    hls4ml's default exp and inverse tables (1024 truncated entries) cost a 6-bit tagger 2.5 % of its
    agreement with QKeras; 4096 rounded, saturating entries bring it to 99.5 %.
    """
    config.setdefault("LayerName", {})
    for layer in model.layers:
        if layer.__class__.__name__ == "Activation" and layer.get_config()["activation"] == "softmax":
            entry = config["LayerName"].setdefault(layer.name, {})
            entry.setdefault("Precision", {}).update({"exp_table": table, "inv_table": table})
            entry["TableSize"] = size
    return config


def _check_layers(model) -> None:
    """Refuse, with names, the layers hls4ml's Keras converter has no handler for."""
    from hls4ml.converters.keras_v2_to_hls import get_supported_keras_layers

    supported = set(get_supported_keras_layers()) | {"InputLayer"}
    try:  # Keras 3: hls4ml's own handlers first, the Keras 2 ones as its fallback
        from hls4ml.converters.keras_v3 import layer_handlers

        supported |= {key.rsplit(".", 1)[-1] for key in layer_handlers}
    except ImportError:  # hls4ml's Keras 3 parser imports Keras 3
        pass
    unsupported = [f"{layer.name} ({layer.__class__.__name__})" for layer in model.layers
                   if layer.__class__.__name__ not in supported]
    if unsupported:
        raise UnsupportedLayerError(f"hls4ml cannot convert {', '.join(unsupported)}; it supports e.g. "
                                    f"{', '.join(sorted(n for n in supported if not n.startswith('Q'))[:15])} ... "
                                    "and the QKeras or HGQ2 Q* layers")


def predict(hls_model, x: np.ndarray) -> np.ndarray:
    """C-simulation outputs for inputs x (n, ...), as float64."""
    return np.asarray(hls_model.predict(np.ascontiguousarray(x, dtype=np.float64)), dtype=np.float64)


def agreement(keras_scores: np.ndarray, hls_scores: np.ndarray) -> dict:
    """Fraction of inputs with the same predicted class, and the largest absolute output difference."""
    keras_scores, hls_scores = np.asarray(keras_scores), np.asarray(hls_scores).reshape(np.shape(keras_scores))
    return {"same_class_fraction": float(np.mean(keras_scores.argmax(1) == hls_scores.argmax(1))),
            "max_abs_difference": float(np.max(np.abs(keras_scores - hls_scores)))}


def dense_layers(model) -> list[dict]:
    """Per Dense (or QDense) layer: name, n_in, n_out, and the fraction of zero weights."""
    layers = []
    for layer in model.layers:
        if layer.__class__.__name__ in ("Dense", "QDense"):
            kernel = np.asarray(layer.get_weights()[0])
            layers.append({"name": layer.name, "n_in": kernel.shape[0], "n_out": kernel.shape[1],
                           "sparsity": float(np.mean(kernel == 0))})
    return layers


def bops(model, weight_bits: int, activation_bits: int) -> int:
    """Bit operations of the model's dense layers (analytic, Baskin et al. 2021, as in the hls4ml papers).

    Per layer with n inputs, m outputs and a fraction f of zero (pruned) weights:
    BOPs = m * n * ((1 - f) * b_a * b_w + b_a + b_w + log2(n)); b_w, b_a are the weight and
    activation bit widths. Written out because no library implements this formula; see
    ``firmware_bops`` for the count with each weight's own width, where pruning also removes additions.
    """
    total = 0.0
    for layer in dense_layers(model):
        n, m, f = layer["n_in"], layer["n_out"], layer["sparsity"]
        total += m * n * ((1 - f) * activation_bits * weight_bits + activation_bits + weight_bits + math.log2(n))
    return int(round(total))


def firmware_bops(model, bits: int | None = None, *, input_bits: int = 16) -> dict:
    """Bit operations of the firmware hls4ml builds, counted the same way for QKeras and HGQ2 models.

    hls4ml's Latency strategy wires each weight in as a constant, so a zero (pruned, or HGQ2's zero-bit)
    weight costs neither its multiplier nor its adder. Per non-zero weight w_ij of a Dense layer the count
    is b_a(i) * b_w(ij) + b_acc: its input's width times its own width (sign included), plus an adder as
    wide as the layer's accumulator, b_acc = max b_a + max b_w + ceil(log2 n_in) + 1 (no overflow).
    QKeras gives one width per layer (its quantizers); HGQ2 one per weight and per input (learned).

    A float Keras model is counted as the ``bits``-bit fixed-point twin hls4ml makes of it (weights,
    biases and ReLUs at ``bits``). The first layer's inputs have ``input_bits`` unless the model quantizes
    them itself. Returns the total, its multiplications alone (sum of b_a * b_w over non-zero weights: HGQ2's
    EBOPs without the biases) and the per-layer rows. Written out because the one library count,
    QKeras's qtools, exists only for QKeras models.
    """
    from hepwb.models import quantization  # imports TensorFlow, which conifer's half of this module does not need

    quantized = any(quantization.is_quantized(layer) for layer in model.layers)
    if not quantized and bits is None:
        raise ValueError(f"{model.name} is a float Keras model: give bits, the fixed-point width hls4ml will use")
    rows, total, multiplications = [], 0, 0
    width = float(input_bits)  # the bits of what flows into the next layer
    for layer in model.layers:
        kind = layer.__class__.__name__
        if kind == "QActivation":  # QKeras: the quantizer sets the width of what follows
            width = float(layer.quantizer.bits)
        elif kind in ("Activation", "ReLU") and not quantized:
            width = float(bits)
        if kind not in ("Dense", "QDense"):
            continue
        kernel = quantization.quantized_kernel(layer)
        if quantization.is_quantized(layer):
            b_w, b_a = quantization.weight_bits(layer), quantization.input_bits(layer, width)
        else:
            b_w, b_a = np.full(kernel.shape, float(bits)), np.full(kernel.shape[0], width)
        nonzero = (kernel != 0) & (b_a[:, None] > 0)  # an input of zero bits is a constant zero: no product
        n_in = kernel.shape[0]
        b_acc = int(b_a.max() + b_w[nonzero].max(initial=0) + math.ceil(math.log2(max(n_in, 2))) + 1)
        products = int(round(np.sum(b_a[:, None] * b_w * nonzero)))
        layer_bops = products + b_acc * int(nonzero.sum())
        rows.append({"layer": layer.name, "nonzero_weights": int(nonzero.sum()), "input_bits": float(b_a.mean()),
                     "weight_bits": float(b_w[nonzero].mean()) if nonzero.any() else 0.0,
                     "accumulator_bits": b_acc, "multiplication_bops": products, "bops": layer_bops})
        total += layer_bops
        multiplications += products
        if not quantized:
            width = float(bits)
    return {"bops": total, "multiplication_bops": multiplications, "layers": rows}


def multipliers(model, reuse_factor: int = 1) -> list[dict]:
    """Multipliers per dense layer in hls4ml's Latency strategy: non-zero weights / reuse factor."""
    out = []
    for layer in dense_layers(model):
        nonzero = round(layer["n_in"] * layer["n_out"] * (1 - layer["sparsity"]))
        out.append({"layer": layer["name"], "multipliers": math.ceil(nonzero / reuse_factor),
                    "reuse_factor": reuse_factor})
    return out


def latency_estimate(model, reuse_factor: int = 1, clock_mhz: float = FPGA_CLOCK_MHZ) -> dict:
    """Rough latency of hls4ml's Latency strategy (io_parallel), without synthesis.

    Model, per layer: a Dense layer takes ``reuse_factor`` cycles of multiplications, then an adder
    tree of ceil(log2(n_in) / 2) cycles (two adder levels per cycle at 200 MHz) and one cycle to
    register the output; an activation 1 cycle, except a softmax, 5 (exp lookup, sum, inverse
    lookup, multiply, register). Synthesis reports (``hls_model.build()`` with Vitis HLS) replace it.
    Returns cycles, nanoseconds and the per-layer cycles.
    """
    per_layer = []
    for layer in model.layers:
        kind = layer.__class__.__name__
        if kind in ("Dense", "QDense"):
            n_in = int(np.asarray(layer.get_weights()[0]).shape[0])
            per_layer.append((layer.name, reuse_factor + math.ceil(math.log2(max(n_in, 2)) / 2) + 1))
        elif kind in ("Activation", "QActivation", "ReLU"):
            is_softmax = kind == "Activation" and layer.get_config()["activation"] == "softmax"
            per_layer.append((layer.name, 5 if is_softmax else 1))
    cycles = sum(c for _, c in per_layer)
    return {"cycles": cycles, "nanoseconds": cycles * 1e3 / clock_mhz, "clock_mhz": clock_mhz,
            "per_layer": dict(per_layer)}


# ------------------------------------------------------------------------------------------
# boosted decision trees with conifer
# ------------------------------------------------------------------------------------------

def ap_types_include() -> str:
    """The folder of the Xilinx arbitrary-precision headers (ap_fixed.h) that ship with hls4ml.

    conifer's C++ emulation needs them; ``XILINX_AP_INCLUDE`` (or a Vivado/Vitis installation) wins
    when it is set.
    """
    import hls4ml

    folder = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
    if not (folder / "ap_fixed.h").exists():
        raise FPGAToolError(f"hls4ml {hls4ml.__version__} has no ap_fixed.h under {folder}; set XILINX_AP_INCLUDE "
                            "to a copy of https://github.com/Xilinx/HLS_arbitrary_Precision_Types/include")
    return str(folder)


def bdt_config(output_dir: str | Path, *, input_precision: str = "ap_fixed<24,12>",
               threshold_precision: str = "ap_fixed<24,12>", score_precision: str = "ap_fixed<20,4,AP_RND>",
               project_name: str = "l1_jet_bdt", part: str = DEFAULT_PART,
               clock_period_ns: float = CLOCK_PERIOD_NS) -> dict:
    """A conifer configuration (Xilinx HLS backend): the project, the FPGA part, the clock and the
    fixed-point types of the inputs, the cut thresholds and the summed score.

    The defaults suit ``l1_jets``: inputs in 0.5 GeV steps up to ~1 TeV and sklearn's mid-point thresholds
    are exact with 12 integer and 2 or more fractional bits; the score (a correction factor near 1.5)
    keeps 16 fractional bits, its leaf values rounded (AP_RND, free for constants): truncated, as by
    default, the 100 leaves of a 100-tree sum each lost up to 2^-16 and the emulated pT of the 20 000
    test jets of ``06_trigger_regression`` sat 0.08 GeV low on average, up to 0.51 GeV; rounded, 0.0006
    and 0.03 GeV.
    """
    import conifer

    config = conifer.backends.xilinxhls.auto_config(granularity="full")
    config.update({"OutputDir": str(output_dir), "ProjectName": project_name, "XilinxPart": part,
                   "ClockPeriod": str(clock_period_ns), "InputPrecision": input_precision,
                   "ThresholdPrecision": threshold_precision, "ScorePrecision": score_precision})
    return config


def convert_bdt(bdt, config: dict, *, compile: bool = True):
    """Convert a scikit-learn gradient-boosted ensemble with conifer (``bdt_config``) and, by default,
    compile its bit-accurate C++ emulation with g++ (no vendor tools).

    Returns the conifer model; ``bdt_predict(model, x)`` runs the emulation.
    """
    import copy
    import logging
    import os

    import conifer

    if not hasattr(bdt, "estimators_") or "GradientBoosting" not in type(bdt).__name__:
        raise ValueError("convert_bdt takes a fitted sklearn GradientBoostingRegressor/Classifier, "
                         f"got {type(bdt).__name__}")
    if compile:
        check_compiler()
        os.environ.setdefault("XILINX_AP_INCLUDE", ap_types_include())
    if not hasattr(bdt, "n_classes_"):  # conifer 1.11 reads n_classes_, which regressors lack: one output
        bdt = copy.copy(bdt)
        bdt.n_classes_ = 1
    logging.getLogger("conifer").setLevel(logging.ERROR)  # its INFO lines narrate every step
    model = conifer.converters.convert_from_sklearn(bdt, config)
    if compile:
        model.compile()  # writes the HLS project and builds the emulation with g++
    else:
        model.write()
    return model


def bdt_predict(conifer_model, x: np.ndarray) -> np.ndarray:
    """The conifer emulation's output for inputs x (n, n_features): the summed tree scores, float64 (n,)."""
    return np.asarray(conifer_model.decision_function(np.ascontiguousarray(x, dtype=np.float64)),
                      dtype=np.float64).reshape(len(x), -1)[:, 0]


def bdt_cost(bdt, conifer_model=None, clock_mhz: float = FPGA_CLOCK_MHZ) -> dict:
    """What a boosted ensemble costs in an FPGA, without synthesis.

    Counted from the trees: comparators (one per internal node, all evaluated in parallel in conifer's
    unrolled design), adders for the tree sum (n_trees - 1) and no multipliers. Latency, analytic: one
    cycle for the comparisons, one to select each tree's leaf, and an adder tree of ceil(log2 n_trees / 2)
    cycles (two adder levels per cycle at 200 MHz, as ``latency_estimate``), plus one to register the
    output. With a ``conifer_model``, conifer's own estimates (BDTs fitted to synthesis results) are
    added: ``conifer_latency_cycles``, ``conifer_lut``, ``conifer_ff``.
    """
    trees = [tree.tree_ for stage in bdt.estimators_ for tree in stage]
    comparators = int(sum((tree.children_left >= 0).sum() for tree in trees))
    cycles = 2 + math.ceil(math.log2(max(len(trees), 2)) / 2) + 1
    out = {"trees": len(trees), "max_depth": int(max(tree.max_depth for tree in trees)),
           "comparators": comparators, "adders": len(trees) - 1, "multipliers": 0,
           "latency_cycles": cycles, "latency_ns": cycles * 1e3 / clock_mhz}
    if conifer_model is not None:
        import logging

        from conifer.utils.performance import performance_estimates

        logging.getLogger("conifer").setLevel(logging.ERROR)  # "experimental, use with caution" on every call
        estimates = performance_estimates(conifer_model)
        out.update({"conifer_latency_cycles": int(estimates["latency"]), "conifer_lut": int(estimates["lut"]),
                    "conifer_ff": int(estimates["ff"])})
    return out


def synthesis_tool() -> str | None:
    """Vitis HLS or Vivado HLS if one is on PATH (then ``hls_model.build()`` can synthesise), else None."""
    return shutil.which("vitis_hls") or shutil.which("vivado_hls")


def export_project(project_dir: str | Path, archive: str | Path, *, description: str = "") -> Path:
    """Pack an hls4ml project folder into ``archive`` (.tar.gz) with a README on synthesising it.

    The archive is written under a temporary name and renamed when complete.
    """
    import tarfile

    project_dir, archive = Path(project_dir), Path(archive)
    if not (project_dir / "firmware").is_dir():
        raise FileNotFoundError(f"{project_dir}: not an hls4ml project (no firmware/ folder); run fpga.convert first")
    readme = (f"# hls4ml project\n\n{description}\n\n"
              "Synthesise with AMD/Xilinx Vitis HLS on a machine that has it:\n\n"
              "    cd <this folder> && vitis_hls -f build_prj.tcl \"csim=1 synth=1 cosim=0 export=0\"\n\n"
              "or from Python: `hls_model = hls4ml.converters.link_existing_project(folder); hls_model.build()`.\n"
              "The latency and resource report lands in <project>/solution1/syn/report/.\n")
    with atomic_path(archive) as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            tar.add(project_dir, arcname=project_dir.name)
            info_path = project_dir.parent / f".{project_dir.name}-README.md"
            info_path.write_text(readme)
            try:
                tar.add(info_path, arcname=f"{project_dir.name}/README.md")
            finally:
                info_path.unlink()
    return archive
