"""Physics and hardware numbers that more than one room of hepwb uses, each written once.

Masses and widths are the PDG's (Review of Particle Physics 2024), in GeV. The detector's own
parameters (resolutions, cell sizes, thresholds) live in ``hepwb.sim.detector``; a dataset's cuts in
its recipe (``hepwb.sim.recipes``).
"""

# ---- particles [GeV] --------------------------------------------------------------------------
ELECTRON_MASS = 0.000511
MUON_MASS = 0.1056584
CHARGED_PION_MASS = 0.13957
W_MASS = 80.37
Z_MASS = 91.1876
Z_WIDTH = 2.4952
TOP_MASS = 172.5

# ---- the LHC and its jets ---------------------------------------------------------------------
#: proton-proton centre-of-mass energy of Run 2 and of every generated dataset [TeV]
COLLISION_ENERGY_TEV = 13
#: the bunch-crossing rate a Level-1 trigger looks at [Hz]: 40 MHz
BUNCH_CROSSING_RATE_HZ = 40e6
#: anti-kT radius of the boosted (large-radius) jets of ``jets`` and of their substructure
LARGE_JET_RADIUS = 0.8
#: anti-kT radius of the ordinary jets of ``zmumu``, ``l1_events`` and ``l1_jets``
SMALL_JET_RADIUS = 0.4
#: constituents stored per boosted jet, hardest first (the particle view of the taggers takes at most these)
MAX_CONSTITUENTS = 50

# ---- trigger firmware -------------------------------------------------------------------------
#: the clock the firmware estimates assume [MHz] (a Level-1 trigger FPGA); one cycle lasts CLOCK_PERIOD_NS
FPGA_CLOCK_MHZ = 200.0
CLOCK_PERIOD_NS = 1e3 / FPGA_CLOCK_MHZ

# ---- the committed datasets -------------------------------------------------------------------
#: events (jets for jets and l1_jets) that ``hepwb generate NAME`` makes without --events: the committed sizes
SCHOOL_EVENTS = {"jets": 50_000, "zmumu": 50_000, "l1_events": 40_000, "l1_jets": 150_000, "tracks": 100,
                 "showers": 10_000}
