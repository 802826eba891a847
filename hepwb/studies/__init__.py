"""A lesson's analysis steps beyond building and training models, one module per topic:

``fit`` (peak fits: the Z line shape, jet-mass peaks; 00), ``fastsim`` (the simulation's speed and the
summary of the generators; 02), ``anomaly`` (detector faults and data-quality monitoring, the complexity
bias of a jet autoencoder, the trigger path in firmware; 03), ``firmware`` (what each trigger model costs
in an FPGA; 04 and 06), ``robustness`` (mass sculpting and decorrelation, taggers on changed detectors;
05), ``tracking`` and ``showers`` (07, 08), ``observables`` (the cut-based selection and the taggers a
measurement fits; 09), ``measurement`` (templates and the pyhf workspace; 09) and ``inference`` (fits,
expected significance and limits, impacts, toys; 09).

Studies sit above models and samples: they may import them, never the other way round.
"""
