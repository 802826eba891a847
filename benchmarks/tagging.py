"""Benchmark: training throughput (jets/s) and CPU inference time per jet for each tagger.

    python benchmarks/tagging.py [--jets 10000] [--epochs 3]

Training throughput is jets seen per second over whole epochs (validation included, as in the
notebook); inference is timed on the test split in one batch of 1024 jets and per single jet
(batch size 1, the latency a trigger-like use sees on a CPU).
"""

from __future__ import annotations

import argparse
import time

from sklearn.preprocessing import StandardScaler

from hepwb import samples
from hepwb.models import taggers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jets", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    sample = samples.jets.load("jets", max_jets=args.jets)
    train, val, test = samples.split(sample)
    scaler = StandardScaler().fit(train.feature_table())
    print(f"{'model':8s} {'train [jets/s]':>15s} {'batch 1024 [us/jet]':>20s} {'single jet [ms]':>16s}")
    for name in taggers.MODEL_NAMES:
        model, history, _ = taggers.train_and_score(name, train, val, test, scaler=scaler, epochs=args.epochs,
                                                  patience=args.epochs)
        x = taggers.model_inputs(name, test, scaler)
        batch = [a[:1024] for a in x] if isinstance(x, list) else x[:1024]
        single = [a[:1] for a in x] if isinstance(x, list) else x[:1]
        predict = model.predict_proba if name == "bdt" else (lambda inputs, m=model: m(inputs, training=False))
        predict(batch)  # warm up
        repeats = 5
        start = time.perf_counter()
        for _ in range(repeats):
            predict(batch)
        per_jet_us = (time.perf_counter() - start) / repeats / 1024 * 1e6
        start = time.perf_counter()
        for _ in range(50):
            predict(single)
        single_ms = (time.perf_counter() - start) / 50 * 1e3
        print(f"{name:8s} {history['jets_per_second']:15.0f} {per_jet_us:20.1f} {single_ms:16.2f}", flush=True)
    print(f"\n{len(train)} training jets, {args.epochs} epochs, on the CPU")


if __name__ == "__main__":
    main()
