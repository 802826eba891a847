"""Accuracy against bit operations for the two ways of quantizing 04's jet tagger, on the same jets:
QKeras (keras2 stack: fixed 6-bit weights and ReLUs, 75 % pruned) and HGQ2 (keras3 stack: every weight and
input learns its width; a scan of the EBOPs weight beta).

    .venv-keras2/bin/python benchmarks/quantization.py      # float + pruned 6-bit QKeras -> keras2.json
    .venv-keras3/bin/python benchmarks/quantization.py      # float + HGQ2 at each beta   -> keras3.json
    .venv-keras2/bin/python benchmarks/quantization.py --report   # both side by side: quantization.md and .png

Both stacks take the jets of ``04_trigger_fpga`` at the school preset (``jets``, 20 000 jets, seed 1, the
same split and standardisation) with inputs quantized to 8 bits (sign, 3 integer bits), and count bit
operations with the same function, ``fpga.firmware_bops``. Each quantized model goes through hls4ml's C
simulation; the agreement is the fraction of test jets on which its logits pick the class Keras picks,
and whether the logits are equal bit for bit. The report checks the issue's target: at accuracy within
1 % (absolute) of the float model, HGQ2 with at least 5x fewer BOPs than the pruned 6-bit QKeras tagger.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "quantization"
BETAS = (1e-6, 1e-5, 2e-5, 3e-5, 5e-5, 1e-4, 1e-3)


def measure(args) -> dict:
    """Train and count on this environment's stack; returns the rows of the JSON file."""
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    from hepwb import fpga, quiet, samples
    from hepwb.models import compressed, quantization, taggers, training

    keras = quiet.tensorflow().keras  # TensorFlow imported after hepwb has quieted its C++ log

    sample = samples.jets.load("jets", max_jets=args.max_jets, particles=False, images=False, seed=1)
    train, val, test = samples.split(sample, seed=1)
    scaler = StandardScaler().fit(train.feature_table())
    x_train, x_val, x_test = (scaler.transform(s.feature_table()) for s in (train, val, test))
    fit = dict(epochs=args.epochs, patience=args.patience, seed=1)

    def row(name, model, seconds, **extra):
        scores = training.predict(model, x_test)
        copy = keras.models.clone_model(model)  # tfmot's strip_pruning leaves the layers in two graphs
        copy.set_weights(model.get_weights())
        logits = keras.Model(copy.inputs, copy.get_layer("output").output)
        accuracy = float(np.mean(scores.argmax(1) == test.labels))
        counted = fpga.firmware_bops(model, None if extra.get("quantized") else 16, input_bits=16)
        result = {"model": name, "stack": quantization.STACK, "accuracy": accuracy, "bops": counted["bops"],
                  "multiplication_bops": counted["multiplication_bops"], "layers": counted["layers"],
                  "train_seconds": round(seconds, 1), **extra}
        if extra.get("quantized"):
            with tempfile.TemporaryDirectory() as scratch:
                hls = fpga.predict(fpga.convert(logits, Path(scratch) / "prj"), x_test)
            keras_logits = training.predict(logits, x_test)
            result.update({"hls4ml_same_class": float(np.mean(hls.argmax(1) == keras_logits.argmax(1))),
                           "hls4ml_bit_exact": bool(np.array_equal(hls, keras_logits.astype(np.float64)))})
        print(f"  {name}: accuracy {result['accuracy']:.4f}, {result['bops']} BOPs "
              f"({result['multiplication_bops']} in multiplications)", flush=True)
        return result

    rows = []
    started = time.time()
    float_model = taggers.dense_tagger(seed=1)
    training.train(float_model, x_train, train.labels, x_val, val.labels, **fit)
    rows.append(row("float (16-bit firmware)", float_model, time.time() - started))
    if quantization.STACK == "keras2":
        started = time.time()
        model = compressed.prunable(compressed.quantized_tagger(6, input_bits=8, seed=1), 0.75)
        training.train(model, x_train, train.labels, x_val, val.labels, **fit)
        rows.append(row("QKeras 6-bit, 75 % pruned", compressed.strip_pruning(model), time.time() - started,
                        quantized=True))
    else:
        for beta in args.betas:
            started = time.time()
            model = training.compiled(compressed.quantized_tagger(6, input_bits=8, beta=beta, seed=1),
                                      learning_rate=args.hgq_learning_rate)
            training.train(model, x_train, train.labels, x_val, val.labels, **fit)
            rows.append(row(f"HGQ2 beta={beta:g}", model, time.time() - started, quantized=True, beta=beta))
    return {"stack": quantization.STACK, "max_jets": args.max_jets, "epochs": args.epochs, "rows": rows}


def report() -> int:
    """quantization.md (a table) and quantization.png (accuracy against BOPs) from both stacks' files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {stack: json.loads((OUT / f"{stack}.json").read_text()) for stack in ("keras2", "keras3")
            if (OUT / f"{stack}.json").exists()}
    if len(runs) < 2:
        sys.exit(f"--report needs {OUT}/keras2.json and keras3.json: run this script in both environments first")
    rows = [r for run in runs.values() for r in run["rows"]]
    qkeras = next(r for r in runs["keras2"]["rows"] if r["model"].startswith("QKeras"))
    float_accuracy = {stack: run["rows"][0]["accuracy"] for stack, run in runs.items()}
    lines = ["| stack | model | accuracy | firmware BOPs | / QKeras's | multiplications only | / QKeras's "
             "| C simulation: same class | bit-exact logits |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        same = f"{r['hls4ml_same_class']:.2%}" if "hls4ml_same_class" in r else "—"
        exact = ("yes" if r["hls4ml_bit_exact"] else "no") if "hls4ml_bit_exact" in r else "—"
        lines.append(f"| {r['stack']} | {r['model']} | {r['accuracy']:.4f} | {r['bops']:,} | "
                     f"{r['bops'] / qkeras['bops']:.2f} | {r['multiplication_bops']:,} | "
                     f"{r['multiplication_bops'] / qkeras['multiplication_bops']:.2f} | {same} | {exact} |")
    within = [r for r in runs["keras3"]["rows"][1:] if r["accuracy"] >= float_accuracy["keras3"] - 0.01]
    verdicts = []
    for count, what in (("bops", "firmware BOPs (products and their adders)"),
                        ("multiplication_bops", "bit operations of the multiplications alone (EBOPs-like)")):
        best = min(within, key=lambda r: r[count], default=None)
        if best is None:
            verdicts.append(f"{what}: no HGQ2 model came within 1 % of its float model's accuracy "
                            f"({float_accuracy['keras3']:.4f}).")
            continue
        factor = qkeras[count] / best[count]
        verdicts.append(f"{what}: within 1 % (absolute) of its float model ({float_accuracy['keras3']:.4f}), "
                        f"the cheapest HGQ2 tagger ({best['model']}, accuracy {best['accuracy']:.4f}) needs "
                        f"{factor:.1f}x fewer than the pruned 6-bit QKeras tagger (target: 5x): "
                        f"{'met' if factor >= 5 else 'missed'}.")
    verdict = "\n\n".join(verdicts)
    text = "\n".join(lines) + "\n\n" + verdict + "\n"
    (OUT / "quantization.md").write_text(text)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for stack, marker in (("keras2", "s"), ("keras3", "o")):
        quantized = [r for r in runs[stack]["rows"] if "hls4ml_same_class" in r]
        ax.plot([r["bops"] for r in quantized], [r["accuracy"] for r in quantized], marker, ls="-" if stack == "keras3"
                else "", label="HGQ2 (scan of beta)" if stack == "keras3" else "QKeras 6-bit, 75 % pruned")
        ax.axhline(float_accuracy[stack], ls="--", color="grey" if stack == "keras2" else "black", lw=1,
                   label=f"float model ({stack})")
    ax.set_xscale("log")
    ax.set_xlabel("firmware bit operations")
    ax.set_ylabel("accuracy (5 classes)")
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT / "quantization.png", dpi=110)
    print(text)
    print(f"written: {OUT / 'quantization.md'}, {OUT / 'quantization.png'}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", action="store_true", help="combine keras2.json and keras3.json")
    parser.add_argument("--max-jets", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--betas", type=float, nargs="*", default=list(BETAS), help="HGQ2's EBOPs weights (keras3)")
    parser.add_argument("--hgq-learning-rate", type=float, default=3e-3,
                        help="HGQ2 trains its widths like weights, by about the learning rate per step")
    args = parser.parse_args(argv)
    if args.report:
        return report()
    OUT.mkdir(parents=True, exist_ok=True)
    result = measure(args)
    path = OUT / f"{result['stack']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
