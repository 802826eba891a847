"""The arrays a network takes, one module per dataset, all built on one ``Sample`` with one ``split``.

``jets`` (``JetSample``: features, constituents, images; the public hls4ml HLF files), ``events``
(``EventSample`` of ``zmumu`` and the invertible preprocessing of fast simulation), ``l1_events``
(``L1Events`` in the ADC2021 layout; the public ADC2021 files), ``l1_jets`` (``L1Jets``: trigger towers
with their true and offline pT), ``showers`` (``ShowerSample`` in the CaloChallenge layout and the generators'
preprocessing), ``worlds`` (``WorldJets``: one simulated world of the jets for a measurement, nominal or
shifted, with its weights at a luminosity). Each has ``load(dataset)``; ``split(sample, (0.6, 0.2, 0.2), seed=...)``
cuts any of them into train, validation and test (keeping the class proportions of labelled jets).
"""

from hepwb.samples import events, jets, l1_events, l1_jets, showers, worlds
from hepwb.samples.base import Sample, split

__all__ = ["Sample", "events", "jets", "l1_events", "l1_jets", "showers", "split", "worlds"]
