"""Benchmark: the full-preset comparison of the constituent taggers, with its spread over seeds.

    python benchmarks/seed_spread.py --seeds 1 2 3 [--models pfn particlenet part] [--out results/seed-spread]

For each seed, the taggers train exactly as ``01_jet_tagging`` trains them with ``--preset full``
(all 50 000 jets, the split of that seed, all 50 constituents, up to 200 epochs, patience 10) and are
scored on that seed's test jets. Each (model, seed) result is written to ``--out`` as it finishes, so
an interrupted scan resumes where it stopped; the table (mean ± standard deviation over the seeds of
the mean AUC and of the background rejection at 50 % top efficiency) is printed at the end.
About 20 min per seed for each of the graph network and the transformer on one core.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

from hepwb import metrics, samples
from hepwb.models import taggers


def run_one(name: str, seed: int) -> dict:
    """Train and score one model at the full preset's settings."""
    sample = samples.jets.load("jets", max_jets=None, image_size=32, seed=seed)
    train, val, test = samples.jets.split(sample, seed=seed)
    scaler = StandardScaler().fit(train.feature_table())
    started = time.perf_counter()
    _, history, scores = taggers.train_and_score(name, train, val, test, scaler=scaler, epochs=200, patience=10,
                                               seed=seed)
    report = metrics.classification_report(test.labels, scores, sample.classes)
    report.pop("confusion")
    return {**report, "seconds": time.perf_counter() - started, "epochs": len(history.get("loss", [])),
            "jets_per_second": history["jets_per_second"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--models", nargs="+", default=["pfn", "particlenet", "part"])
    parser.add_argument("--out", type=Path, default=Path("results") / "seed-spread")
    args = parser.parse_args()
    taggers.check_models(args.models)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for seed in args.seeds:
        for name in args.models:
            path = args.out / f"{name}_seed{seed}.json"
            if not path.exists():
                print(f"training {name} with seed {seed} ...", flush=True)
                path.write_text(json.dumps(run_one(name, seed), indent=1, default=float) + "\n")
            results[name, seed] = json.loads(path.read_text())
    print(f"\n{'model':12s} {'mean AUC':>17s} {'1/eps_B at 50 % top':>22s} {'epochs':>8s}   seeds {args.seeds}")
    for name in args.models:
        auc = np.array([results[name, s]["mean_auc"] for s in args.seeds])
        rejection = np.array([results[name, s]["rej50_top"] for s in args.seeds])
        epochs = [results[name, s]["epochs"] for s in args.seeds]
        print(f"{name:12s} {auc.mean():8.4f} ± {auc.std(ddof=1) if len(auc) > 1 else 0:.4f} "
              f"{rejection.mean():13.1f} ± {rejection.std(ddof=1) if len(rejection) > 1 else 0:4.1f} "
              f"{str(epochs):>12s}")


if __name__ == "__main__":
    main()
