"""Benchmark: events per second per core, Pythia 8 alone vs the whole hepwb pipeline.

    python benchmarks/generation.py [--events 600] [--samples gluon W top drell_yan_mumu]

For each sample, in the same process and on one core:

* Pythia alone: initialise the sample's Pythia and call ``pythia.next()`` for N events (for
  ``zmumu`` plus its share of the pileup library, which the pipeline has to generate too);
* pipeline: the recipe's ``make_chunk`` (Pythia batches -> detector -> FastJet -> features) and
  the ROOT write, until N events are generated.

Rates count generated Pythia events, so the two are comparable; the ratio is the fraction of
Pythia's rate the whole pipeline keeps (goal: >= 70 %).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from hepwb import data, quiet
from hepwb.sim import pythia as gen
from hepwb.sim import recipes

JET_SAMPLES = dict(zip(recipes.JET_CLASSES, ("qcd_gluon", "qcd_light_quark", "w_hadronic", "z_hadronic",
                                             "ttbar_hadronic")))


def pythia_alone(sample: str, n_generated: int, seed: int = 11) -> float:
    """Seconds for Pythia alone to initialise and generate ``n_generated`` events of ``sample``."""
    start = time.perf_counter()
    if sample in JET_SAMPLES:
        pythia = gen.make_pythia(JET_SAMPLES[sample], seed, recipes.JET_KINEMATICS)
    else:
        pythia = gen.make_pythia(sample, seed)
        opts = recipes.ZMUMU_OPTIONS
        # the pileup library the pipeline builds once per process: Pythia has to make it too
        library_events = opts["pileup_library"]
        mb = gen.make_pythia("minimum_bias", seed + 1)
        for _ in range(library_events):
            mb.next()
    with quiet.descriptor_to_devnull(1):
        for _ in range(n_generated):
            pythia.next()
    return time.perf_counter() - start


def pipeline(sample: str, n_selected: int, seed: int = 11) -> tuple[float, int]:
    """Seconds and generated events for the full recipe + ROOT write of ``n_selected`` events."""
    gen.minimum_bias_library.cache_clear()
    start = time.perf_counter()
    if sample in JET_SAMPLES:
        result = recipes.make_jets_chunk(n_selected, seed, 0, sample)
        tree = "jets"
    else:
        result = recipes.make_zmumu_chunk(n_selected, seed, 0, sample)
        tree = "events"
    with tempfile.TemporaryDirectory() as tmp, data.TreeWriter(Path(tmp) / "bench.root", tree) as writer:
        writer.extend(result["events"])
    return time.perf_counter() - start, result["n_generated"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=600, help="selected events per sample for the pipeline")
    parser.add_argument("--samples", nargs="+", default=["gluon", "light_quark", "W", "Z", "top", "drell_yan_mumu"])
    args = parser.parse_args()
    print(f"{'sample':16s} {'Pythia alone':>14s} {'pipeline':>14s} {'kept':>6s} {'selected':>12s}")
    print(f"{'':16s} {'[gen ev/s]':>14s} {'[gen ev/s]':>14s} {'':>6s} {'[ev/s]':>12s}")
    ratios = []
    for sample in args.samples:
        seconds_pipeline, n_generated = pipeline(sample, args.events)
        seconds_pythia = pythia_alone(sample, n_generated)
        rate_pythia, rate_pipeline = n_generated / seconds_pythia, n_generated / seconds_pipeline
        ratios.append(rate_pipeline / rate_pythia)
        print(f"{sample:16s} {rate_pythia:14.1f} {rate_pipeline:14.1f} {ratios[-1]:6.0%} "
              f"{args.events / seconds_pipeline:12.1f}", flush=True)
    print(f"\npipeline keeps {np.mean(ratios):.0%} of Pythia's rate on average (goal: at least 70 %); one core, "
          f"{args.events} selected events per sample, Pythia initialisation included in both")


if __name__ == "__main__":
    main()
