"""Benchmark: events per second per core, Pythia + detector + reconstruction vs the GAN and the flow.

    python benchmarks/fastsim.py [--pythia-events 300] [--batch-sizes 10000 100000]

In one process pinned to one core (``hepwb.environment.one_cpu_core``):

* the pipeline that made ``zmumu`` (Pythia 8 -> pileup overlay -> detector -> FastJet -> selection),
  for N selected events, its one-off set-up (Pythia initialisation, pileup library) timed apart;
* the generators of ``02_gan_fastsim`` at their school architectures (GAN: MLP 128-128-128, latent 32;
  flow: 6 spline coupling layers, MLPs 64-64, 8 bins), in batches, from the noise to selected events in
  physical units (XLA-compiled network, inverse preprocessing, selection). A network's cost does not
  depend on its training, but how many events fail the selection and are generated again does: each
  generator gets a few epochs on the training split first, so that it makes Z events.

The ratios are the speed-ups (issue 16: >= 10 000x for the faster generator on one core; the flow within
2x of the GAN).
"""

from __future__ import annotations

import argparse

from hepwb import samples
from hepwb.environment import one_cpu_core
from hepwb.models import flow, gan
from hepwb.samples import events as eventdata
from hepwb.studies.fastsim import pipeline_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythia-events", type=int, default=300)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()

    train, _, _ = samples.split(eventdata.load("zmumu"), seed=1)
    transform = eventdata.EventTransform().fit(train.features)
    table = transform.transform(train.features)
    generators = {"GAN": gan.EventGAN(transform), "flow": flow.EventFlow(transform)}
    generators["GAN"].fit(table, epochs=5, progress=False)
    generators["flow"].fit(table, epochs=5, progress=False)
    with one_cpu_core() as pinning:
        pipeline = pipeline_rate(args.pythia_events)
        rates = {(name, batch): generator.events_per_second(2 * batch, batch_size=batch)
                 for name, generator in generators.items() for batch in args.batch_sizes}
    print(f"pinned to one core: {pinning['pinned']}")
    print(f"Pythia + detector + reconstruction: {pipeline['events_per_second']:10.1f} events/s "
          f"({args.pythia_events} selected events in {pipeline['seconds']:.1f} s; "
          f"set-up {pipeline['setup_seconds']:.1f} s)")
    for (name, batch), rate in rates.items():
        print(f"{name:4s} in batches of {batch:7d}: {rate:10.0f} events/s, speed-up "
              f"{rate / pipeline['events_per_second']:7.0f}x")
    for batch in args.batch_sizes:
        print(f"GAN / flow at batches of {batch}: {rates[('GAN', batch)] / rates[('flow', batch)]:.2f}")


if __name__ == "__main__":
    main()
