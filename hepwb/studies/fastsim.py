"""The analysis steps of ``02_gan_fastsim`` around the generators: the speed of the simulation they
replace, and the notebook's summary of every generator.

The generators and their scores are ``hepwb.models.fastsim`` / ``gan`` / ``flow``'s.
"""

from __future__ import annotations

import time

from hepwb import metrics
from hepwb.sim import recipes


def pipeline_rate(events: int = 200, *, seed: int = 12345) -> dict:
    """Events per second of the Pythia + detector + FastJet pipeline that made ``zmumu``, on this core.

    Set-up (Pythia initialisation and the premixed pileup library) is timed apart and left out of
    the rate, as it is paid once per job: this flatters Pythia, so a speed-up against it is conservative.
    """
    started = time.perf_counter()
    produce = recipes.zmumu_producer(seed, chunk=0)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    result = produce(events)
    seconds = time.perf_counter() - started
    return {"events": events, "seconds": seconds, "events_per_second": events / seconds, "setup_seconds": setup,
            "n_generated": result["n_generated"]}


def summarise(generators: dict, scores: dict, tails: dict, rates: dict, pipeline_rate: float, chosen: dict) -> dict:
    """Per generator, the notebook's numbers in one dictionary (for ``metrics.json``).

    generators {name: EventGenerator}; scores {"<label> vs simulated" and "simulated vs simulated":
    ``score_events`` scores}; tails {label: {feature: ``metrics.tail_agreement``}}; rates {(label, batch size):
    events/s}; pipeline_rate: the simulation's events/s; chosen {name: epoch}. FPD over its floor uses the
    floor's error when the floor is smaller (an FPD consistent with 0). Tail fractions: m_ll and missing ET
    together, and all features. The fractions generated again are those of each generator's last ``generate``.
    """
    floor = scores["simulated vs simulated"]
    out = {}
    for name, generator in generators.items():
        label = generator.label
        ours = scores[f"{label} vs simulated"]
        fastest = max(rate for (rate_label, _), rate in rates.items() if rate_label == label)
        out[name] = {**ours, "chosen_epoch": chosen[name],
                     "fpd_over_real": ours["fpd"] / max(floor["fpd"], floor["fpd_error"]),
                     "tails_m_ll_met": metrics.tail_fraction([tails[label]["m_ll"], tails[label]["met"]]),
                     "tails_all": metrics.tail_fraction(tails[label].values()),
                     "events_per_second": fastest, "speed_up": fastest / pipeline_rate,
                     **{f"regenerated_{key}": value for key, value in generator.last_regenerated.items()}}
    return out
