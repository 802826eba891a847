"""Dataset recipes: Pythia process(es) -> detector -> FastJet -> the arrays a dataset stores.

One module per dataset (``jets``, ``zmumu``, ``l1_events``, ``l1_jets``, ``tracks``, ``showers``) owns its
physics choices (processes, cuts, labels, stored branches with units) and a ``make_chunk`` function that produces
``n_events`` selected events for a seed and a chunk number; ``base`` holds what they share. Chunks
are independent and deterministic, so they can run on any worker in any order. Writing files and
running chunks in parallel is ``hepwb.run.generate``'s job; reading the files back as arrays,
``hepwb.samples``'.
"""

from hepwb.sim.recipes.base import NOMINAL, Branch, Recipe, Variation
from hepwb.sim.recipes.jets import JET_CLASSES, JET_KINEMATICS, JETS, JETS_OPTIONS, make_jets_chunk
from hepwb.sim.recipes.l1_events import (
    L1_BACKGROUND_FRACTIONS,
    L1_EVENTS,
    L1_OPTIONS,
    L1_SAMPLES,
    L1_SIGNALS,
    l1_producer,
    make_l1_chunk,
)
from hepwb.sim.recipes.l1_jets import L1_JETS, L1_JETS_OPTIONS, l1_jets_producer, make_l1_jets_chunk
from hepwb.sim.recipes.showers import SHOWERS, SHOWERS_OPTIONS, make_showers_chunk
from hepwb.sim.recipes.tracks import TRACKS, TRACKS_OPTIONS, make_tracks_chunk
from hepwb.sim.recipes.zmumu import ZMUMU, ZMUMU_OPTIONS, make_zmumu_chunk, zmumu_producer

#: every dataset hepwb can generate, by name
RECIPES = {recipe.name: recipe for recipe in (JETS, ZMUMU, L1_EVENTS, L1_JETS, TRACKS, SHOWERS)}

__all__ = [
    "JETS", "JETS_OPTIONS", "JET_CLASSES", "JET_KINEMATICS", "L1_BACKGROUND_FRACTIONS", "L1_EVENTS", "L1_JETS",
    "L1_JETS_OPTIONS", "L1_OPTIONS", "L1_SAMPLES", "L1_SIGNALS", "NOMINAL", "RECIPES", "SHOWERS", "SHOWERS_OPTIONS",
    "TRACKS", "TRACKS_OPTIONS",
    "ZMUMU", "ZMUMU_OPTIONS",
    "Branch", "Recipe", "Variation", "l1_jets_producer", "l1_producer", "make_jets_chunk", "make_l1_chunk",
    "make_l1_jets_chunk", "make_showers_chunk", "make_tracks_chunk", "make_zmumu_chunk", "zmumu_producer",
]
