"""Accuracy against bit operations for the two ways of quantizing 04's jet tagger, on the same jets:
QKeras (keras2 stack: fixed 6-bit weights and ReLUs, 75 % pruned) and HGQ2 (keras3 stack: every weight and
input learns its width: a scan of fixed EBOPs weights beta, and HGQ2's own recipe, one long run with beta
ramped up and the Pareto front of validation accuracy against EBOPs kept along the way).

    .venv-keras2/bin/python benchmarks/quantization.py      # float + pruned 6-bit QKeras -> keras2.json
    .venv-keras3/bin/python benchmarks/quantization.py      # float + HGQ2 at each beta   -> keras3.json
    .venv-keras2/bin/python benchmarks/quantization.py --report   # both side by side: quantization.md and .png

Both stacks take the jets of ``04_trigger_fpga`` at the school preset (``jets``, 20 000 jets, seed 1, the
same split and standardisation) with inputs quantized to 8 bits (sign, 3 integer bits), and count bit
operations with the same function, ``fpga.firmware_bops``. Each quantized model goes through hls4ml's C
simulation; the agreement is the fraction of test jets on which its logits pick the class Keras picks,
and whether the logits are equal bit for bit. The report checks the issue's target: at accuracy within
1 % (absolute) of the float model, HGQ2 with at least 5x fewer BOPs than the pruned 6-bit QKeras tagger.
It picks among the HGQ2 models by test accuracy, as the target is phrased, and says which model the
validation accuracy alone would pick (the honest choice where the test jets must stay unseen).
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
RAMP = (1e-6, 2e-4)  # beta at the end of the warm-up (a tenth of the epochs), and at the last epoch


def ramp_callbacks(epochs: int, betas: tuple[float, float], folder: Path) -> list:
    """HGQ2's recipe (hgq.utils.sugar): beta constant for the first tenth of ``epochs``, then raised
    log-uniformly to betas[1]; the weights of every epoch on the Pareto front of (validation accuracy up,
    EBOPs down) are kept in ``folder`` as epoch=N.weights.h5."""
    from hgq.utils.sugar import BetaScheduler, FreeEBOPs, ParetoFront, PieceWiseSchedule

    warm_up = epochs // 10
    schedule = PieceWiseSchedule([(0, betas[0], "constant"), (warm_up, betas[0], "log"),
                                  (epochs, betas[1], "constant")])
    return [FreeEBOPs(), BetaScheduler(schedule),
            ParetoFront(folder, ["val_accuracy", "ebops"], [1, -1], fname_format="epoch={epoch}.weights.h5",
                        enable_if=lambda logs: logs["epoch"] >= warm_up)]


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
        val_accuracy = float(np.mean(training.predict(model, x_val).argmax(1) == val.labels))
        counted = fpga.firmware_bops(model, None if extra.get("quantized") else 16, input_bits=16)
        result = {"model": name, "stack": quantization.STACK, "accuracy": accuracy, "val_accuracy": val_accuracy,
                  "bops": counted["bops"],
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
        started = time.time()
        model = training.compiled(compressed.quantized_tagger(6, input_bits=8, beta=args.ramp_betas[0], seed=1),
                                  learning_rate=args.hgq_learning_rate)
        with tempfile.TemporaryDirectory() as front:
            training.train(model, x_train, train.labels, x_val, val.labels, epochs=args.ramp_epochs, seed=1,
                           callbacks=ramp_callbacks(args.ramp_epochs, tuple(args.ramp_betas), Path(front)))
            seconds = time.time() - started
            kept = {int(path.stem.split("=")[1].split(".")[0]): path for path in Path(front).glob("*.weights.h5")}
            for epoch in sorted(kept):
                model.load_weights(kept[epoch])
                rows.append(row(f"HGQ2 beta ramp, epoch {epoch}", model, seconds, quantized=True, ramp=True))
    return {"stack": quantization.STACK, "max_jets": args.max_jets, "test_jets": len(test), "epochs": args.epochs,
            "ramp_epochs": args.ramp_epochs, "ramp_betas": list(args.ramp_betas), "rows": rows}


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
    floats = {stack: run["rows"][0] for stack, run in runs.items()}
    lines = ["| stack | model | accuracy (validation) | firmware BOPs | / QKeras's | multiplications only | / QKeras's "
             "| C simulation: same class | bit-exact logits |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        same = f"{r['hls4ml_same_class']:.2%}" if "hls4ml_same_class" in r else "—"
        exact = ("yes" if r["hls4ml_bit_exact"] else "no") if "hls4ml_bit_exact" in r else "—"
        lines.append(f"| {r['stack']} | {r['model']} | {r['accuracy']:.4f} ({r['val_accuracy']:.4f}) | {r['bops']:,} | "
                     f"{r['bops'] / qkeras['bops']:.2f} | {r['multiplication_bops']:,} | "
                     f"{r['multiplication_bops'] / qkeras['multiplication_bops']:.2f} | {same} | {exact} |")
    n_test = runs["keras2"]["test_jets"]
    error = (floats["keras3"]["accuracy"] * (1 - floats["keras3"]["accuracy"]) / n_test) ** 0.5
    hgq = [r for r in runs["keras3"]["rows"][1:] if r["hls4ml_same_class"] == 1.0]  # the target asks for 100 %
    verdicts = []
    for count, what in (("bops", "firmware BOPs (products and their adders)"),
                        ("multiplication_bops", "bit operations of the multiplications alone (EBOPs-like)")):
        for chosen_on, key in (("test", "accuracy"), ("validation", "val_accuracy")):
            within = [r for r in hgq if r[key] >= floats["keras3"][key] - 0.01]
            best = min(within, key=lambda r: r[count], default=None)
            if best is None:
                verdicts.append(f"{what}, chosen on {chosen_on} accuracy: no HGQ2 model within 1 % of the float "
                                f"model ({floats['keras3'][key]:.4f}) with 100 % C-simulation agreement.")
                continue
            factor = qkeras[count] / best[count]
            short = floats["keras3"]["accuracy"] - 0.01 - best["accuracy"]
            test_ok = short <= 0
            verdicts.append(f"{what}, chosen on {chosen_on} accuracy (float model {floats['keras3'][key]:.4f}): "
                            f"the cheapest HGQ2 tagger within 1 % ({best['model']}, test accuracy "
                            f"{best['accuracy']:.4f}, validation {best['val_accuracy']:.4f}) needs {factor:.1f}x fewer "
                            f"than the pruned 6-bit QKeras tagger (target: 5x at test accuracy within 1 %): "
                            f"{'met' if factor >= 5 and test_ok else 'missed'}" + ("." if test_ok else
                            f", its test accuracy {short:.4f} below the line ({short * n_test:.1f} of {n_test} test "
                            f"jets; a test accuracy's binomial error is {error:.4f})."))
    verdict = "\n\n".join(verdicts)
    text = "\n".join(lines) + "\n\n" + verdict + "\n"
    (OUT / "quantization.md").write_text(text)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = {"QKeras 6-bit, 75 % pruned": ([qkeras], "s"),
              "HGQ2, fixed beta (scan)": ([r for r in hgq if "beta" in r], "o-"),
              f"HGQ2, beta ramped ({runs['keras3']['ramp_epochs']} epochs, Pareto front)":
                  ([r for r in hgq if r.get("ramp")], "^-")}
    bottom = 0.55  # below: the collapsed models of the largest beta, listed in the table
    for label, (points, style) in series.items():
        points = sorted((r for r in points if r["accuracy"] >= bottom), key=lambda r: r["bops"])
        ax.plot([r["bops"] for r in points], [r["accuracy"] for r in points], style, label=label)
    for stack, colour in (("keras2", "grey"), ("keras3", "black")):
        ax.axhline(floats[stack]["accuracy"], ls="--", color=colour, lw=1, label=f"float model ({stack})")
    ax.axhspan(floats["keras3"]["accuracy"] - 0.01, floats["keras3"]["accuracy"], color="C2", alpha=0.1,
               label="within 1 % of the float model (keras3)")
    ax.set_ylim(bottom, None)
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
    parser.add_argument("--ramp-epochs", type=int, default=200, help="epochs of the HGQ2 run with beta ramped up")
    parser.add_argument("--ramp-betas", type=float, nargs=2, default=list(RAMP), metavar=("FIRST", "LAST"),
                        help="beta after the warm-up and at the last epoch of that run")
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
