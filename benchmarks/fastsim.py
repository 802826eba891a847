"""Benchmark: events per second per core, Pythia + detector + reconstruction vs the GAN generator.

    python benchmarks/fastsim.py [--pythia-events 300] [--gan-events 200000] [--batch-size 10000]

In one process pinned to one core (``hepwb.environment.one_cpu_core``):

* the pipeline that made ``zmumu`` (Pythia 8 -> pileup overlay -> detector -> FastJet -> selection),
  for N selected events, its one-off set-up (Pythia initialisation, pileup library) timed apart;
* the generator of ``02_gan_fastsim`` (school architecture: MLP 128-128-128, latent 32) in batches,
  with the inverse preprocessing and the selection. Its speed does not depend on training, so an
  untrained network with fitted preprocessing is timed.

The ratio is the speed-up (goal of issue 5: >= 1000x on one core).
"""

from __future__ import annotations

import argparse

from hepwb import eventdata
from hepwb.environment import one_cpu_core
from hepwb.models import gan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythia-events", type=int, default=300)
    parser.add_argument("--gan-events", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    args = parser.parse_args()

    sample = eventdata.load_events("zmumu", max_events=20_000)
    generator = gan.EventGAN(eventdata.EventTransform().fit(sample.features))
    with one_cpu_core() as pinning:
        pipeline = eventdata.pipeline_rate(args.pythia_events)
        rate = generator.events_per_second(args.gan_events, batch_size=args.batch_size)
    print(f"pinned to one core: {pinning['pinned']}")
    print(f"Pythia + detector + reconstruction: {pipeline['events_per_second']:10.1f} events/s "
          f"({args.pythia_events} selected events in {pipeline['seconds']:.1f} s; set-up {pipeline['setup_seconds']:.1f} s)")
    print(f"GAN generator (batches of {args.batch_size}): {rate:10.0f} events/s")
    print(f"speed-up: {rate / pipeline['events_per_second']:.0f}x")


if __name__ == "__main__":
    main()
